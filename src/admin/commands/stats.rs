//! Problem: the counters behind the Prometheus metrics should be readable
//! where the operator already is, without a scraper. `SHOW STATS` lists
//! them as (name, value) rows; labelled counters are written the
//! Prometheus way (`pins_total{reason="transaction"}`,
//! `server_queries_total{server="127.0.0.1:3306"}`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::admin::parse::Statement;
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::app::context::Stats;
use crate::backend::pins::Pin;
use crate::backend::ServerStats;
use crate::control::Control;
use crate::protocol::Origin;

use super::{ready, Pending};

pub const USAGE: &[&str] = &["SHOW STATS"];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    if stmt.is(&["SHOW", "STATS"]) {
        return ready(Ok(Reply::Rows(show_stats(control))));
    }
    None
}

pub const COLUMNS: &[(&str, Column)] = &[("name", Column::Text), ("value", Column::Int)];

/// `SHOW STATS`.
pub fn show_stats(control: &Control) -> ResultSet {
    let mut rs = ResultSet::new(COLUMNS);
    // Destructured so that a new counter cannot be forgotten here.
    let Stats {
        accepted,
        active,
        auth_failures,
        auth_delays,
        queries,
        query_errors,
        backend_errors,
        bytes_in,
        bytes_out,
        state_syncs,
        pins_total,
        refused_max_connections,
        ryw,
        no_replica_errors,
        errors_by_origin,
    } = &control.ctx.stats;
    let mut put =
        |name: String, c: &AtomicU64| rs.push(vec![cell(name), cell(c.load(Ordering::Relaxed))]);
    put("client_connections_accepted_total".into(), accepted);
    put("client_connections_active".into(), active);
    put(
        "client_connections_refused_max_connections_total".into(),
        refused_max_connections,
    );
    put("auth_failures_total".into(), auth_failures);
    put("auth_delays_total".into(), auth_delays);
    put("queries_total".into(), queries);
    put("query_errors_total".into(), query_errors);
    put("backend_errors_total".into(), backend_errors);
    put("bytes_in_total".into(), bytes_in);
    put("bytes_out_total".into(), bytes_out);
    put("state_syncs_total".into(), state_syncs);
    for (outcome, c) in ryw.outcomes() {
        put(
            format!("read_your_writes_total{{outcome=\"{outcome}\"}}"),
            c,
        );
    }
    put("no_replica_errors_total".into(), no_replica_errors);
    for o in Origin::ALL {
        put(
            format!("errors_sent_total{{origin=\"{o}\"}}"),
            &errors_by_origin[o as usize],
        );
    }
    for p in Pin::ALL {
        put(
            format!("pins_total{{reason=\"{}\"}}", p.as_str()),
            &pins_total[p as usize],
        );
    }
    let mut per_server = control.ctx.backends.servers.all();
    per_server.sort_by(|a, b| a.0.cmp(&b.0));
    let mut limits = Vec::new();
    for (addr, st) in &per_server {
        let ServerStats {
            queries,
            query_errors,
            connect_errors,
            outstanding,
            conns,
            tls: _,
        } = &**st;
        put(
            format!("server_queries_total{{server=\"{addr}\"}}"),
            queries,
        );
        put(
            format!("server_query_errors_total{{server=\"{addr}\"}}"),
            query_errors,
        );
        put(
            format!("server_connect_errors_total{{server=\"{addr}\"}}"),
            connect_errors,
        );
        put(
            format!("server_outstanding_requests{{server=\"{addr}\"}}"),
            outstanding,
        );
        limits.push(vec![
            cell(format!("server_connections_open{{server=\"{addr}\"}}")),
            cell(conns.open()),
        ]);
        let limit = conns.limit();
        limits.push(vec![
            cell(format!("server_connection_limit{{server=\"{addr}\"}}")),
            if limit == usize::MAX {
                cell("none")
            } else {
                cell(limit)
            },
        ]);
    }
    for row in limits {
        rs.push(row);
    }
    let digests = control.ctx.digest.len() as u64;
    rs.push(vec![cell("query_digests"), cell(digests)]);
    rs.push(vec![
        cell("client_sessions_registered"),
        cell(control.ctx.registry.len()),
    ]);
    rs
}
