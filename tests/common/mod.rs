//! What every integration test needs: the skeeter binary, an in-process broker on port 0, a real
//! mosquitto broker when one is installed, and background subscribers that are known to be
//! subscribed before anything is published.
#![allow(dead_code)] // each test file uses a different part of this

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use skeeter::broker::{BackgroundBroker, Config};

pub mod frames;
pub mod pki;
pub mod watched;

/// The skeeter binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_skeeter"))
}

/// Where tests point XDG_CONFIG_HOME: nothing there, so the user's own options files
/// (~/.config/skeeter/pub, ...) never change what a test runs.
pub const NO_CONFIG: &str = "/nonexistent/skeeter-test-config";

/// `skeeter ARGS` as an assert_cmd command, with no SKEETER_* variables from the environment
/// and no options file.
pub fn skeeter() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("SKEETER_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("XDG_CONFIG_HOME", NO_CONFIG);
    cmd.timeout(Duration::from_secs(60));
    cmd
}

/// The same, as a std Command (for processes that run in the background).
pub fn skeeter_std() -> Command {
    let mut cmd = Command::new(bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("SKEETER_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("XDG_CONFIG_HOME", NO_CONFIG);
    cmd
}

/// An embedded broker on 127.0.0.1 and a free port, stopped when dropped.
pub struct TestBroker {
    broker: Option<BackgroundBroker>,
}

impl TestBroker {
    pub fn start() -> TestBroker {
        let config = Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        let broker = BackgroundBroker::start(config).expect("start the embedded broker");
        TestBroker {
            broker: Some(broker),
        }
    }

    pub fn port(&self) -> u16 {
        self.broker.as_ref().unwrap().local_addr().port()
    }

    pub fn port_arg(&self) -> String {
        self.port().to_string()
    }

    /// How many subscriptions the broker holds now.
    pub fn subscriptions(&self) -> usize {
        self.broker.as_ref().unwrap().subscriptions()
    }

    /// Wait (at most 10 s) until the broker holds `count` subscriptions.
    pub fn wait_for_subscriptions(&self, count: usize) {
        let broker = self.broker.as_ref().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while broker.subscriptions() < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} subscriptions arrived",
                broker.subscriptions()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stop(mut self) {
        if let Some(broker) = self.broker.take() {
            broker.stop();
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(broker) = self.broker.take() {
            broker.stop();
        }
    }
}

/// A free TCP port on 127.0.0.1 (for programs that cannot bind port 0 themselves).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether an external program is installed. When it is missing, the test is skipped with a
/// note on stderr, unless SKEETER_REQUIRE_INTEROP is set (as .ci/run does): then it fails.
pub fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var_os("SKEETER_REQUIRE_INTEROP").is_some() {
            panic!("{program} is not installed, and SKEETER_REQUIRE_INTEROP is set");
        }
        note_skipped(&format!("{program} is not installed"));
    }
    found
}

/// Whether python3 can import paho-mqtt; skips (or, under SKEETER_REQUIRE_INTEROP, fails) if not.
pub fn have_paho() -> bool {
    if !have("python3") {
        return false;
    }
    let found = Command::new("python3")
        .args(["-c", "import paho.mqtt.client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var_os("SKEETER_REQUIRE_INTEROP").is_some() {
            panic!("python3 cannot import paho.mqtt, and SKEETER_REQUIRE_INTEROP is set");
        }
        note_skipped("python3 cannot import paho.mqtt (pip install paho-mqtt)");
    }
    found
}

/// Whether a helper program (not an MQTT implementation) is installed; its absence only skips
/// part of a test, even under SKEETER_REQUIRE_INTEROP.
pub fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// `python3 tests/interop/SCRIPT ARGS` (a paho-mqtt script), at most 60 s; its output.
pub fn run_python(script: &str, args: &[&str]) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    assert_cmd::Command::new("python3")
        .arg(&script)
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

/// Bytes as text, for comparisons and messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Assert that a run failed with `code`, printed nothing on stdout and exactly one line,
/// starting `skeeter: error:`, on stderr; returns that line.
pub fn one_error_line(output: &std::process::Output, code: i32) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(text(&output.stdout), "");
    assert!(
        stderr.starts_with("skeeter: error:")
            && stderr.ends_with('\n')
            && stderr.lines().count() == 1,
        "stderr is not one 'skeeter: error:' line: {stderr:?}"
    );
    stderr
}

