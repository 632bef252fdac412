//! The TCP accept loop: each connection gets its own task at once, so a slow client never delays
//! the next accept.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::connection;
use super::{Shared, stopping};

/// How long connections get to end by themselves after stop() before they are aborted.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Accept until shutdown, then close the port and wait for every connection task to end.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            _ = stopping(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(connection::serve(
                        stream,
                        peer,
                        Arc::clone(&shared),
                        shutdown.clone(),
                    ));
                }
                Err(err) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    shared.log(format_args!("accept failed: {err}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
}
