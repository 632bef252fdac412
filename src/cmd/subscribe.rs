//! `skeeter sub`: subscribe, print each message, stop on -C, -W, -E, a signal or a closed pipe;
//! reconnect when the connection drops: at once after a connection that was up, then with
//! back-off.

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use anyhow::Result;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

use crate::cli::{ProtocolVersion, SubArgs};
use crate::client::properties::Collected;
use crate::client::{self, Connection, Event, Received, Subscription, options};
use crate::exit::{Code, Fatal};
use crate::format::{Message, Output, Rendered};
use crate::topic;

/// Reconnect delays: none after a connection that was up (CONNACK received) for at least
/// STEADY, then 1 s doubling to 30 s while attempts fail.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// A connection lost sooner than this after its CONNACK is not retried at once: two clients
/// with the same client id (a 3.1.1 broker just closes the one taken over) would otherwise
/// take the session from each other in a tight loop; they now do so at the back-off's pace.
const STEADY: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The delay after `delay` when another attempt fails: 0, 1 s, 2 s, 4 s ... 30 s.
fn next_backoff(delay: Duration) -> Duration {
    if delay.is_zero() {
        FIRST_BACKOFF
    } else {
        (delay * 2).min(MAX_BACKOFF)
    }
}

pub async fn run(mut args: SubArgs) -> Result<()> {
    let mut settings = options::settings(&args.connect)?;
    // With a session the broker keeps, a message is acknowledged once printed: one received
    // just before a crash (or kill -9) stays with the broker, for the next connection. A clean
    // session ends with the connection whatever was acknowledged: rumqttc acknowledges on
    // receipt, in its own batches, which is faster.
    let kept = args.connect.disable_clean_session || settings.session_expiry.is_some_and(|s| s > 0);
    settings.mqtt.set_manual_acks(kept);
    // As mosquitto_sub: with -C below 20, no more than that many QoS 1/2 messages in flight.
    settings.receive_maximum = args
        .count
        .filter(|count| *count < 20)
        .and_then(|count| u16::try_from(count).ok());
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
    let subscription = subscription(&args, &settings)?;
    let quiet = settings.quiet;
    super::quiet(quiet, subscribe(args, settings, subscription).await)
}

/// The SUBSCRIBE to send: the filters, the QoS and the MQTT 5 options (an error without -V 5).
fn subscription(args: &SubArgs, settings: &options::Settings) -> Result<Subscription> {
    let v5 = settings.protocol == ProtocolVersion::V5;
    let given = [
        ("--no-local", args.no_local),
        ("--retain-as-published", args.retain_as_published),
        ("--retain-handling", args.retain_handling.is_some()),
        ("--subscription-id", args.subscription_id.is_some()),
        ("--user-property", !args.user_properties.is_empty()),
    ];
    if let Some((option, _)) = given.iter().find(|(_, given)| *given)
        && !v5
    {
        return Err(options::needs_v5(option));
    }
    let usage = |message: String| Fatal::new(Code::Usage, message);
    if let Some(other) = args
        .connect
        .property
        .iter()
        .find(|p| p.command == "publish")
    {
        return Err(usage(format!(
            "-D {} ...: sub sends no PUBLISH packet",
            other.command
        ))
        .into());
    }
    let subscribe = Collected::of(
        "subscribe",
        &args.connect.property,
        &[(
            "subscription-identifier",
            args.subscription_id.map(|id| id.to_string()),
        )],
        &args.user_properties,
    )
    .map_err(usage)?;
    let unsubscribe =
        Collected::of("unsubscribe", &args.connect.property, &[], &[]).map_err(usage)?;
    Ok(Subscription {
        filters: args.topics.clone(),
        qos: settings.qos as u8,
        no_local: args.no_local,
        retain_as_published: args.retain_as_published,
        // -R: in MQTT 5 the broker is asked not to send retained messages at all.
        retain_handling: args
            .retain_handling
            .unwrap_or(if args.no_retained && v5 { 2 } else { 0 }),
        id: subscribe.subscription_id(),
        user_properties: subscribe.user_properties,
        unsubscribe_user_properties: unsubscribe.user_properties,
    })
}

/// Why the receive loop ended.
enum Stop {
    /// -C reached, -E, --retained-only done, a signal, or the reader of stdout went away.
    Done,
    /// -W ran out.
    TimedOut,
}

