//! The embedded broker's limits (max_connections, max_packet_size, the queue limits,
//! max_inflight_messages, message_size_limit, max_keepalive), driven by raw MQTT 3.1.1 and 5
//! clients that see every byte; beside mosquitto where that is cheap, and through `skeeter
//! broker -c FILE` for the configuration file.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use rumqttc::v5::mqttbytes::v5::{ConnAckProperties, Packet as Packet5};
use skeeter::broker::{Broker, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use common::{Mosquitto, one_error_line, skeeter, skeeter_broker};

/// The longest any single expected event may take.
const WAIT: Duration = Duration::from_secs(10);
/// How long to watch for something that must not happen.
const QUIET: Duration = Duration::from_millis(300);

fn local() -> Config {
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    }
}

async fn start(config: Config) -> Broker {
    Broker::start(config).await.expect("broker starts")
}

// Packets, built byte by byte (so 3.1.1 and 5 look alike, and anything can be sent).

fn remaining_length(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return out;
        }
    }
}

fn string(text: &[u8]) -> Vec<u8> {
    let mut out = (text.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(text);
    out
}

fn frame(byte1: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![byte1];
    out.extend(remaining_length(body.len()));
    out.extend_from_slice(body);
    out
}

/// CONNECT, clean, for protocol level 4 or 5; a will (topic, payload) when given.
fn connect(level: u8, client_id: &str, keep_alive: u16, will: Option<(&str, &[u8])>) -> Vec<u8> {
    let flags = 0x02 | if will.is_some() { 0x04 } else { 0 };
    let mut body = string(b"MQTT");
    body.extend([level, flags]);
    body.extend(keep_alive.to_be_bytes());
    if level == 5 {
        body.push(0); // no properties
    }
    body.extend(string(client_id.as_bytes()));
    if let Some((topic, payload)) = will {
        if level == 5 {
            body.push(0);
        }
        body.extend(string(topic.as_bytes()));
        body.extend(string(payload));
    }
    frame(0x10, &body)
}

fn publish(level: u8, qos: u8, pkid: u16, topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = string(topic.as_bytes());
    if qos > 0 {
        body.extend(pkid.to_be_bytes());
    }
    if level == 5 {
        body.push(0);
    }
    body.extend_from_slice(payload);
    frame(0x30 | (qos << 1), &body)
}

fn subscribe(level: u8, filter: &str, qos: u8) -> Vec<u8> {
    let mut body = 1u16.to_be_bytes().to_vec();
    if level == 5 {
        body.push(0);
    }
    body.extend(string(filter.as_bytes()));
    body.push(qos);
    frame(0x82, &body)
}

/// A raw client: bytes out, whole frames in.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
    level: u8,
}

impl Raw {
    async fn open(addr: SocketAddr, level: u8) -> Raw {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Raw {
            stream,
            buf: BytesMut::new(),
            level,
        }
    }

    /// Open, CONNECT, and return the CONNACK frame.
    async fn connect(
        addr: SocketAddr,
        level: u8,
        client_id: &str,
        keep_alive: u16,
    ) -> (Raw, Vec<u8>) {
        let mut raw = Raw::open(addr, level).await;
        raw.send(&connect(level, client_id, keep_alive, None)).await;
        let connack = raw.frame().await;
        assert_eq!(connack[0], 0x20, "expected CONNACK, got {connack:02x?}");
        (raw, connack)
    }

    /// Connect, expect success.
    async fn connected(addr: SocketAddr, level: u8, client_id: &str) -> Raw {
        let (raw, connack) = Raw::connect(addr, level, client_id, 60).await;
        assert_eq!(connack[3], 0, "refused: {connack:02x?}");
        raw
    }

