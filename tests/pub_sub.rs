//! `skeeter pub` and `skeeter sub` end to end through the embedded broker: payload sources,
//! output formats, counts, timeouts, retained messages, closed pipes and reconnects.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Background, TestBroker, skeeter, skeeter_std, skeeter_sub};

const WAIT: Duration = Duration::from_secs(20);

fn publish(broker: &TestBroker, args: &[&str]) {
    skeeter()
        .args(["pub", "-p", &broker.port_arg()])
        .args(args)
        .assert()
        .success();
}

fn publish_stdin(broker: &TestBroker, args: &[&str], stdin: impl Into<Vec<u8>>) {
    skeeter()
        .args(["pub", "-p", &broker.port_arg()])
        .args(args)
        .write_stdin(stdin.into())
        .assert()
        .success();
}

fn finish(sub: Background) -> Vec<u8> {
    let (code, out) = sub.finish(WAIT);
    assert_eq!(
        code,
        Some(0),
        "sub output so far: {:?}",
        String::from_utf8_lossy(&out)
    );
    out
}

#[test]
fn message_at_each_qos() {
    let broker = TestBroker::start();
    for qos in ["0", "1", "2"] {
        let sub = skeeter_sub(broker.port(), &["-t", "q/#", "-q", qos, "-C", "1", "-v"]);
        publish(&broker, &["-t", "q/x", "-q", qos, "-m", "hello"]);
        assert_eq!(finish(sub), b"q/x hello\n", "qos {qos}");
    }
}

