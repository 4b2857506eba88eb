//! Problem: a rebuild takes minutes and changes a server in steps; an
//! operator must see where each one is, and a restart must neither lose
//! that nor leave a half-loaded server looking healthy. Each rebuild is a
//! JSON file in `<backup.dir>/rebuilds/`, rewritten after every step
//! ([`Journaled`]); [`Rebuilds`] runs one at a time in the background,
//! lists them for `SHOW REBUILDS`, and at start marks the ones a dead
//! process left running as `interrupted`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::error::BackupError;
use super::rebuild::{self, Job};
use super::take::unix_ms;

/// The directory of the rebuild journals, under `backup.dir`.
pub const REBUILDS: &str = "rebuilds";

/// One step done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: String,
    pub at_unix_ms: u64,
    pub detail: String,
}

/// One rebuild, as journaled and shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RebuildRecord {
    pub id: String,
    pub target: String,
    /// Where its data comes from, as asked.
    pub from: String,
    /// `running`, `succeeded`, `failed` or `interrupted`.
    pub state: String,
    pub steps: Vec<StepRecord>,
    /// The target's errant GTIDs, if it had any.
    pub errant: Option<String>,
    /// Where its binary logs were copied before it was emptied.
    pub errant_saved: Option<String>,
    /// The backup loaded and its GTID position.
    pub backup: Option<String>,
    pub gtid: Option<String>,
    /// Its admin state before the rebuild drained it.
    pub admin_before: Option<String>,
    pub error: Option<String>,
    /// Started by `failover.auto_rebuild`.
    pub auto: bool,
    /// The sqlyard instance running it (several instances, `[cluster]`).
    pub ran_by: Option<String>,
    pub started_unix_ms: u64,
    pub finished_unix_ms: Option<u64>,
}

impl RebuildRecord {
    /// The last step done.
    pub fn last_step(&self) -> Option<&str> {
        self.steps.last().map(|s| s.step.as_str())
    }

    pub fn duration_ms(&self) -> Option<u64> {
        self.finished_unix_ms
            .map(|f| f.saturating_sub(self.started_unix_ms))
    }
}

/// Called with the record after each journaled change: several instances
/// copy it to etcd, so that `SHOW REBUILDS` on any of them shows it.
pub type Publish = Arc<dyn Fn(&RebuildRecord) + Send + Sync>;

/// A record and the file it is journaled in.
pub struct Journaled {
    pub record: RebuildRecord,
    /// `backup.dir`.
    dir: PathBuf,
    publish: Option<Publish>,
}

impl std::fmt::Debug for Journaled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journaled")
            .field("record", &self.record)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Journaled {
    /// The backup directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self) -> PathBuf {
        self.dir
            .join(REBUILDS)
            .join(format!("{}.json", self.record.id))
    }

    /// Writes the record (a temporary file renamed over the old one).
    pub fn write(&self) -> Result<(), BackupError> {
        let path = self.path();
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| BackupError::Io {
                action,
                path,
                source,
            }
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        let text = serde_json::to_string_pretty(&self.record).map_err(|e| BackupError::Io {
            action: "encode",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("rename to", &path))?;
        if let Some(publish) = &self.publish {
            publish(&self.record);
        }
        Ok(())
    }

    /// Journals a step done, before the next one starts.
    pub fn step(&mut self, step: &str, detail: String) -> Result<(), BackupError> {
        tracing::info!(id = %self.record.id, server = %self.record.target, step, detail = %detail, "rebuild step done");
        self.record.steps.push(StepRecord {
            step: step.to_string(),
            at_unix_ms: unix_ms(),
            detail,
        });
        self.write()
    }
}

/// Every rebuild journaled in `dir` (`backup.dir`), newest first.
pub fn list(dir: &Path) -> Vec<RebuildRecord> {
    let Ok(entries) = std::fs::read_dir(dir.join(REBUILDS)) else {
        return Vec::new();
    };
    let mut out: Vec<RebuildRecord> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            serde_json::from_str(&text).ok()
        })
        .collect();
    out.sort_by(|a, b| b.id.cmp(&a.id));
    out
}

/// At start: rebuilds left `running` by a process that died are marked
/// `interrupted` (their server stays read-only and out of rotation until
/// `REBUILD SERVER` runs again).
pub fn mark_interrupted(dir: &Path, publish: Option<Publish>) {
    for mut record in list(dir).into_iter().filter(|r| r.state == "running") {
        let at = record.last_step().unwrap_or("start").to_string();
        record.state = "interrupted".into();
        record.error = Some(format!(
            "interrupted by a restart after step {at}; REBUILD SERVER '{}' again resumes it",
            record.target
        ));
        record.finished_unix_ms = Some(unix_ms());
        tracing::warn!(id = %record.id, server = %record.target, step = %at,
            "a rebuild was interrupted by a restart; the server stays read-only and out of rotation until it is rebuilt again");
        let j = Journaled {
            record,
            dir: dir.to_path_buf(),
            publish: publish.clone(),
        };
        if let Err(e) = j.write() {
            tracing::warn!(error = %e, "could not mark an interrupted rebuild");
        }
    }
}

