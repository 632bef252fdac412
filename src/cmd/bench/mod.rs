//! `skeeter bench`: a load generator that always ends with a summary.
//!
//! The run, in order: check the plan ([`plan`]); start the embedded broker when no broker is
//! given; connect every client at --conn-rate, subscribers first ([`clients`]); once all are up,
//! start publishing (one instant for all: [`clients::Go`]); when the publishers are done, tell
//! the subscribers how many messages each publisher sent, so they know when they have all;
//! gather what every client counted into a [`report::Summary`], print it, choose the exit code.

mod clients;
mod message;
mod plan;
mod report;
mod stats;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::broker::{BackgroundBroker, Config};
use crate::cli::BenchArgs;
use crate::client::{Settings, options};
use crate::exit::{Code, Fatal};

use clients::{
    ConnOutcome, Counters, Go, PublisherOutcome, Ready, Role, STOP_NOW, STOP_PUBLISHING, Shared,
    SubscriberOutcome,
};
use plan::{Mode, Plan};
use report::{Connections, Cpu, Messages, Rate, Summary, Throughput};
use stats::{Clock, Latency, Percentiles};

fn usage(message: impl Into<String>) -> anyhow::Error {
    Fatal::new(Code::Usage, message).into()
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let plan = Plan::of(&args)?;
    raise_file_limit();
    let mut connect = args.connect.clone();
    let quiet = connect.quiet;
    let broker_given = connect.host.is_some()
        || connect.url.is_some()
        || connect.port.is_some()
        || connect.unix.is_some();
    let tls_or_websocket = connect.cafile.is_some()
        || connect.capath.is_some()
        || connect.tls_use_os_certs
        || connect.ws
        || connect.proxy.is_some();
    if !broker_given && tls_or_websocket {
        return Err(usage(
            "TLS, WebSocket and proxy options need a broker (-h, -p or -L): without one, bench \
             starts the embedded broker, which speaks plain MQTT here",
        ));
    }
    let broker = match broker_given {
        true => None,
        false => Some(start_broker(quiet).await?),
    };
    if let Some(broker) = &broker {
        connect.host = Some(broker.local_addr().ip().to_string());
        connect.port = Some(broker.local_addr().port());
    }
    let result = match options::settings(&connect) {
        Ok(mut settings) => {
            // As for pub: the relay hop that reads the broker's short MQTT 5 DISCONNECTs would
            // halve the rate (a lost connection is still reported, without that reason).
            settings.read_short_disconnects = false;
            bench(plan, settings, broker.is_some()).await
        }
        Err(err) => Err(err),
    };
    if let Some(broker) = broker {
        let _ = tokio::task::spawn_blocking(move || broker.stop()).await;
    }
    super::quiet(quiet, result)
}

/// The embedded broker on 127.0.0.1 and a free port, announced on stderr. It runs on a runtime
/// of its own (its own threads, as a separate process would): on the clients' runtime, tokio
/// ran each publisher -> broker -> subscriber chain of wake-ups on one worker, leaving the other
/// core idle, and halved the throughput.
async fn start_broker(quiet: bool) -> Result<BackgroundBroker> {
    let config = Config {
        bind: "127.0.0.1:0".parse().expect("a socket address"),
        sys_interval: Duration::ZERO,
        ..Config::default()
    };
    let started = tokio::task::spawn_blocking(move || BackgroundBroker::start(config)).await?;
    let broker = started.map_err(|err| {
        Fatal::new(
            Code::Listen,
            format!("cannot start the embedded broker: {err}"),
        )
    })?;
    if !quiet {
        crate::say!(
            "bench: no host given, using the embedded broker on {} (in this process: the broker \
             and the load generator share its {} core(s) and its CPU time)",
            broker.local_addr(),
            cores()
        );
    }
    Ok(broker)
}

/// Every connection is a file descriptor (two with the embedded broker): the soft limit goes up
/// to the hard one, as a load generator's user would do by hand (ulimit -n).
fn raise_file_limit() {
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The stop level only rises.
fn raise(stop: &watch::Sender<u8>, level: u8) {
    stop.send_if_modified(|current| {
        let raised = *current < level;
        *current = (*current).max(level);
        raised
    });
}

/// SIGINT or SIGTERM: stop publishing (before the start: stop at once); a second one: stop
/// waiting for the last messages; a third: exit.
fn handle_signals(
    stop: Arc<watch::Sender<u8>>,
    started: Arc<AtomicBool>,
    interrupted: Arc<AtomicBool>,
) -> Result<JoinHandle<()>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(tokio::spawn(async move {
        let mut signals = 0;
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            signals += 1;
            interrupted.store(true, Ordering::Relaxed);
            match signals {
                1 if started.load(Ordering::Relaxed) => raise(&stop, STOP_PUBLISHING),
                1 | 2 => raise(&stop, STOP_NOW),
                _ => std::process::exit(130),
            }
        }
    }))
}

