//! A connection's I/O once its CONNECT is accepted: one poll reads (into a per-thread scratch
//! buffer while the client is quiet, so an idle connection holds no read buffer), hands the
//! packets to the session, writes the session's batches (one write per wake-up, straight from a
//! per-thread buffer; large payloads from their shared buffer by vectored writes; only what the
//! socket does not take is kept), and watches the keep-alive, a takeover and the broker's stop.
//!
//! A struct polled by hand rather than an async fn: an idle connection's task holds this and
//! little else, and every byte of it is paid ten thousand times over.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use rumqttc::mqttbytes::v4::{Packet, PubRel};
use rumqttc::v5::mqttbytes::v5 as m5;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::Shared;
use super::codec::{self, Incoming5, Protocol, PublishHeader};
use super::connection::{self, Aliases, End};
use super::keepalive;
use super::log;
use super::session::{Detached, Outbound, Session};
use super::sys::{self, Stats};

/// Read buffer growth step, and the size of the per-thread read scratch buffer.
const READ_CHUNK: usize = 64 * 1024;
/// Below this much free space the read buffer grows before the next read.
const MIN_READ_SPACE: usize = 4 * 1024;
/// A read this small marks a quiet client: its next read goes through the scratch buffer.
const QUIET_READ: usize = 256;
/// After a packet bigger than this, what is left of the read buffer is copied out of it, so an
/// idle connection does not keep the large packet's memory.
const LARGE_FRAME: usize = READ_CHUNK;
/// Larger payloads are written from their shared buffer (vectored) instead of being copied.
const INLINE_PAYLOAD: usize = 16 * 1024;
/// A client that sends faster than it reads its acks is not read from beyond this backlog.
const REPLY_BACKLOG_LIMIT: usize = 1024 * 1024;
/// Buffers one vectored write takes at most.
const WRITE_SLICES: usize = 16;

thread_local! {
    /// Where a quiet connection's reads land; only the bytes read are then kept.
    static READ_SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
    /// Where a writer's batch is encoded; only what the socket does not take is copied out.
    static WRITE_SCRATCH: RefCell<(BytesMut, Vec<Outbound>)> = RefCell::default();
}

/// One connection's reading and writing, polled by its task until it ends.
pub(crate) struct Pump<S> {
    /// Its bytes are counted here, both ways, not by a wrapper that would take room.
    stream: S,
    shared: Arc<Shared>,
    session: Arc<Session>,
    link_id: u64,
    protocol: Protocol,
    /// The topic aliases the client takes from the broker (MQTT 5; 0: none).
    topic_alias_max: u16,
    /// The last read was not a quiet one: the next goes straight into `inbuf`.
    busy: bool,
    /// Whether the writer took its first batch, the one with the CONNACK.
    answered: bool,
    /// `inbuf` may hold whole packets not handled yet (what came with the CONNECT).
    unhandled: bool,
    /// Bytes read that are not yet a whole packet, and the buffer a busy client's reads go
    /// to; None (no memory at all) while the client is quiet.
    inbuf: Option<Box<BytesMut>>,
    /// What the socket has not taken yet, in order (present, maybe empty, until flushed).
    /// Boxed: 8 bytes in every idle connection rather than 32, for a rare state.
    #[allow(clippy::box_collection)]
    unwritten: Option<Box<VecDeque<Bytes>>>,
    /// 1.5 x the keep-alive, in milliseconds (0: none): that long without a whole packet ends
    /// the connection.
    keep_alive_ms: u32,
    /// When that is, on the keep-alive clock (see keepalive.rs).
    alive_until: u64,
    /// The clock slot this connection is registered in to be woken (0: none).
    keep_alive_slot: u64,
    /// MQTT 5 topic aliases, both ways, once one is used.
    aliases: Option<Box<Aliases>>,
}

