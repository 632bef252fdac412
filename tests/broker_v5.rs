//! The embedded broker speaking MQTT 5, driven over TCP by a raw client (rumqttc's v5 codec,
//! plus hand-made bytes where that codec falls short), next to 3.1.1 clients on the same port;
//! then mosquitto_pub/_sub -V 5 and paho-mqtt (MQTTv5) against it.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, ConnectProperties, ConnectReturnCode, Disconnect, DisconnectReasonCode, Filter,
    LastWill, LastWillProperties, Login, Packet, PubAck, PubAckReason, PubRecReason, Publish,
    PublishProperties, RetainForwardRule, Subscribe, SubscribeProperties, SubscribeReasonCode,
    UnsubAckReason, Unsubscribe,
};
use skeeter::broker::auth::{Acl, PasswordHash, Passwords};
use skeeter::broker::{Broker, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The longest any single expected event may take.
const WAIT: Duration = Duration::from_secs(10);
/// How long to watch for something that must not happen.
const QUIET: Duration = Duration::from_millis(500);

fn local() -> Config {
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    }
}

async fn start() -> Broker {
    Broker::start(local()).await.expect("broker starts")
}

/// A raw MQTT 5 client: packets in, packets out, nothing hidden.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

/// What a CONNECT carries, built up by the tests.
struct Opts {
    client_id: String,
    clean_start: bool,
    properties: Option<ConnectProperties>,
    will: Option<LastWill>,
    login: Option<Login>,
}

fn opts(client_id: &str) -> Opts {
    Opts {
        client_id: client_id.into(),
        clean_start: true,
        properties: None,
        will: None,
        login: None,
    }
}

fn connect_properties() -> ConnectProperties {
    ConnectProperties {
        session_expiry_interval: None,
        receive_maximum: None,
        max_packet_size: None,
        topic_alias_max: None,
        request_response_info: None,
        request_problem_info: None,
        user_properties: Vec::new(),
        authentication_method: None,
        authentication_data: None,
    }
}

impl Opts {
    fn resume(mut self) -> Self {
        self.clean_start = false;
        self
    }
    fn expiry(mut self, seconds: u32) -> Self {
        let mut properties = self.properties.take().unwrap_or_else(connect_properties);
        properties.session_expiry_interval = Some(seconds);
        self.properties = Some(properties);
        self
    }
    fn will(mut self, topic: &str, payload: &str, delay: Option<u32>) -> Self {
        let properties = LastWillProperties {
            delay_interval: delay,
            payload_format_indicator: None,
            message_expiry_interval: None,
            content_type: Some("text/will".into()),
            response_topic: None,
            correlation_data: None,
            user_properties: vec![("w".into(), "1".into())],
        };
        self.will = Some(LastWill::new(
            topic,
            payload,
            QoS::AtLeastOnce,
            false,
            Some(properties),
        ));
        self
    }
    fn login(mut self, user: &str, password: &str) -> Self {
        self.login = Some(Login::new(user, password));
        self
    }
}

