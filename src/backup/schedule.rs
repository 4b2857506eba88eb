//! Problem: backups must happen without anyone typing `BACKUP`: every
//! `backup.interval`, or every day at `backup.at` (UTC), on one instance
//! only when several share a topology. [`next_due`] says when the next one
//! is due; [`run`] waits for it and starts it through the closures the
//! router gives (so this layer needs nothing above it). It re-reads the
//! config every round, so a reload changes the schedule.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{BackupConfig, Config};

use super::{BackupError, Record};

const DAY_MS: u64 = 24 * 3600 * 1000;
/// The longest sleep between two looks at the config and the clock.
const RECHECK: Duration = Duration::from_secs(30);
/// After a failed start (no source yet, one running), try again this soon.
const RETRY_MS: u64 = 60_000;

/// When the next scheduled backup is due (unix ms), given the last one
/// that completed or started (`last`, unix ms, 0 for none); `None` when
/// nothing is scheduled.
pub fn next_due(cfg: &BackupConfig, now: u64, last: u64) -> Option<u64> {
    if let Some(interval) = cfg.interval {
        let every = interval.get().as_millis() as u64;
        return Some(if last == 0 { now } else { last + every.max(1) });
    }
    let (h, m) = cfg.at_time()?;
    let offset = (u64::from(h) * 3600 + u64::from(m) * 60) * 1000;
    let today = now - now % DAY_MS + offset;
    // the latest slot not after now, and the one after it
    let slot = if today <= now { today } else { today - DAY_MS };
    Some(if last < slot { slot } else { slot + DAY_MS })
}

/// Runs the schedule until the process ends. `leads` says whether this
/// instance may start backups (the cluster's leader, or alone).
pub async fn run(
    config: impl Fn() -> Arc<Config> + Send,
    leads: impl Fn() -> bool + Send,
    last_started: impl Fn() -> u64 + Send,
    start: impl Fn() -> Result<Record, BackupError> + Send,
) {
    let mut retry_after = 0u64;
    loop {
        let cfg = config();
        let now = super::take::unix_ms();
        let due = cfg
            .backup
            .as_ref()
            .and_then(|b| next_due(b, now, last_started()))
            .map(|d| d.max(retry_after));
        let wait = match due {
            Some(d) if d <= now => {
                if leads() {
                    match start() {
                        Ok(r) => tracing::info!(id = %r.id, "scheduled backup started"),
                        Err(BackupError::AlreadyRunning(_)) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "scheduled backup not started");
                            retry_after = now + RETRY_MS;
                        }
                    }
                }
                Duration::from_secs(1)
            }
            Some(d) => Duration::from_millis(d - now).min(RECHECK),
            None => RECHECK,
        };
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DurationSetting;

    fn at(time: &str) -> BackupConfig {
        BackupConfig {
            dir: "/b".into(),
            at: Some(time.into()),
            ..Default::default()
        }
    }

    const H: u64 = 3600 * 1000;

    #[test]
    fn an_interval_counts_from_the_last_backup() {
        let cfg = BackupConfig {
            dir: "/b".into(),
            interval: Some(DurationSetting::from_secs(3600)),
            ..Default::default()
        };
        assert_eq!(next_due(&cfg, 10 * H, 0), Some(10 * H));
        assert_eq!(next_due(&cfg, 10 * H, 9 * H + 1), Some(10 * H + 1));
        assert_eq!(next_due(&BackupConfig::default(), 10 * H, 0), None);
    }

    #[test]
    fn a_time_of_day_is_due_once_a_day() {
        let day = 20_000 * DAY_MS;
        let cfg = at("03:30");
        let slot = day + 3 * H + H / 2;
        // before today's slot, with yesterday's done: today's slot
        assert_eq!(next_due(&cfg, day + H, slot - DAY_MS), Some(slot));
        // after today's slot, not done today: now (missed, due at once)
        assert_eq!(next_due(&cfg, day + 5 * H, slot - DAY_MS), Some(slot));
        // done today: tomorrow's
        assert_eq!(
            next_due(&cfg, day + 5 * H, slot + 1000),
            Some(slot + DAY_MS)
        );
        // never done, before today's slot: yesterday's slot, i.e. at once
        assert_eq!(next_due(&cfg, day + H, 0), Some(slot - DAY_MS));
    }

    #[tokio::test(start_paused = true)]
    async fn the_schedule_starts_backups_only_when_leading() {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let config = Config {
            backup: Some(BackupConfig {
                dir: "/b".into(),
                interval: Some(DurationSetting::from_secs(60)),
                ..Default::default()
            }),
            ..Default::default()
        };
        let config = Arc::new(config);
        let leads = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicU64::new(0));
        let last = Arc::new(AtomicU64::new(0));
        let (l, s, la) = (leads.clone(), started.clone(), last.clone());
        let task = tokio::spawn(run(
            move || config.clone(),
            move || l.load(Ordering::Relaxed),
            move || la.load(Ordering::Relaxed),
            move || {
                s.fetch_add(1, Ordering::Relaxed);
                last.store(super::super::take::unix_ms(), Ordering::Relaxed);
                Err(BackupError::AlreadyRunning("x".into()))
            },
        ));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(started.load(Ordering::Relaxed), 0, "not the leader");
        leads.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(started.load(Ordering::Relaxed), 1);
        task.abort();
    }
}
