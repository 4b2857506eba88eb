//! The shape of sqlyard's TOML configuration: one struct per section, with
//! the default of every key in one place. Only the deserialization shape
//! lives here; checks across keys are in `validate.rs`, loading in `load.rs`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::duration::DurationSetting;
use super::password::{Password, Secret};
use super::size::ByteSize;
/// TLS towards a server (`[backend_tls] mode`, `[[servers]] tls`).
pub use crate::topology::TlsMode as BackendTlsMode;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub router: RouterConfig,
    pub users: Vec<UserConfig>,
    pub monitor: MonitorConfig,
    pub servers: Vec<ServerConfig>,
    pub pool: PoolConfig,
    pub routing: RoutingConfig,
    pub consistency: ConsistencyConfig,
    pub failover: FailoverConfig,
    /// `[tls]`: TLS towards clients, on the app and admin listeners
    /// (absent: plaintext only).
    pub tls: Option<TlsConfig>,
    /// `[backend_tls]`: TLS towards the servers.
    pub backend_tls: BackendTlsConfig,
    /// `[cluster]`: several sqlyard instances sharing one decision through
    /// etcd (absent: this instance runs alone).
    pub cluster: Option<ClusterConfig>,
    /// `[backup]`: logical backups taken from a replica, on a schedule or
    /// with `BACKUP` (absent: no backups).
    pub backup: Option<BackupConfig>,
    /// The file this config was loaded from.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl Config {
    /// The application user called `name`, if any.
    pub fn user(&self, name: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.name == name)
    }

    /// Whether failover may promote the server at `address` (`always` for
    /// a server not in the file).
    pub fn promotion(&self, address: &str) -> Promotion {
        self.servers
            .iter()
            .find(|c| c.address == address)
            .map_or(Promotion::Always, |c| c.promotion)
    }

    /// `failover.journal`, a relative path being taken from the directory
    /// of the config file (or the working directory when there is none).
    pub fn journal_path(&self) -> PathBuf {
        self.file_path(&self.failover.journal)
    }

    /// A file named in the config (certificates, keys): a relative path
    /// is taken from the directory of the config file.
    pub fn file_path(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        match self.source.as_deref().and_then(Path::parent) {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }
}

/// `[cluster]`: this instance is one of several in front of the same
/// topology; they elect a leader and share the journal through etcd.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// etcd client URLs, e.g. `"http://127.0.0.1:2379"`.
    pub etcd_endpoints: Vec<String>,
    /// The topology's id: every key lives under `/sqlyard/<name>/`.
    pub name: String,
    /// This instance's name among the routers (default: the host name and
    /// the application port).
    pub instance: Option<String>,
    /// The etcd lease: an instance silent this long is gone, and a leader
    /// silent this long is replaced.
    pub lease_ttl: DurationSetting,
    /// CA (PEM) to verify etcd's certificate (`https://` endpoints).
    pub etcd_ca: Option<String>,
    /// Client certificate and key (PEM) for etcd, when it asks for one.
    pub etcd_cert: Option<String>,
    pub etcd_key: Option<String>,
    /// etcd user and password, when etcd has authentication on.
    pub etcd_user: Option<String>,
    pub etcd_password: Secret,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            etcd_endpoints: Vec::new(),
            name: String::new(),
            instance: None,
            lease_ttl: DurationSetting::from_secs(3),
            etcd_ca: None,
            etcd_cert: None,
            etcd_key: None,
            etcd_user: None,
            etcd_password: Secret::default(),
        }
    }
}

/// `[backup]`: where backups go, when they are taken and from which
/// server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// The directory backups are written to (one subdirectory each).
    pub dir: String,
    /// Take one every `interval` (absent: no schedule but `at`).
    pub interval: Option<DurationSetting>,
    /// Take one every day at this time, `HH:MM` in UTC.
    pub at: Option<String>,
    /// How many complete backups to keep; older ones are deleted.
    pub keep: usize,
    /// `replica` (the healthy replica with the lowest read weight) or the
    /// `host:port` of one server.
    pub source: String,
    /// Whether the primary may be the source (when no replica is healthy,
    /// or when named).
    pub allow_primary: bool,
    /// Take the source out of read rotation during the backup.
    pub drain: bool,
    /// A rebuild uses the latest verified backup only when it is younger.
    pub max_age_for_rebuild: DurationSetting,
    /// A command run with the backup's directory as its argument once it
    /// is complete (e.g. to ship it off-site); its exit status is recorded.
    pub command_after: Option<String>,
    /// The account the backup reads with (default: the monitor's).
    pub user: Option<String>,
    pub password: Secret,
    /// The dump program (default: `mariadb-dump`, then `mysqldump`, on
    /// PATH and in /usr/bin).
    pub dump_program: Option<String>,
    /// The account `REBUILD SERVER` loads the rebuilt server with (it
    /// drops and creates schemas and accounts: ALL PRIVILEGES WITH GRANT
    /// OPTION). Without it, rebuilds are refused.
    pub rebuild_user: Option<String>,
    pub rebuild_password: Secret,
    /// The dump is read at most this fast (bytes per second, before
    /// compression), so the source server and this host keep CPU and disk
    /// for the sessions they serve. Absent: as fast as it comes.
    pub max_rate: Option<ByteSize>,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            dir: String::new(),
            interval: None,
            at: None,
            keep: 7,
            source: "replica".to_string(),
            allow_primary: false,
            drain: true,
            max_age_for_rebuild: DurationSetting::from_secs(24 * 3600),
            command_after: None,
            user: None,
            password: Secret::default(),
            dump_program: None,
            rebuild_user: None,
            rebuild_password: Secret::default(),
            max_rate: None,
        }
    }
}

