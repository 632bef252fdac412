//! The accept loops, one per listener (mqtt, mqtts, ws, wss): each connection gets its own task
//! at once, and its TLS and WebSocket handshakes run in that task, bounded by the connect
//! timeout, so a slow or broken handshake never delays the next accept.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::connection::{self, Peer};
use super::{Shared, stopping, tls, websocket};

/// How long connections get to end by themselves after stop() before they are aborted.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Connections over max_connections answered at once; more are closed unanswered, as
/// mosquitto closes them all.
const REFUSALS_AT_ONCE: usize = 64;

/// What a listener speaks on top of TCP.
#[derive(Clone)]
pub(crate) enum Transport {
    Mqtt,
    Mqtts(TlsSide),
    Ws,
    Wss(TlsSide),
}

/// The TLS acceptor, and whether the client certificate's CN is the username.
#[derive(Clone)]
pub(crate) struct TlsSide {
    pub acceptor: TlsAcceptor,
    pub use_identity_as_username: bool,
}

impl Transport {
    /// The URL scheme, as printed and logged.
    pub fn scheme(&self) -> &'static str {
        match self {
            Transport::Mqtt => "mqtt",
            Transport::Mqtts(_) => "mqtts",
            Transport::Ws => "ws",
            Transport::Wss(_) => "wss",
        }
    }
}

/// Accept until shutdown, then close the port and wait for every connection task to end (for
/// SHUTDOWN_GRACE at most: each ends by itself once the broker stops).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    transport: Transport,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            _ = stopping(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let Some(admission) = Admission::of(&shared) else {
                        shared.log(format_args!(
                            "connection from {addr} closed (max_connections {} reached)",
                            shared.config.max_connections
                        ));
                        continue;
                    };
                    // Not kept in a JoinSet: that would cost every idle connection an entry.
                    // Admission counts the tasks, for the wait below.
                    match transport {
                        // Most connections: their task is the connection's future and no more.
                        Transport::Mqtt if !admission.refused => {
                            tokio::spawn(plain(stream, addr, admission));
                        }
                        _ => {
                            let (shared, shutdown) = (Arc::clone(&shared), shutdown.clone());
                            let transport = transport.clone();
                            tokio::spawn(open(stream, addr, transport, shared, shutdown, admission));
                        }
                    }
                }
                Err(err) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    shared.log_error(format_args!("accept failed: {err}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    if !shared.connections_end(SHUTDOWN_GRACE).await {
        shared.log_error(format_args!(
            "{} connections still open after {} s of stopping",
            shared.connections.load(Ordering::SeqCst),
            SHUTDOWN_GRACE.as_secs()
        ));
    }
}

/// A connection's place under max_connections, given back when its task ends; while it lives,
/// the connection counts in [`Shared::connections`] (from accept to close).
pub(crate) struct Admission {
    shared: Arc<Shared>,
    /// Over the limit: to be answered a refusal (counted in `refusing`, not `open_connections`).
    refused: bool,
}

impl Admission {
    /// A place for a new connection; or one among those answered a refusal; or, when too many
    /// are being refused already, None: close it at once. Refusals are counted.
    fn of(shared: &Arc<Shared>) -> Option<Admission> {
        let max = shared.config.max_connections;
        let open = shared.open_connections.fetch_add(1, Ordering::SeqCst);
        let refused = !(max == 0 || open < max);
        if refused {
            shared.open_connections.fetch_sub(1, Ordering::SeqCst);
            shared.refused_connections.fetch_add(1, Ordering::Relaxed);
            if shared.refusing.fetch_add(1, Ordering::SeqCst) >= REFUSALS_AT_ONCE {
                shared.refusing.fetch_sub(1, Ordering::SeqCst);
                return None;
            }
        }
        shared.connections.fetch_add(1, Ordering::SeqCst);
        Some(Admission {
            shared: Arc::clone(shared),
            refused,
        })
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let count = if self.refused {
            &self.shared.refusing
        } else {
            &self.shared.open_connections
        };
        count.fetch_sub(1, Ordering::SeqCst);
        self.shared.connection_ended();
    }
}

/// MQTT on a connection whose transport handshakes are done: served, or refused when it came
/// over max_connections.
async fn mqtt<S>(stream: S, peer: Peer, shared: Arc<Shared>, admission: Admission)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if admission.refused {
        connection::turn_away(stream, peer.addr, &shared).await;
        drop(admission);
    } else {
        connection::serve(stream, peer, shared, admission).await;
    }
}

