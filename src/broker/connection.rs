//! One client connection: the CONNECT handshake and its checks, the session opened, then the
//! pump (pump.rs) until the connection ends, then the end: DISCONNECT, session closed or kept,
//! will. The packet handlers (a packet -> the session) are here; the pump calls them.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{ConnAck, ConnectReturnCode, Packet, PubAck, PubRec};
use rumqttc::v5::mqttbytes::v5 as m5;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{Instant, timeout, timeout_at};

use super::auth::{Access, Refusal};
use super::codec::{self, Incoming5, Protocol, ProtocolRequest};
use super::persist::PendingWill;
use super::pump::{Pump, PumpStart};
use super::router::{Message, SubscriptionOptions};
use super::session::{Detached, FilterRequest, NEVER_EXPIRES, Session};
use super::sys::{self, Counted, Stats};
use super::{MQTT_MAX_PACKET, Shared, stopping};

/// The first read buffer of a connection, for its CONNECT.
const CONNECT_READ_CAPACITY: usize = 256;
/// The read buffer of a connection over max_connections (read until its protocol is known).
const TURN_AWAY_READ_CAPACITY: usize = 1024;
/// How long a refused client gets to read its CONNACK before the socket is closed.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// How long a connection over `max_connections` gets to send the start of its CONNECT.
const TURN_AWAY_WAIT: Duration = Duration::from_secs(2);

/// MQTT 5 reason codes of PUBACK and PUBREC.
const NO_MATCHING_SUBSCRIBERS: u8 = 0x10;
const NOT_AUTHORIZED: u8 = 0x87;
/// PUBACK / PUBREC for a payload over message_size_limit: 0x95, as mosquitto 2.0 sends.
const PACKET_TOO_LARGE: u8 = 0x95;

/// Why a connection ended.
pub(super) enum End {
    Disconnected,
    /// MQTT 5 DISCONNECT with reason 0x04: a normal end that still publishes the will.
    DisconnectedWithWill,
    Closed,
    Io(io::Error),
    /// Why, and the MQTT 5 reason code the DISCONNECT to the client carries.
    Protocol(String, u8),
    KeepAliveExpired,
    TakenOver,
    Shutdown,
}

impl End {
    /// The will is for abnormal ends only: never after DISCONNECT (nor when the broker stops).
    fn publishes_will(&self) -> bool {
        !matches!(self, End::Disconnected | End::Shutdown)
    }

    /// The reason code of the DISCONNECT an MQTT 5 client is sent, if it is sent one.
    fn disconnect_reason(&self) -> Option<u8> {
        match self {
            End::Protocol(_, code) => Some(*code),
            End::KeepAliveExpired => Some(0x8d),
            End::TakenOver => Some(0x8e),
            End::Shutdown => Some(0x8b),
            _ => None,
        }
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Disconnected => f.write_str("sent DISCONNECT"),
            End::DisconnectedWithWill => f.write_str("sent DISCONNECT with will"),
            End::Closed => f.write_str("connection closed by the client"),
            End::Io(err) => write!(f, "I/O error: {err}"),
            End::Protocol(why, _) => write!(f, "protocol error: {why}"),
            End::KeepAliveExpired => f.write_str("keep-alive timeout"),
            End::TakenOver => f.write_str("session taken over by a new connection"),
            End::Shutdown => f.write_str("broker stopping"),
        }
    }
}

impl From<Detached> for End {
    fn from(_: Detached) -> End {
        End::TakenOver
    }
}

/// Who is at the other end of a connection, as its transport knows it before any CONNECT.
pub(crate) struct Peer {
    pub addr: SocketAddr,
    /// For the log: `mqtt`, `mqtts`, `ws` or `wss`.
    pub transport: &'static str,
    /// The subject CN of the client's verified TLS certificate, set only on a TLS listener with
    /// `use_identity_as_username`. When set, it is the username that authentication sees, in
    /// place of the CONNECT's (whose password is then ignored), as mosquitto does.
    pub identity: Option<String>,
}

/// A CONNECT, whatever the protocol version.
struct ConnectRequest {
    client_id: String,
    /// 3.1.1 clean session, 5 clean start.
    clean: bool,
    keep_alive: u16,
    username: Option<String>,
    password: Option<String>,
    will: Option<Will>,
    /// Session expiry interval: 3.1.1 clean session is 0, persistent never expires.
    expiry: u32,
    receive_maximum: u16,
    max_packet_size: Option<u32>,
    /// MQTT 5: how many topic aliases the client takes from the broker (0: none).
    topic_alias_max: u16,
    /// MQTT 5 request response information: the CONNACK then suggests a response topic.
    request_response_info: bool,
}

/// A will, kept until the connection ends; its message is built when it is published (so its
/// expiry interval starts then).
struct Will {
    /// The user name of the connection, which the will's topic is checked against.
    username: Option<String>,
    topic: String,
    payload: Bytes,
    qos: QoS,
    retain: bool,
    properties: Option<Arc<m5::PublishProperties>>,
    message_expiry: Option<u32>,
    /// MQTT 5 will delay interval, in seconds.
    delay: u32,
}

