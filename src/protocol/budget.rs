//! Problem: a session reads a client's packet whole before it routes it,
//! so a few clients sending packets of hundreds of megabytes at once could
//! make sqlyard hold gigabytes and die of memory, taking every other
//! client with it. [`BufferBudget`] is one count, shared by all sessions,
//! of the client packet bytes they may hold at once
//! (`router.max_buffered_bytes`).
//!
//! A packet above [`FREE`] bytes takes its size from the budget before its
//! body is read, and gives it back when the last copy of the packet is
//! dropped. Over the budget it waits, at most the configured wait, then
//! is refused. A packet of 16 MiB or more arrives as several physical
//! packets whose total is unknown until the last; such packets are read
//! one at a time (the "large lane"), so two of them never each hold part
//! of the budget while waiting for the rest of it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::ProtocolError;

/// Packets up to this size are not counted: each session's own read
/// buffer already holds them.
pub const FREE: usize = 16 * 1024;

/// The budget all client sessions share.
#[derive(Clone)]
pub struct BufferBudget {
    inner: Arc<Inner>,
}

struct Inner {
    sem: Arc<Semaphore>,
    total: usize,
    lane: Arc<Mutex<()>>,
    wait_ms: AtomicU64,
    refusals: AtomicU64,
    waits: AtomicU64,
}

/// What one packet holds of the budget; dropping it gives it back.
#[derive(Default)]
pub struct Charge {
    permit: Option<OwnedSemaphorePermit>,
    lane: Option<OwnedMutexGuard<()>>,
}

impl std::fmt::Debug for Charge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Charge")
            .field("bytes", &self.bytes())
            .field("lane", &self.lane.is_some())
            .finish()
    }
}

impl Charge {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.permit.as_ref().map_or(0, |p| p.num_permits())
    }

    /// Whether this packet is the large one being read.
    pub fn in_lane(&self) -> bool {
        self.lane.is_some()
    }

    /// Lets the next large packet be read (this one is complete).
    pub fn leave_lane(&mut self) {
        self.lane = None;
    }
}

impl BufferBudget {
    /// A budget of `total` bytes; a packet waits at most `wait` for room.
    pub fn new(total: usize, wait: Duration) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        BufferBudget {
            inner: Arc::new(Inner {
                sem: Arc::new(Semaphore::new(total)),
                total,
                lane: Arc::new(Mutex::new(())),
                wait_ms: AtomicU64::new(wait.as_millis() as u64),
                refusals: AtomicU64::new(0),
                waits: AtomicU64::new(0),
            }),
        }
    }

    /// How long a packet waits for room (follows `pool.checkout_timeout`).
    pub fn set_wait(&self, wait: Duration) {
        self.inner
            .wait_ms
            .store(wait.as_millis() as u64, Ordering::Relaxed);
    }

    fn wait(&self) -> Duration {
        Duration::from_millis(self.inner.wait_ms.load(Ordering::Relaxed))
    }

    /// The budget's size in bytes.
    pub fn total(&self) -> usize {
        self.inner.total
    }

    /// Bytes held by client packets now.
    pub fn in_use(&self) -> usize {
        self.inner.total - self.inner.sem.available_permits()
    }

    /// Packets refused because the budget stayed full.
    pub fn refusals(&self) -> u64 {
        self.inner.refusals.load(Ordering::Relaxed)
    }

    /// Packets that had to wait for room.
    pub fn waits(&self) -> u64 {
        self.inner.waits.load(Ordering::Relaxed)
    }

    /// Adds `n` bytes to `charge`; `packet` is the logical packet's size so
    /// far, for the error.
    pub async fn take(
        &self,
        charge: &mut Charge,
        n: usize,
        packet: usize,
    ) -> Result<(), ProtocolError> {
        if n == 0 {
            return Ok(());
        }
        let refuse = || {
            self.inner.refusals.fetch_add(1, Ordering::Relaxed);
            ProtocolError::OverBudget {
                packet,
                budget: self.inner.total,
                waited: self.wait(),
            }
        };
        let Ok(want) = u32::try_from(n) else {
            return Err(refuse());
        };
        if charge.bytes() + n > self.inner.total {
            return Err(refuse()); // could never fit
        }
        let sem = self.inner.sem.clone();
        let permit = match sem.clone().try_acquire_many_owned(want) {
            Ok(p) => p,
            Err(_) => {
                self.inner.waits.fetch_add(1, Ordering::Relaxed);
                match tokio::time::timeout(self.wait(), sem.acquire_many_owned(want)).await {
                    Ok(Ok(p)) => p,
                    _ => return Err(refuse()),
                }
            }
        };
        match &mut charge.permit {
            Some(held) => held.merge(permit),
            None => charge.permit = Some(permit),
        }
        Ok(())
    }

    /// Enters the large lane (one multi-part packet read at a time).
    pub async fn enter_lane(
        &self,
        charge: &mut Charge,
        packet: usize,
    ) -> Result<(), ProtocolError> {
        let lane = self.inner.lane.clone();
        let guard = match lane.clone().try_lock_owned() {
            Ok(g) => g,
            Err(_) => {
                self.inner.waits.fetch_add(1, Ordering::Relaxed);
                match tokio::time::timeout(self.wait(), lane.lock_owned()).await {
                    Ok(g) => g,
                    Err(_) => {
                        self.inner.refusals.fetch_add(1, Ordering::Relaxed);
                        return Err(ProtocolError::OverBudget {
                            packet,
                            budget: self.inner.total,
                            waited: self.wait(),
                        });
                    }
                }
            }
        };
        charge.lane = Some(guard);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn charges_come_back_when_dropped() {
        let b = BufferBudget::new(100, Duration::from_secs(1));
        let mut a = Charge::default();
        b.take(&mut a, 60, 60).await.unwrap();
        b.take(&mut a, 30, 90).await.unwrap();
        assert_eq!((a.bytes(), b.in_use()), (90, 90));
        let mut c = Charge::default();
        // 20 more do not fit: waits the full second, then refused
        let started = tokio::time::Instant::now();
        let e = b.take(&mut c, 20, 20).await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert!(
            matches!(e, ProtocolError::OverBudget { budget: 100, .. }),
            "{e}"
        );
        assert_eq!((b.refusals(), b.waits()), (1, 1));
        // room appears while waiting: the waiter gets it
        let b2 = b.clone();
        let waiter = tokio::spawn(async move {
            let mut c = Charge::default();
            b2.take(&mut c, 50, 50).await.map(|_| c.bytes())
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(a);
        assert_eq!(waiter.await.unwrap().unwrap(), 50);
        assert_eq!(b.in_use(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_packet_larger_than_the_budget_is_refused_at_once() {
        let b = BufferBudget::new(100, Duration::from_secs(10));
        let mut a = Charge::default();
        b.take(&mut a, 80, 80).await.unwrap();
        let started = tokio::time::Instant::now();
        assert!(b.take(&mut a, 30, 110).await.is_err());
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn one_large_packet_at_a_time() {
        let b = BufferBudget::new(100, Duration::from_secs(1));
        let mut first = Charge::default();
        b.enter_lane(&mut first, 10).await.unwrap();
        let mut second = Charge::default();
        assert!(b.enter_lane(&mut second, 10).await.is_err());
        first.leave_lane();
        b.enter_lane(&mut second, 10).await.unwrap();
    }
}
