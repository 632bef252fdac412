//! `skeeter clean-retained`: every retained message under a filter listed or cleared, and the
//! run over as soon as the retained burst is, with no fresh message needed.

mod common;

use std::time::{Duration, Instant};

use common::{Mosquitto, TestBroker, skeeter, text};

const RETAINED: usize = 2000;

fn retain_many(port: u16) {
    let lines: String = (0..RETAINED)
        .map(|i| {
            format!(
                "{{\"topic\":\"sweep/{}/{i}\",\"payload\":\"v{i}\",\"retain\":true}}\n",
                i % 7
            )
        })
        .collect();
    skeeter()
        .args(["pub", "-p", &port.to_string(), "-q", "1", "--json"])
        .write_stdin(lines)
        .assert()
        .success();
    skeeter()
        .args([
            "pub",
            "-p",
            &port.to_string(),
            "-t",
            "elsewhere/kept",
            "-m",
            "x",
            "-r",
        ])
        .assert()
        .success();
}

fn clean(port: u16, args: &[&str]) -> (Vec<String>, String, Duration) {
    let started = Instant::now();
    let output = skeeter()
        .args(["clean-retained", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let topics = text(&output.stdout).lines().map(str::to_owned).collect();
    (topics, text(&output.stderr), took)
}

fn sweep(port: u16) {
    retain_many(port);
    let (listed, stderr, took) = clean(port, &["--dry-run", "sweep/#"]);
    assert_eq!(listed.len(), RETAINED);
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "listed in topic order");
    assert!(stderr.contains(&format!(
        "{RETAINED} retained message(s) under 'sweep/#' (dry run"
    )));
    // No waiting for a fresh message: done in well under the -W default.
    assert!(took < Duration::from_secs(10), "{took:?}");

    let (cleared, stderr, _) = clean(port, &["sweep/#"]);
    assert_eq!(cleared, listed);
    assert!(
        stderr.contains(&format!("cleared {RETAINED} retained message(s)")),
        "{stderr}"
    );
    let (left, stderr, _) = clean(port, &["--dry-run", "sweep/#"]);
    assert!(left.is_empty(), "{left:?}");
    assert!(stderr.contains("0 retained message(s)"), "{stderr}");
    // Outside the filter, nothing was touched.
    let (kept, _, _) = clean(port, &["--dry-run", "elsewhere/#"]);
    assert_eq!(kept, ["elsewhere/kept"]);
}

#[test]
fn sweeps_the_embedded_broker() {
    let broker = TestBroker::start();
    sweep(broker.port());
}

#[test]
fn sweeps_mosquitto() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    sweep(mosquitto.port);
}

#[test]
fn an_empty_filter_is_quick_and_bad_filters_are_usage_errors() {
    let broker = TestBroker::start();
    let (topics, stderr, took) = clean(broker.port(), &["--dry-run", "nothing/here/#"]);
    assert!(topics.is_empty());
    assert!(stderr.contains("0 retained message(s)"), "{stderr}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let output = skeeter()
        .args(["clean-retained", "-p", &broker.port().to_string(), "a/#/b"])
        .output()
        .unwrap();
    common::one_error_line(&output, 2);
}
