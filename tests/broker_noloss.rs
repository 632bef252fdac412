//! No message lost when a persistent-session subscriber loses its connection: a publisher sends
//! numbered QoS 1 and QoS 2 messages while the real `skeeter sub -c` processes (one per QoS)
//! either have their connection cut 100 times by a fault-injecting TCP proxy (the process
//! lives on and reconnects by itself) or are killed with SIGKILL and restarted with the same
//! client id 100 times. Every QoS 1 message must arrive at least once, every QoS 2 message
//! exactly once (with the process alive), each in the order sent. Run against skeeter's broker,
//! and against mosquitto the same way to show the test is fair.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::watch;

use common::{Mosquitto, TestBroker};

/// How many times each subscriber's connection is cut, or its process killed.
const FAULTS: usize = 100;
/// One QoS 1 and one QoS 2 message per tick.
const PUBLISH_EVERY: Duration = Duration::from_millis(4);
/// How long every wait for the subscribers may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// Written straight to stderr: libtest hides what `eprintln!` prints in a passing test.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A small pseudo-random generator (xorshift), seeded from the clock: waits vary between runs.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Jitter(seed)
    }

    /// A duration between `low` and `high` milliseconds.
    fn millis(&mut self, low: u64, high: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(low + self.0 % (high - low + 1))
    }
}

/// A TCP proxy on 127.0.0.1 in front of the broker that drops every live connection on command.
struct Proxy {
    port: u16,
    cuts: watch::Sender<u64>,
    /// Connections through which the broker has answered (its CONNACK went by), not yet cut.
    answered: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(runtime: &Runtime, upstream: SocketAddr) -> Proxy {
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let (cuts, _) = watch::channel(0u64);
        let answered = Arc::new(AtomicUsize::new(0));
        let (cut_rx, counter) = (cuts.subscribe(), Arc::clone(&answered));
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (cut_rx, counter) = (cut_rx.clone(), Arc::clone(&counter));
                tokio::spawn(relay(client, upstream, cut_rx, counter));
            }
        });
        Proxy {
            port,
            cuts,
            answered,
        }
    }

    /// Drop every connection open now.
    fn cut(&self) {
        self.answered.store(0, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Wait until `count` connections are answered again; false after PATIENCE.
    fn wait_answered(&self, count: usize) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while self.answered.load(Ordering::SeqCst) < count {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }
}

/// One proxied connection, until either side closes it or it is cut.
async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut cuts: watch::Receiver<u64>,
    answered: Arc<AtomicUsize>,
) {
    cuts.borrow_and_update();
    let Ok(mut broker) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = (client.set_nodelay(true), broker.set_nodelay(true));
    let (mut client_in, mut client_out) = client.split();
    let (mut broker_in, mut broker_out) = broker.split();
    let upward = tokio::io::copy(&mut client_in, &mut broker_out);
    let downward = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut counted = false;
        loop {
            let n = broker_in.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            client_out.write_all(&buf[..n]).await?;
            if !counted {
                counted = true;
                answered.fetch_add(1, Ordering::SeqCst);
            }
        }
    };
    tokio::select! {
        _ = upward => {}
        _ = downward => {}
        _ = cuts.changed() => {}
    }
}

/// Numbered messages, one QoS 1 to `<base>/q1` and one QoS 2 to `<base>/q2` per tick, until
/// stopped; then waits for every acknowledgement. Returns how many of each were sent.
struct Publisher {
    stop: watch::Sender<bool>,
    done: tokio::task::JoinHandle<u64>,
}

