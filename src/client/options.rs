//! The connection options of the command line (and their environment variables) turned into
//! rumqttc's options, with the checks clap cannot express.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use rumqttc::{LastWill, MqttOptions, NetworkOptions, Transport};

use crate::cli::{ConnectArgs, ProtocolVersion};
use crate::exit::{Code, Fatal};

pub const DEFAULT_HOST: &str = "localhost";
pub const DEFAULT_PORT: u16 = 1883;

/// The parts of a `-L mqtt://[user[:password]@]host[:port]/topic` URL, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The path without its leading `/`; None when there is none.
    pub topic: Option<String>,
}

/// Parse a `-L` URL. Unlike mosquitto, user, password and topic are percent-decoded and an IPv6
/// host may be given as `[::1]`.
pub fn parse_url(text: &str) -> Result<BrokerUrl, String> {
    let url = url::Url::parse(text).map_err(|err| format!("'{text}' is not a URL: {err}"))?;
    match url.scheme() {
        "mqtt" => {}
        "mqtts" => return Err("mqtts:// needs TLS, which this version of skeeter lacks".into()),
        other => return Err(format!("unsupported URL scheme '{other}': use mqtt://")),
    }
    let host = match url.host() {
        Some(url::Host::Ipv6(addr)) => addr.to_string(),
        Some(_) => url.host_str().unwrap_or_default().to_owned(),
        None => return Err(format!("'{text}' has no host")),
    };
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "'{text}': a broker URL takes no ?query or #fragment (write # in a topic as %23)"
        ));
    }
    let decode = |part: &str, what: &str| -> Result<String, String> {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| format!("the {what} in '{text}' is not UTF-8 once decoded"))
    };
    let username = match url.username() {
        "" => None,
        user => Some(decode(user, "user name")?),
    };
    let password = url.password().map(|p| decode(p, "password")).transpose()?;
    let topic = match url.path().strip_prefix('/').unwrap_or(url.path()) {
        "" => None,
        path => Some(decode(path, "topic")?),
    };
    Ok(BrokerUrl {
        host,
        port: url.port(),
        username,
        password,
        topic,
    })
}

/// The largest MQTT packet: a remaining length of 268435455 bytes plus the fixed header.
pub const MAX_PACKET_SIZE: usize = 268_435_455 + 5;

/// How long to wait for TCP connect plus CONNACK, and for any single write to finish.
///
/// rumqttc uses one timeout for both; it must be long enough to write a 256 MB payload.
pub const NETWORK_TIMEOUT_SECS: u64 = 60;

/// Everything needed to open a connection, resolved from the command line.
#[derive(Clone)]
pub struct Settings {
    pub mqtt: MqttOptions,
    pub network: NetworkOptions,
    /// -A: the local address to connect from.
    pub bind_address: Option<IpAddr>,
    /// --proxy: the SOCKS5 proxy URL, as given.
    pub proxy: Option<String>,
    /// -V: the protocol version to speak.
    pub protocol: ProtocolVersion,
    pub host: String,
    pub port: u16,
    pub qos: rumqttc::QoS,
    pub debug: bool,
    pub quiet: bool,
    /// `host:port`, for messages.
    pub address: String,
}

