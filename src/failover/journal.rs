//! Problem: after a failover, operators must be able to see what happened,
//! phase by phase, with timestamps; and a sqlyard that dies in the middle
//! of one must find out at its next start that a failover was interrupted.
//! Memory alone forgets both at the first restart.
//!
//! [`Journal`] keeps the recent records in memory (bounded) and appends
//! every change to a file (`failover.journal`), as JSON lines: one event
//! per line, each carrying the whole record as it is after the change:
//!
//! ```text
//! {"event":"start","at":1767000000000000,"record":{"id":4,"kind":"switchover",...,"outcome":"running",...}}
//! {"event":"phase","at":1767000000310000,"record":{"id":4,...,"phases":[...]}}
//! {"event":"end","at":1767000000420000,"record":{"id":4,...,"outcome":"succeeded",...}}
//! ```
//!
//! The last line of a record is its latest state, so reading needs no
//! replay logic. Each line is written with one `write` on an append-only
//! file and made durable (`fdatasync`) before the call returns. A crash
//! can leave a torn last line: it is dropped at the next open with a
//! warning, never a panic. A failed write is rolled back (truncated) so the
//! next line starts clean.
//!
//! A journal that cannot be written never stops a failover: every call
//! updates the in-memory copy first and then returns the write's error for
//! the caller to log. Writes block (fsync); a failover journals a handful
//! of lines, so the manager may call them from its task or
//! `spawn_blocking`.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::status::{FailoverRecord, Kind, Outcome, PhaseRecord};

/// Records kept in memory (and after a compaction, in the file).
pub const HISTORY: usize = 100;

/// A file with more lines than `capacity * COMPACT_FACTOR` is rewritten at
/// open with one line per kept record.
const COMPACT_FACTOR: usize = 20;

/// Errors of the failover journal. The path is always named.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("failover journal {path}: cannot {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("failover journal {path}: the directory {dir} does not exist")]
    NoDirectory { path: PathBuf, dir: PathBuf },
    #[error("failover journal {path}: cannot encode record {id}: {source}")]
    Encode {
        path: PathBuf,
        id: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("failover journal {path}: not written (the journal is in memory only)")]
    InMemory { path: PathBuf },
}

/// What one journal line says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Start,
    Phase,
    Update,
    End,
    /// Found unfinished after a restart and reported.
    Interrupted,
    /// Found at a restart not to match the live topology: history only.
    Superseded,
    /// Fencing steps applied to the record's old primary after it ended.
    Fencing,
}

/// One line of the file.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    event: Event,
    /// When the line was written, microseconds since the epoch.
    at: u64,
    record: FailoverRecord,
}

fn micros(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros()).unwrap_or(u64::MAX)
}

/// Now, to the microsecond the file keeps, so a record read back equals
/// the one in memory.
pub fn now() -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_micros(micros(SystemTime::now()))
}

/// The open file and what is known about its end.
#[derive(Debug)]
struct Sink {
    file: File,
    /// Length after the last complete line.
    len: u64,
    /// A failed write could not be rolled back: start the next line on a
    /// line of its own, so the garbage stays a line that is skipped.
    needs_newline: bool,
}

/// The failover journal: bounded in memory, appended to a file.
pub struct Journal {
    path: PathBuf,
    sink: Option<Sink>,
    /// Oldest first, at most `capacity`.
    records: VecDeque<FailoverRecord>,
    capacity: usize,
    next_id: u64,
    /// The highest id read from the file at open, or taken from the
    /// shared journal (0: none).
    loaded_up_to: u64,
    warnings: Vec<String>,
    /// Called with every record written (the shared journal's queue).
    mirror: Option<Mirror>,
    /// This instance's name, put in the records it begins (several instances).
    author: Option<String>,
}

/// Receives every record the journal writes.
pub type Mirror = Box<dyn Fn(&FailoverRecord) + Send + Sync>;

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("records", &self.records.len())
            .field("next_id", &self.next_id)
            .field("mirrored", &self.mirror.is_some())
            .finish()
    }
}

impl Journal {
    /// Every record written from now on is also given to `mirror`.
    pub fn set_mirror(&mut self, mirror: Mirror, author: String) {
        self.mirror = Some(mirror);
        self.author = Some(author);
    }

