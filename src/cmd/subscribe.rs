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
use crate::format::Printer;
use crate::topic;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub async fn run(args: SubArgs) -> Result<()> {
    let settings = options::settings(&args.connect)?;
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

    let stop = receive(&mut connection, &args, &settings, deadline).await?;
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
) -> Result<Stop> {
    let printer = Printer {
        verbose: args.verbose,
        newline: !args.no_newline,
    };
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut printed = 0u64;
    let mut backoff = FIRST_BACKOFF;
    let mut reconnecting = false;

    loop {
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

        if args.retained_only && !publish.retain {
            return Ok(Stop::Done);
        }
        if !wanted(&publish, args) {
            continue;
        }
        if let Err(err) = print(&mut out, &printer, &publish) {
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
            return Ok(Stop::Done);
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

fn print(out: &mut impl Write, printer: &Printer, publish: &Publish) -> io::Result<()> {
    printer.write(out, &publish.topic, &publish.payload)?;
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