#[test]
fn qos1_and_2_wait_for_the_acknowledgement_before_disconnecting() {
    let broker = TestBroker::start();
    for (qos, ack) in [("1", "received PUBACK"), ("2", "received PUBCOMP")] {
        let out = skeeter()
            .args([
                "pub",
                "-d",
                "-p",
                &broker.port_arg(),
                "-t",
                "a",
                "-q",
                qos,
                "-m",
                "x",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        let trace = String::from_utf8(out.stderr).unwrap();
        let acked = trace
            .find(ack)
            .unwrap_or_else(|| panic!("no {ack} in {trace}"));
        let disconnect = trace.find("sending DISCONNECT").expect("DISCONNECT sent");
        assert!(acked < disconnect, "{trace}");
    }
}

#[test]
fn file_payload_is_binary_safe() {
    let broker = TestBroker::start();
    let dir = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let path = dir.path().join("payload.bin");
    std::fs::write(&path, &payload).unwrap();
    let sub = skeeter_sub(broker.port(), &["-t", "bin", "-C", "1", "-N", "-q", "1"]);
    publish(
        &broker,
        &["-t", "bin", "-q", "1", "-f", path.to_str().unwrap()],
    );
    assert_eq!(finish(sub), payload);
}

#[test]
fn stdin_as_one_message() {
    let broker = TestBroker::start();
    let sub = skeeter_sub(broker.port(), &["-t", "s", "-C", "1", "-N"]);
    publish_stdin(
        &broker,
        &["-t", "s", "-s"],
        b"two\nlines\0and a NUL\n".to_vec(),
    );
    assert_eq!(finish(sub), b"two\nlines\0and a NUL\n");
}

#[test]
fn stdin_lines_one_message_each() {
    let broker = TestBroker::start();
    let sub = skeeter_sub(broker.port(), &["-t", "l", "-C", "4", "-v", "-q", "1"]);
    // An empty line is an empty message, \r is kept, a last line without newline is sent.
    publish_stdin(
        &broker,
        &["-t", "l", "-l", "-q", "1"],
        b"one\n\ntwo\r\nlast".to_vec(),
    );
    assert_eq!(finish(sub), b"l one\nl (null)\nl two\r\nl last\n");
}

#[test]
fn empty_stdin_sends_nothing_and_succeeds() {
    let broker = TestBroker::start();
    publish_stdin(&broker, &["-t", "l", "-l", "-q", "1"], Vec::new());
}

#[test]
fn many_lines_at_qos_1_all_arrive_in_order() {
    let broker = TestBroker::start();
    let sub = skeeter_sub(broker.port(), &["-t", "many", "-C", "20000", "-q", "1"]);
    let input: String = (1..=20000).map(|i| format!("{i}\n")).collect();
    publish_stdin(&broker, &["-t", "many", "-l", "-q", "1"], input.clone());
    assert_eq!(String::from_utf8(finish(sub)).unwrap(), input);
}

#[test]
fn null_message_and_empty_output_rules() {
    let broker = TestBroker::start();
    // Without -v an empty payload prints nothing at all; with -v it prints `topic (null)`.
    let plain = skeeter_sub(broker.port(), &["-t", "n/#", "-C", "3"]);
    let verbose = skeeter_sub(broker.port(), &["-t", "n/#", "-C", "3", "-v"]);
    let joined = skeeter_sub(broker.port(), &["-t", "n/#", "-C", "3", "-v", "-N"]);
    publish(&broker, &["-t", "n/a", "-m", "hello"]);
    publish(&broker, &["-t", "n/b", "-n"]);
    publish(&broker, &["-t", "n/c", "-m", "world"]);
    assert_eq!(finish(plain), b"hello\nworld\n");
    assert_eq!(finish(verbose), b"n/a hello\nn/b (null)\nn/c world\n");
    assert_eq!(finish(joined), b"n/a hellon/c world");
}

#[test]
fn repeat_and_repeat_delay() {
    let broker = TestBroker::start();
    let sub = skeeter_sub(broker.port(), &["-t", "rep", "-C", "3", "-q", "1"]);
    let started = Instant::now();
    publish(
        &broker,
        &[
            "-t",
            "rep",
            "-q",
            "1",
            "-m",
            "again",
            "--repeat",
            "3",
            "--repeat-delay",
            "0.3",
        ],
    );
    let spent = started.elapsed();
    assert_eq!(finish(sub), b"again\nagain\nagain\n");
    // Two pauses of 0.3 s between three publishes: a bound on behaviour, not a benchmark.
    assert!(spent >= Duration::from_millis(600), "took {spent:?}");
}

#[test]
fn retained_messages_and_sub_filters() {
    let broker = TestBroker::start();
    publish(&broker, &["-t", "ret/a", "-r", "-q", "1", "-m", "kept"]);

    let all = skeeter_sub(broker.port(), &["-t", "ret/#", "-C", "2", "-v"]);
    let without_retained = skeeter_sub(broker.port(), &["-t", "ret/#", "-C", "1", "-v", "-R"]);
    let retained_only = skeeter_sub(broker.port(), &["-t", "ret/#", "-v", "--retained-only"]);
    let filtered = skeeter_sub(
        broker.port(),
        &["-t", "ret/#", "-T", "ret/a", "-C", "1", "-v"],
    );
    publish(&broker, &["-t", "ret/b", "-m", "live"]);

    assert_eq!(finish(all), b"ret/a kept\nret/b live\n");
    assert_eq!(finish(without_retained), b"ret/b live\n");
    // --retained-only stops at the first live message without printing it.
    assert_eq!(finish(retained_only), b"ret/a kept\n");
    assert_eq!(finish(filtered), b"ret/b live\n");

    // An empty retained message clears it: a new subscriber gets nothing.
    publish(&broker, &["-t", "ret/a", "-r", "-n"]);
    let out = skeeter()
        .args(["sub", "-p", &broker.port_arg(), "-t", "ret/a", "-W", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(27));
    assert!(out.stdout.is_empty());
}

#[test]
fn timeout_exits_27() {
    let broker = TestBroker::start();
    let out = skeeter()
        .args(["sub", "-p", &broker.port_arg(), "-t", "quiet", "-W", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(27));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("Timed out"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
}

#[test]
fn exit_after_subscribe_and_kept_sessions() {
    let broker = TestBroker::start();
    let port = broker.port_arg();
    // -E with -c sets up a kept session, which collects QoS 1 messages while we are away.
    skeeter()
        .args([
            "sub", "-p", &port, "-t", "away/#", "-q", "1", "-c", "-i", "keeper", "-E",
        ])
        .assert()
        .success();
    publish(
        &broker,
        &["-t", "away/1", "-q", "1", "-m", "while you were out"],
    );
    let out = skeeter()
        .args([
            "sub", "-p", &port, "-t", "away/#", "-q", "1", "-c", "-i", "keeper", "-C", "1", "-v",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"away/1 while you were out\n");

    // -U removes a subscription of the kept session: nothing arrives for it any more.
    skeeter()
        .args([
            "sub", "-p", &port, "-t", "other", "-U", "away/#", "-q", "1", "-c", "-i", "keeper",
            "-E",
        ])
        .assert()
        .success();
    publish(&broker, &["-t", "away/2", "-q", "1", "-m", "lost"]);
    let out = skeeter()
        .args([
            "sub", "-p", &port, "-t", "other", "-q", "1", "-c", "-i", "keeper", "-W", "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(27));
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn closed_pipe_is_a_clean_exit() {
    let broker = TestBroker::start();
    let mut command = skeeter_std();
    command.args(["sub", "-d", "-p", &broker.port_arg(), "-t", "pipe"]);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + WAIT;
    while !rx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .expect("SUBACK")
        .contains("received SUBACK")
    {}
    publish(&broker, &["-t", "pipe", "-m", "first"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "first\n");
    drop(stdout); // the reader goes away, as `| head -1` does
    publish(&broker, &["-t", "pipe", "-m", "second"]);
    publish(&broker, &["-t", "pipe", "-m", "third"]);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "sub did not exit after its reader went away"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        !rest
            .iter()
            .any(|l| l.contains("error") || l.contains("panick") || l.contains("Broken pipe")),
        "{rest:?}"
    );
}

#[test]
fn signal_stops_sub_cleanly_and_will_is_not_sent() {
    let broker = TestBroker::start();
    let watcher = skeeter_sub(broker.port(), &["-t", "will/#", "-v", "-W", "3"]);
    let sub = skeeter_sub(
        broker.port(),
        &[
            "-t",
            "x",
            "--will-topic",
            "will/a",
            "--will-payload",
            "gone",
        ],
    );
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &sub.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(finish_code(sub), Some(0));
    let (code, out) = watcher.finish(WAIT);
    assert_eq!(code, Some(27), "no will after a clean exit");
    assert!(out.is_empty(), "{:?}", String::from_utf8_lossy(&out));
}

#[test]
fn will_is_published_when_the_client_vanishes() {
    let broker = TestBroker::start();
    let watcher = skeeter_sub(broker.port(), &["-t", "will/#", "-v", "-C", "1"]);
    let sub = skeeter_sub(
        broker.port(),
        &[
            "-t",
            "x",
            "--will-topic",
            "will/b",
            "--will-payload",
            "gone",
            "--will-qos",
            "1",
        ],
    );
    let kill = std::process::Command::new("kill")
        .args(["-KILL", &sub.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(finish(watcher), b"will/b gone\n");
}

fn finish_code(sub: Background) -> Option<i32> {
    sub.finish(WAIT).0
}

#[test]
fn sub_reconnects_and_subscribes_again() {
    let first = TestBroker::start();
    let port = first.port();
    let mut sub = skeeter_sub(port, &["-t", "re/#", "-v", "-C", "1", "-q", "1"]);
    first.stop();
    sub.wait_for_stderr("reconnecting");
    // A new broker on the same port: the subscription must be made again there.
    let config = skeeter::broker::Config {
        bind: format!("127.0.0.1:{port}").parse().unwrap(),
        ..Default::default()
    };
    let second = skeeter::broker::BackgroundBroker::start(config).expect("same port again");
    sub.wait_for_stderr("received SUBACK");
    skeeter()
        .args([
            "pub",
            "-p",
            &port.to_string(),
            "-t",
            "re/x",
            "-q",
            "1",
            "-m",
            "back",
        ])
        .assert()
        .success();
    assert_eq!(finish(sub), b"re/x back\n");
    second.stop();
}

#[test]
fn payload_of_256_mb_goes_through() {
    // Far above rumqttc's 10 KiB default limits: 256 MB, byte for byte, at QoS 1.
    let broker = TestBroker::start();
    let dir = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = (0..256_000_000u32).map(|i| (i % 251) as u8).collect();
    let path = dir.path().join("big.bin");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&payload)
        .unwrap();
    let sub = skeeter_sub(broker.port(), &["-t", "big", "-C", "1", "-N", "-q", "1"]);
    publish(
        &broker,
        &["-t", "big", "-q", "1", "-f", path.to_str().unwrap()],
    );
    let out = finish(sub);
    assert_eq!(out.len(), payload.len());
    assert!(out == payload);
}

#[test]
fn payload_over_the_mqtt_limit_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("too-big.bin");
    // Sparse: 268435453 bytes, one more than fits with topic "t" at QoS 0 (268435455 - 2 - 1).
    std::fs::File::create(&path)
        .unwrap()
        .set_len(268_435_453)
        .unwrap();
    let port = common::free_port().to_string();
    let out = skeeter()
        .args(["pub", "-p", &port, "-t", "t", "-f", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(10));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("at most 268435452"), "{stderr}");
}

#[test]
fn bind_address_sets_the_local_end() {
    // A bare listener shows where the connection comes from.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let client = std::thread::spawn(move || {
        skeeter()
            .args(["pub", "-h", "127.0.0.1", "-p", &port, "-A", "127.0.0.2"])
            .args(["-t", "a", "-m", "x", "--quiet"])
            .output()
            .unwrap()
    });
    let (stream, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip().to_string(), "127.0.0.2");
    drop(stream);
    assert_ne!(client.join().unwrap().status.code(), Some(0));

    // Through a real broker, messages flow as usual.
    let broker = TestBroker::start();
    let sub = skeeter_sub(
        broker.port(),
        &["-t", "bound", "-C", "1", "-A", "127.0.0.3"],
    );
    publish(
        &broker,
        &[
            "-t",
            "bound",
            "-q",
            "1",
            "-A",
            "127.0.0.4",
            "-m",
            "from afar",
        ],
    );
    assert_eq!(finish(sub), b"from afar\n");

    // An address that is not ours is one clear error.
    let out = skeeter()
        .args([
            "pub",
            "-p",
            &broker.port_arg(),
            "-h",
            "127.0.0.1",
            "-A",
            "192.0.2.1",
        ])
        .args(["-t", "a", "-m", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("skeeter: error: cannot connect to 127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("from 192.0.2.1"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
}

#[test]
fn remove_retained_clears_and_exits_with_retained_only() {
    let broker = TestBroker::start();
    for topic in ["rr/a", "rr/b", "rr/c"] {
        publish(&broker, &["-t", topic, "-r", "-q", "1", "-m", "stale"]);
    }
    // mosquitto_sub never exits here; skeeter clears all three, waits for the acks, and exits.
    let out = skeeter()
        .args(["sub", "-p", &broker.port_arg(), "-t", "rr/#", "-v"])
        .args(["--remove-retained", "--retained-only", "-W", "10"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<_> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    assert_eq!(lines, ["rr/a stale", "rr/b stale", "rr/c stale"]);
    let after = skeeter()
        .args(["sub", "-p", &broker.port_arg(), "-t", "rr/#", "-W", "1"])
        .output()
        .unwrap();
    assert_eq!(after.status.code(), Some(27));
    assert!(
        after.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&after.stdout)
    );
}

#[test]
fn remove_retained_with_a_count_clears_what_it_printed() {
    let broker = TestBroker::start();
    for topic in ["rc/a", "rc/b", "rc/c"] {
        publish(&broker, &["-t", topic, "-r", "-q", "1", "-m", "stale"]);
    }
    let out = skeeter()
        .args(["sub", "-p", &broker.port_arg(), "-t", "rc/#", "-v"])
        .args(["--remove-retained", "-C", "2", "-W", "10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
    let left = skeeter()
        .args([
            "sub",
            "-p",
            &broker.port_arg(),
            "-t",
            "rc/#",
            "-W",
            "1",
            "-v",
        ])
        .output()
        .unwrap();
    assert_eq!(left.status.code(), Some(27));
    assert_eq!(String::from_utf8(left.stdout).unwrap().lines().count(), 1);
}

#[test]
fn random_filter_prints_that_percentage_and_counts_all() {
    let broker = TestBroker::start();
    let sub = skeeter_sub(
        broker.port(),
        &[
            "-t",
            "rand",
            "-C",
            "400",
            "--random-filter",
            "50",
            "-q",
            "1",
        ],
    );
    let input: String = (1..=400).map(|i| format!("{i}\n")).collect();
    publish_stdin(&broker, &["-t", "rand", "-l", "-q", "1"], input);
    let printed = String::from_utf8(finish(sub)).unwrap().lines().count();
    // Binomial(400, 0.5): 100..300 is ten standard deviations either side.
    assert!((100..=300).contains(&printed), "printed {printed} of 400");

    let sub = skeeter_sub(
        broker.port(),
        &["-t", "all", "-C", "50", "--random-filter", "100"],
    );
    let input: String = (1..=50).map(|i| format!("{i}\n")).collect();
    publish_stdin(&broker, &["-t", "all", "-l", "-q", "1"], input.clone());
    assert_eq!(String::from_utf8(finish(sub)).unwrap(), input);
}

/// Two subs with one client id: each takeover closes the other's connection (MQTT 3.1.1), and
/// they take turns at the back-off's pace, not in a tight loop.
#[test]
fn two_subs_with_one_client_id_do_not_spin() {
    use std::io::Read;
    let broker = common::TestBroker::start();
    let port = broker.port().to_string();
    let spawn = || {
        common::skeeter_std()
            .args(["sub", "-p", &port, "-i", "twin", "-t", "twins"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut twins = [spawn(), spawn()];
    std::thread::sleep(std::time::Duration::from_secs(3));
    let mut reconnects = 0;
    for twin in &mut twins {
        twin.kill().unwrap();
        twin.wait().unwrap();
        let mut stderr = String::new();
        twin.stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        reconnects += stderr.matches("reconnected to").count();
    }
    // Back-off 1 s, 2 s, ... for each: a handful in 3 s, where a tight loop makes thousands.
    assert!(reconnects <= 8, "{reconnects} reconnections in 3 s");
}