pub fn qos(level: u8) -> rumqttc::QoS {
    match level {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    Fatal::new(Code::Usage, message).into()
}

/// The client id to send: -i as given, -I plus the process id, or empty (the broker assigns one).
///
/// MQTT 3.1 has no ids assigned by the broker, so there, as mosquitto's clients do, a random one
/// is made up: `skeeter-` and 15 letters or digits (23 characters, the 3.1 maximum).
pub fn client_id(args: &ConnectArgs) -> String {
    match (&args.id, &args.id_prefix) {
        (Some(id), _) => id.clone(),
        (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
        (None, None) if args.protocol_version == ProtocolVersion::V31 => {
            use rand::Rng;
            let suffix: String = rand::rng()
                .sample_iter(rand::distr::Alphanumeric)
                .take(15)
                .map(char::from)
                .collect();
            format!("skeeter-{suffix}")
        }
        (None, None) => String::new(),
    }
}

pub fn settings(args: &ConnectArgs) -> Result<Settings> {
    let id = client_id(args);
    if args.id.as_deref() == Some("") {
        return Err(usage(
            "the client id (-i) must not be empty; leave -i out to let the broker assign one",
        ));
    }
    if id.len() > 65535 {
        return Err(usage("the client id is longer than 65535 bytes"));
    }
    if args.disable_clean_session && id.is_empty() {
        return Err(usage(
            "a kept session (-c) needs a client id (-i or -I) to find it again",
        ));
    }
    // Explicit options take precedence over the parts of -L.
    let url = args.url.as_ref();
    let host = args
        .host
        .clone()
        .or_else(|| url.map(|u| u.host.clone()))
        .unwrap_or_else(|| DEFAULT_HOST.to_owned());
    let port = args
        .port
        .or_else(|| url.and_then(|u| u.port))
        .unwrap_or(DEFAULT_PORT);
    let username = args
        .username
        .clone()
        .or_else(|| url.and_then(|u| u.username.clone()));
    let password = args
        .password
        .clone()
        .or_else(|| url.and_then(|u| u.password.clone()));
    if args.unix.is_some() && (args.bind_address.is_some() || args.proxy.is_some()) {
        return Err(usage("--unix cannot be combined with -A or --proxy"));
    }

    if password.is_some() && username.is_none() {
        return Err(usage("a password (-P) needs a user name (-u)"));
    }
    for (what, value) in [
        ("user name", username.as_deref()),
        ("password", password.as_deref()),
    ] {
        if value.is_some_and(|v| v.len() > 65535) {
            return Err(usage(format!("the {what} is longer than 65535 bytes")));
        }
    }

    let mut mqtt = match &args.unix {
        Some(path) => {
            let mut mqtt = MqttOptions::new(id, path.to_string_lossy().into_owned(), 0);
            mqtt.set_transport(Transport::unix());
            mqtt
        }
        None => MqttOptions::new(id, host.clone(), port),
    };
    mqtt.set_keep_alive(Duration::from_secs(u64::from(args.keepalive)));
    mqtt.set_clean_session(!args.disable_clean_session);
    mqtt.set_max_packet_size(MAX_PACKET_SIZE, MAX_PACKET_SIZE);
    mqtt.set_inflight(args.max_inflight);
    if let Some(username) = &username {
        mqtt.set_credentials(username.clone(), password.clone().unwrap_or_default());
    }
    if let Some(topic) = &args.will_topic {
        let payload = args.will_payload.clone().unwrap_or_default();
        mqtt.set_last_will(LastWill::new(
            topic.clone(),
            payload,
            qos(args.will_qos),
            args.will_retain,
        ));
    }

    let mut network = NetworkOptions::new();
    network.set_connection_timeout(NETWORK_TIMEOUT_SECS);
    network.set_tcp_nodelay(args.nodelay);

    let address = match &args.unix {
        Some(path) => format!("unix:{}", path.display()),
        None if host.contains(':') => format!("[{host}]:{port}"),
        None => format!("{host}:{port}"),
    };
    Ok(Settings {
        mqtt,
        network,
        bind_address: args.bind_address,
        proxy: args.proxy.clone(),
        protocol: args.protocol_version,
        host,
        port,
        qos: qos(args.qos),
        debug: args.debug,
        quiet: args.quiet,
        address,
    })
}

impl Settings {
    /// The MQTT options, pointed at the -A relay's Unix socket when there is one.
    pub fn mqtt_options(&self, relay: Option<&Path>) -> MqttOptions {
        let Some(socket) = relay else {
            return self.mqtt.clone();
        };
        let mut mqtt = MqttOptions::new(
            self.mqtt.client_id(),
            socket.to_string_lossy().into_owned(),
            0,
        );
        mqtt.set_transport(Transport::unix())
            .set_keep_alive(self.mqtt.keep_alive())
            .set_clean_session(self.mqtt.clean_session())
            .set_max_packet_size(MAX_PACKET_SIZE, MAX_PACKET_SIZE)
            .set_inflight(self.mqtt.inflight());
        if let Some(login) = self.mqtt.credentials() {
            mqtt.set_credentials(login.username, login.password);
        }
        if let Some(will) = self.mqtt.last_will() {
            mqtt.set_last_will(will);
        }
        mqtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> BrokerUrl {
        parse_url(text).unwrap()
    }

    #[test]
    fn url_parts() {
        assert_eq!(
            url("mqtt://broker.example/conf/hello"),
            BrokerUrl {
                host: "broker.example".into(),
                port: None,
                username: None,
                password: None,
                topic: Some("conf/hello".into()),
            }
        );
        let full = url("mqtt://us%20er:p%40ss:w@10.0.0.1:1884/a/b%2Bc");
        assert_eq!(full.host, "10.0.0.1");
        assert_eq!(full.port, Some(1884));
        assert_eq!(full.username.as_deref(), Some("us er"));
        assert_eq!(full.password.as_deref(), Some("p@ss:w"));
        assert_eq!(full.topic.as_deref(), Some("a/b+c"));
        let v6 = url("MQTT://[::1]:1883/t");
        assert_eq!(v6.host, "::1");
        assert_eq!(url("mqtt://h").topic, None);
        assert_eq!(
            url("mqtt://h/sensors/%23").topic.as_deref(),
            Some("sensors/#")
        );
    }

    #[test]
    fn url_errors() {
        for bad in [
            "broker:1883",
            "http://h/t",
            "mqtts://h/t",
            "mqtt:///t",
            "mqtt://h/t?x=1",
            "mqtt://h:99999/t",
            "mqtt://h/%ff",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
