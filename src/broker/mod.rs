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
mod listener;
mod retain;
mod router;
mod session;
mod tls;
mod websocket;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use listener::{TlsSide, Transport};
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
    /// Log connects and disconnects on stderr. Default off.
    pub verbose: bool,
    /// Largest remaining length accepted from a client; a bigger packet closes its connection
    /// before its body is buffered. Default 268 435 455, the MQTT maximum.
    pub max_packet_size: usize,
    /// Byte budget of the messages waiting to be written to one session (payload plus topic).
    /// A message is always admitted into an empty queue; when full, queued QoS 0 messages are
    /// dropped first. Default 256 MiB.
    pub max_queued_bytes: usize,
    /// Outgoing QoS 1 and 2 messages awaiting acknowledgement per session; 0 counts as 1.
    /// MQTT 5 clients are also told it as the receive maximum (incoming QoS 2 messages awaiting
    /// PUBREL; more ends the connection with DISCONNECT 0x93). Default 100.
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 1883)),
            tls_bind: None,
            websocket_bind: None,
            websocket_tls_bind: None,
            tls: None,
            verbose: false,
            max_packet_size: 268_435_455,
            max_queued_bytes: 256 * 1024 * 1024,
            max_inflight: 100,
            connect_timeout: Duration::from_secs(10),
            passwords: None,
            acl: None,
            allow_anonymous: true,
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

/// What every connection task shares: the limits, the sessions, the subscriptions, the retained
/// messages.
pub(crate) struct Shared {
    pub config: Config,
    pub sessions: Sessions,
    pub router: Router,
    pub retained: Retained,
    /// Messages dropped because a subscriber's queue was full.
    pub dropped: AtomicU64,
    /// Connections accepted and not yet ended (handshakes included).
    pub connections: AtomicUsize,
}

impl Shared {
    fn new(config: Config) -> Self {
        Shared {
            config,
            sessions: Sessions::default(),
            router: Router::default(),
            retained: Retained::default(),
            dropped: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
        }
    }

    /// Store the message if retained, then hand it to every matching subscriber (but not to a
    /// no-local subscription of `publisher`, the client it comes from). Returns whether any
    /// subscription matched (MQTT 5's PUBACK 0x10 when none did).
    pub fn publish(&self, message: Arc<Message>, retain: bool, publisher: Option<&str>) -> bool {
        if retain {
            self.retained.store(&message);
        }
        let routed = self.router.fan_out(
            &message,
            Origin { publisher, retain },
            self.config.max_queued_bytes,
            self.config.acl.as_deref(),
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
            self.config.passwords.as_deref(),
            self.config.allow_anonymous,
            username,
            password,
        )
    }

    /// Whether the ACL (when there is one) lets the client write to `topic_name`.
    pub fn may_write(&self, client_id: &str, username: Option<&str>, topic_name: &str) -> bool {
        self.config
            .acl
            .as_ref()
            .is_none_or(|acl| acl.allows(client_id, username, topic_name, auth::Access::Write))
    }

    pub fn count_dropped(&self, dropped: u64) {
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
    }

    pub fn log(&self, line: std::fmt::Arguments<'_>) {
        if self.config.verbose {
            crate::say!("skeeter broker: {line}");
        }
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
}

impl Broker {
    /// Load the TLS files, bind every listener (port 0 is fine), spawn the accept loops, and
    /// return once listening. A certificate, key or CA file that cannot be used is an error of
    /// kind `InvalidInput`; an address that cannot be bound keeps its kind (`AddrInUse`, ...).
    /// Either message is one line that names the file or the address.
    pub async fn start(config: Config) -> io::Result<Broker> {
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
        let shared = Arc::new(Shared::new(config));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let accept_tasks = bound
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
        Ok(Broker {
            addresses,
            shared,
            shutdown,
            accept_tasks,
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

    /// Stop accepting, close every connection, and wait for every task to end.
    pub async fn stop(mut self) {
        self.shutdown.send_replace(true);
        // An accept task only ends after joining every connection task.
        for task in &mut self.accept_tasks {
            let _ = task.await;
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
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
