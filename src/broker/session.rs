//! What outlives a connection: subscriptions, outgoing messages queued and in flight, incoming
//! QoS 2 packet ids awaiting PUBREL; and the registry of sessions by client id.
//!
//! Lock order, to rule out deadlocks: the persistence gate (see persist.rs), sessions registry,
//! then a session, then the router or the retained store, then the journal's pending records.
//! Routing takes the router lock and releases it before locking any session.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, PubComp, PubRel, SubAck, SubscribeReasonCode, UnsubAck};
use rumqttc::v5::mqttbytes::v5 as m5;
use std::task::Waker;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::Shared;
use super::auth::{Access, Acl};
use super::codec::{self, Protocol};
use super::persist::{Journal, SavedSession, record};
use super::router::{Message, Router, SubscriptionOptions, min_qos};

/// Session expiry interval meaning "never" (MQTT 5); a 3.1.1 persistent session has it.
pub(crate) const NEVER_EXPIRES: u32 = u32::MAX;

/// How many queued bytes one writer wake-up takes out at most, so one batch stays modest.
const BATCH_BYTES: usize = 256 * 1024;
/// Counted per message on top of payload and topic, so empty messages still cost something.
const MESSAGE_OVERHEAD: usize = 16;

/// A message on its way to one session, at the QoS and retain flag it is delivered with.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub message: Arc<Message>,
    pub qos: QoS,
    pub retain: bool,
    /// The ids of the subscriptions it matched (MQTT 5).
    pub subscription_ids: Vec<u32>,
}

impl Delivery {
    fn cost(&self) -> usize {
        self.message.payload.len() + self.message.topic.len() + MESSAGE_OVERHEAD
    }
}

/// How much one session's queue may hold (0 in the config made `usize::MAX`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueLimits {
    /// Bytes, as [`Delivery`] costs count them.
    pub bytes: usize,
    pub messages: usize,
}

/// The connection a session is attached to, and how to wake its task: for output (when it
/// asks for it) and, always, when the session is taken from it or the broker stops.
pub(crate) struct Link {
    pub id: u64,
    /// The connection's task, registered by [`Session::park`]; taken by the first wake-up, so
    /// a burst of deliveries wakes it once.
    waker: Option<Waker>,
    /// Whether the connection can write now: deliveries wake it only then.
    wants_output: bool,
    pub protocol: Protocol,
    /// The client's receive maximum (MQTT 5): QoS 1/2 messages it takes in flight at once.
    pub receive_maximum: u16,
    /// The largest packet the client accepts (MQTT 5); bigger messages are not sent to it.
    pub max_packet_size: Option<u32>,
    /// The topic aliases the client takes (MQTT 5; 0: none).
    pub topic_alias_max: u16,
}

/// One filter of a SUBSCRIBE, whatever the protocol version.
pub(crate) struct FilterRequest {
    pub path: String,
    pub options: SubscriptionOptions,
    /// MQTT 5 retain handling: 0 send retained messages, 1 only for a new subscription, 2 never.
    pub retain_handling: u8,
}

/// The session now belongs to another connection (or to none): this one must end.
#[derive(Debug)]
pub(crate) struct Detached;

/// What a writer sends besides the encoded replies.
pub(crate) enum Outbound {
    Publish {
        delivery: Delivery,
        pkid: u16,
        dup: bool,
    },
    PubRel(u16),
}

/// An outgoing QoS 1/2 message not yet fully acknowledged.
struct Inflight {
    pkid: u16,
    stage: Stage,
}

enum Stage {
    /// Sent; awaiting PUBACK (QoS 1) or PUBREC (QoS 2).
    Unacked(Delivery),
    /// PUBREC received, PUBREL sent; awaiting PUBCOMP.
    Released,
}

/// What only some sessions use: boxed, so that the many that never do (idle, QoS 0) do not
/// carry it.
#[derive(Default)]
struct Extras {
    /// In send order, so a reconnect resends them in order.
    inflight: VecDeque<Inflight>,
    /// Whether the ids in flight rise (modulo 65535) from the oldest to the newest, as
    /// allocated: then a new id outside that span is free without a scan.
    inflight_unordered: bool,
    /// Incoming QoS 2 packet ids routed and awaiting PUBREL: a DUP resend is not routed again.
    awaiting_pubrel: BTreeSet<u16>,
    /// The expiry and will-delay timers set off by the last connection's end: aborted when
    /// another connection attaches, so reconnects never pile them up.
    timers: Vec<AbortHandle>,
}

struct SessionState {
    /// Seconds the session outlives its connection: 0 ends it with the connection (a 3.1.1
    /// clean session), [`NEVER_EXPIRES`] keeps it (a 3.1.1 persistent session).
    expiry: u32,
    /// The id of the connection attached last: an expiry or a delayed will set off by that
    /// connection's end is void once another one has attached.
    last_link: Option<u64>,
    /// A B-tree rather than a hash map: no room taken while empty or small.
    subscriptions: BTreeMap<String, SubscriptionOptions>,
    queued: VecDeque<Delivery>,
    queued_bytes: usize,
    /// Whether `queued` may hold a QoS 0 message: false once a search of a full queue found
    /// none, so a full queue of QoS 1/2 messages refuses the next one at once instead of
    /// searching it again (a scan per publish stalled a fan-in of 10 publishers at 750 msg/s).
    qos0_queued: bool,
    next_pkid: u16,
    /// Messages in flight, PUBREL ids awaited, timers (None while there are none).
    extras: Option<Box<Extras>>,
    /// Encoded acks and CONNACK/SUBACK/PINGRESP for the writer.
    replies: BytesMut,
    link: Option<Link>,
    /// The user name of the connection attached last (what the ACL is checked against).
    username: Option<Box<str>>,
    /// Set on attach: the writer resends everything in flight first, with DUP.
    resend_inflight: bool,
    /// The session's client id again (the same allocation), for its journal records.
    client_id: Arc<str>,
    /// The journal, when the broker persists; this session's changes go there while `persisted`.
    journal: Option<Arc<Journal>>,
    /// Whether the journal knows this session (one with a nonzero expiry interval).
    persisted: bool,
}

