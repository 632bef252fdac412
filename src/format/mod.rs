//! How a received message becomes bytes on stdout: [`Output`] picks the raw payload, -v
//! (both in [`Printer`]) or an -F template ([`template`], with %j/%J in [`json`]).

pub mod json;
pub mod jsonl;
pub mod template;

use std::io::{self, Write};

pub use template::{FormatError, Template};

/// A received message, as the formats see it. Without properties (MQTT 3.1.1, or an MQTT 5
/// message without any), `%A %C %D %E %F %P %R %S` print what mosquitto prints for an absent one.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: u8,
    pub retain: bool,
    /// The DUP flag: the broker may have sent this message before (QoS 1 and 2).
    pub dup: bool,
    /// The packet identifier: 0 for QoS 0.
    pub mid: u16,
    /// The MQTT 5 properties of the PUBLISH.
    pub properties: Option<&'a Properties>,
}

/// The MQTT 5 properties a received PUBLISH may carry (those the -F codes and %j show).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    /// `%F`, payload-format-indicator.
    pub payload_format: Option<u8>,
    /// `%E`, message-expiry-interval (seconds left).
    pub message_expiry: Option<u32>,
    /// `%A`, topic-alias.
    pub topic_alias: Option<u16>,
    /// `%R`, response-topic.
    pub response_topic: Option<String>,
    /// `%D`, correlation-data.
    pub correlation_data: Option<Vec<u8>>,
    /// `%P`, user properties in the order received (duplicates kept).
    pub user_properties: Vec<(String, String)>,
    /// `%S`, subscription-identifier (the first one).
    pub subscription_ids: Vec<usize>,
    /// `%C`, content-type.
    pub content_type: Option<String>,
}

/// What became of one message's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Rendered {
    Complete,
    /// %J met a payload that is not JSON: it printed nothing, the rest of the format was printed.
    /// mosquitto_sub says so on stderr, and the message still counts for -C.
    PayloadNotJson,
}

/// How `sub` prints each message, with the buffer a template is rendered into (reused).
#[derive(Debug)]
pub struct Output {
    style: Style,
    newline: bool,
    buffer: Vec<u8>,
}

#[derive(Debug)]
enum Style {
    Plain(Printer),
    Template(Template),
    /// --json: one JSON object per line ([`jsonl`]).
    JsonLines,
}

impl Output {
    /// -F `format` (which takes precedence over -v), else the payload alone or -v's
    /// `topic payload`; `newline` unless -N; `pretty` (--pretty) indents %j and %J.
    pub fn new(
        format: Option<&str>,
        verbose: bool,
        newline: bool,
        pretty: bool,
    ) -> Result<Output, FormatError> {
        let style = match format {
            Some(format) => Style::Template(Template::parse(format, pretty)?),
            None => Style::Plain(Printer { verbose, newline }),
        };
        Ok(Output {
            style,
            newline,
            buffer: Vec::new(),
        })
    }

    /// --json: each message as one JSON line.
    pub fn json_lines() -> Output {
        Output {
            style: Style::JsonLines,
            newline: true,
            buffer: Vec::new(),
        }
    }

    /// Write one message (a template, then a newline unless -N, as mosquitto_sub does even
    /// for an empty payload).
    pub fn write(&mut self, out: &mut impl Write, message: &Message<'_>) -> io::Result<Rendered> {
        match &self.style {
            Style::Plain(printer) => {
                printer.write(out, message.topic, message.payload)?;
                Ok(Rendered::Complete)
            }
            Style::Template(template) => {
                self.buffer.clear();
                let rendered = template.render(message, chrono::Local::now, &mut self.buffer);
                if self.newline {
                    self.buffer.push(b'\n');
                }
                out.write_all(&self.buffer)?;
                Ok(rendered)
            }
            Style::JsonLines => {
                self.buffer.clear();
                jsonl::write_line(&mut self.buffer, message, chrono::Utc::now());
                out.write_all(&self.buffer)?;
                Ok(Rendered::Complete)
            }
        }
    }
}

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

    fn output(
        format: Option<&str>,
        verbose: bool,
        newline: bool,
        topic: &str,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut output = Output::new(format, verbose, newline, false).unwrap();
        let mut out = Vec::new();
        let message = Message {
            topic,
            payload,
            qos: 0,
            retain: false,
            dup: false,
            mid: 0,
            properties: None,
        };
        for _ in 0..2 {
            assert_eq!(
                output.write(&mut out, &message).unwrap(),
                Rendered::Complete
            );
        }
        out
    }

    #[test]
    fn a_format_takes_precedence_over_verbose_and_prints_even_an_empty_payload() {
        assert_eq!(output(Some("%t=%p"), true, true, "t", b"x"), b"t=x\nt=x\n");
        assert_eq!(output(Some("%t=%p"), false, false, "t", b"x"), b"t=xt=x");
        assert_eq!(output(Some("%t=%p"), false, true, "t", b""), b"t=\nt=\n");
        assert_eq!(output(Some(""), false, true, "t", b"x"), b"\n\n");
        assert_eq!(output(None, true, true, "t", b"x"), b"t x\nt x\n");
        assert_eq!(
            Output::new(Some("%e"), false, true, false).unwrap_err(),
            FormatError::InvalidFormat('e')
        );
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
