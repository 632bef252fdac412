//! The summary of a bench run: its figures, gathered once ([`Summary`]), shown as text or as one
//! JSON object (`--json`; the member names are documented in `bench --help`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::plan::Mode;
use super::stats::Percentiles;

/// Behind the schedule by more than this, a publisher did not keep the asked rate.
pub const LAG_THRESHOLD: Duration = Duration::from_millis(100);

pub struct Summary {
    pub mode: Mode,
    pub broker: String,
    pub embedded: bool,
    pub protocol: String,
    pub qos: u8,
    pub size: usize,
    pub publishers: u32,
    pub subscribers: u32,
    pub clients: u32,
    pub inflight: u16,
    pub topic: Option<String>,
    pub sub_topic: Option<String>,
    pub count: Option<u64>,
    pub warmup: Duration,
    pub interrupted: bool,
    /// From the start of publishing (subscribing, holding) to the end; 0 when it never started.
    pub duration: Duration,
    pub connect_time: Duration,
    pub publish_time: Option<Duration>,
    pub receive_time: Option<Duration>,
    pub connections: Connections,
    /// None for conn.
    pub messages: Option<Messages>,
    pub throughput: Option<Throughput>,
    pub steady: Option<Throughput>,
    pub rate: Option<Rate>,
    pub connect_latency: Option<Percentiles>,
    pub ack_latency: Option<Percentiles>,
    pub e2e_latency: Option<Percentiles>,
    pub cpu: Cpu,
}

#[derive(Default)]
pub struct Connections {
    pub ok: u64,
    pub failed: u64,
    pub failures: BTreeMap<String, u64>,
    pub lost: u64,
    pub lost_reasons: BTreeMap<String, u64>,
}

/// Each None where the mode has no such figure.
#[derive(Default)]
pub struct Messages {
    pub sent: Option<u64>,
    pub acked: Option<u64>,
    pub refused: Option<u64>,
    pub received: Option<u64>,
    pub expected: Option<u64>,
    pub lost: Option<u64>,
    pub duplicated: Option<u64>,
    pub out_of_order: Option<u64>,
    pub ignored: Option<u64>,
}

/// Messages per second, and megabytes (10^6) of payload per second.
#[derive(Default, Clone, Copy)]
pub struct Throughput {
    pub sent_msg_s: Option<f64>,
    pub received_msg_s: Option<f64>,
    pub sent_mb_s: Option<f64>,
    pub received_mb_s: Option<f64>,
}

pub struct Rate {
    pub asked: f64,
    pub achieved: Option<f64>,
    pub max_lag: Duration,
    /// Times a message was due while the in-flight window was full.
    pub window_full: u64,
}

impl Rate {
    pub fn kept(&self) -> bool {
        self.max_lag <= LAG_THRESHOLD
    }
}

pub struct Cpu {
    pub user: f64,
    pub system: f64,
    pub cores: usize,
    /// Of every core, over the wall time of the run.
    pub wall: Duration,
}

impl Cpu {
    pub fn utilisation(&self) -> f64 {
        let available = self.wall.as_secs_f64() * self.cores as f64;
        if available > 0.0 {
            ((self.user + self.system) / available).min(1.0)
        } else {
            0.0
        }
    }
}

fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

fn latency_json(p: Option<Percentiles>) -> Value {
    match p {
        None => Value::Null,
        Some(p) => json!({
            "count": p.count,
            "p50": round(ms(p.p50), 4),
            "p90": round(ms(p.p90), 4),
            "p99": round(ms(p.p99), 4),
            "p99_9": round(ms(p.p99_9), 4),
            "max": round(ms(p.max), 4),
        }),
    }
}

fn throughput_json(t: Option<Throughput>) -> Value {
    let r = |v: Option<f64>, digits| v.map(|v| round(v, digits));
    match t {
        None => Value::Null,
        Some(t) => json!({
            "sent_msg_s": r(t.sent_msg_s, 1),
            "received_msg_s": r(t.received_msg_s, 1),
            "sent_mb_s": r(t.sent_mb_s, 3),
            "received_mb_s": r(t.received_mb_s, 3),
        }),
    }
}

