//! Test support: the real `sqlyard` binary as a child process, with its
//! config file in a temp dir (so it can be rewritten and reloaded with
//! SIGHUP) and its log (stderr) readable while it runs.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use sqlyard::sandbox::{pick_free_port, Topology};

use crate::procs::{Output, Running};

/// The sqlyard binary running in front of a topology.
pub struct RouterProcess {
    pub proc: Running,
    pub port: u16,
    pub admin_port: u16,
    pub config: PathBuf,
    /// The config text the router was started with.
    pub text: String,
    pub dir: tempfile::TempDir,
}

impl RouterProcess {
    /// Writes the topology's router config, edited by `edit`, and starts
    /// the binary on it with `RUST_LOG=rust_log`; waits until it serves.
    pub async fn start(topo: &Topology, rust_log: &str, edit: impl FnOnce(&mut String)) -> Self {
        Self::start_with_env(topo, rust_log, &[], edit).await
    }

    /// [`RouterProcess::start`] with extra environment variables.
    pub async fn start_with_env(
        topo: &Topology,
        rust_log: &str,
        env: &[(&str, &str)],
        edit: impl FnOnce(&mut String),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = pick_free_port().unwrap();
        let admin_port = pick_free_port().unwrap();
        let metrics = pick_free_port().unwrap();
        let mut text = topo.router_config_toml(port, admin_port, metrics);
        edit(&mut text);
        let config = dir.path().join("sqlyard.toml");
        std::fs::write(&config, &text).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sqlyard"));
        cmd.arg("--config")
            .arg(&config)
            .env("RUST_LOG", rust_log)
            .env_remove("RUST_LOG_STYLE")
            .envs(env.iter().copied());
        let r = RouterProcess {
            proc: Running::spawn(cmd),
            port,
            admin_port,
            config,
            text,
            dir,
        };
        r.wait_serving().await;
        r
    }

    /// A field of /proc/PID/status in bytes (VmHWM, VmRSS, ...).
    pub fn status_bytes(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.proc.pid()))
            .expect("router process is alive");
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("{field} in /proc/PID/status"));
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        kb * 1024
    }

    pub fn peak(&self) -> u64 {
        self.status_bytes("VmHWM")
    }

    pub fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.proc.pid()).unwrap()
    }

    /// Sends `sig` to the router process.
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Replaces the config file (not atomically: the router reads it only
    /// on SIGHUP).
    pub fn write_config(&self, text: &str) {
        std::fs::write(&self.config, text).unwrap();
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.proc.printed().1
    }

    /// Sends SIGHUP and waits for the answer line (`SIGHUP: ...` after the
    /// `reloading` line); returns that line.
    pub async fn reload(&self) -> String {
        let before = self.log().matches("SIGHUP: ").count();
        self.signal(libc::SIGHUP);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            let lines: Vec<&str> = log.lines().filter(|l| l.contains("SIGHUP: ")).collect();
            // every reload logs two lines: "reloading", then the outcome
            if lines.len() >= before + 2 && lines.len() % 2 == 0 {
                return lines[lines.len() - 1].to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no reload outcome in the log:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut c) = mysql_async::Conn::new(super::common::app_opts(self.port)).await {
                if c.query_drop("SELECT 1").await.is_ok() {
                    c.disconnect().await.unwrap();
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "sqlyard binary never served: {:?}",
                self.proc.printed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the process to exit (panics after `limit`).
    pub async fn wait_exit(self, limit: Duration) -> Output {
        let RouterProcess { proc, dir, .. } = self;
        let out = tokio::task::spawn_blocking(move || proc.wait(limit))
            .await
            .unwrap();
        drop(dir);
        out
    }
}

/// mysql_async options for `user` on `port`.
pub fn user_opts(port: u16, user: &str, password: &str) -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(password))
        .prefer_socket(false)
}

/// `[[users]]` entry text.
pub fn user_entry(name: &str, password: &str) -> String {
    format!("\n[[users]]\nname = \"{name}\"\npassword = \"{password}\"\n")
}

/// Creates (or resets) a MariaDB account on the primary, replicated to the
/// replicas, with all privileges on `db`.
pub async fn create_account(topo: &Topology, user: &str, password: &str, db: &str) {
    let primary = topo.primary();
    for sql in [
        format!("CREATE DATABASE IF NOT EXISTS `{db}`"),
        format!("CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}'"),
        format!("ALTER USER '{user}'@'%' IDENTIFIED BY '{password}'"),
        format!("GRANT ALL ON `{db}`.* TO '{user}'@'%'"),
    ] {
        primary.exec_root(&sql).await.unwrap();
    }
}