impl SessionState {
    fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_default()
    }

    fn inflight(&self) -> impl Iterator<Item = &Inflight> {
        self.extras.iter().flat_map(|extras| extras.inflight.iter())
    }

    fn inflight_len(&self) -> usize {
        self.extras
            .as_ref()
            .map_or(0, |extras| extras.inflight.len())
    }

    /// Remove the entry in flight at `at`.
    fn inflight_done(&mut self, at: usize) {
        let extras = self.extras();
        extras.inflight.remove(at);
        if extras.inflight.is_empty() {
            extras.inflight_unordered = false;
        }
    }

    /// The journal's view of a kept session's expiry: forgotten at 0, else (re)recorded with
    /// the user name.
    fn journal_expiry(&mut self, expiry: u32) {
        if expiry == 0 {
            self.forget();
        } else {
            let username = self.username.clone();
            self.record(|buf, client| {
                record::session_resume(buf, client, expiry, username.as_deref());
            });
        }
    }

    /// Journal a change of this session (when it is persisted).
    fn record(&self, write: impl FnOnce(&mut Vec<u8>, &str)) {
        if self.persisted
            && let Some(journal) = &self.journal
        {
            journal.append(|buf| write(buf, &self.client_id));
        }
    }

    /// The journal forgets this session: it ends, or it will with its connection.
    fn forget(&mut self) {
        self.record(record::session_end);
        self.persisted = false;
    }

    /// The waker of a connection waiting for output, taken (to wake it once the lock is let go).
    /// Only deliveries from other connections wake one: what a connection's own packets change
    /// (replies, acks that free the in-flight window) is written by its pump after every read.
    fn writer_waker(&mut self) -> Option<Waker> {
        match &mut self.link {
            Some(link) if link.wants_output => link.waker.take(),
            _ => None,
        }
    }

    /// Whether a writer taking a batch now would get anything.
    fn has_output(&self, max_inflight: u16) -> bool {
        !self.replies.is_empty()
            || self.resend_inflight
            || self.queued.front().is_some_and(|next| {
                next.qos == QoS::AtMostOnce || self.inflight_len() < self.window(max_inflight)
            })
    }

    /// Outgoing QoS 1/2 messages in flight at once: the broker's limit and the client's receive
    /// maximum, whichever is smaller.
    fn window(&self, max_inflight: u16) -> usize {
        let receive_maximum = self.link.as_ref().map_or(u16::MAX, |l| l.receive_maximum);
        usize::from(max_inflight.min(receive_maximum).max(1))
    }

    fn push_reply(&mut self, packet: &Packet) {
        codec::encode(&mut self.replies, packet);
    }

    fn push_reply_v5(&mut self, packet: &m5::Packet) {
        codec::encode_v5(&mut self.replies, packet);
    }

    fn protocol(&self) -> Protocol {
        self.link
            .as_ref()
            .map_or(Protocol::V311, |link| link.protocol)
    }

    /// Whether one more message of `cost` bytes would go over the limits. An empty queue
    /// always takes a message.
    fn full(&self, cost: usize, limits: QueueLimits) -> bool {
        !self.queued.is_empty()
            && (self.queued_bytes + cost > limits.bytes || self.queued.len() >= limits.messages)
    }

    /// Queue a delivery within the limits; returns how many messages were dropped.
    fn admit(&mut self, delivery: Delivery, limits: QueueLimits) -> u64 {
        let cost = delivery.cost();
        let mut dropped = 0;
        if self.full(cost, limits) {
            if delivery.qos == QoS::AtMostOnce || !self.qos0_queued {
                return 1;
            }
            // Make room by dropping queued QoS 0 messages, oldest first.
            let mut excess_bytes = (self.queued_bytes + cost).saturating_sub(limits.bytes);
            let mut excess_messages = (self.queued.len() + 1).saturating_sub(limits.messages);
            let mut freed = 0;
            let mut qos0_kept = false;
            self.queued.retain(|queued| {
                if queued.qos != QoS::AtMostOnce {
                    return true;
                }
                if excess_bytes == 0 && excess_messages == 0 {
                    qos0_kept = true;
                    return true;
                }
                excess_bytes = excess_bytes.saturating_sub(queued.cost());
                excess_messages = excess_messages.saturating_sub(1);
                freed += queued.cost();
                dropped += 1;
                false
            });
            self.qos0_queued = qos0_kept;
            self.queued_bytes -= freed;
            if self.full(cost, limits) {
                return dropped + 1;
            }
        }
        self.queued_bytes += cost;
        self.qos0_queued |= delivery.qos == QoS::AtMostOnce;
        if delivery.qos != QoS::AtMostOnce {
            self.record(|buf, client| record::deliver(buf, client, &delivery));
        }
        self.queued.push_back(delivery);
        dropped
    }

    fn allocate_pkid(&mut self) -> u16 {
        // Bounded: fewer than 65535 ids are ever in flight.
        loop {
            self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
            let pkid = self.next_pkid;
            let Some(extras) = self.extras.as_deref_mut() else {
                return pkid;
            };
            let (Some(oldest), Some(newest)) = (extras.inflight.front(), extras.inflight.back())
            else {
                return pkid;
            };
            // Ids rise from the oldest in flight to the newest: one past that span is free.
            let span = ring_distance(oldest.pkid, newest.pkid);
            if !extras.inflight_unordered && ring_distance(oldest.pkid, pkid) > span {
                return pkid;
            }
            if !extras.inflight.iter().any(|entry| entry.pkid == pkid) {
                // Taken from within the span (ids wrapped around a message long in flight).
                extras.inflight_unordered = true;
                return pkid;
            }
        }
    }

    fn inflight_position(&self, pkid: u16, qos: QoS) -> Option<usize> {
        self.inflight().position(|entry| {
            entry.pkid == pkid
                && match &entry.stage {
                    Stage::Unacked(delivery) => delivery.qos == qos,
                    Stage::Released => false,
                }
        })
    }
}

