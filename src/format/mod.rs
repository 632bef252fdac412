//! How a received message becomes bytes on stdout.

use std::io::{self, Write};

/// The plain output modes of `sub`: the payload alone, or `topic payload` with -v.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// -v: the topic, a space, then the payload (`(null)` for an empty one).
    pub verbose: bool,
    /// No -N: a newline after each message.
    pub newline: bool,
}

impl Printer {
    /// Write one message. As mosquitto_sub does, an empty payload prints nothing at all without
    /// -v, and `topic (null)` with -v (nothing with -v -N). Payload bytes are written unchanged.
    pub fn write(&self, out: &mut impl Write, topic: &str, payload: &[u8]) -> io::Result<()> {
        if payload.is_empty() && (!self.verbose || !self.newline) {
            return Ok(());
        }
        if self.verbose {
            out.write_all(topic.as_bytes())?;
            out.write_all(b" ")?;
            out.write_all(if payload.is_empty() {
                b"(null)"
            } else {
                payload
            })?;
        } else {
            out.write_all(payload)?;
        }
        if self.newline {
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(verbose: bool, newline: bool, topic: &str, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        Printer { verbose, newline }
            .write(&mut out, topic, payload)
            .unwrap();
        out
    }

    #[test]
    fn plain_and_verbose() {
        assert_eq!(render(false, true, "t", b"hello"), b"hello\n");
        assert_eq!(render(false, true, "t", b""), b"");
        assert_eq!(render(true, true, "t/a", b"hello"), b"t/a hello\n");
        assert_eq!(render(true, true, "t/b", b""), b"t/b (null)\n");
        assert_eq!(render(true, false, "t/b", b""), b"");
        assert_eq!(render(true, false, "t/a", b"x"), b"t/a x");
        assert_eq!(render(false, true, "t", b"a\0b\xff"), b"a\0b\xff\n");
    }
}
