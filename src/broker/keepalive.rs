//! The keep-alive clock: one task wakes the connections whose keep-alive deadline has come,
//! from slots of [`TICK_MS`], instead of a timer in every connection (a tokio `Sleep` is 112
//! bytes, a slot entry 24). A connection registers once per deadline, not per packet: when woken
//! it checks its own last packet time and, if it is still alive, registers again for later.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::stopping;

/// The clock's resolution: a deadline is met up to this much late.
pub(crate) const TICK_MS: u64 = 100;

/// Connections to wake, by the tick their deadline falls in.
type Slots = BTreeMap<u64, Vec<(u64, Waker)>>;

pub(crate) struct KeepAlives {
    epoch: Instant,
    slots: Mutex<Slots>,
    /// Wakes the clock task when a slot earlier than the one it waits for is added.
    earlier: Notify,
    /// Whether the clock task runs (started by the first registration).
    running: AtomicBool,
}

impl KeepAlives {
    pub fn new() -> Self {
        KeepAlives {
            epoch: Instant::now(),
            slots: Mutex::default(),
            earlier: Notify::new(),
            running: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Milliseconds on the clock now.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Wake connection `link_id` (by `waker`) once the clock reaches `deadline_ms`. Returns the
    /// slot, for [`KeepAlives::deregister`].
    pub fn register(
        self: &Arc<Self>,
        deadline_ms: u64,
        link_id: u64,
        waker: &Waker,
        shutdown: &watch::Receiver<bool>,
    ) -> u64 {
        let slot = deadline_ms.div_ceil(TICK_MS).max(1);
        let mut slots = self.lock();
        let earliest = slots.keys().next().copied();
        slots
            .entry(slot)
            .or_default()
            .push((link_id, waker.clone()));
        drop(slots);
        if !self.start(shutdown) && earliest.is_none_or(|earliest| slot < earliest) {
            self.earlier.notify_one();
        }
        slot
    }

    /// Start the clock task, unless it runs already (true: started now). The broker starts it
    /// with itself; a registration does if nobody has.
    pub fn start(self: &Arc<Self>, shutdown: &watch::Receiver<bool>) -> bool {
        let started = !self.running.swap(true, Ordering::SeqCst);
        if started {
            tokio::spawn(Arc::clone(self).run(shutdown.clone()));
        }
        started
    }

    /// Forget the registration of connection `link_id` in `slot` (the connection ends).
    pub fn deregister(&self, slot: u64, link_id: u64) {
        let mut slots = self.lock();
        if let Some(entries) = slots.get_mut(&slot) {
            entries.retain(|(id, _)| *id != link_id);
            if entries.is_empty() {
                slots.remove(&slot);
            }
        }
    }

    /// How many registrations there are (for tests).
    #[cfg(test)]
    fn registered(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Until the broker stops: sleep until the earliest slot, then wake its connections.
    async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let next = self.lock().keys().next().copied();
            let due = async {
                match next {
                    Some(slot) => {
                        let at = self.epoch + Duration::from_millis(slot * TICK_MS);
                        tokio::time::sleep_until(at).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = due => {}
                _ = self.earlier.notified() => continue,
                _ = stopping(&mut shutdown) => return,
            }
            let now = self.now_ms() / TICK_MS;
            let wakers: Vec<Waker> = {
                let mut slots = self.lock();
                let later = slots.split_off(&(now + 1));
                let due = std::mem::replace(&mut *slots, later);
                due.into_values()
                    .flatten()
                    .map(|(_, waker)| waker)
                    .collect()
            };
            for waker in wakers {
                waker.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn wakes_each_connection_at_its_deadline_and_forgets_those_gone() {
        let (_stop, shutdown) = watch::channel(false);
        let clock = Arc::new(KeepAlives::new());
        let (early, late, gone) = (
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
        );
        clock.register(1_500, 1, &Waker::from(Arc::clone(&late)), &shutdown);
        clock.register(250, 2, &Waker::from(Arc::clone(&early)), &shutdown);
        let slot = clock.register(1_000, 3, &Waker::from(Arc::clone(&gone)), &shutdown);
        clock.deregister(slot, 3);
        assert_eq!(clock.registered(), 2);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(early.0.load(Ordering::SeqCst), 0, "not before its deadline");
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(early.0.load(Ordering::SeqCst), 1);
        assert_eq!(late.0.load(Ordering::SeqCst), 0);
        tokio::time::sleep(Duration::from_millis(1_300)).await;
        assert_eq!(late.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            gone.0.load(Ordering::SeqCst),
            0,
            "a deregistered connection"
        );
        assert_eq!(clock.registered(), 0);
    }
}
