//! Persistence (`Config::persistence_file`): retained messages and persistent sessions survive a
//! restart, and no QoS 1/2 message the broker acknowledged is lost even to `kill -9`.
//!
//! Two files, both ours, versioned, checksummed, little-endian:
//! - FILE, the snapshot: `SKEETERS`, format version (u32), generation (u64), body length (u64),
//!   CRC-32 of the body (u32), then the body: records that rebuild the whole state. It is only
//!   ever replaced whole: written to FILE.tmp, fsync, rename over FILE, fsync of the directory.
//! - FILE.journal, the write-ahead log: `SKEETERJ`, format version, generation (the snapshot's it
//!   follows), then chunks of records, each `length (u32), CRC-32 (u32), records`. Every change
//!   of persisted state appends records; a chunk goes to the file with one write() before any
//!   packet that depends on it (PUBACK, PUBREC, PUBCOMP, SUBACK, an outgoing PUBLISH or PUBREL)
//!   is written to a socket. write() puts it in the page cache, which survives the death of the
//!   process (kill -9), not that of the machine: there is no fsync per chunk, which would cost a
//!   disk flush per batch. A chunk cut short by a kill fails its checksum and is ignored, with the
//!   rest of the file after it; nothing acknowledged depended on it.
//!
//! Saving (at start, every autosave interval, when the journal passes 64 MiB, at stop) writes a
//! new snapshot one generation up and starts a new journal; a journal of an older generation
//! than the snapshot is stale (the broker stopped between the two renames) and ignored. Delayed
//! wills not yet due are kept the same way.
//!
//! One lock, the gate, makes a change and its records one step: every connection holds it while
//! it handles a read batch (or takes a write batch), so a chunk never holds half a change, and a
//! snapshot taken under it matches the journal exactly.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use tokio::time::Instant;

use super::router::{Message, SubscriptionOptions};
use super::session::Delivery;

/// The version of both files' format; a file of another version is refused.
pub const FORMAT_VERSION: u32 = 1;
const SNAPSHOT_MAGIC: &[u8; 8] = b"SKEETERS";
const JOURNAL_MAGIC: &[u8; 8] = b"SKEETERJ";
const SNAPSHOT_HEADER: usize = 8 + 4 + 8 + 8 + 4;
const JOURNAL_HEADER: usize = 8 + 4 + 8;
/// Length and checksum in front of each journal chunk.
const CHUNK_HEADER: usize = 8;
/// A journal this long is folded into a new snapshot without waiting for the autosave interval.
const JOURNAL_COMPACT_BYTES: u64 = 64 * 1024 * 1024;

/// The persistence files cannot be used: unreadable, corrupt, of another program or version,
/// or not writable. Broker::start returns it inside an `io::Error`.
#[derive(Debug)]
pub struct PersistenceError(pub String);

impl fmt::Display for PersistenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PersistenceError {}

impl PersistenceError {
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::other(self)
    }
}

// Record tags. A snapshot uses the same records as the journal.
const SESSION_NEW: u8 = 1;
const SESSION_RESUME: u8 = 2;
const SESSION_END: u8 = 3;
const SUBSCRIBE: u8 = 4;
const UNSUBSCRIBE: u8 = 5;
const DELIVER: u8 = 6;
const SENT: u8 = 7;
const SKIPPED: u8 = 8;
const RELEASED: u8 = 9;
const DONE: u8 = 10;
const INBOUND: u8 = 11;
const INBOUND_DONE: u8 = 12;
const RETAIN: u8 = 13;
const UNRETAIN: u8 = 14;
const INFLIGHT_RELEASED: u8 = 15;
const WILL_PENDING: u8 = 16;
const WILL_DONE: u8 = 17;

/// The records, written by the session and the retained store as their state changes.
pub(crate) mod record {
    use super::*;

    /// A new session (replacing any of that client id).
    pub fn session_new(buf: &mut Vec<u8>, client: &str, expiry: u32, username: Option<&str>) {
        buf.push(SESSION_NEW);
        put_str(buf, client);
        put_u32(buf, expiry);
        put_opt_str(buf, username);
    }

