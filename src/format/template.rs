//! The -F language of mosquitto_sub 2.0: parsed once at startup, rendered for each message.
//!
//! `%` codes print a part of the message, `@` codes the local time through strftime, `\` codes a
//! control character; everything else is copied. The output is mosquitto_sub's, byte for byte,
//! except where mosquitto is wrong (each difference is marked "mosquitto:" below):
//!
//! - `%x`/`%X` with a width never drop payload bytes that fit: `%8x` of `ab` is `    6162`
//!   (mosquitto: `      61`; it halves the payload whenever a width is given).
//! - `%-p`/`%-x` without a width add no blanks (mosquitto: as many blanks as payload bytes).
//! - A precision never cuts a UTF-8 character in two: `%.1t` of `é/a` is empty.
//! - `@Z` prints the numeric offset (`+01:00`), not the zone abbreviation: chrono has no names.
//! - All the time codes of one message read the clock once (mosquitto reads it for each code).
//! - A width or precision above [`MAX_WIDTH`] is refused (mosquitto overflows an `int`).
//! - `%E` and `%S` are unsigned: 2^31 and more print as such (mosquitto: negative).

use std::cell::LazyCell;
use std::fmt;
use std::ops::Deref;
use std::str::Chars;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, TimeZone};

use super::json::{self, Payload};
use super::{Message, Rendered};

/// The largest width or precision accepted: more is a typo, and would print gigabytes of blanks.
pub const MAX_WIDTH: usize = 65_535;

/// Why a format string was refused (the wording follows mosquitto_sub's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// A `%` or `@` at the end, or a `%` whose flags, width or precision run to the end.
    IncompleteFormat,
    /// A `\` at the end.
    IncompleteEscape,
    /// `%` followed by a letter that is not a code, like `%e`.
    InvalidFormat(char),
    /// `\` followed by a character that is not an escape, like `\q`.
    InvalidEscape(char),
    /// A width or precision above [`MAX_WIDTH`].
    TooWide(u64),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::IncompleteFormat => f.write_str("incomplete format specifier"),
            FormatError::IncompleteEscape => f.write_str("incomplete escape specifier"),
            FormatError::InvalidFormat(c) => write!(f, "invalid format specifier '{c}'"),
            FormatError::InvalidEscape(c) => write!(f, "invalid escape specifier '{c}'"),
            FormatError::TooWide(n) => write!(
                f,
                "format width or precision {n} is too large (at most {MAX_WIDTH})"
            ),
        }
    }
}

impl std::error::Error for FormatError {}

/// A parsed -F format.
#[derive(Debug, Clone)]
pub struct Template {
    /// Every literal byte of the format (after escapes), in order; pieces point into it.
    text: Vec<u8>,
    pieces: Vec<Piece>,
    /// --pretty: %j and %J are indented.
    pretty: bool,
}

#[derive(Debug, Clone)]
enum Piece {
    /// `text[start..end]`.
    Literal { start: usize, end: usize },
    /// A `%` code with its flags.
    Field(Code, Spec),
    /// `%j` (payload as a string) or `%J` (payload as JSON); flags are ignored.
    Json(Payload),
    /// `@X`: strftime("%X") on the local time.
    Strftime(Vec<Item<'static>>),
    /// `@N`: nanoseconds within the second, 9 digits.
    Nanoseconds,
}

/// `%[-][0][width][.precision]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Spec {
    left: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    Topic,
    Payload,
    Hex {
        upper: bool,
    },
    Length,
    MessageId,
    Qos,
    Retain,
    /// `%I`: local time, ISO 8601 to the second.
    IsoTime,
    /// `%U`: Unix time with nanoseconds.
    UnixTime,
    /// An MQTT 5 property of the message.
    Property(Property),
}

/// The MQTT 5 properties of the `%` codes. When one is absent, mosquitto prints `width` pad
/// characters for the numbers (`0` with the `0` flag), `width` blanks for `%C`, and nothing for
/// `%D %P %R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Property {
    /// `%A`.
    TopicAlias,
    /// `%C`.
    ContentType,
    /// `%D`, raw bytes; flags are ignored.
    CorrelationData,
    /// `%E`.
    MessageExpiry,
    /// `%F`.
    PayloadFormat,
    /// `%P`, `k1:v1 k2:v2`; flags are ignored.
    UserProperties,
    /// `%R`.
    ResponseTopic,
    /// `%S`.
    SubscriptionId,
}