#[derive(Default)]
struct Inner {
    running: Option<RebuildRecord>,
    succeeded: u64,
    failed: u64,
}

/// The rebuilds of one router (cheap to clone).
#[derive(Clone, Default)]
pub struct Rebuilds {
    inner: Arc<Mutex<Inner>>,
}

impl Rebuilds {
    /// Checks `job` and starts it in the background; returns its record.
    pub fn start(&self, job: Job, auto: bool) -> Result<RebuildRecord, BackupError> {
        let dir = super::backup_dir(&job.config).ok_or(BackupError::NotConfigured)?;
        rebuild::check(&job, &job.topology.load())?;
        let mut inner = self.inner.lock();
        if let Some(r) = &inner.running {
            return Err(BackupError::RebuildRunning {
                id: r.id.clone(),
                target: r.target.clone(),
            });
        }
        let started = unix_ms();
        let id = format!(
            "{}-{}",
            super::store::new_id(&dir, started),
            port_of(&job.target)
        );
        let mut journaled = Journaled {
            record: RebuildRecord {
                id,
                target: job.target.clone(),
                from: job.source.describe(),
                state: "running".into(),
                auto,
                started_unix_ms: started,
                ran_by: job.publish.as_ref().map(|(instance, _)| instance.clone()),
                ..RebuildRecord::default()
            },
            dir,
            publish: job.publish.as_ref().map(|(_, p)| p.clone()),
        };
        journaled.write()?;
        let record = journaled.record.clone();
        inner.running = Some(record.clone());
        drop(inner);
        let this = self.clone();
        tokio::spawn(async move {
            tracing::info!(id = %journaled.record.id, server = %job.target, from = %journaled.record.from, "rebuild started");
            let result = rebuild::run(&job, &mut journaled).await;
            let r = &mut journaled.record;
            r.finished_unix_ms = Some(unix_ms());
            match &result {
                Ok(()) => {
                    r.state = "succeeded".into();
                    tracing::info!(id = %r.id, server = %r.target, "rebuild succeeded: the server replicates and serves reads");
                }
                Err(e) => {
                    r.state = "failed".into();
                    r.error = Some(format!(
                        "{e} (after step {}; the server is left read-only and out of rotation)",
                        r.last_step().unwrap_or("none")
                    ));
                    tracing::error!(id = %r.id, server = %r.target, error = %e, "rebuild failed");
                }
            }
            if let Err(e) = journaled.write() {
                tracing::warn!(error = %e, "could not journal the end of a rebuild");
            }
            let mut inner = this.inner.lock();
            inner.running = None;
            if result.is_ok() {
                inner.succeeded += 1;
            } else {
                inner.failed += 1;
            }
        });
        Ok(record)
    }

    /// Whether a rebuild runs now.
    pub fn running(&self) -> Option<RebuildRecord> {
        self.inner.lock().running.clone()
    }

    /// Rebuilds that succeeded and failed since start.
    pub fn counts(&self) -> (u64, u64) {
        let i = self.inner.lock();
        (i.succeeded, i.failed)
    }
}

/// The port of `address` (ids name the server without a colon).
fn port_of(address: &str) -> &str {
    address.rsplit(':').next().unwrap_or(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_journaled_listed_and_marked_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journaled {
            record: RebuildRecord {
                id: "20261207-120000-3306".into(),
                target: "127.0.0.1:3306".into(),
                state: "running".into(),
                ..RebuildRecord::default()
            },
            dir: dir.path().to_path_buf(),
            publish: None,
        };
        j.write().unwrap();
        j.step("fence", "read-only".into()).unwrap();
        let done = Journaled {
            record: RebuildRecord {
                id: "20261207-110000-3307".into(),
                target: "127.0.0.1:3307".into(),
                state: "succeeded".into(),
                ..RebuildRecord::default()
            },
            dir: dir.path().to_path_buf(),
            publish: None,
        };
        done.write().unwrap();
        let listed = list(dir.path());
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id, "20261207-120000-3306", "newest first");
        assert_eq!(listed[0].last_step(), Some("fence"));

        mark_interrupted(dir.path(), None);
        let listed = list(dir.path());
        assert_eq!(listed[0].state, "interrupted");
        let error = listed[0].error.clone().unwrap();
        assert!(error.contains("after step fence"), "{error}");
        assert!(error.contains("REBUILD SERVER '127.0.0.1:3306'"), "{error}");
        assert_eq!(listed[1].state, "succeeded", "finished ones are history");
        assert!(listed[0].finished_unix_ms.is_some());
    }

    #[test]
    fn a_directory_without_rebuilds_lists_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(dir.path()).is_empty());
        mark_interrupted(dir.path(), None);
        std::fs::create_dir_all(dir.path().join(REBUILDS)).unwrap();
        std::fs::write(dir.path().join(REBUILDS).join("bad.json"), "{not json").unwrap();
        assert!(list(dir.path()).is_empty(), "unreadable files are skipped");
    }
}