    /// A session resumed by a new connection: its expiry and user name now.
    pub fn session_resume(buf: &mut Vec<u8>, client: &str, expiry: u32, username: Option<&str>) {
        buf.push(SESSION_RESUME);
        put_str(buf, client);
        put_u32(buf, expiry);
        put_opt_str(buf, username);
    }

    pub fn session_end(buf: &mut Vec<u8>, client: &str) {
        buf.push(SESSION_END);
        put_str(buf, client);
    }

    pub fn subscribe(buf: &mut Vec<u8>, client: &str, filter: &str, options: &SubscriptionOptions) {
        buf.push(SUBSCRIBE);
        put_str(buf, client);
        put_str(buf, filter);
        buf.push(
            options.qos as u8
                | u8::from(options.no_local) << 2
                | u8::from(options.retain_as_published) << 3,
        );
        put_opt_u32(buf, options.id);
    }

    pub fn unsubscribe(buf: &mut Vec<u8>, client: &str, filter: &str) {
        buf.push(UNSUBSCRIBE);
        put_str(buf, client);
        put_str(buf, filter);
    }

    /// A QoS 1/2 delivery queued (at the back).
    pub fn deliver(buf: &mut Vec<u8>, client: &str, delivery: &Delivery) {
        buf.push(DELIVER);
        put_str(buf, client);
        buf.push(delivery.qos as u8 | u8::from(delivery.retain) << 2);
        put_u32(buf, delivery.subscription_ids.len() as u32);
        for id in &delivery.subscription_ids {
            put_u32(buf, *id);
        }
        put_message(buf, &delivery.message);
    }

    /// The front of the queue sent with packet id `pkid`: in flight.
    pub fn sent(buf: &mut Vec<u8>, client: &str, pkid: u16) {
        pkid_record(buf, SENT, client, pkid);
    }

    /// The front of the queue dropped (expired, or too large for the client).
    pub fn skipped(buf: &mut Vec<u8>, client: &str) {
        buf.push(SKIPPED);
        put_str(buf, client);
    }

    /// PUBREC for an outgoing QoS 2 message: PUBREL is what remains to send.
    pub fn released(buf: &mut Vec<u8>, client: &str, pkid: u16) {
        pkid_record(buf, RELEASED, client, pkid);
    }

    /// An outgoing message done (PUBACK, PUBCOMP, a refusing PUBREC).
    pub fn done(buf: &mut Vec<u8>, client: &str, pkid: u16) {
        pkid_record(buf, DONE, client, pkid);
    }

    /// An incoming QoS 2 message routed, awaiting PUBREL.
    pub fn inbound(buf: &mut Vec<u8>, client: &str, pkid: u16) {
        pkid_record(buf, INBOUND, client, pkid);
    }

    pub fn inbound_done(buf: &mut Vec<u8>, client: &str, pkid: u16) {
        pkid_record(buf, INBOUND_DONE, client, pkid);
    }

    /// (Snapshots) an outgoing QoS 2 message awaiting PUBCOMP, at the back of the in-flight list.
    pub fn inflight_released(buf: &mut Vec<u8>, client: &str, pkid: u16) {
        pkid_record(buf, INFLIGHT_RELEASED, client, pkid);
    }

    pub fn retain(buf: &mut Vec<u8>, message: &Message) {
        buf.push(RETAIN);
        put_message(buf, message);
    }

    pub fn unretain(buf: &mut Vec<u8>, topic: &str) {
        buf.push(UNRETAIN);
        put_str(buf, topic);
    }

    /// A delayed will (MQTT 5 will delay) waiting to be published.
    pub fn will_pending(buf: &mut Vec<u8>, client: &str, will: &PendingWill) {
        buf.push(WILL_PENDING);
        put_str(buf, client);
        buf.push(u8::from(will.retain));
        put_opt_u32(buf, will.message_expiry);
        put_u64(buf, will.fire_at);
        put_message(buf, &will.message);
    }

    /// A delayed will published, or void (its session taken back).
    pub fn will_done(buf: &mut Vec<u8>, client: &str) {
        buf.push(WILL_DONE);
        put_str(buf, client);
    }

    fn pkid_record(buf: &mut Vec<u8>, tag: u8, client: &str, pkid: u16) {
        buf.push(tag);
        put_str(buf, client);
        buf.extend_from_slice(&pkid.to_le_bytes());
    }
}

