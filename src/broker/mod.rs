//! The embedded MQTT 5, 3.1.1 and 3.1 broker: start it on the caller's tokio runtime (port 0 in
//! tests), learn its address, stop it.
//!
//! Data flows one way: [`listener`] accepts (TCP, TLS, WebSocket), [`connection`] reads frames
//! that [`codec`] checks, the client's [`session`] handles them, [`router`] finds the subscribers
//! of a publish and [`retain`] keeps the retained ones; each subscriber's connection writes its
//! own queue.

pub mod auth;
mod codec;
pub mod config;
mod connection;
#[doc(hidden)]
pub mod fuzz;
mod keepalive;
mod listener;
pub mod log;
mod persist;
mod pump;
mod retain;
mod router;
mod session;
mod sys;
mod tls;
mod websocket;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use listener::{TlsSide, Transport};
pub use persist::{FORMAT_VERSION as PERSISTENCE_FORMAT_VERSION, PersistenceError};
use persist::{Gate, Journal};
use retain::Retained;
use router::{Message, Origin, Router};
use session::Sessions;

/// How the broker listens and the limits it applies to every client.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:1883`; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Also listen for MQTT over TLS (mqtts) here, with the certificate of [`Config::tls`].
    /// Default none.
    pub tls_bind: Option<SocketAddr>,
    /// Also listen for MQTT over WebSocket (ws) here. Default none.
    pub websocket_bind: Option<SocketAddr>,
    /// Also listen for MQTT over WebSocket over TLS (wss) here, with the certificate of
    /// [`Config::tls`]. Default none.
    pub websocket_tls_bind: Option<SocketAddr>,
    /// The certificate, key and client-certificate policy of the TLS listeners (mqtts, wss).
    /// Default none.
    pub tls: Option<Tls>,
    /// What is logged, where, with which timestamp. Default: errors only, on stderr.
    pub log: log::LogSettings,
    /// Largest packet accepted from a client, in bytes, fixed header included (as MQTT 5's
    /// maximum packet size and mosquitto's `max_packet_size` count it). A bigger packet ends its
    /// connection (MQTT 5: DISCONNECT 0x95, packet too large; an MQTT 5 CONNECT: CONNACK 0x95)
    /// from its fixed header alone, before its body is read. MQTT 5 clients are told it in the
    /// CONNACK. 0: no limit but MQTT's own (268 435 460 bytes). Default 0, as mosquitto.
    pub max_packet_size: usize,
    /// Byte budget of the messages waiting to be written to one session (payload plus topic,
    /// plus 16 bytes each). A message is always admitted into an empty queue; when full, queued
    /// QoS 0 messages are dropped first, then the new message; drops are counted
    /// ([`Broker::dropped_messages`]). 0: no limit. Default 256 MiB (mosquitto: no limit, but
    /// 1000 messages, see [`Config::max_queued_messages`]).
    pub max_queued_bytes: usize,
    /// Outgoing QoS 1 and 2 messages awaiting acknowledgement per session. MQTT 5 clients are
    /// also told it as the receive maximum (incoming QoS 2 messages awaiting PUBREL; more ends
    /// the connection with DISCONNECT 0x93). 0: no limit (65535, all the packet ids there are).
    /// Default 100 (mosquitto: 20).
    pub max_inflight: u16,
    /// How long a new connection may take to send its CONNECT (and, before that, to finish its
    /// TLS and WebSocket handshakes: as long again). Default 10 s.
    pub connect_timeout: Duration,
    /// Users and password hashes: a client giving a user name must be in it, with its password.
    /// Default none: any user name is taken as given.
    pub passwords: Option<Arc<auth::Passwords>>,
    /// Who may read and write which topics; anything not granted is denied. Default none:
    /// everything is allowed.
    pub acl: Option<Arc<auth::Acl>>,
    /// Whether a client without a user name may connect. Default true.
    pub allow_anonymous: bool,
    /// How often the `$SYS/broker/...` statistics are published (retained); zero: never.
    /// Default 10 s, as mosquitto's `sys_interval`.
    pub sys_interval: Duration,
    /// Keep retained messages, persistent sessions (subscriptions, queued and in-flight QoS
    /// 1/2 messages both ways) and delayed wills across restarts in this file, a snapshot, and
    /// `FILE.journal`, a log of every change since, written before any acknowledgement that
    /// depends on it. Read at start (a file that cannot be used fails the start with a
    /// [`PersistenceError`]); saved at start, every `autosave_interval`, when the journal passes
    /// 64 MiB and at stop. Default none: memory only, no file written.
    pub persistence_file: Option<PathBuf>,
    /// How often the snapshot is rewritten (and the journal emptied), as mosquitto's
    /// `autosave_interval`; zero saves only at start and stop (the journal keeps everything in
    /// between either way). Default 1800 s.
    pub autosave_interval: Duration,
    /// Connections at once, over all listeners, counted from the accept (before any CONNECT).
    /// One more is answered a CONNACK refusal (MQTT 5: 0x97, quota exceeded; 3.1.1 and 3.1: 3,
    /// server unavailable) once its CONNECT's first bytes say which protocol it speaks, then
    /// closed, and counted ([`Broker::refused_connections`]). (mosquitto closes it unanswered,
    /// and counts per listener.) 0: no limit. Default 0, as mosquitto's -1.
    pub max_connections: usize,
    /// Messages waiting to be written to one session, counted (besides
    /// [`Config::max_queued_bytes`]); when full, QoS 0 messages are dropped first, as for the
    /// byte budget. 0: no limit. Default 0 (mosquitto: 1000), so tests lose nothing.
    pub max_queued_messages: usize,
    /// Largest PUBLISH payload accepted, in bytes. A bigger one is not routed (nor retained),
    /// but its QoS flow is completed: MQTT 5 QoS 1 and 2 publishers get PUBACK / PUBREC 0x95
    /// (packet too large), 3.1.1 ones a plain PUBACK / PUBREC, as from mosquitto 2.0. A will
    /// that big refuses the CONNECT (MQTT 5: CONNACK 0x95; 3.1.1 and 3.1: CONNACK 5), as
    /// mosquitto does. 0: no limit. Default 0, as mosquitto.
    pub message_size_limit: usize,
    /// Largest keep alive a client may ask for, in seconds. An MQTT 5 client asking for more,
    /// or for 0 (none), is given this one as the server keep alive in its CONNACK, and held to
    /// it; a 3.1.1 or 3.1 client asking for more is refused with CONNACK 2 (identifier
    /// rejected), as mosquitto.conf(5) says (keep alive 0 is accepted from them). 0: no limit.
    /// Default 65535, as mosquitto.
    pub max_keepalive: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 1883)),
            tls_bind: None,
            websocket_bind: None,
            websocket_tls_bind: None,
            tls: None,
            log: log::LogSettings::default(),
            max_packet_size: 0,
            max_queued_bytes: 256 * 1024 * 1024,
            max_inflight: 100,
            connect_timeout: Duration::from_secs(10),
            passwords: None,
            acl: None,
            allow_anonymous: true,
            sys_interval: Duration::from_secs(10),
            persistence_file: None,
            autosave_interval: Duration::from_secs(1800),
            max_connections: 0,
            max_queued_messages: 0,
            message_size_limit: 0,
            max_keepalive: u16::MAX,
        }
    }
}

