//! The clients of a bench run, one task each with its own [`Connection`]: publishers (the closed
//! loop publishes from its event loop as messages complete; with --rate a producer task runs on
//! schedule beside the event loop, as in `Connection::publish_all`), subscribers and conn's idle
//! clients. Each reports once connected ([`Ready`]) and returns what it counted at the end.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::QoS;
use tokio::sync::{Semaphore, TryAcquireError, mpsc, oneshot, watch};

use crate::client::{self, Client, Connection, ConnectionError, Event, Settings};
use crate::exit::{self, Code};

use super::message::Header;
use super::plan::{Mode, Plan};
use super::stats::{Clock, Latency, Recorder, Tally};

/// Stop levels (the stop channel's values): publishers stop publishing (then wait for their last
/// acknowledgements, subscribers for their last messages); everything stops now.
pub const STOP_PUBLISHING: u8 = 1;
pub const STOP_NOW: u8 = 2;

/// How long a publisher waits for its last acknowledgements after its last message (and after a
/// Ctrl-C).
const DRAIN: Duration = Duration::from_secs(10);
const DRAIN_INTERRUPTED: Duration = Duration::from_secs(2);
/// --rate: after the producer's DISCONNECT request, how long the event loop may take to write it.
const DISCONNECT_GRACE: Duration = Duration::from_secs(5);
/// A subscriber that has not got every message expected ends after this long without one.
pub const IDLE: Duration = Duration::from_secs(1);
const SUBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// When publishing starts (sent once every client has connected).
#[derive(Debug, Clone, Copy)]
pub struct Go {
    pub start: Instant,
    /// --duration's end (None: --count ends the run).
    pub end: Option<Instant>,
    /// The end of the warm-up, on the [`Clock`].
    pub warm_ns: u64,
}

/// A counter the progress line reads, on a cache line of its own (tasks on both cores bump them).
#[derive(Default)]
#[repr(align(64))]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub struct Counters {
    pub sent: Counter,
    pub received: Counter,
}

/// What every client task shares.
pub struct Shared {
    pub plan: Plan,
    pub settings: Settings,
    pub clock: Clock,
    /// This run's id, in every message's header.
    pub run: u32,
    pub counters: Counters,
    pub ack_latency: Arc<Latency>,
    pub e2e_latency: Arc<Latency>,
    pub stop: watch::Receiver<u8>,
    pub go: watch::Receiver<Option<Go>>,
    /// End to end, once the publishers are done: how many messages each sent.
    pub sent: watch::Receiver<Option<Arc<Vec<u64>>>>,
}

