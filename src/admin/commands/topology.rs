//! Problem: operators need to see who replicates from whom, and whether
//! each replication channel is healthy, without logging in to every
//! server. `SHOW TOPOLOGY` lists, from the monitor's last snapshot, one row
//! per replication channel (and one per server that replicates from no
//! one, with no source).

use crate::admin::parse::Statement;
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::control::Control;
use crate::topology::replica_status::{GtidMode, ReplicationStatus};
use crate::topology::{ServerState, Snapshot};

use super::{ready, Pending};

pub const USAGE: &[&str] = &["SHOW TOPOLOGY"];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    if stmt.is(&["SHOW", "TOPOLOGY"]) {
        return ready(Ok(Reply::Rows(show_topology(&control.ctx.topology.load()))));
    }
    None
}

pub const COLUMNS: &[(&str, Column)] = &[
    ("server", Column::Text),
    ("server_id", Column::Int),
    ("role", Column::Text),
    ("source", Column::Text),
    ("source_role", Column::Text),
    ("channel", Column::Text),
    ("io_thread", Column::Text),
    ("sql_thread", Column::Text),
    ("seconds_behind_master", Column::Int),
    ("using_gtid", Column::Text),
    ("gtid_io_pos", Column::Text),
    ("gtid_slave_pos", Column::Text),
    ("gtid_current_pos", Column::Text),
    ("last_io_error", Column::Text),
    ("last_sql_error", Column::Text),
];

/// `SHOW TOPOLOGY` for a snapshot.
pub fn show_topology(snap: &Snapshot) -> ResultSet {
    let mut rs = ResultSet::new(COLUMNS);
    for s in &snap.servers {
        let channels: Vec<&ReplicationStatus> =
            s.replication.iter().filter(|c| c.has_source()).collect();
        if channels.is_empty() {
            rs.push(row(snap, s, None));
        }
        for c in channels {
            rs.push(row(snap, s, Some(c)));
        }
    }
    rs
}

fn gtid_mode(m: GtidMode) -> &'static str {
    match m {
        GtidMode::Off => "no",
        GtidMode::SlavePos => "slave_pos",
        GtidMode::CurrentPos => "current_pos",
        GtidMode::AutoPosition => "auto_position",
    }
}

fn error_text(errno: Option<u32>, text: &Option<String>) -> Option<String> {
    match (errno, text) {
        (Some(n), Some(t)) => Some(format!("{n}: {t}")),
        (Some(n), None) => Some(n.to_string()),
        (None, Some(t)) => Some(t.clone()),
        (None, None) => None,
    }
}

fn row(snap: &Snapshot, s: &ServerState, c: Option<&ReplicationStatus>) -> Vec<Option<String>> {
    let source = c.and_then(|c| c.source_address());
    let source_role = source.as_ref().map(|a| match snap.server(a) {
        Some(src) => src.role.to_string(),
        None => "not configured".to_string(),
    });
    vec![
        cell(&s.address),
        s.server_id.map(|v| v.to_string()),
        cell(s.role),
        source,
        source_role,
        c.map(|c| c.channel.clone()),
        c.map(|c| c.io_running.to_string()),
        c.map(|c| c.sql_running.to_string()),
        c.and_then(|c| c.seconds_behind_source)
            .map(|v| v.to_string()),
        c.and_then(|c| c.gtid_mode)
            .map(|m| gtid_mode(m).to_string()),
        c.and_then(|c| c.retrieved_gtid.as_ref())
            .map(|g| g.to_string()),
        c.and_then(|c| c.executed_gtid.as_ref())
            .map(|g| g.to_string()),
        s.gtid.executed.as_ref().map(|g| g.to_string()),
        c.and_then(|c| error_text(c.last_io_errno, &c.last_io_error)),
        c.and_then(|c| error_text(c.last_sql_errno, &c.last_sql_error)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::replica_status::ThreadState;
    use crate::topology::Role;

    #[test]
    fn one_row_per_channel_and_per_unreplicated_server() {
        let mut p = ServerState::new("h:1");
        p.role = Role::Primary;
        let mut r = ServerState::new("h:2");
        r.role = Role::Replica;
        r.replication.push(ReplicationStatus {
            channel: String::new(),
            source_host: Some("h".into()),
            source_port: Some(1),
            io_running: ThreadState::Running,
            sql_running: ThreadState::Stopped,
            last_sql_errno: Some(1062),
            last_sql_error: Some("dup".into()),
            ..Default::default()
        });
        let snap = Snapshot::new(vec![p, r], Some(0), None);
        let rs = show_topology(&snap);
        assert_eq!(rs.rows.len(), 2);
        let col = |n: &str| rs.column(n).unwrap();
        assert_eq!(rs.rows[0][col("source")], None);
        assert_eq!(rs.rows[1][col("source")].as_deref(), Some("h:1"));
        assert_eq!(rs.rows[1][col("source_role")].as_deref(), Some("primary"));
        assert_eq!(rs.rows[1][col("io_thread")].as_deref(), Some("running"));
        assert_eq!(rs.rows[1][col("sql_thread")].as_deref(), Some("stopped"));
        assert_eq!(
            rs.rows[1][col("last_sql_error")].as_deref(),
            Some("1062: dup")
        );
    }
}
