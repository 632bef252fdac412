//! Every command-line definition. The connection options are defined once, in [`ConnectArgs`],
//! and flattened into each client subcommand, as mosquitto keeps them in client_shared.c.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::client::{options, relay, tls};
use crate::exit::EXIT_STATUS_HELP;
use crate::options_file::OPTIONS_FILES_HELP;

use crate::topic;

#[derive(Debug, Parser)]
#[command(
    name = "skeeter",
    version,
    about = "MQTT toolkit for sysadmins: publish, subscribe and an embedded broker",
    long_about = "skeeter publishes and subscribes to MQTT topics from the shell, and carries a \
                  small MQTT broker for local use and tests. Invoked through a link named \
                  mosquitto_pub, mosquitto_sub, mosquitto_rr, skeeter-pub, skeeter-sub, \
                  skeeter-rr or skeeter-broker, it \
                  acts as that subcommand directly (see 'skeeter links').",
    after_long_help = format!("{EXIT_STATUS_HELP}\n\n{TOP_EXAMPLES}"),
    propagate_version = true,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish one message, a file, or one message per line of standard input.
    Pub(PubArgs),
    /// Subscribe to topic filters and print the messages received.
    Sub(SubArgs),
    /// Send a request and print its reply (MQTT 5 request/response, as mosquitto_rr).
    Rr(RrArgs),
    /// Run a command (a cron job) and report its state, output and exit on MQTT.
    Run(RunArgs),
    /// List or clear every retained message under a topic filter.
    CleanRetained(CleanRetainedArgs),
    /// Report what a broker supports and how it behaves (versions, QoS, retain, limits, latency).
    Probe(ProbeArgs),
    /// Load a broker and measure it: publishers and subscribers end to end, or pub, sub or
    /// conn alone (throughput, latency percentiles, losses).
    Bench(BenchArgs),
    /// Run the embedded MQTT broker.
    Broker(BrokerArgs),
    /// Manage a password file for `broker --password-file` (mosquitto_passwd's format and usage).
    Passwd(PasswdArgs),
    /// Create links (skeeter-pub, mosquitto_sub, ...) that run a subcommand directly.
    Links(LinksArgs),
    /// Write the shell completions and man pages (for packagers and this repository).
    #[command(hide = true)]
    Generate(GenerateArgs),
}

/// How to reach the broker and who to be there: shared by every client subcommand.
///
/// Every option can also come from the environment (SKEETER_HOST, SKEETER_PASSWORD, ...), so a
/// password never has to be on the command line.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectArgs {
    /// Broker host name or address [default: localhost].
    #[arg(short = 'h', long, env = "SKEETER_HOST")]
    pub host: Option<String>,

    /// Broker port [default: 1883; 8883 with TLS; 80 or 443 with --ws]. Port 8883 turns TLS on.
    #[arg(short = 'p', long, env = "SKEETER_PORT")]
    pub port: Option<u16>,

    /// Broker URL, mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (percent-encoded; IPv6 as [::1]);
    /// mqtts:// for TLS (port 8883); ws://[USER[:PASSWORD]@]HOST[:PORT]/PATH or wss:// for
    /// WebSockets (the path is the endpoint's, not a topic). -h, -p, -u, -P and -t given as well
    /// take precedence over its parts.
    #[arg(short = 'L', long = "url", env = "SKEETER_URL", value_parser = options::parse_url, value_name = "URL")]
    pub url: Option<options::BrokerUrl>,

    /// Connect over this Unix domain socket instead of TCP.
    #[arg(long, env = "SKEETER_UNIX", value_name = "PATH")]
    pub unix: Option<PathBuf>,

    /// Read options from this file instead of the default options file (see OPTIONS FILES).
    #[arg(short = 'o', long = "options-file", value_name = "FILE")]
    pub options_file: Option<PathBuf>,

    /// Take the connection settings of [profile.NAME] in ~/.config/skeeter/config.toml
    /// ($XDG_CONFIG_HOME/skeeter/config.toml): keys named as these options (host, port,
    /// cafile, username, password_file, ...). Options and their environment variables override
    /// the profile's settings.
    #[arg(long, env = "SKEETER_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Client id [default: empty, the broker assigns one].
    #[arg(short = 'i', long, env = "SKEETER_ID", conflicts_with = "id_prefix")]
    pub id: Option<String>,

    /// Client id made of this prefix and the process id, e.g. backup-4242.
    #[arg(short = 'I', long, env = "SKEETER_ID_PREFIX", value_name = "PREFIX")]
    pub id_prefix: Option<String>,

    /// Keep-alive interval in seconds (0 turns keep-alive off).
    #[arg(
        short = 'k',
        long,
        env = "SKEETER_KEEPALIVE",
        default_value_t = 60,
        value_name = "SECS"
    )]
    pub keepalive: u16,

    /// User name to authenticate with.
    #[arg(short = 'u', long, env = "SKEETER_USERNAME")]
    pub username: Option<String>,

    /// Password to authenticate with. Without a value, it is asked for on the terminal (not
    /// echoed); argv is visible to other users, so prefer that, --pw-file or SKEETER_PASSWORD.
    #[arg(
        short = 'P',
        long = "pw",
        env = "SKEETER_PASSWORD",
        hide_env_values = true,
        num_args = 0..=1,
        value_name = "PASSWORD"
    )]
    pub password: Option<Option<String>>,

    /// Read the password from the first line of this file (the newline is not part of it).
    #[arg(long, env = "SKEETER_PW_FILE", value_name = "FILE")]
    pub pw_file: Option<PathBuf>,

    /// Quality of service: 0 at most once, 1 at least once, 2 exactly once.
    #[arg(short = 'q', long, env = "SKEETER_QOS", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,

    /// Keep the session on the broker after disconnecting (clean session off; needs -i or -I).
    #[arg(short = 'c', long, env = "SKEETER_DISABLE_CLEAN_SESSION", value_parser = BoolishValueParser::new())]
    pub disable_clean_session: bool,

    /// MQTT 5: keep the session this many seconds after disconnecting (-1: forever) [default:
    /// 0; forever with -c].
    #[arg(short = 'x', long = "session-expiry", env = "SKEETER_SESSION_EXPIRY", value_parser = parse_session_expiry, allow_negative_numbers = true, value_name = "SECS", help_heading = "MQTT 5")]
    pub session_expiry: Option<u32>,

    /// MQTT 5: a property, as mosquitto's -D: COMMAND NAME VALUE, or COMMAND user-property KEY
    /// VALUE (repeatable). Commands: connect, publish, subscribe, unsubscribe, will, disconnect.
    #[arg(short = 'D', long = "property", value_parser = crate::client::properties::parse_property_arg, value_name = "COMMAND NAME VALUE", help_heading = "MQTT 5")]
    pub property: Vec<crate::client::properties::PropertyArg>,

    /// MQTT protocol version: 311 (or mqttv311), 5 (or mqttv5), or 31 (or mqttv31) for old
    /// brokers [default: 311; 5 when -D is given, as in mosquitto]. The MQTT 5 options (-x,
    /// --content-type, --no-local, ...) need -V 5.
    #[arg(
        short = 'V',
        long,
        env = "SKEETER_PROTOCOL_VERSION",
        value_parser = parse_protocol_version,
        value_name = "VERSION"
    )]
    pub protocol_version: Option<ProtocolVersion>,

    /// Maximum number of QoS 1 and 2 messages in flight (sent, not yet acknowledged).
    #[arg(short = 'M', long = "max-inflight", env = "SKEETER_MAX_INFLIGHT", default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..), value_name = "N")]
    pub max_inflight: u16,

    /// Topic of the Last Will, published by the broker if this client vanishes.
    #[arg(long, env = "SKEETER_WILL_TOPIC", value_parser = parse_topic_name, value_name = "TOPIC")]
    pub will_topic: Option<String>,

    /// Payload of the Last Will [default: empty].
    #[arg(
        long,
        env = "SKEETER_WILL_PAYLOAD",
        requires = "will_topic",
        value_name = "PAYLOAD"
    )]
    pub will_payload: Option<String>,

    /// QoS of the Last Will.
    #[arg(long, env = "SKEETER_WILL_QOS", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2), value_name = "QOS")]
    pub will_qos: u8,

    /// Retain the Last Will.
    #[arg(long, env = "SKEETER_WILL_RETAIN", value_parser = BoolishValueParser::new(), requires = "will_topic")]
    pub will_retain: bool,

    /// Send each packet at once (TCP_NODELAY): on by default (mosquitto's clients default to
    /// off). --nodelay=false lets the kernel gather small packets (Nagle's algorithm), which
    /// stalls a stream of QoS 1 publishes on a broker that delays its TCP acknowledgements.
    #[arg(long, env = "SKEETER_NODELAY", action = ArgAction::Set, value_parser = BoolishValueParser::new(), num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_name = "BOOL")]
    pub nodelay: bool,

    /// Connect through this SOCKS5 proxy: socks5h://[USER[:PASSWORD]@]HOST[:PORT] (port 1080;
    /// user and password percent-encoded). The proxy resolves the broker's host name.
    #[arg(long, env = "SKEETER_PROXY", value_parser = check_proxy_url, value_name = "URL")]
    pub proxy: Option<String>,

    /// Connect from this local address (the outgoing socket is bound to it).
    #[arg(
        short = 'A',
        long = "bind-address",
        env = "SKEETER_BIND_ADDRESS",
        value_name = "ADDRESS"
    )]
    pub bind_address: Option<IpAddr>,

    /// Connect over WebSockets: ws://HOST:PORT/PATH (wss:// with TLS); port 80 (443 with TLS)
    /// unless -p. -L ws://HOST[:PORT]/PATH and wss://... do the same.
    #[arg(long, env = "SKEETER_WS", value_parser = BoolishValueParser::new(), help_heading = "WebSockets")]
    pub ws: bool,

    /// The HTTP path of the WebSocket endpoint, with --ws or a ws:// URL [default: /mqtt].
    #[arg(
        long,
        env = "SKEETER_WS_PATH",
        value_name = "PATH",
        help_heading = "WebSockets"
    )]
    pub ws_path: Option<String>,

    /// Turn TLS on and trust the CA certificates of this PEM file (default port 8883).
    #[arg(
        long,
        env = "SKEETER_CAFILE",
        value_name = "FILE",
        help_heading = "TLS"
    )]
    pub cafile: Option<PathBuf>,

    /// Turn TLS on and trust the PEM CA certificates of the files in this directory.
    #[arg(long, env = "SKEETER_CAPATH", value_name = "DIR", help_heading = "TLS")]
    pub capath: Option<PathBuf>,

    /// Turn TLS on and trust the system's CA certificates (also with --cafile or --capath). They
    /// are used anyway when TLS is on through mqtts://, wss:// or port 8883 and no CA is given.
    #[arg(long, env = "SKEETER_TLS_USE_OS_CERTS", value_parser = BoolishValueParser::new(), help_heading = "TLS")]
    pub tls_use_os_certs: bool,

    /// Client certificate (PEM) to present to the broker; needs --key.
    #[arg(
        long,
        env = "SKEETER_CERT",
        requires = "key",
        value_name = "FILE",
        help_heading = "TLS"
    )]
    pub cert: Option<PathBuf>,

    /// Private key (PEM: RSA, EC or PKCS#8) of the client certificate; needs --cert.
    #[arg(
        long,
        env = "SKEETER_KEY",
        requires = "cert",
        value_name = "FILE",
        help_heading = "TLS"
    )]
    pub key: Option<PathBuf>,

    /// Speak only this TLS version [default: tlsv1.2 or tlsv1.3].
    #[arg(
        long,
        env = "SKEETER_TLS_VERSION",
        value_name = "VERSION",
        help_heading = "TLS"
    )]
    pub tls_version: Option<tls::TlsVersion>,

    /// Do not check that the broker's certificate is for the host connected to (its chain is
    /// still verified).
    #[arg(long, env = "SKEETER_INSECURE", value_parser = BoolishValueParser::new(), help_heading = "TLS")]
    pub insecure: bool,

    /// Ask for this protocol with TLS ALPN (e.g. mqtt, or x-amzn-mqtt-ca).
    #[arg(
        long,
        env = "SKEETER_TLS_ALPN",
        value_name = "PROTOCOL",
        help_heading = "TLS"
    )]
    pub tls_alpn: Option<String>,

    /// No TLS, whatever the other options, the URL or port 8883 say (e.g. to override an
    /// options file, or for plain MQTT on port 8883).
    #[arg(long, env = "SKEETER_NO_TLS", value_parser = BoolishValueParser::new(), help_heading = "TLS")]
    pub no_tls: bool,

    /// Print a trace of the MQTT packets sent and received on stderr.
    #[arg(short = 'd', long, env = "SKEETER_DEBUG", value_parser = BoolishValueParser::new())]
    pub debug: bool,

    /// Do not print runtime errors or warnings (usage errors are still printed).
    #[arg(long, env = "SKEETER_QUIET", value_parser = BoolishValueParser::new())]
    pub quiet: bool,

    /// Print help (see more with '--help').
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Print version.
    #[arg(long, action = ArgAction::Version)]
    pub version: Option<bool>,
}

