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
        }
    }
}
