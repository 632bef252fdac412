//! Retained messages: the last retained publish of each topic, sent to new subscriptions.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use tokio::time::Instant;

use super::persist::{Journal, record};
use super::router::Message;
use crate::topic;

/// Payloads up to this size are copied when retained, so they do not pin the (larger) read
/// buffer of the connection they arrived on for as long as they stay retained.
const COPY_BELOW: usize = 4096;

#[derive(Default)]
pub(crate) struct Retained {
    by_topic: RwLock<HashMap<String, Arc<Message>>>,
    /// Where changes are recorded, when the broker persists.
    journal: Option<Arc<Journal>>,
}

impl Retained {
    pub fn new(journal: Option<Arc<Journal>>) -> Retained {
        Retained {
            by_topic: RwLock::default(),
            journal,
        }
    }

    /// Put back the retained messages the persistence files hold.
    pub fn restore(&self, messages: BTreeMap<String, Arc<Message>>) {
        let mut by_topic = self
            .by_topic
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        by_topic.extend(messages);
    }

    /// The records that rebuild every retained message (for a snapshot).
    pub fn capture(&self, buf: &mut Vec<u8>) {
        let now = Instant::now();
        let by_topic = self.by_topic.read().unwrap_or_else(PoisonError::into_inner);
        let kept =
            |message: &&Arc<Message>| !message.expired(now) && !message.topic.starts_with("$SYS/");
        for message in by_topic.values().filter(kept) {
            record::retain(buf, message);
        }
    }

    /// Keep `message` as the retained message of its topic; an empty payload clears it.
    pub fn store(&self, message: &Arc<Message>) {
        let mut by_topic = self
            .by_topic
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if message.payload.is_empty() {
            if by_topic.remove(&message.topic).is_some()
                && let Some(journal) = &self.journal
            {
                journal.append(|buf| record::unretain(buf, &message.topic));
            }
            return;
        }
        let kept = if message.payload.len() < COPY_BELOW {
            Arc::new(Message {
                topic: message.topic.clone(),
                payload: Bytes::copy_from_slice(&message.payload),
                qos: message.qos,
                properties: message.properties.clone(),
                expires_at: message.expires_at,
            })
        } else {
            Arc::clone(message)
        };
        // The broker's own $SYS statistics are published afresh after a restart.
        if let Some(journal) = &self.journal
            && !message.topic.starts_with("$SYS/")
        {
            journal.append(|buf| record::retain(buf, &kept));
        }
        by_topic.insert(message.topic.clone(), kept);
    }

    /// How many messages are retained (expired ones included until they are looked at).
    pub fn count(&self) -> usize {
        self.by_topic
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The retained messages whose topic matches `filter` (an expired one is forgotten).
    pub fn matching(&self, filter: &str) -> Vec<Arc<Message>> {
        let now = Instant::now();
        let by_topic = self.by_topic.read().unwrap_or_else(PoisonError::into_inner);
        let found: Vec<Arc<Message>> = if !topic::has_wildcard(filter) {
            by_topic.get(filter).cloned().into_iter().collect()
        } else {
            by_topic
                .iter()
                .filter(|(name, _)| topic::matches(name, filter))
                .map(|(_, message)| Arc::clone(message))
                .collect()
        };
        drop(by_topic);
        // In topic order, so a wildcard's retained burst reads like a listing.
        let mut found = found;
        found.sort_unstable_by(|a, b| a.topic.cmp(&b.topic));
        if found.iter().all(|message| !message.expired(now)) {
            return found;
        }
        let mut by_topic = self
            .by_topic
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        by_topic.retain(|_, message| !message.expired(now));
        found
            .into_iter()
            .filter(|message| !message.expired(now))
            .collect()
    }
}
