//! Problem: `backup.dir` holds complete backups (a directory named by its
//! id, with a manifest) and, after a crash, partial ones that must never
//! look like backups. This file names new backups, lists the complete
//! ones and deletes what `backup.keep` no longer keeps.

use std::path::Path;

use super::manifest::Manifest;
use super::take::PARTIAL_PREFIX;

/// A new id: the UTC time, `YYYYMMDD-HHMMSS`, with `-N` added when that
/// name exists already.
pub fn new_id(dir: &Path, unix_ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms);
    let text = humantime::format_rfc3339_seconds(t).to_string(); // 2026-12-07T10:15:00Z
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let base = if digits.len() >= 14 {
        format!("{}-{}", &digits[..8], &digits[8..14])
    } else {
        digits
    };
    let mut id = base.clone();
    let mut n = 1;
    while dir.join(&id).exists() || dir.join(format!("{PARTIAL_PREFIX}{id}")).exists() {
        n += 1;
        id = format!("{base}-{n}");
    }
    id
}

/// The directory of backup `id` in `dir`, if `id` is a backup's name
/// (letters, digits, dashes) and it has a manifest.
pub fn backup_path(dir: &Path, id: &str) -> Result<std::path::PathBuf, super::BackupError> {
    let valid = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let path = dir.join(id);
    if !valid || !path.join(super::manifest::MANIFEST).exists() {
        return Err(super::BackupError::NoSuchBackup(id.to_string()));
    }
    Ok(path)
}

/// The complete backups in `dir` (a readable manifest), newest first.
pub fn complete(dir: &Path) -> Vec<Manifest> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Manifest> = entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| Manifest::read(&e.path()).ok())
        .collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.started_unix_ms));
    out
}

/// Deletes the complete backups beyond the newest `keep`. Partial ones
/// are left alone: one may be a rebuild's fresh dump being written now
/// (those of an interrupted process are removed at start).
pub fn prune(dir: &Path, keep: usize) {
    for old in complete(dir).iter().skip(keep.max(1)) {
        let path = dir.join(&old.id);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => tracing::info!(id = %old.id, "backup: deleted (backup.keep)"),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "backup: cannot delete"),
        }
    }
}

/// Removes partial backups (`.partial-*`) in `dir`: called at start,
/// when none is being written.
pub fn remove_partial(dir: &Path) {
    for p in partials(dir) {
        let _ = std::fs::remove_dir_all(p);
    }
}

/// The partial backups (`.partial-*`) in `dir`.
pub fn partials(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(PARTIAL_PREFIX))
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::manifest::Manifest;

    fn manifest(id: &str, started: u64) -> Manifest {
        Manifest {
            format: Manifest::FORMAT,
            id: id.into(),
            source: "r:1".into(),
            source_was_primary: false,
            server_version: String::new(),
            started_unix_ms: started,
            finished_unix_ms: started + 1,
            gtid: "0-1-1".into(),
            schemas: vec![],
            tables: vec![],
            files: vec![],
            size_bytes: 0,
            tool: String::new(),
        }
    }

    #[test]
    fn ids_are_utc_times_and_unique() {
        let dir = tempfile::tempdir().unwrap();
        // 2026-12-07T10:15:00Z
        let ms = 1_796_638_500_000;
        let id = new_id(dir.path(), ms);
        assert_eq!(id, "20261207-101500");
        std::fs::create_dir(dir.path().join(&id)).unwrap();
        assert_eq!(new_id(dir.path(), ms), "20261207-101500-2");
    }

    #[test]
    fn prune_keeps_the_newest_and_leaves_partials_being_written() {
        let dir = tempfile::tempdir().unwrap();
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            let d = dir.path().join(id);
            std::fs::create_dir(&d).unwrap();
            manifest(id, i as u64).write(&d).unwrap();
        }
        let partial = dir.path().join(format!("{PARTIAL_PREFIX}d"));
        std::fs::create_dir(&partial).unwrap();
        manifest("d", 9).write(&partial).unwrap();
        let ids: Vec<String> = complete(dir.path()).into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["c", "b", "a"]);
        prune(dir.path(), 2);
        let ids: Vec<String> = complete(dir.path()).into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["c", "b"]);
        assert!(partial.exists(), "a dump being written is not pruned");
        remove_partial(dir.path());
        assert!(!partial.exists());
    }
}
