//! `skeeter probe`: the report matches what the broker is configured to do (the embedded broker
//! and mosquitto with limits), --json parses, --require sets the exit code, and a broker that
//! cannot be reached, or a bad command line, is one error line.

mod common;

use std::time::{Duration, Instant};

use common::{Mosquitto, TestBroker, free_port, one_error_line, skeeter, text};
use serde_json::Value;

/// Every check --require can name.
const ALL_CHECKS: [&str; 13] = skeeter::cli::PROBE_CHECKS;

fn probe_json(port: u16, extra: &[&str]) -> (Value, std::process::Output) {
    let port = port.to_string();
    let mut args = vec!["probe", "-h", "127.0.0.1", "-p", &port, "--json"];
    args.extend_from_slice(extra);
    let output = skeeter().args(&args).output().unwrap();
    let stdout = text(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {stdout:?}, stderr {}",
            text(&output.stderr)
        )
    });
    assert_eq!(stdout.lines().count(), 1, "one line of JSON: {stdout}");
    (report, output)
}

fn ok(report: &Value, check: &str) -> Value {
    report["checks"][check]["ok"].clone()
}

#[test]
fn embedded_broker_does_everything() {
    let broker = TestBroker::start();
    let required: Vec<&str> = ALL_CHECKS.iter().flat_map(|c| ["--require", c]).collect();
    let mut extra = vec!["--max-size-cap", "200000", "--samples", "5"];
    extra.extend(required);
    let (report, output) = probe_json(broker.port(), &extra);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report:#}\n{}",
        text(&output.stderr)
    );
    for check in ALL_CHECKS {
        assert_eq!(ok(&report, check), Value::Bool(true), "{check}: {report:#}");
    }
    assert_eq!(report["broker"], format!("127.0.0.1:{}", broker.port()));
    assert_eq!(report["protocol"], "5");
    assert_eq!(report["granted_qos"], 2);
    assert_eq!(report["max_packet_size"]["payload"], 200000);
    assert_eq!(report["max_packet_size"]["at_cap"], true);
    assert!(report["connack"]["topic_alias_maximum"].as_u64().unwrap() > 0);
    for qos in ["qos0", "qos1", "qos2"] {
        let stats = &report["latency_ms"][qos];
        assert_eq!(stats["samples"], 5, "{qos}: {stats}");
        let (min, median, max) = (
            stats["min"].as_f64().unwrap(),
            stats["median"].as_f64().unwrap(),
            stats["max"].as_f64().unwrap(),
        );
        assert!(min <= median && median <= max, "{qos}: {stats}");
    }
    assert_eq!(report["required_failed"], serde_json::json!([]));
    // The retained message it set is gone.
    let left = skeeter()
        .args([
            "clean-retained",
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port_arg(),
            "--dry-run",
            "skeeter/probe/#",
        ])
        .output()
        .unwrap();
    assert_eq!(text(&left.stdout), "", "{}", text(&left.stderr));
}

