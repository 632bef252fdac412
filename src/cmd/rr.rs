//! `skeeter rr`: MQTT 5 request/response. Subscribe to the response topic (-e), publish the
//! request to -t with that response topic and a correlation data of our own, print the first
//! reply carrying that correlation data, disconnect cleanly.

use std::io::{self, Write};

use anyhow::Result;
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::{ProtocolVersion, RrArgs};
use crate::client::properties::Collected;
use crate::client::{self, Connection, Event, Subscription, options};
use crate::exit::{Code, Fatal};
use crate::format::{Message, Output, Rendered};

fn usage(message: impl Into<String>) -> anyhow::Error {
    Fatal::new(Code::Usage, message).into()
}

pub async fn run(args: RrArgs) -> Result<()> {
    if args.connect.protocol() != ProtocolVersion::V5 {
        return Err(usage(
            "rr speaks MQTT 5 only (-V 5): the reply is found by its correlation data",
        ));
    }
    let mut settings = options::settings(&args.connect)?;
    let topic = args
        .topic
        .clone()
        .or_else(|| args.connect.url.as_ref().and_then(|url| url.topic.clone()))
        .ok_or_else(|| usage("no topic to send the request to: use -t"))?;
    crate::cli::parse_topic_name(&topic).map_err(usage)?;
    let payload = payload(&args).await?;
    let correlation: String = {
        use rand::Rng;
        rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(16)
            .map(char::from)
            .collect()
    };
    // -D publish response-topic or correlation-data would be a duplicate: refused there.
    let request = Collected::of(
        "publish",
        &args.connect.property,
        &[
            ("response-topic", Some(args.response_topic.clone())),
            ("correlation-data", Some(correlation.clone())),
        ],
        &[],
    )
    .map_err(usage)?;
    let request = request.publish();
    if request.topic_alias.is_some() {
        return Err(usage(
            "-D publish topic-alias: rr sends one request, an alias would gain nothing",
        ));
    }
    settings.publish_properties = Some(request);
    let subscribe = Collected::of("subscribe", &args.connect.property, &[], &[]).map_err(usage)?;
    let subscription = Subscription {
        filters: vec![args.response_topic.clone()],
        qos: settings.qos as u8,
        id: subscribe.subscription_id(),
        user_properties: subscribe.user_properties,
        ..Subscription::default()
    };
    let output = Output::new(
        args.format.as_deref(),
        args.verbose,
        !args.no_newline,
        args.pretty,
    )
    .map_err(|err| usage(err.to_string()))?;
    let quiet = settings.quiet;
    super::quiet(
        quiet,
        request_reply(
            &args,
            &settings,
            &subscription,
            (topic, payload),
            correlation,
            output,
        )
        .await,
    )
}

/// -m, -f, -s or -n (exactly one).
async fn payload(args: &RrArgs) -> Result<Bytes> {
    let given = [
        args.message.is_some(),
        args.file.is_some(),
        args.stdin_file,
        args.null_message,
    ];
    match given.iter().filter(|g| **g).count() {
        0 => return Err(usage("no message to send: use one of -m, -f, -s, -n")),
        1 => {}
        _ => {
            return Err(usage(
                "only one type of message can be sent at once: use one of -m, -f, -s, -n",
            ));
        }
    }
    if let Some(message) = &args.message {
        return Ok(Bytes::from(message.clone().into_bytes()));
    }
    if let Some(path) = &args.file {
        return tokio::fs::read(path).await.map(Bytes::from).map_err(|err| {
            Fatal::new(
                Code::Input,
                format!("cannot read {}: {err}", path.display()),
            )
            .into()
        });
    }
    if args.stdin_file {
        let mut buf = Vec::new();
        tokio::io::stdin()
            .read_to_end(&mut buf)
            .await
            .map_err(|err| Fatal::new(Code::Input, format!("cannot read standard input: {err}")))?;
        return Ok(Bytes::from(buf));
    }
    Ok(Bytes::new())
}

async fn request_reply(
    args: &RrArgs,
    settings: &options::Settings,
    subscription: &Subscription,
    (topic, payload): (String, Bytes),
    correlation: String,
    mut output: Output,
) -> Result<()> {
    let deadline = super::deadline(args.timeout);
    let timed_out = || super::timed_out(args.timeout);
    let open = Connection::open(settings, 16);
    let mut connection = match deadline {
        Some(deadline) => match tokio::time::timeout_at(deadline, open).await {
            Ok(opened) => opened?,
            Err(_) => return Err(timed_out()),
        },
        None => open.await?,
    };
    connection.client.try_subscribe(subscription)?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut request = Some((topic, payload));
    loop {
        let event = tokio::select! {
            event = connection.next_event() => event,
            _ = super::sleep_until(deadline) => {
                let _ = connection.disconnect().await;
                return Err(timed_out());
            }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        };
        match event {
            Ok(Event::SubAck(codes)) => {
                if let Some(Err(reason)) = codes.first() {
                    return Err(Fatal::new(
                        Code::Failure,
                        format!(
                            "the broker refused the subscription to {}: {} (reason code \
                             {reason:#04x})",
                            args.response_topic,
                            client::reason_words(*reason)
                        ),
                    )
                    .into());
                }
                // Subscribed: now the reply cannot be missed.
                if let Some((topic, payload)) = request.take() {
                    let sent = connection.client.try_publish_with(
                        &topic,
                        settings.qos,
                        payload,
                        settings.publish_properties.clone(),
                    );
                    if !sent {
                        return Err(anyhow::anyhow!("cannot queue the request"));
                    }
                }
            }
            Ok(Event::PubAck(reason) | Event::PubRec(reason)) if reason >= 0x80 => {
                return Err(Fatal::new(
                    Code::NotAccepted,
                    format!(
                        "the broker refused the request: {} (reason code {reason:#04x})",
                        client::reason_words(reason)
                    ),
                )
                .into());
            }
            Ok(Event::Publish(reply)) => {
                let ours = reply.topic == args.response_topic
                    && reply
                        .properties
                        .as_ref()
                        .and_then(|p| p.correlation_data.as_deref())
                        == Some(correlation.as_bytes());
                if !ours {
                    continue;
                }
                let message = Message {
                    topic: &reply.topic,
                    payload: &reply.payload,
                    qos: reply.qos,
                    retain: reply.retain,
                    dup: reply.dup,
                    mid: reply.pkid,
                    properties: reply.properties.as_ref(),
                };
                let stdout = io::stdout();
                let mut out = stdout.lock();
                let rendered = output.write(&mut out, &message).and_then(|rendered| {
                    out.flush()?;
                    Ok(rendered)
                });
                match rendered {
                    Ok(Rendered::PayloadNotJson) if !settings.quiet => crate::say!(
                        "skeeter: warning: message payload is not valid JSON on topic {}",
                        reply.topic
                    ),
                    Ok(_) => {}
                    Err(err) if err.kind() == io::ErrorKind::BrokenPipe => {}
                    Err(err) => {
                        return Err(Fatal::new(
                            Code::Failure,
                            format!("cannot write to standard output: {err}"),
                        )
                        .into());
                    }
                }
                break;
            }
            Ok(_) => {}
            Err(err) if err.refused().is_some() => {
                return Err(client::connect_error(err, connection.address()));
            }
            Err(err) => return Err(client::lost_error(err, connection.address())),
        }
    }
    connection.disconnect().await
}
