//! Everything that talks to a broker as a client: connect (CONNACK to exit code), publish a stream
//! of messages with a window of them in flight, receive, and disconnect cleanly.
//!
//! rumqttc's event loop does the protocol. Its traps are handled here, once: `publish()` only
//! queues (so we count acknowledgements before disconnecting), polling after an error reconnects
//! at once (so one-shot commands stop at the first error), and the event loop is never dropped in
//! the middle of a poll while work is still in flight (that can lose a queued packet).

pub mod options;
pub(crate) mod relay;
pub mod tls;

use std::io;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use rumqttc::{
    AsyncClient, ConnAck, ConnectReturnCode, ConnectionError, Event, EventLoop, Outgoing, Packet,
    QoS, StateError,
};
use tokio::sync::{mpsc, watch};

use crate::exit::{Code, Fatal};
pub use options::Settings;

/// How long a clean disconnect may take before we give up on it.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An open MQTT connection: the request handle and the event loop that drives it.
pub struct Connection {
    pub client: AsyncClient,
    eventloop: EventLoop,
    /// With -A, --proxy or -V 31: the relay that opens the connections to the broker.
    relay: Option<relay::Relay>,
    debug: bool,
    address: String,
}

impl Connection {
    /// Connect and wait for the broker to accept us. `requests` bounds the request queue.
    pub async fn open(settings: &Settings, requests: usize) -> Result<(Connection, ConnAck)> {
        let relay = relay::Relay::start_if_needed(settings).await?;
        let mqtt = settings.mqtt_options(relay.as_ref().map(|r| r.socket()));
        let (client, mut eventloop) = AsyncClient::new(mqtt, requests.max(1));
        eventloop.set_network_options(settings.network.clone());
        let mut connection = Connection {
            client,
            eventloop,
            relay,
            debug: settings.debug,
            address: settings.address.clone(),
        };
        if connection.debug {
            let id = settings.mqtt.client_id();
            crate::say!(
                "skeeter: debug: connecting to {} as '{id}' (clean session {}, keep-alive {} s)",
                connection.address,
                settings.mqtt.clean_session(),
                settings.mqtt.keep_alive().as_secs()
            );
        }
        match connection.next_event().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => Ok((connection, ack)),
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

    /// The next event, traced on stderr with -d. After an error, calling it again reconnects.
    pub async fn next_event(&mut self) -> Result<Event, ConnectionError> {
        let event = self.eventloop.poll().await;
        if self.debug {
            match &event {
                Ok(event) => crate::say!("skeeter: debug: {}", describe(event)),
                Err(err) => crate::say!("skeeter: debug: connection error: {err}"),
            }
        }
        event
    }

    /// Drop the network connection after DISCONNECT; with a relay, wait until it passed it on.
    async fn close(&mut self) {
        self.eventloop.network = None;
        if let Some(relay) = &mut self.relay {
            relay.drain(DISCONNECT_TIMEOUT).await;
        }
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
                requested = self.client.try_disconnect().is_ok();
            }
            match tokio::time::timeout_at(deadline, self.next_event()).await {
                Ok(Ok(Event::Outgoing(Outgoing::Disconnect))) => {
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
    /// acknowledged (QoS 1: PUBACK, QoS 2: PUBCOMP) or written (QoS 0) and DISCONNECT is sent.
    ///
    /// With a non-zero `pause`, each publish waits for the previous one to complete, then for
    /// `pause`. An `Err` on the channel (an unreadable input) stops the input; what was sent is
    /// still completed, then the error is returned.
    pub async fn publish_all(
        &mut self,
        topic: String,
        qos: QoS,
        retain: bool,
        mut payloads: mpsc::Receiver<io::Result<Bytes>>,
        pause: Duration,
    ) -> Result<u64> {
        let (completed_tx, mut completed_rx) = watch::channel(0u64);
        let client = self.client.clone();
        // The producer runs beside the event loop, so the loop is never interrupted mid-poll;
        // publish_bytes() waits while the request queue is full, which bounds memory.
        let producer = tokio::spawn(async move {
            let mut queued = 0u64;
            let mut input_error = None;
            while let Some(item) = payloads.recv().await {
                let payload = match item {
                    Ok(payload) => payload,
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
                if client
                    .publish_bytes(topic.as_str(), qos, retain, payload)
                    .await
                    .is_err()
                {
                    break; // the event loop is gone; its error is reported there
                }
                queued += 1;
            }
            // Every message queued must be acknowledged before DISCONNECT goes out.
            if completed_rx.wait_for(|done| *done >= queued).await.is_ok() {
                let _ = client.disconnect().await;
            }
            input_error
        });

        let mut completed = 0u64;
        loop {
            match self.next_event().await {
                Ok(Event::Outgoing(Outgoing::Publish(_))) if qos == QoS::AtMostOnce => {}
                Ok(Event::Incoming(Packet::PubAck(_))) if qos == QoS::AtLeastOnce => {}
                Ok(Event::Incoming(Packet::PubComp(_))) if qos == QoS::ExactlyOnce => {}
                Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                    self.close().await;
                    break;
                }
                Ok(_) => continue,
                Err(err) => {
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
            }
            completed += 1;
            completed_tx.send_replace(completed);
        }

        match producer.await {
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

/// The error for a failed first connection: a refusal exits with the CONNACK code, a TLS
/// failure with 8.
pub fn connect_error(err: ConnectionError, address: &str) -> anyhow::Error {
    if let Some(tls_error) = tls::find_rustls_error(&err) {
        return Fatal::new(
            Code::Tls,
            format!("TLS with {address} failed: {}", tls::describe(tls_error)),
        )
        .into();
    }
    match err {
        // Failed in the TLS handshake, without a TLS error (e.g. the broker closed the connection).
        ConnectionError::Tls(err) => {
            let why = match std::error::Error::source(&err) {
                Some(inner) => inner.to_string(),
                None => err.to_string(),
            };
            Fatal::new(
                Code::Tls,
                format!(
                    "TLS with {address} failed: {why} (does the broker speak TLS on this port?)"
                ),
            )
            .into()
        }
        ConnectionError::ConnectionRefused(code) => Fatal::new(
            Code::Refused(code as u8),
            format!("connection refused by {address}: {}", refusal_reason(code)),
        )
        .into(),
        ConnectionError::Io(err) => {
            Fatal::new(Code::Failure, format!("cannot connect to {address}: {err}")).into()
        }
        ConnectionError::NetworkTimeout => Fatal::new(
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
    if let Some(tls_error) = tls::find_rustls_error(err) {
        return format!("TLS: {}", tls::describe(tls_error));
    }
    match err {
        ConnectionError::MqttState(StateError::ConnectionAborted) => {
            "the broker closed the connection".into()
        }
        ConnectionError::MqttState(StateError::Io(err)) | ConnectionError::Io(err) => {
            err.to_string()
        }
        ConnectionError::MqttState(StateError::AwaitPingResp) => {
            "the broker did not answer a keep-alive ping".into()
        }
        ConnectionError::MqttState(StateError::Deserialization(err)) => {
            format!("malformed packet from the broker: {err}")
        }
        ConnectionError::ConnectionRefused(code) => refusal_reason(*code).into(),
        ConnectionError::Websocket(err) => format!("WebSocket: {err}"),
        ConnectionError::ResponseValidation(err) => {
            format!("the server did not accept MQTT over WebSockets: {err}")
        }
        ConnectionError::FlushTimeout => format!(
            "a write did not complete within {} s",
            options::NETWORK_TIMEOUT_SECS
        ),
        other => other.to_string(),
    }
}

/// The MQTT 3.1.1 CONNACK return codes in words (as mosquitto prints them).
pub fn refusal_reason(code: ConnectReturnCode) -> &'static str {
    match code {
        ConnectReturnCode::Success => "accepted",
        ConnectReturnCode::RefusedProtocolVersion => "unacceptable protocol version",
        ConnectReturnCode::BadClientId => "identifier rejected",
        ConnectReturnCode::ServiceUnavailable => "broker unavailable",
        ConnectReturnCode::BadUserNamePassword => "bad user name or password",
        ConnectReturnCode::NotAuthorized => "not authorised",
    }
}

/// One line describing an event, for the -d trace.
fn describe(event: &Event) -> String {
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
        Event::Outgoing(Outgoing::Publish(pkid)) => format!("sending PUBLISH (m{pkid})"),
        Event::Outgoing(Outgoing::Subscribe(pkid)) => format!("sending SUBSCRIBE (m{pkid})"),
        Event::Outgoing(Outgoing::Unsubscribe(pkid)) => format!("sending UNSUBSCRIBE (m{pkid})"),
        Event::Outgoing(Outgoing::PubAck(pkid)) => format!("sending PUBACK (m{pkid})"),
        Event::Outgoing(Outgoing::PubRec(pkid)) => format!("sending PUBREC (m{pkid})"),
        Event::Outgoing(Outgoing::PubRel(pkid)) => format!("sending PUBREL (m{pkid})"),
        Event::Outgoing(Outgoing::PubComp(pkid)) => format!("sending PUBCOMP (m{pkid})"),
        Event::Outgoing(Outgoing::PingReq) => "sending PINGREQ".into(),
        Event::Outgoing(Outgoing::Disconnect) => "sending DISCONNECT".into(),
        Event::Outgoing(other) => format!("sending {other:?}"),
    }
}
