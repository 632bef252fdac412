//! The mosquitto.conf subset `skeeter broker -c FILE` reads: listeners (`listener`, `port`,
//! `bind_address`, `protocol`), their TLS files, and authentication (`password_file`,
//! `acl_file`, `allow_anonymous`), persistence (`persistence`, `persistence_file`,
//! `persistence_location`, `autosave_interval`), $SYS and logging (`sys_interval`, `log_*`,
//! `connection_messages`), and the limits (`max_connections`, `max_packet_size`,
//! `max_queued_messages`, `max_queued_bytes`, `max_inflight_messages`, `message_size_limit`,
//! `max_keepalive`, global wherever they are). Comments and blank lines are skipped; anything
//! else is an error naming its line, so a file is never half understood.

use std::net::IpAddr;
use std::path::PathBuf;

use super::log::{LogDest, LogLevel, LogSettings};

/// One line's error: `LINE: why` (the caller puts the file name in front).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListenerProtocol {
    #[default]
    Mqtt,
    WebSockets,
}

/// A setting and the line it came from (for errors found when it is used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At<T> {
    pub value: T,
    pub line: usize,
}

/// One listener: `listener PORT [ADDRESS]` (or the default one of `port` / `bind_address`) and
/// the settings given after it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListenerConf {
    /// Line of the `listener` or `port` directive; 0 for the default listener.
    pub line: usize,
    pub port: Option<u16>,
    pub address: Option<At<IpAddr>>,
    pub protocol: ListenerProtocol,
    pub certfile: Option<At<PathBuf>>,
    pub keyfile: Option<At<PathBuf>>,
    pub cafile: Option<At<PathBuf>>,
    pub require_certificate: Option<At<bool>>,
    pub use_identity_as_username: Option<At<bool>>,
}

/// What a configuration file says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfFile {
    /// The default listener (`port`, `bind_address` and settings before any `listener`) first,
    /// when anything set it; then each `listener`.
    pub listeners: Vec<ListenerConf>,
    pub password_file: Option<PathBuf>,
    pub acl_file: Option<PathBuf>,
    pub allow_anonymous: Option<bool>,
    /// `sys_interval SECS`.
    pub sys_interval: Option<u64>,
    /// `log_dest`, `log_type`, `log_timestamp`, `log_timestamp_format`, `connection_messages`.
    pub log: LogConf,
    /// `persistence true|false`.
    pub persistence: Option<bool>,
    /// `persistence_file NAME` (mosquitto's default: mosquitto.db).
    pub persistence_file: Option<PathBuf>,
    /// `persistence_location DIR`: where the persistence file is (default: the current
    /// directory).
    pub persistence_location: Option<PathBuf>,
    /// `autosave_interval SECS`.
    pub autosave_interval: Option<u64>,
    /// The limits the file sets (None: not set), with mosquitto's "no limit" values (-1 for
    /// max_connections) already made skeeter's 0.
    pub limits: Limits,
}

/// The logging directives, as given (see [`LogConf::settings`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogConf {
    pub dest: Option<LogDest>,
    /// The most detailed `log_type` given (mosquitto takes several lines).
    pub level: Option<LogLevel>,
    pub timestamp: Option<bool>,
    pub timestamp_format: Option<String>,
    pub connection_messages: Option<bool>,
}

impl LogConf {
    /// The settings these directives make, over skeeter broker's own defaults (connections
    /// logged, on stderr, timestamped).
    pub fn settings(&self) -> LogSettings {
        let mut level = self.level.unwrap_or(LogLevel::Events);
        if self.connection_messages == Some(false) && level == LogLevel::Events {
            level = LogLevel::Errors;
        }
        let timestamp = match self.timestamp {
            Some(false) => None,
            _ => Some(
                self.timestamp_format
                    .clone()
                    .unwrap_or_else(|| super::log::DEFAULT_TIMESTAMP.to_owned()),
            ),
        };
        LogSettings {
            level,
            dest: self.dest.clone().unwrap_or_default(),
            timestamp,
        }
    }
}

impl ConfFile {
    /// Where persistence goes, if the file turns it on: `persistence_location` joined with
    /// `persistence_file` (or mosquitto.db), as mosquitto combines them.
    pub fn persistence_path(&self) -> Option<PathBuf> {
        if self.persistence != Some(true) {
            return None;
        }
        let name = self
            .persistence_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("mosquitto.db"));
        Some(match &self.persistence_location {
            Some(dir) => dir.join(name),
            None => name,
        })
    }
}