/// Where a new [`Pump`] starts.
pub(crate) struct PumpStart<S> {
    pub stream: S,
    pub shared: Arc<Shared>,
    pub session: Arc<Session>,
    pub link_id: u64,
    pub protocol: Protocol,
    pub topic_alias_max: u16,
    /// What the client sent behind its CONNECT.
    pub inbuf: BytesMut,
    /// 1.5 x the keep-alive the client is held to, if any.
    pub keep_alive: Option<Duration>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Pump<S> {
    pub fn new(start: PumpStart<S>) -> Self {
        let keep_alive_ms = start.keep_alive.map_or(0, |limit| {
            u32::try_from(limit.as_millis()).unwrap_or(u32::MAX).max(1)
        });
        let alive_until = start.shared.keep_alives.now_ms() + u64::from(keep_alive_ms);
        Pump {
            stream: start.stream,
            shared: start.shared,
            session: start.session,
            link_id: start.link_id,
            protocol: start.protocol,
            topic_alias_max: start.topic_alias_max,
            busy: !start.inbuf.is_empty(),
            answered: false,
            unhandled: !start.inbuf.is_empty(),
            inbuf: (!start.inbuf.is_empty()).then(|| Box::new(start.inbuf)),
            unwritten: None,
            keep_alive_ms,
            alive_until,
            keep_alive_slot: 0,
            aliases: None,
        }
    }

    /// Whether the writer took its first batch (the one with the CONNACK).
    pub fn answered(&self) -> bool {
        self.answered
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    pub fn link_id(&self) -> u64 {
        self.link_id
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    pub fn stream(&mut self) -> &mut S {
        &mut self.stream
    }

    /// What the socket has not taken of the last batch, in one buffer.
    pub fn take_unwritten(&mut self) -> BytesMut {
        let mut out = BytesMut::new();
        if let Some(unwritten) = self.unwritten.take() {
            for segment in unwritten.iter() {
                out.extend_from_slice(segment);
            }
        }
        out
    }

    /// Serve until the connection ends: write what the session has for the client, read and
    /// handle what the client sends, and wait when neither moves.
    pub fn poll_serve(&mut self, cx: &mut Context<'_>) -> Poll<End> {
        let max_inflight = self.shared.config.inflight_limit();
        loop {
            if self.shared.is_stopping() {
                return Poll::Ready(End::Shutdown);
            }
            let wrote = match self.poll_write(cx) {
                Poll::Ready(Ok(wrote)) => wrote,
                Poll::Ready(Err(end)) => return Poll::Ready(end),
                Poll::Pending => false,
            };
            let read = match self.poll_read(cx) {
                Poll::Ready(Ok(())) => true,
                Poll::Ready(Err(end)) => return Poll::Ready(end),
                Poll::Pending => false,
            };
            if wrote || read {
                continue;
            }
            // Nothing moved: wait for the socket, the session (output, only when there is room
            // to write it; a takeover), the broker's stop or the keep-alive.
            let can_write = self.unwritten.is_none();
            match self
                .session
                .park(self.link_id, cx.waker(), can_write, max_inflight)
            {
                Err(Detached) => return Poll::Ready(End::TakenOver),
                Ok(true) => continue,
                Ok(false) => {}
            }
            // Checked after parking: a stop that came before it is seen, one after it wakes us.
            if self.shared.is_stopping() {
                return Poll::Ready(End::Shutdown);
            }
            if self.keep_alive_expired(cx) {
                return Poll::Ready(End::KeepAliveExpired);
            }
            return Poll::Pending;
        }
    }

    /// Whether the keep-alive ran out; if not, the clock is to wake the task when it would.
    fn keep_alive_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.keep_alive_ms == 0 {
            return false;
        }
        let clock = &self.shared.keep_alives;
        let now = clock.now_ms();
        if now >= self.alive_until {
            return true;
        }
        // Registered once per deadline: again only once the slot registered for has passed.
        if self.keep_alive_slot == 0 || self.keep_alive_slot * keepalive::TICK_MS <= now {
            let shutdown = &self.shared.shutdown;
            let waker = cx.waker();
            self.keep_alive_slot = clock.register(self.alive_until, self.link_id, waker, shutdown);
        }
        false
    }

    /// Read once and handle every whole packet read. Pending: nothing to read (or the client
    /// is not read from until its replies drain).
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), End>> {
        if self.session.reply_backlog() > REPLY_BACKLOG_LIMIT {
            return Poll::Pending;
        }
        if std::mem::take(&mut self.unhandled) {
            return Poll::Ready(self.handle_read());
        }
        let stream = &mut self.stream;
        let read = match &mut self.inbuf {
            None if !self.busy => READ_SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                let mut buf = ReadBuf::new(&mut scratch[..]);
                let polled = Pin::new(stream).poll_read(cx, &mut buf);
                polled.map_ok(|()| {
                    if !buf.filled().is_empty() {
                        self.inbuf = Some(Box::new(BytesMut::from(buf.filled())));
                    }
                    buf.filled().len()
                })
            }),
            inbuf => {
                let inbuf = inbuf.get_or_insert_default();
                make_room(inbuf);
                std::pin::pin!(stream.read_buf(&mut **inbuf)).poll(cx)
            }
        };
        let read = match read {
            Poll::Pending => {
                if self.inbuf.as_ref().is_some_and(|inbuf| inbuf.is_empty()) {
                    // Waiting with nothing buffered: hold no memory for it.
                    self.inbuf = None;
                }
                return Poll::Pending;
            }
            Poll::Ready(Err(err)) => return Poll::Ready(Err(End::Io(err))),
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(End::Closed)),
            Poll::Ready(Ok(read)) => read,
        };
        Stats::add(&self.shared.stats.bytes_received, read as u64);
        self.busy = read >= QUIET_READ;
        Poll::Ready(self.handle_read())
    }

    /// Handle every whole packet read, then keep the read buffer small.
    fn handle_read(&mut self) -> Result<(), End> {
        let Some(inbuf) = &mut self.inbuf else {
            return Ok(());
        };
        let (packets, large) = handle_packets(
            inbuf,
            &self.shared,
            &self.session,
            self.link_id,
            self.protocol,
            &mut self.aliases,
        )?;
        if packets > 0 && self.keep_alive_ms > 0 {
            self.alive_until = self.shared.keep_alives.now_ms() + u64::from(self.keep_alive_ms);
        }
        if inbuf.is_empty() && !self.busy {
            self.inbuf = None;
        } else if large {
            // The buffer grew to hold a large packet: what is left of it still holds all of
            // that memory, so an idle connection would keep it.
            **inbuf = small_copy(inbuf);
        }
        Ok(())
    }

    /// Write what is left of the last batch, then batch after batch while the session has
    /// more. Ready(Ok(wrote)): all written; Pending: the socket is full.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, End>> {
        let mut wrote = false;
        loop {
            if let Some(unwritten) = &mut self.unwritten {
                let stats = &self.shared.stats;
                match poll_write_all(&mut self.stream, cx, unwritten, stats) {
                    Poll::Ready(Ok(())) => self.unwritten = None,
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(End::Io(err))),
                    Poll::Pending => return Poll::Pending,
                }
                wrote = true;
            }
            if !self.write_batch(cx)? {
                return Poll::Ready(Ok(wrote));
            }
            wrote = true;
        }
    }

    /// Take the session's next batch (false: none), encode it into the per-thread buffer and
    /// write it; what the socket does not take, and large payloads, are left in `unwritten`.
    /// To an MQTT 5 client that takes topic aliases, each topic is sent once with an alias,
    /// then as the alias alone, until the aliases run out.
    fn write_batch(&mut self, cx: &mut Context<'_>) -> Result<bool, End> {
        WRITE_SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let (out, outbound) = &mut *scratch;
            out.clear();
            let written = self.encode_and_write(cx, out, outbound);
            // No message outlives its batch in the per-thread buffer.
            outbound.clear();
            written
        })
    }

    fn encode_and_write(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut BytesMut,
        outbound: &mut Vec<Outbound>,
    ) -> Result<bool, End> {
        let shared = &*self.shared;
        let taken = {
            let _gate = shared.hold();
            let max_inflight = shared.config.inflight_limit();
            self.session
                .take_batch(self.link_id, out, outbound, max_inflight)
        };
        if taken.is_err() {
            return Err(End::TakenOver);
        }
        if out.is_empty() && outbound.is_empty() {
            return Ok(false);
        }
        // The acks and sends of this batch are recorded before they leave.
        shared.flush_journal().map_err(End::Io)?;
        let stats = &shared.stats;
        Stats::add(
            &stats.packets_sent,
            sys::count_packets(out) + outbound.len() as u64,
        );
        let publishes = outbound
            .iter()
            .filter_map(|item| match item {
                Outbound::Publish { delivery, .. } => Some(delivery.message.payload.len() as u64),
                Outbound::PubRel(_) => None,
            })
            .fold((0, 0), |(n, bytes), len| (n + 1, bytes + len));
        Stats::add(&stats.publish_sent, publishes.0);
        Stats::add(&stats.publish_bytes_sent, publishes.1);
        if shared.logs_packets() {
            log_outgoing(shared, &self.session.client_id, out, outbound);
        }
        self.answered = true;
        let mut segments: Option<Box<VecDeque<Bytes>>> = None;
        let mut properties = BytesMut::new();
        let now = Instant::now();
        for item in outbound.drain(..) {
            match item {
                Outbound::Publish {
                    delivery,
                    pkid,
                    dup,
                } => {
                    let payload = &delivery.message.payload;
                    let mut topic = delivery.message.topic.as_str();
                    if self.protocol == Protocol::V5 {
                        properties.clear();
                        let alias = match self.topic_alias_max {
                            0 => None,
                            max => {
                                let given = &mut self.aliases.get_or_insert_default().outbound;
                                outbound_alias(given, max, topic)
                            }
                        };
                        if let Some(Alias::Known(_)) = alias {
                            topic = "";
                        }
                        codec::publish_properties(
                            &mut properties,
                            delivery.message.properties.as_deref(),
                            delivery.message.remaining_expiry(now),
                            &delivery.subscription_ids,
                            alias.map(Alias::number),
                        );
                    }
                    let header = PublishHeader {
                        topic,
                        qos: delivery.qos,
                        retain: delivery.retain,
                        dup,
                        pkid,
                        properties: &properties,
                        payload_len: payload.len(),
                    };
                    // Cannot fail: every message was accepted at this size or larger.
                    if !header.encode(out) {
                        continue;
                    }
                    if payload.len() <= INLINE_PAYLOAD {
                        out.extend_from_slice(payload);
                        continue;
                    }
                    let segments = segments.get_or_insert_with(Default::default);
                    segments.push_back(Bytes::copy_from_slice(out));
                    out.clear();
                    segments.push_back(payload.clone());
                }
                Outbound::PubRel(pkid) => {
                    codec::encode(out, &Packet::PubRel(PubRel::new(pkid)));
                }
            }
        }
        if let Some(mut segments) = segments {
            if !out.is_empty() {
                segments.push_back(Bytes::copy_from_slice(out));
            }
            self.unwritten = Some(segments);
            return Ok(true);
        }
        // The usual case: written straight from the per-thread buffer.
        let mut written = 0;
        while written < out.len() {
            match Pin::new(&mut self.stream).poll_write(cx, &out[written..]) {
                Poll::Ready(Ok(0)) => return Err(End::Io(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    Stats::add(&shared.stats.bytes_sent, n as u64);
                    written += n;
                }
                Poll::Ready(Err(err)) => return Err(End::Io(err)),
                Poll::Pending => break,
            }
        }
        if written < out.len() {
            let rest = Bytes::copy_from_slice(&out[written..]);
            self.unwritten = Some(Box::new(VecDeque::from([rest])));
        } else if Pin::new(&mut self.stream)
            .poll_flush(cx)
            .map_err(End::Io)?
            .is_pending()
        {
            self.unwritten = Some(Box::default());
        }
        Ok(true)
    }
}

