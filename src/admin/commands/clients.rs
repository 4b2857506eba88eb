//! Problem: operators need to see who is connected to the application
//! port and what each session is doing right now: idle, waiting for a
//! backend connection, or running on which server and backend thread, and
//! whether it is pinned to a backend connection and why. `SHOW CLIENTS` is
//! one row per client session, from the session registry.

use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use crate::admin::parse::Statement;
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::app::registry::SessionInfo;
use crate::backend::pins::Pins;
use crate::control::Control;

use super::client_queries::format_time;
use super::{ready, Pending};

pub const USAGE: &[&str] = &["SHOW CLIENTS"];

/// Characters of the current statement shown.
const SHOWN_TEXT: usize = 120;

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    if stmt.is(&["SHOW", "CLIENTS"]) {
        return ready(Ok(Reply::Rows(show_clients(control))));
    }
    None
}

pub const COLUMNS: &[(&str, Column)] = &[
    ("id", Column::Int),
    ("user", Column::Text),
    ("client", Column::Text),
    ("connected_at", Column::Text),
    ("connected_seconds", Column::Int),
    ("state", Column::Text),
    ("statement_seconds", Column::Float),
    ("pinned", Column::Text),
    ("pin_reasons", Column::Text),
    ("statement", Column::Text),
];

/// `SHOW CLIENTS`, by session id.
pub fn show_clients(control: &Control) -> ResultSet {
    let mut sessions = control.ctx.registry.all();
    sessions.sort_by_key(|s| s.id);
    let now = SystemTime::now();
    let mono = Instant::now();
    let mut rs = ResultSet::new(COLUMNS);
    for s in &sessions {
        rs.push(row(s, now, mono));
    }
    rs
}

fn row(s: &SessionInfo, now: SystemTime, mono: Instant) -> Vec<Option<String>> {
    let user = s.user.lock().to_string();
    let statement = s.statement.lock().clone();
    let running = s.running.lock().clone();
    let state = match (&running, &statement) {
        (Some((server, thread)), _) => format!("running on {server} thread {thread}"),
        (None, Some(_)) => "waiting for a backend".to_string(),
        (None, None) => "idle".to_string(),
    };
    let pins = Pins(s.pins.load(Ordering::Relaxed));
    let connected = now
        .duration_since(s.connected_at)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    vec![
        cell(s.id),
        cell(if user.is_empty() {
            "(logging in)"
        } else {
            &user
        }),
        cell(s.client_addr),
        cell(format_time(s.connected_at)),
        cell(connected),
        cell(state),
        statement.as_ref().map(|st| {
            format!(
                "{:.3}",
                mono.saturating_duration_since(st.started).as_secs_f64()
            )
        }),
        cell(if pins.any() { "yes" } else { "no" }),
        pins.any().then(|| pins.names().join(",")),
        statement.map(|st| shorten(&st.text())),
    ]
}

fn shorten(sql: &str) -> String {
    let flat: String = sql
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SHOWN_TEXT)
        .collect();
    if sql.chars().count() > SHOWN_TEXT {
        format!("{flat}...")
    } else {
        flat
    }
}