/// How far packet id `to` comes after `from`, ids running 1..=65535 and round again.
fn ring_distance(from: u16, to: u16) -> u32 {
    (u32::from(to) + 65535 - u32::from(from)) % 65535
}

pub(crate) struct Session {
    /// Shared with the registry's key and the router's entries: one allocation.
    pub client_id: Arc<str>,
    state: Mutex<SessionState>,
}

impl Session {
    fn new(client_id: Arc<str>, expiry: u32, journal: Option<Arc<Journal>>) -> Self {
        Session {
            client_id: Arc::clone(&client_id),
            state: Mutex::new(SessionState {
                expiry,
                last_link: None,
                subscriptions: BTreeMap::new(),
                queued: VecDeque::new(),
                queued_bytes: 0,
                qos0_queued: false,
                next_pkid: 0,
                extras: None,
                replies: BytesMut::new(),
                link: None,
                username: None,
                resend_inflight: false,
                client_id,
                journal,
                persisted: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, if the session still belongs to connection `link_id`.
    fn linked(&self, link_id: u64) -> Result<MutexGuard<'_, SessionState>, Detached> {
        let state = self.lock();
        match &state.link {
            Some(link) if link.id == link_id => Ok(state),
            _ => Err(Detached),
        }
    }

    pub fn reply(&self, link_id: u64, packet: &Packet) -> Result<(), Detached> {
        self.linked(link_id)?.push_reply(packet);
        Ok(())
    }

    /// A reply already encoded.
    pub fn reply_bytes(&self, link_id: u64, bytes: &[u8]) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        state.replies.extend_from_slice(bytes);
        Ok(())
    }

    /// A new session expiry interval, from an MQTT 5 DISCONNECT.
    pub fn set_expiry(&self, link_id: u64, expiry: u32) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        state.expiry = expiry;
        state.journal_expiry(expiry);
        Ok(())
    }

    pub fn expiry(&self) -> u32 {
        self.lock().expiry
    }

    /// Incoming QoS 2 messages awaiting PUBREL (against the receive maximum).
    pub fn awaiting_pubrel(&self) -> usize {
        let state = self.lock();
        state
            .extras
            .as_ref()
            .map_or(0, |extras| extras.awaiting_pubrel.len())
    }

    /// Whether the ACL lets this session's client read or write `topic_name`.
    pub fn allowed(&self, acl: &Acl, topic_name: &str, access: Access) -> bool {
        let state = self.lock();
        acl.allows(
            &self.client_id,
            state.username.as_deref(),
            topic_name,
            access,
        )
    }

    /// The replies not yet written (acks queued before a connection ends on an error).
    pub fn take_replies(&self, link_id: u64) -> BytesMut {
        self.linked(link_id)
            .map(|mut state| std::mem::take(&mut state.replies))
            .unwrap_or_default()
    }

    /// Keep a timer set off by the end of connection `link_id`, to be aborted when another
    /// connection attaches (at once if one already has).
    pub fn add_timer(&self, link_id: u64, timer: AbortHandle) {
        let mut state = self.lock();
        if state.link.is_none() && state.last_link == Some(link_id) {
            let timers = &mut state.extras().timers;
            timers.retain(|timer| !timer.is_finished());
            timers.push(timer);
        } else {
            timer.abort();
        }
    }

    pub fn is_online(&self) -> bool {
        self.lock().link.is_some()
    }

    /// Bytes of replies not yet taken by the writer.
    pub fn reply_backlog(&self) -> usize {
        self.lock().replies.len()
    }

    /// Queue a routed message; returns how many messages were dropped. Offline, only a
    /// persistent session keeps messages, and only QoS 1 and 2.
    pub fn deliver(&self, delivery: Delivery, limits: QueueLimits) -> u64 {
        let mut state = self.lock();
        if state.link.is_none() && (state.expiry == 0 || delivery.qos == QoS::AtMostOnce) {
            return 0;
        }
        let dropped = state.admit(delivery, limits);
        let waker = state.writer_waker();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        dropped
    }

    /// Before connection `link_id` waits: Ok(true) if a batch is ready for it (when it can
    /// write, `want_output`), else its task is registered to be woken by the next delivery (if
    /// it can write), a takeover or the broker's stop. Err: the session is no longer its own.
    pub fn park(
        &self,
        link_id: u64,
        waker: &Waker,
        want_output: bool,
        max_inflight: u16,
    ) -> Result<bool, Detached> {
        let mut guard = self.linked(link_id)?;
        let state = &mut *guard;
        if want_output && state.has_output(max_inflight) {
            return Ok(true);
        }
        let Some(link) = &mut state.link else {
            return Err(Detached);
        };
        link.wants_output = want_output;
        if !link
            .waker
            .as_ref()
            .is_some_and(|known| known.will_wake(waker))
        {
            link.waker = Some(waker.clone());
        }
        Ok(false)
    }

    /// Wake the connection attached now, whatever it waits for (the broker stops).
    fn wake_connection(&self) {
        let waker = self.lock().link.as_mut().and_then(|link| link.waker.take());
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Messages queued (not in flight) and their bytes.
    fn queued(&self) -> (usize, usize) {
        let state = self.lock();
        (state.queued.len(), state.queued_bytes)
    }

    /// An incoming QoS 2 PUBLISH: true the first time its packet id is seen (route it), false
    /// for a resend before PUBREL.
    pub fn receive_qos2(&self, link_id: u64, pkid: u16) -> Result<bool, Detached> {
        let mut state = self.linked(link_id)?;
        let first = state.extras().awaiting_pubrel.insert(pkid);
        if first {
            state.record(|buf, client| record::inbound(buf, client, pkid));
        }
        Ok(first)
    }

    /// PUBREL from the client: forget the packet id and answer PUBCOMP.
    pub fn release(&self, link_id: u64, pkid: u16) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        let awaited = state.extras.as_mut();
        if awaited.is_some_and(|extras| extras.awaiting_pubrel.remove(&pkid)) {
            state.record(|buf, client| record::inbound_done(buf, client, pkid));
        }
        state.push_reply(&Packet::PubComp(PubComp::new(pkid)));
        Ok(())
    }

    /// PUBACK for an outgoing QoS 1 message. Unknown ids are ignored.
    pub fn puback(&self, link_id: u64, pkid: u16) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        if let Some(at) = state.inflight_position(pkid, QoS::AtLeastOnce) {
            state.inflight_done(at);
            state.record(|buf, client| record::done(buf, client, pkid));
        }
        Ok(())
    }

