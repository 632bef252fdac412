//! Connection load: 10,000 idle MQTT connections held at once by a `skeeter broker` process, a
//! publish still going round under that load, and the memory each idle connection costs (RSS
//! from /proc/PID/status), side by side with mosquitto.
//!
//! The load generator is a raw-TCP client (a CONNECT written by hand, the CONNACK checked), so
//! it costs little next to the broker. `SKEETER_LOAD_CONNECTIONS` changes the count and
//! `SKEETER_LOAD_BROKER` the skeeter binary (bench/connections.sh points it at a release build).

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use common::{Mosquitto, listening_port};

const DEFAULT_CONNECTIONS: usize = 10_000;
/// Connections being opened at once: enough to be quick, few enough for the listen backlog.
const OPENING_AT_ONCE: usize = 64;
/// File descriptors needed besides the connections (the test harness, pipes, the probe).
const SPARE_FDS: u64 = 256;
/// Keep-alive announced in CONNECT: the test never needs to send PINGREQ.
const KEEP_ALIVE_SECS: u16 = 600;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Written straight to stderr: libtest hides what `eprintln!` prints in a passing test.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn connections_wanted() -> usize {
    std::env::var("SKEETER_LOAD_CONNECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_CONNECTIONS)
}

/// Raise the soft RLIMIT_NOFILE to the hard limit (children inherit it); Err gives the hard
/// limit when it is below what `needed` descriptors take.
fn raise_fd_limit(needed: u64) -> Result<u64, u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_max < needed {
            return Err(limit.rlim_max);
        }
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    Ok(limit.rlim_cur)
}

/// VmRSS of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read its status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmRSS in /proc/PID/status")
}

/// The soft open file limit of a process, as /proc/PID/limits gives it.
fn fd_limit(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3).map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The MQTT remaining-length encoding.
fn remaining_length(out: &mut Vec<u8>, mut len: usize) {
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
}

fn packet(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first_byte];
    remaining_length(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// An MQTT 3.1.1 CONNECT with a clean session.
fn connect_packet(client_id: &str) -> Vec<u8> {
    let mut body = Vec::new();
    string(&mut body, "MQTT");
    body.push(4);
    body.push(0x02);
    body.extend_from_slice(&KEEP_ALIVE_SECS.to_be_bytes());
    string(&mut body, client_id);
    packet(0x10, &body)
}

/// Connect, send CONNECT, expect CONNACK accepted; the open connection.
async fn mqtt_connect(port: u16, client_id: String) -> Result<TcpStream, String> {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|err| format!("connect: {err}"))?;
        stream
            .write_all(&connect_packet(&client_id))
            .await
            .map_err(|err| format!("write CONNECT: {err}"))?;
        let mut connack = [0u8; 4];
        stream
            .read_exact(&mut connack)
            .await
            .map_err(|err| format!("read CONNACK: {err}"))?;
        if connack != [0x20, 0x02, 0x00, 0x00] {
            return Err(format!("CONNACK {connack:02x?}"));
        }
        Ok(stream)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| Err("no CONNACK in time".into()))
}

/// Open `count` connections, `OPENING_AT_ONCE` at a time.
async fn open_connections(port: u16, count: usize, prefix: &str) -> Vec<TcpStream> {
    let gate = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let mut opening = JoinSet::new();
    for n in 0..count {
        let permit = Arc::clone(&gate).acquire_owned().await.unwrap();
        let client_id = format!("{prefix}-{n}");
        opening.spawn(async move {
            let opened = mqtt_connect(port, client_id).await;
            drop(permit);
            opened
        });
    }
    let mut open = Vec::with_capacity(count);
    let mut failures = Vec::new();
    while let Some(joined) = opening.join_next().await {
        match joined.expect("connection task") {
            Ok(stream) => open.push(stream),
            Err(why) => failures.push(why),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} connections failed, first: {}",
        failures.len(),
        failures[0]
    );
    open
}

