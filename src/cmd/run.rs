//! `skeeter run -t TOPIC -- COMMAND...`: run a job and report it on MQTT: its state (running,
//! heartbeats, exited; a will saying lost), its output lines, its exit code passed through.
//!
//! The command never waits for the broker: its output is copied to our stdout and stderr as it
//! comes, and offered to the publisher through a bounded queue; what does not fit is dropped
//! from the report and counted. The publisher is [`Connection::publish_all`], fed until the
//! command ends, so every state message is acknowledged before the clean DISCONNECT (which
//! keeps the will from firing).

use std::ffi::OsString;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use rumqttc::{LastWill, QoS};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cli::RunArgs;
use crate::client::{Connection, Publication, options};
use crate::exit::{Code, Fatal};

/// Output lines waiting for the broker; beyond this they are dropped from the report.
const LINE_QUEUE: usize = 1024;
/// After the command exits: how long its output may still take to reach its end.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);
/// How long the final state may take to be acknowledged once the command has ended.
const FINAL_REPORT_LIMIT: Duration = Duration::from_secs(10);
/// The signals passed on to the command.
const FORWARDED: [SignalKind; 6] = [
    SignalKind::interrupt(),
    SignalKind::terminate(),
    SignalKind::hangup(),
    SignalKind::quit(),
    SignalKind::user_defined1(),
    SignalKind::user_defined2(),
];

pub async fn run(args: RunArgs) -> Result<()> {
    if args.connect.will_topic.is_some() {
        return Err(Fatal::new(
            Code::Usage,
            "--will-topic: run sets its own will (the 'lost' state on its topic)",
        )
        .into());
    }
    let mut settings = options::settings(&args.connect)?;
    let started = chrono::Utc::now();
    let job = Job {
        topic: args.topic.clone(),
        host: hostname(),
        started: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        command: args
            .command
            .iter()
            .map(|word| word.to_string_lossy().into_owned())
            .collect(),
    };
    // The state messages matter more than the lines: at least QoS 1.
    let state_qos = match settings.qos {
        QoS::AtMostOnce => QoS::AtLeastOnce,
        higher => higher,
    };
    settings.mqtt.set_last_will(LastWill::new(
        job.topic.clone(),
        job.state("lost", None).to_string(),
        state_qos,
        args.retain,
    ));
    let quiet = settings.quiet;

    // Connect before starting the command, so its first lines are not lost to the handshake.
    let reporter = match Connection::open(&settings, LINE_QUEUE).await {
        Ok(connection) => Some(connection),
        Err(err) if args.require_broker => return Err(err),
        Err(err) => {
            if !quiet {
                crate::say!("skeeter: warning: {err:#}; running the command unreported");
            }
            None
        }
    };
    let (tx, rx) = mpsc::channel::<std::io::Result<Publication>>(LINE_QUEUE);
    let publisher = reporter.map(|mut connection| {
        let topic = job.topic.clone();
        let qos = settings.qos;
        tokio::spawn(async move {
            connection
                .publish_all(topic, qos, false, rx, Duration::ZERO)
                .await
        })
    });
    let report = Report {
        tx,
        retain: args.retain,
        state_qos,
        line_qos: settings.qos,
        publish_lines: args.output == "lines",
        dropped: 0,
    };
    let outcome = supervise(&args.command, job, report, args.heartbeat).await;

    // Every state acknowledged, then DISCONNECT: the will stays unpublished.
    if let Some(publisher) = publisher {
        match tokio::time::timeout(FINAL_REPORT_LIMIT, publisher).await {
            Ok(Ok(Ok(_))) => {}
            Ok(Ok(Err(err))) if !quiet => {
                crate::say!("skeeter: warning: the job's report is incomplete: {err:#}");
            }
            Err(_) if !quiet => crate::say!(
                "skeeter: warning: the broker did not acknowledge the final state within {} s",
                FINAL_REPORT_LIMIT.as_secs()
            ),
            _ => {}
        }
    }
    match outcome? {
        0 => Ok(()),
        code => Err(Fatal::silent(Code::Passthrough(code.clamp(0, 255) as u8)).into()),
    }
}

/// What is known of the job, for its state messages.
struct Job {
    topic: String,
    host: String,
    started: String,
    command: Vec<String>,
}

impl Job {
    /// `{"state":STATE,"pid":..,"host":..,"started":..,"cmd":[..]}` plus `more`'s members.
    fn state(&self, state: &str, pid: Option<u32>) -> Value {
        json!({
            "state": state,
            "pid": pid,
            "host": self.host,
            "started": self.started,
            "cmd": self.command,
        })
    }
}

/// The way to the publisher (when there is a broker).
struct Report {
    tx: mpsc::Sender<std::io::Result<Publication>>,
    retain: bool,
    state_qos: QoS,
    line_qos: QoS,
    publish_lines: bool,
    /// Lines the queue had no room for.
    dropped: u64,
}

impl Report {
    /// A state message: waits for room (the state must not be lost).
    async fn state(&self, topic: &str, state: Value) {
        let publication = Publication {
            payload: Bytes::from(state.to_string()),
            topic: Some(topic.to_owned()),
            qos: Some(self.state_qos),
            retain: Some(self.retain),
            properties: None,
        };
        // A closed channel: the publisher is gone, and has said why.
        let _ = self.tx.send(Ok(publication)).await;
    }