impl ConnectArgs {
    /// The protocol to speak: -V as given; else MQTT 5 when -D is given (as mosquitto's -D
    /// switches to MQTT 5), else 3.1.1.
    pub fn protocol(&self) -> ProtocolVersion {
        match self.protocol_version {
            Some(version) => version,
            None if !self.property.is_empty() => ProtocolVersion::V5,
            None => ProtocolVersion::V311,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    /// MQTT 3.1 (protocol name "MQIsdp", level 3).
    V31,
    /// MQTT 3.1.1 (protocol name "MQTT", level 4).
    V311,
    /// MQTT 5 (protocol name "MQTT", level 5).
    V5,
}

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProtocolVersion::V31 => "3.1",
            ProtocolVersion::V311 => "3.1.1",
            ProtocolVersion::V5 => "5",
        })
    }
}

fn parse_protocol_version(value: &str) -> Result<ProtocolVersion, String> {
    match value {
        "311" | "mqttv311" => Ok(ProtocolVersion::V311),
        "31" | "mqttv31" => Ok(ProtocolVersion::V31),
        "5" | "mqttv5" => Ok(ProtocolVersion::V5),
        _ => Err("expected 311 (mqttv311) or 31 (mqttv31), or 5 (mqttv5)".into()),
    }
}

/// -x: a session expiry interval in seconds; -1 (or 4294967295) means never.
fn parse_session_expiry(value: &str) -> Result<u32, String> {
    match value {
        "-1" => Ok(u32::MAX),
        _ => value.parse::<u32>().map_err(|_| {
            format!("'{value}' is not a session expiry interval (0 to 4294967295 s, or -1)")
        }),
    }
}

/// --user-property KEY=VALUE.
fn parse_user_property(value: &str) -> Result<(String, String), String> {
    value
        .split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("'{value}' is not KEY=VALUE"))
}

/// A --proxy URL, checked here so a bad one is a usage error; kept as given (see
/// [`relay::ProxyUrl`]).
fn check_proxy_url(value: &str) -> Result<String, String> {
    relay::ProxyUrl::parse(value).map(|_| value.to_owned())
}

/// The -F language, after the options of `sub --help` and in its man page.
const FORMAT_HELP: &str = "\
Format (-F), as mosquitto_sub's:
  %t topic   %p payload   %x %X payload in hex   %l payload length   %m message id   %q QoS
  %r retained (0/1)   %I local time, ISO 8601   %U Unix time with nanoseconds   %% a %
  %j the message as one JSON object (tst, topic, qos, retain, payloadlen, mid when QoS > 0,
     payload); a payload that is not UTF-8 is given as an array of its byte values, e.g.
     \"payload\":[0,255,0], so the output is always valid JSON
  %J the same with a payload that is itself JSON embedded as sent, without its blanks; a
     payload that is not JSON prints nothing there, and a warning on stderr
  MQTT 5 properties (empty, or padding, when absent): %A topic alias   %C content type
     %D correlation data   %E message expiry interval   %F payload format indicator
     %P user properties, k1:v1 k2:v2   %R response topic   %S subscription identifier;
     %j and %J show them in \"properties\" (mosquitto's names)
  @X strftime(3) conversion X of the local time (@Y, @m, @d, @H, ...)   @N nanoseconds   @@ a @
  \\\\ \\0 \\a \\e \\n \\r \\t \\v  backslash, NUL, bell, escape, newline, return, tab, vertical tab
  Flags, width and precision as in printf: %-10t, %08l, %.5t; a width truncates %p and %x.";

