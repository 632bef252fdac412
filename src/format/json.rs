//! `%j` and `%J`: a message as one JSON object, with mosquitto_sub's fields in its order:
//! `{"tst":..,"topic":..,"qos":..,"retain":..,"payloadlen":..,["mid":..,]"payload":..}`.
//!
//! - `tst` is the local time to the microsecond with the offset, as mosquitto 2.0.13 and later
//!   print it: `2026-11-25T12:09:40.726183+0000` (2.0.11 printed `...726183Z+0000`).
//! - `retain` is the number 0 or 1; `mid` (the packet identifier) is there only for QoS 1 and 2.
//! - An empty payload is `null`, in both.
//!
//! `%j`, the payload as a string: a payload that is UTF-8 is a JSON string (escaped as cJSON
//! does; a NUL byte is `\u0000` and does not end it, where mosquitto cuts the payload there).
//! A payload that is not UTF-8 is an array of its byte values, `[0,255,0]`: the output is always
//! valid JSON, nothing is lost, and a reader tells the two apart by the type. This is the form
//! mosquitto's maintainer accepted for binary payloads (eclipse/mosquitto#2213) and journalctl's
//! (mosquitto 2.0 prints the bytes raw, which is not JSON).
//!
//! `%J`, the payload as JSON: the payload must be one JSON value (RFC 8259, surrounding blanks
//! allowed). It is embedded as sent, without its insignificant blanks: numbers keep their digits
//! and objects their key order and duplicate keys (mosquitto re-prints it through cJSON, which
//! turns `1.50` into `1.5` and `1e5` into `100000`, and rounds integers beyond 2^53). A payload
//! that is not JSON, or is nested deeper than 1000 levels (cJSON's limit), prints nothing and is
//! reported by the caller, as mosquitto does.
//!
//! --pretty lays the object out as mosquitto's cJSON build does: one member per line indented
//! with tabs, a tab after each `:`, arrays on one line with `, ` between elements.

use chrono::{DateTime, TimeZone};
use std::fmt;

use super::template::Sink;
use super::{Message, Properties, Rendered};

/// How %j and %J put the payload in the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// `%j`: a string, or an array of byte values when the payload is not UTF-8.
    Escaped,
    /// `%J`: the payload's own JSON.
    Embedded,
}

/// Append the JSON object for `message` to `out`. With [`Payload::Embedded`] and a payload that
/// is not JSON, nothing is appended.
pub fn write_message<Tz>(
    out: &mut Vec<u8>,
    message: &Message<'_>,
    now: &DateTime<Tz>,
    payload: Payload,
    pretty: bool,
) -> Rendered
where
    Tz: TimeZone,
    Tz::Offset: fmt::Display,
{
    if payload == Payload::Embedded && !message.payload.is_empty() && !is_json(message.payload) {
        return Rendered::PayloadNotJson;
    }
    let start = out.len();
    let mut object = Object::open(out, pretty);
    object.key("tst");
    object.out.push(b'"');
    let _ = now
        .format("%Y-%m-%dT%H:%M:%S%.6f%z")
        .write_to(&mut Sink(object.out));
    object.out.push(b'"');
    object.key("topic");
    string(object.out, message.topic);
    object.key("qos");
    number(object.out, u64::from(message.qos));
    object.key("retain");
    number(object.out, u64::from(message.retain));
    object.key("payloadlen");
    number(object.out, message.payload.len() as u64);
    if message.qos > 0 {
        object.key("mid");
        number(object.out, u64::from(message.mid));
    }
    if let Some(properties) = message.properties.filter(|p| **p != Properties::default()) {
        object.key("properties");
        write_properties(object.out, properties, pretty);
    }
    object.key("payload");
    if message.payload.is_empty() {
        object.out.extend_from_slice(b"null");
    } else {
        match payload {
            Payload::Embedded => {
                if copy_json(message.payload, object.out, pretty, 1).is_err() {
                    out.truncate(start);
                    return Rendered::PayloadNotJson;
                }
            }
            Payload::Escaped => match std::str::from_utf8(message.payload) {
                Ok(text) => string(object.out, text),
                Err(_) => bytes(object.out, message.payload, pretty),
            },
        }
    }
    object.close();
    Rendered::Complete
}

