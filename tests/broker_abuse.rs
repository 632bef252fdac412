//! The broker under a storm of garbage: 100,000 random and mutated MQTT 3.1.1 and 5 packets
//! over thousands of TCP connections, while a well-behaved subscriber and publisher exchange
//! QoS 1 messages. The broker must stay up, never panic, lose or reorder nothing of the good
//! pair, end every abusive connection, and still take a fresh client afterwards.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::frames::{self, Version};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rumqttc::mqttbytes::v4::{Packet, PubAck};
use rumqttc::mqttbytes::{self, QoS};
use skeeter::broker::{Broker, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const PACKETS: u64 = 100_000;
/// Abusive connections open at once.
const ABUSERS: usize = 24;
const WAIT: Duration = Duration::from_secs(10);

/// Panics anywhere in the process, broker tasks included (tokio would only print those).
fn count_panics() -> Arc<AtomicUsize> {
    let panics = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&panics);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counted.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    panics
}

/// A raw MQTT 3.1.1 client for the good pair.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    async fn connect(addr: SocketAddr, client_id: &str) -> Raw {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        stream.set_nodelay(true).unwrap();
        let mut raw = Raw {
            stream,
            buf: BytesMut::with_capacity(4096),
        };
        raw.send(&frames::connect(
            Version::V311,
            client_id,
            true,
            60,
            None,
            None,
            0,
        ))
        .await;
        match raw.recv().await {
            Packet::ConnAck(connack) => assert_eq!(connack.code as u8, 0, "{client_id}"),
            other => panic!("{client_id}: expected CONNACK, got {other:?}"),
        }
        raw
    }

    async fn send(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.stream.write_all(bytes))
            .await
            .expect("write in time")
            .expect("write");
    }

    async fn recv(&mut self) -> Packet {
        loop {
            match Packet::read(&mut self.buf, 1 << 20) {
                Ok(packet) => return packet,
                Err(mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(err) => panic!("the broker sent a malformed packet: {err}"),
            }
            let read = timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("a packet in time")
                .expect("read");
            assert!(read > 0, "the broker closed a good client's connection");
        }
    }
}

/// Valid packets of every type, for one version; some will be mutated before they are sent.
fn valid_packets(version: Version, rng: &mut StdRng, n: usize) -> Vec<u8> {
    let pkid = rng.random_range(1..=u16::MAX);
    let topic = ["x/a", "x/b/c", "x/$sys", "x", "x/retained"][rng.random_range(0..5)];
    let qos = rng.random_range(0..3);
    match rng.random_range(0..12) {
        0..=2 => {
            let payload = vec![b'p'; rng.random_range(0..200)];
            let alias = (version == Version::V5 && rng.random_bool(0.3)).then_some(1);
            let retain = rng.random_bool(0.2);
            frames::publish(version, topic, qos, pkid, retain, &payload, alias)
        }
        3 => {
            let filter = ["x/#", "x/+", "$share/g/x/#", "x/a", "#"][rng.random_range(0..5)];
            let options = if version == Version::V5 {
                rng.random_range(0..0x30)
            } else {
                qos
            };
            frames::subscribe(version, pkid, &[(filter, options), ("x/z/+", 1)])
        }
        4 => frames::unsubscribe(version, pkid, &["x/#", "$share/g/x/#"]),
        5 => frames::ack(version, 0x40, pkid),
        6 => frames::ack(version, 0x50, pkid),
        7 => frames::ack(version, 0x62, pkid),
        8 => frames::ack(version, 0x70, pkid),
        9 if version == Version::V5 && n % 7 == 6 => frames::auth(),
        9 => frames::pingreq(),
        10 if n % 5 == 4 => frames::disconnect(version),
        10 if version == Version::V5 && n % 5 == 3 => {
            frames::disconnect_with_expiry(rng.random_range(0..3))
        }
        _ => {
            // A second CONNECT (a protocol error) now and then.
            let id = format!("abuse-{}", rng.random_range(0..50));
            frames::connect(version, &id, rng.random_bool(0.5), 1, None, None, 0)
        }
    }
}