/// The progress line on stderr (a terminal only): connections while connecting, then messages.
struct Progress {
    bar: indicatif::ProgressBar,
    ticker: JoinHandle<()>,
}

impl Progress {
    fn start(
        shared: Arc<Shared>,
        connected: Arc<Connecting>,
        started: Arc<AtomicBool>,
    ) -> Progress {
        let bar = crate::term::status();
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            if shown.is_hidden() {
                return;
            }
            let clients = shared.plan.client_count();
            let mut began = None;
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let (mut sent_before, mut received_before, mut at_before) = (0, 0, Instant::now());
            loop {
                tick.tick().await;
                if !started.load(Ordering::Relaxed) {
                    shown.set_message(format!(
                        "bench: connecting: {} of {clients} up, {} failed",
                        connected.up.get(),
                        connected.failed.get()
                    ));
                    continue;
                }
                let began = *began.get_or_insert_with(Instant::now);
                if shared.plan.mode == Mode::Conn {
                    shown.set_message(format!(
                        "bench: {:.1} s: holding {} connection(s)",
                        began.elapsed().as_secs_f64(),
                        connected.up.get()
                    ));
                    continue;
                }
                let (sent, received) = (shared.counters.sent.get(), shared.counters.received.get());
                let seconds = at_before.elapsed().as_secs_f64().max(1e-3);
                shown.set_message(format!(
                    "bench: {:.1} s: sent {sent} ({:.0}/s), received {received} ({:.0}/s)",
                    began.elapsed().as_secs_f64(),
                    (sent - sent_before) as f64 / seconds,
                    (received - received_before) as f64 / seconds,
                ));
                (sent_before, received_before, at_before) = (sent, received, Instant::now());
            }
        });
        Progress { bar, ticker }
    }

    /// Off the terminal before the summary.
    fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// The threads the clients run on: one single-threaded runtime per core, clients dealt out in
/// turn (subscriber 0, publisher 0, ... land on different cores). One multi-thread runtime ran
/// a publisher and its subscriber on one worker as often as not (IO wake-ups stay on the worker
/// that read them), and the throughput halved from one run to the next.
struct Shards {
    handles: Vec<tokio::runtime::Handle>,
    /// Dropped at the end: each thread then ends, and its runtime with the tasks left.
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Shards {
    fn start(count: usize) -> Result<Shards> {
        let mut handles = Vec::new();
        let mut stops = Vec::new();
        for n in 0..count.max(1) {
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let (handle_tx, handle_rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name(format!("bench-{n}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    match runtime {
                        Ok(runtime) => {
                            let _ = handle_tx.send(Ok(runtime.handle().clone()));
                            runtime.block_on(async {
                                let _ = stop_rx.await;
                            });
                        }
                        Err(err) => {
                            let _ = handle_tx.send(Err(err));
                        }
                    }
                })?;
            let handle = handle_rx
                .recv()
                .map_err(|_| anyhow::anyhow!("a client thread ended at its start"))??;
            handles.push(handle);
            stops.push(stop_tx);
        }
        Ok(Shards {
            handles,
            _stops: stops,
        })
    }

    /// Run the `n`th client on its thread.
    fn spawn<T: Send + 'static>(
        &self,
        n: usize,
        client: impl std::future::Future<Output = T> + Send + 'static,
    ) -> JoinHandle<T> {
        self.handles[n % self.handles.len()].spawn(client)
    }
}

/// Connections up and failed so far (for the progress line).
#[derive(Default)]
struct Connecting {
    up: clients::Counter,
    failed: clients::Counter,
}

/// What the connecting phase found.
#[derive(Default)]
struct Connected {
    /// Clients that reported (up or failed).
    reported: usize,
    times: Vec<u64>,
    failures: BTreeMap<String, u64>,
    ok: [u64; 3],
    /// The first failure of each role (publishers, subscribers, conn).
    first_error: [Option<anyhow::Error>; 3],
}

