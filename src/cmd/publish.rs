//! `skeeter pub`: read the payload source, connect, publish, wait for every acknowledgement.

use std::io;
use std::path::PathBuf;

use anyhow::Result;
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::mpsc;

use rumqttc::v5::mqttbytes::v5::PublishProperties;

use crate::cli::{ProtocolVersion, PubArgs, PublishPropertyArgs};
use crate::client::properties::{Collected, PropertyArg};
use crate::client::{Connection, Publication, options};
use crate::exit::{Code, Fatal};
use crate::format::jsonl;

/// Payloads read ahead of the network: bounds memory whatever the input size.
const READ_AHEAD: usize = 256;
/// A single message this large gets a spinner (on a terminal) while it goes out.
const LARGE_MESSAGE: usize = 8 * 1024 * 1024;

pub async fn run(args: PubArgs) -> Result<()> {
    let mut settings = options::settings(&args.connect)?;
    // No relay hop for the broker's short DISCONNECTs: it would halve -l's rate (a lost
    // connection is still reported, without the reason of a 2- or 3-byte DISCONNECT).
    settings.read_short_disconnects = false;
    settings.publish_properties =
        publish_properties(&args.properties, &args.connect.property, &settings)?;
    let source = source(&args)?;
    // With --json each line names its topic.
    let topic = match source {
        Source::Json => String::new(),
        _ => topic(&args)?,
    };
    if matches!(source, Source::Json)
        && settings
            .publish_properties
            .as_ref()
            .is_some_and(|p| p.topic_alias.is_some())
    {
        return Err(usage(
            "-D publish topic-alias: not with --json, whose messages go to many topics",
        ));
    }
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
    /// --json: JSON lines, each its own message.
    Json,
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
    if args.json {
        given.push(Source::Json);
    }
    match (given.pop(), given.is_empty()) {
        (Some(source), true) => Ok(source),
        (Some(_), false) => Err(usage(
            "only one type of message can be sent at once: use one of -m, -f, -s, -l, -n, --json",
        )),
        (None, _) => Err(usage(
            "no message to send: use one of -m, -f, -s, -l, -n, --json",
        )),
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

/// The MQTT 5 properties of each PUBLISH (None when there are none), from the named options
/// and -D publish; an error without -V 5, or for a -D of a packet pub never sends.
pub fn publish_properties(
    args: &PublishPropertyArgs,
    property: &[PropertyArg],
    settings: &options::Settings,
) -> Result<Option<PublishProperties>> {
    let given = [
        ("--content-type", args.content_type.is_some()),
        ("--message-expiry", args.message_expiry.is_some()),
        ("--response-topic", args.response_topic.is_some()),
        ("--correlation-data", args.correlation_data.is_some()),
        ("--payload-is-utf8", args.payload_is_utf8),
        ("--user-property", !args.user_properties.is_empty()),
    ];
    if let Some((first, _)) = given.iter().find(|(_, given)| *given)
        && settings.protocol != ProtocolVersion::V5
    {
        return Err(options::needs_v5(first));
    }
    if let Some(other) = property
        .iter()
        .find(|p| matches!(p.command.as_str(), "subscribe" | "unsubscribe"))
    {
        return Err(usage(format!(
            "-D {} ...: pub sends no {} packet",
            other.command,
            other.command.to_uppercase()
        )));
    }
    let named = [
        ("content-type", args.content_type.clone()),
        (
            "message-expiry-interval",
            args.message_expiry.map(|n| n.to_string()),
        ),
        ("response-topic", args.response_topic.clone()),
        ("correlation-data", args.correlation_data.clone()),
        (
            "payload-format-indicator",
            args.payload_is_utf8.then(|| "1".to_owned()),
        ),
    ];
    let collected =
        Collected::of("publish", property, &named, &args.user_properties).map_err(usage)?;
    Ok((!collected.is_empty()).then(|| collected.publish()))
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
    let json = matches!(source, Source::Json);
    let single = match source {
        Source::Lines | Source::Json => None,
        source => Some(single_payload(source, limit).await?),
    };
    let v5 = settings.protocol == ProtocolVersion::V5;

    let requests = usize::from(args.connect.max_inflight).max(READ_AHEAD);
    let mut connection = Connection::open(&settings, requests).await?;

    // One large message: a spinner until the broker has it (its upload is not observable).
    let spinner = match &single {
        Some(payload) if payload.len() >= LARGE_MESSAGE && args.repeat == 1 => Some(
            crate::term::spinner(&format!("publishing {} bytes", payload.len())),
        ),
        _ => None,
    };
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let reader = match single {
        Some(payload) => tokio::spawn(async move {
            for _ in 0..args.repeat {
                if tx
                    .send(Ok(Publication::payload(payload.clone())))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }),
        None if json => tokio::spawn(read_json_lines(tx, v5)),
        None => {
            let progress = stdin_size().map(|size| crate::term::progress(size, true, "pub -l"));
            tokio::spawn(read_lines(tx, limit, progress))
        }
    };

    let pause = args.repeat_delay;
    let result = connection
        .publish_all(topic, settings.qos, args.retain, rx, pause)
        .await;
    reader.abort();
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
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
        Source::Null | Source::Lines | Source::Json => Ok(Bytes::new()),
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
async fn read_lines(
    tx: mpsc::Sender<io::Result<Publication>>,
    limit: usize,
    progress: Option<indicatif::ProgressBar>,
) {
    let mut stdin = BufReader::with_capacity(64 * 1024, tokio::io::stdin());
    loop {
        let mut line = Vec::new();
        match stdin.read_until(b'\n', &mut line).await {
            Ok(0) => {
                if let Some(bar) = progress {
                    bar.finish_and_clear();
                }
                return;
            }
            Ok(read) => {
                if let Some(bar) = &progress {
                    bar.inc(read as u64);
                }
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                let item = check_line(line, limit).map(Publication::payload);
                if tx.send(item).await.is_err() {
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

/// --json: one message per JSON line of stdin (blank lines skipped). A line that is not a
/// message, or that needs MQTT 5 on a 3.1.1 connection, ends the input with its line number.
async fn read_json_lines(tx: mpsc::Sender<io::Result<Publication>>, v5: bool) {
    let mut stdin = BufReader::with_capacity(64 * 1024, tokio::io::stdin());
    let mut number = 0u64;
    loop {
        let mut line = Vec::new();
        let item = match stdin.read_until(b'\n', &mut line).await {
            Ok(0) => return,
            Ok(_) => {
                number += 1;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                json_publication(&line, v5).map_err(|why| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("line {number}: {why}"))
                })
            }
            Err(err) => Err(err),
        };
        let stop = item.is_err();
        if tx.send(item).await.is_err() || stop {
            return;
        }
    }
}

fn json_publication(line: &[u8], v5: bool) -> Result<Publication, String> {
    let message = jsonl::parse_line(line)?;
    let qos = message.qos.map(|qos| match qos {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    });
    let limit = max_payload(&message.topic, qos.map_or(2, |q| q as u8));
    if message.payload.len() > limit {
        return Err(format!(
            "a payload of {} bytes is more than one MQTT message to this topic holds ({limit})",
            message.payload.len()
        ));
    }
    let properties = match message.properties {
        Some(_) if !v5 => return Err("properties need MQTT 5 (-V 5)".into()),
        Some(p) => Some(PublishProperties {
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
            topic_alias: None,
            response_topic: p.response_topic,
            correlation_data: p.correlation_data.map(Bytes::from),
            user_properties: p.user_properties,
            subscription_identifiers: Vec::new(),
            content_type: p.content_type,
        }),
        None => None,
    };
    Ok(Publication {
        payload: Bytes::from(message.payload),
        topic: Some(message.topic),
        qos,
        retain: message.retain,
        properties,
    })
}

/// The size of standard input when it is a regular file (`< file`): what -l's progress bar
/// counts up to. None for a pipe or a terminal.
fn stdin_size() -> Option<u64> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let metadata = std::fs::File::from(fd).metadata().ok()?;
    metadata.is_file().then_some(metadata.len())
}