impl Publisher {
    fn start(runtime: &Runtime, port: u16, base: &str) -> Publisher {
        let mut options = MqttOptions::new(format!("{base}-publisher"), "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(30));
        // Within mosquitto's default receive quota (20): more is closed with PUBACK 0x97.
        options.set_inflight(16);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (stop, mut stop_rx) = watch::channel(false);
        let acked = Arc::new(AtomicU64::new(0));
        let acked_by_loop = Arc::clone(&acked);
        runtime.spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_) | Packet::PubComp(_))) => {
                        acked_by_loop.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(err) => panic!("the publisher's connection failed: {err}"),
                }
            }
        });
        let (q1, q2) = (format!("{base}/q1"), format!("{base}/q2"));
        let done = runtime.spawn(async move {
            let mut sent = 0u64;
            let mut tick = tokio::time::interval(PUBLISH_EVERY);
            while !*stop_rx.borrow_and_update() {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop_rx.changed() => break,
                }
                let payload = sent.to_string();
                client
                    .publish(&q1, QoS::AtLeastOnce, false, payload.clone())
                    .await
                    .unwrap();
                client
                    .publish(&q2, QoS::ExactlyOnce, false, payload)
                    .await
                    .unwrap();
                sent += 1;
            }
            let deadline = Instant::now() + PATIENCE;
            while acked.load(Ordering::SeqCst) < 2 * sent {
                assert!(
                    Instant::now() < deadline,
                    "the broker did not ack every publish"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let _ = client.disconnect().await;
            sent
        });
        Publisher { stop, done }
    }

    fn finish(self, runtime: &Runtime) -> u64 {
        self.stop.send_replace(true);
        runtime.block_on(self.done).expect("the publisher")
    }
}

/// One `skeeter sub -c` process; the numbers it printed are read as they come.
struct Subscriber {
    child: Child,
    printed: Arc<Mutex<Vec<u64>>>,
    reader: Option<JoinHandle<()>>,
    stderr: mpsc::Receiver<String>,
}

impl Subscriber {
    /// `skeeter sub -c -i ID -q QOS -t TOPIC -p PORT -d` (and `-V 5` for MQTT 5, where -c
    /// means a session that never expires), returned once `ready` is on stderr.
    fn spawn(port: u16, mqtt5: bool, id: &str, qos: u8, topic: &str, ready: &str) -> Subscriber {
        let version = if mqtt5 { "5" } else { "311" };
        let mut child = common::skeeter_std()
            .args(["sub", "-c", "-d", "-V", version, "-i", id, "-t", topic])
            .args(["-q", &qos.to_string(), "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn skeeter sub");
        let printed = Arc::new(Mutex::new(Vec::new()));
        let (stdout, into) = (child.stdout.take().unwrap(), Arc::clone(&printed));
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let n = line
                    .parse()
                    .unwrap_or_else(|_| panic!("not a number: {line:?}"));
                into.lock().unwrap().push(n);
            }
        });
        let (tx, stderr) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut subscriber = Subscriber {
            child,
            printed,
            reader: Some(reader),
            stderr,
        };
        subscriber.wait_for_stderr(ready);
        subscriber
    }

    fn wait_for_stderr(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(_) => panic!("skeeter sub never printed '{text}' on stderr"),
            }
        }
    }

    /// For a failure message: whether it still runs, and the last lines of its stderr.
    fn state(&mut self) -> String {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => format!("exited ({status})"),
            _ => "running".to_owned(),
        };
        let lines: Vec<String> = self.stderr.try_iter().collect();
        let tail = lines[lines.len().saturating_sub(12)..].join("\n  ");
        format!("skeeter sub {status}; its stderr ends:\n  {tail}")
    }

    fn last(&self) -> Option<u64> {
        self.printed.lock().unwrap().last().copied()
    }

    /// SIGKILL (to this process only), then everything it printed.
    fn kill(mut self) -> Vec<u64> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        std::mem::take(&mut *self.printed.lock().unwrap())
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one subscriber got out of `sent` numbered messages.
struct Tally {
    received: usize,
    duplicates: usize,
    lost: usize,
    /// The first out-of-order number, if any (a new number before an earlier one).
    out_of_order: Option<u64>,
}