/// One of many ways to break a frame.
fn mutate(mut packet: Vec<u8>, rng: &mut StdRng) -> Vec<u8> {
    match rng.random_range(0..9) {
        // Bit flips.
        0 | 1 => {
            for _ in 0..rng.random_range(1..=4) {
                let at = rng.random_range(0..packet.len());
                packet[at] ^= 1 << rng.random_range(0..8);
            }
        }
        // Truncation.
        2 => packet.truncate(rng.random_range(0..packet.len())),
        // A wrong remaining length (one byte of it), too short or too long.
        3 if packet.len() > 1 => packet[1] = rng.random(),
        // A remaining length of five bytes, or one that never ends.
        4 => {
            let bad: &[u8] = if rng.random_bool(0.5) {
                &[0xff, 0xff, 0xff, 0xff, 0x7f]
            } else {
                &[0x80, 0x80, 0x80, 0x80]
            };
            packet.splice(1..2.min(packet.len()), bad.iter().copied());
        }
        // A huge length announced, a few bytes sent.
        5 => {
            packet.splice(1..2.min(packet.len()), [0xff, 0xff, 0xff, 0x7f]);
        }
        // Another packet type (or flags) on the same body.
        6 => packet[0] = rng.random(),
        // Random bytes in place of the body.
        7 => {
            let keep = rng.random_range(1..=packet.len().min(3));
            packet.truncate(keep);
            packet.extend((0..rng.random_range(0..40)).map(|_| rng.random::<u8>()));
        }
        // Bytes inserted or removed in the middle.
        _ => {
            let at = rng.random_range(0..packet.len());
            if rng.random_bool(0.5) {
                packet.insert(at, rng.random());
            } else {
                packet.remove(at);
            }
        }
    }
    packet
}

/// The bytes one abusive connection sends, and how many packets they are.
fn abusive_stream(rng: &mut StdRng) -> (Vec<u8>, u64) {
    let version = if rng.random_bool(0.5) {
        Version::V5
    } else {
        Version::V311
    };
    let mut out = Vec::new();
    // Pure noise, sometimes.
    if rng.random_bool(0.05) {
        out.extend((0..rng.random_range(1..200)).map(|_| rng.random::<u8>()));
        return (out, 1);
    }
    let id = format!("abuse-{}", rng.random_range(0..200));
    let will = rng
        .random_bool(0.3)
        .then_some(("x/will", &b"gone"[..], rng.random_range(0..3)));
    let user = rng.random_bool(0.2).then_some("someone");
    let connect = frames::connect(
        version,
        &id,
        rng.random_bool(0.7),
        rng.random_range(0..5),
        will,
        user,
        rng.random_range(0..3),
    );
    out.extend(if rng.random_bool(0.15) {
        mutate(connect, rng)
    } else {
        connect
    });
    let count = rng.random_range(1..=30);
    for n in 0..count {
        // Mostly valid packets first (to reach deep states), then more and more broken ones.
        let packet = valid_packets(version, rng, n);
        let broken = rng.random_bool(if n < count / 2 { 0.1 } else { 0.4 });
        out.extend(if broken { mutate(packet, rng) } else { packet });
    }
    (out, 1 + count as u64)
}

/// What the abusive connections saw.
#[derive(Default)]
struct Tally {
    packets: AtomicU64,
    connections: AtomicU64,
    /// Connections the broker answered (a CONNACK at least).
    answered: AtomicU64,
    /// Connections the broker neither served nor closed.
    stuck: AtomicU64,
}

