//! Tests and `sqlyard sandbox` need a whole replicated cluster, not single
//! servers: one primary and N GTID replicas on loopback, started fast, wired
//! correctly, disturbed on demand (kill, freeze, restart), and always cleaned
//! up. This file is that cluster: `Topology::start` and its handle.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::certs::TlsFiles;
use super::cleanup::{sweep_stale_once, write_owner, SANDBOX_PREFIX};
use super::error::{SandboxError, StartFailure, WaitTarget};
use super::node::{Node, NodeState};
use super::ports::pick_free_port;
use super::router_config::{self, RouterPorts};
use super::template::template_datadir;

/// How long replicas may take to start replicating during start-up.
const WIRE_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts to find a free port per node when ports are dynamic.
const PORT_ATTEMPTS: usize = 5;

/// How to start a topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxOptions {
    /// `Some(p)`: node i listens on p + i. `None`: free ports picked at random.
    pub base_port: Option<u16>,
    /// Number of replicas (the primary is node 0).
    pub replicas: usize,
    /// Semi-sync replication (AFTER_SYNC; master side on the primary only).
    pub semi_sync: bool,
    /// `rpl_semi_sync_master_timeout` in milliseconds.
    pub semi_sync_timeout_ms: u64,
    /// Parent of the topology's directory (default: the system temp dir).
    pub base_dir: Option<PathBuf>,
    /// Leave replication timing as MariaDB ships it, as users often do:
    /// `slave_net_timeout` 60 s, hence a replication heartbeat every 30 s,
    /// and a 60 s reconnect interval (the sandbox otherwise uses 4 s, 1 s
    /// and 1 s).
    pub mariadb_defaults: bool,
    /// Generate a CA and certificates (in `<dir>/tls`), give the servers
    /// TLS with `require_secure_transport=ON`, replicate over TLS, and
    /// configure the router for TLS on both sides.
    pub tls: bool,
    /// The address the servers listen on and replicate through (default
    /// 127.0.0.1). Another address lets hosts in other network namespaces
    /// reach them (see [`super::netns`]); it must be one of this host's.
    /// The `tls` certificates name 127.0.0.1 and localhost only, so the two
    /// options do not combine.
    pub bind_address: IpAddr,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            base_port: None,
            replicas: 2,
            semi_sync: false,
            semi_sync_timeout_ms: 5_000,
            base_dir: None,
            mariadb_defaults: false,
            tls: false,
            bind_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}

/// A running sandbox topology. Dropping it SIGKILLs its servers and removes
/// its directory.
#[derive(Debug)]
pub struct Topology {
    dir: PathBuf,
    nodes: Vec<Node>,
    primary: AtomicUsize,
    options: SandboxOptions,
    /// Routers configured for it fail over automatically (see
    /// [`Topology::set_router_auto_failover`]).
    auto_failover: AtomicBool,
    /// The certificates of a `tls` sandbox.
    tls: Option<TlsFiles>,
}

fn new_topology_dir(base: &Path) -> Result<PathBuf, SandboxError> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(base).map_err(|source| SandboxError::Io {
        action: "create",
        path: base.to_path_buf(),
        source,
    })?;
    let dir = base.join(format!(
        "{SANDBOX_PREFIX}{}-{}-{:04x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        rand::random::<u16>()
    ));
    std::fs::create_dir(&dir).map_err(|source| SandboxError::Io {
        action: "create",
        path: dir.clone(),
        source,
    })?;
    write_owner(&dir)?;
    Ok(dir)
}

fn node_port(options: &SandboxOptions, index: usize) -> Result<u16, SandboxError> {
    match options.base_port {
        None => pick_free_port(),
        Some(base) => {
            let port = u32::from(base) + index as u32;
            u16::try_from(port).map_err(|_| SandboxError::PortOverflow { node: index, port })
        }
    }
}