async fn subscribe(
    args: SubArgs,
    settings: options::Settings,
    subscription: Subscription,
) -> Result<()> {
    let deadline = super::deadline(args.timeout);
    let timed_out = || super::timed_out(args.timeout);

    // A bad -F is a usage error, found before connecting.
    let output = if args.json {
        Output::json_lines()
    } else {
        Output::new(
            args.format.as_deref(),
            args.verbose,
            !args.no_newline,
            args.pretty,
        )
        .map_err(|err| Fatal::new(Code::Usage, err.to_string()))?
    };

    let requests = 16 + args.unsubscribe.len();
    let open = Connection::open(&settings, requests);
    let mut connection = match deadline {
        Some(deadline) => match tokio::time::timeout_at(deadline, open).await {
            Ok(opened) => opened?,
            Err(_) => return Err(timed_out()),
        },
        None => open.await?,
    };
    request_subscriptions(&connection, &args, &subscription)?;

    let stop = receive(
        &mut connection,
        &args,
        &settings,
        &subscription,
        deadline,
        output,
    )
    .await?;
    // Best effort: the messages are already out; a failed DISCONNECT changes nothing for them.
    let _ = connection.disconnect().await;
    match stop {
        Stop::Done => Ok(()),
        Stop::TimedOut => Err(timed_out()),
    }
}

fn request_subscriptions(
    connection: &Connection,
    args: &SubArgs,
    subscription: &Subscription,
) -> Result<()> {
    connection.client.try_subscribe(subscription)?;
    for filter in &args.unsubscribe {
        connection
            .client
            .try_unsubscribe(filter.clone(), subscription)?;
    }
    Ok(())
}

