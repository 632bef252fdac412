//! The subscription table and fan-out. Shared read-mostly: every connection task routes its own
//! publishes under a read lock, so routing runs on every core at once.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;

use super::auth::{Access, Acl};
use super::session::{Delivery, Session};
use crate::topic;

/// A published message, shared by every subscriber it goes to (the payload is never copied).
#[derive(Debug)]
pub(crate) struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
}

pub(crate) fn min_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) <= (b as u8) { a } else { b }
}

fn max_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) >= (b as u8) { a } else { b }
}

struct Subscriber {
    session: Arc<Session>,
    qos: QoS,
}

/// Subscribers of one filter, by client id.
type Subscribers = HashMap<String, Subscriber>;

#[derive(Default)]
struct Table {
    /// Filters without wildcards: found by a hash lookup of the topic.
    exact: HashMap<String, Subscribers>,
    /// Filters with `+` or `#`: each one is matched against the topic.
    wildcard: HashMap<String, Subscribers>,
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
    /// Add or replace the subscription of `session` to `filter`.
    pub fn subscribe(&self, filter: &str, session: &Arc<Session>, qos: QoS) {
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        table
            .filters_mut(filter)
            .entry(filter.to_owned())
            .or_default()
            .insert(
                session.client_id.clone(),
                Subscriber {
                    session: Arc::clone(session),
                    qos,
                },
            );
    }

    /// Remove the subscriptions of `client_id` to each of `filters`.
    pub fn unsubscribe<'a>(&self, client_id: &str, filters: impl IntoIterator<Item = &'a str>) {
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        for filter in filters {
            let filters = table.filters_mut(filter);
            if let Some(subscribers) = filters.get_mut(filter) {
                subscribers.remove(client_id);
                if subscribers.is_empty() {
                    filters.remove(filter);
                }
            }
        }
    }

    /// How many subscriptions there are (one per client and filter).
    pub fn count(&self) -> usize {
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        table
            .exact
            .values()
            .chain(table.wildcard.values())
            .map(HashMap::len)
            .sum()
    }

    /// Every session with a subscription matching `topic`, once, with its highest matching QoS.
    fn subscribers(&self, topic_name: &str) -> Vec<(Arc<Session>, QoS)> {
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        let mut found: Vec<(Arc<Session>, QoS)> = Vec::new();
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
                    .values()
                    .map(|s| (Arc::clone(&s.session), s.qos)),
            );
        }
        drop(table);
        if matched_filters > 1 {
            // Overlapping subscriptions of one client: one copy, at the highest QoS.
            found.sort_by_key(|(session, _)| Arc::as_ptr(session));
            found.dedup_by(|later, kept| {
                let same = Arc::ptr_eq(&later.0, &kept.0);
                if same {
                    kept.1 = max_qos(kept.1, later.1);
                }
                same
            });
        }
        found
    }

    /// Queue `message` for every matching subscriber the ACL (if any) lets read it; returns how
    /// many copies were dropped.
    pub fn fan_out(
        &self,
        message: &Arc<Message>,
        max_queued_bytes: usize,
        acl: Option<&Acl>,
    ) -> u64 {
        self.subscribers(&message.topic)
            .into_iter()
            .filter(|(session, _)| {
                acl.is_none_or(|acl| session.allowed(acl, &message.topic, Access::Read))
            })
            .map(|(session, qos)| {
                session.deliver(
                    Delivery {
                        message: Arc::clone(message),
                        qos: min_qos(qos, message.qos),
                        retain: false,
                    },
                    max_queued_bytes,
                )
            })
            .sum()
    }
}