impl Topology {
    /// Starts a primary (node 0, writable) and `options.replicas` replicas.
    ///
    /// Every node is copied from a cached template datadir (users, databases,
    /// empty GTID history), started in parallel, and booted `read_only=ON`.
    /// The primary is then made writable (and semi-sync master, if asked) and
    /// each replica replicates from it with `MASTER_USE_GTID=slave_pos`.
    pub async fn start(options: SandboxOptions) -> Result<Topology, SandboxError> {
        let base = options.base_dir.clone().unwrap_or_else(std::env::temp_dir);
        // mariadbd runs in its node directory: relative paths would break.
        let base = std::path::absolute(&base).map_err(|source| SandboxError::Io {
            action: "resolve",
            path: base.clone(),
            source,
        })?;
        if options.tls && !options.bind_address.is_loopback() {
            return Err(SandboxError::TlsOffLoopback(options.bind_address));
        }
        let count = options.replicas + 1;

        // Filesystem work (template, copies) off the async threads.
        let prep_options = options.clone();
        let (dir, nodes, tls) = tokio::task::spawn_blocking(move || {
            sweep_stale_once(&base);
            let template = template_datadir()?;
            let dir = new_topology_dir(&base)?;
            let tls = if prep_options.tls {
                match TlsFiles::generate(&dir.join("tls")) {
                    Ok(files) => Some(files),
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        return Err(e);
                    }
                }
            } else {
                None
            };
            let mut nodes = Vec::with_capacity(count);
            for index in 0..count {
                let port = match node_port(&prep_options, index) {
                    Ok(port) => port,
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        return Err(e);
                    }
                };
                match Node::prepare(index, port, &dir, &template, &prep_options, tls.clone()) {
                    Ok(node) => nodes.push(node),
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        return Err(e);
                    }
                }
            }
            Ok((dir, nodes, tls))
        })
        .await??;

        // From here on, Drop cleans up whatever happens.
        let mut topology = Topology {
            dir,
            nodes,
            primary: AtomicUsize::new(0),
            options,
            auto_failover: AtomicBool::new(true),
            tls,
        };
        for node in &topology.nodes {
            node.start_nowait()?;
        }
        for index in 0..count {
            topology.wait_node_started(index).await?;
        }
        topology.wire(topology.options.semi_sync).await?;
        Ok(topology)
    }

    /// Waits for node `index`; with dynamic ports, moves it to another port
    /// if its port was taken meanwhile.
    async fn wait_node_started(&mut self, index: usize) -> Result<(), SandboxError> {
        let mut attempt = 1;
        loop {
            let result = self.nodes[index].wait_started().await;
            let port_taken = matches!(
                &result,
                Err(SandboxError::StartFailed {
                    reason: StartFailure::PortInUse,
                    ..
                })
            );
            if !port_taken || self.options.base_port.is_some() || attempt >= PORT_ATTEMPTS {
                return result;
            }
            attempt += 1;
            let port = pick_free_port()?;
            let template = template_datadir()?;
            let node = Node::prepare(
                index,
                port,
                &self.dir,
                &template,
                &self.options,
                self.tls.clone(),
            )?;
            tracing::warn!(node = index, port, "port was taken; retrying on another");
            self.nodes[index] = node;
            self.nodes[index].start_nowait()?;
        }
    }

    async fn wire(&self, semi_sync: bool) -> Result<(), SandboxError> {
        let primary = &self.nodes[0];
        primary.exec_root("SET GLOBAL read_only = OFF").await?;
        if semi_sync {
            primary
                .exec_root("SET GLOBAL rpl_semi_sync_master_enabled = ON")
                .await?;
        }
        for replica in &self.nodes[1..] {
            replica.replicate_from(primary).await?;
        }
        for replica in &self.nodes[1..] {
            replica.wait_replica_running(WIRE_TIMEOUT).await?;
        }
        if semi_sync && self.nodes.len() > 1 {
            self.wait_semi_sync_clients(self.nodes.len() - 1, WIRE_TIMEOUT)
                .await?;
        }
        Ok(())
    }

    async fn wait_semi_sync_clients(
        &self,
        expected: usize,
        timeout: Duration,
    ) -> Result<(), SandboxError> {
        let started = std::time::Instant::now();
        let primary = self.primary();
        loop {
            let row: Option<(String, u64)> = primary
                .query_root_first(
                    "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
                     WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_CLIENTS'",
                )
                .await?;
            if row.is_some_and(|(_, clients)| clients as usize >= expected) {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(SandboxError::Timeout {
                    target: WaitTarget::SemiSyncClients { expected },
                    after: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Rebuilds the topology from scratch, as an operator would: every
    /// server is killed and gets a fresh, empty datadir (same ports, same
    /// server_ids), node 0 becomes the writable primary again and the
    /// others its replicas.
    pub async fn rebuild(&self) -> Result<(), SandboxError> {
        let template = tokio::task::spawn_blocking(template_datadir).await??;
        for node in &self.nodes {
            node.wipe(&template)?;
        }
        for node in &self.nodes {
            node.start_nowait()?;
        }
        for node in &self.nodes {
            node.wait_started().await?;
        }
        let semi_sync = self.options.semi_sync;
        self.wire(semi_sync).await?;
        self.primary.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// The topology's directory (one `nodeN/` per node, plus `owner`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options it was started with.
    pub fn options(&self) -> &SandboxOptions {
        &self.options
    }

    /// All nodes, primary first (until a test changes the primary).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Node `index`.
    pub fn node(&self, index: usize) -> Result<&Node, SandboxError> {
        self.nodes.get(index).ok_or(SandboxError::NoSuchNode {
            index,
            count: self.nodes.len(),
        })
    }

    /// "127.0.0.1:PORT" of every node, in node order.
    pub fn addresses(&self) -> Vec<String> {
        self.nodes.iter().map(Node::address).collect()
    }

    /// Index of the node the sandbox considers the primary (0 at start).
    pub fn primary_index(&self) -> usize {
        self.primary.load(Ordering::SeqCst)
    }

    /// The primary node.
    pub fn primary(&self) -> &Node {
        let index = self.primary_index().min(self.nodes.len() - 1);
        &self.nodes[index]
    }

    /// Records that node `index` is now the primary (after a test promoted it),
    /// so `wait_replicas_caught_up` compares against it.
    pub fn set_primary_index(&self, index: usize) -> Result<(), SandboxError> {
        self.node(index)?;
        self.primary.store(index, Ordering::SeqCst);
        Ok(())
    }

    /// Indexes of all nodes except the primary.
    pub fn replica_indexes(&self) -> Vec<usize> {
        let primary = self.primary_index();
        (0..self.nodes.len()).filter(|&i| i != primary).collect()
    }

    /// SIGKILL node `index` and wait until it is really dead (no zombie).
    pub fn kill(&self, index: usize) -> Result<(), SandboxError> {
        self.node(index)?.kill()
    }

    /// SIGSTOP node `index` (returns once the kernel reports it stopped).
    pub fn freeze(&self, index: usize) -> Result<(), SandboxError> {
        self.node(index)?.freeze()
    }

    /// SIGCONT node `index`.
    pub fn resume(&self, index: usize) -> Result<(), SandboxError> {
        self.node(index)?.resume()
    }

    /// (Re)start node `index` on its datadir and port; it boots read-only.
    pub async fn restart(&self, index: usize) -> Result<(), SandboxError> {
        self.node(index)?.restart().await
    }

    /// Gracefully shuts every node down (the directory stays until drop).
    pub async fn stop(&self) -> Result<(), SandboxError> {
        let mut first_error = None;
        for node in &self.nodes {
            if let Err(e) = node.stop().await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// SIGKILLs every node at once (no waiting for graceful shutdown).
    pub fn kill_all(&self) {
        for node in &self.nodes {
            if let Err(e) = node.kill() {
                tracing::warn!(node = node.index(), error = %e, "cannot kill sandbox node");
            }
        }
    }

    /// Kills every node and removes the topology directory. Drop does this.
    pub fn destroy(&self) {
        self.kill_all();
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove sandbox dir");
            }
        }
    }

    /// Indexes of running (not frozen, not down) nodes with `read_only=OFF`.
    pub async fn writable_nodes(&self) -> Result<Vec<usize>, SandboxError> {
        let mut writable = Vec::new();
        for node in &self.nodes {
            if node.state() == NodeState::Running && !node.is_read_only().await? {
                writable.push(node.index());
            }
        }
        Ok(writable)
    }

    /// Waits until every running replica has applied everything the primary
    /// has binlogged (`@@gtid_binlog_pos` + `MASTER_GTID_WAIT`). Frozen and
    /// down replicas are skipped.
    pub async fn wait_replicas_caught_up(&self, timeout: Duration) -> Result<(), SandboxError> {
        let primary = self.primary();
        if primary.state() != NodeState::Running {
            return Err(SandboxError::NotRunning {
                node: primary.index(),
            });
        }
        let gtid = primary.gtid_binlog_pos().await?;
        for index in self.replica_indexes() {
            let replica = &self.nodes[index];
            if replica.state() == NodeState::Running {
                replica.wait_gtid_applied(&gtid, timeout).await?;
            }
        }
        Ok(())
    }

    /// The router config (examples/sqlyard.toml with this topology's servers
    /// and the given listener ports) as text.
    pub fn router_config_toml(
        &self,
        listen_port: u16,
        admin_port: u16,
        metrics_port: u16,
    ) -> String {
        router_config::render_router_config_with(
            &self.addresses(),
            RouterPorts {
                listen: listen_port,
                admin: admin_port,
                metrics: metrics_port,
            },
            &self.failover_setup(listen_port),
        )
    }

    /// The failover journal of a router listening on `listen_port` lives in
    /// this topology's directory (removed with it); automatic failover is
    /// off on the shared test topology (many routers watch it at once).
    fn failover_setup(&self, listen_port: u16) -> router_config::RouterSetup {
        router_config::RouterSetup {
            journal: self.dir.join(format!("failover-{listen_port}.journal")),
            backups: Some(self.dir.join(format!("backups-{listen_port}"))),
            automatic: self.auto_failover.load(Ordering::Relaxed),
            tls: self.tls.clone(),
        }
    }

    /// The certificates of a `tls` sandbox.
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// Whether routers configured for this topology fail over automatically.
    pub fn set_router_auto_failover(&self, on: bool) {
        self.auto_failover.store(on, Ordering::Relaxed);
    }

    pub fn write_router_config(
        &self,
        path: &Path,
        listen_port: u16,
        admin_port: u16,
        metrics_port: u16,
    ) -> std::io::Result<PathBuf> {
        router_config::write_router_config_with(
            path,
            &self.addresses(),
            RouterPorts {
                listen: listen_port,
                admin: admin_port,
                metrics: metrics_port,
            },
            &self.failover_setup(listen_port),
        )
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.destroy();
    }
}
