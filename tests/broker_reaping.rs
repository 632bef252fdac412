//! Clients that hold on to the broker's resources without doing anything useful: silent
//! sockets, half-open connections, slow drips, and storms of connects taking each other's
//! client ids. Each is dropped in time, and no session, subscription or connection task is left
//! behind.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::frames::{self, Version};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use skeeter::broker::{Broker, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

async fn start(connect_timeout: Duration) -> Broker {
    Broker::start(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        connect_timeout,
        ..Config::default()
    })
    .await
    .expect("broker starts")
}

async fn open(addr: SocketAddr) -> TcpStream {
    let stream = timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
}

/// Read until the broker closes the connection (at most `wait`); returns what it sent, or None
/// if it was still open then.
async fn until_closed(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    timeout(wait, async {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = stream.read(&mut chunk).await {
            received.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .ok()
    .map(|()| received)
}

/// Wait (at most 10 s) until the broker holds `connections` connections, `sessions` sessions
/// and `subscriptions` subscriptions.
async fn settles_at(broker: &Broker, connections: usize, sessions: usize, subscriptions: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = (
            broker.connections(),
            broker.sessions(),
            broker.subscriptions(),
        );
        if now == (connections, sessions, subscriptions) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "(connections, sessions, subscriptions) = {now:?}, expected \
             {:?}",
            (connections, sessions, subscriptions)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_sends_nothing_is_dropped_after_the_connect_timeout() {
    let broker = start(Duration::from_millis(500)).await;
    let addr = broker.local_addr();
    let started = Instant::now();
    let mut silent = open(addr).await;
    // And one that sends its CONNECT a byte at a time, too slowly: the deadline is for the
    // whole CONNECT, not for each byte.
    let mut dripping = open(addr).await;
    let connect = frames::connect(Version::V311, "drip", true, 60, None, None, 0);
    let drip = tokio::spawn(async move {
        for byte in connect {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if dripping.write_all(&[byte]).await.is_err() {
                return (dripping, true);
            }
        }
        (dripping, false)
    });

    assert_eq!(until_closed(&mut silent, WAIT).await, Some(Vec::new()));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(8),
        "closed after {elapsed:?}, expected about 500 ms"
    );
    let (mut dripping, cut_off) = timeout(WAIT, drip).await.unwrap().unwrap();
    assert!(
        cut_off || until_closed(&mut dripping, WAIT).await == Some(Vec::new()),
        "the dripping client got a CONNACK"
    );
    settles_at(&broker, 0, 0, 0).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_half_open_client_is_reaped_after_one_and_a_half_keep_alives() {
    let broker = start(Duration::from_secs(10)).await;
    let addr = broker.local_addr();
    for version in [Version::V311, Version::V5] {
        let mut client = open(addr).await;
        client
            .write_all(&frames::connect(version, "quiet", true, 1, None, None, 0))
            .await
            .unwrap();
        client
            .write_all(&frames::subscribe(version, 1, &[("q/#", 1)]))
            .await
            .unwrap();
        let started = Instant::now();
        settles_at(&broker, 1, 1, 1).await;
        // Then silence, without closing: the broker must notice on its own.
        let received = until_closed(&mut client, WAIT)
            .await
            .expect("the broker closes a silent client");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1400) && elapsed < Duration::from_secs(8),
            "{version:?}: closed after {elapsed:?}, expected about 1.5 s"
        );
        assert_eq!(received[0], 0x20, "{version:?}: CONNACK first");
        if version == Version::V5 {
            // DISCONNECT with reason 0x8d, keep-alive timeout, last.
            assert_eq!(&received[received.len() - 4..], &[0xe0, 0x02, 0x8d, 0x00]);
        }
        settles_at(&broker, 0, 0, 0).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_that_never_make_a_packet_do_not_keep_a_client_alive() {
    let broker = start(Duration::from_secs(10)).await;
    let addr = broker.local_addr();
    let mut client = open(addr).await;
    client
        .write_all(&frames::connect(
            Version::V311,
            "drip",
            true,
            1,
            None,
            None,
            0,
        ))
        .await
        .unwrap();
    let started = Instant::now();
    // A PUBLISH announcing 100 bytes, sent a byte every 250 ms: 25 s for the whole packet.
    let (mut reader, mut writer) = client.into_split();
    let drip = tokio::spawn(async move {
        let publish = frames::publish(Version::V311, "t", 0, 0, false, &[b'x'; 97], None);
        for byte in publish {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let closed = timeout(WAIT, async {
        let mut chunk = [0u8; 64];
        while let Ok(1..) = reader.read(&mut chunk).await {}
    })
    .await;
    let elapsed = started.elapsed();
    assert!(closed.is_ok(), "a dripping client was kept alive");
    assert!(
        elapsed >= Duration::from_millis(1400) && elapsed < Duration::from_secs(8),
        "closed after {elapsed:?}, expected about 1.5 s"
    );
    drip.abort();
    settles_at(&broker, 0, 0, 0).await;
    broker.stop().await;
}

/// How the clients of a storm connect.
#[derive(Clone, Copy)]
enum Sessions {
    /// MQTT 3.1.1 or 5, clean session / clean start with expiry 0.
    Clean,
    /// MQTT 3.1.1 or 5, a session that never expires.
    Persistent,
    /// MQTT 5 only, with this session expiry interval and a will delayed by 1 s.
    Expiring(u32),
}

/// One connect of the storm: CONNECT (and SUBSCRIBE) with `client_id`, then one of: wait for
/// the CONNACK and DISCONNECT, close at once, reset at once, or stay until taken over (a
/// little while at most).
async fn storm_connect(addr: SocketAddr, client_id: &str, sessions: Sessions, rng: &mut StdRng) {
    let version = if rng.random_bool(0.5) || matches!(sessions, Sessions::Expiring(_)) {
        Version::V5
    } else {
        Version::V311
    };
    let Ok(Ok(mut stream)) = timeout(WAIT, TcpStream::connect(addr)).await else {
        panic!("connect to the broker");
    };
    let (clean, expiry, will) = match sessions {
        Sessions::Clean => (true, 0, None),
        Sessions::Persistent => (false, u32::MAX, None),
        Sessions::Expiring(expiry) => (false, expiry, Some(("storm/will", &b"gone"[..], 1))),
    };
    let mut bytes = frames::connect(version, client_id, clean, 30, will, None, expiry);
    bytes.extend(frames::subscribe(version, 1, &[("storm/#", 1)]));
    if stream.write_all(&bytes).await.is_err() {
        return; // taken over before it was even written: fine
    }
    match rng.random_range(0..4) {
        0 => {
            let mut first = [0u8; 1];
            if let Ok(Ok(1)) = timeout(WAIT, stream.read(&mut first)).await {
                assert_eq!(first[0], 0x20, "CONNACK first");
            }
            let _ = stream.write_all(&frames::disconnect(version)).await;
            let _ = until_closed(&mut stream, WAIT).await;
        }
        1 => {}
        2 => {
            frames::reset_on_drop(&stream);
        }
        _ => {
            let _ = until_closed(&mut stream, Duration::from_millis(50)).await;
        }
    }
}

async fn storm(addr: SocketAddr, ids: &'static [&'static str], sessions: Sessions, seed: u64) {
    const CONNECTS: usize = 2_000;
    const AT_ONCE: usize = 50;
    let done = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..AT_ONCE)
        .map(|n| {
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed + n as u64);
                while done.fetch_add(1, Ordering::Relaxed) < CONNECTS {
                    let id = ids[rng.random_range(0..ids.len())];
                    storm_connect(addr, id, sessions, &mut rng).await;
                }
            })
        })
        .collect();
    for task in tasks {
        timeout(Duration::from_secs(60), task)
            .await
            .expect("the storm ends")
            .expect("a storm task");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_id_takeover_storm_leaves_nothing_behind() {
    let panics = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&panics);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counted.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    let broker = start(Duration::from_secs(10)).await;
    let addr = broker.local_addr();

    // Clean sessions: when the storm is over, nothing is left.
    let started = Instant::now();
    storm(addr, &["s0", "s1", "s2", "s3", "s4"], Sessions::Clean, 1).await;
    settles_at(&broker, 0, 0, 0).await;

    // Persistent sessions: one per client id is left, with its subscription, and no
    // connection; a clean connect of each id then ends them.
    const PERSISTENT: &[&str] = &["p0", "p1", "p2", "p3", "p4"];
    storm(addr, PERSISTENT, Sessions::Persistent, 100).await;
    settles_at(&broker, 0, PERSISTENT.len(), PERSISTENT.len()).await;
    eprintln!(
        "storm: 4,000 connects on 10 client ids in {:.1?}",
        started.elapsed()
    );
    for id in PERSISTENT {
        let mut client = open(addr).await;
        let mut bytes = frames::connect(Version::V311, id, true, 30, None, None, 0);
        bytes.extend(frames::disconnect(Version::V311));
        client.write_all(&bytes).await.unwrap();
        until_closed(&mut client, WAIT).await.expect("closed");
    }
    settles_at(&broker, 0, 0, 0).await;
    assert_eq!(panics.load(Ordering::SeqCst), 0, "something panicked");
    broker.stop().await;
}

/// Tasks alive on the runtime that runs the test and its broker.
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Wait (at most 10 s) until `count` tasks are alive.
async fn tasks_settle_at(count: usize) {
    let deadline = Instant::now() + WAIT;
    while alive_tasks() != count {
        assert!(
            Instant::now() < deadline,
            "{} tasks alive, expected {count}",
            alive_tasks()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reconnecting_sessions_with_an_expiry_leave_no_timers_behind() {
    let broker = start(Duration::from_secs(10)).await;
    let addr = broker.local_addr();
    let idle = alive_tasks();
    // Every end of a connection sets off an expiry timer of an hour (and a will delayed by
    // 1 s): each must go when the next connection takes its session back.
    const IDS: &[&str] = &["e0", "e1", "e2", "e3", "e4"];
    storm(addr, IDS, Sessions::Expiring(3600), 200).await;
    settles_at(&broker, 0, IDS.len(), IDS.len()).await;
    // One expiry timer per session is left: the last connection's.
    tasks_settle_at(idle + IDS.len()).await;
    for id in IDS {
        let mut client = open(addr).await;
        let mut bytes = frames::connect(Version::V5, id, true, 30, None, None, 0);
        bytes.extend(frames::disconnect(Version::V5));
        client.write_all(&bytes).await.unwrap();
        until_closed(&mut client, WAIT).await.expect("closed");
    }
    settles_at(&broker, 0, 0, 0).await;
    tasks_settle_at(idle).await;
    broker.stop().await;
}
