//! Interoperability with real peers: skeeter's client against mosquitto, mosquitto's clients and
//! Python paho-mqtt against skeeter's broker. Every test asserts on the bytes received and the
//! exit codes. A test whose peer is not installed prints "skipped" and passes, unless
//! SKEETER_REQUIRE_INTEROP is set: then it fails.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::watched::{Watched, contains, have_mosquitto_sub};
use common::{
    Mosquitto, TestBroker, free_port, have, have_paho, one_error_line, run_python, skeeter,
    skeeter_sub, text,
};

/// The longest any one-shot peer command may run.
const COMMAND_LIMIT: Duration = Duration::from_secs(20);
/// How long to watch for something that must not happen (a duplicate, a will).
const QUIET: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------------
// Helpers

/// mosquitto_sub -d mixes its trace into stdout: keep only the other lines (the messages).
fn without_trace(stdout: &[u8]) -> Vec<u8> {
    stdout
        .split_inclusive(|&b| b == b'\n')
        .filter(|line| !is_trace(line))
        .flatten()
        .copied()
        .collect()
}

fn is_trace(line: &[u8]) -> bool {
    line.starts_with(b"Client ") || line.starts_with(b"Subscribed (mid: ")
}

/// How many messages mosquitto_sub -d reports receiving.
fn publishes_traced(stdout: &[u8]) -> usize {
    stdout
        .split(|&b| b == b'\n')
        .filter(|line| line.starts_with(b"Client ") && contains(line, b" received PUBLISH ("))
        .count()
}

/// A mosquitto client (mosquitto_pub or mosquitto_sub) run to the end, bounded.
fn mosquitto_tool(program: &str, port: u16, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(program);
    cmd.args(["-p", &port.to_string()])
        .args(args)
        .timeout(COMMAND_LIMIT);
    cmd
}

/// Run mosquitto_pub and insist that it succeeds.
fn mosquitto_pub(port: u16, args: &[&str]) {
    mosquitto_tool("mosquitto_pub", port, args)
        .assert()
        .success();
}

/// `skeeter pub -p PORT ARGS` must succeed, silently.
fn skeeter_pub(port: u16, args: &[&str]) {
    skeeter()
        .args(["pub", "-p", &port.to_string()])
        .args(args)
        .assert()
        .success()
        .stdout("")
        .stderr("");
}

/// "1\n2\n...\nN\n", as `seq N` prints it.
fn seq(n: u32) -> String {
    let mut lines = String::with_capacity(n as usize * 7);
    for i in 1..=n {
        lines.push_str(&i.to_string());
        lines.push('\n');
    }
    lines
}

/// Run tests/interop/paho_pubsub.py against a broker; assert exit 0 and every check passed.
fn run_paho_checks(port: u16) {
    let output = run_python("paho_pubsub.py", &[&port.to_string()]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "paho checks failed\nstdout:\n{stdout}\nstderr:\n{}",
        text(&output.stderr)
    );
    assert_eq!(
        stdout,
        "ok subscribe\nok publish\nok delivery\nok retained\nok session\nok no-will\nok will\n\
         summary: 7 ok, 0 failed\n"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. skeeter pub -> mosquitto -> mosquitto_sub

#[test]
fn pub_qos_0_1_2_reach_mosquitto_sub() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    if !have_mosquitto_sub() {
        return;
    }
    let sub = Watched::mosquitto_sub(mosquitto.port, &["-q", "2", "-v", "-C", "3", "-t", "q/#"]);
    skeeter_pub(mosquitto.port, &["-q", "0", "-t", "q/0", "-m", "zero"]);
    skeeter_pub(mosquitto.port, &["-q", "1", "-t", "q/1", "-m", "one"]);
    skeeter_pub(mosquitto.port, &["-q", "2", "-t", "q/2", "-m", "two"]);
    let (code, stdout, _) = sub.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0), "stdout: {}", text(&stdout));
    assert_eq!(
        text(&without_trace(&stdout)),
        "q/0 zero\nq/1 one\nq/2 two\n"
    );
    // The subscription allows QoS 2, so each message arrives at the QoS skeeter published with.
    let traced = text(&stdout);
    for (qos, topic) in [(0, "q/0"), (1, "q/1"), (2, "q/2")] {
        let head = format!("received PUBLISH (d0, q{qos}, r0, m");
        let topic = format!("'{topic}'");
        assert!(
            traced
                .lines()
                .any(|l| l.contains(&head) && l.contains(&topic)),
            "no QoS {qos} PUBLISH on {topic} in the trace:\n{traced}"
        );
    }
}