impl Will {
    /// The will as it waits for its delay (its message expiry starts when it is published).
    fn pending(&self, delay: Duration, link_id: u64) -> PendingWill {
        let mut message = Message::new(self.topic.clone(), self.payload.clone(), self.qos);
        message.properties = self.properties.clone();
        PendingWill::new(
            Arc::new(message),
            self.retain,
            self.message_expiry,
            delay,
            link_id,
        )
    }

    fn message(&self) -> Arc<Message> {
        let mut message = Message::new(self.topic.clone(), self.payload.clone(), self.qos);
        message.properties = self.properties.clone();
        message.expires_at = self
            .message_expiry
            .map(|secs| Instant::now() + Duration::from_secs(u64::from(secs)));
        Arc::new(message)
    }
}

/// Why a CONNECT is refused, in words both versions' CONNACK can carry.
#[derive(Debug, Clone, Copy)]
enum Refuse {
    Version,
    BadClientId,
    BadCredentials,
    NotAuthorized,
    BadAuthenticationMethod,
    /// A 3.1.1 or 3.1 keep alive over max_keepalive.
    KeepAliveTooLong,
    /// A CONNECT over max_packet_size, or a will over message_size_limit.
    TooLarge,
    /// max_connections are open.
    ServerFull,
}

impl Refuse {
    fn v4(self) -> ConnectReturnCode {
        match self {
            Refuse::Version => ConnectReturnCode::RefusedProtocolVersion,
            // Identifier rejected, for a keep alive too: what mosquitto.conf(5) documents.
            Refuse::BadClientId | Refuse::KeepAliveTooLong => ConnectReturnCode::BadClientId,
            // mosquitto answers 5 (not authorised) in 3.1.1 for these (for a will too large too).
            Refuse::BadCredentials
            | Refuse::NotAuthorized
            | Refuse::BadAuthenticationMethod
            | Refuse::TooLarge => ConnectReturnCode::NotAuthorized,
            Refuse::ServerFull => ConnectReturnCode::ServiceUnavailable,
        }
    }

    fn v5(self) -> m5::ConnectReturnCode {
        match self {
            Refuse::Version => m5::ConnectReturnCode::UnsupportedProtocolVersion,
            Refuse::BadClientId => m5::ConnectReturnCode::ClientIdentifierNotValid,
            Refuse::BadCredentials => m5::ConnectReturnCode::BadUserNamePassword,
            Refuse::NotAuthorized => m5::ConnectReturnCode::NotAuthorized,
            Refuse::BadAuthenticationMethod => m5::ConnectReturnCode::BadAuthenticationMethod,
            // Never sent: an MQTT 5 client is given a server keep alive instead.
            Refuse::KeepAliveTooLong => m5::ConnectReturnCode::UnspecifiedError,
            Refuse::TooLarge => m5::ConnectReturnCode::PacketTooLarge,
            Refuse::ServerFull => m5::ConnectReturnCode::QuotaExceeded,
        }
    }
}

/// A 3.1.1 (or 3.1) CONNECT as a [`ConnectRequest`].
fn connect_v4(connect: rumqttc::mqttbytes::v4::Connect) -> ConnectRequest {
    let clean = connect.clean_session;
    ConnectRequest {
        client_id: connect.client_id,
        clean,
        keep_alive: connect.keep_alive,
        username: connect.login.as_ref().map(|login| login.username.clone()),
        password: connect.login.map(|login| login.password),
        will: connect.last_will.map(|will| Will {
            username: None,
            topic: will.topic,
            payload: will.message,
            qos: will.qos,
            retain: will.retain,
            properties: None,
            message_expiry: None,
            delay: 0,
        }),
        expiry: if clean { 0 } else { NEVER_EXPIRES },
        receive_maximum: u16::MAX,
        max_packet_size: None,
        topic_alias_max: 0,
        request_response_info: false,
    }
}

/// An MQTT 5 CONNECT as a [`ConnectRequest`]; Err refuses it.
fn connect_v5(
    connect: m5::Connect,
    will: Option<m5::LastWill>,
    login: Option<m5::Login>,
) -> Result<ConnectRequest, (Refuse, String)> {
    let properties = connect.properties.unwrap_or(m5::ConnectProperties {
        session_expiry_interval: None,
        receive_maximum: None,
        max_packet_size: None,
        topic_alias_max: None,
        request_response_info: None,
        request_problem_info: None,
        user_properties: Vec::new(),
        authentication_method: None,
        authentication_data: None,
    });
    if let Some(method) = &properties.authentication_method {
        return Err((
            Refuse::BadAuthenticationMethod,
            format!("authentication method {method:?} is not supported"),
        ));
    }
    let will = match will {
        None => None,
        Some(will) => {
            let topic = codec::topic_v5(&will.topic)
                .map_err(|err| (Refuse::NotAuthorized, err.to_string()))?
                .to_owned();
            let (properties, message_expiry, delay) = match will.properties {
                None => (None, None, 0),
                Some(p) => (
                    Some(Arc::new(m5::PublishProperties {
                        payload_format_indicator: p.payload_format_indicator,
                        message_expiry_interval: None,
                        topic_alias: None,
                        response_topic: p.response_topic,
                        correlation_data: p.correlation_data,
                        user_properties: p.user_properties,
                        subscription_identifiers: Vec::new(),
                        content_type: p.content_type,
                    })),
                    p.message_expiry_interval,
                    p.delay_interval.unwrap_or(0),
                ),
            };
            Some(Will {
                username: None,
                topic,
                payload: will.message,
                qos: codec::qos_from_v5(will.qos),
                retain: will.retain,
                properties,
                message_expiry,
                delay,
            })
        }
    };
    Ok(ConnectRequest {
        client_id: connect.client_id,
        clean: connect.clean_start,
        keep_alive: connect.keep_alive,
        username: login.as_ref().map(|login| login.username.clone()),
        password: login.map(|login| login.password),
        will,
        expiry: properties.session_expiry_interval.unwrap_or(0),
        // 0 is a protocol error; taken as no limit rather than refusing the client.
        receive_maximum: properties
            .receive_maximum
            .filter(|&n| n > 0)
            .unwrap_or(u16::MAX),
        max_packet_size: properties.max_packet_size.filter(|&n| n > 0),
        topic_alias_max: properties.topic_alias_max.unwrap_or(0),
        request_response_info: properties.request_response_info == Some(1),
    })
}

