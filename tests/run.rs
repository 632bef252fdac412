//! `skeeter run`: a job's state, heartbeat and output lines on MQTT, its exit code passed
//! through, signals forwarded, the will when the wrapper dies, and a broker that cannot be
//! reached.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Background, Mosquitto, TestBroker, skeeter, skeeter_std, skeeter_sub, text};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(20);

/// `topic payload` lines of `sub -v` into (topic, JSON or text).
fn messages(out: &[u8]) -> Vec<(String, String)> {
    text(out)
        .lines()
        .map(|line| {
            let (topic, payload) = line.split_once(' ').unwrap_or((line, ""));
            (topic.to_owned(), payload.to_owned())
        })
        .collect()
}

fn json(payload: &str) -> Value {
    serde_json::from_str(payload).unwrap_or_else(|e| panic!("{e}: {payload}"))
}

fn a_job_is_reported(port: u16) {
    // running, out, err, heartbeat, out (no newline), exited.
    let watcher = skeeter_sub(port, &["-t", "processes/#", "-v", "-q", "1", "-C", "6"]);
    let output = skeeter()
        .args([
            "run",
            "-p",
            &port.to_string(),
            "-t",
            "processes/job",
            "--heartbeat",
            "1",
        ])
        .args([
            "--",
            "sh",
            "-c",
            "echo hello; echo oops >&2; sleep 1.6; printf tail; exit 3",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "hello\ntail");
    assert_eq!(text(&output.stderr), "oops\n");
    let (code, out) = watcher.finish(LIMIT);
    assert_eq!(code, Some(0));
    let got = messages(&out);
    let topics: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    // The output lines may overtake each other across the two streams, not the states.
    let states: Vec<Value> = got
        .iter()
        .filter(|(t, _)| t == "processes/job")
        .map(|(_, p)| json(p))
        .collect();
    assert_eq!(states.len(), 3, "{got:?}");
    assert_eq!(states[0]["state"], "running");
    assert!(states[0]["pid"].as_u64().unwrap() > 0);
    assert_eq!(states[0]["cmd"][0], "sh");
    assert!(states[0]["host"].as_str().is_some_and(|h| !h.is_empty()));
    let started = states[0]["started"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(started).is_ok());
    assert_eq!(states[1]["state"], "running");
    assert_eq!(states[1]["elapsed_s"], 1);
    assert_eq!(states[2]["state"], "exited");
    assert_eq!(states[2]["code"], 3);
    assert_eq!(states[2]["signal"], Value::Null);
    assert!(states[2]["duration_s"].as_f64().unwrap() >= 1.5);
    assert_eq!(states[2]["pid"], states[0]["pid"]);
    assert!(topics.contains(&"processes/job/out"));
    assert!(got.contains(&("processes/job/out".into(), "hello".into())));
    assert!(got.contains(&("processes/job/err".into(), "oops".into())));
    assert!(got.contains(&("processes/job/out".into(), "tail".into())));
    // The last state is retained: a watcher coming later sees it.
    let output = skeeter()
        .args([
            "sub",
            "-p",
            &port.to_string(),
            "-t",
            "processes/job",
            "-C",
            "1",
            "-W",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(json(text(&output.stdout).trim())["state"], "exited");
}

#[test]
fn a_job_is_reported_through_the_embedded_broker() {
    let broker = TestBroker::start();
    a_job_is_reported(broker.port());
}

#[test]
fn a_job_is_reported_through_mosquitto() {
    let Some(mosquitto) = Mosquitto::start("") else {
        return;
    };
    a_job_is_reported(mosquitto.port);
}

/// The wrapper in the background; its `running` state seen by a watcher on `topic`.
fn start_job(port: u16, topic: &str, command: &[&str]) -> (std::process::Child, Value) {
    let mut watcher = skeeter_sub(port, &["-t", topic, "-C", "1"]);
    let child = skeeter_std()
        .args(["run", "-p", &port.to_string(), "-t", topic, "--"])
        .args(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    watcher.wait_for_stderr("received PUBLISH");
    let (_, out) = watcher.finish(LIMIT);
    let running = json(text(&out).trim());
    assert_eq!(running["state"], "running");
    (child, running)
}

fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the wrapper did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn signals_are_passed_to_the_command() {
    let broker = TestBroker::start();
    let port = broker.port();
    let (mut wrapper, _) = start_job(port, "processes/sleepy", &["sleep", "30"]);
    signal(wrapper.id(), "TERM");
    let status = wrapper.wait_exit_code();
    assert_eq!(status, Some(128 + 15));
    let output = skeeter()
        .args([
            "sub",
            "-p",
            &port.to_string(),
            "-t",
            "processes/sleepy",
            "-C",
            "1",
            "-W",
            "5",
        ])
        .output()
        .unwrap();
    let exited = json(text(&output.stdout).trim());
    assert_eq!(exited["state"], "exited");
    assert_eq!(exited["signal"], 15);
    assert_eq!(exited["code"], Value::Null);
}

trait ExitCode {
    fn wait_exit_code(&mut self) -> Option<i32>;
}

impl ExitCode for std::process::Child {
    fn wait_exit_code(&mut self) -> Option<i32> {
        wait_exit(self).code()
    }
}

/// kill -9 of the wrapper: the broker publishes its will, `lost`, retained.
#[test]
fn the_will_says_lost_when_the_wrapper_is_killed() {
    let broker = TestBroker::start();
    let port = broker.port();
    let (mut wrapper, running) = start_job(port, "processes/doomed", &["sleep", "30"]);
    let watcher = skeeter_sub(port, &["-t", "processes/doomed", "-C", "1", "-R"]);
    signal(wrapper.id(), "KILL");
    wait_exit(&mut wrapper);
    let (code, out) = watcher.finish(LIMIT);
    assert_eq!(code, Some(0));
    let lost = json(text(&out).trim());
    assert_eq!(lost["state"], "lost");
    assert_eq!(lost["cmd"], running["cmd"]);
    // The orphaned command: ours to clean up.
    signal(running["pid"].as_u64().unwrap() as u32, "KILL");
}

/// No broker: the command runs and its code comes back, with one warning; --require-broker
/// does not run it.
#[test]
fn an_unreachable_broker_does_not_stop_the_job() {
    let port = common::free_port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let script = format!("touch {}; exit 4", marker.display());
    let output = skeeter()
        .args([
            "run",
            "-p",
            &port,
            "-t",
            "processes/x",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(marker.exists());
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("running the command unreported"),
        "{stderr}"
    );

    std::fs::remove_file(&marker).unwrap();
    let output = skeeter()
        .args([
            "run",
            "-p",
            &port,
            "-t",
            "processes/x",
            "--require-broker",
            "--",
        ])
        .args(["sh", "-c", &script])
        .output()
        .unwrap();
    common::one_error_line(&output, 1);
    assert!(!marker.exists(), "the command did not run");
}

#[test]
fn a_command_that_cannot_start_exits_127_and_says_so() {
    let broker = TestBroker::start();
    let port = broker.port();
    let watcher = skeeter_sub(port, &["-t", "processes/missing", "-C", "1"]);
    let output = skeeter()
        .args([
            "run",
            "-p",
            &port.to_string(),
            "-t",
            "processes/missing",
            "--",
        ])
        .arg("/nonexistent/command")
        .output()
        .unwrap();
    let line = common::one_error_line(&output, 127);
    assert!(line.contains("cannot run /nonexistent/command"), "{line}");
    let (_, out) = watcher.finish(LIMIT);
    let state = json(text(&out).trim());
    assert_eq!(
        (state["state"].as_str(), state["code"].as_u64()),
        (Some("exited"), Some(127))
    );
    // No command at all is a usage error.
    let output = skeeter().args(["run", "-t", "x"]).output().unwrap();
    common::one_error_line(&output, 2);
}

/// --output none publishes no lines (they still reach our stdout); --retain false keeps the
/// states unretained.
#[test]
fn output_none_and_retain_false() {
    let broker = TestBroker::start();
    let port = broker.port();
    let watcher: Background = skeeter_sub(port, &["-t", "processes/#", "-v", "-C", "2"]);
    let output = skeeter()
        .args([
            "run",
            "-p",
            &port.to_string(),
            "-t",
            "processes/quiet",
            "--output",
            "none",
        ])
        .args(["--retain", "false", "--", "echo", "visible"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(text(&output.stdout), "visible\n");
    let (_, out) = watcher.finish(LIMIT);
    let got = messages(&out);
    assert!(
        got.iter().all(|(topic, _)| topic == "processes/quiet"),
        "{got:?}"
    );
    let output = skeeter()
        .args([
            "sub",
            "-p",
            &port.to_string(),
            "-t",
            "processes/quiet",
            "--retained-only",
            "-W",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(text(&output.stdout), "");
}