    /// An output line: offered, never waited for.
    fn line(&mut self, topic: String, line: Vec<u8>) {
        if !self.publish_lines || self.tx.is_closed() {
            return;
        }
        let publication = Publication {
            payload: Bytes::from(line),
            topic: Some(topic),
            qos: Some(self.line_qos),
            retain: Some(false),
            properties: None,
        };
        if self.tx.try_send(Ok(publication)).is_err() {
            self.dropped += 1;
        }
    }
}

/// Which of the command's streams a line came from.
#[derive(Clone, Copy)]
enum Stream {
    Out,
    Err,
}

/// Start the command, report it until it ends; its exit code (128+N for signal N, 127 if it
/// could not be started).
async fn supervise(
    command: &[OsString],
    job: Job,
    mut report: Report,
    heartbeat: Option<u64>,
) -> Result<i32> {
    // One small task per signal, all feeding one channel: the loop below waits on it alone.
    let (signals_tx, mut signals) = mpsc::unbounded_channel::<SignalKind>();
    for kind in FORWARDED {
        let mut stream = signal(kind)?;
        let tx = signals_tx.clone();
        tokio::spawn(
            async move { while stream.recv().await.is_some() && tx.send(kind).is_ok() {} },
        );
    }
    let clock = Instant::now();
    let mut child = match tokio::process::Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            let code = if err.kind() == std::io::ErrorKind::PermissionDenied {
                126
            } else {
                127
            };
            let why = format!("cannot run {}: {err}", command[0].to_string_lossy());
            crate::say!("skeeter: error: {why}");
            let mut state = job.state("exited", None);
            state["code"] = json!(code);
            state["error"] = json!(why);
            state["duration_s"] = json!(0.0);
            state["ended"] = json!(now());
            report.state(&job.topic, state).await;
            return Ok(code);
        }
    };
    let pid = child.id();
    report.state(&job.topic, job.state("running", pid)).await;

    let (lines_tx, mut lines) = mpsc::channel::<(Stream, Vec<u8>)>(64);
    let copies = [
        tokio::spawn(copy_lines(
            child.stdout.take(),
            tokio::io::stdout(),
            Stream::Out,
            lines_tx.clone(),
        )),
        tokio::spawn(copy_lines(
            child.stderr.take(),
            tokio::io::stderr(),
            Stream::Err,
            lines_tx,
        )),
    ];
    let (out_topic, err_topic) = (format!("{}/out", job.topic), format!("{}/err", job.topic));
    let period = Duration::from_secs(heartbeat.unwrap_or(u64::MAX / 4));
    let mut beats = tokio::time::interval_at(clock + period, period);
    let mut output_open = true;
    let mut exited: Option<ExitStatus> = None;
    // Once the command has exited, its output is read to its end, or for this long more (a
    // process it left behind may hold the pipes open).
    let mut grace: Option<Instant> = None;
    let status: ExitStatus = loop {
        tokio::select! {
            status = child.wait(), if exited.is_none() => {
                let status = status?;
                if !output_open {
                    break status;
                }
                exited = Some(status);
                grace = Some(Instant::now() + OUTPUT_GRACE);
            }
            line = lines.recv(), if output_open => match line {
                Some((Stream::Out, line)) => report.line(out_topic.clone(), line),
                Some((Stream::Err, line)) => report.line(err_topic.clone(), line),
                None => {
                    output_open = false;
                    if let Some(status) = exited {
                        break status;
                    }
                }
            },
            _ = tokio::time::sleep_until(grace.unwrap_or(clock)), if grace.is_some() => {
                if let Some(status) = exited {
                    break status;
                }
            }
            Some(kind) = signals.recv(), if exited.is_none() => {
                if let Some(pid) = pid {
                    // SAFETY: kill(2) on the pid of the child we started (not yet reaped).
                    unsafe { libc::kill(pid as libc::pid_t, kind.as_raw_value()) };
                }
            }
            _ = beats.tick(), if heartbeat.is_some() && exited.is_none() => {
                let mut state = job.state("running", pid);
                state["elapsed_s"] = json!(clock.elapsed().as_secs());
                state["updated"] = json!(now());
                report.state(&job.topic, state).await;
            }
        }
    };
    for copy in copies {
        copy.abort();
    }
    let (code, signal) = exit_code(status);
    let mut state = job.state("exited", pid);
    state["code"] = json!(status.code());
    state["signal"] = json!(signal);
    state["duration_s"] = json!((clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0);
    state["ended"] = json!(now());
    if report.dropped > 0 {
        state["dropped_lines"] = json!(report.dropped);
        crate::say!(
            "skeeter: warning: {} output line(s) were not published: the broker was slower than \
             the command",
            report.dropped
        );
    }
    report.state(&job.topic, state).await;
    Ok(code)
}

/// Copy a stream of the command to ours line by line, and hand each line on (without its
/// newline). A last line without a newline counts too.
async fn copy_lines<R, W>(
    from: Option<R>,
    mut to: W,
    stream: Stream,
    lines: mpsc::Sender<(Stream, Vec<u8>)>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Some(from) = from else { return };
    let mut from = BufReader::new(from);
    let mut to_ours = true;
    loop {
        let mut line = Vec::new();
        match from.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // Our own stdout closed (| head): the command goes on, reported all the same.
        if to_ours && (to.write_all(&line).await.is_err() || to.flush().await.is_err()) {
            to_ours = false;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if lines.send((stream, line)).await.is_err() {
            return;
        }
    }
}

/// The code to exit with, and the signal that ended the command (if one did).
fn exit_code(status: ExitStatus) -> (i32, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code, None),
        (None, Some(signal)) => (128 + signal, Some(signal)),
        (None, None) => (1, None),
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// This machine's name (gethostname(2)), for the state messages.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