/// The strftime conversions of glibc (mosquitto_sub passes `@X` to it) that chrono formats the
/// same way in the C locale (mosquitto never calls setlocale). `%Z` is the one approximation.
const STRFTIME: &[u8] = b"aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ";

impl Template {
    /// Parse a format once; `pretty` (--pretty) indents %j and %J.
    pub fn parse(format: &str, pretty: bool) -> Result<Template, FormatError> {
        let mut template = Template {
            text: Vec::with_capacity(format.len()),
            pieces: Vec::new(),
            pretty,
        };
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            match c {
                '%' => match parse_percent(&mut chars)? {
                    Percent::Literal => template.literal(b"%"),
                    Percent::Field(code, spec) => template.pieces.push(Piece::Field(code, spec)),
                    Percent::Json(payload) => template.pieces.push(Piece::Json(payload)),
                },
                '@' => match chars.next().ok_or(FormatError::IncompleteFormat)? {
                    '@' => template.literal(b"@"),
                    '%' => template.literal(b"%"),
                    'N' => template.pieces.push(Piece::Nanoseconds),
                    c if c.is_ascii() && STRFTIME.contains(&(c as u8)) => {
                        let items = StrftimeItems::new(&format!("%{c}"))
                            .parse_to_owned()
                            .expect("every conversion in STRFTIME is known to chrono");
                        template.pieces.push(Piece::Strftime(items));
                    }
                    // glibc prints a conversion it does not know as it is; a digit is taken as
                    // a field width and pads it: `@3` gives ` %3`.
                    c => {
                        let unknown = format!("%{c}");
                        let width = c.to_digit(10).unwrap_or(0) as usize;
                        template.literal(format!("{unknown:>width$}").as_bytes());
                    }
                },
                '\\' => {
                    let escaped = match chars.next().ok_or(FormatError::IncompleteEscape)? {
                        '\\' => b'\\',
                        '0' => 0,
                        'a' => 0x07,
                        'e' => 0x1b,
                        'n' => b'\n',
                        'r' => b'\r',
                        't' => b'\t',
                        'v' => 0x0b,
                        c => return Err(FormatError::InvalidEscape(c)),
                    };
                    template.literal(&[escaped]);
                }
                c => template.literal(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        Ok(template)
    }

    /// Append literal bytes, merged with the literal before them.
    fn literal(&mut self, bytes: &[u8]) {
        let start = self.text.len();
        self.text.extend_from_slice(bytes);
        let end = self.text.len();
        match self.pieces.last_mut() {
            Some(Piece::Literal { end: last_end, .. }) if *last_end == start => *last_end = end,
            _ => self.pieces.push(Piece::Literal { start, end }),
        }
    }

    /// Append the rendering of `message` to `out` (no newline). The clock is read at most once,
    /// and only if a code needs it. If %J meets a payload that is not JSON, %J prints nothing,
    /// the rest is rendered, and [`Rendered::PayloadNotJson`] says so.
    pub fn render<Tz>(
        &self,
        message: &Message<'_>,
        clock: impl FnOnce() -> DateTime<Tz>,
        out: &mut Vec<u8>,
    ) -> Rendered
    where
        Tz: TimeZone,
        Tz::Offset: fmt::Display,
    {
        let now = LazyCell::new(clock);
        let mut rendered = Rendered::Complete;
        for piece in &self.pieces {
            match piece {
                Piece::Literal { start, end } => out.extend_from_slice(&self.text[*start..*end]),
                Piece::Strftime(items) => {
                    let _ = now.format_with_items(items.iter()).write_to(&mut Sink(out));
                }
                Piece::Nanoseconds => {
                    let _ = fmt::Write::write_fmt(
                        &mut Sink(out),
                        format_args!("{:09}", now.timestamp_subsec_nanos()),
                    );
                }
                Piece::Field(code, spec) => field(out, message, *code, spec, &now),
                Piece::Json(payload) => {
                    let written = json::write_message(out, message, &*now, *payload, self.pretty);
                    if written == Rendered::PayloadNotJson {
                        rendered = written;
                    }
                }
            }
        }
        rendered
    }
}

/// What a `%` sequence stands for.
enum Percent {
    /// `%%`.
    Literal,
    Field(Code, Spec),
    Json(Payload),
}

/// Parse what follows a `%`: flags, width, precision and the code.
fn parse_percent(chars: &mut Chars<'_>) -> Result<Percent, FormatError> {
    let mut spec = Spec::default();
    let mut c = next(chars)?;
    if c == '-' {
        spec.left = true;
        c = next(chars)?;
    }
    if c == '0' {
        spec.zero = true;
        c = next(chars)?;
    }
    spec.width = number(&mut c, chars)?;
    if c == '.' {
        c = next(chars)?;
        spec.precision = Some(number(&mut c, chars)?);
    }
    let code = match c {
        '%' => return Ok(Percent::Literal),
        'j' => return Ok(Percent::Json(Payload::Escaped)),
        'J' => return Ok(Percent::Json(Payload::Embedded)),
        't' => Code::Topic,
        'p' => Code::Payload,
        'x' => Code::Hex { upper: false },
        'X' => Code::Hex { upper: true },
        'l' => Code::Length,
        'm' => Code::MessageId,
        'q' => Code::Qos,
        'r' => Code::Retain,
        'I' => Code::IsoTime,
        'U' => Code::UnixTime,
        'A' => Code::Property(Property::TopicAlias),
        'C' => Code::Property(Property::ContentType),
        'D' => Code::Property(Property::CorrelationData),
        'E' => Code::Property(Property::MessageExpiry),
        'F' => Code::Property(Property::PayloadFormat),
        'P' => Code::Property(Property::UserProperties),
        'R' => Code::Property(Property::ResponseTopic),
        'S' => Code::Property(Property::SubscriptionId),
        c => return Err(FormatError::InvalidFormat(c)),
    };
    Ok(Percent::Field(code, spec))
}

/// The next character of a `%` sequence, which must not end here.
fn next(chars: &mut Chars<'_>) -> Result<char, FormatError> {
    chars.next().ok_or(FormatError::IncompleteFormat)
}

/// Digits from `c` on, as a width or precision; `c` is left on the first non-digit.
fn number(c: &mut char, chars: &mut Chars<'_>) -> Result<usize, FormatError> {
    let mut n: u64 = 0;
    while let Some(digit) = c.to_digit(10) {
        n = n.saturating_mul(10).saturating_add(u64::from(digit));
        *c = next(chars)?;
    }
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_WIDTH)
        .ok_or(FormatError::TooWide(n))
}

/// Render one `%` code.
fn field<Tz>(
    out: &mut Vec<u8>,
    message: &Message<'_>,
    code: Code,
    spec: &Spec,
    now: &impl Deref<Target = DateTime<Tz>>,
) where
    Tz: TimeZone,
    Tz::Offset: fmt::Display,
{
    match code {
        Code::Topic => {
            let start = out.len();
            out.extend_from_slice(message.topic.as_bytes());
            align_text(out, start, spec);
        }
        Code::Payload => payload(out, message.payload, None, spec),
        Code::Hex { upper } => payload(out, message.payload, Some(upper), spec),
        Code::Length => integer(out, message.payload.len() as u64, spec),
        Code::MessageId => integer(out, u64::from(message.mid), spec),
        Code::Qos => out.push(b'0' + message.qos),
        Code::Retain => out.push(if message.retain { b'1' } else { b'0' }),
        Code::IsoTime => {
            let start = out.len();
            let _ = now.format("%Y-%m-%dT%H:%M:%S%z").write_to(&mut Sink(out));
            align_text(out, start, spec);
        }
        Code::UnixTime => {
            let _ = fmt::Write::write_fmt(
                &mut Sink(out),
                format_args!("{}.{:09}", now.timestamp(), now.timestamp_subsec_nanos()),
            );
        }
        Code::Property(property) => property_field(out, message, property, spec),
    }
}

/// Render one MQTT 5 property code, present or absent.
fn property_field(out: &mut Vec<u8>, message: &Message<'_>, property: Property, spec: &Spec) {
    let props = message.properties;
    let number = match property {
        Property::TopicAlias => Some(props.and_then(|p| p.topic_alias).map(u64::from)),
        Property::MessageExpiry => Some(props.and_then(|p| p.message_expiry).map(u64::from)),
        Property::PayloadFormat => Some(props.and_then(|p| p.payload_format).map(u64::from)),
        Property::SubscriptionId => Some(
            props
                .and_then(|p| p.subscription_ids.first())
                .map(|&id| id as u64),
        ),
        _ => None,
    };
    if let Some(value) = number {
        match value {
            Some(value) => integer(out, value, spec),
            None => {
                let pad = if spec.zero { b'0' } else { b' ' };
                out.resize(out.len() + spec.width, pad);
            }
        }
        return;
    }
    match property {
        Property::ContentType | Property::ResponseTopic => {
            let text = props.and_then(|p| match property {
                Property::ContentType => p.content_type.as_deref(),
                _ => p.response_topic.as_deref(),
            });
            match text {
                Some(text) => {
                    let start = out.len();
                    out.extend_from_slice(text.as_bytes());
                    align_text(out, start, spec);
                }
                None if property == Property::ContentType => {
                    out.resize(out.len() + spec.width, b' ');
                }
                None => {}
            }
        }
        Property::CorrelationData => {
            if let Some(data) = props.and_then(|p| p.correlation_data.as_deref()) {
                out.extend_from_slice(data);
            }
        }
        Property::UserProperties => {
            for (i, (key, value)) in props
                .map(|p| p.user_properties.as_slice())
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(key.as_bytes());
                out.push(b':');
                out.extend_from_slice(value.as_bytes());
            }
        }
        _ => {}
    }
}