/// The largest packet MQTT can express: a 4-byte remaining length of 268 435 455, plus the
/// first byte and the length itself.
pub(crate) const MQTT_MAX_PACKET: usize = 268_435_460;

impl Config {
    /// [`Config::max_packet_size`] with 0 (no limit) made MQTT's own.
    pub(crate) fn packet_limit(&self) -> usize {
        match self.max_packet_size {
            0 => MQTT_MAX_PACKET,
            n => n.min(MQTT_MAX_PACKET),
        }
    }

    /// [`Config::max_inflight`] with 0 (no limit) made 65535.
    pub(crate) fn inflight_limit(&self) -> u16 {
        match self.max_inflight {
            0 => u16::MAX,
            n => n,
        }
    }

    /// The per-session queue limits, 0 made unlimited.
    pub(crate) fn queue_limits(&self) -> session::QueueLimits {
        let unlimited = |n: usize| if n == 0 { usize::MAX } else { n };
        session::QueueLimits {
            bytes: unlimited(self.max_queued_bytes),
            messages: unlimited(self.max_queued_messages),
        }
    }
}

/// The TLS side of [`Config`]: PEM files, read when the broker starts.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// The server certificate chain, leaf first.
    pub certfile: PathBuf,
    /// The server's private key (PKCS#8, PKCS#1 or SEC1).
    pub keyfile: PathBuf,
    /// CA certificates that client certificates must chain to. With it, clients are asked for
    /// a certificate, and one that is sent must be valid.
    pub cafile: Option<PathBuf>,
    /// Refuse clients without a valid certificate (needs `cafile`).
    pub require_certificate: bool,
    /// The client certificate's subject CN becomes the username authentication sees (a client
    /// whose certificate has none is refused).
    pub use_identity_as_username: bool,
}