/// Where `pub` (and the mosquitto_pub link) differs from mosquitto_pub 2.0, on purpose.
const PUB_DIFFERENCES: &str = "\
Differences from mosquitto_pub 2.0 (its bugs are not copied):
  -l at QoS 1 or 2 delivers every line; mosquitto_pub loses most past 65535 lines, and exits 0.
  -t '' and -p abc are errors; mosquitto_pub publishes nothing and exits 0, or takes -p abc as 0,
  a Unix socket. -s with an empty standard input is an error in both.
  -L percent-decodes the user, password and topic and takes IPv6 hosts as [::1]; -h, -p, -u, -P
  and -t take precedence over the URL's parts wherever they stand.
  A publish that cannot be completed (connection lost) exits 7; mosquitto_pub may exit 0.
  With -V 5, a message the broker refuses (PUBACK or PUBREC reason code 0x80 or more, e.g. 0x87
  not authorized) exits 12; mosquitto_pub warns and exits 0.
  -D and the other MQTT 5 options need -V 5 (mosquitto_pub's -D switches to MQTT 5 by itself);
  -D for a packet pub never sends (subscribe, unsubscribe) is an error, not ignored. A broker
  answering -D connect authentication-method with an AUTH challenge is refused (exit 1): an
  AUTH exchange is not supported. -D publish topic-alias N sends the topic once, then the alias
  alone; an N above the broker's maximum (CONNACK) exits 2 before publishing. With -V 5, a
  DISCONNECT of 2 or 3 bytes from the broker ends the run as a lost connection (exit 7) without
  its reason code, which sub, rr and run do report.
  -d writes its trace to stderr, not among the output; --help and --version exit 0.";

/// What `sub` does when its connection drops.
const SUB_RECONNECT: &str = "\
Connection lost:
  sub reconnects by itself and subscribes again: at once after a connection that was up (20 ms
  or more), then 1 s, 2 s, 4 s ... up to 30 s between failed attempts (a refused CONNECT ends the
  run). With -V 5, a session taken over by a client with the same id (DISCONNECT 0x8E), or the
  broker naming another server (0x9C, 0x9D), ends the run with exit 7. With -c and -i (or -V 5
  -x SECS) the broker keeps the session meanwhile: QoS 1 and 2 messages wait for sub, and a
  message is acknowledged only once printed, so none is lost to a crash or a kill (the next sub
  may print again the few it had printed but not yet acknowledged); a QoS 2 message the broker
  resends after a reconnect is printed once.";

/// Where `sub` (and the mosquitto_sub link) differs from mosquitto_sub 2.0, on purpose.
const SUB_DIFFERENCES: &str = "\
Differences from mosquitto_sub 2.0 (its bugs are not copied):
  --random-filter 10 prints 10% of the messages; mosquitto_sub prints 1%.
  --remove-retained with -C or --retained-only exits once every clear is acknowledged (mosquitto_sub
  never exits), and its own clears coming back are not printed.
  -F: %j gives a payload that is not UTF-8 as an array of byte values and keeps what follows a
  NUL (mosquitto_sub cuts it); %J embeds the payload as sent, without reformatting numbers; a
  width on %x with a shorter payload keeps every byte; precision never splits a UTF-8 character;
  @Z prints the offset (+00:00), not the zone name; the clock is read once per message.
  -D and the other MQTT 5 options need -V 5, as for pub; -D publish is an error for sub.
  -L as for pub. A closed pipe on stdout ends the run with a DISCONNECT and exit 0 (mosquitto_sub
  2.0.15 and later are killed by SIGPIPE); -W before the connection is up exits 27, not 255.
  -d writes its trace to stderr, not among the messages; --help and --version exit 0.";

/// A topic to publish to: no wildcards.
pub fn parse_topic_name(value: &str) -> Result<String, String> {
    topic::check_name(value)
        .map(|()| value.to_owned())
        .map_err(|e| format!("invalid publish topic '{value}': {e}"))
}

/// A topic filter to subscribe to.
pub fn parse_topic_filter(value: &str) -> Result<String, String> {
    topic::check_filter(value)
        .map(|()| value.to_owned())
        .map_err(|e| format!("invalid topic filter '{value}': {e}"))
}

fn parse_percentage(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(pct) if (0.1..=100.0).contains(&pct) => Ok(pct),
        _ => Err(format!("'{value}' is not a percentage from 0.1 to 100")),
    }
}

/// Seconds, fractions allowed, as a Duration (so a huge value is refused here, not a panic later).
fn parse_seconds(value: &str) -> Result<std::time::Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("'{value}' is not a number of seconds"))
}

#[derive(Debug, Clone, Args)]
#[command(
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true,
    after_long_help = format!("{PUB_DIFFERENCES}\n\n{EXIT_STATUS_HELP}\n\n{OPTIONS_FILES_HELP}\n\n{PUB_EXAMPLES}"),
)]
pub struct PubArgs {
    /// Topic to publish to (no wildcards).
    #[arg(short = 't', long, value_parser = parse_topic_name, required_unless_present_any = ["url", "json"])]
    pub topic: Option<String>,

    /// Send this message.
    #[arg(short = 'm', long, value_name = "MESSAGE", help_heading = "Message")]
    pub message: Option<String>,

    /// Send the whole file as one message (binary safe).
    #[arg(short = 'f', long, value_name = "FILE", help_heading = "Message")]
    pub file: Option<PathBuf>,

    /// Send all of standard input as one message (binary safe).
    #[arg(short = 's', long, help_heading = "Message")]
    pub stdin_file: bool,

    /// Send each line of standard input as one message (the newline is not sent; an empty line
    /// sends an empty message; a line is held in memory whole, up to the MQTT limit of 256 MB).
    #[arg(short = 'l', long, help_heading = "Message")]
    pub stdin_line: bool,

    /// Send an empty (zero-length) message.
    #[arg(short = 'n', long, help_heading = "Message")]
    pub null_message: bool,

    /// Read JSON lines from standard input, as `sub --json` writes them, and publish each to
    /// its own topic: "topic" and "payload" (UTF-8, or base64 with
    /// "payload_encoding":"base64") are needed; "qos" and "retain" default to -q and -r;
    /// "properties" (MQTT 5, needs -V 5) replace those of the command line. A bad line stops
    /// the run (exit 10) once the messages before it are sent.
    #[arg(long, help_heading = "Message", conflicts_with_all = ["topic", "url", "repeat"])]
    pub json: bool,

    /// Ask the broker to retain the message.
    #[arg(short = 'r', long, help_heading = "Message")]
    pub retain: bool,

    /// Send the message this many times (not with -l).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..), value_name = "N", help_heading = "Message")]
    pub repeat: u64,

    /// Wait this long (fractions allowed) between the end of one publish and the next with --repeat.
    #[arg(long, default_value = "0", value_parser = parse_seconds, value_name = "SECS", help_heading = "Message")]
    pub repeat_delay: std::time::Duration,

    #[command(flatten)]
    pub properties: PublishPropertyArgs,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// The MQTT 5 properties of each PUBLISH (pub, and rr's request).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "MQTT 5")]
pub struct PublishPropertyArgs {
    /// The content type of the message (e.g. application/json).
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,

    /// The broker drops the message if not delivered within this many seconds.
    #[arg(long, value_name = "SECS")]
    pub message_expiry: Option<u32>,

    /// The topic a receiver should reply to (no wildcards).
    #[arg(long, value_parser = parse_topic_name, value_name = "TOPIC")]
    pub response_topic: Option<String>,

    /// Data for the receiver to return with its reply (sent as given).
    #[arg(long, value_name = "DATA")]
    pub correlation_data: Option<String>,

    /// Mark the payload as UTF-8 text (payload format indicator 1).
    #[arg(long)]
    pub payload_is_utf8: bool,

    /// A user property of the message (repeatable; order and duplicates kept).
    #[arg(long = "user-property", value_parser = parse_user_property, value_name = "KEY=VALUE")]
    pub user_properties: Vec<(String, String)>,
}

#[derive(Debug, Clone, Args)]
#[command(
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true,
    after_long_help = format!("{FORMAT_HELP}\n\n{SUB_RECONNECT}\n\n{SUB_DIFFERENCES}\n\n{EXIT_STATUS_HELP}\n\n{OPTIONS_FILES_HELP}\n\n{SUB_EXAMPLES}"),
)]
pub struct SubArgs {
    /// Topic filter to subscribe to (repeatable; + and # wildcards).
    #[arg(short = 't', long = "topic", required_unless_present = "url", value_parser = parse_topic_filter, value_name = "FILTER")]
    pub topics: Vec<String>,

    /// Do not print messages whose topic matches this filter (repeatable).
    #[arg(short = 'T', long = "filter-out", value_parser = parse_topic_filter, value_name = "FILTER")]
    pub filter_out: Vec<String>,

    /// Unsubscribe from this filter after subscribing (repeatable; with -c, edits a kept session).
    #[arg(short = 'U', long = "unsubscribe", value_parser = parse_topic_filter, value_name = "FILTER")]
    pub unsubscribe: Vec<String>,