fn tally(sent: u64, printed: &[u64]) -> Tally {
    let mut seen = vec![0u32; sent as usize];
    let mut next_new = 0u64;
    let mut out_of_order = None;
    for &n in printed {
        assert!(n < sent, "received {n}, but only {sent} messages were sent");
        if seen[n as usize] == 0 {
            if n != next_new && out_of_order.is_none() {
                out_of_order = Some(n);
            }
            next_new = next_new.max(n + 1);
        }
        seen[n as usize] += 1;
    }
    Tally {
        received: printed.len(),
        duplicates: seen.iter().map(|&c| c.saturating_sub(1) as usize).sum(),
        lost: seen.iter().filter(|&&c| c == 0).count(),
        out_of_order,
    }
}

/// The tallies of both subscribers (QoS 1, QoS 2), printed.
fn report(broker: &str, scenario: &str, sent: u64, printed: [&[u64]; 2]) -> [Tally; 2] {
    let tallies = printed.map(|printed| tally(sent, printed));
    for (qos, t) in [1, 2].iter().zip(&tallies) {
        say(&format!(
            "{broker}, {scenario}, QoS {qos}: sent {sent}, received {}, duplicates {}, lost {}{}",
            t.received,
            t.duplicates,
            t.lost,
            t.out_of_order
                .map_or(String::new(), |n| format!(", OUT OF ORDER at {n}")),
        ));
    }
    tallies
}