impl Shared {
    /// The stop level now, by an atomic load while nothing was sent (for loops that check it
    /// per message).
    pub fn stop_level(&self) -> u8 {
        match self.stop.has_changed() {
            Ok(false) => 0,
            _ => *self.stop.borrow(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Publisher,
    Subscriber,
    Conn,
}

impl Role {
    /// What -i / -I's client id gets appended.
    fn id_suffix(self, index: u32) -> String {
        match self {
            Role::Publisher => format!("-pub-{index}"),
            Role::Subscriber => format!("-sub-{index}"),
            Role::Conn => format!("-{index}"),
        }
    }
}

/// Why a client could not take part: the reason as the summary groups it, and the error (the
/// run's exit code when every client of its kind failed).
pub struct Failure {
    pub reason: String,
    pub error: anyhow::Error,
}

/// Sent once per client when its connection is up (with the connect time) or has failed.
pub struct Ready {
    pub role: Role,
    pub result: Result<Duration, Failure>,
}

#[derive(Debug, Default)]
pub struct PublisherOutcome {
    /// Written to the connection.
    pub sent: u64,
    /// Meant to go at or after the end of the warm-up.
    pub sent_steady: u64,
    /// PUBACK (QoS 1), PUBCOMP or a refusing PUBREC (QoS 2).
    pub acked: u64,
    /// MQTT 5: acknowledged with a reason code of 0x80 or more.
    pub refused: u64,
    pub first_refusal: Option<u8>,
    pub last_sent_ns: Option<u64>,
    /// --rate: how far behind its schedule the publisher fell at worst.
    pub max_lag: Duration,
    /// How many times the in-flight window was full when a message was due.
    pub window_full: u64,
    /// Why the connection was lost during the run.
    pub lost: Option<String>,
}

pub struct SubscriberOutcome {
    /// Whether its SUBACK came (it then expects its publishers' messages).
    pub subscribed: bool,
    pub tally: Tally,
    pub lost: Option<String>,
}

#[derive(Default)]
pub struct ConnOutcome {
    pub lost: Option<String>,
}

/// A connection failure in the summary's words: a CONNACK refusal as `0x87 not authorized`
/// (MQTT 5) or `5 not authorised`, anything else as its message without the address.
pub fn reason_of(err: &anyhow::Error, address: &str) -> String {
    match exit::code_of(err) {
        Code::Refused(code) if code >= 0x80 => {
            format!("{code:#04x} {}", client::reason_words(code))
        }
        Code::Refused(code) => format!("{code} {}", client::refusal_words(code)),
        _ => {
            let text = format!("{err:#}");
            let text = text
                .strip_prefix(&format!("cannot connect to {address}: "))
                .unwrap_or(&text)
                .replace(&format!(" with {address}"), "");
            let text = match text.rfind(" (os error ") {
                Some(at) if text.ends_with(')') => text[..at].to_owned(),
                _ => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

/// Open one client's connection, its id suffixed; the time it took (TCP, TLS, CONNACK).
async fn open(
    shared: &Shared,
    role: Role,
    index: u32,
    requests: usize,
) -> Result<(Connection, Duration), Failure> {
    let mut settings = shared.settings.clone();
    let id = settings.mqtt.client_id();
    if !id.is_empty() {
        settings
            .mqtt
            .set_client_id(format!("{id}{}", role.id_suffix(index)));
    }
    let started = Instant::now();
    tokio::select! {
        opened = Connection::open(&settings, requests) => match opened {
            Ok(connection) => Ok((connection, started.elapsed())),
            Err(error) => Err(Failure {
                reason: reason_of(&error, &settings.address),
                error,
            }),
        },
        () = wait_stop(shared.stop.clone(), STOP_NOW) => Err(Failure {
            reason: "interrupted while connecting".into(),
            error: anyhow::anyhow!("interrupted while connecting"),
        }),
    }
}

/// Resolves once the stop level reaches `level` (or the run is gone).
async fn wait_stop(mut stop: watch::Receiver<u8>, level: u8) {
    let _ = stop.wait_for(|s| *s >= level).await;
}

/// The start of publishing; None when the run stops first.
async fn wait_go(mut go: watch::Receiver<Option<Go>>, stop: watch::Receiver<u8>) -> Option<Go> {
    tokio::select! {
        go = go.wait_for(|go| go.is_some()) => go.ok().and_then(|go| *go),
        () = wait_stop(stop, STOP_NOW) => None,
    }
}

/// Poll the connection (it answers pings, so it stays up) until `until` resolves.
async fn keep_alive_until<T>(
    connection: &mut Connection,
    until: impl Future<Output = T>,
) -> Result<T, ConnectionError> {
    let mut until = std::pin::pin!(until);
    loop {
        tokio::select! {
            biased;
            out = &mut until => return Ok(out),
            event = connection.next_event() => {
                event?;
            }
        }
    }
}

pub async fn publisher(
    shared: Arc<Shared>,
    index: u32,
    ready: mpsc::UnboundedSender<Ready>,
) -> PublisherOutcome {
    let plan = &shared.plan;
    // Room for the whole window: publishing never waits for the request queue.
    let requests = usize::from(plan.window) + 8;
    let mut connection = match open(&shared, Role::Publisher, index, requests).await {
        Ok((connection, took)) => {
            report(ready, Role::Publisher, Ok(took));
            connection
        }
        Err(failure) => {
            report(ready, Role::Publisher, Err(failure));
            return PublisherOutcome::default();
        }
    };
    let go = keep_alive_until(
        &mut connection,
        wait_go(shared.go.clone(), shared.stop.clone()),
    )
    .await;
    let go = match go {
        Ok(Some(go)) => go,
        Ok(None) => {
            let _ = connection.disconnect().await;
            return PublisherOutcome::default();
        }
        Err(err) => {
            return PublisherOutcome {
                lost: Some(client::describe_error(&err)),
                ..PublisherOutcome::default()
            };
        }
    };
    let mut books = Books {
        recorder: Recorder::new(Arc::clone(&shared.ack_latency)),
        unwritten: VecDeque::with_capacity(usize::from(plan.window)),
        unacked: VecDeque::with_capacity(usize::from(plan.window)),
        outcome: PublisherOutcome::default(),
        shared: &shared,
        go,
    };
    match plan.rate {
        None => closed_loop(&mut books, connection, index).await,
        Some(_) => open_loop(&mut books, connection, index, Arc::clone(&shared)).await,
    }
    books.outcome
}

/// Send the one report of a client's connection (and let go of the channel).
fn report(ready: mpsc::UnboundedSender<Ready>, role: Role, result: Result<Duration, Failure>) {
    let _ = ready.send(Ready { role, result });
}

/// A publisher's account of its messages, kept by its event loop: the send time of each message
/// queued but not yet written, then of each written but not yet acknowledged (acknowledgements
/// come in order on a connection, as they are written).
struct Books<'a> {
    shared: &'a Shared,
    go: Go,
    recorder: Recorder,
    unwritten: VecDeque<u64>,
    unacked: VecDeque<u64>,
    outcome: PublisherOutcome,
}

/// What an event meant to the publisher.
enum Step {
    /// A message is complete: written (QoS 0) or acknowledged (QoS 1, 2).
    Completed,
    Other,
    /// DISCONNECT written, or the connection lost: the loop is over.
    Over,
}

impl Books<'_> {
    fn account(&mut self, event: Result<Event, ConnectionError>) -> Step {
        let qos = self.shared.plan.qos;
        let clock = &self.shared.clock;
        let reason = match event {
            Ok(Event::OutgoingPublish(_)) => {
                let sent_ns = self.unwritten.pop_front().unwrap_or_else(|| clock.now_ns());
                let outcome = &mut self.outcome;
                outcome.sent += 1;
                self.shared.counters.sent.add(1);
                if sent_ns >= self.go.warm_ns {
                    outcome.sent_steady += 1;
                }
                outcome.last_sent_ns = Some(clock.now_ns());
                if qos == QoS::AtMostOnce {
                    return Step::Completed;
                }
                self.unacked.push_back(sent_ns);
                return Step::Other;
            }
            Ok(Event::PubAck(reason)) if qos == QoS::AtLeastOnce => reason,
            Ok(Event::PubComp(reason)) if qos == QoS::ExactlyOnce => reason,
            Ok(Event::PubRec(reason)) if qos == QoS::ExactlyOnce && reason >= 0x80 => reason,
            Ok(Event::OutgoingDisconnect) => return Step::Over,
            Ok(_) => return Step::Other,
            Err(err) => {
                self.outcome.lost = Some(client::describe_error(&err));
                return Step::Over;
            }
        };
        if let Some(sent_ns) = self.unacked.pop_front()
            && sent_ns >= self.go.warm_ns
        {
            self.recorder.record(clock.now_ns().saturating_sub(sent_ns));
        }
        let outcome = &mut self.outcome;
        outcome.acked += 1;
        if reason >= 0x80 {
            outcome.refused += 1;
            outcome.first_refusal.get_or_insert(reason);
        }
        Step::Completed
    }
}

/// How long a publisher waits for its last completions once it stops publishing.
fn drain_limit(shared: &Shared) -> Duration {
    match shared.stop_level() >= STOP_PUBLISHING {
        true => DRAIN_INTERRUPTED,
        false => DRAIN,
    }
}

/// One message to the request queue: its header and padding, its send time in the books.
async fn publish(books: &mut Books<'_>, client: &Client, topic: &str, header: Header) -> bool {
    let plan = &books.shared.plan;
    let payload = header.payload(plan.size);
    books.unwritten.push_back(header.sent_ns);
    let properties = plan.publish_properties.as_ref();
    client
        .publish(topic, plan.qos, false, payload, properties)
        .await
}

/// The closed loop, in the event loop's own task: the window is filled, then each completion
/// publishes the next message (no other task to wake per message). Publishing ends at --count,
/// --duration's end or a stop; then the last completions are awaited (DRAIN) before DISCONNECT.
async fn closed_loop(books: &mut Books<'_>, mut connection: Connection, index: u32) {
    let shared = books.shared;
    let plan = &shared.plan;
    let client = connection.client.clone();
    let topic = plan.topic_of(index);
    let mut header = Header {
        run: shared.run,
        publisher: index,
        seq: 0,
        sent_ns: 0,
    };
    let end = books.go.end.map(tokio::time::Instant::from_std);
    let mut publishing_ends = std::pin::pin!(async {
        tokio::select! {
            () = crate::cmd::sleep_until(end) => {}
            () = wait_stop(shared.stop.clone(), STOP_PUBLISHING) => {}
        }
    });
    let mut stop_now = std::pin::pin!(wait_stop(shared.stop.clone(), STOP_NOW));
    let far = tokio::time::Instant::now() + Duration::from_secs(86400 * 365);
    let mut drain = std::pin::pin!(tokio::time::sleep_until(far));
    let mut publishing = true;
    let mut disconnecting = false;
    let (mut queued, mut completed) = (0u64, 0u64);
    // The request queue has room for the window, so publish() never waits here (the bound only
    // guards against a broken invariant: nothing else would poll the event loop meanwhile).
    let guard = Duration::from_secs(5);
    let next = |books: &mut Books<'_>, header: &mut Header, queued: &mut u64| {
        let now = Instant::now();
        if plan.count.is_some_and(|count| *queued >= count)
            || books.go.end.is_some_and(|end| now >= end)
            || shared.stop_level() >= STOP_PUBLISHING
        {
            return None;
        }
        header.seq = *queued;
        header.sent_ns = shared.clock.unix_ns(now);
        *queued += 1;
        Some(*header)
    };
    while queued < u64::from(plan.window) {
        let Some(message) = next(books, &mut header, &mut queued) else {
            publishing = false;
            break;
        };
        if !matches!(
            tokio::time::timeout(guard, publish(books, &client, &topic, message)).await,
            Ok(true)
        ) {
            return;
        }
    }
    if !publishing {
        let limit = drain_limit(shared);
        drain.as_mut().reset(tokio::time::Instant::now() + limit);
    }
    loop {
        if !publishing && !disconnecting && completed >= queued {
            disconnecting = true;
            let _ = tokio::time::timeout(guard, client.disconnect()).await;
        }
        // Events first: the other branches run only when none is ready (polling them for every
        // message costs); next() checks the end of publishing for each message.
        let event = tokio::select! {
            biased;
            event = connection.next_event() => event,
            () = &mut stop_now => return,
            () = &mut publishing_ends, if publishing => {
                publishing = false;
                let limit = drain_limit(shared);
                drain.as_mut().reset(tokio::time::Instant::now() + limit);
                continue;
            }
            // Acknowledgements that never came: the connection is dropped without DISCONNECT.
            () = &mut drain, if !publishing => return,
        };
        if shared.stop_level() >= STOP_NOW {
            return;
        }
        match books.account(event) {
            Step::Completed => {
                completed += 1;
                if !publishing {
                    continue;
                }
                match next(books, &mut header, &mut queued) {
                    Some(message) => {
                        if !matches!(
                            tokio::time::timeout(guard, publish(books, &client, &topic, message))
                                .await,
                            Ok(true)
                        ) {
                            return;
                        }
                    }
                    None => {
                        publishing = false;
                        let limit = drain_limit(shared);
                        drain.as_mut().reset(tokio::time::Instant::now() + limit);
                    }
                }
            }
            Step::Other => {}
            Step::Over => {
                if books.outcome.lost.is_none() {
                    connection.close().await;
                }
                return;
            }
        }
    }
}

/// The open loop (--rate): a producer task publishes on schedule beside the event loop (a timer
/// in this loop would cut its polls short every millisecond). The window is a semaphore: a
/// permit per message, returned at its completion.
async fn open_loop(
    books: &mut Books<'_>,
    mut connection: Connection,
    index: u32,
    shared: Arc<Shared>,
) {
    let window = Arc::new(Semaphore::new(usize::from(shared.plan.window)));
    let (times_tx, mut times_rx) = mpsc::unbounded_channel::<u64>();
    let (finished_tx, finished_rx) = oneshot::channel::<ProducerReport>();
    let producer = tokio::spawn(produce(
        Producer {
            shared: Arc::clone(&shared),
            client: connection.client.clone(),
            index,
            go: books.go,
            window: Arc::clone(&window),
            times: times_tx,
        },
        finished_tx,
    ));
    let mut report = None;
    let mut finished = std::pin::pin!(finished_rx);
    let far = tokio::time::Instant::now() + Duration::from_secs(86400 * 365);
    let mut grace = std::pin::pin!(tokio::time::sleep_until(far));
    loop {
        let event = tokio::select! {
            biased;
            event = connection.next_event() => event,
            done = &mut finished, if report.is_none() => {
                report = Some(done.unwrap_or_default());
                grace.as_mut().reset(tokio::time::Instant::now() + DISCONNECT_GRACE);
                continue;
            }
            // Acknowledgements that never came (the window full) keep DISCONNECT from going.
            () = &mut grace, if report.is_some() => break,
        };
        while let Ok(sent_ns) = times_rx.try_recv() {
            books.unwritten.push_back(sent_ns);
        }
        match books.account(event) {
            Step::Completed => window.add_permits(1),
            Step::Other => {}
            Step::Over => {
                if books.outcome.lost.is_none() {
                    connection.close().await;
                }
                break;
            }
        }
    }
    // The producer may wait for room in the window or the request queue: both go now.
    window.close();
    drop(connection);
    if report.is_none() {
        report = match tokio::time::timeout(Duration::from_secs(5), &mut finished).await {
            Ok(Ok(report)) => Some(report),
            _ => None,
        };
        producer.abort();
    }
    if let Some(report) = report {
        books.outcome.max_lag = report.max_lag;
        books.outcome.window_full = report.window_full;
    }
}

/// What a publisher's producer task needs (open loop).
struct Producer {
    shared: Arc<Shared>,
    client: Client,
    index: u32,
    go: Go,
    window: Arc<Semaphore>,
    /// Each message's send time, in the order published, for the event loop.
    times: mpsc::UnboundedSender<u64>,
}

#[derive(Default)]
struct ProducerReport {
    max_lag: Duration,
    window_full: u64,
}

/// Publish on schedule until --count, --duration or a stop; then wait for the last completions
/// (every permit back) and queue DISCONNECT.
async fn produce(p: Producer, finished: oneshot::Sender<ProducerReport>) {
    let shared = Arc::clone(&p.shared);
    let plan = &shared.plan;
    let mut report = ProducerReport::default();
    let topic = plan.topic_of(p.index);
    let header = Header {
        run: shared.run,
        publisher: p.index,
        seq: 0,
        sent_ns: 0,
    };
    // --rate R over P publishers: publisher i sends at start + (i + n P) / R.
    let rate = plan.rate.unwrap_or(1.0);
    let spacing = 1e9 / rate;
    let (offset, interval) = (
        f64::from(p.index) * spacing,
        f64::from(plan.publishers) * spacing,
    );
    let end = p.go.end.map(tokio::time::Instant::from_std);
    let mut stop = shared.stop.clone();
    let mut seq = 0u64;
    loop {
        if plan.count.is_some_and(|count| seq >= count) || *stop.borrow() >= STOP_PUBLISHING {
            break;
        }
        let scheduled = p.go.start + Duration::from_nanos((offset + seq as f64 * interval) as u64);
        if p.go.end.is_some_and(|end| scheduled >= end) {
            break;
        }
        if scheduled > Instant::now() {
            tokio::select! {
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(scheduled)) => {}
                _ = stop.wait_for(|s| *s >= STOP_PUBLISHING) => break,
            }
        }
        match p.window.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(TryAcquireError::Closed) => break,
            Err(TryAcquireError::NoPermits) => {
                report.window_full += 1;
                tokio::select! {
                    permit = p.window.acquire() => match permit {
                        Ok(permit) => permit.forget(),
                        Err(_) => break,
                    },
                    _ = stop.wait_for(|s| *s >= STOP_PUBLISHING) => break,
                    () = crate::cmd::sleep_until(end) => break,
                }
            }
        }
        report.max_lag = report.max_lag.max(scheduled.elapsed());
        let sent_ns = shared.clock.unix_ns(scheduled);
        let payload = Header {
            seq,
            sent_ns,
            ..header
        }
        .payload(plan.size);
        let _ = p.times.send(sent_ns);
        let properties = plan.publish_properties.as_ref();
        if !p
            .client
            .publish(&topic, plan.qos, false, payload, properties)
            .await
        {
            break;
        }
        seq += 1;
    }
    let drain = drain_limit(&shared);
    let everything_back = p.window.acquire_many(u32::from(plan.window));
    tokio::select! {
        _ = tokio::time::timeout(drain, everything_back) => {}
        _ = stop.wait_for(|s| *s >= STOP_NOW) => {}
    }
    // The event loop takes no request while the window of unacknowledged messages is full.
    let _ = tokio::time::timeout(Duration::from_secs(1), p.client.disconnect()).await;
    let _ = finished.send(report);
}

pub async fn subscriber(
    shared: Arc<Shared>,
    index: u32,
    ready: mpsc::UnboundedSender<Ready>,
) -> SubscriberOutcome {
    let plan = &shared.plan;
    let end_to_end = plan.mode == Mode::EndToEnd;
    let tally = Tally::new(end_to_end.then_some(shared.run));
    let failed = |failure: Failure| {
        let _ = ready.send(Ready {
            role: Role::Subscriber,
            result: Err(failure),
        });
    };
    let (mut connection, took) = match open(&shared, Role::Subscriber, index, 16).await {
        Ok(opened) => opened,
        Err(failure) => {
            failed(failure);
            return SubscriberOutcome {
                subscribed: false,
                tally,
                lost: None,
            };
        }
    };
    if let Err(failure) = subscribe(&mut connection, plan, index).await {
        failed(failure);
        let _ = connection.disconnect().await;
        return SubscriberOutcome {
            subscribed: false,
            tally,
            lost: None,
        };
    }
    let _ = ready.send(Ready {
        role: Role::Subscriber,
        result: Ok(took),
    });

    // Messages count from the SUBACK on (bench sub's publisher may be running already); the
    // start only sets the warm-up and --duration.
    let mut r = Receiving {
        shared: &shared,
        end_to_end,
        matched: end_to_end.then(|| plan.matched(index)),
        recorder: Recorder::new(Arc::clone(&shared.e2e_latency)),
        tally,
        started: false,
        end_ns: None,
        expected: None,
        last_arrival: tokio::time::Instant::now(),
    };
    let stop_level = if end_to_end {
        STOP_NOW
    } else {
        STOP_PUBLISHING
    };
    let mut stopped = std::pin::pin!(wait_stop(shared.stop.clone(), stop_level));
    let mut go = std::pin::pin!(wait_go(shared.go.clone(), shared.stop.clone()));
    let mut sent = std::pin::pin!(wait_sent(shared.sent.clone()));
    let far = tokio::time::Instant::now() + Duration::from_secs(86400 * 365);
    let mut end = std::pin::pin!(tokio::time::sleep_until(far));
    let mut idle = std::pin::pin!(tokio::time::sleep_until(far));
    loop {
        // Events first: the other branches run only when none is ready (polling them for every
        // message costs); under a steady stream the checks after it do their work.
        let event = tokio::select! {
            biased;
            event = connection.next_event() => event,
            () = &mut stopped => break,
            started = &mut go, if !r.started => {
                if !r.start(started, end.as_mut()) {
                    break;
                }
                continue;
            }
            sent = &mut sent, if end_to_end && r.expected.is_none() => {
                r.expect(sent, idle.as_mut());
                if r.has_all() {
                    break;
                }
                continue;
            }
            () = &mut idle, if r.expected.is_some() => {
                if r.last_arrival.elapsed() >= IDLE {
                    break;
                }
                idle.as_mut().reset(r.last_arrival + IDLE);
                continue;
            }
            () = &mut end => break,
        };
        match event {
            Ok(Event::Publish(message)) => {
                if !r.receive(&message.payload, message.qos) {
                    break;
                }
            }
            Ok(_) => {}
            Err(err) => {
                return SubscriberOutcome {
                    subscribed: true,
                    tally: r.finish(),
                    lost: Some(client::describe_error(&err)),
                };
            }
        }
        if shared.stop_level() >= stop_level {
            break;
        }
        if !r.started && !matches!(shared.go.has_changed(), Ok(false)) {
            let started = *shared.go.borrow();
            if !r.start(started, end.as_mut()) {
                break;
            }
        }
        if end_to_end && r.expected.is_none() && !matches!(shared.sent.has_changed(), Ok(false)) {
            let sent = shared.sent.borrow().clone();
            r.expect(sent, idle.as_mut());
        }
        if r.has_all() {
            break;
        }
    }
    let tally = r.finish();
    let _ = connection.disconnect().await;
    SubscriberOutcome {
        subscribed: true,
        tally,
        lost: None,
    }
}

/// A subscriber while it receives.
struct Receiving<'a> {
    shared: &'a Shared,
    end_to_end: bool,
    /// End to end: the publishers whose topic the filter matches.
    matched: Option<Arc<Vec<u32>>>,
    recorder: Recorder,
    tally: Tally,
    started: bool,
    /// bench sub: --duration's end.
    end_ns: Option<u64>,
    /// End to end, once the publishers are done: the messages to receive.
    expected: Option<u64>,
    last_arrival: tokio::time::Instant,
}

impl Receiving<'_> {
    /// The start: the warm-up's end (end to end) and --duration's (bench sub). False when the
    /// run stopped before it.
    fn start(&mut self, go: Option<Go>, end: std::pin::Pin<&mut tokio::time::Sleep>) -> bool {
        self.started = true;
        let Some(go) = go else {
            return false;
        };
        if self.end_to_end {
            self.tally.warm_ns = Some(go.warm_ns);
        } else if let Some(at) = go.end {
            self.end_ns = Some(self.shared.clock.unix_ns(at));
            end.reset(tokio::time::Instant::from_std(at));
        }
        true
    }

