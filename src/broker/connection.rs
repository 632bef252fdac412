//! One client connection: the CONNECT handshake, then a reader (frames -> packets -> session)
//! and a writer (session -> one buffer per wake-up -> socket) side by side in one task.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{ConnAck, ConnectReturnCode, Packet, PubAck, PubRec, PubRel};
use rumqttc::v5::mqttbytes::v5 as m5;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, timeout, timeout_at};

use super::auth::{Access, Refusal};
use super::codec::{self, Incoming5, Protocol, ProtocolRequest, PublishHeader};
use super::router::{Message, SubscriptionOptions};
use super::session::{Detached, FilterRequest, Link, NEVER_EXPIRES, Outbound, Session};
use super::{Shared, stopping};

/// Read buffer growth step.
const READ_CHUNK: usize = 64 * 1024;
/// Below this much free space the read buffer grows before the next read.
const MIN_READ_SPACE: usize = 4 * 1024;
/// Larger payloads are written straight from their shared buffer instead of being copied.
const INLINE_PAYLOAD: usize = 64 * 1024;
/// A client that sends faster than it reads its acks is not read from beyond this backlog.
const REPLY_BACKLOG_LIMIT: usize = 1024 * 1024;
/// How long a refused client gets to read its CONNACK before the socket is closed.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// MQTT 5 reason codes of PUBACK and PUBREC.
const NO_MATCHING_SUBSCRIBERS: u8 = 0x10;
const NOT_AUTHORIZED: u8 = 0x87;

/// Why a connection ended.
enum End {
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
}

/// A will, kept until the connection ends; its message is built when it is published (so its
/// expiry interval starts then).
struct Will {
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
}

impl Refuse {
    fn v4(self) -> ConnectReturnCode {
        match self {
            Refuse::Version => ConnectReturnCode::RefusedProtocolVersion,
            Refuse::BadClientId => ConnectReturnCode::BadClientId,
            // mosquitto answers 5 (not authorised) in 3.1.1 for both.
            Refuse::BadCredentials | Refuse::NotAuthorized | Refuse::BadAuthenticationMethod => {
                ConnectReturnCode::NotAuthorized
            }
        }
    }

    fn v5(self) -> m5::ConnectReturnCode {
        match self {
            Refuse::Version => m5::ConnectReturnCode::UnsupportedProtocolVersion,
            Refuse::BadClientId => m5::ConnectReturnCode::ClientIdentifierNotValid,
            Refuse::BadCredentials => m5::ConnectReturnCode::BadUserNamePassword,
            Refuse::NotAuthorized => m5::ConnectReturnCode::NotAuthorized,
            Refuse::BadAuthenticationMethod => m5::ConnectReturnCode::BadAuthenticationMethod,
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
    })
}

/// The CONNACK of an accepted MQTT 5 client: every property tells what this broker does.
fn connack_v5(shared: &Shared, present: bool, assigned_id: Option<String>) -> m5::Packet {
    let max_packet_size = shared.config.max_packet_size;
    m5::Packet::ConnAck(m5::ConnAck {
        session_present: present,
        code: m5::ConnectReturnCode::Success,
        properties: Some(m5::ConnAckProperties {
            session_expiry_interval: None,
            receive_max: Some(shared.config.max_inflight.max(1)),
            max_qos: None,
            retain_available: Some(1),
            // Our limit is on the remaining length; the total size is a few bytes more.
            max_packet_size: (max_packet_size < 268_435_455)
                .then(|| u32::try_from(max_packet_size).unwrap_or(u32::MAX)),
            assigned_client_identifier: assigned_id,
            // Inbound aliases are resolved per connection; the broker never sends any.
            topic_alias_max: Some(codec::TOPIC_ALIAS_MAX),
            reason_string: None,
            user_properties: Vec::new(),
            wildcard_subscription_available: Some(1),
            subscription_identifiers_available: Some(1),
            shared_subscription_available: Some(1),
            server_keep_alive: None,
            response_information: None,
            server_reference: None,
            authentication_method: None,
            authentication_data: None,
        }),
    })
}