/// The CONNACK of an accepted MQTT 5 client: every property tells what this broker does.
/// `response_information` answers a request for it: the topic prefix this client may use for
/// responses (`response/CLIENT-ID`; the broker gives it no special rights).
/// `server_keep_alive` replaces the client's keep alive (over max_keepalive, or 0).
fn connack_v5(
    shared: &Shared,
    present: bool,
    assigned_id: Option<String>,
    response_information: Option<String>,
    server_keep_alive: Option<u16>,
) -> m5::Packet {
    let max_packet_size = shared.config.packet_limit();
    m5::Packet::ConnAck(m5::ConnAck {
        session_present: present,
        code: m5::ConnectReturnCode::Success,
        properties: Some(m5::ConnAckProperties {
            session_expiry_interval: None,
            receive_max: Some(shared.config.inflight_limit()),
            max_qos: None,
            retain_available: Some(1),
            max_packet_size: (max_packet_size < MQTT_MAX_PACKET)
                .then(|| u32::try_from(max_packet_size).unwrap_or(u32::MAX)),
            assigned_client_identifier: assigned_id,
            // Inbound aliases are resolved per connection (outbound ones: see write_loop).
            topic_alias_max: Some(codec::TOPIC_ALIAS_MAX),
            reason_string: None,
            user_properties: Vec::new(),
            wildcard_subscription_available: Some(1),
            subscription_identifiers_available: Some(1),
            shared_subscription_available: Some(1),
            server_keep_alive,
            response_information,
            server_reference: None,
            authentication_method: None,
            authentication_data: None,
        }),
    })
}

/// The MQTT 5 topic aliases of one connection, both ways: those the client set, and those
/// given to it. Boxed in the pump, and only once one is used.
#[derive(Default)]
pub(super) struct Aliases {
    pub inbound: HashMap<u16, String>,
    pub outbound: HashMap<String, u16>,
}

/// What a connection starts with: boxed until the CONNECT is accepted, so the connection's
/// task keeps none of it.
struct Start<S> {
    stream: S,
    peer: Peer,
    shared: Arc<Shared>,
}

/// A connection accepted: the pump that serves it, and its will (None: the connection ended
/// before, refused or failed).
type Accepted<S> = Option<(Pump<S>, Option<Box<Will>>)>;

/// Serve one connection (TCP, TLS or WebSocket, its transport handshake done) until it ends;
/// `guard` is dropped when it does.
pub(crate) fn serve<S, G>(stream: S, peer: Peer, shared: Arc<Shared>, guard: G) -> Serve<S, G>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let start = Box::new(Start {
        stream,
        peer,
        shared,
    });
    Serve {
        stage: Stage::Accepting(Box::pin(accept(start))),
        _guard: guard,
    }
}

/// A connection's task: reserved in full for the connection's whole life, so written by hand
/// to hold no more than the stage it is in. The accept and the end, each done once, are boxed;
/// while the connection is served it holds the pump and the will.
pub(crate) struct Serve<S, G> {
    stage: Stage<S>,
    _guard: G,
}

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

enum Stage<S> {
    Accepting(Boxed<Accepted<S>>),
    Serving(Pump<S>, Option<Box<Will>>),
    Ending(Boxed<()>),
    Ended,
}

impl<S, G: Unpin> Future for Serve<S, G>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let stage = &mut self.get_mut().stage;
        loop {
            match stage {
                Stage::Accepting(accepting) => match ready!(accepting.as_mut().poll(cx)) {
                    Some((pump, will)) => *stage = Stage::Serving(pump, will),
                    None => *stage = Stage::Ended,
                },
                Stage::Serving(pump, _) => {
                    let end = ready!(pump.poll_serve(cx));
                    if let Stage::Serving(pump, will) = std::mem::replace(stage, Stage::Ended) {
                        *stage = Stage::Ending(Box::pin(finish(pump, end, will)));
                    }
                }
                Stage::Ending(ending) => {
                    ready!(ending.as_mut().poll(cx));
                    *stage = Stage::Ended;
                }
                Stage::Ended => return Poll::Ready(()),
            }
        }
    }
}