    /// PUBREC for an outgoing QoS 2 message: answer PUBREL. Unknown ids are ignored.
    pub fn pubrec(&self, link_id: u64, pkid: u16) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        if let Some(at) = state.inflight_position(pkid, QoS::ExactlyOnce) {
            state.extras().inflight[at].stage = Stage::Released;
            state.record(|buf, client| record::released(buf, client, pkid));
            state.push_reply(&Packet::PubRel(PubRel::new(pkid)));
        }
        Ok(())
    }

    /// PUBREC with a refusal (MQTT 5): the outgoing QoS 2 message is done, without PUBREL.
    pub fn pubrec_refused(&self, link_id: u64, pkid: u16) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        if let Some(at) = state.inflight_position(pkid, QoS::ExactlyOnce) {
            state.inflight_done(at);
            state.record(|buf, client| record::done(buf, client, pkid));
        }
        Ok(())
    }

    /// PUBCOMP: the outgoing QoS 2 message is done.
    pub fn pubcomp(&self, link_id: u64, pkid: u16) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        let released = state
            .inflight()
            .position(|entry| entry.pkid == pkid && matches!(entry.stage, Stage::Released));
        if let Some(at) = released {
            state.inflight_done(at);
            state.record(|buf, client| record::done(buf, client, pkid));
        }
        Ok(())
    }

    /// Add or replace subscriptions, answer SUBACK, then queue the matching retained messages.
    pub fn subscribe(
        self: &Arc<Self>,
        link_id: u64,
        pkid: u16,
        filters: &[FilterRequest],
        shared: &Shared,
    ) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        let v5 = state.protocol() == Protocol::V5;
        let mut granted = Vec::with_capacity(filters.len());
        let mut send_retained = Vec::with_capacity(filters.len());
        for filter in filters {
            state
                .subscriptions
                .insert(filter.path.clone(), filter.options);
            state.record(|buf, client| {
                record::subscribe(buf, client, &filter.path, &filter.options);
            });
            let existed = shared.router.subscribe(&filter.path, self, filter.options);
            granted.push(filter.options.qos);
            // A shared subscription is never sent retained messages.
            let shared_subscription = super::router::shared_filter(&filter.path).is_some();
            send_retained.push(match filter.retain_handling {
                _ if shared_subscription => false,
                0 => true,
                1 => !existed,
                _ => false,
            });
        }
        if v5 {
            let return_codes = granted
                .iter()
                .map(|qos| m5::SubscribeReasonCode::Success(codec::qos_to_v5(*qos)))
                .collect();
            state.push_reply_v5(&m5::Packet::SubAck(m5::SubAck {
                pkid,
                return_codes,
                properties: None,
            }));
        } else {
            let return_codes = granted
                .iter()
                .map(|qos| SubscribeReasonCode::Success(*qos))
                .collect();
            state.push_reply(&Packet::SubAck(SubAck::new(pkid, return_codes)));
        }
        let mut dropped = 0;
        let now = Instant::now();
        let acl = shared.acl();
        for (filter, _) in filters.iter().zip(send_retained).filter(|(_, send)| *send) {
            for message in shared.retained.matching(&filter.path) {
                if message.expired(now) {
                    continue;
                }
                if let Some(acl) = &acl
                    && !acl.allows(
                        &self.client_id,
                        state.username.as_deref(),
                        &message.topic,
                        Access::Read,
                    )
                {
                    continue;
                }
                let qos = min_qos(filter.options.qos, message.qos);
                let delivery = Delivery {
                    message,
                    qos,
                    retain: true,
                    subscription_ids: filter.options.id.into_iter().collect(),
                };
                dropped += state.admit(delivery, shared.config.queue_limits());
            }
        }
        drop(state);
        shared.count_dropped(dropped);
        Ok(())
    }

    /// Remove subscriptions and answer UNSUBACK.
    pub fn unsubscribe(
        &self,
        link_id: u64,
        pkid: u16,
        filters: &[String],
        router: &Router,
    ) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        let existed: Vec<bool> = filters
            .iter()
            .map(|filter| {
                let existed = state.subscriptions.remove(filter).is_some();
                if existed {
                    state.record(|buf, client| record::unsubscribe(buf, client, filter));
                }
                existed
            })
            .collect();
        router.unsubscribe(&self.client_id, filters.iter().map(String::as_str));
        if state.protocol() == Protocol::V5 {
            let reasons = existed
                .into_iter()
                .map(|existed| {
                    if existed {
                        m5::UnsubAckReason::Success
                    } else {
                        m5::UnsubAckReason::NoSubscriptionExisted
                    }
                })
                .collect();
            state.push_reply_v5(&m5::Packet::UnsubAck(m5::UnsubAck {
                pkid,
                reasons,
                properties: None,
            }));
        } else {
            state.push_reply(&Packet::UnsubAck(UnsubAck::new(pkid)));
        }
        Ok(())
    }

    /// Hand the writer its next batch: the encoded replies are appended to `out` (the session
    /// keeps no buffer for them), messages to send are pushed onto `outbound`, each QoS 1/2 one
    /// with a packet id.
    pub fn take_batch(
        &self,
        link_id: u64,
        out: &mut BytesMut,
        outbound: &mut Vec<Outbound>,
        max_inflight: u16,
    ) -> Result<(), Detached> {
        let mut guard = self.linked(link_id)?;
        let state = &mut *guard;
        let replies = std::mem::take(&mut state.replies);
        out.extend_from_slice(&replies);
        if state.resend_inflight {
            state.resend_inflight = false;
            outbound.extend(state.inflight().map(|entry| match &entry.stage {
                Stage::Unacked(delivery) => Outbound::Publish {
                    delivery: delivery.clone(),
                    pkid: entry.pkid,
                    dup: true,
                },
                Stage::Released => Outbound::PubRel(entry.pkid),
            }));
        }
        let (max_packet_size, v5) = match &state.link {
            Some(link) => (link.max_packet_size, link.protocol == Protocol::V5),
            None => (None, false),
        };
        let max_inflight = state.window(max_inflight);
        let now = Instant::now();
        let mut taken = 0;
        while taken < BATCH_BYTES {
            // Strict order: a QoS 0 message never overtakes a QoS 1/2 one waiting for a slot.
            match state.queued.front() {
                Some(next)
                    if next.qos == QoS::AtMostOnce || state.inflight_len() < max_inflight => {}
                _ => break,
            }
            let Some(delivery) = state.queued.pop_front() else {
                break;
            };
            let cost = delivery.cost();
            state.queued_bytes -= cost;
            taken += cost;
            // Expired, or more than the client takes (dropped, as MQTT 5 says).
            if delivery.message.expired(now)
                || v5
                    && max_packet_size
                        .is_some_and(|max| publish_size(&delivery, now) > max as usize)
            {
                if delivery.qos != QoS::AtMostOnce {
                    state.record(record::skipped);
                }
                continue;
            }
            let pkid = if delivery.qos == QoS::AtMostOnce {
                0
            } else {
                let pkid = state.allocate_pkid();
                state.record(|buf, client| record::sent(buf, client, pkid));
                state.extras().inflight.push_back(Inflight {
                    pkid,
                    stage: Stage::Unacked(delivery.clone()),
                });
                pkid
            };
            outbound.push(Outbound::Publish {
                delivery,
                pkid,
                dup: false,
            });
        }
        Ok(())
    }
}

