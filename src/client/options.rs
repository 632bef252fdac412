//! The connection options of the command line (and their environment variables) turned into
//! rumqttc's options, with the checks clap cannot express.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use rumqttc::{LastWill, MqttOptions, NetworkOptions, TlsConfiguration, Transport};
use rustls::ClientConfig;

use super::properties::Collected;
use super::tls;

use crate::cli::{ConnectArgs, ProtocolVersion};
use crate::exit::{Code, Fatal};

pub const DEFAULT_HOST: &str = "localhost";
pub const DEFAULT_PORT: u16 = 1883;
pub const DEFAULT_TLS_PORT: u16 = 8883;
/// WebSockets: the ports of ws:// and wss:// URLs.
pub const DEFAULT_WS_PORT: u16 = 80;
pub const DEFAULT_WSS_PORT: u16 = 443;
pub const DEFAULT_WS_PATH: &str = "/mqtt";

/// The scheme of a `-L` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Mqtt,
    Mqtts,
    Ws,
    Wss,
}

impl Scheme {
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Mqtts | Scheme::Wss)
    }

    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
}

/// The parts of a `-L mqtt://[user[:password]@]host[:port]/topic` URL, percent-decoded.
/// For `ws://` and `wss://`, the path is the WebSocket endpoint's, not a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub scheme: Scheme,
    pub host: String,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The path without its leading `/`; None when there is none (and for WebSockets).
    pub topic: Option<String>,
    /// For ws:// and wss://: the path of the WebSocket endpoint (`/` when none is given).
    pub websocket_path: Option<String>,
}

