//! Creating a MariaDB datadir (system tables, users, databases) per node is
//! slow; copying one is fast. This file builds ONE template datadir per
//! (MariaDB version, setup) with `mariadb-install-db`, caches it under the
//! system temp directory, and copies it for each node.
//!
//! The template is built with the binlog off, so every node copied from it
//! starts with an empty GTID history. Users and databases are created by
//! install-db's `--extra-file` during bootstrap, so they exist on every node
//! from the start (equivalent to creating them on the primary before the
//! replicas attach, without any GTID events). The cache directory is built
//! under a private name and renamed into place, so concurrent processes never
//! see a half-built template.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::binaries::{binaries, running_as_root, short_version, socket_user};
use super::config::{render_template_cnf, ServerPaths, COMMON_SETTINGS};
use super::error::SandboxError;
use super::users::{
    APP_PASSWORD, APP_USER, BACKUP_PASSWORD, BACKUP_USER, REBUILD_PASSWORD, REBUILD_USER,
    REPL_PASSWORD, REPL_USER, ROUTER_PASSWORD, ROUTER_USER, SANDBOX_DATABASES,
};

/// Bump when the template layout changes in a way the hash does not see.
const TEMPLATE_FORMAT: &str = "sqlyard-template-v1";
/// File that marks a finished template.
const READY_MARKER: &str = "TEMPLATE_READY";
/// Prefix of directories that are still being built (owner pid follows).
pub(crate) const BUILD_PREFIX: &str = "sqlyard-template-build-";
/// Prefix of finished, cached templates.
pub(crate) const CACHE_PREFIX: &str = "sqlyard-template-";

/// Privileges of the application user: everything an application does,
/// none of the administrative ones (no SUPER, READ_ONLY ADMIN, FILE, ...).
/// `KILL QUERY` of its own threads and `LOAD DATA LOCAL` need nothing more.
const APP_PRIVILEGES: &str = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, \
INDEX, ALTER, SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, CREATE VIEW, \
SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER, DELETE HISTORY";

/// The router's monitor/failover account, as MARIADB-NOTES.md lists, plus
/// SHUTDOWN for the `shutdown` fencing step (`failover.fence`).
const ROUTER_PRIVILEGES: &str = "SUPER, RELOAD, PROCESS, BINLOG MONITOR, BINLOG ADMIN, \
REPLICATION SLAVE, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, SLAVE MONITOR, \
READ_ONLY ADMIN, CONNECTION ADMIN, SHUTDOWN";

/// The backup account (`[backup] user`): a consistent dump with its GTID
/// position (`--single-transaction --master-data --gtid`), the accounts
/// (`--system=users`: SELECT on mysql.*), and the SQL thread of the
/// replica it reads from stopped and started again.
const BACKUP_PRIVILEGES: &str = "SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, \
BINLOG MONITOR, SLAVE MONITOR, REPLICATION SLAVE ADMIN";

/// The SQL run once, in bootstrap mode, to set up the template.
pub(crate) fn setup_sql() -> String {
    let mut sql = String::new();
    // Bootstrap runs without grant tables loaded; load them so account
    // statements work.
    sql.push_str("FLUSH PRIVILEGES;\n");
    // Anonymous accounts would shadow 'app'@'%' for local logins.
    sql.push_str("DELETE FROM mysql.global_priv WHERE User = '';\n");
    // install-db adds a proxy grant for root@<hostname>, which only draws a
    // warning under skip_name_resolve.
    sql.push_str("DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';\n");
    sql.push_str("FLUSH PRIVILEGES;\n");
    for (user, password) in [
        (APP_USER, APP_PASSWORD),
        (ROUTER_USER, ROUTER_PASSWORD),
        (REPL_USER, REPL_PASSWORD),
        (BACKUP_USER, BACKUP_PASSWORD),
        (REBUILD_USER, REBUILD_PASSWORD),
    ] {
        sql.push_str(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('{password}');\n"
        ));
    }
    for db in SANDBOX_DATABASES {
        sql.push_str(&format!("CREATE DATABASE `{db}`;\n"));
    }
    sql.push_str(&format!(
        "GRANT {APP_PRIVILEGES} ON *.* TO '{APP_USER}'@'%';\n"
    ));
    sql.push_str(&format!(
        "GRANT {ROUTER_PRIVILEGES} ON *.* TO '{ROUTER_USER}'@'%';\n"
    ));
    sql.push_str(&format!(
        "GRANT SELECT ON mysql.* TO '{ROUTER_USER}'@'%';\n"
    ));
    sql.push_str(&format!(
        "GRANT ALL PRIVILEGES ON `sqlyard`.* TO '{ROUTER_USER}'@'%';\n"
    ));
    sql.push_str(&format!(
        "GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'%';\n"
    ));
    sql.push_str(&format!(
        "GRANT {BACKUP_PRIVILEGES} ON *.* TO '{BACKUP_USER}'@'%';\n"
    ));
    sql.push_str(&format!(
        "GRANT ALL PRIVILEGES ON *.* TO '{REBUILD_USER}'@'%' WITH GRANT OPTION;\n"
    ));
    // The accounts of a backup include root's PROXY grant, which only an
    // account holding it WITH GRANT OPTION may repeat. GRANT PROXY has no
    // grantor in bootstrap mode: the row is written directly.
    sql.push_str(&format!(
        "INSERT INTO mysql.proxies_priv (Host, User, Proxied_host, Proxied_user, With_grant, Grantor) \
         VALUES ('%', '{REBUILD_USER}', '', '', 1, 'root@localhost');\nFLUSH PRIVILEGES;\n"
    ));
    sql
}

