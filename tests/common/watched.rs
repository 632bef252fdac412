//! A process in the background (mosquitto_sub, skeeter sub, ...) whose output is collected as it
//! arrives, so a test can wait for its SUBACK and then for some output.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What a watched process wrote so far.
#[derive(Default)]
pub struct Captured {
    pub stdout: Vec<u8>,
    /// stderr without skeeter's `-d` packet-trace lines.
    pub stderr: String,
    /// A "received SUBACK" line was seen (mosquitto_sub -d prints it on stdout, skeeter on stderr).
    pub subscribed: bool,
}

/// A background process whose stdout and stderr are collected as they arrive.
pub struct Watched {
    child: Child,
    captured: Arc<(Mutex<Captured>, Condvar)>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Watched {
    /// Spawn `command` (stdin closed, stdout and stderr collected) without waiting for anything.
    pub fn spawn(mut command: Command) -> Watched {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the background process");
        let captured = Arc::new((Mutex::new(Captured::default()), Condvar::new()));

        let mut stdout = child.stdout.take().unwrap();
        let out = Arc::clone(&captured);
        let stdout_reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 64 * 1024];
            loop {
                match stdout.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let (lock, cond) = &*out;
                        let mut captured = lock.lock().unwrap();
                        captured.stdout.extend_from_slice(&chunk[..n]);
                        if !captured.subscribed && contains(&captured.stdout, b"received SUBACK\n")
                        {
                            captured.subscribed = true;
                        }
                        cond.notify_all();
                    }
                }
            }
        });

        let stderr = child.stderr.take().unwrap();
        let err = Arc::clone(&captured);
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).split(b'\n') {
                let Ok(line) = line else { break };
                let line = String::from_utf8_lossy(&line).into_owned();
                let (lock, cond) = &*err;
                let mut captured = lock.lock().unwrap();
                if line.contains("received SUBACK") {
                    captured.subscribed = true;
                }
                // The packet trace can be 400 000 lines: keep only what is not trace.
                if !line.starts_with("skeeter: debug:") {
                    captured.stderr.push_str(&line);
                    captured.stderr.push('\n');
                }
                cond.notify_all();
            }
        });

        Watched {
            child,
            captured,
            readers: vec![stdout_reader, stderr_reader],
        }
    }

    /// Spawn `command` (which must trace with -d) and wait (10 s at most) for its SUBACK.
    pub fn subscribed(command: Command) -> Watched {
        let watched = Watched::spawn(command);
        if !watched.wait_until(Duration::from_secs(10), |c| c.subscribed) {
            let (_, stdout, stderr) = watched.finish(Duration::ZERO);
            panic!(
                "the subscriber never received its SUBACK\nstdout: {}\nstderr: {stderr}",
                String::from_utf8_lossy(&stdout)
            );
        }
        watched
    }

    /// `mosquitto_sub -d -p PORT ARGS`, returned once subscribed. Its trace goes to stdout
    /// through printf, block-buffered into a pipe, so it runs under `stdbuf -oL` (see
    /// [`have_mosquitto_sub`]); messages are flushed one by one anyway.
    pub fn mosquitto_sub(port: u16, args: &[&str]) -> Watched {
        let mut command = Command::new("stdbuf");
        command
            .args(["-oL", "mosquitto_sub", "-d", "-p", &port.to_string()])
            .args(args);
        Watched::subscribed(command)
    }

    /// `skeeter sub -d -p PORT ARGS`, returned once subscribed (the trace is not kept).
    pub fn skeeter_sub(port: u16, args: &[&str]) -> Watched {
        let mut command = super::skeeter_std();
        command
            .args(["sub", "-d", "-p", &port.to_string()])
            .args(args);
        Watched::subscribed(command)
    }

    /// Wait (at most `limit`) until `done` holds for what was captured; whether it did.
    pub fn wait_until(&self, limit: Duration, done: impl Fn(&Captured) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let (lock, cond) = &*self.captured;
        let mut captured = lock.lock().unwrap();
        loop {
            if done(&captured) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            captured = cond.wait_timeout(captured, left).unwrap().0;
        }
    }

    /// Wait (at most 10 s) until stdout holds `expected`; panics if it never does.
    pub fn wait_for(&self, expected: &[u8]) {
        if !self.wait_until(Duration::from_secs(10), |c| contains(&c.stdout, expected)) {
            panic!(
                "never printed {:?}; stdout: {:?}",
                String::from_utf8_lossy(expected),
                String::from_utf8_lossy(&self.stdout())
            );
        }
    }

    pub fn stdout(&self) -> Vec<u8> {
        self.captured.0.lock().unwrap().stdout.clone()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGKILL: the process vanishes without a word to the broker.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Wait (at most `limit`) for the process to exit, killing it after that; returns its exit
    /// code (None if it had to be killed), its stdout and its stderr (trace lines left out).
    pub fn finish(mut self, limit: Duration) -> (Option<i32>, Vec<u8>, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let captured = std::mem::take(&mut *self.captured.0.lock().unwrap());
        (
            status.and_then(|s| s.code()),
            captured.stdout,
            captured.stderr,
        )
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether mosquitto_sub can run in the background with its trace line-buffered.
pub fn have_mosquitto_sub() -> bool {
    super::have("mosquitto_sub") && super::have("stdbuf")
}