/// The address each listener is bound to.
#[derive(Debug, Clone, Copy)]
struct Addresses {
    mqtt: SocketAddr,
    mqtts: Option<SocketAddr>,
    ws: Option<SocketAddr>,
    wss: Option<SocketAddr>,
}

/// What [`Broker::reload`] can change while clients stay connected (mosquitto's SIGHUP).
#[derive(Debug, Clone, Default)]
pub struct Reload {
    pub passwords: Option<Arc<auth::Passwords>>,
    pub acl: Option<Arc<auth::Acl>>,
    pub log: log::LogSettings,
}

/// The password file and ACL in force: replaced whole by a reload.
#[derive(Default)]
struct Access {
    passwords: Option<Arc<auth::Passwords>>,
    acl: Option<Arc<auth::Acl>>,
}

/// What every connection task shares: the limits, the sessions, the subscriptions, the retained
/// messages.
pub(crate) struct Shared {
    /// The configuration the broker started with; its passwords, ACL and log settings may have
    /// been replaced since (see [`Shared::acl`], [`Shared::logger`]).
    pub config: Config,
    access: std::sync::RwLock<Access>,
    pub logger: log::Logger,
    pub sessions: Sessions,
    pub router: Router,
    pub retained: Retained,
    /// Messages dropped because a subscriber's queue was full.
    pub dropped: AtomicU64,
    /// Traffic counters, for `$SYS`.
    pub stats: Arc<sys::Stats>,
    /// The persistence files, with [`Config::persistence_file`].
    pub journal: Option<Arc<Journal>>,
    /// Connections open now (from accept to close), against `max_connections`.
    pub open_connections: AtomicUsize,
    /// Connections refused because `max_connections` were open.
    pub refused_connections: AtomicU64,
    /// Refused connections still being answered (their CONNACK), kept few.
    pub refusing: AtomicUsize,
    /// Connections accepted and not yet ended (handshakes included).
    pub connections: AtomicUsize,
    /// Set when the broker stops: connections end when they see it (they are woken for it).
    stopping: AtomicBool,
    /// Turns true when the broker stops: for handshakes and timers to watch.
    pub shutdown: watch::Receiver<bool>,
    /// Woken when the last connection task ends (while the broker stops).
    connections_ended: tokio::sync::Notify,
    /// Wakes connections whose keep-alive deadline has come.
    pub keep_alives: Arc<keepalive::KeepAlives>,
}

/// How often the journal is written when nothing else writes it (acks from subscribers, QoS 0
/// retained messages: changes nobody waits for), and checked for a save it needs (too long, or
/// a failed write to repair).
const JOURNAL_FLUSH_INTERVAL: Duration = Duration::from_millis(200);