/// The limit directives, each as the [`crate::broker::Config`] field of the same meaning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    pub max_connections: Option<usize>,
    pub max_packet_size: Option<usize>,
    pub max_queued_messages: Option<usize>,
    pub max_queued_bytes: Option<usize>,
    pub max_inflight_messages: Option<u16>,
    pub message_size_limit: Option<usize>,
    pub max_keepalive: Option<u16>,
}

impl ConfFile {
    pub fn parse(text: &str) -> Result<ConfFile, ConfError> {
        let mut conf = ConfFile::default();
        // Settings before any `listener` line belong to the default listener.
        let mut default = ListenerConf::default();
        let mut default_used = false;
        let mut listeners: Vec<ListenerConf> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let fail = |message: String| ConfError { line, message };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (directive, value) = trimmed
                .split_once(char::is_whitespace)
                .map_or((trimmed, ""), |(d, v)| (d, v.trim()));
            let need_value = || {
                if value.is_empty() {
                    Err(fail(format!("'{directive}' needs a value")))
                } else {
                    Ok(value)
                }
            };
            let current = match listeners.last_mut() {
                Some(listener) => listener,
                None => &mut default,
            };
            match directive {
                "listener" => {
                    let mut words = need_value()?.split_whitespace();
                    let port = parse_port(words.next().unwrap_or_default()).map_err(fail)?;
                    let address = match words.next() {
                        Some(address) => Some(At {
                            value: parse_address(address).map_err(fail)?,
                            line,
                        }),
                        None => None,
                    };
                    if let Some(extra) = words.next() {
                        return Err(fail(format!("unexpected '{extra}' after the address")));
                    }
                    listeners.push(ListenerConf {
                        line,
                        port: Some(port),
                        address,
                        ..ListenerConf::default()
                    });
                }
                "port" => {
                    default.port = Some(parse_port(need_value()?).map_err(fail)?);
                    default.line = line;
                    default_used = true;
                }
                "bind_address" => {
                    let value = parse_address(need_value()?).map_err(fail)?;
                    default.address = Some(At { value, line });
                    default_used = true;
                }
                "protocol" => {
                    current.protocol = match need_value()? {
                        "mqtt" => ListenerProtocol::Mqtt,
                        "websockets" => ListenerProtocol::WebSockets,
                        other => return Err(fail(format!("unknown protocol '{other}'"))),
                    };
                    default_used |= listeners.is_empty();
                }
                "certfile" | "keyfile" | "cafile" => {
                    let value = Some(At {
                        value: PathBuf::from(need_value()?),
                        line,
                    });
                    match directive {
                        "certfile" => current.certfile = value,
                        "keyfile" => current.keyfile = value,
                        _ => current.cafile = value,
                    }
                    default_used |= listeners.is_empty();
                }
                "require_certificate" | "use_identity_as_username" => {
                    let value = Some(At {
                        value: parse_bool(need_value()?).map_err(fail)?,
                        line,
                    });
                    if directive == "require_certificate" {
                        current.require_certificate = value;
                    } else {
                        current.use_identity_as_username = value;
                    }
                    default_used |= listeners.is_empty();
                }
                "password_file" => conf.password_file = Some(PathBuf::from(need_value()?)),
                "acl_file" => conf.acl_file = Some(PathBuf::from(need_value()?)),
                "allow_anonymous" => {
                    conf.allow_anonymous = Some(parse_bool(need_value()?).map_err(fail)?)
                }
                "sys_interval" => {
                    let value = need_value()?;
                    let secs = value
                        .parse::<u64>()
                        .map_err(|_| fail(format!("bad sys_interval '{value}' (seconds)")))?;
                    conf.sys_interval = Some(secs);
                }
                "log_dest" => {
                    let value = need_value()?;
                    let (kind, rest) = value
                        .split_once(char::is_whitespace)
                        .map_or((value, ""), |(k, r)| (k, r.trim()));
                    conf.log.dest = Some(match (kind, rest) {
                        ("stderr", "") => LogDest::Stderr,
                        ("stdout", "") => LogDest::Stdout,
                        ("none", "") => LogDest::None,
                        ("file", "") => return Err(fail("log_dest file needs a path".into())),
                        ("file", path) => LogDest::File(PathBuf::from(path)),
                        ("syslog" | "topic" | "dlt", _) => {
                            return Err(fail(format!("unsupported: log_dest {kind}")));
                        }
                        _ => return Err(fail(format!("bad log_dest '{value}'"))),
                    });
                }
                "log_type" => {
                    let level = match need_value()? {
                        "none" | "error" | "warning" => LogLevel::Errors,
                        "notice" | "information" | "subscribe" | "unsubscribe" | "websockets" => {
                            LogLevel::Events
                        }
                        "debug" | "all" => LogLevel::Packets,
                        other => return Err(fail(format!("unknown log_type '{other}'"))),
                    };
                    conf.log.level = Some(conf.log.level.map_or(level, |l| l.max(level)));
                }
                "log_timestamp" => {
                    conf.log.timestamp = Some(parse_bool(need_value()?).map_err(fail)?)
                }
                "log_timestamp_format" => {
                    let format = need_value()?;
                    LogSettings::check_timestamp(format).map_err(fail)?;
                    conf.log.timestamp_format = Some(format.to_owned());
                }
                "connection_messages" => {
                    conf.log.connection_messages = Some(parse_bool(need_value()?).map_err(fail)?)
                }
                "persistence" => conf.persistence = Some(parse_bool(need_value()?).map_err(fail)?),
                "persistence_file" => conf.persistence_file = Some(PathBuf::from(need_value()?)),
                "persistence_location" => {
                    conf.persistence_location = Some(PathBuf::from(need_value()?))
                }
                "autosave_interval" => {
                    let value = need_value()?;
                    let secs = value
                        .parse::<u64>()
                        .map_err(|_| fail(format!("bad autosave_interval '{value}' (seconds)")))?;
                    conf.autosave_interval = Some(secs);
                }
                // Limits: global, wherever they are.
                "max_connections" => {
                    let value = need_value()?;
                    conf.limits.max_connections = Some(match value {
                        "-1" => 0,
                        _ => parse_number(directive, value, usize::MAX).map_err(fail)?,
                    });
                }
                "max_packet_size"
                | "max_queued_messages"
                | "max_queued_bytes"
                | "message_size_limit" => {
                    let value = parse_number(directive, need_value()?, usize::MAX).map_err(fail)?;
                    let slot = match directive {
                        "max_packet_size" => &mut conf.limits.max_packet_size,
                        "max_queued_messages" => &mut conf.limits.max_queued_messages,
                        "max_queued_bytes" => &mut conf.limits.max_queued_bytes,
                        _ => &mut conf.limits.message_size_limit,
                    };
                    *slot = Some(value);
                }
                "max_inflight_messages" | "max_keepalive" => {
                    let value = parse_number(directive, need_value()?, usize::from(u16::MAX))
                        .map_err(fail)?;
                    let value = u16::try_from(value).unwrap_or(u16::MAX);
                    if directive == "max_inflight_messages" {
                        conf.limits.max_inflight_messages = Some(value);
                    } else {
                        conf.limits.max_keepalive = Some(value);
                    }
                }
                other => return Err(fail(format!("unknown directive '{other}'"))),
            }
        }
        if default_used {
            conf.listeners.push(default);
        }
        conf.listeners.extend(listeners);
        Ok(conf)
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .map_err(|_| format!("bad port '{text}'"))
}