/// The handshake, the CONNECT's checks and the session: a pump to serve the client with, and
/// its will; None when the connection is refused or fails before.
async fn accept<S>(start: Box<Start<S>>) -> Accepted<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let Start {
        stream,
        peer,
        shared,
    } = *start;
    let mut shutdown = shared.shutdown.clone();
    let (shared, shutdown) = (&shared, &mut shutdown);
    let Peer {
        addr: peer,
        transport,
        identity,
    } = peer;
    let mut stream = Counted::new(stream, Arc::clone(&shared.stats));
    Stats::add(&shared.stats.sockets, 1);
    let mut buf = BytesMut::with_capacity(CONNECT_READ_CAPACITY);
    let handshake = tokio::select! {
        result = handshake(&mut stream, &mut buf, shared) => result,
        _ = stopping(shutdown) => return None,
    };
    let (connect, protocol) = match handshake {
        Ok(accepted) => {
            Stats::add(&shared.stats.packets_received, 1);
            accepted
        }
        Err(reason) => {
            shared.log(format_args!("connection from {peer} refused ({reason})"));
            return None;
        }
    };

    // The username authentication sees: the certificate's identity, when the listener uses it.
    let certified = identity.is_some();
    let username = identity.or(connect.username);
    if let Err(refusal) =
        shared.authenticate(username.as_deref(), connect.password.as_deref(), certified)
    {
        let reason = match refusal {
            Refusal::BadCredentials => Refuse::BadCredentials,
            Refusal::Anonymous => Refuse::NotAuthorized,
        };
        refuse(&mut stream, shared, protocol, reason).await;
        shared.log(format_args!("connection from {peer} refused ({refusal})"));
        return None;
    }
    let clean = connect.clean;
    let assigned = connect.client_id.is_empty();
    let client_id = if assigned {
        shared.sessions.assign_client_id()
    } else {
        connect.client_id
    };
    // An MQTT 5 client asking for more than max_keepalive (or for none) is told to use it.
    let max_keepalive = shared.config.max_keepalive;
    let server_keep_alive = (protocol == Protocol::V5
        && max_keepalive > 0
        && (connect.keep_alive == 0 || connect.keep_alive > max_keepalive))
        .then_some(max_keepalive);
    let keep_alive_secs = server_keep_alive.unwrap_or(connect.keep_alive);
    let keep_alive =
        (keep_alive_secs > 0).then(|| Duration::from_millis(u64::from(keep_alive_secs) * 1500));
    let will = connect.will.map(|will| {
        Box::new(Will {
            username: username.clone(),
            ..will
        })
    });
    let mut link = shared.sessions.new_link(protocol);
    let link_id = link.id;
    link.receive_maximum = connect.receive_maximum;
    link.max_packet_size = connect.max_packet_size;
    link.topic_alias_max = connect.topic_alias_max;
    let response_information = connect
        .request_response_info
        .then(|| format!("response/{client_id}"));
    let gate = shared.hold();
    let session = shared.sessions.open(
        &client_id,
        clean,
        connect.expiry,
        link,
        username.clone(),
        &shared.router,
        |present, out| match protocol {
            Protocol::V5 => codec::encode_v5(
                out,
                &connack_v5(
                    shared,
                    present,
                    assigned.then(|| client_id.clone()),
                    response_information.clone(),
                    server_keep_alive,
                ),
            ),
            _ => codec::encode(
                out,
                &Packet::ConnAck(ConnAck::new(
                    ConnectReturnCode::Success,
                    present && protocol.reports_session_present(),
                )),
            ),
        },
    );
    drop(gate);
    shared.stats.client_connected();
    shared.log(format_args!(
        "client {client_id}{} connected from {peer} over {protocol} on {transport} ({}, keep-alive {})",
        username.as_deref().map_or(String::new(), |name| format!(" (user {name})")),
        match connect.expiry {
            0 => "clean session".to_owned(),
            NEVER_EXPIRES => "persistent session".to_owned(),
            secs => format!("session expiry {secs} s"),
        },
        keep_alive_secs
    ));

    let pump = Pump::new(PumpStart {
        stream: stream.into_inner(),
        shared: Arc::clone(shared),
        session,
        link_id,
        protocol,
        topic_alias_max: connect.topic_alias_max,
        inbuf: buf,
        keep_alive,
    });
    Some((pump, will))
}

