//! The embedded broker, driven over TCP by a raw MQTT 3.1.1 client (rumqttc's v4 codec), so each
//! test can send malformed bytes and see the exact packets, flags, session-present and DUP.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, ConnectReturnCode, LastWill, Packet, PubAck, PubComp, PubRec, PubRel,
    Publish, Subscribe, SubscribeFilter, SubscribeReasonCode, Unsubscribe,
};
use rumqttc::mqttbytes::{self, Protocol, QoS};
use skeeter::broker::{BackgroundBroker, Broker, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The longest any single expected event may take.
const WAIT: Duration = Duration::from_secs(10);
/// The longest a write (up to 256 MiB) may take.
const WRITE_WAIT: Duration = Duration::from_secs(60);
const MAX_PACKET: usize = 268_435_455;

fn local() -> Config {
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    }
}

async fn start() -> Broker {
    Broker::start(local()).await.expect("broker starts")
}

/// A raw MQTT client: packets in, packets out, nothing hidden.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

struct Options {
    client_id: String,
    clean: bool,
    keep_alive: u16,
    will: Option<LastWill>,
}

fn opts(client_id: &str) -> Options {
    Options {
        client_id: client_id.into(),
        clean: true,
        keep_alive: 60,
        will: None,
    }
}

impl Options {
    fn persistent(mut self) -> Self {
        self.clean = false;
        self
    }
    fn keep_alive(mut self, seconds: u16) -> Self {
        self.keep_alive = seconds;
        self
    }
    fn will(mut self, topic: &str, payload: &str, qos: QoS, retain: bool) -> Self {
        self.will = Some(LastWill::new(topic, payload, qos, retain));
        self
    }
}

fn publish(topic: &str, qos: QoS, pkid: u16, retain: bool, payload: &[u8]) -> Packet {
    let mut publish = Publish::new(topic, qos, payload.to_vec());
    publish.pkid = pkid;
    publish.retain = retain;
    Packet::Publish(publish)
}

