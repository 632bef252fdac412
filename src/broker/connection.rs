//! One client connection: the CONNECT handshake, then a reader (frames -> packets -> session)
//! and a writer (session -> one buffer per wake-up -> socket) side by side in one task.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{ConnAck, Connect, ConnectReturnCode, Packet, PubAck, PubRec, PubRel};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, timeout, timeout_at};

use super::auth::Access;
use super::codec::{self, Protocol, ProtocolRequest, PublishHeader};
use super::router::Message;
use super::session::{Detached, Link, Outbound, Session};
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

/// Why a connection ended.
enum End {
    Disconnected,
    Closed,
    Io(io::Error),
    Protocol(String),
    KeepAliveExpired,
    TakenOver,
    Shutdown,
}

impl End {
    /// The will is for abnormal ends only: never after DISCONNECT (nor when the broker stops).
    fn publishes_will(&self) -> bool {
        !matches!(self, End::Disconnected | End::Shutdown)
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Disconnected => f.write_str("sent DISCONNECT"),
            End::Closed => f.write_str("connection closed by the client"),
            End::Io(err) => write!(f, "I/O error: {err}"),
            End::Protocol(why) => write!(f, "protocol error: {why}"),
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
    let username = identity.or_else(|| connect.login.as_ref().map(|login| login.username.clone()));
    let password = connect.login.as_ref().map(|login| login.password.as_str());
    if let Err(refusal) = shared.authenticate(username.as_deref(), password, certified) {
        refuse(&mut stream, ConnectReturnCode::NotAuthorized).await;
        shared.log(format_args!("connection from {peer} refused ({refusal})"));
        return;
    }
    let clean = connect.clean_session;
    let client_id = if connect.client_id.is_empty() {
        shared.sessions.assign_client_id()
    } else {
        connect.client_id
    };
    let keep_alive = (connect.keep_alive > 0)
        .then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1500));
    let will = connect.last_will.map(|will| {
        let message = Message {
            topic: will.topic,
            payload: will.message,
            qos: will.qos,
        };
        (Arc::new(message), will.retain)
    });
    let link = shared.sessions.new_link();
    let session = shared.sessions.open(
        &client_id,
        clean,
        protocol.reports_session_present(),
        link.clone(),
        username.clone(),
        &shared.router,
    );
    shared.log(format_args!(
        "client {client_id}{} connected from {peer} over {protocol} on {transport} ({}, keep-alive {})",
        username.as_deref().map_or(String::new(), |name| format!(" (user {name})")),
        if clean {
            "clean session"
        } else {
            "persistent session"
        },
        connect.keep_alive
    ));

    let (mut reader, mut writer) = tokio::io::split(stream);
    let drained = Notify::new();
    let end = tokio::select! {
        end = read_loop(&mut reader, &mut buf, &session, link.id, &shared, keep_alive, &drained) => end,
        end = write_loop(&mut writer, &session, &link, &shared, &drained) => end,
        _ = link.kick.notified() => End::TakenOver,
        _ = stopping(&mut shutdown) => End::Shutdown,
    };
    shared.sessions.close(&session, link.id, &shared.router);
    if end.publishes_will()
        && let Some((message, retain)) = will
        && shared.may_write(&client_id, username.as_deref(), &message.topic)
    {
        shared.publish(message, retain);
    }
    shared.log(format_args!("client {client_id} disconnected ({end})"));
}