#[test]
fn pub_file_binary_payload_is_byte_exact() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    if !have_mosquitto_sub() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all-bytes");
    let payload: Vec<u8> = (0..=255u8).collect();
    std::fs::write(&file, &payload).unwrap();

    let sub = Watched::mosquitto_sub(mosquitto.port, &["-N", "-C", "1", "-t", "bin"]);
    skeeter_pub(mosquitto.port, &["-t", "bin", "-f", file.to_str().unwrap()]);
    let (code, stdout, _) = sub.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));

    // With -N and -d, stdout is: trace lines, the PUBLISH trace line, the 256 payload bytes
    // exactly (no newline), then the DISCONNECT trace line.
    let marker = b"'bin', ... (256 bytes))\n";
    let start = stdout
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap_or_else(|| panic!("no PUBLISH of 256 bytes traced: {:?}", text(&stdout)))
        + marker.len();
    assert!(stdout.len() >= start + 256, "stdout too short: {stdout:?}");
    assert_eq!(&stdout[start..start + 256], payload.as_slice());
    let rest = &stdout[start + 256..];
    assert!(
        rest.split_inclusive(|&b| b == b'\n').all(is_trace),
        "more than the payload was printed: {:?}",
        text(rest)
    );
    assert_eq!(publishes_traced(&stdout), 1);
}

#[test]
fn pub_retained_is_seen_by_a_later_mosquitto_sub() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    if !have("mosquitto_sub") {
        return;
    }
    skeeter_pub(
        mosquitto.port,
        &["-r", "-q", "1", "-t", "kept/topic", "-m", "kept payload"],
    );
    mosquitto_tool(
        "mosquitto_sub",
        mosquitto.port,
        &["-C", "1", "-v", "-W", "5", "-t", "kept/#"],
    )
    .assert()
    .success()
    .stdout("kept/topic kept payload\n");
}

// ---------------------------------------------------------------------------------------------
// 2. 200 000 lines in order, QoS 1

const LINES: u32 = 200_000;

/// `seq 200000 | skeeter pub -l -q 1` to a broker with a `skeeter sub -q 1 -C 200000` waiting.
fn two_hundred_thousand_lines(broker: &str, port: u16) {
    let sub = Watched::skeeter_sub(port, &["-q", "1", "-C", &LINES.to_string(), "-t", "lines"]);
    let started = Instant::now();
    skeeter()
        .args([
            "pub",
            "-p",
            &port.to_string(),
            "-l",
            "-q",
            "1",
            "-t",
            "lines",
        ])
        .write_stdin(seq(LINES))
        .assert()
        .success()
        .stdout("")
        .stderr("");
    let (code, stdout, stderr) = sub.finish(Duration::from_secs(30));
    eprintln!(
        "{LINES} lines through {broker} (port {port}) in {:?}",
        started.elapsed()
    );
    assert_eq!(code, Some(0), "skeeter sub stderr: {stderr}");
    let expected = seq(LINES);
    if stdout != expected.as_bytes() {
        let got = text(&stdout);
        let first_difference = got
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(expected.lines().count()));
        panic!(
            "received {} lines, expected {LINES}; first difference at line {}: {:?}",
            got.lines().count(),
            first_difference + 1,
            got.lines().nth(first_difference)
        );
    }
}

#[test]
fn pub_lines_200k_in_order_through_mosquitto() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    two_hundred_thousand_lines("mosquitto", mosquitto.port);
}

#[test]
fn pub_lines_200k_in_order_through_the_embedded_broker() {
    let broker = TestBroker::start();
    two_hundred_thousand_lines("the embedded broker", broker.port());
}

// ---------------------------------------------------------------------------------------------
// 3. mosquitto_pub -> skeeter broker -> skeeter sub

#[test]
fn mosquitto_pub_qos_0_1_2_to_skeeter_sub_verbose() {
    if !have("mosquitto_pub") {
        return;
    }
    let broker = TestBroker::start();
    let mut sub = skeeter_sub(broker.port(), &["-q", "2", "-v", "-C", "3", "-t", "q/#"]);
    mosquitto_pub(broker.port(), &["-q", "0", "-t", "q/0", "-m", "zero"]);
    sub.wait_for_stderr("received PUBLISH (d0, q0, r0, m0, 'q/0', ... (4 bytes))");
    mosquitto_pub(broker.port(), &["-q", "1", "-t", "q/1", "-m", "one"]);
    sub.wait_for_stderr("received PUBLISH (d0, q1, r0, ");
    mosquitto_pub(broker.port(), &["-q", "2", "-t", "q/2", "-m", "two"]);
    sub.wait_for_stderr("received PUBLISH (d0, q2, r0, ");
    let (code, stdout) = sub.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(text(&stdout), "q/0 zero\nq/1 one\nq/2 two\n");
}