/// Every whole packet in `inbuf`, to the session, under one gate hold (its changes reach
/// the journal as one chunk). Returns how many, and whether one was large.
fn handle_packets(
    inbuf: &mut BytesMut,
    shared: &Shared,
    session: &Arc<Session>,
    link_id: u64,
    protocol: Protocol,
    aliases: &mut Option<Box<Aliases>>,
) -> Result<(usize, bool), End> {
    let max = shared.config.packet_limit();
    // Counted per read, not per packet: (packets, publishes, publish payload bytes).
    let mut counts = (0u64, 0u64, 0u64);
    let mut large = false;
    let gate = shared.hold();
    let ended = loop {
        let before = inbuf.len();
        let handled = if protocol == Protocol::V5 {
            match codec::read_packet_v5(inbuf, max) {
                Ok(Some(packet)) => {
                    counts.0 += 1;
                    if shared.logs_packets() {
                        let packet = log::describe_v5(&packet);
                        shared.log_packet(format_args!(
                            "received {packet} from {}",
                            session.client_id
                        ));
                    }
                    if let Incoming5::Packet(m5::Packet::Publish(publish)) = &packet {
                        counts.1 += 1;
                        counts.2 += publish.payload.len() as u64;
                    }
                    connection::handle_v5(packet, session, link_id, shared, aliases)
                }
                Ok(None) => break None,
                Err(err) => Err(End::Protocol(err.to_string(), err.reason_code())),
            }
        } else {
            match codec::read_packet(inbuf, max) {
                Ok(Some(packet)) => {
                    counts.0 += 1;
                    if shared.logs_packets() {
                        let packet = log::describe_v4(&packet);
                        shared.log_packet(format_args!(
                            "received {packet} from {}",
                            session.client_id
                        ));
                    }
                    if let Packet::Publish(publish) = &packet {
                        counts.1 += 1;
                        counts.2 += publish.payload.len() as u64;
                    }
                    connection::handle(packet, session, link_id, shared)
                }
                Ok(None) => break None,
                Err(err) => Err(End::Protocol(err.to_string(), err.reason_code())),
            }
        };
        if let Err(end) = handled {
            break Some(end);
        }
        large |= before - inbuf.len() > LARGE_FRAME;
    };
    let stats = &shared.stats;
    Stats::add(&stats.packets_received, counts.0);
    Stats::add(&stats.publish_received, counts.1);
    Stats::add(&stats.publish_bytes_received, counts.2);
    drop(gate);
    match ended {
        Some(end) => Err(end),
        None => Ok((counts.0 as usize, large)),
    }
}

