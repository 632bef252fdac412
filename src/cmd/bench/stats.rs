//! What bench measures, as it measures it: one clock for every client, latency histograms
//! (HdrHistogram) fed in batches by many tasks, and each subscriber's account of every
//! publisher's sequence (received, duplicated, out of order, missing).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use super::message::Header;

/// Nanoseconds since the Unix epoch, read from the monotonic clock: the wall clock once at the
/// start, then `Instant`s. Within the process, times never go backwards (a wall-clock step
/// changes nothing); across processes (bench pub here, bench sub there), they compare as well
/// as the two hosts' clocks agree.
pub struct Clock {
    origin: Instant,
    unix_ns: u64,
}

impl Clock {
    pub fn new() -> Clock {
        let origin = Instant::now();
        let unix_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        Clock { origin, unix_ns }
    }

    /// The time of `at`, in nanoseconds since the Unix epoch.
    pub fn unix_ns(&self, at: Instant) -> u64 {
        self.unix_ns + at.saturating_duration_since(self.origin).as_nanos() as u64
    }

    pub fn now_ns(&self) -> u64 {
        self.unix_ns(Instant::now())
    }
}

/// The largest latency recorded as itself (one hour); a larger one is recorded as this.
const LATENCY_MAX_NS: u64 = 3_600_000_000_000;
/// Samples a task keeps before adding them to the shared histogram under its lock.
const BATCH: usize = 1024;

/// One latency histogram (nanoseconds, 3 significant digits: 0.1 % resolution) shared by the
/// tasks that feed it, each through its own [`Recorder`].
pub struct Latency {
    histogram: Mutex<Histogram<u64>>,
}

impl Latency {
    pub fn new() -> Latency {
        let histogram =
            Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("valid histogram bounds");
        Latency {
            histogram: Mutex::new(histogram),
        }
    }

    pub fn record(&self, values: &[u64]) {
        let mut histogram = self.histogram.lock().unwrap_or_else(|e| e.into_inner());
        for &value in values {
            histogram.saturating_record(value.clamp(1, LATENCY_MAX_NS));
        }
    }

    /// The percentiles so far; None without samples.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let histogram = self.histogram.lock().unwrap_or_else(|e| e.into_inner());
        Percentiles::of(&histogram)
    }
}

/// A task's way into a shared [`Latency`]: samples are batched (one lock per [`BATCH`]), and
/// the rest added when it is dropped.
pub struct Recorder {
    target: Arc<Latency>,
    batch: Vec<u64>,
}

impl Recorder {
    pub fn new(target: Arc<Latency>) -> Recorder {
        Recorder {
            target,
            batch: Vec::new(),
        }
    }

    pub fn record(&mut self, nanos: u64) {
        if self.batch.capacity() == 0 {
            self.batch.reserve_exact(BATCH);
        }
        self.batch.push(nanos);
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.target.record(&self.batch);
            self.batch.clear();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The figures of a latency histogram, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Option<Percentiles> {
        (!histogram.is_empty()).then(|| Percentiles {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p99: histogram.value_at_quantile(0.99),
            p99_9: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        })
    }

    /// Percentiles of a few values (connect times: one per client).
    pub fn of_values(values: impl IntoIterator<Item = u64>) -> Option<Percentiles> {
        let latency = Latency::new();
        let values: Vec<u64> = values.into_iter().collect();
        latency.record(&values);
        latency.percentiles()
    }
}

/// How a message's sequence number compares with those already received from its publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Above every one before (in order, or after a gap).
    New,
    /// Into a gap: a first arrival below the highest received (out of order).
    Late,
    /// Received before.
    Duplicate,
}

/// More gaps than this in one publisher's sequence: the oldest is given up (counted missing for
/// good; a message arriving into it later counts as a duplicate). Bounds memory at a few MB.
const MAX_GAPS: usize = 65_536;

/// One publisher's sequence as one subscriber received it. Memory grows with the gaps, not the
/// messages: the missing numbers are kept as ranges.
#[derive(Debug, Default, Clone)]
pub struct Sequence {
    /// One above the highest sequence number received.
    next: u64,
    /// Ranges [start, end) not received below `next`.
    missing: BTreeMap<u64, u64>,
    /// Missing numbers of ranges given up (see [`MAX_GAPS`]).
    given_up: u64,
    pub received: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
}

impl Sequence {
    pub fn record(&mut self, seq: u64) -> Arrival {
        self.received += 1;
        if seq >= self.next {
            if seq > self.next {
                self.missing.insert(self.next, seq);
                if self.missing.len() > MAX_GAPS
                    && let Some((start, end)) = self.missing.pop_first()
                {
                    self.given_up += end - start;
                }
            }
            self.next = seq + 1;
            return Arrival::New;
        }
        let gap = self
            .missing
            .range(..=seq)
            .next_back()
            .map(|(&start, &end)| (start, end))
            .filter(|&(_, end)| seq < end);
        match gap {
            Some((start, end)) => {
                self.missing.remove(&start);
                if start < seq {
                    self.missing.insert(start, seq);
                }
                if seq + 1 < end {
                    self.missing.insert(seq + 1, end);
                }
                self.out_of_order += 1;
                Arrival::Late
            }
            None => {
                self.duplicated += 1;
                Arrival::Duplicate
            }
        }
    }