impl Shared {
    fn new(
        config: Config,
        journal: Option<Arc<Journal>>,
        shutdown: watch::Receiver<bool>,
    ) -> io::Result<Self> {
        let logger = log::Logger::new(config.log.clone())
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err.to_string()))?;
        let access = Access {
            passwords: config.passwords.clone(),
            acl: config.acl.clone(),
        };
        Ok(Shared {
            config,
            access: std::sync::RwLock::new(access),
            logger,
            sessions: Sessions::new(journal.clone()),
            router: Router::default(),
            retained: Retained::new(journal.clone()),
            dropped: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
            open_connections: AtomicUsize::new(0),
            refused_connections: AtomicU64::new(0),
            refusing: AtomicUsize::new(0),
            stats: Arc::default(),
            journal,
            stopping: AtomicBool::new(false),
            shutdown,
            connections_ended: tokio::sync::Notify::new(),
            keep_alives: Arc::new(keepalive::KeepAlives::new()),
        })
    }

    /// Whether the broker is stopping: a connection that sees it ends.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Make every served connection end (those still in their handshake watch the shutdown
    /// channel instead): the flag first, then a wake-up for each, so none waits past it.
    pub fn stop_connections(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.sessions.wake_all();
    }

    /// One connection task fewer: the last one wakes whoever waits for them all to end.
    fn connection_ended(&self) {
        if self.connections.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.connections_ended.notify_waiters();
        }
    }

    /// Wait (at most `limit`) until no connection task is left; false if some still are.
    pub async fn connections_end(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, async {
            loop {
                let ended = self.connections_ended.notified();
                if self.connections.load(Ordering::SeqCst) == 0 {
                    return;
                }
                ended.await;
            }
        })
        .await
        .is_ok()
    }

    /// With persistence, the gate: hold it while changing sessions or retained messages (a read
    /// batch, a write batch, a connect or disconnect), never across an await. Taking it again
    /// on the same thread is a no-op.
    pub fn hold(&self) -> Option<Gate<'_>> {
        self.journal.as_ref().map(|journal| journal.gate())
    }

    /// With persistence, write the journal records so far: call before writing to a socket
    /// anything that depends on them (not while holding the gate).
    pub fn flush_journal(&self) -> io::Result<()> {
        match &self.journal {
            Some(journal) => journal.flush(),
            None => Ok(()),
        }
    }

    /// With persistence, write a new snapshot and start a new journal.
    fn save(&self) -> Result<(), PersistenceError> {
        match &self.journal {
            Some(journal) => journal.save(|buf| {
                self.retained.capture(buf);
                self.sessions.capture(buf);
            }),
            None => Ok(()),
        }
    }

    fn access(&self) -> std::sync::RwLockReadGuard<'_, Access> {
        self.access
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ACL in force (None: everything is allowed).
    pub fn acl(&self) -> Option<Arc<auth::Acl>> {
        self.access().acl.clone()
    }

    /// Store the message if retained, then hand it to every matching subscriber (but not to a
    /// no-local subscription of `publisher`, the client it comes from). Returns whether any
    /// subscription matched (MQTT 5's PUBACK 0x10 when none did).
    pub fn publish(&self, message: Arc<Message>, retain: bool, publisher: Option<&str>) -> bool {
        // Callers in a read batch hold it already; any other (a will, a timer) gets it here.
        let _gate = self.hold();
        if retain {
            self.retained.store(&message);
        }
        let routed = self.router.fan_out(
            &message,
            Origin { publisher, retain },
            self.config.queue_limits(),
            self.acl().as_deref(),
        );
        self.count_dropped(routed.dropped);
        routed.matched > 0
    }

    /// The CONNECT check against the password file and `allow_anonymous`. A `certified` user name
    /// (a TLS client certificate's identity) needs no password.
    pub fn authenticate(
        &self,
        username: Option<&str>,
        password: Option<&str>,
        certified: bool,
    ) -> Result<(), auth::Refusal> {
        if certified {
            return Ok(());
        }
        auth::authenticate(
            self.access().passwords.as_deref(),
            self.config.allow_anonymous,
            username,
            password,
        )
    }

    /// Whether the client may write to `topic_name`: never to `$SYS` (the broker's own, as in
    /// mosquitto), elsewhere as the ACL (when there is one) says.
    pub fn may_write(&self, client_id: &str, username: Option<&str>, topic_name: &str) -> bool {
        !topic_name.starts_with("$SYS")
            && self
                .acl()
                .is_none_or(|acl| acl.allows(client_id, username, topic_name, auth::Access::Write))
    }

    pub fn count_dropped(&self, dropped: u64) {
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// Log an event: a connection, a disconnection, a refusal.
    pub fn log(&self, line: std::fmt::Arguments<'_>) {
        self.logger.log(log::LogLevel::Events, line);
    }

    /// Log an error (shown at every level).
    pub fn log_error(&self, line: std::fmt::Arguments<'_>) {
        self.logger.log(log::LogLevel::Errors, line);
    }

    /// Whether packets are logged: check before building their description.
    pub fn logs_packets(&self) -> bool {
        self.logger.enabled(log::LogLevel::Packets)
    }

    pub fn log_packet(&self, line: std::fmt::Arguments<'_>) {
        self.logger.log(log::LogLevel::Packets, line);
    }

    /// Replace the password file, the ACL and the log settings (the log file is reopened).
    /// Connected clients stay; the new rules apply to what they do next.
    fn reload(&self, reload: Reload) -> io::Result<()> {
        self.logger.apply(reload.log)?;
        let mut access = self
            .access
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        access.passwords = reload.passwords;
        access.acl = reload.acl;
        Ok(())
    }
}