/// After the end: an MQTT 5 client is told why (after what was still to be written), the
/// session is closed or kept, the will published or scheduled.
async fn finish<S>(mut pump: Pump<S>, end: End, will: Option<Box<Will>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let shared = &Arc::clone(pump.shared());
    let shutdown = &shared.shutdown;
    let session = Arc::clone(pump.session());
    let (link_id, protocol) = (pump.link_id(), pump.protocol());
    let client_id = &*session.client_id;
    if protocol == Protocol::V5
        && let Some(reason) = end.disconnect_reason()
    {
        // What the socket had not taken goes first: the client reads whole packets.
        let mut out = pump.take_unwritten();
        let mut replies = session.take_replies(link_id);
        if shared.flush_journal().is_err() {
            replies.clear(); // the acks among them are not safely recorded
        }
        // The CONNACK comes first, always: a connection taken over before its writer took the
        // CONNACK (the new one cleared it) ends without a word.
        let connack_out = pump.answered() || !replies.is_empty();
        if connack_out {
            Stats::add(&shared.stats.packets_sent, sys::count_packets(&replies) + 1);
            out.extend_from_slice(&replies);
            out.extend_from_slice(&codec::disconnect_v5(reason));
        }
        let stream = pump.stream();
        let written = timeout(REFUSAL_LINGER, async {
            stream.write_all(&out).await?;
            stream.flush().await
        })
        .await;
        if let Ok(Ok(())) = written {
            Stats::add(&shared.stats.bytes_sent, out.len() as u64);
        }
    }
    drop(pump);
    let keep_for = {
        let _gate = shared.hold();
        shared.sessions.close(&session, link_id, &shared.router)
    };
    if let Some(keep_for) = keep_for {
        expire_later(shared, Arc::clone(&session), link_id, keep_for, shutdown);
    }
    if end.publishes_will()
        && let Some(will) = will
        && shared.may_write(client_id, will.username.as_deref(), &will.topic)
    {
        // Delayed (MQTT 5) until the will delay or the session's end, whichever comes first;
        // dropped if a connection takes the session back before.
        let delay = will.delay.min(session.expiry());
        if delay == 0 {
            let _gate = shared.hold();
            shared.publish(will.message(), will.retain, Some(client_id));
        } else {
            let delay = Duration::from_secs(u64::from(delay));
            let pending = will.pending(delay, link_id);
            if let Some(journal) = &shared.journal {
                let _gate = shared.hold();
                journal.will_pending(client_id, pending.clone());
            }
            let timers = Arc::clone(&session);
            schedule_will(shared, timers, client_id.to_owned(), pending, shutdown);
        }
    }
    shared.stats.client_disconnected();
    shared.log(format_args!("client {client_id} disconnected ({end})"));
}

/// Publish a delayed will when it is due, unless a connection has taken its session back by then
/// (or the broker stops first: with persistence, it is published after the restart).
pub(crate) fn schedule_will(
    shared: &Arc<Shared>,
    session: Arc<Session>,
    client_id: String,
    will: PendingWill,
    shutdown: &watch::Receiver<bool>,
) {
    let (shared, mut shutdown) = (Arc::clone(shared), shutdown.clone());
    let (timers, link_id) = (Arc::clone(&session), will.link_id);
    let timer = tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(will.delay()) => {
                let _gate = shared.hold();
                if !shared.sessions.resumed_since(&session, will.link_id) {
                    shared.publish(will.message_now(), will.retain, Some(&client_id));
                }
                if let Some(journal) = &shared.journal {
                    journal.will_done(&client_id, Some(will.link_id));
                }
            }
            _ = stopping(&mut shutdown) => {}
        }
    });
    // Aborted when a connection takes the session back, so reconnects never pile them up.
    timers.add_timer(link_id, timer.abort_handle());
}

/// End the session left by connection `link_id` after `keep_for`, unless a connection takes it
/// back before (or the broker stops).
pub(crate) fn expire_later(
    shared: &Arc<Shared>,
    session: Arc<Session>,
    link_id: u64,
    keep_for: Duration,
    shutdown: &watch::Receiver<bool>,
) {
    let (shared, mut shutdown) = (Arc::clone(shared), shutdown.clone());
    let timers = Arc::clone(&session);
    let timer = tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(keep_for) => {
                let _gate = shared.hold();
                shared.sessions.expire(&session, link_id, &shared.router);
            }
            _ = stopping(&mut shutdown) => {}
        }
    });
    timers.add_timer(link_id, timer.abort_handle());
}