fn put_u32(buf: &mut Vec<u8>, value: u32) {
    buf.extend_from_slice(&value.to_le_bytes());
}

fn put_u64(buf: &mut Vec<u8>, value: u64) {
    buf.extend_from_slice(&value.to_le_bytes());
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    // Nothing longer than an MQTT packet (< 256 MiB) is ever written.
    put_u32(buf, bytes.len() as u32);
    buf.extend_from_slice(bytes);
}

fn put_str(buf: &mut Vec<u8>, text: &str) {
    put_bytes(buf, text.as_bytes());
}

fn put_opt_str(buf: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => {
            buf.push(1);
            put_str(buf, text);
        }
        None => buf.push(0),
    }
}

fn put_opt_u32(buf: &mut Vec<u8>, value: Option<u32>) {
    match value {
        Some(value) => {
            buf.push(1);
            put_u32(buf, value);
        }
        None => buf.push(0),
    }
}

fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

fn put_message(buf: &mut Vec<u8>, message: &Message) {
    put_str(buf, &message.topic);
    put_bytes(buf, &message.payload);
    buf.push(message.qos as u8);
    // The expiry as wall-clock time: the monotonic clock does not survive a restart.
    match message.expires_at {
        Some(at) => {
            buf.push(1);
            let left = at.saturating_duration_since(Instant::now());
            put_u64(buf, unix_millis(SystemTime::now() + left));
        }
        None => buf.push(0),
    }
    match message.properties.as_deref() {
        None => buf.push(0),
        Some(p) => {
            buf.push(1);
            match p.payload_format_indicator {
                Some(value) => buf.extend_from_slice(&[1, value]),
                None => buf.push(0),
            }
            put_opt_str(buf, p.response_topic.as_deref());
            match &p.correlation_data {
                Some(data) => {
                    buf.push(1);
                    put_bytes(buf, data);
                }
                None => buf.push(0),
            }
            put_u32(buf, p.user_properties.len() as u32);
            for (key, value) in &p.user_properties {
                put_str(buf, key);
                put_str(buf, value);
            }
            put_opt_str(buf, p.content_type.as_deref());
        }
    }
}

/// Reads records; every error is "corrupt".
struct Reader<'a> {
    data: &'a [u8],
}

type Decoded<T> = Result<T, String>;

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Decoded<&'a [u8]> {
        if self.data.len() < n {
            return Err("a record is cut short".into());
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Decoded<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Decoded<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().unwrap_or_default(),
        ))
    }

    fn u32(&mut self) -> Decoded<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }

    fn u64(&mut self) -> Decoded<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }

    fn flag(&mut self) -> Decoded<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(format!("bad flag {other}")),
        }
    }

    fn bytes(&mut self) -> Decoded<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn string(&mut self) -> Decoded<String> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a string is not UTF-8".into())
    }

    fn opt_string(&mut self) -> Decoded<Option<String>> {
        Ok(if self.flag()? {
            Some(self.string()?)
        } else {
            None
        })
    }

    fn opt_u32(&mut self) -> Decoded<Option<u32>> {
        Ok(if self.flag()? {
            Some(self.u32()?)
        } else {
            None
        })
    }

    fn qos(value: u8) -> Decoded<QoS> {
        match value {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            other => Err(format!("bad QoS {other}")),
        }
    }

    fn message(&mut self) -> Decoded<Arc<Message>> {
        let topic = self.string()?;
        let payload = Bytes::copy_from_slice(self.bytes()?);
        let qos = Self::qos(self.u8()?)?;
        let mut message = Message::new(topic, payload, qos);
        if self.flag()? {
            let at = self.u64()?;
            let left = Duration::from_millis(at.saturating_sub(unix_millis(SystemTime::now())));
            message.expires_at = Some(Instant::now() + left);
        }
        if self.flag()? {
            let payload_format_indicator = if self.flag()? { Some(self.u8()?) } else { None };
            let response_topic = self.opt_string()?;
            let correlation_data = if self.flag()? {
                Some(Bytes::copy_from_slice(self.bytes()?))
            } else {
                None
            };
            let count = self.u32()?;
            let mut user_properties = Vec::new();
            for _ in 0..count {
                user_properties.push((self.string()?, self.string()?));
            }
            let content_type = self.opt_string()?;
            message.properties = Some(Arc::new(PublishProperties {
                payload_format_indicator,
                message_expiry_interval: None,
                topic_alias: None,
                response_topic,
                correlation_data,
                user_properties,
                subscription_identifiers: Vec::new(),
                content_type,
            }));
        }
        Ok(Arc::new(message))
    }
}

