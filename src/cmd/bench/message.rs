//! What every bench message carries: a 32-byte header (who sent it, its place in the sequence,
//! when it was meant to go), then zeros up to --size.

use bytes::{BufMut, Bytes, BytesMut};

/// The header's length, and so the smallest --size.
pub const HEADER_LEN: usize = 32;
const MAGIC: [u8; 4] = *b"SKB\x01";

/// The header of one message (big-endian on the wire: magic, run, publisher, 4 reserved bytes,
/// sequence number, send time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// A random number per bench run: a subscriber tells its own run's messages from others'.
    pub run: u32,
    /// The publisher's index within its run.
    pub publisher: u32,
    /// 0, 1, 2, ... per publisher.
    pub seq: u64,
    /// When the message was meant to go (the scheduled time with --rate), in nanoseconds since
    /// the Unix epoch (see [`super::stats::Clock`]).
    pub sent_ns: u64,
}

impl Header {
    /// The whole payload: the header, padded with zeros to `size` (at least [`HEADER_LEN`]).
    pub fn payload(&self, size: usize) -> Bytes {
        let mut buf = BytesMut::with_capacity(size.max(HEADER_LEN));
        buf.put_slice(&MAGIC);
        buf.put_u32(self.run);
        buf.put_u32(self.publisher);
        buf.put_u32(0);
        buf.put_u64(self.seq);
        buf.put_u64(self.sent_ns);
        buf.resize(size.max(HEADER_LEN), 0);
        buf.freeze()
    }

    /// The header of a payload; None when it is not a bench message.
    pub fn parse(payload: &[u8]) -> Option<Header> {
        let header = payload.get(..HEADER_LEN)?;
        if header[..4] != MAGIC {
            return None;
        }
        let u32_at = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_be_bytes(header[at..at + 8].try_into().unwrap());
        Some(Header {
            run: u32_at(4),
            publisher: u32_at(8),
            seq: u64_at(16),
            sent_ns: u64_at(24),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_comes_back() {
        let header = Header {
            run: 0xdead_beef,
            publisher: 7,
            seq: 1 << 40,
            sent_ns: 1_700_000_000_123_456_789,
        };
        let payload = header.payload(100);
        assert_eq!(payload.len(), 100);
        assert_eq!(Header::parse(&payload), Some(header));
        assert_eq!(header.payload(0).len(), HEADER_LEN);
        assert_eq!(Header::parse(b"hello"), None);
        assert_eq!(Header::parse(&[0u8; 64]), None);
    }
}
