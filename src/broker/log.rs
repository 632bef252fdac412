//! The broker's log: one line per event, with a timestamp, to stderr, stdout or a file.
//! Events are connections, disconnections (with the reason) and refusals; at the packet level
//! (-v, mosquitto's `log_type all`) every packet in and out as well. Settings can be swapped
//! while running (SIGHUP), and a log file is reopened then, for logrotate.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

/// How much the broker logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    /// Errors only (a listener that fails to accept, a file that cannot be read on reload).
    #[default]
    Errors = 0,
    /// Also connections, disconnections and refusals.
    Events = 1,
    /// Also every packet received and sent.
    Packets = 2,
}

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LogDest {
    #[default]
    Stderr,
    Stdout,
    /// Appended to; reopened when the settings are reloaded.
    File(PathBuf),
    /// Nowhere.
    None,
}

/// The log settings of [`super::Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub level: LogLevel,
    pub dest: LogDest,
    /// strftime format of the timestamp that starts each line (chrono's); None: no timestamp.
    pub timestamp: Option<String>,
}

/// RFC 3339 in local time, to the millisecond.
pub const DEFAULT_TIMESTAMP: &str = "%Y-%m-%dT%H:%M:%S%.3f%:z";

impl Default for LogSettings {
    /// Errors only, on stderr, timestamped: what an embedded broker should say.
    fn default() -> Self {
        LogSettings {
            level: LogLevel::Errors,
            dest: LogDest::Stderr,
            timestamp: Some(DEFAULT_TIMESTAMP.to_owned()),
        }
    }
}

impl LogSettings {
    /// Check a strftime format before it is used (chrono panics on some bad ones when
    /// formatting, so it is tried once here).
    pub fn check_timestamp(format: &str) -> Result<(), String> {
        use chrono::format::{Item, StrftimeItems};
        if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
            return Err(format!("bad timestamp format '{format}'"));
        }
        Ok(())
    }
}

pub(crate) struct Logger {
    /// The level, read on every packet: an atomic, not behind the lock.
    level: AtomicU8,
    settings: RwLock<LogSettings>,
    file: Mutex<Option<File>>,
}

impl Logger {
    pub fn new(settings: LogSettings) -> io::Result<Logger> {
        let logger = Logger {
            level: AtomicU8::new(settings.level as u8),
            settings: RwLock::new(LogSettings::default()),
            file: Mutex::new(None),
        };
        logger.apply(settings)?;
        Ok(logger)
    }

    /// Take new settings; a log file is (re)opened. On error the old settings stay.
    pub fn apply(&self, settings: LogSettings) -> io::Result<()> {
        if let Some(format) = &settings.timestamp {
            LogSettings::check_timestamp(format)
                .map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?;
        }
        let file = match &settings.dest {
            LogDest::File(path) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|err| {
                        io::Error::new(
                            err.kind(),
                            format!("cannot open the log file {}: {err}", path.display()),
                        )
                    })?,
            ),
            _ => None,
        };
        *self.file.lock().unwrap_or_else(PoisonError::into_inner) = file;
        self.level.store(settings.level as u8, Ordering::Relaxed);
        *self
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = settings;
        Ok(())
    }

    pub fn enabled(&self, level: LogLevel) -> bool {
        self.level.load(Ordering::Relaxed) >= level as u8
    }

    /// Log one line at `level` (nothing if the level is off).
    pub fn log(&self, level: LogLevel, line: std::fmt::Arguments<'_>) {
        if !self.enabled(level) {
            return;
        }
        let settings = self.settings.read().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::with_capacity(128);
        if let Some(format) = &settings.timestamp {
            use std::fmt::Write as _;
            let _ = write!(text, "{}: ", chrono::Local::now().format(format));
        }
        {
            use std::fmt::Write as _;
            let _ = writeln!(text, "{line}");
        }
        // A log that cannot be written must not stop the broker.
        let _ = match &settings.dest {
            LogDest::Stderr => io::stderr().lock().write_all(text.as_bytes()),
            LogDest::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            }
            LogDest::File(_) => {
                match &mut *self.file.lock().unwrap_or_else(PoisonError::into_inner) {
                    Some(file) => file.write_all(text.as_bytes()),
                    None => Ok(()),
                }
            }
            LogDest::None => Ok(()),
        };
    }
}

/// Name and details of a packet the broker encoded (its replies), from its bytes.
pub(crate) fn describe_frame(frame: &[u8]) -> String {
    let packet_id = || match frame.get(2..4) {
        Some(id) => format!(" (m{})", u16::from_be_bytes([id[0], id[1]])),
        None => String::new(),
    };
    match frame.first().map(|byte| byte >> 4) {
        Some(2) => format!(
            "CONNACK (session present {}, rc{})",
            frame.get(2).copied().unwrap_or(0) & 1,
            frame.get(3).copied().unwrap_or(0)
        ),
        Some(4) => format!("PUBACK{}", packet_id()),
        Some(5) => format!("PUBREC{}", packet_id()),
        Some(6) => format!("PUBREL{}", packet_id()),
        Some(7) => format!("PUBCOMP{}", packet_id()),
        Some(9) => format!("SUBACK{}", packet_id()),
        Some(11) => format!("UNSUBACK{}", packet_id()),
        Some(13) => "PINGRESP".into(),
        Some(14) => format!("DISCONNECT (rc{})", frame.get(2).copied().unwrap_or(0)),
        Some(other) => format!("packet type {other}"),
        None => "nothing".into(),
    }
}

