//! The data path must decide "where does this query go" many thousand times a second
//! without waiting on the monitor. `Snapshot` is one immutable, complete view of the
//! cluster (every server's last known state, their roles and the elected primary); the
//! monitor builds a new one each round and swaps it in whole (see `handle.rs`), so readers
//! never see half an update and never take a lock.
//!
//! Shape rule for later additions (lag, detector state, failover state): add new fields,
//! give them a value in `ServerState::new` / `Snapshot::new`, and build values through
//! those constructors rather than struct literals, so adding a field breaks no caller.

use std::fmt;
use std::time::{Duration, SystemTime};

use super::detector::Evidence;
use super::flavor::{Flavor, GtidPositions};
use super::lag::HeartbeatRead;
use super::primary::PrimaryConflict;
use super::probe::ServerFacts;
use super::replica_status::ReplicationStatus;

/// What a server is in the topology, as far as routing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The one writable server; all writes go here.
    Primary,
    /// Reachable and replicating from a source; may serve reads.
    Replica,
    /// Writable and replicating from no one, but not the primary (a second writer, or
    /// one of several at startup). Gets no writes and no reads.
    Suspect,
    /// The last poll failed.
    Unreachable,
    /// Not polled yet, or reachable but neither primary-like nor replicating
    /// (e.g. read-only with no replication channel).
    Unknown,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::Suspect => "suspect",
            Role::Unreachable => "unreachable",
            Role::Unknown => "unknown",
        })
    }
}

/// What an operator set for a server with `SET SERVER ... OFFLINE | DRAIN |
/// ONLINE` (runtime only, never written to the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AdminState {
    /// In rotation (the default).
    #[default]
    Online,
    /// Out of rotation now: no new work, idle connections closed, sessions
    /// holding a connection to it lose it at their next statement.
    Offline,
    /// No new work; sessions that hold a connection to it finish on it.
    Drain,
}

impl AdminState {
    pub fn as_str(&self) -> &'static str {
        match self {
            AdminState::Online => "online",
            AdminState::Offline => "offline",
            AdminState::Drain => "drain",
        }
    }

    /// The state named `text` (`online`, `offline`, `drain`).
    pub fn parse(text: &str) -> Option<AdminState> {
        match text {
            "online" => Some(AdminState::Online),
            "offline" => Some(AdminState::Offline),
            "drain" => Some(AdminState::Drain),
            _ => None,
        }
    }

    /// Whether new work may be sent to the server.
    pub fn accepts_new_work(&self) -> bool {
        *self == AdminState::Online
    }
}

impl fmt::Display for AdminState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Semi-sync replication on one server (MariaDB's built-in semi-sync).
/// `None`: not known (MySQL without the plugin, or never polled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SemiSync {
    /// `rpl_semi_sync_master_enabled`: the source side is switched on.
    pub master_enabled: Option<bool>,
    /// `Rpl_semi_sync_master_status`: the source side is active now (it
    /// falls back to async when no replica acknowledges in time).
    pub master_active: Option<bool>,
    /// `rpl_semi_sync_slave_enabled`: the replica side is switched on.
    pub slave_enabled: Option<bool>,
}

/// The last known state of one configured server. When a poll fails, the fields read by
/// earlier polls (server_id, read_only, replication...) keep their last known values and
/// `reachable` turns false.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServerState {
    /// `host:port` as configured.
    pub address: String,
    /// True if the last poll succeeded.
    pub reachable: bool,
    /// `@@server_id`; servers are identified by it together with the address.
    pub server_id: Option<u32>,
    pub read_only: Option<bool>,
    pub flavor: Option<Flavor>,
    /// `@@version`, e.g. `10.11.19-MariaDB-0+deb12u1`.
    pub version: Option<String>,
    /// One entry per replication channel; empty when replicating from no one.
    pub replication: Vec<ReplicationStatus>,
    pub gtid: GtidPositions,
    pub role: Role,
    /// The most recent poll error (kept after recovery, with its time, for diagnosis).
    pub last_error: Option<String>,
    pub last_error_at: Option<SystemTime>,
    /// When a poll last succeeded.
    pub last_seen: Option<SystemTime>,
    /// Failed polls since the last success.
    pub consecutive_failures: u32,
    /// Set by an operator; runtime only.
    pub admin: AdminState,
    /// The lag heartbeat as last read on this server (replicas).
    pub heartbeat: Option<HeartbeatRead>,
    /// Replication lag as sqlyard measures it (see `lag.rs`); `None` for the
    /// primary and while nothing could be measured.
    pub lag: Option<Duration>,
    pub semi_sync: SemiSync,
    /// `@@slave_net_timeout` in seconds.
    pub slave_net_timeout: Option<u32>,
    /// `@@global.max_allowed_packet` in bytes.
    pub max_allowed_packet: Option<u64>,
    /// `@@global.max_connections`.
    pub max_connections: Option<u64>,
    /// What the last poll showed: alive, or how it failed (failure detector).
    pub evidence: Option<Evidence>,
    /// Polls applied to this state so far (the detector counts each once).
    pub polls: u64,
    /// Failover fenced this server: it never becomes primary through
    /// sqlyard until it is rejoined as a replica.
    pub fenced: bool,
}

