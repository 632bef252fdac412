//! `skeeter pub`: read the payload source, connect, publish, wait for every acknowledgement.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::mpsc;

use crate::cli::PubArgs;
use crate::client::{Connection, options};
use crate::exit::{Code, Fatal};

/// Payloads read ahead of the network: bounds memory whatever the input size.
const READ_AHEAD: usize = 256;

pub async fn run(args: PubArgs) -> Result<()> {
    let settings = options::settings(&args.connect)?;
    let topic = topic(&args)?;
    let source = source(&args)?;
    let quiet = settings.quiet;
    super::quiet(quiet, publish(args, topic, source, settings).await)
}

/// Where the payloads come from: exactly one of -m, -f, -s, -l, -n.
enum Source {
    Message(String),
    File(PathBuf),
    Stdin,
    Lines,
    Null,
}

fn source(args: &PubArgs) -> Result<Source> {
    let mut given = Vec::new();
    if let Some(message) = &args.message {
        given.push(Source::Message(message.clone()));
    }
    if let Some(path) = &args.file {
        given.push(Source::File(path.clone()));
    }
    if args.stdin_file {
        given.push(Source::Stdin);
    }
    if args.stdin_line {
        given.push(Source::Lines);
    }
    if args.null_message {
        given.push(Source::Null);
    }
    match (given.pop(), given.is_empty()) {
        (Some(source), true) => Ok(source),
        (Some(_), false) => Err(usage(
            "only one type of message can be sent at once: use one of -m, -f, -s, -l, -n",
        )),
        (None, _) => Err(usage("no message to send: use one of -m, -f, -s, -l, -n")),
    }
}

/// -t, else the topic of -L's URL.
fn topic(args: &PubArgs) -> Result<String> {
    let topic = args
        .topic
        .clone()
        .or_else(|| args.connect.url.as_ref().and_then(|url| url.topic.clone()))
        .ok_or_else(|| usage("no topic to publish to: use -t, or a URL with a topic (-L)"))?;
    crate::cli::parse_topic_name(&topic).map_err(usage)
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    Fatal::new(Code::Usage, message).into()
}

async fn publish(
    args: PubArgs,
    topic: String,
    source: Source,
    settings: options::Settings,
) -> Result<()> {
    let limit = max_payload(&topic, args.connect.qos);
    // A single payload is read before connecting, so a bad file never leaves a half-done run.
    let single = match source {
        Source::Lines => None,
        source => Some(single_payload(source, limit).await?),
    };

    let requests = usize::from(args.connect.max_inflight).max(READ_AHEAD);
    let (mut connection, _ack) = Connection::open(&settings, requests).await?;

    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let reader = match single {
        Some(payload) => tokio::spawn(async move {
            for _ in 0..args.repeat {
                if tx.send(Ok(payload.clone())).await.is_err() {
                    break;
                }
            }
        }),
        None => tokio::spawn(read_lines(tx, limit)),
    };
    let pause = Duration::from_secs_f64(args.repeat_delay);
    let result = connection
        .publish_all(topic, settings.qos, args.retain, rx, pause)
        .await;
    reader.abort();
    result.map(|_| ())
}

async fn single_payload(source: Source, limit: usize) -> Result<Bytes> {
    match source {
        Source::Message(message) => Ok(Bytes::from(message.into_bytes())),
        Source::File(path) => {
            let unreadable = |err: io::Error| -> anyhow::Error {
                Fatal::new(
                    Code::Input,
                    format!("cannot read {}: {err}", path.display()),
                )
                .into()
            };
            // Refuse a file too big for MQTT before reading gigabytes of it.
            let size = tokio::fs::metadata(&path).await.map_err(unreadable)?.len();
            if size > limit as u64 {
                return Err(too_big(size, limit));
            }
            let bytes = tokio::fs::read(&path).await.map_err(unreadable)?;
            check_size(Bytes::from(bytes), limit)
        }
        Source::Stdin => {
            let mut buf = Vec::new();
            if let Err(err) = tokio::io::stdin().read_to_end(&mut buf).await {
                return Err(
                    Fatal::new(Code::Input, format!("cannot read standard input: {err}")).into(),
                );
            }
            if buf.is_empty() {
                // As mosquitto_pub: an empty stdin is more likely a mistake than a message.
                return Err(Fatal::new(
                    Code::Input,
                    "zero length input: standard input was empty (use -n to send an empty message)",
                )
                .into());
            }
            check_size(Bytes::from(buf), limit)
        }
        Source::Null | Source::Lines => Ok(Bytes::new()),
    }
}

/// The largest payload one PUBLISH can carry to `topic` at `qos`: the MQTT limit on the
/// remaining length (268435455) less the topic and the packet id.
fn max_payload(topic: &str, qos: u8) -> usize {
    let packet_id = if qos > 0 { 2 } else { 0 };
    268_435_455 - 2 - topic.len() - packet_id
}

fn check_size(payload: Bytes, limit: usize) -> Result<Bytes> {
    if payload.len() > limit {
        return Err(too_big(payload.len() as u64, limit));
    }
    Ok(payload)
}

fn too_big(size: u64, limit: usize) -> anyhow::Error {
    Fatal::new(
        Code::Input,
        format!(
            "the payload is {size} bytes; one MQTT message to this topic holds at most {limit}"
        ),
    )
    .into()
}

/// -l: one message per line of stdin. The newline is not sent; an empty line is an empty
/// message; a last line without a newline is still sent. A line is held in memory whole.
async fn read_lines(tx: mpsc::Sender<io::Result<Bytes>>, limit: usize) {
    let mut stdin = BufReader::with_capacity(64 * 1024, tokio::io::stdin());
    loop {
        let mut line = Vec::new();
        match stdin.read_until(b'\n', &mut line).await {
            Ok(0) => return,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                if tx.send(check_line(line, limit)).await.is_err() {
                    return;
                }
            }
            Err(err) => {
                let _ = tx.send(Err(err)).await;
                return;
            }
        }
    }
}

fn check_line(line: Vec<u8>, limit: usize) -> io::Result<Bytes> {
    if line.len() > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a line of {} bytes is longer than MQTT allows", line.len()),
        ));
    }
    Ok(Bytes::from(line))
}