/// The size of a delivery's PUBLISH packet in MQTT 5 (with the largest packet id field).
fn publish_size(delivery: &Delivery, now: Instant) -> usize {
    let mut properties = BytesMut::new();
    let message = &delivery.message;
    codec::publish_properties(
        &mut properties,
        message.properties.as_deref(),
        message.remaining_expiry(now),
        &delivery.subscription_ids,
        Some(0), // an alias may be sent with the topic: count its 3 bytes
    );
    let remaining = 2 + message.topic.len() + 2 + properties.len() + message.payload.len();
    1 + 4 + remaining
}

/// What [`Sessions::census`] counts.
#[derive(Debug, Default)]
pub(crate) struct Census {
    pub sessions: usize,
    pub online: usize,
    pub queued_messages: usize,
    pub queued_bytes: usize,
}

/// Every session by client id, plus the counters behind assigned ids and connection ids.
#[derive(Default)]
pub(crate) struct Sessions {
    by_client_id: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    /// The journal sessions record their changes in, when the broker persists.
    journal: Option<Arc<Journal>>,
    assigned_ids: AtomicU64,
    link_ids: AtomicU64,
}

impl Sessions {
    pub fn new(journal: Option<Arc<Journal>>) -> Sessions {
        Sessions {
            journal,
            ..Sessions::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Arc<Session>>> {
        self.by_client_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sessions (online or kept for a client that is away), and the messages queued to them.
    pub fn census(&self) -> Census {
        let sessions: Vec<Arc<Session>> = self.lock().values().cloned().collect();
        let mut census = Census {
            sessions: sessions.len(),
            ..Census::default()
        };
        for session in sessions {
            let state = session.lock();
            census.online += usize::from(state.link.is_some());
            census.queued_messages += state.queued.len();
            census.queued_bytes += state.queued_bytes;
        }
        census
    }

    /// How many sessions there are, online or not.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// The session of `client_id` now, if there is one.
    pub fn get(&self, client_id: &str) -> Option<Arc<Session>> {
        self.lock().get(client_id).cloned()
    }

    pub fn new_link(&self, protocol: Protocol) -> Link {
        Link {
            id: self.link_ids.fetch_add(1, Ordering::Relaxed),
            waker: None,
            wants_output: false,
            protocol,
            receive_maximum: u16::MAX,
            max_packet_size: None,
            topic_alias_max: 0,
        }
    }

    /// Wake every connection attached to a session: the broker stops (connections check
    /// [`Shared::stopping`](super::Shared) when woken).
    pub fn wake_all(&self) {
        let sessions: Vec<Arc<Session>> = self.lock().values().cloned().collect();
        for session in sessions {
            session.wake_connection();
        }
    }

    /// Messages queued in every session (not in flight), and their bytes.
    pub fn queued(&self) -> (usize, usize) {
        let sessions: Vec<Arc<Session>> = self.lock().values().cloned().collect();
        sessions
            .iter()
            .map(|session| session.queued())
            .fold((0, 0), |(m, b), (m1, b1)| (m + m1, b + b1))
    }

    /// A client id for a client that sent none: `skeeter-<n>`, unused at the moment.
    pub fn assign_client_id(&self) -> String {
        let sessions = self.lock();
        loop {
            let n = self.assigned_ids.fetch_add(1, Ordering::Relaxed) + 1;
            let client_id = format!("skeeter-{n}");
            if !sessions.contains_key(client_id.as_str()) {
                return client_id;
            }
        }
    }

    /// Attach a new connection to the session of `client_id`, closing any connection that had
    /// it, then queue the CONNACK that `connack` encodes, given whether a session was resumed.
    /// `clean` is 3.1.1's clean session or 5's clean start; `expiry` the session expiry
    /// interval. `username` is the one the ACL applies to.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        &self,
        client_id: &str,
        clean: bool,
        expiry: u32,
        link: Link,
        username: Option<String>,
        router: &Router,
        connack: impl FnOnce(bool, &mut BytesMut),
    ) -> Arc<Session> {
        let mut sessions = self.lock();
        let mut present = false;
        // A delayed will waiting for this client id is void now (see `resumed_since`).
        if let Some(journal) = &self.journal {
            journal.will_done(client_id, None);
        }
        let session = match sessions.get(client_id) {
            Some(previous) => {
                let mut state = previous.lock();
                if let Some(waker) = state.link.take().and_then(|old| old.waker) {
                    waker.wake();
                }
                // Its expiry and delayed will are void now (both check this when they fire).
                for timer in state
                    .extras
                    .iter_mut()
                    .flat_map(|extras| extras.timers.drain(..))
                {
                    timer.abort();
                }
                // A session with expiry 0 ends with its connection, so it is never resumed.
                if clean || state.expiry == 0 {
                    let subscriptions = discard(&mut state);
                    drop(state);
                    router.unsubscribe(client_id, subscriptions.keys().map(String::as_str));
                    Arc::new(Session::new(
                        Arc::clone(&previous.client_id),
                        expiry,
                        self.journal.clone(),
                    ))
                } else {
                    state.expiry = expiry;
                    drop(state);
                    present = true;
                    Arc::clone(previous)
                }
            }
            None => Arc::new(Session::new(
                Arc::from(client_id),
                expiry,
                self.journal.clone(),
            )),
        };
        sessions.insert(Arc::clone(&session.client_id), Arc::clone(&session));
        {
            let mut state = session.lock();
            state.replies.clear();
            state.resend_inflight = true;
            state.last_link = Some(link.id);
            state.link = Some(link);
            state.username = username.map(String::into_boxed_str);
            if present {
                state.journal_expiry(expiry);
            } else if expiry != 0 && state.journal.is_some() {
                state.persisted = true;
                let username = state.username.clone();
                state.record(|buf, client| {
                    record::session_new(buf, client, expiry, username.as_deref());
                });
            }
            connack(present, &mut state.replies);
        }
        session
    }

    /// End a session left without a connection since `link_id` went, its expiry interval
    /// over; nothing happens if another connection has attached since.
    pub fn expire(&self, session: &Arc<Session>, link_id: u64, router: &Router) {
        let mut sessions = self.lock();
        let mut state = session.lock();
        if state.link.is_some() || state.last_link != Some(link_id) {
            return;
        }
        let subscriptions = discard(&mut state);
        drop(state);
        router.unsubscribe(&session.client_id, subscriptions.keys().map(String::as_str));
        if sessions
            .get(&session.client_id)
            .is_some_and(|current| Arc::ptr_eq(current, session))
        {
            sessions.remove(&session.client_id);
        }
    }

    /// Whether a connection has attached to `client_id` since `link_id` (of `session`) ended:
    /// a delayed will is then dropped.
    pub fn resumed_since(&self, session: &Arc<Session>, link_id: u64) -> bool {
        let sessions = self.lock();
        match sessions.get(&session.client_id) {
            Some(current) if Arc::ptr_eq(current, session) => {
                current.lock().last_link != Some(link_id)
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Detach connection `link_id` from its session; a session with expiry 0 is discarded.
    /// Returns how long a session with a finite expiry interval is kept (the caller ends it
    /// then, with [`Sessions::expire`]).
    pub fn close(&self, session: &Arc<Session>, link_id: u64, router: &Router) -> Option<Duration> {
        let mut sessions = self.lock();
        let mut state = session.lock();
        if !matches!(&state.link, Some(link) if link.id == link_id) {
            return None; // taken over: the session is someone else's now
        }
        state.link = None;
        state.replies.clear();
        match state.expiry {
            0 => {}
            NEVER_EXPIRES => return None,
            secs => return Some(Duration::from_secs(u64::from(secs))),
        }
        let subscriptions = discard(&mut state);
        drop(state);
        router.unsubscribe(&session.client_id, subscriptions.keys().map(String::as_str));
        if sessions
            .get(&session.client_id)
            .is_some_and(|current| Arc::ptr_eq(current, session))
        {
            sessions.remove(&session.client_id);
        }
        None
    }
}

impl Sessions {
    /// Put back the sessions the persistence files hold, offline, with their subscriptions in
    /// `router`. Returns them with the connection id they were left by (to expire them by, or
    /// to tell whether a connection took them back).
    pub fn restore(
        &self,
        saved: BTreeMap<String, SavedSession>,
        router: &Router,
    ) -> Vec<(Arc<Session>, u64)> {
        let mut sessions = self.lock();
        let mut restored = Vec::new();
        for (client_id, saved) in saved {
            let client_id: Arc<str> = Arc::from(client_id);
            let session = Arc::new(Session::new(
                Arc::clone(&client_id),
                saved.expiry,
                self.journal.clone(),
            ));
            let link_id = self.link_ids.fetch_add(1, Ordering::Relaxed);
            {
                let mut state = session.lock();
                state.persisted = true;
                state.last_link = Some(link_id);
                state.username = saved.username.map(String::into_boxed_str);
                state.queued_bytes = saved.queued.iter().map(Delivery::cost).sum();
                state.qos0_queued = saved.queued.iter().any(|q| q.qos == QoS::AtMostOnce);
                state.queued = saved.queued;
                state.next_pkid = saved.inflight.back().map_or(0, |(pkid, _)| *pkid);
                if !saved.inflight.is_empty() || !saved.awaiting_pubrel.is_empty() {
                    let extras = state.extras();
                    extras.inflight = saved
                        .inflight
                        .into_iter()
                        .map(|(pkid, delivery)| Inflight {
                            pkid,
                            stage: delivery.map_or(Stage::Released, Stage::Unacked),
                        })
                        .collect();
                    // Saved in send order, but not necessarily allocated by this broker's rule.
                    extras.inflight_unordered = true;
                    extras.awaiting_pubrel = saved.awaiting_pubrel.into_iter().collect();
                }
                for (filter, options) in &saved.subscriptions {
                    router.subscribe(filter, &session, *options);
                }
                state.subscriptions = saved.subscriptions.into_iter().collect();
            }
            restored.push((Arc::clone(&session), link_id));
            sessions.insert(client_id, session);
        }
        restored
    }

    /// The records that rebuild every persisted session (for a snapshot).
    pub fn capture(&self, buf: &mut Vec<u8>) {
        let sessions = self.lock();
        for session in sessions.values() {
            let state = session.lock();
            if !state.persisted {
                continue;
            }
            let client = &*session.client_id;
            record::session_new(buf, client, state.expiry, state.username.as_deref());
            for (filter, options) in &state.subscriptions {
                record::subscribe(buf, client, filter, options);
            }
            for entry in state.inflight() {
                match &entry.stage {
                    Stage::Unacked(delivery) => {
                        record::deliver(buf, client, delivery);
                        record::sent(buf, client, entry.pkid);
                    }
                    Stage::Released => record::inflight_released(buf, client, entry.pkid),
                }
            }
            for delivery in &state.queued {
                if delivery.qos != QoS::AtMostOnce {
                    record::deliver(buf, client, delivery);
                }
            }
            if let Some(extras) = &state.extras {
                for pkid in &extras.awaiting_pubrel {
                    record::inbound(buf, client, *pkid);
                }
            }
        }
    }
}

/// Empty a session that ends; returns its subscriptions, to be removed from the router.
fn discard(state: &mut SessionState) -> BTreeMap<String, SubscriptionOptions> {
    state.forget();
    state.expiry = 0;
    state.queued.clear();
    state.queued_bytes = 0;
    if let Some(extras) = &mut state.extras {
        extras.inflight.clear();
        extras.inflight_unordered = false;
        extras.awaiting_pubrel.clear();
    }
    std::mem::take(&mut state.subscriptions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn delivery(qos: QoS, payload_len: usize) -> Delivery {
        Delivery {
            message: Arc::new(Message::new(
                "t".into(),
                Bytes::from(vec![0u8; payload_len]),
                qos,
            )),
            qos,
            retain: false,
            subscription_ids: Vec::new(),
        }
    }

    /// A session with a connection attached, and that connection's id.
    fn online_session() -> (Session, u64) {
        let session = Session::new("c".into(), NEVER_EXPIRES, None);
        let link = Sessions::default().new_link(Protocol::V311);
        let id = link.id;
        session.lock().link = Some(link);
        (session, id)
    }

    fn bytes(budget: usize) -> QueueLimits {
        QueueLimits {
            bytes: budget,
            messages: usize::MAX,
        }
    }

    fn queued_qos(session: &Session) -> Vec<u8> {
        session.lock().queued.iter().map(|d| d.qos as u8).collect()
    }

    #[test]
    fn an_empty_queue_admits_anything() {
        let (session, _link) = online_session();
        assert_eq!(
            session.deliver(delivery(QoS::AtMostOnce, 10_000), bytes(100)),
            0
        );
        assert_eq!(queued_qos(&session), [0]);
    }

    #[test]
    fn a_full_queue_drops_qos0_first() {
        let (session, _link) = online_session();
        let budget = 3 * (100 + 1 + MESSAGE_OVERHEAD);
        assert_eq!(
            session.deliver(delivery(QoS::AtMostOnce, 100), bytes(budget)),
            0
        );
        assert_eq!(
            session.deliver(delivery(QoS::AtLeastOnce, 100), bytes(budget)),
            0
        );
        assert_eq!(
            session.deliver(delivery(QoS::AtMostOnce, 100), bytes(budget)),
            0
        );
        // Full: a new QoS 0 message is dropped, a QoS 1 one evicts the oldest QoS 0.
        assert_eq!(
            session.deliver(delivery(QoS::AtMostOnce, 100), bytes(budget)),
            1
        );
        assert_eq!(
            session.deliver(delivery(QoS::ExactlyOnce, 100), bytes(budget)),
            1
        );
        assert_eq!(queued_qos(&session), [1, 0, 2]);
        assert_eq!(
            session.deliver(delivery(QoS::AtLeastOnce, 100), bytes(budget)),
            1
        );
        assert_eq!(queued_qos(&session), [1, 2, 1]);
        // Nothing left to evict: the QoS 1 message itself is dropped.
        assert_eq!(
            session.deliver(delivery(QoS::AtLeastOnce, 100), bytes(budget)),
            1
        );
        assert_eq!(queued_qos(&session), [1, 2, 1]);
    }

    #[test]
    fn a_message_count_limit_drops_qos0_first_too() {
        let (session, _link) = online_session();
        let limits = QueueLimits {
            bytes: usize::MAX,
            messages: 2,
        };
        assert_eq!(session.deliver(delivery(QoS::AtMostOnce, 1), limits), 0);
        assert_eq!(session.deliver(delivery(QoS::AtLeastOnce, 1), limits), 0);
        assert_eq!(session.deliver(delivery(QoS::AtMostOnce, 1), limits), 1);
        assert_eq!(session.deliver(delivery(QoS::ExactlyOnce, 1), limits), 1);
        assert_eq!(queued_qos(&session), [1, 2]);
        assert_eq!(session.deliver(delivery(QoS::AtLeastOnce, 1), limits), 1);
        assert_eq!(queued_qos(&session), [1, 2]);
        assert_eq!(session.queued(), (2, 2 * (1 + 1 + MESSAGE_OVERHEAD)));
    }

    #[test]
    fn offline_persistent_session_keeps_only_qos1_and_2() {
        let session = Session::new("c".into(), NEVER_EXPIRES, None);
        session.deliver(delivery(QoS::AtMostOnce, 1), bytes(1000));
        session.deliver(delivery(QoS::AtLeastOnce, 1), bytes(1000));
        assert_eq!(queued_qos(&session), [1]);
    }

    /// Send one QoS 1 message and return its packet id.
    fn send_one(session: &Session, link_id: u64) -> u16 {
        session.deliver(delivery(QoS::AtLeastOnce, 1), bytes(1000));
        let (mut out, mut outbound) = (BytesMut::new(), Vec::new());
        session
            .take_batch(link_id, &mut out, &mut outbound, 100)
            .unwrap();
        let [Outbound::Publish { pkid, .. }] = outbound[..] else {
            panic!("one publish")
        };
        pkid
    }

    #[test]
    fn packet_ids_in_flight_stay_unique_round_the_wrap() {
        let (session, link_id) = online_session();
        session.lock().next_pkid = 65_000;
        // One message is never acknowledged while the ids go round more than once.
        let held = send_one(&session, link_id);
        let mut previous = held;
        for _ in 0..140_000 {
            let pkid = send_one(&session, link_id);
            assert_ne!(pkid, held, "an id in flight given again");
            assert_ne!(pkid, 0);
            assert_ne!(pkid, previous);
            session.puback(link_id, pkid).unwrap();
            previous = pkid;
        }
        assert_eq!(session.lock().inflight_len(), 1);
        session.puback(link_id, held).unwrap();
        assert_eq!(session.lock().inflight_len(), 0);
    }

    #[test]
    fn inflight_window_holds_back_qos1_and_keeps_order() {
        let (session, link_id) = online_session();
        for qos in [QoS::AtLeastOnce, QoS::AtLeastOnce, QoS::AtMostOnce] {
            session.deliver(delivery(qos, 1), bytes(1000));
        }
        let (mut out, mut outbound) = (BytesMut::new(), Vec::new());
        session
            .take_batch(link_id, &mut out, &mut outbound, 1)
            .unwrap();
        assert_eq!(
            outbound.len(),
            1,
            "window of 1: the QoS 0 behind must wait too"
        );
        let Outbound::Publish { pkid, .. } = outbound[0] else {
            panic!("expected a publish")
        };
        session.puback(link_id, pkid).unwrap();
        outbound.clear();
        session
            .take_batch(link_id, &mut out, &mut outbound, 1)
            .unwrap();
        assert_eq!(outbound.len(), 2, "the next QoS 1 and the QoS 0 behind it");
        assert!(
            session
                .take_batch(link_id + 1, &mut out, &mut outbound, 1)
                .is_err()
        );
    }
}
