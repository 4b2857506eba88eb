//! Problem: a topology needs backups taken from a replica and kept
//! off-site, and sqlyard already talks to every server. This module takes
//! logical backups over the MySQL protocol and the machine's dump program:
//! - [`source`] picks the server to read from (a healthy replica);
//! - [`take`] takes one, exact at its GTID position, leaving the source
//!   as it found it;
//! - [`dump`] streams the dump program's output through zstd and sha256;
//! - [`manifest`] says what a backup holds and checks its files;
//! - [`store`] lists, names and prunes backups in `backup.dir`;
//! - [`Backups`] (here) runs one at a time in the background, remembers
//!   failures, and gives the admin commands and metrics what they show;
//! - [`schedule`] starts them at `backup.interval` or `backup.at`;
//! - [`verify`] restores one into a scratch server and compares it with
//!   its manifest (`VERIFY BACKUP`), loading it with [`load`];
//! - [`rebuild`] makes a quarantined, empty or broken server a replica
//!   again from a backup (`REBUILD SERVER`), journaled by [`rebuilds`].

pub mod dump;
pub mod error;
pub mod load;
pub mod manifest;
pub mod rebuild;
pub mod rebuilds;
pub mod schedule;
pub mod source;
pub mod store;
pub mod take;
pub mod verify;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

pub use error::BackupError;
pub use manifest::Manifest;

use crate::config::{BackupConfig, Config};
use crate::topology::{MonitorControl, MonitorSettings, Snapshot, TlsMode};

/// How many finished backups (complete or failed) are remembered in memory.
const REMEMBERED: usize = 50;

/// The state of one backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    Complete,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Complete => "complete",
            State::Failed => "failed",
        }
    }
}

/// One backup as `SHOW BACKUPS` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub state: State,
    pub source: String,
    pub gtid: Option<String>,
    pub size_bytes: Option<u64>,
    pub started_unix_ms: u64,
    pub finished_unix_ms: Option<u64>,
    pub error: Option<String>,
    /// `backup.command_after`'s exit status ("exit 0", "not run", ...).
    pub command_after: Option<String>,
    /// The last `VERIFY BACKUP`: "ok at <time>" or what differed.
    pub verified: Option<String>,
}

impl Record {
    pub fn duration_ms(&self) -> Option<u64> {
        self.finished_unix_ms
            .map(|f| f.saturating_sub(self.started_unix_ms))
    }

    fn from_manifest(m: &Manifest) -> Record {
        Record {
            id: m.id.clone(),
            state: State::Complete,
            source: m.source.clone(),
            gtid: Some(m.gtid.clone()),
            size_bytes: Some(m.size_bytes),
            started_unix_ms: m.started_unix_ms,
            finished_unix_ms: Some(m.finished_unix_ms),
            error: None,
            command_after: None,
            verified: None,
        }
    }
}

/// Counters for the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackupStats {
    /// Unix seconds of the last complete backup (0: none since start and
    /// none on disk).
    pub last_success_unix: f64,
    pub last_duration_seconds: f64,
    pub last_size_bytes: u64,
    pub failures: u64,
    pub running: bool,
    /// Backups are scheduled (`backup.interval` or `backup.at`).
    pub scheduled: bool,
    /// `REBUILD SERVER`s that succeeded and failed since start.
    pub rebuilds_succeeded: u64,
    pub rebuilds_failed: u64,
    pub rebuild_running: bool,
}

#[derive(Default)]
struct Inner {
    running: Option<Record>,
    finished: VecDeque<Record>,
    stats: BackupStats,
}

/// The backups of one router (cheap to clone).
#[derive(Clone, Default)]
pub struct Backups {
    inner: Arc<Mutex<Inner>>,
    /// `REBUILD SERVER`, one at a time.
    pub rebuilds: rebuilds::Rebuilds,
}

/// What a backup needs from the running router.
pub struct Start<'a> {
    pub config: &'a Config,
    pub snapshot: &'a Snapshot,
    pub monitor: MonitorControl,
    /// The monitor's settings (login and TLS), the base of the backup's.
    pub settings: MonitorSettings,
    /// `BACKUP FROM '<address>'`.
    pub from: Option<&'a str>,
}

/// The dump program's TLS options for `mode`.
fn tls_args(config: &Config, mode: TlsMode) -> Vec<String> {
    let bt = &config.backend_tls;
    let mut args = Vec::new();
    match mode {
        TlsMode::Off => args.push("--skip-ssl".to_string()),
        TlsMode::Prefer => {}
        TlsMode::Require => args.push("--ssl".to_string()),
        TlsMode::VerifyCa | TlsMode::VerifyIdentity => {
            args.push("--ssl".to_string());
            if let Some(ca) = &bt.ca {
                args.push(format!("--ssl-ca={}", config.file_path(ca).display()));
            }
            if mode == TlsMode::VerifyIdentity {
                args.push("--ssl-verify-server-cert".to_string());
            }
        }
    }
    if mode != TlsMode::Off {
        if let (Some(cert), Some(key)) = (&bt.cert, &bt.key) {
            args.push(format!("--ssl-cert={}", config.file_path(cert).display()));
            args.push(format!("--ssl-key={}", config.file_path(key).display()));
        }
    }
    args
}