impl Connected {
    fn take(&mut self, ready: Ready, counts: &Connecting) {
        self.reported += 1;
        let slot = role_slot(ready.role);
        match ready.result {
            Ok(took) => {
                self.times.push(took.as_nanos() as u64);
                self.ok[slot] += 1;
                counts.up.add(1);
            }
            Err(failure) => {
                *self.failures.entry(failure.reason).or_default() += 1;
                self.first_error[slot].get_or_insert(failure.error);
                counts.failed.add(1);
            }
        }
    }
}

fn role_slot(role: Role) -> usize {
    match role {
        Role::Publisher => 0,
        Role::Subscriber => 1,
        Role::Conn => 2,
    }
}

/// The client tasks, by role (each returns what it counted).
struct Tasks {
    publishers: Vec<JoinHandle<PublisherOutcome>>,
    subscribers: Vec<JoinHandle<SubscriberOutcome>>,
    holders: Vec<JoinHandle<ConnOutcome>>,
    /// The threads they run on (ended when dropped).
    _shards: Shards,
}

/// Start every client at --conn-rate, subscribers first (each subscribed before anything is
/// published), and wait until each has reported (connected or failed), or a stop.
async fn connect(
    shared: &Arc<Shared>,
    counts: &Connecting,
    mut stop: watch::Receiver<u8>,
) -> Result<(Tasks, Connected)> {
    let plan = &shared.plan;
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Ready>();
    let shards = Shards::start(cores())?;
    let mut tasks = Tasks {
        publishers: Vec::new(),
        subscribers: Vec::new(),
        holders: Vec::new(),
        _shards: shards,
    };
    let order = (0..plan.subscribers)
        .map(|i| (Role::Subscriber, i))
        .chain((0..plan.publishers).map(|i| (Role::Publisher, i)))
        .chain((0..plan.clients).map(|i| (Role::Conn, i)));
    let spacing = (plan.conn_rate > 0.0).then(|| Duration::from_secs_f64(1.0 / plan.conn_rate));
    let began = Instant::now();
    let mut spawned = 0usize;
    let mut connected = Connected::default();
    'spawning: for (n, (role, index)) in order.enumerate() {
        if *stop.borrow() >= STOP_PUBLISHING {
            break;
        }
        if let Some(spacing) = spacing
            && n > 0
        {
            let at = tokio::time::Instant::from_std(began + spacing.mul_f64(n as f64));
            // Reports are taken meanwhile, for the progress line.
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => break,
                    Some(ready) = ready_rx.recv() => connected.take(ready, counts),
                    _ = stop.wait_for(|s| *s >= STOP_PUBLISHING) => break 'spawning,
                }
            }
        }
        let (shared, ready) = (Arc::clone(shared), ready_tx.clone());
        let shards = &tasks._shards;
        match role {
            Role::Publisher => tasks
                .publishers
                .push(shards.spawn(n, clients::publisher(shared, index, ready))),
            Role::Subscriber => tasks
                .subscribers
                .push(shards.spawn(n, clients::subscriber(shared, index, ready))),
            Role::Conn => tasks
                .holders
                .push(shards.spawn(n, clients::holder(shared, index, ready))),
        }
        spawned += 1;
    }
    drop(ready_tx);
    while connected.reported < spawned {
        let Some(ready) = ready_rx.recv().await else {
            break;
        };
        connected.take(ready, counts);
    }
    Ok((tasks, connected))
}