fn parse_address(text: &str) -> Result<IpAddr, String> {
    match text {
        "localhost" => Ok(IpAddr::from([127, 0, 0, 1])),
        _ => text
            .parse()
            .map_err(|_| format!("bad address '{text}' (an IP address or localhost)")),
    }
}

/// A whole number from 0 to `max` (0: no limit; for max_connections, -1 is read before).
fn parse_number(directive: &str, text: &str, max: usize) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n <= max && text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!(
            "bad {directive} '{text}' (a whole number{}, 0{} for no limit)",
            if max < usize::MAX {
                format!(" up to {max}")
            } else {
                String::new()
            },
            if directive == "max_connections" {
                " or -1"
            } else {
                ""
            }
        )),
    }
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("'{other}' is not true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_mosquitto_conf() {
        let conf = ConfFile::parse(
            "# comment\n\nlistener 1884 127.0.0.1\nallow_anonymous false\n\
             password_file /etc/mosquitto/pw\nacl_file /etc/mosquitto/acl\n\
             listener 9001\nprotocol websockets\n",
        )
        .unwrap();
        assert_eq!(conf.listeners.len(), 2);
        assert_eq!(conf.listeners[0].port, Some(1884));
        assert_eq!(conf.listeners[0].line, 3);
        assert_eq!(conf.listeners[1].protocol, ListenerProtocol::WebSockets);
        assert_eq!(conf.allow_anonymous, Some(false));
        assert_eq!(conf.password_file, Some(PathBuf::from("/etc/mosquitto/pw")));
        assert_eq!(conf.acl_file, Some(PathBuf::from("/etc/mosquitto/acl")));
    }

    #[test]
    fn the_default_listener() {
        let conf = ConfFile::parse("port 1885\nbind_address ::1\ncertfile c.pem\n").unwrap();
        assert_eq!(conf.listeners.len(), 1);
        assert_eq!(conf.listeners[0].port, Some(1885));
        assert_eq!(conf.listeners[0].certfile.as_ref().unwrap().line, 3);
        assert!(ConfFile::parse("").unwrap().listeners.is_empty());
    }

    #[test]
    fn persistence_as_mosquitto_combines_it() {
        let conf = ConfFile::parse(
            "persistence true\npersistence_location /var/lib/mqtt/\npersistence_file m.db\n\
             autosave_interval 60\n",
        )
        .unwrap();
        assert_eq!(
            conf.persistence_path(),
            Some(PathBuf::from("/var/lib/mqtt/m.db"))
        );
        assert_eq!(conf.autosave_interval, Some(60));
        let conf = ConfFile::parse("persistence true\n").unwrap();
        assert_eq!(conf.persistence_path(), Some(PathBuf::from("mosquitto.db")));
        let conf = ConfFile::parse("persistence_file m.db\n").unwrap();
        assert_eq!(conf.persistence_path(), None);
        assert_eq!(
            ConfFile::parse("autosave_interval soon")
                .unwrap_err()
                .to_string(),
            "1: bad autosave_interval 'soon' (seconds)"
        );
    }

    #[test]
    fn limits() {
        let conf = ConfFile::parse(
            "max_connections -1\nmax_packet_size 1000\nmax_queued_messages 0\n\
             max_queued_bytes 65536\nlistener 1884\nmax_inflight_messages 20\n\
             message_size_limit 500\nmax_keepalive 60\n",
        )
        .unwrap();
        assert_eq!(
            conf.limits,
            Limits {
                max_connections: Some(0),
                max_packet_size: Some(1000),
                max_queued_messages: Some(0),
                max_queued_bytes: Some(65536),
                max_inflight_messages: Some(20),
                message_size_limit: Some(500),
                max_keepalive: Some(60),
            }
        );
        assert_eq!(
            ConfFile::parse("max_connections 10")
                .unwrap()
                .limits
                .max_connections,
            Some(10)
        );
        for (text, error) in [
            (
                "\nmax_connections -2",
                "2: bad max_connections '-2' (a whole number, 0 or -1 for no limit)",
            ),
            (
                "max_queued_messages +5",
                "1: bad max_queued_messages '+5' (a whole number, 0 for no limit)",
            ),
            (
                "max_keepalive 65536",
                "1: bad max_keepalive '65536' (a whole number up to 65535, 0 for no limit)",
            ),
            (
                "max_inflight_messages lots",
                "1: bad max_inflight_messages 'lots' (a whole number up to 65535, 0 for no limit)",
            ),
            (
                "message_size_limit",
                "1: 'message_size_limit' needs a value",
            ),
        ] {
            assert_eq!(ConfFile::parse(text).unwrap_err().to_string(), error);
        }
    }

    #[test]
    fn errors_name_the_line() {
        let err = ConfFile::parse("port 1\n\nfoo bar\n").unwrap_err();
        assert_eq!(err.to_string(), "3: unknown directive 'foo'");
        assert_eq!(
            ConfFile::parse("allow_anonymous yes")
                .unwrap_err()
                .to_string(),
            "1: 'yes' is not true or false"
        );
        assert_eq!(
            ConfFile::parse("listener x").unwrap_err().to_string(),
            "1: bad port 'x'"
        );
        assert_eq!(
            ConfFile::parse("password_file").unwrap_err().to_string(),
            "1: 'password_file' needs a value"
        );
    }
}