impl Backups {
    pub fn new() -> Backups {
        Backups::default()
    }

    /// Starts a backup in the background; returns its id at once.
    pub fn start(&self, s: Start<'_>) -> Result<Record, BackupError> {
        let mut job = prepare(&s)?;
        let Some(cfg) = s.config.backup.as_ref() else {
            return Err(BackupError::NotConfigured);
        };
        let dir = job.dir.clone();
        let mut inner = self.inner.lock();
        if let Some(r) = &inner.running {
            return Err(BackupError::AlreadyRunning(r.id.clone()));
        }
        job.id = store::new_id(&dir, take::unix_ms());
        let record = Record {
            id: job.id.clone(),
            state: State::Running,
            source: job.source.address.clone(),
            gtid: None,
            size_bytes: None,
            started_unix_ms: take::unix_ms(),
            finished_unix_ms: None,
            error: None,
            command_after: None,
            verified: None,
        };
        inner.running = Some(record.clone());
        inner.stats.running = true;
        drop(inner);
        let keep = cfg.keep;
        let command_after = cfg.command_after.clone();
        let this = self.clone();
        tokio::spawn(async move {
            tracing::info!(id = %job.id, source = %job.source.address, "backup started");
            let result = take::take(&job).await;
            let command = match (&result, &command_after) {
                (Ok(_), Some(cmd)) => Some(run_command_after(cmd, &dir.join(&job.id)).await),
                _ => None,
            };
            if result.is_ok() {
                store::prune(&dir, keep);
            }
            this.finish(result, command);
        });
        Ok(record)
    }

    fn finish(&self, result: Result<Manifest, BackupError>, command: Option<String>) {
        let mut inner = self.inner.lock();
        let Some(mut record) = inner.running.take() else {
            return;
        };
        record.finished_unix_ms = Some(take::unix_ms());
        record.command_after = command;
        match result {
            Ok(m) => {
                tracing::info!(id = %m.id, source = %m.source, gtid = %m.gtid,
                    bytes = m.size_bytes, "backup complete");
                record.state = State::Complete;
                record.gtid = Some(m.gtid.clone());
                record.size_bytes = Some(m.size_bytes);
                inner.stats.last_success_unix = m.finished_unix_ms as f64 / 1000.0;
                inner.stats.last_duration_seconds =
                    m.finished_unix_ms.saturating_sub(m.started_unix_ms) as f64 / 1000.0;
                inner.stats.last_size_bytes = m.size_bytes;
            }
            Err(e) => {
                tracing::error!(id = %record.id, source = %record.source, error = %e, "backup failed");
                record.state = State::Failed;
                record.error = Some(e.to_string());
                inner.stats.failures += 1;
            }
        }
        inner.stats.running = false;
        inner.finished.push_front(record);
        inner.finished.truncate(REMEMBERED);
    }

    /// When the newest backup (running, complete on disk, or failed since
    /// start) started, unix ms; 0 for none.
    pub fn last_started(&self, config: &Config) -> u64 {
        self.list(config)
            .iter()
            .map(|r| r.started_unix_ms)
            .max()
            .unwrap_or(0)
    }

    /// Verifies backup `id` of `config`'s `backup.dir` (see [`verify`]).
    pub async fn verify(&self, config: &Config, id: &str) -> Result<verify::Verified, BackupError> {
        let dir = backup_dir(config).ok_or(BackupError::NotConfigured)?;
        let path = store::backup_path(&dir, id)?;
        let result = verify::verify(&path).await;
        match &result {
            Ok(v) => tracing::info!(id = %id, ok = v.ok, tables = v.tables, "backup verified"),
            Err(e) => tracing::warn!(id = %id, error = %e, "backup verification failed"),
        }
        result
    }

    /// Every backup: the running one, the complete ones in `dir` (from
    /// their manifests, newest first) and the failures remembered since
    /// start, newest first.
    pub fn list(&self, config: &Config) -> Vec<Record> {
        let inner = self.inner.lock();
        let mut out: Vec<Record> = inner.running.iter().cloned().collect();
        let on_disk = config
            .backup
            .as_ref()
            .map(|b| store::complete(&config.file_path(&b.dir)))
            .unwrap_or_default();
        let mut records: Vec<Record> = on_disk
            .iter()
            .map(|m| {
                let mut r = Record::from_manifest(m);
                if let Some(dir) = backup_dir(config) {
                    r.verified = verify::Verified::read(&dir.join(&m.id)).map(|v| {
                        if v.ok {
                            format!("ok ({} tables, {} ms)", v.tables, v.duration_ms)
                        } else {
                            format!("FAILED: {}", v.mismatches.join("; "))
                        }
                    });
                }
                // what this process saw of it (command_after)
                if let Some(seen) = inner.finished.iter().find(|f| f.id == r.id) {
                    r.command_after = seen.command_after.clone();
                }
                r
            })
            .collect();
        records.extend(
            inner
                .finished
                .iter()
                .filter(|f| f.state == State::Failed)
                .cloned(),
        );
        records.sort_by_key(|r| std::cmp::Reverse(r.started_unix_ms));
        out.extend(records);
        out
    }

