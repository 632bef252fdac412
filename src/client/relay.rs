//! What rumqttc 0.25 cannot do on its own connection: `-A` (bind its local end), `--proxy`
//! (SOCKS5), `-V 31` (send the MQTT 3.1 CONNECT, "MQIsdp" level 3) and `-D disconnect` (a
//! DISCONNECT with properties: rumqttc always sends `e0 00`, its issue #887).
//!
//! With any of them, the client talks to a relay in this process over a private Unix socket.
//! For each connection of the client (every reconnect too) the relay opens the connection to
//! the broker (from -A's address, through the proxy), turns rumqttc's first packet, its 3.1.1
//! CONNECT, into a 3.1 one for -V 31, and copies bytes both ways. After the CONNECT, 3.1 and
//! 3.1.1 packets are the same bytes. With -D disconnect the relay follows the client's packets
//! (fixed header and remaining length only) and replaces its plain DISCONNECT with ours.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::{Buf, BufMut, BytesMut};
use rumqttc::Transport;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_socks::tcp::Socks5Stream;

use super::options::{NETWORK_TIMEOUT_SECS, Settings};
use super::tls;
use crate::cli::ProtocolVersion;
use crate::exit::{Code, Fatal};

/// The port of a proxy URL without one, as mosquitto.
const DEFAULT_PROXY_PORT: u16 = 1080;
/// The start of a 3.1.1 CONNECT's variable header (name "MQTT", level 4), and of a 3.1 one.
const CONNECT_311: &[u8] = b"\x00\x04MQTT\x04";
const CONNECT_31: &[u8] = b"\x00\x06MQIsdp\x03";
/// Largest remaining length MQTT can express.
const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// A `--proxy socks5h://[user[:password]@]host[:port]` URL, percent-decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub host: String,
    pub port: u16,
    /// User name and password (RFC 1929: 1 to 255 bytes each).
    pub credentials: Option<(String, String)>,
}

impl ProxyUrl {
    /// Parse a --proxy URL. Only socks5h (the proxy resolves the broker's name), as mosquitto;
    /// unlike mosquitto, user and password are percent-decoded correctly.
    pub fn parse(text: &str) -> Result<ProxyUrl, String> {
        let url = url::Url::parse(text).map_err(|err| format!("not a URL: {err}"))?;
        match url.scheme() {
            "socks5h" => {}
            "socks5" => {
                return Err(
                    "only socks5h:// is supported (the proxy resolves the broker's \
                            host name)"
                        .into(),
                );
            }
            other => {
                return Err(format!(
                    "unsupported proxy scheme '{other}': use socks5h://"
                ));
            }
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(addr)) => addr.to_string(),
            Some(_) => url.host_str().unwrap_or_default().to_owned(),
            None => String::new(),
        };
        if host.is_empty() {
            return Err("no proxy host".into());
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err("a proxy URL has no path, ?query or #fragment".into());
        }
        let port = url.port().unwrap_or(DEFAULT_PROXY_PORT);
        if port == 0 {
            return Err("the proxy port must not be 0".into());
        }
        let decode = |part: &str, what: &str| -> Result<String, String> {
            let decoded = percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map_err(|_| format!("the proxy {what} is not UTF-8 once decoded"))?;
            if decoded.len() > 255 {
                return Err(format!("the proxy {what} is longer than 255 bytes"));
            }
            Ok(decoded.into_owned())
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            ("", Some(_)) => {
                return Err("a proxy password needs a user name".into());
            }
            (_, None | Some("")) => {
                return Err(
                    "a proxy user name needs a password (socks5h://USER:PASSWORD@HOST)".into(),
                );
            }
            (user, Some(password)) => {
                Some((decode(user, "user name")?, decode(password, "password")?))
            }
        };
        Ok(ProxyUrl {
            host,
            port,
            credentials,
        })
    }
}

/// `host:port`, for messages (never the password).
impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

