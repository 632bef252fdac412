//! Everything that talks to a broker as a client: connect (CONNACK to exit code), publish a stream
//! of messages with a window of them in flight, receive, and disconnect cleanly.
//!
//! rumqttc's event loop does the protocol. Its traps are handled here, once: `publish()` only
//! queues (so we count acknowledgements before disconnecting), polling after an error reconnects
//! at once (so one-shot commands stop at the first error), and the event loop is never dropped in
//! the middle of a poll while work is still in flight (that can lose a queued packet).

pub mod options;
pub mod properties;
pub(crate) mod relay;
pub mod tls;

use std::collections::{HashSet, VecDeque};
use std::io;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use rumqttc::v5;
use rumqttc::v5::mqttbytes::v5 as mqtt5;
use rumqttc::{ConnectReturnCode, Outgoing, QoS, StateError};
use tokio::sync::{mpsc, watch};

use crate::cli::ProtocolVersion;
use crate::exit::{Code, Fatal};
use crate::format::Properties;
pub use options::Settings;

/// How long a clean disconnect may take before we give up on it.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// With manual acknowledgements: room for them in the request queue, on top of the `requests`
/// of [`Connection::open`] (so a SUBSCRIBE always finds room).
const ACK_ROOM: usize = 64;

/// The request handle, MQTT 3.1.1 (also 3.1, through the relay) or MQTT 5.
#[derive(Clone)]
pub enum Client {
    V4(rumqttc::AsyncClient),
    V5(v5::AsyncClient),
}

enum EventLoop {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<v5::EventLoop>),
}

/// An event of either protocol, as the commands need it.
#[derive(Debug)]
pub enum Event {
    ConnAck {
        session_present: bool,
    },
    Publish(Received),
    /// One entry per filter: the QoS granted, or the refusal's reason code.
    SubAck(Vec<Result<u8, u8>>),
    /// PUBACK, PUBREC and PUBCOMP with their reason code (0 in MQTT 3.1.1).
    PubAck(u8),
    PubRec(u8),
    PubComp(u8),
    /// PUBREL for an incoming QoS 2 message (its packet id): rumqttc answers PUBCOMP.
    PubRel(u16),
    /// A PUBLISH was written, with its packet id (0: QoS 0).
    OutgoingPublish(u16),
    /// A PUBACK or PUBREC for a message received left the request queue.
    OutgoingAck,
    OutgoingDisconnect,
    /// Internal to publish_all: the error that ended the connection, after the events left.
    Lost(ConnectionError),
    Other,
}

/// A message received.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    pub pkid: u16,
    /// MQTT 5 only (None when the PUBLISH has none).
    pub properties: Option<Properties>,
}

/// A connection error of either protocol.
#[derive(Debug)]
pub enum ConnectionError {
    V4(rumqttc::ConnectionError),
    V5(v5::ConnectionError),
}

impl std::fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe_error(self))
    }
}

impl ConnectionError {
    /// A refused CONNACK: its return (or reason) code.
    pub fn refused(&self) -> Option<u8> {
        match self {
            ConnectionError::V4(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                Some(*code as u8)
            }
            ConnectionError::V5(v5::ConnectionError::ConnectionRefused(code)) => {
                Some(connack_code_v5(*code))
            }
            _ => None,
        }
    }

    /// Reconnecting would end the same way, or take the session back from the client that
    /// took it over (each then taking it from the other): a packet larger than the broker
    /// takes, session taken over (0x8E), use another server (0x9C), server moved (0x9D).
    pub fn is_final(&self) -> bool {
        use v5::StateError as S;
        match self {
            ConnectionError::V4(_) => false,
            ConnectionError::V5(v5::ConnectionError::MqttState(state)) => match state {
                S::OutgoingPacketTooLarge { .. }
                | S::Deserialization(rumqttc::v5::mqttbytes::Error::OutgoingPacketTooLarge {
                    ..
                }) => true,
                S::ServerDisconnect { reason_code, .. } => {
                    matches!(*reason_code as u8, 0x8e | 0x9c | 0x9d)
                }
                _ => false,
            },
            ConnectionError::V5(_) => false,
        }
    }
}

/// One message for [`Connection::publish_all`]; what it leaves out is the run's (-t, -q, -r,
/// the MQTT 5 properties of the command line).
#[derive(Debug, Clone, Default)]
pub struct Publication {
    pub payload: Bytes,
    pub topic: Option<String>,
    pub qos: Option<QoS>,
    pub retain: Option<bool>,
    pub properties: Option<mqtt5::PublishProperties>,
}

impl Publication {
    /// A payload for the run's topic, QoS, retain flag and properties.
    pub fn payload(payload: Bytes) -> Publication {
        Publication {
            payload,
            ..Publication::default()
        }
    }
}

/// What a subscription asks for: the filters and their options.
#[derive(Debug, Clone, Default)]
pub struct Subscription {
    pub filters: Vec<String>,
    pub qos: u8,
    /// MQTT 5 options.
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: u8,
    pub id: Option<usize>,
    pub user_properties: Vec<(String, String)>,
    /// MQTT 5: the user properties of each UNSUBSCRIBE (-U).
    pub unsubscribe_user_properties: Vec<(String, String)>,
}