    async fn send(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.stream.write_all(bytes))
            .await
            .expect("write in time")
            .expect("write");
    }

    /// The next whole frame, or None once the broker closed the connection (or after `limit`).
    async fn next_frame(&mut self, limit: Duration) -> Option<Vec<u8>> {
        let read = async {
            loop {
                if let Some(len) = frame_len(&self.buf) {
                    return Some(self.buf.split_to(len).to_vec());
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        };
        timeout(limit, read).await.unwrap_or(None)
    }

    async fn frame(&mut self) -> Vec<u8> {
        match self.next_frame(WAIT).await {
            Some(frame) => frame,
            None => panic!("connection closed or nothing within {WAIT:?}"),
        }
    }

    /// The payload of the next frame, which must be a PUBLISH.
    async fn payload(&mut self) -> Vec<u8> {
        let frame = self.frame().await;
        assert_eq!(frame[0] & 0xf0, 0x30, "expected PUBLISH, got {frame:02x?}");
        publish_payload(&frame, self.level)
    }

    async fn subscribe(&mut self, filter: &str, qos: u8) {
        self.send(&subscribe(self.level, filter, qos)).await;
        let suback = self.frame().await;
        assert_eq!(suback[0], 0x90, "expected SUBACK, got {suback:02x?}");
    }

    /// Nothing arrives for a while, and the connection stays open.
    async fn quiet(&mut self) {
        if let Some(frame) = self.next_frame(QUIET).await {
            panic!("unexpected {frame:02x?}");
        }
        let mut byte = [0u8; 1];
        let peek = timeout(QUIET, self.stream.peek(&mut byte)).await;
        assert!(peek.is_err(), "closed: {peek:?}");
    }

    /// The broker closes the connection after sending `last` (nothing when empty).
    async fn closed_after(&mut self, last: &[u8]) {
        let mut bytes = self.buf.split().to_vec();
        timeout(WAIT, async {
            let mut scratch = [0u8; 4096];
            loop {
                match self.stream.read(&mut scratch).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => bytes.extend_from_slice(&scratch[..n]),
                }
            }
        })
        .await
        .expect("the broker closes the connection");
        assert_eq!(bytes, last);
    }
}

/// The length of the complete frame at the start of `buf`, if it is all there.
fn frame_len(buf: &[u8]) -> Option<usize> {
    let (mut len, mut shift) = (0usize, 0);
    for (at, byte) in buf.iter().enumerate().skip(1).take(4) {
        len += usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            let total = at + 1 + len;
            return (buf.len() >= total).then_some(total);
        }
    }
    None
}