/// Read the first CONNECT: pick the protocol, refuse what we do not serve (with a CONNACK when
/// the client can understand one). Err carries the reason, for the log.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    shared: &Shared,
) -> Result<(ConnectRequest, Protocol), String> {
    let deadline = Instant::now() + shared.config.connect_timeout;
    let protocol = loop {
        match codec::detect_protocol(buf) {
            ProtocolRequest::Incomplete => read_before(stream, buf, deadline).await?,
            ProtocolRequest::Supported(protocol) => break protocol,
            ProtocolRequest::UnsupportedVersion(protocol) => {
                refuse(stream, shared, Protocol::V311, Refuse::Version).await;
                return Err(format!("{protocol} is not supported"));
            }
            ProtocolRequest::NotMqtt => return Err("first packet is not an MQTT CONNECT".into()),
        }
    };
    // From here on, 3.1 differs from 3.1.1 only in the CONNECT's name and level, and in what
    // the broker answers (CONNACK below and in the session; SUBACK never refuses a filter).
    if protocol == Protocol::V31 && !codec::connect_as_311(buf) {
        return Err("malformed MQTT 3.1 CONNECT".into());
    }
    let max = shared.config.packet_limit();
    let connect = loop {
        if protocol == Protocol::V5 {
            match codec::read_packet_v5(buf, max) {
                Ok(Some(Incoming5::Packet(m5::Packet::Connect(connect, will, login)))) => {
                    match connect_v5(connect, will, login) {
                        Ok(connect) => break connect,
                        Err((reason, why)) => {
                            refuse(stream, shared, protocol, reason).await;
                            return Err(why);
                        }
                    }
                }
                Ok(Some(_)) => return Err("first packet is not CONNECT".into()),
                Ok(None) => read_before(stream, buf, deadline).await?,
                Err(err @ codec::ProtocolError::TooLarge { .. }) => {
                    refuse(stream, shared, protocol, Refuse::TooLarge).await;
                    return Err(err.to_string());
                }
                Err(err) => return Err(err.to_string()),
            }
        } else {
            match codec::read_packet(buf, max) {
                Ok(Some(Packet::Connect(connect))) => break connect_v4(connect),
                Ok(Some(_)) => return Err("first packet is not CONNECT".into()),
                Ok(None) => read_before(stream, buf, deadline).await?,
                Err(err) => return Err(err.to_string()),
            }
        }
    };
    if connect.client_id.is_empty() && !protocol.assigns_client_ids() {
        refuse(stream, shared, protocol, Refuse::BadClientId).await;
        return Err(format!("empty client id: {protocol} has no assigned ids"));
    }
    // MQTT 5 assigns an id whatever the clean start; 3.1.1 only for a clean session.
    if connect.client_id.is_empty() && !connect.clean && protocol != Protocol::V5 {
        refuse(stream, shared, protocol, Refuse::BadClientId).await;
        return Err("empty client id needs a clean session".into());
    }
    let max_keepalive = shared.config.max_keepalive;
    if protocol != Protocol::V5 && max_keepalive > 0 && connect.keep_alive > max_keepalive {
        refuse(stream, shared, protocol, Refuse::KeepAliveTooLong).await;
        return Err(format!(
            "keep alive {} s is over max_keepalive {max_keepalive}",
            connect.keep_alive
        ));
    }
    let limit = shared.config.message_size_limit;
    if let Some(will) = &connect.will
        && limit > 0
        && will.payload.len() > limit
    {
        refuse(stream, shared, protocol, Refuse::TooLarge).await;
        return Err(format!(
            "will payload of {} bytes is over message_size_limit {limit}",
            will.payload.len()
        ));
    }
    Ok((connect, protocol))
}

async fn read_before<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<(), String> {
    if buf.capacity() == buf.len() {
        buf.reserve(buf.capacity().max(CONNECT_READ_CAPACITY));
    }
    match timeout_at(deadline, stream.read_buf(buf)).await {
        Err(_) => Err("no CONNECT in time".into()),
        Ok(Ok(0)) => Err("closed before CONNECT".into()),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("I/O error: {err}")),
    }
}

/// Answer CONNACK with a refusal code (in the client's version), then close.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    shared: &Shared,
    protocol: Protocol,
    reason: Refuse,
) {
    Stats::add(&shared.stats.packets_sent, 1);
    let mut out = BytesMut::new();
    match protocol {
        Protocol::V5 => codec::encode_v5(
            &mut out,
            &m5::Packet::ConnAck(m5::ConnAck {
                session_present: false,
                code: reason.v5(),
                properties: None,
            }),
        ),
        _ => codec::encode(&mut out, &Packet::ConnAck(ConnAck::new(reason.v4(), false))),
    }
    let _ = timeout(REFUSAL_LINGER, async {
        stream.write_all(&out).await?;
        stream.shutdown().await?;
        // Closing with unread input would send a reset, which can destroy the CONNACK in flight.
        let mut sink = vec![0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    })
    .await;
}

/// A connection over max_connections: read just enough of its CONNECT to know the protocol,
/// refuse it in that protocol's words (CONNACK 0x97 or 3), close.
pub(crate) async fn turn_away<S>(mut stream: S, peer: SocketAddr, shared: &Shared)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let deadline = Instant::now() + shared.config.connect_timeout.min(TURN_AWAY_WAIT);
    let mut buf = BytesMut::with_capacity(TURN_AWAY_READ_CAPACITY);
    let protocol = loop {
        match codec::detect_protocol(&buf) {
            ProtocolRequest::Incomplete => {
                if read_before(&mut stream, &mut buf, deadline).await.is_err() {
                    return;
                }
            }
            ProtocolRequest::Supported(protocol) => break protocol,
            ProtocolRequest::UnsupportedVersion(_) => break Protocol::V311,
            ProtocolRequest::NotMqtt => return,
        }
    };
    refuse(&mut stream, shared, protocol, Refuse::ServerFull).await;
    shared.log(format_args!(
        "connection from {peer} refused (max_connections {} reached)",
        shared.config.max_connections
    ));
}

/// A PUBLISH payload over message_size_limit (0: none).
fn too_large(payload: &Bytes, shared: &Shared) -> bool {
    let limit = shared.config.message_size_limit;
    if limit > 0 && payload.len() > limit {
        shared.log(format_args!(
            "dropped a PUBLISH of {} bytes (message_size_limit {limit})",
            payload.len()
        ));
        return true;
    }
    false
}

