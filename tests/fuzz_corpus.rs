//! The broker's fuzz entry on stable Rust: every input of the committed seed corpus and every
//! crash the fuzzer once found (`fuzz/corpus/broker_frames`, `fuzz/regressions/broker_frames`)
//! runs through `skeeter::broker::fuzz::run_connection`, so CI exercises the entry and the
//! fixed crashes stay fixed without nightly or cargo-fuzz.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use skeeter::broker::fuzz::run_connection;

fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file() && !path.ends_with(".gitkeep"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// Panics anywhere in the process, spawned broker tasks included (tokio would swallow those).
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

#[test]
fn the_seed_corpus_and_past_crashes_run_clean() {
    let panics = count_panics();
    let seeds = inputs("fuzz/corpus/broker_frames");
    assert!(seeds.len() >= 40, "only {} seeds", seeds.len());
    let mut unanswered = Vec::new();
    for (name, bytes) in &seeds {
        let started = Instant::now();
        if run_connection(bytes) == 0 && !name.contains("bad_") {
            unanswered.push(name);
        }
        // Virtual time: even a seed whose clients wait for keep-alive runs at once.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name} took {:?}",
            started.elapsed()
        );
    }
    // Nearly every seed of valid sessions is answered (CONNACK at least). Not all: a client
    // whose bytes end in DISCONNECT may be gone before its writer ran (and so may one whose
    // bytes end in a malformed frame, hence the bad_ seeds are not counted).
    assert!(
        unanswered.len() * 10 < seeds.len(),
        "the broker sent nothing to {unanswered:?}"
    );
    for (name, bytes) in inputs("fuzz/regressions/broker_frames") {
        let started = Instant::now();
        run_connection(&bytes);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name} took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(panics.load(Ordering::SeqCst), 0, "the broker panicked");
}

#[test]
fn routing_happens_between_the_simulated_clients() {
    // One client subscribes, the next publishes to it: the subscriber's stream carries the
    // message, so the broker wrote more than the CONNACKs, SUBACK, PUBACK and PINGRESPs.
    let connect = |id: &str| {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60];
        body.extend_from_slice(&(id.len() as u16).to_be_bytes());
        body.extend_from_slice(id.as_bytes());
        let mut frame = vec![0x10, body.len() as u8];
        frame.extend_from_slice(&body);
        frame
    };
    let subscriber = [connect("s"), b"\x82\x06\x00\x01\x00\x01t\x01".to_vec()].concat();
    let publish = |payload: &[u8]| {
        let mut frame = vec![0x32, (5 + payload.len()) as u8, 0, 1, b't', 0, 9];
        frame.extend_from_slice(payload);
        frame
    };
    let input = |payload: &[u8]| {
        let publisher = [connect("p"), publish(payload)].concat();
        let mut input = vec![0u8];
        for client in [&subscriber, &publisher] {
            input.extend_from_slice(&(client.len() as u16).to_be_bytes());
            input.extend_from_slice(client);
        }
        input
    };
    let short = run_connection(&input(b"x"));
    let long = run_connection(&input(&[b'y'; 100]));
    // CONNACK 4 + SUBACK 5 (subscriber), CONNACK 4 + PUBACK 4 (publisher), then the PUBLISH
    // (QoS 1: 2 + 3 + 2 + payload).
    assert_eq!(short, 4 + 5 + 4 + 4 + 7 + 1);
    assert_eq!(long - short, 99);
}
