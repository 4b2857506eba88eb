//! Problem: routing must keep lagging replicas out of rotation, so it needs
//! each replica's lag to within a second, and `Seconds_Behind_Master` is no
//! measure of that: it reads 0 or NULL while replication is stopped or
//! broken. sqlyard measures lag itself with a heartbeat row.
//!
//! How: every monitor round, the worker of the elected primary writes
//! sqlyard's own clock (µs since the epoch) into `<schema>.heartbeat`; the
//! write replicates like any transaction. Every replica's worker reads the
//! row back. Only sqlyard's clock is involved, so server clocks may differ.
//!
//! A replica showing heartbeat `h`, read at time `R`, lacks every heartbeat
//! written after `h`. If the first of those completed on the primary at
//! `c <= R`, the replica has been missing committed data for at least
//! `R - c`: that is its lag. If no later heartbeat had completed before
//! `R`, the replica was current: lag 0. The error is at most one monitor
//! interval, and a stopped or broken replica's lag keeps growing.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The heartbeat table, created on the primary when missing.
pub fn create_sql(schema: &str) -> [String; 2] {
    let s = quote(schema);
    [
        format!("CREATE DATABASE IF NOT EXISTS {s}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.heartbeat (\
             id TINYINT UNSIGNED NOT NULL PRIMARY KEY, \
             ts_us BIGINT NOT NULL, \
             server_id INT UNSIGNED NOT NULL) ENGINE=InnoDB"
        ),
    ]
}

/// Writes `ts_us` as the current heartbeat.
pub fn write_sql(schema: &str, ts_us: i64) -> String {
    format!(
        "INSERT INTO {}.heartbeat (id, ts_us, server_id) VALUES (1, {ts_us}, @@server_id) \
         ON DUPLICATE KEY UPDATE ts_us = VALUES(ts_us), server_id = VALUES(server_id)",
        quote(schema)
    )
}

/// Reads the heartbeat.
pub fn read_sql(schema: &str) -> String {
    format!("SELECT ts_us FROM {}.heartbeat WHERE id = 1", quote(schema))
}

fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// Microseconds since the epoch for `t`.
pub fn micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A heartbeat written on the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatWrite {
    pub ts_us: i64,
    /// When the write had committed (sqlyard's clock).
    pub completed_at: SystemTime,
}

/// A heartbeat read on a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatRead {
    pub ts_us: i64,
    /// When the read was sent (sqlyard's clock).
    pub read_at: SystemTime,
}

/// Recent heartbeat writes, oldest first.
#[derive(Debug, Default)]
pub struct HeartbeatHistory {
    writes: VecDeque<HeartbeatWrite>,
}

/// Writes kept: at a 500 ms interval, about 17 minutes.
const KEEP: usize = 2048;

impl HeartbeatHistory {
    pub fn record(&mut self, w: HeartbeatWrite) {
        if self.writes.back().is_some_and(|b| b.ts_us >= w.ts_us) {
            return;
        }
        if self.writes.len() == KEEP {
            self.writes.pop_front();
        }
        self.writes.push_back(w);
    }

    /// The lag of a replica that showed `read`; `None` while nothing has been
    /// written (no measurement possible yet).
    pub fn lag(&self, read: HeartbeatRead) -> Option<Duration> {
        let oldest = self.writes.front()?;
        if read.ts_us < oldest.ts_us {
            // Older than every write kept: at least as old as the oldest
            // missing one we know of, or as its own timestamp says when
            // that heartbeat was written by this process.
            let own = UNIX_EPOCH + Duration::from_micros(read.ts_us.max(0) as u64);
            let since_oldest = read.read_at.duration_since(oldest.completed_at).ok();
            let since_own = read.read_at.duration_since(own).ok();
            return Some(since_oldest.max(since_own).unwrap_or_default());
        }
        // The first write the replica does not have.
        let idx = self.writes.partition_point(|w| w.ts_us <= read.ts_us);
        match self.writes.get(idx) {
            Some(next) if next.completed_at <= read.read_at => Some(
                read.read_at
                    .duration_since(next.completed_at)
                    .unwrap_or_default(),
            ),
            _ => Some(Duration::ZERO),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_000_000 + ms)
    }

    fn write(ms: u64, took: u64) -> HeartbeatWrite {
        HeartbeatWrite {
            ts_us: micros(at(ms)),
            completed_at: at(ms + took),
        }
    }

    fn read(written_ms: u64, read_ms: u64) -> HeartbeatRead {
        HeartbeatRead {
            ts_us: micros(at(written_ms)),
            read_at: at(read_ms),
        }
    }

    fn history(every: u64, until: u64) -> HeartbeatHistory {
        let mut h = HeartbeatHistory::default();
        let mut t = 0;
        while t <= until {
            h.record(write(t, 2));
            t += every;
        }
        h
    }

    #[test]
    fn nothing_written_nothing_measured() {
        assert_eq!(HeartbeatHistory::default().lag(read(0, 10)), None);
    }

    #[test]
    fn current_replica_has_no_lag() {
        let h = history(500, 10_000);
        // has the latest write
        assert_eq!(h.lag(read(10_000, 10_100)), Some(Duration::ZERO));
        // the next write had not completed when it was read
        assert_eq!(h.lag(read(9_500, 10_001)), Some(Duration::ZERO));
    }

    #[test]
    fn stopped_replica_lag_grows_with_time() {
        // applied nothing after the heartbeat of t=5000; read at t=10_000
        let h = history(500, 10_000);
        let lag = h.lag(read(5_000, 10_000)).unwrap();
        // the first missing write (t=5500) completed at 5502
        assert_eq!(lag, Duration::from_millis(4_498));
        // within one interval of the true 5 s
        assert!(lag > Duration::from_millis(4_400) && lag <= Duration::from_secs(5));
        let later = h.lag(read(5_000, 12_000)).unwrap();
        assert_eq!(later - lag, Duration::from_secs(2));
    }

    #[test]
    fn older_than_history_uses_its_own_timestamp() {
        let mut h = HeartbeatHistory::default();
        h.record(write(60_000, 1));
        // replica still shows a heartbeat from 60 s earlier (e.g. before a restart)
        let lag = h.lag(read(0, 60_500)).unwrap();
        assert_eq!(lag, Duration::from_millis(60_500));
    }

    #[test]
    fn history_is_bounded_and_ordered() {
        let mut h = history(1, (KEEP as u64) * 2);
        assert_eq!(h.writes.len(), KEEP);
        let before = h.writes.len();
        h.record(write(0, 1)); // out of order: ignored
        assert_eq!(h.writes.len(), before);
    }

    #[test]
    fn sql_quotes_the_schema() {
        assert!(write_sql("we`ird", 5).contains("`we``ird`.heartbeat"));
        assert_eq!(
            read_sql("sqlyard"),
            "SELECT ts_us FROM `sqlyard`.heartbeat WHERE id = 1"
        );
        assert!(create_sql("sqlyard")[1].contains("PRIMARY KEY"));
    }
}
