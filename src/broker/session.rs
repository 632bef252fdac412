//! What outlives a connection: subscriptions, outgoing messages queued and in flight, incoming
//! QoS 2 packet ids awaiting PUBREL; and the registry of sessions by client id.
//!
//! Lock order, to rule out deadlocks: sessions registry, then a session, then the router or the
//! retained store. Routing takes the router lock and releases it before locking any session.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::BytesMut;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{
    ConnAck, ConnectReturnCode, Packet, PubComp, PubRel, SubAck, Subscribe, SubscribeReasonCode,
    UnsubAck, Unsubscribe,
};
use tokio::sync::Notify;

use super::Shared;
use super::auth::{Access, Acl};
use super::codec;
use super::router::{Message, Router, min_qos};

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
}

impl Delivery {
    fn cost(&self) -> usize {
        self.message.payload.len() + self.message.topic.len() + MESSAGE_OVERHEAD
    }
}

/// The connection a session is attached to: how to wake its writer and how to close it.
#[derive(Clone)]
pub(crate) struct Link {
    pub id: u64,
    pub wake: Arc<Notify>,
    pub kick: Arc<Notify>,
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

struct SessionState {
    /// A clean session ends with its connection.
    clean: bool,
    subscriptions: HashMap<String, QoS>,
    queued: VecDeque<Delivery>,
    queued_bytes: usize,
    /// In send order, so a reconnect resends them in order.
    inflight: VecDeque<Inflight>,
    next_pkid: u16,
    /// Incoming QoS 2 packet ids routed and awaiting PUBREL: a DUP resend is not routed again.
    awaiting_pubrel: HashSet<u16>,
    /// Encoded acks and CONNACK/SUBACK/PINGRESP for the writer.
    replies: BytesMut,
    link: Option<Link>,
    /// The user name of the connection attached last (what the ACL is checked against).
    username: Option<String>,
    /// Set on attach: the writer resends everything in flight first, with DUP.
    resend_inflight: bool,
}

impl SessionState {
    fn wake_writer(&self) {
        if let Some(link) = &self.link {
            link.wake.notify_one();
        }
    }

    fn push_reply(&mut self, packet: &Packet) {
        codec::encode(&mut self.replies, packet);
        self.wake_writer();
    }

    /// Queue a delivery within the byte budget; returns how many messages were dropped.
    fn admit(&mut self, delivery: Delivery, max_queued_bytes: usize) -> u64 {
        let cost = delivery.cost();
        let mut dropped = 0;
        if !self.queued.is_empty() && self.queued_bytes + cost > max_queued_bytes {
            if delivery.qos == QoS::AtMostOnce {
                return 1;
            }
            // Make room by dropping queued QoS 0 messages, oldest first.
            let mut excess = self.queued_bytes + cost - max_queued_bytes;
            let mut freed = 0;
            self.queued.retain(|queued| {
                if excess == 0 || queued.qos != QoS::AtMostOnce {
                    return true;
                }
                excess = excess.saturating_sub(queued.cost());
                freed += queued.cost();
                dropped += 1;
                false
            });
            self.queued_bytes -= freed;
            if !self.queued.is_empty() && self.queued_bytes + cost > max_queued_bytes {
                return dropped + 1;
            }
        }
        self.queued_bytes += cost;
        self.queued.push_back(delivery);
        self.wake_writer();
        dropped
    }

    fn allocate_pkid(&mut self) -> u16 {
        // Bounded: fewer than 65535 ids are ever in flight.
        loop {
            self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
            let pkid = self.next_pkid;
            if !self.inflight.iter().any(|entry| entry.pkid == pkid) {
                return pkid;
            }
        }
    }

