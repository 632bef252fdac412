//! The subscription table and fan-out. Shared read-mostly: every connection task routes its own
//! publishes under a read lock, so routing runs on every core at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use tokio::time::Instant;

use super::auth::{Access, Acl};
use super::session::{Delivery, QueueLimits, Session};
use crate::topic;

/// A published message, shared by every subscriber it goes to (the payload is never copied).
/// Version-neutral: the MQTT 5 properties travel along and are written for v5 subscribers only.
#[derive(Debug)]
pub(crate) struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    /// An MQTT 5 publisher's properties (minus topic alias and message expiry).
    pub properties: Option<Arc<PublishProperties>>,
    /// When the message expiry interval runs out: not delivered after that.
    pub expires_at: Option<Instant>,
}

impl Message {
    pub fn new(topic: String, payload: Bytes, qos: QoS) -> Self {
        Message {
            topic,
            payload,
            qos,
            properties: None,
            expires_at: None,
        }
    }

    pub fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The message expiry interval left, in whole seconds (rounded up); None when it has none.
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|at| {
            let left = at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            u32::try_from(secs).unwrap_or(u32::MAX).max(1)
        })
    }
}

/// What a subscription asks for besides its filter (the MQTT 5 options; 3.1.1 uses defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubscriptionOptions {
    pub qos: QoS,
    /// Not sent the messages its own client publishes.
    pub no_local: bool,
    /// Forwarded messages keep their retain flag.
    pub retain_as_published: bool,
    /// Subscription identifier, written in each PUBLISH it causes.
    pub id: Option<u32>,
}

impl SubscriptionOptions {
    pub fn qos(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            id: None,
        }
    }
}

pub(crate) fn min_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) <= (b as u8) { a } else { b }
}

fn max_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) >= (b as u8) { a } else { b }
}

struct Subscriber {
    session: Arc<Session>,
    options: SubscriptionOptions,
}

/// Where a routed message comes from: its client (for no-local) and its retain flag (for
/// retain-as-published).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub publisher: Option<&'a str>,
    pub retain: bool,
}

/// What routing one message did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FanOut {
    /// Subscribers whose subscriptions matched.
    pub matched: usize,
    /// Copies dropped because a queue was full.
    pub dropped: u64,
}

/// One subscriber a message goes to.
struct Matched {
    session: Arc<Session>,
    qos: QoS,
    retain_as_published: bool,
    ids: Vec<u32>,
}

/// Subscribers of one filter, by client id (shared with the session's).
type Subscribers = HashMap<Arc<str>, Subscriber>;

/// `$share/GROUP/FILTER`: the group and the filter; None for an ordinary filter.
pub(crate) fn shared_filter(path: &str) -> Option<(&str, &str)> {
    path.strip_prefix("$share/")?.split_once('/')
}

/// The members of one shared subscription (`$share/GROUP/FILTER`): each message goes to one of
/// them, in turn.
struct SharedGroup {
    filter: String,
    members: Vec<(Arc<str>, Subscriber)>,
    next: AtomicUsize,
}

#[derive(Default)]
struct Table {
    /// Filters without wildcards: found by a hash lookup of the topic.
    exact: HashMap<String, Subscribers>,
    /// Filters with `+` or `#`: each one is matched against the topic.
    wildcard: HashMap<String, Subscribers>,
    /// Shared subscriptions, by their full `$share/GROUP/FILTER` path.
    shared: HashMap<String, SharedGroup>,
}

impl Table {
    fn filters_mut(&mut self, filter: &str) -> &mut HashMap<String, Subscribers> {
        if topic::has_wildcard(filter) {
            &mut self.wildcard
        } else {
            &mut self.exact
        }
    }
}

#[derive(Default)]
pub(crate) struct Router {
    table: RwLock<Table>,
}