impl<S> Drop for Pump<S> {
    fn drop(&mut self) {
        if self.keep_alive_slot != 0 {
            let clock = &self.shared.keep_alives;
            clock.deregister(self.keep_alive_slot, self.link_id);
        }
    }
}

/// Write every segment, in order (several at once when the stream takes vectored writes), then
/// flush.
fn poll_write_all<S: AsyncWrite + Unpin>(
    stream: &mut S,
    cx: &mut Context<'_>,
    segments: &mut VecDeque<Bytes>,
    stats: &Stats,
) -> Poll<io::Result<()>> {
    loop {
        while segments.front().is_some_and(Bytes::is_empty) {
            segments.pop_front();
        }
        if segments.is_empty() {
            return Pin::new(stream).poll_flush(cx);
        }
        let polled = if segments.len() == 1 || !stream.is_write_vectored() {
            Pin::new(&mut *stream).poll_write(cx, &segments[0])
        } else {
            let slices: [IoSlice<'_>; WRITE_SLICES] = std::array::from_fn(|i| {
                IoSlice::new(segments.get(i).map_or(&[][..], |segment| &segment[..]))
            });
            let count = segments.len().min(WRITE_SLICES);
            Pin::new(&mut *stream).poll_write_vectored(cx, &slices[..count])
        };
        let mut written = match polled {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => return Poll::Pending,
        };
        Stats::add(&stats.bytes_sent, written as u64);
        while written > 0 {
            let Some(front) = segments.front_mut() else {
                break;
            };
            if front.len() <= written {
                written -= front.len();
                segments.pop_front();
            } else {
                front.advance(written);
                written = 0;
            }
        }
    }
}

