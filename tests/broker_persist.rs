//! Broker persistence (`--persistence-file`): retained messages and persistent sessions survive a
//! restart, a file that cannot be used stops the start (exit 13), no file without the flag, and
//! nothing acknowledged is lost when the broker is killed with kill -9 and restarted.

mod common;

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{SkeeterBroker, free_port, listening_port, one_error_line, skeeter, skeeter_broker};
use rumqttc::mqttbytes::v4::{
    Connect, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, PubRel, Publish, Subscribe,
    SubscribeFilter,
};
use rumqttc::mqttbytes::{self, Protocol, QoS};

const PERSISTENCE_EXIT: i32 = 13;

/// `skeeter broker -p 0 --persistence-file FILE ARGS`, and its port.
fn persistent_broker(file: &Path, args: &[&str]) -> (SkeeterBroker, u16) {
    let mut all = vec!["-p", "0", "--persistence-file", file.to_str().unwrap()];
    all.extend_from_slice(args);
    let (broker, lines) = skeeter_broker(&all, 1);
    let port = listening_port(&lines, "mqtt");
    (broker, port)
}

/// `skeeter sub -p PORT ARGS` run to its end; its stdout.
fn sub(port: u16, args: &[&str]) -> String {
    let output = skeeter()
        .args(["sub", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "sub {args:?}: {}",
        common::text(&output.stderr)
    );
    common::text(&output.stdout)
}

fn publish(port: u16, args: &[&str]) {
    skeeter()
        .args(["pub", "-p", &port.to_string()])
        .args(args)
        .assert()
        .success();
}

#[test]
fn retained_messages_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("skeeter.db");
    let (broker, port) = persistent_broker(&file, &[]);
    publish(port, &["-t", "keep/a", "-r", "-q", "1", "-m", "first"]);
    publish(port, &["-t", "keep/b", "-r", "-q", "1", "-m", "second"]);
    publish(
        port,
        &["-t", "keep/gone", "-r", "-q", "1", "-m", "soon cleared"],
    );
    publish(port, &["-t", "keep/gone", "-r", "-q", "1", "-n"]);
    assert!(broker.terminate().success());
    assert!(file.exists());

    let (broker, port) = persistent_broker(&file, &[]);
    let got = sub(port, &["-t", "keep/#", "-v", "-C", "2", "-W", "5"]);
    let mut lines: Vec<&str> = got.lines().collect();
    lines.sort();
    assert_eq!(lines, ["keep/a first", "keep/b second"]);
    // kill -9 this time: the journal alone brings back a change made since the last save.
    publish(port, &["-t", "keep/a", "-r", "-q", "1", "-m", "changed"]);
    let (_, _) = broker.kill_with_stderr();
    let (broker, port) = persistent_broker(&file, &[]);
    let got = sub(port, &["-t", "keep/a", "-v", "-C", "1", "-W", "5"]);
    assert_eq!(got, "keep/a changed\n");
    assert!(broker.terminate().success());
}

#[test]
fn a_persistent_session_survives_a_restart_v311() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("skeeter.db");
    let (broker, port) = persistent_broker(&file, &["--autosave-interval", "0"]);
    // Subscribe, then go: the session stays, with its subscription. (QoS 1: a new `sub` process
    // could not finish a QoS 2 exchange the one before it left half done.)
    sub(port, &["-i", "keeper", "-c", "-q", "1", "-t", "s/#", "-E"]);
    publish(port, &["-t", "s/1", "-q", "1", "-m", "one"]);
    publish(port, &["-t", "s/2", "-q", "2", "-m", "two"]);
    publish(port, &["-t", "s/0", "-q", "0", "-m", "zero is not kept"]);
    assert!(broker.terminate().success());

    let (broker, port) = persistent_broker(&file, &[]);
    let got = sub(
        port,
        &[
            "-i", "keeper", "-c", "-q", "1", "-t", "s/#", "-v", "-C", "2", "-W", "5",
        ],
    );
    assert_eq!(got, "s/1 one\ns/2 two\n");
    // Delivered and acknowledged: not again after another restart. (sub acknowledges what it
    // printed, then DISCONNECTs: once the broker has seen it go, it has read the acks.)
    broker.wait_for_stderr("client keeper disconnected");
    assert!(broker.terminate().success());
    let (broker, port) = persistent_broker(&file, &[]);
    publish(port, &["-t", "s/3", "-q", "1", "-m", "three"]);
    let got = sub(
        port,
        &[
            "-i", "keeper", "-c", "-q", "1", "-t", "s/#", "-v", "-C", "1", "-W", "5",
        ],
    );
    assert_eq!(got, "s/3 three\n");
    assert!(broker.terminate().success());
}