impl ServerState {
    /// A server nothing is known about yet.
    pub fn new(address: impl Into<String>) -> Self {
        ServerState {
            address: address.into(),
            reachable: false,
            server_id: None,
            read_only: None,
            flavor: None,
            version: None,
            replication: Vec::new(),
            gtid: GtidPositions::default(),
            role: Role::Unknown,
            last_error: None,
            last_error_at: None,
            last_seen: None,
            consecutive_failures: 0,
            admin: AdminState::Online,
            heartbeat: None,
            lag: None,
            semi_sync: SemiSync::default(),
            slave_net_timeout: None,
            max_allowed_packet: None,
            max_connections: None,
            evidence: None,
            polls: 0,
            fenced: false,
        }
    }

    /// `read_only` is known to be OFF.
    pub fn is_writable(&self) -> bool {
        self.read_only == Some(false)
    }

    /// Has at least one replication channel that names a source host.
    pub fn replicates(&self) -> bool {
        self.replication.iter().any(ReplicationStatus::has_source)
    }

    /// Reachable, writable and replicating from no one: what a primary looks like.
    pub fn looks_like_primary(&self) -> bool {
        self.reachable && self.is_writable() && !self.replicates()
    }

    /// Same address and same known server_id: the same server as `other`, not a
    /// different one that took over its address.
    pub fn is_same_server(&self, other: &ServerState) -> bool {
        self.address == other.address
            && self.server_id.is_some()
            && self.server_id == other.server_id
    }

    /// Records a successful poll.
    pub fn record_success(&mut self, facts: ServerFacts, at: SystemTime) {
        self.reachable = true;
        self.server_id = Some(facts.server_id);
        self.read_only = Some(facts.read_only);
        self.flavor = Some(facts.flavor);
        self.version = Some(facts.version);
        self.replication = facts.replication;
        self.gtid = facts.gtid;
        self.heartbeat = facts.heartbeat;
        self.semi_sync = facts.semi_sync;
        self.slave_net_timeout = facts.slave_net_timeout;
        self.max_allowed_packet = facts.max_allowed_packet;
        self.max_connections = facts.max_connections;
        self.last_seen = Some(at);
        self.consecutive_failures = 0;
        self.evidence = Some(Evidence::Alive);
        self.polls += 1;
    }

    /// Records a failed poll; last known values stay, but lag is unknown.
    pub fn record_failure(&mut self, error: String, at: SystemTime) {
        self.record_failure_as(error, Evidence::Silence, at);
    }

    /// Records a failed poll and what kind of evidence it gives.
    pub fn record_failure_as(&mut self, error: String, evidence: Evidence, at: SystemTime) {
        self.evidence = Some(evidence);
        self.polls += 1;
        self.reachable = false;
        self.lag = None;
        self.last_error = Some(error);
        self.last_error_at = Some(at);
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
    }
}

/// One immutable view of the whole topology.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// Increments by one with every publish; 0 is the initial snapshot.
    pub generation: u64,
    /// In configured order.
    pub servers: Vec<ServerState>,
    /// Index into `servers` of the primary, if one is known.
    pub primary: Option<usize>,
    /// Set when more than one server looks like a primary.
    pub primary_conflict: Option<PrimaryConflict>,
    /// New work for the primary waits (a switchover is moving it).
    pub writes_held: bool,
    /// A backup drained a replica to read it: with
    /// `routing.primary_reads = "fallback"` the primary takes reads too,
    /// so the read capacity stays what it was.
    pub primary_shares_reads: bool,
}

impl Snapshot {
    /// The largest client packet the servers take: the primary's
    /// `max_allowed_packet`, else the smallest a reachable server reported,
    /// else `fallback`. sqlyard refuses larger packets before buffering them.
    pub fn max_packet(&self, fallback: usize) -> usize {
        let of = |s: &ServerState| s.max_allowed_packet.and_then(|v| usize::try_from(v).ok());
        if let Some(v) = self.primary_server().and_then(of) {
            return v;
        }
        self.servers
            .iter()
            .filter(|s| s.reachable)
            .filter_map(of)
            .min()
            .unwrap_or(fallback)
    }

    /// A snapshot of the given servers with their roles already decided. The generation
    /// is assigned when it is published.
    pub fn new(
        servers: Vec<ServerState>,
        primary: Option<usize>,
        primary_conflict: Option<PrimaryConflict>,
    ) -> Self {
        Snapshot {
            generation: 0,
            servers,
            primary,
            primary_conflict,
            writes_held: false,
            primary_shares_reads: false,
        }
    }

    /// Before any poll: every server Unknown, no primary.
    pub fn initial(addresses: &[String]) -> Self {
        Snapshot::new(addresses.iter().map(ServerState::new).collect(), None, None)
    }

    /// The primary's state, if a primary is known.
    pub fn primary_server(&self) -> Option<&ServerState> {
        self.primary.and_then(|i| self.servers.get(i))
    }

