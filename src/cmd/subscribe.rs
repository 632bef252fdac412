//! `skeeter sub`: subscribe, print each message, stop on -C, -W, -E, a signal or a closed pipe;
//! reconnect with back-off when the connection drops.

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use anyhow::Result;
use rumqttc::{ConnectionError, Event, Packet, Publish, SubscribeFilter, SubscribeReasonCode};
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

use crate::cli::SubArgs;
use crate::client::{self, Connection, options};
use crate::exit::{Code, Fatal};
use crate::format::{Message, Output, Rendered};
use crate::topic;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub async fn run(mut args: SubArgs) -> Result<()> {
    let settings = options::settings(&args.connect)?;
    // The topic of -L's URL is one more filter, as in mosquitto_sub.
    if let Some(filter) = args.connect.url.as_ref().and_then(|url| url.topic.clone()) {
        let filter = crate::cli::parse_topic_filter(&filter)
            .map_err(|message| Fatal::new(Code::Usage, message))?;
        args.topics.push(filter);
    }
    if args.topics.is_empty() {
        return Err(Fatal::new(
            Code::Usage,
            "no topic to subscribe to: use -t, or a URL with a topic (-L)",
        )
        .into());
    }
    let quiet = settings.quiet;
    super::quiet(quiet, subscribe(args, settings).await)
}

/// Why the receive loop ended.
enum Stop {
    /// -C reached, -E, --retained-only done, a signal, or the reader of stdout went away.
    Done,
    /// -W ran out.
    TimedOut,
}

async fn subscribe(args: SubArgs, settings: options::Settings) -> Result<()> {
    let deadline = args
        .timeout
        .map(|secs| Instant::now() + Duration::from_secs(secs));
    let timed_out = || -> anyhow::Error {
        Fatal::new(
            Code::Timeout,
            format!(
                "Timed out after {} s (-W)",
                args.timeout.unwrap_or_default()
            ),
        )
        .into()
    };

    // A bad -F is a usage error, found before connecting.
    let output = Output::new(
        args.format.as_deref(),
        args.verbose,
        !args.no_newline,
        args.pretty,
    )
    .map_err(|err| Fatal::new(Code::Usage, err.to_string()))?;

    let requests = 16 + args.unsubscribe.len();
    let open = Connection::open(&settings, requests);
    let (mut connection, _ack) = match deadline {
        Some(deadline) => match tokio::time::timeout_at(deadline, open).await {
            Ok(opened) => opened?,
            Err(_) => return Err(timed_out()),
        },
        None => open.await?,
    };
    request_subscriptions(&connection, &args, settings.qos)?;

    let stop = receive(&mut connection, &args, &settings, deadline, output).await?;
    // Best effort: the messages are already out; a failed DISCONNECT changes nothing for them.
    let _ = connection.disconnect().await;
    match stop {
        Stop::Done => Ok(()),
        Stop::TimedOut => Err(timed_out()),
    }
}

fn request_subscriptions(connection: &Connection, args: &SubArgs, qos: rumqttc::QoS) -> Result<()> {
    let filters = args
        .topics
        .iter()
        .map(|filter| SubscribeFilter::new(filter.clone(), qos));
    connection.client.try_subscribe_many(filters)?;
    for filter in &args.unsubscribe {
        connection.client.try_unsubscribe(filter.clone())?;
    }
    Ok(())
}

async fn receive(
    connection: &mut Connection,
    args: &SubArgs,
    settings: &options::Settings,
    deadline: Option<Instant>,
    mut output: Output,
) -> Result<Stop> {
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut printed = 0u64;
    let mut backoff = FIRST_BACKOFF;
    let mut reconnecting = false;
    let mut clearing = Clearing::default();
    // Set when -C or --retained-only has been met; the loop then only finishes the clearing.
    let mut stopping = false;

    loop {
        if stopping && clearing.done() {
            return Ok(Stop::Done);
        }
        let event = tokio::select! {
            event = connection.next_event() => event,
            _ = sleep_until(deadline) => return Ok(Stop::TimedOut),
            _ = sigint.recv() => return Ok(Stop::Done),
            _ = sigterm.recv() => return Ok(Stop::Done),
        };
        let publish = match event {
            Ok(Event::Incoming(Packet::Publish(publish))) => publish,
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                // A reconnect: the broker may have forgotten us, so subscribe again.
                if reconnecting && !settings.quiet {
                    crate::say!("skeeter: reconnected to {}", connection.address());
                }
                reconnecting = false;
                backoff = FIRST_BACKOFF;
                // Clears in flight died with the connection; resubscribing brings their
                // retained messages back, to be cleared again.
                clearing.acked = clearing.sent;
                request_subscriptions(connection, args, settings.qos)?;
                continue;
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                check_suback(&ack.return_codes, args, settings.quiet)?;
                if args.exit_after_subscribe {
                    return Ok(Stop::Done);
                }
                continue;
            }
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                clearing.acknowledged();
                clearing.send(connection);
                continue;
            }
            Ok(_) => continue,
            Err(ConnectionError::ConnectionRefused(code)) => {
                return Err(client::connect_error(
                    ConnectionError::ConnectionRefused(code),
                    connection.address(),
                ));
            }
            Err(err) => {
                if !settings.quiet {
                    crate::say!(
                        "skeeter: warning: connection to {} lost: {}; reconnecting in {} s",
                        connection.address(),
                        client::describe_error(&err),
                        backoff.as_secs()
                    );
                }
                reconnecting = true;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = sleep_until(deadline) => return Ok(Stop::TimedOut),
                    _ = sigint.recv() => return Ok(Stop::Done),
                    _ = sigterm.recv() => return Ok(Stop::Done),
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };

        if stopping {
            continue; // only waiting for the clearing of retained messages to finish
        }
        if args.retained_only && !publish.retain {
            stopping = true;
            continue;
        }
        if !wanted(&publish, args) {
            continue;
        }
        if args.remove_retained {
            if clearing.is_own_echo(&publish) {
                continue;
            }
            if publish.retain {
                clearing.clear(publish.topic.clone());
                clearing.send(connection);
            }
        }
        if args
            .random_filter
            .is_some_and(|pct| rand::random::<f64>() * 100.0 >= pct)
        {
            // Left out by --random-filter, but counted by -C, as mosquitto_sub does.
        } else if let Err(err) = print(&mut out, &mut output, &publish, settings.quiet) {
            if err.kind() == io::ErrorKind::BrokenPipe {
                return Ok(Stop::Done); // the reader went away: nothing left to do
            }
            return Err(Fatal::new(
                Code::Failure,
                format!("cannot write to standard output: {err}"),
            )
            .into());
        }
        printed += 1;
        if args.count == Some(printed) {
            stopping = true;
        }
    }
}