async fn bench(plan: Plan, settings: Settings, embedded: bool) -> Result<()> {
    let cpu_before = stats::cpu_times();
    let (stop_tx, stop_rx) = watch::channel(0u8);
    let stop_tx = Arc::new(stop_tx);
    let (go_tx, go_rx) = watch::channel(None);
    let (sent_tx, sent_rx) = watch::channel(None);
    let started = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(AtomicBool::new(false));
    let signals = handle_signals(
        Arc::clone(&stop_tx),
        Arc::clone(&started),
        Arc::clone(&interrupted),
    )?;
    let shared = Arc::new(Shared {
        plan,
        settings,
        clock: Clock::new(),
        run: rand::random(),
        counters: Counters::default(),
        ack_latency: Arc::new(Latency::new()),
        e2e_latency: Arc::new(Latency::new()),
        stop: stop_rx.clone(),
        go: go_rx,
        sent: sent_rx,
    });
    let plan = &shared.plan;
    let connected_counts = Arc::new(Connecting::default());
    let progress = Progress::start(
        Arc::clone(&shared),
        Arc::clone(&connected_counts),
        Arc::clone(&started),
    );

    let connect_started = Instant::now();
    let (tasks, mut connected) = connect(&shared, &connected_counts, stop_rx.clone()).await?;
    let connect_time = connect_started.elapsed();

    // Every client of a kind failed: nothing to measure; the first failure is the run's error.
    let needed: &[Role] = match plan.mode {
        Mode::EndToEnd => &[Role::Subscriber, Role::Publisher],
        Mode::Pub => &[Role::Publisher],
        Mode::Sub => &[Role::Subscriber],
        Mode::Conn => &[Role::Conn],
    };
    let mut fatal = None;
    for &role in needed {
        let slot = role_slot(role);
        if connected.ok[slot] == 0 && connected.first_error[slot].is_some() {
            fatal = connected.first_error[slot].take();
            break;
        }
    }
    let run = fatal.is_none() && connected.reported > 0 && *stop_rx.borrow() < STOP_PUBLISHING;
    let start = Instant::now();
    let start_ns = shared.clock.unix_ns(start);
    let warm_ns = shared.clock.unix_ns(start + plan.warmup);
    if run {
        let end = plan.duration.map(|duration| start + duration);
        started.store(true, Ordering::Relaxed);
        go_tx.send_replace(Some(Go {
            start,
            end,
            warm_ns,
        }));
    } else {
        raise(&stop_tx, STOP_NOW);
    }

    let mut publisher_outcomes: Vec<PublisherOutcome> = Vec::new();
    for handle in tasks.publishers {
        publisher_outcomes.push(handle.await?);
    }
    let sent: Vec<u64> = publisher_outcomes.iter().map(|p| p.sent).collect();
    sent_tx.send_replace(Some(Arc::new(sent.clone())));
    let mut subscriber_outcomes: Vec<SubscriberOutcome> = Vec::new();
    for handle in tasks.subscribers {
        subscriber_outcomes.push(handle.await?);
    }
    let mut holder_outcomes: Vec<ConnOutcome> = Vec::new();
    for handle in tasks.holders {
        holder_outcomes.push(handle.await?);
    }
    let end = Instant::now();
    progress.finish();
    signals.abort();
    let cpu_after = stats::cpu_times();

    let summary = summarise(Gathered {
        shared: &shared,
        embedded,
        interrupted: interrupted.load(Ordering::Relaxed),
        connected: &connected,
        connect_time,
        started: run,
        duration: if run { end - start } else { Duration::ZERO },
        start_ns,
        warm_ns,
        publishers: &publisher_outcomes,
        subscribers: &subscriber_outcomes,
        holders: &holder_outcomes,
        cpu: Cpu {
            user: cpu_after.0 - cpu_before.0,
            system: cpu_after.1 - cpu_before.1,
            cores: cores(),
            wall: connect_started.elapsed(),
        },
    });
    {
        let text = match plan.json {
            true => summary.json(),
            false => summary.text(),
        };
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush());
    }
    verdict(
        &summary,
        fatal,
        &subscriber_outcomes,
        plan,
        shared.settings.quiet,
    )
}

