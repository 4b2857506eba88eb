//! Problem: a backup must be exact (its tables as they were at its GTID
//! position), must not slow the reads clients make, and must leave the
//! source as it found it whatever happens. [`take`] does one backup:
//! 1. take the source out of read rotation (`drain`), remembering its
//!    admin state;
//! 2. on a replica, stop its SQL thread, so that its data holds still at
//!    one GTID position while the dump runs and the tables are summed;
//! 3. dump the user schemas (`--single-transaction --gtid --master-data=2`:
//!    the GTID comes from `BINLOG_GTID_POS` of the snapshot) and the
//!    accounts and grants (`--system=users`), compressed;
//! 4. sum every table (rows, `CHECKSUM TABLE ... EXTENDED`) and check the
//!    dump's GTID against the source's position before and after;
//! 5. write the manifest, check every file against it, and only then
//!    rename the partial directory to the backup's id;
//! 6. whatever happened: start the SQL thread again and restore the admin
//!    state.
//!
//! A primary (only with `allow_primary`) cannot hold still: its tables
//! are summed after the dump, so their checksums may not be those of the
//! dump's GTID, and the check of step 4 is skipped; the manifest records
//! it (`source_was_primary`).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::topology::{AdminState, MonitorControl, MonitorSettings};

use super::dump::{self, Login};
use super::error::BackupError;
use super::manifest::{FileSum, Manifest, TableSum};
use super::source::Chosen;

/// Schemas never dumped as data (the accounts come with `--system=users`).
pub(super) const SYSTEM_SCHEMAS: [&str; 4] =
    ["mysql", "information_schema", "performance_schema", "sys"];

/// The data file and the accounts file of a backup.
pub const DATA_FILE: &str = "data.sql.zst";
pub const ACCOUNTS_FILE: &str = "accounts.sql.zst";

/// Prefix of a backup being written (never listed as a backup).
pub const PARTIAL_PREFIX: &str = ".partial-";

/// In a partial backup: the address of the replica whose SQL thread the
/// backup stopped.
pub const STOPPED_SQL_THREAD: &str = "stopped-sql-thread";

/// Everything one backup needs.
pub struct Job {
    pub id: String,
    pub source: Chosen,
    /// The backups' directory.
    pub dir: PathBuf,
    pub drain: bool,
    /// Login and TLS for the source (the backup account).
    pub settings: MonitorSettings,
    /// TLS options for the dump program.
    pub tls_args: Vec<String>,
    pub program: PathBuf,
    pub monitor: MonitorControl,
    /// `backup.max_rate` in bytes per second.
    pub max_rate: Option<u64>,
    /// A `mariadb` client's connection arguments: each dump is also
    /// executed there as it is read (`REBUILD SERVER` from a fresh dump).
    pub stream_into: Option<Vec<String>>,
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn split(address: &str) -> Result<(String, u16), BackupError> {
    crate::topology::probe::split_address(address)
        .map_err(|_| BackupError::UnknownServer(address.to_string()))
}

/// A control connection to the source with the backup account.
async fn connect(job: &Job) -> Result<Conn, BackupError> {
    connect_to(&job.source.address, &job.settings).await
}

/// A control connection to `address` with `settings`' login and TLS.
pub(super) async fn connect_to(
    address: &str,
    settings: &MonitorSettings,
) -> Result<Conn, BackupError> {
    let (host, port) = split(address)?;
    let opts = settings.control_opts(host, port);
    let open = crate::topology::control_tls::connect(opts, address, &settings.tls);
    let failed = |error: String| BackupError::Server {
        address: address.to_string(),
        what: "connect",
        error,
    };
    match tokio::time::timeout(settings.effective_connect_timeout(), open).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(failed("timed out".into())),
    }
}

fn server_error(job: &Job, what: &'static str, e: mysql_async::Error) -> BackupError {
    BackupError::Server {
        address: job.source.address.clone(),
        what,
        error: e.to_string(),
    }
}

/// What must be put back after the backup, done or not.
#[derive(Default)]
struct Undo {
    /// The source was drained for the backup.
    drained: bool,
    start_sql_thread: bool,
}

/// Takes one backup; returns its manifest. The source is left as found.
pub async fn take(job: &Job) -> Result<Manifest, BackupError> {
    let partial = job.dir.join(format!("{PARTIAL_PREFIX}{}", job.id));
    let mut undo = Undo::default();
    let result = run(job, &partial, &mut undo).await;
    put_back(job, &undo).await;
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    result
}