/// --remove-retained: the topics of the retained messages seen, each cleared by publishing an
/// empty retained message (QoS 1). Before sub exits, every clear is acknowledged.
#[derive(Default)]
struct Clearing {
    /// Topics still to clear (the request queue was full when they came).
    waiting: std::collections::VecDeque<String>,
    /// Clears sent, and acknowledged (PUBACK).
    sent: u64,
    acked: u64,
    /// Our own clears come back to us as empty messages: they are not news to print.
    echoes: std::collections::HashMap<String, u32>,
}

impl Clearing {
    fn clear(&mut self, topic: String) {
        self.waiting.push_back(topic);
    }

    /// Send what the request queue takes now.
    fn send(&mut self, connection: &Connection) {
        while let Some(topic) = self.waiting.front() {
            let queued = connection.client.try_publish(
                topic.as_str(),
                rumqttc::QoS::AtLeastOnce,
                true,
                Vec::new(),
            );
            if queued.is_err() {
                break;
            }
            let topic = self.waiting.pop_front().unwrap_or_default();
            *self.echoes.entry(topic).or_default() += 1;
            self.sent += 1;
        }
    }

    fn acknowledged(&mut self) {
        self.acked += 1;
    }

    fn done(&self) -> bool {
        self.waiting.is_empty() && self.acked >= self.sent
    }

    /// Whether this is the empty message our own clear of its topic produced.
    fn is_own_echo(&mut self, publish: &Publish) -> bool {
        if publish.retain || !publish.payload.is_empty() {
            return false;
        }
        match self.echoes.get_mut(publish.topic.as_str()) {
            Some(count) if *count > 0 => {
                *count -= 1;
                true
            }
            _ => false,
        }
    }
}

/// -R and -T: messages left out are not printed and not counted.
fn wanted(publish: &Publish, args: &SubArgs) -> bool {
    if args.no_retained && publish.retain {
        return false;
    }
    !args
        .filter_out
        .iter()
        .any(|filter| topic::matches(&publish.topic, filter))
}

/// Print one message and flush. A %J payload that is not JSON is reported (not with --quiet)
/// and the message still counts, as in mosquitto_sub.
fn print(
    out: &mut impl Write,
    output: &mut Output,
    publish: &Publish,
    quiet: bool,
) -> io::Result<()> {
    let message = Message {
        topic: &publish.topic,
        payload: &publish.payload,
        qos: publish.qos as u8,
        retain: publish.retain,
        mid: publish.pkid,
    };
    if output.write(out, &message)? == Rendered::PayloadNotJson && !quiet {
        crate::say!(
            "skeeter: warning: message payload is not valid JSON on topic {}",
            publish.topic
        );
    }
    out.flush()
}

/// A refused filter is reported; if every filter was refused there is nothing to wait for.
fn check_suback(codes: &[SubscribeReasonCode], args: &SubArgs, quiet: bool) -> Result<()> {
    let refused: Vec<&str> = codes
        .iter()
        .zip(&args.topics)
        .filter(|(code, _)| matches!(code, SubscribeReasonCode::Failure))
        .map(|(_, filter)| filter.as_str())
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    if refused.len() == codes.len() {
        return Err(Fatal::new(
            Code::Failure,
            format!(
                "the broker refused every subscription: {}",
                refused.join(", ")
            ),
        )
        .into());
    }
    if !quiet {
        crate::say!(
            "skeeter: warning: the broker refused the subscription to {}",
            refused.join(", ")
        );
    }
    Ok(())
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
