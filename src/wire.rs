//! MQTT wire details that both the client and the broker need beyond rumqttc's codec (whose
//! helpers for them are private).

use bytes::{BufMut, BytesMut};

/// MQTT's variable-length encoding of a remaining length (at most 268 435 455).
pub(crate) fn put_remaining_length(out: &mut BytesMut, mut len: usize) {
    loop {
        let digit = (len % 128) as u8;
        len /= 128;
        if len == 0 {
            out.put_u8(digit);
            return;
        }
        out.put_u8(digit | 0x80);
    }
}

/// A variable byte integer at the start of `bytes` (a remaining length, a v5 property length):
/// the bytes it took and its value. `Ok(None)` while more bytes are needed; `Err` past 4 bytes.
pub(crate) fn read_varint(bytes: &[u8]) -> Result<Option<(usize, usize)>, TooLong> {
    let mut value = 0usize;
    for i in 0..4 {
        let Some(&byte) = bytes.get(i) else {
            return Ok(None);
        };
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((i + 1, value)));
        }
    }
    Err(TooLong)
}

/// The fixed header at the start of `buf`: its length in bytes and the remaining length it
/// announces. `Ok(None)` while more bytes are needed; `Err` when the length runs past 4 bytes.
pub(crate) fn read_fixed_header(buf: &[u8]) -> Result<Option<(usize, usize)>, TooLong> {
    let Some(length) = buf.get(1..) else {
        return Ok(None);
    };
    Ok(read_varint(length)?.map(|(taken, remaining_len)| (1 + taken, remaining_len)))
}

/// A variable byte integer encoded in more than 4 bytes: a malformed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_lengths() {
        for (len, bytes) in [
            (0, &[0x00][..]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (268_435_455, &[0xff, 0xff, 0xff, 0x7f]),
        ] {
            let mut out = BytesMut::new();
            put_remaining_length(&mut out, len);
            assert_eq!(&out[..], bytes, "{len}");
            let mut frame = vec![0x30];
            frame.extend_from_slice(bytes);
            assert_eq!(read_fixed_header(&frame), Ok(Some((1 + bytes.len(), len))));
            assert_eq!(read_fixed_header(&frame[..bytes.len()]), Ok(None));
        }
    }
}

#[cfg(test)]
mod too_long {
    use super::*;

    #[test]
    fn five_length_bytes_are_malformed() {
        assert_eq!(
            read_fixed_header(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(TooLong)
        );
    }
}
