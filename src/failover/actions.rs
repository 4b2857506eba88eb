//! Failover and switchover are built from a handful of operations on single
//! servers: let a replica apply what it received, promote it, point another
//! server at it and check that its replication runs, fence an old primary. Each
//! must finish or fail within a known time, and say precisely how it failed.
//! `Actions` runs these operations: each call opens its own short-lived
//! connection with the failover (monitor) account, detects the flavor, runs the
//! statements from `sql.rs` with every step bounded by a timeout, and returns a
//! typed result or an [`ActionError`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use tokio::time::Instant;

use super::cycle::{describe, find_cycle, Hop, Pointed, Sources, Upstream};
use super::error::{ActionError, ReplicationThread};
use super::sql::{self, GtidStart, ReplicationSsl, SourceSpec, WaitOutcome};
use crate::topology::error::ProbeError;
use crate::topology::flavor::Flavor;
use crate::topology::gtid::{GtidSet, MariaGtidList};
use crate::topology::probe::split_address;
use crate::topology::replica_status::{ReplicationStatus, ThreadState};
use crate::topology::row::NamedRow;
use crate::topology::settings::MonitorSettings;

/// MySQL/MariaDB error 1193: unknown system variable (semi-sync not available).
const ER_UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;
/// Error 1094: unknown thread id (a session that ended before KILL).
const ER_NO_SUCH_THREAD: u16 = 1094;

/// Actions that change a server, each preceded by [`Gate::allow`] when a
/// gate is set.
const CHANGES_A_SERVER: [&str; 11] = [
    "promote",
    "repoint",
    "fence",
    "semi_sync_master",
    "start_replication",
    "stop_receiver",
    "stop_replication",
    "tune_heartbeat",
    "kill_connections",
    "shutdown",
    "fence_command",
];

/// What must agree before an action changes a server. With several
/// instances, the leader records the step in etcd, fenced by its election
/// (`failover::shared`); a refusal means the action is not started.
pub trait Gate: Send + Sync {
    fn allow<'a>(
        &'a self,
        action: &'static str,
        address: &'a str,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// What a replica had received and applied once it caught up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaughtUp {
    /// Everything its receiver had fetched from the lost source: MariaDB
    /// `Gtid_IO_Pos`, MySQL `Retrieved_Gtid_Set`.
    pub received: GtidSet,
    /// Everything it has applied: MariaDB `@@gtid_current_pos`, MySQL
    /// `@@gtid_executed`.
    pub applied: GtidSet,
}

/// The outcome of fencing a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fenced {
    /// The server accepted writes before it was fenced.
    pub was_writable: bool,
}

/// What [`Actions::kill_sessions`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Killed {
    /// Sessions killed.
    pub killed: Vec<u64>,
    /// Sessions the server refused to kill, and why.
    pub failed: Vec<(u64, String)>,
}

/// A server's GTID positions and read-only state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positions {
    /// MariaDB `@@gtid_current_pos`, MySQL `@@gtid_executed`.
    pub current: GtidSet,
    /// MariaDB `@@gtid_binlog_pos` (what it wrote to its own binlog); `None` on MySQL.
    pub binlog: Option<MariaGtidList>,
    /// MariaDB `@@gtid_slave_pos` (what replication applied); `None` on MySQL.
    pub slave: Option<MariaGtidList>,
    pub read_only: bool,
}

impl Positions {
    /// As the topology's positions.
    pub fn as_gtid(&self) -> crate::topology::GtidPositions {
        crate::topology::GtidPositions {
            executed: Some(self.current.clone()),
            slave_pos: self.slave.clone(),
            binlog_pos: self.binlog.clone(),
        }
    }
}

/// A connection opened to a healthy primary, with the statement that fences
/// it ready to send (see `failover::standby`).
pub struct ArmedFence {
    conn: Conn,
    address: String,
    statement: String,
    opened: Instant,
}

impl ArmedFence {
    pub fn address(&self) -> &str {
        &self.address
    }

    /// How long ago it was opened.
    pub fn age(&self) -> Duration {
        self.opened.elapsed()
    }
}

impl fmt::Debug for ArmedFence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArmedFence")
            .field("address", &self.address)
            .field("statement", &self.statement)
            .finish()
    }
}

/// Runs failover operations against single servers.
#[derive(Clone)]
pub struct Actions {
    settings: MonitorSettings,
    replication_user: String,
    replication_password: String,
    /// `failover.replication_ssl_ca`: the CA replicas check their source
    /// against (a path on the replicas' hosts).
    replication_ssl_ca: Option<String>,
    statement_timeout: Duration,
    poll_interval: Duration,
    gate: Option<Arc<dyn Gate>>,
}

impl fmt::Debug for Actions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mask = |p: &str| if p.is_empty() { "" } else { "***" };
        f.debug_struct("Actions")
            .field("settings", &self.settings)
            .field("replication_user", &self.replication_user)
            .field("replication_password", &mask(&self.replication_password))
            .field("statement_timeout", &self.statement_timeout)
            .field("poll_interval", &self.poll_interval)
            .field("gated", &self.gate.is_some())
            .finish()
    }
}

/// An open action connection.
struct Session<'a> {
    conn: Conn,
    address: &'a str,
    action: &'static str,
    flavor: Flavor,
    version: String,
    statement_timeout: Duration,
    /// Scrubbed from server messages.
    secret: &'a str,
}

impl Actions {
    /// Bound on each statement of an action unless changed with
    /// [`Actions::with_statement_timeout`]. Longer than a monitor query: `STOP
    /// SLAVE` or `SET GLOBAL read_only=ON` may wait for a running transaction.
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
    /// How often [`Actions::verify_replicating`] looks at the replica.
    pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(50);

    /// `settings` gives the account the actions log in with (it needs the
    /// failover privileges, see MARIADB-NOTES.md) and the connect timeout; the
    /// replication account is what repointed replicas log in to their source with.
    pub fn new(
        settings: MonitorSettings,
        replication_user: impl Into<String>,
        replication_password: impl Into<String>,
    ) -> Self {
        Actions {
            settings,
            replication_user: replication_user.into(),
            replication_password: replication_password.into(),
            replication_ssl_ca: None,
            statement_timeout: Self::DEFAULT_STATEMENT_TIMEOUT,
            poll_interval: Self::DEFAULT_POLL_INTERVAL,
            gate: None,
        }
    }