    /// Print the topic before each payload: 'topic payload'.
    #[arg(short = 'v', long, help_heading = "Output")]
    pub verbose: bool,

    /// Do not print a newline after each message.
    #[arg(short = 'N', help_heading = "Output")]
    pub no_newline: bool,

    /// Exit after this many messages.
    #[arg(short = 'C', value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Output")]
    pub count: Option<u64>,

    /// Give up after this many seconds (exit 27, 'Timed out' on stderr).
    #[arg(short = 'W', value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Output")]
    pub timeout: Option<u64>,

    /// Do not print retained messages (those the broker held before we subscribed).
    #[arg(short = 'R', help_heading = "Output", conflicts_with = "retained_only")]
    pub no_retained: bool,

    /// Print only retained messages; exit at the first message that is not retained.
    #[arg(long, help_heading = "Output")]
    pub retained_only: bool,

    /// Exit as soon as the subscriptions are acknowledged (with -c, sets up a kept session).
    #[arg(short = 'E', help_heading = "Output")]
    pub exit_after_subscribe: bool,

    /// Print each message with this format (see FORMAT below); takes precedence over -v.
    #[arg(short = 'F', value_name = "FORMAT", help_heading = "Output")]
    pub format: Option<String>,

    /// Indent the JSON of %j and %J.
    #[arg(long, help_heading = "Output")]
    pub pretty: bool,

    /// Print each message as one JSON object per line (always valid JSON, nothing else on
    /// stdout): topic, qos, retain, dup, mid, received (RFC 3339, UTC), payload (a string when
    /// UTF-8, else base64 with "payload_encoding":"base64"), payload_length, and the MQTT 5
    /// properties. `pub --json` reads these lines back.
    #[arg(long, help_heading = "Output", conflicts_with_all = ["format", "verbose", "pretty", "no_newline"])]
    pub json: bool,

    /// Print only this percentage of the messages, chosen at random (all are still counted by -C).
    #[arg(long, value_name = "PCT", value_parser = parse_percentage, help_heading = "Output")]
    pub random_filter: Option<f64>,

    /// Clear every retained message received: publish an empty retained message to its topic.
    #[arg(long, help_heading = "Output")]
    pub remove_retained: bool,

    /// Do not receive the messages this connection publishes itself (subscription option).
    #[arg(long, help_heading = "MQTT 5")]
    pub no_local: bool,

    /// Keep the retain flag of messages as published, not only for retained ones sent on
    /// subscribing (subscription option).
    #[arg(long, help_heading = "MQTT 5")]
    pub retain_as_published: bool,

    /// Retained messages on subscribing: 0 always, 1 only for a new subscription, 2 never
    /// [default: 0; 2 with -R].
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=2), value_name = "0|1|2", help_heading = "MQTT 5")]
    pub retain_handling: Option<u8>,

    /// Give the subscriptions this identifier; messages show it as %S (1 to 268435455).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=268_435_455), value_name = "N", help_heading = "MQTT 5")]
    pub subscription_id: Option<u32>,

    /// A user property of the SUBSCRIBE (repeatable).
    #[arg(long = "user-property", value_parser = parse_user_property, value_name = "KEY=VALUE", help_heading = "MQTT 5")]
    pub user_properties: Vec<(String, String)>,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// How `rr` (and the mosquitto_rr link) works, and where it differs from mosquitto_rr 2.0.
const RR_NOTES: &str = "\
rr subscribes to the response topic (-e), publishes the message to -t with that response topic
and a correlation data of its own, prints the first message on -e carrying that correlation data
(with sub's output rules: -v, -N, -F), and disconnects. It always speaks MQTT 5.
Differences from mosquitto_rr 2.0: the reply is matched on its correlation data (mosquitto_rr
takes any message on -e, even a retained one); -f and -s are read (mosquitto_rr sends an empty
message); rr sends DISCONNECT, so a will is not published; -V other than 5 is an error.";

#[derive(Debug, Clone, Args)]
#[command(
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true,
    mut_arg("protocol_version", |arg| arg.default_value("5")),
    after_long_help = format!("{FORMAT_HELP}\n\n{RR_NOTES}\n\n{EXIT_STATUS_HELP}\n\n{OPTIONS_FILES_HELP}\n\n{RR_EXAMPLES}"),
)]
pub struct RrArgs {
    /// Topic to send the request to (no wildcards).
    #[arg(short = 't', long, value_parser = parse_topic_name, required_unless_present = "url")]
    pub topic: Option<String>,

    /// Topic the reply is expected on: subscribed to, and sent as the response topic.
    #[arg(short = 'e', long = "response-topic", value_parser = parse_topic_name, value_name = "TOPIC")]
    pub response_topic: String,

    /// Send this message.
    #[arg(short = 'm', long, value_name = "MESSAGE", help_heading = "Message")]
    pub message: Option<String>,

    /// Send the whole file as one message (binary safe).
    #[arg(short = 'f', long, value_name = "FILE", help_heading = "Message")]
    pub file: Option<PathBuf>,

    /// Send all of standard input as one message (binary safe).
    #[arg(short = 's', long, help_heading = "Message")]
    pub stdin_file: bool,

    /// Send an empty (zero-length) message.
    #[arg(short = 'n', long, help_heading = "Message")]
    pub null_message: bool,

    /// Print the topic before the reply: 'topic payload'.
    #[arg(short = 'v', long, help_heading = "Output")]
    pub verbose: bool,

    /// Do not print a newline after the reply.
    #[arg(short = 'N', help_heading = "Output")]
    pub no_newline: bool,

    /// Give up after this many seconds (exit 27, 'Timed out' on stderr).
    #[arg(short = 'W', value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Output")]
    pub timeout: Option<u64>,

    /// Print the reply with this format (see FORMAT below); takes precedence over -v.
    #[arg(short = 'F', value_name = "FORMAT", help_heading = "Output")]
    pub format: Option<String>,

    /// Indent the JSON of %j and %J.
    #[arg(long, help_heading = "Output")]
    pub pretty: bool,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

const CLEAN_RETAINED_HELP: &str = "\
How it knows the retained messages are all in: it subscribes to FILTER at QoS 0 together with a
topic of its own (skeeter/clean-retained/ID), and once the broker has acknowledged, publishes one
message there (QoS 0, not retained). The broker sends it after the retained messages it had
queued, so when it comes back the listing is complete: no fresh message on FILTER is needed
(mosquitto_sub --remove-retained waits for one). Each cleared topic gets an empty retained message
at QoS 1, acknowledged before skeeter exits. $SYS topics are never matched by a leading wildcard.";

const CLEAN_RETAINED_EXAMPLES: &str = "\
Examples:
  skeeter clean-retained --dry-run 'processes/#'    # list what would go
  skeeter clean-retained 'processes/old-host/#'     # clear it";

const TOP_EXAMPLES: &str = "\
Examples:
  skeeter broker &                                  # a broker of your own, on 127.0.0.1:1883
  skeeter sub -v -t 'conf/#'
  skeeter pub -t conf/hello -m 'Hello MQTT'
  skeeter run -t processes/backup -- ./backup.sh    # a cron job reporting its state";

const PUB_EXAMPLES: &str = "\
Examples:
  skeeter pub -t conf/hello -m 'Hello MQTT'
  skeeter pub -t processes/run.sh -m Starting -r -q 1          # retained, acknowledged
  skeeter pub -t 'conf/thirsty' -m 'Beertime?' --will-topic clients/me/status --will-payload gone
  seq 200000 | skeeter pub -t numbers -l -q 1                   # one message per line
  skeeter pub -t blobs/photo -f photo.jpg                       # binary safe, up to 256 MB
  skeeter sub -t '#' --json | skeeter pub -h other-broker --json   # replay traffic";

const SUB_EXAMPLES: &str = "\
Examples:
  skeeter sub -v -t 'conf/#'
  skeeter sub -h localhost -v -t 'processes/#'                  # watch the cron jobs report
  skeeter sub -t sensors/+/temp -C 10 -W 30                     # ten messages, or exit 27
  skeeter sub -t '$SYS/broker/#' -v -C 20                       # the broker's statistics
  skeeter sub -t 'logs/#' --json | jq .payload                  # JSON lines for scripts
  skeeter sub -t 'conf/#' -F '%I %t %p'                         # time, topic, payload";

const RR_EXAMPLES: &str = "\
Examples:
  skeeter rr -t service/time -e service/time/reply -m now
  skeeter rr -t rpc/backup/status -e rpc/replies/$$ -m '{\"job\":\"nightly\"}' -W 5";

const BROKER_EXAMPLES: &str = "\
Examples:
  skeeter broker                                   # 127.0.0.1:1883, for a laptop or CI
  skeeter broker --port 0 -q                       # a free port, printed on stdout, for tests
  skeeter broker --bind 0.0.0.0 --password-file /etc/skeeter/passwords --acl-file /etc/skeeter/acl
  skeeter broker -c /etc/mosquitto/mosquitto.conf --persistence-file /var/lib/skeeter/broker.db";

/// `skeeter clean-retained`: the retained messages under a filter, listed or cleared.
#[derive(Debug, Clone, Args)]
#[command(
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true,
    after_long_help = format!("{CLEAN_RETAINED_HELP}\n\n{EXIT_STATUS_HELP}\n\n{OPTIONS_FILES_HELP}\n\n{CLEAN_RETAINED_EXAMPLES}"),
)]
pub struct CleanRetainedArgs {
    /// The topic filter whose retained messages go (wildcards allowed).
    #[arg(value_parser = parse_topic_filter, value_name = "FILTER")]
    pub filter: String,