/// The exit code once the summary is out (see "Exit status of bench" in `bench --help`).
fn verdict(
    summary: &Summary,
    fatal: Option<anyhow::Error>,
    subscribers: &[SubscriberOutcome],
    plan: &Plan,
    quiet: bool,
) -> Result<()> {
    if let Some(error) = fatal {
        return Err(error);
    }
    // What may not be lost: end to end, -q 1 or 2; bench sub, the messages that came at QoS 1
    // or 2 (a subscriber's gaps).
    let (lost, duplicated) = match plan.mode {
        Mode::EndToEnd if plan.qos as u8 > 0 => (
            summary.messages.as_ref().and_then(|m| m.lost).unwrap_or(0),
            match plan.qos as u8 {
                2 => summary
                    .messages
                    .as_ref()
                    .and_then(|m| m.duplicated)
                    .unwrap_or(0),
                _ => 0,
            },
        ),
        Mode::Sub => subscribers.iter().fold((0, 0), |(lost, duplicated), s| {
            let gaps: u64 = s.tally.sequences.values().map(|q| q.gaps()).sum();
            let dups: u64 = s.tally.sequences.values().map(|q| q.duplicated).sum();
            (
                lost + if s.tally.qos > 0 { gaps } else { 0 },
                duplicated + if s.tally.qos == 2 { dups } else { 0 },
            )
        }),
        _ => (0, 0),
    };
    if lost > 0 || duplicated > 0 {
        let mut what = Vec::new();
        if lost > 0 {
            what.push(format!("{lost} QoS 1/2 message(s) lost"));
        }
        if duplicated > 0 {
            what.push(format!("{duplicated} QoS 2 message(s) delivered twice"));
        }
        let lost_connections = summary.connections.lost;
        if lost_connections > 0 {
            what.push(format!(
                "{lost_connections} connection(s) lost during the run"
            ));
        }
        return Err(Fatal::new(Code::MessagesLost, what.join(", ")).into());
    }
    let c = &summary.connections;
    if c.lost > 0 {
        let reasons: Vec<String> = c.lost_reasons.keys().cloned().collect();
        return Err(Fatal::new(
            Code::ConnectionLost,
            format!(
                "{} connection(s) lost during the run: {}",
                c.lost,
                reasons.join("; ")
            ),
        )
        .into());
    }
    if c.failed > 0 && !quiet {
        crate::say!(
            "skeeter: warning: {} of {} connection(s) failed (see the summary)",
            c.failed,
            c.failed + c.ok
        );
    }
    Ok(())
}

/// Everything the summary is made of.
struct Gathered<'a> {
    shared: &'a Shared,
    embedded: bool,
    interrupted: bool,
    connected: &'a Connected,
    connect_time: Duration,
    /// Whether publishing (subscribing, holding) started: not when every client of a kind
    /// failed, or at a Ctrl-C while connecting.
    started: bool,
    duration: Duration,
    start_ns: u64,
    warm_ns: u64,
    publishers: &'a [PublisherOutcome],
    subscribers: &'a [SubscriberOutcome],
    holders: &'a [ConnOutcome],
    cpu: Cpu,
}