impl BackupConfig {
    /// `at` as (hour, minute), when it is `HH:MM`.
    pub fn at_time(&self) -> Option<(u32, u32)> {
        parse_time_of_day(self.at.as_deref()?)
    }

    /// Whether backups are taken on a schedule.
    pub fn scheduled(&self) -> bool {
        self.interval.is_some() || self.at.is_some()
    }
}

/// `HH:MM` (24 h) as (hour, minute).
pub fn parse_time_of_day(text: &str) -> Option<(u32, u32)> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

/// `[tls]`: the router's certificate, shown to clients of both listeners.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain (leaf first).
    pub cert: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    /// PEM CA certificates client certificates are checked against (none:
    /// clients are not asked for a certificate).
    #[serde(default)]
    pub client_ca: Option<String>,
    /// Refuse clients of the app listener that do not use TLS.
    #[serde(default)]
    pub require: bool,
    /// The oldest TLS version accepted.
    #[serde(default)]
    pub min_version: TlsVersion,
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum TlsVersion {
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

/// `[backend_tls]`: how sqlyard's connections to the servers (pools,
/// monitor, failover) use TLS.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendTlsConfig {
    pub mode: BackendTlsMode,
    /// PEM CA certificates the servers' certificates are checked against
    /// (`verify-ca`, `verify-identity`).
    pub ca: Option<String>,
    /// A client certificate and key presented to the servers.
    pub cert: Option<String>,
    pub key: Option<String>,
    /// The servers' RSA public key (PEM), for caching_sha2_password full
    /// authentication over plaintext.
    pub server_public_key: Option<String>,
    /// Over plaintext, ask the server for its RSA key (a man in the middle
    /// could answer with his own); off by default.
    pub allow_public_key_retrieval: bool,
}

impl Default for BackendTlsConfig {
    fn default() -> Self {
        BackendTlsConfig {
            mode: BackendTlsMode::Prefer,
            ca: None,
            cert: None,
            key: None,
            server_public_key: None,
            allow_public_key_retrieval: false,
        }
    }
}

/// `[router]`: the listeners and the client-facing side.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    /// MySQL protocol listener for applications.
    pub listen: String,
    /// Admin SQL listener.
    pub admin_listen: String,
    pub admin_user: String,
    /// Required; there is no usable default.
    pub admin_password: Secret,
    /// Prometheus endpoint.
    pub metrics_listen: String,
    /// Client connections accepted at once.
    pub max_connections: usize,
    /// Consecutive failed logins (per address and user) after which each
    /// further attempt waits; 0: never.
    pub auth_failures_before_delay: u32,
    /// The longest such wait.
    pub auth_max_delay: DurationSetting,
    /// Operator connections the admin port accepts at once.
    pub admin_max_connections: usize,
    /// An operator connection idle this long is closed.
    pub admin_idle_timeout: DurationSetting,
    /// Threads that run sessions; 0 picks from the cores (see
    /// `settings::worker_threads`). Read at start only.
    pub worker_threads: usize,
    /// Client packet bytes all sessions may hold at once; a large packet
    /// over it waits (up to `pool.checkout_timeout`), then is refused.
    pub max_buffered_bytes: ByteSize,
    /// Time a client has to finish the handshake.
    pub connect_timeout: DurationSetting,
    /// A client idle this long is disconnected (like `wait_timeout`).
    pub idle_timeout: DurationSetting,
    /// A client idle this long inside a transaction gets it rolled back
    /// and is disconnected (none: off, like MariaDB's default).
    pub idle_transaction_timeout: Option<DurationSetting>,
    /// How long a statement that needs the primary waits for one to exist.
    pub primary_wait: DurationSetting,
    /// How long a graceful shutdown waits for clients to finish.
    pub shutdown_timeout: DurationSetting,
    /// The version string sqlyard announces in its handshake.
    pub server_version: String,
    /// Refuse operators that do not use TLS (needs `[tls]`).
    pub admin_require_tls: bool,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            listen: "127.0.0.1:6033".into(),
            admin_listen: "127.0.0.1:6032".into(),
            admin_user: "admin".into(),
            admin_password: Secret::default(),
            metrics_listen: "127.0.0.1:9033".into(),
            max_connections: 10_000,
            auth_failures_before_delay: 3,
            auth_max_delay: DurationSetting::from_secs(2),
            admin_max_connections: 32,
            admin_idle_timeout: DurationSetting::from_secs(3600),
            worker_threads: 0,
            max_buffered_bytes: ByteSize::mib(256),
            connect_timeout: DurationSetting::from_secs(10),
            idle_timeout: DurationSetting::from_secs(8 * 3600),
            idle_transaction_timeout: None,
            primary_wait: DurationSetting::from_secs(10),
            shutdown_timeout: DurationSetting::from_secs(30),
            server_version: "auto".into(),
            admin_require_tls: false,
        }
    }
}