/// Serve one connection (TCP, TLS or WebSocket, its transport handshake done) until it ends.
pub(crate) async fn serve<S>(
    mut stream: S,
    peer: Peer,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let Peer {
        addr: peer,
        transport,
        identity,
    } = peer;
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let handshake = tokio::select! {
        result = handshake(&mut stream, &mut buf, &shared) => result,
        _ = stopping(&mut shutdown) => return,
    };
    let (connect, protocol) = match handshake {
        Ok(accepted) => accepted,
        Err(reason) => {
            shared.log(format_args!("connection from {peer} refused ({reason})"));
            return;
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
        refuse(&mut stream, protocol, reason).await;
        shared.log(format_args!("connection from {peer} refused ({refusal})"));
        return;
    }
    let clean = connect.clean;
    let assigned = connect.client_id.is_empty();
    let client_id = if assigned {
        shared.sessions.assign_client_id()
    } else {
        connect.client_id
    };
    let keep_alive = (connect.keep_alive > 0)
        .then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1500));
    let will = connect.will;
    let mut link = shared.sessions.new_link(protocol);
    link.receive_maximum = connect.receive_maximum;
    link.max_packet_size = connect.max_packet_size;
    let session = shared.sessions.open(
        &client_id,
        clean,
        connect.expiry,
        link.clone(),
        username.clone(),
        &shared.router,
        |present, out| match protocol {
            Protocol::V5 => codec::encode_v5(
                out,
                &connack_v5(&shared, present, assigned.then(|| client_id.clone())),
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
    shared.log(format_args!(
        "client {client_id}{} connected from {peer} over {protocol} on {transport} ({}, keep-alive {})",
        username.as_deref().map_or(String::new(), |name| format!(" (user {name})")),
        match connect.expiry {
            0 => "clean session".to_owned(),
            NEVER_EXPIRES => "persistent session".to_owned(),
            secs => format!("session expiry {secs} s"),
        },
        connect.keep_alive
    ));

    let (mut reader, mut writer) = tokio::io::split(stream);
    let drained = Notify::new();
    // Whether the writer took its first batch, the one with the CONNACK.
    let answered = AtomicBool::new(false);
    let end = tokio::select! {
        end = read_loop(&mut reader, &mut buf, &session, link.id, &shared, keep_alive, &drained, protocol) => end,
        end = write_loop(&mut writer, &session, &link, &shared, &drained, &answered) => end,
        _ = link.kick.notified() => End::TakenOver,
        _ = stopping(&mut shutdown) => End::Shutdown,
    };
    if protocol == Protocol::V5
        && let Some(reason) = end.disconnect_reason()
    {
        let mut out = session.take_replies(link.id);
        // The CONNACK comes first, always: a connection taken over before its writer took the
        // CONNACK (the new one cleared it) ends without a word.
        let connack_out = answered.load(Ordering::Relaxed) || !out.is_empty();
        if connack_out {
            out.extend_from_slice(&codec::disconnect_v5(reason));
        }
        let _ = timeout(REFUSAL_LINGER, async {
            writer.write_all(&out).await?;
            writer.flush().await
        })
        .await;
    }
    let keep_for = shared.sessions.close(&session, link.id, &shared.router);
    if let Some(keep_for) = keep_for {
        let (shared, expiring, mut shutdown) =
            (Arc::clone(&shared), Arc::clone(&session), shutdown.clone());
        let timer = tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(keep_for) => {
                    shared.sessions.expire(&expiring, link.id, &shared.router);
                }
                _ = stopping(&mut shutdown) => {}
            }
        });
        session.add_timer(link.id, timer.abort_handle());
    }
    if end.publishes_will()
        && let Some(will) = will
        && shared.may_write(&client_id, username.as_deref(), &will.topic)
    {
        // Delayed (MQTT 5) until the will delay or the session's end, whichever comes first;
        // dropped if a connection takes the session back before.
        let delay = will.delay.min(session.expiry());
        if delay == 0 {
            shared.publish(will.message(), will.retain, Some(&client_id));
        } else {
            let (shared, delayed, mut shutdown) =
                (Arc::clone(&shared), Arc::clone(&session), shutdown.clone());
            let client_id = client_id.clone();
            let timer = tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(u64::from(delay))) => {
                        if !shared.sessions.resumed_since(&delayed, link.id) {
                            shared.publish(will.message(), will.retain, Some(&client_id));
                        }
                    }
                    _ = stopping(&mut shutdown) => {}
                }
            });
            session.add_timer(link.id, timer.abort_handle());
        }
    }
    shared.log(format_args!("client {client_id} disconnected ({end})"));
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
                refuse(stream, Protocol::V311, Refuse::Version).await;
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
    let max = shared.config.max_packet_size;
    let connect = loop {
        if protocol == Protocol::V5 {
            match codec::read_packet_v5(buf, max) {
                Ok(Some(Incoming5::Packet(m5::Packet::Connect(connect, will, login)))) => {
                    match connect_v5(connect, will, login) {
                        Ok(connect) => break connect,
                        Err((reason, why)) => {
                            refuse(stream, protocol, reason).await;
                            return Err(why);
                        }
                    }
                }
                Ok(Some(_)) => return Err("first packet is not CONNECT".into()),
                Ok(None) => read_before(stream, buf, deadline).await?,
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
        refuse(stream, protocol, Refuse::BadClientId).await;
        return Err(format!("empty client id: {protocol} has no assigned ids"));
    }
    // MQTT 5 assigns an id whatever the clean start; 3.1.1 only for a clean session.
    if connect.client_id.is_empty() && !connect.clean && protocol != Protocol::V5 {
        refuse(stream, protocol, Refuse::BadClientId).await;
        return Err("empty client id needs a clean session".into());
    }
    Ok((connect, protocol))
}

async fn read_before<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<(), String> {
    if buf.capacity() - buf.len() < MIN_READ_SPACE {
        buf.reserve(READ_CHUNK);
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
    protocol: Protocol,
    reason: Refuse,
) {
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
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    })
    .await;
}