fn qos5(qos: QoS) -> rumqttc::v5::mqttbytes::QoS {
    match qos {
        QoS::AtMostOnce => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

impl Client {
    /// Queue a SUBSCRIBE (not waiting: the request queue has room for it).
    pub fn try_subscribe(&self, subscription: &Subscription) -> Result<()> {
        let qos = options::qos(subscription.qos);
        match self {
            Client::V4(client) => client.try_subscribe_many(
                subscription
                    .filters
                    .iter()
                    .map(|f| rumqttc::SubscribeFilter::new(f.clone(), qos)),
            )?,
            Client::V5(client) => {
                let filters = subscription.filters.iter().map(|f| mqtt5::Filter {
                    path: f.clone(),
                    qos: qos5(qos),
                    nolocal: subscription.no_local,
                    preserve_retain: subscription.retain_as_published,
                    retain_forward_rule: match subscription.retain_handling {
                        0 => mqtt5::RetainForwardRule::OnEverySubscribe,
                        1 => mqtt5::RetainForwardRule::OnNewSubscribe,
                        _ => mqtt5::RetainForwardRule::Never,
                    },
                });
                if subscription.id.is_some() || !subscription.user_properties.is_empty() {
                    let properties = mqtt5::SubscribeProperties {
                        id: subscription.id,
                        user_properties: subscription.user_properties.clone(),
                    };
                    client.try_subscribe_many_with_properties(filters, properties)?
                } else {
                    client.try_subscribe_many(filters)?
                }
            }
        }
        Ok(())
    }

    pub fn try_unsubscribe(&self, filter: String, subscription: &Subscription) -> Result<()> {
        match self {
            Client::V4(client) => client.try_unsubscribe(filter)?,
            Client::V5(client) if subscription.unsubscribe_user_properties.is_empty() => {
                client.try_unsubscribe(filter)?
            }
            Client::V5(client) => client.try_unsubscribe_with_properties(
                filter,
                mqtt5::UnsubscribeProperties {
                    user_properties: subscription.unsubscribe_user_properties.clone(),
                },
            )?,
        }
        Ok(())
    }

    /// Queue a PUBLISH without waiting; false when the request queue is full.
    pub fn try_publish(&self, topic: &str, qos: QoS, retain: bool, payload: Vec<u8>) -> bool {
        match self {
            Client::V4(client) => client.try_publish(topic, qos, retain, payload).is_ok(),
            Client::V5(client) => client
                .try_publish(topic, qos5(qos), retain, payload)
                .is_ok(),
        }
    }

    /// Queue a PUBLISH, waiting while the request queue is full; false when the loop is gone.
    pub(crate) async fn publish(
        &self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: Bytes,
        properties: Option<&mqtt5::PublishProperties>,
    ) -> bool {
        match (self, properties) {
            (Client::V4(client), _) => client
                .publish_bytes(topic, qos, retain, payload)
                .await
                .is_ok(),
            (Client::V5(client), None) => client
                .publish_bytes(topic, qos5(qos), retain, payload)
                .await
                .is_ok(),
            (Client::V5(client), Some(properties)) => client
                .publish_bytes_with_properties(
                    topic,
                    qos5(qos),
                    retain,
                    payload,
                    properties.clone(),
                )
                .await
                .is_ok(),
        }
    }

    /// Queue a PUBLISH with MQTT 5 properties without waiting; false when the queue is full.
    pub fn try_publish_with(
        &self,
        topic: &str,
        qos: QoS,
        payload: Bytes,
        properties: Option<mqtt5::PublishProperties>,
    ) -> bool {
        match (self, properties) {
            (Client::V4(client), _) => client.try_publish(topic, qos, false, payload).is_ok(),
            (Client::V5(client), None) => {
                client.try_publish(topic, qos5(qos), false, payload).is_ok()
            }
            (Client::V5(client), Some(properties)) => client
                .try_publish_with_properties(topic, qos5(qos), false, payload, properties)
                .is_ok(),
        }
    }

    /// Queue the PUBACK (QoS 1) or PUBREC (QoS 2) of a message received, without waiting;
    /// false when the request queue is full.
    fn try_ack(&self, qos: u8, pkid: u16) -> bool {
        match self {
            Client::V4(client) => {
                let mut publish = rumqttc::Publish::new("", options::qos(qos), Vec::new());
                publish.pkid = pkid;
                client.try_ack(&publish).is_ok()
            }
            Client::V5(client) => {
                let qos = qos5(options::qos(qos));
                let mut publish = mqtt5::Publish::new("", qos, Vec::new(), None);
                publish.pkid = pkid;
                client.try_ack(&publish).is_ok()
            }
        }
    }

    fn try_disconnect(&self) -> bool {
        match self {
            Client::V4(client) => client.try_disconnect().is_ok(),
            Client::V5(client) => client.try_disconnect().is_ok(),
        }
    }

    /// Queue a DISCONNECT, waiting while the request queue is full (the event loop's owner
    /// then sees [`Event::OutgoingDisconnect`] and calls [`Connection::close`]).
    pub(crate) async fn disconnect(&self) {
        match self {
            Client::V4(client) => {
                let _ = client.disconnect().await;
            }
            Client::V5(client) => {
                let _ = client.disconnect().await;
            }
        }
    }
}

/// An open MQTT connection: the request handle and the event loop that drives it.
pub struct Connection {
    pub client: Client,
    eventloop: EventLoop,
    /// With -A, --proxy or -V 31: the relay that opens the connections to the broker.
    relay: Option<relay::Relay>,
    debug: bool,
    address: String,
    /// MQTT 5: the properties of every PUBLISH (None when there are none).
    publish_properties: Option<mqtt5::PublishProperties>,
    /// MQTT 5 with -D connect topic-alias-maximum: the topics the broker named by alias on
    /// this network connection. rumqttc hands us each PUBLISH before it resolves the alias.
    aliases: std::collections::HashMap<u16, String>,
    /// Advanced by one for each message [`Connection::publish_all`] completes (a progress bar,
    /// drawn only on a terminal).
    pub progress: Option<indicatif::ProgressBar>,
    /// Messages are acknowledged by [`Connection::acknowledge`] (once printed), not on receipt.
    manual_acks: bool,
    /// Acknowledgements (QoS, packet id) waiting for room in the request queue, in order.
    acks: VecDeque<(u8, u16)>,
    /// Acknowledgements in the request queue (at most ACK_ROOM).
    acks_queued: usize,
    exactly_once: ExactlyOnce,
    /// MQTT 5: the properties of the last CONNACK (what the broker announces; probe shows them).
    connack: Option<mqtt5::ConnAckProperties>,
}

/// Incoming QoS 2 packet ids delivered and awaiting PUBREL, kept across reconnects while the
/// broker keeps the session. rumqttc forgets them at each reconnect: the broker's resend of such
/// a PUBLISH would be delivered twice.
#[derive(Default)]
struct ExactlyOnce {
    awaiting_pubrel: HashSet<u16>,
    /// Packet ids whose PUBREC was handed to rumqttc for this network connection (written on
    /// it, or queued for it): a resend of their PUBLISH that crossed it needs no other PUBREC.
    /// A second one gets a second PUBREL (mosquitto answers even a PUBREC for an id it is done
    /// with), refused by rumqttc as unsolicited once the first cleared the id.
    pubrec_sent: HashSet<u16>,
    /// Whether the network connection is up (a CONNACK since the last error).
    connected: bool,
}

impl Connection {
    /// Connect and wait for the broker to accept us. `requests` bounds the request queue.
    pub async fn open(settings: &Settings, requests: usize) -> Result<Connection> {
        let relay = relay::Relay::start_if_needed(settings).await?;
        let requests = match settings.mqtt.manual_acks() {
            true => requests + ACK_ROOM,
            false => requests,
        };
        let socket = relay.as_ref().map(|r| r.socket());
        // MQTT 3.1.1: the name resolved here for the first connection only; a reconnection
        // resolves it again. (MQTT 5 options take the CONNACK's keep-alive: not swapped.)
        let resolved = (socket.is_none() && settings.protocol != ProtocolVersion::V5)
            .then(|| settings.resolved_here())
            .flatten();
        let first = resolved.is_some();
        let (client, eventloop) = if settings.protocol == ProtocolVersion::V5 {
            let (client, eventloop) =
                v5::AsyncClient::new(settings.mqtt5_options(socket), requests.max(1));
            (Client::V5(client), EventLoop::V5(Box::new(eventloop)))
        } else {
            let mqtt = resolved.unwrap_or_else(|| settings.mqtt_options(socket));
            let (client, mut eventloop) = rumqttc::AsyncClient::new(mqtt, requests.max(1));
            eventloop.set_network_options(settings.network.clone());
            (Client::V4(client), EventLoop::V4(Box::new(eventloop)))
        };
        let mut connection = Connection {
            client,
            eventloop,
            relay,
            debug: settings.debug,
            address: settings.address.clone(),
            publish_properties: settings.publish_properties.clone(),
            aliases: Default::default(),
            progress: None,
            manual_acks: settings.mqtt.manual_acks(),
            acks: VecDeque::new(),
            acks_queued: 0,
            exactly_once: ExactlyOnce::default(),
            connack: None,
        };
        if connection.debug {
            let id = settings.mqtt.client_id();
            crate::say!(
                "skeeter: debug: connecting to {} as '{id}' (MQTT {}, clean session {}, keep-alive {} s)",
                connection.address,
                settings.protocol,
                settings.mqtt.clean_session(),
                settings.mqtt.keep_alive().as_secs()
            );
        }
        let first_event = connection.next_event().await;
        if let (true, EventLoop::V4(eventloop)) = (first, &mut connection.eventloop) {
            eventloop.mqtt_options = settings.mqtt_options(None);
        }
        match first_event {
            Ok(Event::ConnAck { .. }) => Ok(connection),
            Ok(other) => Err(anyhow::anyhow!(
                "unexpected first event from {}: {other:?}",
                connection.address
            )),
            // Through the relay, a TLS failure shows here only as a closed connection.
            Err(err) => match connection.relay.as_ref().and_then(|r| r.tls_failure()) {
                Some(why) => Err(Fatal::new(
                    Code::Tls,
                    format!("TLS with {} failed: {why}", connection.address),
                )
                .into()),
                None => Err(connect_error(err, &connection.address)),
            },
        }
    }

    /// MQTT 5: the highest topic alias the broker's CONNACK allows (0: none; 0 in MQTT 3.1.1).
    fn topic_alias_max(&self) -> u16 {
        match &self.eventloop {
            EventLoop::V4(_) => 0,
            EventLoop::V5(eventloop) => eventloop.state.broker_topic_alias_max,
        }
    }

    /// MQTT 5: a PUBLISH with a topic alias and a topic defines the alias for this network
    /// connection; one with the alias alone gets the topic back. An alias the broker never
    /// defined is its protocol error (rumqttc answers DISCONNECT 0x82): the message is dropped
    /// with a warning rather than shown under an empty topic.
    fn resolve_alias(&mut self, event: Event) -> Event {
        match event {
            Event::ConnAck { .. } => {
                self.aliases.clear();
                event
            }
            Event::Publish(mut message) => {
                let Some(alias) = message.properties.as_ref().and_then(|p| p.topic_alias) else {
                    return Event::Publish(message);
                };
                if !message.topic.is_empty() {
                    self.aliases.insert(alias, message.topic.clone());
                    return Event::Publish(message);
                }
                match self.aliases.get(&alias) {
                    Some(topic) => {
                        message.topic.clone_from(topic);
                        Event::Publish(message)
                    }
                    None => {
                        crate::say!(
                            "skeeter: warning: {} sent topic alias {alias} before naming its \
                             topic; message dropped",
                            self.address
                        );
                        Event::Other
                    }
                }
            }
            other => other,
        }
    }

    /// The next event, traced on stderr with -d. After an error, calling it again reconnects.
    /// A QoS 2 message already delivered (resent by the broker after a reconnect) is not
    /// delivered again.
    pub async fn next_event(&mut self) -> Result<Event, ConnectionError> {
        self.send_acks();
        let (event, line) = match &mut self.eventloop {
            EventLoop::V4(eventloop) => match eventloop.poll().await {
                Ok(event) => {
                    let line = self.debug.then(|| describe(&event));
                    (Ok(event_v4(event)), line)
                }
                Err(err) => (Err(ConnectionError::V4(err)), None),
            },
            EventLoop::V5(eventloop) => match eventloop.poll().await {
                Ok(event) => {
                    let line = self.debug.then(|| describe_v5(&event));
                    if let v5::Event::Incoming(mqtt5::Packet::ConnAck(ack)) = &event {
                        self.connack.clone_from(&ack.properties);
                    }
                    (Ok(self.resolve_alias(event_v5(event))), line)
                }
                Err(err) => (Err(ConnectionError::V5(err)), None),
            },
        };
        if self.debug {
            match (&event, line) {
                (Ok(_), Some(line)) => crate::say!("skeeter: debug: {line}"),
                (Err(err), _) => crate::say!("skeeter: debug: connection error: {err}"),
                _ => {}
            }
        }
        match event {
            Ok(Event::Publish(publish))
                if publish.qos == 2 && !self.exactly_once.awaiting_pubrel.insert(publish.pkid) =>
            {
                if self.debug {
                    crate::say!(
                        "skeeter: debug: PUBLISH m{} was delivered before this resend: not again",
                        publish.pkid
                    );
                }
                let pkid = publish.pkid;
                if self.manual_acks
                    && !self.exactly_once.pubrec_sent.contains(&pkid)
                    && !self.acks.contains(&(2, pkid))
                {
                    self.acks.push_back((2, pkid));
                    self.send_acks();
                }
                Ok(Event::Other)
            }
            Ok(Event::OutgoingAck) => {
                self.acks_queued = self.acks_queued.saturating_sub(1);
                self.send_acks();
                Ok(Event::OutgoingAck)
            }
            Ok(Event::PubRel(pkid)) => {
                self.exactly_once.awaiting_pubrel.remove(&pkid);
                self.exactly_once.pubrec_sent.remove(&pkid);
                // Released: a PUBREC still waiting for it (for a resend) is of no use now.
                self.acks.retain(|&ack| ack != (2, pkid));
                Ok(Event::PubRel(pkid))
            }
            Ok(Event::ConnAck { session_present }) => {
                self.resume_exactly_once(session_present);
                Ok(Event::ConnAck { session_present })
            }
            Err(err) => {
                // rumqttc emptied the request queue: acks dropped, or kept for the next connection.
                self.acks_queued = 0;
                if std::mem::take(&mut self.exactly_once.connected) {
                    // The PUBRECs written went with the connection; those still queued (moved to
                    // rumqttc's pending requests) go on the next one.
                    let pending = self.pending_pubrecs();
                    self.exactly_once
                        .pubrec_sent
                        .retain(|pkid| pending.contains(pkid));
                }
                Err(err)
            }
            other => other,
        }
    }

    /// After a CONNACK: with the session resumed, the broker resends PUBREL for every message
    /// whose PUBCOMP it has not got, and each must be answered with PUBCOMP (MQTT 3.1.1 4.3.3),
    /// whatever we know of it: an earlier process may have received it, or our PUBCOMP was
    /// lost with the connection (rumqttc reports the PUBREL and its PUBCOMP when it read them,
    /// even when the write that carried the PUBCOMP then failed), so rumqttc is made to expect a
    /// PUBREL for any packet id. A refused PUBREL would end the connection before the PUBCOMPs
    /// read with it left, so their PUBRELs would come again, and again. With a new session,
    /// nothing awaits PUBREL.
    fn resume_exactly_once(&mut self, session_present: bool) {
        self.exactly_once.connected = true;
        if !session_present {
            // rumqttc dropped its pending requests too.
            self.exactly_once.awaiting_pubrel.clear();
            self.exactly_once.pubrec_sent.clear();
            return;
        }
        self.await_pubrel(1..=u16::MAX);
    }

    /// The packet ids of the PUBRECs in rumqttc's pending requests (sent after the next CONNACK).
    fn pending_pubrecs(&self) -> HashSet<u16> {
        match &self.eventloop {
            EventLoop::V4(eventloop) => (eventloop.pending.iter())
                .filter_map(|request| match request {
                    rumqttc::Request::PubRec(rec) => Some(rec.pkid),
                    _ => None,
                })
                .collect(),
            EventLoop::V5(eventloop) => (eventloop.pending.iter())
                .filter_map(|request| match request {
                    v5::Request::PubRec(rec) => Some(rec.pkid),
                    _ => None,
                })
                .collect(),
        }
    }

    /// Make rumqttc expect a PUBREL for these packet ids (as if their QoS 2 PUBLISH had just
    /// come; the event and any reply it makes are dropped), so that it answers PUBCOMP rather
    /// than end the connection over an "unsolicited" PUBREL.
    fn await_pubrel(&mut self, pkids: impl IntoIterator<Item = u16>) {
        match &mut self.eventloop {
            // An empty topic and payload: nothing allocated per packet id; the events queue
            // never holds more than one of them.
            EventLoop::V4(eventloop) => {
                let state = &mut eventloop.state;
                let events = state.events.len();
                let mut publish = rumqttc::Publish::new("", QoS::ExactlyOnce, Vec::new());
                for pkid in pkids {
                    publish.pkid = pkid;
                    let packet = rumqttc::Packet::Publish(publish.clone());
                    let _ = state.handle_incoming_packet(packet);
                    state.events.truncate(events);
                }
            }
            EventLoop::V5(eventloop) => {
                let state = &mut eventloop.state;
                let events = state.events.len();
                let qos = qos5(QoS::ExactlyOnce);
                let mut publish = mqtt5::Publish::new("", qos, Vec::new(), None);
                for pkid in pkids {
                    publish.pkid = pkid;
                    let packet = mqtt5::Packet::Publish(publish.clone());
                    let _ = state.handle_incoming_packet(packet);
                    state.events.truncate(events);
                }
            }
        }
    }

    /// With manual acknowledgements: acknowledge a message received (QoS 1 and 2), once it has
    /// been handled (printed), so that one lost to a crash before that is sent again.
    pub fn acknowledge(&mut self, publish: &Received) {
        if self.manual_acks && publish.qos > 0 {
            self.acks.push_back((publish.qos, publish.pkid));
            self.send_acks();
        }
    }

    /// Move waiting acknowledgements into the request queue, as many as it takes now. The
    /// broker answers a PUBREC with PUBREL even when the message was released already (or is
    /// of a session it no longer has): rumqttc is told to expect that PUBREL.
    fn send_acks(&mut self) {
        while self.acks_queued < ACK_ROOM
            && let Some(&(qos, pkid)) = self.acks.front()
        {
            if qos == 2 {
                self.await_pubrel([pkid]);
            }
            if !self.client.try_ack(qos, pkid) {
                break;
            }
            if qos == 2 {
                self.exactly_once.pubrec_sent.insert(pkid);
            }
            self.acks.pop_front();
            self.acks_queued += 1;
        }
    }

    /// After poll() failed: move the events rumqttc read but did not deliver into `out`.
    /// Returns false the first time (so the caller handles them, then the error), true once
    /// there was nothing left.
    fn drained_leftovers(&mut self, out: &mut std::collections::VecDeque<Event>) -> bool {
        let events: Vec<Event> = match &mut self.eventloop {
            EventLoop::V4(eventloop) => eventloop.state.events.drain(..).map(event_v4).collect(),
            EventLoop::V5(eventloop) => {
                let events: Vec<v5::Event> = eventloop.state.events.drain(..).collect();
                events
                    .into_iter()
                    .map(|event| self.resolve_alias(event_v5(event)))
                    .collect()
            }
        };
        if events.is_empty() {
            return true;
        }
        out.extend(events);
        false
    }

    /// Drop the network connection after DISCONNECT; with a relay, wait until it passed it on.
    pub(crate) async fn close(&mut self) {
        match &mut self.eventloop {
            EventLoop::V4(eventloop) => eventloop.network = None,
            EventLoop::V5(eventloop) => eventloop.clean(),
        }
        if let Some(relay) = &mut self.relay {
            relay.drain(DISCONNECT_TIMEOUT).await;
        }
    }

    /// Events already read from the socket, which the next `next_event` returns without
    /// waiting (a batch of PUBLISHes read together).
    pub fn has_buffered_events(&self) -> bool {
        match &self.eventloop {
            EventLoop::V4(eventloop) => !eventloop.state.events.is_empty(),
            EventLoop::V5(eventloop) => !eventloop.state.events.is_empty(),
        }
    }

    /// MQTT 5: the properties of the broker's last CONNACK (None in MQTT 3.1.1, or when it had
    /// none).
    pub fn connack_properties(&self) -> Option<&mqtt5::ConnAckProperties> {
        self.connack.as_ref()
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Send DISCONNECT and wait until it is written (bounded). Incoming messages are dropped.
    pub async fn disconnect(&mut self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + DISCONNECT_TIMEOUT;
        let mut requested = false;
        while tokio::time::Instant::now() < deadline {
            if !requested {
                // Acknowledgements first: DISCONNECT is the last packet.
                self.send_acks();
                requested = self.acks.is_empty() && self.client.try_disconnect();
            }
            match tokio::time::timeout_at(deadline, self.next_event()).await {
                Ok(Ok(Event::OutgoingDisconnect)) => {
                    self.close().await;
                    return Ok(());
                }
                Ok(Ok(_)) => {}
                Ok(Err(err)) => return Err(lost_error(err, &self.address)),
                Err(_) => break,
            }
        }
        Err(Fatal::new(
            Code::ConnectionLost,
            format!("no clean disconnect from {} within 5 s", self.address),
        )
        .into())
    }

    /// Publish every payload received on `payloads` to `topic`, keeping up to the configured
    /// number of QoS 1/2 messages in flight, then disconnect. Returns once every message has been
    /// acknowledged (QoS 1: PUBACK, QoS 2: PUBCOMP, or a refusing PUBREC) or written (QoS 0)
    /// and DISCONNECT is sent. An MQTT 5 acknowledgement refusing a message (reason code 0x80 or
    /// more) is counted as complete, and makes the result an error ([`Code::NotAccepted`]).
    ///
    /// With a topic alias (-D publish topic-alias N), the first PUBLISH carries the topic and
    /// the alias, the others an empty topic and the alias, as mosquitto_pub's; an alias above
    /// the broker's CONNACK maximum is a usage error before anything is published.
    ///
    /// With a non-zero `pause`, each publish waits for the previous one to complete, then for
    /// `pause`. An `Err` on the channel (an unreadable input) stops the input; what was sent is
    /// still completed, then the error is returned.
    pub async fn publish_all(
        &mut self,
        topic: String,
        qos: QoS,
        retain: bool,
        mut payloads: mpsc::Receiver<io::Result<Publication>>,
        pause: Duration,
    ) -> Result<u64> {
        let (completed_tx, mut completed_rx) = watch::channel(0u64);
        let client = self.client.clone();
        let properties = self.publish_properties.clone();
        let alias = properties.as_ref().and_then(|p| p.topic_alias);
        if let Some(alias) = alias
            && alias > self.topic_alias_max()
        {
            let max = self.topic_alias_max();
            let _ = self.disconnect().await;
            return Err(Fatal::new(
                Code::Usage,
                format!(
                    "-D publish topic-alias {alias}: {} allows topic aliases up to {max}{}",
                    self.address,
                    if max == 0 { " (none)" } else { "" }
                ),
            )
            .into());
        }
        // The producer runs beside the event loop, so the loop is never interrupted mid-poll;
        // publish() waits while the request queue is full, which bounds memory.
        let producer = tokio::spawn(async move {
            let mut queued = 0u64;
            let mut input_error = None;
            while let Some(item) = payloads.recv().await {
                let publication = match item {
                    Ok(publication) => publication,
                    Err(err) => {
                        input_error = Some(err);
                        break;
                    }
                };
                if !pause.is_zero() && queued > 0 {
                    if completed_rx.wait_for(|done| *done >= queued).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(pause).await;
                }
                // With an alias, the broker knows the topic after the first PUBLISH.
                let topic = match &publication.topic {
                    Some(own) => own.as_str(),
                    None if alias.is_some() && queued > 0 => "",
                    None => topic.as_str(),
                };
                let properties = publication.properties.as_ref().or(properties.as_ref());
                let (qos, retain) = (
                    publication.qos.unwrap_or(qos),
                    publication.retain.unwrap_or(retain),
                );
                if !client
                    .publish(topic, qos, retain, publication.payload, properties)
                    .await
                {
                    break; // the event loop is gone; its error is reported there
                }
                queued += 1;
            }
            // Every message queued must be acknowledged before DISCONNECT goes out.
            if completed_rx.wait_for(|done| *done >= queued).await.is_ok() {
                client.disconnect().await;
            }
            input_error
        });

        let mut completed = 0u64;
        // Messages the broker refused, and the first refusal's reason code.
        let mut refused = 0u64;
        let mut first_refusal = 0u8;
        // Acknowledgements read together with the end of the connection are left in rumqttc's
        // queue of events when poll() fails (mosquitto 2.0.11 closes the connection right after
        // refusing a publish): they are taken from there.
        let mut leftovers = std::collections::VecDeque::new();
        loop {
            let event = match leftovers.pop_front() {
                Some(event) => Ok(event),
                None => self.next_event().await,
            };
            // Each message completes by its own QoS (pub --json mixes them): QoS 0 once
            // written (packet id 0), QoS 1 at PUBACK, QoS 2 at PUBCOMP or a refusing PUBREC.
            let reason = match event {
                Ok(Event::OutgoingPublish(0)) => 0,
                Ok(Event::PubAck(reason)) => reason,
                Ok(Event::PubRec(reason)) if reason >= 0x80 => reason,
                Ok(Event::PubComp(reason)) => reason,
                Ok(Event::OutgoingDisconnect) => {
                    self.close().await;
                    break;
                }
                Err(err) if !self.drained_leftovers(&mut leftovers) => {
                    leftovers.push_back(Event::Lost(err));
                    continue;
                }
                Ok(Event::Lost(err)) | Err(err) if refused > 0 => {
                    producer.abort();
                    return Err(Fatal::new(
                        Code::NotAccepted,
                        format!(
                            "the broker refused {refused} message(s): {} (reason code \
                             {first_refusal:#04x}), then the connection was lost: {}",
                            reason_words(first_refusal),
                            describe_error(&err)
                        ),
                    )
                    .into());
                }
                Ok(Event::Lost(err)) | Err(err) => {
                    producer.abort();
                    return Err(Fatal::new(
                        Code::ConnectionLost,
                        format!(
                            "connection to {} lost: {} ({completed} message(s) were completed before)",
                            self.address,
                            describe_error(&err)
                        ),
                    )
                    .into());
                }
                Ok(_) => continue,
            };
            if reason >= 0x80 {
                if refused == 0 {
                    first_refusal = reason;
                }
                refused += 1;
            }
            completed += 1;
            completed_tx.send_replace(completed);
            if let Some(bar) = &self.progress {
                bar.inc(1);
            }
        }

        match producer.await {
            Ok(None) if refused > 0 => Err(Fatal::new(
                Code::NotAccepted,
                format!(
                    "the broker refused {refused} of {completed} message(s): {} (reason code {first_refusal:#04x})",
                    reason_words(first_refusal)
                ),
            )
            .into()),
            Ok(None) => Ok(completed),
            Ok(Some(err)) => Err(Fatal::new(
                Code::Input,
                format!("cannot read the input: {err} ({completed} message(s) were sent before)"),
            )
            .into()),
            Err(err) => Err(anyhow::anyhow!("publisher task failed: {err}")),
        }
    }
}

fn event_v4(event: rumqttc::Event) -> Event {
    use rumqttc::Packet;
    match event {
        rumqttc::Event::Incoming(Packet::ConnAck(ack)) => Event::ConnAck {
            session_present: ack.session_present,
        },
        rumqttc::Event::Incoming(Packet::Publish(p)) => Event::Publish(Received {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            pkid: p.pkid,
            properties: None,
        }),
        rumqttc::Event::Incoming(Packet::SubAck(ack)) => Event::SubAck(
            ack.return_codes
                .iter()
                .map(|code| match code {
                    rumqttc::SubscribeReasonCode::Success(qos) => Ok(*qos as u8),
                    rumqttc::SubscribeReasonCode::Failure => Err(0x80),
                })
                .collect(),
        ),
        rumqttc::Event::Incoming(Packet::PubAck(_)) => Event::PubAck(0),
        rumqttc::Event::Incoming(Packet::PubRec(_)) => Event::PubRec(0),
        rumqttc::Event::Incoming(Packet::PubComp(_)) => Event::PubComp(0),
        rumqttc::Event::Incoming(Packet::PubRel(rel)) => Event::PubRel(rel.pkid),
        rumqttc::Event::Outgoing(Outgoing::Publish(pkid)) => Event::OutgoingPublish(pkid),
        rumqttc::Event::Outgoing(Outgoing::PubAck(_) | Outgoing::PubRec(_)) => Event::OutgoingAck,
        rumqttc::Event::Outgoing(Outgoing::Disconnect) => Event::OutgoingDisconnect,
        _ => Event::Other,
    }
}

fn event_v5(event: v5::Event) -> Event {
    use mqtt5::Packet;
    match event {
        v5::Event::Incoming(Packet::ConnAck(ack)) => Event::ConnAck {
            session_present: ack.session_present,
        },
        v5::Event::Incoming(Packet::Publish(p)) => Event::Publish(Received {
            topic: String::from_utf8_lossy(&p.topic).into_owned(),
            payload: p.payload,
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            pkid: p.pkid,
            properties: p.properties.map(|p| Properties {
                payload_format: p.payload_format_indicator,
                message_expiry: p.message_expiry_interval,
                topic_alias: p.topic_alias,
                response_topic: p.response_topic,
                correlation_data: p.correlation_data.map(|d| d.to_vec()),
                user_properties: p.user_properties,
                subscription_ids: p.subscription_identifiers,
                content_type: p.content_type,
            }),
        }),
        v5::Event::Incoming(Packet::SubAck(ack)) => Event::SubAck(
            ack.return_codes
                .iter()
                .map(|code| match code {
                    mqtt5::SubscribeReasonCode::Success(qos) => Ok(*qos as u8),
                    refused => Err(suback_code_v5(*refused)),
                })
                .collect(),
        ),
        v5::Event::Incoming(Packet::PubAck(ack)) => Event::PubAck(puback_code_v5(ack.reason)),
        v5::Event::Incoming(Packet::PubRec(rec)) => Event::PubRec(pubrec_code_v5(rec.reason)),
        v5::Event::Incoming(Packet::PubComp(comp)) => Event::PubComp(match comp.reason {
            mqtt5::PubCompReason::Success => 0,
            mqtt5::PubCompReason::PacketIdentifierNotFound => 0x92,
        }),
        v5::Event::Incoming(Packet::PubRel(rel)) => Event::PubRel(rel.pkid),
        v5::Event::Outgoing(Outgoing::Publish(pkid)) => Event::OutgoingPublish(pkid),
        v5::Event::Outgoing(Outgoing::PubAck(_) | Outgoing::PubRec(_)) => Event::OutgoingAck,
        v5::Event::Outgoing(Outgoing::Disconnect) => Event::OutgoingDisconnect,
        _ => Event::Other,
    }
}

fn connack_code_v5(code: mqtt5::ConnectReturnCode) -> u8 {
    use mqtt5::ConnectReturnCode as C;
    match code {
        C::Success => 0,
        C::UnspecifiedError => 128,
        C::MalformedPacket => 129,
        C::ProtocolError => 130,
        C::ImplementationSpecificError => 131,
        C::UnsupportedProtocolVersion | C::RefusedProtocolVersion => 132,
        C::ClientIdentifierNotValid | C::BadClientId => 133,
        C::BadUserNamePassword => 134,
        C::NotAuthorized => 135,
        C::ServerUnavailable | C::ServiceUnavailable => 136,
        C::ServerBusy => 137,
        C::Banned => 138,
        C::BadAuthenticationMethod => 140,
        C::TopicNameInvalid => 144,
        C::PacketTooLarge => 149,
        C::QuotaExceeded => 151,
        C::PayloadFormatInvalid => 153,
        C::RetainNotSupported => 154,
        C::QoSNotSupported => 155,
        C::UseAnotherServer => 156,
        C::ServerMoved => 157,
        C::ConnectionRateExceeded => 159,
    }
}

fn puback_code_v5(reason: mqtt5::PubAckReason) -> u8 {
    use mqtt5::PubAckReason as R;
    match reason {
        R::Success => 0,
        R::NoMatchingSubscribers => 0x10,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    }
}

fn pubrec_code_v5(reason: mqtt5::PubRecReason) -> u8 {
    use mqtt5::PubRecReason as R;
    match reason {
        R::Success => 0,
        R::NoMatchingSubscribers => 0x10,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    }
}

fn suback_code_v5(code: mqtt5::SubscribeReasonCode) -> u8 {
    use mqtt5::SubscribeReasonCode as S;
    match code {
        S::Success(qos) => qos as u8,
        S::Failure | S::Unspecified => 0x80,
        S::ImplementationSpecific => 0x83,
        S::NotAuthorized => 0x87,
        S::TopicFilterInvalid => 0x8f,
        S::PkidInUse => 0x91,
        S::QuotaExceeded => 0x97,
        S::SharedSubscriptionsNotSupported => 0x9e,
        S::SubscriptionIdNotSupported => 0xa1,
        S::WildcardSubscriptionsNotSupported => 0xa2,
    }
}

/// An MQTT 5 reason code in words (as the specification names it).
pub fn reason_words(code: u8) -> &'static str {
    match code {
        0x00 => "success",
        0x10 => "no matching subscribers",
        0x80 => "unspecified error",
        0x81 => "malformed packet",
        0x82 => "protocol error",
        0x83 => "implementation specific error",
        0x84 => "unsupported protocol version",
        0x85 => "client identifier not valid",
        0x86 => "bad user name or password",
        0x87 => "not authorized",
        0x88 => "server unavailable",
        0x89 => "server busy",
        0x8a => "banned",
        0x8b => "server shutting down",
        0x8c => "bad authentication method",
        0x8d => "keep alive timeout",
        0x8e => "session taken over",
        0x8f => "topic filter invalid",
        0x90 => "topic name invalid",
        0x91 => "packet identifier in use",
        0x92 => "packet identifier not found",
        0x93 => "receive maximum exceeded",
        0x94 => "topic alias invalid",
        0x95 => "packet too large",
        0x96 => "message rate too high",
        0x97 => "quota exceeded",
        0x98 => "administrative action",
        0x99 => "payload format invalid",
        0x9a => "retain not supported",
        0x9b => "QoS not supported",
        0x9c => "use another server",
        0x9d => "server moved",
        0x9e => "shared subscriptions not supported",
        0x9f => "connection rate exceeded",
        0xa0 => "maximum connect time",
        0xa1 => "subscription identifiers not supported",
        0xa2 => "wildcard subscriptions not supported",
        _ => "unknown reason code",
    }
}

/// The error for a failed first connection: a refusal exits with the CONNACK code, a TLS
/// failure with 8.
pub fn connect_error(err: ConnectionError, address: &str) -> anyhow::Error {
    if let Some(code) = err.refused() {
        return Fatal::new(
            Code::Refused(code),
            format!("connection refused by {address}: {}", refusal_words(code)),
        )
        .into();
    }
    let tls_error = match &err {
        ConnectionError::V4(err) => tls::find_rustls_error(err),
        ConnectionError::V5(err) => tls::find_rustls_error(err),
    };
    if let Some(tls_error) = tls_error {
        return Fatal::new(
            Code::Tls,
            format!("TLS with {address} failed: {}", tls::describe(tls_error)),
        )
        .into();
    }
    // Failed in the TLS handshake, without a TLS error (e.g. the broker closed the connection).
    let tls_failure = match &err {
        ConnectionError::V4(rumqttc::ConnectionError::Tls(err)) => {
            Some(std::error::Error::source(err).map_or_else(|| err.to_string(), |e| e.to_string()))
        }
        ConnectionError::V5(v5::ConnectionError::Tls(err)) => {
            Some(std::error::Error::source(err).map_or_else(|| err.to_string(), |e| e.to_string()))
        }
        _ => None,
    };
    if let Some(why) = tls_failure {
        return Fatal::new(
            Code::Tls,
            format!("TLS with {address} failed: {why} (does the broker speak TLS on this port?)"),
        )
        .into();
    }
    match err {
        ConnectionError::V4(rumqttc::ConnectionError::Io(err))
        | ConnectionError::V5(v5::ConnectionError::Io(err)) => {
            Fatal::new(Code::Failure, format!("cannot connect to {address}: {err}")).into()
        }
        ConnectionError::V4(rumqttc::ConnectionError::NetworkTimeout)
        | ConnectionError::V5(v5::ConnectionError::Timeout(_)) => Fatal::new(
            Code::Failure,
            format!(
                "cannot connect to {address}: no answer within {} s",
                options::NETWORK_TIMEOUT_SECS
            ),
        )
        .into(),
        other => Fatal::new(
            Code::Failure,
            format!("cannot connect to {address}: {}", describe_error(&other)),
        )
        .into(),
    }
}

/// The error for a connection that failed after it was established.
pub fn lost_error(err: ConnectionError, address: &str) -> anyhow::Error {
    Fatal::new(
        Code::ConnectionLost,
        format!("connection to {address} lost: {}", describe_error(&err)),
    )
    .into()
}

/// A connection error in words, without rumqttc's Debug noise.
pub fn describe_error(err: &ConnectionError) -> String {
    if let Some(code) = err.refused() {
        return refusal_words(code).into();
    }
    match err {
        ConnectionError::V4(err) => describe_error_v4(err),
        ConnectionError::V5(err) => describe_error_v5(err),
    }
}

fn describe_error_v4(err: &rumqttc::ConnectionError) -> String {
    use rumqttc::ConnectionError as E;
    if let Some(tls_error) = tls::find_rustls_error(err) {
        return format!("TLS: {}", tls::describe(tls_error));
    }
    match err {
        E::MqttState(StateError::ConnectionAborted) => "the broker closed the connection".into(),
        E::MqttState(StateError::Io(err)) | E::Io(err) => err.to_string(),
        E::MqttState(StateError::AwaitPingResp) => {
            "the broker did not answer a keep-alive ping".into()
        }
        E::MqttState(StateError::Deserialization(err)) => {
            format!("malformed packet from the broker: {err}")
        }
        E::Websocket(err) => format!("WebSocket: {err}"),
        E::ResponseValidation(err) => {
            format!("the server did not accept MQTT over WebSockets: {err}")
        }
        E::FlushTimeout => format!(
            "a write did not complete within {} s",
            options::NETWORK_TIMEOUT_SECS
        ),
        other => other.to_string(),
    }
}

fn describe_error_v5(err: &v5::ConnectionError) -> String {
    use v5::ConnectionError as E;
    use v5::StateError as S;
    if let Some(tls_error) = tls::find_rustls_error(err) {
        return format!("TLS: {}", tls::describe(tls_error));
    }
    match err {
        E::MqttState(S::ConnectionAborted) => "the broker closed the connection".into(),
        E::MqttState(S::Io(err)) | E::Io(err) => err.to_string(),
        E::MqttState(S::AwaitPingResp) => "the broker did not answer a keep-alive ping".into(),
        E::MqttState(S::ServerDisconnect {
            reason_code,
            reason_string,
        }) => {
            let code = *reason_code as u8;
            let words = match code {
                0 => "normal disconnection",
                _ => reason_words(code),
            };
            match reason_string {
                Some(why) => format!("the broker disconnected us: {} ({code:#04x}): {why}", words),
                None => format!("the broker disconnected us: {} ({code:#04x})", words),
            }
        }
        // rumqttc cannot read AUTH (packet type 15): the broker wants enhanced authentication.
        E::MqttState(S::Deserialization(rumqttc::v5::mqttbytes::Error::InvalidPacketType(15))) => {
            "the broker answered with AUTH, asking to continue enhanced authentication, which \
             skeeter cannot do (-D connect authentication-method)"
                .into()
        }
        E::MqttState(S::OutgoingPacketTooLarge { pkt_size, max })
        | E::MqttState(S::Deserialization(
            rumqttc::v5::mqttbytes::Error::OutgoingPacketTooLarge { pkt_size, max },
        )) => format!(
            "a packet of {pkt_size} bytes is more than the broker's maximum packet size \
             ({max} bytes, in its CONNACK)"
        ),
        // Over TCP and TLS the relay lengthens the short DISCONNECT forms rumqttc's MQTT 5
        // codec cannot read; without it (pub, WebSockets) such a DISCONNECT ends up here.
        E::MqttState(S::Deserialization(err)) => format!(
            "the broker sent a packet that could not be read, most likely a short DISCONNECT \
             (whose reason code is lost to pub and over WebSockets): {err}"
        ),
        E::MqttState(S::IncomingPacketTooLarge { pkt_size, max }) => {
            format!("the broker sent a packet of {pkt_size} bytes, more than the {max} allowed")
        }
        E::Websocket(err) => format!("WebSocket: {err}"),
        E::ResponseValidation(err) => {
            format!("the server did not accept MQTT over WebSockets: {err}")
        }
        E::Timeout(_) => format!("no answer within {} s", options::NETWORK_TIMEOUT_SECS),
        other => other.to_string(),
    }
}

/// A CONNACK refusal code in words: MQTT 3.1.1's 1 to 5, MQTT 5's reason codes from 128.
pub fn refusal_words(code: u8) -> &'static str {
    match code {
        1 => "unacceptable protocol version",
        2 => "identifier rejected",
        3 => "broker unavailable",
        4 => "bad user name or password",
        5 => "not authorised",
        code => reason_words(code),
    }
}

/// The MQTT 3.1.1 CONNACK return codes in words (as mosquitto prints them).
pub fn refusal_reason(code: ConnectReturnCode) -> &'static str {
    match code {
        ConnectReturnCode::Success => "accepted",
        other => refusal_words(other as u8),
    }
}