    /// Takes records another instance wrote (the shared journal): each one
    /// that differs from the copy here is kept and appended to the file,
    /// not mirrored back. A running one becomes what
    /// [`Journal::interrupted`] returns, for a new leader to finish.
    /// Returns how many changed.
    pub fn adopt(&mut self, records: Vec<FailoverRecord>) -> Result<usize, JournalError> {
        let mut changed = 0;
        let mut failed = None;
        let mirror = self.mirror.take();
        for rec in records {
            if self.records.iter().any(|r| *r == rec) {
                continue;
            }
            self.loaded_up_to = self.loaded_up_to.max(rec.id);
            if let Err(e) = self.record(Event::Update, &rec) {
                failed.get_or_insert(e);
            }
            changed += 1;
        }
        self.mirror = mirror;
        match failed {
            Some(e) => Err(e),
            None => Ok(changed),
        }
    }

    /// Opens (or creates) the journal at `path` and reads it. The parent
    /// directory must exist. Keeps the last [`HISTORY`] records.
    pub fn open(path: impl AsRef<Path>) -> Result<Journal, JournalError> {
        Journal::open_with_capacity(path, HISTORY)
    }

    /// [`Journal::open`] keeping the last `capacity` records (at least 1).
    pub fn open_with_capacity(
        path: impl AsRef<Path>,
        capacity: usize,
    ) -> Result<Journal, JournalError> {
        let path = path.as_ref().to_path_buf();
        let capacity = capacity.max(1);
        let dir = parent_dir(&path);
        if !dir.is_dir() {
            return Err(JournalError::NoDirectory { path, dir });
        }
        let io = |op: &'static str| {
            let path = path.clone();
            move |source| JournalError::Io { path, op, source }
        };
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io("open"))?;
        if !existed {
            // make the new file's directory entry durable
            sync_dir(&dir).map_err(io("sync the directory of"))?;
        }
        let mut raw = Vec::new();
        file.read_to_end(&mut raw).map_err(io("read"))?;
        let mut journal = Journal {
            path: path.clone(),
            sink: None,
            records: VecDeque::new(),
            capacity,
            next_id: 1,
            loaded_up_to: 0,
            warnings: Vec::new(),
            mirror: None,
            author: None,
        };
        let (complete, lines) = journal.load(&raw);
        let mut len = raw.len() as u64;
        if complete < raw.len() {
            journal.warn(format!(
                "dropped a torn last line ({} bytes) left by a crash",
                raw.len() - complete
            ));
            file.set_len(complete as u64).map_err(io("truncate"))?;
            file.sync_data().map_err(io("fsync"))?;
            len = complete as u64;
        }
        journal.sink = Some(Sink {
            file,
            len,
            needs_newline: false,
        });
        if lines > capacity.saturating_mul(COMPACT_FACTOR) {
            if let Err(e) = journal.compact() {
                journal.warn(format!("not compacted: {e}"));
            }
        }
        Ok(journal)
    }

    /// A journal that only keeps memory (when the file cannot be opened):
    /// ids start at 1 and every write returns [`JournalError::InMemory`].
    pub fn in_memory(path: impl AsRef<Path>) -> Journal {
        Journal {
            path: path.as_ref().to_path_buf(),
            sink: None,
            records: VecDeque::new(),
            capacity: HISTORY,
            next_id: 1,
            loaded_up_to: 0,
            warnings: Vec::new(),
            mirror: None,
            author: None,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was wrong with the file at open (torn or unreadable lines),
    /// already logged.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Starts a new record (id: the last one + 1, across restarts), outcome
    /// `Running`, and journals it. The record is returned even when the
    /// write failed; the error comes with it.
    pub fn begin(
        &mut self,
        kind: Kind,
        trigger: impl Into<String>,
        old_primary: Option<String>,
    ) -> (FailoverRecord, Result<(), JournalError>) {
        let rec = FailoverRecord {
            id: self.next_id,
            kind,
            trigger: trigger.into(),
            started_at: now(),
            finished_at: None,
            outcome: Outcome::Running,
            old_primary,
            new_primary: None,
            reason: String::new(),
            detection: None,
            phases: Vec::new(),
            positions: Vec::new(),
            error: None,
            fencing: Vec::new(),
            ran_by: self.author.clone(),
        };
        self.next_id += 1;
        let written = self.record(Event::Start, &rec);
        (rec, written)
    }

    /// Adds a finished phase to `rec` (replacing an earlier entry for the
    /// same phase) and journals it.
    pub fn phase(
        &mut self,
        rec: &mut FailoverRecord,
        phase: PhaseRecord,
    ) -> Result<(), JournalError> {
        match rec.phases.iter_mut().find(|p| p.phase == phase.phase) {
            Some(p) => *p = phase,
            None => rec.phases.push(phase),
        }
        self.record(Event::Phase, rec)
    }

    /// Journals other changes to `rec` (reason, new primary, positions,
    /// detection time).
    pub fn update(&mut self, rec: &FailoverRecord) -> Result<(), JournalError> {
        self.record(Event::Update, rec)
    }

    /// Ends `rec` now with `outcome` (and `error`, if given) and journals it.
    pub fn finish(
        &mut self,
        rec: &mut FailoverRecord,
        outcome: Outcome,
        error: Option<String>,
    ) -> Result<(), JournalError> {
        rec.outcome = outcome;
        rec.finished_at = Some(now());
        if error.is_some() {
            rec.error = error;
        }
        self.record(Event::End, rec)
    }

    /// Reports the record [`Journal::interrupted`] returned: outcome
    /// `Interrupted`, finished now, `detail` (what the servers showed, what
    /// was done about it) in its error.
    pub fn mark_interrupted(
        &mut self,
        rec: &mut FailoverRecord,
        detail: &str,
    ) -> Result<(), JournalError> {
        rec.outcome = Outcome::Interrupted;
        rec.finished_at = Some(now());
        let mut error = String::from("sqlyard stopped during this failover");
        if let Some(e) = &rec.error {
            error.push_str(&format!(" (last error: {e})"));
        }
        if !detail.is_empty() {
            error.push_str("; ");
            error.push_str(detail);
        }
        rec.error = Some(error);
        self.record(Event::Interrupted, rec)
    }

    /// Marks `rec` superseded: the live topology no longer matches it (the
    /// cluster was rebuilt, its primary moved while sqlyard was down), so it
    /// is history and nothing is done about it. `why` says what the servers
    /// showed. An unfinished record ends now.
    pub fn mark_superseded(
        &mut self,
        rec: &mut FailoverRecord,
        why: &str,
    ) -> Result<(), JournalError> {
        let was = rec.outcome;
        rec.outcome = Outcome::Superseded;
        if rec.finished_at.is_none() {
            rec.finished_at = Some(now());
        }
        let mut error = format!(
            "superseded at a restart (it had ended {}): {why}; nothing was done",
            was.as_str()
        );
        if was == Outcome::Running {
            error = format!("sqlyard stopped during this failover; {error}");
        }
        if let Some(e) = &rec.error {
            error.push_str(&format!(" (earlier error: {e})"));
        }
        rec.error = Some(error);
        self.record(Event::Superseded, rec)
    }

    /// Adds fencing step outcomes to the finished record `id` and journals
    /// it; returns the record as it is now (`None` if it is not kept).
    pub fn add_fencing(
        &mut self,
        id: u64,
        steps: &[super::status::FenceRecord],
    ) -> Option<(FailoverRecord, Result<(), JournalError>)> {
        let mut rec = self.records.iter().find(|r| r.id == id)?.clone();
        rec.fencing.extend_from_slice(steps);
        let written = self.record(Event::Fencing, &rec);
        Some((rec, written))
    }

    /// The finished records, oldest first (at most the capacity).
    pub fn history(&self) -> Vec<FailoverRecord> {
        self.records
            .iter()
            .filter(|r| r.outcome != Outcome::Running)
            .cloned()
            .collect()
    }

    /// The last record read from the file, if it never finished: sqlyard
    /// stopped during that failover. `None` once it is finished or marked.
    pub fn interrupted(&self) -> Option<FailoverRecord> {
        self.records
            .back()
            .filter(|r| r.outcome == Outcome::Running && r.id <= self.loaded_up_to)
            .cloned()
    }

    /// The id the next [`Journal::begin`] will use.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    fn warn(&mut self, message: String) {
        tracing::warn!(journal = %self.path.display(), "{message}");
        self.warnings.push(message);
    }

    /// Keeps `rec` in memory, then appends it to the file.
    fn record(&mut self, event: Event, rec: &FailoverRecord) -> Result<(), JournalError> {
        self.remember(rec.clone());
        if let Some(mirror) = &self.mirror {
            mirror(rec);
        }
        self.next_id = self.next_id.max(rec.id.saturating_add(1));
        let line = Line {
            event,
            at: micros(SystemTime::now()),
            record: rec.clone(),
        };
        let mut text = serde_json::to_string(&line).map_err(|source| JournalError::Encode {
            path: self.path.clone(),
            id: rec.id,
            source,
        })?;
        text.push('\n');
        self.append(text.as_bytes())
    }

    fn remember(&mut self, rec: FailoverRecord) {
        match self.records.iter_mut().rev().find(|r| r.id == rec.id) {
            Some(r) => *r = rec,
            None => {
                let at = self.records.partition_point(|r| r.id < rec.id);
                self.records.insert(at, rec);
                while self.records.len() > self.capacity {
                    self.records.pop_front();
                }
            }
        }
    }

    /// One line, durable when this returns Ok.
    fn append(&mut self, line: &[u8]) -> Result<(), JournalError> {
        let path = &self.path;
        let Some(sink) = self.sink.as_mut() else {
            return Err(JournalError::InMemory { path: path.clone() });
        };
        let io = |op: &'static str| {
            move |source| JournalError::Io {
                path: path.clone(),
                op,
                source,
            }
        };
        let mut buf = Vec::with_capacity(line.len() + 1);
        if sink.needs_newline {
            buf.push(b'\n');
        }
        buf.extend_from_slice(line);
        let written = sink
            .file
            .write_all(&buf)
            .and_then(|()| sink.file.flush())
            .and_then(|()| sink.file.sync_data());
        match written {
            Ok(()) => {
                sink.len += buf.len() as u64;
                sink.needs_newline = false;
                Ok(())
            }
            Err(e) => {
                // roll back a partial line; if that fails too, the next
                // line starts on a line of its own
                let rolled_back = sink.file.set_len(sink.len).is_ok();
                sink.needs_newline = !rolled_back;
                Err(io("append to")(e))
            }
        }
    }

    /// Reads the file's lines into memory. Returns the length of the part
    /// that ends with a newline, and the number of lines.
    fn load(&mut self, raw: &[u8]) -> (usize, usize) {
        let complete = raw.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut latest: BTreeMap<u64, FailoverRecord> = BTreeMap::new();
        let mut lines = 0;
        for (n, line) in raw[..complete].split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            lines += 1;
            match serde_json::from_slice::<Line>(line) {
                Ok(l) => {
                    latest.insert(l.record.id, l.record);
                }
                Err(e) => self.warn(format!("skipped unreadable line {}: {e}", n + 1)),
            }
        }
        let last_id = latest.keys().next_back().copied().unwrap_or(0);
        // A record still running that is not the last one can no longer be
        // resumed: a later failover ran after it.
        for rec in latest.values_mut() {
            if rec.outcome == Outcome::Running && rec.id != last_id {
                let end = rec
                    .phases
                    .iter()
                    .map(|p| p.started_at + p.duration)
                    .max()
                    .unwrap_or(rec.started_at)
                    .max(rec.started_at);
                rec.outcome = Outcome::Interrupted;
                rec.finished_at = Some(end);
                rec.error
                    .get_or_insert_with(|| "sqlyard stopped during this failover".into());
            }
        }
        let skip = latest.len().saturating_sub(self.capacity);
        self.records = latest.into_values().skip(skip).collect();
        self.loaded_up_to = last_id;
        self.next_id = last_id.saturating_add(1);
        (complete, lines)
    }

    /// Rewrites the file with one line per kept record (write a temporary
    /// file, fsync, rename over, fsync the directory), then appends to it.
    fn compact(&mut self) -> Result<(), JournalError> {
        let path = self.path.clone();
        let io = |op: &'static str| {
            let path = path.clone();
            move |source| JournalError::Io { path, op, source }
        };
        let mut text = String::new();
        for rec in &self.records {
            let event = match rec.outcome {
                Outcome::Running => Event::Update,
                Outcome::Interrupted => Event::Interrupted,
                _ => Event::End,
            };
            let line = Line {
                event,
                at: micros(SystemTime::now()),
                record: rec.clone(),
            };
            let encoded = serde_json::to_string(&line).map_err(|source| JournalError::Encode {
                path: path.clone(),
                id: rec.id,
                source,
            })?;
            text.push_str(&encoded);
            text.push('\n');
        }
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".compact");
        let tmp = path.with_file_name(tmp_name);
        let mut f = File::create(&tmp).map_err(io("create the compacted copy of"))?;
        let written = f
            .write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("compact")(e));
        }
        sync_dir(&parent_dir(&path)).map_err(io("sync the directory of"))?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io("reopen"))?;
        self.sink = Some(Sink {
            file,
            len: text.len() as u64,
            needs_newline: false,
        });
        Ok(())
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failover::status::Phase;
    use std::time::Duration;

    fn phase(p: Phase, ms: u64) -> PhaseRecord {
        PhaseRecord {
            phase: p,
            started_at: now(),
            duration: Duration::from_millis(ms),
            detail: format!("{} done", p.as_str()),
        }
    }

    /// A record through its whole life: begin, phases, update, finish.
    fn run_one(j: &mut Journal, outcome: Outcome) -> FailoverRecord {
        let (mut rec, w) = j.begin(
            Kind::Automatic,
            "primary lost: connection refused, replicas confirmed",
            Some("127.0.0.1:23301".into()),
        );
        w.unwrap();
        rec.detection = Some(Duration::from_millis(1012));
        j.phase(&mut rec, phase(Phase::Detect, 1012)).unwrap();
        j.phase(&mut rec, phase(Phase::Choose, 2)).unwrap();
        rec.new_primary = Some("127.0.0.1:23302".into());
        rec.reason = "most advanced received position".into();
        rec.positions = vec![
            ("127.0.0.1:23302".into(), "0-1-57".into()),
            ("127.0.0.1:23303".into(), "0-1-55".into()),
        ];
        j.update(&rec).unwrap();
        j.finish(&mut rec, outcome, None).unwrap();
        rec
    }

    #[test]
    fn superseded_and_fenced_records_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.journal");
        let mut j = Journal::open(&path).unwrap();
        let mut done = run_one(&mut j, Outcome::Succeeded);
        let step = super::super::status::FenceRecord {
            step: crate::config::FenceStep::Command,
            address: "127.0.0.1:23301".into(),
            at: now(),
            ok: false,
            outcome: "exit status 3".into(),
        };
        let (fenced, w) = j.add_fencing(done.id, std::slice::from_ref(&step)).unwrap();
        w.unwrap();
        assert_eq!(fenced.fencing, vec![step.clone()]);
        assert!(j.add_fencing(999, &[]).is_none());
        done.fencing = fenced.fencing.clone();
        j.mark_superseded(&mut done, "127.0.0.1:23301 is the primary")
            .unwrap();
        let (mut running, w) = j.begin(Kind::Automatic, "lost", Some("a:1".into()));
        w.unwrap();
        drop(j);
        let mut j = Journal::open(&path).unwrap();
        let back = j.interrupted().expect("unfinished");
        assert_eq!(back.id, running.id);
        j.mark_superseded(&mut running, "b:1 replicates from a:1")
            .unwrap();
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.interrupted(), None);
        let history = j.history();
        assert_eq!(history.len(), 2);
        assert!(history.iter().all(|r| r.outcome == Outcome::Superseded));
        assert_eq!(history[0].fencing, vec![step]);
        let e = history[0].error.as_deref().unwrap();
        assert!(e.contains("it had ended succeeded"), "{e}");
        assert!(e.contains("127.0.0.1:23301 is the primary"), "{e}");
        let e = history[1].error.as_deref().unwrap();
        assert!(e.starts_with("sqlyard stopped during this failover"), "{e}");
        assert!(history[1].finished_at.is_some());
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.journal");
        let mut j = Journal::open(&path).unwrap();
        assert!(j.history().is_empty());
        assert_eq!(j.interrupted(), None);
        let a = run_one(&mut j, Outcome::Succeeded);
        let b = run_one(&mut j, Outcome::Refused);
        assert_eq!((a.id, b.id), (1, 2));
        assert_eq!(j.history(), vec![a.clone(), b.clone()]);
        drop(j);

        let j = Journal::open(&path).unwrap();
        assert_eq!(j.history(), vec![a, b], "same records after reopening");
        assert!(j.warnings().is_empty(), "{:?}", j.warnings());
        assert_eq!(j.interrupted(), None);
        let text = std::fs::read_to_string(&path).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["event"], "start");
        assert_eq!(first["record"]["outcome"], "running");
        assert_eq!(first["record"]["kind"], "automatic");
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["event"], "end");
        assert_eq!(last["record"]["outcome"], "refused");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_phase_replaces_its_earlier_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path().join("j")).unwrap();
        let (mut rec, _) = j.begin(Kind::Switchover, "SWITCHOVER by admin", None);
        j.phase(&mut rec, phase(Phase::Drain, 5)).unwrap();
        j.phase(&mut rec, phase(Phase::Drain, 9)).unwrap();
        assert_eq!(rec.phases.len(), 1);
        assert_eq!(rec.phases[0].duration, Duration::from_millis(9));
    }

    #[test]
    fn restart_continues_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.journal");
        let mut j = Journal::open(&path).unwrap();
        for _ in 0..3 {
            run_one(&mut j, Outcome::Succeeded);
        }
        drop(j);
        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.next_id(), 4);
        let (rec, _) = j.begin(Kind::Manual, "FAILOVER by admin", None);
        assert_eq!(rec.id, 4);
    }

    #[test]
    fn history_is_bounded_and_ids_keep_growing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.journal");
        let mut j = Journal::open_with_capacity(&path, 3).unwrap();
        for _ in 0..5 {
            run_one(&mut j, Outcome::Succeeded);
        }
        let ids: Vec<u64> = j.history().iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![3, 4, 5]);
        drop(j);
        let j = Journal::open_with_capacity(&path, 3).unwrap();
        let ids: Vec<u64> = j.history().iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![3, 4, 5]);
        assert_eq!(j.next_id(), 6);
    }

    #[test]
    fn a_long_file_is_compacted_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.journal");
        let mut j = Journal::open_with_capacity(&path, 2).unwrap();
        let mut all = Vec::new();
        for _ in 0..10 {
            all.push(run_one(&mut j, Outcome::Succeeded));
        }
        drop(j);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 50);
        let mut j = Journal::open_with_capacity(&path, 2).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().lines().count(),
            2,
            "one line per kept record"
        );
        assert_eq!(j.history(), all[8..].to_vec());
        let next = run_one(&mut j, Outcome::Failed);
        assert_eq!(next.id, 11);
        drop(j);
        let j = Journal::open_with_capacity(&path, 2).unwrap();
        assert_eq!(j.history(), vec![all[9].clone(), next]);
    }

    #[test]
    fn torn_last_line_is_dropped_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.journal");
        let mut j = Journal::open(&path).unwrap();
        let a = run_one(&mut j, Outcome::Succeeded);
        drop(j);
        // a crash in the middle of writing the next line
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"event":"start","at":17,"record":{"id":2,"ki"#)
            .unwrap();
        drop(f);

        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.history(), vec![a.clone()]);
        assert_eq!(j.interrupted(), None, "the torn record never started");
        assert_eq!(j.warnings().len(), 1, "{:?}", j.warnings());
        assert!(j.warnings()[0].contains("torn"), "{:?}", j.warnings());
        // the next line starts clean
        let b = run_one(&mut j, Outcome::Succeeded);
        assert_eq!(b.id, 2);
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert!(j.warnings().is_empty(), "{:?}", j.warnings());
        assert_eq!(j.history(), vec![a, b]);
    }

    #[test]
    fn garbage_lines_are_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.journal");
        let mut j = Journal::open(&path).unwrap();
        let a = run_one(&mut j, Outcome::Succeeded);
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"\xff\xfe not json\n{\"event\":\"nope\"}\n\n")
            .unwrap();
        drop(f);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.history(), vec![a]);
        assert_eq!(j.warnings().len(), 2, "{:?}", j.warnings());
        assert_eq!(j.next_id(), 2);
    }

    #[test]
    fn interrupted_failover_is_found_and_marked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.journal");
        let mut j = Journal::open(&path).unwrap();
        let done = run_one(&mut j, Outcome::Succeeded);
        let (mut rec, w) = j.begin(
            Kind::Automatic,
            "primary lost",
            Some("127.0.0.1:23302".into()),
        );
        w.unwrap();
        j.phase(&mut rec, phase(Phase::Choose, 3)).unwrap();
        assert_eq!(j.interrupted(), None, "running here, not interrupted");
        assert_eq!(j.history(), vec![done.clone()], "running is not history");
        drop(j); // sqlyard dies before Promote

        let mut j = Journal::open(&path).unwrap();
        let mut found = j.interrupted().expect("an interrupted failover");
        assert_eq!(found, rec);
        assert_eq!(found.outcome, Outcome::Running);
        assert_eq!(j.next_id(), 3);
        j.mark_interrupted(&mut found, "127.0.0.1:23303 is writable; nothing promoted")
            .unwrap();
        assert_eq!(found.outcome, Outcome::Interrupted);
        assert!(found.finished_at.is_some());
        let e = found.error.clone().unwrap();
        assert!(
            e.contains("stopped") && e.contains("nothing promoted"),
            "{e}"
        );
        assert_eq!(j.interrupted(), None);
        assert_eq!(j.history(), vec![done.clone(), found.clone()]);
        drop(j);

        let j = Journal::open(&path).unwrap();
        assert_eq!(j.interrupted(), None, "reported once");
        assert_eq!(j.history(), vec![done, found]);
    }

    #[test]
    fn an_older_unfinished_record_counts_as_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.journal");
        let mut j = Journal::open(&path).unwrap();
        let (old, _) = j.begin(Kind::Manual, "FAILOVER by admin", None);
        drop(j);
        // the next run never marked it and ran another failover
        let mut j = Journal::open(&path).unwrap();
        let newer = run_one(&mut j, Outcome::Succeeded);
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.interrupted(), None);
        let h = j.history();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].id, old.id);
        assert_eq!(h[0].outcome, Outcome::Interrupted);
        assert_eq!(h[0].finished_at, Some(old.started_at));
        assert_eq!(h[1], newer);
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/failover.journal");
        let e = Journal::open(&path).unwrap_err();
        assert!(matches!(e, JournalError::NoDirectory { .. }), "{e:?}");
        assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
    }

    #[test]
    fn an_unwritable_journal_keeps_memory_and_returns_the_error() {
        let mut j = Journal::in_memory("/nowhere/failover.journal");
        let (mut rec, w) = j.begin(Kind::Automatic, "primary lost", None);
        let e = w.unwrap_err();
        assert!(e.to_string().contains("/nowhere/failover.journal"), "{e}");
        assert!(j.phase(&mut rec, phase(Phase::Detect, 10)).is_err());
        assert!(j
            .finish(&mut rec, Outcome::Failed, Some("x".into()))
            .is_err());
        assert_eq!(j.history(), vec![rec.clone()]);
        assert_eq!(rec.error.as_deref(), Some("x"));
        let (next, _) = j.begin(Kind::Automatic, "again", None);
        assert_eq!(next.id, 2);
    }

    #[test]
    fn a_failed_write_keeps_memory_and_names_the_path() {
        // /dev/full accepts the open and fails every write (ENOSPC)
        if !Path::new("/dev/full").exists() {
            return;
        }
        let mut j = Journal::in_memory("/dev/full");
        j.sink = Some(Sink {
            file: OpenOptions::new().append(true).open("/dev/full").unwrap(),
            len: 0,
            needs_newline: false,
        });
        let (_, w) = j.begin(Kind::Automatic, "primary lost", None);
        let e = w.unwrap_err();
        assert!(matches!(e, JournalError::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("/dev/full"), "{e}");
        assert_eq!(j.records.len(), 1, "kept in memory");
    }
}
