//! Problem: when statements wait for backend connections, operators need
//! to see which pool is full: per server and per pool key (user, the
//! capability flags that change results, collation), how many connections
//! are in use, idle, kept by sessions for their next statement, and how
//! many were opened or failed. `SHOW POOLS` is one row per pool.

use std::sync::atomic::Ordering;

use crate::admin::parse::Statement;
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::backend::pool::{Pool, KEY_CAPS_MASK};
use crate::control::Control;
use crate::protocol::constants::cap;

use super::{ready, Pending};

pub const USAGE: &[&str] = &["SHOW POOLS"];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    if stmt.is(&["SHOW", "POOLS"]) {
        return ready(Ok(Reply::Rows(show_pools(control))));
    }
    None
}

pub const COLUMNS: &[(&str, Column)] = &[
    ("server", Column::Text),
    ("user", Column::Text),
    ("collation", Column::Text),
    ("key_flags", Column::Text),
    ("in_use", Column::Int),
    ("idle", Column::Int),
    ("lingering", Column::Int),
    ("open", Column::Int),
    ("max_size", Column::Int),
    ("checkouts", Column::Int),
    ("opened_total", Column::Int),
    ("connect_errors", Column::Int),
    ("checkout_timeouts", Column::Int),
    ("replaced_dead", Column::Int),
];

/// `SHOW POOLS`, sorted by server then user.
pub fn show_pools(control: &Control) -> ResultSet {
    let mut pools = control.ctx.backends.pools();
    pools.sort_by(|a, b| {
        (&*a.addr, &*a.key.user, a.key.collation, a.key.caps).cmp(&(
            &*b.addr,
            &*b.key.user,
            b.key.collation,
            b.key.caps,
        ))
    });
    let mut rs = ResultSet::new(COLUMNS);
    for p in &pools {
        rs.push(row(p));
    }
    rs
}

fn row(p: &Pool) -> Vec<Option<String>> {
    let st = &p.stats;
    let n = |v: u64| cell(v);
    vec![
        cell(&p.addr),
        cell(&p.key.user),
        cell(collation_name(p.key.collation)),
        cell(key_flags(p.key.caps)),
        n(st.in_use.load(Ordering::Relaxed) as u64),
        n(p.idle_count() as u64),
        n(p.lingering.load(Ordering::Relaxed) as u64),
        n(st.open.load(Ordering::Relaxed) as u64),
        n(p.settings().max_size as u64),
        n(st.checkouts.load(Ordering::Relaxed)),
        n(st.created.load(Ordering::Relaxed)),
        n(st.connect_errors.load(Ordering::Relaxed)),
        n(st.timeouts.load(Ordering::Relaxed)),
        n(st.replaced_dead.load(Ordering::Relaxed)),
    ]
}

/// The capability flags of a pool key, by name (`-` when none).
pub fn key_flags(caps: u32) -> String {
    let names = [
        (cap::FOUND_ROWS, "FOUND_ROWS"),
        (cap::DEPRECATE_EOF, "DEPRECATE_EOF"),
        (cap::IGNORE_SPACE, "IGNORE_SPACE"),
        (cap::LOCAL_FILES, "LOCAL_FILES"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| caps & KEY_CAPS_MASK & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        "-".to_string()
    } else {
        set.join(",")
    }
}

/// A collation id by name, for the common ones; the id otherwise.
pub fn collation_name(id: u8) -> String {
    let name = match id {
        8 => "latin1_swedish_ci",
        33 => "utf8mb3_general_ci",
        45 => "utf8mb4_general_ci",
        46 => "utf8mb4_bin",
        47 => "latin1_bin",
        63 => "binary",
        83 => "utf8mb3_bin",
        192 => "utf8mb3_unicode_ci",
        224 => "utf8mb4_unicode_ci",
        255 => "utf8mb4_0900_ai_ci",
        _ => return format!("collation {id}"),
    };
    format!("{name} ({id})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(key_flags(0), "-");
        assert_eq!(
            key_flags(cap::FOUND_ROWS | cap::DEPRECATE_EOF | cap::SESSION_TRACK),
            "FOUND_ROWS,DEPRECATE_EOF"
        );
        assert_eq!(collation_name(45), "utf8mb4_general_ci (45)");
        assert_eq!(collation_name(99), "collation 99");
    }
}