#[test]
fn a_v5_session_with_an_expiry_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("skeeter.db");
    let (broker, port) = persistent_broker(&file, &[]);
    let v5 = ["-V", "5", "-i", "five", "-c", "-x", "600", "-q", "1"];
    let mut args = v5.to_vec();
    args.extend(["-t", "v5/#", "--no-local", "-E"]);
    sub(port, &args);
    publish(port, &["-V", "5", "-t", "v5/a", "-q", "1", "-m", "a"]);
    // A clean-start client with no expiry is not kept.
    sub(
        port,
        &["-V", "5", "-i", "brief", "-q", "1", "-t", "v5/#", "-E"],
    );
    let (_, _) = broker.kill_with_stderr();

    let (broker, port) = persistent_broker(&file, &[]);
    publish(port, &["-V", "5", "-t", "v5/b", "-q", "2", "-m", "b"]);
    let mut args = v5.to_vec();
    args.extend(["-t", "v5/#", "--no-local", "-v", "-C", "2", "-W", "5"]);
    assert_eq!(sub(port, &args), "v5/a a\nv5/b b\n");
    assert!(broker.terminate().success());
}

#[test]
fn no_file_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = common::skeeter_std()
        .args(["broker", "-p", "0"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(broker.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = listening_port(&[line], "mqtt");
    publish(port, &["-t", "r", "-r", "-m", "x"]);
    sub(port, &["-i", "kept", "-c", "-q", "1", "-t", "r", "-E"]);
    let _ = std::process::Command::new("kill")
        .arg(broker.id().to_string())
        .status();
    assert!(broker.wait().unwrap().success());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "files written: {left:?}");
}

#[test]
fn a_mosquitto_conf_turns_persistence_on() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("mosquitto.conf");
    let location = dir.path().join("state");
    std::fs::create_dir(&location).unwrap();
    std::fs::write(
        &conf,
        format!(
            "listener 0 127.0.0.1\nallow_anonymous true\npersistence true\n\
             persistence_location {}/\npersistence_file broker.db\nautosave_interval 60\n",
            location.display()
        ),
    )
    .unwrap();
    let (broker, lines) = skeeter_broker(&["-c", conf.to_str().unwrap()], 1);
    let port = listening_port(&lines, "mqtt");
    publish(port, &["-t", "c", "-r", "-q", "1", "-m", "from conf"]);
    assert!(broker.terminate().success());
    assert!(location.join("broker.db").exists());
    let (broker, port) = persistent_broker(&location.join("broker.db"), &[]);
    assert_eq!(sub(port, &["-t", "c", "-C", "1", "-W", "5"]), "from conf\n");
    assert!(broker.terminate().success());
}

/// A file that cannot be used: one error line, exit 13, and nothing overwritten.
fn refused(file: &Path, why: &str) {
    let output = skeeter()
        .args(["broker", "-p", "0", "--persistence-file"])
        .arg(file)
        .output()
        .unwrap();
    let line = one_error_line(&output, PERSISTENCE_EXIT);
    assert!(line.contains(why), "{line}");
}