    fn inflight_position(&self, pkid: u16, qos: QoS) -> Option<usize> {
        self.inflight.iter().position(|entry| {
            entry.pkid == pkid
                && match &entry.stage {
                    Stage::Unacked(delivery) => delivery.qos == qos,
                    Stage::Released => false,
                }
        })
    }
}

pub(crate) struct Session {
    pub client_id: String,
    state: Mutex<SessionState>,
}

impl Session {
    fn new(client_id: String, clean: bool) -> Self {
        Session {
            client_id,
            state: Mutex::new(SessionState {
                clean,
                subscriptions: HashMap::new(),
                queued: VecDeque::new(),
                queued_bytes: 0,
                inflight: VecDeque::new(),
                next_pkid: 0,
                awaiting_pubrel: HashSet::new(),
                replies: BytesMut::new(),
                link: None,
                username: None,
                resend_inflight: false,
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

    /// Bytes of replies not yet taken by the writer.
    pub fn reply_backlog(&self) -> usize {
        self.lock().replies.len()
    }

    /// Queue a routed message; returns how many messages were dropped. Offline, only a
    /// persistent session keeps messages, and only QoS 1 and 2.
    pub fn deliver(&self, delivery: Delivery, max_queued_bytes: usize) -> u64 {
        let mut state = self.lock();
        if state.link.is_none() && (state.clean || delivery.qos == QoS::AtMostOnce) {
            return 0;
        }
        state.admit(delivery, max_queued_bytes)
    }

    /// An incoming QoS 2 PUBLISH: true the first time its packet id is seen (route it), false
    /// for a resend before PUBREL.
    pub fn receive_qos2(&self, link_id: u64, pkid: u16) -> Result<bool, Detached> {
        Ok(self.linked(link_id)?.awaiting_pubrel.insert(pkid))
    }

    /// PUBREL from the client: forget the packet id and answer PUBCOMP.
    pub fn release(&self, link_id: u64, pkid: u16) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        state.awaiting_pubrel.remove(&pkid);
        state.push_reply(&Packet::PubComp(PubComp::new(pkid)));
        Ok(())
    }

    /// PUBACK for an outgoing QoS 1 message. Unknown ids are ignored.
    pub fn puback(&self, link_id: u64, pkid: u16) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        if let Some(at) = state.inflight_position(pkid, QoS::AtLeastOnce) {
            state.inflight.remove(at);
            state.wake_writer();
        }
        Ok(())
    }

    /// PUBREC for an outgoing QoS 2 message: answer PUBREL. Unknown ids are ignored.
    pub fn pubrec(&self, link_id: u64, pkid: u16) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        if let Some(at) = state.inflight_position(pkid, QoS::ExactlyOnce) {
            state.inflight[at].stage = Stage::Released;
            state.push_reply(&Packet::PubRel(PubRel::new(pkid)));
        }
        Ok(())
    }

    /// PUBCOMP: the outgoing QoS 2 message is done.
    pub fn pubcomp(&self, link_id: u64, pkid: u16) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        let released = state
            .inflight
            .iter()
            .position(|entry| entry.pkid == pkid && matches!(entry.stage, Stage::Released));
        if let Some(at) = released {
            state.inflight.remove(at);
            state.wake_writer();
        }
        Ok(())
    }