/// printf's `%d`, `%-*d`, `%0*d` and `%*d`; the precision is ignored, as in mosquitto.
fn integer(out: &mut Vec<u8>, value: u64, spec: &Spec) {
    let width = spec.width;
    let mut sink = Sink(out);
    let _ = match (spec.left, spec.zero) {
        (true, _) => fmt::Write::write_fmt(&mut sink, format_args!("{value:<width$}")),
        (false, true) => fmt::Write::write_fmt(&mut sink, format_args!("{value:0width$}")),
        (false, false) => fmt::Write::write_fmt(&mut sink, format_args!("{value:>width$}")),
    };
}

/// printf's `%-*.*s` on the text just written at `out[start..]`: cut it to the precision (never
/// inside a UTF-8 character), then pad it with blanks to the width. The `0` flag is ignored.
fn align_text(out: &mut Vec<u8>, start: usize, spec: &Spec) {
    if let Some(precision) = spec.precision {
        if out.len() - start > precision {
            let mut cut = start + precision;
            while cut > start && (out[cut] & 0xc0) == 0x80 {
                cut -= 1;
            }
            out.truncate(cut);
        }
    }
    let pad = spec.width.saturating_sub(out.len() - start);
    out.resize(out.len() + pad, b' ');
    if !spec.left {
        out[start..].rotate_right(pad);
    }
}

