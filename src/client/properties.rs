//! `-D COMMAND NAME VALUE` and `-D COMMAND user-property KEY VALUE`: MQTT 5 properties as
//! mosquitto's clients take them (names case-insensitive, each command its own list, a
//! property given twice is an error except user-property).
//!
//! clap cannot tell 3 values from 4, so `main` groups each `-D` occurrence into one word first
//! ([`group_property_args`]): the property name says how many values follow.

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{
    ConnectProperties, DisconnectProperties, LastWillProperties, PublishProperties,
};

/// Separates the words of one `-D` in the word clap sees (argv cannot contain a NUL).
const SEPARATOR: char = '\0';

/// One `-D`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyArg {
    pub command: String,
    pub name: String,
    pub key: Option<String>,
    pub value: String,
}

/// Rewrite each `-D A B C` / `-D A user-property K V` (also `--property`) in `args[start..]`
/// into `-D` followed by one word, so that clap takes it as one value. Stops at `--`.
pub fn group_property_args(args: &mut Vec<std::ffi::OsString>, start: usize) {
    let mut i = start;
    while i < args.len() {
        match args[i].to_str() {
            Some("--") => return,
            Some("-D" | "--property") => {
                let rest = args.len() - i - 1;
                let name = args.get(i + 2).and_then(|n| n.to_str());
                let wanted = if name.is_some_and(|n| n.eq_ignore_ascii_case("user-property")) {
                    4
                } else {
                    3
                };
                let take = wanted.min(rest);
                let words: Vec<String> = args
                    .drain(i + 1..i + 1 + take)
                    .map(|w| w.to_string_lossy().into_owned())
                    .collect();
                args.insert(i + 1, words.join(&SEPARATOR.to_string()).into());
                i += 2;
            }
            _ => i += 1,
        }
    }
}

/// The value parser of `-D`: the word [`group_property_args`] made, checked against
/// mosquitto's table of commands and properties.
pub fn parse_property_arg(value: &str) -> Result<PropertyArg, String> {
    let words: Vec<&str> = value.split(SEPARATOR).collect();
    let (command, name) = match words.as_slice() {
        [command, name, ..] => (command.to_ascii_lowercase(), name.to_ascii_lowercase()),
        _ => return Err("-D takes COMMAND NAME VALUE, or COMMAND user-property KEY VALUE".into()),
    };
    let (key, value) = match (name.as_str(), words.as_slice()) {
        ("user-property", [_, _, key, value]) => (Some((*key).to_owned()), (*value).to_owned()),
        ("user-property", _) => return Err("-D COMMAND user-property takes KEY VALUE".into()),
        (_, [_, _, value]) => (None, (*value).to_owned()),
        _ => return Err(format!("-D {command} {name} takes one VALUE")),
    };
    let allowed: &[&str] = match command.as_str() {
        "connect" => &[
            "authentication-data",
            "authentication-method",
            "maximum-packet-size",
            "receive-maximum",
            "request-problem-information",
            "request-response-information",
            "session-expiry-interval",
            "topic-alias-maximum",
            "user-property",
        ],
        "publish" => &[
            "content-type",
            "correlation-data",
            "message-expiry-interval",
            "payload-format-indicator",
            "response-topic",
            "topic-alias",
            "user-property",
        ],
        "subscribe" => &["subscription-identifier", "user-property"],
        "unsubscribe" => &["user-property"],
        "will" => &[
            "content-type",
            "correlation-data",
            "message-expiry-interval",
            "payload-format-indicator",
            "response-topic",
            "user-property",
            "will-delay-interval",
        ],
        // rumqttc cannot send them: the relay rewrites its DISCONNECT (see relay.rs).
        "disconnect" => &["session-expiry-interval", "user-property"],
        "auth" | "puback" | "pubrec" | "pubrel" | "pubcomp" | "suback" | "unsuback" => {
            return Err(format!(
                "-D {command}: properties of {command} packets are not supported (rumqttc \
                 cannot send them)"
            ));
        }
        other => {
            return Err(format!(
                "-D: '{other}' is not a command that takes properties"
            ));
        }
    };
    if !allowed.contains(&name.as_str()) {
        return Err(format!(
            "-D {command} {name}: {name} is not a property of {command} (it takes {})",
            allowed.join(", ")
        ));
    }
    if let Some((low, high)) = number_range(&name) {
        match value.parse::<u64>() {
            Ok(n) if (low..=high).contains(&n) => {}
            _ => {
                return Err(format!(
                    "-D {command} {name}: '{value}' is not a number from {low} to {high}"
                ));
            }
        }
    }
    Ok(PropertyArg {
        command,
        name,
        key,
        value,
    })
}