fn cache_key(version_banner: &str) -> String {
    let mut hash = Sha256::new();
    for part in [
        TEMPLATE_FORMAT,
        version_banner,
        COMMON_SETTINGS,
        &setup_sql(),
        &socket_user(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    hex::encode(&hash.finalize()[..8])
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError {
    let path = path.to_path_buf();
    move |source| SandboxError::Io {
        action,
        path,
        source,
    }
}

/// Returns the cached template's datadir, building it first if needed.
/// Blocking; serialised within the process.
pub fn template_datadir() -> Result<PathBuf, SandboxError> {
    static BUILD_LOCK: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    let _guard = BUILD_LOCK.lock();

    let bins = binaries()?;
    let root = std::env::temp_dir();
    let name = format!(
        "{CACHE_PREFIX}{}-{}",
        short_version(&bins.version),
        cache_key(&bins.version)
    );
    let final_dir = root.join(&name);
    if final_dir.join(READY_MARKER).is_file() {
        return Ok(final_dir.join("data"));
    }

    static BUILD_SEQ: AtomicU64 = AtomicU64::new(0);
    let build_dir = root.join(format!(
        "{BUILD_PREFIX}{}-{}",
        std::process::id(),
        BUILD_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = build(&build_dir, &bins.install_db);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&build_dir);
        return Err(e);
    }
    match std::fs::rename(&build_dir, &final_dir) {
        Ok(()) => {}
        // Another process won the race (or left a broken dir behind).
        Err(_) if final_dir.join(READY_MARKER).is_file() => {
            let _ = std::fs::remove_dir_all(&build_dir);
        }
        Err(_) => {
            // A leftover without the marker: replace it.
            let _ = std::fs::remove_dir_all(&final_dir);
            std::fs::rename(&build_dir, &final_dir).map_err(io_err("rename", &build_dir))?;
        }
    }
    Ok(final_dir.join("data"))
}

fn build(dir: &Path, install_db: &Path) -> Result<(), SandboxError> {
    std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let datadir = dir.join("data");
    let cnf = dir.join("my.cnf");
    let sql_file = dir.join("setup.sql");
    let error_log = dir.join("error.log");
    let socket = dir.join("s.sock");
    let pid_file = dir.join("mariadbd.pid");
    let paths = ServerPaths {
        datadir: &datadir,
        socket: &socket,
        pid_file: &pid_file,
        error_log: &error_log,
    };
    std::fs::write(&cnf, render_template_cnf(&paths, running_as_root()))
        .map_err(io_err("write", &cnf))?;
    std::fs::write(&sql_file, setup_sql()).map_err(io_err("write", &sql_file))?;

    let mut cmd = Command::new(install_db);
    // --defaults-file must come first.
    cmd.arg(format!("--defaults-file={}", cnf.display()))
        .arg("--auth-root-authentication-method=socket")
        .arg("--skip-test-db")
        .arg(format!("--extra-file={}", sql_file.display()))
        .stdin(Stdio::null());
    if !running_as_root() {
        cmd.arg(format!("--auth-root-socket-user={}", socket_user()));
    }
    let output = cmd.output().map_err(|source| SandboxError::Spawn {
        program: install_db.to_path_buf(),
        source,
    })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        text.push_str(&super::node::tail_of_file(&error_log, 30));
        return Err(SandboxError::InstallDb {
            status: output.status,
            output_tail: last_lines(&text, 30),
        });
    }
    // Only the datadir is kept; nothing else there may leak into nodes.
    for leftover in ["ib_buffer_pool", "mariadbd.pid", "s.sock"] {
        let _ = std::fs::remove_file(datadir.join(leftover));
    }
    let mut marker = std::fs::File::create(dir.join(READY_MARKER))
        .map_err(io_err("create", &dir.join(READY_MARKER)))?;
    let _ = writeln!(marker, "{}", std::process::id());
    Ok(())
}

pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Copies a directory tree (regular files and directories only).
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<(), SandboxError> {
    std::fs::create_dir_all(dst).map_err(io_err("create", dst))?;
    for entry in std::fs::read_dir(src).map_err(io_err("read", src))? {
        let entry = entry.map_err(io_err("read", src))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let kind = entry.file_type().map_err(io_err("stat", &from))?;
        if kind.is_dir() {
            copy_tree(&from, &to)?;
        } else if kind.is_file() {
            std::fs::copy(&from, &to).map_err(io_err("copy", &from))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_sql_creates_users_without_super_for_app() {
        let sql = setup_sql();
        assert!(sql.contains("CREATE USER 'app'@'%'"));
        assert!(sql.contains("CREATE USER 'router'@'%'"));
        assert!(sql.contains("CREATE USER 'repl'@'%'"));
        assert!(sql.contains("mysql_native_password"));
        let app_grant = sql
            .lines()
            .find(|l| l.starts_with("GRANT") && l.contains("'app'"))
            .unwrap();
        assert!(!app_grant.contains("SUPER"));
        assert!(!app_grant.contains("READ_ONLY ADMIN"));
        assert!(!app_grant.contains("ALL PRIVILEGES"));
        for db in ["sqlyard", "sbtest", "test"] {
            assert!(sql.contains(&format!("CREATE DATABASE `{db}`")));
        }
    }

    #[test]
    fn cache_key_depends_on_version() {
        assert_ne!(cache_key("a"), cache_key("b"));
        assert_eq!(cache_key("a"), cache_key("a"));
    }

    #[test]
    fn copies_a_tree() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("sub")).unwrap();
        std::fs::write(src.path().join("sub/f"), b"hello").unwrap();
        let dst = tempfile::tempdir().unwrap();
        copy_tree(src.path(), &dst.path().join("copy")).unwrap();
        assert_eq!(
            std::fs::read(dst.path().join("copy/sub/f")).unwrap(),
            b"hello"
        );
        assert_eq!(last_lines("a\nb\nc", 2), "b\nc");
    }
}