/// The MQTT 5 properties as mosquitto's cJSON build prints them (in the order a mosquitto broker
/// usually sends them; rumqttc does not keep the order received): the spec's names, numbers as
/// numbers, correlation data as a string (as `%j` gives a payload: an array of byte values when
/// it is not UTF-8), user properties as an object (a repeated key repeated).
fn write_properties(out: &mut Vec<u8>, props: &Properties, pretty: bool) {
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, name: &str, depth: usize| {
        if !first {
            out.push(b',');
        }
        first = false;
        if pretty {
            out.push(b'\n');
            out.resize(out.len() + depth, b'\t');
        }
        string(out, name);
        out.extend_from_slice(if pretty { b":\t" } else { b":" });
    };
    out.push(b'{');
    if let Some(id) = props.subscription_ids.first() {
        key(out, "subscription-identifier", 2);
        number(out, *id as u64);
    }
    if let Some(value) = &props.content_type {
        key(out, "content-type", 2);
        string(out, value);
    }
    if !props.user_properties.is_empty() {
        key(out, "user-properties", 2);
        out.push(b'{');
        for (i, (name, value)) in props.user_properties.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if pretty {
                out.extend_from_slice(b"\n\t\t\t");
            }
            string(out, name);
            out.extend_from_slice(if pretty { b":\t" } else { b":" });
            string(out, value);
        }
        if pretty {
            out.extend_from_slice(b"\n\t\t");
        }
        out.push(b'}');
    }
    if let Some(value) = &props.correlation_data {
        key(out, "correlation-data", 2);
        match std::str::from_utf8(value) {
            Ok(text) => string(out, text),
            Err(_) => bytes(out, value, pretty),
        }
    }
    if let Some(value) = &props.response_topic {
        key(out, "response-topic", 2);
        string(out, value);
    }
    if let Some(value) = props.payload_format {
        key(out, "payload-format-indicator", 2);
        number(out, u64::from(value));
    }
    if let Some(value) = props.message_expiry {
        key(out, "message-expiry-interval", 2);
        number(out, u64::from(value));
    }
    if let Some(value) = props.topic_alias {
        key(out, "topic-alias", 2);
        number(out, u64::from(value));
    }
    if pretty {
        out.extend_from_slice(b"\n\t");
    }
    out.push(b'}');
}

/// Whether `payload` is exactly one JSON value (blanks around it allowed).
fn is_json(payload: &[u8]) -> bool {
    // JSON text is UTF-8 (RFC 8259 §8.1); serde_json does not check the bytes of strings it skips.
    std::str::from_utf8(payload)
        .is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok())
}

/// The top-level object, written member by member.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    pretty: bool,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>, pretty: bool) -> Object<'a> {
        out.push(b'{');
        Object {
            out,
            pretty,
            first: true,
        }
    }

    /// Start a member: the separator, the indentation and `"name":`.
    fn key(&mut self, name: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        if self.pretty {
            self.out.extend_from_slice(b"\n\t");
        }
        string(self.out, name);
        self.out
            .extend_from_slice(if self.pretty { b":\t" } else { b":" });
    }

    fn close(self) {
        if self.pretty {
            self.out.push(b'\n');
        }
        self.out.push(b'}');
    }
}

fn string(out: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

fn number(out: &mut Vec<u8>, value: u64) {
    let _ = fmt::Write::write_fmt(&mut Sink(out), format_args!("{value}"));
}

/// A payload that is not UTF-8, as the array of its byte values.
fn bytes(out: &mut Vec<u8>, payload: &[u8], pretty: bool) {
    out.push(b'[');
    for (i, byte) in payload.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(if pretty { b", " } else { b"," });
        }
        number(out, u64::from(*byte));
    }
    out.push(b']');
}

/// cJSON's nesting limit: mosquitto refuses a %J payload nested deeper, and so do we.
const MAX_NESTING: usize = 1000;

/// The payload of %J is nested deeper than [`MAX_NESTING`].
struct TooDeep;