#[test]
fn table_has_one_aligned_line_per_check() {
    let broker = TestBroker::start();
    let output = skeeter()
        .args([
            "probe",
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port_arg(),
            "-V",
            "311",
            "--max-size-cap",
            "1000",
            "--samples",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains("checks over MQTT 3.1.1"), "{stdout}");
    let header = lines[1];
    assert!(header.starts_with("CHECK "), "{stdout}");
    let result_column = header.find("RESULT").unwrap();
    let detail_column = header.find("DETAIL").unwrap();
    let expected = [
        "mqtt5",
        "mqtt311",
        "mqtt31",
        "connack",
        "qos1",
        "qos2",
        "retain",
        "wildcards",
        "shared",
        "topic-alias",
        "keepalive",
        "sys",
        "will",
        "latency-qos0",
        "latency-qos1",
        "latency-qos2",
        "max-packet",
    ];
    assert_eq!(lines.len(), 2 + expected.len(), "{stdout}");
    for (line, name) in lines[2..].iter().zip(expected) {
        assert!(line.starts_with(&format!("{name} ")), "{name}: {stdout}");
        assert_ne!(&line[result_column..result_column + 1], " ", "{stdout}");
        assert_eq!(&line[detail_column - 2..detail_column], "  ", "{stdout}");
    }
    assert!(
        stdout.contains("max-packet") && stdout.contains(">= "),
        "{stdout}"
    );
}

#[test]
fn mosquitto_report_matches_its_configuration() {
    let Some(mosquitto) =
        Mosquitto::start("max_packet_size 10000\nmax_qos 1\nmax_topic_alias 0\nsys_interval 1")
    else {
        return;
    };
    let (report, output) = probe_json(mosquitto.port, &["--samples", "5"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for check in [
        "mqtt5",
        "mqtt311",
        "mqtt31",
        "qos1",
        "retain",
        "wildcards",
        "shared",
        "keepalive",
        "sys",
        "will",
        "max-packet",
    ] {
        assert_eq!(ok(&report, check), Value::Bool(true), "{check}: {report:#}");
    }
    assert_eq!(ok(&report, "qos2"), Value::Bool(false), "{report:#}");
    assert_eq!(ok(&report, "topic-alias"), Value::Bool(false), "{report:#}");
    assert_eq!(report["granted_qos"], 1);
    assert_eq!(report["connack"]["maximum_qos"], 1);
    assert_eq!(report["connack"]["maximum_packet_size"], 10000);
    assert!(
        report["checks"]["sys"]["detail"]
            .as_str()
            .unwrap()
            .contains("mosquitto version"),
        "{report:#}"
    );
    // mosquitto counts the fixed header's first byte but not the remaining-length bytes: the
    // largest packet it takes is 10000 bytes plus those (2 here).
    let bytes = report["max_packet_size"]["bytes"].as_u64().unwrap();
    assert!((10_000..=10_004).contains(&bytes), "{report:#}");
    assert_eq!(report["max_packet_size"]["at_cap"], false);
    assert!(report["latency_ms"]["qos2"].is_null(), "{report:#}");
    assert_eq!(report["latency_ms"]["qos1"]["samples"], 5);

    // A required check that is not ok: exit 14, the report still printed, one error line.
    let (report, output) = probe_json(
        mosquitto.port,
        &[
            "--samples",
            "1",
            "--require",
            "qos1",
            "--require",
            "qos2",
            "--require",
            "topic-alias",
        ],
    );
    assert_eq!(output.status.code(), Some(14));
    assert_eq!(
        report["required_failed"],
        serde_json::json!(["qos2", "topic-alias"])
    );
    let stderr = text(&output.stderr);
    assert_eq!(
        stderr,
        "skeeter: error: required check(s) not ok: qos2, topic-alias\n"
    );
}

#[test]
fn mosquitto_checks_over_311_when_asked() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    let (report, output) = probe_json(
        mosquitto.port,
        &[
            "-V",
            "311",
            "--samples",
            "2",
            "--max-size-cap",
            "4096",
            "--require",
            "shared",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(report["protocol"], "3.1.1");
    assert_eq!(ok(&report, "shared"), Value::Bool(true), "{report:#}");
    // mosquitto 2.0 grants topic aliases by default (max_topic_alias 10).
    assert_eq!(ok(&report, "topic-alias"), Value::Bool(true), "{report:#}");
    assert_eq!(report["max_packet_size"]["at_cap"], true);
}

#[test]
fn unreachable_broker_exits_1() {
    let port = free_port().to_string();
    let output = skeeter()
        .args(["probe", "-h", "127.0.0.1", "-p", &port])
        .output()
        .unwrap();
    let line = one_error_line(&output, 1);
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
}

#[test]
fn bad_command_lines_are_usage_errors() {
    for args in [
        &["probe", "--require", "telepathy"][..],
        &["probe", "--will-topic", "a/b"][..],
        &["probe", "-q", "1"][..],
        &["probe", "--samples", "0"][..],
        &["probe", "--max-size-cap", "x"][..],
    ] {
        let output = skeeter().args(args).output().unwrap();
        one_error_line(&output, 2);
    }
}

#[test]
fn w_bounds_the_whole_run() {
    let broker = TestBroker::start();
    let started = Instant::now();
    let (report, output) = probe_json(broker.port(), &["-W", "1"]);
    assert!(started.elapsed() < Duration::from_secs(8), "{report:#}");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(ok(&report, "mqtt311"), Value::Bool(true));
    // The keep-alive check alone takes 3 s: it, or what comes after it, is cut off.
    let cut: Vec<&str> = ALL_CHECKS
        .iter()
        .copied()
        .filter(|c| ok(&report, c) != Value::Bool(true))
        .collect();
    assert!(!cut.is_empty(), "{report:#}");
}

#[test]
fn help_documents_json_and_exit_14() {
    let output = skeeter().args(["probe", "--help"]).output().unwrap();
    let help = text(&output.stdout);
    assert!(help.contains("\"required_failed\""), "{help}");
    assert!(
        help.contains("14   probe: a check named by --require was not ok"),
        "{help}"
    );
    assert!(help.contains("Examples:"), "{help}");
}

#[test]
fn over_websockets_to_a_skeeter_broker_process() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("broker.conf");
    std::fs::write(
        &conf,
        "listener 0 127.0.0.1\nlistener 0 127.0.0.1\nprotocol websockets\nallow_anonymous true\n",
    )
    .unwrap();
    let (_broker, lines) = common::skeeter_broker(&["-c", conf.to_str().unwrap()], 2);
    let port = common::listening_port(&lines, "ws");
    let url = format!("ws://127.0.0.1:{port}/mqtt");
    let output = skeeter()
        .args(["probe", "-L", &url, "--json", "--samples", "2"])
        .args([
            "--max-size-cap",
            "5000",
            "--require",
            "mqtt5",
            "--require",
            "will",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report:#} {}",
        text(&output.stderr)
    );
    assert_eq!(report["broker"], url);
    // -V 31 does not go over WebSockets in this version: not tried, not a failure.
    assert_eq!(ok(&report, "mqtt31"), Value::Null, "{report:#}");
    assert_eq!(ok(&report, "retain"), Value::Bool(true), "{report:#}");
    assert_eq!(report["max_packet_size"]["at_cap"], true);
}

#[test]
fn over_tls_with_a_password_to_a_skeeter_broker_process() {
    let pki = common::pki::Pki::new();
    let passwords = pki.path("passwd");
    skeeter()
        .args([
            "passwd",
            "-c",
            "-b",
            passwords.to_str().unwrap(),
            "alice",
            "secret",
        ])
        .assert()
        .success();
    let args = [
        "--port",
        "0",
        "--tls-port",
        "0",
        "--certfile",
        &pki.file("server.pem"),
        "--keyfile",
        &pki.file("server.key"),
        "--password-file",
        passwords.to_str().unwrap(),
    ];
    let (_broker, lines) = common::skeeter_broker(&args, 2);
    let port = common::listening_port(&lines, "mqtts").to_string();
    let tls = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "--cafile",
        &pki.file("ca.pem"),
    ];
    let output = skeeter()
        .arg("probe")
        .args(tls)
        .args(["-u", "alice", "--pw", "secret", "--json", "--samples", "2"])
        .args([
            "--max-size-cap",
            "5000",
            "--require",
            "mqtt31",
            "--require",
            "retain",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report:#} {}",
        text(&output.stderr)
    );
    assert_eq!(ok(&report, "will"), Value::Bool(true), "{report:#}");

    // The wrong password: refused (5, as the CONNACK of the 3.1.1 attempt says), one line.
    let output = skeeter()
        .arg("probe")
        .args(tls)
        .args(["-u", "alice", "--pw", "wrong"])
        .output()
        .unwrap();
    one_error_line(&output, 5);
    // A CA that did not sign the broker's certificate: TLS failed, 8.
    let output = skeeter()
        .args(["probe", "-h", "127.0.0.1", "-p", &port])
        .args(["--cafile", &pki.file("other-ca.pem")])
        .output()
        .unwrap();
    one_error_line(&output, 8);
}