/// Resolves once the broker is stopping (or its handle is gone).
pub(crate) async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // The Ref returned by wait_for is not Send: drop it here, before any caller awaits again.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// A running broker on the caller's tokio runtime. Dropping it without [`Broker::stop`] still
/// stops it, without waiting.
pub struct Broker {
    addresses: Addresses,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    accept_tasks: Vec<JoinHandle<()>>,
    /// With persistence: the periodic journal flush and autosave.
    persistence_tasks: Vec<JoinHandle<()>>,
}

impl Broker {
    /// Load the TLS files, bind every listener (port 0 is fine), spawn the accept loops, and
    /// return once listening. A certificate, key or CA file that cannot be used is an error of
    /// kind `InvalidInput`; an address that cannot be bound keeps its kind (`AddrInUse`, ...).
    /// Either message is one line that names the file or the address. With a persistence file,
    /// its state is loaded first; a file that cannot be used (or written) is an error wrapping a
    /// [`PersistenceError`].
    pub async fn start(config: Config) -> io::Result<Broker> {
        let journal = config
            .persistence_file
            .as_deref()
            .map(|path| Arc::new(Journal::new(path)));
        let restored = match &journal {
            Some(journal) => Some(journal.load().map_err(PersistenceError::into_io)?),
            None => None,
        };
        let wants_tls = config.tls_bind.is_some() || config.websocket_tls_bind.is_some();
        let tls_side = match &config.tls {
            Some(files) if wants_tls => Some(TlsSide {
                acceptor: tls::acceptor(files)?,
                use_identity_as_username: files.use_identity_as_username,
            }),
            _ => None,
        };
        let tls_side = || {
            tls_side.clone().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a TLS listener needs a certificate and a key",
                )
            })
        };
        let mut wanted = vec![(config.bind, Transport::Mqtt)];
        if let Some(bind) = config.tls_bind {
            wanted.push((bind, Transport::Mqtts(tls_side()?)));
        }
        if let Some(bind) = config.websocket_bind {
            wanted.push((bind, Transport::Ws));
        }
        if let Some(bind) = config.websocket_tls_bind {
            wanted.push((bind, Transport::Wss(tls_side()?)));
        }
        let mut bound = Vec::with_capacity(wanted.len());
        let mut addresses = Addresses {
            mqtt: config.bind,
            mqtts: None,
            ws: None,
            wss: None,
        };
        for (bind, transport) in wanted {
            let cannot = |err: io::Error| {
                io::Error::new(err.kind(), format!("cannot listen on {bind}: {err}"))
            };
            let listener = TcpListener::bind(bind).await.map_err(cannot)?;
            let addr = listener.local_addr().map_err(cannot)?;
            match transport {
                Transport::Mqtt => addresses.mqtt = addr,
                Transport::Mqtts(_) => addresses.mqtts = Some(addr),
                Transport::Ws => addresses.ws = Some(addr),
                Transport::Wss(_) => addresses.wss = Some(addr),
            }
            bound.push((listener, transport));
        }
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared::new(config, journal, shutdown_rx.clone())?);
        shared.keep_alives.start(&shutdown_rx);
        let mut persistence_tasks = Vec::new();
        if let Some(restored) = restored {
            shared.retained.restore(restored.retained);
            let sessions = shared.sessions.restore(restored.sessions, &shared.router);
            // Expiry intervals count again from now: the time spent stopped is not counted.
            for (session, link_id) in &sessions {
                let expiry = session.expiry();
                if expiry != session::NEVER_EXPIRES {
                    let keep_for = Duration::from_secs(u64::from(expiry));
                    let session = Arc::clone(session);
                    connection::expire_later(&shared, session, *link_id, keep_for, &shutdown_rx);
                }
            }
            // Delayed wills keep their time (an overdue one goes out now).
            for (client_id, mut will) in restored.wills {
                let Some((session, link_id)) = sessions
                    .iter()
                    .find(|(session, _)| *session.client_id == *client_id)
                else {
                    continue; // its session is gone, and the will with it
                };
                will.link_id = *link_id;
                if let Some(journal) = &shared.journal {
                    journal.will_pending(&client_id, will.clone());
                }
                let session = Arc::clone(session);
                connection::schedule_will(&shared, session, client_id, will, &shutdown_rx);
            }
            // Saved right away: the start fails now if the file cannot be written, and the
            // journal read is folded into the snapshot.
            shared.save().map_err(PersistenceError::into_io)?;
            persistence_tasks.push(tokio::spawn(flush_journal_periodically(
                Arc::clone(&shared),
                shutdown_rx.clone(),
            )));
            let interval = shared.config.autosave_interval;
            if !interval.is_zero() {
                persistence_tasks.push(tokio::spawn(autosave(
                    Arc::clone(&shared),
                    interval,
                    shutdown_rx.clone(),
                )));
            }
        }
        let mut accept_tasks: Vec<JoinHandle<()>> = bound
            .into_iter()
            .map(|(listener, transport)| {
                tokio::spawn(listener::accept_loop(
                    listener,
                    transport,
                    Arc::clone(&shared),
                    shutdown_rx.clone(),
                ))
            })
            .collect();
        let sys_interval = shared.config.sys_interval;
        if !sys_interval.is_zero() {
            accept_tasks.push(tokio::spawn(sys::publish_every(
                Arc::clone(&shared),
                sys_interval,
                shutdown_rx.clone(),
            )));
        }
        Ok(Broker {
            addresses,
            shared,
            shutdown,
            accept_tasks,
            persistence_tasks,
        })
    }

    /// The address actually bound (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addresses.mqtt
    }

    /// The bound address of the MQTT over TLS listener, if there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.addresses.mqtts
    }

    /// The bound address of the WebSocket listener, if there is one.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.addresses.ws
    }

    /// The bound address of the WebSocket over TLS listener, if there is one.
    pub fn wss_addr(&self) -> Option<SocketAddr> {
        self.addresses.wss
    }

    /// How many messages were dropped so far because a subscriber's queue was full.
    pub fn dropped_messages(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// How many subscriptions the broker holds now (one per client and filter): lets a test
    /// wait until its subscribers are in place before it publishes.
    pub fn subscriptions(&self) -> usize {
        self.shared.router.count()
    }

    /// How many sessions the broker holds now, online or kept for a client that is away.
    pub fn sessions(&self) -> usize {
        self.shared.sessions.count()
    }

    /// How many client connections are open now, from accept to close (handshakes included).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// How many connections were refused so far because `max_connections` were open.
    pub fn refused_connections(&self) -> u64 {
        self.shared.refused_connections.load(Ordering::Relaxed)
    }

    /// Messages waiting in every session's queue now, and their bytes as counted against
    /// `max_queued_bytes` (not those in flight).
    pub fn queued(&self) -> (usize, usize) {
        self.shared.sessions.queued()
    }

    /// Write an event line to the broker's log (as its connection lines).
    pub fn log(&self, line: std::fmt::Arguments<'_>) {
        self.shared.log(line);
    }

    /// Write an error line to the broker's log.
    pub fn log_error(&self, line: std::fmt::Arguments<'_>) {
        self.shared.log_error(line);
    }

    /// Replace the password file, the ACL and the log settings while clients stay connected
    /// (what SIGHUP does to `skeeter broker`). A log file that cannot be opened is an error,
    /// and nothing changes.
    pub fn reload(&self, reload: Reload) -> io::Result<()> {
        self.shared.reload(reload)
    }

    /// Write the persistence snapshot now (and start a new journal); Ok without persistence.
    pub async fn save(&self) -> io::Result<()> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || shared.save())
            .await
            .map_err(io::Error::other)?
            .map_err(PersistenceError::into_io)
    }

    /// Stop accepting, close every connection, wait for every task to end, and save the
    /// persistence file (a failure is reported on stderr; [`Broker::try_stop`] returns it).
    pub async fn stop(self) {
        if let Err(err) = self.try_stop().await {
            crate::say!("skeeter: error: {err}");
        }
    }

    /// [`Broker::stop`], returning the error of the last save (with persistence).
    pub async fn try_stop(mut self) -> io::Result<()> {
        self.shutdown.send_replace(true);
        self.shared.stop_connections();
        // An accept task only ends after joining every connection task.
        for task in &mut self.accept_tasks {
            let _ = task.await;
        }
        for task in &mut self.persistence_tasks {
            let _ = task.await;
        }
        self.save().await
    }
}