impl Summary {
    pub fn json(&self) -> String {
        let seconds = |d: Duration| round(d.as_secs_f64(), 3);
        let messages = self.messages.as_ref().map(|m| {
            json!({
                "sent": m.sent, "acked": m.acked, "received": m.received, "expected": m.expected,
                "lost": m.lost, "duplicated": m.duplicated, "out_of_order": m.out_of_order,
                "ignored": m.ignored, "refused": m.refused,
            })
        });
        let rate = self.rate.as_ref().map(|r| {
            json!({
                "asked_msg_s": r.asked,
                "achieved_msg_s": r.achieved.map(|a| round(a, 1)),
                "kept": r.kept(),
                "max_lag_ms": round(r.max_lag.as_secs_f64() * 1e3, 3),
                "window_full": r.window_full,
            })
        });
        let c = &self.connections;
        let object = json!({
            "mode": self.mode.name(),
            "broker": self.broker,
            "embedded_broker": self.embedded,
            "protocol": self.protocol,
            "qos": self.qos,
            "size": self.size,
            "publishers": self.publishers,
            "subscribers": self.subscribers,
            "clients": self.clients,
            "inflight": self.inflight,
            "topic": self.topic,
            "sub_topic": self.sub_topic,
            "count": self.count,
            "warmup_s": seconds(self.warmup),
            "interrupted": self.interrupted,
            "duration_s": seconds(self.duration),
            "connect_s": seconds(self.connect_time),
            "publish_s": self.publish_time.map(seconds),
            "receive_s": self.receive_time.map(seconds),
            "connections": {
                "ok": c.ok, "failed": c.failed, "lost": c.lost,
                "failures": c.failures, "lost_reasons": c.lost_reasons,
            },
            "messages": messages,
            "throughput": self.throughput.map(|t| {
                let mut t = throughput_json(Some(t));
                t["steady"] = throughput_json(self.steady);
                t
            }),
            "rate": rate,
            "latency_ms": {
                "connect": latency_json(self.connect_latency),
                "publish_ack": latency_json(self.ack_latency),
                "end_to_end": latency_json(self.e2e_latency),
            },
            "cpu": {
                "user_s": round(self.cpu.user, 3),
                "system_s": round(self.cpu.system, 3),
                "cores": self.cpu.cores,
                "utilisation": round(self.cpu.utilisation(), 3),
            },
        });
        format!("{object}\n")
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, label: &str, text: String| {
            let _ = writeln!(out, "{label:<14}{text}");
        };
        let who = match self.mode {
            Mode::EndToEnd => format!(
                "{} publisher(s) -> {} subscriber(s)",
                self.publishers, self.subscribers
            ),
            Mode::Pub => format!("{} publisher(s)", self.publishers),
            Mode::Sub => format!("{} subscriber(s)", self.subscribers),
            Mode::Conn => format!("{} client(s)", self.clients),
        };
        let load = match (self.mode, &self.rate) {
            (Mode::Conn, _) => String::new(),
            (Mode::Sub, _) => format!(", QoS {}", self.qos),
            (_, Some(rate)) => format!(
                ", QoS {}, {} bytes, {} msg/s asked",
                self.qos,
                self.size,
                number(rate.asked)
            ),
            (_, None) => format!(
                ", QoS {}, {} bytes, {} in flight",
                self.qos, self.size, self.inflight
            ),
        };
        let broker = match self.embedded {
            true => format!("{} (embedded)", self.broker),
            false => self.broker.clone(),
        };
        let _ = writeln!(
            out,
            "bench {}: {who}{load}, MQTT {}, broker {broker}{}",
            self.mode.name(),
            self.protocol,
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
        let mut timing = format!(
            "{:.2} s (connecting {:.2} s",
            self.duration.as_secs_f64(),
            self.connect_time.as_secs_f64()
        );
        if let Some(publish) = self.publish_time {
            let _ = write!(timing, ", publishing {:.2} s", publish.as_secs_f64());
        }
        if let Some(receive) = self.receive_time {
            let _ = write!(timing, ", receiving {:.2} s", receive.as_secs_f64());
        }
        if !self.warmup.is_zero() {
            let _ = write!(timing, ", warm-up {} s", self.warmup.as_secs_f64());
        }
        timing.push(')');
        line(&mut out, "duration", timing);

        let c = &self.connections;
        let mut connections = format!("{} ok, {} failed", c.ok, c.failed);
        if c.lost > 0 {
            let _ = write!(connections, ", {} lost during the run", c.lost);
        }
        line(&mut out, "connections", connections);
        for (reason, n) in &c.failures {
            line(&mut out, "", format!("  failed: {n} x {reason}"));
        }
        for (reason, n) in &c.lost_reasons {
            line(&mut out, "", format!("  lost: {n} x {reason}"));
        }

        if let Some(m) = &self.messages {
            let mut parts = Vec::new();
            let mut push = |what: &str, value: Option<u64>| {
                if let Some(value) = value {
                    parts.push(format!("{what} {value}"));
                }
            };
            push("sent", m.sent);
            push("acknowledged", m.acked);
            push("refused", m.refused.filter(|&r| r > 0));
            push("received", m.received);
            push("expected", m.expected);
            line(&mut out, "messages", parts.join(", "));
            let mut parts = Vec::new();
            let mut push = |what: &str, value: Option<u64>| {
                if let Some(value) = value {
                    parts.push(format!("{what} {value}"));
                }
            };
            push("lost", m.lost);
            push("duplicated", m.duplicated);
            push("out of order", m.out_of_order);
            push("ignored", m.ignored.filter(|&i| i > 0));
            if !parts.is_empty() {
                line(&mut out, "", parts.join(", "));
            }
        }

        if let Some(t) = self.throughput {
            line(&mut out, "throughput", throughput_text(&t));
            if let Some(steady) = self.steady.filter(|_| !self.warmup.is_zero()) {
                line(
                    &mut out,
                    "  steady",
                    format!("{} (after the warm-up)", throughput_text(&steady)),
                );
            }
        }
        if let Some(rate) = &self.rate {
            let achieved = rate.achieved.map_or("-".into(), number);
            let verdict = if rate.kept() {
                format!(
                    "kept (at most {:.1} ms behind schedule)",
                    rate.max_lag.as_secs_f64() * 1e3
                )
            } else if rate.window_full > 0 && self.qos > 0 {
                format!(
                    "NOT kept: up to {:.0} ms behind schedule; the in-flight window (--inflight \
                     {}) was full {} time(s): the broker acknowledged too slowly",
                    rate.max_lag.as_secs_f64() * 1e3,
                    self.inflight,
                    rate.window_full
                )
            } else if rate.window_full > 0 {
                format!(
                    "NOT kept: up to {:.0} ms behind schedule; the in-flight window (--inflight \
                     {}) was full {} time(s): messages waited to be written (the broker read \
                     too slowly, or the generator is CPU-bound: see cpu)",
                    rate.max_lag.as_secs_f64() * 1e3,
                    self.inflight,
                    rate.window_full
                )
            } else {
                format!(
                    "NOT kept: up to {:.0} ms behind schedule: the generator could not keep up \
                     (see cpu)",
                    rate.max_lag.as_secs_f64() * 1e3
                )
            };
            line(
                &mut out,
                "rate",
                format!(
                    "{} msg/s asked, {achieved} achieved: {verdict}",
                    number(rate.asked)
                ),
            );
        }

        let latencies = [
            ("connect", self.connect_latency),
            ("publish-ack", self.ack_latency),
            ("end to end", self.e2e_latency),
        ];
        if latencies.iter().any(|(_, p)| p.is_some()) {
            line(
                &mut out,
                "latency (ms)",
                format!(
                    "{:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
                    "p50", "p90", "p99", "p99.9", "max", "samples"
                ),
            );
            for (what, p) in latencies {
                if let Some(p) = p {
                    line(
                        &mut out,
                        &format!("  {what}"),
                        format!(
                            "{:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>10}",
                            ms(p.p50),
                            ms(p.p90),
                            ms(p.p99),
                            ms(p.p99_9),
                            ms(p.max),
                            p.count
                        ),
                    );
                }
            }
        }
        let cpu = &self.cpu;
        line(
            &mut out,
            "cpu",
            format!(
                "user {:.2} s, system {:.2} s: {:.0}% of {} core(s) over {:.2} s{}",
                cpu.user,
                cpu.system,
                cpu.utilisation() * 100.0,
                cpu.cores,
                cpu.wall.as_secs_f64(),
                if self.embedded {
                    " (the embedded broker's included)"
                } else {
                    ""
                }
            ),
        );
        out
    }
}

fn throughput_text(t: &Throughput) -> String {
    let mut parts = Vec::new();
    if let Some(sent) = t.sent_msg_s {
        parts.push(format!(
            "sent {} msg/s ({:.2} MB/s)",
            number(sent),
            t.sent_mb_s.unwrap_or(0.0)
        ));
    }
    if let Some(received) = t.received_msg_s {
        parts.push(format!(
            "received {} msg/s ({:.2} MB/s)",
            number(received),
            t.received_mb_s.unwrap_or(0.0)
        ));
    }
    if parts.is_empty() {
        return "-".into();
    }
    parts.join(", ")
}

/// A rate for people: whole numbers from 100 up, a few digits below.
fn number(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{}", round(value, 2))
    }
}
