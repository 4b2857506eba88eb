//! Problem: when a statement runs somewhere unexpected, an operator needs
//! to see why without reading code or logs. `EXPLAIN ROUTE '<sql>'` shows
//! what the classifier made of a statement and where a fresh application
//! session (autocommit on, nothing pinned, `routing.read_write_split` as
//! running) would send it, with the rule that decided; for a read, every
//! replica candidate and whether it may serve reads now (or why not).
//!
//! The answer is a two-column table `(field, value)`:
//! `statement`, `kind`, `decided_by`, `hint`, `effects`, `read_write_split`,
//! `target`, `reason`, then for a replica target one `replica <address>`
//! row per candidate (`eligible (weight w, lag l, bound b)` or
//! `ineligible: <why>`) and `primary_reads` (what happens when none
//! qualifies).

use crate::admin::error::AdminError;
use crate::admin::parse::{Statement, Token};
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::config::Config;
use crate::control::Control;
use crate::router::classify::{classify_detailed, Effects};
use crate::router::replicas::candidates;
use crate::router::route::{route, RouteContext, Target};
use crate::topology::Snapshot;

use super::{ready, Pending};

pub const USAGE: &[&str] = &["EXPLAIN ROUTE '<sql>'"];

pub const COLUMNS: &[(&str, Column)] = &[("field", Column::Text), ("value", Column::Text)];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    if !stmt.starts_with(&["EXPLAIN", "ROUTE"]) {
        return None;
    }
    let sql = match &stmt.tokens[2..] {
        [Token::Str(sql)] if !sql.trim().is_empty() => sql,
        _ => {
            return ready(Err(AdminError::Usage {
                command: "EXPLAIN ROUTE",
                usage: USAGE[0],
            }))
        }
    };
    let snap = control.ctx.topology.load();
    let config = control.config();
    ready(Ok(Reply::Rows(explain(sql, &snap, &config))))
}

/// The `EXPLAIN ROUTE` table for `sql`.
pub fn explain(sql: &str, snap: &Snapshot, config: &Config) -> ResultSet {
    let mut rs = ResultSet::new(COLUMNS);
    let mut row = |field: &str, value: String| rs.push(vec![cell(field), Some(value)]);
    let (class, decider) = classify_detailed(sql.as_bytes());
    let cx = RouteContext {
        pinned: false,
        holding: false,
        autocommit: true,
        split: config.routing.read_write_split,
    };
    let r = route(&class, &cx);
    row("statement", sql.to_string());
    row("kind", class.kind.as_str().to_string());
    row("decided_by", decider.as_str().to_string());
    row(
        "hint",
        class.hint.map_or("none", |h| h.as_str()).to_string(),
    );
    row("effects", effects_text(&class.effects));
    row(
        "read_write_split",
        if cx.split { "on" } else { "off" }.to_string(),
    );
    row("target", r.target.as_str().to_string());
    row("reason", r.reason.as_str().to_string());
    if r.target == Target::Replica {
        for c in candidates(snap, config) {
            let verdict = match &c.verdict {
                Ok(()) => format!(
                    "eligible (weight {}, lag {}, bound {:.1}s)",
                    c.weight,
                    c.server.lag.map_or("unknown".to_string(), |l| format!(
                        "{:.1}s",
                        l.as_secs_f64()
                    )),
                    c.max_lag.as_secs_f64()
                ),
                Err(why) => format!("ineligible: {why}"),
            };
            row(&format!("replica {}", c.server.address), verdict);
        }
        row(
            "primary_reads",
            format!("{:?}", config.routing.primary_reads).to_lowercase(),
        );
    }
    rs
}

/// The effects as a comma-separated list, `none` when there are none.
fn effects_text(e: &Effects) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !e.assigns_user_vars.is_empty() {
        parts.push(format!("assigns @{}", e.assigns_user_vars.join(", @")));
    }
    for (on, name) in [
        (e.creates_temp_table, "creates a temporary table"),
        (e.drops_temp_table, "drops a temporary table"),
        (e.takes_named_lock, "takes a named lock"),
        (e.releases_named_lock, "releases named locks"),
        (e.locks_tables, "LOCK TABLES"),
        (e.unlocks_tables, "UNLOCK TABLES"),
        (e.sql_prepare, "PREPARE"),
        (e.calc_found_rows, "SQL_CALC_FOUND_ROWS"),
        (e.uses_last_insert_id, "uses LAST_INSERT_ID"),
    ] {
        if on {
            parts.push(name.to_string());
        }
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(sql: &str, split: bool) -> Vec<(String, String)> {
        let mut config = Config::default();
        config.routing.read_write_split = split;
        let snap = Snapshot::initial(&["127.0.0.1:1".to_string(), "127.0.0.1:2".to_string()]);
        explain(sql, &snap, &config)
            .rows
            .into_iter()
            .map(|r| {
                (
                    r[0].clone().unwrap_or_default(),
                    r[1].clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    fn get(t: &[(String, String)], field: &str) -> String {
        t.iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {field} in {t:?}"))
    }

    #[test]
    fn read_write_and_hint() {
        let t = table("SELECT SQL_CALC_FOUND_ROWS * FROM t", true);
        assert_eq!(get(&t, "kind"), "read");
        assert_eq!(get(&t, "target"), "replica");
        assert_eq!(get(&t, "reason"), "read");
        assert_eq!(get(&t, "effects"), "SQL_CALC_FOUND_ROWS");
        assert_eq!(get(&t, "decided_by"), "fast path");
        assert_eq!(get(&t, "primary_reads"), "fallback");
        assert!(
            get(&t, "replica 127.0.0.1:2").starts_with("ineligible: "),
            "{t:?}"
        );
        let t = table("SET @a = 1, @b := 2", true);
        assert_eq!(get(&t, "target"), "primary");
        assert_eq!(get(&t, "reason"), "user_variables");
        assert_eq!(get(&t, "effects"), "assigns @a, @b");
        assert!(t.iter().all(|(f, _)| f != "primary_reads"));
        let t = table("/* sqlyard:primary */ SELECT 1", true);
        assert_eq!(get(&t, "hint"), "primary");
        assert_eq!(get(&t, "reason"), "hint_primary");
        let t = table("SELECT 1", false);
        assert_eq!(get(&t, "read_write_split"), "off");
        assert_eq!(get(&t, "reason"), "split_disabled");
        let t = table("(SELECT 1) UNION (SELECT 2)", true);
        assert_eq!(get(&t, "decided_by"), "sqlparser");
    }
}
