//! JSON lines: `sub --json` writes one object per message, `pub --json` reads the same objects
//! back and publishes them, so `skeeter sub --json | skeeter pub --json` replays traffic.
//!
//! ```text
//! {"topic":"a/b","qos":1,"retain":false,"dup":false,"mid":3,
//!  "received":"2026-11-25T16:00:00.123456Z","payload":"hi","payload_length":2,
//!  "properties":{"content_type":"text/plain","user_properties":[["k","v"]]}}
//! ```
//!
//! - `payload` is a string when the payload is UTF-8, else its base64 with
//!   `"payload_encoding":"base64"` (correlation data likewise, `correlation_data_encoding`).
//! - `received` is UTC, RFC 3339 to the microsecond; `mid` is 0 for QoS 0.
//! - `properties` (MQTT 5) only when the message has some; user properties are `[key, value]`
//!   pairs in the order received, duplicates kept.
//!
//! Reading, only `topic` and `payload` are needed; `qos` and `retain` default to -q and -r;
//! `received`, `dup`, `mid` and `payload_length` are accepted and ignored (a length that does
//! not match the payload is an error). Any other member is an error, so a typo is not a silent
//! default.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::{Message, Properties};

const BASE64_NAME: &str = "base64";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    qos: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retain: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dup: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mid: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    received: Option<String>,
    /// None (null) is an empty payload.
    #[serde(default)]
    payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload_length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    properties: Option<JsonProperties>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload_format_indicator: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_expiry_interval: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response_topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    correlation_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    correlation_data_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    user_properties: Vec<(String, String)>,
    /// Shown, not sent: a subscription identifier belongs to a subscription.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    subscription_identifiers: Vec<usize>,
    /// Shown, not sent: an alias belongs to one connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic_alias: Option<u16>,
}

/// A string for the bytes: as they are when UTF-8, else base64 (and the encoding's name).
fn text_or_base64(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), None),
        Err(_) => (BASE64.encode(bytes), Some(BASE64_NAME.to_owned())),
    }
}

/// Append `message` as one JSON line (newline included).
pub fn write_line(
    out: &mut Vec<u8>,
    message: &Message<'_>,
    received: chrono::DateTime<chrono::Utc>,
) {
    let (payload, payload_encoding) = text_or_base64(message.payload);
    let properties = message
        .properties
        .filter(|p| **p != Properties::default())
        .map(|p| {
            let (correlation_data, correlation_data_encoding) = match &p.correlation_data {
                Some(data) => {
                    let (text, encoding) = text_or_base64(data);
                    (Some(text), encoding)
                }
                None => (None, None),
            };
            JsonProperties {
                payload_format_indicator: p.payload_format,
                message_expiry_interval: p.message_expiry,
                content_type: p.content_type.clone(),
                response_topic: p.response_topic.clone(),
                correlation_data,
                correlation_data_encoding,
                user_properties: p.user_properties.clone(),
                subscription_identifiers: p.subscription_ids.clone(),
                topic_alias: p.topic_alias,
            }
        });
    let record = Record {
        topic: message.topic.to_owned(),
        qos: Some(message.qos),
        retain: Some(message.retain),
        dup: Some(message.dup),
        mid: Some(message.mid),
        received: Some(received.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        payload: Some(payload),
        payload_encoding,
        payload_length: Some(message.payload.len()),
        properties,
    };
    // Serializing plain strings and numbers cannot fail.
    let _ = serde_json::to_writer(&mut *out, &record);
    out.push(b'\n');
}

/// A message read from a JSON line, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub topic: String,
    pub payload: Vec<u8>,
    /// None: -q's.
    pub qos: Option<u8>,
    /// None: -r's.
    pub retain: Option<bool>,
    /// The MQTT 5 properties to send (None: none given).
    pub properties: Option<SendProperties>,
}

/// The properties a JSON line asks to send.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SendProperties {
    pub payload_format_indicator: Option<u8>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    pub user_properties: Vec<(String, String)>,
}

fn decode(text: String, encoding: Option<&str>, what: &str) -> Result<Vec<u8>, String> {
    match encoding {
        None | Some("utf-8" | "utf8") => Ok(text.into_bytes()),
        Some(BASE64_NAME) => BASE64
            .decode(text.as_bytes())
            .map_err(|err| format!("{what} is not valid base64: {err}")),
        Some(other) => Err(format!(
            "unknown {what} encoding '{other}' (base64, or none for UTF-8)"
        )),
    }
}