/// Copy `json` (known to be valid) into `out` without its blanks; with `pretty`, laid out as
/// cJSON_Print does, starting at nesting `depth`: after `{` and after each `,` of an object a
/// newline and one tab per level, `:` followed by a tab, `, ` between array elements, `{}` as
/// `{`, newline, `}`. String and number tokens are copied unchanged.
fn copy_json(json: &[u8], out: &mut Vec<u8>, pretty: bool, depth: usize) -> Result<(), TooDeep> {
    let mut open = Nesting::default();
    let mut i = 0;
    while i < json.len() {
        let byte = json[i];
        i += 1;
        match byte {
            b'"' => {
                let start = i - 1;
                while json[i] != b'"' {
                    i += if json[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.extend_from_slice(&json[start..i]);
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'{' | b'[' => {
                open.push(byte == b'{')?;
                out.push(byte);
                if pretty && byte == b'{' {
                    while matches!(json[i], b' ' | b'\t' | b'\n' | b'\r') {
                        i += 1;
                    }
                    if json[i] == b'}' {
                        i += 1;
                        newline(out, depth + open.depth - 1);
                        out.push(b'}');
                        open.pop();
                    } else {
                        newline(out, depth + open.depth);
                    }
                }
            }
            b'}' => {
                if pretty {
                    newline(out, depth + open.depth - 1);
                }
                out.push(b'}');
                open.pop();
            }
            b']' => {
                out.push(b']');
                open.pop();
            }
            b',' if pretty && open.in_object() => {
                out.push(b',');
                newline(out, depth + open.depth);
            }
            b',' if pretty => out.extend_from_slice(b", "),
            b':' if pretty => out.extend_from_slice(b":\t"),
            _ => out.push(byte),
        }
    }
    Ok(())
}

fn newline(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    out.resize(out.len() + depth, b'\t');
}

/// Which of the open containers are objects, innermost last (one bit each).
#[derive(Default)]
struct Nesting {
    objects: [u64; MAX_NESTING.div_ceil(64)],
    depth: usize,
}

impl Nesting {
    fn push(&mut self, object: bool) -> Result<(), TooDeep> {
        if self.depth == MAX_NESTING {
            return Err(TooDeep);
        }
        let (word, bit) = (self.depth / 64, self.depth % 64);
        self.objects[word] = (self.objects[word] & !(1 << bit)) | (u64::from(object) << bit);
        self.depth += 1;
        Ok(())
    }

    fn pop(&mut self) {
        self.depth -= 1;
    }

    fn in_object(&self) -> bool {
        let top = self.depth - 1;
        self.objects[top / 64] & (1 << (top % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn when() -> DateTime<FixedOffset> {
        FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 25, 14, 9, 40)
            .unwrap()
            + chrono::Duration::nanoseconds(726_183_999)
    }

    const TST: &str = r#""tst":"2026-11-25T14:09:40.726183+0100""#;

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

    fn json(message: &Message<'_>, payload: Payload, pretty: bool) -> String {
        let mut out = Vec::new();
        assert_eq!(
            write_message(&mut out, message, &when(), payload, pretty),
            Rendered::Complete
        );
        let text = String::from_utf8(out).unwrap();
        serde_json::from_str::<serde::de::IgnoredAny>(&text).expect("valid JSON");
        text
    }

    fn escaped(payload: &[u8]) -> String {
        json(&message("t", payload), Payload::Escaped, false)
    }

    fn embedded(payload: &[u8], pretty: bool) -> String {
        json(&message("t", payload), Payload::Embedded, pretty)
    }

    /// The part after `"payload":` and before the closing brace.
    fn payload_of(json: &str) -> &str {
        let start = json.find(r#""payload":"#).unwrap() + r#""payload":"#.len();
        &json[start..json.len() - 1]
    }

    #[test]
    fn fields_in_mosquittos_order() {
        assert_eq!(
            escaped(b"hello"),
            format!(r#"{{{TST},"topic":"t","qos":0,"retain":0,"payloadlen":5,"payload":"hello"}}"#)
        );
        let qos1 = Message {
            topic: "a/\"b\"",
            payload: b"x",
            qos: 1,
            retain: true,
            dup: false,
            mid: 17,
            properties: None,
        };
        assert_eq!(
            json(&qos1, Payload::Escaped, false),
            format!(
                r#"{{{TST},"topic":"a/\"b\"","qos":1,"retain":1,"payloadlen":1,"mid":17,"payload":"x"}}"#
            )
        );
    }

    #[test]
    fn strings_are_escaped_as_cjson_does() {
        assert_eq!(
            payload_of(&escaped(
                "he\"llo\\ é/\n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f}".as_bytes()
            )),
            "\"he\\\"llo\\\\ é/\\n\\t\\r\\b\\f\\u0001\\u001f\u{7f}\""
        );
    }

    #[test]
    fn a_nul_does_not_cut_the_payload() {
        let out = escaped(b"a\0b");
        assert_eq!(payload_of(&out), r#""a\u0000b""#);
        assert!(out.contains(r#""payloadlen":3"#));
    }

    #[test]
    fn a_payload_that_is_not_utf8_is_an_array_of_bytes() {
        assert_eq!(payload_of(&escaped(b"a\0b\x01\xff")), "[97,0,98,1,255]");
        assert_eq!(payload_of(&escaped(b"\xc3")), "[195]");
        let pretty = json(&message("t", b"\0\xff\0"), Payload::Escaped, true);
        assert!(
            pretty.ends_with("\t\"payload\":\t[0, 255, 0]\n}"),
            "{pretty}"
        );
    }

    #[test]
    fn an_empty_payload_is_null() {
        assert_eq!(payload_of(&escaped(b"")), "null");
        assert_eq!(payload_of(&embedded(b"", false)), "null");
    }

    #[test]
    fn embedded_json_keeps_its_tokens_and_loses_its_blanks() {
        let payload = br#" {"b": 1.50, "a":[1,2,{}], "a":1e5, "c":{"d":[]}, "s":"x y\" \u00e9"} "#;
        assert_eq!(
            payload_of(&embedded(payload, false)),
            r#"{"b":1.50,"a":[1,2,{}],"a":1e5,"c":{"d":[]},"s":"x y\" \u00e9"}"#
        );
        for scalar in [
            "1", "-0.5e-3", "\"text\"", "true", "false", "null", "[]", "{}",
        ] {
            assert_eq!(payload_of(&embedded(scalar.as_bytes(), false)), scalar);
        }
        assert_eq!(payload_of(&embedded(b"\n\t[ 1 , 2 ]\r\n", false)), "[1,2]");
    }

    #[test]
    fn a_payload_that_is_not_json_writes_nothing() {
        for bad in [
            &b"{\"a\":1"[..],
            b"01",
            b"1 2",
            b"{'a':1}",
            b"\"\xff\"",
            b"\"a\0b\"",
            b"[1,]",
            b" ",
        ] {
            let mut out = b"before".to_vec();
            let rendered = write_message(
                &mut out,
                &message("t", bad),
                &when(),
                Payload::Embedded,
                false,
            );
            assert_eq!(rendered, Rendered::PayloadNotJson, "{bad:?}");
            assert_eq!(out, b"before");
        }
    }

    #[test]
    fn pretty_is_mosquittos_cjson_layout() {
        // mosquitto_sub 2.0.11 --pretty -F %J, this payload (its tst aside: `Z+0000` there).
        let payload =
            br#" {"b": 1.5, "a":[1,2,{"x":[{"y":1}]}], "a":100000, "c":{"d":[]}, "e":{}} "#;
        let expected = "{\n\
            \t\"tst\":\t\"2026-11-25T14:09:40.726183+0100\",\n\
            \t\"topic\":\t\"t\",\n\
            \t\"qos\":\t0,\n\
            \t\"retain\":\t0,\n\
            \t\"payloadlen\":\t73,\n\
            \t\"payload\":\t{\n\
            \t\t\"b\":\t1.5,\n\
            \t\t\"a\":\t[1, 2, {\n\
            \t\t\t\t\"x\":\t[{\n\
            \t\t\t\t\t\t\"y\":\t1\n\
            \t\t\t\t\t}]\n\
            \t\t\t}],\n\
            \t\t\"a\":\t100000,\n\
            \t\t\"c\":\t{\n\
            \t\t\t\"d\":\t[]\n\
            \t\t},\n\
            \t\t\"e\":\t{\n\
            \t\t}\n\
            \t}\n\
            }";
        assert_eq!(embedded(payload, true), expected);
        let qos2 = Message {
            qos: 2,
            mid: 9,
            properties: None,
            ..message("x", b"hi")
        };
        assert_eq!(
            json(&qos2, Payload::Escaped, true),
            "{\n\t\"tst\":\t\"2026-11-25T14:09:40.726183+0100\",\n\t\"topic\":\t\"x\",\n\
             \t\"qos\":\t2,\n\t\"retain\":\t0,\n\t\"payloadlen\":\t2,\n\t\"mid\":\t9,\n\
             \t\"payload\":\t\"hi\"\n}"
        );
        assert_eq!(payload_of(&embedded(b"{}", true)), "\t{\n\t}\n");
        assert_eq!(
            payload_of(&embedded(b"[{}, []]", true)),
            "\t[{\n\t\t}, []]\n"
        );
        assert_eq!(
            payload_of(&embedded(br#""a,b:{c}""#, true)),
            "\t\"a,b:{c}\"\n"
        );
    }

    #[test]
    fn nesting_deeper_than_cjsons_limit_is_refused() {
        let deep = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
        let mut out = Vec::new();
        let rendered = write_message(
            &mut out,
            &message("t", deep.as_bytes()),
            &when(),
            Payload::Embedded,
            true,
        );
        assert_eq!(rendered, Rendered::PayloadNotJson);
        let deepest = format!("{}1{}", "[{\"a\":".repeat(500), "}]".repeat(500));
        let out = embedded(deepest.as_bytes(), true);
        assert!(out.contains(&format!("\n{}\"a\":\t1\n", "\t".repeat(1001))));
        assert!(embedded(deepest.as_bytes(), false).contains(&deepest));
    }
}