/// Say on the terminal that a test is skipped. Written straight to stderr, because libtest hides
/// what `eprintln!` prints in a passing test.
pub fn note_skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// A mosquitto broker on 127.0.0.1 and a free port, killed (by PID) when dropped.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Start mosquitto with `max_queued_messages 0` (so nothing is dropped for a slow
    /// subscriber) plus the extra configuration lines given. None when it is not installed.
    pub fn start(extra_config: &str) -> Option<Mosquitto> {
        if !have("mosquitto") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        // mosquitto started as root drops to the user mosquitto, which must read its files.
        set_mode(dir.path(), 0o755);
        for _ in 0..5 {
            let port = free_port();
            let conf = dir.path().join("mosquitto.conf");
            std::fs::write(
                &conf,
                format!(
                    "listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n{extra_config}\n"
                ),
            )
            .unwrap();
            set_mode(&conf, 0o644);
            let mut child = Command::new("mosquitto")
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start mosquitto");
            if wait_for_port(port, &mut child) {
                return Some(Mosquitto {
                    child,
                    port,
                    _dir: dir,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("mosquitto did not start listening");
    }

    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }

    /// The mosquitto process's id (for /proc/PID/status).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Wait (at most 5 s) until something accepts connections on the port; false if the child died.
fn wait_for_port(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A subscriber process running in the background; its stdout is collected.
pub struct Background {
    child: Child,
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
    stderr_lines: mpsc::Receiver<String>,
}

impl Background {
    /// Spawn `command` (stdout and stderr piped) and wait until a stderr line contains
    /// `ready` (at most 10 s). With skeeter, pass `-d` and wait for "received SUBACK".
    pub fn spawn(mut command: Command, ready: &str) -> Background {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the background process");
        let mut stdout = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        let stderr_lines = forward_lines(child.stderr.take().unwrap());
        let mut background = Background {
            child,
            stdout: Some(stdout),
            stderr_lines,
        };
        background.wait_for_stderr(ready);
        background
    }

    /// Wait (at most 10 s) for a stderr line containing `text`.
    pub fn wait_for_stderr(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("the background process never printed '{text}' on stderr");
                }
            }
        }
    }

    /// Wait (at most `limit`) for the process to exit; returns its exit code and stdout.
    pub fn finish(mut self, limit: Duration) -> (Option<i32>, Vec<u8>) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stdout = self.stdout.take().unwrap().join().unwrap();
        (status.and_then(|s| s.code()), stdout)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `skeeter sub -d -p PORT ARGS` in the background, returned once its SUBACK has arrived.
pub fn skeeter_sub(port: u16, args: &[&str]) -> Background {
    let mut command = skeeter_std();
    command
        .args(["sub", "-d", "-p", &port.to_string()])
        .args(args);
    Background::spawn(command, "received SUBACK")
}

/// A `skeeter broker` process (stdin closed; stdout and stderr read line by line in the
/// background, so it never blocks on a full pipe), killed (by its own handle) when dropped.
pub struct SkeeterBroker {
    child: Option<Child>,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl SkeeterBroker {
    /// `skeeter broker ARGS` in the background.
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> SkeeterBroker {
        let mut child = skeeter_std()
            .arg("broker")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start skeeter broker");
        let stdout = read_lines(child.stdout.take().unwrap());
        let stderr = read_lines(child.stderr.take().unwrap());
        SkeeterBroker {
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// The broker process's id (for /proc/PID/status).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The next line of stdout, waiting at most `limit`; None if none came (or stdout closed).
    pub fn next_line(&self, limit: Duration) -> Option<String> {
        self.stdout.recv_timeout(limit).ok()
    }

    /// stderr, line by line as it comes.
    pub fn stderr(&self) -> &mpsc::Receiver<String> {
        &self.stderr
    }

    /// Wait (at most 10 s) for a stderr line containing `text`; the lines before it are
    /// passed over. Returns the line.
    pub fn wait_for_stderr(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("the broker never logged '{text}'"),
            }
        }
    }

    /// SIGTERM to this broker (by its PID), then wait (at most 10 s, then SIGKILL) for its exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.wait().unwrap()
    }

    /// Kill the broker (if it still runs); its exit code and all it wrote on stderr.
    pub fn kill_with_stderr(mut self) -> (Option<i32>, String) {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        // The reader ends at EOF, once the broker has exited.
        while let Ok(line) = self.stderr.recv() {
            stderr.push_str(&line);
            stderr.push('\n');
        }
        (status.code(), stderr)
    }
}

impl Drop for SkeeterBroker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `skeeter broker ARGS` in the background; it and the first `lines` lines of its stdout (its
/// `listening on SCHEME://ADDRESS` lines, one per listener), each awaited at most 10 s.
pub fn skeeter_broker<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    lines: usize,
) -> (SkeeterBroker, Vec<String>) {
    let broker = SkeeterBroker::spawn(args);
    let mut got = Vec::new();
    while got.len() < lines {
        match broker.next_line(Duration::from_secs(10)) {
            Some(line) => got.push(line),
            None => panic!("skeeter broker printed only {got:?}"),
        }
    }
    (broker, got)
}

/// The port of the first `listening on SCHEME://HOST:PORT` line among `lines`.
pub fn listening_port(lines: &[String], scheme: &str) -> u16 {
    let prefix = format!("listening on {scheme}://");
    lines
        .iter()
        .find_map(|line| line.trim_end().strip_prefix(&prefix))
        .and_then(|address| address.rsplit(':').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("skeeter broker printed no {scheme}:// listener: {lines:?}"))
}

/// Every line read from `pipe`, sent as it comes; the pipe is drained to its end even when
/// nobody listens any more.
fn read_lines(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    rx
}
