//! Problem: operators need the statements that cost the most, grouped
//! regardless of their literal values, with where they ran.
//! `SHOW QUERY DIGEST [LIMIT n]` lists the normalized statements by total
//! time, largest first; `TRUNCATE QUERY DIGEST` starts over. The counting
//! itself is `router::digest`.

use crate::admin::error::AdminError;
use crate::admin::parse::{Statement, Token};
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::control::Control;
use crate::router::digest::DigestRow;

use super::client_queries::format_time;
use super::{ready, Pending};

pub const USAGE: &[&str] = &["SHOW QUERY DIGEST [LIMIT <n>]", "TRUNCATE QUERY DIGEST"];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    if stmt.starts_with(&["SHOW", "QUERY", "DIGEST"]) {
        let limit = match &stmt.tokens[3..] {
            [] => None,
            [Token::Word(w), Token::Number(n)] if w == "LIMIT" => match n.parse::<usize>() {
                Ok(n) => Some(n),
                Err(_) => return ready(Err(bad(USAGE[0]))),
            },
            _ => return ready(Err(bad(USAGE[0]))),
        };
        return ready(Ok(Reply::Rows(show_digest(control, limit))));
    }
    if stmt.starts_with(&["TRUNCATE", "QUERY", "DIGEST"]) {
        if stmt.tokens.len() != 3 {
            return ready(Err(bad(USAGE[1])));
        }
        let n = control.ctx.digest.truncate();
        return ready(Ok(Reply::Ok {
            affected: n as u64,
            info: format!("query digest cleared ({n} digests)"),
        }));
    }
    None
}

fn bad(usage: &'static str) -> AdminError {
    AdminError::Usage {
        command: "QUERY DIGEST command",
        usage,
    }
}

pub const COLUMNS: &[(&str, Column)] = &[
    ("digest_text", Column::Text),
    ("count", Column::Int),
    ("total_ms", Column::Float),
    ("avg_ms", Column::Float),
    ("min_ms", Column::Float),
    ("max_ms", Column::Float),
    ("rows", Column::Int),
    ("errors", Column::Int),
    ("first_seen", Column::Text),
    ("last_seen", Column::Text),
    ("routes", Column::Text),
];

/// `SHOW QUERY DIGEST`, by total time, at most `limit` rows.
pub fn show_digest(control: &Control, limit: Option<usize>) -> ResultSet {
    let mut rs = ResultSet::new(COLUMNS);
    let rows = control.ctx.digest.rows();
    for r in rows.iter().take(limit.unwrap_or(usize::MAX)) {
        rs.push(row(r));
    }
    rs
}

fn ms(d: std::time::Duration) -> Option<String> {
    Some(format!("{:.3}", d.as_secs_f64() * 1000.0))
}

fn row(r: &DigestRow) -> Vec<Option<String>> {
    let s = &r.stats;
    let avg = if s.count == 0 {
        std::time::Duration::ZERO
    } else {
        s.total / u32::try_from(s.count).unwrap_or(u32::MAX)
    };
    vec![
        cell(&r.text),
        cell(s.count),
        ms(s.total),
        ms(avg),
        ms(if s.count == 0 {
            std::time::Duration::ZERO
        } else {
            s.min
        }),
        ms(s.max),
        cell(s.rows),
        cell(s.errors),
        cell(format_time(s.first_seen)),
        cell(format_time(s.last_seen)),
        cell(s.routes_text()),
    ]
}