/// Frames -> packets -> session, until the client goes or breaks a rule.
#[allow(clippy::too_many_arguments)]
async fn read_loop<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    session: &Arc<Session>,
    link_id: u64,
    shared: &Shared,
    keep_alive: Option<Duration>,
    drained: &Notify,
    protocol: Protocol,
) -> End {
    let max = shared.config.max_packet_size;
    // MQTT 5 topic aliases this client set, for this connection only.
    let mut aliases = HashMap::new();
    // Keep-alive counts whole packets, not bytes: a client dripping a byte at a time is not alive.
    let mut alive_until = keep_alive.map(|limit| Instant::now() + limit);
    loop {
        loop {
            let handled = if protocol == Protocol::V5 {
                match codec::read_packet_v5(buf, max) {
                    Ok(Some(packet)) => handle_v5(packet, session, link_id, shared, &mut aliases),
                    Ok(None) => break,
                    Err(err) => Err(End::Protocol(err.to_string(), err.reason_code())),
                }
            } else {
                match codec::read_packet(buf, max) {
                    Ok(Some(packet)) => handle(packet, session, link_id, shared),
                    Ok(None) => break,
                    Err(err) => Err(End::Protocol(err.to_string(), err.reason_code())),
                }
            };
            if let Err(end) = handled {
                return end;
            }
            alive_until = keep_alive.map(|limit| Instant::now() + limit);
        }
        while session.reply_backlog() > REPLY_BACKLOG_LIMIT {
            drained.notified().await;
        }
        if buf.capacity() - buf.len() < MIN_READ_SPACE {
            buf.reserve(READ_CHUNK);
        }
        let read = reader.read_buf(buf);
        let result = match alive_until {
            Some(deadline) => match timeout_at(deadline, read).await {
                Ok(result) => result,
                Err(_) => return End::KeepAliveExpired,
            },
            None => read.await,
        };
        match result {
            Ok(0) => return End::Closed,
            Ok(_) => {}
            Err(err) => return End::Io(err),
        }
    }
}

