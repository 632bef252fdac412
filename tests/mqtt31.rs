//! MQTT 3.1 (`-V 31`, protocol name "MQIsdp", level 3): skeeter's client and its broker speak it,
//! with each other, with mosquitto, mosquitto's clients and paho-mqtt. The 3.1 differences are
//! checked on the bytes: the CONNECT skeeter sends, CONNACK 2 for an empty client id, and a
//! CONNACK whose first byte is 0 even for a resumed session.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::watched::Watched;
use common::{
    Mosquitto, TestBroker, have, have_paho, run_python, set_mode, skeeter, skeeter_sub, text,
};

/// The longest any expected event may take.
const WAIT: Duration = Duration::from_secs(10);

/// `skeeter pub -V 31 -p PORT ARGS` must succeed, silently.
fn pub31(port: u16, args: &[&str]) {
    skeeter()
        .args(["pub", "-V", "31", "-p", &port.to_string()])
        .args(args)
        .assert()
        .success()
        .stdout("")
        .stderr("");
}

/// Assert that a run failed with `code`, printed nothing on stdout and one `skeeter: error:`
/// line on stderr; returns that line.
fn one_error_line(output: &Output, code: i32) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(text(&output.stdout), "");
    assert!(
        stderr.starts_with("skeeter: error:") && stderr.lines().count() == 1,
        "stderr is not one 'skeeter: error:' line: {stderr:?}"
    );
    stderr
}

/// skeeter sub -V 31 gets what skeeter pub -V 31 sends, retained first, at every QoS.
fn skeeter_to_skeeter(port: u16) {
    pub31(
        port,
        &["-i", "pub31", "-r", "-q", "1", "-t", "v31/r", "-m", "kept"],
    );
    let sub = skeeter_sub(
        port,
        &[
            "-V", "31", "-i", "sub31", "-q", "2", "-v", "-C", "4", "-t", "v31/#",
        ],
    );
    for (qos, payload) in [("0", "zero"), ("1", "one"), ("2", "two")] {
        let topic = format!("v31/{qos}");
        pub31(
            port,
            &["-i", "pub31", "-q", qos, "-t", &topic, "-m", payload],
        );
    }
    let (code, stdout) = sub.finish(WAIT);
    assert_eq!(code, Some(0), "stdout: {}", text(&stdout));
    assert_eq!(
        text(&stdout),
        "v31/r kept\nv31/0 zero\nv31/1 one\nv31/2 two\n"
    );
}

#[test]
fn skeeter_pub_and_sub_v31_through_the_embedded_broker() {
    let broker = TestBroker::start();
    skeeter_to_skeeter(broker.port());
}

#[test]
fn skeeter_pub_and_sub_v31_through_mosquitto() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    skeeter_to_skeeter(mosquitto.port);
}

