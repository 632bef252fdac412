//! What a bench run does, from its command line: the mode, the clients, the load, when it ends.
//! Every option is checked against the mode here, so none is taken and then ignored.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use rumqttc::QoS;
use rumqttc::v5::mqttbytes::v5::PublishProperties;

use crate::cli::{BenchArgs, BenchMode, ProtocolVersion};
use crate::client::properties::Collected;
use crate::client::{Subscription, options};
use crate::exit::{Code, Fatal};
use crate::topic;

use super::message::HEADER_LEN;

/// Publishers' topic without -t.
pub const DEFAULT_TOPIC: &str = "skeeter/bench/%i";
pub const DEFAULT_SIZE: usize = 256;
/// Publishing time without --count or --duration.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Connections per second without --conn-rate (emqtt-bench's and MQTTX's 10 ms interval).
pub const DEFAULT_CONN_RATE: f64 = 100.0;
pub const DEFAULT_CONN_CLIENTS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    EndToEnd,
    Pub,
    Sub,
    Conn,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::EndToEnd => "end-to-end",
            Mode::Pub => "pub",
            Mode::Sub => "sub",
            Mode::Conn => "conn",
        }
    }

    pub fn publishes(self) -> bool {
        matches!(self, Mode::EndToEnd | Mode::Pub)
    }

    pub fn subscribes(self) -> bool {
        matches!(self, Mode::EndToEnd | Mode::Sub)
    }
}

pub struct Plan {
    pub mode: Mode,
    pub publishers: u32,
    pub subscribers: u32,
    /// conn's connections.
    pub clients: u32,
    pub qos: QoS,
    pub size: usize,
    /// Publishers' topic, %i for the index.
    pub topic: String,
    /// Subscribers' filter, %i for the index.
    pub sub_topic: String,
    /// Total messages per second (open loop); None: the closed loop.
    pub rate: Option<f64>,
    /// Each publisher's messages in flight (-M, --inflight).
    pub window: u16,
    /// Per publisher (sub: per subscriber).
    pub count: Option<u64>,
    /// Publishing (sub: subscribing; conn: holding) time.
    pub duration: Option<Duration>,
    pub warmup: Duration,
    /// Connections per second; 0: all at once.
    pub conn_rate: f64,
    pub json: bool,
    /// MQTT 5: -D publish.
    pub publish_properties: Option<PublishProperties>,
    /// Options of every SUBSCRIBE (-q, -D subscribe); filters set per subscriber.
    pub subscription: Subscription,
    /// Publisher indexes matched by each distinct filter (computed once per filter).
    matched: std::sync::Mutex<HashMap<String, Arc<Vec<u32>>>>,
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    Fatal::new(Code::Usage, message).into()
}

impl Plan {
    pub fn of(args: &BenchArgs) -> Result<Plan> {
        let mode = match args.mode {
            None => Mode::EndToEnd,
            Some(BenchMode::Pub) => Mode::Pub,
            Some(BenchMode::Sub) => Mode::Sub,
            Some(BenchMode::Conn) => Mode::Conn,
        };
        refuse_unused(args, mode)?;
        let one_of =
            |clients: Option<u32>, specific: Option<u32>, name: &str| match (clients, specific) {
                (Some(_), Some(_)) => Err(usage(format!(
                    "--clients and --{name} say the same for bench {}: give one",
                    mode.name()
                ))),
                (clients, specific) => Ok(clients.or(specific).unwrap_or(1)),
            };
        let (publishers, subscribers, clients) = match mode {
            Mode::EndToEnd => (
                args.publishers.unwrap_or(1),
                args.subscribers.unwrap_or(1),
                0,
            ),
            Mode::Pub => (one_of(args.clients, args.publishers, "publishers")?, 0, 0),
            Mode::Sub => (0, one_of(args.clients, args.subscribers, "subscribers")?, 0),
            Mode::Conn => (0, 0, args.clients.unwrap_or(DEFAULT_CONN_CLIENTS)),
        };

        let topic = args.topic.clone().unwrap_or_else(|| DEFAULT_TOPIC.into());
        topic::check_name(&topic.replace("%i", "0"))
            .map_err(|e| usage(format!("invalid topic template '{topic}' (-t): {e}")))?;
        let sub_topic = args
            .sub_topic
            .clone()
            .unwrap_or_else(|| filter_of_template(&topic));
        topic::check_filter(&sub_topic.replace("%i", "0")).map_err(|e| {
            usage(format!(
                "invalid topic filter '{sub_topic}' (--sub-topic): {e}"
            ))
        })?;
        if mode == Mode::EndToEnd && sub_topic.starts_with("$share/") {
            return Err(usage(
                "a shared subscription splits the messages among the subscribers, so bench \
                 cannot tell what each should get: run bench sub --sub-topic '$share/...' and \
                 bench pub instead",
            ));
        }

        let count = args.count;
        let duration = match (mode, args.count, args.duration) {
            (Mode::Pub | Mode::EndToEnd, None, None) => Some(DEFAULT_DURATION),
            (Mode::Conn, _, None) => Some(Duration::ZERO),
            (_, _, duration) => duration,
        };
        if mode != Mode::Conn && duration.is_some_and(|d| d.is_zero()) {
            return Err(usage("--duration must be more than 0"));
        }
        let warmup = args.warmup.unwrap_or_default();
        if let Some(duration) = duration
            && !warmup.is_zero()
            && warmup >= duration
        {
            return Err(usage(format!(
                "--warmup ({} s) must be shorter than --duration ({} s)",
                warmup.as_secs_f64(),
                duration.as_secs_f64()
            )));
        }

        let v5 = args.connect.protocol() == ProtocolVersion::V5;
        let (publish_properties, subscription) = properties(args, mode, v5)?;
        Ok(Plan {
            mode,
            publishers,
            subscribers,
            clients,
            qos: options::qos(args.connect.qos),
            size: args
                .size
                .map_or(DEFAULT_SIZE, |s| s as usize)
                .max(HEADER_LEN),
            topic,
            sub_topic,
            rate: args.rate,
            window: window(
                args.connect.max_inflight,
                args.size,
                mode,
                args.connect.quiet,
            ),
            count,
            duration,
            warmup,
            conn_rate: args.conn_rate.unwrap_or(DEFAULT_CONN_RATE),
            json: args.json,
            publish_properties,
            subscription,
            matched: Default::default(),
        })
    }