    /// Only list the topics that hold a retained message; clear nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Give up after this many seconds (exit 27).
    #[arg(short = 'W', value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// The checks `probe --require` can name.
pub const PROBE_CHECKS: [&str; 13] = [
    "mqtt5",
    "mqtt311",
    "mqtt31",
    "qos1",
    "qos2",
    "retain",
    "wildcards",
    "shared",
    "topic-alias",
    "keepalive",
    "sys",
    "will",
    "max-packet",
];

const PROBE_HELP: &str = "\
What it tries (each check bounded in time; all of them within -W):
  mqtt5 mqtt311 mqtt31  a CONNECT of each version is accepted. The other checks use -V when
               given and accepted, else the newest version accepted.
  connack      MQTT 5: what the CONNACK announces (maximum QoS, retain, wildcard, shared and
               subscription-identifier availability, topic alias maximum, receive maximum,
               maximum packet size, server keep alive); - where it says nothing
  qos1 qos2    the QoS granted to a QoS 2 SUBSCRIBE
  retain       a retained message comes back on a new subscription (then it is cleared)
  wildcards    a message reaches a '+' filter and a '#' filter
  shared       a message reaches a $share/skeeter-probe/... subscription
  topic-alias  MQTT 5: two messages sent with a topic alias (the second with no topic) arrive
  keepalive    a connection with a keep-alive of 1 s (5 s in MQTT 5) stays up while idle for
               twice that plus 1 s (3 s, or 11 s): the broker answers PINGREQ
  sys          a message under $SYS/broker/# arrives within 3 s (the broker version if given)
  will         a client with a will whose connection is dropped without DISCONNECT: the will
               arrives
  max-packet   the largest PUBLISH packet the broker takes and delivers, found by a binary
               search of payload sizes up to --max-size-cap (a refusal may close the
               connection: the next try reconnects)
  latency-qos0 latency-qos1 latency-qos2  round trips of --samples messages to a topic we
               subscribe to: min, median, p99, max in milliseconds (QoS above the granted one:
               not tried). About 40 ms at QoS 1 is the broker's Nagle delay meeting a delayed
               ACK (mosquitto: set_tcp_nodelay true)
Every topic used is under skeeter/probe/RANDOM/; the retained message set is cleared. Each check
opens its own connection, with -i ID (plus -will for the will's client) when given, and
TCP_NODELAY on (as --nodelay: the latency is the broker's, not Nagle's).

Output: a table (check, result, detail) on stdout, or with --json one object:
  {\"broker\": \"HOST:PORT\", \"protocol\": \"5\"|\"3.1.1\"|\"3.1\" (used for the checks),
   \"checks\": {NAME: {\"ok\": true|false|null, \"result\": TEXT, \"detail\": TEXT}, ...},
   \"connack\": {\"maximum_qos\", \"retain_available\", \"wildcard_available\",
     \"shared_available\", \"subscription_ids_available\", \"topic_alias_maximum\",
     \"receive_maximum\", \"maximum_packet_size\", \"server_keep_alive\"} or null (each member
     null when the CONNACK leaves it out),
   \"granted_qos\": N or null, \"max_packet_size\": {\"bytes\": N, \"payload\": N, \"at_cap\": BOOL}
     or null, \"latency_ms\": {\"qos0\"|\"qos1\"|\"qos2\": {\"samples\", \"lost\", \"min\",
     \"median\", \"p99\", \"max\"} or null}, \"required_failed\": [NAME, ...]}
  ok is null for the lines that only inform (connack, latency-qos*) and for a check not tried
  (topic-alias without MQTT 5, mqtt31 over WebSockets, a check -W left no time for).
A check named by --require that is not ok makes the exit status 14.";

const PROBE_EXAMPLES: &str = "\
Examples:
  skeeter probe -h broker.lan                       # what does this broker do?
  skeeter probe -h broker.lan --require mqtt5 --require retain   # gate a deploy on it
  skeeter probe -L mqtts://user:pw@broker.example.com --json | jq .checks.shared.ok
  skeeter probe --max-size-cap 1048576 --samples 100";

/// `skeeter probe`: what a broker supports and how it behaves.
#[derive(Debug, Clone, Args)]
#[command(
    disable_help_flag = true,
    disable_version_flag = true,
    after_long_help = format!("{PROBE_HELP}\n\n{EXIT_STATUS_HELP}\n\n{PROBE_EXAMPLES}"),
)]
pub struct ProbeArgs {
    /// Print one JSON object (its members under --help) instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Exit 14 unless this check is ok (repeatable): mqtt5, mqtt311, mqtt31, qos1, qos2,
    /// retain, wildcards, shared, topic-alias, keepalive, sys, will, max-packet.
    #[arg(long, value_name = "CHECK", value_parser = PROBE_CHECKS)]
    pub require: Vec<String>,

    /// The largest payload the max-packet search tries, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024, value_parser = clap::value_parser!(u32).range(1..=268_435_000))]
    pub max_size_cap: u32,

    /// Round trips timed per QoS.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub samples: u32,

    /// Stop after this many seconds: the checks not done by then are reported as cut off.
    #[arg(short = 'W', value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// What `bench` runs: see [`BENCH_HELP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchMode {
    /// Publishers only.
    Pub,
    /// Subscribers only.
    Sub,
    /// Connections only.
    Conn,
}

const BENCH_HELP: &str = "\
Modes:
  (none)  publishers and subscribers together: each message carries its publisher, sequence
          number and send time, so every subscriber measures the end-to-end latency and what was
          lost, duplicated or out of order, per publisher
  pub     publishers only (connect and publish-ack latency); a `bench sub` elsewhere can
          measure the same messages end to end
  sub     subscribers only, for the messages of a `bench pub` run elsewhere: lost counts the
          gaps in each publisher's sequence (not what never came after the last one); the
          end-to-end latency needs the two hosts' clocks in sync
  conn    connections only: connect --clients, hold them --duration, report the connect
          latency and the failures by reason (CONNACK code, TLS, socket error)

