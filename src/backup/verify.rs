//! Problem: a backup nobody restored is a hope, not a backup. `VERIFY
//! BACKUP <id>` checks its files against the manifest (size, sha256),
//! restores it into a scratch MariaDB that sqlyard starts on this machine
//! with the sandbox machinery (a throw-away datadir on a free port,
//! killed and removed afterwards), and compares every table's rows and
//! checksum with the manifest. The outcome is written next to the backup
//! (`verified.json`), for `SHOW BACKUPS` and for rebuilds that prefer a
//! verified backup.

use std::path::Path;

use mysql_async::prelude::Queryable;
use serde::{Deserialize, Serialize};

use crate::sandbox::{SandboxOptions, Topology};

use super::error::BackupError;
use super::manifest::{verify_files, Manifest};
use super::take::{unix_ms, ACCOUNTS_FILE, DATA_FILE};

/// The file a verification writes in the backup's directory.
pub const VERIFIED: &str = "verified.json";

/// The outcome of one verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub id: String,
    pub ok: bool,
    /// Tables compared.
    pub tables: usize,
    /// `schema.table: what differs`, for each table that differs.
    pub mismatches: Vec<String>,
    pub verified_unix_ms: u64,
    pub duration_ms: u64,
}

impl Verified {
    /// `dir/verified.json`, if a verification wrote one.
    pub fn read(dir: &Path) -> Option<Verified> {
        let text = std::fs::read_to_string(dir.join(VERIFIED)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// Verifies the backup in `dir` (see the module doc).
pub async fn verify(dir: &Path) -> Result<Verified, BackupError> {
    let started = unix_ms();
    let manifest = Manifest::read(dir)?;
    verify_files(dir, &manifest)?;
    let scratch = Topology::start(SandboxOptions {
        replicas: 0,
        ..Default::default()
    })
    .await
    .map_err(|e| BackupError::Scratch(e.to_string()))?;
    let node = scratch.primary();
    let socket = node.socket_path().to_path_buf();
    for file in [ACCOUNTS_FILE, DATA_FILE] {
        let path = dir.join(file);
        let connect = vec![
            "--no-defaults".to_string(),
            format!("--socket={}", socket.display()),
            format!("--user={}", crate::sandbox::socket_user()),
        ];
        tokio::task::spawn_blocking(move || super::load::load(&path, &connect))
            .await
            .map_err(|e| BackupError::Scratch(e.to_string()))??;
    }
    let mut conn = node
        .root_conn()
        .await
        .map_err(|e| BackupError::Scratch(e.to_string()))?;
    let mut mismatches = Vec::new();
    for t in &manifest.tables {
        let name = format!(
            "`{}`.`{}`",
            t.schema.replace('`', "``"),
            t.table.replace('`', "``")
        );
        let rows: Result<Option<u64>, _> = conn
            .query_first(format!("SELECT COUNT(*) FROM {name}"))
            .await;
        let sum: Result<Option<(String, Option<u64>)>, _> = conn
            .query_first(format!("CHECKSUM TABLE {name} EXTENDED"))
            .await;
        match (rows, sum) {
            (Ok(rows), Ok(sum)) => {
                let rows = rows.unwrap_or(0);
                let sum = sum.and_then(|(_, c)| c);
                if rows != t.rows || sum != t.checksum {
                    mismatches.push(format!(
                        "{}.{}: {rows} rows, checksum {sum:?}; the manifest says {} rows, {:?}",
                        t.schema, t.table, t.rows, t.checksum
                    ));
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                mismatches.push(format!("{}.{}: {e}", t.schema, t.table));
            }
        }
    }
    let _ = conn.disconnect().await;
    drop(scratch);
    let verified = Verified {
        id: manifest.id.clone(),
        ok: mismatches.is_empty(),
        tables: manifest.tables.len(),
        mismatches,
        verified_unix_ms: unix_ms(),
        duration_ms: unix_ms().saturating_sub(started),
    };
    let path = dir.join(VERIFIED);
    let text = serde_json::to_string_pretty(&verified).unwrap_or_default();
    std::fs::write(&path, text).map_err(|source| BackupError::Io {
        action: "write",
        path,
        source,
    })?;
    Ok(verified)
}