/// Whether the ACL denies this session's client writing to `topic_name`.
fn write_denied(session: &Session, shared: &Shared, topic_name: &str) -> bool {
    shared
        .config
        .acl
        .as_ref()
        .is_some_and(|acl| !session.allowed(acl, topic_name, Access::Write))
}

/// One packet from a 3.1.1 or 3.1 client. Err ends the connection.
fn handle(
    packet: Packet,
    session: &Arc<Session>,
    link_id: u64,
    shared: &Shared,
) -> Result<(), End> {
    let protocol_error = |why: &str| Err(End::Protocol(why.into(), 0x82));
    match packet {
        Packet::Publish(publish) => {
            let (qos, pkid, retain) = (publish.qos, publish.pkid, publish.retain);
            // Denied: acknowledged as usual but not routed, as mosquitto does in MQTT 3.1.1.
            let denied = write_denied(session, shared, &publish.topic);
            let message = Arc::new(Message::new(publish.topic, publish.payload, qos));
            let publisher = Some(session.client_id.as_str());
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
fn handle_v5(
    packet: Incoming5,
    session: &Arc<Session>,
    link_id: u64,
    shared: &Shared,
    aliases: &mut HashMap<u16, String>,
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
                Some(alias) if topic.is_empty() => match aliases.get(&alias) {
                    Some(known) => topic.clone_from(known),
                    None => return protocol_error("PUBLISH with an unknown topic alias"),
                },
                Some(alias) => {
                    aliases.insert(alias, topic.clone());
                }
                None if topic.is_empty() => return protocol_error("PUBLISH without a topic"),
                None => {}
            }
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
            let publisher = Some(session.client_id.as_str());
            match qos {
                QoS::AtMostOnce => {
                    if !denied {
                        shared.publish(message, retain, publisher);
                    }
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
                    if session.awaiting_pubrel() >= usize::from(shared.config.max_inflight.max(1))
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

/// Session -> socket: per wake-up, everything waiting goes out in one buffer (large payloads
/// straight from their shared buffer).
async fn write_loop<W: AsyncWrite + Unpin>(
    writer: &mut W,
    session: &Session,
    link: &Link,
    shared: &Shared,
    drained: &Notify,
    answered: &AtomicBool,
) -> End {
    let mut out = BytesMut::with_capacity(READ_CHUNK);
    let mut outbound = Vec::new();
    let mut properties = BytesMut::new();
    loop {
        out.clear();
        let taken =
            session.take_batch(link.id, &mut out, &mut outbound, shared.config.max_inflight);
        if taken.is_err() {
            return End::TakenOver;
        }
        if out.is_empty() && outbound.is_empty() {
            link.wake.notified().await;
            continue;
        }
        answered.store(true, Ordering::Relaxed);
        for item in outbound.drain(..) {
            match item {
                Outbound::Publish {
                    delivery,
                    pkid,
                    dup,
                } => {
                    let payload = &delivery.message.payload;
                    properties.clear();
                    if link.protocol == Protocol::V5 {
                        codec::publish_properties(
                            &mut properties,
                            delivery.message.properties.as_deref(),
                            delivery.message.remaining_expiry(Instant::now()),
                            &delivery.subscription_ids,
                        );
                    }
                    let header = PublishHeader {
                        topic: &delivery.message.topic,
                        qos: delivery.qos,
                        retain: delivery.retain,
                        dup,
                        pkid,
                        properties: &properties,
                        payload_len: payload.len(),
                    };
                    // Cannot fail: every message was accepted at this size or larger.
                    if !header.encode(&mut out) {
                        continue;
                    }
                    if payload.len() <= INLINE_PAYLOAD {
                        out.extend_from_slice(payload);
                        continue;
                    }
                    if let Err(err) = writer.write_all(&out).await {
                        return End::Io(err);
                    }
                    out.clear();
                    if let Err(err) = writer.write_all(payload).await {
                        return End::Io(err);
                    }
                }
                Outbound::PubRel(pkid) => {
                    codec::encode(&mut out, &Packet::PubRel(PubRel::new(pkid)));
                }
            }
        }
        if let Err(err) = writer.write_all(&out).await {
            return End::Io(err);
        }
        drained.notify_one();
    }
}
