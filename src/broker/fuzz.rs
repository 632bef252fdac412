//! The in-process entry of the fuzz target (`fuzz/`, cargo-fuzz) and of the test that replays
//! its corpus: arbitrary bytes become the streams of a few simulated clients of one broker
//! state, served by the real connection code over in-memory pipes. Time is tokio's paused
//! clock, so connect timeouts, keep-alive, will delays and session expiry all fire at once,
//! without a real sleep. Not a stable API.
//!
//! Input layout: one flags byte, then up to [`MAX_CLIENTS`] segments, each a big-endian `u16`
//! length and that many bytes (the last one may be cut short): one client connection each, in
//! order, every one opened while the earlier ones are still served.
//!
//! Flags: bit 0 small limits (packet size, queue, in-flight window); bit 1 an ACL; bit 2 the
//! clients never close their side (keep-alive and timeouts end them; otherwise they close once
//! every client has written its bytes); bit 3 bytes are written a few at a time (frames arrive cut up); bits 4-7 the size
//! of those pieces.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::connection::{self, Peer};
use super::{Config, Shared, auth};

/// Connections one input opens at most.
pub const MAX_CLIENTS: usize = 4;

/// Virtual time each client gets after the previous one started, before the next one does.
const STAGGER: Duration = Duration::from_millis(10);
/// Virtual time the whole run may take before the broker is stopped: longer than the longest
/// keep-alive (65 535 s times 1.5), so every client is ended by its own rules first.
const RUN_LIMIT: Duration = Duration::from_secs(200_000);

/// The ACL of flag bit 1: some grants for anonymous clients, a user and patterns.
const ACL: &str = "topic read a/#\ntopic write a/b\ntopic deny a/secret\n\
                   topic readwrite $SYS/#\nuser u\ntopic readwrite #\n\
                   pattern readwrite c/%c/#\npattern read u/%u/+\n";

/// Feed `bytes` (see the module doc for its layout) to a broker as the streams of up to
/// [`MAX_CLIENTS`] clients, and serve them until they end. Returns how many bytes the broker
/// wrote back to the clients. Panics only if the broker does.
#[doc(hidden)]
pub fn run_connection(bytes: &[u8]) -> usize {
    let Some((&flags, mut rest)) = bytes.split_first() else {
        return 0;
    };
    let mut segments = Vec::new();
    while segments.len() < MAX_CLIENTS && rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        segments.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    let mut config = Config {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        connect_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    if flags & 0x01 != 0 {
        config.max_packet_size = 1024;
        config.max_queued_bytes = 512;
        config.max_inflight = 2;
    }
    if flags & 0x02 != 0 {
        config.acl = auth::Acl::parse(ACL).ok().map(Arc::new);
    }
    let keep_open = flags & 0x04 != 0;
    let piece = (flags & 0x08 != 0).then_some(usize::from(flags >> 4) + 1);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(async move {
        let mut clients = Vec::new();
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(config, None, stopped).expect("no log file to open"));
        let (close, closing) = watch::channel(false);
        let mut served = JoinSet::new();
        for (n, segment) in segments.into_iter().enumerate() {
            let (client, broker_side) = tokio::io::duplex(64 * 1024);
            let peer = Peer {
                addr: SocketAddr::from(([127, 0, 0, 1], 40_000 + n as u16)),
                transport: "mqtt",
                identity: None,
            };
            served.spawn(connection::serve(
                broker_side,
                peer,
                Arc::clone(&shared),
                (),
            ));
            let closing = (!keep_open).then(|| closing.clone());
            clients.push(tokio::spawn(play(client, segment, piece, closing)));
            tokio::time::sleep(STAGGER).await;
        }
        close.send_replace(true);
        let ended = tokio::time::timeout(RUN_LIMIT, join_all(&mut served)).await;
        if ended.is_ok() {
            check_consistent(&shared);
        }
        stop.send_replace(true);
        shared.stop_connections();
        join_all(&mut served).await;
        let mut received = 0;
        for client in clients {
            received += client.await.unwrap_or(0);
        }
        received
    })
}

/// Once every connection has ended: no session is left online, and every subscription in the
/// router belongs to the session its client id has now (none to a discarded one).
fn check_consistent(shared: &Shared) {
    for session in shared.router.subscribed_sessions() {
        let current = shared.sessions.get(&session.client_id);
        assert!(
            current.is_some_and(|current| Arc::ptr_eq(&current, &session)),
            "a subscription of {:?} outlived its session",
            session.client_id
        );
        assert!(
            !session.is_online(),
            "session {:?} online without a connection",
            session.client_id
        );
    }
}

/// Wait for every connection task, passing on a panic of any.
async fn join_all(served: &mut JoinSet<()>) {
    while let Some(result) = served.join_next().await {
        if let Err(err) = result
            && err.is_panic()
        {
            std::panic::resume_unwind(err.into_panic());
        }
    }
}

/// One client: write its bytes (in pieces, if asked), read and drop whatever the broker sends,
/// until the broker closes. With `closing`, the client closes its side once that says so (when
/// every client has written); without, never. Returns how many bytes the broker sent.
async fn play(
    client: DuplexStream,
    bytes: Vec<u8>,
    piece: Option<usize>,
    closing: Option<watch::Receiver<bool>>,
) -> usize {
    let (mut reader, mut writer) = tokio::io::split(client);
    let write = async move {
        for chunk in bytes.chunks(piece.unwrap_or(bytes.len()).max(1)) {
            if writer.write_all(chunk).await.is_err() {
                return;
            }
            if piece.is_some() {
                tokio::task::yield_now().await;
            }
        }
        match closing {
            Some(mut closing) => {
                let _ = closing.wait_for(|close| *close).await;
                let _ = writer.shutdown().await;
            }
            // Hold the writer (the client never closes), until the broker closes its side.
            None => std::future::pending::<()>().await,
        }
    };
    let read = async move {
        let mut sink = vec![0u8; 16 * 1024];
        let mut received = 0;
        while let Ok(n @ 1..) = reader.read(&mut sink).await {
            received += n;
        }
        received
    };
    tokio::pin!(write, read);
    tokio::select! {
        // The broker closed its side: the (maybe held) writer is dropped.
        received = &mut read => received,
        _ = &mut write => read.await,
    }
}