Load:
  Closed loop (the default): each publisher keeps --inflight messages in flight: unacknowledged
  at QoS 1 and 2 (PUBACK, PUBCOMP), not yet written to the socket at QoS 0; the next goes as one
  completes.
  Open loop (--rate R): R messages per second in all, spread evenly over the publishers (each
  sends every publishers/R seconds, staggered; emqtt-bench's -I is per client instead). Send
  times are scheduled at fixed intervals from the start and latency counts from the scheduled
  time, so a broker that falls behind shows as latency instead of being hidden. --inflight still
  caps each publisher's unacknowledged messages. The schedule is kept to about a millisecond
  (tokio's timer), and latency includes that: for sub-millisecond figures use the closed loop.
  When a publisher fell behind its schedule by more than 100 ms, the summary says the rate was
  not kept (achieved against asked), and whether the in-flight window was full (the broker was
  slow to acknowledge) or not (the generator itself could not keep up; see its CPU time).
  A run ends after --count messages per publisher, after --duration, or at Ctrl-C (SIGINT or
  SIGTERM), whichever comes first; with neither option, after 10 s. `bench sub` ends after
  --count messages per subscriber, --duration or Ctrl-C. Each publisher then waits (up to 10 s)
  for its last acknowledgements, and each subscriber until it has every message sent to it or
  none came for 1 s. A second Ctrl-C stops the waiting; the summary is printed either way.

Topics:
  -t TEMPLATE   where publisher i publishes; %i is its index (0, 1, ...) [default:
                skeeter/bench/%i]. Without %i, every publisher uses the same topic.
  --sub-topic FILTER   what subscriber i subscribes to; %i is its index [default: -t with each
                level holding %i replaced by +]. By default every subscriber thus gets every
                publisher's messages: --publishers 10 --subscribers 1 is fan-in, -t with no %i
                and --publishers 1 --subscribers 10 is fan-out; -t 'b/%i' --sub-topic 'b/%i'
                pairs publisher i with subscriber i.

Messages: a 32-byte header (magic, run id, publisher index, sequence number, send time in
  nanoseconds since the Unix epoch) padded with zeros to --size bytes, so --size is at least 32.
  Messages without this run's header (retained ones, another run's) are counted as ignored.
  Lost = messages a publisher sent (written to its connection) that a subscriber whose filter
  matches its topic never received; duplicated = a sequence number received twice; out of order
  = a first arrival below the highest sequence number already received from that publisher. At
  QoS 0 the broker may drop messages (reported, not an error); at QoS 1 duplicates are allowed.

Clients: one MQTT connection per client, with every connection option (TLS, WebSockets, MQTT 5,
  -A, --proxy, -D connect/publish/subscribe), connected at --conn-rate per second: subscribers
  first (each waits for its SUBACK), then publishers; publishing starts once all are up. A
  client id from -i or -I gets -pub-N, -sub-N or (conn) -N appended. Clients run as tasks on one
  thread per core (a single-threaded tokio runtime each), dealt out in turn.

Broker: without -h, -p, -L or --unix (nor their variables, nor a profile's host), bench starts
  the embedded broker in this process (on threads of its own) on 127.0.0.1 and a free port, and
  says so on stderr; the broker then shares the process's cores, and its CPU time, with the load
  generator.

Summary (stdout; progress and notes go to stderr, progress only on a terminal): the duration;
  connections ok, failed (by reason) and lost; messages sent, acknowledged, received,
  expected, lost, duplicated, out of order, ignored; throughput sent and received in msg/s and
  MB/s (10^6 bytes of payload), on average from the start of publishing to the last message,
  and in steady state after --warmup; the rate asked and achieved; latency p50, p90, p99,
  p99.9 and max in milliseconds for connect (TCP, TLS, CONNECT to CONNACK), publish-ack (send
  to PUBACK or PUBCOMP; QoS 1 and 2) and end to end (send to arrival), over the messages sent
  after the warm-up; the CPU time of the process (user, system) against its wall time
  (connecting included) and cores.

--json prints the same as one object:
  {\"mode\": \"end-to-end\"|\"pub\"|\"sub\"|\"conn\", \"broker\": ADDRESS, \"embedded_broker\": BOOL,
   \"protocol\": \"3.1.1\"|\"5\"|\"3.1\", \"qos\", \"size\", \"publishers\", \"subscribers\",
   \"clients\", \"inflight\", \"topic\", \"sub_topic\", \"count\", \"warmup_s\", \"interrupted\": BOOL,
   \"duration_s\", \"connect_s\", \"publish_s\", \"receive_s\",
   \"connections\": {\"ok\", \"failed\", \"lost\", \"failures\": {REASON: N}, \"lost_reasons\": {REASON: N}},
   \"messages\": {\"sent\", \"acked\", \"received\", \"expected\", \"lost\", \"duplicated\",
     \"out_of_order\", \"ignored\", \"refused\"},
   \"throughput\": {\"sent_msg_s\", \"received_msg_s\", \"sent_mb_s\", \"received_mb_s\",
     \"steady\": {the same four} or null},
   \"rate\": {\"asked_msg_s\", \"achieved_msg_s\", \"kept\": BOOL, \"max_lag_ms\",
     \"window_full\": N} or null,
   \"latency_ms\": {\"connect\"|\"publish_ack\"|\"end_to_end\": {\"count\", \"p50\", \"p90\", \"p99\",
     \"p99_9\", \"max\"} or null},
   \"cpu\": {\"user_s\", \"system_s\", \"cores\", \"utilisation\": 0.0 to 1.0 of the cores over the
     wall time, connecting included}}
  Numbers are numbers; null where a figure does not apply (acked at QoS 0, expected for sub,
  rate without --rate, a latency with no samples).

Exit status of bench: 0 when the run completed, also after Ctrl-C and with QoS 0 messages lost
  (some clients failing to connect while others did is reported, with a warning, and exit 0);
  when every client of a kind (publishers, subscribers, conn's clients) failed to connect, the
  code of the first failure as for pub (1 unreachable, 1-5 or 128-159 refused, 8 TLS); 15 when
  QoS 1 or 2 messages were lost or QoS 2 messages duplicated; else 7 when a connection was lost
  during the run.";

const BENCH_EXAMPLES: &str = "\
Examples:
  skeeter bench                                   # embedded broker, 1 publisher, 1 subscriber, 10 s
  skeeter bench -h broker.lan -q 1 --count 100000 --json > run.json
  skeeter bench -h broker.lan --publishers 10 --subscribers 1 -t 'bench/%i'        # fan-in
  skeeter bench -h broker.lan --publishers 1 --subscribers 10 -t bench/fanout      # fan-out
  skeeter bench -h broker.lan --rate 20000 --duration 60 --warmup 10 -q 1 --size 512
  skeeter bench -h broker.lan -t 'bench/%i' --sub-topic 'bench/%i' --publishers 50 --subscribers 50
  skeeter bench conn -h broker.lan --clients 10000 --conn-rate 500 --duration 30
  skeeter bench sub -h broker.lan --duration 60 &  skeeter bench pub -h broker.lan --duration 50";

/// `skeeter bench`: a load generator with a summary.
#[derive(Debug, Clone, Args)]
#[command(
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true,
    mut_arg("max_inflight", |arg| arg
        .long("inflight")
        .alias("max-inflight")
        .default_value("100")
        .help("Each publisher's messages in flight: unacknowledged (QoS 1 and 2), or not yet \
               written (QoS 0); with --rate, the most unacknowledged before a publisher falls \
               behind its schedule. Lowered, with a note, to keep 256 MiB in flight at most")),
    after_long_help = format!("{BENCH_HELP}\n\n{EXIT_STATUS_HELP}\n\n{OPTIONS_FILES_HELP}\n\n{BENCH_EXAMPLES}"),
)]
pub struct BenchArgs {
    /// pub, sub or conn alone; without it, publishers and subscribers end to end.
    #[arg(value_name = "MODE")]
    pub mode: Option<BenchMode>,

    /// Publishers (end to end and pub) [default: 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000), help_heading = "Load")]
    pub publishers: Option<u32>,

    /// Subscribers (end to end and sub) [default: 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000), help_heading = "Load")]
    pub subscribers: Option<u32>,

    /// Clients: conn's connections [default: 10]; for pub and sub the same as --publishers or
    /// --subscribers.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000), help_heading = "Load")]
    pub clients: Option<u32>,

    /// Open loop: this many messages per second in all, over every publisher (fractions
    /// allowed); without it, the closed loop of --inflight.
    #[arg(long, value_name = "MSG/S", value_parser = parse_rate, help_heading = "Load")]
    pub rate: Option<f64>,

    /// Message size in bytes, the 32-byte header included (32 or more) [default: 256].
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(32..=268_435_000), help_heading = "Load")]
    pub size: Option<u32>,

    /// Publishers' topic; %i is the publisher's index [default: skeeter/bench/%i].
    #[arg(
        short = 't',
        long = "topic",
        visible_alias = "topics",
        value_name = "TEMPLATE",
        help_heading = "Load"
    )]
    pub topic: Option<String>,

    /// Subscribers' filter; %i is the subscriber's index [default: -t with each level holding
    /// %i replaced by +].
    #[arg(long, value_name = "FILTER", help_heading = "Load")]
    pub sub_topic: Option<String>,

    /// Stop after this many messages per publisher (sub: per subscriber).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Load")]
    pub count: Option<u64>,

    /// Stop after this many seconds of publishing (sub: of subscribing; conn: hold the
    /// connections this long) [default: 10 s without --count; conn: 0].
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, help_heading = "Load")]
    pub duration: Option<std::time::Duration>,

    /// Leave the first SECS out of the steady-state throughput and of the latency figures
    /// (they still count in the totals) [default: 0].
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, help_heading = "Load")]
    pub warmup: Option<std::time::Duration>,

    /// Connections opened per second while connecting (0: all at once) [default: 100, as
    /// emqtt-bench's and MQTTX's 10 ms interval].
    #[arg(long, value_name = "N", value_parser = parse_conn_rate, help_heading = "Load")]
    pub conn_rate: Option<f64>,

    /// Print the summary as one JSON object (its members under --help).
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// --rate: messages per second, more than 0.
fn parse_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if (0.001..=1e9).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "'{value}' is not a rate from 0.001 to 1000000000 messages per second (leave \
             --rate out for the closed loop)"
        )),
    }
}