async fn put_back(job: &Job, undo: &Undo) {
    if undo.start_sql_thread {
        let started = match connect(job).await {
            Ok(mut c) => c
                .query_drop("START SLAVE SQL_THREAD")
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = started {
            tracing::error!(address = %job.source.address, error = %e,
                "backup: cannot start the SQL thread again; START SLAVE SQL_THREAD on it by hand");
        }
    }
    if undo.drained {
        // the operator's state (ONLINE, or what they set meanwhile) is
        // routed again
        job.monitor.set_backup_drained(&job.source.address, false);
        let state = job.monitor.admin_state(&job.source.address);
        tracing::info!(address = %job.source.address, state = %state, "backup: drain ended");
    }
}

async fn run(job: &Job, partial: &Path, undo: &mut Undo) -> Result<Manifest, BackupError> {
    let started = unix_ms();
    std::fs::create_dir_all(partial).map_err(|source| BackupError::Io {
        action: "create",
        path: partial.to_path_buf(),
        source,
    })?;
    if job.drain && job.source.admin == AdminState::Online && !job.source.is_primary {
        job.monitor.set_backup_drained(&job.source.address, true);
        undo.drained = true;
        tracing::info!(address = %job.source.address, "backup: source drained");
    }
    let mut conn = connect(job).await?;
    if !job.source.is_primary {
        // journaled first: a router that dies now starts it again at its
        // next start (`recover`)
        let mark = partial.join(STOPPED_SQL_THREAD);
        std::fs::write(&mark, &job.source.address).map_err(|source| BackupError::Io {
            action: "write",
            path: mark,
            source,
        })?;
        conn.query_drop("STOP SLAVE SQL_THREAD")
            .await
            .map_err(|e| server_error(job, "STOP SLAVE SQL_THREAD", e))?;
        undo.start_sql_thread = true;
    }
    let version: Option<String> = conn
        .query_first("SELECT @@version")
        .await
        .map_err(|e| server_error(job, "read @@version", e))?;
    let before = binlog_pos(job, &mut conn).await?;
    let schemas: Vec<String> = conn
        .query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        .await
        .map_err(|e| server_error(job, "list schemas", e))?;
    let schemas: Vec<String> = schemas
        .into_iter()
        .filter(|s| !SYSTEM_SCHEMAS.contains(&s.as_str()))
        .collect();

    // the dumps, off the async threads
    let (host, port) = split(&job.source.address)?;
    let login = Login {
        host,
        port,
        user: job.settings.user.clone(),
        password: job.settings.password.clone(),
        tls_args: job.tls_args.clone(),
    };
    let options = partial.join(".client.cnf");
    login.write_option_file(&options)?;
    let program = job.program.clone();
    let mut data_args = login.tls_args.clone();
    data_args.extend(
        [
            "--single-transaction",
            "--gtid",
            "--master-data=2",
            "--routines",
            "--triggers",
            "--events",
            "--hex-blob",
            "--default-character-set=utf8mb4",
            "--databases",
        ]
        .map(String::from),
    );
    data_args.extend(schemas.iter().cloned());
    let mut accounts_args = login.tls_args.clone();
    accounts_args.extend(["--system=users", "--insert-ignore"].map(String::from));
    let (p, o, dir) = (program.clone(), options.clone(), partial.to_path_buf());
    let rate = job.max_rate;
    let into = job.stream_into.clone();
    let (data, accounts) = dump::in_background(move || {
        let into = into.as_deref();
        // the accounts first: the data's views and routines name them
        let accounts =
            dump::run_dump(&p, &o, &accounts_args, &dir.join(ACCOUNTS_FILE), rate, into)?;
        let data = dump::run_dump(&p, &o, &data_args, &dir.join(DATA_FILE), rate, into)?;
        Ok::<_, BackupError>((data, accounts))
    })
    .await
    .map_err(|e| BackupError::Dump {
        program: program.display().to_string(),
        status: "the dump task failed".into(),
        stderr: e,
    })??;
    let _ = std::fs::remove_file(&options);

    let tables = sum_tables(job, &mut conn, &schemas).await?;
    let after = binlog_pos(job, &mut conn).await?;
    let Some(gtid) = data.gtid.clone() else {
        return Err(BackupError::NoGtid(job.source.address.clone()));
    };
    if !job.source.is_primary {
        if before != after {
            return Err(BackupError::SourceChanged {
                address: job.source.address.clone(),
                before,
                after,
            });
        }
        if gtid != before {
            return Err(BackupError::GtidMismatch {
                dump: gtid,
                source_pos: before,
            });
        }
    }
    let _ = conn.disconnect().await;

    let files = vec![
        FileSum {
            name: DATA_FILE.into(),
            bytes: data.bytes,
            sha256: data.sha256,
        },
        FileSum {
            name: ACCOUNTS_FILE.into(),
            bytes: accounts.bytes,
            sha256: accounts.sha256,
        },
    ];
    let manifest = Manifest {
        format: Manifest::FORMAT,
        id: job.id.clone(),
        source: job.source.address.clone(),
        source_was_primary: job.source.is_primary,
        server_version: version.unwrap_or_default(),
        started_unix_ms: started,
        finished_unix_ms: unix_ms(),
        gtid,
        schemas,
        tables,
        size_bytes: files.iter().map(|f| f.bytes).sum(),
        files,
        tool: dump::program_version(&job.program),
    };
    manifest.write(partial)?;
    // what is on disk is what the manifest says, or it is no backup
    let reread = Manifest::read(partial)?;
    super::manifest::verify_files(partial, &reread)?;
    let done = job.dir.join(&job.id);
    std::fs::rename(partial, &done).map_err(|source| BackupError::Io {
        action: "rename to",
        path: done,
        source,
    })?;
    Ok(manifest)
}

/// At start: a partial backup left by a router that died may have left
/// its source's SQL thread stopped. Starts it again when it is still
/// stopped without an error (a replica that stopped on an error is left
/// for the operator and the alerts). Returns what it did, for the log.
pub async fn recover(
    partial: &Path,
    settings: &MonitorSettings,
) -> Option<Result<String, BackupError>> {
    let address = std::fs::read_to_string(partial.join(STOPPED_SQL_THREAD)).ok()?;
    let address = address.trim().to_string();
    let failed = |what: &'static str, e: mysql_async::Error| BackupError::Server {
        address: address.clone(),
        what,
        error: e.to_string(),
    };
    let result = async {
        let mut conn = connect_to(&address, settings).await?;
        let row: Option<mysql_async::Row> = conn
            .query_first("SHOW SLAVE STATUS")
            .await
            .map_err(|e| failed("SHOW SLAVE STATUS", e))?;
        let sql_running: Option<String> = row.as_ref().and_then(|r| r.get("Slave_SQL_Running"));
        let errno: Option<u32> = row.as_ref().and_then(|r| r.get("Last_SQL_Errno"));
        let done = match (sql_running.as_deref(), errno.unwrap_or(0)) {
            (Some("No"), 0) => {
                conn.query_drop("START SLAVE SQL_THREAD")
                    .await
                    .map_err(|e| failed("START SLAVE SQL_THREAD", e))?;
                format!("{address}: SQL thread started again (a backup was interrupted)")
            }
            (Some("No"), e) => {
                format!("{address}: SQL thread stopped on error {e}; left for the operator")
            }
            _ => format!("{address}: SQL thread running; nothing to do"),
        };
        let _ = conn.disconnect().await;
        Ok(done)
    }
    .await;
    Some(result)
}