/// Wait (at most PATIENCE) until `last()` says the subscriber printed message `sent - 1`.
fn wait_for_last(sent: u64, last: impl Fn() -> Option<u64>, who: &str) {
    let deadline = Instant::now() + PATIENCE;
    while last() != Some(sent - 1) {
        assert!(
            Instant::now() < deadline,
            "{who}: the last message ({}) never came; last printed: {:?}",
            sent - 1,
            last()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Scenario 2: both subscribers' connections cut FAULTS times; the processes live on.
fn connection_cuts(broker_name: &str, broker_port: u16, mqtt5: bool) {
    let runtime = runtime();
    let proxy = Proxy::start(&runtime, SocketAddr::from(([127, 0, 0, 1], broker_port)));
    let base = format!("noloss-cut{}-{}", u8::from(mqtt5), std::process::id());
    let mut subscribers = [1u8, 2].map(|qos| {
        Subscriber::spawn(
            proxy.port,
            mqtt5,
            &format!("{base}-q{qos}"),
            qos,
            &format!("{base}/q{qos}"),
            "received SUBACK",
        )
    });
    let publisher = Publisher::start(&runtime, broker_port, &base);
    let mut jitter = Jitter::new();
    let started = Instant::now();
    for cut in 0..FAULTS {
        if !proxy.wait_answered(subscribers.len()) {
            let states: Vec<String> = subscribers.iter_mut().map(Subscriber::state).collect();
            panic!(
                "{broker_name}: the subscribers did not reconnect after cut {cut}:\n{}",
                states.join("\n")
            );
        }
        std::thread::sleep(jitter.millis(40, 120));
        proxy.cut();
    }
    assert!(proxy.wait_answered(subscribers.len()));
    let sent = publisher.finish(&runtime);
    say(&format!(
        "{broker_name}: {FAULTS} cuts of each subscriber's connection in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    for (qos, subscriber) in [1, 2].iter().zip(&subscribers) {
        wait_for_last(sent, || subscriber.last(), &format!("QoS {qos}"));
    }
    // Everything has come; anything still on its way would be a duplicate.
    std::thread::sleep(Duration::from_millis(300));
    let [q1, q2] = subscribers.map(Subscriber::kill);
    let [t1, t2] = report(broker_name, "connection cut 100 times", sent, [&q1, &q2]);
    for (qos, t) in [(1, &t1), (2, &t2)] {
        assert_eq!(t.lost, 0, "{broker_name}: QoS {qos} messages lost");
        // mosquitto 2.0.11 was seen sending a QoS 2 message for the first time before an
        // older one of the same publisher when its queue for a reconnecting subscriber was
        // long (far past its 20 in flight): order is asserted for skeeter's broker, reported
        // for mosquitto.
        if !broker_name.starts_with("mosquitto") {
            assert_eq!(
                t.out_of_order, None,
                "{broker_name}: QoS {qos} out of order"
            );
        }
    }
    assert_eq!(t2.duplicates, 0, "{broker_name}: QoS 2 messages duplicated");
    assert!(sent > 0);
}

/// Scenario 3: both subscribers killed (SIGKILL) and restarted FAULTS times.
fn subscriber_kills(broker_name: &str, broker_port: u16, mqtt5: bool) {
    let runtime = runtime();
    let base = format!("noloss-kill{}-{}", u8::from(mqtt5), std::process::id());
    let spawn = |qos: u8, ready: &str| {
        Subscriber::spawn(
            broker_port,
            mqtt5,
            &format!("{base}-q{qos}"),
            qos,
            &format!("{base}/q{qos}"),
            ready,
        )
    };
    let mut printed: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
    let mut subscribers = vec![spawn(1, "received SUBACK"), spawn(2, "received SUBACK")];
    let publisher = Publisher::start(&runtime, broker_port, &base);
    let mut jitter = Jitter::new();
    let started = Instant::now();
    for _ in 0..FAULTS {
        std::thread::sleep(jitter.millis(40, 120));
        for (i, subscriber) in subscribers.drain(..).enumerate() {
            printed[i].extend(subscriber.kill());
        }
        // The same client ids again: the sessions, kept by the broker, are resumed.
        subscribers = vec![spawn(1, "received CONNACK"), spawn(2, "received CONNACK")];
    }
    let sent = publisher.finish(&runtime);
    say(&format!(
        "{broker_name}: {FAULTS} kills and restarts of each subscriber in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    for (i, subscriber) in subscribers.iter().enumerate() {
        // What the earlier processes printed counts too.
        let last = || subscriber.last().or_else(|| printed[i].last().copied());
        wait_for_last(sent, last, &format!("QoS {}", i + 1));
    }
    std::thread::sleep(Duration::from_millis(300));
    for (i, subscriber) in subscribers.drain(..).enumerate() {
        printed[i].extend(subscriber.kill());
    }
    let [t1, t2] = report(
        broker_name,
        "subscriber killed 100 times",
        sent,
        [&printed[0], &printed[1]],
    );
    for (qos, t) in [(1, &t1), (2, &t2)] {
        assert_eq!(t.lost, 0, "{broker_name}: QoS {qos} messages lost");
        // mosquitto 2.0.11 was seen sending a QoS 2 message for the first time before an
        // older one of the same publisher when its queue for a reconnecting subscriber was
        // long (far past its 20 in flight): order is asserted for skeeter's broker, reported
        // for mosquitto.
        if !broker_name.starts_with("mosquitto") {
            assert_eq!(
                t.out_of_order, None,
                "{broker_name}: QoS {qos} out of order"
            );
        }
    }
    assert!(sent > 0);
}

#[test]
fn skeeter_broker_connection_cuts_lose_nothing() {
    let broker = TestBroker::start();
    connection_cuts("skeeter", broker.port(), false);
}

#[test]
fn skeeter_broker_subscriber_kills_lose_nothing() {
    let broker = TestBroker::start();
    subscriber_kills("skeeter", broker.port(), false);
}

#[test]
fn skeeter_broker_mqtt5_connection_cuts_lose_nothing() {
    let broker = TestBroker::start();
    connection_cuts("skeeter, MQTT 5", broker.port(), true);
}

#[test]
fn skeeter_broker_mqtt5_subscriber_kills_lose_nothing() {
    let broker = TestBroker::start();
    subscriber_kills("skeeter, MQTT 5", broker.port(), true);
}

#[test]
fn mosquitto_connection_cuts_lose_nothing() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    connection_cuts("mosquitto", mosquitto.port, false);
}

#[test]
fn mosquitto_subscriber_kills_lose_nothing() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    subscriber_kills("mosquitto", mosquitto.port, false);
}
