//! One sandbox mariadbd: its directory and option file, and everything a test
//! does to a single server: start and wait until ready, kill -9 (waiting
//! until it is truly gone, zombie included), freeze (SIGSTOP), resume
//! (SIGCONT), graceful stop, restart on the same datadir and port, and
//! fresh connections as root (unix socket) or as a user (TCP).
//!
//! Connections are created per call and never pooled: mysql_async pools are
//! bound to the tokio runtime that created them, and every `#[tokio::test]`
//! has its own runtime.

use std::fs::OpenOptions;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{Conn, Opts, OptsBuilder};

use super::binaries::{binaries, running_as_root, socket_user};
use super::config::{render_node_cnf, NodeConfig, ServerPaths};
use super::error::{redact_sql, SandboxError, StartFailure, WaitTarget};
use super::process::{self, ChildWait};
use super::template::copy_tree;

/// How long a server may take to accept connections after spawn.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful shutdown may take before SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest unix socket path (sun_path is 108 bytes, NUL included).
const MAX_SOCKET_PATH: usize = 107;

/// What the sandbox knows about a node's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// The process runs (it may still be starting).
    Running,
    /// The process is stopped by SIGSTOP.
    Frozen,
    /// No process: killed, stopped, or never started.
    Down,
}

#[derive(Debug, Default)]
struct ProcessSlot {
    child: Option<Child>,
    frozen: bool,
    /// Length of the error log when the current process was spawned.
    log_offset: u64,
}

/// One mariadbd of a sandbox topology.
#[derive(Debug)]
pub struct Node {
    index: usize,
    server_id: u32,
    port: u16,
    /// The address it listens on (`SandboxOptions::bind_address`).
    host: std::net::IpAddr,
    dir: PathBuf,
    datadir: PathBuf,
    socket: PathBuf,
    config_path: PathBuf,
    error_log: PathBuf,
    pid_file: PathBuf,
    /// Replication timing left at MariaDB's defaults (see `SandboxOptions`).
    mariadb_defaults: bool,
    /// TLS with `require_secure_transport=ON` (a `--tls` sandbox).
    tls: Option<super::certs::TlsFiles>,
    slot: parking_lot::Mutex<ProcessSlot>,
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError {
    let path = path.to_path_buf();
    move |source| SandboxError::Io {
        action,
        path,
        source,
    }
}

/// The last `lines` lines of a file ("" if it cannot be read).
pub(crate) fn tail_of_file(path: &Path, lines: usize) -> String {
    tail_from(path, 0, lines)
}

fn tail_from(path: &Path, offset: u64, lines: usize) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    // Read at most the last 64 KiB after `offset`.
    let start = offset.max(len.saturating_sub(64 * 1024));
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    super::template::last_lines(&String::from_utf8_lossy(&bytes), lines)
}

