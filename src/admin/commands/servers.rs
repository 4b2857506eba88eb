//! Problem: operators need one table that says, per server, what sqlyard
//! believes about it (role, health, replication, connections, traffic,
//! last error, the failure detector's state, failover alerts), and a way
//! to take a server out of rotation, drain it, bring it back, add or
//! remove it, without editing files by hand.
//!
//! `SHOW SERVERS`, `SET SERVER 'host:port' OFFLINE | ONLINE | DRAIN`,
//! `ADD SERVER 'host:port'`, `REMOVE SERVER 'host:port'`.

use std::sync::atomic::Ordering;

use crate::admin::error::AdminError;
use crate::admin::parse::Statement;
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::control::{Control, ReloadReport};
use crate::failover::FailoverStatus;
use crate::topology::{AdminState, ServerState};

use super::client_queries::format_time;
use super::{ready, Pending};

pub const USAGE: &[&str] = &[
    "SHOW SERVERS",
    "SET SERVER '<host:port>' OFFLINE | ONLINE | DRAIN",
    "ADD SERVER '<host:port>'",
    "REMOVE SERVER '<host:port>'",
];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    if stmt.is(&["SHOW", "SERVERS"]) {
        return ready(Ok(Reply::Rows(show_servers(control))));
    }
    if stmt.starts_with(&["SET", "SERVER"]) {
        return Some(Box::pin(set_server(control, stmt)));
    }
    if stmt.starts_with(&["ADD", "SERVER"]) {
        let Some(addr) = single_address(stmt) else {
            return ready(Err(usage("ADD SERVER", USAGE[2])));
        };
        return Some(Box::pin(async move {
            let report = control.add_server(addr).await?;
            let shared = control.share_server_list(addr, true).await;
            Ok(reload_reply(&report, &shared))
        }));
    }
    if stmt.starts_with(&["REMOVE", "SERVER"]) {
        let Some(addr) = single_address(stmt) else {
            return ready(Err(usage("REMOVE SERVER", USAGE[3])));
        };
        return Some(Box::pin(async move {
            let report = control.remove_server(addr).await?;
            let shared = control.share_server_list(addr, false).await;
            Ok(reload_reply(&report, &shared))
        }));
    }
    None
}

fn usage(command: &'static str, usage: &'static str) -> AdminError {
    AdminError::Usage { command, usage }
}

/// `<VERB> SERVER 'addr'` and nothing else.
fn single_address(stmt: &Statement) -> Option<&str> {
    (stmt.tokens.len() == 3).then(|| stmt.value(2)).flatten()
}

/// The OK answer of a command that reloaded the config (`shared`: what
/// became of it in the cluster, or empty).
pub fn reload_reply(report: &ReloadReport, shared: &str) -> Reply {
    let affected = (report.servers_added.len() + report.servers_removed.len()) as u64;
    Reply::Ok {
        affected,
        info: format!("{report}{shared}"),
    }
}

async fn set_server(control: &Control, stmt: &Statement) -> Result<Reply, AdminError> {
    let bad = || usage("SET SERVER", USAGE[1]);
    if stmt.tokens.len() != 4 {
        return Err(bad());
    }
    let addr = stmt.value(2).ok_or_else(bad)?;
    let state = match stmt.word(3) {
        Some("OFFLINE") => AdminState::Offline,
        Some("ONLINE") => AdminState::Online,
        Some("DRAIN") => AdminState::Drain,
        _ => return Err(bad()),
    };
    control.set_server_state(addr, state)?;
    let shared = control.share_server_state(addr, state).await;
    Ok(Reply::ok_info(format!(
        "server {addr} is now {} (runtime only; not written to the config file){shared}",
        state.as_str().to_uppercase()
    )))
}

const COLUMNS: &[(&str, Column)] = &[
    ("address", Column::Text),
    ("server_id", Column::Int),
    ("role", Column::Text),
    ("state", Column::Text),
    ("state_from", Column::Text),
    ("reachable", Column::Text),
    ("read_only", Column::Text),
    ("source", Column::Text),
    ("io_thread", Column::Text),
    ("sql_thread", Column::Text),
    ("lag_seconds", Column::Float),
    ("reads", Column::Text),
    ("seconds_behind_master", Column::Int),
    ("gtid_position", Column::Text),
    ("conns_in_use", Column::Int),
    ("conns_idle", Column::Int),
    ("queries", Column::Int),
    ("query_errors", Column::Int),
    ("connect_errors", Column::Int),
    ("version", Column::Text),
    ("last_seen", Column::Text),
    ("last_error", Column::Text),
    ("last_error_at", Column::Text),
    ("tls", Column::Text),
    ("detector", Column::Text),
    ("fenced", Column::Text),
    ("alert", Column::Text),
];

/// `SHOW SERVERS`: one row per configured server.
pub fn show_servers(control: &Control) -> ResultSet {
    let snap = control.ctx.topology.load();
    let config = control.config();
    let candidates = crate::router::replicas::candidates(&snap, &config);
    let failover = control.ctx.failover.status();
    let mut rs = ResultSet::new(COLUMNS);
    for s in &snap.servers {
        let reads = if snap
            .primary_server()
            .is_some_and(|p| p.address == s.address)
        {
            "primary".to_string()
        } else {
            match candidates.iter().find(|c| c.server.address == s.address) {
                Some(c) => match &c.verdict {
                    Ok(()) => "eligible".to_string(),
                    Err(why) => format!("no: {why}"),
                },
                None => "no".to_string(),
            }
        };
        let mut row = server_row(control, s, reads);
        row.extend(failover_cells(&failover, s));
        rs.push(row);
    }
    rs
}