#[test]
fn an_unusable_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("skeeter.db");
    std::fs::write(&file, "retain_available true\n").unwrap();
    refused(&file, "is not a skeeter persistence file");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"retain_available true\n",
        "a foreign file is left alone"
    );

    // A real snapshot with one byte changed, then one cut short.
    std::fs::remove_file(&file).unwrap();
    let (broker, port) = persistent_broker(&file, &[]);
    publish(port, &["-t", "t", "-r", "-q", "1", "-m", "payload"]);
    assert!(broker.terminate().success());
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    std::fs::write(&file, &bad).unwrap();
    refused(&file, "is corrupt");
    std::fs::write(&file, &good[..good.len() - 3]).unwrap();
    refused(&file, "is corrupt");
    let mut newer = good.clone();
    newer[8] = 99;
    std::fs::write(&file, &newer).unwrap();
    refused(&file, "format version 99");

    // A foreign journal; a journal of a later generation than the snapshot.
    std::fs::write(&file, &good).unwrap();
    let journal = dir.path().join("skeeter.db.journal");
    std::fs::write(&journal, "not a journal").unwrap();
    refused(&file, "is not a skeeter journal");
    let mut header = b"SKEETERJ".to_vec();
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&1000u64.to_le_bytes());
    std::fs::write(&journal, &header).unwrap();
    refused(&file, "does not belong to");

    // Unreadable: a directory where the file should be.
    let dir_file = dir.path().join("a-directory");
    std::fs::create_dir(&dir_file).unwrap();
    refused(&dir_file, "cannot read");

    // A torn journal tail (a write cut by kill -9: a chunk shorter than its length says) is
    // ignored, with a warning.
    let mut header = b"SKEETERJ".to_vec();
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&good[12..20]);
    header.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 5]);
    std::fs::write(&journal, &header).unwrap();
    let (broker, port) = persistent_broker(&file, &[]);
    assert_eq!(sub(port, &["-t", "t", "-C", "1", "-W", "5"]), "payload\n");
    let (_, stderr) = broker.kill_with_stderr();
    assert!(stderr.contains("ignored 9 bytes"), "{stderr}");
}

// ---- kill -9 ----

const MAX_PACKET: usize = 1024 * 1024;