    /// Every client of the run.
    pub fn client_count(&self) -> u32 {
        self.publishers + self.subscribers + self.clients
    }

    pub fn topic_of(&self, publisher: u32) -> String {
        self.topic.replace("%i", &publisher.to_string())
    }

    pub fn filter_of(&self, subscriber: u32) -> String {
        self.sub_topic.replace("%i", &subscriber.to_string())
    }

    /// The publishers whose topic this subscriber's filter matches (end to end).
    pub fn matched(&self, subscriber: u32) -> Arc<Vec<u32>> {
        let filter = self.filter_of(subscriber);
        let mut known = self.matched.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(matched) = known.get(&filter) {
            return Arc::clone(matched);
        }
        let matched: Vec<u32> = if self.topic.contains("%i") && !topic::has_wildcard(&filter) {
            // A plain topic: only the publishers whose index gives it (pairs: one).
            self.publisher_of_topic(&filter)
        } else if self.topic.contains("%i") {
            (0..self.publishers)
                .filter(|&p| topic::matches(&self.topic_of(p), &filter))
                .collect()
        } else if topic::matches(&self.topic, &filter) {
            (0..self.publishers).collect()
        } else {
            Vec::new()
        };
        let matched = Arc::new(matched);
        known.insert(filter, Arc::clone(&matched));
        matched
    }
}

impl Plan {
    /// The publishers whose topic is `topic`: a template's %i read back (each index written
    /// without leading zeros, so at most one number fits).
    fn publisher_of_topic(&self, topic: &str) -> Vec<u32> {
        let (before, after) = self.topic.split_once("%i").unwrap_or((&self.topic, ""));
        let Some(index) = topic
            .strip_prefix(before)
            .and_then(|rest| rest.strip_suffix(after))
            .and_then(|digits| digits.parse::<u32>().ok())
        else {
            return Vec::new();
        };
        match index < self.publishers && self.topic_of(index) == topic {
            true => vec![index],
            false => Vec::new(),
        }
    }
}

/// The default filter for a topic template: each level holding %i becomes `+`.
pub fn filter_of_template(template: &str) -> String {
    template
        .split('/')
        .map(|level| if level.contains("%i") { "+" } else { level })
        .collect::<Vec<_>>()
        .join("/")
}

/// Bytes a publisher may have in flight: --inflight is lowered (with a note) to stay within.
const MAX_IN_FLIGHT_BYTES: usize = 256 * 1024 * 1024;

/// The publishers' window: -M / --inflight, lowered for large messages so that a publisher
/// never holds more than MAX_IN_FLIGHT_BYTES.
fn window(asked: u16, size: Option<u32>, mode: Mode, quiet: bool) -> u16 {
    let size = size.map_or(DEFAULT_SIZE, |s| s as usize).max(HEADER_LEN);
    let fits = (MAX_IN_FLIGHT_BYTES / size).clamp(1, usize::from(u16::MAX)) as u16;
    if asked > fits && mode.publishes() {
        if !quiet {
            crate::say!(
                "bench: --inflight {asked} lowered to {fits} for {size}-byte messages (at most \
             {} MiB in flight per publisher)",
                MAX_IN_FLIGHT_BYTES >> 20
            );
        }
        return fits;
    }
    asked
}