    /// Every action that changes a server first asks `gate`.
    pub fn with_gate(mut self, gate: Option<Arc<dyn Gate>>) -> Self {
        self.gate = gate;
        self
    }

    /// Asks the gate (if any) before `action` changes `address`; an
    /// [`ActionError::Refused`] when it says no.
    pub async fn gate(&self, action: &'static str, address: &str) -> Result<(), ActionError> {
        let Some(gate) = &self.gate else {
            return Ok(());
        };
        gate.allow(action, address, self.statement_timeout)
            .await
            .map_err(|reason| ActionError::Refused {
                address: address.to_string(),
                action,
                reason: format!("not started: {reason}"),
            })
    }

    /// Replicas check their source's certificate against `ca`.
    pub fn with_replication_ssl_ca(mut self, ca: Option<String>) -> Self {
        self.replication_ssl_ca = ca;
        self
    }

    /// Whether the server at `address` has TLS (`@@have_ssl = YES`), so
    /// replication to it can be encrypted. MySQL 8.4 dropped `have_ssl`;
    /// there, a TLS control connection says it.
    pub async fn has_tls(&self, address: &str) -> Result<bool, ActionError> {
        let mut s = self.open(address, "has_tls").await?;
        let value = |rows: Vec<NamedRow>, column: &str| {
            rows.first().and_then(|r| r.get(column).map(str::to_string))
        };
        match s.rows("SELECT @@have_ssl AS have_ssl").await {
            Ok(rows) => Ok(value(rows, "have_ssl").as_deref() == Some("YES")),
            // ER_UNKNOWN_SYSTEM_VARIABLE (MySQL 8.4); any other error is one
            Err(ActionError::Query { source, .. }) if matches!(&*source, mysql_async::Error::Server(e) if e.code == 1193) =>
            {
                let rows = s.rows("SHOW SESSION STATUS LIKE 'Ssl_version'").await?;
                Ok(value(rows, "Value").is_some_and(|v| !v.is_empty()))
            }
            Err(e) => Err(e),
        }
    }

