//! The mosquitto.conf subset `skeeter broker -c FILE` reads: listeners (`listener`, `port`,
//! `bind_address`, `protocol`), their TLS files, and authentication (`password_file`,
//! `acl_file`, `allow_anonymous`), and the limits (`max_connections`, `max_packet_size`,
//! `max_queued_messages`, `max_queued_bytes`, `max_inflight_messages`, `message_size_limit`,
//! `max_keepalive`, global wherever they are). Comments and blank lines are skipped; anything
//! else is an error naming its line, so a file is never half understood.

use std::net::IpAddr;
use std::path::PathBuf;

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
    /// The limits the file sets (None: not set), with mosquitto's "no limit" values (-1 for
    /// max_connections) already made skeeter's 0.
    pub limits: Limits,
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