/// Room for the next read straight into the buffer: a chunk more when little is left.
fn make_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < MIN_READ_SPACE {
        buf.reserve(READ_CHUNK);
    }
}

/// The unread bytes of `buf` in a buffer of their own, of the usual size (or theirs).
fn small_copy(buf: &BytesMut) -> BytesMut {
    let mut small = BytesMut::with_capacity(READ_CHUNK.max(buf.len()));
    small.extend_from_slice(buf);
    small
}

#[derive(Clone, Copy)]
enum Alias {
    /// Given now: the PUBLISH carries the topic and the alias.
    New(u16),
    /// Given before: the PUBLISH carries the alias and an empty topic.
    Known(u16),
}

impl Alias {
    fn number(self) -> u16 {
        match self {
            Alias::New(n) | Alias::Known(n) => n,
        }
    }
}

/// The alias of `topic` towards an MQTT 5 client: aliases are given out first come, first
/// served, up to the client's topic alias maximum.
fn outbound_alias(given: &mut HashMap<String, u16>, max: u16, topic: &str) -> Option<Alias> {
    if let Some(&n) = given.get(topic) {
        return Some(Alias::Known(n));
    }
    let next = u16::try_from(given.len() + 1).ok()?;
    if next > max {
        return None;
    }
    given.insert(topic.to_owned(), next);
    Some(Alias::New(next))
}