fn publish_payload(frame: &[u8], level: u8) -> Vec<u8> {
    let mut body = &frame[frame_len_header(frame)..];
    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    body.advance(2 + topic_len);
    if frame[0] & 0x06 != 0 {
        body.advance(2);
    }
    if level == 5 {
        let mut properties = 0usize;
        let mut shift = 0;
        loop {
            let byte = body.get_u8();
            properties += usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        body.advance(properties);
    }
    body.to_vec()
}

fn frame_len_header(frame: &[u8]) -> usize {
    1 + frame[1..].iter().position(|b| b & 0x80 == 0).unwrap() + 1
}

/// The properties of an MQTT 5 CONNACK frame.
fn connack_properties(frame: &[u8]) -> ConnAckProperties {
    let mut bytes = BytesMut::from(frame);
    match Packet5::read(&mut bytes, None).expect("a CONNACK rumqttc reads") {
        Packet5::ConnAck(connack) => connack.properties.expect("CONNACK properties"),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

fn connack_v4(code: u8) -> [u8; 4] {
    [0x20, 0x02, 0x00, code]
}

#[tokio::test(flavor = "multi_thread")]
async fn max_connections_answers_the_next_one_with_a_refusal_and_counts_it() {
    let broker = start(Config {
        max_connections: 2,
        ..local()
    })
    .await;
    let addr = broker.local_addr();
    let first = Raw::connected(addr, 4, "first").await;
    let mut second = Raw::connected(addr, 5, "second").await;
    // 3.1.1: CONNACK 3 (server unavailable); 5: CONNACK 0x97 (quota exceeded); then closed.
    let mut third = Raw::open(addr, 4).await;
    third.send(&connect(4, "third", 60, None)).await;
    third.closed_after(&connack_v4(3)).await;
    let mut fourth = Raw::open(addr, 5).await;
    fourth.send(&connect(5, "fourth", 60, None)).await;
    fourth.closed_after(&[0x20, 0x03, 0x00, 0x97, 0x00]).await;
    assert_eq!(broker.refused_connections(), 2);
    second.send(&[0xc0, 0x00]).await;
    assert_eq!(second.frame().await, [0xd0, 0x00], "the others go on");

    // A place freed is a place taken again.
    drop(first);
    let mut again = None;
    let deadline = Instant::now() + WAIT;
    while again.is_none() {
        assert!(Instant::now() < deadline, "the freed place never came back");
        let (raw, connack) = Raw::connect(addr, 4, "again", 60).await;
        if connack[3] == 0 {
            again = Some(raw);
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_connections_with_mosquitto_closes_unanswered() {
    // What mosquitto does instead: the socket is closed at accept, with nothing said.
    let Some(mosquitto) = Mosquitto::start("max_connections 1") else {
        return;
    };
    let addr: SocketAddr = ([127, 0, 0, 1], mosquitto.port).into();
    // mosquitto 2.0.11 miscounts the probe that saw it listen (closed before any CONNECT), so
    // it takes one client more than it should: the refusal comes, just not exactly then.
    let mut taken = Vec::new();
    loop {
        let mut client = Raw::open(addr, 4).await;
        client
            .send(&connect(4, &format!("c{}", taken.len()), 60, None))
            .await;
        match client.next_frame(WAIT).await {
            Some(connack) => assert_eq!(connack, connack_v4(0)),
            None => break,
        }
        taken.push(client);
        assert!(taken.len() < 4, "mosquitto took {} clients", taken.len());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_packets_end_the_connection_before_their_body() {
    let broker = start(Config {
        max_packet_size: 1024,
        ..local()
    })
    .await;
    let addr = broker.local_addr();
    let (mut v5, connack) = Raw::connect(addr, 5, "v5", 60).await;
    assert_eq!(connack_properties(&connack).max_packet_size, Some(1024));
    // Exactly 1024 bytes, fixed header included, is fine; one more is not.
    let mut subscriber = Raw::connected(addr, 4, "sub").await;
    subscriber.subscribe("big", 0).await;
    let fits = publish(5, 0, 0, "big", &[b'x'; 1024 - 3 - 5 - 1]);
    assert_eq!(fits.len(), 1024);
    v5.send(&fits).await;
    assert_eq!(subscriber.payload().await.len(), 1015);
    // One MiB announced, none of it sent: the header is enough. DISCONNECT 0x95, then closed.
    v5.send(&[0x30, 0x80, 0x80, 0x40]).await;
    v5.closed_after(&[0xe0, 0x02, 0x95, 0x00]).await;
    // 3.1.1: closed, nothing said.
    let mut v4 = Raw::connected(addr, 4, "v4").await;
    v4.send(&publish(4, 0, 0, "big", &[b'x'; 1025])).await;
    v4.closed_after(&[]).await;
    // An MQTT 5 CONNECT too large: CONNACK 0x95.
    let mut big_connect = Raw::open(addr, 5).await;
    big_connect
        .send(&connect(5, "will", 60, Some(("w", &[0u8; 2000]))))
        .await;
    big_connect
        .closed_after(&[0x20, 0x03, 0x00, 0x95, 0x00])
        .await;
    broker.stop().await;

    // mosquitto: the same CONNACK property and DISCONNECT reason (in its 3-byte form).
    if let Some(mosquitto) = Mosquitto::start("max_packet_size 1024") {
        let addr = ([127, 0, 0, 1], mosquitto.port).into();
        let (mut v5, connack) = Raw::connect(addr, 5, "v5", 60).await;
        assert_eq!(connack_properties(&connack).max_packet_size, Some(1024));
        v5.send(&[0x30, 0x80, 0x80, 0x40]).await;
        assert_eq!(v5.frame().await, [0xe0, 0x01, 0x95]);
    }
}

/// What the publishers of a 200-byte message see under message_size_limit 100: the acks of
/// MQTT 5 QoS 1 and 2 (then the PUBCOMP of 3.1.1's QoS 2), and what a subscriber receives.
async fn message_size_limit_script(addr: SocketAddr) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let mut subscriber = Raw::connected(addr, 4, "limit-sub").await;
    subscriber.subscribe("t/#", 1).await;
    let big = [b'b'; 200];
    for level in [5, 4] {
        let mut publisher = Raw::connected(addr, level, &format!("limit-pub{level}")).await;
        publisher.send(&publish(level, 0, 0, "t/0", &big)).await;
        for qos in [1, 2] {
            publisher.send(&publish(level, qos, 7, "t/big", &big)).await;
            seen.push(publisher.frame().await);
        }
        if level == 4 {
            publisher.send(&[0x62, 0x02, 0x00, 0x07]).await; // PUBREL
            seen.push(publisher.frame().await);
        }
        publisher
            .send(&publish(level, 1, 8, "t/fits", &[b's'; 100]))
            .await;
        seen.push(publisher.frame().await);
        seen.push(subscriber.payload().await);
    }
    subscriber.quiet().await;
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn message_size_limit_drops_the_message_and_completes_its_flow() {
    let broker = start(Config {
        message_size_limit: 100,
        ..local()
    })
    .await;
    let addr = broker.local_addr();
    let seen = message_size_limit_script(addr).await;
    let small = vec![b's'; 100];
    let expected: Vec<Vec<u8>> = vec![
        vec![0x40, 0x03, 0x00, 0x07, 0x95], // MQTT 5 PUBACK: packet too large
        vec![0x50, 0x03, 0x00, 0x07, 0x95], // PUBREC: the same, and no PUBREL follows
        vec![0x40, 0x02, 0x00, 0x08],       // the small one (a subscriber matched: 0x00)
        small.clone(),
        vec![0x40, 0x02, 0x00, 0x07], // 3.1.1: acknowledged as usual
        vec![0x50, 0x02, 0x00, 0x07],
        vec![0x70, 0x02, 0x00, 0x07],
        vec![0x40, 0x02, 0x00, 0x08],
        small,
    ];
    assert_eq!(seen, expected);
    // Not told in the CONNACK (mosquitto does not either); a will that big refuses the CONNECT.
    let (_client, connack) = Raw::connect(addr, 5, "props", 60).await;
    assert_eq!(connack_properties(&connack).max_packet_size, None);
    for (level, refusal) in [
        (5, vec![0x20, 0x03, 0x00, 0x95, 0x00]),
        (4, connack_v4(5).to_vec()),
    ] {
        let mut client = Raw::open(addr, level).await;
        client
            .send(&connect(level, "will", 60, Some(("w", &[0u8; 101]))))
            .await;
        client.closed_after(&refusal).await;
    }

    // With max_queued_messages 0 (Mosquitto::start's), mosquitto 2.0.11 closes the connection
    // after each PUBLISH it drops for its size.
    if let Some(mosquitto) = Mosquitto::start("message_size_limit 100\nmax_queued_messages 1000") {
        let addr = ([127, 0, 0, 1], mosquitto.port).into();
        let theirs = message_size_limit_script(addr).await;
        assert_eq!(theirs, expected, "mosquitto's acks and deliveries");
        for (level, refusal) in [
            (5, vec![0x20, 0x03, 0x00, 0x95, 0x00]),
            (4, connack_v4(5).to_vec()),
        ] {
            let mut client = Raw::open(addr, level).await;
            client
                .send(&connect(level, "will", 60, Some(("w", &[0u8; 101]))))
                .await;
            assert_eq!(client.frame().await, refusal, "mosquitto's will refusal");
        }
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_keepalive_is_given_to_mqtt5_and_refuses_more_from_311() {
    let broker = start(Config {
        max_keepalive: 1,
        ..local()
    })
    .await;
    let addr = broker.local_addr();
    for asked in [60, 0] {
        let (_client, connack) = Raw::connect(addr, 5, &format!("k{asked}"), asked).await;
        assert_eq!(connack_properties(&connack).server_keep_alive, Some(1));
    }
    let (_client, connack) = Raw::connect(addr, 5, "k1", 1).await;
    assert_eq!(connack_properties(&connack).server_keep_alive, None);
    // Held to it: silent for 1.5 s, then DISCONNECT 0x8d (keep alive timeout).
    let started = Instant::now();
    let (mut silent, _) = Raw::connect(addr, 5, "silent", 600).await;
    silent.closed_after(&[0xe0, 0x02, 0x8d, 0x00]).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1400) && elapsed < WAIT,
        "closed after {elapsed:?}"
    );
    // 3.1.1: more is refused with CONNACK 2 (identifier rejected); 0 and up to it are fine.
    let mut more = Raw::open(addr, 4).await;
    more.send(&connect(4, "more", 2, None)).await;
    more.closed_after(&connack_v4(2)).await;
    for asked in [0, 1] {
        let (_client, connack) = Raw::connect(addr, 4, &format!("v4-{asked}"), asked).await;
        assert_eq!(connack, connack_v4(0));
    }
    broker.stop().await;

    // By default (65535, as mosquitto): an MQTT 5 client asking for none is given 65535.
    let broker = start(local()).await;
    let (_client, connack) = Raw::connect(broker.local_addr(), 5, "none", 0).await;
    assert_eq!(connack_properties(&connack).server_keep_alive, Some(65535));
    let (_client, connack) = Raw::connect(broker.local_addr(), 4, "none4", 0).await;
    assert_eq!(connack, connack_v4(0));
    if let Some(mosquitto) = Mosquitto::start("max_keepalive 60") {
        // MQTT 5 only: 3.1.1's refusal came with mosquitto 2.0.12, later than some installs.
        let addr = ([127, 0, 0, 1], mosquitto.port).into();
        for (asked, told) in [(0, Some(60)), (100, Some(60)), (30, None)] {
            let (_client, connack) = Raw::connect(addr, 5, &format!("m{asked}"), asked).await;
            assert_eq!(
                connack_properties(&connack).server_keep_alive,
                told,
                "asked {asked}"
            );
        }
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_inflight_messages_is_the_receive_maximum() {
    for (max_inflight, told) in [(0, 65535), (20, 20)] {
        let broker = start(Config {
            max_inflight,
            ..local()
        })
        .await;
        let (_client, connack) = Raw::connect(broker.local_addr(), 5, "rm", 60).await;
        assert_eq!(connack_properties(&connack).receive_max, Some(told));
        broker.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_subscriber_costs_bounded_memory_and_never_slows_the_others() {
    const QUEUE: usize = 100;
    const QUEUE_BYTES: usize = 64 * 1024;
    let broker = start(Config {
        max_queued_messages: QUEUE,
        max_queued_bytes: QUEUE_BYTES,
        ..local()
    })
    .await;
    let addr = broker.local_addr();
    // Two subscribers that never read their sockets, one per protocol, QoS 0 and 1.
    let mut stopped = Raw::connected(addr, 4, "stopped").await;
    stopped.subscribe("s/#", 1).await;
    let mut stopped5 = Raw::connected(addr, 5, "stopped5").await;
    stopped5.subscribe("s/#", 0).await;
    let mut fast = Raw::connected(addr, 4, "fast").await;
    fast.subscribe("s/#", 0).await;
    let mut publisher = Raw::connected(addr, 4, "pub").await;

    // 40 MB of QoS 1 messages at full speed, in windows of 50 (so the fast subscriber's queue
    // never fills): far more than the socket buffers of the stopped ones can take. The
    // PUBACKs are read at the end.
    const COUNT: usize = 40_000;
    const WINDOW: usize = 50;
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut batch = Vec::new();
    for window in 0..COUNT / WINDOW {
        batch.clear();
        for n in window * WINDOW..(window + 1) * WINDOW {
            let mut payload = format!("{n:08}").into_bytes();
            payload.resize(1000, b'.');
            let pkid = (n % 60_000) as u16 + 1;
            batch.extend(publish(4, 1, pkid, "s/data", &payload));
        }
        let sent = Instant::now();
        publisher.send(&batch).await;
        for n in window * WINDOW..(window + 1) * WINDOW {
            let payload = fast.payload().await;
            assert_eq!(
                &payload[..8],
                format!("{n:08}").as_bytes(),
                "in order, none lost"
            );
        }
        slowest = slowest.max(sent.elapsed());
    }
    // Never slowed: each window went through in well under the bound (figures on an idle
    // 2-core machine: 40 000 messages in about 0.5 s, the slowest window in 2-3 ms).
    assert!(slowest < WAIT, "a window took {slowest:?}");
    assert!(started.elapsed() < 4 * WAIT, "{:?}", started.elapsed());

    // Each stopped session holds at most its limits; the rest was dropped, and counted.
    let (messages, bytes) = broker.queued();
    assert!(messages <= 2 * QUEUE, "{messages} messages queued");
    assert!(bytes <= 2 * QUEUE_BYTES, "{bytes} bytes queued");
    let dropped = broker.dropped_messages() as usize;
    assert!(dropped > 0, "nothing dropped");

    // Every message is accounted for: read by a stopped subscriber once it reads again,
    // dropped for it, or still queued (the QoS 1 one acknowledges none, so its in-flight
    // window stays full).
    let mut received = 0;
    let deadline = Instant::now() + WAIT;
    loop {
        for client in [&mut stopped, &mut stopped5] {
            while let Some(frame) = client.next_frame(Duration::from_millis(100)).await {
                assert_eq!(frame[0] & 0xf0, 0x30, "unexpected {frame:02x?}");
                received += 1;
            }
        }
        let (queued, _) = broker.queued();
        if received + dropped + queued == 2 * COUNT {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{received} received + {dropped} dropped + {queued} queued != {}",
            2 * COUNT
        );
    }
    // The publisher was acknowledged all along.
    publisher.send(&[0xc0, 0x00]).await;
    let mut acked = 0;
    loop {
        match publisher.frame().await {
            frame if frame[0] == 0x40 => acked += 1,
            frame => {
                assert_eq!(frame, [0xd0, 0x00]);
                break;
            }
        }
    }
    assert_eq!(acked, COUNT);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_queued_messages_drops_qos0_first_and_counts() {
    let broker = start(Config {
        max_queued_messages: 3,
        ..local()
    })
    .await;
    let addr = broker.local_addr();
    // A persistent session, offline: its queue takes QoS 1 and 2 only, and at most 3.
    let mut offline = Raw::open(addr, 4).await;
    let mut persistent = connect(4, "offline", 60, None);
    persistent[9] = 0x00; // clean session off
    offline.send(&persistent).await;
    offline.frame().await;
    offline.subscribe("q/#", 2).await;
    offline.send(&[0xe0, 0x00]).await;
    offline.closed_after(&[]).await;
    let mut publisher = Raw::connected(addr, 4, "pub").await;
    for n in 1..=5u16 {
        publisher
            .send(&publish(4, 1, n, "q/x", n.to_string().as_bytes()))
            .await;
        publisher.frame().await;
    }
    assert_eq!(broker.dropped_messages(), 2);
    assert_eq!(broker.queued().0, 3);
    let mut back = Raw::open(addr, 4).await;
    back.send(&persistent).await;
    assert_eq!(
        back.frame().await,
        [0x20, 0x02, 0x01, 0x00],
        "session present"
    );
    for n in 1..=3 {
        assert_eq!(back.payload().await, n.to_string().as_bytes());
    }
    back.quiet().await;
    broker.stop().await;
}

/// `skeeter broker -c FILE` with limits in it, run as a process.
#[test]
fn config_file_limits() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("limits.conf");
    std::fs::write(
        &conf,
        "listener 0 127.0.0.1\nallow_anonymous true\n# one client at a time\nmax_connections 1\n",
    )
    .unwrap();
    let (broker, lines) = skeeter_broker(&["-c", conf.to_str().unwrap()], 1);
    let port = common::listening_port(&lines, "mqtt");
    let connack = |client_id: &str| {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.write_all(&connect(4, client_id, 60, None)).unwrap();
        let mut connack = [0u8; 4];
        stream.read_exact(&mut connack).unwrap();
        (stream, connack)
    };
    let (_first, first) = connack("first");
    assert_eq!(first, connack_v4(0));
    assert_eq!(connack("second").1, connack_v4(3), "server unavailable");
    drop(broker);

    // An option wins over the file.
    let (broker, lines) =
        skeeter_broker(&["-c", conf.to_str().unwrap(), "--max-connections", "2"], 1);
    let port2 = common::listening_port(&lines, "mqtt");
    let mut streams = Vec::new();
    for client_id in ["a", "b"] {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port2)).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.write_all(&connect(4, client_id, 60, None)).unwrap();
        let mut connack = [0u8; 4];
        stream.read_exact(&mut connack).unwrap();
        assert_eq!(connack, connack_v4(0), "{client_id}");
        streams.push(stream);
    }
    drop(broker);

    // A bad value: one line naming the file and the line, exit 2.
    std::fs::write(
        &conf,
        "listener 0 127.0.0.1\nmax_keepalive 60\nmax_queued_messages lots\n",
    )
    .unwrap();
    let output = skeeter()
        .args(["broker", "-c", conf.to_str().unwrap()])
        .output()
        .unwrap();
    let line = one_error_line(&output, 2);
    assert!(
        line.contains(&format!(
            "{}:3: bad max_queued_messages 'lots'",
            conf.display()
        )),
        "{line}"
    );
}

/// Bad option values are refused by the command line, with one line.
#[test]
fn bad_limit_options() {
    for args in [
        ["--max-keepalive", "65536"],
        ["--max-connections", "-1"],
        ["--max-inflight-messages", "x"],
    ] {
        let output = skeeter().arg("broker").args(args).output().unwrap();
        one_error_line(&output, 2);
    }
}
