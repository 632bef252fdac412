//! The client over WebSockets (ws://, --ws), against mosquitto's websockets listener.
//!
//! mosquitto 2.0.11 refuses to start with only a websockets listener ("Unable to start any
//! listening sockets", with or without a bind address): it counts only its own sockets, not
//! those of libwebsockets. Next to the usual TCP listener of `Mosquitto::start` it works.

mod common;

use std::time::Duration;

use common::{
    Background, Mosquitto, SkeeterBroker, free_port, listening_port, skeeter, skeeter_broker,
    skeeter_std,
};

/// mosquitto with a websockets listener on a free port too; the port, once it accepts. The
/// port can be taken by another process before mosquitto binds it (it then exits): try again.
fn mosquitto_ws() -> Option<(Mosquitto, u16)> {
    for _ in 0..5 {
        let port = free_port();
        let broker =
            Mosquitto::start(&format!("listener {port} 127.0.0.1\nprotocol websockets\n"))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if std::time::Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((broker, port));
        }
    }
    panic!("mosquitto's websockets listener never accepted connections");
}

#[test]
fn pub_and_sub_over_ws_urls() {
    let Some((_broker, port)) = mosquitto_ws() else {
        return;
    };
    let url = format!("ws://127.0.0.1:{port}/mqtt");
    let mut sub = skeeter_std();
    sub.args(["sub", "-d", "-t", "ws/test", "-C", "2", "-v", "-L", &url]);
    let sub = Background::spawn(sub, "received SUBACK");
    skeeter()
        .args([
            "pub", "-t", "ws/test", "-m", "over ws", "-q", "1", "-L", &url,
        ])
        .assert()
        .success();
    // --ws with -h, -p and --ws-path makes the same URL.
    skeeter()
        .args([
            "pub",
            "-t",
            "ws/test",
            "-m",
            "with --ws",
            "--ws",
            "-h",
            "127.0.0.1",
        ])
        .args(["-p", &port.to_string(), "--ws-path", "/mqtt"])
        .assert()
        .success();
    let (code, stdout) = sub.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        "ws/test over ws\nws/test with --ws\n"
    );
}

#[test]
fn ws_to_a_plain_mqtt_port_is_one_line() {
    let broker = common::TestBroker::start();
    let output = skeeter()
        .args(["pub", "-t", "t", "-m", "x", "--ws", "-h", "127.0.0.1"])
        .args(["-p", &broker.port_arg()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ws://127.0.0.1:"), "{stderr}");
}

#[test]
fn ws_refuses_what_it_cannot_do() {
    for args in [
        &["--ws", "-A", "127.0.0.1"][..],
        &["--ws", "--proxy", "socks5h://127.0.0.1:1"][..],
        &["--ws", "-V", "31"][..],
        &["--ws", "--unix", "/nonexistent"][..],
        &["-L", "ws://127.0.0.1/mqtt", "-A", "127.0.0.1"][..],
        &["--ws-path", "/x"][..],
    ] {
        skeeter()
            .args(["pub", "-t", "t", "-m", "x"])
            .args(args)
            .assert()
            .code(2);
    }
}

/// `skeeter broker --ws-port 0` in the background; it and its WebSocket port.
fn skeeter_broker_ws() -> (SkeeterBroker, u16) {
    let (broker, lines) = skeeter_broker(&["-p", "0", "--ws-port", "0"], 2);
    (broker, listening_port(&lines, "ws"))
}

#[test]
fn pub_and_sub_over_ws_to_skeeter_broker() {
    let (_broker, port) = skeeter_broker_ws();
    let url = format!("ws://127.0.0.1:{port}/mqtt");
    let mut sub = skeeter_std();
    sub.args(["sub", "-d", "-t", "ws/own", "-C", "1", "-L", &url]);
    let sub = Background::spawn(sub, "received SUBACK");
    skeeter()
        .args(["pub", "-t", "ws/own", "-m", "hello", "-q", "2", "--ws"])
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .assert()
        .success();
    let (code, stdout) = sub.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(stdout, b"hello\n");
}