/// A plain MQTT connection with its place under max_connections: served, in a future that
/// holds the connection and nothing of the accept.
fn plain(
    stream: TcpStream,
    addr: SocketAddr,
    admission: Admission,
) -> impl Future<Output = ()> + Send + 'static {
    let _ = stream.set_nodelay(true);
    let peer = Peer {
        addr,
        transport: Transport::Mqtt.scheme(),
        identity: None,
    };
    let shared = Arc::clone(&admission.shared);
    connection::serve(stream, peer, shared, admission)
}

/// One accepted connection over TLS or WebSocket, or refused: its transport handshakes
/// (within the connect timeout), then MQTT.
async fn open(
    stream: TcpStream,
    addr: SocketAddr,
    transport: Transport,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    admission: Admission,
) {
    let _ = stream.set_nodelay(true);
    secure_or_upgrade(stream, addr, transport, shared, shutdown, admission).await
}

/// TLS and WebSocket connections: the handshakes, then MQTT.
async fn secure_or_upgrade(
    stream: TcpStream,
    addr: SocketAddr,
    transport: Transport,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    admission: Admission,
) {
    let scheme = transport.scheme();
    let peer = |identity| Peer {
        addr,
        transport: scheme,
        identity,
    };
    let deadline = Instant::now() + shared.config.connect_timeout;
    let max_packet_size = shared.config.packet_limit();
    let failed = |why: String| {
        shared.log(format_args!(
            "connection from {addr} over {scheme} failed ({why})"
        ));
    };
    match transport {
        Transport::Mqtt => mqtt(stream, peer(None), shared, admission).await,
        Transport::Ws => {
            let upgraded = websocket::accept(stream, max_packet_size);
            match step(deadline, &mut shutdown, upgraded).await {
                Ok(stream) => mqtt(stream, peer(None), shared, admission).await,
                Err(why) => failed(why),
            }
        }
        Transport::Mqtts(side) => {
            let secured = secure(stream, &side);
            match step(deadline, &mut shutdown, secured).await {
                Ok((stream, identity)) => mqtt(stream, peer(identity), shared, admission).await,
                Err(why) => failed(why),
            }
        }
        Transport::Wss(side) => {
            let secured_and_upgraded = async {
                let (stream, identity) = secure(stream, &side).await?;
                let stream = websocket::accept(stream, max_packet_size).await?;
                Ok::<_, String>((stream, identity))
            };
            match step(deadline, &mut shutdown, secured_and_upgraded).await {
                Ok((stream, identity)) => mqtt(stream, peer(identity), shared, admission).await,
                Err(why) => failed(why),
            }
        }
    }
}

/// A handshake step, bounded by the deadline and abandoned when the broker stops.
async fn step<T, E: fmt::Display>(
    deadline: Instant,
    shutdown: &mut watch::Receiver<bool>,
    handshake: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    tokio::select! {
        result = timeout_at(deadline, handshake) => match result {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err("handshake not done in time".into()),
        },
        _ = stopping(shutdown) => Err("broker stopping".into()),
    }
}

/// The TLS handshake; with use_identity_as_username, the client certificate's CN too.
async fn secure(
    stream: TcpStream,
    side: &TlsSide,
) -> Result<(TlsStream<TcpStream>, Option<String>), String> {
    let stream = side
        .acceptor
        .accept(stream)
        .await
        .map_err(|err| format!("TLS handshake failed: {err}"))?;
    if !side.use_identity_as_username {
        return Ok((stream, None));
    }
    let identity = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| tls::common_name(cert));
    match identity {
        Some(identity) => Ok((stream, Some(identity))),
        None => Err("no client certificate common name to use as username".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle plain-MQTT connection's task is reserved in full for the connection's whole
    /// life: its future must stay small enough for tokio's task cell (the future plus about 104
    /// bytes, in steps of 128) to stay at 256 bytes.
    #[tokio::test]
    async fn a_connection_task_fits_in_256_bytes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let config = super::super::Config::default();
        let shared = Arc::new(Shared::new(config, None, shutdown).unwrap());
        let admission = Admission::of(&shared).unwrap();
        let task = plain(stream, peer, admission);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 152, "the connection's future is {size} bytes");
        drop(task);
        drop(client);
    }
}