/// One line describing an MQTT 3.1.1 event, for the -d trace.
fn describe(event: &rumqttc::Event) -> String {
    use rumqttc::{Event, Packet};
    match event {
        Event::Incoming(Packet::ConnAck(ack)) => format!(
            "received CONNACK (session present {}, {})",
            u8::from(ack.session_present),
            refusal_reason(ack.code)
        ),
        Event::Incoming(Packet::Publish(p)) => format!(
            "received PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            u8::from(p.dup),
            p.qos as u8,
            u8::from(p.retain),
            p.pkid,
            p.topic,
            p.payload.len()
        ),
        Event::Incoming(Packet::SubAck(ack)) => {
            format!("received SUBACK (m{}, {:?})", ack.pkid, ack.return_codes)
        }
        Event::Incoming(Packet::UnsubAck(ack)) => format!("received UNSUBACK (m{})", ack.pkid),
        Event::Incoming(Packet::PubAck(ack)) => format!("received PUBACK (m{})", ack.pkid),
        Event::Incoming(Packet::PubRec(ack)) => format!("received PUBREC (m{})", ack.pkid),
        Event::Incoming(Packet::PubRel(ack)) => format!("received PUBREL (m{})", ack.pkid),
        Event::Incoming(Packet::PubComp(ack)) => format!("received PUBCOMP (m{})", ack.pkid),
        Event::Incoming(Packet::PingResp) => "received PINGRESP".into(),
        Event::Incoming(other) => format!("received {other:?}"),
        Event::Outgoing(outgoing) => describe_outgoing(outgoing),
    }
}