    /// Add or replace subscriptions, answer SUBACK, then queue the matching retained messages.
    pub fn subscribe(
        self: &Arc<Self>,
        link_id: u64,
        subscribe: &Subscribe,
        shared: &Shared,
    ) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        let mut return_codes = Vec::with_capacity(subscribe.filters.len());
        for filter in &subscribe.filters {
            state.subscriptions.insert(filter.path.clone(), filter.qos);
            shared.router.subscribe(&filter.path, self, filter.qos);
            return_codes.push(SubscribeReasonCode::Success(filter.qos));
        }
        state.push_reply(&Packet::SubAck(SubAck::new(subscribe.pkid, return_codes)));
        let mut dropped = 0;
        for filter in &subscribe.filters {
            for message in shared.retained.matching(&filter.path) {
                if let Some(acl) = &shared.config.acl
                    && !acl.allows(
                        &self.client_id,
                        state.username.as_deref(),
                        &message.topic,
                        Access::Read,
                    )
                {
                    continue;
                }
                let qos = min_qos(filter.qos, message.qos);
                let delivery = Delivery {
                    message,
                    qos,
                    retain: true,
                };
                dropped += state.admit(delivery, shared.config.max_queued_bytes);
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
        unsubscribe: &Unsubscribe,
        router: &Router,
    ) -> Result<(), Detached> {
        let mut state = self.linked(link_id)?;
        for filter in &unsubscribe.topics {
            state.subscriptions.remove(filter);
        }
        router.unsubscribe(
            &self.client_id,
            unsubscribe.topics.iter().map(String::as_str),
        );
        state.push_reply(&Packet::UnsubAck(UnsubAck::new(unsubscribe.pkid)));
        Ok(())
    }

    /// Hand the writer its next batch: the encoded replies are swapped into `out` (which must be
    /// empty), messages to send are pushed onto `outbound`, each QoS 1/2 one with a packet id.
    pub fn take_batch(
        &self,
        link_id: u64,
        out: &mut BytesMut,
        outbound: &mut Vec<Outbound>,
        max_inflight: u16,
    ) -> Result<(), Detached> {
        let mut guard = self.linked(link_id)?;
        let state = &mut *guard;
        std::mem::swap(&mut state.replies, out);
        if state.resend_inflight {
            state.resend_inflight = false;
            outbound.extend(state.inflight.iter().map(|entry| match &entry.stage {
                Stage::Unacked(delivery) => Outbound::Publish {
                    delivery: delivery.clone(),
                    pkid: entry.pkid,
                    dup: true,
                },
                Stage::Released => Outbound::PubRel(entry.pkid),
            }));
        }
        let max_inflight = usize::from(max_inflight.max(1));
        let mut taken = 0;
        while taken < BATCH_BYTES {
            // Strict order: a QoS 0 message never overtakes a QoS 1/2 one waiting for a slot.
            match state.queued.front() {
                Some(next)
                    if next.qos == QoS::AtMostOnce || state.inflight.len() < max_inflight => {}
                _ => break,
            }
            let Some(delivery) = state.queued.pop_front() else {
                break;
            };
            let cost = delivery.cost();
            state.queued_bytes -= cost;
            taken += cost;
            let pkid = if delivery.qos == QoS::AtMostOnce {
                0
            } else {
                let pkid = state.allocate_pkid();
                state.inflight.push_back(Inflight {
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

/// Every session by client id, plus the counters behind assigned ids and connection ids.
#[derive(Default)]
pub(crate) struct Sessions {
    by_client_id: Mutex<HashMap<String, Arc<Session>>>,
    assigned_ids: AtomicU64,
    link_ids: AtomicU64,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.by_client_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn new_link(&self) -> Link {
        Link {
            id: self.link_ids.fetch_add(1, Ordering::Relaxed),
            wake: Arc::new(Notify::new()),
            kick: Arc::new(Notify::new()),
        }
    }

    /// A client id for a client that sent none: `skeeter-<n>`, unused at the moment.
    pub fn assign_client_id(&self) -> String {
        let sessions = self.lock();
        loop {
            let n = self.assigned_ids.fetch_add(1, Ordering::Relaxed) + 1;
            let client_id = format!("skeeter-{n}");
            if !sessions.contains_key(&client_id) {
                return client_id;
            }
        }
    }

    /// Attach a new connection to the session of `client_id`, closing any connection that had
    /// it, and queue the CONNACK (session present when a persistent session is resumed and
    /// `report_present`: MQTT 3.1 has no such flag). `username` is the one the ACL applies to.
    pub fn open(
        &self,
        client_id: &str,
        clean: bool,
        report_present: bool,
        link: Link,
        username: Option<String>,
        router: &Router,
    ) -> Arc<Session> {
        let mut sessions = self.lock();
        let mut present = false;
        let session = match sessions.get(client_id) {
            Some(previous) => {
                let mut state = previous.lock();
                if let Some(old) = state.link.take() {
                    old.kick.notify_one();
                }
                // A clean session ends with its connection, so it is never resumed.
                if clean || state.clean {
                    let subscriptions = discard(&mut state);
                    drop(state);
                    router.unsubscribe(client_id, subscriptions.keys().map(String::as_str));
                    Arc::new(Session::new(client_id.to_owned(), clean))
                } else {
                    drop(state);
                    present = true;
                    Arc::clone(previous)
                }
            }
            None => Arc::new(Session::new(client_id.to_owned(), clean)),
        };
        sessions.insert(client_id.to_owned(), Arc::clone(&session));
        {
            let mut state = session.lock();
            state.replies.clear();
            state.resend_inflight = true;
            state.link = Some(link);
            state.username = username;
            state.push_reply(&Packet::ConnAck(ConnAck::new(
                ConnectReturnCode::Success,
                present && report_present,
            )));
        }
        session
    }

    /// Detach connection `link_id` from its session; a clean session is discarded.
    pub fn close(&self, session: &Arc<Session>, link_id: u64, router: &Router) {
        let mut sessions = self.lock();
        let mut state = session.lock();
        if !matches!(&state.link, Some(link) if link.id == link_id) {
            return; // taken over: the session is someone else's now
        }
        state.link = None;
        state.replies.clear();
        if !state.clean {
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
}

/// Empty a session that ends; returns its subscriptions, to be removed from the router.
fn discard(state: &mut SessionState) -> HashMap<String, QoS> {
    state.clean = true;
    state.queued.clear();
    state.queued_bytes = 0;
    state.inflight.clear();
    state.awaiting_pubrel.clear();
    std::mem::take(&mut state.subscriptions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn delivery(qos: QoS, payload_len: usize) -> Delivery {
        Delivery {
            message: Arc::new(Message {
                topic: "t".into(),
                payload: Bytes::from(vec![0u8; payload_len]),
                qos,
            }),
            qos,
            retain: false,
        }
    }

    fn online_session() -> (Session, Link) {
        let session = Session::new("c".into(), false);
        let link = Sessions::default().new_link();
        session.lock().link = Some(link.clone());
        (session, link)
    }

    fn queued_qos(session: &Session) -> Vec<u8> {
        session.lock().queued.iter().map(|d| d.qos as u8).collect()
    }

    #[test]
    fn an_empty_queue_admits_anything() {
        let (session, _link) = online_session();
        assert_eq!(session.deliver(delivery(QoS::AtMostOnce, 10_000), 100), 0);
        assert_eq!(queued_qos(&session), [0]);
    }

    #[test]
    fn a_full_queue_drops_qos0_first() {
        let (session, _link) = online_session();
        let budget = 3 * (100 + 1 + MESSAGE_OVERHEAD);
        assert_eq!(session.deliver(delivery(QoS::AtMostOnce, 100), budget), 0);
        assert_eq!(session.deliver(delivery(QoS::AtLeastOnce, 100), budget), 0);
        assert_eq!(session.deliver(delivery(QoS::AtMostOnce, 100), budget), 0);
        // Full: a new QoS 0 message is dropped, a QoS 1 one evicts the oldest QoS 0.
        assert_eq!(session.deliver(delivery(QoS::AtMostOnce, 100), budget), 1);
        assert_eq!(session.deliver(delivery(QoS::ExactlyOnce, 100), budget), 1);
        assert_eq!(queued_qos(&session), [1, 0, 2]);
        assert_eq!(session.deliver(delivery(QoS::AtLeastOnce, 100), budget), 1);
        assert_eq!(queued_qos(&session), [1, 2, 1]);
        // Nothing left to evict: the QoS 1 message itself is dropped.
        assert_eq!(session.deliver(delivery(QoS::AtLeastOnce, 100), budget), 1);
        assert_eq!(queued_qos(&session), [1, 2, 1]);
    }

    #[test]
    fn offline_persistent_session_keeps_only_qos1_and_2() {
        let session = Session::new("c".into(), false);
        session.deliver(delivery(QoS::AtMostOnce, 1), 1000);
        session.deliver(delivery(QoS::AtLeastOnce, 1), 1000);
        assert_eq!(queued_qos(&session), [1]);
    }

    #[test]
    fn inflight_window_holds_back_qos1_and_keeps_order() {
        let (session, link) = online_session();
        for qos in [QoS::AtLeastOnce, QoS::AtLeastOnce, QoS::AtMostOnce] {
            session.deliver(delivery(qos, 1), 1000);
        }
        let (mut out, mut outbound) = (BytesMut::new(), Vec::new());
        session
            .take_batch(link.id, &mut out, &mut outbound, 1)
            .unwrap();
        assert_eq!(
            outbound.len(),
            1,
            "window of 1: the QoS 0 behind must wait too"
        );
        let Outbound::Publish { pkid, .. } = outbound[0] else {
            panic!("expected a publish")
        };
        session.puback(link.id, pkid).unwrap();
        outbound.clear();
        session
            .take_batch(link.id, &mut out, &mut outbound, 1)
            .unwrap();
        assert_eq!(outbound.len(), 2, "the next QoS 1 and the QoS 0 behind it");
        assert!(
            session
                .take_batch(link.id + 1, &mut out, &mut outbound, 1)
                .is_err()
        );
    }
}