/// Each packet in a buffer of whole packets.
pub(crate) fn frames(mut bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (header_len, remaining_len) = crate::wire::read_fixed_header(bytes).ok()??;
        let len = (header_len + remaining_len).min(bytes.len());
        let (frame, rest) = bytes.split_at(len);
        bytes = rest;
        Some(frame)
    })
}

/// The PUBLISH summary mosquitto's log shows: `(d0, q1, r0, m3, 'topic', ... (5 bytes))`.
pub(crate) fn describe_publish(
    dup: bool,
    qos: u8,
    retain: bool,
    pkid: u16,
    topic: &str,
    payload_len: usize,
) -> String {
    format!(
        "PUBLISH (d{}, q{qos}, r{}, m{pkid}, '{topic}', ... ({payload_len} bytes))",
        u8::from(dup),
        u8::from(retain)
    )
}

/// A packet received from a 3.1.1 or 3.1 client, for the packet log.
pub(crate) fn describe_v4(packet: &rumqttc::mqttbytes::v4::Packet) -> String {
    use rumqttc::mqttbytes::v4::Packet;
    match packet {
        Packet::Publish(p) => describe_publish(
            p.dup,
            p.qos as u8,
            p.retain,
            p.pkid,
            &p.topic,
            p.payload.len(),
        ),
        Packet::PubAck(ack) => format!("PUBACK (m{})", ack.pkid),
        Packet::PubRec(ack) => format!("PUBREC (m{})", ack.pkid),
        Packet::PubRel(ack) => format!("PUBREL (m{})", ack.pkid),
        Packet::PubComp(ack) => format!("PUBCOMP (m{})", ack.pkid),
        Packet::Subscribe(s) => {
            describe_subscribe(s.pkid, s.filters.iter().map(|f| (&f.path, f.qos as u8)))
        }
        Packet::Unsubscribe(u) => describe_unsubscribe(u.pkid, &u.topics),
        Packet::PingReq => "PINGREQ".into(),
        Packet::Disconnect => "DISCONNECT".into(),
        Packet::Connect(_) => "CONNECT".into(),
        Packet::ConnAck(_) => "CONNACK".into(),
        Packet::SubAck(_) => "SUBACK".into(),
        Packet::UnsubAck(_) => "UNSUBACK".into(),
        Packet::PingResp => "PINGRESP".into(),
    }
}

/// A packet received from an MQTT 5 client, for the packet log.
pub(crate) fn describe_v5(packet: &super::codec::Incoming5) -> String {
    use super::codec::Incoming5;
    use rumqttc::v5::mqttbytes::v5::Packet;
    let packet = match packet {
        Incoming5::Packet(packet) => packet,
        Incoming5::Disconnect { reason, .. } => return format!("DISCONNECT (rc{reason})"),
        Incoming5::Auth => return "AUTH".into(),
    };
    match packet {
        Packet::Publish(p) => describe_publish(
            p.dup,
            p.qos as u8,
            p.retain,
            p.pkid,
            &String::from_utf8_lossy(&p.topic),
            p.payload.len(),
        ),
        Packet::PubAck(ack) => format!("PUBACK (m{})", ack.pkid),
        Packet::PubRec(ack) => format!("PUBREC (m{})", ack.pkid),
        Packet::PubRel(ack) => format!("PUBREL (m{})", ack.pkid),
        Packet::PubComp(ack) => format!("PUBCOMP (m{})", ack.pkid),
        Packet::Subscribe(s) => {
            describe_subscribe(s.pkid, s.filters.iter().map(|f| (&f.path, f.qos as u8)))
        }
        Packet::Unsubscribe(u) => describe_unsubscribe(u.pkid, &u.filters),
        Packet::PingReq(_) => "PINGREQ".into(),
        other => format!("{other:?}")
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or_default()
            .to_uppercase(),
    }
}

/// `SUBSCRIBE (m1, 'a/#' q1, 'b' q0)`.
fn describe_subscribe<'a>(pkid: u16, filters: impl Iterator<Item = (&'a String, u8)>) -> String {
    let filters: Vec<String> = filters
        .map(|(path, qos)| format!("'{path}' q{qos}"))
        .collect();
    format!("SUBSCRIBE (m{pkid}, {})", filters.join(", "))
}

/// `UNSUBSCRIBE (m2, 'a/#', 'b')`.
fn describe_unsubscribe(pkid: u16, filters: &[String]) -> String {
    format!("UNSUBSCRIBE (m{pkid}, '{}')", filters.join("', '"))
}
