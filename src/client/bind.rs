//! `-A ADDRESS`: connect to the broker from a given local address, as mosquitto's -A does.
//!
//! rumqttc 0.25 cannot bind the local end of its TCP socket, so with -A the client talks to a
//! relay in this process over a private Unix socket, and the relay opens each TCP connection to
//! the broker from the requested address and copies bytes both ways. Every reconnect of the
//! client is a new relayed connection.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Result;
use tokio::net::{TcpSocket, TcpStream, UnixListener};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::exit::{Code, Fatal};

/// The relay: its socket path, the task accepting on it, and the private directory holding it.
pub struct BindRelay {
    dir: PathBuf,
    socket: PathBuf,
    task: JoinHandle<()>,
    /// The copy task of each relayed connection, to wait for the last bytes before exiting.
    copies: mpsc::UnboundedReceiver<JoinHandle<()>>,
}

impl BindRelay {
    /// Open a first TCP connection from `local` to `host:port` (so a bad address is reported
    /// before anything else happens), then listen on a private Unix socket for the client.
    pub async fn start(local: IpAddr, host: &str, port: u16, address: &str) -> Result<BindRelay> {
        let first = connect_from(local, host, port).await.map_err(|err| {
            Fatal::new(
                Code::Failure,
                format!("cannot connect to {address} from {local}: {err}"),
            )
        })?;
        let dir = private_dir()?;
        let socket = dir.join("relay.sock");
        let listener = UnixListener::bind(&socket)?;
        let (host, local) = (host.to_owned(), local);
        let (copies_tx, copies) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut first = Some(first);
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = match first.take() {
                    Some(stream) => Ok(stream),
                    None => connect_from(local, &host, port).await,
                };
                match upstream {
                    Ok(mut upstream) => {
                        let _ = copies_tx.send(tokio::spawn(async move {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }));
                    }
                    // The client sees its connection closed and handles it as a lost connection.
                    Err(err) => crate::say!("skeeter: warning: cannot connect from {local}: {err}"),
                }
            }
        });
        Ok(BindRelay {
            dir,
            socket,
            task,
            copies,
        })
    }

    /// Once the client has closed its end: wait (bounded) until the relay has passed on every
    /// byte, so a DISCONNECT written just before exiting still reaches the broker.
    pub async fn drain(&mut self, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while let Ok(copy) = self.copies.try_recv() {
            let _ = tokio::time::timeout_at(deadline, copy).await;
        }
    }

    /// The Unix socket the MQTT client connects to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for BindRelay {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A TCP connection to `host:port` whose local end is bound to `local` (any port).
async fn connect_from(local: IpAddr, host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last_error = None;
    for remote in tokio::net::lookup_host((host, port)).await? {
        if remote.is_ipv4() != local.is_ipv4() {
            continue;
        }
        let socket = if remote.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.bind(SocketAddr::new(local, 0))?;
        match socket.connect(remote).await {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("{host} has no address of the same family as {local}"),
        )
    }))
}

/// A new directory only this user can enter, for the relay's socket.
fn private_dir() -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    for attempt in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = base.join(format!("skeeter-{}-{nanos}-{attempt}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::other(
        "cannot create a private directory for the -A relay",
    ))
}