/// Whether this session's client may not write to `topic_name`: `$SYS` is the broker's own
/// (as in mosquitto), and the ACL may deny the rest.
fn write_denied(session: &Session, shared: &Shared, topic_name: &str) -> bool {
    topic_name.starts_with("$SYS")
        || shared
            .acl()
            .is_some_and(|acl| !session.allowed(&acl, topic_name, Access::Write))
}

/// One packet from a 3.1.1 or 3.1 client. Err ends the connection.
pub(super) fn handle(
    packet: Packet,
    session: &Arc<Session>,
    link_id: u64,
    shared: &Shared,
) -> Result<(), End> {
    let protocol_error = |why: &str| Err(End::Protocol(why.into(), 0x82));
    match packet {
        Packet::Publish(publish) => {
            let (qos, pkid, retain) = (publish.qos, publish.pkid, publish.retain);
            // Denied or too large: acknowledged as usual but not routed, as mosquitto does in
            // MQTT 3.1.1.
            let denied = too_large(&publish.payload, shared)
                || write_denied(session, shared, &publish.topic);
            let message = Arc::new(Message::new(publish.topic, publish.payload, qos));
            let publisher = Some(&*session.client_id);
            match qos {
                QoS::AtMostOnce => {
                    if !denied {
                        shared.publish(message, retain, publisher);
                    }
                }
                QoS::AtLeastOnce => {
                    if !denied {
                        shared.publish(message, retain, publisher);
                    }
                    session.reply(link_id, &Packet::PubAck(PubAck::new(pkid)))?;
                }
                QoS::ExactlyOnce => {
                    // Routed on first receipt; a DUP resend before PUBREL is only acknowledged.
                    if session.receive_qos2(link_id, pkid)? && !denied {
                        shared.publish(message, retain, publisher);
                    }
                    session.reply(link_id, &Packet::PubRec(PubRec::new(pkid)))?;
                }
            }
        }
        Packet::PubAck(ack) => session.puback(link_id, ack.pkid)?,
        Packet::PubRec(ack) => session.pubrec(link_id, ack.pkid)?,
        Packet::PubRel(ack) => session.release(link_id, ack.pkid)?,
        Packet::PubComp(ack) => session.pubcomp(link_id, ack.pkid)?,
        Packet::Subscribe(subscribe) => {
            let filters: Vec<FilterRequest> = subscribe
                .filters
                .into_iter()
                .map(|filter| FilterRequest {
                    path: filter.path,
                    options: SubscriptionOptions::qos(filter.qos),
                    retain_handling: 0,
                })
                .collect();
            session.subscribe(link_id, subscribe.pkid, &filters, shared)?
        }
        Packet::Unsubscribe(unsubscribe) => session.unsubscribe(
            link_id,
            unsubscribe.pkid,
            &unsubscribe.topics,
            &shared.router,
        )?,
        Packet::PingReq => session.reply(link_id, &Packet::PingResp)?,
        Packet::Disconnect => return Err(End::Disconnected),
        Packet::Connect(_) => return protocol_error("second CONNECT"),
        Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
            return protocol_error("a server packet sent by a client");
        }
    }
    Ok(())
}

