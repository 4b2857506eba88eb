//! Problem: with several sqlyard instances, operators must see at a glance
//! which instances are alive, which one leads, how much lease it has left,
//! and what each one sees of the primary, from any of them. `SHOW ROUTERS`
//! lists the live instances from the cluster view (one row per instance;
//! a single row for this instance when it runs alone).

use crate::admin::parse::Statement;
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::cluster::records::now_ms;
use crate::cluster::ClusterView;
use crate::control::Control;

use super::{ready, Pending};

pub const USAGE: &[&str] = &["SHOW ROUTERS"];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    if stmt.is(&["SHOW", "ROUTERS"]) {
        let rs = match control.ctx.cluster.get() {
            Some(c) => show_routers(&c.view(), c.instance()),
            None => alone(control),
        };
        return ready(Ok(Reply::Rows(rs)));
    }
    None
}

pub const COLUMNS: &[(&str, Column)] = &[
    ("instance", Column::Text),
    ("address", Column::Text),
    ("admin", Column::Text),
    ("leader", Column::Text),
    ("lease_left_ms", Column::Int),
    ("version", Column::Text),
    ("primary", Column::Text),
    ("primary_view", Column::Text),
    ("evidence", Column::Text),
    ("last_seen_ms_ago", Column::Int),
    ("etcd", Column::Text),
];

/// This instance only (no `[cluster]`).
fn alone(control: &Control) -> ResultSet {
    let mut rs = ResultSet::new(COLUMNS);
    let status = control.ctx.failover.status();
    let config = control.ctx.config.load();
    rs.push(vec![
        cell("(alone)"),
        cell(&config.router.listen),
        cell(&config.router.admin_listen),
        cell("yes"),
        None,
        cell(env!("CARGO_PKG_VERSION")),
        status.watched.clone(),
        cell(status.detector.as_str()),
        None,
        cell(0),
        cell("not configured"),
    ]);
    rs
}

/// `SHOW ROUTERS` from a cluster view, as seen by instance `me`.
pub fn show_routers(view: &ClusterView, me: &str) -> ResultSet {
    let mut rs = ResultSet::new(COLUMNS);
    let now = now_ms();
    for r in &view.routers {
        let is_me = r.instance == me;
        let leader = view.leader.as_deref() == Some(r.instance.as_str());
        let lease_left = if is_me && leader {
            view.lease_left().map(|d| d.as_millis() as u64)
        } else if leader || r.lease_ttl_ms > 0 {
            // estimated: the record is rewritten with every renewal
            Some(r.lease_ttl_ms.saturating_sub(now.saturating_sub(r.seen_ms)))
        } else {
            None
        };
        let etcd = if is_me {
            match (&view.etcd_up, &view.etcd_error) {
                (true, _) => "up (this instance)".to_string(),
                (false, Some(e)) => format!("unreachable: {e}"),
                (false, None) => "unreachable".to_string(),
            }
        } else {
            "up".to_string()
        };
        rs.push(vec![
            cell(&r.instance),
            cell(&r.address),
            cell(&r.admin),
            cell(if leader { "yes" } else { "no" }),
            lease_left.map(|v| v.to_string()),
            cell(&r.version),
            r.view.primary.clone(),
            cell(&r.view.state),
            cell(&r.view.evidence),
            cell(now.saturating_sub(r.seen_ms)),
            cell(etcd),
        ]);
    }
    if !view.routers.iter().any(|r| r.instance == me) {
        // etcd is unreachable (or this instance is not listed yet)
        rs.push(vec![
            cell(me),
            None,
            None,
            cell("no"),
            None,
            cell(env!("CARGO_PKG_VERSION")),
            None,
            None,
            None,
            None,
            cell(match &view.etcd_error {
                Some(e) => format!("unreachable: {e}"),
                None => "not reached yet".to_string(),
            }),
        ]);
    }
    rs
}