    /// The publishers are done: what this subscriber should get of what they sent. From now
    /// on it ends after IDLE without a message.
    fn expect(
        &mut self,
        sent: Option<Arc<Vec<u64>>>,
        idle: std::pin::Pin<&mut tokio::time::Sleep>,
    ) {
        let sent = sent.unwrap_or_default();
        let matched = self.matched.as_deref().map_or(&[][..], |m| &m[..]);
        let total = matched
            .iter()
            .map(|&p| sent.get(p as usize).copied().unwrap_or(0))
            .sum();
        self.expected = Some(total);
        self.last_arrival = tokio::time::Instant::now();
        idle.reset(self.last_arrival + IDLE);
    }

    /// End to end: every message expected is in.
    fn has_all(&self) -> bool {
        self.expected
            .is_some_and(|expected| self.tally.unique_own >= expected)
    }

    /// Account for a message; false when the subscriber is done (bench sub's --count or
    /// --duration).
    fn receive(&mut self, payload: &[u8], qos: u8) -> bool {
        let shared = self.shared;
        let now_ns = shared.clock.now_ns();
        shared.counters.received.add(1);
        let tally = &mut self.tally;
        // End to end, a message may come before this task saw the start (on another thread):
        // its warm-up's end is needed now.
        if self.end_to_end && tally.warm_ns.is_none() {
            tally.warm_ns = shared.go.borrow().map(|go| go.warm_ns);
        }
        // bench sub: the warm-up starts with the first bench message.
        if !self.end_to_end && tally.warm_ns.is_none() && Header::parse(payload).is_some() {
            tally.warm_ns = Some(now_ns + shared.plan.warmup.as_nanos() as u64);
        }
        if let Some(header) = tally.record(payload, qos, now_ns) {
            // End to end the warm-up is about when messages were sent; for bench sub, about when
            // they arrived (from the first one).
            let measured = match self.end_to_end {
                true => header.sent_ns,
                false => now_ns,
            };
            if tally.warm_ns.is_some_and(|warm| measured >= warm) {
                self.recorder.record(now_ns.saturating_sub(header.sent_ns));
            }
        }
        if self.expected.is_some() {
            self.last_arrival = tokio::time::Instant::now();
        }
        let counted_out = shared.plan.mode == Mode::Sub
            && shared
                .plan
                .count
                .is_some_and(|count| tally.received + tally.ignored >= count);
        !counted_out && self.end_ns.is_none_or(|end| now_ns < end)
    }