/// `[[users]]`: who may log in to the router. The same credentials are used
/// towards the servers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    pub password: Password,
    /// Client sessions this user may have open at once (none: no limit).
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// Refuse this user over plaintext.
    #[serde(default)]
    pub require_tls: bool,
    /// Refuse this user without a client certificate signed by
    /// `[tls] client_ca`.
    #[serde(default)]
    pub require_x509: bool,
}

/// `[monitor]`: the account sqlyard uses for health, lag and topology changes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    pub user: String,
    pub password: Secret,
    /// The account replicas use to reach a primary.
    pub replication_user: String,
    pub replication_password: Secret,
    /// sqlyard's own database (heartbeat table).
    pub schema: String,
    pub interval: DurationSetting,
    pub connect_timeout: DurationSetting,
    pub query_timeout: DurationSetting,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            user: String::new(),
            password: Secret::default(),
            replication_user: String::new(),
            replication_password: Secret::default(),
            schema: "sqlyard".into(),
            interval: DurationSetting::from_millis(500),
            connect_timeout: DurationSetting::from_secs(1),
            query_timeout: DurationSetting::from_secs(1),
        }
    }
}

/// `[[servers]]`: one MariaDB/MySQL server of the topology.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `host:port`.
    pub address: String,
    /// Share of reads relative to the other replicas.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Whether failover may promote this server.
    #[serde(default)]
    pub promotion: Promotion,
    /// Overrides `routing.max_replication_lag` for this server.
    #[serde(default)]
    pub max_replication_lag: Option<DurationSetting>,
    /// Connections sqlyard may hold to this server across all its pools
    /// (none: 80% of the server's `max_connections`).
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Overrides `[backend_tls] mode` for this server.
    #[serde(default)]
    pub tls: Option<BackendTlsMode>,
}

fn default_weight() -> u32 {
    1
}

impl ServerConfig {
    /// A server at `address` with every other key at its default.
    pub fn new(address: impl Into<String>) -> Self {
        ServerConfig {
            address: address.into(),
            weight: default_weight(),
            promotion: Promotion::default(),
            max_replication_lag: None,
            max_connections: None,
            tls: None,
        }
    }
}

/// Whether failover may promote a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Promotion {
    #[default]
    Always,
    Never,
}

/// `[pool]`: backend connection pools.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Backend connections per server and per pool key.
    pub max_size: usize,
    /// A statement waits this long for a free backend connection, then errors.
    pub checkout_timeout: DurationSetting,
    /// Backend connect + authentication.
    pub connect_timeout: DurationSetting,
    /// Idle backend connections beyond `min_idle` are closed after this.
    pub idle_timeout: DurationSetting,
    pub min_idle: usize,
    /// After a statement, the session keeps its backend connection this
    /// long for its next statement (FOUND_ROWS(), ROW_COUNT(), SHOW
    /// WARNINGS answer for the previous statement on its connection).
    pub linger: DurationSetting,
    /// Statements one backend connection keeps prepared on its server.
    pub max_prepared_per_connection: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_size: 200,
            checkout_timeout: DurationSetting::from_secs(5),
            connect_timeout: DurationSetting::from_secs(2),
            idle_timeout: DurationSetting::from_secs(60),
            min_idle: 0,
            linger: DurationSetting::from_millis(5),
            max_prepared_per_connection: 64,
        }
    }
}

/// `[routing]`: where reads go.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    pub read_write_split: bool,
    /// Replicas lagging more than this get no reads.
    pub max_replication_lag: DurationSetting,
    pub primary_reads: PrimaryReads,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            read_write_split: true,
            max_replication_lag: DurationSetting::from_secs(5),
            primary_reads: PrimaryReads::default(),
        }
    }
}

