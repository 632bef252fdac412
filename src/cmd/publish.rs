//! `skeeter pub`: read the payload source, connect, publish, wait for every acknowledgement.

use std::io;
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
    let quiet = settings.quiet;
    super::quiet(quiet, publish(args, settings).await)
}

async fn publish(args: PubArgs, settings: options::Settings) -> Result<()> {
    // A single payload is read before connecting, so a bad file never leaves a half-done run.
    let single = if args.stdin_line {
        None
    } else {
        Some(single_payload(&args).await?)
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
        None => tokio::spawn(read_lines(tx, max_payload(&args.topic, args.connect.qos))),
    };
    let pause = Duration::from_secs_f64(args.repeat_delay);
    let result = connection
        .publish_all(args.topic, settings.qos, args.retain, rx, pause)
        .await;
    reader.abort();
    result.map(|_| ())
}

async fn single_payload(args: &PubArgs) -> Result<Bytes> {
    let limit = max_payload(&args.topic, args.connect.qos);
    if let Some(message) = &args.message {
        return Ok(Bytes::from(message.clone().into_bytes()));
    }
    if let Some(path) = &args.file {
        let unreadable = |err: io::Error| -> anyhow::Error {
            Fatal::new(
                Code::Input,
                format!("cannot read {}: {err}", path.display()),
            )
            .into()
        };
        // Refuse a file too big for MQTT before reading gigabytes of it.
        let size = tokio::fs::metadata(path).await.map_err(unreadable)?.len();
        if size > limit as u64 {
            return Err(too_big(size, limit));
        }
        let bytes = tokio::fs::read(path).await.map_err(unreadable)?;
        return check_size(Bytes::from(bytes), limit);
    }
    if args.stdin_file {
        let mut buf = Vec::new();
        if let Err(err) = tokio::io::stdin().read_to_end(&mut buf).await {
            return Err(
                Fatal::new(Code::Input, format!("cannot read standard input: {err}")).into(),
            );
        }
        return check_size(Bytes::from(buf), limit);
    }
    Ok(Bytes::new()) // -n
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