    /// The counters, with the newest complete backup on disk counted when
    /// none was taken since start.
    pub fn stats(&self, config: &Config) -> BackupStats {
        let mut stats = self.inner.lock().stats.clone();
        (stats.rebuilds_succeeded, stats.rebuilds_failed) = self.rebuilds.counts();
        stats.rebuild_running = self.rebuilds.running().is_some();
        let Some(b) = config.backup.as_ref() else {
            return stats;
        };
        stats.scheduled = b.scheduled();
        if stats.last_success_unix == 0.0 {
            if let Some(m) = store::complete(&config.file_path(&b.dir)).first() {
                stats.last_success_unix = m.finished_unix_ms as f64 / 1000.0;
                stats.last_duration_seconds =
                    m.finished_unix_ms.saturating_sub(m.started_unix_ms) as f64 / 1000.0;
                stats.last_size_bytes = m.size_bytes;
            }
        }
        stats
    }
}

/// A backup job for `s` (its source chosen, the dump program found, the
/// directory made), with no id yet.
fn prepare(s: &Start<'_>) -> Result<take::Job, BackupError> {
    let Some(cfg) = s.config.backup.as_ref() else {
        return Err(BackupError::NotConfigured);
    };
    let weight = |address: &str| {
        s.config
            .servers
            .iter()
            .find(|c| c.address == address)
            .map_or(1, |c| c.weight)
    };
    let chosen = source::choose(s.snapshot, cfg, s.from, weight)?;
    let program = dump::find_program(cfg.dump_program.as_deref())?;
    let dir = s.config.file_path(&cfg.dir);
    std::fs::create_dir_all(&dir).map_err(|source| BackupError::Io {
        action: "create",
        path: dir.clone(),
        source,
    })?;
    let settings = login(cfg, s.settings.clone());
    let mode = settings.tls.mode_for(&chosen.address);
    Ok(take::Job {
        id: String::new(),
        source: chosen,
        dir,
        drain: cfg.drain,
        settings,
        tls_args: tls_args(s.config, mode),
        program,
        monitor: s.monitor.clone(),
        max_rate: cfg.max_rate.map(|r| r.get()),
        stream_into: None,
    })
}

/// Runs `command_after` through `sh -c` with the backup's directory as
/// `$1`; returns its exit status as text.
async fn run_command_after(command: &str, path: &std::path::Path) -> String {
    let out = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{command} \"$1\""))
        .arg("sh")
        .arg(path)
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => "exit 0".to_string(),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().last().unwrap_or("").trim().to_string();
            tracing::warn!(command = %command, status = %o.status, stderr = %last,
                "backup: command_after failed");
            match o.status.code() {
                Some(c) => format!("exit {c}: {last}"),
                None => format!("{}: {last}", o.status),
            }
        }
        Err(e) => format!("not run: {e}"),
    }
}

/// The monitor's settings with the backup account's login
/// (`backup.user`), when one is set.
fn login(cfg: &BackupConfig, mut settings: MonitorSettings) -> MonitorSettings {
    if let Some(user) = &cfg.user {
        settings.user = user.clone();
        settings.password = cfg.password.expose().to_string();
    }
    settings
}

/// At start: partial backups left by a router that died are removed,
/// after the SQL thread one of them stopped is started again (see
/// [`take::recover`]).
pub async fn recover_interrupted(config: &Config, monitor: MonitorSettings) {
    let (Some(cfg), Some(dir)) = (config.backup.as_ref(), backup_dir(config)) else {
        return;
    };
    let settings = login(cfg, monitor);
    for partial in store::partials(&dir) {
        match take::recover(&partial, &settings).await {
            Some(Ok(done)) => tracing::warn!("backup: {done}"),
            Some(Err(e)) => tracing::error!(error = %e,
                "backup: an interrupted backup may have left its source's SQL thread stopped; START SLAVE SQL_THREAD on it by hand"),
            None => {}
        }
    }
    store::remove_partial(&dir);
}

/// The backups' directory of a config, if it has `[backup]`.
pub fn backup_dir(config: &Config) -> Option<PathBuf> {
    config.backup.as_ref().map(|b| config.file_path(&b.dir))
}
