//! The connection options of the command line (and their environment variables) turned into
//! rumqttc's options, with the checks clap cannot express.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use rumqttc::{LastWill, MqttOptions, NetworkOptions, Transport};

use crate::cli::ConnectArgs;
use crate::exit::{Code, Fatal};

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
pub fn client_id(args: &ConnectArgs) -> String {
    match (&args.id, &args.id_prefix) {
        (Some(id), _) => id.clone(),
        (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
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
    if args.password.is_some() && args.username.is_none() {
        return Err(usage("a password (-P) needs a user name (-u)"));
    }
    for (what, value) in [
        ("user name", args.username.as_deref()),
        ("password", args.password.as_deref()),
    ] {
        if value.is_some_and(|v| v.len() > 65535) {
            return Err(usage(format!("the {what} is longer than 65535 bytes")));
        }
    }

    let mut mqtt = MqttOptions::new(id, args.host.clone(), args.port);
    mqtt.set_keep_alive(Duration::from_secs(u64::from(args.keepalive)));
    mqtt.set_clean_session(!args.disable_clean_session);
    mqtt.set_max_packet_size(MAX_PACKET_SIZE, MAX_PACKET_SIZE);
    mqtt.set_inflight(args.max_inflight);
    if let Some(username) = &args.username {
        mqtt.set_credentials(username.clone(), args.password.clone().unwrap_or_default());
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

    let address = if args.host.contains(':') {
        format!("[{}]:{}", args.host, args.port)
    } else {
        format!("{}:{}", args.host, args.port)
    };
    Ok(Settings {
        mqtt,
        network,
        bind_address: args.bind_address,
        host: args.host.clone(),
        port: args.port,
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