/// `@@gtid_binlog_pos` of the source.
async fn binlog_pos(job: &Job, conn: &mut Conn) -> Result<String, BackupError> {
    let pos: Option<String> = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .map_err(|e| server_error(job, "read @@gtid_binlog_pos", e))?;
    Ok(pos.unwrap_or_default())
}

/// A backquoted identifier.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Rows and checksum of every base table of `schemas`.
async fn sum_tables(
    job: &Job,
    conn: &mut Conn,
    schemas: &[String],
) -> Result<Vec<TableSum>, BackupError> {
    let tables: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await
        .map_err(|e| server_error(job, "list tables", e))?;
    let mut out = Vec::new();
    for (schema, table) in tables.into_iter().filter(|(s, _)| schemas.contains(s)) {
        let name = format!("{}.{}", ident(&schema), ident(&table));
        let rows: Option<u64> = conn
            .query_first(format!("SELECT COUNT(*) FROM {name}"))
            .await
            .map_err(|e| server_error(job, "count rows", e))?;
        let sum: Option<(String, Option<u64>)> = conn
            .query_first(format!("CHECKSUM TABLE {name} EXTENDED"))
            .await
            .map_err(|e| server_error(job, "CHECKSUM TABLE", e))?;
        out.push(TableSum {
            schema,
            table,
            rows: rows.unwrap_or(0),
            checksum: sum.and_then(|(_, c)| c),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("a`b"), "`a``b`");
        assert_eq!(split("127.0.0.1:3306").unwrap(), ("127.0.0.1".into(), 3306));
        assert_eq!(split("[::1]:3306").unwrap(), ("::1".into(), 3306));
        assert!(split("nope").is_err());
    }
}
