//! `skeeter bench`: end to end, pub, sub and conn against an in-process broker (and mosquitto
//! when installed); the summary's counts, --json, --rate, the embedded broker, refusals and
//! exit codes. No timing is asserted: only counts, fields and codes.

mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use common::{Mosquitto, TestBroker, one_error_line, skeeter, skeeter_std, text};
use skeeter::broker::{BackgroundBroker, Config};

/// `skeeter bench ARGS --json`, bounded in time.
fn bench(args: &[&str]) -> Output {
    skeeter()
        .arg("bench")
        .args(args)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap()
}

/// The JSON summary of a run that exited 0.
fn summary(output: &Output) -> Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}\nstdout: {}",
        text(&output.stderr),
        text(&output.stdout)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output.stdout)))
}

fn count(summary: &Value, path: &[&str]) -> u64 {
    let mut value = summary;
    for key in path {
        value = &value[key];
    }
    value
        .as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a count in {summary}"))
}

#[test]
fn end_to_end_qos1_two_publishers_two_subscribers() {
    let broker = TestBroker::start();
    let port = broker.port_arg();
    let args = [
        "-p",
        &port,
        "--publishers",
        "2",
        "--subscribers",
        "2",
        "--count",
        "1000",
        "-q",
        "1",
        "--json",
    ];
    let s = summary(&bench(&args));
    assert_eq!(s["mode"], "end-to-end");
    assert_eq!(s["embedded_broker"], false);
    assert_eq!(count(&s, &["messages", "sent"]), 2000);
    assert_eq!(count(&s, &["messages", "acked"]), 2000);
    // Both subscribers take skeeter/bench/+: each gets both publishers' messages.
    assert_eq!(count(&s, &["messages", "received"]), 4000);
    assert_eq!(count(&s, &["messages", "expected"]), 4000);
    assert_eq!(count(&s, &["messages", "lost"]), 0);
    assert_eq!(count(&s, &["messages", "duplicated"]), 0);
    assert_eq!(count(&s, &["connections", "ok"]), 4);
    assert_eq!(count(&s, &["connections", "failed"]), 0);
    for latency in ["connect", "publish_ack", "end_to_end"] {
        let figures = &s["latency_ms"][latency];
        for key in ["p50", "p90", "p99", "p99_9", "max"] {
            assert!(figures[key].is_number(), "{latency}.{key} in {s}");
        }
    }
    assert_eq!(count(&s, &["latency_ms", "end_to_end", "count"]), 4000);
    assert_eq!(count(&s, &["latency_ms", "connect", "count"]), 4);
    for key in ["sent_msg_s", "received_msg_s", "sent_mb_s", "received_mb_s"] {
        assert!(s["throughput"][key].is_number(), "{key} in {s}");
        assert!(s["throughput"]["steady"][key].is_number(), "steady {key}");
    }
    assert!(s["cpu"]["user_s"].is_number() && s["cpu"]["system_s"].is_number());
    assert!(s["rate"].is_null());
    assert_eq!(s["interrupted"], false);
}