/// `detector` (the failure detector's state for the primary it watches,
/// empty for the other servers), `fenced` and `alert` (alerts about the
/// server; a quarantined server's errant GTIDs).
fn failover_cells(status: &FailoverStatus, s: &ServerState) -> [Option<String>; 3] {
    let detector = if status.watched.as_deref() == Some(s.address.as_str()) {
        status.detector.as_str()
    } else {
        ""
    };
    [
        cell(detector),
        yes_no(s.fenced),
        status.alert_for(&s.address),
    ]
}

/// `state_from`: `cluster` when the state is the one shared by another
/// instance (several routers), else `local`.
fn state_from(control: &Control, s: &ServerState) -> Option<String> {
    let shared = control
        .cluster()
        .and_then(|c| c.view().server_states.get(&s.address).cloned());
    cell(match shared {
        Some(state) if state == s.admin.as_str() => "cluster",
        _ => "local",
    })
}

fn yes_no(b: bool) -> Option<String> {
    cell(if b { "yes" } else { "no" })
}

fn server_row(control: &Control, s: &ServerState, reads: String) -> Vec<Option<String>> {
    let chan = s.replication.iter().find(|c| c.has_source());
    let (idle, in_use) = control.ctx.backends.server_counts(&s.address);
    let stats = Some(control.ctx.backends.servers.get(&s.address));
    let counter = |f: fn(&crate::backend::ServerStats) -> &std::sync::atomic::AtomicU64| {
        cell(
            stats
                .as_ref()
                .map(|st| f(st).load(Ordering::Relaxed))
                .unwrap_or(0),
        )
    };
    vec![
        cell(&s.address),
        s.server_id.map(|v| v.to_string()),
        cell(s.role),
        cell(s.admin),
        state_from(control, s),
        yes_no(s.reachable),
        s.read_only
            .map(|r| if r { "ON" } else { "OFF" }.to_string()),
        chan.and_then(|c| c.source_address()),
        chan.map(|c| c.io_running.to_string()),
        chan.map(|c| c.sql_running.to_string()),
        s.lag.map(|l| format!("{:.3}", l.as_secs_f64())),
        Some(reads),
        chan.and_then(|c| c.seconds_behind_source)
            .map(|v| v.to_string()),
        s.gtid.executed.as_ref().map(|g| g.to_string()),
        cell(in_use),
        cell(idle),
        counter(|st| &st.queries),
        counter(|st| &st.query_errors),
        counter(|st| &st.connect_errors),
        s.version.clone(),
        s.last_seen.map(format_time),
        s.last_error.clone(),
        s.last_error_at.map(format_time),
        tls_cell(stats.as_deref()),
    ]
}

/// `tls`: version and cipher of sqlyard's pool connections to the server
/// (`plaintext`, or empty before the first one).
fn tls_cell(stats: Option<&crate::backend::ServerStats>) -> Option<String> {
    let st = stats?;
    match &*st.tls.lock() {
        Some(seen) => cell(format!("{} {}", seen.info.version, seen.info.cipher)),
        None if st.conns.open() == 0 => cell(""),
        None => cell("plaintext"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failover::{Alert, DetectorState, Quarantined};
    use std::time::SystemTime;

    #[test]
    fn detector_and_alert_cells() {
        let now = SystemTime::now();
        let status = FailoverStatus {
            watched: Some("p:1".into()),
            detector: DetectorState::Suspect,
            alerts: vec![
                Alert {
                    address: Some("r:2".into()),
                    message: "stale: replication stopped before the loss".into(),
                    since: now,
                },
                Alert {
                    address: None,
                    message: "no safe candidate".into(),
                    since: now,
                },
            ],
            quarantined: vec![Quarantined {
                address: "old:3".into(),
                server_id: Some(3),
                errant: "0-3-12".into(),
                since: now,
            }],
            ..FailoverStatus::default()
        };
        let server = |a: &str, fenced: bool| {
            let mut s = ServerState::new(a);
            s.fenced = fenced;
            s
        };
        assert_eq!(
            failover_cells(&status, &server("p:1", false)),
            [cell("suspect"), cell("no"), None],
            "the watched primary"
        );
        assert_eq!(
            failover_cells(&status, &server("r:2", false)),
            [
                cell(""),
                cell("no"),
                cell("stale: replication stopped before the loss")
            ]
        );
        assert_eq!(
            failover_cells(&status, &server("old:3", true)),
            [
                cell(""),
                cell("yes"),
                cell("quarantined: errant transactions 0-3-12")
            ]
        );
        assert_eq!(COLUMNS[COLUMNS.len() - 3].0, "detector");
        assert_eq!(COLUMNS[COLUMNS.len() - 2].0, "fenced");
        assert_eq!(COLUMNS[COLUMNS.len() - 1].0, "alert");
    }
}
