//! The broker's statistics: counters kept as traffic flows, and the `$SYS/broker/...` topics
//! published from them (retained, every `sys_interval`), named and worded as mosquitto's.
//!
//! Counting follows mosquitto: "messages" are MQTT packets of any type and "bytes" all their
//! bytes (after TLS and WebSocket framing are taken off); "publish" counts PUBLISH packets and
//! their payload bytes. `$SYS` messages themselves are never counted as received, but count as
//! sent when delivered to a subscriber, as in mosquitto.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use super::router::Message;
use super::{Shared, stopping};

/// Counters, bumped by connections as they read and write. Relaxed: each is a tally on its own.
#[derive(Default)]
pub(crate) struct Stats {
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub publish_received: AtomicU64,
    pub publish_bytes_received: AtomicU64,
    pub publish_sent: AtomicU64,
    pub publish_bytes_sent: AtomicU64,
    /// Network connections opened (TCP, TLS, WebSocket), CONNECT or not.
    pub sockets: AtomicU64,
    /// CONNECTs accepted.
    pub connections: AtomicU64,
    /// Clients connected now, and the most there ever were at once.
    pub connected: AtomicU64,
    pub connected_maximum: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// A client's CONNECT was accepted.
    pub fn client_connected(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        let now = self.connected.fetch_add(1, Ordering::Relaxed) + 1;
        self.connected_maximum.fetch_max(now, Ordering::Relaxed);
    }

    pub fn client_disconnected(&self) {
        self.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream whose bytes are counted into [`Stats`] both ways.
pub(crate) struct Counted<S> {
    inner: S,
    stats: Arc<Stats>,
}

impl<S> Counted<S> {
    pub fn new(inner: S, stats: Arc<Stats>) -> Self {
        Counted { inner, stats }
    }

    /// The stream itself, for a reader and writer that count on their own.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        Stats::add(&self.stats.bytes_received, read as u64);
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            Stats::add(&self.stats.bytes_sent, *n as u64);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &polled {
            Stats::add(&self.stats.bytes_sent, *n as u64);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// How many packets a buffer of whole packets holds (the replies a writer is handed).
pub(crate) fn count_packets(bytes: &[u8]) -> u64 {
    super::log::frames(bytes).count() as u64
}

/// The load averages of one counter: its rate per minute, averaged exponentially over 1, 5 and
/// 15 minutes (mosquitto's formula).
#[derive(Default)]
struct Load {
    last: u64,
    averages: [f64; 3],
}

impl Load {
    const MINUTES: [f64; 3] = [1.0, 5.0, 15.0];

    fn update(&mut self, value: u64, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if seconds <= 0.0 {
            return;
        }
        let per_minute = value.saturating_sub(self.last) as f64 * 60.0 / seconds;
        self.last = value;
        for (average, minutes) in self.averages.iter_mut().zip(Self::MINUTES) {
            let decay = (-seconds / (60.0 * minutes)).exp();
            *average = per_minute + decay * (*average - per_minute);
        }
    }
}

/// The `$SYS/broker/load/NAME/...` averages, and the counter each follows.
const LOADS: [&str; 8] = [
    "messages/received",
    "messages/sent",
    "bytes/received",
    "bytes/sent",
    "publish/received",
    "publish/sent",
    "connections",
    "sockets",
];

fn load_counters(stats: &Stats) -> [&AtomicU64; 8] {
    [
        &stats.packets_received,
        &stats.packets_sent,
        &stats.bytes_received,
        &stats.bytes_sent,
        &stats.publish_received,
        &stats.publish_sent,
        &stats.connections,
        &stats.sockets,
    ]
}

/// One reading of everything `$SYS` shows, topic (after `$SYS/broker/`) -> value.
fn reading(shared: &Shared, started: Instant, loads: &[Load; 8]) -> Vec<(String, String)> {
    let stats = &shared.stats;
    let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let census = shared.sessions.census();
    let retained = shared.retained.count();
    let uptime = started.elapsed().as_secs();
    let mut values: Vec<(String, String)> = vec![
        (
            "version".into(),
            format!("skeeter version {}", env!("CARGO_PKG_VERSION")),
        ),
        ("uptime".into(), format!("{uptime} seconds")),
        ("clients/total".into(), census.sessions.to_string()),
        (
            "clients/connected".into(),
            get(&stats.connected).to_string(),
        ),
        ("clients/active".into(), get(&stats.connected).to_string()),
        (
            "clients/disconnected".into(),
            (census.sessions - census.online).to_string(),
        ),
        (
            "clients/inactive".into(),
            (census.sessions - census.online).to_string(),
        ),
        (
            "clients/maximum".into(),
            get(&stats.connected_maximum).to_string(),
        ),
        (
            "messages/received".into(),
            get(&stats.packets_received).to_string(),
        ),
        ("messages/sent".into(), get(&stats.packets_sent).to_string()),
        (
            "messages/stored".into(),
            (retained + census.queued_messages).to_string(),
        ),
        (
            "store/messages/count".into(),
            (retained + census.queued_messages).to_string(),
        ),
        (
            "store/messages/bytes".into(),
            census.queued_bytes.to_string(),
        ),
        (
            "bytes/received".into(),
            get(&stats.bytes_received).to_string(),
        ),
        ("bytes/sent".into(), get(&stats.bytes_sent).to_string()),
        (
            "publish/messages/received".into(),
            get(&stats.publish_received).to_string(),
        ),
        (
            "publish/messages/sent".into(),
            get(&stats.publish_sent).to_string(),
        ),
        (
            "publish/messages/dropped".into(),
            get(&shared.dropped).to_string(),
        ),
        (
            "publish/bytes/received".into(),
            get(&stats.publish_bytes_received).to_string(),
        ),
        (
            "publish/bytes/sent".into(),
            get(&stats.publish_bytes_sent).to_string(),
        ),
        ("retained messages/count".into(), retained.to_string()),
        (
            "subscriptions/count".into(),
            shared.router.count().to_string(),
        ),
    ];
    for (name, load) in LOADS.iter().zip(loads.iter()) {
        for (average, minutes) in load.averages.iter().zip(["1min", "5min", "15min"]) {
            values.push((format!("load/{name}/{minutes}"), format!("{average:.2}")));
        }
    }
    values
}

/// Publish `$SYS/broker/...` every `interval` until the broker stops: all topics the first
/// time, then those whose value changed, retained, at QoS 0.
pub(crate) async fn publish_every(
    shared: Arc<Shared>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let mut loads: [Load; 8] = Default::default();
    let mut published: HashMap<String, String> = HashMap::new();
    let mut last = started;
    let mut ticks = tokio::time::interval_at(started, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopping(&mut shutdown) => return,
        }
        let now = Instant::now();
        for (load, counter) in loads.iter_mut().zip(load_counters(&shared.stats)) {
            load.update(counter.load(Ordering::Relaxed), now - last);
        }
        last = now;
        for (topic, value) in reading(&shared, started, &loads) {
            if published.get(&topic) == Some(&value) {
                continue;
            }
            let message = Message::new(
                format!("$SYS/broker/{topic}"),
                Bytes::from(value.clone().into_bytes()),
                QoS::AtMostOnce,
            );
            shared.publish(Arc::new(message), true, None);
            published.insert(topic, value);
        }
    }
}