impl Raw {
    async fn open(addr: SocketAddr) -> Raw {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Open, CONNECT, and return the CONNACK.
    async fn connect(addr: SocketAddr, opts: Opts) -> (Raw, ConnAck) {
        let mut raw = Raw::open(addr).await;
        raw.send_connect(opts).await;
        match raw.recv().await {
            Packet::ConnAck(connack) => (raw, connack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connect and expect success.
    async fn connected(addr: SocketAddr, opts: Opts) -> Raw {
        let (raw, connack) = Raw::connect(addr, opts).await;
        assert_eq!(connack.code, ConnectReturnCode::Success);
        raw
    }

    async fn send_connect(&mut self, opts: Opts) {
        let mut connect = rumqttc::v5::mqttbytes::v5::Connect {
            keep_alive: 60,
            client_id: opts.client_id,
            clean_start: opts.clean_start,
            properties: opts.properties,
        };
        connect.keep_alive = 60;
        self.send(Packet::Connect(connect, opts.will, opts.login))
            .await;
    }

    async fn send(&mut self, packet: Packet) {
        let mut out = BytesMut::new();
        packet.write(&mut out, None).expect("encode");
        self.send_raw(&out).await;
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.stream.write_all(bytes))
            .await
            .expect("write in time")
            .expect("write");
    }

    /// The next packet, or None once the broker closed the connection.
    async fn next(&mut self, limit: Duration) -> Option<Packet> {
        let read = async {
            loop {
                match Packet::read(&mut self.buf, None) {
                    Ok(packet) => return Some(packet),
                    Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => {}
                    Err(err) => panic!("undecodable packet from the broker: {err:?}"),
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        };
        timeout(limit, read).await.unwrap_or(None)
    }

    async fn recv(&mut self) -> Packet {
        match self.next(WAIT).await {
            Some(packet) => packet,
            None => panic!("connection closed or nothing within {WAIT:?}"),
        }
    }

    async fn recv_publish(&mut self) -> Publish {
        match self.recv().await {
            Packet::Publish(publish) => publish,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Nothing arrives for a while (the connection stays open).
    async fn quiet(&mut self) {
        let mut byte = [0u8; 1];
        if self.buf.is_empty() {
            if let Ok(result) = timeout(QUIET, self.stream.peek(&mut byte)).await {
                panic!("unexpected bytes or close: {result:?}");
            }
        } else {
            panic!("unexpected bytes buffered: {:02x?}", &self.buf[..]);
        }
    }

    /// The broker's DISCONNECT reason code, then the close.
    async fn disconnected(&mut self) -> DisconnectReasonCode {
        let reason = match self.recv().await {
            Packet::Disconnect(disconnect) => disconnect.reason_code,
            other => panic!("expected DISCONNECT, got {other:?}"),
        };
        self.closed().await;
        reason
    }

    /// The bytes of the next (small) packet.
    async fn raw_packet(&mut self) -> Vec<u8> {
        timeout(WAIT, async {
            while self.buf.len() < 2 || self.buf.len() < 2 + usize::from(self.buf[1]) {
                assert!(
                    self.stream.read_buf(&mut self.buf).await.unwrap() > 0,
                    "closed"
                );
            }
        })
        .await
        .expect("a packet in time");
        let len = 2 + usize::from(self.buf[1]);
        self.buf.split_to(len).to_vec()
    }

    /// Every byte the broker sends until it closes the connection.
    async fn raw_until_closed(&mut self) -> Vec<u8> {
        let mut bytes = self.buf.split().to_vec();
        let mut sink = [0u8; 4096];
        timeout(WAIT, async {
            loop {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => bytes.extend_from_slice(&sink[..n]),
                }
            }
        })
        .await
        .expect("the broker closes the connection");
        bytes
    }

    /// The broker closes the connection (after whatever it still sends).
    async fn closed(&mut self) {
        let mut sink = [0u8; 4096];
        let closed = timeout(WAIT, async {
            loop {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the broker did not close the connection");
    }

    async fn subscribe(
        &mut self,
        filters: Vec<Filter>,
        id: Option<usize>,
    ) -> Vec<SubscribeReasonCode> {
        let properties = id.map(|id| SubscribeProperties {
            id: Some(id),
            user_properties: Vec::new(),
        });
        self.send(Packet::Subscribe(Subscribe {
            pkid: 1,
            filters,
            properties,
        }))
        .await;
        match self.recv().await {
            Packet::SubAck(suback) => {
                assert_eq!(suback.pkid, 1);
                suback.return_codes
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    async fn sub(&mut self, filter: &str, qos: QoS) {
        let codes = self.subscribe(vec![Filter::new(filter, qos)], None).await;
        assert_eq!(codes, [SubscribeReasonCode::Success(qos)]);
    }
}

fn publish(topic: &str, qos: QoS, pkid: u16, retain: bool, payload: &[u8]) -> Publish {
    let mut publish = Publish::new(topic, qos, payload.to_vec(), None);
    publish.pkid = pkid;
    publish.retain = retain;
    publish
}

fn full_properties() -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(3600),
        topic_alias: None,
        response_topic: Some("reply/here".into()),
        correlation_data: Some(Bytes::from_static(b"\x00corr")),
        user_properties: vec![("a".into(), "b".into()), ("a".into(), "c".into())],
        subscription_identifiers: Vec::new(),
        content_type: Some("text/plain".into()),
    }
}

/// A raw 3.1.1 client for the cross-version tests.
struct Raw4 {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw4 {
    async fn connect(addr: SocketAddr, client_id: &str) -> Raw4 {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut raw = Raw4 {
            stream,
            buf: BytesMut::new(),
        };
        let connect = v4::Connect::new(client_id);
        raw.send(v4::Packet::Connect(connect)).await;
        assert!(matches!(raw.recv().await, v4::Packet::ConnAck(_)));
        raw
    }

    async fn send(&mut self, packet: v4::Packet) {
        let mut out = BytesMut::new();
        packet.write(&mut out, 1 << 28).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    async fn recv(&mut self) -> v4::Packet {
        timeout(WAIT, async {
            loop {
                match v4::Packet::read(&mut self.buf, 1 << 28) {
                    Ok(packet) => return packet,
                    Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
                    Err(err) => panic!("undecodable: {err:?}"),
                }
                assert!(
                    self.stream.read_buf(&mut self.buf).await.unwrap() > 0,
                    "closed"
                );
            }
        })
        .await
        .expect("a packet in time")
    }
}

// 1. Protocol detection, framing, validation

#[tokio::test(flavor = "multi_thread")]
async fn connack_tells_what_the_broker_does() {
    let broker = start().await;
    let (_client, connack) = Raw::connect(broker.local_addr(), opts("")).await;
    assert_eq!(connack.code, ConnectReturnCode::Success);
    assert!(!connack.session_present);
    let p = connack.properties.expect("CONNACK properties");
    let assigned = p.assigned_client_identifier.expect("an assigned client id");
    assert!(assigned.starts_with("skeeter-"), "{assigned}");
    assert_eq!(p.receive_max, Some(100));
    assert_eq!(p.retain_available, Some(1));
    assert_eq!(p.wildcard_subscription_available, Some(1));
    assert_eq!(p.subscription_identifiers_available, Some(1));
    assert_eq!(p.shared_subscription_available, Some(1));
    assert_eq!(p.topic_alias_max, Some(10), "inbound aliases, as mosquitto");
    assert_eq!(p.server_keep_alive, None, "the client's keep-alive is kept");
    assert_eq!(p.max_packet_size, None, "no limit below MQTT's own");
    assert_eq!(p.session_expiry_interval, None);
    // A client that names itself is not told an id; a limit is advertised when configured.
    let broker2 = Broker::start(Config {
        max_packet_size: 1000,
        ..local()
    })
    .await
    .unwrap();
    let (_client, connack) = Raw::connect(broker2.local_addr(), opts("named")).await;
    let p = connack.properties.unwrap();
    assert_eq!(p.assigned_client_identifier, None);
    assert_eq!(p.max_packet_size, Some(1000));
    broker.stop().await;
    broker2.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn short_disconnects_and_auth_are_framed() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut watcher = Raw::connected(addr, opts("watcher")).await;
    watcher.sub("will/#", QoS::AtMostOnce).await;
    // e0 00 and e0 01 00: normal disconnects, no will.
    for bytes in [&[0xe0u8, 0x00][..], &[0xe0, 0x01, 0x00]] {
        let mut client = Raw::connected(addr, opts("short").will("will/short", "x", None)).await;
        client.send_raw(bytes).await;
        client.closed().await;
    }
    watcher.quiet().await;
    // e0 01 04: disconnect with will message.
    let mut client = Raw::connected(addr, opts("with-will").will("will/04", "bye", None)).await;
    client.send_raw(&[0xe0, 0x01, 0x04]).await;
    client.closed().await;
    let will = watcher.recv_publish().await;
    assert_eq!(&will.topic[..], b"will/04");
    assert_eq!(&will.payload[..], b"bye");
    let p = will.properties.expect("the will's properties");
    assert_eq!(p.content_type.as_deref(), Some("text/will"));
    assert_eq!(p.user_properties, [("w".to_owned(), "1".to_owned())]);
    // AUTH after CONNECT: DISCONNECT 0x8C (bad authentication method).
    let mut client = Raw::connected(addr, opts("auth")).await;
    client.send_raw(&[0xf0, 0x02, 0x19, 0x00]).await;
    // rumqttc's DisconnectReasonCode has no 0x8C: compare the bytes.
    assert_eq!(client.raw_until_closed().await, [0xe0, 0x02, 0x8c, 0x00]);
    // An authentication method in CONNECT: CONNACK 0x8C.
    let mut properties = connect_properties();
    properties.authentication_method = Some("SCRAM-SHA-1".into());
    let mut o = opts("auth2");
    o.properties = Some(properties);
    let (mut client, connack) = Raw::connect(addr, o).await;
    assert_eq!(connack.code, ConnectReturnCode::BadAuthenticationMethod);
    client.closed().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_v5_packets_get_a_disconnect_with_a_reason() {
    let broker = start().await;
    let addr = broker.local_addr();
    let cases: &[(&[u8], DisconnectReasonCode)] = &[
        // PUBLISH with a non-UTF-8 topic
        (
            &[0x30, 0x06, 0x00, 0x02, 0xff, 0xfe, 0x00, b'x'],
            DisconnectReasonCode::MalformedPacket,
        ),
        // PUBLISH to a wildcard topic
        (
            &[0x30, 0x06, 0x00, 0x02, b'a', b'+', 0x00, b'x'],
            DisconnectReasonCode::TopicNameInvalid,
        ),
        // PUBLISH with a topic alias over topic_alias_max (10)
        (
            &[
                0x30, 0x09, 0x00, 0x02, b'a', b'b', 0x03, 0x23, 0x00, 0x0b, b'x',
            ],
            DisconnectReasonCode::TopicAliasInvalid,
        ),
        // PUBLISH with topic alias 0
        (
            &[
                0x30, 0x09, 0x00, 0x02, b'a', b'b', 0x03, 0x23, 0x00, 0x00, b'x',
            ],
            DisconnectReasonCode::TopicAliasInvalid,
        ),
        // PUBLISH with an empty topic and an alias never set
        (
            &[0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, b'x'],
            DisconnectReasonCode::ProtocolError,
        ),
        // PUBLISH with a wildcard response topic
        (
            &[
                0x30, 0x0a, 0x00, 0x01, b'a', 0x05, 0x08, 0x00, 0x02, b'r', b'#', b'x',
            ],
            DisconnectReasonCode::TopicNameInvalid,
        ),
        // PUBLISH with an empty topic and no alias
        (
            &[0x30, 0x04, 0x00, 0x00, 0x00, b'x'],
            DisconnectReasonCode::TopicNameInvalid,
        ),
        // SUBSCRIBE with reserved option bits
        (
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0xc0],
            DisconnectReasonCode::MalformedPacket,
        ),
        // SUBSCRIBE with an invalid filter
        (
            &[
                0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, b'#', b'/', b'a', 0x00,
            ],
            DisconnectReasonCode::TopicNameInvalid,
        ),
        // PUBACK with packet id 0
        (
            &[0x40, 0x02, 0x00, 0x00],
            DisconnectReasonCode::MalformedPacket,
        ),
        // a property length running past the end of the frame
        (
            &[0x30, 0x05, 0x00, 0x01, b'a', 0x05, 0x01],
            DisconnectReasonCode::MalformedPacket,
        ),
        // a second CONNECT
        (
            &[
                0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3c, 0x00, 0x00,
                0x00,
            ],
            DisconnectReasonCode::ProtocolError,
        ),
    ];
    for (bytes, reason) in cases {
        let mut client = Raw::connected(addr, opts("bad")).await;
        client.send_raw(bytes).await;
        assert_eq!(client.disconnected().await, *reason, "{bytes:02x?}");
    }
    // The broker is still fine.
    let mut client = Raw::connected(addr, opts("good")).await;
    client
        .send(Packet::PingReq(rumqttc::v5::mqttbytes::v5::PingReq))
        .await;
    assert!(matches!(client.recv().await, Packet::PingResp(_)));
    broker.stop().await;
}

// 2. CONNACK reason codes

#[tokio::test(flavor = "multi_thread")]
async fn refused_logins_get_v5_reason_codes() {
    let mut passwords = Passwords::default();
    passwords.insert("alice", PasswordHash::new("secret"));
    let broker = Broker::start(Config {
        passwords: Some(Arc::new(passwords)),
        allow_anonymous: false,
        ..local()
    })
    .await
    .unwrap();
    let addr = broker.local_addr();
    let (mut c, connack) = Raw::connect(addr, opts("x").login("alice", "wrong")).await;
    assert_eq!(connack.code, ConnectReturnCode::BadUserNamePassword);
    c.closed().await;
    let (mut c, connack) = Raw::connect(addr, opts("x")).await;
    assert_eq!(connack.code, ConnectReturnCode::NotAuthorized);
    c.closed().await;
    let (_c, connack) = Raw::connect(addr, opts("x").login("alice", "secret")).await;
    assert_eq!(connack.code, ConnectReturnCode::Success);
    broker.stop().await;
}

// 3. PUBLISH between versions, message expiry

#[tokio::test(flavor = "multi_thread")]
async fn properties_reach_v5_subscribers_and_are_stripped_for_311() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut sub5 = Raw::connected(addr, opts("sub5")).await;
    sub5.sub("x/#", QoS::AtLeastOnce).await;
    let mut sub4 = Raw4::connect(addr, "sub4").await;
    let mut subscribe = v4::Subscribe::new("x/#", rumqttc::mqttbytes::QoS::AtLeastOnce);
    subscribe.pkid = 1;
    sub4.send(v4::Packet::Subscribe(subscribe)).await;
    assert!(matches!(sub4.recv().await, v4::Packet::SubAck(_)));

    let mut publisher = Raw::connected(addr, opts("pub5")).await;
    let mut message = publish("x/5", QoS::AtLeastOnce, 1, false, b"hello");
    message.properties = Some(full_properties());
    publisher.send(Packet::Publish(message)).await;
    assert_eq!(publisher.recv().await, Packet::PubAck(PubAck::new(1, None)));

    let got = sub5.recv_publish().await;
    assert_eq!(
        (&got.topic[..], &got.payload[..]),
        (&b"x/5"[..], &b"hello"[..])
    );
    let p = got.properties.expect("properties forwarded");
    let mut expected = full_properties();
    let expiry = p.message_expiry_interval.expect("remaining expiry");
    assert!((3590..=3600).contains(&expiry), "{expiry}");
    expected.message_expiry_interval = p.message_expiry_interval;
    assert_eq!(p, expected);

    // The 3.1.1 subscriber gets the same message, without properties: its exact bytes.
    let v4::Packet::Publish(got) = sub4.recv().await else {
        panic!("expected PUBLISH")
    };
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("x/5", &b"hello"[..])
    );

    // A 3.1.1 publish reaches the v5 subscriber, with no properties.
    let mut plain = v4::Publish::new("x/4", rumqttc::mqttbytes::QoS::AtMostOnce, "from 3.1.1");
    plain.retain = false;
    sub4.send(v4::Packet::Publish(plain)).await;
    let got = sub5.recv_publish().await;
    assert_eq!(&got.payload[..], b"from 3.1.1");
    assert_eq!(got.properties, None);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_messages_are_not_delivered() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut publisher = Raw::connected(addr, opts("pub")).await;
    for (topic, expiry) in [("keep/short", 1), ("keep/long", 100)] {
        let mut message = publish(topic, QoS::AtMostOnce, 0, true, topic.as_bytes());
        message.properties = Some(PublishProperties {
            message_expiry_interval: Some(expiry),
            ..Default::default()
        });
        publisher.send(Packet::Publish(message)).await;
    }
    // Queued for an offline persistent session too.
    let mut offline = Raw::connected(addr, opts("offline").expiry(60)).await;
    offline.sub("queue/#", QoS::AtLeastOnce).await;
    offline.send_raw(&[0xe0, 0x00]).await;
    offline.closed().await;
    let mut message = publish("queue/short", QoS::AtLeastOnce, 1, false, b"gone");
    message.properties = Some(PublishProperties {
        message_expiry_interval: Some(1),
        ..Default::default()
    });
    publisher.send(Packet::Publish(message)).await;
    publisher
        .send(Packet::Publish(publish(
            "queue/stays",
            QoS::AtLeastOnce,
            2,
            false,
            b"kept",
        )))
        .await;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let mut late = Raw::connected(addr, opts("late")).await;
    late.sub("keep/#", QoS::AtMostOnce).await;
    let got = late.recv_publish().await;
    assert_eq!(&got.topic[..], b"keep/long");
    assert!(got.retain);
    let left = got.properties.unwrap().message_expiry_interval.unwrap();
    assert!((90..=98).contains(&left), "{left}");
    late.quiet().await;

    let (mut back, connack) = Raw::connect(addr, opts("offline").resume().expiry(60)).await;
    assert!(connack.session_present);
    let got = back.recv_publish().await;
    assert_eq!(&got.payload[..], b"kept");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inbound_topic_aliases_are_resolved() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut sub = Raw::connected(addr, opts("sub")).await;
    sub.sub("alias/#", QoS::AtMostOnce).await;
    let mut publisher = Raw::connected(addr, opts("pub")).await;
    let aliased = |topic: &str, alias: u16, payload: &[u8]| {
        let mut message = publish(topic, QoS::AtMostOnce, 0, false, payload);
        message.properties = Some(PublishProperties {
            topic_alias: Some(alias),
            user_properties: vec![("n".into(), "1".into())],
            ..Default::default()
        });
        Packet::Publish(message)
    };
    publisher.send(aliased("alias/one", 1, b"set")).await;
    publisher.send(aliased("", 1, b"used")).await;
    publisher.send(aliased("alias/two", 1, b"reset")).await;
    publisher.send(aliased("", 1, b"used again")).await;
    for (topic, payload) in [
        ("alias/one", "set"),
        ("alias/one", "used"),
        ("alias/two", "reset"),
        ("alias/two", "used again"),
    ] {
        let got = sub.recv_publish().await;
        assert_eq!(
            (&got.topic[..], &got.payload[..]),
            (topic.as_bytes(), payload.as_bytes())
        );
        let p = got.properties.unwrap();
        assert_eq!(p.topic_alias, None, "the broker sends no alias");
        assert_eq!(p.user_properties, [("n".to_owned(), "1".to_owned())]);
    }
    // Aliases belong to one connection.
    let mut other = Raw::connected(addr, opts("other")).await;
    other.send(aliased("", 1, b"unknown here")).await;
    assert_eq!(
        other.disconnected().await,
        DisconnectReasonCode::ProtocolError
    );
    sub.quiet().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_topic_aliases_and_response_information() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut asked = connect_properties();
    asked.topic_alias_max = Some(2);
    asked.request_response_info = Some(1);
    let (mut sub, connack) = Raw::connect(
        addr,
        Opts {
            properties: Some(asked),
            ..opts("aliased")
        },
    )
    .await;
    assert_eq!(connack.code, ConnectReturnCode::Success);
    let info = connack.properties.unwrap().response_information;
    assert_eq!(info.as_deref(), Some("response/aliased"));
    sub.sub("out/#", QoS::AtLeastOnce).await;
    // A client that asked for neither gets neither.
    let (mut plain, connack) = Raw::connect(addr, opts("plain")).await;
    assert_eq!(connack.properties.unwrap().response_information, None);
    plain.sub("out/#", QoS::AtMostOnce).await;
    let mut publisher = Raw::connected(addr, opts("pub")).await;
    let topics = [
        "out/a", "out/a", "out/b", "out/c", "out/b", "out/c", "out/a",
    ];
    for (n, topic) in topics.iter().enumerate() {
        publisher
            .send(Packet::Publish(publish(
                topic,
                QoS::AtMostOnce,
                0,
                false,
                &[n as u8],
            )))
            .await;
    }
    // Aliases 1 and 2 go to out/a and out/b; out/c, past the maximum, always has its topic.
    let expected: [(&str, Option<u16>); 7] = [
        ("out/a", Some(1)),
        ("", Some(1)),
        ("out/b", Some(2)),
        ("out/c", None),
        ("", Some(2)),
        ("out/c", None),
        ("", Some(1)),
    ];
    for (n, (topic, alias)) in expected.into_iter().enumerate() {
        let got = sub.recv_publish().await;
        assert_eq!(&got.payload[..], &[n as u8]);
        assert_eq!(&got.topic[..], topic.as_bytes(), "message {n}");
        assert_eq!(
            got.properties.and_then(|p| p.topic_alias),
            alias,
            "message {n}"
        );
        let got = plain.recv_publish().await;
        assert_eq!(&got.topic[..], topics[n].as_bytes());
        assert_eq!(got.properties.and_then(|p| p.topic_alias), None);
    }
    // Aliases belong to the network connection: a new one starts again with the topic.
    drop(sub);
    let mut asked = connect_properties();
    asked.topic_alias_max = Some(2);
    let mut sub = Raw::connected(
        addr,
        Opts {
            properties: Some(asked),
            ..opts("aliased")
        },
    )
    .await;
    sub.sub("out/#", QoS::AtMostOnce).await;
    publisher
        .send(Packet::Publish(publish(
            "out/a",
            QoS::AtMostOnce,
            0,
            false,
            b"x",
        )))
        .await;
    let got = sub.recv_publish().await;
    assert_eq!(&got.topic[..], b"out/a");
    assert_eq!(got.properties.and_then(|p| p.topic_alias), Some(1));
    broker.stop().await;
}

// 4. Acks with reason codes

#[tokio::test(flavor = "multi_thread")]
async fn acl_denied_publishes_get_0x87() {
    let acl = Acl::parse("topic readwrite open/#\n").unwrap();
    let broker = Broker::start(Config {
        acl: Some(Arc::new(acl)),
        ..local()
    })
    .await
    .unwrap();
    let mut client = Raw::connected(broker.local_addr(), opts("c")).await;
    client
        .send(Packet::Publish(publish(
            "closed/x",
            QoS::AtLeastOnce,
            1,
            false,
            b"x",
        )))
        .await;
    let Packet::PubAck(ack) = client.recv().await else {
        panic!("expected PUBACK")
    };
    assert_eq!((ack.pkid, ack.reason), (1, PubAckReason::NotAuthorized));
    client
        .send(Packet::Publish(publish(
            "closed/x",
            QoS::ExactlyOnce,
            2,
            false,
            b"x",
        )))
        .await;
    let Packet::PubRec(rec) = client.recv().await else {
        panic!("expected PUBREC")
    };
    assert_eq!((rec.pkid, rec.reason), (2, PubRecReason::NotAuthorized));
    client
        .send(Packet::Publish(publish(
            "open/x",
            QoS::AtLeastOnce,
            3,
            false,
            b"x",
        )))
        .await;
    let Packet::PubAck(ack) = client.recv().await else {
        panic!("expected PUBACK")
    };
    // Allowed, but nobody subscribes: 0x10, as mosquitto 2 answers.
    assert_eq!(
        (ack.pkid, ack.reason),
        (3, PubAckReason::NoMatchingSubscribers)
    );
    client.sub("open/#", QoS::AtMostOnce).await;
    client
        .send(Packet::Publish(publish(
            "open/x",
            QoS::AtLeastOnce,
            4,
            false,
            b"x",
        )))
        .await;
    let Packet::PubAck(ack) = client.recv().await else {
        panic!("expected PUBACK")
    };
    assert_eq!((ack.pkid, ack.reason), (4, PubAckReason::Success));
    let _ = client.recv_publish().await;
    broker.stop().await;
}

/// A mosquitto broker with an ACL file and nothing else (common::Mosquitto's
/// `max_queued_messages 0` makes mosquitto close a v5 client whose QoS 2 publish is denied),
/// killed by its pid when dropped.
struct MosquittoBroker {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl MosquittoBroker {
    fn start(acl: &str) -> Option<MosquittoBroker> {
        if !common::have("mosquitto") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        // mosquitto started as root drops to the user mosquitto, which must read its files.
        common::set_mode(dir.path(), 0o755);
        let acl_path = dir.path().join("acl");
        std::fs::write(&acl_path, acl).unwrap();
        common::set_mode(&acl_path, 0o644);
        let port = common::free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nacl_file {}\n",
                acl_path.display()
            ),
        )
        .unwrap();
        common::set_mode(&conf, 0o644);
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let broker = MosquittoBroker {
            child,
            port,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "mosquitto did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(broker)
    }
}

impl Drop for MosquittoBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ack bytes a v5 client gets for denied and unmatched publishes, from skeeter and from
/// mosquitto 2 with the same ACL.
#[tokio::test(flavor = "multi_thread")]
async fn publish_acks_match_mosquitto() {
    let Some(mosquitto) = MosquittoBroker::start("topic readwrite open/#\n") else {
        return;
    };
    let acl = Acl::parse("topic readwrite open/#\n").unwrap();
    let broker = Broker::start(Config {
        acl: Some(Arc::new(acl)),
        ..local()
    })
    .await
    .unwrap();
    let mosquitto_addr: SocketAddr = format!("127.0.0.1:{}", mosquitto.port).parse().unwrap();
    let mut answers = Vec::new();
    for addr in [broker.local_addr(), mosquitto_addr] {
        let mut client = Raw::connected(addr, opts("acks")).await;
        let mut got = Vec::new();
        for (qos, topic, pkid, retain) in [
            (QoS::AtLeastOnce, "closed/x", 1, false),
            (QoS::ExactlyOnce, "closed/x", 2, false),
            (QoS::AtLeastOnce, "open/r", 3, true),
            (QoS::ExactlyOnce, "open/y", 4, false),
        ] {
            client
                .send(Packet::Publish(publish(topic, qos, pkid, retain, b"x")))
                .await;
            got.push(client.raw_packet().await);
        }
        answers.push(got);
    }
    let expected: Vec<Vec<u8>> = vec![
        vec![0x40, 0x03, 0x00, 0x01, 0x87],
        vec![0x50, 0x03, 0x00, 0x02, 0x87],
        vec![0x40, 0x03, 0x00, 0x03, 0x10],
        vec![0x50, 0x02, 0x00, 0x04],
    ];
    assert_eq!(answers[1], expected, "mosquitto");
    assert_eq!(answers[0], expected, "skeeter");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn suback_and_unsuback_reason_codes() {
    let broker = start().await;
    let mut client = Raw::connected(broker.local_addr(), opts("c")).await;
    let codes = client
        .subscribe(
            vec![
                Filter::new("a/+", QoS::ExactlyOnce),
                Filter::new("$share/g/a", QoS::AtLeastOnce),
                Filter::new("b", QoS::AtMostOnce),
            ],
            None,
        )
        .await;
    assert_eq!(
        codes,
        [
            SubscribeReasonCode::Success(QoS::ExactlyOnce),
            SubscribeReasonCode::Success(QoS::AtLeastOnce),
            SubscribeReasonCode::Success(QoS::AtMostOnce),
        ]
    );
    client
        .send(Packet::Unsubscribe(Unsubscribe {
            pkid: 2,
            filters: vec!["a/+".into(), "never".into()],
            properties: None,
        }))
        .await;
    let Packet::UnsubAck(unsuback) = client.recv().await else {
        panic!("expected UNSUBACK")
    };
    assert_eq!(unsuback.pkid, 2);
    assert_eq!(
        unsuback.reasons,
        [
            UnsubAckReason::Success,
            UnsubAckReason::NoSubscriptionExisted
        ]
    );
    broker.stop().await;
}

// 5. Subscription options and identifiers

#[tokio::test(flavor = "multi_thread")]
async fn no_local_retain_as_published_and_subscription_ids() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut client = Raw::connected(addr, opts("me")).await;
    let mut no_local = Filter::new("loop/#", QoS::AtMostOnce);
    no_local.nolocal = true;
    client.subscribe(vec![no_local], Some(7)).await;
    let mut rap = Filter::new("rap/#", QoS::AtMostOnce);
    rap.preserve_retain = true;
    client.subscribe(vec![rap], Some(300)).await;
    client
        .subscribe(vec![Filter::new("rap/+", QoS::AtMostOnce)], Some(9))
        .await;

    // Its own message on a no-local subscription is not sent back; another client's is.
    client
        .send(Packet::Publish(publish(
            "loop/a",
            QoS::AtMostOnce,
            0,
            false,
            b"mine",
        )))
        .await;
    let mut other = Raw::connected(addr, opts("other")).await;
    other
        .send(Packet::Publish(publish(
            "loop/a",
            QoS::AtMostOnce,
            0,
            false,
            b"theirs",
        )))
        .await;
    let got = client.recv_publish().await;
    assert_eq!(&got.payload[..], b"theirs");
    assert_eq!(got.properties.unwrap().subscription_identifiers, [7]);

    // Retain as published: the live copy keeps its retain flag; both ids of the overlap.
    other
        .send(Packet::Publish(publish(
            "rap/x",
            QoS::AtMostOnce,
            0,
            true,
            b"r",
        )))
        .await;
    let got = client.recv_publish().await;
    assert!(got.retain);
    let mut ids = got.properties.unwrap().subscription_identifiers;
    ids.sort();
    assert_eq!(ids, [9, 300]);
    client.quiet().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retain_handling_0_1_2() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut publisher = Raw::connected(addr, opts("pub")).await;
    publisher
        .send(Packet::Publish(publish(
            "r/t",
            QoS::AtMostOnce,
            0,
            true,
            b"kept",
        )))
        .await;
    // The broker handles one client's packets in order: once PINGRESP is back, "kept" is stored.
    publisher
        .send(Packet::PingReq(rumqttc::v5::mqttbytes::v5::PingReq))
        .await;
    assert!(matches!(publisher.recv().await, Packet::PingResp(_)));
    let mut client = Raw::connected(addr, opts("c")).await;
    for (rule, first, again) in [
        (RetainForwardRule::OnEverySubscribe, true, true),
        (RetainForwardRule::OnNewSubscribe, true, false),
        (RetainForwardRule::Never, false, false),
    ] {
        let filter = format!("r/{}", if first && again { "+" } else { "#" });
        for expect in [first, again] {
            let mut f = Filter::new(filter.as_str(), QoS::AtMostOnce);
            f.retain_forward_rule = rule.clone();
            client.subscribe(vec![f], None).await;
            if expect {
                let got = client.recv_publish().await;
                assert!(got.retain, "{rule:?}");
            } else {
                client.quiet().await;
            }
        }
        client
            .send(Packet::Unsubscribe(Unsubscribe {
                pkid: 3,
                filters: vec![filter.clone()],
                properties: None,
            }))
            .await;
        assert!(matches!(client.recv().await, Packet::UnsubAck(_)));
    }
    broker.stop().await;
}

// Flow control and the client's limits

#[tokio::test(flavor = "multi_thread")]
async fn receive_maximum_and_maximum_packet_size() {
    let broker = Broker::start(Config {
        max_inflight: 2,
        ..local()
    })
    .await
    .unwrap();
    let addr = broker.local_addr();
    // Inbound: more QoS 2 publishes awaiting PUBREL than our receive maximum (2): 0x93.
    let mut greedy = Raw::connected(addr, opts("greedy")).await;
    for pkid in 1..=3 {
        greedy
            .send(Packet::Publish(publish(
                "q2",
                QoS::ExactlyOnce,
                pkid,
                false,
                b"x",
            )))
            .await;
    }
    for _ in 0..2 {
        assert!(matches!(greedy.recv().await, Packet::PubRec(_)));
    }
    assert_eq!(
        greedy.disconnected().await,
        DisconnectReasonCode::ReceiveMaximumExceeded
    );

    // Outbound: the client's receive maximum (1) and maximum packet size (60) are honoured.
    let mut properties = connect_properties();
    properties.receive_maximum = Some(1);
    properties.max_packet_size = Some(60);
    let mut o = opts("small");
    o.properties = Some(properties);
    let mut small = Raw::connected(addr, o).await;
    small.sub("lim/#", QoS::AtLeastOnce).await;
    let mut publisher = Raw::connected(addr, opts("pub")).await;
    for (pkid, payload) in [
        (1, vec![b'a'; 100]),
        (2, b"one".to_vec()),
        (3, b"two".to_vec()),
    ] {
        publisher
            .send(Packet::Publish(publish(
                "lim/x",
                QoS::AtLeastOnce,
                pkid,
                false,
                &payload,
            )))
            .await;
    }
    let first = small.recv_publish().await;
    assert_eq!(
        &first.payload[..],
        b"one",
        "the 100-byte message is not sent"
    );
    small.quiet().await; // one in flight at a time
    small
        .send(Packet::PubAck(PubAck::new(first.pkid, None)))
        .await;
    let second = small.recv_publish().await;
    assert_eq!(&second.payload[..], b"two");
    broker.stop().await;
}

// 7. Shared subscriptions

#[tokio::test(flavor = "multi_thread")]
async fn shared_subscriptions_take_turns() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut publisher = Raw::connected(addr, opts("pub")).await;
    publisher
        .send(Packet::Publish(publish(
            "job/r",
            QoS::AtMostOnce,
            0,
            true,
            b"retained",
        )))
        .await;
    let mut a = Raw::connected(addr, opts("a")).await;
    let mut b = Raw::connected(addr, opts("b")).await;
    let mut plain = Raw::connected(addr, opts("plain")).await;
    a.sub("$share/workers/job/#", QoS::AtMostOnce).await;
    b.sub("$share/workers/job/#", QoS::AtMostOnce).await;
    plain.sub("job/#", QoS::AtMostOnce).await;
    let _ = plain.recv_publish().await; // the retained one: not for the shared subscription
    for n in 0..4u8 {
        publisher
            .send(Packet::Publish(publish(
                "job/x",
                QoS::AtMostOnce,
                0,
                false,
                &[b'0' + n],
            )))
            .await;
    }
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(plain.recv_publish().await.payload[0]);
    }
    assert_eq!(seen, b"0123", "the plain subscriber gets every message");
    let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        from_a.push(a.recv_publish().await.payload[0]);
        from_b.push(b.recv_publish().await.payload[0]);
    }
    let mut all = [from_a.clone(), from_b.clone()].concat();
    all.sort();
    assert_eq!(
        all, b"0123",
        "each message to one member: {from_a:?} {from_b:?}"
    );
    a.quiet().await;
    b.quiet().await;
    // A member that is gone is skipped: b gets everything.
    a.send_raw(&[0xe0, 0x00]).await;
    a.closed().await;
    for n in 4..6u8 {
        publisher
            .send(Packet::Publish(publish(
                "job/y",
                QoS::AtMostOnce,
                0,
                false,
                &[b'0' + n],
            )))
            .await;
    }
    assert_eq!(b.recv_publish().await.payload[0], b'4');
    assert_eq!(b.recv_publish().await.payload[0], b'5');
    // Malformed: no filter after the group, a wildcard group, no-local on a shared one.
    let mut no_local = Filter::new("$share/g/t", QoS::AtMostOnce);
    no_local.nolocal = true;
    for (filter, reason) in [
        (
            Filter::new("$share/g", QoS::AtMostOnce),
            DisconnectReasonCode::MalformedPacket,
        ),
        (
            Filter::new("$share/+/t", QoS::AtMostOnce),
            DisconnectReasonCode::MalformedPacket,
        ),
        (no_local, DisconnectReasonCode::ProtocolError),
    ] {
        let mut c = Raw::connected(addr, opts("bad")).await;
        c.send(Packet::Subscribe(Subscribe {
            pkid: 1,
            filters: vec![filter],
            properties: None,
        }))
        .await;
        assert_eq!(c.disconnected().await, reason);
    }
    broker.stop().await;
}

// 6. Session expiry, will delay, DISCONNECT both ways

#[tokio::test(flavor = "multi_thread")]
async fn session_expiry_interval_is_honoured() {
    let broker = start().await;
    let addr = broker.local_addr();
    // Expiry 0 (the default): the session ends with the connection.
    let mut c = Raw::connected(addr, opts("e0")).await;
    c.send_raw(&[0xe0, 0x00]).await;
    c.closed().await;
    let (_c, connack) = Raw::connect(addr, opts("e0").resume()).await;
    assert!(!connack.session_present);

    // Expiry 1 s: resumed within it, gone after it.
    let mut c = Raw::connected(addr, opts("e1").expiry(1)).await;
    c.sub("s/#", QoS::AtLeastOnce).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (c, connack) = Raw::connect(addr, opts("e1").resume().expiry(1)).await;
    assert!(connack.session_present, "resumed within its expiry");
    drop(c);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let (_c, connack) = Raw::connect(addr, opts("e1").resume()).await;
    assert!(!connack.session_present, "expired");

    // DISCONNECT can change it: 60 s at CONNECT, 0 at DISCONNECT ends the session at once.
    let mut c = Raw::connected(addr, opts("e60").expiry(60)).await;
    let mut disconnect = Disconnect::new(DisconnectReasonCode::NormalDisconnection);
    disconnect.properties = Some(rumqttc::v5::mqttbytes::v5::DisconnectProperties {
        session_expiry_interval: Some(0),
        reason_string: None,
        user_properties: Vec::new(),
        server_reference: None,
    });
    c.send(Packet::Disconnect(disconnect)).await;
    c.closed().await;
    let (_c, connack) = Raw::connect(addr, opts("e60").resume()).await;
    assert!(!connack.session_present);

    // But not from 0 to more: protocol error.
    let mut c = Raw::connected(addr, opts("e0b")).await;
    let mut disconnect = Disconnect::new(DisconnectReasonCode::NormalDisconnection);
    disconnect.properties = Some(rumqttc::v5::mqttbytes::v5::DisconnectProperties {
        session_expiry_interval: Some(30),
        reason_string: None,
        user_properties: Vec::new(),
        server_reference: None,
    });
    c.send(Packet::Disconnect(disconnect)).await;
    assert_eq!(c.disconnected().await, DisconnectReasonCode::ProtocolError);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn will_delay_and_takeover() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut watcher = Raw::connected(addr, opts("watcher")).await;
    watcher.sub("will/#", QoS::AtMostOnce).await;

    // Delay 1 s, and the session resumes first: no will. The old connection is told 0x8E.
    let mut first =
        Raw::connected(addr, opts("d").expiry(60).will("will/d", "late", Some(1))).await;
    let _second = Raw::connected(addr, opts("d").resume().expiry(60)).await;
    assert_eq!(
        first.disconnected().await,
        DisconnectReasonCode::SessionTakenOver
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    watcher.quiet().await;

    // Delay 1 s, nobody comes back: published after the delay, not before.
    let c = Raw::connected(addr, opts("e").expiry(60).will("will/e", "late", Some(1))).await;
    drop(c);
    watcher.quiet().await;
    let got = watcher.recv_publish().await;
    assert_eq!(&got.topic[..], b"will/e");

    // Delay longer than the session: published when the session ends.
    let c = Raw::connected(addr, opts("f").expiry(1).will("will/f", "end", Some(100))).await;
    drop(c);
    let got = watcher.recv_publish().await;
    assert_eq!(&got.topic[..], b"will/f");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v311_takeover_still_just_closes() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut old = Raw4::connect(addr, "same").await;
    let _new = Raw4::connect(addr, "same").await;
    let mut sink = [0u8; 16];
    let n = timeout(WAIT, old.stream.read(&mut sink))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "a 3.1.1 client gets no DISCONNECT");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn works_with_the_rumqttc_v5_client() {
    use rumqttc::v5::{AsyncClient, Event, Incoming, MqttOptions};
    let broker = start().await;
    let addr = broker.local_addr();
    let mut options = MqttOptions::new("rumqttc5", addr.ip().to_string(), addr.port());
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(options, 10);
    client.subscribe("rq/#", QoS::AtLeastOnce).await.unwrap();
    let properties = PublishProperties {
        content_type: Some("text/plain".into()),
        ..Default::default()
    };
    client
        .publish_with_properties("rq/1", QoS::AtLeastOnce, false, "hi", properties)
        .await
        .unwrap();
    let got = timeout(WAIT, async {
        loop {
            if let Event::Incoming(Incoming::Publish(publish)) = events.poll().await.unwrap() {
                return publish;
            }
        }
    })
    .await
    .expect("the message comes back");
    assert_eq!(&got.payload[..], b"hi");
    assert_eq!(
        got.properties.unwrap().content_type.as_deref(),
        Some("text/plain")
    );
    client.disconnect().await.unwrap();
    broker.stop().await;
}

// mosquitto's clients, -V 5 and -V 311, against the skeeter broker

/// A mosquitto_sub in the background, known to be subscribed once the broker counts `subs`.
fn mosquitto_sub(broker: &common::TestBroker, args: &[&str], subs: usize) -> std::process::Child {
    let child = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port_arg(), "-W", "20"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mosquitto_sub runs");
    broker.wait_for_subscriptions(subs);
    child
}

fn mosquitto_pub(broker: &common::TestBroker, args: &[&str]) {
    let output = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.port_arg()])
        .args(args)
        .output()
        .expect("mosquitto_pub runs");
    assert!(output.status.success(), "{output:?}");
}

fn finish(child: std::process::Child) -> String {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    common::text(&output.stdout)
}

#[test]
fn mosquitto_v5_properties_round_trip_and_reach_v311_without_them() {
    if !common::have("mosquitto_sub") || !common::have("mosquitto_pub") {
        return;
    }
    let broker = common::TestBroker::start();
    let v5 = mosquitto_sub(
        &broker,
        &[
            "-V",
            "5",
            "-t",
            "m/#",
            "-C",
            "2",
            "-F",
            "%t %p|%P|%C|%R|%E|%F|%D",
        ],
        1,
    );
    let v311 = mosquitto_sub(&broker, &["-V", "311", "-t", "m/#", "-C", "2", "-v"], 2);
    mosquitto_pub(
        &broker,
        &[
            "-V",
            "5",
            "-t",
            "m/5",
            "-m",
            "five",
            "-q",
            "1",
            "-D",
            "publish",
            "user-property",
            "a",
            "b",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "response-topic",
            "r/t",
            "-D",
            "publish",
            "correlation-data",
            "c0",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
            "-D",
            "publish",
            "message-expiry-interval",
            "100",
        ],
    );
    mosquitto_pub(
        &broker,
        &["-V", "311", "-t", "m/311", "-m", "old", "-q", "1"],
    );
    let out5 = finish(v5);
    let mut lines = out5.lines();
    let first = lines.next().unwrap();
    // The expiry may have ticked down by a second on a slow run.
    assert!(
        first == "m/5 five|a:b|text/plain|r/t|100|1|c0"
            || first == "m/5 five|a:b|text/plain|r/t|99|1|c0",
        "{out5:?}"
    );
    assert_eq!(lines.next(), Some("m/311 old||||||"), "{out5:?}");
    assert_eq!(finish(v311), "m/5 five\nm/311 old\n");
}

/// mosquitto_rr sends a request with a response topic and correlation data; a raw v5
/// responder answers on that topic with the same correlation data; mosquitto_rr prints it.
#[tokio::test(flavor = "multi_thread")]
async fn mosquitto_rr_request_response() {
    if !common::have("mosquitto_rr") {
        return;
    }
    let broker = start().await;
    let addr = broker.local_addr();
    let mut responder = Raw::connected(addr, opts("responder")).await;
    responder.sub("rr/req", QoS::AtMostOnce).await;
    let rr = tokio::process::Command::new("mosquitto_rr")
        .args(["-h", "127.0.0.1", "-p", &addr.port().to_string(), "-V", "5"])
        .args(["-t", "rr/req", "-e", "rr/resp", "-m", "ping", "-W", "10"])
        .args(["-D", "publish", "correlation-data", "id-42"])
        .kill_on_drop(true)
        .output();
    let respond = async {
        let request = responder.recv_publish().await;
        assert_eq!(&request.payload[..], b"ping");
        let p = request.properties.expect("request properties");
        assert_eq!(p.response_topic.as_deref(), Some("rr/resp"));
        assert_eq!(p.correlation_data.as_deref(), Some(&b"id-42"[..]));
        let mut reply = publish("rr/resp", QoS::AtMostOnce, 0, false, b"pong");
        reply.properties = Some(PublishProperties {
            correlation_data: p.correlation_data,
            ..Default::default()
        });
        responder.send(Packet::Publish(reply)).await;
    };
    let (output, ()) = tokio::join!(rr, respond);
    let output = output.expect("mosquitto_rr runs");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(common::text(&output.stdout), "pong\n");
    broker.stop().await;
}

#[test]
fn paho_v5_session_expiry_and_will_delay() {
    if !common::have_paho() {
        return;
    }
    let broker = common::TestBroker::start();
    let output = common::run_python("paho_v5.py", &[&broker.port_arg()]);
    let stdout = common::text(&output.stdout);
    assert!(
        output.status.success() && !stdout.contains("FAIL"),
        "paho v5 checks failed\nstdout:\n{stdout}\nstderr:\n{}",
        common::text(&output.stderr)
    );
}