fn summarise(g: Gathered) -> Summary {
    let shared = g.shared;
    let plan = &shared.plan;
    let mode = plan.mode;
    let seconds = |from_ns: u64, to_ns: Option<u64>| {
        to_ns
            .filter(|&to| to > from_ns)
            .map(|to| Duration::from_nanos(to - from_ns))
    };
    let per_second = |n: u64, window: Option<Duration>| {
        window
            .filter(|w| !w.is_zero())
            .map(|w| n as f64 / w.as_secs_f64())
    };

    let mut connections = Connections {
        ok: g.connected.ok.iter().sum(),
        failures: g.connected.failures.clone(),
        ..Connections::default()
    };
    connections.failed = connections.failures.values().sum();
    let lost_reasons = g
        .publishers
        .iter()
        .filter_map(|p| p.lost.clone())
        .chain(g.subscribers.iter().filter_map(|s| s.lost.clone()))
        .chain(g.holders.iter().filter_map(|h| h.lost.clone()));
    for reason in lost_reasons {
        connections.lost += 1;
        *connections.lost_reasons.entry(reason).or_default() += 1;
    }

    let publishes = mode.publishes();
    let subscribes = mode.subscribes();
    let sent: u64 = g.publishers.iter().map(|p| p.sent).sum();
    let sent_steady: u64 = g.publishers.iter().map(|p| p.sent_steady).sum();
    let last_sent_ns = g.publishers.iter().filter_map(|p| p.last_sent_ns).max();
    let tallies = || g.subscribers.iter().map(|s| &s.tally);
    let received: u64 = tallies().map(|t| t.received).sum();
    let received_bytes: u64 = tallies().map(|t| t.bytes).sum();
    let received_steady: u64 = tallies().map(|t| t.received_steady).sum();
    let last_arrival_ns = tallies().filter_map(|t| t.last_arrival_ns).max();
    // bench sub: from the first message (the publisher is elsewhere, started whenever).
    let receive_from_ns = match mode {
        Mode::Sub => tallies().filter_map(|t| t.first_arrival_ns).min(),
        _ => Some(g.start_ns),
    };
    let steady_from_ns = match mode {
        Mode::Sub => tallies().filter_map(|t| t.warm_ns).min(),
        _ => Some(g.warm_ns),
    };
    let sequences = || tallies().flat_map(|t| t.sequences.values());

    let measured = mode != Mode::Conn && g.started;
    let messages = measured.then(|| {
        let (expected, lost) = match mode {
            Mode::EndToEnd => {
                let (mut expected, mut lost) = (0, 0);
                let connected = g.subscribers.iter().enumerate();
                for (index, outcome) in connected.filter(|(_, s)| s.subscribed) {
                    for &p in plan.matched(index as u32).iter() {
                        let sent = g.publishers.get(p as usize).map_or(0, |o| o.sent);
                        let unique = outcome
                            .tally
                            .sequences
                            .get(&(shared.run, p))
                            .map_or(0, |s| s.unique());
                        expected += sent;
                        lost += sent.saturating_sub(unique);
                    }
                }
                (Some(expected), Some(lost))
            }
            Mode::Sub => (None, Some(sequences().map(|s| s.gaps()).sum())),
            _ => (None, None),
        };
        Messages {
            sent: publishes.then_some(sent),
            acked: (publishes && plan.qos as u8 > 0)
                .then(|| g.publishers.iter().map(|p| p.acked).sum()),
            refused: publishes.then(|| g.publishers.iter().map(|p| p.refused).sum()),
            received: subscribes.then_some(received),
            expected,
            lost,
            duplicated: subscribes.then(|| sequences().map(|s| s.duplicated).sum()),
            out_of_order: subscribes.then(|| sequences().map(|s| s.out_of_order).sum()),
            ignored: subscribes.then(|| tallies().map(|t| t.ignored).sum()),
        }
    });

    let publish_time = publishes
        .then(|| seconds(g.start_ns, last_sent_ns))
        .flatten();
    let receive_time = subscribes
        .then(|| receive_from_ns.and_then(|from| seconds(from, last_arrival_ns)))
        .flatten();
    let size = plan.size as f64;
    let mean_received = (received > 0).then(|| received_bytes as f64 / received as f64);
    let throughput_of = |sent_msg_s: Option<f64>, received_msg_s: Option<f64>| Throughput {
        sent_msg_s,
        received_msg_s,
        sent_mb_s: sent_msg_s.map(|r| r * size / 1e6),
        received_mb_s: received_msg_s
            .zip(mean_received)
            .map(|(r, mean)| r * mean / 1e6),
    };
    let throughput = measured.then(|| {
        let sent_msg_s = publishes.then(|| per_second(sent, publish_time)).flatten();
        let received_msg_s = subscribes
            .then(|| per_second(received, receive_time))
            .flatten();
        throughput_of(sent_msg_s, received_msg_s)
    });
    let steady = measured.then(|| {
        let sent_msg_s = publishes
            .then(|| per_second(sent_steady, seconds(g.warm_ns, last_sent_ns)))
            .flatten();
        let received_window = steady_from_ns.and_then(|from| seconds(from, last_arrival_ns));
        let received_msg_s = subscribes
            .then(|| per_second(received_steady, received_window))
            .flatten();
        throughput_of(sent_msg_s, received_msg_s)
    });
    let rate = plan
        .rate
        .filter(|_| publishes && g.started)
        .map(|asked| Rate {
            asked,
            achieved: per_second(sent, publish_time),
            max_lag: g
                .publishers
                .iter()
                .map(|p| p.max_lag)
                .max()
                .unwrap_or_default(),
            window_full: g.publishers.iter().map(|p| p.window_full).sum(),
        });

    Summary {
        mode,
        broker: shared.settings.address.clone(),
        embedded: g.embedded,
        protocol: shared.settings.protocol.to_string(),
        qos: plan.qos as u8,
        size: plan.size,
        publishers: plan.publishers,
        subscribers: plan.subscribers,
        clients: plan.client_count(),
        inflight: plan.window,
        topic: publishes.then(|| plan.topic.clone()),
        sub_topic: subscribes.then(|| plan.sub_topic.clone()),
        count: plan.count,
        warmup: plan.warmup,
        interrupted: g.interrupted,
        duration: g.duration,
        connect_time: g.connect_time,
        publish_time,
        receive_time,
        connections,
        messages,
        throughput,
        steady,
        rate,
        connect_latency: Percentiles::of_values(g.connected.times.iter().copied()),
        ack_latency: shared.ack_latency.percentiles(),
        e2e_latency: shared.e2e_latency.percentiles(),
        cpu: g.cpu,
    }
}