/// A delayed will: published at `fire_at` unless a connection takes its session back before.
#[derive(Clone)]
pub(crate) struct PendingWill {
    /// Without an expiry: the message expiry interval starts when it is published.
    pub message: Arc<Message>,
    pub retain: bool,
    pub message_expiry: Option<u32>,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub fire_at: u64,
    /// The connection whose end set it off (in memory only: which timer it belongs to).
    pub link_id: u64,
}

impl PendingWill {
    pub fn new(
        message: Arc<Message>,
        retain: bool,
        message_expiry: Option<u32>,
        delay: Duration,
        link_id: u64,
    ) -> PendingWill {
        PendingWill {
            message,
            retain,
            message_expiry,
            fire_at: unix_millis(SystemTime::now() + delay),
            link_id,
        }
    }

    /// How long until it is due (zero if overdue).
    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.fire_at.saturating_sub(unix_millis(SystemTime::now())))
    }

    /// The message to publish now (its expiry interval starting now).
    pub fn message_now(&self) -> Arc<Message> {
        let mut message = Message::new(
            self.message.topic.clone(),
            self.message.payload.clone(),
            self.message.qos,
        );
        message.properties = self.message.properties.clone();
        message.expires_at = self
            .message_expiry
            .map(|secs| Instant::now() + Duration::from_secs(u64::from(secs)));
        Arc::new(message)
    }
}

/// A persistent session as the files have it.
#[derive(Default)]
pub(crate) struct SavedSession {
    pub expiry: u32,
    pub username: Option<String>,
    pub subscriptions: HashMap<String, SubscriptionOptions>,
    pub queued: VecDeque<Delivery>,
    /// In send order; None once PUBREC came (PUBREL is what remains).
    pub inflight: VecDeque<(u16, Option<Delivery>)>,
    pub awaiting_pubrel: HashSet<u16>,
}

/// The state the files describe.
#[derive(Default)]
pub(crate) struct Restored {
    pub sessions: BTreeMap<String, SavedSession>,
    pub retained: BTreeMap<String, Arc<Message>>,
    pub wills: BTreeMap<String, PendingWill>,
}

impl Restored {
    /// Apply every record of `data`.
    fn apply_all(&mut self, data: &[u8]) -> Decoded<()> {
        let mut reader = Reader { data };
        while !reader.data.is_empty() {
            self.apply(&mut reader)?;
        }
        Ok(())
    }

    fn session(&mut self, client: &str) -> Decoded<&mut SavedSession> {
        self.sessions
            .get_mut(client)
            .ok_or_else(|| format!("a record for an unknown session {client:?}"))
    }

