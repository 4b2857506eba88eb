//! Problem: a quarantined old primary, an emptied or broken replica is one
//! replica fewer until someone rebuilds it by hand. `REBUILD SERVER` does
//! it over the MySQL protocol, in steps, each journaled
//! ([`super::rebuilds`]) before the next starts:
//! 1. `check`: refused for the primary, for an unknown server, and for a
//!    writable server that sqlyard did not fence (clients may use it);
//! 2. `fence`: read-only, and out of read rotation (drain) meanwhile; a
//!    server that cannot be fenced is refused;
//! 3. `errant`: its GTIDs are compared, live, with the primary's; when it
//!    holds transactions the primary never got, its binary logs are
//!    copied to the backup directory first (`mariadb-binlog --raw`), and
//!    where they are is journaled;
//! 4. `backup`: the backup to load: the one named (checked against its
//!    manifest, sha256 included), or the latest verified one younger than
//!    `backup.max_age_for_rebuild`, or a fresh consistent dump of a healthy
//!    replica (taken as a backup, so it is kept and listed too);
//! 5. `load`: with `sql_log_bin=0`, replication stopped and forgotten,
//!    every user schema dropped, then the accounts and the data loaded;
//!    `RESET MASTER` and `gtid_slave_pos` set to the backup's position;
//! 6. `replicate`: pointed at the primary (GTID, heartbeat), then it must
//!    apply what the primary had when it started and hold no errant GTID;
//! 7. `release`: the failover manager releases a quarantined server that
//!    replicates with nothing errant; its admin state is put back.
//!
//! A step that fails leaves the server read-only and drained, with the
//! error in `SHOW REBUILDS`. Every step can run again: a rebuild cut by a
//! restart is marked `interrupted`, and `REBUILD SERVER` again resumes it
//! from the start (or the server stays out of rotation).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;

use crate::config::Config;
use crate::failover::sql::GtidStart;
use crate::topology::{AdminState, Flavor, MonitorControl, MonitorSettings, Snapshot};

use super::dump::Login;
use super::error::BackupError;
use super::manifest::{verify_files, Manifest};
use super::rebuilds::Journaled;
use super::take::{self, unix_ms, ACCOUNTS_FILE, DATA_FILE, SYSTEM_SCHEMAS};
use super::verify::Verified;

/// How long a rebuilt server gets to apply what the primary had.
const CATCH_UP: Duration = Duration::from_secs(300);
/// How long the failover manager gets to release it from the quarantine.
const RELEASE: Duration = Duration::from_secs(30);

/// Where the data of a rebuild comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `FROM BACKUP <id>`.
    Backup(String),
    /// `FROM '<replica>'`: a fresh dump of it.
    Replica(String),
    /// Neither: the latest verified backup within
    /// `backup.max_age_for_rebuild`, else a fresh dump of a replica.
    Auto,
}

impl Source {
    /// The source as a forwarded request carries it (see [`Source::from_spec`]).
    pub fn to_spec(&self) -> Option<String> {
        match self {
            Source::Backup(id) => Some(format!("backup:{id}")),
            Source::Replica(a) => Some(format!("replica:{a}")),
            Source::Auto => None,
        }
    }

    /// Reads [`Source::to_spec`]'s form back.
    pub fn from_spec(spec: Option<&str>) -> Result<Source, String> {
        let Some(spec) = spec else {
            return Ok(Source::Auto);
        };
        if let Some(id) = spec.strip_prefix("backup:") {
            Ok(Source::Backup(id.to_string()))
        } else if let Some(a) = spec.strip_prefix("replica:") {
            Ok(Source::Replica(a.to_string()))
        } else {
            Err(format!("unknown rebuild source {spec:?}"))
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Source::Backup(id) => format!("backup {id}"),
            Source::Replica(a) => format!("a fresh dump of {a}"),
            Source::Auto => "the latest verified backup, else a fresh dump".into(),
        }
    }
}