/// How many of the connections the broker closed or wrote to (an idle client is sent nothing),
/// as the kernel sees them now.
fn not_idle(connections: &[TcpStream]) -> usize {
    use std::os::fd::AsRawFd;
    let mut byte = [0u8; 1];
    connections
        .iter()
        .filter(|stream| {
            // SAFETY: a one-byte peek into a local buffer, on a socket the stream owns.
            let peeked = unsafe {
                libc::recv(
                    stream.as_raw_fd(),
                    byte.as_mut_ptr().cast(),
                    1,
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            let nothing_to_read = peeked < 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock;
            !nothing_to_read
        })
        .count()
}

/// A publish from one new connection to a subscriber on another, under the load: the time
/// from PUBLISH written to PUBLISH received.
async fn round_trip(port: u16, prefix: &str) -> Duration {
    let mut subscriber = mqtt_connect(port, format!("{prefix}-probe-sub"))
        .await
        .expect("probe subscriber connects");
    let topic = format!("load/{prefix}/probe");
    let mut body = vec![0, 1];
    string(&mut body, &topic);
    body.push(0);
    subscriber
        .write_all(&packet(0x82, &body))
        .await
        .expect("write SUBSCRIBE");
    let mut suback = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(10), subscriber.read_exact(&mut suback))
        .await
        .expect("SUBACK in time")
        .expect("read SUBACK");
    assert_eq!(suback, [0x90, 0x03, 0x00, 0x01, 0x00], "SUBACK");

    let mut publisher = mqtt_connect(port, format!("{prefix}-probe-pub"))
        .await
        .expect("probe publisher connects");
    let payload = b"under load";
    let mut body = Vec::new();
    string(&mut body, &topic);
    body.extend_from_slice(payload);
    let publish = packet(0x30, &body);
    let sent = Instant::now();
    publisher.write_all(&publish).await.expect("write PUBLISH");
    let mut received = vec![0u8; publish.len()];
    tokio::time::timeout(
        Duration::from_secs(10),
        subscriber.read_exact(&mut received),
    )
    .await
    .expect("the publish came round in time")
    .expect("read PUBLISH");
    let took = sent.elapsed();
    assert_eq!(received, publish, "the subscriber got the PUBLISH as sent");
    took
}

/// What one broker did under the load.
struct Figures {
    connections: usize,
    opened_in: Duration,
    round_trip: Duration,
    rss_idle: u64,
    rss_loaded: u64,
}

impl Figures {
    fn per_connection(&self) -> f64 {
        self.rss_loaded.saturating_sub(self.rss_idle) as f64 / self.connections as f64
    }
}

/// Hold `count` connections to the broker at `port` (process `pid`), check that they all stay
/// open and that a publish still goes round, and measure its RSS before and under the load.
fn measure(name: &str, port: u16, pid: u32, count: usize) -> Figures {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // A connection first, so that one-time allocations are not counted per connection.
        let warm = open_connections(port, 1, &format!("{name}-warm")).await;
        drop(warm);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rss_idle = rss(pid);

        let started = Instant::now();
        let connections = open_connections(port, count, name).await;
        let opened_in = started.elapsed();
        assert_eq!(connections.len(), count);
        let round_trip = round_trip(port, name).await;
        // Let the broker settle (freed handshake buffers, lazily returned memory).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_loaded = rss(pid);
        assert_eq!(
            not_idle(&connections),
            0,
            "{name} closed (or wrote to) idle connections"
        );
        say(&format!(
            "{name} (open file limit {}): {count} connections open in {:.1} s; a publish under \
             that load went round in {:.1} ms; RSS {:.1} MiB idle, {:.1} MiB with {count} \
             connections",
            fd_limit(pid),
            opened_in.as_secs_f64(),
            round_trip.as_secs_f64() * 1000.0,
            rss_idle as f64 / 1048576.0,
            rss_loaded as f64 / 1048576.0,
        ));
        drop(connections);
        Figures {
            connections: count,
            opened_in,
            round_trip,
            rss_idle,
            rss_loaded,
        }
    })
}

fn skeeter_binary() -> PathBuf {
    std::env::var_os("SKEETER_LOAD_BROKER")
        .map(PathBuf::from)
        .unwrap_or_else(common::bin)
}

#[test]
fn ten_thousand_idle_connections_skeeter_and_mosquitto() {
    let count = connections_wanted();
    match raise_fd_limit(count as u64 + SPARE_FDS) {
        Ok(limit) => say(&format!("open file limit raised to {limit}")),
        Err(hard) => {
            common::note_skipped(&format!(
                "the hard open file limit ({hard}) is below the {} that {count} connections need",
                count as u64 + SPARE_FDS
            ));
            return;
        }
    }

    let mut child = Command::new(skeeter_binary())
        .args(["broker", "--port", "0"])
        .env("XDG_CONFIG_HOME", common::NO_CONFIG)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start skeeter broker");
    let skeeter = {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("a listening line").expect("stdout");
        let port = listening_port(&[first], "mqtt");
        // Keep reading stdout so the broker never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let figures = measure("skeeter", port, child.id(), count);
        assert!(child.try_wait().unwrap().is_none(), "skeeter broker exited");
        let _ = child.kill();
        let _ = child.wait();
        figures
    };

    let Some(mosquitto) = Mosquitto::start("max_connections -1") else {
        return;
    };
    let theirs = measure("mosquitto", mosquitto.port, mosquitto.pid(), count);
    drop(mosquitto);

    let (ours, others) = (skeeter.per_connection(), theirs.per_connection());
    say(&format!(
        "RSS per idle connection ({count} connections): skeeter {:.0} B, mosquitto {:.0} B, \
         ratio skeeter/mosquitto {:.2}",
        ours,
        others,
        ours / others.max(1.0)
    ));
    say(&format!(
        "opening {count} connections took skeeter {:.1} s, mosquitto {:.1} s; a publish under \
         load went round in {:.1} ms and {:.1} ms",
        skeeter.opened_in.as_secs_f64(),
        theirs.opened_in.as_secs_f64(),
        skeeter.round_trip.as_secs_f64() * 1000.0,
        theirs.round_trip.as_secs_f64() * 1000.0,
    ));
    assert!(
        skeeter.rss_loaded > skeeter.rss_idle,
        "skeeter's RSS did not grow with {count} connections: is the PID right?"
    );
}