    fn apply(&mut self, reader: &mut Reader<'_>) -> Decoded<()> {
        let tag = reader.u8()?;
        if tag == RETAIN {
            let message = reader.message()?;
            self.retained.insert(message.topic.clone(), message);
            return Ok(());
        }
        if tag == UNRETAIN {
            let topic = reader.string()?;
            self.retained.remove(&topic);
            return Ok(());
        }
        let client = reader.string()?;
        match tag {
            SESSION_NEW | SESSION_RESUME => {
                let expiry = reader.u32()?;
                let username = reader.opt_string()?;
                let session = if tag == SESSION_NEW {
                    self.sessions
                        .insert(client.clone(), SavedSession::default());
                    self.session(&client)?
                } else {
                    self.session(&client)?
                };
                session.expiry = expiry;
                session.username = username;
            }
            SESSION_END => {
                self.sessions.remove(&client);
            }
            WILL_PENDING => {
                let retain = reader.flag()?;
                let message_expiry = reader.opt_u32()?;
                let fire_at = reader.u64()?;
                let message = reader.message()?;
                let will = PendingWill {
                    message,
                    retain,
                    message_expiry,
                    fire_at,
                    link_id: 0,
                };
                self.wills.insert(client, will);
            }
            WILL_DONE => {
                self.wills.remove(&client);
            }
            SUBSCRIBE => {
                let filter = reader.string()?;
                let bits = reader.u8()?;
                let options = SubscriptionOptions {
                    qos: Reader::qos(bits & 3)?,
                    no_local: bits & 4 != 0,
                    retain_as_published: bits & 8 != 0,
                    id: reader.opt_u32()?,
                };
                self.session(&client)?.subscriptions.insert(filter, options);
            }
            UNSUBSCRIBE => {
                let filter = reader.string()?;
                self.session(&client)?.subscriptions.remove(&filter);
            }
            DELIVER => {
                let bits = reader.u8()?;
                let count = reader.u32()?;
                let mut subscription_ids = Vec::new();
                for _ in 0..count {
                    subscription_ids.push(reader.u32()?);
                }
                let message = reader.message()?;
                let delivery = Delivery {
                    message,
                    qos: Reader::qos(bits & 3)?,
                    retain: bits & 4 != 0,
                    subscription_ids,
                };
                self.session(&client)?.queued.push_back(delivery);
            }
            SKIPPED => {
                self.session(&client)?
                    .queued
                    .pop_front()
                    .ok_or("a skipped message that was never queued")?;
            }
            SENT | RELEASED | DONE | INBOUND | INBOUND_DONE | INFLIGHT_RELEASED => {
                let pkid = reader.u16()?;
                let session = self.session(&client)?;
                let inflight_at = |session: &SavedSession| {
                    session
                        .inflight
                        .iter()
                        .position(|(id, _)| *id == pkid)
                        .ok_or_else(|| format!("packet id {pkid} of {client:?} is not in flight"))
                };
                match tag {
                    SENT => {
                        let delivery = session
                            .queued
                            .pop_front()
                            .ok_or("a sent message that was never queued")?;
                        session.inflight.push_back((pkid, Some(delivery)));
                    }
                    RELEASED => {
                        let at = inflight_at(session)?;
                        session.inflight[at].1 = None;
                    }
                    DONE => {
                        let at = inflight_at(session)?;
                        session.inflight.remove(at);
                    }
                    INBOUND => {
                        session.awaiting_pubrel.insert(pkid);
                    }
                    INBOUND_DONE => {
                        session.awaiting_pubrel.remove(&pkid);
                    }
                    _ => session.inflight.push_back((pkid, None)),
                }
            }
            other => return Err(format!("unknown record type {other}")),
        }
        Ok(())
    }
}