/// Send one abusive stream, close (or reset) our side, and wait for the broker to close its
/// side.
async fn abuse_once(addr: SocketAddr, rng: &mut StdRng, tally: &Tally) {
    tally.connections.fetch_add(1, Ordering::Relaxed);
    let (bytes, packets) = abusive_stream(rng);
    let Ok(Ok(mut stream)) = timeout(WAIT, TcpStream::connect(addr)).await else {
        tally.stuck.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let _ = stream.set_nodelay(true);
    // In pieces, sometimes, so frames arrive cut up.
    let pieces = if rng.random_bool(0.2) {
        rng.random_range(2..6)
    } else {
        1
    };
    let piece = bytes.len().div_ceil(pieces).max(1);
    for chunk in bytes.chunks(piece) {
        if stream.write_all(chunk).await.is_err() {
            break; // closed by the broker already: expected for garbage
        }
    }
    tally.packets.fetch_add(packets, Ordering::Relaxed);
    if rng.random_bool(0.1) {
        // An abortive close (RST).
        frames::reset_on_drop(&stream);
        return;
    }
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let mut received = 0;
    let closed = timeout(WAIT, async {
        while let Ok(n @ 1..) = stream.read(&mut sink).await {
            received += n;
        }
    })
    .await;
    if closed.is_err() {
        tally.stuck.fetch_add(1, Ordering::Relaxed);
    }
    if received > 0 {
        tally.answered.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_thousands_of_connections_does_not_disturb_a_good_pair() {
    let panics = count_panics();
    let broker = Broker::start(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        connect_timeout: Duration::from_secs(2),
        ..Config::default()
    })
    .await
    .expect("broker starts");
    let addr = broker.local_addr();

    let mut subscriber = Raw::connect(addr, "good-sub").await;
    subscriber
        .send(&frames::subscribe(Version::V311, 1, &[("good/t", 1)]))
        .await;
    assert!(matches!(subscriber.recv().await, Packet::SubAck(_)));
    let mut publisher = Raw::connect(addr, "good-pub").await;

    let abusing = Arc::new(AtomicBool::new(true));
    // The good pair: one QoS 1 message at a time, acknowledged both ways, numbered.
    let good_publisher = {
        let abusing = Arc::clone(&abusing);
        tokio::spawn(async move {
            let mut n: u64 = 0;
            while abusing.load(Ordering::Relaxed) || n < 20 {
                n += 1;
                let pkid = (n % 65_535) as u16 + 1;
                let payload = format!("good:{n}");
                publisher
                    .send(&frames::publish(
                        Version::V311,
                        "good/t",
                        1,
                        pkid,
                        false,
                        payload.as_bytes(),
                        None,
                    ))
                    .await;
                assert_eq!(
                    publisher.recv().await,
                    Packet::PubAck(PubAck::new(pkid)),
                    "message {n}"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            n
        })
    };
    // How many messages the publisher sent in all, once it is done (0 until then).
    let total = Arc::new(AtomicU64::new(0));
    let good_subscriber = {
        let total = Arc::clone(&total);
        tokio::spawn(async move {
            let mut expected: u64 = 1;
            loop {
                let done = total.load(Ordering::SeqCst);
                if done != 0 && expected > done {
                    return expected - 1;
                }
                match timeout(Duration::from_millis(200), subscriber.recv()).await {
                    Ok(Packet::Publish(publish)) => {
                        assert_eq!(publish.qos, QoS::AtLeastOnce);
                        let text = String::from_utf8(publish.payload.to_vec()).unwrap();
                        assert_eq!(text, format!("good:{expected}"), "out of order or lost");
                        subscriber
                            .send(&frames::ack(Version::V311, 0x40, publish.pkid))
                            .await;
                        expected += 1;
                    }
                    Ok(other) => panic!("the good subscriber got {other:?}"),
                    Err(_) => {}
                }
            }
        })
    };

    let started = Instant::now();
    let tally = Arc::new(Tally::default());
    let abusers: Vec<_> = (0..ABUSERS)
        .map(|n| {
            let tally = Arc::clone(&tally);
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(0x5eed_0000 + n as u64);
                while tally.packets.load(Ordering::Relaxed) < PACKETS {
                    abuse_once(addr, &mut rng, &tally).await;
                }
            })
        })
        .collect();
    for abuser in abusers {
        abuser.await.expect("an abuser task");
    }
    let abuse_time = started.elapsed();
    abusing.store(false, Ordering::Relaxed);

    let published = timeout(Duration::from_secs(30), good_publisher)
        .await
        .expect("the good publisher finishes")
        .expect("the good publisher did not fail");
    total.store(published, Ordering::SeqCst);
    let received = timeout(Duration::from_secs(30), good_subscriber)
        .await
        .expect("the good subscriber finishes")
        .expect("the good subscriber did not fail");

    let [fed, connections, answered, stuck] = [
        &tally.packets,
        &tally.connections,
        &tally.answered,
        &tally.stuck,
    ]
    .map(|count| count.load(Ordering::Relaxed));
    eprintln!(
        "abuse: {fed} packets over {connections} connections ({answered} answered) in \
         {abuse_time:.1?}; the good pair exchanged {received} QoS 1 messages meanwhile"
    );
    assert!(fed >= PACKETS);
    // Most connections open with a valid CONNECT, and many of them are answered before their
    // garbage closes them (not all: replies still queued when a 3.1.1 connection breaks a rule
    // are not written): the broker really served sessions, not just refused bytes.
    assert!(answered * 4 > connections, "only {answered} answered");
    assert_eq!(received, published, "every good message arrived, in order");
    assert!(published >= 20);
    assert_eq!(stuck, 0, "connections the broker neither served nor closed");

    // Every connection ends (the good pair's too, its tasks done): no task is left behind.
    let deadline = Instant::now() + WAIT;
    while broker.connections() != 0 {
        assert!(
            Instant::now() < deadline,
            "{} connections still open",
            broker.connections()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // And a fresh client is served as usual.
    let mut fresh = Raw::connect(addr, "fresh").await;
    fresh
        .send(&frames::subscribe(Version::V311, 1, &[("fresh/t", 1)]))
        .await;
    assert!(matches!(fresh.recv().await, Packet::SubAck(_)));
    fresh
        .send(&frames::publish(
            Version::V311,
            "fresh/t",
            1,
            2,
            false,
            b"still here",
            None,
        ))
        .await;
    let mut got_message = false;
    let mut got_ack = false;
    while !(got_message && got_ack) {
        match fresh.recv().await {
            Packet::Publish(publish) => {
                assert_eq!(&publish.payload[..], b"still here");
                got_message = true;
            }
            Packet::PubAck(ack) => {
                assert_eq!(ack.pkid, 2);
                got_ack = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(panics.load(Ordering::SeqCst), 0, "something panicked");
    broker.stop().await;
}