/// Read one JSON line. The error says what is wrong, for `line N: ...`.
pub fn parse_line(line: &[u8]) -> Result<Outgoing, String> {
    // serde says "at line 1 column N": the line is the caller's to give.
    let record: Record = serde_json::from_slice(line).map_err(|err| {
        let text = err.to_string();
        let why = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(why, _)| why);
        format!("{why} (column {})", err.column())
    })?;
    let payload = decode(
        record.payload.unwrap_or_default(),
        record.payload_encoding.as_deref(),
        "payload",
    )?;
    if let Some(length) = record.payload_length
        && length != payload.len()
    {
        return Err(format!(
            "payload_length is {length} but the payload has {} bytes",
            payload.len()
        ));
    }
    if let Some(qos) = record.qos
        && qos > 2
    {
        return Err(format!("qos {qos} is not 0, 1 or 2"));
    }
    crate::topic::check_name(&record.topic)
        .map_err(|err| format!("invalid topic '{}': {err}", record.topic))?;
    let properties = match record.properties {
        None => None,
        Some(p) => {
            let correlation_data = match p.correlation_data {
                Some(text) => Some(decode(
                    text,
                    p.correlation_data_encoding.as_deref(),
                    "correlation_data",
                )?),
                None => None,
            };
            if let Some(indicator) = p.payload_format_indicator
                && indicator > 1
            {
                return Err(format!(
                    "payload_format_indicator {indicator} is not 0 or 1"
                ));
            }
            let properties = SendProperties {
                payload_format_indicator: p.payload_format_indicator,
                message_expiry_interval: p.message_expiry_interval,
                content_type: p.content_type,
                response_topic: p.response_topic,
                correlation_data,
                user_properties: p.user_properties,
            };
            (properties != SendProperties::default()).then_some(properties)
        }
    };
    Ok(Outgoing {
        topic: record.topic,
        payload,
        qos: record.qos,
        retain: record.retain,
        properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(message: &Message<'_>) -> String {
        let mut out = Vec::new();
        let when = chrono::DateTime::parse_from_rfc3339("2026-11-25T16:00:00.5Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        write_line(&mut out, message, when);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_binary_and_properties() {
        let text = Message {
            topic: "a/b",
            payload: b"hi \"there\"",
            qos: 1,
            retain: true,
            dup: false,
            mid: 7,
            properties: None,
        };
        assert_eq!(
            line_of(&text),
            "{\"topic\":\"a/b\",\"qos\":1,\"retain\":true,\"dup\":false,\"mid\":7,\
             \"received\":\"2026-11-25T16:00:00.500000Z\",\"payload\":\"hi \\\"there\\\"\",\
             \"payload_length\":10}\n"
        );
        let properties = Properties {
            content_type: Some("application/octet-stream".into()),
            correlation_data: Some(vec![0xff, 0]),
            user_properties: vec![("k".into(), "v".into()), ("k".into(), "w".into())],
            subscription_ids: vec![3],
            ..Properties::default()
        };
        let binary = Message {
            payload: &[0, 0xff, 0x80],
            properties: Some(&properties),
            qos: 0,
            mid: 0,
            ..text
        };
        let line = line_of(&binary);
        assert!(
            line.contains(
                "\"payload\":\"AP+A\",\"payload_encoding\":\"base64\",\"payload_length\":3"
            ),
            "{line}"
        );
        assert!(
            line.contains("\"correlation_data\":\"/wA=\",\"correlation_data_encoding\":\"base64\""),
            "{line}"
        );
        assert!(
            line.contains("\"user_properties\":[[\"k\",\"v\"],[\"k\",\"w\"]]"),
            "{line}"
        );
        // What is written reads back as what was sent.
        let back = parse_line(line.trim_end().as_bytes()).unwrap();
        assert_eq!(back.payload, [0, 0xff, 0x80]);
        assert_eq!((back.qos, back.retain), (Some(0), Some(true)));
        let sent = back.properties.unwrap();
        assert_eq!(sent.correlation_data, Some(vec![0xff, 0]));
        assert_eq!(sent.user_properties.len(), 2);
    }

    #[test]
    fn reading_needs_little_and_refuses_mistakes() {
        let minimal = parse_line(br#"{"topic":"t","payload":"x"}"#).unwrap();
        assert_eq!(minimal.payload, b"x");
        assert_eq!(
            (minimal.qos, minimal.retain, minimal.properties),
            (None, None, None)
        );
        assert_eq!(
            parse_line(br#"{"topic":"t","payload":null}"#)
                .unwrap()
                .payload,
            b""
        );
        for (line, expected) in [
            (
                &br#"{"topic":"t","payload":"x","topc":1}"#[..],
                "unknown field `topc`",
            ),
            (br#"{"payload":"x"}"#, "missing field `topic`"),
            (br#"{"topic":"a/+","payload":"x"}"#, "invalid topic 'a/+'"),
            (
                br#"{"topic":"t","payload":"x","qos":3}"#,
                "qos 3 is not 0, 1 or 2",
            ),
            (
                br#"{"topic":"t","payload":"!!","payload_encoding":"base64"}"#,
                "not valid base64",
            ),
            (
                br#"{"topic":"t","payload":"x","payload_encoding":"hex"}"#,
                "unknown payload encoding 'hex'",
            ),
            (
                br#"{"topic":"t","payload":"xy","payload_length":3}"#,
                "payload_length is 3",
            ),
            (
                br#"{"topic":"t","payload":"x","properties":{"colour":1}}"#,
                "unknown field `colour`",
            ),
            (b"not json", "expected ident"),
        ] {
            let err = parse_line(line).unwrap_err();
            assert!(
                err.contains(expected),
                "{}: {err}",
                String::from_utf8_lossy(line)
            );
        }
    }
}
