//! `--proxy socks5h://[user[:password]@]host[:port]`: pub and sub through a real SOCKS5 server
//! (pproxy, from PyPI) to the embedded broker, with and without authentication, and the errors:
//! a refusing or unreachable proxy is one runtime error line (exit 1), a bad URL a usage error
//! (exit 2). Tests that need pproxy print "skipped" and pass when it is not installed, unless
//! SKEETER_REQUIRE_INTEROP is set.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{TestBroker, free_port, have, one_error_line, skeeter, skeeter_sub, text};

const WAIT: Duration = Duration::from_secs(10);

/// A pproxy SOCKS5 server on 127.0.0.1 and a free port, killed (by PID) when dropped. Its
/// verbose log (one line per connection, `socks5 CLIENT -> HOST:PORT`) is kept.
struct Pproxy {
    child: Child,
    port: u16,
    log: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Pproxy {
    /// Start pproxy; `users` is `user:password` to require that login. None when pproxy is not
    /// installed.
    fn start(users: Option<&str>) -> Option<Pproxy> {
        if !have("pproxy") {
            return None;
        }
        for _ in 0..5 {
            let port = free_port();
            let mut listen = format!("socks5://127.0.0.1:{port}");
            if let Some(users) = users {
                listen.push('#');
                listen.push_str(users);
            }
            // --auth 0: pproxy would otherwise let an address that logged in once back in
            // without a password for 30 days.
            let mut child = Command::new("pproxy")
                .args(["-l", &listen, "--auth", "0", "-v"])
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start pproxy");
            let log = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
            let stdout = child.stdout.take().unwrap();
            let lines = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let (lock, cond) = &*lines;
                    lock.lock().unwrap().push(line);
                    cond.notify_all();
                }
            });
            let proxy = Pproxy { child, port, log };
            if proxy.wait_for_line("Serving on") {
                return Some(proxy);
            }
            // Port taken in the meantime, or pproxy died: try another port.
        }
        panic!("pproxy did not start serving");
    }

    /// Wait (at most 10 s) for a log line containing `text`; false if none came.
    fn wait_for_line(&self, text: &str) -> bool {
        let (lock, cond) = &*self.log;
        let deadline = Instant::now() + WAIT;
        let mut lines = lock.lock().unwrap();
        while !lines.iter().any(|line| line.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            lines = cond.wait_timeout(lines, left).unwrap().0;
        }
        true
    }

    /// How many connections pproxy opened to `target` (`host:port`) for its clients.
    fn connections_to(&self, target: &str) -> usize {
        let arrow = format!(" -> {target}");
        let lines = self.log.0.lock().unwrap();
        lines.iter().filter(|line| line.ends_with(&arrow)).count()
    }

    /// `socks5h://[USERINFO@]127.0.0.1:PORT`.
    fn url(&self, userinfo: &str) -> String {
        match userinfo {
            "" => format!("socks5h://127.0.0.1:{}", self.port),
            _ => format!("socks5h://{userinfo}@127.0.0.1:{}", self.port),
        }
    }
}