/// Whether reads may run on the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrimaryReads {
    /// Never; reads fail when no replica is usable.
    Never,
    /// Only when no replica is usable.
    #[default]
    Fallback,
    /// The primary is one more read target.
    Always,
}

/// `[consistency]`: read-your-writes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsistencyConfig {
    pub read_your_writes: RywScope,
    /// How long a read waits for a replica to catch up before going elsewhere.
    pub wait_timeout: DurationSetting,
}

impl Default for ConsistencyConfig {
    fn default() -> Self {
        ConsistencyConfig {
            read_your_writes: RywScope::default(),
            wait_timeout: DurationSetting::from_secs(1),
        }
    }
}

/// Whose writes a read must see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RywScope {
    /// The same client connection's writes.
    Session,
    /// Any connection of the same user.
    #[default]
    User,
    /// Every write acknowledged so far.
    Global,
    /// No guarantee.
    None,
}

/// `[failover]`: automatic failover.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailoverConfig {
    pub enabled: bool,
    /// How long the primary must be unreachable before it counts as failed.
    pub silence_grace: DurationSetting,
    /// How long writes are held while a failover runs.
    pub hold_timeout: DurationSetting,
    /// No second automatic failover within this window.
    pub anti_flap_window: DurationSetting,
    /// Candidates lagging more than this are not promoted.
    pub max_candidate_lag: DurationSetting,
    /// File where failover steps are journaled.
    pub journal: String,
    /// How long a candidate may take to apply its relay log before promotion.
    pub catch_up_timeout: DurationSetting,
    /// How long a switchover waits for open transactions on the old primary.
    pub switchover_timeout: DurationSetting,
    /// Statements held at once while no primary is ready; more get an error.
    pub max_held: usize,
    /// `MASTER_HEARTBEAT_PERIOD` sqlyard gives replicas (when it points them
    /// somewhere, and when it tunes them).
    pub replica_heartbeat_period: DurationSetting,
    /// Replicas with a longer heartbeat period get this one (replicas hear
    /// from a hung primary only through heartbeats).
    pub tune_replica_heartbeat: bool,
    /// Steps applied, in order, to an old primary when it answers again.
    pub fence: Vec<FenceStep>,
    /// The `command` step: program and arguments; the old primary's
    /// `host:port` is appended as the last argument.
    pub fence_command: Vec<String>,
    /// How long the `command` step may run before it is killed.
    pub fence_command_timeout: DurationSetting,
    /// The CA (PEM, a path on the replicas' hosts) replicas check their
    /// primary's certificate against (`MASTER_SSL_CA`,
    /// `MASTER_SSL_VERIFY_SERVER_CERT=1`); none: encrypted, not verified.
    pub replication_ssl_ca: Option<String>,
    /// Rebuild a quarantined server by itself once it answers (`REBUILD
    /// SERVER` with no source: the latest verified backup younger than
    /// `backup.max_age_for_rebuild`, else a fresh dump from a replica).
    pub auto_rebuild: bool,
}

/// One step of fencing an old primary (`failover.fence`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FenceStep {
    /// `read_only = ON` (and the semi-sync source side off). Always first.
    ReadOnly,
    /// Kill every client session but sqlyard's own (monitor account) and
    /// replicas' binlog dumps.
    KillConnections,
    /// `SHUTDOWN` through the monitor account (needs the SHUTDOWN privilege).
    Shutdown,
    /// Run `failover.fence_command` on sqlyard's host.
    Command,
}

impl FenceStep {
    pub const ALL: [FenceStep; 4] = [
        FenceStep::ReadOnly,
        FenceStep::KillConnections,
        FenceStep::Shutdown,
        FenceStep::Command,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            FenceStep::ReadOnly => "read_only",
            FenceStep::KillConnections => "kill_connections",
            FenceStep::Shutdown => "shutdown",
            FenceStep::Command => "command",
        }
    }
}

impl Default for FailoverConfig {
    fn default() -> Self {
        FailoverConfig {
            enabled: true,
            silence_grace: DurationSetting::from_secs(3),
            hold_timeout: DurationSetting::from_secs(10),
            anti_flap_window: DurationSetting::from_secs(600),
            max_candidate_lag: DurationSetting::from_secs(10),
            journal: "sqlyard-failover.journal".into(),
            catch_up_timeout: DurationSetting::from_secs(10),
            switchover_timeout: DurationSetting::from_secs(2),
            max_held: 10_000,
            replica_heartbeat_period: DurationSetting::from_secs(1),
            tune_replica_heartbeat: true,
            fence: vec![FenceStep::ReadOnly, FenceStep::KillConnections],
            fence_command: Vec::new(),
            fence_command_timeout: DurationSetting::from_secs(10),
            replication_ssl_ca: None,
            auto_rebuild: false,
        }
    }
}