/// Options a mode has no use for are refused, not ignored.
fn refuse_unused(args: &BenchArgs, mode: Mode) -> Result<()> {
    let given: [(&str, bool, &[Mode]); 10] = [
        (
            "--publishers",
            args.publishers.is_some(),
            &[Mode::EndToEnd, Mode::Pub],
        ),
        (
            "--subscribers",
            args.subscribers.is_some(),
            &[Mode::EndToEnd, Mode::Sub],
        ),
        (
            "--clients",
            args.clients.is_some(),
            &[Mode::Pub, Mode::Sub, Mode::Conn],
        ),
        ("--rate", args.rate.is_some(), &[Mode::EndToEnd, Mode::Pub]),
        ("--size", args.size.is_some(), &[Mode::EndToEnd, Mode::Pub]),
        (
            "-t (--topic)",
            args.topic.is_some(),
            &[Mode::EndToEnd, Mode::Pub, Mode::Sub],
        ),
        (
            "--sub-topic",
            args.sub_topic.is_some(),
            &[Mode::EndToEnd, Mode::Sub],
        ),
        (
            "--count",
            args.count.is_some(),
            &[Mode::EndToEnd, Mode::Pub, Mode::Sub],
        ),
        (
            "--warmup",
            args.warmup.is_some(),
            &[Mode::EndToEnd, Mode::Pub, Mode::Sub],
        ),
        (
            "-q (--qos)",
            args.connect.qos != 0,
            &[Mode::EndToEnd, Mode::Pub, Mode::Sub],
        ),
    ];
    for (option, given, modes) in given {
        if given && !modes.contains(&mode) {
            let hint = match (option, mode) {
                ("--clients", Mode::EndToEnd) => {
                    " (give --publishers and --subscribers; --clients is for bench pub, sub and \
                     conn)"
                }
                _ => "",
            };
            return Err(usage(format!(
                "{option} does nothing in bench {}{hint}",
                mode.name()
            )));
        }
    }
    Ok(())
}

/// MQTT 5 properties: -D publish for the publishers, -D subscribe for the subscribers.
fn properties(
    args: &BenchArgs,
    mode: Mode,
    v5: bool,
) -> Result<(Option<PublishProperties>, Subscription)> {
    let property = &args.connect.property;
    for p in property {
        let used = match p.command.as_str() {
            "publish" => mode.publishes(),
            "subscribe" => mode.subscribes(),
            "unsubscribe" => false,
            _ => true, // connect, will, disconnect: every client's
        };
        if !used {
            return Err(usage(format!(
                "-D {} ...: bench {} sends no {} packet",
                p.command,
                mode.name(),
                p.command.to_uppercase()
            )));
        }
        if p.command == "publish" && p.name == "topic-alias" {
            return Err(usage(
                "-D publish topic-alias: not supported by bench (each message carries its topic)",
            ));
        }
    }
    // -D needs -V 5 (options::settings says so too, but later).
    if !property.is_empty() && !v5 {
        return Err(options::needs_v5("-D (--property)"));
    }
    let publish = Collected::of("publish", property, &[], &[]).map_err(usage)?;
    let subscribe = Collected::of("subscribe", property, &[], &[]).map_err(usage)?;
    let subscription = Subscription {
        filters: Vec::new(),
        qos: args.connect.qos,
        id: subscribe.subscription_id(),
        user_properties: subscribe.user_properties.clone(),
        ..Subscription::default()
    };
    Ok((
        (!publish.is_empty()).then(|| publish.publish()),
        subscription,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_of_large_messages() {
        assert_eq!(window(100, None, Mode::EndToEnd, true), 100);
        assert_eq!(window(100, Some(10_000_000), Mode::Pub, true), 26);
        assert_eq!(window(100, Some(268_435_000), Mode::Pub, true), 1);
    }

    #[test]
    fn matched_publishers() {
        use clap::Parser;
        let plan = |args: &[&str]| {
            let argv = ["skeeter", "bench"].iter().chain(args);
            match crate::cli::Cli::try_parse_from(argv).unwrap().command {
                crate::cli::Command::Bench(args) => Plan::of(&args).unwrap(),
                _ => unreachable!(),
            }
        };
        let pairs = plan(&[
            "-t",
            "p/%i/x",
            "--sub-topic",
            "p/%i/x",
            "--publishers",
            "12",
            "--subscribers",
            "12",
        ]);
        assert_eq!(*pairs.matched(1), vec![1]);
        assert_eq!(*pairs.matched(11), vec![11]);
        let fan_in = plan(&["--publishers", "3"]);
        assert_eq!(*fan_in.matched(0), vec![0, 1, 2]);
        let beyond = plan(&[
            "-t",
            "p/%i",
            "--sub-topic",
            "p/%i",
            "--publishers",
            "2",
            "--subscribers",
            "3",
        ]);
        assert!(beyond.matched(2).is_empty());
    }

    #[test]
    fn default_filters() {
        assert_eq!(filter_of_template("skeeter/bench/%i"), "skeeter/bench/+");
        assert_eq!(filter_of_template("a/dev-%i/x"), "a/+/x");
        assert_eq!(filter_of_template("fanout"), "fanout");
    }
}