impl Drop for Pproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `skeeter pub -h localhost -p PORT ARGS`, run to the end.
fn publish(port: u16, args: &[&str]) -> Output {
    skeeter()
        .args(["pub", "-h", "localhost", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn pub_and_sub_through_the_proxy() {
    let Some(proxy) = Pproxy::start(None) else {
        return;
    };
    let broker = TestBroker::start();
    let url = proxy.url("");
    // -h localhost: socks5h sends the name, and the proxy resolves it.
    let sub = skeeter_sub(
        broker.port(),
        &["-h", "localhost", "--proxy", &url, "-C", "2", "-t", "px/#"],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bytes");
    let payload: Vec<u8> = (0..=255u8).collect();
    std::fs::write(&file, &payload).unwrap();
    for args in [
        &["-q", "1", "-t", "px/text", "-m", "through the proxy"][..],
        &["-q", "2", "-t", "px/bin", "-f", file.to_str().unwrap()],
    ] {
        let output = publish(broker.port(), &[&["--proxy", &url][..], args].concat());
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert_eq!(text(&output.stderr), "");
    }
    let (code, stdout) = sub.finish(WAIT);
    assert_eq!(code, Some(0));
    let mut expected = b"through the proxy\n".to_vec();
    expected.extend_from_slice(&payload);
    expected.push(b'\n');
    assert_eq!(stdout, expected);
    assert_eq!(
        proxy.connections_to(&format!("localhost:{}", broker.port())),
        3,
        "one connection per client, each to the broker's name"
    );
}

#[test]
fn proxy_login_is_percent_decoded_and_checked() {
    // pproxy compares "user:password" as given: here the user is "us@er", the password "p:a%ss".
    let Some(proxy) = Pproxy::start(Some("us@er:p:a%ss")) else {
        return;
    };
    let broker = TestBroker::start();
    let target = format!("localhost:{}", broker.port());
    let sub = skeeter_sub(broker.port(), &["-v", "-C", "1", "-t", "auth"]);
    let good = proxy.url("us%40er:p%3Aa%25ss");
    let output = publish(
        broker.port(),
        &["--proxy", &good, "-t", "auth", "-m", "let in"],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let (code, stdout) = sub.finish(WAIT);
    assert_eq!(code, Some(0));
    assert_eq!(text(&stdout), "auth let in\n");
    assert_eq!(proxy.connections_to(&target), 1);

    for userinfo in ["us%40er:hunter2", "user:p%3Aa%25ss", ""] {
        let url = proxy.url(userinfo);
        let output = publish(
            broker.port(),
            &["--proxy", &url, "-t", "auth", "-m", "kept out"],
        );
        let line = one_error_line(&output, 1);
        let expected = format!(
            "skeeter: error: cannot connect to {target} through the SOCKS5 proxy 127.0.0.1:{}: ",
            proxy.port
        );
        assert!(line.starts_with(&expected), "{line}");
        assert!(
            !line.contains("hunter2"),
            "the password is not shown: {line}"
        );
    }
    assert_eq!(
        proxy.connections_to(&target),
        1,
        "no refused client got through"
    );
}

#[test]
fn an_unreachable_proxy_is_one_error_line() {
    let broker = TestBroker::start();
    let dead = free_port(); // nothing listens there
    let url = format!("socks5h://127.0.0.1:{dead}");
    for command in ["pub", "sub"] {
        let mut cmd = skeeter();
        cmd.args([
            command,
            "-p",
            &broker.port_arg(),
            "--proxy",
            &url,
            "-t",
            "t",
        ]);
        if command == "pub" {
            cmd.args(["-m", "x"]);
        }
        let output = cmd.output().unwrap();
        let line = one_error_line(&output, 1);
        assert_eq!(
            line,
            format!(
                "skeeter: error: cannot connect to localhost:{} through the SOCKS5 proxy \
                 127.0.0.1:{dead}: cannot reach the proxy: Connection refused (os error 111)\n",
                broker.port()
            )
        );
    }
}

#[test]
fn a_bad_proxy_url_is_a_usage_error() {
    for (url, why) in [
        ("127.0.0.1:1080", "not a URL"),
        ("socks5://127.0.0.1:1080", "only socks5h:// is supported"),
        ("http://127.0.0.1:3128", "unsupported proxy scheme 'http'"),
        ("socks5h://127.0.0.1:0", "port must not be 0"),
        ("socks5h://user@127.0.0.1", "needs a password"),
        ("socks5h://:secret@127.0.0.1", "needs a user name"),
        ("socks5h://127.0.0.1/path", "no path"),
    ] {
        let output = skeeter()
            .args(["pub", "--proxy", url, "-t", "t", "-m", "x"])
            .output()
            .unwrap();
        let line = one_error_line(&output, 2);
        assert!(line.contains(why), "{url}: {line}");
    }
    // The same from the environment.
    let output = skeeter()
        .env("SKEETER_PROXY", "socks4://127.0.0.1")
        .args(["sub", "-t", "t"])
        .output()
        .unwrap();
    one_error_line(&output, 2);
}

#[test]
fn proxy_bind_address_and_mqtt31_together() {
    let Some(proxy) = Pproxy::start(None) else {
        return;
    };
    let broker = TestBroker::start();
    let url = proxy.url("");
    let relayed = ["--proxy", &url, "-A", "127.0.0.1", "-V", "31"];
    let sub = skeeter_sub(
        broker.port(),
        &[
            &relayed[..],
            &["-i", "s", "-v", "-C", "1", "-q", "2", "-t", "all"],
        ]
        .concat(),
    );
    let output = publish(
        broker.port(),
        &[
            &relayed[..],
            &["-i", "p", "-q", "2", "-t", "all", "-m", "together"],
        ]
        .concat(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let (code, stdout) = sub.finish(WAIT);
    assert_eq!(code, Some(0));
    assert_eq!(text(&stdout), "all together\n");
    assert_eq!(
        proxy.connections_to(&format!("localhost:{}", broker.port())),
        2
    );
}