/// Everything one rebuild needs.
pub struct Job {
    pub target: String,
    pub source: Source,
    pub config: Arc<Config>,
    pub topology: crate::topology::TopologyHandle,
    pub monitor: MonitorControl,
    /// The monitor's settings (the base of the backup account's).
    pub settings: MonitorSettings,
    /// Whether the failover manager still quarantines an address.
    pub quarantined: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    /// Several instances: this one's name, and where its record is copied
    /// after each step (see `rebuilds::Publish`).
    pub publish: Option<(String, super::rebuilds::Publish)>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("target", &self.target)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn refused(target: &str, why: impl Into<String>) -> BackupError {
    BackupError::RebuildRefused {
        address: target.to_string(),
        reason: why.into(),
    }
}

fn failed(target: &str, what: &'static str, e: impl std::fmt::Display) -> BackupError {
    BackupError::Server {
        address: target.to_string(),
        what,
        error: e.to_string(),
    }
}

/// Step 1, before anything is journaled: the refusals that need no
/// server (see the module doc).
pub fn check(job: &Job, snap: &Snapshot) -> Result<(), BackupError> {
    let target = job.target.as_str();
    let Some(cfg) = job.config.backup.as_ref() else {
        return Err(BackupError::NotConfigured);
    };
    if cfg.rebuild_user.is_none() {
        return Err(refused(
            target,
            "backup.rebuild_user is not set (an account with ALL PRIVILEGES WITH GRANT OPTION)",
        ));
    }
    let Some(server) = snap.server(target) else {
        return Err(BackupError::UnknownServer(target.to_string()));
    };
    let Some(primary) = snap.primary_server() else {
        return Err(refused(target, "no primary to replicate from"));
    };
    if primary.address == target {
        return Err(refused(target, "it is the primary"));
    }
    if !server.reachable {
        return Err(refused(
            target,
            "it does not answer, so sqlyard cannot fence it; start it first",
        ));
    }
    if server.is_writable() && !job.monitor.is_fenced(target) && !(job.quarantined)(target) {
        return Err(refused(
            target,
            "it is writable and sqlyard did not fence it: clients may be using it",
        ));
    }
    if let Source::Replica(from) = &job.source {
        if from == target {
            return Err(refused(target, "a server cannot be rebuilt from itself"));
        }
    }
    if server.flavor == Some(Flavor::MySql) || primary.flavor == Some(Flavor::MySql) {
        return Err(refused(target, "rebuilds are implemented for MariaDB only"));
    }
    Ok(())
}

/// Runs the rebuild, journaling each step in `rec`. A rebuild that fails
/// before it touched the data puts the server's admin state back.
pub async fn run(job: &Job, rec: &mut Journaled) -> Result<(), BackupError> {
    let mut drained = None;
    let mut touched = false;
    let result = steps(job, rec, &mut drained, &mut touched).await;
    if let (Err(_), Some(admin), false) = (&result, drained, touched) {
        job.monitor.set_admin_state(&job.target, admin);
        job.monitor.republish();
    }
    result
}

async fn steps(
    job: &Job,
    rec: &mut Journaled,
    drained: &mut Option<AdminState>,
    touched: &mut bool,
) -> Result<(), BackupError> {
    let target = job.target.clone();
    let snap = job.topology.load();
    check(job, &snap)?;
    let actions = crate::failover::manager::actions_for(&job.config);
    let heartbeat = job.config.failover.replica_heartbeat_period.get();
    let primary = snap
        .primary_server()
        .map(|p| p.address.clone())
        .ok_or_else(|| refused(&target, "no primary to replicate from"))?;
    rec.step("check", format!("primary is {primary}"))?;

    // 2. fence
    let fenced = actions
        .fence(&target)
        .await
        .map_err(|e| refused(&target, format!("sqlyard cannot fence it: {e}")))?;
    let admin = snap
        .server(&target)
        .map(|s| s.admin)
        .unwrap_or(AdminState::Online);
    if admin == AdminState::Online {
        job.monitor.set_admin_state(&target, AdminState::Drain);
        job.monitor.republish();
        *drained = Some(admin);
    }
    rec.record.admin_before = Some(admin.as_str().to_string());
    rec.step(
        "fence",
        format!(
            "read-only{}; out of read rotation",
            if fenced.was_writable {
                " (it was writable)"
            } else {
                ""
            }
        ),
    )?;

    // 3. errant transactions, saved first
    let errant =
        crate::failover::phases::errant_against(&actions, &target, &primary, Flavor::MariaDb)
            .await
            .map_err(|e| failed(&target, "compare GTIDs with the primary", e))?;
    if errant.is_empty() {
        rec.step("errant", "none: it holds nothing the primary lacks".into())?;
    } else {
        let dir = rec.dir().join(format!("errant-{}", rec.record.id));
        save_binlogs(job, &dir).await?;
        rec.record.errant = Some(errant.clone());
        rec.record.errant_saved = Some(dir.display().to_string());
        rec.step(
            "errant",
            format!("{errant}: its binary logs were copied to {}", dir.display()),
        )?;
    }

    // 4. the backup, and 5. loaded: a backup on disk, or a fresh dump of a
    // replica streamed into the target as it is read
    let manifest = match existing_backup(job, rec.dir())? {
        Some((path, manifest)) => {
            let detail = format!(
                "{} from {} at GTID {} ({} bytes)",
                manifest.id, manifest.source, manifest.gtid, manifest.size_bytes
            );
            backup_step(rec, &manifest, detail)?;
            *touched = true;
            load_into(job, rec.dir(), &path, &manifest).await?;
            manifest
        }
        None => {
            *touched = true;
            let manifest = stream_into(job, &snap, rec.dir()).await?;
            let detail = format!(
                "a fresh dump of {} at GTID {}, streamed into {target} as it was read (kept as backup {}, {} bytes)",
                manifest.source, manifest.gtid, manifest.id, manifest.size_bytes
            );
            backup_step(rec, &manifest, detail)?;
            manifest
        }
    };
    rec.step(
        "load",
        format!(
            "{} schemas loaded; gtid_slave_pos = {}",
            manifest.schemas.len(),
            manifest.gtid
        ),
    )?;

    // 6. replicate, catch up, nothing errant
    let wanted = actions
        .read_positions(&primary)
        .await
        .map_err(|e| failed(&primary, "read the primary's position", e))?
        .binlog
        .map(|b| b.to_string())
        .unwrap_or_default();
    actions
        .repoint(&target, &primary, GtidStart::SlavePos, heartbeat)
        .await
        .map_err(|e| failed(&target, "replicate from the primary", e))?;
    actions
        .verify_replicating(&target, Duration::from_secs(10))
        .await
        .map_err(|e| failed(&target, "replicate from the primary", e))?;
    actions
        .wait_applied(&target, &wanted, CATCH_UP)
        .await
        .map_err(|e| failed(&target, "catch up with the primary", e))?;
    let left =
        crate::failover::phases::errant_against(&actions, &target, &primary, Flavor::MariaDb)
            .await
            .map_err(|e| failed(&target, "compare GTIDs with the primary", e))?;
    if !left.is_empty() {
        return Err(failed(
            &target,
            "check the rebuilt server",
            format!("it holds {left} that the primary lacks"),
        ));
    }
    rec.step(
        "replicate",
        format!("replicates from {primary}; applied {wanted}; nothing errant"),
    )?;

    // 7. out of the quarantine, back in rotation
    let deadline = tokio::time::Instant::now() + RELEASE;
    while (job.quarantined)(&target) {
        if tokio::time::Instant::now() > deadline {
            return Err(failed(
                &target,
                "leave the quarantine",
                "the failover manager did not release it (is this instance the leader?)",
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if admin == AdminState::Online {
        job.monitor.set_admin_state(&target, AdminState::Online);
        job.monitor.republish();
    }
    rec.step(
        "release",
        format!("not quarantined; admin state {} again", admin.as_str()),
    )?;
    Ok(())
}

/// Journals step 4: the backup loaded, and its GTID.
fn backup_step(
    rec: &mut Journaled,
    manifest: &Manifest,
    detail: String,
) -> Result<(), BackupError> {
    rec.record.backup = Some(manifest.id.clone());
    rec.record.gtid = Some(manifest.gtid.clone());
    rec.step("backup", detail)
}

/// A login to the rebuilt server with `backup.rebuild_user`.
fn rebuild_login(job: &Job) -> Result<(MonitorSettings, Login), BackupError> {
    let cfg = job
        .config
        .backup
        .as_ref()
        .ok_or(BackupError::NotConfigured)?;
    let user = cfg
        .rebuild_user
        .clone()
        .ok_or_else(|| refused(&job.target, "backup.rebuild_user is not set"))?;
    let mut settings = job.settings.clone();
    settings.user = user.clone();
    settings.password = cfg.rebuild_password.expose().to_string();
    let (host, port) = crate::topology::probe::split_address(&job.target)
        .map_err(|_| BackupError::UnknownServer(job.target.clone()))?;
    let mode = settings.tls.mode_for(&job.target);
    let login = Login {
        host,
        port,
        user,
        password: settings.password.clone(),
        tls_args: super::tls_args(&job.config, mode),
    };
    Ok((settings, login))
}

/// Copies every binary log of the target into `dir` (raw events, as the
/// server wrote them).
async fn save_binlogs(job: &Job, dir: &Path) -> Result<(), BackupError> {
    let (settings, login) = rebuild_login(job)?;
    let mut conn = take::connect_to(&job.target, &settings).await?;
    let logs: Vec<mysql_async::Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(|e| failed(&job.target, "SHOW BINARY LOGS", e))?;
    let _ = conn.disconnect().await;
    let Some(first) = logs.first().and_then(|r| r.get::<String, usize>(0)) else {
        return Err(failed(
            &job.target,
            "save its errant transactions",
            "it has no binary log to copy (log_bin off?)",
        ));
    };
    let program = binlog_program()?;
    std::fs::create_dir_all(dir).map_err(|source| BackupError::Io {
        action: "create",
        path: dir.to_path_buf(),
        source,
    })?;
    let options = dir.join(".client.cnf");
    login.write_option_file(&options)?;
    let mut args = login.tls_args.clone();
    args.extend([
        "--read-from-remote-server".to_string(),
        "--raw".to_string(),
        "--to-last-log".to_string(),
        format!("--result-file={}/", dir.display()),
        first,
    ]);
    let out = tokio::process::Command::new(program)
        .arg(format!("--defaults-extra-file={}", options.display()))
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    let _ = std::fs::remove_file(&options);
    let out = out.map_err(|source| BackupError::Io {
        action: "run",
        path: PathBuf::from(program),
        source,
    })?;
    if !out.status.success() {
        return Err(BackupError::Dump {
            program: program.to_string(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .to_string(),
        });
    }
    Ok(())
}

/// The backup on disk to load (step 4) and its manifest, its files
/// checked: the one named, or with `Auto` the latest verified one within
/// `backup.max_age_for_rebuild`. `None`: a fresh dump is streamed.
fn existing_backup(job: &Job, dir: &Path) -> Result<Option<(PathBuf, Manifest)>, BackupError> {
    let cfg = job
        .config
        .backup
        .as_ref()
        .ok_or(BackupError::NotConfigured)?;
    let named = match &job.source {
        Source::Backup(id) => Some(id.clone()),
        Source::Replica(_) => None,
        Source::Auto => {
            let max_age = cfg.max_age_for_rebuild.get().as_millis() as u64;
            super::store::complete(dir)
                .into_iter()
                .find(|m| {
                    unix_ms().saturating_sub(m.finished_unix_ms) <= max_age
                        && Verified::read(&dir.join(&m.id)).is_some_and(|v| v.ok)
                })
                .map(|m| m.id)
        }
    };
    let Some(id) = named else {
        return Ok(None);
    };
    let path = super::store::backup_path(dir, &id)?;
    let manifest = Manifest::read(&path)?;
    verify_files(&path, &manifest)?;
    Ok(Some((path, manifest)))
}

/// The target, emptied for a load: replication stopped and reset, the
/// user schemas dropped, without binary logging. Returns the control
/// connection, and the `mariadb` client's arguments to load into it with
/// the option file they name (in `dir`; the caller removes it).
async fn empty_target(
    job: &Job,
    dir: &Path,
) -> Result<(mysql_async::Conn, Vec<String>, PathBuf), BackupError> {
    let target = job.target.as_str();
    let (settings, login) = rebuild_login(job)?;
    let mut conn = take::connect_to(target, &settings).await?;
    for sql in [
        "SET SESSION sql_log_bin = 0",
        "STOP SLAVE",
        "RESET SLAVE ALL",
    ] {
        conn.query_drop(sql)
            .await
            .map_err(|e| failed(target, "stop replication", e))?;
    }
    let schemas: Vec<String> = conn
        .query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        .await
        .map_err(|e| failed(target, "list schemas", e))?;
    for s in schemas
        .iter()
        .filter(|s| !SYSTEM_SCHEMAS.contains(&s.as_str()))
    {
        conn.query_drop(format!("DROP DATABASE `{}`", s.replace('`', "``")))
            .await
            .map_err(|e| failed(target, "drop the user schemas", e))?;
    }
    let options = dir.join(format!(".rebuild-{}.cnf", std::process::id()));
    login.write_option_file(&options)?;
    let mut connect = vec![
        format!("--defaults-extra-file={}", options.display()),
        "--init-command=SET SESSION sql_log_bin=0".to_string(),
    ];
    connect.extend(login.tls_args.iter().cloned());
    Ok((conn, connect, options))
}

/// The loaded target's GTID state: no binary logs of its own, and
/// `gtid_slave_pos` at the backup's position.
async fn set_gtid(
    job: &Job,
    conn: &mut mysql_async::Conn,
    manifest: &Manifest,
) -> Result<(), BackupError> {
    let gtid = crate::failover::sql::quote(&manifest.gtid);
    for sql in [
        "RESET MASTER".to_string(),
        format!("SET GLOBAL gtid_slave_pos = {gtid}"),
    ] {
        conn.query_drop(&sql)
            .await
            .map_err(|e| failed(&job.target, "set the GTID position", e))?;
    }
    Ok(())
}

/// Step 5: the target emptied and loaded with `backup`, at its GTID.
async fn load_into(
    job: &Job,
    dir: &Path,
    backup: &Path,
    manifest: &Manifest,
) -> Result<(), BackupError> {
    let target = job.target.as_str();
    let (mut conn, connect, options) = empty_target(job, dir).await?;
    let mut loaded = Ok(());
    for file in [ACCOUNTS_FILE, DATA_FILE] {
        let (path, connect) = (backup.join(file), connect.clone());
        loaded = tokio::task::spawn_blocking(move || super::load::load(&path, &connect))
            .await
            .unwrap_or_else(|e| Err(failed(target, "load the backup", e)));
        if loaded.is_err() {
            break;
        }
    }
    let _ = std::fs::remove_file(&options);
    loaded?;
    set_gtid(job, &mut conn, manifest).await?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// Steps 4 and 5 from a fresh dump of a healthy replica other than the
/// target (the one named): the target emptied, then the dump executed on
/// it as it is read, while it is also written to `dir` as a backup.
/// Returns that backup's manifest; the target is at its GTID.
async fn stream_into(job: &Job, snap: &Snapshot, dir: &Path) -> Result<Manifest, BackupError> {
    let mut others = snap.clone();
    others.servers.retain(|s| s.address != job.target);
    let from = match &job.source {
        Source::Replica(a) => Some(a.as_str()),
        _ => None,
    };
    let mut backup = super::prepare(&super::Start {
        config: &job.config,
        snapshot: &others,
        monitor: job.monitor.clone(),
        settings: job.settings.clone(),
        from,
    })?;
    backup.id = super::store::new_id(dir, unix_ms());
    let (mut conn, connect, options) = empty_target(job, dir).await?;
    backup.stream_into = Some(connect);
    let taken = take::take(&backup).await;
    let _ = std::fs::remove_file(&options);
    let manifest = taken?;
    verify_files(&dir.join(&manifest.id), &manifest)?;
    set_gtid(job, &mut conn, &manifest).await?;
    let _ = conn.disconnect().await;
    Ok(manifest)
}

/// The program that copies binary logs.
fn binlog_program() -> Result<&'static str, BackupError> {
    ["/usr/bin/mariadb-binlog", "/usr/bin/mysqlbinlog"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| {
            BackupError::NoClient("/usr/bin/mariadb-binlog, /usr/bin/mysqlbinlog".into())
        })
}

#[cfg(test)]
mod tests {
    use super::Source;

    #[test]
    fn a_source_survives_being_forwarded() {
        for source in [
            Source::Auto,
            Source::Backup("20261207-101500".into()),
            Source::Replica("127.0.0.1:3307".into()),
        ] {
            let spec = source.to_spec();
            let back = Source::from_spec(spec.as_deref()).unwrap();
            assert_eq!(back.describe(), source.describe());
        }
        assert!(Source::from_spec(Some("tape:7")).is_err());
    }
}
