//! Differential tests: the same command line through mosquitto's clients and through skeeter
//! linked as mosquitto_pub / mosquitto_sub, against the same broker and the same messages; stdout
//! bytes and exit codes must be the same. Where mosquitto 2.0 has a known bug, the test says so
//! and checks that skeeter does the intended thing.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Mosquitto, NO_CONFIG, TestBroker, have, skeeter};

const LIMIT: Duration = Duration::from_secs(20);

/// How a client run ended: its exit code (None if killed) and its stdout.
type Outcome = (Option<i32>, Vec<u8>);

/// skeeter's links in a temporary directory (mosquitto_pub, mosquitto_sub, ...).
struct Links {
    dir: tempfile::TempDir,
}

impl Links {
    fn new() -> Links {
        let dir = tempfile::tempdir().unwrap();
        skeeter()
            .args(["links", dir.path().to_str().unwrap()])
            .assert()
            .success();
        Links { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Whether mosquitto's clients are here (else the test is skipped, or fails in CI).
fn have_clients() -> bool {
    have("mosquitto_pub") && have("mosquitto_sub")
}

/// A command for `program` (mosquitto's or skeeter's link) with its options file taken from
/// `config_home` (an empty place unless the test says otherwise).
fn client(program: &Path, config_home: &str) -> Command {
    let mut command = Command::new(program);
    command
        .env("XDG_CONFIG_HOME", config_home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A subscriber that runs in the background; its stdout is collected.
struct Running {
    child: Child,
    stdout: std::thread::JoinHandle<Vec<u8>>,
}

fn start(mut command: Command) -> Running {
    let mut child = command.spawn().expect("start the client");
    let mut stdout = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    Running { child, stdout }
}

impl Running {
    /// Exit code and stdout, once it exits (killed after LIMIT).
    fn finish(mut self) -> Outcome {
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        (status, self.stdout.join().unwrap())
    }
}

/// Publish with skeeter (the same messages for both subscribers).
fn publish(port: u16, args: &[&str]) {
    skeeter()
        .args(["pub", "-p", &port.to_string()])
        .args(args)
        .assert()
        .success();
}

/// Retained messages on diff/a (hello), diff/b (empty: clears, so nothing) and diff/c (world).
fn retained_fixture(port: u16) {
    publish(port, &["-t", "diff/a", "-r", "-q", "1", "-m", "hello"]);
    publish(port, &["-t", "diff/c", "-r", "-q", "1", "-m", "world"]);
}

/// Run `mosquitto_sub ARGS` and skeeter's `mosquitto_sub ARGS` side by side on the same broker;
/// `live` publishes once both are subscribed (`subscriptions` is how many they make each).
/// Returns (mosquitto's, skeeter's) exit code and stdout.
fn sub_both(
    broker: &TestBroker,
    args: &[&str],
    subscriptions: usize,
    live: impl Fn(u16),
) -> (Outcome, Outcome) {
    let links = Links::new();
    let port = broker.port_arg();
    let before = broker.subscriptions();
    let run = |program: &Path| {
        let mut command = client(program, NO_CONFIG);
        command.args(["-p", &port]).args(args);
        start(command)
    };
    let theirs = run(Path::new("mosquitto_sub"));
    let ours = run(&links.path("mosquitto_sub"));
    broker.wait_for_subscriptions(before + 2 * subscriptions);
    live(broker.port());
    (theirs.finish(), ours.finish())
}

fn assert_same(theirs: Outcome, ours: Outcome, what: &str) {
    assert_eq!(
        String::from_utf8_lossy(&ours.1),
        String::from_utf8_lossy(&theirs.1),
        "{what}: stdout differs (left: skeeter, right: mosquitto)"
    );
    assert_eq!(ours.0, theirs.0, "{what}: exit codes differ");
}

#[test]
fn sub_output_modes_match() {
    if !have_clients() {
        return;
    }
    let cases: &[&[&str]] = &[
        &["-t", "diff/#", "-C", "3"],
        &["-t", "diff/#", "-C", "3", "-v"],
        &["-t", "diff/#", "-C", "3", "-v", "-N"],
        &["-t", "diff/#", "-C", "3", "-N"],
        &["-t", "diff/#", "-C", "1", "-v", "-R"],
        &["-t", "diff/#", "-C", "2", "-v", "-T", "diff/c"],
        &[
            "-t",
            "diff/a",
            "-t",
            "diff/live",
            "-C",
            "2",
            "-v",
            "-q",
            "1",
        ],
    ];
    for args in cases {
        let broker = TestBroker::start();
        retained_fixture(broker.port());
        let subscriptions = args.iter().filter(|a| **a == "-t").count();
        let (theirs, ours) = sub_both(&broker, args, subscriptions, |port| {
            publish(port, &["-t", "diff/live", "-q", "1", "-m", "live one"]);
            publish(port, &["-t", "diff/live", "-q", "1", "-n"]);
            publish(port, &["-t", "diff/live", "-q", "1", "-m", "live two"]);
        });
        assert_same(theirs, ours, &format!("mosquitto_sub {args:?}"));
    }
}

#[test]
fn sub_retained_only_matches() {
    if !have_clients() {
        return;
    }
    let broker = TestBroker::start();
    retained_fixture(broker.port());
    let (theirs, ours) = sub_both(
        &broker,
        &["-t", "diff/#", "-v", "--retained-only"],
        1,
        |port| {
            publish(port, &["-t", "diff/live", "-m", "ends it"]);
        },
    );
    assert_same(theirs, ours, "--retained-only");
}

#[test]
fn sub_timeout_matches() {
    if !have_clients() {
        return;
    }
    let broker = TestBroker::start();
    let (theirs, ours) = sub_both(&broker, &["-t", "silent", "-W", "1"], 1, |_| {});
    assert_eq!(theirs.0, Some(27));
    assert_same(theirs, ours, "-W 1");
}

#[test]
fn sub_url_matches() {
    if !have_clients() {
        return;
    }
    let broker = TestBroker::start();
    retained_fixture(broker.port());
    let url = format!("mqtt://127.0.0.1:{}/diff/a", broker.port());
    let links = Links::new();
    let run = |program: &Path| {
        let output = client(program, NO_CONFIG)
            .args(["-L", &url, "-v", "-C", "1"])
            .output()
            .unwrap();
        (output.status.code(), output.stdout)
    };
    assert_same(
        run(Path::new("mosquitto_sub")),
        run(&links.path("mosquitto_sub")),
        "-L",
    );
}

#[test]
fn options_file_is_read_as_mosquitto_reads_it() {
    if !have_clients() {
        return;
    }
    let broker = TestBroker::start();
    retained_fixture(broker.port());
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("mosquitto_sub"),
        format!("# shared defaults\n-p {}\n-v\n-t diff/a\n", broker.port()),
    )
    .unwrap();
    let links = Links::new();
    let home = config.path().to_str().unwrap();
    // -t in the file adds to the command line's -t: both retained messages arrive.
    let run = |program: &Path| {
        let output = client(program, home)
            .args(["-t", "diff/c", "-C", "2"])
            .output()
            .unwrap();
        (output.status.code(), output.stdout)
    };
    let theirs = run(Path::new("mosquitto_sub"));
    let ours = run(&links.path("mosquitto_sub"));
    // The order of two retained messages from two subscriptions is the broker's choice: compare
    // the lines as a set.
    let lines = |out: &[u8]| {
        let mut lines: Vec<String> = String::from_utf8_lossy(out)
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(lines(&ours.1), lines(&theirs.1));
    assert_eq!(lines(&ours.1), ["diff/a hello", "diff/c world"]);
    assert_eq!(ours.0, theirs.0);

    // The file's -m makes a command-line -f a second message source: an error in both.
    std::fs::write(
        config.path().join("mosquitto_pub"),
        format!("-p {}\n-m from the file\n", broker.port()),
    )
    .unwrap();
    let run = |program: &Path| {
        client(program, home)
            .args(["-t", "x", "-f", "/etc/hostname"])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(run(Path::new("mosquitto_pub")), Some(1));
    assert_eq!(run(&links.path("mosquitto_pub")), Some(1));
}

/// Each pub command line through mosquitto_pub and skeeter's mosquitto_pub delivers the same
/// messages (seen by a skeeter subscriber) with the same exit code.
#[test]
fn pub_message_sources_match() {
    if !have_clients() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.bin");
    std::fs::write(&file, b"from a file\0with a NUL\n").unwrap();
    let file = file.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<&str>, &[u8], usize)> = vec![
        (vec!["-m", "hello"], b"", 1),
        (vec!["-n"], b"", 1),
        (vec!["-f", &file], b"", 1),
        (vec!["-s"], b"all of stdin\nin one\n", 1),
        (vec!["-l"], b"one\n\ntwo\r\nlast", 4),
        (vec!["-l", "-q", "1"], b"1\n2\n3\n", 3),
        (vec!["-m", "again", "--repeat", "3", "-q", "2"], b"", 3),
        (vec!["-m", "kept", "-r", "-q", "1"], b"", 1),
    ];
    let links = Links::new();
    for (args, stdin, count) in &cases {
        let mut seen = Vec::new();
        for program in [PathBuf::from("mosquitto_pub"), links.path("mosquitto_pub")] {
            let broker = TestBroker::start();
            let mut sub = common::skeeter_std();
            sub.args(["sub", "-p", &broker.port_arg(), "-t", "diff/pub"])
                .args(["-C", &count.to_string(), "-v"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            let sub = start(sub);
            broker.wait_for_subscriptions(1);
            let mut publisher = client(&program, NO_CONFIG);
            publisher
                .args(["-p", &broker.port_arg(), "-t", "diff/pub"])
                .args(args)
                .stdin(Stdio::piped());
            let mut child = publisher.spawn().unwrap();
            {
                use std::io::Write;
                let mut input = child.stdin.take().unwrap();
                input.write_all(stdin).unwrap();
            }
            let status = child.wait().unwrap().code();
            let (sub_code, received) = sub.finish();
            assert_eq!(sub_code, Some(0), "{program:?} {args:?}");
            seen.push((status, received));
        }
        let ours = seen.pop().unwrap();
        let theirs = seen.pop().unwrap();
        assert_same(theirs, ours, &format!("mosquitto_pub {args:?}"));
    }
}

/// Usage and input errors exit 1 under the mosquitto names, as mosquitto's clients do.
#[test]
fn usage_errors_exit_like_mosquitto() {
    if !have_clients() {
        return;
    }
    let links = Links::new();
    let port = common::free_port().to_string();
    let cases: &[(&str, &[&str])] = &[
        ("mosquitto_pub", &["-t", "a/#", "-m", "x"]),
        (
            "mosquitto_pub",
            &["-t", "a", "-m", "x", "-f", "/etc/hostname"],
        ),
        ("mosquitto_pub", &["-t", "a", "-f", "/nonexistent/file"]),
        ("mosquitto_pub", &["-t", "a", "-m", "x", "--no-such-option"]),
        ("mosquitto_pub", &["-t", "a", "-m", "x", "-q", "3"]),
        ("mosquitto_pub", &["-t", "a", "-m", "x", "-c"]),
        ("mosquitto_pub", &["-t", "a", "-m", "x", "-p", &port]),
        ("mosquitto_pub", &["-t", "a", "-s"]),
        ("mosquitto_sub", &["-t", "a/#/b"]),
        ("mosquitto_sub", &["-t", "a", "-C", "0"]),
        ("mosquitto_sub", &["-t", "a", "-R", "--retained-only"]),
        ("mosquitto_sub", &["-t", "a", "-p", &port]),
    ];
    for (tool, args) in cases {
        let run = |program: &Path| {
            let output = client(program, NO_CONFIG)
                .args(["-h", "127.0.0.1"])
                .args(*args)
                .output()
                .unwrap();
            (output.status.code(), output.stdout)
        };
        let theirs = run(Path::new(tool));
        let ours = run(&links.path(tool));
        assert_eq!(theirs.0, Some(1), "mosquitto's {tool} {args:?}");
        assert_eq!(ours.0, Some(1), "skeeter's {tool} {args:?}");
        assert!(ours.1.is_empty(), "{tool} {args:?}");
    }
}

/// mosquitto_pub publishes nothing for `-t ''` and still exits 0; skeeter refuses it.
#[test]
fn empty_topic_is_refused_unlike_mosquitto() {
    let links = Links::new();
    let output = client(&links.path("mosquitto_pub"), NO_CONFIG)
        .args(["-t", "", "-m", "x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("empty"), "{stderr}");
}

/// `--unix PATH` against mosquitto's Unix socket listener, both clients.
#[test]
fn unix_socket_matches() {
    let dir = tempfile::tempdir().unwrap();
    // mosquitto started as root runs as the user mosquitto: it must be able to make the socket.
    common::set_mode(dir.path(), 0o777);
    let socket = dir.path().join("mqtt.sock");
    let Some(_mosquitto) = Mosquitto::start(&format!(
        "listener 0 {}\nallow_anonymous true",
        socket.display()
    )) else {
        return;
    };
    if !have_clients() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "mosquitto made no socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let socket = socket.to_str().unwrap();
    let links = Links::new();
    for publisher in [PathBuf::from("mosquitto_pub"), links.path("mosquitto_pub")] {
        let status = client(&publisher, NO_CONFIG)
            .args([
                "--unix",
                socket,
                "-t",
                "u/t",
                "-r",
                "-q",
                "1",
                "-m",
                "over a socket",
            ])
            .status()
            .unwrap();
        assert!(status.success(), "{publisher:?}");
        let run = |program: &Path| {
            let output = client(program, NO_CONFIG)
                .args(["--unix", socket, "-t", "u/#", "-v", "-C", "1"])
                .output()
                .unwrap();
            (output.status.code(), output.stdout)
        };
        let theirs = run(Path::new("mosquitto_sub"));
        let ours = run(&links.path("mosquitto_sub"));
        assert_eq!(ours.1, b"u/t over a socket\n");
        assert_same(theirs, ours, "--unix");
    }
}

/// A kept session set up with -c -i ID -E collects QoS 1 messages while away; both clients.
#[test]
fn kept_sessions_match() {
    if !have_clients() {
        return;
    }
    let links = Links::new();
    for program in [PathBuf::from("mosquitto_sub"), links.path("mosquitto_sub")] {
        let broker = TestBroker::start();
        let port = broker.port_arg();
        let id = "parity-keeper";
        let setup = client(&program, NO_CONFIG)
            .args(["-p", &port, "-t", "kept/#", "-q", "1", "-c", "-i", id, "-E"])
            .output()
            .unwrap();
        assert_eq!(setup.status.code(), Some(0), "{program:?} -E");
        assert!(setup.stdout.is_empty());
        publish(
            broker.port(),
            &["-t", "kept/a", "-q", "1", "-m", "while away"],
        );
        let back = client(&program, NO_CONFIG)
            .args([
                "-p", &port, "-t", "kept/#", "-q", "1", "-c", "-i", id, "-C", "1", "-v",
            ])
            .output()
            .unwrap();
        assert_eq!(back.status.code(), Some(0), "{program:?}");
        assert_eq!(back.stdout, b"kept/a while away\n", "{program:?}");
    }
}

/// The will of a client that vanishes (SIGKILL) reaches a watcher; both clients set it alike.
#[test]
fn wills_match() {
    if !have_clients() {
        return;
    }
    let links = Links::new();
    for program in [PathBuf::from("mosquitto_sub"), links.path("mosquitto_sub")] {
        let broker = TestBroker::start();
        let port = broker.port_arg();
        let mut watcher = client(Path::new("mosquitto_sub"), NO_CONFIG);
        watcher.args(["-p", &port, "-t", "will/#", "-v", "-C", "1"]);
        let watcher = start(watcher);
        broker.wait_for_subscriptions(1);
        let mut doomed = client(&program, NO_CONFIG);
        doomed.args(["-p", &port, "-t", "x", "--will-topic", "will/w"]);
        doomed.args(["--will-payload", "gone", "--will-qos", "1", "--will-retain"]);
        let mut doomed = start(doomed);
        broker.wait_for_subscriptions(2);
        doomed.child.kill().unwrap();
        let (code, out) = watcher.finish();
        assert_eq!(code, Some(0), "{program:?}");
        assert_eq!(out, b"will/w gone\n", "{program:?}");
        let _ = doomed.finish();
        // --will-retain: a later subscriber gets it as a retained message.
        let later = client(Path::new("mosquitto_sub"), NO_CONFIG)
            .args([
                "-p", &port, "-t", "will/#", "-v", "-C", "1", "-F", "%r %t %p",
            ])
            .output()
            .unwrap();
        assert_eq!(later.stdout, b"1 will/w gone\n", "{program:?}");
    }
}
