//! A test that panics, or a test binary that is killed, must not leave
//! mariadbd processes or gigabytes of datadirs behind. Processes die with
//! their owner (parent-death signal, see `process.rs`); this file records
//! the owner of every sandbox directory and sweeps the directories (and any
//! surviving server) of owners that are gone.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::error::SandboxError;
use super::process::{pid_alive, process_cmdline, process_start_time, send_signal, wait_pid_dead};
use super::template::BUILD_PREFIX;

/// Prefix of every topology directory.
pub const SANDBOX_PREFIX: &str = "sqlyard-sandbox-";
/// File in a topology directory naming its owner: "PID STARTTIME".
const OWNER_FILE: &str = "owner";
/// A directory without an owner file younger than this may be mid-creation.
const GRACE: Duration = Duration::from_secs(120);

/// Records this process as the owner of `dir`.
pub(crate) fn write_owner(dir: &Path) -> Result<(), SandboxError> {
    let pid = std::process::id();
    let start = process_start_time(pid).unwrap_or(0);
    let path = dir.join(OWNER_FILE);
    std::fs::write(&path, format!("{pid} {start}\n")).map_err(|source| SandboxError::Io {
        action: "write",
        path,
        source,
    })
}

/// Parses an owner file: "PID STARTTIME".
fn parse_owner(text: &str) -> Option<(u32, u64)> {
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let start = words.next()?.parse().ok()?;
    Some((pid, start))
}

/// True if the process that created `dir` still runs (same pid, same start
/// time, so a reused pid does not count).
pub fn owner_alive(dir: &Path) -> bool {
    match std::fs::read_to_string(dir.join(OWNER_FILE)) {
        Ok(text) => match parse_owner(&text) {
            Some((pid, start)) => {
                pid_alive(pid) && (start == 0 || process_start_time(pid) == Some(start))
            }
            None => false,
        },
        // Being created right now, or abandoned long ago.
        Err(_) => younger_than(dir, GRACE),
    }
}

fn younger_than(path: &Path, age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|elapsed| elapsed < age)
}

/// SIGKILLs any mariadbd still running from `dir` (checked against its
/// command line, so an unrelated process with a reused pid is left alone).
pub(crate) fn kill_servers_in(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let needle = dir.to_string_lossy().into_owned();
    for entry in entries.flatten() {
        let pid_file = entry.path().join("mariadbd.pid");
        let Ok(text) = std::fs::read_to_string(&pid_file) else {
            continue;
        };
        let Ok(pid) = text.trim().parse::<u32>() else {
            continue;
        };
        let ours = process_cmdline(pid).is_some_and(|cmd| cmd.contains(&needle));
        if ours && pid_alive(pid) {
            let _ = send_signal(pid, libc::SIGKILL);
            let _ = wait_pid_dead(pid, Duration::from_secs(10));
        }
    }
}

/// Removes sandbox and template-build directories in `base` whose owner is
/// gone. Returns the directories removed.
pub fn sweep_stale(base: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(base) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let stale = if name.starts_with(SANDBOX_PREFIX) {
            !owner_alive(&path)
        } else if let Some(rest) = name.strip_prefix(BUILD_PREFIX) {
            let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
            match pid {
                Some(pid) => !pid_alive(pid),
                None => false,
            }
        } else {
            false
        };
        if !stale || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        kill_servers_in(&path);
        if std::fs::remove_dir_all(&path).is_ok() {
            tracing::info!(dir = %path.display(), "removed stale sandbox directory");
            removed.push(path);
        }
    }
    removed
}

/// Sweeps `base` the first time this process uses it.
pub(crate) fn sweep_stale_once(base: &Path) {
    static SWEPT: parking_lot::Mutex<Option<HashSet<PathBuf>>> = parking_lot::Mutex::new(None);
    let first = SWEPT
        .lock()
        .get_or_insert_with(HashSet::new)
        .insert(base.to_path_buf());
    if first {
        sweep_stale(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_file_round_trip() {
        assert_eq!(parse_owner("12 345\n"), Some((12, 345)));
        assert_eq!(parse_owner("x"), None);
        let dir = tempfile::tempdir().unwrap();
        write_owner(dir.path()).unwrap();
        assert!(owner_alive(dir.path()));
    }

    #[test]
    fn sweeps_only_dead_owners() {
        let base = tempfile::tempdir().unwrap();
        let dead = base.path().join(format!("{SANDBOX_PREFIX}dead"));
        std::fs::create_dir(&dead).unwrap();
        // A pid beyond pid_max never runs.
        std::fs::write(dead.join(OWNER_FILE), "4194305 1\n").unwrap();
        let alive = base.path().join(format!("{SANDBOX_PREFIX}alive"));
        std::fs::create_dir(&alive).unwrap();
        write_owner(&alive).unwrap();
        let fresh = base.path().join(format!("{SANDBOX_PREFIX}fresh"));
        std::fs::create_dir(&fresh).unwrap();
        let build = base.path().join(format!("{BUILD_PREFIX}4194305-0"));
        std::fs::create_dir(&build).unwrap();
        let other = base.path().join("unrelated");
        std::fs::create_dir(&other).unwrap();

        let removed = sweep_stale(base.path());
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(!dead.exists());
        assert!(!build.exists());
        assert!(alive.exists());
        assert!(fresh.exists());
        assert!(other.exists());
    }
}