async fn flush_journal_periodically(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(JOURNAL_FLUSH_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // A failure is reported by the journal, and makes every writer refuse to send.
                let _ = shared.flush_journal();
                if shared.journal.as_ref().is_some_and(|journal| journal.needs_save()) {
                    let saving = Arc::clone(&shared);
                    if let Ok(Err(err)) = tokio::task::spawn_blocking(move || saving.save()).await {
                        crate::say!("skeeter broker: error: {err}");
                    }
                }
            }
            _ = stopping(&mut shutdown) => return,
        }
    }
}

async fn autosave(shared: Arc<Shared>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {
                let saving = Arc::clone(&shared);
                if let Ok(Err(err)) = tokio::task::spawn_blocking(move || saving.save()).await {
                    crate::say!("skeeter broker: error: {err}");
                }
            }
            _ = stopping(&mut shutdown) => return,
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        self.shared.stop_connections();
    }
}

/// A broker on its own multi-thread runtime in a background thread, for synchronous code and
/// tests (assert_cmd). Stops on drop.
pub struct BackgroundBroker {
    addresses: Addresses,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl BackgroundBroker {
    /// Start the runtime thread and the broker; return once it listens.
    pub fn start(config: Config) -> io::Result<BackgroundBroker> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("skeeter-broker".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Broker::start(config).await {
                        Ok(broker) => {
                            let ready = (broker.addresses, Arc::clone(&broker.shared));
                            let _ = ready_tx.send(Ok(ready));
                            // A dropped sender (BackgroundBroker dropped) also means stop.
                            let _ = stop_rx.await;
                            broker.stop().await;
                        }
                        Err(err) => {
                            let _ = ready_tx.send(Err(err));
                        }
                    }
                });
            })?;
        let (addresses, shared) = match ready_rx.recv() {
            Ok(Ok(ready)) => ready,
            failed => {
                let _ = thread.join();
                return Err(match failed {
                    Ok(Err(err)) => err,
                    _ => io::Error::other("the broker thread ended before listening"),
                });
            }
        };
        Ok(BackgroundBroker {
            addresses,
            stop: Some(stop_tx),
            thread: Some(thread),
            shared,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addresses.mqtt
    }

    /// The bound address of the MQTT over TLS listener, if there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.addresses.mqtts
    }

    /// The bound address of the WebSocket listener, if there is one.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.addresses.ws
    }

    /// The bound address of the WebSocket over TLS listener, if there is one.
    pub fn wss_addr(&self) -> Option<SocketAddr> {
        self.addresses.wss
    }

    /// How many messages were dropped so far because a subscriber's queue was full.
    pub fn dropped_messages(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// How many subscriptions the broker holds now (one per client and filter): lets a test
    /// wait until its subscribers are in place before it publishes.
    pub fn subscriptions(&self) -> usize {
        self.shared.router.count()
    }

    /// As [`Broker::reload`].
    pub fn reload(&self, reload: Reload) -> io::Result<()> {
        self.shared.reload(reload)
    }

    /// How many connections were refused so far because `max_connections` were open.
    pub fn refused_connections(&self) -> u64 {
        self.shared.refused_connections.load(Ordering::Relaxed)
    }

    /// Messages waiting in every session's queue now, and their bytes as counted against
    /// `max_queued_bytes` (not those in flight).
    pub fn queued(&self) -> (usize, usize) {
        self.shared.sessions.queued()
    }

    /// How many sessions the broker holds now, online or kept for a client that is away.
    pub fn sessions(&self) -> usize {
        self.shared.sessions.count()
    }

    /// How many client connections are open now, from accept to close (handshakes included).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Stop the broker and wait for its thread to end.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for BackgroundBroker {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