/// `%p` (hex None) and `%x`/`%X`: a width is both the minimum and the maximum: the payload is
/// cut to what fits (`%3p` of `abcdef` is `abc`, `%4x` is `6162`) and padded up to it. The
/// precision is ignored, as in mosquitto.
fn payload(out: &mut Vec<u8>, payload: &[u8], hex: Option<bool>, spec: &Spec) {
    let per_byte = if hex.is_some() { 2 } else { 1 };
    let shown = if spec.width > 0 {
        &payload[..payload.len().min(spec.width / per_byte)]
    } else {
        payload
    };
    let pad = spec.width.saturating_sub(shown.len() * per_byte);
    if !spec.left {
        out.resize(out.len() + pad, if spec.zero { b'0' } else { b' ' });
    }
    match hex {
        None => out.extend_from_slice(shown),
        Some(upper) => {
            let digits = if upper {
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            out.reserve(shown.len() * 2);
            for byte in shown {
                out.push(digits[usize::from(byte >> 4)]);
                out.push(digits[usize::from(byte & 0x0f)]);
            }
        }
    }
    if spec.left {
        out.resize(out.len() + pad, b' ');
    }
}

/// `fmt::Write` into the output buffer, so that chrono and `format_args!` write in place.
pub(super) struct Sink<'a>(pub(super) &'a mut Vec<u8>);