#[test]
fn mosquitto_pub_lines_to_skeeter_sub() {
    if !have("mosquitto_pub") {
        return;
    }
    let broker = TestBroker::start();
    let sub = skeeter_sub(broker.port(), &["-q", "1", "-C", "5", "-t", "lines"]);
    mosquitto_tool(
        "mosquitto_pub",
        broker.port(),
        &["-l", "-q", "1", "-t", "lines"],
    )
    .write_stdin("alpha\nbeta gamma\n\tdelta\ncr\r\nlast without newline")
    .assert()
    .success();
    let (code, stdout) = sub.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(
        text(&stdout),
        "alpha\nbeta gamma\n\tdelta\ncr\r\nlast without newline\n"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. mosquitto clients on the skeeter broker

#[test]
fn retained_set_and_cleared_by_mosquitto_clients_on_skeeter_broker() {
    if !have("mosquitto_pub") || !have("mosquitto_sub") {
        return;
    }
    let broker = TestBroker::start();
    let port = broker.port();
    mosquitto_pub(port, &["-r", "-q", "1", "-t", "r/t", "-m", "kept"]);
    mosquitto_tool(
        "mosquitto_sub",
        port,
        &["-C", "1", "-v", "-W", "5", "-t", "r/#"],
    )
    .assert()
    .success()
    .stdout("r/t kept\n");

    // An empty retained publish clears it: nothing arrives, -W runs out (27).
    mosquitto_pub(port, &["-r", "-q", "1", "-t", "r/t", "-n"]);
    mosquitto_tool("mosquitto_sub", port, &["-W", "1", "-v", "-t", "r/#"])
        .assert()
        .code(27)
        .stdout("");
}

#[test]
fn will_is_published_when_mosquitto_sub_is_killed() {
    if !have_mosquitto_sub() {
        return;
    }
    let broker = TestBroker::start();
    let port = broker.port();
    let watcher = Watched::mosquitto_sub(port, &["-q", "1", "-C", "1", "-v", "-t", "w"]);
    let mut victim = Watched::mosquitto_sub(
        port,
        &[
            "--will-topic",
            "w",
            "--will-payload",
            "gone",
            "--will-qos",
            "1",
            "-t",
            "x",
        ],
    );
    victim.kill();
    let (code, stdout, _) = watcher.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0), "stdout: {}", text(&stdout));
    assert_eq!(text(&without_trace(&stdout)), "w gone\n");
}

#[test]
fn no_will_after_a_clean_exit() {
    if !have_mosquitto_sub() || !have("mosquitto_pub") {
        return;
    }
    let broker = TestBroker::start();
    let port = broker.port();
    let watcher = Watched::mosquitto_sub(port, &["-q", "1", "-v", "-t", "w"]);

    // mosquitto_sub -C 1 ends with a DISCONNECT: its will must be dropped.
    let polite = Watched::mosquitto_sub(
        port,
        &[
            "-C",
            "1",
            "--will-topic",
            "w",
            "--will-payload",
            "mosquitto_sub gone",
            "-t",
            "x",
        ],
    );
    mosquitto_pub(port, &["-t", "x", "-m", "for mosquitto_sub"]);
    let (code, stdout, _) = polite.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(text(&without_trace(&stdout)), "for mosquitto_sub\n");

    // So must skeeter sub's.
    let skeeter_polite = skeeter_sub(
        port,
        &[
            "-C",
            "1",
            "--will-topic",
            "w",
            "--will-payload",
            "skeeter gone",
            "-t",
            "y",
        ],
    );
    mosquitto_pub(port, &["-t", "y", "-m", "for skeeter"]);
    let (code, stdout) = skeeter_polite.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(text(&stdout), "for skeeter\n");

    // Give a wrongly published will time to arrive, then mark the end: only the mark may show.
    std::thread::sleep(QUIET);
    mosquitto_pub(port, &["-q", "1", "-t", "w", "-m", "end"]);
    assert!(
        watcher.wait_until(Duration::from_secs(5), |c| contains(&c.stdout, b"w end\n")),
        "the watcher never got the end mark"
    );
    let (_, stdout, _) = watcher.finish(Duration::ZERO);
    assert_eq!(text(&without_trace(&stdout)), "w end\n");
}

