//! Problem: instances of different versions read each other's records, so
//! what is stored in etcd must be a stable, documented JSON shape, and a
//! record that cannot be read must be skipped, not crash a reader.

use serde::{Deserialize, Serialize};

/// What one instance sees of the primary (its detector's view).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrimaryView {
    /// The primary this instance watches.
    pub primary: Option<String>,
    /// Its `@@server_id` (instances may name one server differently).
    pub server_id: Option<u32>,
    /// `healthy`, `suspect`, `lost` or `none`.
    pub state: String,
    /// Why (the detector's evidence), for people.
    pub evidence: String,
    /// When this instance last polled that primary successfully (Unix ms).
    pub last_ok_ms: Option<u64>,
}

/// One instance, as it publishes itself under its lease.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouterRecord {
    pub instance: String,
    /// Its application listener.
    pub address: String,
    /// Its admin listener.
    pub admin: String,
    pub version: String,
    pub leader: bool,
    /// It holds writes for the leader's switchover and has nothing running
    /// on the primary any more.
    pub held: bool,
    pub view: PrimaryView,
    /// Servers a backup of this instance reads now: every instance drains
    /// them (the record goes with the lease, so does the drain).
    pub backup_drained: Vec<String>,
    /// When the record was written (Unix ms).
    pub seen_ms: u64,
    pub lease_ttl_ms: u64,
}

/// The primary the leader promoted, for every instance to follow at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PublishedPrimary {
    pub address: String,
    pub server_id: Option<u32>,
    /// The primary it replaced.
    pub replaced: Option<String>,
    /// The journal record of that failover or switchover.
    pub failover: u64,
    /// The instance that promoted it.
    pub by: String,
    pub at_ms: u64,
}

/// A server the leader quarantined: it holds transactions the primary
/// never got, so no instance that leads later may promote or repoint it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SharedQuarantine {
    pub address: String,
    pub server_id: Option<u32>,
    /// Its errant GTIDs.
    pub errant: String,
    pub since_ms: u64,
}

/// The leader's last action on a server, written (fenced) before it acts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Step {
    pub instance: String,
    pub action: String,
    pub server: String,
    pub at_ms: u64,
}

/// The primary a failover replaces: written when it starts (every
/// instance stops using that server and ends the statements waiting on
/// it), and again when it ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Replacing {
    pub old: String,
    pub failover: u64,
    /// Set when the failover ended: `succeeded`, or what else.
    pub outcome: Option<String>,
}

/// Writes held on every instance (a switchover), until `until_ms` at the
/// latest; a past time releases them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hold {
    pub by: String,
    pub until_ms: u64,
    /// At the release: the primary writes go to now (instances keep
    /// holding until their routing sees it).
    pub primary: Option<String>,
}

/// A SWITCHOVER, FAILOVER or REBUILD SERVER typed on an instance that is
/// not the leader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForwardedRequest {
    /// `switchover`, `failover` or `rebuild`.
    pub kind: String,
    /// The server asked for (`TO`), or the one to rebuild.
    pub to: Option<String>,
    /// `rebuild`: where its data comes from (`backup:<id>`,
    /// `replica:<host:port>`; absent: chosen by the leader).
    pub source: Option<String>,
    pub from_instance: String,
}

/// The leader's answer to a forwarded request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForwardedReply {
    /// The failover record (JSON) when it ran.
    pub record: Option<serde_json::Value>,
    /// `refused` or `failed` with the message, when it did not.
    pub error: Option<(String, String)>,
    pub leader: String,
}

/// Unix time in ms.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