#[test]
fn skeeter_v31_over_a_unix_socket_to_mosquitto() {
    if !have("mosquitto") {
        return;
    }
    // mosquitto started as root binds its socket as the user mosquitto: the directory must let it.
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o777);
    let socket = dir.path().join("mqtt.sock");
    let Some(mosquitto) = Mosquitto::start(&format!("listener 0 {}", socket.display())) else {
        return;
    };
    let deadline = Instant::now() + WAIT;
    while !socket.exists() {
        assert!(Instant::now() < deadline, "mosquitto made no unix socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let unix = socket.to_str().unwrap();
    let sub = skeeter_sub(
        mosquitto.port,
        &["-V", "31", "-i", "tcp31", "-v", "-C", "1", "-t", "unix/#"],
    );
    skeeter()
        .args(["pub", "-V", "31", "-i", "unix31", "--unix", unix])
        .args(["-q", "1", "-t", "unix/t", "-m", "over the socket"])
        .assert()
        .success();
    let (code, stdout) = sub.finish(WAIT);
    assert_eq!(code, Some(0));
    assert_eq!(text(&stdout), "unix/t over the socket\n");
}

/// `mosquitto_pub -V mqttv31 -p PORT ARGS` must succeed.
fn mosquitto_pub31(port: u16, args: &[&str]) {
    assert_cmd::Command::new("mosquitto_pub")
        .args(["-V", "mqttv31", "-p", &port.to_string()])
        .args(args)
        .timeout(WAIT)
        .assert()
        .success();
}

#[test]
fn mosquitto_clients_v31_with_the_embedded_broker() {
    if !have("mosquitto_pub") || !have("mosquitto_sub") {
        return;
    }
    let broker = TestBroker::start();
    let port = broker.port_arg();
    // The retained message is the first thing a subscriber gets: once it is printed, the
    // subscription is in place.
    mosquitto_pub31(
        broker.port(),
        &["-q", "1", "-r", "-t", "m31/r", "-m", "kept"],
    );
    let subscriber = |extra: &[&str]| {
        let mut command = Command::new("mosquitto_sub");
        command
            .args([
                "-V", "mqttv31", "-p", &port, "-q", "2", "-C", "4", "-t", "m31/#",
            ])
            .args(extra);
        Watched::spawn(command)
    };
    let verbose = subscriber(&["-v"]);
    let flags = subscriber(&["-F", "%r %q %t %p"]);
    verbose.wait_for(b"m31/r kept\n");
    flags.wait_for(b"1 1 m31/r kept\n");

    let payload: Vec<u8> = (1..=255u8).filter(|&b| b != b'\n').collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bytes");
    std::fs::write(&file, &payload).unwrap();
    mosquitto_pub31(broker.port(), &["-q", "0", "-t", "m31/0", "-m", "zero"]);
    mosquitto_pub31(broker.port(), &["-q", "1", "-t", "m31/1", "-m", "one"]);
    mosquitto_pub31(
        broker.port(),
        &["-q", "2", "-t", "m31/2", "-f", file.to_str().unwrap()],
    );

    let (code, stdout, _) = verbose.finish(WAIT);
    assert_eq!(code, Some(0), "stdout: {}", text(&stdout));
    let mut expected = b"m31/r kept\nm31/0 zero\nm31/1 one\nm31/2 ".to_vec();
    expected.extend_from_slice(&payload);
    expected.push(b'\n');
    assert_eq!(stdout, expected);

    let (code, stdout, _) = flags.finish(WAIT);
    assert_eq!(code, Some(0));
    let mut expected = b"1 1 m31/r kept\n0 0 m31/0 zero\n0 1 m31/1 one\n0 2 m31/2 ".to_vec();
    expected.extend_from_slice(&payload);
    expected.push(b'\n');
    assert_eq!(stdout, expected);
}

#[test]
fn mosquitto_clients_v31_and_skeeter_v31_together() {
    if !have("mosquitto_pub") {
        return;
    }
    let broker = TestBroker::start();
    let sub = skeeter_sub(
        broker.port(),
        &["-V", "31", "-i", "mix", "-v", "-C", "1", "-t", "mix"],
    );
    mosquitto_pub31(
        broker.port(),
        &["-q", "2", "-t", "mix", "-m", "from mosquitto_pub"],
    );
    let (code, stdout) = sub.finish(WAIT);
    assert_eq!(code, Some(0));
    assert_eq!(text(&stdout), "mix from mosquitto_pub\n");
}

#[test]
fn paho_mqttv31_with_the_embedded_broker() {
    if !have_paho() {
        return;
    }
    let broker = TestBroker::start();
    let output = run_python("paho_mqtt31.py", &[&broker.port_arg()]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "paho checks failed\nstdout:\n{stdout}\nstderr:\n{}",
        text(&output.stderr)
    );
    assert_eq!(
        stdout,
        "ok subscribe\nok delivery\nok retained\nok session\nok will\nsummary: 5 ok, 0 failed\n"
    );
}

#[test]
fn without_an_id_one_is_made_up_as_mosquitto_does() {
    // MQTT 3.1 brokers assign no ids: with no -i, skeeter sends a random `skeeter-...` id (as
    // mosquitto's clients send `mosq-...`), on both brokers.
    let broker = TestBroker::start();
    let mosquitto = Mosquitto::start("");
    let mut ports = vec![broker.port()];
    ports.extend(mosquitto.as_ref().map(|m| m.port));
    for port in ports {
        let port = port.to_string();
        skeeter()
            .args([
                "pub", "-V", "31", "-p", &port, "-t", "noid/t", "-r", "-q", "1",
            ])
            .args(["-m", "no id given"])
            .assert()
            .success();
        let output = skeeter()
            .args([
                "sub", "-V", "31", "-p", &port, "-t", "noid/t", "-C", "1", "-v", "-d",
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert_eq!(output.stdout, b"noid/t no id given\n");
        let trace = text(&output.stderr);
        let id = trace
            .split("as '")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_default();
        assert!(id.starts_with("skeeter-") && id.len() == 23, "{trace}");
    }
}

#[test]
fn unknown_protocol_versions_are_refused_on_the_command_line() {
    // MQTT 5 is served: see tests/mqtt5_client.rs.
    for (version, why) in [
        ("3", "expected 311 (mqttv311) or 31 (mqttv31)"),
        ("mqttv6", "expected 311 (mqttv311) or 31 (mqttv31)"),
    ] {
        let output = skeeter()
            .args(["pub", "-V", version, "-t", "t", "-m", "x"])
            .output()
            .unwrap();
        let line = one_error_line(&output, 2);
        assert!(line.contains(why), "{line}");
    }
}

// ---------------------------------------------------------------------------------------------
// The bytes on the wire

/// A frame: fixed-header byte, remaining length (MQTT's variable-length encoding), body.
fn frame(byte1: u8, body: &[u8]) -> Vec<u8> {
    let mut frame = vec![byte1];
    let mut len = body.len();
    loop {
        let digit = (len % 128) as u8;
        len /= 128;
        if len == 0 {
            frame.push(digit);
            break;
        }
        frame.push(digit | 0x80);
    }
    frame.extend_from_slice(body);
    frame
}

fn string(s: &str) -> Vec<u8> {
    let mut bytes = (s.len() as u16).to_be_bytes().to_vec();
    bytes.extend_from_slice(s.as_bytes());
    bytes
}

/// An MQTT 3.1 CONNECT: keep-alive 60, no will, no login.
fn connect31(client_id: &str, clean: bool) -> Vec<u8> {
    let mut body = string("MQIsdp");
    body.extend_from_slice(&[3, if clean { 0x02 } else { 0x00 }, 0, 60]);
    body.extend_from_slice(&string(client_id));
    frame(0x10, &body)
}

/// The same as MQTT 3.1.1.
fn connect311(client_id: &str, clean: bool) -> Vec<u8> {
    let mut body = string("MQTT");
    body.extend_from_slice(&[4, if clean { 0x02 } else { 0x00 }, 0, 60]);
    body.extend_from_slice(&string(client_id));
    frame(0x10, &body)
}

/// A TCP connection to the broker with every read bounded.
fn open(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Read one whole frame (fixed header included).
fn read_frame(stream: &mut impl Read) -> Vec<u8> {
    let mut frame = vec![0u8; 1];
    stream.read_exact(&mut frame).expect("a packet in time");
    let mut len = 0usize;
    for shift in 0..4 {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).unwrap();
        frame.push(byte[0]);
        len |= usize::from(byte[0] & 0x7f) << (7 * shift);
        if byte[0] & 0x80 == 0 {
            break;
        }
    }
    let start = frame.len();
    frame.resize(start + len, 0);
    stream.read_exact(&mut frame[start..]).unwrap();
    frame
}

/// Wait until the peer closes the connection; the bytes it sent before.
fn closed(stream: &mut TcpStream) -> usize {
    let mut sink = Vec::new();
    stream.read_to_end(&mut sink).expect("closed in time");
    sink.len()
}

#[test]
fn broker_connack_for_mqtt31_never_says_session_present() {
    let broker = TestBroker::start();
    let port = broker.port();

    let mut first = open(port);
    first.write_all(&connect31("keeper", false)).unwrap();
    assert_eq!(read_frame(&mut first), [0x20, 0x02, 0x00, 0x00]);
    let mut subscribe = vec![0x00, 0x01];
    subscribe.extend_from_slice(&string("kept/t"));
    subscribe.push(1);
    first.write_all(&frame(0x82, &subscribe)).unwrap();
    assert_eq!(read_frame(&mut first), [0x90, 0x03, 0x00, 0x01, 0x01]);
    first.write_all(&[0xe0, 0x00]).unwrap();
    assert_eq!(closed(&mut first), 0);

    skeeter()
        .args([
            "pub",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            "kept/t",
            "-m",
            "away",
        ])
        .assert()
        .success();

    // The session is resumed (the message queued while away arrives), yet the first CONNACK
    // byte stays 0: in MQTT 3.1 it is reserved.
    let mut again = open(port);
    again.write_all(&connect31("keeper", false)).unwrap();
    assert_eq!(read_frame(&mut again), [0x20, 0x02, 0x00, 0x00]);
    let mut body = string("kept/t");
    body.extend_from_slice(&[0x00, 0x01]);
    body.extend_from_slice(b"away");
    let expected = frame(0x32, &body);
    let got = read_frame(&mut again);
    assert_eq!(
        got[0] & !0x08,
        0x32,
        "QoS 1 PUBLISH (DUP aside): {got:02x?}"
    );
    assert_eq!(got[1..], expected[1..]);
    again.write_all(&[0x40, 0x02, 0x00, 0x01]).unwrap(); // PUBACK
    again.write_all(&[0xe0, 0x00]).unwrap();
    assert_eq!(closed(&mut again), 0);

    // The same session seen by a 3.1.1 client: there the flag is set.
    let mut modern = open(port);
    modern.write_all(&connect311("keeper", false)).unwrap();
    assert_eq!(read_frame(&mut modern), [0x20, 0x02, 0x01, 0x00]);
    modern.write_all(&[0xe0, 0x00]).unwrap();
    assert_eq!(closed(&mut modern), 0);
}

#[test]
fn broker_refuses_an_empty_mqtt31_client_id_with_connack_2() {
    let broker = TestBroker::start();
    for clean in [true, false] {
        let mut client = open(broker.port());
        client.write_all(&connect31("", clean)).unwrap();
        assert_eq!(read_frame(&mut client), [0x20, 0x02, 0x00, 0x02]);
        assert_eq!(closed(&mut client), 0, "closed after the CONNACK");
    }
    // A 3.1.1 client with an empty id and a clean session gets one assigned.
    let mut client = open(broker.port());
    client.write_all(&connect311("", true)).unwrap();
    assert_eq!(read_frame(&mut client), [0x20, 0x02, 0x00, 0x00]);
}

#[test]
fn broker_suback_to_mqtt31_grants_each_qos() {
    let broker = TestBroker::start();
    let mut client = open(broker.port());
    client.write_all(&connect31("granted", true)).unwrap();
    assert_eq!(read_frame(&mut client), [0x20, 0x02, 0x00, 0x00]);
    let mut subscribe = vec![0x00, 0x07];
    for (filter, qos) in [("a/#", 0u8), ("b/+", 1), ("c", 2)] {
        subscribe.extend_from_slice(&string(filter));
        subscribe.push(qos);
    }
    client.write_all(&frame(0x82, &subscribe)).unwrap();
    assert_eq!(
        read_frame(&mut client),
        [0x90, 0x05, 0x00, 0x07, 0x00, 0x01, 0x02]
    );
}

/// Accept one connection on `listener` (10 s at most).
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(WAIT)).unwrap();
                return stream;
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "skeeter never connected");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(err) => panic!("accept: {err}"),
        }
    }
}

#[test]
fn client_sends_an_mqisdp_connect() {
    // A client id of 114 bytes makes the 3.1.1 remaining length 126 (one byte) and the 3.1 one
    // 128 (two bytes): the length is re-encoded, not patched.
    for id in ["short".to_owned(), "i".repeat(114)] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut child = common::skeeter_std()
            .args(["pub", "-V", "mqttv31", "-i", &id, "-p", &port.to_string()])
            .args(["-k", "30", "-t", "t", "-m", "hi"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut broker = accept(&listener);
        let mut body = string("MQIsdp");
        body.extend_from_slice(&[3, 0x02, 0, 30]);
        body.extend_from_slice(&string(&id));
        assert_eq!(read_frame(&mut broker), frame(0x10, &body), "id {id}");
        broker.write_all(&[0x20, 0x02, 0x00, 0x00]).unwrap();
        let mut publish = string("t");
        publish.extend_from_slice(b"hi");
        assert_eq!(read_frame(&mut broker), frame(0x30, &publish));
        assert_eq!(read_frame(&mut broker), [0xe0, 0x00]);
        drop(broker);
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("skeeter pub did not exit");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "{status}");
    }
}