#[test]
fn qos2_from_mosquitto_pub_is_delivered_exactly_once() {
    if !have_mosquitto_sub() || !have("mosquitto_pub") {
        return;
    }
    let broker = TestBroker::start();
    let port = broker.port();
    // -C 51: a 51st message would end it; it must still be running after 50 and a pause.
    let mut sub = Watched::mosquitto_sub(port, &["-q", "2", "-C", "51", "-t", "once"]);
    mosquitto_pub(
        port,
        &[
            "-q",
            "2",
            "--repeat",
            "50",
            "-t",
            "once",
            "-m",
            "exactly once",
        ],
    );
    let fifty = "exactly once\n".repeat(50);
    assert!(
        sub.wait_until(Duration::from_secs(10), |c| without_trace(&c.stdout).len()
            >= fifty.len()),
        "fewer than 50 messages: {}",
        text(&sub.stdout())
    );
    std::thread::sleep(QUIET);
    assert!(sub.running(), "mosquitto_sub got a 51st message and exited");
    let (_, stdout, _) = sub.finish(Duration::ZERO);
    assert_eq!(text(&without_trace(&stdout)), fifty);
    assert_eq!(publishes_traced(&stdout), 50);
    assert!(
        text(&stdout)
            .matches("received PUBLISH (d0, q2, r0, m")
            .count()
            == 50,
        "not 50 first-time QoS 2 deliveries:\n{}",
        text(&stdout)
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Python paho-mqtt

#[test]
fn paho_against_the_skeeter_broker() {
    if !have_paho() {
        return;
    }
    let broker = TestBroker::start();
    run_paho_checks(broker.port());
}

/// The same script against mosquitto: proves its expectations are the reference behaviour.
#[test]
fn paho_script_agrees_with_mosquitto() {
    if !have_paho() {
        return;
    }
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    run_paho_checks(mosquitto.port);
}

// ---------------------------------------------------------------------------------------------
// 6. Credentials against mosquitto

/// A mosquitto that only lets `user` / `pass` in; None when mosquitto is not installed.
fn mosquitto_with_password() -> Option<(Mosquitto, tempfile::TempDir)> {
    if !have("mosquitto") || !have("mosquitto_passwd") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    // mosquitto started as root drops to the user mosquitto, which must read the file.
    common::set_mode(dir.path(), 0o755);
    let file = dir.path().join("passwords");
    let created = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&file)
        .args(["user", "pass"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run mosquitto_passwd");
    assert!(created.success(), "mosquitto_passwd failed: {created}");
    common::set_mode(&file, 0o644);
    // Later lines win: this overrides the `allow_anonymous true` that Mosquitto::start writes.
    let mosquitto = Mosquitto::start(&format!(
        "password_file {}\nallow_anonymous false",
        file.display()
    ))?;
    Some((mosquitto, dir))
}

#[test]
fn credentials_against_mosquitto() {
    let Some((mosquitto, _dir)) = mosquitto_with_password() else {
        return;
    };
    let port = mosquitto.port;
    let sub = skeeter_sub(
        port,
        &["-u", "user", "-P", "pass", "-v", "-C", "2", "-t", "cred/#"],
    );
    skeeter_pub(
        port,
        &["-u", "user", "-P", "pass", "-t", "cred/argv", "-m", "one"],
    );
    // From the environment: no password on argv.
    skeeter()
        .args([
            "pub",
            "-p",
            &port.to_string(),
            "-t",
            "cred/env",
            "-m",
            "two",
        ])
        .env("SKEETER_USERNAME", "user")
        .env("SKEETER_PASSWORD", "pass")
        .assert()
        .success()
        .stdout("")
        .stderr("");
    let (code, stdout) = sub.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(text(&stdout), "cred/argv one\ncred/env two\n");

    // A bad password, the same from the environment, and no credentials at all: mosquitto
    // answers CONNACK 5 (not authorised), and skeeter exits with it.
    let port_arg = port.to_string();
    let bad_argv = skeeter()
        .args([
            "pub", "-p", &port_arg, "-u", "user", "-P", "wrong", "-t", "t", "-m", "x",
        ])
        .output()
        .unwrap();
    one_error_line(&bad_argv, 5);
    let bad_env = skeeter()
        .args(["pub", "-p", &port_arg, "-t", "t", "-m", "x"])
        .env("SKEETER_USERNAME", "user")
        .env("SKEETER_PASSWORD", "wrong")
        .output()
        .unwrap();
    one_error_line(&bad_env, 5);
    let anonymous = skeeter()
        .args(["pub", "-p", &port_arg, "-t", "t", "-m", "x"])
        .output()
        .unwrap();
    one_error_line(&anonymous, 5);
    let bad_sub = skeeter()
        .args([
            "sub", "-p", &port_arg, "-u", "user", "-P", "wrong", "-t", "t",
        ])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    one_error_line(&bad_sub, 5);
}

// ---------------------------------------------------------------------------------------------
// 7. No broker

#[test]
fn no_broker_listening_exits_1_with_one_error_line() {
    let port = free_port().to_string();
    let publish = skeeter()
        .args(["pub", "-p", &port, "-t", "t", "-m", "x"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    one_error_line(&publish, 1);
    let subscribe = skeeter()
        .args(["sub", "-p", &port, "-t", "t"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    one_error_line(&subscribe, 1);
}