    /// Distinct messages received.
    pub fn unique(&self) -> u64 {
        self.received - self.duplicated
    }

    /// Numbers missing below the highest received.
    pub fn gaps(&self) -> u64 {
        self.given_up + self.missing.iter().map(|(s, e)| e - s).sum::<u64>()
    }
}

/// What one subscriber received.
pub struct Tally {
    /// Only this run's messages count (end to end); None (bench sub) takes any run's.
    own_run: Option<u32>,
    /// Per (run, publisher).
    pub sequences: HashMap<(u32, u32), Sequence>,
    pub received: u64,
    /// Payload bytes of the messages received.
    pub bytes: u64,
    /// Received at or after `warm_ns`, the end of the warm-up (none counted while it is None).
    pub received_steady: u64,
    pub warm_ns: Option<u64>,
    /// Distinct messages of this run (end to end), to know when all expected are in.
    pub unique_own: u64,
    /// Not bench messages, or another run's.
    pub ignored: u64,
    pub first_arrival_ns: Option<u64>,
    pub last_arrival_ns: Option<u64>,
    /// The highest QoS messages arrived at (what a gap means: QoS 0 may drop).
    pub qos: u8,
}

impl Tally {
    pub fn new(own_run: Option<u32>) -> Tally {
        Tally {
            own_run,
            sequences: HashMap::new(),
            received: 0,
            bytes: 0,
            received_steady: 0,
            warm_ns: None,
            unique_own: 0,
            ignored: 0,
            first_arrival_ns: None,
            last_arrival_ns: None,
            qos: 0,
        }
    }

    /// Account for a message that arrived at `now_ns`. Returns the header of a first arrival
    /// (for its end-to-end latency); None for a duplicate or a message that is not ours.
    pub fn record(&mut self, payload: &[u8], qos: u8, now_ns: u64) -> Option<Header> {
        let header = Header::parse(payload).filter(|h| self.own_run.is_none_or(|r| r == h.run));
        let Some(header) = header else {
            self.ignored += 1;
            return None;
        };
        self.received += 1;
        self.bytes += payload.len() as u64;
        if self.warm_ns.is_some_and(|warm| now_ns >= warm) {
            self.received_steady += 1;
        }
        self.qos = self.qos.max(qos);
        self.first_arrival_ns.get_or_insert(now_ns);
        self.last_arrival_ns = Some(now_ns);
        let sequence = self
            .sequences
            .entry((header.run, header.publisher))
            .or_default();
        match sequence.record(header.seq) {
            Arrival::Duplicate => None,
            Arrival::New | Arrival::Late => {
                self.unique_own += 1;
                Some(header)
            }
        }
    }
}

/// CPU time of the whole process so far (user, system), in seconds.
pub fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return (0.0, 0.0);
        }
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences() {
        let mut s = Sequence::default();
        for seq in [0, 1, 2] {
            assert_eq!(s.record(seq), Arrival::New);
        }
        assert_eq!(s.record(1), Arrival::Duplicate);
        assert_eq!(s.record(6), Arrival::New); // 3, 4, 5 missing
        assert_eq!(s.gaps(), 3);
        assert_eq!(s.record(4), Arrival::Late);
        assert_eq!(s.record(4), Arrival::Duplicate);
        assert_eq!(s.record(3), Arrival::Late);
        assert_eq!(s.record(5), Arrival::Late);
        assert_eq!(s.gaps(), 0);
        assert_eq!(s.record(6), Arrival::Duplicate);
        assert_eq!(
            (s.received, s.duplicated, s.out_of_order, s.unique()),
            (10, 3, 3, 7)
        );
    }

    #[test]
    fn too_many_gaps_are_given_up() {
        let mut s = Sequence::default();
        for seq in 0..(MAX_GAPS as u64 + 10) {
            s.record(seq * 2);
        }
        assert!(s.missing.len() <= MAX_GAPS);
        assert_eq!(s.gaps(), MAX_GAPS as u64 + 9);
    }

    #[test]
    fn tally_of_two_publishers() {
        let mut tally = Tally::new(Some(7));
        let message = |publisher, seq| {
            Header {
                run: 7,
                publisher,
                seq,
                sent_ns: 5,
            }
            .payload(40)
        };
        assert!(tally.record(&message(0, 0), 1, 10).is_some());
        assert!(tally.record(&message(1, 0), 1, 11).is_some());
        assert!(tally.record(&message(1, 0), 1, 12).is_none());
        let other = Header {
            run: 8,
            publisher: 0,
            seq: 1,
            sent_ns: 5,
        };
        assert!(tally.record(&other.payload(40), 1, 13).is_none());
        assert!(tally.record(b"retained", 1, 14).is_none());
        assert_eq!((tally.received, tally.unique_own, tally.ignored), (3, 2, 2));
        assert_eq!(tally.sequences[&(7, 1)].duplicated, 1);
        assert_eq!(
            (tally.first_arrival_ns, tally.last_arrival_ns),
            (Some(10), Some(12))
        );
    }

    #[test]
    fn percentiles() {
        let p = Percentiles::of_values(1..=1000).unwrap();
        assert_eq!(p.count, 1000);
        assert_eq!(p.p50, 500);
        assert_eq!(p.max, 1000);
        assert!(Percentiles::of_values([]).is_none());
    }
}