impl fmt::Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    /// Wednesday 2026-11-25 13:50:42.778945213 UTC, when mosquitto_sub printed the glibc
    /// expectations below.
    fn when() -> DateTime<FixedOffset> {
        FixedOffset::east_opt(0)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 25, 13, 50, 42)
            .unwrap()
            + chrono::Duration::nanoseconds(778_945_213)
    }

    fn message<'a>(topic: &'a str, payload: &'a [u8]) -> Message<'a> {
        Message {
            topic,
            payload,
            qos: 0,
            retain: false,
            dup: false,
            mid: 0,
            properties: None,
        }
    }

    fn render_message(format: &str, message: &Message<'_>) -> Vec<u8> {
        let template = Template::parse(format, false).unwrap();
        let mut out = Vec::new();
        assert_eq!(template.render(message, when, &mut out), Rendered::Complete);
        out
    }

    fn render(format: &str, topic: &str, payload: &[u8]) -> String {
        String::from_utf8(render_message(format, &message(topic, payload))).unwrap()
    }

    fn error(format: &str) -> String {
        Template::parse(format, false).unwrap_err().to_string()
    }

    #[test]
    fn flags_width_and_precision_as_in_the_brief() {
        assert_eq!(
            render("%5.2t|%-6.3t|%3p|%08p|%4x|%08l|%5q", "ab/cdef", b"abcdef"),
            "   ab|ab/   |abc|00abcdef|6162|00000006|0"
        );
    }

    #[test]
    fn every_code_of_an_mqtt_3_message() {
        let message = Message {
            topic: "f/a",
            payload: b"hi \"x\"",
            qos: 1,
            retain: false,
            dup: false,
            mid: 1,
            properties: None,
        };
        let out = render_message(
            "[%t][%p][%x][%X][%l][%m][%q][%r][%A][%C][%D][%E][%F][%P][%R][%S][%%][@@]",
            &message,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[f/a][hi \"x\"][686920227822][686920227822][6][1][1][0][][][][][][][][][%][@]"
        );
        let retained = Message {
            qos: 2,
            retain: true,
            dup: false,
            mid: 65535,
            properties: None,
            ..message
        };
        assert_eq!(render_message("%q %r %m", &retained), b"2 1 65535");
    }

    #[test]
    fn present_mqtt5_properties() {
        let properties = crate::format::Properties {
            payload_format: Some(1),
            message_expiry: Some(100),
            topic_alias: Some(3),
            response_topic: Some("resp/t".into()),
            correlation_data: Some(b"c\0d".to_vec()),
            user_properties: vec![("k1".into(), "v1".into()), ("k1".into(), "v2".into())],
            subscription_ids: vec![7, 8],
            content_type: Some("text/plain".into()),
        };
        let message = Message {
            properties: Some(&properties),
            ..message("t", b"x")
        };
        assert_eq!(
            render_message(
                "[%A][%C][%D][%E][%F][%P][%R][%S][%04E][%-4S][%12C][%.4C][%8R][%5D][%5P]",
                &message
            ),
            b"[3][text/plain][c\0d][100][1][k1:v1 k1:v2][resp/t][7][0100][7   ][  text/plain][text][  resp/t][c\0d][k1:v1 k1:v2]"
        );
    }

    #[test]
    fn absent_mqtt5_properties_print_padding_or_nothing() {
        assert_eq!(
            render(
                "[%5A][%05A][%-05A][%-5A][%3E][%03F][%2S][%5C][%-5C][%5.1C][%05C][%5D][%5P][%5R]",
                "t",
                b"x"
            ),
            "[     ][00000][00000][     ][   ][000][  ][     ][     ][     ][     ][][][]"
        );
    }

    #[test]
    fn integers_take_width_minus_and_zero_but_not_precision() {
        let message = Message {
            mid: 42,
            properties: None,
            qos: 1,
            ..message("t", b"abcdef")
        };
        assert_eq!(
            render_message(
                "[%l][%5l][%-5l][%05l][%-05l][%0l][%-l][%.3l][%5.3l][%08.1m]",
                &message
            ),
            b"[6][    6][6    ][00006][6    ][6][6][6][    6][00000042]"
        );
    }

    #[test]
    fn strings_take_width_and_precision_but_not_zero() {
        assert_eq!(
            render(
                "[%t][%.t][%5.t][%0t][%-0t][%8t][%-8t][%08t][%10.4t][%-10.4t][%.100t]",
                "ab/cdef",
                b""
            ),
            "[ab/cdef][][     ][ab/cdef][ab/cdef][ ab/cdef][ab/cdef ][ ab/cdef][      ab/c][ab/c      ][ab/cdef]"
        );
        // A precision never cuts a character in two; the width counts bytes, as printf does.
        assert_eq!(
            render("[%.1t][%.2t][%.3t][%5t]", "é/a", b""),
            "[][é][é/][ é/a]"
        );
    }

    #[test]
    fn payload_width_truncates_and_pads_and_precision_is_ignored() {
        assert_eq!(
            render(
                "[%p][%3p][%8p][%08p][%-8p][%-08p][%.2p][%6p][%0p]",
                "t",
                b"abcdef"
            ),
            "[abcdef][abc][  abcdef][00abcdef][abcdef  ][abcdef  ][abcdef][abcdef][abcdef]"
        );
        // mosquitto: `%-p` adds as many blanks as there are bytes.
        assert_eq!(render("[%-p][%-x]", "t", b"ab"), "[ab][6162]");
        // Binary safe.
        assert_eq!(
            render_message("%p|%3p", &message("t", b"a\0b\xff\n")),
            b"a\0b\xff\n|a\0b"
        );
        assert_eq!(render("[%p][%5p]", "t", b""), "[][     ]");
    }

    #[test]
    fn hex_width_keeps_what_fits() {
        let bytes: &[u8] = &[0x00, 0xff, 0x10, 0xab];
        assert_eq!(
            render_message("%x %X", &message("t", bytes)),
            b"00ff10ab 00FF10AB"
        );
        assert_eq!(
            render(
                "[%4x][%3x][%-3x][%5X][%05x][%12x][%012X][%-12x][%.1x]",
                "t",
                b"abcdef"
            ),
            "[6162][ 61][61 ][ 6162][06162][616263646566][616263646566][616263646566][616263646566]"
        );
        // mosquitto: `      61` (it halves the payload whenever a width is given).
        assert_eq!(
            render("[%8x][%08X][%-8x]", "t", b"ab"),
            "[    6162][00006162][6162    ]"
        );
        assert_eq!(render("[%x][%4x]", "t", b""), "[][    ]");
    }

    #[test]
    fn qos_retain_unix_time_and_percent_ignore_flags() {
        let message = Message {
            qos: 2,
            retain: true,
            dup: false,
            ..message("t", b"x")
        };
        assert_eq!(
            render_message("[%5q][%-05r][%5%][%-08.3U]", &message),
            b"[2][1][%][1795614642.778945213]"
        );
    }

    #[test]
    fn iso_time_is_a_string_field() {
        assert_eq!(
            render("[%I][%5.4I][%-26I][%.10I]", "t", b""),
            "[2026-11-25T13:50:42+0000][ 2026][2026-11-25T13:50:42+0000  ][2026-11-25]"
        );
        let east = FixedOffset::east_opt(5 * 3600 + 30 * 60)
            .unwrap()
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .unwrap();
        let template = Template::parse("%I %U", false).unwrap();
        let mut out = Vec::new();
        let _ = template.render(&message("t", b""), || east, &mut out);
        assert_eq!(out, b"2026-01-02T03:04:05+0530 1767303245.000000000");
    }

    #[test]
    fn at_codes_are_glibc_strftime_in_the_c_locale() {
        // What mosquitto_sub 2.0.11 (glibc 2.36) printed for `@X` at when(), X by X.
        let glibc: &[(char, &str)] = &[
            ('a', "Wed"),
            ('b', "Nov"),
            ('c', "Wed Nov 25 13:50:42 2026"),
            ('d', "25"),
            ('e', "25"),
            ('f', "%f"),
            ('g', "26"),
            ('h', "Nov"),
            ('i', "%i"),
            ('j', "329"),
            ('k', "13"),
            ('l', " 1"),
            ('m', "11"),
            ('n', "\n"),
            ('o', "%o"),
            ('p', "PM"),
            ('q', "%q"),
            ('r', "01:50:42 PM"),
            ('s', "1795614642"),
            ('t', "\t"),
            ('u', "3"),
            ('v', "%v"),
            ('w', "3"),
            ('x', "11/25/26"),
            ('y', "26"),
            ('z', "+0000"),
            ('A', "Wednesday"),
            ('B', "November"),
            ('C', "20"),
            ('D', "11/25/26"),
            ('E', "%E"),
            ('F', "2026-11-25"),
            ('G', "2026"),
            ('H', "13"),
            ('I', "01"),
            ('J', "%J"),
            ('K', "%K"),
            ('L', "%L"),
            ('M', "50"),
            ('N', "778945213"),
            ('O', "%O"),
            ('P', "pm"),
            ('Q', "%Q"),
            ('R', "13:50"),
            ('S', "42"),
            ('T', "13:50:42"),
            ('U', "47"),
            ('V', "48"),
            ('W', "47"),
            ('X', "13:50:42"),
            ('Y', "2026"),
            ('0', "%0"),
            ('1', "%1"),
            ('2', "%2"),
            ('3', " %3"),
            ('4', "  %4"),
            ('9', "       %9"),
            ('!', "%!"),
            ('#', "%#"),
            ('%', "%"),
            ('+', "%+"),
            ('-', "%-"),
            ('.', "%."),
            (':', "%:"),
            ('^', "%^"),
            ('_', "%_"),
            ('|', "%|"),
            ('~', "%~"),
            ('"', "%\""),
            (' ', "% "),
            ('é', "%é"),
            ('@', "@"),
        ];
        for (code, expected) in glibc {
            assert_eq!(render(&format!("@{code}"), "t", b""), *expected, "@{code}");
        }
        // The one approximation: chrono has no zone names (glibc: `UTC`).
        assert_eq!(render("@Z", "t", b""), "+00:00");
        assert_eq!(
            render("@Y-@m-@dT@H:@M:@S.@N@z @@ @s", "t", b""),
            "2026-11-25T13:50:42.778945213+0000 @ 1795614642"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            render_message("\\\\|\\0|\\a|\\e|\\n|\\r|\\t|\\v", &message("t", b"")),
            b"\\|\0|\x07|\x1b|\n|\r|\t|\x0b"
        );
    }

    #[test]
    fn literal_text_is_copied_and_merged() {
        assert_eq!(
            render("tópic: %t, 100%% @@ \\t.", "a", b""),
            "tópic: a, 100% @ \t."
        );
        let template = Template::parse("a%%b@@c\\nd", false).unwrap();
        assert_eq!(template.pieces.len(), 1);
        assert_eq!(template.text, b"a%b@c\nd");
        assert_eq!(render("", "t", b"x"), "");
    }

    #[test]
    fn the_clock_is_read_once_and_only_when_needed() {
        let template = Template::parse("%t %p %x %l %m %q %r %A @@ %%", false).unwrap();
        let mut out = Vec::new();
        let _ = template.render(
            &message("t", b"x"),
            || -> DateTime<FixedOffset> { panic!("no time code, no clock") },
            &mut out,
        );
        let template = Template::parse("%I %U @N @S %j", false).unwrap();
        let mut reads = 0;
        let _ = template.render(
            &message("t", b"x"),
            || {
                reads += 1;
                when()
            },
            &mut out,
        );
        assert_eq!(reads, 1);
    }

    #[test]
    fn json_codes_ignore_flags_and_a_bad_payload_leaves_the_rest() {
        assert_eq!(
            render("<%5j>", "t", b"hi"),
            r#"<{"tst":"2026-11-25T13:50:42.778945+0000","topic":"t","qos":0,"retain":0,"payloadlen":2,"payload":"hi"}>"#
        );
        let template = Template::parse("x%-3Jy%t", false).unwrap();
        let mut out = Vec::new();
        let rendered = template.render(&message("a/b", b"{nope"), when, &mut out);
        assert_eq!(rendered, Rendered::PayloadNotJson);
        assert_eq!(out, b"xya/b");
    }

    #[test]
    fn errors_are_mosquittos() {
        assert_eq!(error("%e"), "invalid format specifier 'e'");
        assert_eq!(error("a %d"), "invalid format specifier 'd'");
        assert_eq!(error("%0-t"), "invalid format specifier '-'");
        assert_eq!(error("%--t"), "invalid format specifier '-'");
        assert_eq!(error("%5.2.t"), "invalid format specifier '.'");
        assert_eq!(error("%é"), "invalid format specifier 'é'");
        for incomplete in [
            "%", "x%", "%-", "%0", "%-0", "%5", "%05", "%.", "%5.", "%5.2", "@",
        ] {
            assert_eq!(
                error(incomplete),
                "incomplete format specifier",
                "{incomplete}"
            );
        }
        assert_eq!(error("\\"), "incomplete escape specifier");
        assert_eq!(error("\\q"), "invalid escape specifier 'q'");
        assert_eq!(error("\\x41"), "invalid escape specifier 'x'");
        assert_eq!(
            error("%65536t"),
            "format width or precision 65536 is too large (at most 65535)"
        );
        assert_eq!(
            error("%.99999999999999999999999t"),
            format!(
                "format width or precision {} is too large (at most 65535)",
                u64::MAX
            )
        );
        assert!(Template::parse("%65535t%.65535t%-065535p", false).is_ok());
    }
}