/// Where the broker is.
enum Target {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// How the relay reaches the broker, and what it does to the first packet.
struct Route {
    target: Target,
    bind: Option<IpAddr>,
    nodelay: bool,
    proxy: Option<ProxyUrl>,
    /// TLS on the broker's side (rumqttc's Unix transport has none), with the broker's name.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    mqtt31: bool,
    /// -D disconnect: the DISCONNECT (with properties) that replaces rumqttc's `e0 00`.
    disconnect: Option<BytesMut>,
    /// MQTT 5: the broker's short DISCONNECTs (`e0 00`, `e0 01 RC`, which rumqttc's codec
    /// rejects or mis-frames, losing the reason) reach the client as `e0 02 RC 00`.
    mqtt5: bool,
    quiet: bool,
}

/// Why a connection to the broker could not be opened, in words.
struct OpenError {
    /// The TLS handshake failed (exit 8), rather than the connection itself.
    tls: bool,
    message: String,
}

impl From<String> for OpenError {
    fn from(message: String) -> Self {
        OpenError {
            tls: false,
            message,
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tls {
            write!(f, "TLS failed: {}", self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// A connection to the broker: TCP (direct or through the proxy) or a Unix socket.
trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}
type Upstream = Box<dyn Duplex>;

impl Route {
    /// Open a connection to the broker, bounded by the network timeout. Err is the reason, in
    /// words, for "cannot connect to ...: REASON".
    async fn open(&self) -> Result<Upstream, OpenError> {
        let limit = Duration::from_secs(NETWORK_TIMEOUT_SECS);
        let open = async {
            let stream = self.open_unbounded().await?;
            let Some((connector, name)) = &self.tls else {
                return Ok(stream);
            };
            match connector.connect(name.clone(), stream).await {
                Ok(stream) => Ok(Box::new(stream) as Upstream),
                Err(err) => Err(OpenError {
                    tls: true,
                    message: match tls::find_rustls_error(&err) {
                        Some(tls_error) => tls::describe(tls_error),
                        None => format!("{err} (does the broker speak TLS on this port?)"),
                    },
                }),
            }
        };
        match tokio::time::timeout(limit, open).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {NETWORK_TIMEOUT_SECS} s").into()),
        }
    }

    async fn open_unbounded(&self) -> Result<Upstream, String> {
        let (host, port) = match &self.target {
            Target::Unix(path) => {
                let stream = UnixStream::connect(path)
                    .await
                    .map_err(|err| err.to_string())?;
                return Ok(Box::new(stream));
            }
            Target::Tcp { host, port } => (host.as_str(), *port),
        };
        let Some(proxy) = &self.proxy else {
            let stream = connect_tcp(host, port, self.bind, self.nodelay)
                .await
                .map_err(|err| err.to_string())?;
            return Ok(Box::new(stream));
        };
        let socket = connect_tcp(&proxy.host, proxy.port, self.bind, self.nodelay)
            .await
            .map_err(|err| format!("cannot reach the proxy: {err}"))?;
        // socks5h: an IP address goes as one, a host name as the name (the proxy resolves it).
        let handshake = match &proxy.credentials {
            None => Socks5Stream::connect_with_socket(socket, (host, port)).await,
            Some((user, password)) => {
                Socks5Stream::connect_with_password_and_socket(socket, (host, port), user, password)
                    .await
            }
        };
        match handshake {
            // The handshake reads exactly its replies: nothing of the broker's is left behind.
            Ok(stream) => Ok(Box::new(stream.into_inner())),
            Err(err) => Err(socks_error(&err, proxy.credentials.is_some())),
        }
    }

    /// The connection in words, for "cannot connect to ADDRESS{this}: ...".
    fn via(&self) -> String {
        let mut via = String::new();
        if let Some(local) = self.bind {
            via.push_str(&format!(" from {local}"));
        }
        if let Some(proxy) = &self.proxy {
            via.push_str(&format!(" through the SOCKS5 proxy {proxy}"));
        }
        via
    }
}

/// A SOCKS5 handshake failure in words.
fn socks_error(err: &tokio_socks::Error, sent_credentials: bool) -> String {
    use tokio_socks::Error as E;
    match err {
        E::PasswordAuthFailure(_) => "the proxy refused the user name or password".into(),
        E::NoAcceptableAuthMethods | E::AuthorizationRequired if !sent_credentials => {
            "the proxy wants a user name and password (socks5h://USER:PASSWORD@HOST)".into()
        }
        E::NoAcceptableAuthMethods => {
            "the proxy accepts none of our ways to log in (none, user name and password)".into()
        }
        E::Io(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
            if sent_credentials {
                "the proxy closed the connection during the SOCKS5 handshake (wrong user name \
                 or password?)"
                    .into()
            } else {
                "the proxy closed the connection during the SOCKS5 handshake".into()
            }
        }
        E::Io(err) => format!("SOCKS5 handshake with the proxy failed: {err}"),
        E::InvalidTargetAddress(why) => format!("the broker address cannot go to the proxy: {why}"),
        E::GeneralSocksServerFailure
        | E::ConnectionNotAllowedByRuleset
        | E::NetworkUnreachable
        | E::HostUnreachable
        | E::ConnectionRefused
        | E::TtlExpired => format!(
            "the proxy could not connect to the broker: {}",
            err.to_string().to_lowercase()
        ),
        other => format!("the proxy does not speak SOCKS5 as expected: {other}"),
    }
}

/// The relay: its socket path, the task accepting on it, and the private directory holding it.
pub struct Relay {
    dir: PathBuf,
    socket: PathBuf,
    task: JoinHandle<()>,
    /// The copy task of each relayed connection, to wait for the last bytes before exiting.
    copies: mpsc::UnboundedReceiver<JoinHandle<()>>,
    /// The last TLS failure on the broker's side (e.g. an alert after the handshake).
    tls_failure: Arc<Mutex<Option<String>>>,
}

impl Relay {
    /// With -A, --proxy, -V 31 or -D disconnect: open a first connection to the broker (so a bad address, an
    /// unreachable or refusing proxy is one clear error before anything else happens), then
    /// listen on a private Unix socket for the client. None when no relay is needed.
    pub async fn start_if_needed(settings: &Settings) -> Result<Option<Relay>> {
        let mqtt31 = settings.protocol == ProtocolVersion::V31;
        let disconnect = match &settings.disconnect_properties {
            Some(properties) => Some(disconnect_packet(properties)?),
            None => None,
        };
        // MQTT 5 always goes through the relay, for the broker's reason to disconnect us; but
        // not over WebSockets, where rumqttc itself does the HTTP upgrade.
        let mqtt5 = settings.read_short_disconnects
            && settings.protocol == ProtocolVersion::V5
            && !matches!(settings.mqtt.transport(), Transport::Ws | Transport::Wss(_));
        if settings.bind_address.is_none()
            && settings.proxy.is_none()
            && !mqtt31
            && disconnect.is_none()
            && !mqtt5
        {
            return Ok(None);
        }
        let proxy = match settings.proxy.as_deref() {
            Some(text) => Some(
                ProxyUrl::parse(text)
                    .map_err(|err| Fatal::new(Code::Usage, format!("--proxy: {err}")))?,
            ),
            None => None,
        };
        let target = if matches!(settings.mqtt.transport(), Transport::Unix) {
            Target::Unix(PathBuf::from(settings.mqtt.broker_address().0))
        } else {
            Target::Tcp {
                host: settings.host.clone(),
                port: settings.port,
            }
        };
        let tls = match &settings.tls {
            Some(config) => {
                let name = ServerName::try_from(settings.host.clone()).map_err(|_| {
                    Fatal::new(
                        Code::Usage,
                        format!("'{}' is not a host name TLS can check", settings.host),
                    )
                })?;
                Some((TlsConnector::from(Arc::clone(config)), name))
            }
            None => None,
        };
        let route = Arc::new(Route {
            target,
            bind: settings.bind_address,
            nodelay: settings.nodelay,
            proxy,
            tls,
            mqtt31,
            disconnect,
            mqtt5,
            quiet: settings.quiet,
        });
        let first = route.open().await.map_err(|err| {
            let (address, via) = (&settings.address, route.via());
            if err.tls {
                Fatal::new(
                    Code::Tls,
                    format!("TLS with {address}{via} failed: {}", err.message),
                )
            } else {
                Fatal::new(
                    Code::Failure,
                    format!("cannot connect to {address}{via}: {}", err.message),
                )
            }
        })?;
        let dir = private_dir().context("cannot make a private directory for the relay")?;
        let socket = dir.join("relay.sock");
        let listener = UnixListener::bind(&socket)
            .with_context(|| format!("cannot listen on {}", socket.display()))?;
        let address = settings.address.clone();
        let (copies_tx, copies) = mpsc::unbounded_channel();
        let tls_failure = Arc::new(Mutex::new(None));
        let failure = Arc::clone(&tls_failure);
        let task = tokio::spawn(async move {
            let mut first = Some(first);
            while let Ok((client, _)) = listener.accept().await {
                let first = first.take();
                let route = Arc::clone(&route);
                let address = address.clone();
                let failure = Arc::clone(&failure);
                let _ = copies_tx.send(tokio::spawn(async move {
                    let upstream = match first {
                        Some(upstream) => Ok(upstream),
                        None => route.open().await,
                    };
                    match upstream {
                        Ok(upstream) => relay(client, upstream, &route, &failure).await,
                        // The client sees its connection closed and handles it as a lost one.
                        Err(err) if !route.quiet => crate::say!(
                            "skeeter: warning: cannot connect to {address}{}: {err}",
                            route.via()
                        ),
                        Err(_) => {}
                    }
                }));
            }
        });
        Ok(Some(Relay {
            dir,
            socket,
            task,
            copies,
            tls_failure,
        }))
    }

    /// Once the client has closed its end: wait (bounded) until the relay has passed on every
    /// byte, so a DISCONNECT written just before exiting still reaches the broker.
    pub async fn drain(&mut self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while let Ok(copy) = self.copies.try_recv() {
            let _ = tokio::time::timeout_at(deadline, copy).await;
        }
    }

    /// The last TLS failure on the broker's side, in words: the client only sees its connection
    /// closed.
    pub fn tls_failure(&self) -> Option<String> {
        self.tls_failure
            .lock()
            .ok()
            .and_then(|failure| failure.clone())
    }

    /// The Unix socket the MQTT client connects to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Copy one client connection to the broker and back; for MQTT 3.1, its CONNECT rewritten; with
/// -D disconnect, its DISCONNECT; with MQTT 5, the broker's short DISCONNECTs.
async fn relay(
    mut client: UnixStream,
    mut upstream: Upstream,
    route: &Route,
    tls_failure: &Mutex<Option<String>>,
) {
    if route.mqtt31 {
        let limit = Duration::from_secs(NETWORK_TIMEOUT_SECS);
        let connect = match tokio::time::timeout(limit, read_connect_as_31(&mut client)).await {
            Ok(Ok(bytes)) => bytes,
            // rumqttc went away or sent something else: close both ends, it reports the error.
            _ => return,
        };
        if upstream.write_all(&connect).await.is_err() {
            return;
        }
    }
    let copied = if route.disconnect.is_none() && !route.mqtt5 {
        tokio::io::copy_bidirectional_with_sizes(
            &mut client,
            &mut upstream,
            RELAY_BUFFER,
            RELAY_BUFFER,
        )
        .await
        .map(|_| ())
    } else {
        let (mut from_client, mut to_client) = client.into_split();
        let (mut from_broker, mut to_broker) = tokio::io::split(upstream);
        let upward = async {
            let copied = match &route.disconnect {
                Some(ours) => {
                    let rewrite = |packet: &[u8]| (packet == PLAIN_DISCONNECT).then_some(&ours[..]);
                    copy_rewriting_disconnects(&mut from_client, &mut to_broker, rewrite).await
                }
                None => {
                    let mut from_client =
                        tokio::io::BufReader::with_capacity(RELAY_BUFFER, &mut from_client);
                    tokio::io::copy_buf(&mut from_client, &mut to_broker)
                        .await
                        .map(|_| ())
                }
            };
            let _ = to_broker.shutdown().await;
            copied
        };
        let downward = async {
            let copied = if route.mqtt5 {
                let mut long = [0xe0, 0x02, 0x00, 0x00];
                let rewrite = |packet: &[u8]| {
                    long[2] = packet.get(2).copied().unwrap_or(0);
                    Some(long)
                };
                copy_rewriting_disconnects(&mut from_broker, &mut to_client, rewrite).await
            } else {
                let mut from_broker =
                    tokio::io::BufReader::with_capacity(RELAY_BUFFER, &mut from_broker);
                tokio::io::copy_buf(&mut from_broker, &mut to_client)
                    .await
                    .map(|_| ())
            };
            let _ = to_client.shutdown().await;
            copied
        };
        let (upward, downward) = tokio::join!(upward, downward);
        upward.and(downward)
    };
    if let Err(err) = copied
        && let Some(tls_error) = tls::find_rustls_error(&err)
        && let Ok(mut failure) = tls_failure.lock()
    {
        // Recorded before both ends close, so the client finds it when it reports the error.
        *failure = Some(tls::describe(tls_error));
    }
}

/// The DISCONNECT (reason 0, normal) carrying -D disconnect's properties.
fn disconnect_packet(
    properties: &rumqttc::v5::mqttbytes::v5::DisconnectProperties,
) -> Result<BytesMut> {
    use rumqttc::v5::mqttbytes::v5::{Disconnect, DisconnectReasonCode};
    let packet = Disconnect {
        reason_code: DisconnectReasonCode::NormalDisconnection,
        properties: Some(properties.clone()),
    };
    let mut out = BytesMut::with_capacity(packet.size());
    packet
        .write(&mut out)
        .map_err(|err| Fatal::new(Code::Usage, format!("-D disconnect: {err:?}")))?;
    Ok(out)
}

const PLAIN_DISCONNECT: &[u8] = &[0xe0, 0x00];

/// Bytes the relay moves per read and write (tokio's copies use 8 KiB: a syscall per few
/// messages, which made a relayed `pub -l` twice as slow).
const RELAY_BUFFER: usize = 64 * 1024;

/// Copy packets, each short DISCONNECT (`e0 00` or `e0 01 RC`) handed whole to `rewrite`,
/// which may give other bytes to send in its place. Only packet boundaries are followed: the
/// bytes of other packets pass as read.
async fn copy_rewriting_disconnects<R, W, B>(
    from: &mut R,
    to: &mut W,
    mut rewrite: impl FnMut(&[u8]) -> Option<B>,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
    B: AsRef<[u8]>,
{
    let mut buf = BytesMut::with_capacity(RELAY_BUFFER);
    // Bytes of the current packet still to pass on (from `pass`); 0 at a packet boundary.
    let mut passing = 0usize;
    loop {
        if buf.capacity() - buf.len() < RELAY_BUFFER / 4 {
            buf.reserve(RELAY_BUFFER);
        }
        if from.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        // The first `pass` bytes of `buf` go on as they are, in one write.
        let mut pass = 0usize;
        loop {
            if passing > 0 {
                let n = passing.min(buf.len() - pass);
                pass += n;
                passing -= n;
                if pass == buf.len() {
                    break;
                }
                continue;
            }
            let Some((header_len, remaining_len)) = fixed_header(&buf[pass..])? else {
                break;
            };
            let len = header_len + remaining_len;
            if buf[pass] == 0xe0 && remaining_len < 2 {
                if buf.len() - pass < len {
                    break; // the reason code is still to come
                }
                if let Some(bytes) = rewrite(&buf[pass..pass + len]) {
                    to.write_all(&buf[..pass]).await?;
                    to.write_all(bytes.as_ref()).await?;
                    buf.advance(pass + len);
                    pass = 0;
                    if buf.is_empty() {
                        break;
                    }
                    continue;
                }
            }
            passing = len;
        }
        if pass > 0 {
            to.write_all(&buf[..pass]).await?;
            buf.advance(pass);
        }
        to.flush().await?;
    }
}

/// The length of a packet's fixed header and its remaining length; None while more bytes are
/// needed.
fn fixed_header(buf: &[u8]) -> io::Result<Option<(usize, usize)>> {
    crate::wire::read_fixed_header(buf)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "remaining length over 4 bytes"))
}

/// Read the start of rumqttc's first packet, a 3.1.1 CONNECT, and return it as MQTT 3.1
/// ("MQIsdp", level 3, remaining length 2 more and re-encoded), with whatever else was read.
/// The rest of the CONNECT is the same in both versions and is copied as it comes.
async fn read_connect_as_31(client: &mut UnixStream) -> io::Result<BytesMut> {
    let mut buf = BytesMut::with_capacity(512);
    loop {
        if let Some(rewritten) = connect_as_31(&buf)? {
            return Ok(rewritten);
        }
        if client.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// `buf` with its leading 3.1.1 CONNECT turned into 3.1; None while more bytes are needed.
fn connect_as_31(buf: &[u8]) -> io::Result<Option<BytesMut>> {
    let malformed = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
    let Some(&byte1) = buf.first() else {
        return Ok(None);
    };
    if byte1 != 0x10 {
        return Err(malformed("the first packet is not CONNECT"));
    }
    let Some((header_len, remaining_len)) = fixed_header(buf)? else {
        return Ok(None);
    };
    let Some(name_and_level) = buf.get(header_len..header_len + CONNECT_311.len()) else {
        return Ok(None);
    };
    if name_and_level != CONNECT_311 {
        return Err(malformed("the CONNECT is not MQTT 3.1.1"));
    }
    let remaining_len = remaining_len + CONNECT_31.len() - CONNECT_311.len();
    if remaining_len > MAX_REMAINING_LENGTH {
        return Err(malformed("CONNECT too long"));
    }
    let rest = &buf[header_len + CONNECT_311.len()..];
    let mut out = BytesMut::with_capacity(5 + CONNECT_31.len() + rest.len());
    out.put_u8(byte1);
    crate::wire::put_remaining_length(&mut out, remaining_len);
    out.extend_from_slice(CONNECT_31);
    out.extend_from_slice(rest);
    Ok(Some(out))
}

/// A TCP connection to `host:port`, its local end bound to `local` (any port) when given.
async fn connect_tcp(
    host: &str,
    port: u16,
    local: Option<IpAddr>,
    nodelay: bool,
) -> io::Result<TcpStream> {
    let mut last_error = None;
    for remote in tokio::net::lookup_host((host, port)).await? {
        if local.is_some_and(|local| remote.is_ipv4() != local.is_ipv4()) {
            continue;
        }
        let socket = if remote.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(local) = local {
            socket.bind(SocketAddr::new(local, 0))?;
        }
        match socket.connect(remote).await {
            Ok(stream) => {
                stream.set_nodelay(nodelay)?;
                return Ok(stream);
            }
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| match local {
        Some(local) => io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("{host} has no address of the same family as {local}"),
        ),
        None => io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("{host} has no address"),
        ),
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
    Err(io::Error::other("no unused name after 100 attempts"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(text: &str) -> ProxyUrl {
        ProxyUrl::parse(text).unwrap()
    }

    #[test]
    fn proxy_urls() {
        let plain = proxy("socks5h://proxy.example");
        assert_eq!(plain.host, "proxy.example");
        assert_eq!(plain.port, 1080);
        assert_eq!(plain.credentials, None);
        assert_eq!(
            proxy("SOCKS5H://127.0.0.1:9050/").to_string(),
            "127.0.0.1:9050"
        );
        let v6 = proxy("socks5h://[::1]:1081");
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "[::1]:1081");
        // mosquitto decodes %40 as ':'; the user name here is "us@er", the password "p:a ss%".
        let auth = proxy("socks5h://us%40er:p%3Aa%20ss%25@h:1");
        assert_eq!(
            auth.credentials,
            Some(("us@er".to_owned(), "p:a ss%".to_owned()))
        );
        assert!(!format!("{auth} {auth:?}").contains("ss"));
    }

    #[test]
    fn bad_proxy_urls() {
        let long = format!("socks5h://{}:pw@h", "u".repeat(256));
        for bad in [
            "proxy:1080",
            "socks5://h:1080",
            "http://h:3128",
            "socks5h://",
            "socks5h://h:0",
            "socks5h://h:99999",
            "socks5h://h/path",
            "socks5h://h?x=1",
            "socks5h://user@h",
            "socks5h://user:@h",
            "socks5h://:pw@h",
            "socks5h://u:%ff@h",
            &long,
        ] {
            assert!(ProxyUrl::parse(bad).is_err(), "{bad}");
        }
    }

    /// A CONNECT frame with the given name and level, a client id of `id_len` bytes.
    fn connect(name_and_level: &[u8], id_len: usize) -> Vec<u8> {
        let mut body = name_and_level.to_vec();
        body.extend_from_slice(&[0x02, 0, 60]);
        body.extend_from_slice(&(id_len as u16).to_be_bytes());
        body.extend(std::iter::repeat_n(b'c', id_len));
        let mut frame = BytesMut::from(&[0x10][..]);
        crate::wire::put_remaining_length(&mut frame, body.len());
        frame.extend_from_slice(&body);
        frame.to_vec()
    }

    #[test]
    fn connect_becomes_mqtt31() {
        // Remaining length: 12 + id bytes in 3.1.1; ids of 114 and 115 bytes take one byte of
        // length in 3.1.1 (126, 127) and two in 3.1 (128, 129).
        for id_len in [0, 5, 113, 114, 115, 116, 300] {
            let v311 = connect(CONNECT_311, id_len);
            let v31 = connect(CONNECT_31, id_len);
            assert_eq!(
                v31.len() - v311.len(),
                if (114..=115).contains(&id_len) { 3 } else { 2 }
            );
            let header_len = if v311[1] & 0x80 == 0 { 2 } else { 3 };
            for cut in 0..header_len + CONNECT_311.len() {
                assert!(
                    connect_as_31(&v311[..cut]).unwrap().is_none(),
                    "cut at {cut}"
                );
            }
            let mut with_more = v311.clone();
            with_more.extend_from_slice(&[0xc0, 0x00]);
            let rewritten = connect_as_31(&with_more).unwrap().unwrap();
            assert_eq!(&rewritten[..v31.len()], &v31[..], "id of {id_len} bytes");
            assert_eq!(&rewritten[v31.len()..], &[0xc0, 0x00]);
        }
        assert!(connect_as_31(&connect(CONNECT_31, 1)).is_err());
        assert!(connect_as_31(&[0xc0, 0x00]).is_err());
    }

    #[tokio::test]
    async fn the_plain_disconnect_is_replaced() {
        use rumqttc::v5::mqttbytes::v5::DisconnectProperties;
        let ours = disconnect_packet(&DisconnectProperties {
            session_expiry_interval: Some(3600),
            reason_string: None,
            user_properties: vec![("k".into(), "v".into())],
            server_reference: None,
        })
        .unwrap();
        // reason 0, properties: 0x11 expiry, 0x26 user property.
        assert_eq!(
            &ours[..],
            b"\xe0\x0e\x00\x0c\x11\x00\x00\x0e\x10\x26\x00\x01k\x00\x01v"
        );
        // A PUBLISH whose payload holds e0 00, a DISCONNECT with a reason (kept), the plain one.
        let publish = b"\x30\x07\x00\x01t\xe0\x00\xe0\x00";
        let with_reason = b"\xe0\x01\x04";
        let mut stream = publish.to_vec();
        stream.extend_from_slice(with_reason);
        stream.extend_from_slice(b"\xe0\x00");
        let mut expected = publish.to_vec();
        expected.extend_from_slice(with_reason);
        expected.extend_from_slice(&ours);
        for cut in 0..stream.len() {
            let (a, b) = stream.split_at(cut);
            let mut from = AsyncReadExt::chain(a, b);
            let mut to = Vec::new();
            let rewrite = |packet: &[u8]| (packet == PLAIN_DISCONNECT).then_some(&ours[..]);
            copy_rewriting_disconnects(&mut from, &mut to, rewrite)
                .await
                .unwrap();
            assert_eq!(to, expected, "cut at {cut}");
        }
    }

    #[tokio::test]
    async fn short_disconnects_from_the_broker_are_lengthened() {
        // A PUBLISH whose payload holds e0 01 8e, the 3-byte and 2-byte DISCONNECTs, a long one.
        let publish = b"\x30\x08\x00\x01t\xe0\x01\x8e\xe0\x00";
        let long = b"\xe0\x02\x8b\x00";
        let mut stream = publish.to_vec();
        stream.extend_from_slice(b"\xe0\x01\x8e\xe0\x00");
        stream.extend_from_slice(long);
        let mut expected = publish.to_vec();
        expected.extend_from_slice(b"\xe0\x02\x8e\x00\xe0\x02\x00\x00");
        expected.extend_from_slice(long);
        for cut in 0..stream.len() {
            let (a, b) = stream.split_at(cut);
            let mut from = AsyncReadExt::chain(a, b);
            let mut to = Vec::new();
            let rewrite =
                |packet: &[u8]| Some([0xe0, 0x02, packet.get(2).copied().unwrap_or(0), 0]);
            copy_rewriting_disconnects(&mut from, &mut to, rewrite)
                .await
                .unwrap();
            assert_eq!(to, expected, "cut at {cut}");
        }
    }
}