    /// Changes the bound on each statement (kept within 1 ms ..= 1 h).
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout.clamp(Duration::from_millis(1), Duration::from_secs(3600));
        self
    }

    /// Changes how often replication state is polled (kept within 1 ms ..= 10 s).
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.clamp(Duration::from_millis(1), Duration::from_secs(10));
        self
    }

    pub fn settings(&self) -> &MonitorSettings {
        &self.settings
    }

    pub fn statement_timeout(&self) -> Duration {
        self.statement_timeout
    }

    /// Waits, up to `timeout`, until the replica at `address` has applied
    /// everything its receiver fetched from its (lost) source, then reads what it
    /// has applied. Fails with [`ActionError::Replication`] if its applier stopped
    /// on an error (it would never catch up), [`ActionError::CatchUpTimeout`] if
    /// the time runs out, [`ActionError::NotReplica`] if it has no source.
    pub async fn catch_up(
        &self,
        address: &str,
        timeout: Duration,
    ) -> Result<CaughtUp, ActionError> {
        let mut s = self.open(address, "catch_up").await?;
        let channels = s.channels().await?;
        let channel = primary_channel(&channels).ok_or_else(|| ActionError::NotReplica {
            address: address.to_string(),
        })?;
        if let Some(broken) = applier_error(address, channel) {
            return Err(broken);
        }
        let received = channel
            .retrieved_gtid
            .clone()
            .unwrap_or_else(|| empty_set(s.flavor));
        if !received.is_empty() {
            s.wait_gtid(&received, timeout).await?;
        }
        let applied = s.positions().await?.current;
        Ok(CaughtUp { received, applied })
    }

    /// Waits, up to `timeout`, until the server at `address` has applied `gtid`
    /// (a position in its flavor's syntax, e.g. the old primary's
    /// `@@gtid_binlog_pos` in a switchover), and returns what it has applied.
    pub async fn wait_applied(
        &self,
        address: &str,
        gtid: &str,
        timeout: Duration,
    ) -> Result<GtidSet, ActionError> {
        let mut s = self.open(address, "wait_applied").await?;
        let wanted = GtidSet::parse(s.flavor, gtid).map_err(|source| ActionError::BadGtid {
            address: address.to_string(),
            action: s.action,
            gtid: gtid.chars().take(200).collect(),
            flavor: s.flavor,
            source,
        })?;
        if !wanted.is_empty() {
            s.wait_gtid(&wanted, timeout).await?;
        }
        Ok(s.positions().await?.current)
    }

    /// Makes the server at `address` the primary: stops and forgets all of its
    /// replication, turns the semi-sync source side on if `semi_sync`, and sets it
    /// writable. Running it again on a promoted server changes nothing.
    pub async fn promote(&self, address: &str, semi_sync: bool) -> Result<(), ActionError> {
        let mut s = self.open(address, "promote").await?;
        let channels = s.channels().await?;
        let named: Vec<&str> = channels
            .iter()
            .map(|c| c.channel.as_str())
            .filter(|c| !c.is_empty())
            .collect();
        let statements = sql::promote_sql_with_channels(s.flavor, &s.version, semi_sync, &named);
        let replica_side = s.replica_semi_sync_off().await?;
        let mut result = Ok(());
        for statement in &statements {
            result = s.exec_semi_sync_aware(statement, false).await;
            if result.is_err() {
                break;
            }
        }
        if replica_side {
            // Kept as configured: it only acts when this server replicates again.
            s.replica_semi_sync_on().await?;
        }
        result?;
        tracing::info!(address, semi_sync, "promoted to primary");
        Ok(())
    }

    /// Points the server at `address` at `source` (`host:port`) with the
    /// replication account, GTID positioning from `start` (MariaDB), the given
    /// heartbeat and a 1 s reconnect interval, and starts replication. It does not
    /// wait for replication to run: see [`Actions::verify_replicating`].
    pub async fn repoint(
        &self,
        address: &str,
        source: &str,
        start: GtidStart,
        heartbeat_period: Duration,
    ) -> Result<(), ActionError> {
        let (host, port) = split(source)?;
        if source == address {
            return Err(ActionError::SelfReplication {
                address: address.to_string(),
            });
        }
        let mut s = self.open(address, "repoint").await?;
        let server_id = s.server_id().await?;
        self.check_no_cycle(address, server_id, source).await?;
        // Encrypted whenever the source can: a source with
        // require_secure_transport=ON refuses plaintext replication.
        let ssl = if self.has_tls(source).await? {
            ReplicationSsl::On {
                ca: self.replication_ssl_ca.as_deref(),
            }
        } else {
            ReplicationSsl::Off
        };
        let spec = SourceSpec {
            ssl,
            host: &host,
            port,
            user: &self.replication_user,
            password: &self.replication_password,
            start,
            heartbeat_period,
        };
        let statements = sql::repoint_sql(s.flavor, &s.version, &spec);
        let replica_side = s.replica_semi_sync_off().await?;
        let last = statements.len().saturating_sub(1);
        for (i, statement) in statements.iter().enumerate() {
            if i == last && replica_side {
                // on again before START: the IO thread registers as a
                // semi-sync replica of the new source when it starts
                s.replica_semi_sync_on().await?;
            }
            s.exec(statement).await?;
        }
        tracing::info!(
            address,
            source,
            %start,
            tls = matches!(ssl, ReplicationSsl::On { .. }),
            "repointed"
        );
        Ok(())
    }

    /// Polls the server at `address` until the receiver and applier of every
    /// channel with a source run, and the source has accepted the receiver: it
    /// sent its first event (the binlog file name is known), and this held on two
    /// polls in a row. A receiver shows "running" for a moment before its
    /// source's refusal arrives, so "running" alone proves nothing. A thread that
    /// stopped on an error fails at once with [`ActionError::Replication`] (e.g.
    /// 1236 when a server holding a transaction its new source never had tries
    /// to join it); otherwise [`ActionError::NotReplicating`] after `timeout`.
    pub async fn verify_replicating(
        &self,
        address: &str,
        timeout: Duration,
    ) -> Result<(), ActionError> {
        let started = Instant::now();
        let mut s = self.open(address, "verify_replicating").await?;
        let mut seen_running = false;
        loop {
            let channels = s.channel_rows().await?;
            let assessment = assess(address, &channels);
            let running = matches!(assessment, Assessment::Running);
            let waiting = match assessment {
                Assessment::Running if seen_running => return Ok(()),
                Assessment::Running => ActionError::NotReplicating {
                    address: address.to_string(),
                    io: ThreadState::Running,
                    sql: ThreadState::Running,
                    last_error: None,
                    after: timeout,
                },
                Assessment::Broken(error) => return Err(error),
                Assessment::NotReplica => {
                    return Err(ActionError::NotReplica {
                        address: address.to_string(),
                    })
                }
                Assessment::Waiting {
                    io,
                    sql,
                    last_error,
                } => ActionError::NotReplicating {
                    address: address.to_string(),
                    io,
                    sql,
                    last_error,
                    after: timeout,
                },
            };
            seen_running = running;
            if started.elapsed() >= timeout {
                return Err(waiting);
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    /// Makes the server at `address` read-only (MySQL: `super_read_only` too) and
    /// turns its semi-sync source side off (a server without semi-sync is fine).
    /// Safe to repeat.
    pub async fn fence(&self, address: &str) -> Result<Fenced, ActionError> {
        let mut s = self.open(address, "fence").await?;
        let was_writable = !s.positions().await?.read_only;
        for statement in sql::fence_sql(s.flavor, &s.version) {
            s.exec_semi_sync_aware(&statement, true).await?;
        }
        if was_writable {
            tracing::warn!(address, "fenced a writable server: it is read-only now");
        } else {
            tracing::info!(address, "fenced");
        }
        Ok(Fenced { was_writable })
    }

    /// Opens a connection to the (healthy) primary at `address` and prepares
    /// the one statement that fences it; changes nothing on the server.
    pub async fn arm_fence(&self, address: &str) -> Result<ArmedFence, ActionError> {
        let mut s = self.open(address, "arm_fence").await?;
        let mut semi_sync = None;
        for name in sql::semi_sync_source_variables(s.flavor, &s.version) {
            match s.rows(&format!("SELECT @@GLOBAL.{name}")).await {
                Ok(_) => {
                    semi_sync = Some(*name);
                    break;
                }
                Err(e) if e.server_code() == Some(ER_UNKNOWN_SYSTEM_VARIABLE) => {}
                Err(e) => return Err(e),
            }
        }
        // idle until the failover or the next refresh: outlive a short wait_timeout
        s.exec("SET SESSION wait_timeout = 3600").await?;
        let statement = sql::armed_fence_sql(s.flavor, semi_sync);
        Ok(ArmedFence {
            conn: s.conn,
            address: address.to_string(),
            statement,
            opened: Instant::now(),
        })
    }

    /// Sends the fence `armed` holds (after the gate) and waits up to `wait`
    /// for the server to run it: a frozen server runs it when it thaws.
    pub async fn fire_fence(&self, armed: ArmedFence, wait: Duration) -> Result<(), ActionError> {
        self.gate("fence", &armed.address).await?;
        let ArmedFence {
            mut conn,
            address,
            statement,
            ..
        } = armed;
        tracing::debug!(address = %address, statement = %statement, "armed fence sent");
        match tokio::time::timeout(wait, conn.query_drop(&statement)).await {
            Err(_) => Err(ActionError::Timeout {
                address,
                action: "fence",
                statement,
                after: wait,
            }),
            Ok(Err(source)) => Err(ActionError::Query {
                address,
                action: "fence",
                statement,
                source: Box::new(source),
            }),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Switches the semi-sync source side of the server at `address` on or off.
    /// Off on a server without semi-sync succeeds; on fails.
    pub async fn semi_sync_master(&self, address: &str, on: bool) -> Result<(), ActionError> {
        let mut s = self.open(address, "semi_sync_master").await?;
        let statement = sql::semi_sync_source_sql(s.flavor, &s.version, on);
        s.exec_semi_sync_aware(&statement, !on).await
    }

    /// Reads the server's GTID positions and `read_only`.
    /// Starts replication on `address` again.
    pub async fn start_replication(&self, address: &str) -> Result<(), ActionError> {
        let mut s = self.open(address, "start_replication").await?;
        let statement = sql::start_replication_sql(s.flavor, &s.version);
        s.exec(statement).await
    }

    /// Stops the receiver (IO thread) on `address`; the applier goes on.
    pub async fn stop_receiver(&self, address: &str) -> Result<(), ActionError> {
        let mut s = self.open(address, "stop_receiver").await?;
        let statement = sql::stop_receiver_sql(s.flavor, &s.version);
        s.exec(statement).await
    }

    /// Stops replication on `address` (a quarantined server must not keep
    /// retrying a source that refuses it).
    pub async fn stop_replication(&self, address: &str) -> Result<(), ActionError> {
        let mut s = self.open(address, "stop_replication").await?;
        let statement = sql::stop_replication_sql(s.flavor, &s.version);
        s.exec(statement).await
    }

    /// Refuses with [`ActionError::ReplicationCycle`] when `source` already
    /// replicates from the server at `address` (`server_id`), directly or
    /// through other servers, as the live servers report it.
    pub async fn check_no_cycle(
        &self,
        address: &str,
        server_id: Option<u32>,
        source: &str,
    ) -> Result<(), ActionError> {
        let pointed = Pointed { address, server_id };
        match find_cycle(self, pointed, source).await {
            Ok(None) => Ok(()),
            Err(why) => Err(ActionError::Refused {
                address: address.to_string(),
                action: "repoint",
                reason: format!(
                    "cannot read the replication sources of {source} ({why}), so whether pointing there would make a loop is unknown"
                ),
            }),
            Ok(Some(path)) => {
                let e = ActionError::ReplicationCycle {
                    address: address.to_string(),
                    target: source.to_string(),
                    chain: describe(&path),
                };
                tracing::error!(server = address, source, error = %e, "refused a replication loop");
                Err(e)
            }
        }
    }

    /// The server's `@@server_id` and the sources its channels name.
    pub async fn read_hop(&self, address: &str) -> Result<Hop, ActionError> {
        let mut s = self.open(address, "read_sources").await?;
        let server_id = s.server_id().await?;
        let sources = s
            .channels()
            .await?
            .into_iter()
            .filter_map(|c| {
                c.source_address().map(|address| Upstream {
                    address,
                    server_id: c.source_server_id,
                })
            })
            .collect();
        Ok(Hop { server_id, sources })
    }

    /// Sets the replication heartbeat period of `channel` on the replica at
    /// `address` (stop, change, start: the channel keeps its source and GTID
    /// position). Only a channel whose threads both run is touched: one that
    /// an operator stopped, or that broke, is left as it is
    /// ([`ActionError::Refused`]). Returns the period it had.
    pub async fn set_heartbeat_period(
        &self,
        address: &str,
        channel: &str,
        period: Duration,
    ) -> Result<Option<Duration>, ActionError> {
        let mut s = self.open(address, "tune_heartbeat").await?;
        let channels = s.channels().await?;
        let Some(c) = channels
            .iter()
            .find(|c| c.channel == channel && c.has_source())
        else {
            return Err(ActionError::NotReplica {
                address: address.to_string(),
            });
        };
        if c.io_running != ThreadState::Running || c.sql_running != ThreadState::Running {
            return Err(ActionError::Refused {
                address: address.to_string(),
                action: "tune_heartbeat",
                reason: format!(
                    "replication is not running (IO {}, SQL {}); left as it is",
                    c.io_running, c.sql_running
                ),
            });
        }
        let before = c.heartbeat_period;
        let statements = sql::heartbeat_sql(s.flavor, &s.version, channel, period);
        let [stop, change, start] = statements.as_slice() else {
            return Err(s.missing("heartbeat statements", "statement"));
        };
        // As in `repoint`: a semi-sync receiver stops faster with its
        // replica side off, which goes on again before START.
        let replica_side = s.replica_semi_sync_off().await?;
        let stopped = s.exec(stop).await;
        let changed = match stopped {
            Ok(()) => s.exec(change).await,
            Err(_) => Ok(()),
        };
        // Started again whatever happened (a STOP that timed out may still
        // have stopped it): never leave a running replica stopped. On a
        // fresh session if this one broke.
        let mut started = s.restart_channel(start, replica_side).await;
        if started.is_err() {
            started = match self.open(address, "tune_heartbeat").await {
                Ok(mut fresh) => fresh.restart_channel(start, replica_side).await,
                Err(e) => Err(e),
            };
        }
        stopped?;
        changed?;
        started?;
        Ok(before)
    }

    /// Kills every session on the server at `address` except this one, the
    /// sessions of the monitor account (sqlyard's own), the server's own
    /// threads and replicas' binlog dump sessions. A session the server
    /// refuses to kill does not stop the others.
    pub async fn kill_sessions(&self, address: &str) -> Result<Killed, ActionError> {
        let mut s = self.open(address, "kill_connections").await?;
        let rows = s.rows(sql::PROCESSLIST_SQL).await?;
        let own = self.settings.user.as_str();
        let mut killed = Vec::new();
        let mut failed = Vec::new();
        for row in &rows {
            let user = row.get("user").unwrap_or("");
            let command = row.get("command").unwrap_or("");
            let Some(id) = row.get("id").and_then(|v| v.trim().parse::<u64>().ok()) else {
                continue;
            };
            if user == own || sql::is_server_thread(user, command) {
                continue;
            }
            match s.exec(&sql::kill_sql(id)).await {
                Ok(()) => killed.push(id),
                // gone meanwhile
                Err(e) if e.server_code() == Some(ER_NO_SUCH_THREAD) => {}
                // the others are still killed
                Err(e) if e.server_code().is_some() => failed.push((id, e.to_string())),
                Err(e) => return Err(e),
            }
        }
        Ok(Killed { killed, failed })
    }

    /// `SHUTDOWN` on the server at `address`. The server may close the
    /// connection before it answers: that counts as done.
    pub async fn shutdown(&self, address: &str) -> Result<(), ActionError> {
        let mut s = self.open(address, "shutdown").await?;
        match s.exec(sql::SHUTDOWN_SQL).await {
            Ok(()) => Ok(()),
            Err(ActionError::Query { source, .. })
                if !matches!(source.as_ref(), mysql_async::Error::Server(_)) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    pub async fn read_positions(&self, address: &str) -> Result<Positions, ActionError> {
        let mut s = self.open(address, "read_positions").await?;
        s.positions().await
    }

    /// Opens the connection for one action: TCP (never the local socket), no
    /// statement cache, bounded by the connect timeout; then detects the flavor
    /// and makes sure backslash escapes work in string literals.
    async fn open<'a>(
        &'a self,
        address: &'a str,
        action: &'static str,
    ) -> Result<Session<'a>, ActionError> {
        let (host, port) = split(address)?;
        if CHANGES_A_SERVER.contains(&action) {
            self.gate(action, address).await?;
        }
        let opts = self.settings.control_opts(host, port);
        let after = self.settings.effective_connect_timeout();
        let open = crate::topology::control_tls::connect(opts, address, &self.settings.tls);
        let conn = match tokio::time::timeout(after, open).await {
            Err(_) => {
                return Err(ActionError::ConnectTimeout {
                    address: address.to_string(),
                    after,
                })
            }
            Ok(Err(source)) => {
                return Err(ActionError::Connect {
                    address: address.to_string(),
                    source: Box::new(source),
                })
            }
            Ok(Ok(conn)) => conn,
        };
        let mut session = Session {
            conn,
            address,
            action,
            flavor: Flavor::MySql,
            version: String::new(),
            statement_timeout: self.statement_timeout,
            secret: &self.replication_password,
        };
        const IDENTITY: &str =
            "SELECT @@version AS version, @@version_comment AS version_comment, \
                                @@session.sql_mode AS sql_mode";
        let rows = session.rows(IDENTITY).await?;
        let row = rows
            .first()
            .ok_or_else(|| session.missing(IDENTITY, "row"))?;
        session.version = row.get("version").unwrap_or("").to_string();
        session.flavor = Flavor::detect(&session.version, row.get("version_comment").unwrap_or(""));
        let sql_mode = row.get("sql_mode").unwrap_or("").to_string();
        if let Some(fixed) = without_no_backslash_escapes(&sql_mode) {
            session
                .exec(&format!("SET SESSION sql_mode = {}", sql::quote(&fixed)))
                .await?;
        }
        tracing::debug!(address, action, flavor = %session.flavor, "failover action connected");
        Ok(session)
    }
}

fn split(address: &str) -> Result<(String, u16), ActionError> {
    split_address(address).map_err(|e| match e {
        ProbeError::InvalidAddress { reason, .. } => ActionError::InvalidAddress {
            address: address.to_string(),
            reason,
        },
        _ => ActionError::InvalidAddress {
            address: address.to_string(),
            reason: "expected host:port",
        },
    })
}

/// The `sql_mode` without `NO_BACKSLASH_ESCAPES`, if it had it.
fn without_no_backslash_escapes(sql_mode: &str) -> Option<String> {
    let modes: Vec<&str> = sql_mode.split(',').map(str::trim).collect();
    if !modes
        .iter()
        .any(|m| m.eq_ignore_ascii_case("NO_BACKSLASH_ESCAPES"))
    {
        return None;
    }
    Some(
        modes
            .into_iter()
            .filter(|m| !m.is_empty() && !m.eq_ignore_ascii_case("NO_BACKSLASH_ESCAPES"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

fn empty_set(flavor: Flavor) -> GtidSet {
    match flavor {
        Flavor::MariaDb => GtidSet::MariaDb(MariaGtidList::new()),
        Flavor::MySql => GtidSet::MySql(Default::default()),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "0" | "off" | "false" => Some(false),
        "1" | "on" | "true" => Some(true),
        _ => None,
    }
}

/// The channel that replicates from the primary: the default one if it has a
/// source, otherwise the first that has one.
fn primary_channel(channels: &[ReplicationStatus]) -> Option<&ReplicationStatus> {
    channels
        .iter()
        .find(|c| c.channel.is_empty() && c.has_source())
        .or_else(|| channels.iter().find(|c| c.has_source()))
}

/// The error of a channel whose applier stopped on one.
fn applier_error(address: &str, channel: &ReplicationStatus) -> Option<ActionError> {
    thread_error(address, channel, ReplicationThread::Sql)
}

fn thread_error(
    address: &str,
    channel: &ReplicationStatus,
    thread: ReplicationThread,
) -> Option<ActionError> {
    let (state, errno, message) = match thread {
        ReplicationThread::Io => (
            channel.io_running,
            channel.last_io_errno,
            &channel.last_io_error,
        ),
        ReplicationThread::Sql => (
            channel.sql_running,
            channel.last_sql_errno,
            &channel.last_sql_error,
        ),
    };
    match (state, errno) {
        (ThreadState::Stopped, Some(errno)) => Some(ActionError::Replication {
            address: address.to_string(),
            channel: channel.channel.clone(),
            thread,
            errno,
            message: message.clone().unwrap_or_default(),
        }),
        _ => None,
    }
}

/// One replication channel as `verify_replicating` sees it.
#[derive(Debug, Clone)]
struct Channel {
    status: ReplicationStatus,
    /// `Master_Log_File` / `Source_Log_File`: empty after a change of source
    /// until the source sends its first event, i.e. until it accepted the
    /// replica's position.
    source_log_file: Option<String>,
}

/// Where a replica's replication stands.
#[derive(Debug)]
enum Assessment {
    /// Every channel with a source has both threads running, and its source
    /// has sent events.
    Running,
    /// A thread stopped on an error: it will not recover by itself.
    Broken(ActionError),
    /// No channel has a source.
    NotReplica,
    /// Not running yet (connecting, or stopped without an error); the state of
    /// the first channel that is not running.
    Waiting {
        io: ThreadState,
        sql: ThreadState,
        last_error: Option<String>,
    },
}

fn assess(address: &str, channels: &[Channel]) -> Assessment {
    let mut sourced = channels.iter().filter(|c| c.status.has_source()).peekable();
    if sourced.peek().is_none() {
        return Assessment::NotReplica;
    }
    let mut waiting = None;
    for Channel {
        status: channel,
        source_log_file,
    } in sourced
    {
        for thread in [ReplicationThread::Io, ReplicationThread::Sql] {
            if let Some(error) = thread_error(address, channel, thread) {
                return Assessment::Broken(error);
            }
        }
        let running = channel.io_running == ThreadState::Running
            && channel.sql_running == ThreadState::Running;
        let accepted = source_log_file.is_some();
        if !(running && accepted) && waiting.is_none() {
            let last_error = channel
                .last_io_error
                .clone()
                .or_else(|| channel.last_sql_error.clone())
                .or_else(|| {
                    (running && !accepted)
                        .then(|| "connected, but no event from the source yet".to_string())
                });
            waiting = Some(Assessment::Waiting {
                io: channel.io_running,
                sql: channel.sql_running,
                last_error,
            });
        }
    }
    waiting.unwrap_or(Assessment::Running)
}

impl Sources for Actions {
    async fn hop(&self, address: &str) -> Result<Hop, String> {
        self.read_hop(address).await.map_err(|e| e.to_string())
    }
}

impl Session<'_> {
    /// The replica side of semi-sync back on (if it was), then `start`.
    async fn restart_channel(
        &mut self,
        start: &str,
        replica_side: bool,
    ) -> Result<(), ActionError> {
        if replica_side {
            self.replica_semi_sync_on().await?;
        }
        self.exec(start).await
    }

    async fn server_id(&mut self) -> Result<Option<u32>, ActionError> {
        let rows = self.rows("SELECT @@server_id AS server_id").await?;
        Ok(rows
            .first()
            .and_then(|r| r.get("server_id"))
            .and_then(|v| v.trim().parse().ok()))
    }

    fn missing(&self, statement: &str, column: &'static str) -> ActionError {
        ActionError::MissingValue {
            address: self.address.to_string(),
            action: self.action,
            statement: sql::redact(statement),
            column,
        }
    }

    fn query_error(&self, statement: &str, source: mysql_async::Error) -> ActionError {
        let source = match source {
            mysql_async::Error::Server(mut e) => {
                e.message = sql::scrub(&e.message, self.secret);
                mysql_async::Error::Server(e)
            }
            other => other,
        };
        ActionError::Query {
            address: self.address.to_string(),
            action: self.action,
            statement: sql::redact(statement),
            source: Box::new(source),
        }
    }

    /// Runs a query bounded by `after`.
    async fn rows_within(
        &mut self,
        statement: &str,
        after: Duration,
    ) -> Result<Vec<NamedRow>, ActionError> {
        tracing::debug!(
            address = self.address,
            action = self.action,
            statement = %sql::redact(statement),
            "failover statement"
        );
        match tokio::time::timeout(after, self.conn.query::<Row, _>(statement)).await {
            Err(_) => Err(ActionError::Timeout {
                address: self.address.to_string(),
                action: self.action,
                statement: sql::redact(statement),
                after,
            }),
            Ok(Err(source)) => Err(self.query_error(statement, source)),
            Ok(Ok(rows)) => Ok(rows.iter().map(NamedRow::from_mysql).collect()),
        }
    }

    async fn rows(&mut self, statement: &str) -> Result<Vec<NamedRow>, ActionError> {
        self.rows_within(statement, self.statement_timeout).await
    }

    async fn exec(&mut self, statement: &str) -> Result<(), ActionError> {
        self.rows(statement).await.map(drop)
    }

    /// Runs `statement`; if it sets a semi-sync variable this server does not
    /// know (error 1193), tries the other spelling, and if that is unknown too,
    /// succeeds when `tolerate_missing` (switching off what is not there).
    async fn exec_semi_sync_aware(
        &mut self,
        statement: &str,
        tolerate_missing: bool,
    ) -> Result<(), ActionError> {
        let first = match self.exec(statement).await {
            Err(e) if e.server_code() == Some(ER_UNKNOWN_SYSTEM_VARIABLE) => e,
            other => return other,
        };
        let Some(alternate) = sql::alternate_semi_sync_sql(statement) else {
            return Err(first);
        };
        match self.exec(&alternate).await {
            Err(e) if e.server_code() == Some(ER_UNKNOWN_SYSTEM_VARIABLE) => {
                if tolerate_missing {
                    tracing::debug!(
                        address = self.address,
                        "no semi-sync on this server; nothing to switch off"
                    );
                    Ok(())
                } else {
                    Err(first)
                }
            }
            other => other,
        }
    }

    async fn channels(&mut self) -> Result<Vec<ReplicationStatus>, ActionError> {
        Ok(self
            .channel_rows()
            .await?
            .into_iter()
            .map(|c| c.status)
            .collect())
    }

    async fn channel_rows(&mut self) -> Result<Vec<Channel>, ActionError> {
        let statement = self.flavor.replica_status_sql(&self.version);
        let rows = self.rows(statement).await?;
        Ok(rows
            .iter()
            .map(|row| Channel {
                status: self.flavor.parse_replica_row(row),
                source_log_file: row
                    .first_of(&["Master_Log_File", "Source_Log_File"])
                    .map(|(_, v)| v.trim())
                    .filter(|v| !v.is_empty())
                    .map(str::to_string),
            })
            .collect())
    }

    /// MariaDB: a semi-sync replica that stops its IO thread first connects
    /// to its source to end the dump thread there; with a frozen or cut-off
    /// source that costs seconds per STOP SLAVE. Switching the replica side
    /// off around the stop skips that. Returns whether it was on (to be
    /// restored with [`Session::replica_semi_sync_on`]).
    async fn replica_semi_sync_off(&mut self) -> Result<bool, ActionError> {
        if self.flavor != Flavor::MariaDb {
            return Ok(false);
        }
        let statement = "SELECT @@global.rpl_semi_sync_slave_enabled AS enabled";
        let on = match self.rows(statement).await {
            Ok(rows) => rows
                .first()
                .and_then(|r| r.get("enabled"))
                .and_then(parse_bool)
                .unwrap_or(false),
            Err(e) if e.server_code() == Some(ER_UNKNOWN_SYSTEM_VARIABLE) => false,
            Err(e) => return Err(e),
        };
        if on {
            self.exec("SET GLOBAL rpl_semi_sync_slave_enabled = OFF")
                .await?;
        }
        Ok(on)
    }

    async fn replica_semi_sync_on(&mut self) -> Result<(), ActionError> {
        self.exec("SET GLOBAL rpl_semi_sync_slave_enabled = ON")
            .await
    }

    async fn positions(&mut self) -> Result<Positions, ActionError> {
        let statement = sql::positions_sql(self.flavor);
        let rows = self.rows(statement).await?;
        let row = rows.first().ok_or_else(|| self.missing(statement, "row"))?;
        let gtid_column = match self.flavor {
            Flavor::MariaDb => "gtid_current_pos",
            Flavor::MySql => "gtid_executed",
        };
        let text = row
            .get(gtid_column)
            .ok_or_else(|| self.missing(statement, gtid_column))?;
        let current = GtidSet::parse(self.flavor, text).map_err(|_| self.bad(gtid_column, text))?;
        let maria_list = |column: &'static str| -> Result<Option<MariaGtidList>, ActionError> {
            match self.flavor {
                Flavor::MariaDb => {
                    let text = row
                        .get(column)
                        .ok_or_else(|| self.missing(statement, column))?;
                    Ok(Some(
                        text.parse::<MariaGtidList>()
                            .map_err(|_| self.bad(column, text))?,
                    ))
                }
                Flavor::MySql => Ok(None),
            }
        };
        let binlog = maria_list("gtid_binlog_pos")?;
        let slave = maria_list("gtid_slave_pos")?;
        let ro_text = row
            .get("read_only")
            .ok_or_else(|| self.missing(statement, "read_only"))?;
        let read_only = parse_bool(ro_text).ok_or_else(|| self.bad("read_only", ro_text))?;
        Ok(Positions {
            current,
            binlog,
            slave,
            read_only,
        })
    }

    fn bad(&self, column: &'static str, value: &str) -> ActionError {
        ActionError::BadValue {
            address: self.address.to_string(),
            action: self.action,
            column,
            value: value.chars().take(120).collect(),
        }
    }

    /// Waits on the server until `wanted` is applied. The server enforces
    /// `timeout`; the client allows one statement timeout more before it gives up
    /// on a server that does not answer at all.
    async fn wait_gtid(&mut self, wanted: &GtidSet, timeout: Duration) -> Result<(), ActionError> {
        let statement = sql::wait_gtid_sql(self.flavor, &wanted.to_string(), timeout);
        let outer = timeout.saturating_add(self.statement_timeout);
        let address = self.address;
        let timed_out = |applied: Option<String>| ActionError::CatchUpTimeout {
            address: address.to_string(),
            waiting_for: wanted.to_string(),
            applied,
            after: timeout,
        };
        let rows = match self.rows_within(&statement, outer).await {
            Ok(rows) => rows,
            Err(ActionError::Timeout { .. }) => return Err(timed_out(None)),
            Err(e) => return Err(e),
        };
        let value = rows
            .first()
            .and_then(|r| r.get_non_empty("waited"))
            .and_then(|v| v.parse::<i64>().ok());
        match sql::wait_outcome(self.flavor, value) {
            WaitOutcome::Reached => Ok(()),
            WaitOutcome::TimedOut => {
                // A broken applier explains the timeout better than the timeout.
                if let Ok(channels) = self.channels().await {
                    if let Some(broken) = channels
                        .iter()
                        .filter(|c| c.has_source())
                        .find_map(|c| applier_error(self.address, c))
                    {
                        return Err(broken);
                    }
                }
                let applied = self.positions().await.ok().map(|p| p.current.to_string());
                Err(timed_out(applied))
            }
            WaitOutcome::Unexpected(v) => Err(self.bad(
                "GTID wait result",
                &v.map_or_else(|| "NULL".to_string(), |v| v.to_string()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(pairs: &[(&str, &str)]) -> Channel {
        let row = NamedRow::from_pairs(pairs.iter().map(|(k, v)| (*k, Some(*v))));
        Channel {
            status: Flavor::MariaDb.parse_replica_row(&row),
            source_log_file: row.get_non_empty("Master_Log_File").map(str::to_string),
        }
    }

    fn running() -> Vec<(&'static str, &'static str)> {
        vec![
            ("Connection_name", ""),
            ("Master_Host", "127.0.0.1"),
            ("Master_Port", "3306"),
            ("Slave_IO_Running", "Yes"),
            ("Slave_SQL_Running", "Yes"),
            ("Last_IO_Errno", "0"),
            ("Last_IO_Error", ""),
            ("Last_SQL_Errno", "0"),
            ("Last_SQL_Error", ""),
            ("Gtid_IO_Pos", "0-1-10"),
            ("Master_Log_File", "mysql-bin.000001"),
        ]
    }

    fn with(
        mut base: Vec<(&'static str, &'static str)>,
        changes: &[(&'static str, &'static str)],
    ) -> Channel {
        for (k, v) in changes {
            match base.iter_mut().find(|(name, _)| name == k) {
                Some(entry) => entry.1 = v,
                None => base.push((k, v)),
            }
        }
        channel(&base)
    }

    #[test]
    fn assessment_of_replication_state() {
        assert!(matches!(assess("a:1", &[]), Assessment::NotReplica));
        assert!(matches!(
            assess("a:1", &[with(running(), &[("Master_Host", "")])]),
            Assessment::NotReplica
        ));
        assert!(matches!(
            assess("a:1", &[with(running(), &[])]),
            Assessment::Running
        ));
        // fatal IO error (an errant transaction on the joining server)
        let errant = with(
            running(),
            &[
                ("Slave_IO_Running", "No"),
                ("Last_IO_Errno", "1236"),
                ("Last_IO_Error", "Got fatal error 1236 from master"),
            ],
        );
        match assess("a:1", &[errant]) {
            Assessment::Broken(ActionError::Replication {
                errno: 1236,
                thread: ReplicationThread::Io,
                message,
                ..
            }) => assert!(message.contains("1236")),
            other => panic!("{other:?}"),
        }
        // reconnecting with an error is not (yet) fatal
        let retrying = with(
            running(),
            &[
                ("Slave_IO_Running", "Connecting"),
                ("Last_IO_Errno", "2003"),
                ("Last_IO_Error", "error connecting to master"),
            ],
        );
        match assess("a:1", &[retrying]) {
            Assessment::Waiting {
                io: ThreadState::Connecting,
                sql: ThreadState::Running,
                last_error: Some(e),
            } => assert!(e.contains("connecting")),
            other => panic!("{other:?}"),
        }
        // applier error
        let sql_broken = with(
            running(),
            &[
                ("Slave_SQL_Running", "No"),
                ("Last_SQL_Errno", "1062"),
                ("Last_SQL_Error", "Duplicate entry"),
            ],
        );
        assert!(matches!(
            assess(
                "a:1",
                &[with(running(), &[("Connection_name", "x")]), sql_broken]
            ),
            Assessment::Broken(ActionError::Replication {
                errno: 1062,
                thread: ReplicationThread::Sql,
                ..
            })
        ));
        // "running" right after START SLAVE, before the source sent anything (its
        // refusal may still be on the way): not yet
        match assess("a:1", &[with(running(), &[("Master_Log_File", "")])]) {
            Assessment::Waiting {
                io: ThreadState::Running,
                sql: ThreadState::Running,
                last_error: Some(e),
            } => assert!(e.contains("no event from the source"), "{e}"),
            other => panic!("{other:?}"),
        }
        // stopped without an error: someone ran STOP SLAVE; keep waiting
        assert!(matches!(
            assess(
                "a:1",
                &[with(
                    running(),
                    &[("Slave_IO_Running", "No"), ("Slave_SQL_Running", "No")]
                )]
            ),
            Assessment::Waiting {
                io: ThreadState::Stopped,
                ..
            }
        ));
    }

    #[test]
    fn primary_channel_prefers_the_default_one() {
        let named = with(running(), &[("Connection_name", "east")]).status;
        let default = with(running(), &[]).status;
        let empty = with(running(), &[("Master_Host", "")]).status;
        assert_eq!(
            primary_channel(&[named.clone(), default.clone()]).map(|c| c.channel.as_str()),
            Some("")
        );
        assert_eq!(
            primary_channel(&[empty.clone(), named.clone()]).map(|c| c.channel.as_str()),
            Some("east")
        );
        assert!(primary_channel(&[empty]).is_none());
    }

    #[test]
    fn sql_mode_fix() {
        assert_eq!(
            without_no_backslash_escapes("STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"),
            None
        );
        assert_eq!(without_no_backslash_escapes(""), None);
        assert_eq!(
            without_no_backslash_escapes("STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES,ANSI_QUOTES")
                .as_deref(),
            Some("STRICT_TRANS_TABLES,ANSI_QUOTES")
        );
        assert_eq!(
            without_no_backslash_escapes("NO_BACKSLASH_ESCAPES").as_deref(),
            Some("")
        );
    }

    #[test]
    fn debug_masks_both_passwords() {
        let actions = Actions::new(
            MonitorSettings::new("router", "monitor-secret"),
            "repl",
            "repl-secret",
        );
        let text = format!("{actions:?}");
        assert!(!text.contains("monitor-secret"), "{text}");
        assert!(!text.contains("repl-secret"), "{text}");
        assert!(text.contains("repl"), "{text}");
        let text = format!("{actions:#?}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn timeouts_are_clamped() {
        let a = Actions::new(MonitorSettings::default(), "", "")
            .with_statement_timeout(Duration::ZERO)
            .with_poll_interval(Duration::from_secs(999));
        assert_eq!(a.statement_timeout(), Duration::from_millis(1));
        assert_eq!(a.poll_interval, Duration::from_secs(10));
    }

    #[tokio::test]
    async fn bad_addresses_fail_before_connecting() {
        let a = Actions::new(MonitorSettings::new("router", "pw"), "repl", "pw");
        assert!(matches!(
            a.promote("no-port", false).await,
            Err(ActionError::InvalidAddress { .. })
        ));
        assert!(matches!(
            a.repoint(
                "127.0.0.1:1",
                "127.0.0.1:0",
                GtidStart::SlavePos,
                Duration::from_secs(1)
            )
            .await,
            Err(ActionError::InvalidAddress { .. })
        ));
        assert!(matches!(
            a.repoint(
                "127.0.0.1:1",
                "127.0.0.1:1",
                GtidStart::SlavePos,
                Duration::from_secs(1)
            )
            .await,
            Err(ActionError::SelfReplication { .. })
        ));
    }

    #[tokio::test]
    async fn closed_port_is_unreachable_and_leaks_no_password() {
        let a = Actions::new(
            MonitorSettings::new("router", "s3cret-pw"),
            "repl",
            "repl-pw",
        );
        let err = a.fence("127.0.0.1:1").await.unwrap_err();
        assert!(matches!(err, ActionError::Connect { .. }), "{err:?}");
        assert!(err.is_unreachable());
        assert_eq!(err.address(), "127.0.0.1:1");
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(
                !text.contains("s3cret-pw") && !text.contains("repl-pw"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn silent_server_hits_the_connect_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let mut settings = MonitorSettings::new("router", "pw");
        settings.connect_timeout = Duration::from_millis(150);
        let a = Actions::new(settings, "repl", "pw");
        let started = std::time::Instant::now();
        let err = a
            .catch_up(&address, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(matches!(err, ActionError::ConnectTimeout { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        hold.abort();
    }
}