/// One line describing an MQTT 5 event, for the -d trace (with the reason codes).
fn describe_v5(event: &v5::Event) -> String {
    use mqtt5::Packet;
    match event {
        v5::Event::Incoming(Packet::ConnAck(ack)) => format!(
            "received CONNACK (session present {}, {})",
            u8::from(ack.session_present),
            reason_words(connack_code_v5(ack.code))
        ),
        v5::Event::Incoming(Packet::Publish(p)) => format!(
            "received PUBLISH (d{}, q{}, r{}, m{}, '{}'{}, ... ({} bytes))",
            u8::from(p.dup),
            p.qos as u8,
            u8::from(p.retain),
            p.pkid,
            String::from_utf8_lossy(&p.topic),
            match p.properties.as_ref().and_then(|p| p.topic_alias) {
                Some(alias) => format!(" alias {alias}"),
                None => String::new(),
            },
            p.payload.len()
        ),
        v5::Event::Incoming(Packet::SubAck(ack)) => {
            format!("received SUBACK (m{}, {:?})", ack.pkid, ack.return_codes)
        }
        v5::Event::Incoming(Packet::UnsubAck(ack)) => {
            format!("received UNSUBACK (m{})", ack.pkid)
        }
        v5::Event::Incoming(Packet::PubAck(ack)) => format!(
            "received PUBACK (m{}, rc{})",
            ack.pkid,
            puback_code_v5(ack.reason)
        ),
        v5::Event::Incoming(Packet::PubRec(ack)) => format!(
            "received PUBREC (m{}, rc{})",
            ack.pkid,
            pubrec_code_v5(ack.reason)
        ),
        v5::Event::Incoming(Packet::PubRel(ack)) => format!("received PUBREL (m{})", ack.pkid),
        v5::Event::Incoming(Packet::PubComp(ack)) => format!("received PUBCOMP (m{})", ack.pkid),
        v5::Event::Incoming(Packet::PingResp(_)) => "received PINGRESP".into(),
        v5::Event::Incoming(Packet::Disconnect(d)) => format!(
            "received DISCONNECT ({})",
            reason_words(d.reason_code as u8)
        ),
        v5::Event::Incoming(other) => format!("received {other:?}"),
        v5::Event::Outgoing(outgoing) => describe_outgoing(outgoing),
    }
}

fn describe_outgoing(outgoing: &Outgoing) -> String {
    match outgoing {
        Outgoing::Publish(pkid) => format!("sending PUBLISH (m{pkid})"),
        Outgoing::Subscribe(pkid) => format!("sending SUBSCRIBE (m{pkid})"),
        Outgoing::Unsubscribe(pkid) => format!("sending UNSUBSCRIBE (m{pkid})"),
        Outgoing::PubAck(pkid) => format!("sending PUBACK (m{pkid})"),
        Outgoing::PubRec(pkid) => format!("sending PUBREC (m{pkid})"),
        Outgoing::PubRel(pkid) => format!("sending PUBREL (m{pkid})"),
        Outgoing::PubComp(pkid) => format!("sending PUBCOMP (m{pkid})"),
        Outgoing::PingReq => "sending PINGREQ".into(),
        Outgoing::Disconnect => "sending DISCONNECT".into(),
        other => format!("sending {other:?}"),
    }
}