impl Raw {
    async fn open(addr: SocketAddr) -> Raw {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
        }
    }

    /// Connect and return the CONNACK, whatever its code.
    async fn connect_with(addr: SocketAddr, options: Options) -> (Raw, ConnAck) {
        let mut raw = Raw::open(addr).await;
        raw.send(Packet::Connect(Connect {
            protocol: Protocol::V4,
            keep_alive: options.keep_alive,
            client_id: options.client_id,
            clean_session: options.clean,
            last_will: options.will,
            login: None,
        }))
        .await;
        match raw.recv().await {
            Packet::ConnAck(connack) => (raw, connack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connect and insist on success.
    async fn connect(addr: SocketAddr, options: Options) -> Raw {
        let (raw, connack) = Raw::connect_with(addr, options).await;
        assert_eq!(connack.code, ConnectReturnCode::Success);
        raw
    }

    async fn send(&mut self, packet: Packet) {
        let mut out = BytesMut::new();
        // write() compares its limit with the whole packet, fixed header included, so the
        // largest legal PUBLISH needs a limit above 268 435 455 here.
        packet.write(&mut out, usize::MAX).expect("encodes");
        self.send_raw(&out).await;
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        timeout(WRITE_WAIT, self.stream.write_all(bytes))
            .await
            .expect("write in time")
            .expect("write");
    }

    /// The next packet, or None if the connection closed first.
    async fn next(&mut self, wait: Duration) -> Option<Packet> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match Packet::read(&mut self.buf, MAX_PACKET) {
                Ok(packet) => return Some(packet),
                Err(mqttbytes::Error::InsufficientBytes(more)) => {
                    self.buf.reserve(more.max(64 * 1024));
                }
                Err(err) => panic!("broker sent a malformed packet: {err}"),
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .expect("a packet in time");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    async fn recv(&mut self) -> Packet {
        self.next(WAIT)
            .await
            .expect("a packet, not a closed connection")
    }

    async fn recv_publish(&mut self) -> Publish {
        match self.recv().await {
            Packet::Publish(publish) => publish,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Wait for the broker to close the connection; returns the bytes it sent before.
    async fn closed(&mut self) -> usize {
        let mut received = self.buf.len();
        let result = timeout(WAIT, async {
            let mut scratch = [0u8; 4096];
            loop {
                match self.stream.read(&mut scratch).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => received += n,
                }
            }
        })
        .await;
        assert!(result.is_ok(), "the broker did not close the connection");
        received
    }

    async fn subscribe(&mut self, pkid: u16, filters: &[(&str, QoS)]) -> Vec<SubscribeReasonCode> {
        let filters = filters
            .iter()
            .map(|(path, qos)| SubscribeFilter::new(path.to_string(), *qos));
        let mut subscribe = Subscribe::new_many(filters);
        subscribe.pkid = pkid;
        self.send(Packet::Subscribe(subscribe)).await;
        match self.recv().await {
            Packet::SubAck(suback) => {
                assert_eq!(suback.pkid, pkid);
                suback.return_codes
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Publish at QoS 0 and make sure the broker has taken it (a PINGRESP follows it).
    async fn publish0(&mut self, topic: &str, payload: &[u8]) {
        self.send(publish(topic, QoS::AtMostOnce, 0, false, payload))
            .await;
        self.ping().await;
    }

    /// Publish at QoS 1 and wait for the PUBACK: by then it is routed.
    async fn publish1(&mut self, topic: &str, pkid: u16, retain: bool, payload: &[u8]) {
        self.send(publish(topic, QoS::AtLeastOnce, pkid, retain, payload))
            .await;
        assert_eq!(self.recv().await, Packet::PubAck(PubAck::new(pkid)));
    }

    async fn ping(&mut self) {
        self.send(Packet::PingReq).await;
        assert_eq!(self.recv().await, Packet::PingResp);
    }
}

fn text(publish: &Publish) -> &str {
    std::str::from_utf8(&publish.payload).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn connack_and_ping() {
    let broker = start().await;
    let (mut client, connack) = Raw::connect_with(broker.local_addr(), opts("a")).await;
    assert_eq!(connack, ConnAck::new(ConnectReturnCode::Success, false));
    client.ping().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn first_packet_must_be_connect_and_only_once() {
    let broker = start().await;
    let addr = broker.local_addr();

    let mut first_ping = Raw::open(addr).await;
    first_ping.send(Packet::PingReq).await;
    assert_eq!(
        first_ping.closed().await,
        0,
        "no answer to a PINGREQ before CONNECT"
    );

    let mut twice = Raw::connect(addr, opts("twice")).await;
    twice.send(Packet::Connect(Connect::new("twice"))).await;
    assert_eq!(twice.closed().await, 0);

    let mut garbage = Raw::open(addr).await;
    garbage.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(garbage.closed().await, 0);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_protocol_versions_get_connack_1() {
    let broker = start().await;
    let addr = broker.local_addr();
    // MQTT 3.1 ("MQIsdp"/3) and MQTT 5 are served: see tests/mqtt31.rs, tests/broker_v5.rs.
    let mqtt6: &[u8] = &[
        0x10, 0x0f, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x06, 0x02, 0x00, 0x3c, 0x00, 0x00, 0x02,
        b'v', b'6',
    ];
    let mqisdp4: &[u8] = &[
        0x10, 0x11, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x04, 0x02, 0x00, 0x3c, 0x00,
        0x03, b'o', b'd', b'd',
    ];
    for connect in [mqtt6, mqisdp4] {
        let mut client = Raw::open(addr).await;
        client.send_raw(connect).await;
        assert_eq!(
            client.recv().await,
            Packet::ConnAck(ConnAck::new(
                ConnectReturnCode::RefusedProtocolVersion,
                false
            ))
        );
        assert_eq!(client.closed().await, 0, "closed after the CONNACK");
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_packets_close_only_their_connection() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut watcher = Raw::connect(addr, opts("watcher")).await;
    watcher.subscribe(1, &[("ok/#", QoS::AtMostOnce)]).await;
    let mut publisher = Raw::connect(addr, opts("publisher")).await;

    let connected: &[(&str, &[u8])] = &[
        (
            "SUBSCRIBE with flags 0",
            &[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00],
        ),
        ("PUBREL with flags 0", &[0x60, 0x02, 0x00, 0x01]),
        ("PUBACK with flags 1", &[0x41, 0x02, 0x00, 0x01]),
        (
            "PUBLISH to a wildcard",
            &[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'+'],
        ),
        ("PUBLISH to #", &[0x30, 0x04, 0x00, 0x01, b'#', b'x']),
        ("PUBLISH to an empty topic", &[0x30, 0x03, 0x00, 0x00, b'x']),
        (
            "PUBLISH with NUL",
            &[0x30, 0x05, 0x00, 0x03, b'a', 0x00, b'b'],
        ),
        (
            "PUBLISH QoS 1 pkid 0",
            &[0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00],
        ),
        ("PUBLISH QoS 3", &[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01]),
        (
            "SUBSCRIBE pkid 0",
            &[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00],
        ),
        (
            "SUBSCRIBE bad filter",
            &[0x82, 0x08, 0x00, 0x01, 0x00, 0x03, b'a', b'#', b'b', 0x00],
        ),
        ("SUBSCRIBE without filters", &[0x82, 0x02, 0x00, 0x01]),
        ("UNSUBSCRIBE without filters", &[0xa2, 0x02, 0x00, 0x01]),
        ("PINGREQ with a body", &[0xc0, 0x01, 0x00]),
        ("reserved packet type", &[0xf0, 0x00]),
        ("CONNACK from a client", &[0x20, 0x02, 0x00, 0x00]),
        ("garbage", &[0xff; 16]),
        (
            "5-byte remaining length",
            &[0x30, 0xff, 0xff, 0xff, 0xff, 0x01],
        ),
    ];
    let connects: &[(&str, &[u8])] = &[
        (
            "CONNECT reserved flag",
            &[
                0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x03, 0x00, 0x3c, 0x00, 0x01,
                b'r',
            ],
        ),
        (
            "CONNECT will flags without a will",
            &[
                0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x32, 0x00, 0x3c, 0x00, 0x01,
                b'w',
            ],
        ),
    ];
    for (n, (what, bytes)) in connected.iter().chain(connects).enumerate() {
        let mut bad = if connects.iter().any(|(name, _)| name == what) {
            Raw::open(addr).await
        } else {
            Raw::connect(addr, opts(&format!("bad-{n}"))).await
        };
        bad.send_raw(bytes).await;
        assert_eq!(bad.closed().await, 0, "{what}: closed without an answer");

        let topic = format!("ok/{n}");
        publisher.publish0(&topic, what.as_bytes()).await;
        let got = watcher.recv_publish().await;
        assert_eq!((got.topic.as_str(), text(&got)), (topic.as_str(), *what));
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribe_with_an_invalid_filter_closes() {
    let broker = start().await;
    let mut client = Raw::connect(broker.local_addr(), opts("u")).await;
    let mut unsubscribe = Unsubscribe::new("a/#/b");
    unsubscribe.pkid = 3;
    client.send(Packet::Unsubscribe(unsubscribe)).await;
    assert_eq!(client.closed().await, 0);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_packet_is_refused_before_its_body() {
    let broker = Broker::start(Config {
        max_packet_size: 1024,
        ..local()
    })
    .await
    .unwrap();
    let addr = broker.local_addr();
    let mut client = Raw::connect(addr, opts("big")).await;
    // Announce one MiB and send none of it: the header alone must be enough to refuse.
    client.send_raw(&[0x30, 0x80, 0x80, 0x40]).await;
    assert_eq!(client.closed().await, 0);
    let mut fine = Raw::connect(addr, opts("fine")).await;
    fine.publish1("t", 1, false, &[0u8; 1000]).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_alive_expiry_closes_and_publishes_the_will() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut watcher = Raw::connect(addr, opts("watcher")).await;
    watcher.subscribe(1, &[("will/#", QoS::AtLeastOnce)]).await;
    let mut no_keep_alive = Raw::connect(addr, opts("forever").keep_alive(0)).await;
    let mut pinging = Raw::connect(addr, opts("pinging").keep_alive(1)).await;

    let started = Instant::now();
    let mut silent = Raw::connect(
        addr,
        opts("silent")
            .keep_alive(1)
            .will("will/silent", "expired", QoS::AtLeastOnce, false),
    )
    .await;
    let pings = tokio::spawn(async move {
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            pinging.ping().await;
        }
        pinging
    });
    silent.closed().await;
    let elapsed = started.elapsed();
    assert!(
        // The upper bound is loose: a loaded 2-core CI machine can be slow to schedule us.
        elapsed >= Duration::from_millis(1400) && elapsed < Duration::from_secs(10),
        "closed after {elapsed:?}, expected about 1.5 s"
    );
    let will = watcher.recv_publish().await;
    assert_eq!(
        (will.topic.as_str(), text(&will)),
        ("will/silent", "expired")
    );
    assert_eq!(will.qos, QoS::AtLeastOnce);

    // A client that pings stays, and keep-alive 0 never expires.
    let mut pinging = timeout(WAIT, pings).await.unwrap().unwrap();
    assert!(started.elapsed() > Duration::from_millis(2500));
    pinging.ping().await;
    no_keep_alive.ping().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_client_ids() {
    let broker = start().await;
    let addr = broker.local_addr();
    // Two anonymous clients get distinct ids: neither takes the other over.
    let mut first = Raw::connect(addr, opts("")).await;
    let mut second = Raw::connect(addr, opts("")).await;
    first.subscribe(1, &[("anon", QoS::AtMostOnce)]).await;
    second.subscribe(1, &[("anon", QoS::AtMostOnce)]).await;
    let mut publisher = Raw::connect(addr, opts("pub")).await;
    publisher.publish0("anon", b"hi").await;
    assert_eq!(text(&first.recv_publish().await), "hi");
    assert_eq!(text(&second.recv_publish().await), "hi");

    let (mut refused, connack) = Raw::connect_with(addr, opts("").persistent()).await;
    assert_eq!(connack.code, ConnectReturnCode::BadClientId);
    refused.closed().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn same_client_id_takes_over_and_the_old_will_is_published() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut watcher = Raw::connect(addr, opts("watcher")).await;
    watcher.subscribe(1, &[("will/#", QoS::AtMostOnce)]).await;

    let mut old = Raw::connect(
        addr,
        opts("twin")
            .persistent()
            .will("will/twin", "old one gone", QoS::AtMostOnce, false),
    )
    .await;
    old.subscribe(1, &[("news", QoS::AtLeastOnce)]).await;

    let (mut new, connack) = Raw::connect_with(addr, opts("twin").persistent()).await;
    assert!(connack.session_present, "the persistent session continues");
    old.closed().await;
    let will = watcher.recv_publish().await;
    assert_eq!(
        (will.topic.as_str(), text(&will)),
        ("will/twin", "old one gone")
    );

    // The subscription came with the session.
    watcher.publish1("news", 5, false, b"for the new one").await;
    let got = new.recv_publish().await;
    assert_eq!(text(&got), "for the new one");
    assert_eq!(got.qos, QoS::AtLeastOnce);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn qos1_and_qos2_flows_and_exactly_once() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut subscriber = Raw::connect(addr, opts("sub")).await;
    let granted = subscriber
        .subscribe(1, &[("q/1", QoS::AtLeastOnce), ("q/2", QoS::ExactlyOnce)])
        .await;
    assert_eq!(
        granted,
        [
            SubscribeReasonCode::Success(QoS::AtLeastOnce),
            SubscribeReasonCode::Success(QoS::ExactlyOnce)
        ]
    );
    let mut publisher = Raw::connect(addr, opts("pub")).await;

    // Inbound and outbound QoS 1.
    publisher.publish1("q/1", 3, false, b"one").await;
    let got = subscriber.recv_publish().await;
    assert_eq!(
        (got.qos, got.dup, text(&got)),
        (QoS::AtLeastOnce, false, "one")
    );
    assert_ne!(got.pkid, 0);
    subscriber.send(Packet::PubAck(PubAck::new(got.pkid))).await;

    // Inbound QoS 2, with a DUP resend before PUBREL: routed once.
    publisher
        .send(publish("q/2", QoS::ExactlyOnce, 7, false, b"two"))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubRec(PubRec::new(7)));
    let mut again = Publish::new("q/2", QoS::ExactlyOnce, b"two".to_vec());
    again.pkid = 7;
    again.dup = true;
    publisher.send(Packet::Publish(again)).await;
    assert_eq!(publisher.recv().await, Packet::PubRec(PubRec::new(7)));
    publisher.send(Packet::PubRel(PubRel::new(7))).await;
    assert_eq!(publisher.recv().await, Packet::PubComp(PubComp::new(7)));

    // Outbound QoS 2: PUBLISH, PUBREC -> PUBREL, PUBCOMP.
    let got = subscriber.recv_publish().await;
    assert_eq!((got.qos, text(&got)), (QoS::ExactlyOnce, "two"));
    subscriber.send(Packet::PubRec(PubRec::new(got.pkid))).await;
    assert_eq!(
        subscriber.recv().await,
        Packet::PubRel(PubRel::new(got.pkid))
    );
    subscriber
        .send(Packet::PubComp(PubComp::new(got.pkid)))
        .await;

    // Once released, the same packet id carries a new message.
    publisher
        .send(publish("q/2", QoS::ExactlyOnce, 7, false, b"three"))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubRec(PubRec::new(7)));
    let got = subscriber.recv_publish().await;
    assert_eq!(
        text(&got),
        "three",
        "the DUP resend was not delivered a second time"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delivered_qos_is_the_lower_of_subscription_and_publish() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut subscriber = Raw::connect(addr, opts("sub")).await;
    subscriber
        .subscribe(
            1,
            &[
                ("m/0", QoS::AtMostOnce),
                ("m/1", QoS::AtLeastOnce),
                ("m/2", QoS::ExactlyOnce),
            ],
        )
        .await;
    let mut publisher = Raw::connect(addr, opts("pub")).await;
    let cases = [
        ("m/1", QoS::ExactlyOnce, QoS::AtLeastOnce),
        ("m/0", QoS::AtLeastOnce, QoS::AtMostOnce),
        ("m/2", QoS::AtMostOnce, QoS::AtMostOnce),
        ("m/2", QoS::AtLeastOnce, QoS::AtLeastOnce),
    ];
    for (n, (topic, sent, expected)) in cases.into_iter().enumerate() {
        publisher
            .send(publish(topic, sent, n as u16 + 1, false, b"x"))
            .await;
        let got = subscriber.recv_publish().await;
        assert_eq!((got.topic.as_str(), got.qos), (topic, expected));
        match got.qos {
            QoS::AtLeastOnce => subscriber.send(Packet::PubAck(PubAck::new(got.pkid))).await,
            QoS::ExactlyOnce => unreachable!(),
            QoS::AtMostOnce => {}
        }
    }
    // Subscribing again to the same filter replaces its QoS.
    subscriber.subscribe(2, &[("m/2", QoS::AtMostOnce)]).await;
    publisher
        .send(publish("m/2", QoS::ExactlyOnce, 9, false, b"x"))
        .await;
    assert_eq!(subscriber.recv_publish().await.qos, QoS::AtMostOnce);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_subscriptions_deliver_one_copy_at_the_highest_qos() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut subscriber = Raw::connect(addr, opts("sub")).await;
    let granted = subscriber
        .subscribe(
            1,
            &[
                ("o/#", QoS::AtMostOnce),
                ("o/+", QoS::ExactlyOnce),
                ("o/x", QoS::AtLeastOnce),
            ],
        )
        .await;
    assert_eq!(granted.len(), 3);
    let mut publisher = Raw::connect(addr, opts("pub")).await;
    publisher
        .send(publish("o/x", QoS::ExactlyOnce, 1, false, b"once"))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubRec(PubRec::new(1)));
    publisher.publish0("o/end", b"end").await;

    let got = subscriber.recv_publish().await;
    assert_eq!((got.topic.as_str(), got.qos), ("o/x", QoS::ExactlyOnce));
    let next = subscriber.recv_publish().await;
    assert_eq!(next.topic, "o/end", "a second copy of o/x arrived");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retained_messages_set_replace_clear_and_flag() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut publisher = Raw::connect(addr, opts("pub")).await;
    publisher.publish1("r/a", 1, true, b"one").await;

    let mut early = Raw::connect(addr, opts("early")).await;
    early.subscribe(1, &[("r/#", QoS::AtLeastOnce)]).await;
    let got = early.recv_publish().await;
    assert_eq!((got.retain, text(&got)), (true, "one"));
    early.send(Packet::PubAck(PubAck::new(got.pkid))).await;

    // Replaced; the live copy to an existing subscriber has retain 0.
    publisher.publish1("r/a", 2, true, b"two").await;
    let got = early.recv_publish().await;
    assert_eq!((got.retain, text(&got)), (false, "two"));
    early.send(Packet::PubAck(PubAck::new(got.pkid))).await;

    let mut late = Raw::connect(addr, opts("late")).await;
    late.subscribe(1, &[("r/+", QoS::AtMostOnce)]).await;
    let got = late.recv_publish().await;
    assert_eq!(
        (got.retain, got.qos, text(&got)),
        (true, QoS::AtMostOnce, "two")
    );

    // Re-subscribing replaces the subscription and sends the retained message again.
    late.subscribe(2, &[("r/+", QoS::AtMostOnce)]).await;
    let got = late.recv_publish().await;
    assert_eq!((got.retain, text(&got)), (true, "two"));

    // Cleared by an empty retained publish, which still reaches live subscribers.
    publisher.publish1("r/a", 3, true, b"").await;
    let got = late.recv_publish().await;
    assert_eq!((got.retain, got.payload.len()), (false, 0));
    let mut after = Raw::connect(addr, opts("after")).await;
    after.subscribe(1, &[("r/#", QoS::AtMostOnce)]).await;
    publisher.publish0("r/end", b"end").await;
    assert_eq!(
        after.recv_publish().await.topic,
        "r/end",
        "nothing retained"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dollar_topics_are_not_matched_by_leading_wildcards() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut everything = Raw::connect(addr, opts("everything")).await;
    everything.subscribe(1, &[("#", QoS::AtMostOnce)]).await;
    let mut plus = Raw::connect(addr, opts("plus")).await;
    plus.subscribe(1, &[("+/x", QoS::AtMostOnce)]).await;
    let mut dollar = Raw::connect(addr, opts("dollar")).await;
    dollar.subscribe(1, &[("$test/#", QoS::AtMostOnce)]).await;

    let mut publisher = Raw::connect(addr, opts("pub")).await;
    publisher.publish0("$test/x", b"dollar").await;
    publisher.publish0("s/x", b"end").await;

    assert_eq!(dollar.recv_publish().await.topic, "$test/x");
    assert_eq!(everything.recv_publish().await.topic, "s/x");
    assert_eq!(plus.recv_publish().await.topic, "s/x");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn will_on_abnormal_close_only() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut watcher = Raw::connect(addr, opts("watcher")).await;
    watcher.subscribe(1, &[("will/#", QoS::AtMostOnce)]).await;

    // Socket closed without DISCONNECT: the will goes out, retained as asked.
    let dropped = Raw::connect(
        addr,
        opts("dropped").will("will/dropped", "gone", QoS::AtLeastOnce, true),
    )
    .await;
    drop(dropped);
    let will = watcher.recv_publish().await;
    assert_eq!(
        (will.topic.as_str(), text(&will), will.retain),
        ("will/dropped", "gone", false)
    );
    let mut later = Raw::connect(addr, opts("later")).await;
    later
        .subscribe(1, &[("will/dropped", QoS::AtLeastOnce)])
        .await;
    let retained = later.recv_publish().await;
    assert_eq!((text(&retained), retained.retain), ("gone", true));

    // A protocol violation is abnormal too.
    let mut rude = Raw::connect(
        addr,
        opts("rude").will("will/rude", "bad", QoS::AtMostOnce, false),
    )
    .await;
    rude.send_raw(&[0xff, 0x00]).await;
    rude.closed().await;
    assert_eq!(text(&watcher.recv_publish().await), "bad");

    // After DISCONNECT: no will.
    let mut polite = Raw::connect(
        addr,
        opts("polite").will("will/polite", "never", QoS::AtMostOnce, false),
    )
    .await;
    polite.send(Packet::Disconnect).await;
    polite.closed().await;
    later.publish0("will/end", b"end").await;
    assert_eq!(
        watcher.recv_publish().await.topic,
        "will/end",
        "no will after DISCONNECT"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn persistent_session_keeps_subscriptions_and_messages_while_offline() {
    let broker = start().await;
    let addr = broker.local_addr();
    let (mut client, connack) = Raw::connect_with(addr, opts("keeper").persistent()).await;
    assert!(!connack.session_present);
    client.subscribe(1, &[("p/#", QoS::ExactlyOnce)]).await;
    client.send(Packet::Disconnect).await;
    client.closed().await;

    let mut publisher = Raw::connect(addr, opts("pub")).await;
    publisher.publish1("p/1", 1, false, b"1").await;
    publisher
        .publish0("p/0", b"qos 0 is not kept offline")
        .await;
    publisher.publish1("p/2", 2, false, b"2").await;
    publisher
        .send(publish("p/3", QoS::ExactlyOnce, 3, false, b"3"))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubRec(PubRec::new(3)));

    let (mut client, connack) = Raw::connect_with(addr, opts("keeper").persistent()).await;
    assert!(connack.session_present);
    for (topic, qos) in [
        ("p/1", QoS::AtLeastOnce),
        ("p/2", QoS::AtLeastOnce),
        ("p/3", QoS::ExactlyOnce),
    ] {
        let got = client.recv_publish().await;
        assert_eq!((got.topic.as_str(), got.qos), (topic, qos));
        match qos {
            QoS::AtLeastOnce => client.send(Packet::PubAck(PubAck::new(got.pkid))).await,
            _ => client.send(Packet::PubRec(PubRec::new(got.pkid))).await,
        }
    }
    assert!(matches!(client.recv().await, Packet::PubRel(_)));
    publisher.publish0("p/end", b"end").await;
    assert_eq!(client.recv_publish().await.topic, "p/end");
    client.send(Packet::Disconnect).await;
    client.closed().await;

    // clean=true discards the stored session; the next persistent one starts afresh.
    let (mut client, connack) = Raw::connect_with(addr, opts("keeper")).await;
    assert!(!connack.session_present);
    client.send(Packet::Disconnect).await;
    client.closed().await;
    let (_client, connack) = Raw::connect_with(addr, opts("keeper").persistent()).await;
    assert!(!connack.session_present);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unacknowledged_messages_are_resent_with_dup_on_reconnect() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut client = Raw::connect(addr, opts("forgetful").persistent()).await;
    client
        .subscribe(1, &[("d/1", QoS::AtLeastOnce), ("d/2", QoS::ExactlyOnce)])
        .await;
    let mut publisher = Raw::connect(addr, opts("pub")).await;
    publisher.publish1("d/1", 1, false, b"ack me").await;
    let first = client.recv_publish().await;
    assert!(!first.dup);
    publisher
        .send(publish("d/2", QoS::ExactlyOnce, 2, false, b"two"))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubRec(PubRec::new(2)));
    let second = client.recv_publish().await;
    client.send(Packet::PubRec(PubRec::new(second.pkid))).await;
    assert_eq!(
        client.recv().await,
        Packet::PubRel(PubRel::new(second.pkid))
    );
    drop(client); // without PUBACK for d/1 nor PUBCOMP for d/2

    let (mut client, connack) = Raw::connect_with(addr, opts("forgetful").persistent()).await;
    assert!(connack.session_present);
    let resent = client.recv_publish().await;
    assert_eq!(
        (
            resent.topic.as_str(),
            resent.pkid,
            resent.dup,
            text(&resent)
        ),
        ("d/1", first.pkid, true, "ack me")
    );
    assert_eq!(
        client.recv().await,
        Packet::PubRel(PubRel::new(second.pkid))
    );
    client.send(Packet::PubAck(PubAck::new(resent.pkid))).await;
    client
        .send(Packet::PubComp(PubComp::new(second.pkid)))
        .await;
    client.ping().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribe_stops_delivery() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut client = Raw::connect(addr, opts("u")).await;
    client
        .subscribe(1, &[("u/#", QoS::AtMostOnce), ("v", QoS::AtMostOnce)])
        .await;
    let mut unsubscribe = Unsubscribe::new("u/#");
    unsubscribe.pkid = 9;
    client.send(Packet::Unsubscribe(unsubscribe)).await;
    assert!(matches!(client.recv().await, Packet::UnsubAck(ack) if ack.pkid == 9));
    let mut publisher = Raw::connect(addr, opts("pub")).await;
    publisher.publish0("u/1", b"gone").await;
    publisher.publish0("v", b"end").await;
    assert_eq!(client.recv_publish().await.topic, "v");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_subscriber_does_not_stall_the_others() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut stalled = Raw::connect(addr, opts("stalled")).await;
    stalled.subscribe(1, &[("s/#", QoS::AtMostOnce)]).await;
    let mut reader = Raw::connect(addr, opts("reader")).await;
    reader.subscribe(1, &[("s/#", QoS::AtMostOnce)]).await;
    let mut publisher = Raw::connect(addr, opts("pub")).await;

    const COUNT: usize = 10_000;
    let payload = vec![b'x'; 1000];
    let mut batch = BytesMut::new();
    for _ in 0..COUNT {
        publish("s/data", QoS::AtMostOnce, 0, false, &payload)
            .write(&mut batch, MAX_PACKET)
            .unwrap();
    }
    let publishing = tokio::spawn(async move {
        publisher.send_raw(&batch).await;
        publisher.ping().await; // the publisher's own connection is not held up
    });
    for n in 0..COUNT {
        let got = reader.recv_publish().await;
        assert_eq!(got.payload.len(), 1000, "message {n}");
    }
    timeout(WAIT, publishing).await.unwrap().unwrap();
    assert_eq!(broker.dropped_messages(), 0);
    drop(stalled);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_drops_messages_and_counts_them() {
    let broker = Broker::start(Config {
        max_queued_bytes: 64 * 1024,
        ..local()
    })
    .await
    .unwrap();
    let addr = broker.local_addr();
    let mut stalled = Raw::connect(addr, opts("stalled")).await;
    stalled.subscribe(1, &[("f/#", QoS::AtMostOnce)]).await;
    let mut publisher = Raw::connect(addr, opts("pub")).await;
    // 40 MB: more than the socket buffers between broker and a subscriber that never reads.
    let payload = vec![b'y'; 10_000];
    let mut batch = BytesMut::new();
    for _ in 0..4000 {
        publish("f/data", QoS::AtMostOnce, 0, false, &payload)
            .write(&mut batch, MAX_PACKET)
            .unwrap();
    }
    publisher.send_raw(&batch).await;
    publisher.ping().await;
    assert!(broker.dropped_messages() > 0, "nothing was dropped");
    drop(stalled);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn many_qos1_messages_go_through_quickly() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut subscriber = Raw::connect(addr, opts("sub")).await;
    subscriber.subscribe(1, &[("fast", QoS::AtLeastOnce)]).await;
    let mut publisher = Raw::connect(addr, opts("pub")).await;

    const COUNT: u32 = 50_000;
    let started = Instant::now();
    let publishing = tokio::spawn(async move {
        // Pipelined with a window of 1000 unacknowledged messages, like `pub -l`.
        let (mut sent, mut acked) = (0u32, 0u32);
        let mut batch = BytesMut::new();
        while acked < COUNT {
            while sent < COUNT && sent - acked < 1000 {
                let pkid = (sent % 60_000) as u16 + 1;
                publish(
                    "fast",
                    QoS::AtLeastOnce,
                    pkid,
                    false,
                    sent.to_string().as_bytes(),
                )
                .write(&mut batch, MAX_PACKET)
                .unwrap();
                sent += 1;
            }
            if !batch.is_empty() {
                publisher.send_raw(&batch).await;
                batch.clear();
            }
            match publisher.recv().await {
                Packet::PubAck(_) => acked += 1,
                other => panic!("expected PUBACK, got {other:?}"),
            }
        }
    });
    let mut acks = BytesMut::new();
    for n in 0..COUNT {
        let got = subscriber.recv_publish().await;
        assert_eq!(text(&got), n.to_string(), "in order");
        PubAck::new(got.pkid).write(&mut acks).unwrap();
        if subscriber.buf.is_empty() {
            subscriber.send_raw(&acks).await;
            acks.clear();
        }
    }
    timeout(WAIT, publishing).await.unwrap().unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(20),
        "{COUNT} messages took {elapsed:?}"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_largest_payload_goes_through() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut subscriber = Raw::connect(addr, opts("sub")).await;
    subscriber.subscribe(1, &[("big", QoS::AtLeastOnce)]).await;
    let mut publisher = Raw::connect(addr, opts("pub")).await;
    // The largest QoS 1 PUBLISH: remaining length 268 435 455.
    let size = MAX_PACKET - 2 - "big".len() - 2;
    let mut payload = vec![0u8; size];
    payload[0] = 1;
    payload[size - 1] = 2;
    let sending = tokio::spawn(async move {
        publisher
            .send(publish("big", QoS::AtLeastOnce, 1, false, &payload))
            .await;
        assert_eq!(publisher.recv().await, Packet::PubAck(PubAck::new(1)));
    });
    let got = match subscriber.next(WRITE_WAIT).await {
        Some(Packet::Publish(publish)) => publish,
        other => panic!("expected the big PUBLISH, got {other:?}"),
    };
    assert_eq!(got.payload.len(), size);
    assert_eq!((got.payload[0], got.payload[size - 1]), (1, 2));
    timeout(WRITE_WAIT, sending).await.unwrap().unwrap();
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_closes_connections_and_the_port() {
    let broker = start().await;
    let addr = broker.local_addr();
    let mut client = Raw::connect(addr, opts("c")).await;
    let mut idle = Raw::open(addr).await; // never sends CONNECT
    timeout(WAIT, broker.stop()).await.expect("stop is prompt");
    client.closed().await;
    idle.closed().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn works_with_the_rumqttc_client() {
    use rumqttc::{AsyncClient, Event, Incoming, MqttOptions};
    let broker = start().await;
    let addr = broker.local_addr();
    let mut options = MqttOptions::new("rumqttc-sub", addr.ip().to_string(), addr.port());
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(options, 10);
    client
        .subscribe("rumqttc/#", rumqttc::QoS::ExactlyOnce)
        .await
        .unwrap();
    let received = tokio::spawn(async move {
        loop {
            match events.poll().await.expect("event loop") {
                Event::Incoming(Incoming::SubAck(_)) => {
                    let mut publisher = Raw::connect(addr, opts("raw-pub")).await;
                    publisher.publish1("rumqttc/x", 1, false, b"hello").await;
                }
                Event::Incoming(Incoming::Publish(publish)) => return publish,
                _ => {}
            }
        }
    });
    let publish = timeout(WAIT, received).await.unwrap().unwrap();
    assert_eq!(
        (publish.topic.as_str(), &publish.payload[..]),
        ("rumqttc/x", &b"hello"[..])
    );
    assert_eq!(publish.qos, rumqttc::QoS::AtLeastOnce);
    broker.stop().await;
}

#[test]
fn background_broker_starts_and_stops() {
    use std::io::{Read, Write};
    let broker = BackgroundBroker::start(local()).expect("starts");
    let addr = broker.local_addr();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut connect = BytesMut::new();
    Connect::new("sync").write(&mut connect).unwrap();
    stream.write_all(&connect).unwrap();
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).unwrap();
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);

    broker.stop();
    let mut rest = Vec::new();
    assert_eq!(stream.read_to_end(&mut rest).unwrap(), 0, "closed by stop");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the port is closed"
    );

    // Dropping one stops it too.
    let dropped = BackgroundBroker::start(local()).expect("starts");
    let addr = dropped.local_addr();
    drop(dropped);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn background_broker_reports_a_bind_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = Config {
        bind: taken.local_addr().unwrap(),
        ..Config::default()
    };
    let err = BackgroundBroker::start(config)
        .err()
        .expect("the port is taken");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
}

/// `skeeter broker`: the address line on stdout, logs on stderr, exit 0 on SIGTERM.
#[test]
fn broker_command_prints_its_address_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_skeeter"))
        .args(["broker", "--port", "0", "--verbose"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = line_tx.send(line);
    });
    let line = line_rx.recv_timeout(WAIT).expect("the address line");
    let port: u16 = line
        .strip_prefix("listening on mqtt://127.0.0.1:")
        .and_then(|rest| rest.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));

    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut connect = BytesMut::new();
    Connect::new("cli-client").write(&mut connect).unwrap();
    stream.write_all(&connect).unwrap();
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).unwrap();
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the broker did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains(": client cli-client connected from 127.0.0.1:")
            && stderr.contains("(clean session, keep-alive 10)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(": client cli-client disconnected (broker stopping)"),
        "{stderr}"
    );
}

#[test]
fn broker_command_exits_11_when_it_cannot_listen() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_skeeter"))
        .args(["broker", "--port", &port])
        .timeout(WAIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(11));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "skeeter: error: cannot listen on 127.0.0.1:{port}: "
        )),
        "{stderr}"
    );
}
