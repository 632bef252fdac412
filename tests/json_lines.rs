//! `sub --json` and `pub --json`: always-valid JSON lines, binary payloads in base64, every
//! MQTT 5 property, and `sub --json | pub --json` replaying traffic to another broker.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{Mosquitto, TestBroker, one_error_line, skeeter, skeeter_sub, text};
use rand::{Rng, SeedableRng};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(20);

fn payload_of(line: &Value) -> Vec<u8> {
    let payload = line["payload"].as_str().expect("payload is a string");
    match line.get("payload_encoding").and_then(Value::as_str) {
        Some("base64") => BASE64.decode(payload).unwrap(),
        None => payload.as_bytes().to_vec(),
        Some(other) => panic!("unknown encoding {other}"),
    }
}

fn lines(out: &[u8]) -> Vec<Value> {
    text(out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Random binary payloads (empty ones, UTF-8 ones and others) come out as valid JSON that
/// decodes back to the very bytes sent.
fn random_payloads(port: u16) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let payloads: Vec<Vec<u8>> = (0..40)
        .map(|i| match i % 4 {
            0 => Vec::new(),
            1 => "héllo \"wörld\"\n\t\\".repeat(i).into_bytes(),
            _ => (0..rng.random_range(1..3000))
                .map(|_| rng.random())
                .collect(),
        })
        .collect();
    let sub = skeeter_sub(
        port,
        &[
            "-t",
            "bin/#",
            "-q",
            "1",
            "--json",
            "-C",
            &payloads.len().to_string(),
        ],
    );
    for (i, payload) in payloads.iter().enumerate() {
        let mut publish = skeeter();
        publish.args([
            "pub",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            &format!("bin/{i}"),
        ]);
        if payload.is_empty() {
            publish.arg("-n");
        } else {
            publish.arg("-s").write_stdin(payload.clone());
        }
        publish.assert().success();
    }
    let (code, out) = sub.finish(LIMIT);
    assert_eq!(code, Some(0));
    let got = lines(&out);
    assert_eq!(got.len(), payloads.len());
    for (i, (line, payload)) in got.iter().zip(&payloads).enumerate() {
        assert_eq!(line["topic"], format!("bin/{i}"));
        assert_eq!(line["qos"], 1);
        assert_eq!(line["retain"], false);
        assert_eq!(line["dup"], false);
        assert!(line["mid"].as_u64().unwrap() > 0);
        assert_eq!(line["payload_length"], payload.len());
        assert_eq!(&payload_of(line), payload, "message {i}");
        let received = line["received"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(received).is_ok(),
            "{received}"
        );
        assert!(
            received.ends_with('Z') && received.contains('.'),
            "{received}"
        );
    }
}

#[test]
fn random_binary_payloads_through_the_embedded_broker() {
    let broker = TestBroker::start();
    random_payloads(broker.port());
}

#[test]
fn random_binary_payloads_through_mosquitto() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    random_payloads(mosquitto.port);
}

/// Capture on one broker, replay into another: topics, payloads, QoS, retain and the MQTT 5
/// properties arrive as they were.
fn replay(from: u16, to: u16) {
    let capture = skeeter_sub(
        from,
        &["-V", "5", "-t", "replay/#", "-q", "2", "--json", "-C", "3"],
    );
    let publish = |args: &[&str], stdin: Option<&[u8]>| {
        let mut command = skeeter();
        command
            .args(["pub", "-p", &from.to_string(), "-V", "5"])
            .args(args);
        if let Some(stdin) = stdin {
            command.write_stdin(stdin.to_vec());
        }
        command.assert().success();
    };
    publish(
        &[
            "-t",
            "replay/props",
            "-m",
            "with properties",
            "-q",
            "1",
            "--content-type",
            "text/plain",
            "--response-topic",
            "replay/answer",
            "--correlation-data",
            "abc",
            "--user-property",
            "k=v",
            "--user-property",
            "k=w",
            "--payload-is-utf8",
            "--message-expiry",
            "300",
        ],
        None,
    );
    publish(
        &["-t", "replay/binary", "-s", "-q", "2"],
        Some(&[0, 159, 146, 150]),
    );
    publish(&["-t", "replay/plain", "-m", "plain"], None);
    let (code, captured) = capture.finish(LIMIT);
    assert_eq!(code, Some(0));

    let replayed = skeeter_sub(
        to,
        &["-V", "5", "-t", "replay/#", "-q", "2", "--json", "-C", "3"],
    );
    skeeter()
        .args(["pub", "-p", &to.to_string(), "-V", "5", "--json"])
        .write_stdin(captured.clone())
        .assert()
        .success();
    let (code, out) = replayed.finish(LIMIT);
    assert_eq!(code, Some(0));
    let (before, after) = (lines(&captured), lines(&out));
    assert_eq!(before.len(), 3);
    for (a, b) in before.iter().zip(&after) {
        for key in [
            "topic",
            "qos",
            "retain",
            "payload",
            "payload_encoding",
            "payload_length",
        ] {
            assert_eq!(a.get(key), b.get(key), "{key}: {a} / {b}");
        }
        let (pa, pb) = (&a["properties"], &b["properties"]);
        for key in [
            "content_type",
            "response_topic",
            "correlation_data",
            "user_properties",
            "payload_format_indicator",
        ] {
            assert_eq!(pa.get(key), pb.get(key), "{key}: {a} / {b}");
        }
        // The expiry counts down, it is not reset.
        if let Some(expiry) = pa.get("message_expiry_interval") {
            let left = pb["message_expiry_interval"].as_u64().unwrap();
            assert!(left <= expiry.as_u64().unwrap() && left > 290, "{left}");
        }
    }
    assert_eq!(
        before[0]["properties"]["user_properties"],
        serde_json::json!([["k", "v"], ["k", "w"]])
    );
    assert_eq!(before[1]["payload_encoding"], "base64");
    assert_eq!(before[1]["qos"], 2);
}