impl Router {
    /// Add or replace the subscription of `session` to `filter`; true if it existed before.
    pub fn subscribe(
        &self,
        filter: &str,
        session: &Arc<Session>,
        options: SubscriptionOptions,
    ) -> bool {
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, shared)) = shared_filter(filter) {
            let group = table
                .shared
                .entry(filter.to_owned())
                .or_insert_with(|| SharedGroup {
                    filter: shared.to_owned(),
                    members: Vec::new(),
                    next: AtomicUsize::new(0),
                });
            let subscriber = Subscriber {
                session: Arc::clone(session),
                options,
            };
            return match group
                .members
                .iter_mut()
                .find(|(client_id, _)| *client_id == session.client_id)
            {
                Some((_, existing)) => {
                    *existing = subscriber;
                    true
                }
                None => {
                    group.members.push((session.client_id.clone(), subscriber));
                    false
                }
            };
        }
        table
            .filters_mut(filter)
            .entry(filter.to_owned())
            .or_default()
            .insert(
                session.client_id.clone(),
                Subscriber {
                    session: Arc::clone(session),
                    options,
                },
            )
            .is_some()
    }

    /// Remove the subscriptions of `client_id` to each of `filters`.
    pub fn unsubscribe<'a>(&self, client_id: &str, filters: impl IntoIterator<Item = &'a str>) {
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        for filter in filters {
            if shared_filter(filter).is_some() {
                if let Some(group) = table.shared.get_mut(filter) {
                    group.members.retain(|(member, _)| **member != *client_id);
                    if group.members.is_empty() {
                        table.shared.remove(filter);
                    }
                }
                continue;
            }
            let filters = table.filters_mut(filter);
            if let Some(subscribers) = filters.get_mut(filter) {
                subscribers.remove(client_id);
                if subscribers.is_empty() {
                    filters.remove(filter);
                }
            }
        }
    }

    /// Every subscribing session, once per subscription (for consistency checks).
    pub fn subscribed_sessions(&self) -> Vec<Arc<Session>> {
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        let plain = table
            .exact
            .values()
            .chain(table.wildcard.values())
            .flat_map(|subscribers| subscribers.values());
        let shared = table
            .shared
            .values()
            .flat_map(|group| group.members.iter().map(|(_, subscriber)| subscriber));
        plain
            .chain(shared)
            .map(|subscriber| Arc::clone(&subscriber.session))
            .collect()
    }

    /// How many subscriptions there are (one per client and filter).
    pub fn count(&self) -> usize {
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        table
            .exact
            .values()
            .chain(table.wildcard.values())
            .map(HashMap::len)
            .sum::<usize>()
            + table
                .shared
                .values()
                .map(|group| group.members.len())
                .sum::<usize>()
    }

    /// Every session with a subscription matching `topic` (and not excluded by no-local for
    /// `publisher`), once, with its highest matching QoS and every matching subscription id.
    /// Also every matching shared subscription: its members, and where this message's turn
    /// starts.
    fn subscribers(
        &self,
        topic_name: &str,
        publisher: Option<&str>,
    ) -> (Vec<Matched>, Vec<(Vec<Matched>, usize)>) {
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        let mut found: Vec<Matched> = Vec::new();
        let groups: Vec<(Vec<Matched>, usize)> = table
            .shared
            .values()
            .filter(|group| topic::matches(topic_name, &group.filter))
            .map(|group| {
                let members = group
                    .members
                    .iter()
                    .map(|(_, s)| Matched {
                        session: Arc::clone(&s.session),
                        qos: s.options.qos,
                        retain_as_published: s.options.retain_as_published,
                        ids: s.options.id.into_iter().collect(),
                    })
                    .collect();
                (members, group.next.fetch_add(1, Ordering::Relaxed))
            })
            .collect();
        let mut matched_filters = 0;
        let exact = table.exact.get(topic_name).into_iter();
        let wildcard = table
            .wildcard
            .iter()
            .filter(|(filter, _)| topic::matches(topic_name, filter))
            .map(|(_, subscribers)| subscribers);
        for subscribers in exact.chain(wildcard) {
            matched_filters += 1;
            found.extend(
                subscribers
                    .iter()
                    .filter(|(client_id, s)| {
                        !(s.options.no_local && publisher == Some(&**client_id))
                    })
                    .map(|(_, s)| Matched {
                        session: Arc::clone(&s.session),
                        qos: s.options.qos,
                        retain_as_published: s.options.retain_as_published,
                        ids: s.options.id.into_iter().collect(),
                    }),
            );
        }
        drop(table);
        if matched_filters > 1 {
            // Overlapping subscriptions of one client: one copy, at the highest QoS, with
            // every subscription id.
            found.sort_by_key(|matched| Arc::as_ptr(&matched.session));
            found.dedup_by(|later, kept| {
                let same = Arc::ptr_eq(&later.session, &kept.session);
                if same {
                    kept.qos = max_qos(kept.qos, later.qos);
                    kept.retain_as_published |= later.retain_as_published;
                    kept.ids.append(&mut later.ids);
                }
                same
            });
        }
        (found, groups)
    }

    /// Queue `message` for every matching subscriber the ACL (if any) lets read it; returns how
    /// many subscribers matched and how many copies were dropped.
    pub fn fan_out(
        &self,
        message: &Arc<Message>,
        origin: Origin<'_>,
        limits: QueueLimits,
        acl: Option<&Acl>,
    ) -> FanOut {
        let (mut subscribers, groups) = self.subscribers(&message.topic, origin.publisher);
        // One member of each shared subscription: the next one in turn that is connected
        // (or the next one in turn, when none is).
        for (mut members, turn) in groups {
            let count = members.len();
            let chosen = (0..count)
                .map(|i| (turn + i) % count)
                .find(|&at| members[at].session.is_online())
                .unwrap_or(turn % count);
            subscribers.push(members.swap_remove(chosen));
        }
        let matched = subscribers.len();
        let dropped = subscribers
            .into_iter()
            .filter(|matched| {
                acl.is_none_or(|acl| matched.session.allowed(acl, &message.topic, Access::Read))
            })
            .map(|matched| {
                matched.session.deliver(
                    Delivery {
                        message: Arc::clone(message),
                        qos: min_qos(matched.qos, message.qos),
                        retain: origin.retain && matched.retain_as_published,
                        subscription_ids: matched.ids,
                    },
                    limits,
                )
            })
            .sum();
        FanOut { matched, dropped }
    }
}