    fn finish(self) -> Tally {
        drop(self.recorder);
        self.tally
    }
}

/// The messages each publisher sent, once they are all done (None when the run is gone).
async fn wait_sent(mut sent: watch::Receiver<Option<Arc<Vec<u64>>>>) -> Option<Arc<Vec<u64>>> {
    sent.wait_for(|sent| sent.is_some())
        .await
        .ok()
        .and_then(|sent| sent.clone())
}

/// Subscribe to this subscriber's filter and wait for the SUBACK.
async fn subscribe(connection: &mut Connection, plan: &Plan, index: u32) -> Result<(), Failure> {
    let failure = |reason: String| Failure {
        error: anyhow::anyhow!("{reason}"),
        reason,
    };
    let mut subscription = plan.subscription.clone();
    subscription.filters = vec![plan.filter_of(index)];
    connection
        .client
        .try_subscribe(&subscription)
        .map_err(|err| failure(format!("cannot subscribe: {err}")))?;
    let deadline = tokio::time::Instant::now() + SUBACK_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, connection.next_event()).await {
            Ok(Ok(Event::SubAck(codes))) => {
                return match codes.first() {
                    Some(Ok(_)) => Ok(()),
                    Some(Err(code)) => Err(failure(format!(
                        "subscription refused: {code:#04x} {}",
                        client::reason_words(*code)
                    ))),
                    None => Err(failure("empty SUBACK".into())),
                };
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                return Err(failure(format!(
                    "connection lost before the SUBACK: {}",
                    client::describe_error(&err)
                )));
            }
            Err(_) => {
                return Err(failure(format!(
                    "no SUBACK within {} s",
                    SUBACK_TIMEOUT.as_secs()
                )));
            }
        }
    }
}

/// conn: connect, hold until --duration's end (or a stop), disconnect.
pub async fn holder(
    shared: Arc<Shared>,
    index: u32,
    ready: mpsc::UnboundedSender<Ready>,
) -> ConnOutcome {
    let mut outcome = ConnOutcome::default();
    let mut connection = match open(&shared, Role::Conn, index, 4).await {
        Ok((connection, took)) => {
            report(ready, Role::Conn, Ok(took));
            connection
        }
        Err(failure) => {
            report(ready, Role::Conn, Err(failure));
            return outcome;
        }
    };
    let stop = shared.stop.clone();
    let hold = async {
        if let Some(go) = wait_go(shared.go.clone(), stop.clone()).await {
            tokio::select! {
                () = crate::cmd::sleep_until(go.end.map(tokio::time::Instant::from_std)) => {}
                () = wait_stop(stop, STOP_PUBLISHING) => {}
            }
        }
    };
    match keep_alive_until(&mut connection, hold).await {
        Ok(()) => {
            let _ = connection.disconnect().await;
        }
        Err(err) => outcome.lost = Some(client::describe_error(&err)),
    }
    outcome
}