impl Node {
    /// Creates the node's directory, datadir (copied from `template`) and
    /// option file. Starts nothing.
    pub(crate) fn prepare(
        index: usize,
        port: u16,
        topology_dir: &Path,
        template: &Path,
        options: &super::SandboxOptions,
        tls: Option<super::certs::TlsFiles>,
    ) -> Result<Node, SandboxError> {
        let semi_sync_timeout_ms = options.semi_sync.then_some(options.semi_sync_timeout_ms);
        let mariadb_defaults = options.mariadb_defaults;
        let host = options.bind_address;
        let server_id = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let dir = topology_dir.join(format!("node{index}"));
        let datadir = dir.join("data");
        let socket = dir.join("mariadbd.sock");
        let config_path = dir.join("my.cnf");
        let error_log = dir.join("error.log");
        let pid_file = dir.join("mariadbd.pid");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(SandboxError::SocketPathTooLong {
                path: socket,
                max: MAX_SOCKET_PATH,
            });
        }
        if !datadir.exists() {
            copy_tree(template, &datadir)?;
        }
        let tmpdir = dir.join("tmp");
        std::fs::create_dir_all(&tmpdir).map_err(io_err("create", &tmpdir))?;
        let cnf = render_node_cnf(&NodeConfig {
            paths: ServerPaths {
                datadir: &datadir,
                socket: &socket,
                pid_file: &pid_file,
                error_log: &error_log,
            },
            server_id,
            port,
            host,
            semi_sync_timeout_ms,
            mariadb_defaults,
            run_as_root: running_as_root(),
            tls: tls.as_ref(),
            tmpdir: &tmpdir,
        });
        std::fs::write(&config_path, cnf).map_err(io_err("write", &config_path))?;
        Ok(Node {
            index,
            server_id,
            port,
            host,
            dir,
            datadir,
            socket,
            config_path,
            error_log,
            pid_file,
            mariadb_defaults,
            tls,
            slot: parking_lot::Mutex::new(ProcessSlot::default()),
        })
    }

    /// Position of this node in its topology (0-based).
    pub fn index(&self) -> usize {
        self.index
    }
    /// The server_id (index + 1).
    pub fn server_id(&self) -> u32 {
        self.server_id
    }
    /// The TCP port (on [`Node::host`]).
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The address it listens on (127.0.0.1 unless the sandbox was given
    /// another).
    pub fn host(&self) -> std::net::IpAddr {
        self.host
    }
    /// "HOST:PORT", e.g. "127.0.0.1:23301".
    pub fn address(&self) -> String {
        std::net::SocketAddr::new(self.host, self.port).to_string()
    }
    /// The node's own directory (datadir, option file, logs, socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The datadir.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }
    /// The unix socket path.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }
    /// The option file (`mariadb --defaults-file=<this>` logs in as root).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }
    /// The server's error log.
    pub fn error_log_path(&self) -> &Path {
        &self.error_log
    }
    /// The server's pid file.
    pub fn pid_file_path(&self) -> &Path {
        &self.pid_file
    }
    /// The last `lines` lines of the error log.
    pub fn error_log_tail(&self, lines: usize) -> String {
        tail_of_file(&self.error_log, lines)
    }

    /// The pid of the current process, if one was started and not reaped.
    pub fn pid(&self) -> Option<u32> {
        self.slot.lock().child.as_ref().map(Child::id)
    }

    /// Running, frozen or down (reaps the process if it died on its own).
    pub fn state(&self) -> NodeState {
        let mut slot = self.slot.lock();
        let exited = match slot.child.as_mut() {
            None => return NodeState::Down,
            Some(child) => !matches!(child.try_wait(), Ok(None)),
        };
        if exited {
            slot.child = None;
            slot.frozen = false;
            return NodeState::Down;
        }
        if slot.frozen {
            NodeState::Frozen
        } else {
            NodeState::Running
        }
    }

    /// True if the process exists and is not a zombie (frozen counts as alive).
    pub fn is_alive(&self) -> bool {
        self.state() != NodeState::Down
    }

    fn spawn(&self) -> Result<(), SandboxError> {
        let bins = binaries()?;
        let mut slot = self.slot.lock();
        if let Some(child) = slot.child.as_mut() {
            if matches!(child.try_wait(), Ok(None)) {
                return Ok(());
            }
        }
        let _ = std::fs::remove_file(&self.socket);
        let out_path = self.dir.join("stdout.log");
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .map_err(io_err("open", &out_path))?;
        let err = out.try_clone().map_err(io_err("open", &out_path))?;
        let mut cmd = Command::new(&bins.mariadbd);
        cmd.arg(format!("--defaults-file={}", self.config_path.display()))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .current_dir(&self.dir);
        slot.log_offset = std::fs::metadata(&self.error_log)
            .map(|m| m.len())
            .unwrap_or(0);
        slot.child = Some(process::spawn_tied(cmd)?);
        slot.frozen = false;
        Ok(())
    }

    fn start_failed(&self, reason: StartFailure, offset: u64) -> SandboxError {
        SandboxError::StartFailed {
            node: self.index,
            port: self.port,
            reason,
            log_tail: tail_from(&self.error_log, offset, 40),
        }
    }

    /// Waits until the server accepts root logins on its socket.
    async fn wait_ready(&self, timeout: Duration) -> Result<(), SandboxError> {
        let started = Instant::now();
        loop {
            let (exited, offset) = {
                let mut slot = self.slot.lock();
                let offset = slot.log_offset;
                match slot.child.as_mut() {
                    None => return Err(SandboxError::NotRunning { node: self.index }),
                    Some(child) => match child.try_wait() {
                        Ok(Some(status)) => {
                            slot.child = None;
                            (Some(status), offset)
                        }
                        _ => (None, offset),
                    },
                }
            };
            if let Some(status) = exited {
                let since_start = tail_from(&self.error_log, offset, 200);
                let reason = if since_start.contains("Address already in use")
                    || since_start.contains("Bind on TCP/IP port")
                {
                    StartFailure::PortInUse
                } else {
                    StartFailure::Exited(status)
                };
                return Err(self.start_failed(reason, offset));
            }
            if self.socket.exists() {
                if let Ok(Ok(mut conn)) =
                    tokio::time::timeout(Duration::from_secs(2), Conn::new(self.root_opts())).await
                {
                    let ok = conn.query_drop("SELECT 1").await.is_ok();
                    let _ = conn.disconnect().await;
                    if ok {
                        return Ok(());
                    }
                }
            }
            if started.elapsed() >= timeout {
                let _ = self.kill();
                return Err(self.start_failed(StartFailure::NotReadyAfter(timeout), offset));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Spawns mariadbd (if not already running) and waits until it is ready.
    pub async fn start(&self) -> Result<(), SandboxError> {
        self.spawn()?;
        self.wait_ready(START_TIMEOUT).await
    }

    /// Spawns without waiting (used to start several nodes in parallel).
    pub(crate) fn start_nowait(&self) -> Result<(), SandboxError> {
        self.spawn()
    }

    /// Waits for a node spawned with `start_nowait`.
    pub(crate) async fn wait_started(&self) -> Result<(), SandboxError> {
        self.wait_ready(START_TIMEOUT).await
    }

    /// SIGKILL, then wait until the process is really gone (reaped, so no
    /// zombie is left). A no-op on a node that is down.
    pub fn kill(&self) -> Result<(), SandboxError> {
        let mut slot = self.slot.lock();
        let Some(child) = slot.child.as_mut() else {
            return Ok(());
        };
        let pid = child.id();
        // ESRCH only means it is already dead (maybe a zombie).
        let _ = process::send_signal(pid, libc::SIGKILL);
        match process::wait_child_blocking(child, Duration::from_secs(30)) {
            ChildWait::Exited | ChildWait::Gone => {
                slot.child = None;
                slot.frozen = false;
                Ok(())
            }
            ChildWait::StillRunning => Err(SandboxError::Timeout {
                target: WaitTarget::Exit { node: self.index },
                after: Duration::from_secs(30),
            }),
        }
    }

    /// SIGSTOP: the server stays up but answers nothing (a hung host).
    /// Returns once the kernel reports the process as stopped.
    pub fn freeze(&self) -> Result<(), SandboxError> {
        let mut slot = self.slot.lock();
        let Some(pid) = slot.child.as_ref().map(Child::id) else {
            return Err(SandboxError::NotRunning { node: self.index });
        };
        process::send_signal(pid, libc::SIGSTOP)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !process::pid_stopped(pid) {
            if Instant::now() >= deadline {
                return Err(SandboxError::Timeout {
                    target: WaitTarget::Frozen { node: self.index },
                    after: Duration::from_secs(10),
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        slot.frozen = true;
        Ok(())
    }

    /// SIGCONT: undo [`Node::freeze`].
    pub fn resume(&self) -> Result<(), SandboxError> {
        let mut slot = self.slot.lock();
        let Some(pid) = slot.child.as_ref().map(Child::id) else {
            return Err(SandboxError::NotRunning { node: self.index });
        };
        process::send_signal(pid, libc::SIGCONT)?;
        slot.frozen = false;
        Ok(())
    }

    /// Graceful shutdown (SIGTERM, wait; SIGKILL after [`STOP_TIMEOUT`]).
    pub async fn stop(&self) -> Result<(), SandboxError> {
        let pid = {
            let mut slot = self.slot.lock();
            let Some(pid) = slot.child.as_ref().map(Child::id) else {
                return Ok(());
            };
            if slot.frozen {
                let _ = process::send_signal(pid, libc::SIGCONT);
                slot.frozen = false;
            }
            pid
        };
        let _ = process::send_signal(pid, libc::SIGTERM);
        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT {
            {
                let mut slot = self.slot.lock();
                match slot.child.as_mut() {
                    None => return Ok(()),
                    Some(child) => {
                        if !matches!(child.try_wait(), Ok(None)) {
                            slot.child = None;
                            return Ok(());
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kill()
    }

    /// Kills the server, then replaces its datadir with a fresh copy of
    /// `template` (an empty server, as after a rebuild from scratch).
    pub(crate) fn wipe(&self, template: &Path) -> Result<(), SandboxError> {
        self.kill()?;
        if self.datadir.exists() {
            std::fs::remove_dir_all(&self.datadir).map_err(io_err("remove", &self.datadir))?;
        }
        copy_tree(template, &self.datadir)
    }

    /// Whether replication timing is left at MariaDB's defaults.
    pub fn mariadb_defaults(&self) -> bool {
        self.mariadb_defaults
    }

    /// Stops the server if it runs (gracefully), then starts it again on the
    /// same datadir and port and waits until ready. It boots `read_only=ON`
    /// (from its option file); a replica resumes replication by itself.
    pub async fn restart(&self) -> Result<(), SandboxError> {
        self.stop().await?;
        self.start().await
    }

    /// Options for a root login over the unix socket.
    pub fn root_opts(&self) -> Opts {
        OptsBuilder::default()
            .socket(Some(self.socket.to_string_lossy().into_owned()))
            .user(Some(socket_user()))
            .prefer_socket(false)
            .into()
    }

    /// Options for a TCP login to host:port. `prefer_socket` is off:
    /// otherwise mysql_async silently moves loopback connections to the
    /// server's unix socket.
    /// Over TLS (verified against the sandbox CA) when the node has TLS.
    pub fn user_opts(&self, user: &str, password: &str) -> OptsBuilder {
        let opts = OptsBuilder::default()
            .ip_or_hostname(self.host.to_string())
            .tcp_port(self.port)
            .user(Some(user))
            .pass(Some(password))
            .prefer_socket(false);
        match &self.tls {
            Some(tls) => opts.ssl_opts(
                mysql_async::SslOpts::default().with_root_certs(vec![tls.ca.clone().into()]),
            ),
            None => opts,
        }
    }

    /// The certificates of a TLS node.
    pub fn tls_files(&self) -> Option<&super::certs::TlsFiles> {
        self.tls.as_ref()
    }

    async fn connect(&self, opts: Opts) -> Result<Conn, SandboxError> {
        match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(source)) => Err(SandboxError::Connect {
                node: self.index,
                source,
            }),
            Err(_) => Err(SandboxError::Timeout {
                target: WaitTarget::Connect { node: self.index },
                after: CONNECT_TIMEOUT,
            }),
        }
    }

    /// A fresh root connection over the unix socket (bound to the caller's runtime).
    pub async fn root_conn(&self) -> Result<Conn, SandboxError> {
        self.connect(self.root_opts()).await
    }

    /// A fresh TCP connection as `user`.
    pub async fn user_conn(&self, user: &str, password: &str) -> Result<Conn, SandboxError> {
        self.connect(self.user_opts(user, password).into()).await
    }

    fn sql_err(&self, sql: &str) -> impl FnOnce(mysql_async::Error) -> SandboxError {
        let node = self.index;
        let sql = redact_sql(sql);
        move |source| SandboxError::Sql { node, sql, source }
    }

    /// Runs `sql` as root and returns all rows.
    pub async fn query_root<T>(&self, sql: &str) -> Result<Vec<T>, SandboxError>
    where
        T: FromRow + Send + 'static,
    {
        let mut conn = self.root_conn().await?;
        let rows = conn.query(sql).await.map_err(self.sql_err(sql));
        let _ = conn.disconnect().await;
        rows
    }

    /// Runs `sql` as root and returns the first row, if any.
    pub async fn query_root_first<T>(&self, sql: &str) -> Result<Option<T>, SandboxError>
    where
        T: FromRow + Send + 'static,
    {
        let mut conn = self.root_conn().await?;
        let row = conn.query_first(sql).await.map_err(self.sql_err(sql));
        let _ = conn.disconnect().await;
        row
    }

    /// Runs one or more statements as root, discarding results.
    pub async fn exec_root(&self, sql: &str) -> Result<(), SandboxError> {
        let mut conn = self.root_conn().await?;
        let done = conn.query_drop(sql).await.map_err(self.sql_err(sql));
        let _ = conn.disconnect().await;
        done
    }

    /// A single value (first column of the first row) as root.
    pub(crate) async fn scalar_root<T>(&self, sql: &str) -> Result<T, SandboxError>
    where
        T: mysql_async::prelude::FromValue + Send + 'static,
    {
        self.query_root_first::<(T,)>(sql)
            .await?
            .map(|(v,)| v)
            .ok_or_else(|| SandboxError::UnexpectedResult {
                node: self.index,
                sql: redact_sql(sql),
            })
    }

    /// `@@read_only`.
    pub async fn is_read_only(&self) -> Result<bool, SandboxError> {
        self.scalar_root::<bool>("SELECT @@global.read_only").await
    }

    /// `@@gtid_current_pos`.
    pub async fn gtid_current_pos(&self) -> Result<String, SandboxError> {
        self.scalar_root::<String>("SELECT @@global.gtid_current_pos")
            .await
    }

    /// `@@gtid_binlog_pos` (what this node has written to its binlog).
    pub async fn gtid_binlog_pos(&self) -> Result<String, SandboxError> {
        self.scalar_root::<String>("SELECT @@global.gtid_binlog_pos")
            .await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_reads_only_after_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "old line\nnew 1\nnew 2\n").unwrap();
        assert_eq!(tail_from(&path, 9, 10), "new 1\nnew 2");
        assert_eq!(tail_of_file(&path, 1), "new 2");
        assert_eq!(tail_of_file(&dir.path().join("missing"), 5), "");
    }
}