    /// The primary, if it may take new work (not set OFFLINE or DRAIN).
    pub fn primary_for_new_work(&self) -> Option<&ServerState> {
        if self.writes_held {
            return None;
        }
        self.primary_server().filter(|p| p.admin.accepts_new_work())
    }

    /// The server configured at `address`.
    pub fn server(&self, address: &str) -> Option<&ServerState> {
        self.servers.iter().find(|s| s.address == address)
    }

    /// The first server that reported this `@@server_id`.
    pub fn server_by_id(&self, server_id: u32) -> Option<&ServerState> {
        self.servers.iter().find(|s| s.server_id == Some(server_id))
    }

    /// Servers currently in the Replica role.
    pub fn replicas(&self) -> impl Iterator<Item = &ServerState> {
        self.servers.iter().filter(|s| s.role == Role::Replica)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn facts(server_id: u32, read_only: bool) -> ServerFacts {
        ServerFacts {
            heartbeat: None,
            heartbeat_written: None,
            semi_sync: Default::default(),
            slave_net_timeout: None,
            max_allowed_packet: None,
            max_connections: None,
            server_id,
            read_only,
            flavor: Flavor::MariaDb,
            version: "10.11.19-MariaDB".into(),
            replication: Vec::new(),
            gtid: GtidPositions::default(),
        }
    }

    #[test]
    fn max_packet_is_the_primarys_else_the_smallest_reachable() {
        let mut a = ServerState::new("a:1");
        let mut b = ServerState::new("b:2");
        let at = SystemTime::now();
        a.record_success(
            ServerFacts {
                max_allowed_packet: Some(1 << 20),
                max_connections: None,
                ..facts(1, true)
            },
            at,
        );
        b.record_success(
            ServerFacts {
                max_allowed_packet: Some(4 << 20),
                max_connections: None,
                ..facts(2, false)
            },
            at,
        );
        let none = Snapshot::new(vec![a.clone(), b.clone()], None, None);
        assert_eq!(none.max_packet(99), 1 << 20, "smallest reachable");
        let with_primary = Snapshot::new(vec![a, b], Some(1), None);
        assert_eq!(with_primary.max_packet(99), 4 << 20, "the primary's");
        let unknown = Snapshot::initial(&["c:3".to_string()]);
        assert_eq!(unknown.max_packet(99), 99);
    }

    #[test]
    fn role_display() {
        assert_eq!(Role::Primary.to_string(), "primary");
        assert_eq!(Role::Replica.to_string(), "replica");
        assert_eq!(Role::Suspect.to_string(), "suspect");
        assert_eq!(Role::Unreachable.to_string(), "unreachable");
        assert_eq!(Role::Unknown.to_string(), "unknown");
    }

    #[test]
    fn initial_snapshot_knows_nothing() {
        let s = Snapshot::initial(&["a:1".to_string(), "b:2".to_string()]);
        assert_eq!(s.generation, 0);
        assert_eq!(s.servers.len(), 2);
        assert!(s
            .servers
            .iter()
            .all(|x| x.role == Role::Unknown && !x.reachable));
        assert!(s.primary_server().is_none());
        assert_eq!(s.server("b:2").map(|x| x.address.as_str()), Some("b:2"));
        assert!(s.server("c:3").is_none());
    }

    #[test]
    fn primary_index_out_of_range_is_no_primary() {
        let s = Snapshot::new(vec![ServerState::new("a:1")], Some(5), None);
        assert!(s.primary_server().is_none());
    }

    #[test]
    fn success_and_failure_bookkeeping() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let t1 = t0 + Duration::from_secs(1);
        let mut s = ServerState::new("a:1");
        s.record_failure("connection refused".into(), t0);
        s.record_failure("connection refused".into(), t1);
        assert_eq!(s.consecutive_failures, 2);
        assert!(!s.reachable);
        assert_eq!(s.last_error_at, Some(t1));

        s.record_success(facts(7, false), t1);
        assert!(s.reachable);
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(s.server_id, Some(7));
        assert!(s.looks_like_primary());
        // The error stays for diagnosis.
        assert_eq!(s.last_error.as_deref(), Some("connection refused"));

        s.record_failure("timeout".into(), t1);
        // Last known values stay, but an unreachable server never looks like a primary.
        assert_eq!(s.server_id, Some(7));
        assert_eq!(s.read_only, Some(false));
        assert!(!s.looks_like_primary());
    }

    #[test]
    fn same_server_needs_address_and_id() {
        let mut a = ServerState::new("a:1");
        let mut b = ServerState::new("a:1");
        assert!(
            !a.is_same_server(&b),
            "unknown ids are never the same server"
        );
        a.server_id = Some(1);
        b.server_id = Some(1);
        assert!(a.is_same_server(&b));
        b.server_id = Some(2);
        assert!(!a.is_same_server(&b));
        let mut c = ServerState::new("c:1");
        c.server_id = Some(1);
        assert!(!a.is_same_server(&c));
    }
}