/// --conn-rate: connections per second, 0 for all at once.
fn parse_conn_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && (0.0..=1e9).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "'{value}' is not a number of connections per second (0 for all at once)"
        )),
    }
}

const RUN_HELP: &str = "\
What it publishes (JSON, retained unless --retain false, at QoS 1 or more):
  TOPIC  {\"state\":\"running\",\"pid\":..,\"host\":..,\"started\":..,\"cmd\":[..]} at the start,
         the same with \"elapsed_s\" and \"updated\" every --heartbeat seconds,
         {\"state\":\"exited\",\"code\":N,\"signal\":S,\"duration_s\":..,\"ended\":..} at the end,
         and, as the Last Will, {\"state\":\"lost\",...} if the wrapper dies or loses the broker.
  TOPIC/out and TOPIC/err  each line the command writes (--output lines; at -q's QoS). The lines
         still go to skeeter's own stdout and stderr; when the broker is slower than the command,
         lines are dropped from what is published (never from the output) and counted
         (\"dropped_lines\" in the exited state).
Signals (INT, TERM, HUP, QUIT, USR1, USR2) are passed to the command. skeeter exits with the
command's exit code, 128+N when a signal N ended it, 127 when it could not be started. If the
broker cannot be reached the command runs all the same (one warning line on stderr), unless
--require-broker.";

const RUN_EXAMPLES: &str = "\
Examples:
  skeeter run -t processes/backup --heartbeat 60 -- /usr/local/bin/backup.sh --full
  skeeter run -t processes/$(hostname)/rsync --output none -- rsync -a /srv/ backup:/srv/
  skeeter sub -v -t 'processes/#'              # watch every job from anywhere (or --json)";

/// `skeeter run`: a command wrapped in MQTT status reports.
#[derive(Debug, Clone, Args)]
#[command(
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true,
    after_long_help = format!("{RUN_HELP}\n\n{EXIT_STATUS_HELP}\n\n{OPTIONS_FILES_HELP}\n\n{RUN_EXAMPLES}"),
)]
pub struct RunArgs {
    /// The job's topic: its state goes here, its output under TOPIC/out and TOPIC/err.
    #[arg(short = 't', long, value_parser = parse_topic_name)]
    pub topic: String,

    /// Publish a heartbeat state (with the elapsed time) every SECS seconds.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub heartbeat: Option<u64>,

    /// What to do with the command's output lines: publish them (lines) or not (none). They
    /// always go to skeeter's own stdout and stderr.
    #[arg(long, value_name = "WHAT", default_value = "lines", value_parser = ["lines", "none"])]
    pub output: String,

    /// Retain the state messages (and the will), so a watcher subscribing later sees the last
    /// state.
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub retain: bool,

    /// Do not run the command unless the broker can be reached (exit 1 if not).
    #[arg(long)]
    pub require_broker: bool,

    /// The command and its arguments (after --).
    #[arg(required = true, num_args = 1.., last = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Clone, Args)]
#[command(after_long_help = format!("{EXIT_STATUS_HELP}\n\n{BROKER_EXAMPLES}"))]
pub struct BrokerArgs {
    /// Port to listen on (0 picks a free one; the bound address is printed).
    #[arg(short = 'p', long, env = "SKEETER_BROKER_PORT", default_value_t = 1883)]
    pub port: u16,

    /// Address to listen on (0.0.0.0 or :: for every interface).
    #[arg(
        long,
        env = "SKEETER_BROKER_BIND",
        default_value = "127.0.0.1",
        value_name = "ADDR"
    )]
    pub bind: IpAddr,

    /// Log every packet in and out too, not only connections, disconnections and refusals
    /// (mosquitto's -v).
    #[arg(short = 'v', long, conflicts_with = "quiet", help_heading = "Logging")]
    pub verbose: bool,

    /// Log errors only: no connections, disconnections or refusals.
    #[arg(short = 'q', long, help_heading = "Logging")]
    pub quiet: bool,

    /// Append the log to FILE instead of writing it to stderr; SIGHUP reopens it (for
    /// logrotate).
    #[arg(
        long,
        value_name = "FILE",
        env = "SKEETER_BROKER_LOG_FILE",
        help_heading = "Logging"
    )]
    pub log_file: Option<PathBuf>,

    /// Publish the $SYS/broker/... statistics (retained) every SECS seconds; 0: never
    /// [default: 10, or the -c file's sys_interval].
    #[arg(long, value_name = "SECS", env = "SKEETER_BROKER_SYS_INTERVAL")]
    pub sys_interval: Option<u64>,

    /// Read the settings from a mosquitto.conf: listener, port, bind_address, protocol,
    /// certfile, keyfile, cafile, require_certificate, use_identity_as_username, password_file,
    /// acl_file, allow_anonymous, sys_interval, log_dest (stderr, stdout, file PATH, none),
    /// log_type, log_timestamp, log_timestamp_format, connection_messages, persistence,
    /// persistence_file, persistence_location, autosave_interval, max_connections,
    /// max_packet_size, max_queued_messages, max_queued_bytes, max_inflight_messages,
    /// message_size_limit, max_keepalive, comments. Any other directive, or a bad value, is an
    /// error naming its line (exit 2). Not with the options it replaces; -p and --bind count
    /// only when the file has no listener; a limit option (or its variable) wins over the same
    /// directive. SIGHUP reads the file again for the password file, the ACL
    /// and the logging settings (without -c: the --password-file and --acl-file, and
    /// --log-file is reopened).
    #[arg(
        short = 'c',
        long = "config-file",
        value_name = "FILE",
        conflicts_with_all = [
            "password_file", "acl_file", "allow_anonymous", "tls_port", "ws_port", "wss_port",
            "certfile", "keyfile", "cafile", "require_certificate", "use_identity_as_username",
            "log_file", "persistence_file", "autosave_interval",
        ]
    )]
    pub config_file: Option<PathBuf>,

    /// Keep retained messages and persistent sessions (subscriptions, queued and in-flight QoS 1
    /// and 2 messages) across restarts in FILE, a snapshot, and FILE.journal, where every change
    /// is written before the acknowledgement that depends on it: what a publisher saw
    /// acknowledged survives even kill -9 (not a power cut: the journal is not fsynced). An
    /// unusable file stops the start (exit 13). Without it the broker keeps everything in memory.
    #[arg(
        long,
        env = "SKEETER_BROKER_PERSISTENCE_FILE",
        value_name = "FILE",
        help_heading = "Persistence"
    )]
    pub persistence_file: Option<PathBuf>,

    /// With --persistence-file: rewrite the snapshot (emptying the journal) every SECS seconds;
    /// 0 only at start and at exit (SIGINT, SIGTERM), as mosquitto's autosave_interval. A
    /// journal past 64 MiB is folded in sooner.
    #[arg(
        long,
        env = "SKEETER_BROKER_AUTOSAVE_INTERVAL",
        default_value_t = 1800,
        requires = "persistence_file",
        value_name = "SECS",
        help_heading = "Persistence"
    )]
    pub autosave_interval: u64,

    /// Users and password hashes, as written by `skeeter passwd` or mosquitto_passwd: a client
    /// giving a user name must be there, with its password (else CONNACK 5, not authorised).
    #[arg(long, value_name = "FILE", help_heading = "Authentication")]
    pub password_file: Option<PathBuf>,

    /// mosquitto's ACL file: `topic [read|write|readwrite|deny] FILTER` lines (before any `user`
    /// line: anonymous clients'), `user NAME` sections, `pattern ...` lines for everyone with %c
    /// (client id) and %u (user name). Anything not granted is denied: a publish without write
    /// access is acknowledged but dropped; read access is checked for each message delivered
    /// (subscriptions are always granted, as mosquitto does).
    #[arg(long, value_name = "FILE", help_heading = "Authentication")]
    pub acl_file: Option<PathBuf>,

    /// Whether clients without a user name may connect [default: true, but false with a
    /// password file; with -c, mosquitto's: false when the file defines a listener]. Refused
    /// ones get CONNACK 5 (not authorised).
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new(), action = ArgAction::Set, help_heading = "Authentication")]
    pub allow_anonymous: Option<bool>,

    /// Also listen for MQTT over TLS on this port, at --bind (0 picks a free one).
    #[arg(
        long,
        value_name = "PORT",
        requires_all = ["certfile", "keyfile"],
        help_heading = "TLS and WebSockets"
    )]
    pub tls_port: Option<u16>,

    /// Also listen for MQTT over WebSocket on this port, at --bind; any path (e.g. /mqtt).
    #[arg(long, value_name = "PORT", help_heading = "TLS and WebSockets")]
    pub ws_port: Option<u16>,

    /// Also listen for MQTT over WebSocket over TLS on this port, at --bind.
    #[arg(
        long,
        value_name = "PORT",
        requires_all = ["certfile", "keyfile"],
        help_heading = "TLS and WebSockets"
    )]
    pub wss_port: Option<u16>,

    /// PEM file with the server certificate chain (leaf first) for --tls-port and --wss-port.
    #[arg(
        long,
        value_name = "FILE",
        requires = "keyfile",
        help_heading = "TLS and WebSockets"
    )]
    pub certfile: Option<PathBuf>,

    /// PEM file with the server's private key.
    #[arg(
        long,
        value_name = "FILE",
        requires = "certfile",
        help_heading = "TLS and WebSockets"
    )]
    pub keyfile: Option<PathBuf>,

    /// PEM file with the CA certificates that client certificates must chain to; TLS clients are
    /// asked for a certificate, and one that is sent must be valid.
    #[arg(
        long,
        value_name = "FILE",
        requires = "certfile",
        help_heading = "TLS and WebSockets"
    )]
    pub cafile: Option<PathBuf>,

    /// Refuse TLS clients without a valid certificate.
    #[arg(long, requires = "cafile", help_heading = "TLS and WebSockets")]
    pub require_certificate: bool,

    /// The client certificate's common name (CN) is the user name, in place of the CONNECT's.
    #[arg(
        long,
        requires = "require_certificate",
        help_heading = "TLS and WebSockets"
    )]
    pub use_identity_as_username: bool,

    /// Connections at once, over all listeners, counted from the accept (0: no limit;
    /// mosquitto's -1). One more is answered CONNACK 0x97 (MQTT 5: quota exceeded) or 3 (server
    /// unavailable), then closed; mosquitto closes it unanswered, and counts per listener
    /// [default: 0].
    #[arg(
        long,
        env = "SKEETER_BROKER_MAX_CONNECTIONS",
        value_name = "N",
        help_heading = "Limits"
    )]
    pub max_connections: Option<usize>,

    /// Largest packet a client may send, in bytes, fixed header included (0: no limit but
    /// MQTT's). A bigger one ends the connection, from its header alone (MQTT 5: DISCONNECT or
    /// CONNACK 0x95, packet too large); MQTT 5 clients are told it in the CONNACK [default: 0].
    #[arg(
        long,
        env = "SKEETER_BROKER_MAX_PACKET_SIZE",
        value_name = "BYTES",
        help_heading = "Limits"
    )]
    pub max_packet_size: Option<usize>,

    /// Messages waiting for one client (0: no limit); when full, QoS 0 ones are dropped first,
    /// then the new message, and counted [default: 0; mosquitto's is 1000, which drops messages
    /// under test loads].
    #[arg(
        long,
        env = "SKEETER_BROKER_MAX_QUEUED_MESSAGES",
        value_name = "N",
        help_heading = "Limits"
    )]
    pub max_queued_messages: Option<usize>,

    /// Bytes of messages waiting for one client (payload + topic + 16 each; 0: no limit); a
    /// message always fits in an empty queue; when full, as above [default: 268435456, 256 MiB;
    /// mosquitto's is 0].
    #[arg(
        long,
        env = "SKEETER_BROKER_MAX_QUEUED_BYTES",
        value_name = "BYTES",
        help_heading = "Limits"
    )]
    pub max_queued_bytes: Option<usize>,

    /// QoS 1 and 2 messages in flight to one client (0: no limit, 65535); MQTT 5 clients are
    /// told it as the receive maximum, for their QoS 2 messages to the broker [default: 100;
    /// mosquitto's is 20].
    #[arg(
        long,
        env = "SKEETER_BROKER_MAX_INFLIGHT_MESSAGES",
        value_name = "N",
        help_heading = "Limits"
    )]
    pub max_inflight_messages: Option<u16>,

    /// Largest PUBLISH payload, in bytes (0: no limit). A bigger one is not delivered but its
    /// QoS flow completes (MQTT 5: PUBACK/PUBREC 0x95); a will that big refuses the CONNECT
    /// (CONNACK 0x95, or 5 before MQTT 5), as in mosquitto [default: 0].
    #[arg(
        long,
        env = "SKEETER_BROKER_MESSAGE_SIZE_LIMIT",
        value_name = "BYTES",
        help_heading = "Limits"
    )]
    pub message_size_limit: Option<usize>,

    /// Largest keep alive a client may ask for, in seconds (0: no limit). An MQTT 5 client
    /// asking more, or 0, is told this one (server keep alive) and held to it; a 3.1.1 or 3.1
    /// client asking more is refused with CONNACK 2 (identifier rejected), as mosquitto.conf(5)
    /// documents [default: 65535].
    #[arg(
        long,
        env = "SKEETER_BROKER_MAX_KEEPALIVE",
        value_name = "SECONDS",
        help_heading = "Limits"
    )]
    pub max_keepalive: Option<u16>,
}