/// A blocking MQTT 3.1.1 client over TCP (rumqttc's codec), enough for the kill -9 test.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    /// Connect with a persistent session; returns the client and session-present.
    fn connect(port: u16, client_id: &str) -> io::Result<(Raw, bool)> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut raw = Raw {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
        };
        raw.send(&Packet::Connect(Connect {
            protocol: Protocol::V4,
            keep_alive: 30,
            client_id: client_id.into(),
            clean_session: false,
            last_will: None,
            login: None,
        }))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match raw.next()? {
                Some(Packet::ConnAck(ack)) if ack.code == ConnectReturnCode::Success => {
                    return Ok((raw, ack.session_present));
                }
                Some(other) => return Err(io::Error::other(format!("got {other:?}"))),
                None if Instant::now() > deadline => {
                    return Err(io::Error::other("no CONNACK"));
                }
                None => {}
            }
        }
    }

    fn send(&mut self, packet: &Packet) -> io::Result<()> {
        let mut out = BytesMut::new();
        packet
            .write(&mut out, usize::MAX)
            .map_err(|err| io::Error::other(err.to_string()))?;
        self.stream.write_all(&out)
    }

    /// The next packet; None after a read timeout (200 ms); Err once the connection is gone.
    fn next(&mut self) -> io::Result<Option<Packet>> {
        loop {
            match Packet::read(&mut self.buf, MAX_PACKET) {
                Ok(packet) => return Ok(Some(packet)),
                Err(mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(err) => return Err(io::Error::other(err.to_string())),
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// What the subscriber saw: how often each message arrived.
#[derive(Default)]
struct Received {
    counts: HashMap<String, u32>,
}

/// Subscribe once (persistent session), then take everything, reconnecting whenever the broker
/// goes; QoS 2 ids awaiting PUBREL are kept across connections, as a client's session state.
fn subscriber(
    port: u16,
    received: Arc<Mutex<Received>>,
    ready: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) {
    let mut awaiting_pubrel: HashSet<u16> = HashSet::new();
    let mut subscribed = false;
    while !stop.load(Ordering::Relaxed) {
        let Ok((mut raw, present)) = Raw::connect(port, "persist-sub") else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        // Slower back than the publisher: messages pile up in the session, queued, when the
        // next kill comes.
        if subscribed {
            std::thread::sleep(Duration::from_millis(100));
        }
        if !present {
            assert!(!subscribed, "the subscriber's session was lost");
            let mut subscribe =
                Subscribe::new_many([SubscribeFilter::new("seq/#".into(), QoS::ExactlyOnce)]);
            subscribe.pkid = 1;
            if raw.send(&Packet::Subscribe(subscribe)).is_err() {
                continue;
            }
            // Subscribed once the SUBACK is here (a restart before may lose the session).
            loop {
                match raw.next() {
                    Ok(Some(Packet::SubAck(_))) => {
                        subscribed = true;
                        ready.store(true, Ordering::Relaxed);
                        break;
                    }
                    Ok(_) if !stop.load(Ordering::Relaxed) => {}
                    _ => break,
                }
            }
            if !subscribed {
                continue;
            }
        }
        while !stop.load(Ordering::Relaxed) {
            let reply = match raw.next() {
                Ok(Some(Packet::Publish(publish))) => {
                    let text = String::from_utf8_lossy(&publish.payload).into_owned();
                    match publish.qos {
                        QoS::ExactlyOnce => {
                            if awaiting_pubrel.insert(publish.pkid) {
                                *received.lock().unwrap().counts.entry(text).or_default() += 1;
                            }
                            Packet::PubRec(PubRec::new(publish.pkid))
                        }
                        _ => {
                            *received.lock().unwrap().counts.entry(text).or_default() += 1;
                            Packet::PubAck(PubAck::new(publish.pkid))
                        }
                    }
                }
                Ok(Some(Packet::PubRel(rel))) => {
                    awaiting_pubrel.remove(&rel.pkid);
                    Packet::PubComp(PubComp::new(rel.pkid))
                }
                Ok(_) => continue,
                Err(_) => break,
            };
            if raw.send(&reply).is_err() {
                break;
            }
        }
    }
}

/// A message of the publisher not yet acknowledged.
struct Unacked {
    text: String,
    qos: QoS,
    /// PUBREC came: PUBREL is what is left to (re)send.
    released: bool,
}

/// What the publisher saw acknowledged.
#[derive(Default)]
struct Published {
    acked: Vec<String>,
    sent: u64,
}

/// Publish QoS 1 and 2 messages (`q1-N`, `q2-N`), up to 20 in flight, until told to stop; then
/// finish what is in flight. Reconnects (persistent session) and resends whatever is in flight,
/// as MQTT says.
fn publisher(port: u16, published: Arc<Mutex<Published>>, stop: Arc<AtomicBool>) {
    let mut inflight: VecDeque<(u16, Unacked)> = VecDeque::new();
    let mut next_seq = 0u64;
    let mut next_pkid = 0u16;
    let deadline_after_stop = Duration::from_secs(20);
    let mut stopped_at: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            let since = *stopped_at.get_or_insert_with(Instant::now);
            if inflight.is_empty() || since.elapsed() > deadline_after_stop {
                return;
            }
        }
        let Ok((mut raw, _)) = Raw::connect(port, "persist-pub") else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        // Resend in order: PUBLISH with DUP, or PUBREL.
        let resent = inflight.iter().try_for_each(|(pkid, unacked)| {
            let packet = if unacked.released {
                Packet::PubRel(PubRel::new(*pkid))
            } else {
                let mut publish = Publish::new("seq/x", unacked.qos, unacked.text.clone());
                publish.pkid = *pkid;
                publish.dup = true;
                Packet::Publish(publish)
            };
            raw.send(&packet)
        });
        if resent.is_err() {
            continue;
        }
        loop {
            let stopping = stop.load(Ordering::Relaxed);
            if stopping && inflight.is_empty() {
                return;
            }
            if stopping
                && stopped_at.get_or_insert_with(Instant::now).elapsed() > deadline_after_stop
            {
                return;
            }
            let mut failed = false;
            while !stopping && inflight.len() < 20 {
                next_pkid = next_pkid.checked_add(1).unwrap_or(1);
                if inflight.iter().any(|(pkid, _)| *pkid == next_pkid) {
                    continue;
                }
                let qos = if next_seq % 2 == 0 {
                    QoS::AtLeastOnce
                } else {
                    QoS::ExactlyOnce
                };
                let text = format!("q{}-{next_seq}", qos as u8);
                next_seq += 1;
                let mut publish = Publish::new("seq/x", qos, text.clone());
                publish.pkid = next_pkid;
                inflight.push_back((
                    next_pkid,
                    Unacked {
                        text,
                        qos,
                        released: false,
                    },
                ));
                published.lock().unwrap().sent += 1;
                if raw.send(&Packet::Publish(publish)).is_err() {
                    failed = true;
                    break;
                }
            }
            if failed {
                break;
            }
            let at = |inflight: &VecDeque<(u16, Unacked)>, pkid: u16| {
                inflight.iter().position(|(id, _)| *id == pkid)
            };
            match raw.next() {
                Ok(Some(Packet::PubAck(ack))) => {
                    if let Some(i) = at(&inflight, ack.pkid)
                        && inflight[i].1.qos == QoS::AtLeastOnce
                    {
                        let (_, done) = inflight.remove(i).unwrap();
                        published.lock().unwrap().acked.push(done.text);
                    }
                }
                Ok(Some(Packet::PubRec(rec))) => {
                    if let Some(i) = at(&inflight, rec.pkid) {
                        inflight[i].1.released = true;
                    }
                    if raw.send(&Packet::PubRel(PubRel::new(rec.pkid))).is_err() {
                        break;
                    }
                }
                Ok(Some(Packet::PubComp(comp))) => {
                    if let Some(i) = at(&inflight, comp.pkid)
                        && inflight[i].1.released
                    {
                        let (_, done) = inflight.remove(i).unwrap();
                        published.lock().unwrap().acked.push(done.text);
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
}

/// `skeeter broker -p PORT --persistence-file FILE`, retried while the port is still taken by
/// the process just killed (at most 10 s).
fn start_on(port: u16, file: &Path) -> SkeeterBroker {
    let deadline = Instant::now() + Duration::from_secs(10);
    let port = port.to_string();
    loop {
        let broker =
            SkeeterBroker::spawn(&["-p", &port, "--persistence-file", file.to_str().unwrap()]);
        if broker.next_line(Duration::from_secs(10)).is_some() {
            return broker;
        }
        let (code, stderr) = broker.kill_with_stderr();
        assert!(
            code == Some(11) && Instant::now() < deadline,
            "the broker did not restart: exit {code:?}: {stderr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn nothing_acknowledged_is_lost_to_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("skeeter.db");
    let port = free_port();
    let mut broker = start_on(port, &file);

    let received = Arc::new(Mutex::new(Received::default()));
    let published = Arc::new(Mutex::new(Published::default()));
    let stop_publishing = Arc::new(AtomicBool::new(false));
    let stop_receiving = Arc::new(AtomicBool::new(false));
    let subscribed = Arc::new(AtomicBool::new(false));
    let subscriber = {
        let (received, stop) = (Arc::clone(&received), Arc::clone(&stop_receiving));
        let ready = Arc::clone(&subscribed);
        std::thread::spawn(move || subscriber(port, received, ready, stop))
    };
    // The subscription first, so every message has somewhere to go.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !subscribed.load(Ordering::Relaxed) {
        assert!(Instant::now() < deadline, "the subscriber never subscribed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let publisher = {
        let (published, stop) = (Arc::clone(&published), Arc::clone(&stop_publishing));
        std::thread::spawn(move || publisher(port, published, stop))
    };

    let started = Instant::now();
    let mut torn = 0;
    for round in 0..20u64 {
        // Between 150 and 550 ms of traffic, varied without a random generator.
        std::thread::sleep(Duration::from_millis(150 + (round * 7919) % 400));
        let (_, stderr) = broker.kill_with_stderr();
        torn += stderr.matches("ignored").count();
        broker = start_on(port, &file);
    }
    stop_publishing.store(true, Ordering::Relaxed);
    publisher.join().unwrap();

    let acked: Vec<String> = published.lock().unwrap().acked.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    let missing = loop {
        let missing: Vec<String> = {
            let received = received.lock().unwrap();
            acked
                .iter()
                .filter(|text| !received.counts.contains_key(*text))
                .cloned()
                .collect()
        };
        if missing.is_empty() || Instant::now() > deadline {
            break missing;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    stop_receiving.store(true, Ordering::Relaxed);
    subscriber.join().unwrap();
    let received = received.lock().unwrap();
    let duplicates = |prefix: &str| -> u32 {
        received
            .counts
            .iter()
            .filter(|(text, _)| text.starts_with(prefix))
            .map(|(_, count)| count - 1)
            .sum()
    };
    let (dup1, dup2) = (duplicates("q1-"), duplicates("q2-"));
    let sent = published.lock().unwrap().sent;
    eprintln!(
        "kill -9 x20 in {:.1} s: {sent} published, {} acknowledged, {} delivered (distinct), \
         {dup1} QoS 1 duplicates, {dup2} QoS 2 duplicates, {} lost; {torn} torn journal tails",
        started.elapsed().as_secs_f64(),
        acked.len(),
        received.counts.len(),
        missing.len()
    );
    assert!(
        acked.len() > 100,
        "too little traffic to tell: {}",
        acked.len()
    );
    assert!(
        missing.is_empty(),
        "acknowledged but never delivered: {:?}",
        &missing[..missing.len().min(20)]
    );
    assert_eq!(dup2, 0, "QoS 2 messages delivered twice");
    assert!(broker.terminate().success());
}

#[test]
fn the_library_saves_on_stop() {
    use skeeter::broker::{BackgroundBroker, Config};
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        persistence_file: Some(dir.path().join("lib.db")),
        autosave_interval: Duration::ZERO,
        ..Config::default()
    };
    let broker = BackgroundBroker::start(config.clone()).unwrap();
    let port = broker.local_addr().port();
    // QoS 1: pub exits once the broker has it, so stop() cannot come first.
    publish(port, &["-t", "lib", "-r", "-q", "1", "-m", "kept"]);
    broker.stop();
    // The snapshot alone has it: no journal to replay.
    std::fs::remove_file(dir.path().join("lib.db.journal")).unwrap();
    let broker = BackgroundBroker::start(config).unwrap();
    let port = broker.local_addr().port();
    assert_eq!(sub(port, &["-t", "lib", "-C", "1", "-W", "5"]), "kept\n");
    broker.stop();

    // A file that cannot be used is an error naming it, of the PersistenceError kind.
    let bad = dir.path().join("bad.db");
    std::fs::write(&bad, "junk").unwrap();
    let err = BackgroundBroker::start(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        persistence_file: Some(bad),
        ..Config::default()
    })
    .err()
    .expect("refused");
    let inner = err.get_ref().expect("an inner error");
    assert!(inner.is::<skeeter::broker::PersistenceError>(), "{err}");
    assert!(err.to_string().contains("bad.db is not a skeeter"), "{err}");
}

#[test]
fn a_delayed_will_waits_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("skeeter.db");
    let (broker, port) = persistent_broker(&file, &[]);
    let mut command = common::skeeter_std();
    command.args([
        "sub",
        "-d",
        "-p",
        &port.to_string(),
        "-V",
        "5",
        "-i",
        "willer",
    ]);
    command.args(["-x", "600", "-t", "nothing", "--will-topic", "will/t"]);
    command.args(["--will-payload", "gone", "--will-retain", "-D", "will"]);
    command.args(["will-delay-interval", "3"]);
    let client = common::Background::spawn(command, "received SUBACK");
    // Vanish without DISCONNECT: the will is due in 3 s.
    let killed = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-9", &client.pid().to_string()])
        .status();
    let _ = client.finish(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    assert!(broker.terminate().success());

    let (broker, port) = persistent_broker(&file, &[]);
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "too slow to tell"
    );
    // Not yet: its time has not come.
    let output = skeeter()
        .args([
            "sub",
            "-p",
            &port.to_string(),
            "-t",
            "will/t",
            "--retained-only",
            "-W",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(common::text(&output.stdout), "");
    let got = sub(port, &["-t", "will/t", "-C", "1", "-W", "10"]);
    assert_eq!(got, "gone\n");
    assert!(killed.elapsed() >= Duration::from_secs(3));
    assert!(broker.terminate().success());
}