/// The packet log of what a writer is about to send: the replies, then the messages.
fn log_outgoing(shared: &Shared, client_id: &str, replies: &[u8], outbound: &[Outbound]) {
    for frame in log::frames(replies) {
        let packet = log::describe_frame(frame);
        shared.log_packet(format_args!("sending {packet} to {client_id}"));
    }
    for item in outbound {
        let packet = match item {
            Outbound::Publish {
                delivery,
                pkid,
                dup,
            } => log::describe_publish(
                *dup,
                delivery.qos as u8,
                delivery.retain,
                *pkid,
                &delivery.message.topic,
                delivery.message.payload.len(),
            ),
            Outbound::PubRel(pkid) => format!("PUBREL (m{pkid})"),
        };
        shared.log_packet(format_args!("sending {packet} to {client_id}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::mqttbytes::QoS;
    use rumqttc::mqttbytes::v4::Publish;

    #[test]
    fn a_large_packet_leaves_no_large_read_buffer_behind() {
        // A 1 MiB PUBLISH read whole into the buffer, with the first byte of the next packet.
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let large = Publish::new("t", QoS::AtMostOnce, vec![7u8; 1 << 20]);
        codec::encode(&mut buf, &Packet::Publish(large));
        buf.extend_from_slice(&[0xc0]);
        let max = super::super::MQTT_MAX_PACKET;
        let Ok(Some(Packet::Publish(publish))) = codec::read_packet(&mut buf, max) else {
            panic!("a PUBLISH")
        };
        let payload = publish.payload;
        assert!(
            !payload.is_unique(),
            "what is left of the buffer shares the packet's memory"
        );
        buf = small_copy(&buf); // as poll_read does
        assert!(payload.is_unique(), "the buffer no longer holds it");
        assert_eq!(&buf[..], [0xc0]);
        assert_eq!(buf.capacity(), READ_CHUNK);
    }

    #[test]
    fn segments_are_written_in_order_whatever_the_stream_takes() {
        // A stream that takes at most 3 bytes per write, vectored or not.
        struct Trickle(Vec<u8>);
        impl AsyncWrite for Trickle {
            fn poll_write(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let n = buf.len().min(3);
                self.0.extend_from_slice(&buf[..n]);
                Poll::Ready(Ok(n))
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
        let mut stream = Trickle(Vec::new());
        let mut segments: VecDeque<Bytes> = ["ab", "", "cdefg", "h", "ijklmnop"]
            .into_iter()
            .map(|text| Bytes::from_static(text.as_bytes()))
            .collect();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let polled = poll_write_all(&mut stream, &mut cx, &mut segments, &Stats::default());
        assert!(matches!(polled, Poll::Ready(Ok(()))));
        assert_eq!(stream.0, b"abcdefghijklmnop");
        assert!(segments.is_empty());
    }
}