/// Read the first CONNECT: pick the protocol, refuse what we do not serve (with a CONNACK when
/// the client can understand one). Err carries the reason, for the log.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    shared: &Shared,
) -> Result<(Connect, Protocol), String> {
    let deadline = Instant::now() + shared.config.connect_timeout;
    let protocol = loop {
        match codec::detect_protocol(buf) {
            ProtocolRequest::Incomplete => read_before(stream, buf, deadline).await?,
            ProtocolRequest::Supported(protocol) => break protocol,
            ProtocolRequest::UnsupportedVersion(protocol) => {
                refuse(stream, ConnectReturnCode::RefusedProtocolVersion).await;
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
    let connect = loop {
        match codec::read_packet(buf, shared.config.max_packet_size) {
            Ok(Some(Packet::Connect(connect))) => break connect,
            Ok(Some(_)) => return Err("first packet is not CONNECT".into()),
            Ok(None) => read_before(stream, buf, deadline).await?,
            Err(err) => return Err(err.to_string()),
        }
    };
    if connect.client_id.is_empty() && !protocol.assigns_client_ids() {
        refuse(stream, ConnectReturnCode::BadClientId).await;
        return Err(format!("empty client id: {protocol} has no assigned ids"));
    }
    if connect.client_id.is_empty() && !connect.clean_session {
        refuse(stream, ConnectReturnCode::BadClientId).await;
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

/// Answer CONNACK with a refusal code, then close.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, code: ConnectReturnCode) {
    let mut out = BytesMut::new();
    codec::encode(&mut out, &Packet::ConnAck(ConnAck::new(code, false)));
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
async fn read_loop<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    session: &Arc<Session>,
    link_id: u64,
    shared: &Shared,
    keep_alive: Option<Duration>,
    drained: &Notify,
) -> End {
    loop {
        loop {
            match codec::read_packet(buf, shared.config.max_packet_size) {
                Ok(Some(packet)) => {
                    if let Err(end) = handle(packet, session, link_id, shared) {
                        return end;
                    }
                }
                Ok(None) => break,
                Err(err) => return End::Protocol(err.to_string()),
            }
        }
        while session.reply_backlog() > REPLY_BACKLOG_LIMIT {
            drained.notified().await;
        }
        if buf.capacity() - buf.len() < MIN_READ_SPACE {
            buf.reserve(READ_CHUNK);
        }
        let read = reader.read_buf(buf);
        let result = match keep_alive {
            Some(limit) => match timeout(limit, read).await {
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

/// One packet from the client. Err ends the connection.
fn handle(
    packet: Packet,
    session: &Arc<Session>,
    link_id: u64,
    shared: &Shared,
) -> Result<(), End> {
    match packet {
        Packet::Publish(publish) => {
            let (qos, pkid, retain) = (publish.qos, publish.pkid, publish.retain);
            // Denied: acknowledged as usual but not routed, as mosquitto does in MQTT 3.1.1.
            let denied = shared
                .config
                .acl
                .as_ref()
                .is_some_and(|acl| !session.allowed(acl, &publish.topic, Access::Write));
            let message = Arc::new(Message {
                topic: publish.topic,
                payload: publish.payload,
                qos,
            });
            match qos {
                QoS::AtMostOnce if !denied => shared.publish(message, retain),
                QoS::AtMostOnce => {}
                QoS::AtLeastOnce => {
                    if !denied {
                        shared.publish(message, retain);
                    }
                    session.reply(link_id, &Packet::PubAck(PubAck::new(pkid)))?;
                }
                QoS::ExactlyOnce => {
                    // Routed on first receipt; a DUP resend before PUBREL is only acknowledged.
                    if session.receive_qos2(link_id, pkid)? && !denied {
                        shared.publish(message, retain);
                    }
                    session.reply(link_id, &Packet::PubRec(PubRec::new(pkid)))?;
                }
            }
        }
        Packet::PubAck(ack) => session.puback(link_id, ack.pkid)?,
        Packet::PubRec(ack) => session.pubrec(link_id, ack.pkid)?,
        Packet::PubRel(ack) => session.release(link_id, ack.pkid)?,
        Packet::PubComp(ack) => session.pubcomp(link_id, ack.pkid)?,
        Packet::Subscribe(subscribe) => session.subscribe(link_id, &subscribe, shared)?,
        Packet::Unsubscribe(unsubscribe) => {
            session.unsubscribe(link_id, &unsubscribe, &shared.router)?
        }
        Packet::PingReq => session.reply(link_id, &Packet::PingResp)?,
        Packet::Disconnect => return Err(End::Disconnected),
        Packet::Connect(_) => return Err(End::Protocol("second CONNECT".into())),
        Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
            return Err(End::Protocol("a server packet sent by a client".into()));
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
) -> End {
    let mut out = BytesMut::with_capacity(READ_CHUNK);
    let mut outbound = Vec::new();
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
        for item in outbound.drain(..) {
            match item {
                Outbound::Publish {
                    delivery,
                    pkid,
                    dup,
                } => {
                    let payload = &delivery.message.payload;
                    let header = PublishHeader {
                        topic: &delivery.message.topic,
                        qos: delivery.qos,
                        retain: delivery.retain,
                        dup,
                        pkid,
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