/// The properties of one command, from -D and the named flags, with duplicates refused.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    numbers: Vec<(String, u64)>,
    texts: Vec<(String, String)>,
    pub user_properties: Vec<(String, String)>,
}

impl Collected {
    /// The -D properties of `command`, plus those named flags give (`named`, as (name, value)).
    pub fn of(
        command: &str,
        args: &[PropertyArg],
        named: &[(&str, Option<String>)],
        named_user: &[(String, String)],
    ) -> Result<Collected, String> {
        let mut collected = Collected {
            user_properties: named_user.to_vec(),
            ..Collected::default()
        };
        let given = named
            .iter()
            .filter_map(|(name, value)| value.clone().map(|v| ((*name).to_owned(), None, v)))
            .chain(
                args.iter()
                    .filter(|a| a.command == command)
                    .map(|a| (a.name.clone(), a.key.clone(), a.value.clone())),
            );
        for (name, key, value) in given {
            if let Some(key) = key {
                collected.user_properties.push((key, value));
                continue;
            }
            if collected.numbers.iter().any(|(n, _)| *n == name)
                || collected.texts.iter().any(|(n, _)| *n == name)
            {
                return Err(format!(
                    "duplicate property {name} for {command} (-D or its option given twice)"
                ));
            }
            match value.parse::<u64>() {
                Ok(n) if is_number(&name) => collected.numbers.push((name, n)),
                _ => collected.texts.push((name, value)),
            }
        }
        Ok(collected)
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty() && self.texts.is_empty() && self.user_properties.is_empty()
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.numbers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    fn text(&self, name: &str) -> Option<String> {
        self.texts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    pub fn publish(&self) -> PublishProperties {
        PublishProperties {
            payload_format_indicator: self.number("payload-format-indicator").map(|n| n as u8),
            message_expiry_interval: self.number("message-expiry-interval").map(|n| n as u32),
            // pub -D publish topic-alias: Connection::publish_all sends the topic only once.
            topic_alias: self.number("topic-alias").map(|n| n as u16),
            response_topic: self.text("response-topic"),
            correlation_data: self
                .text("correlation-data")
                .map(|d| Bytes::from(d.into_bytes())),
            user_properties: self.user_properties.clone(),
            subscription_identifiers: Vec::new(),
            content_type: self.text("content-type"),
        }
    }

    pub fn will(&self) -> LastWillProperties {
        LastWillProperties {
            delay_interval: self.number("will-delay-interval").map(|n| n as u32),
            payload_format_indicator: self.number("payload-format-indicator").map(|n| n as u8),
            message_expiry_interval: self.number("message-expiry-interval").map(|n| n as u32),
            content_type: self.text("content-type"),
            response_topic: self.text("response-topic"),
            correlation_data: self
                .text("correlation-data")
                .map(|d| Bytes::from(d.into_bytes())),
            user_properties: self.user_properties.clone(),
        }
    }

    /// Apply the CONNECT properties (on top of those skeeter sets itself).
    pub fn connect(&self, properties: &mut ConnectProperties) {
        if let Some(n) = self.number("session-expiry-interval") {
            properties.session_expiry_interval = Some(n as u32);
        }
        if let Some(n) = self.number("receive-maximum") {
            properties.receive_maximum = Some(n as u16);
        }
        if let Some(n) = self.number("maximum-packet-size") {
            properties.max_packet_size = Some(n as u32);
        }
        // The broker may then name topics by alias: client::Connection resolves them.
        if let Some(n) = self.number("topic-alias-maximum") {
            properties.topic_alias_max = Some(n as u16);
        }
        if let Some(n) = self.number("request-problem-information") {
            properties.request_problem_info = Some(n as u8);
        }
        if let Some(n) = self.number("request-response-information") {
            properties.request_response_info = Some(n as u8);
        }
        // Sent in CONNECT, as mosquitto_pub does; a broker that answers with an AUTH
        // challenge gets a clear error (see client::describe_error), not a conversation.
        if let Some(method) = self.text("authentication-method") {
            properties.authentication_method = Some(method);
        }
        if let Some(data) = self.text("authentication-data") {
            properties.authentication_data = Some(Bytes::from(data.into_bytes()));
        }
        properties
            .user_properties
            .extend(self.user_properties.iter().cloned());
    }

    /// The DISCONNECT properties; None when there are none (rumqttc's own DISCONNECT goes).
    pub fn disconnect(&self) -> Option<DisconnectProperties> {
        (!self.is_empty()).then(|| DisconnectProperties {
            session_expiry_interval: self.number("session-expiry-interval").map(|n| n as u32),
            reason_string: None,
            user_properties: self.user_properties.clone(),
            server_reference: None,
        })
    }

    pub fn subscription_id(&self) -> Option<usize> {
        self.number("subscription-identifier").map(|n| n as usize)
    }
}

/// The values a numeric property takes; None for the others (strings, binary data).
fn number_range(name: &str) -> Option<(u64, u64)> {
    let u16_max = u64::from(u16::MAX);
    let u32_max = u64::from(u32::MAX);
    match name {
        "payload-format-indicator"
        | "request-problem-information"
        | "request-response-information" => Some((0, 1)),
        "topic-alias-maximum" => Some((0, u16_max)),
        "receive-maximum" | "topic-alias" => Some((1, u16_max)),
        "subscription-identifier" => Some((1, 268_435_455)),
        "maximum-packet-size" => Some((1, u32_max)),
        "message-expiry-interval" | "session-expiry-interval" | "will-delay-interval" => {
            Some((0, u32_max))
        }
        _ => None,
    }
}

fn is_number(name: &str) -> bool {
    number_range(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grouped(args: &[&str]) -> Vec<String> {
        let mut args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        group_property_args(&mut args, 1);
        args.iter()
            .map(|a| a.to_string_lossy().replace('\0', "|"))
            .collect()
    }

    #[test]
    fn grouping_counts_values_by_the_property_name() {
        assert_eq!(
            grouped(&["pub", "-D", "publish", "content-type", "-x", "-t", "t"]),
            ["pub", "-D", "publish|content-type|-x", "-t", "t"]
        );
        assert_eq!(
            grouped(&["pub", "-D", "PUBLISH", "User-Property", "k", "-v", "-t"]),
            ["pub", "-D", "PUBLISH|User-Property|k|-v", "-t"]
        );
        assert_eq!(grouped(&["pub", "-D", "publish"]), ["pub", "-D", "publish"]);
        assert_eq!(grouped(&["pub", "--", "-D", "a"]), ["pub", "--", "-D", "a"]);
    }

    #[test]
    fn commands_and_properties_are_checked() {
        let parse = |words: &[&str]| parse_property_arg(&words.join("\0"));
        assert!(parse(&["publish", "content-type", "x"]).is_ok());
        assert!(parse(&["publish", "subscription-identifier", "1"]).is_err());
        assert!(parse(&["subscribe", "content-type", "x"]).is_err());
        assert!(parse(&["bogus", "content-type", "x"]).is_err());
        assert!(parse(&["connect", "receive-maximum", "0"]).is_err());
        assert!(parse(&["publish", "payload-format-indicator", "2"]).is_err());
        assert_eq!(
            parse(&["will", "user-property", "k", "v"]).unwrap().key,
            Some("k".into())
        );
        let args = [
            parse(&["publish", "content-type", "a"]).unwrap(),
            parse(&["publish", "content-type", "b"]).unwrap(),
        ];
        assert!(Collected::of("publish", &args, &[], &[]).is_err());
        let named = [("content-type", Some("a".to_owned()))];
        assert!(Collected::of("publish", &args[..1], &named, &[]).is_err());
    }
}
