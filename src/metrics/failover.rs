//! Problem: failovers must be counted by kind and outcome, and their
//! detection time and duration kept as histograms, exactly once each,
//! monotonically for the life of the process. The failover status only
//! holds a bounded history (and a restarted sqlyard reloads it from the
//! journal), so counting that history at every scrape would go down when
//! old records drop out and count the previous run's failovers again.
//!
//! These metrics live in the router's persistent registry. Each finished
//! record is observed once, by id, whether the manager reports it
//! ([`crate::metrics::Metrics::observe_failover`]) or a scrape finds it in
//! the history first; records that finished before this process started
//! (reloaded from the journal) are not counted.

use std::time::SystemTime;

use parking_lot::Mutex;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use super::error::MetricsError;
use super::registry::define;
use crate::failover::{FailoverRecord, Kind, Outcome};

/// Upper bounds of the failover histograms, in seconds: around the
/// targets (2 s and 5 s for a kill, `silence_grace` + 3 s for a freeze)
/// and up to the 45 s grace of slow networks.
pub const FAILOVER_BUCKETS: [f64; 13] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

const KINDS: [Kind; 3] = [Kind::Automatic, Kind::Manual, Kind::Switchover];

/// Every outcome a finished failover can have.
const FINISHED: [Outcome; 5] = [
    Outcome::Succeeded,
    Outcome::Refused,
    Outcome::Failed,
    Outcome::Interrupted,
    Outcome::Cancelled,
];

/// What has been observed already.
#[derive(Debug)]
struct Tally {
    /// The highest record id counted (ids grow; one failover runs at a time).
    counted_up_to: u64,
    /// Records that finished before this are from an earlier run.
    since: SystemTime,
}

/// The failover counter and histograms.
pub struct FailoverMetrics {
    total: IntCounterVec,
    detection: Histogram,
    duration: HistogramVec,
    tally: Mutex<Tally>,
}

impl std::fmt::Debug for FailoverMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailoverMetrics")
            .field("tally", &*self.tally.lock())
            .finish_non_exhaustive()
    }
}

impl FailoverMetrics {
    /// Defines the failover metrics in `registry`; every kind and outcome
    /// series starts at 0.
    pub fn new(registry: &Registry) -> Result<FailoverMetrics, MetricsError> {
        let total = define(
            registry,
            "sqlyard_failovers_total",
            IntCounterVec::new(
                Opts::new(
                    "sqlyard_failovers_total",
                    "Failovers and switchovers finished since sqlyard started, by kind (automatic, manual, switchover) and outcome.",
                ),
                &["kind", "outcome"],
            ),
        )?;
        let detection = define(
            registry,
            "sqlyard_failover_detection_seconds",
            Histogram::with_opts(
                HistogramOpts::new(
                    "sqlyard_failover_detection_seconds",
                    "Automatic failovers: time from the first failed poll of the primary to its confirmed loss.",
                )
                .buckets(FAILOVER_BUCKETS.to_vec()),
            ),
        )?;
        let duration = define(
            registry,
            "sqlyard_failover_duration_seconds",
            HistogramVec::new(
                HistogramOpts::new(
                    "sqlyard_failover_duration_seconds",
                    "Successful failovers and switchovers: time from the start (confirmed loss or request) to writes going to the new primary, by kind.",
                )
                .buckets(FAILOVER_BUCKETS.to_vec()),
                &["kind"],
            ),
        )?;
        for k in KINDS {
            for o in FINISHED {
                total.with_label_values(&[k.as_str(), o.as_str()]);
            }
            duration.with_label_values(&[k.as_str()]);
        }
        Ok(FailoverMetrics {
            total,
            detection,
            duration,
            tally: Mutex::new(Tally {
                counted_up_to: 0,
                since: SystemTime::now(),
            }),
        })
    }

