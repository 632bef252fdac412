//! The embedded MQTT 3.1.1 (and 3.1) broker: start it on the caller's tokio runtime (port 0 in
//! tests), learn its address, stop it.
//!
//! Data flows one way: [`listener`] accepts, [`connection`] reads frames that [`codec`] checks,
//! the client's [`session`] handles them, [`router`] finds the subscribers of a publish and
//! [`retain`] keeps the retained ones; each subscriber's connection writes its own queue.

mod codec;
mod connection;
mod listener;
mod retain;
mod router;
mod session;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use retain::Retained;
use router::{Message, Router};
use session::Sessions;

/// How the broker listens and the limits it applies to every client.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:1883`; port 0 picks a free port.
    pub bind: SocketAddr,
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
    /// Default 100.
    pub max_inflight: u16,
    /// How long a new connection may take to send its CONNECT. Default 10 s.
    pub connect_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 1883)),
            verbose: false,
            max_packet_size: 268_435_455,
            max_queued_bytes: 256 * 1024 * 1024,
            max_inflight: 100,
            connect_timeout: Duration::from_secs(10),
        }
    }
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
}

impl Shared {
    fn new(config: Config) -> Self {
        Shared {
            config,
            sessions: Sessions::default(),
            router: Router::default(),
            retained: Retained::default(),
            dropped: AtomicU64::new(0),
        }
    }

    /// Store the message if retained, then hand it to every matching subscriber.
    pub fn publish(&self, message: Arc<Message>, retain: bool) {
        if retain {
            self.retained.store(&message);
        }
        let dropped = self.router.fan_out(&message, self.config.max_queued_bytes);
        self.count_dropped(dropped);
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
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
}

impl Broker {
    /// Bind (port 0 is fine), spawn the accept loop, and return once listening.
    pub async fn start(config: Config) -> io::Result<Broker> {
        let listener = TcpListener::bind(config.bind).await?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let accept_task = tokio::spawn(listener::accept_loop(
            listener,
            Arc::clone(&shared),
            shutdown_rx,
        ));
        Ok(Broker {
            local_addr,
            shared,
            shutdown,
            accept_task,
        })
    }

    /// The address actually bound (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
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

    /// Stop accepting, close every connection, and wait for every task to end.
    pub async fn stop(mut self) {
        self.shutdown.send_replace(true);
        // The accept task only ends after joining every connection task.
        let _ = (&mut self.accept_task).await;
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
    local_addr: SocketAddr,
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
                            let ready = (broker.local_addr(), Arc::clone(&broker.shared));
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
        let (local_addr, shared) = match ready_rx.recv() {
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
            local_addr,
            stop: Some(stop_tx),
            thread: Some(thread),
            shared,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
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
