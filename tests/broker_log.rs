//! `skeeter broker`'s log: connections, disconnections and refusals by default, every packet
//! with -v, errors only with -q; a mosquitto.conf's log directives; SIGHUP reloading the
//! password file and reopening the log file.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{listening_port, skeeter, skeeter_broker};

fn publish(port: u16, args: &[&str]) -> std::process::Output {
    skeeter()
        .args(["pub", "-p", &port.to_string(), "-t", "log/t", "-m", "hi"])
        .args(args)
        .output()
        .unwrap()
}

fn hangup(pid: u32) {
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The text of `path` once it contains `text` (at most 10 s).
fn file_with(path: &Path, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let content = std::fs::read_to_string(path).unwrap_or_default();
        if content.contains(text) {
            return content;
        }
        assert!(
            Instant::now() < deadline,
            "{} never had '{text}': {content}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn connections_are_logged_with_timestamps() {
    let (broker, lines) = skeeter_broker(&["--port", "0"], 1);
    let port = listening_port(&lines, "mqtt");
    assert!(publish(port, &["-i", "logged", "-q", "1"]).status.success());
    let connected = broker.wait_for_stderr("client logged connected from 127.0.0.1:");
    // 2026-11-25T16:01:02.123+00:00: client ...
    let (stamp, _) = connected.split_once(": ").unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
        "{connected}"
    );
    assert!(connected.contains("over MQTT 3.1.1"), "{connected}");
    let gone = broker.wait_for_stderr("client logged disconnected");
    assert!(gone.contains("(sent DISCONNECT)"), "{gone}");
    // Packets are not logged without -v.
    let (_, stderr) = broker.kill_with_stderr();
    assert!(!stderr.contains("PUBLISH"), "{stderr}");
}

#[test]
fn verbose_logs_every_packet_and_quiet_none() {
    let (broker, lines) = skeeter_broker(&["--port", "0", "-v"], 1);
    let port = listening_port(&lines, "mqtt");
    assert!(publish(port, &["-i", "chatty", "-q", "1"]).status.success());
    broker.wait_for_stderr("received PUBLISH (d0, q1, r0, m1, 'log/t', ... (2 bytes)) from chatty");
    broker.wait_for_stderr("sending PUBACK (m1) to chatty");
    broker.wait_for_stderr("received DISCONNECT from chatty");

    let (broker, lines) = skeeter_broker(&["--port", "0", "-q"], 1);
    let port = listening_port(&lines, "mqtt");
    assert!(publish(port, &["-i", "silent"]).status.success());
    let (_, stderr) = broker.kill_with_stderr();
    assert_eq!(stderr, "");
}

#[test]
fn refusals_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwords");
    skeeter()
        .args(["passwd", "-c", "-b"])
        .arg(&passwords)
        .args(["u", "right"])
        .assert()
        .success();
    let password_file = passwords.to_str().unwrap();
    let (broker, lines) = skeeter_broker(&["--port", "0", "--password-file", password_file], 1);
    let port = listening_port(&lines, "mqtt");
    let output = publish(port, &["-u", "u", "-P", "wrong"]);
    assert_eq!(output.status.code(), Some(5));
    let refused = broker.wait_for_stderr("refused");
    assert!(refused.contains("connection from 127.0.0.1:"), "{refused}");
}

/// A mosquitto.conf's log directives: a log file without timestamps. SIGHUP reopens it (the
/// old one was moved away, as logrotate does) and reads the password file again.
#[test]
fn log_file_and_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("broker.log");
    let passwords = dir.path().join("passwords");
    let set_password = |password: &str| {
        skeeter()
            .args(["passwd", "-b"])
            .arg(&passwords)
            .args(["u", password])
            .assert()
            .success();
    };
    std::fs::write(&passwords, "").unwrap();
    set_password("first");
    let conf = dir.path().join("skeeter.conf");
    std::fs::write(
        &conf,
        format!(
            "listener 0 127.0.0.1\npassword_file {}\nlog_dest file {}\nlog_timestamp false\n\
             log_type notice\nconnection_messages true\nsys_interval 0\n",
            passwords.display(),
            log.display()
        ),
    )
    .unwrap();
    let (broker, lines) = skeeter_broker(&["-c", conf.to_str().unwrap()], 1);
    let port = listening_port(&lines, "mqtt");
    assert!(
        publish(port, &["-i", "one", "-u", "u", "-P", "first"])
            .status
            .success()
    );
    let content = file_with(&log, "client one disconnected");
    assert!(
        content.starts_with("client one (user u) connected from 127.0.0.1:"),
        "{content}"
    );

    // logrotate: move the file away, then SIGHUP; meanwhile the password changed.
    let rotated = dir.path().join("broker.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    set_password("second");
    hangup(broker.pid());
    file_with(&log, "reloaded the configuration (SIGHUP)");
    assert_eq!(
        publish(port, &["-i", "two", "-u", "u", "-P", "first"])
            .status
            .code(),
        Some(5),
        "the old password no longer works"
    );
    assert!(
        publish(port, &["-i", "three", "-u", "u", "-P", "second"])
            .status
            .success()
    );
    let content = file_with(&log, "client three disconnected");
    assert!(content.contains("refused"), "{content}");
    assert!(!std::fs::read_to_string(&rotated).unwrap().contains("three"));

    // A password file broken since: the reload fails, the previous settings stay.
    std::fs::write(&passwords, "u:not-hashed\n").unwrap();
    hangup(broker.pid());
    file_with(&log, "reload failed, keeping the previous settings");
    assert!(
        publish(port, &["-i", "four", "-u", "u", "-P", "second"])
            .status
            .success()
    );
    assert_eq!(broker.terminate().code(), Some(0));
}

#[test]
fn bad_log_directives_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        ("port 0\nlog_type chatty\n", ":2: unknown log_type 'chatty'"),
        ("log_dest file\n", ":1: log_dest file needs a path"),
        ("log_dest syslog\n", ":1: unsupported: log_dest syslog"),
        (
            "sys_interval soon\n",
            ":1: bad sys_interval 'soon' (seconds)",
        ),
        ("log_timestamp_format %Q\n", ":1: bad timestamp format '%Q'"),
    ] {
        let conf = dir.path().join("bad.conf");
        std::fs::write(&conf, text).unwrap();
        let output = skeeter()
            .args(["broker", "-c"])
            .arg(&conf)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{text}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // A log file that cannot be opened: bad input, one line.
    let output = skeeter()
        .args([
            "broker",
            "--port",
            "0",
            "--log-file",
            "/nonexistent/dir/log",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(10));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot open the log file /nonexistent/dir/log"),
        "{stderr}"
    );
}
