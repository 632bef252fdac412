//! `$SYS/broker/...`: known traffic in, the counters it must show out, from the embedded broker
//! and, for the same traffic, from mosquitto (the received side, which the traffic fixes
//! exactly, must read the same on both).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Mosquitto;
use skeeter::broker::{BackgroundBroker, Config};

/// The latest value of each `$SYS` topic a watcher has seen.
type Values = Arc<Mutex<HashMap<String, String>>>;

fn utf8(text: &str) -> Vec<u8> {
    let mut out = (text.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

fn frame(byte1: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![byte1];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

fn connect(client_id: &str) -> Vec<u8> {
    let mut body = utf8("MQTT");
    body.extend_from_slice(&[4, 0x02, 0, 60]);
    body.extend(utf8(client_id));
    frame(0x10, &body)
}

fn subscribe(filters: &[&str]) -> Vec<u8> {
    let mut body = vec![0, 1];
    for filter in filters {
        body.extend(utf8(filter));
        body.push(0);
    }
    frame(0x82, &body)
}

fn publish(topic: &str, payload: &[u8], qos: u8, retain: bool) -> Vec<u8> {
    let mut body = utf8(topic);
    if qos > 0 {
        body.extend_from_slice(&[0, 7]);
    }
    body.extend_from_slice(payload);
    frame(0x30 | (qos << 1) | u8::from(retain), &body)
}

/// Read one whole packet (type byte, body).
fn read_packet(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).ok()?;
    let kind = byte[0];
    let (mut len, mut shift) = (0usize, 0);
    loop {
        stream.read_exact(&mut byte).ok()?;
        len |= usize::from(byte[0] & 0x7f) << shift;
        shift += 7;
        if byte[0] & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).ok()?;
    Some((kind, body))
}

fn open(addr: SocketAddr, client_id: &str, sent: &mut usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let packet = connect(client_id);
    *sent += packet.len();
    stream.write_all(&packet).unwrap();
    let (kind, body) = read_packet(&mut stream).expect("CONNACK");
    assert_eq!((kind, body.as_slice()), (0x20, &[0u8, 0][..]));
    stream
}

/// What the traffic below must show on the received side.
struct Expected {
    packets: u64,
    bytes: u64,
}

/// A subscriber to `data/#` and `$SYS/broker/#` (whose `$SYS` values are collected), and a
/// publisher sending 10 QoS 0 messages of 100 bytes and a retained QoS 1 one of 50, then
/// DISCONNECT. Returns the collected values (live) and the received-side totals.
fn traffic(addr: SocketAddr) -> (Values, Expected, TcpStream) {
    let mut bytes = 0;
    let mut watcher = open(addr, "sys-watcher", &mut bytes);
    let packet = subscribe(&["data/#", "$SYS/broker/#"]);
    bytes += packet.len();
    watcher.write_all(&packet).unwrap();
    let values: Values = Arc::default();
    let data = Arc::new(Mutex::new(0usize));
    {
        let mut reader = watcher.try_clone().unwrap();
        let (values, data) = (Arc::clone(&values), Arc::clone(&data));
        std::thread::spawn(move || {
            while let Some((kind, body)) = read_packet(&mut reader) {
                if kind >> 4 != 3 {
                    continue;
                }
                let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
                let topic = String::from_utf8_lossy(&body[2..2 + topic_len]).into_owned();
                // The watcher subscribed at QoS 0: no packet id.
                let payload = String::from_utf8_lossy(&body[2 + topic_len..]).into_owned();
                match topic.strip_prefix("$SYS/broker/") {
                    Some(name) => {
                        values.lock().unwrap().insert(name.to_owned(), payload);
                    }
                    None => *data.lock().unwrap() += 1,
                }
            }
        });
    }
    // The SUBACK is read by the thread; give the subscription a moment to be in place.
    let deadline = Instant::now() + Duration::from_secs(10);
    while values.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut publisher = open(addr, "sys-publisher", &mut bytes);
    for _ in 0..10 {
        let packet = publish("data/x", &[b'x'; 100], 0, false);
        bytes += packet.len();
        publisher.write_all(&packet).unwrap();
    }
    let packet = publish("data/r", &[b'r'; 50], 1, true);
    bytes += packet.len();
    publisher.write_all(&packet).unwrap();
    let (kind, _) = read_packet(&mut publisher).expect("PUBACK");
    assert_eq!(kind, 0x40);
    publisher.write_all(&[0xe0, 0x00]).unwrap();
    bytes += 2;
    let mut rest = Vec::new();
    let _ = publisher.read_to_end(&mut rest);
    while *data.lock().unwrap() < 11 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(*data.lock().unwrap(), 11, "the watcher got every message");
    // watcher: CONNECT, SUBSCRIBE; publisher: CONNECT, 11 PUBLISH, DISCONNECT.
    let expected = Expected {
        packets: 15,
        bytes: bytes as u64,
    };
    (values, expected, watcher)
}

/// Wait until `$SYS/broker/NAME` reads `value` (published at the next interval).
fn wait_for(values: &Values, name: &str, value: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let seen = values.lock().unwrap().get(name).cloned();
        if seen.as_deref() == Some(value) {
            return;
        }
        if Instant::now() >= deadline {
            let mut all: Vec<_> = values.lock().unwrap().clone().into_iter().collect();
            all.sort();
            panic!("$SYS/broker/{name} is {seen:?}, never {value}; all: {all:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn number(values: &Values, name: &str) -> u64 {
    let values = values.lock().unwrap();
    let value = values
        .get(name)
        .unwrap_or_else(|| panic!("no $SYS/broker/{name}"));
    value
        .parse()
        .unwrap_or_else(|_| panic!("$SYS/broker/{name} is {value}"))
}

/// The received side is fixed by the traffic: it must read exactly so.
fn check_received(values: &Values, expected: &Expected, limit: Duration) {
    wait_for(values, "publish/bytes/received", "1050", limit);
    wait_for(
        values,
        "messages/received",
        &expected.packets.to_string(),
        limit,
    );
    wait_for(values, "bytes/received", &expected.bytes.to_string(), limit);
    wait_for(values, "clients/connected", "1", limit);
}

#[test]
fn sys_counters_match_the_traffic() {
    let broker = BackgroundBroker::start(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        sys_interval: Duration::from_millis(100),
        ..Config::default()
    })
    .unwrap();
    let (values, expected, _watcher) = traffic(broker.local_addr());
    let limit = Duration::from_secs(5);
    check_received(&values, &expected, limit);
    wait_for(&values, "publish/messages/received", "11", limit);
    wait_for(&values, "clients/maximum", "2", limit);
    wait_for(&values, "clients/total", "1", limit);
    wait_for(&values, "clients/disconnected", "0", limit);
    wait_for(&values, "subscriptions/count", "2", limit);
    wait_for(&values, "publish/messages/dropped", "0", limit);
    assert!(number(&values, "publish/messages/sent") >= 11);
    assert!(number(&values, "publish/bytes/sent") >= 1050);
    // CONNACK x2, SUBACK, PUBACK, and the messages.
    assert!(number(&values, "messages/sent") >= 4 + 11);
    assert!(number(&values, "bytes/sent") > 1050);
    // Every $SYS topic is retained, and so is data/r.
    let topics = values.lock().unwrap().len() as u64;
    wait_for(
        &values,
        "retained messages/count",
        &(topics + 1).to_string(),
        limit,
    );
    let version = values.lock().unwrap()["version"].clone();
    assert!(version.starts_with("skeeter version "), "{version}");
    let uptime = values.lock().unwrap()["uptime"].clone();
    assert!(uptime.ends_with(" seconds"), "{uptime}");
    for name in [
        "messages/received",
        "bytes/sent",
        "publish/received",
        "connections",
    ] {
        for minutes in ["1min", "5min", "15min"] {
            let name = format!("load/{name}/{minutes}");
            let value = values.lock().unwrap()[&name].clone();
            let load: f64 = value.parse().unwrap();
            assert!(load > 0.0, "{name} = {value}");
        }
    }
    broker.stop();
}

/// Zero turns $SYS off: nothing is published or retained.
#[test]
fn sys_interval_zero_publishes_nothing() {
    let broker = BackgroundBroker::start(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        sys_interval: Duration::ZERO,
        ..Config::default()
    })
    .unwrap();
    let mut bytes = 0;
    let mut watcher = open(broker.local_addr(), "w", &mut bytes);
    watcher.write_all(&subscribe(&["$SYS/#"])).unwrap();
    let (kind, _) = read_packet(&mut watcher).unwrap();
    assert_eq!(kind, 0x90);
    watcher
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    assert!(read_packet(&mut watcher).is_none(), "nothing under $SYS");
    broker.stop();
}

/// The same traffic through mosquitto: its received-side counters read the same, so ours are
/// counted as mosquitto counts. (Not publish/messages/received: mosquitto 2.0.11 leaves some
/// PUBLISHes out of it, QoS 2 ones for one; skeeter counts every PUBLISH.)
#[test]
fn mosquitto_counts_the_same_traffic_the_same() {
    let Some(mosquitto) = Mosquitto::start("sys_interval 1") else {
        return;
    };
    let addr: SocketAddr = format!("127.0.0.1:{}", mosquitto.port).parse().unwrap();
    let (values, expected, _watcher) = traffic(addr);
    check_received(&values, &expected, Duration::from_secs(5));
}

/// `$SYS` is the broker's: a client's publish there is refused (0x87 in MQTT 5, as mosquitto
/// does) and changes nothing.
#[test]
fn clients_cannot_write_to_sys() {
    let broker = common::TestBroker::start();
    let port = broker.port().to_string();
    let output = common::skeeter()
        .args(["pub", "-p", &port, "-V", "5", "-q", "1", "-r"])
        .args(["-t", "$SYS/broker/version", "-m", "fake"])
        .output()
        .unwrap();
    let line = common::one_error_line(&output, 12);
    assert!(line.contains("not authorized (reason code 0x87)"), "{line}");
    let output = common::skeeter()
        .args([
            "sub",
            "-p",
            &port,
            "-t",
            "$SYS/broker/version",
            "-C",
            "1",
            "-W",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("skeeter version "));
}