    /// Counts a finished record once; running records, records already
    /// counted and records that finished before this process are ignored.
    pub fn observe(&self, rec: &FailoverRecord) {
        if rec.outcome == Outcome::Running {
            return;
        }
        let mut tally = self.tally.lock();
        if rec.id <= tally.counted_up_to {
            return;
        }
        tally.counted_up_to = rec.id;
        if rec.finished_at.is_some_and(|t| t < tally.since) {
            return;
        }
        drop(tally);
        self.total
            .with_label_values(&[rec.kind.as_str(), rec.outcome.as_str()])
            .inc();
        if let Some(d) = rec.detection {
            self.detection.observe(d.as_secs_f64());
        }
        if rec.outcome == Outcome::Succeeded {
            self.duration
                .with_label_values(&[rec.kind.as_str()])
                .observe(rec.duration().as_secs_f64());
        }
    }

    /// Counts the finished records of a history not counted yet.
    pub fn observe_history(&self, history: &[FailoverRecord]) {
        let mut finished: Vec<&FailoverRecord> = history
            .iter()
            .filter(|r| r.outcome != Outcome::Running)
            .collect();
        finished.sort_by_key(|r| r.id);
        for rec in finished {
            self.observe(rec);
        }
    }

    #[cfg(test)]
    fn set_since(&self, since: SystemTime) {
        self.tally.lock().since = since;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rec(id: u64, kind: Kind, outcome: Outcome, finished: SystemTime) -> FailoverRecord {
        FailoverRecord {
            id,
            kind,
            trigger: String::new(),
            started_at: finished - Duration::from_millis(1500),
            finished_at: Some(finished),
            outcome,
            old_primary: None,
            new_primary: None,
            reason: String::new(),
            detection: (kind == Kind::Automatic).then(|| Duration::from_millis(1200)),
            phases: Vec::new(),
            positions: Vec::new(),
            error: None,
            fencing: Vec::new(),
            ran_by: None,
        }
    }

    fn count(m: &FailoverMetrics, kind: &str, outcome: &str) -> u64 {
        m.total.with_label_values(&[kind, outcome]).get()
    }

    #[test]
    fn each_record_is_counted_once() {
        let m = FailoverMetrics::new(&Registry::new()).unwrap();
        let start = SystemTime::now();
        m.set_since(start);
        let later = start + Duration::from_secs(5);
        let earlier = start - Duration::from_secs(5);
        let history = vec![
            rec(1, Kind::Automatic, Outcome::Succeeded, earlier),
            rec(2, Kind::Automatic, Outcome::Succeeded, later),
            rec(3, Kind::Switchover, Outcome::Cancelled, later),
        ];
        // the manager reports 2, then scrapes see the whole history twice
        m.observe(&history[1]);
        m.observe_history(&history);
        m.observe_history(&history);
        assert_eq!(
            count(&m, "automatic", "succeeded"),
            1,
            "1 is from an earlier run"
        );
        assert_eq!(count(&m, "switchover", "cancelled"), 1);
        assert_eq!(count(&m, "manual", "failed"), 0);
        assert_eq!(m.detection.get_sample_count(), 1);
        assert_eq!(
            m.duration
                .with_label_values(&["automatic"])
                .get_sample_count(),
            1
        );
        assert_eq!(
            m.duration
                .with_label_values(&["switchover"])
                .get_sample_count(),
            0,
            "only successful ones"
        );
        // a running record is counted when it finishes, not before
        let mut running = rec(4, Kind::Manual, Outcome::Running, later);
        m.observe_history(std::slice::from_ref(&running));
        assert_eq!(count(&m, "manual", "succeeded"), 0);
        running.outcome = Outcome::Succeeded;
        m.observe_history(&[running]);
        assert_eq!(count(&m, "manual", "succeeded"), 1);
        // the bounded history dropping old records changes nothing
        m.observe_history(&[]);
        assert_eq!(count(&m, "automatic", "succeeded"), 1);
    }
}