/// One packet from an MQTT 5 client. Err ends the connection (with a DISCONNECT saying why).
pub(super) fn handle_v5(
    packet: Incoming5,
    session: &Arc<Session>,
    link_id: u64,
    shared: &Shared,
    aliases: &mut Option<Box<Aliases>>,
) -> Result<(), End> {
    let protocol_error = |why: &str| Err(End::Protocol(why.into(), 0x82));
    let packet = match packet {
        Incoming5::Packet(packet) => packet,
        Incoming5::Auth => {
            return Err(End::Protocol(
                "AUTH: no authentication method is supported".into(),
                0x8c,
            ));
        }
        Incoming5::Disconnect {
            reason,
            session_expiry,
        } => {
            if let Some(expiry) = session_expiry {
                if session.expiry() == 0 && expiry != 0 {
                    return protocol_error("DISCONNECT sets a session expiry after CONNECT's 0");
                }
                session.set_expiry(link_id, expiry)?;
            }
            return Err(if reason == 0x04 {
                End::DisconnectedWithWill
            } else {
                End::Disconnected
            });
        }
    };
    match packet {
        m5::Packet::Publish(publish) => {
            let (qos, pkid, retain) = (
                codec::qos_from_v5(publish.qos),
                publish.pkid,
                publish.retain,
            );
            // Checked by the codec layer: UTF-8, a valid name (or empty, with an alias).
            let mut topic = codec::topic_v5(&publish.topic)
                .map_err(|err| End::Protocol(err.to_string(), 0x90))?
                .to_owned();
            let alias = publish.properties.as_ref().and_then(|p| p.topic_alias);
            match alias {
                Some(alias) if topic.is_empty() => {
                    match aliases.as_ref().and_then(|known| known.inbound.get(&alias)) {
                        Some(known) => topic.clone_from(known),
                        None => return protocol_error("PUBLISH with an unknown topic alias"),
                    }
                }
                Some(alias) => {
                    let known = aliases.get_or_insert_default();
                    known.inbound.insert(alias, topic.clone());
                }
                None if topic.is_empty() => return protocol_error("PUBLISH without a topic"),
                None => {}
            }
            let oversize = too_large(&publish.payload, shared);
            let denied = write_denied(session, shared, &topic);
            let mut message = Message::new(topic, publish.payload, qos);
            if let Some(mut properties) = publish.properties {
                properties.topic_alias = None;
                message.expires_at = properties
                    .message_expiry_interval
                    .take()
                    .map(|secs| Instant::now() + Duration::from_secs(u64::from(secs)));
                message.properties = Some(Arc::new(properties));
            }
            let message = Arc::new(message);
            let publisher = Some(&*session.client_id);
            match qos {
                QoS::AtMostOnce => {
                    if !denied && !oversize {
                        shared.publish(message, retain, publisher);
                    }
                }
                // Too large: not routed, the ack says 0x95, as mosquitto 2 does in MQTT 5.
                QoS::AtLeastOnce if oversize => {
                    session.reply_bytes(link_id, &codec::ack_v5(0x40, pkid, PACKET_TOO_LARGE))?;
                }
                QoS::ExactlyOnce if oversize => {
                    session.reply_bytes(link_id, &codec::ack_v5(0x50, pkid, PACKET_TOO_LARGE))?;
                }
                // Denied: not routed, and the ack says so (0x87), as mosquitto 2 does in MQTT 5.
                QoS::AtLeastOnce if denied => {
                    session.reply_bytes(link_id, &codec::ack_v5(0x40, pkid, NOT_AUTHORIZED))?;
                }
                QoS::AtLeastOnce => {
                    if shared.publish(message, retain, publisher) {
                        session.reply(link_id, &Packet::PubAck(PubAck::new(pkid)))?;
                    } else {
                        // As mosquitto 2 does (for QoS 1 only: QoS 2 answers PUBREC 0x00).
                        let ack = codec::ack_v5(0x40, pkid, NO_MATCHING_SUBSCRIBERS);
                        session.reply_bytes(link_id, &ack)?;
                    }
                }
                QoS::ExactlyOnce if denied => {
                    session.reply_bytes(link_id, &codec::ack_v5(0x50, pkid, NOT_AUTHORIZED))?;
                }
                QoS::ExactlyOnce => {
                    if session.awaiting_pubrel() >= usize::from(shared.config.inflight_limit())
                        && !publish.dup
                    {
                        return Err(End::Protocol("receive maximum exceeded".into(), 0x93));
                    }
                    if session.receive_qos2(link_id, pkid)? {
                        shared.publish(message, retain, publisher);
                    }
                    session.reply(link_id, &Packet::PubRec(PubRec::new(pkid)))?;
                }
            }
        }
        m5::Packet::PubAck(ack) => session.puback(link_id, ack.pkid)?,
        m5::Packet::PubRec(rec) => {
            if matches!(
                rec.reason,
                m5::PubRecReason::Success | m5::PubRecReason::NoMatchingSubscribers
            ) {
                session.pubrec(link_id, rec.pkid)?
            } else {
                // A refusal ends the QoS 2 flow: no PUBREL.
                session.pubrec_refused(link_id, rec.pkid)?
            }
        }
        m5::Packet::PubRel(rel) => session.release(link_id, rel.pkid)?,
        m5::Packet::PubComp(comp) => session.pubcomp(link_id, comp.pkid)?,
        m5::Packet::Subscribe(subscribe) => {
            let id = subscribe
                .properties
                .as_ref()
                .and_then(|properties| properties.id)
                .map(|id| u32::try_from(id).unwrap_or(u32::MAX));
            let filters: Vec<FilterRequest> = subscribe
                .filters
                .into_iter()
                .map(|filter| FilterRequest {
                    options: SubscriptionOptions {
                        qos: codec::qos_from_v5(filter.qos),
                        no_local: filter.nolocal,
                        retain_as_published: filter.preserve_retain,
                        id,
                    },
                    retain_handling: match filter.retain_forward_rule {
                        m5::RetainForwardRule::OnEverySubscribe => 0,
                        m5::RetainForwardRule::OnNewSubscribe => 1,
                        m5::RetainForwardRule::Never => 2,
                    },
                    path: filter.path,
                })
                .collect();
            session.subscribe(link_id, subscribe.pkid, &filters, shared)?
        }
        m5::Packet::Unsubscribe(unsubscribe) => session.unsubscribe(
            link_id,
            unsubscribe.pkid,
            &unsubscribe.filters,
            &shared.router,
        )?,
        m5::Packet::PingReq(_) => session.reply(link_id, &Packet::PingResp)?,
        m5::Packet::Connect(..) => return protocol_error("second CONNECT"),
        m5::Packet::Disconnect(_) => return Err(End::Disconnected),
        m5::Packet::Auth(_) => return Err(End::Protocol("AUTH is not supported".into(), 0x8c)),
        m5::Packet::ConnAck(_)
        | m5::Packet::SubAck(_)
        | m5::Packet::UnsubAck(_)
        | m5::Packet::PingResp(_) => {
            return protocol_error("a server packet sent by a client");
        }
    }
    Ok(())
}