#[test]
fn sub_json_into_pub_json_replays_between_brokers() {
    let (a, b) = (TestBroker::start(), TestBroker::start());
    replay(a.port(), b.port());
}

#[test]
fn replay_from_mosquitto_into_the_embedded_broker() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    let broker = TestBroker::start();
    replay(mosquitto.port, broker.port());
}

/// Each line's own QoS and retain flag (and the defaults of -q and -r for the others); every
/// message is acknowledged before pub exits.
#[test]
fn pub_json_mixes_qos_and_retain() {
    let broker = TestBroker::start();
    let port = broker.port();
    let sub = skeeter_sub(port, &["-t", "mix/#", "-q", "2", "-v", "-C", "4"]);
    let input = "{\"topic\":\"mix/a\",\"payload\":\"0\",\"qos\":0}\n\
                 {\"topic\":\"mix/b\",\"payload\":\"1\",\"qos\":1}\n\
                 \n\
                 {\"topic\":\"mix/c\",\"payload\":\"2\",\"qos\":2,\"retain\":true}\n\
                 {\"topic\":\"mix/d\",\"payload\":null}\n";
    skeeter()
        .args(["pub", "-p", &port.to_string(), "-q", "1", "--json", "-d"])
        .write_stdin(input)
        .assert()
        .success();
    let (code, out) = sub.finish(LIMIT);
    assert_eq!(code, Some(0));
    assert_eq!(text(&out), "mix/a 0\nmix/b 1\nmix/c 2\nmix/d (null)\n");
    // mix/c was retained; mix/d (QoS 1 from -q) was not.
    let output = skeeter()
        .args([
            "sub",
            "-p",
            &port.to_string(),
            "-t",
            "mix/#",
            "-v",
            "--retained-only",
            "-W",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(text(&output.stdout), "mix/c 2\n");
}

#[test]
fn bad_json_lines_stop_with_their_number() {
    let broker = TestBroker::start();
    let port = broker.port().to_string();
    for (input, expected) in [
        (
            "{\"topic\":\"t\",\"payload\":\"a\"}\n{\"topc\":1}\n",
            "line 2: unknown field `topc`",
        ),
        ("not json\n", "line 1: expected ident"),
        (
            "{\"topic\":\"t\",\"payload\":\"a\",\"properties\":{\"content_type\":\"x\"}}\n",
            "line 1: properties need MQTT 5 (-V 5)",
        ),
        (
            "{\"topic\":\"t/#\",\"payload\":\"a\"}\n",
            "line 1: invalid topic 't/#'",
        ),
    ] {
        let output = skeeter()
            .args(["pub", "-p", &port, "--json"])
            .write_stdin(input)
            .output()
            .unwrap();
        let line = one_error_line(&output, 10);
        assert!(line.contains(expected), "{input}: {line}");
    }
    let output = skeeter()
        .args(["pub", "-p", &port, "--json", "-t", "x"])
        .output()
        .unwrap();
    one_error_line(&output, 2);
    let output = skeeter()
        .args(["sub", "-p", &port, "-t", "x", "--json", "-v"])
        .output()
        .unwrap();
    one_error_line(&output, 2);
}