/// Parse a `-L` URL. Unlike mosquitto, user, password and topic are percent-decoded and an IPv6
/// host may be given as `[::1]`.
pub fn parse_url(text: &str) -> Result<BrokerUrl, String> {
    let url = url::Url::parse(text).map_err(|err| format!("'{text}' is not a URL: {err}"))?;
    let scheme = match url.scheme() {
        "mqtt" => Scheme::Mqtt,
        "mqtts" => Scheme::Mqtts,
        "ws" => Scheme::Ws,
        "wss" => Scheme::Wss,
        other => {
            return Err(format!(
                "unsupported URL scheme '{other}': use mqtt://, mqtts://, ws:// or wss://"
            ));
        }
    };
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
    let (topic, websocket_path) = if scheme.is_websocket() {
        (None, Some(url.path().to_owned()))
    } else {
        match url.path().strip_prefix('/').unwrap_or(url.path()) {
            "" => (None, None),
            path => (Some(decode(path, "topic")?), None),
        }
    };
    Ok(BrokerUrl {
        scheme,
        websocket_path,
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
    /// --nodelay: TCP_NODELAY on the connection to the broker (rumqttc's, or the relay's).
    pub nodelay: bool,
    /// --proxy: the SOCKS5 proxy URL, as given.
    pub proxy: Option<String>,
    /// -V: the protocol version to speak.
    pub protocol: ProtocolVersion,
    pub host: String,
    pub port: u16,
    /// The TLS config when TLS is on (rumqttc's, or the relay's when there is one).
    pub tls: Option<Arc<ClientConfig>>,
    pub qos: rumqttc::QoS,
    pub debug: bool,
    pub quiet: bool,
    /// `host:port` (or the WebSocket URL), for messages.
    pub address: String,
    /// MQTT 5: the session expiry interval of the CONNECT (-x; forever with -c).
    pub session_expiry: Option<u32>,
    /// MQTT 5: the properties of each PUBLISH (set by the command that publishes).
    pub publish_properties: Option<rumqttc::v5::mqttbytes::v5::PublishProperties>,
    /// MQTT 5: the CONNECT properties of -D connect (and -x).
    pub connect_properties: Collected,
    /// MQTT 5: the will's properties (-D will).
    pub will_properties: Option<rumqttc::v5::mqttbytes::v5::LastWillProperties>,
    /// MQTT 5: the DISCONNECT properties (-D disconnect); the relay sends them.
    pub disconnect_properties: Option<rumqttc::v5::mqttbytes::v5::DisconnectProperties>,
    /// MQTT 5 receive maximum to ask for when -D connect receive-maximum does not say
    /// (sub -C N below 20, as mosquitto_sub does).
    pub receive_maximum: Option<u16>,
    /// MQTT 5 over TCP or TLS: go through the relay, which lengthens the broker's short
    /// DISCONNECTs so their reason is read (client::relay). On by default; `pub` turns it off,
    /// as the extra hop halves the rate of its in-flight window.
    pub read_short_disconnects: bool,
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

/// The usage error for an MQTT 5 option given without -V 5 (never a silent no-op).
pub fn needs_v5(option: &str) -> anyhow::Error {
    usage(format!("{option} is an MQTT 5 option: it needs -V 5"))
}

/// The client id to send: -i as given, -I plus the process id, or empty (the broker assigns one).
///
/// MQTT 3.1 has no ids assigned by the broker, so there, as mosquitto's clients do, a random one
/// is made up: `skeeter-` and 15 letters or digits (23 characters, the 3.1 maximum).
pub fn client_id(args: &ConnectArgs) -> String {
    match (&args.id, &args.id_prefix) {
        (Some(id), _) => id.clone(),
        (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
        (None, None) if args.protocol() == ProtocolVersion::V31 => {
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
    let v5 = args.protocol() == ProtocolVersion::V5;
    if !v5 && args.session_expiry.is_some() {
        return Err(needs_v5("-x (--session-expiry)"));
    }
    if !v5 && !args.property.is_empty() {
        return Err(needs_v5("-D (--property)"));
    }
    let connect_properties = Collected::of(
        "connect",
        &args.property,
        &[(
            "session-expiry-interval",
            args.session_expiry.map(|s| s.to_string()),
        )],
        &[],
    )
    .map_err(usage)?;
    let will_properties = Collected::of("will", &args.property, &[], &[]).map_err(usage)?;
    let disconnect_properties =
        Collected::of("disconnect", &args.property, &[], &[]).map_err(usage)?;
    if !will_properties.is_empty() && args.will_topic.is_none() {
        return Err(usage("-D will ... needs a will (--will-topic)"));
    }
    if v5 && args.keepalive < 5 {
        return Err(usage(
            "with -V 5 the keep-alive (-k) must be 5 s or more in this version",
        ));
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
    let scheme = url.map_or(Scheme::Mqtt, |u| u.scheme);
    let websocket = args.ws || scheme.is_websocket();
    let given_port = args.port.or_else(|| url.and_then(|u| u.port));
    let tls = tls_options(args, scheme, websocket, given_port)?;
    let port = given_port.unwrap_or(match (websocket, tls.is_some()) {
        (false, false) => DEFAULT_PORT,
        (false, true) => DEFAULT_TLS_PORT,
        (true, false) => DEFAULT_WS_PORT,
        (true, true) => DEFAULT_WSS_PORT,
    });
    let username = args
        .username
        .clone()
        .or_else(|| url.and_then(|u| u.username.clone()));
    if matches!(args.password, Some(None)) && username.is_none() {
        return Err(usage("a password (-P) needs a user name (-u)"));
    }
    let password = password(args)?.or_else(|| url.and_then(|u| u.password.clone()));
    if args.unix.is_some() && (args.bind_address.is_some() || args.proxy.is_some()) {
        return Err(usage("--unix cannot be combined with -A or --proxy"));
    }
    if args.unix.is_some() && (tls.is_some() || websocket) {
        return Err(usage(
            "--unix cannot be combined with TLS or WebSockets (use --no-tls with port 8883)",
        ));
    }
    if websocket
        && (args.bind_address.is_some()
            || args.proxy.is_some()
            || args.protocol() == ProtocolVersion::V31
            || !disconnect_properties.is_empty())
    {
        return Err(usage(
            "WebSockets cannot be combined with -A, --proxy, -V 31 or -D disconnect in this \
             version",
        ));
    }
    if args.ws_path.is_some() && !websocket {
        return Err(usage("--ws-path needs --ws (or a ws:// or wss:// URL)"));
    }
    let tls = tls
        .map(|options| tls::client_config(&options))
        .transpose()?;
    let websocket_url = websocket.then(|| {
        let path = args
            .ws_path
            .clone()
            .or_else(|| url.and_then(|u| u.websocket_path.clone()))
            .unwrap_or_else(|| DEFAULT_WS_PATH.to_owned());
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        let scheme = if tls.is_some() { "wss" } else { "ws" };
        if host.contains(':') {
            format!("{scheme}://[{host}]:{port}{path}")
        } else {
            format!("{scheme}://{host}:{port}{path}")
        }
    });

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

    let mut mqtt = match (&args.unix, &websocket_url, &tls) {
        (Some(path), _, _) => {
            let mut mqtt = MqttOptions::new(id, path.to_string_lossy().into_owned(), 0);
            mqtt.set_transport(Transport::unix());
            mqtt
        }
        // rumqttc takes host and port from the URL, given as the broker address.
        (None, Some(ws_url), None) => {
            let mut mqtt = MqttOptions::new(id, ws_url.clone(), port);
            mqtt.set_transport(Transport::Ws);
            mqtt
        }
        (None, Some(ws_url), Some(config)) => {
            let mut mqtt = MqttOptions::new(id, ws_url.clone(), port);
            mqtt.set_transport(Transport::Wss(TlsConfiguration::Rustls(Arc::clone(config))));
            mqtt
        }
        (None, None, tls) => {
            let mut mqtt = MqttOptions::new(id, host.clone(), port);
            if let Some(config) = tls {
                mqtt.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                    Arc::clone(config),
                )));
            }
            mqtt
        }
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

    let address = match (&args.unix, &websocket_url) {
        (Some(path), _) => format!("unix:{}", path.display()),
        (None, Some(ws_url)) => ws_url.clone(),
        (None, None) if host.contains(':') => format!("[{host}]:{port}"),
        (None, None) => format!("{host}:{port}"),
    };
    Ok(Settings {
        mqtt,
        network,
        bind_address: args.bind_address,
        nodelay: args.nodelay,
        proxy: args.proxy.clone(),
        protocol: args.protocol(),
        host,
        port,
        tls,
        qos: qos(args.qos),
        debug: args.debug,
        quiet: args.quiet,
        address,
        session_expiry: match (v5, args.session_expiry) {
            (false, _) => None,
            (true, Some(secs)) => Some(secs),
            (true, None) if args.disable_clean_session => Some(u32::MAX),
            (true, None) => None,
        },
        publish_properties: None,
        connect_properties,
        will_properties: (!will_properties.is_empty()).then(|| will_properties.will()),
        disconnect_properties: disconnect_properties.disconnect(),
        receive_maximum: None,
        read_short_disconnects: true,
    })
}

/// Whether TLS is on and how: --cafile, --capath, --tls-use-os-certs, mqtts://, wss:// or port
/// 8883 turn it on (the last three with the OS store when no CA is given); --no-tls turns it off.
fn tls_options(
    args: &ConnectArgs,
    scheme: Scheme,
    websocket: bool,
    given_port: Option<u16>,
) -> Result<Option<tls::TlsOptions>> {
    if args.no_tls {
        return Ok(None);
    }
    let ca_given = args.cafile.is_some() || args.capath.is_some();
    let on = ca_given
        || args.tls_use_os_certs
        || scheme.is_tls()
        || (given_port == Some(DEFAULT_TLS_PORT) && !websocket);
    if !on {
        let needs_tls = [
            ("--cert", args.cert.is_some()),
            ("--key", args.key.is_some()),
            ("--tls-version", args.tls_version.is_some()),
            ("--insecure", args.insecure),
            ("--tls-alpn", args.tls_alpn.is_some()),
        ];
        if let Some((option, _)) = needs_tls.iter().find(|(_, given)| *given) {
            return Err(usage(format!(
                "{option} needs TLS: give --cafile, --capath or --tls-use-os-certs, an mqtts:// \
                 or wss:// URL, or port 8883"
            )));
        }
        return Ok(None);
    }
    let client_auth = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        (None, None) => None,
        _ => return Err(usage("--cert and --key go together: give both or neither")),
    };
    if args
        .tls_alpn
        .as_deref()
        .is_some_and(|p| p.is_empty() || p.len() > 255)
    {
        return Err(usage("--tls-alpn: a protocol name is 1 to 255 bytes"));
    }
    Ok(Some(tls::TlsOptions {
        cafile: args.cafile.clone(),
        capath: args.capath.clone(),
        os_certs: args.tls_use_os_certs || !ca_given,
        client_auth,
        version: args.tls_version,
        insecure: args.insecure,
        alpn: args.tls_alpn.clone(),
    }))
}

/// The password of -P VALUE (or SKEETER_PASSWORD), --pw-file, or -P alone: asked for on the
/// terminal without echo.
fn password(args: &ConnectArgs) -> Result<Option<String>> {
    use std::io::IsTerminal;
    match (&args.password, &args.pw_file) {
        (Some(_), Some(_)) => Err(usage(
            "give the password one way: -P (or SKEETER_PASSWORD) or --pw-file",
        )),
        (Some(Some(password)), None) => Ok(Some(password.clone())),
        (None, Some(path)) => {
            let text = std::fs::read(path).map_err(|err| {
                Fatal::new(Code::Input, format!("--pw-file {}: {err}", path.display()))
            })?;
            let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let password = String::from_utf8(line.to_vec()).map_err(|_| {
                Fatal::new(
                    Code::Input,
                    format!("--pw-file {}: the password is not UTF-8", path.display()),
                )
            })?;
            Ok(Some(password))
        }
        (Some(None), None) => {
            if !std::io::stdin().is_terminal() {
                return Err(usage(
                    "-P without a value asks for the password on a terminal, and standard input \
                     is not one: use SKEETER_PASSWORD or --pw-file",
                ));
            }
            rpassword::prompt_password("Password: ")
                .map(Some)
                .map_err(|err| {
                    Fatal::new(Code::Input, format!("cannot read the password: {err}")).into()
                })
        }
        (None, None) => Ok(None),
    }
}

impl Settings {
    /// The MQTT options, pointed at the -A relay's Unix socket when there is one.
    pub fn mqtt_options(&self, relay: Option<&Path>) -> MqttOptions {
        match relay {
            Some(socket) => {
                self.mqtt_options_at(socket.to_string_lossy().into_owned(), 0, Transport::unix())
            }
            None => self.mqtt.clone(),
        }
    }

    /// Plain TCP to a host name with exactly one address: that address, resolved here on the
    /// caller's thread. rumqttc resolves every name on a thread of its own, and for a one-shot
    /// `pub` starting that thread and waiting for it took longer than everything else (2.7 ms
    /// in all to 127.0.0.1, 4.0 ms to localhost, measured). None when the name is an address
    /// already, has several (rumqttc tries each in turn), does not resolve (rumqttc says why)
    /// or the connection is not plain TCP (TLS and WebSockets need the name).
    pub fn resolved_here(&self) -> Option<MqttOptions> {
        use std::net::ToSocketAddrs;
        if !matches!(self.mqtt.transport(), Transport::Tcp) || self.host.parse::<IpAddr>().is_ok() {
            return None;
        }
        let mut addresses = (self.host.as_str(), self.port).to_socket_addrs().ok()?;
        let address = addresses.next()?;
        if addresses.next().is_some() {
            return None;
        }
        Some(self.mqtt_options_at(address.ip().to_string(), self.port, Transport::Tcp))
    }

    /// [`Settings::mqtt_options`] with another broker address and transport.
    fn mqtt_options_at(&self, host: String, port: u16, transport: Transport) -> MqttOptions {
        let mut mqtt = MqttOptions::new(self.mqtt.client_id(), host, port);
        mqtt.set_transport(transport)
            .set_keep_alive(self.mqtt.keep_alive())
            .set_clean_session(self.mqtt.clean_session())
            .set_max_packet_size(MAX_PACKET_SIZE, MAX_PACKET_SIZE)
            .set_inflight(self.mqtt.inflight())
            .set_manual_acks(self.mqtt.manual_acks());
        if let Some(login) = self.mqtt.credentials() {
            mqtt.set_credentials(login.username, login.password);
        }
        if let Some(will) = self.mqtt.last_will() {
            mqtt.set_last_will(will);
        }
        mqtt
    }

    /// The MQTT 5 options: those of [`Settings::mqtt_options`], with the MQTT 5 properties.
    /// No topic alias maximum: rumqttc does not resolve the aliases a broker would use.
    pub fn mqtt5_options(&self, relay: Option<&Path>) -> rumqttc::v5::MqttOptions {
        use rumqttc::v5::mqttbytes::v5::LastWill as LastWill5;
        let base = self.mqtt_options(relay);
        let (address, port) = base.broker_address();
        let mut mqtt = rumqttc::v5::MqttOptions::new(base.client_id(), address, port);
        mqtt.set_transport(base.transport())
            .set_keep_alive(base.keep_alive())
            .set_clean_start(base.clean_session())
            .set_connection_timeout(NETWORK_TIMEOUT_SECS)
            .set_max_packet_size(Some(MAX_PACKET_SIZE as u32))
            .set_outgoing_inflight_upper_limit(base.inflight())
            .set_session_expiry_interval(self.session_expiry)
            .set_manual_acks(base.manual_acks())
            .set_network_options(self.network.clone());
        if let Some(login) = base.credentials() {
            mqtt.set_credentials(login.username, login.password);
        }
        if let Some(will) = base.last_will() {
            let qos = match will.qos {
                rumqttc::QoS::AtMostOnce => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
                rumqttc::QoS::AtLeastOnce => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                rumqttc::QoS::ExactlyOnce => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
            };
            mqtt.set_last_will(LastWill5::new(
                will.topic,
                will.message,
                qos,
                will.retain,
                self.will_properties.clone(),
            ));
        }
        let mut properties = mqtt.connect_properties().unwrap_or_default();
        self.connect_properties.connect(&mut properties);
        if properties.receive_maximum.is_none() {
            properties.receive_maximum = self.receive_maximum;
        }
        mqtt.set_connect_properties(properties);
        mqtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> BrokerUrl {
        parse_url(text).unwrap()
    }

    /// The settings of `skeeter pub -t t -m x ARGS`.
    fn settings_of(args: &[&str]) -> Result<Settings> {
        use clap::Parser;
        let argv = ["skeeter", "pub", "-t", "t", "-m", "x"].iter().chain(args);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Pub(pub_args) => settings(&pub_args.connect),
            _ => unreachable!(),
        }
    }

    /// A CA certificate file in a directory of its own (removed when dropped).
    fn ca_file() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(&path, cert.cert.pem()).unwrap();
        let path = path.to_str().unwrap().to_owned();
        (dir, path)
    }

    #[test]
    fn when_tls_is_on() {
        let (_dir, ca) = ca_file();
        let ca = ca.as_str();
        let plain = settings_of(&[]).unwrap();
        assert!(plain.tls.is_none());
        assert_eq!(plain.port, 1883);
        let tls = settings_of(&["--cafile", ca]).unwrap();
        assert!(tls.tls.is_some());
        assert_eq!(tls.port, 8883);
        assert_eq!(
            settings_of(&["--cafile", ca, "-p", "1884"]).unwrap().port,
            1884
        );
        let url = settings_of(&["--cafile", ca, "-L", "mqtts://h/t"]).unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.tls.is_some()),
            ("h", 8883, true)
        );
        // Port 8883 alone means TLS (the OS store, which may be empty here: then exit 8).
        match settings_of(&["-p", "8883"]) {
            Ok(settings) => assert!(settings.tls.is_some()),
            Err(err) => assert_eq!(crate::exit::code_of(&err), Code::Tls),
        }
        let off = settings_of(&["-p", "8883", "--no-tls", "--cafile", ca]).unwrap();
        assert!(off.tls.is_none());
        assert_eq!(off.port, 8883);
        let usage_of = |args: &[&str]| settings_of(args).map(|_| ()).unwrap_err();
        assert_eq!(
            crate::exit::code_of(&usage_of(&["--insecure"])),
            Code::Usage
        );
        assert_eq!(
            crate::exit::code_of(&usage_of(&["--cafile", ca, "--unix", "/s"])),
            Code::Usage
        );
    }

    #[test]
    fn websocket_urls() {
        let (_dir, ca) = ca_file();
        let ca = ca.as_str();
        assert_eq!(
            settings_of(&["--ws"]).unwrap().address,
            "ws://localhost:80/mqtt"
        );
        assert_eq!(
            settings_of(&["--ws", "-h", "::1", "-p", "8080", "--ws-path", "x"])
                .unwrap()
                .address,
            "ws://[::1]:8080/x"
        );
        assert_eq!(
            settings_of(&["--ws", "--cafile", ca]).unwrap().address,
            "wss://localhost:443/mqtt"
        );
        let url = settings_of(&["-L", "wss://h:9001/path", "--cafile", ca]).unwrap();
        assert_eq!(url.address, "wss://h:9001/path");
        assert!(url.tls.is_some());
        // -p takes precedence over the URL's port, --ws-path over its path.
        assert_eq!(
            settings_of(&["-L", "ws://h:9001/path", "-p", "1", "--ws-path", "/p"])
                .unwrap()
                .address,
            "ws://h:1/p"
        );
        // Port 8883 over WebSockets does not turn TLS on by itself.
        assert!(settings_of(&["--ws", "-p", "8883"]).unwrap().tls.is_none());
    }

    #[test]
    fn url_parts() {
        assert_eq!(
            url("mqtt://broker.example/conf/hello"),
            BrokerUrl {
                scheme: Scheme::Mqtt,
                host: "broker.example".into(),
                port: None,
                username: None,
                password: None,
                topic: Some("conf/hello".into()),
                websocket_path: None,
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
        let tls = url("mqtts://h/t");
        assert_eq!((tls.scheme, tls.port), (Scheme::Mqtts, None));
        let ws = url("ws://u:p@h:8080/mqtt");
        assert_eq!(ws.scheme, Scheme::Ws);
        assert_eq!(ws.port, Some(8080));
        assert_eq!(ws.websocket_path.as_deref(), Some("/mqtt"));
        assert_eq!(ws.topic, None);
        assert_eq!(url("wss://h").websocket_path.as_deref(), Some("/"));
    }

    #[test]
    fn url_errors() {
        for bad in [
            "broker:1883",
            "http://h/t",
            "mqttx://h/t",
            "mqtt:///t",
            "mqtt://h/t?x=1",
            "mqtt://h:99999/t",
            "mqtt://h/%ff",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