/// CRC-32 (IEEE), the checksum of the snapshot body and of each journal chunk.
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &byte in data {
        crc = TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// The journal file being appended to.
struct JournalFile {
    file: File,
    generation: u64,
    /// Bytes written to it.
    len: u64,
}

/// The persistence files of one broker, and the gate.
pub(crate) struct Journal {
    snapshot_path: PathBuf,
    journal_path: PathBuf,
    /// Held while state that is persisted changes, and while a consistent cut is taken.
    gate: Mutex<()>,
    /// Records not yet written, after CHUNK_HEADER bytes kept free for the chunk's header.
    pending: Mutex<Vec<u8>>,
    /// The open journal (None before the first save); also orders writers. Lock order: file,
    /// then gate, then pending.
    file: Mutex<Option<JournalFile>>,
    /// The generation of the snapshot loaded at start.
    loaded_generation: Mutex<u64>,
    /// A journal write failed: the journal has a hole, so nothing more is acknowledged until a
    /// save has rewritten everything.
    broken: AtomicBool,
    /// Delayed wills not yet published, by client id (changed under the gate).
    wills: Mutex<BTreeMap<String, PendingWill>>,
}

thread_local! {
    /// The gate this thread holds (its address; 0: none). A guard is never held across an
    /// await, so the thread is the holder for as long as the guard lives.
    static GATE_HELD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A hold of the gate (see [`Journal::gate`]).
pub(crate) struct Gate<'a> {
    guard: Option<MutexGuard<'a, ()>>,
}

impl Drop for Gate<'_> {
    fn drop(&mut self) {
        if self.guard.is_some() {
            GATE_HELD.set(0);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Replace `path` with `contents` atomically: FILE.tmp, fsync, rename, fsync of the directory.
/// Returns the file, open for writing at its end.
fn write_atomically(path: &Path, contents: &[&[u8]]) -> io::Result<File> {
    let tmp = with_suffix(path, ".tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    for part in contents {
        file.write_all(part)?;
    }
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    sync_dir(path)?;
    Ok(file)
}

impl Journal {
    pub fn new(path: &Path) -> Journal {
        Journal {
            snapshot_path: path.to_owned(),
            journal_path: with_suffix(path, ".journal"),
            gate: Mutex::new(()),
            pending: Mutex::new(vec![0; CHUNK_HEADER]),
            file: Mutex::new(None),
            loaded_generation: Mutex::new(0),
            broken: AtomicBool::new(false),
            wills: Mutex::new(BTreeMap::new()),
        }
    }

    /// Hold while changing persisted state. Taken again on a thread that holds it already (a
    /// publish inside a read batch), it is a no-op: entry points can all take it.
    pub fn gate(&self) -> Gate<'_> {
        let this = &self.gate as *const Mutex<()> as usize;
        if GATE_HELD.get() == this {
            return Gate { guard: None };
        }
        let guard = lock(&self.gate);
        GATE_HELD.set(this);
        Gate { guard: Some(guard) }
    }

    /// Add records (under the gate).
    pub fn append(&self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut lock(&self.pending));
    }

    /// A delayed will set off (under the gate); it replaces any other of that client.
    pub fn will_pending(&self, client: &str, will: PendingWill) {
        self.append(|buf| record::will_pending(buf, client, &will));
        lock(&self.wills).insert(client.to_owned(), will);
    }

    /// The delayed will of `client` published or void (under the gate); with `link_id`, only
    /// the one that connection's end set off.
    pub fn will_done(&self, client: &str, link_id: Option<u64>) {
        let mut wills = lock(&self.wills);
        let ours = wills
            .get(client)
            .is_some_and(|will| link_id.is_none_or(|id| id == will.link_id));
        if ours {
            wills.remove(client);
            self.append(|buf| record::will_done(buf, client));
        }
    }

    /// Read the snapshot and the journal after it (either may be missing).
    pub fn load(&self) -> Result<Restored, PersistenceError> {
        let name = self.snapshot_path.display();
        let mut restored = Restored::default();
        let generation = match fs::read(&self.snapshot_path) {
            Ok(data) => {
                let corrupt = |why: &str| PersistenceError(format!("{name} is corrupt: {why}"));
                if data.len() < 8 || &data[..8] != SNAPSHOT_MAGIC {
                    return Err(PersistenceError(format!(
                        "{name} is not a skeeter persistence file"
                    )));
                }
                if data.len() < SNAPSHOT_HEADER {
                    return Err(corrupt("cut short"));
                }
                let version = u32::from_le_bytes(data[8..12].try_into().unwrap_or_default());
                if version != FORMAT_VERSION {
                    return Err(PersistenceError(format!(
                        "{name} has format version {version}; this skeeter reads version \
                         {FORMAT_VERSION}"
                    )));
                }
                let generation = u64::from_le_bytes(data[12..20].try_into().unwrap_or_default());
                let len = u64::from_le_bytes(data[20..28].try_into().unwrap_or_default());
                let crc = u32::from_le_bytes(data[28..32].try_into().unwrap_or_default());
                let body = &data[SNAPSHOT_HEADER..];
                if body.len() as u64 != len {
                    return Err(corrupt("its length is wrong"));
                }
                if crc32(body) != crc {
                    return Err(corrupt("checksum mismatch"));
                }
                restored.apply_all(body).map_err(|why| corrupt(&why))?;
                generation
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => 0,
            Err(err) => return Err(PersistenceError(format!("cannot read {name}: {err}"))),
        };
        *lock(&self.loaded_generation) = generation;
        let journal_name = self.journal_path.display();
        let data = match fs::read(&self.journal_path) {
            Ok(data) => data,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(restored),
            Err(err) => {
                return Err(PersistenceError(format!(
                    "cannot read {journal_name}: {err}"
                )));
            }
        };
        if data.len() < JOURNAL_HEADER || &data[..8] != JOURNAL_MAGIC {
            return Err(PersistenceError(format!(
                "{journal_name} is not a skeeter journal"
            )));
        }
        let version = u32::from_le_bytes(data[8..12].try_into().unwrap_or_default());
        if version != FORMAT_VERSION {
            return Err(PersistenceError(format!(
                "{journal_name} has format version {version}; this skeeter reads version \
                 {FORMAT_VERSION}"
            )));
        }
        let journal_generation = u64::from_le_bytes(data[12..20].try_into().unwrap_or_default());
        if journal_generation < generation {
            return Ok(restored); // already in the snapshot
        }
        if journal_generation > generation {
            return Err(PersistenceError(format!(
                "{journal_name} does not belong to {name} (generation {journal_generation}, \
                 the snapshot's is {generation})"
            )));
        }
        let mut rest = &data[JOURNAL_HEADER..];
        while rest.len() >= CHUNK_HEADER {
            let len = u32::from_le_bytes(rest[..4].try_into().unwrap_or_default()) as usize;
            let crc = u32::from_le_bytes(rest[4..8].try_into().unwrap_or_default());
            let Some(chunk) = rest[CHUNK_HEADER..].get(..len) else {
                break;
            };
            if crc32(chunk) != crc {
                break;
            }
            restored
                .apply_all(chunk)
                .map_err(|why| PersistenceError(format!("{journal_name} is corrupt: {why}")))?;
            rest = &rest[CHUNK_HEADER + len..];
        }
        if !rest.is_empty() {
            crate::say!(
                "skeeter broker: warning: {journal_name}: ignored {} bytes after the last complete \
                 write (the broker was killed while writing them; nothing acknowledged was in them)",
                rest.len()
            );
        }
        Ok(restored)
    }

    /// Write the pending records to the journal (one write()), so that what depends on them may
    /// be sent. Takes the gate: do not call while holding it.
    pub fn flush(&self) -> io::Result<()> {
        debug_assert_eq!(GATE_HELD.get(), 0, "flush under the gate");
        let mut file = lock(&self.file);
        if self.broken.load(Ordering::Relaxed) {
            return Err(io::Error::other(format!(
                "{}: an earlier write failed; nothing is acknowledged until the next save",
                self.journal_path.display()
            )));
        }
        if file.is_none() {
            return Ok(()); // before the first save, which will include these records
        }
        let mut chunk = {
            let _gate = lock(&self.gate);
            let mut pending = lock(&self.pending);
            if pending.len() == CHUNK_HEADER {
                return Ok(());
            }
            std::mem::replace(&mut *pending, vec![0; CHUNK_HEADER])
        };
        let Some(open) = file.as_mut() else {
            return Ok(());
        };
        let len = (chunk.len() - CHUNK_HEADER) as u32;
        let crc = crc32(&chunk[CHUNK_HEADER..]);
        chunk[..4].copy_from_slice(&len.to_le_bytes());
        chunk[4..8].copy_from_slice(&crc.to_le_bytes());
        open.len += chunk.len() as u64;
        if let Err(err) = open.file.write_all(&chunk) {
            self.broken.store(true, Ordering::Relaxed);
            let err = io::Error::new(
                err.kind(),
                format!("cannot write {}: {err}", self.journal_path.display()),
            );
            crate::say!("skeeter broker: error: {err}");
            return Err(err);
        }
        Ok(())
    }

    /// Whether a save is due before the autosave interval: the journal is long, or broken.
    pub fn needs_save(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
            || lock(&self.file)
                .as_ref()
                .is_some_and(|open| open.len > JOURNAL_COMPACT_BYTES)
    }

    /// Write a new snapshot (what `capture` writes, taken under the gate) and start a new journal.
    pub fn save(&self, capture: impl FnOnce(&mut Vec<u8>)) -> Result<(), PersistenceError> {
        debug_assert_eq!(GATE_HELD.get(), 0, "save under the gate");
        let mut file = lock(&self.file);
        let mut body = Vec::new();
        {
            let _gate = lock(&self.gate);
            capture(&mut body);
            for (client, will) in lock(&self.wills).iter() {
                record::will_pending(&mut body, client, will);
            }
            // Everything pending is in the snapshot.
            let mut pending = lock(&self.pending);
            pending.clear();
            pending.resize(CHUNK_HEADER, 0);
        }
        let generation = match file.as_ref() {
            Some(open) => open.generation,
            None => *lock(&self.loaded_generation),
        } + 1;
        let fail = |path: &Path, err: io::Error| {
            PersistenceError(format!("cannot write {}: {err}", path.display()))
        };
        let mut header = Vec::with_capacity(SNAPSHOT_HEADER);
        header.extend_from_slice(SNAPSHOT_MAGIC);
        put_u32(&mut header, FORMAT_VERSION);
        put_u64(&mut header, generation);
        put_u64(&mut header, body.len() as u64);
        put_u32(&mut header, crc32(&body));
        write_atomically(&self.snapshot_path, &[&header, &body])
            .map_err(|err| fail(&self.snapshot_path, err))?;
        let mut header = Vec::with_capacity(JOURNAL_HEADER);
        header.extend_from_slice(JOURNAL_MAGIC);
        put_u32(&mut header, FORMAT_VERSION);
        put_u64(&mut header, generation);
        let journal = write_atomically(&self.journal_path, &[&header])
            .map_err(|err| fail(&self.journal_path, err))?;
        *file = Some(JournalFile {
            file: journal,
            generation,
            len: JOURNAL_HEADER as u64,
        });
        self.broken.store(false, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_of_the_check_string() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn records_round_trip() {
        let mut buf = Vec::new();
        let mut message = Message::new(
            "a/b".into(),
            Bytes::from_static(b"\0\xffbin"),
            QoS::AtLeastOnce,
        );
        message.properties = Some(Arc::new(PublishProperties {
            payload_format_indicator: Some(1),
            message_expiry_interval: None,
            topic_alias: None,
            response_topic: Some("r".into()),
            correlation_data: Some(Bytes::from_static(b"c")),
            user_properties: vec![("k".into(), "v".into())],
            subscription_identifiers: Vec::new(),
            content_type: Some("text/plain".into()),
        }));
        let message = Arc::new(message);
        record::session_new(&mut buf, "c", 60, Some("u"));
        record::subscribe(
            &mut buf,
            "c",
            "a/#",
            &SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: true,
                retain_as_published: false,
                id: Some(7),
            },
        );
        for _ in 0..3 {
            record::deliver(
                &mut buf,
                "c",
                &Delivery {
                    message: Arc::clone(&message),
                    qos: QoS::ExactlyOnce,
                    retain: true,
                    subscription_ids: vec![7],
                },
            );
        }
        record::sent(&mut buf, "c", 1);
        record::sent(&mut buf, "c", 2);
        record::released(&mut buf, "c", 1);
        record::done(&mut buf, "c", 2);
        record::inbound(&mut buf, "c", 9);
        record::retain(&mut buf, &message);
        let mut restored = Restored::default();
        restored.apply_all(&buf).unwrap();
        let session = &restored.sessions["c"];
        assert_eq!(session.expiry, 60);
        assert_eq!(session.username.as_deref(), Some("u"));
        assert_eq!(session.subscriptions["a/#"].id, Some(7));
        assert!(session.subscriptions["a/#"].no_local);
        assert_eq!(session.queued.len(), 1);
        assert_eq!(session.inflight.len(), 1);
        assert!(session.inflight[0].1.is_none());
        assert!(session.awaiting_pubrel.contains(&9));
        let retained = &restored.retained["a/b"];
        assert_eq!(&retained.payload[..], b"\0\xffbin");
        let p = retained.properties.as_deref().unwrap();
        assert_eq!(p.content_type.as_deref(), Some("text/plain"));
        assert_eq!(p.user_properties, vec![("k".to_owned(), "v".to_owned())]);
        // A record for a session never opened is corruption, not a panic.
        let mut bad = Vec::new();
        record::done(&mut bad, "nobody", 1);
        assert!(Restored::default().apply_all(&bad).is_err());
        assert!(
            Restored::default()
                .apply_all(&buf[..buf.len() - 1])
                .is_err()
        );
    }
}