async fn receive(
    connection: &mut Connection,
    args: &SubArgs,
    settings: &options::Settings,
    subscription: &Subscription,
    deadline: Option<Instant>,
    mut output: Output,
) -> Result<Stop> {
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut printed = 0u64;
    // The connection is up: if it drops, the first attempt is at once.
    let mut backoff = Duration::ZERO;
    let mut connected_at = Instant::now();
    let mut reconnecting = false;
    let mut clearing = Clearing::default();
    // Set when -C or --retained-only has been met; the loop then only finishes the clearing.
    let mut stopping = false;

    loop {
        // Messages read in one batch are written together; the output is flushed before
        // waiting for the network (so a kept session's acks, which only leave when the event
        // loop reads again, follow what they confirm onto stdout).
        if !connection.has_buffered_events()
            && let Err(err) = out.flush()
        {
            return output_error(err);
        }
        if stopping && clearing.done() {
            return match out.flush() {
                Ok(()) => Ok(Stop::Done),
                Err(err) => output_error(err),
            };
        }
        let event = tokio::select! {
            event = connection.next_event() => event,
            _ = super::sleep_until(deadline) => return Ok(Stop::TimedOut),
            _ = sigint.recv() => return Ok(Stop::Done),
            _ = sigterm.recv() => return Ok(Stop::Done),
        };
        let publish = match event {
            Ok(Event::Publish(publish)) => publish,
            Ok(Event::ConnAck { .. }) => {
                // A reconnect: the broker may have forgotten us, so subscribe again.
                if reconnecting && !settings.quiet {
                    crate::say!("skeeter: reconnected to {}", connection.address());
                }
                reconnecting = false;
                backoff = Duration::ZERO;
                connected_at = Instant::now();
                // Clears in flight died with the connection; resubscribing brings their
                // retained messages back, to be cleared again.
                clearing.acked = clearing.sent;
                request_subscriptions(connection, args, subscription)?;
                continue;
            }
            Ok(Event::SubAck(codes)) => {
                check_suback(&codes, args, settings.quiet)?;
                if args.exit_after_subscribe {
                    return Ok(Stop::Done);
                }
                continue;
            }
            Ok(Event::PubAck(_)) => {
                clearing.acknowledged();
                clearing.send(connection);
                continue;
            }
            Ok(_) => continue,
            Err(err) if err.refused().is_some() => {
                return Err(client::connect_error(err, connection.address()));
            }
            Err(err) if err.is_final() => {
                return Err(client::lost_error(err, connection.address()));
            }
            Err(err) => {
                if backoff.is_zero() && connected_at.elapsed() < STEADY {
                    backoff = FIRST_BACKOFF;
                }
                if !settings.quiet {
                    let when = match backoff.as_secs() {
                        0 => "reconnecting".to_owned(),
                        secs => format!("reconnecting in {secs} s"),
                    };
                    crate::say!(
                        "skeeter: warning: connection to {} lost: {}; {when}",
                        connection.address(),
                        client::describe_error(&err),
                    );
                }
                reconnecting = true;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = super::sleep_until(deadline) => return Ok(Stop::TimedOut),
                    _ = sigint.recv() => return Ok(Stop::Done),
                    _ = sigterm.recv() => return Ok(Stop::Done),
                }
                backoff = next_backoff(backoff);
                continue;
            }
        };

        // Not printed once stopping, so not acknowledged: a persistent session keeps it.
        if stopping {
            continue; // only waiting for the clearing of retained messages to finish
        }
        if args.retained_only && !publish.retain {
            stopping = true;
            continue;
        }
        if !wanted(&publish, args) {
            connection.acknowledge(&publish);
            continue;
        }
        if args.remove_retained {
            if clearing.is_own_echo(&publish) {
                connection.acknowledge(&publish);
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
            return output_error(err);
        }
        connection.acknowledge(&publish);
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
            if !queued {
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
    fn is_own_echo(&mut self, publish: &Received) -> bool {
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
fn wanted(publish: &Received, args: &SubArgs) -> bool {
    if args.no_retained && publish.retain {
        return false;
    }
    !args
        .filter_out
        .iter()
        .any(|filter| topic::matches(&publish.topic, filter))
}

/// Print one message (the loop flushes). A %J payload that is not JSON is reported (not with
/// --quiet) and the message still counts, as in mosquitto_sub.
fn print(
    out: &mut impl Write,
    output: &mut Output,
    publish: &Received,
    quiet: bool,
) -> io::Result<()> {
    let message = Message {
        topic: &publish.topic,
        payload: &publish.payload,
        qos: publish.qos,
        retain: publish.retain,
        dup: publish.dup,
        mid: publish.pkid,
        properties: publish.properties.as_ref(),
    };
    if output.write(out, &message)? == Rendered::PayloadNotJson && !quiet {
        crate::say!(
            "skeeter: warning: message payload is not valid JSON on topic {}",
            publish.topic
        );
    }
    Ok(())
}

/// A write error on stdout: a reader gone away ends the run cleanly, anything else is an error.
fn output_error(err: io::Error) -> Result<Stop> {
    if err.kind() == io::ErrorKind::BrokenPipe {
        return Ok(Stop::Done); // the reader went away: nothing left to do
    }
    Err(Fatal::new(
        Code::Failure,
        format!("cannot write to standard output: {err}"),
    )
    .into())
}

/// A refused filter is reported (with the MQTT 5 reason in words); if every filter was refused
/// there is nothing to wait for.
fn check_suback(codes: &[Result<u8, u8>], args: &SubArgs, quiet: bool) -> Result<()> {
    let refused: Vec<String> = codes
        .iter()
        .zip(&args.topics)
        .filter_map(|(code, filter)| match code {
            Ok(_) => None,
            Err(0x80) => Some(filter.clone()),
            Err(reason) => Some(format!(
                "{filter} ({}, reason code {reason:#04x})",
                client::reason_words(*reason)
            )),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sub_args(args: &[&str]) -> SubArgs {
        use clap::Parser;
        let argv = ["skeeter", "sub"].iter().chain(args);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Sub(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_suback_refusal_is_reported_per_filter() {
        let args = sub_args(&["-t", "a", "-t", "b"]);
        assert!(check_suback(&[Ok(0), Err(0x87)], &args, true).is_ok());
        let err = check_suback(&[Err(0x80), Err(0x87)], &args, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the broker refused every subscription: a, b (not authorized, reason code 0x87)"
        );
        assert_eq!(crate::exit::code_of(&err), Code::Failure);
    }

    #[test]
    fn mqtt5_subscription_options() {
        let settings = |args: &SubArgs| options::settings(&args.connect).unwrap();
        let args = sub_args(&["-t", "a", "-V", "5", "-R"]);
        let subscription = subscription(&args, &settings(&args)).unwrap();
        assert_eq!(subscription.retain_handling, 2);
        let args = sub_args(&["-t", "a", "-R"]);
        assert_eq!(
            subscription_of(&args).retain_handling,
            0,
            "MQTT 3.1.1: -R filters on the client"
        );
        let args = sub_args(&[
            "-t",
            "a",
            "-V",
            "5",
            "-D",
            "subscribe\0subscription-identifier\u{0}7",
        ]);
        assert_eq!(subscription_of(&args).id, Some(7));
    }

    #[test]
    fn reconnects_at_once_then_backs_off_to_30_s() {
        let mut delay = Duration::ZERO;
        let mut delays = Vec::new();
        for _ in 0..8 {
            delays.push(delay.as_secs());
            delay = next_backoff(delay);
        }
        assert_eq!(delays, [0, 1, 2, 4, 8, 16, 30, 30]);
    }

    fn subscription_of(args: &SubArgs) -> Subscription {
        subscription(args, &options::settings(&args.connect).unwrap()).unwrap()
    }
}