#[test]
fn the_text_summary() {
    let broker = TestBroker::start();
    let output = bench(&["-p", &broker.port_arg(), "--count", "200", "-q", "1"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for words in [
        "bench end-to-end: 1 publisher(s) -> 1 subscriber(s), QoS 1",
        "connections   2 ok, 0 failed",
        "sent 200, acknowledged 200, received 200, expected 200",
        "lost 0, duplicated 0, out of order 0",
        "  publish-ack ",
        "  end to end ",
        "cpu           user ",
    ] {
        assert!(stdout.contains(words), "no '{words}' in:\n{stdout}");
    }
    // Progress goes to a terminal only; with a broker given there is no note either.
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn fan_out_and_fan_in() {
    let broker = TestBroker::start();
    let port = broker.port_arg();
    let fan_out = summary(&bench(&[
        "-p",
        &port,
        "-t",
        "bench/fanout",
        "--publishers",
        "1",
        "--subscribers",
        "5",
        "--count",
        "300",
        "-q",
        "1",
        "--json",
    ]));
    assert_eq!(fan_out["sub_topic"], "bench/fanout");
    assert_eq!(count(&fan_out, &["messages", "received"]), 1500);
    assert_eq!(count(&fan_out, &["messages", "lost"]), 0);
    let fan_in = summary(&bench(&[
        "-p",
        &port,
        "--publishers",
        "5",
        "--subscribers",
        "1",
        "--count",
        "300",
        "-q",
        "1",
        "--json",
    ]));
    assert_eq!(fan_in["sub_topic"], "skeeter/bench/+");
    assert_eq!(count(&fan_in, &["messages", "received"]), 1500);
    // Publisher i to subscriber i only.
    let pairs = summary(&bench(&[
        "-p",
        &port,
        "-t",
        "pairs/%i",
        "--sub-topic",
        "pairs/%i",
        "--publishers",
        "3",
        "--subscribers",
        "3",
        "--count",
        "100",
        "-q",
        "1",
        "--json",
    ]));
    assert_eq!(count(&pairs, &["messages", "received"]), 300);
    assert_eq!(count(&pairs, &["messages", "expected"]), 300);
}

#[test]
fn rate_mode() {
    let broker = TestBroker::start();
    let port = broker.port_arg();
    // --count: exactly that many, on a schedule of 2000 msg/s over both publishers.
    let s = summary(&bench(&[
        "-p",
        &port,
        "--rate",
        "2000",
        "--count",
        "250",
        "--publishers",
        "2",
        "-q",
        "1",
        "--json",
    ]));
    assert_eq!(s["rate"]["asked_msg_s"], 2000.0);
    assert!(s["rate"]["kept"].is_boolean());
    assert!(s["rate"]["max_lag_ms"].is_number());
    assert_eq!(count(&s, &["messages", "sent"]), 500);
    assert_eq!(count(&s, &["messages", "received"]), 500);
    // --duration 1 at 1000 msg/s: at most the 1000 scheduled in that second.
    let s = summary(&bench(&[
        "-p",
        &port,
        "--rate",
        "1000",
        "--duration",
        "1",
        "-q",
        "1",
        "--json",
    ]));
    let sent = count(&s, &["messages", "sent"]);
    assert!(sent > 0 && sent <= 1000, "sent {sent}");
    assert_eq!(count(&s, &["messages", "received"]), sent);
    assert_eq!(count(&s, &["messages", "lost"]), 0);
}

#[test]
fn conn_mode() {
    let broker = TestBroker::start();
    let s = summary(&bench(&[
        "conn",
        "-p",
        &broker.port_arg(),
        "--clients",
        "50",
        "--conn-rate",
        "0",
        "--json",
    ]));
    assert_eq!(s["mode"], "conn");
    assert_eq!(count(&s, &["connections", "ok"]), 50);
    assert_eq!(count(&s, &["latency_ms", "connect", "count"]), 50);
    assert!(s["messages"].is_null());
    assert!(s["latency_ms"]["end_to_end"].is_null());
}

#[test]
fn refusals_are_counted_by_reason_code() {
    let broker = BackgroundBroker::start(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        allow_anonymous: false,
        ..Config::default()
    })
    .unwrap();
    let port = broker.local_addr().port().to_string();
    // Every client refused: the CONNACK code is the exit code, as for pub; the summary still
    // comes, with the reasons.
    let output = bench(&["conn", "-p", &port, "--clients", "3", "--json"]);
    assert_eq!(output.status.code(), Some(5), "{}", text(&output.stderr));
    let s: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(s["connections"]["failures"]["5 not authorised"], 3);
    let output = bench(&["conn", "-p", &port, "--clients", "2", "-V", "5", "--json"]);
    assert_eq!(output.status.code(), Some(135));
    let s: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(s["connections"]["failures"]["0x87 not authorized"], 2);
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("skeeter: error: connection refused"));
    broker.stop();
}

#[test]
fn nothing_listening_is_one_error_line() {
    let port = common::free_port().to_string();
    let output = bench(&["-h", "127.0.0.1", "-p", &port, "--count", "10"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "skeeter: error: cannot connect to 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    let stdout = text(&output.stdout);
    assert!(stdout.contains("connection refused"), "{stdout}");
}

#[test]
fn without_a_host_the_embedded_broker_is_used() {
    let output = bench(&["--count", "500", "-q", "1", "--json"]);
    let s = summary(&output);
    assert_eq!(s["embedded_broker"], true);
    assert_eq!(count(&s, &["messages", "received"]), 500);
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("bench: no host given, using the embedded broker on 127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("share"), "{stderr}");
    // --quiet: no note.
    let output = bench(&["--count", "10", "--quiet"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn pub_alone() {
    let broker = TestBroker::start();
    let s = summary(&bench(&[
        "pub",
        "-p",
        &broker.port_arg(),
        "--clients",
        "2",
        "--count",
        "400",
        "-q",
        "1",
        "--json",
    ]));
    assert_eq!(s["mode"], "pub");
    assert_eq!(count(&s, &["messages", "sent"]), 800);
    assert_eq!(count(&s, &["messages", "acked"]), 800);
    assert!(s["messages"]["received"].is_null());
    assert_eq!(count(&s, &["latency_ms", "publish_ack", "count"]), 800);
    assert!(s["latency_ms"]["end_to_end"].is_null());
}

#[test]
fn sub_alone_measures_another_processes_publishers() {
    let broker = TestBroker::start();
    let port = broker.port_arg();
    let sub = skeeter_std()
        .args([
            "bench", "sub", "-p", &port, "--count", "900", "-q", "1", "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    broker.wait_for_subscriptions(1);
    summary(&bench(&[
        "pub",
        "-p",
        &port,
        "--publishers",
        "3",
        "--count",
        "300",
        "-q",
        "1",
        "--json",
    ]));
    let output = wait_bounded(sub, Duration::from_secs(20));
    let s = summary(&output);
    assert_eq!(s["mode"], "sub");
    assert_eq!(count(&s, &["messages", "received"]), 900);
    assert_eq!(count(&s, &["messages", "lost"]), 0);
    assert_eq!(count(&s, &["latency_ms", "end_to_end", "count"]), 900);
    // Nothing published: --duration ends it all the same.
    let s = summary(&bench(&["sub", "-p", &port, "--duration", "0.5", "--json"]));
    assert_eq!(count(&s, &["messages", "received"]), 0);
}

/// Wait for a child (killed after `limit`) and collect its output.
fn wait_bounded(child: std::process::Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            // SAFETY: our own child's pid.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("the process did not end within {limit:?}");
        }
    }
}

#[test]
fn ctrl_c_ends_the_run_with_its_summary() {
    let broker = TestBroker::start();
    let child = skeeter_std()
        .args([
            "bench",
            "-p",
            &broker.port_arg(),
            "--duration",
            "60",
            "-q",
            "1",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    broker.wait_for_subscriptions(1);
    // Once a message has come, publishing has started (a Ctrl-C before it ends the run with
    // no figures).
    let watcher = common::skeeter_sub(broker.port(), &["-t", "skeeter/bench/+", "-C", "1"]);
    let (code, _) = watcher.finish(Duration::from_secs(20));
    assert_eq!(code, Some(0));
    // SAFETY: our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let s = summary(&wait_bounded(child, Duration::from_secs(20)));
    assert_eq!(s["interrupted"], true);
    assert_eq!(
        count(&s, &["messages", "received"]),
        count(&s, &["messages", "sent"])
    );
}

#[test]
fn lost_qos1_messages_exit_15() {
    // A subscriber queue of one message: the broker drops what does not fit.
    let broker = BackgroundBroker::start(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        max_queued_messages: 1,
        max_inflight: 1,
        ..Config::default()
    })
    .unwrap();
    let port = broker.local_addr().port().to_string();
    let output = bench(&[
        "-p",
        &port,
        "--publishers",
        "4",
        "--count",
        "2000",
        "-q",
        "1",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(15), "{}", text(&output.stderr));
    let s: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(count(&s, &["messages", "lost"]) > 0);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("QoS 1/2 message(s) lost"), "{stderr}");
    broker.stop();
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for args in [
        &["--size", "10"][..],
        &["--rate", "0"],
        &["--count", "0"],
        &["--clients", "3"],
        &["conn", "--rate", "10"],
        &["sub", "--size", "100"],
        &["pub", "--sub-topic", "a/+"],
        &["--duration", "1", "--warmup", "2"],
        &["-t", "a/#"],
        &["--sub-topic", "$share/g/a/+"],
        &["pub", "--clients", "2", "--publishers", "2"],
        &["--cafile", "/nonexistent"],
        &["conn", "-q", "1"],
    ] {
        let output = skeeter().arg("bench").args(args).output().unwrap();
        one_error_line(&output, 2);
    }
}

#[test]
fn end_to_end_against_mosquitto() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    let port = mosquitto.port_arg();
    let s = summary(&bench(&[
        "-p",
        &port,
        "--publishers",
        "2",
        "--subscribers",
        "2",
        "--count",
        "500",
        "-q",
        "1",
        "--json",
    ]));
    assert_eq!(count(&s, &["messages", "received"]), 2000);
    assert_eq!(count(&s, &["messages", "lost"]), 0);
    let s = summary(&bench(&[
        "-p", &port, "-V", "5", "--count", "300", "-q", "2", "--json",
    ]));
    assert_eq!(count(&s, &["messages", "received"]), 300);
    assert_eq!(count(&s, &["messages", "duplicated"]), 0);
}