/// `skeeter passwd`: mosquitto_passwd's command line.
#[derive(Debug, Clone, Args)]
#[command(
    group = clap::ArgGroup::new("mode").args(["create", "delete", "update"]).multiple(false),
    override_usage = "skeeter passwd [-c | -D] FILE USER\n       \
                      skeeter passwd [-c] -b FILE USER PASSWORD\n       skeeter passwd -U FILE",
    after_long_help = "Files are interchangeable with mosquitto_passwd's both ways: each line is \
                       USER:$7$101$SALT$HASH (PBKDF2-SHA512, 101 iterations, a random 12-byte \
                       salt, base64); $6$SALT$HASH lines (salted SHA-512) are read too."
)]
pub struct PasswdArgs {
    /// Create the file (overwriting one that exists) with USER in it.
    #[arg(short = 'c')]
    pub create: bool,

    /// Delete USER from the file.
    #[arg(short = 'D')]
    pub delete: bool,

    /// Hash a plain-text file of USER:PASSWORD lines in place (lines already hashed are kept).
    #[arg(short = 'U', conflicts_with_all = ["batch", "user"])]
    pub update: bool,

    /// Take the password from the command line instead of asking for it (argv is visible to
    /// other users).
    #[arg(short = 'b', conflicts_with = "delete")]
    pub batch: bool,

    /// The password file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The user to add, change or delete (not with -U).
    #[arg(value_name = "USER", required_unless_present = "update")]
    pub user: Option<String>,

    /// The password, with -b.
    #[arg(value_name = "PASSWORD", requires = "batch")]
    pub password: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct LinksArgs {
    /// Directory to create the links in (e.g. ~/.local/bin).
    pub dir: PathBuf,

    /// Replace links or files of the same name that already exist.
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// What to write.
    pub what: GenerateWhat,
    /// Directory to write into.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GenerateWhat {
    Completions,
    Man,
}

/// The tools the binary can act as when invoked under another name (see `skeeter links`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    Pub,
    Sub,
    Rr,
    Broker,
}

/// Link names, and the subcommand each runs.
pub const LINK_NAMES: &[(&str, Personality)] = &[
    ("skeeter-pub", Personality::Pub),
    ("skeeter-sub", Personality::Sub),
    ("skeeter-broker", Personality::Broker),
    ("mosquitto_pub", Personality::Pub),
    ("mosquitto_sub", Personality::Sub),
    ("skeeter-rr", Personality::Rr),
    ("mosquitto_rr", Personality::Rr),
];

/// Which tool a program name stands for, if it is one of the link names.
pub fn personality_of(program: &str) -> Option<Personality> {
    let stem = program.strip_suffix(".exe").unwrap_or(program);
    LINK_NAMES
        .iter()
        .find(|(name, _)| *name == stem)
        .map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use clap::{Args, CommandFactory};

    use super::*;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
        for name in ["mosquitto_pub", "skeeter-pub"] {
            PubArgs::augment_args(clap::Command::new(name).version("1")).debug_assert();
        }
        SubArgs::augment_args(clap::Command::new("mosquitto_sub").version("1")).debug_assert();
        RrArgs::augment_args(clap::Command::new("mosquitto_rr").version("1")).debug_assert();
        BrokerArgs::augment_args(clap::Command::new("skeeter-broker").version("1")).debug_assert();
        BenchArgs::augment_args(clap::Command::new("skeeter-bench").version("1")).debug_assert();
    }

    #[test]
    fn link_names() {
        assert_eq!(personality_of("mosquitto_pub"), Some(Personality::Pub));
        assert_eq!(personality_of("skeeter-broker"), Some(Personality::Broker));
        assert_eq!(personality_of("skeeter"), None);
    }
}
