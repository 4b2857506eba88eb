//! Problem: client programs send statements of their own when they connect
//! (the `mariadb` CLI's `select @@version_comment limit 1`, a driver's
//! `SELECT @@max_allowed_packet, @@wait_timeout`, PyMySQL's
//! `SET AUTOCOMMIT = 0`, `SET NAMES ...`), and health checks send
//! `SELECT 1`. The admin port answers them the way a MySQL server would, so
//! those clients work here unchanged.

use crate::admin::parse::{Statement, Token};
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::control::Control;

use super::{ready, Pending};

pub const USAGE: &[&str] = &["SELECT @@<variable> | <literal> | VERSION() ..."];

/// Session statements a client sends by itself: accepted and ignored.
const IGNORED: &[&[&str]] = &[
    &["SET"],
    &["USE"],
    &["BEGIN"],
    &["COMMIT"],
    &["ROLLBACK"],
    &["START", "TRANSACTION"],
];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    // `SET SERVER` is a real command (see servers.rs), matched first.
    if IGNORED.iter().any(|w| stmt.starts_with(w)) {
        return ready(Ok(Reply::ok()));
    }
    if stmt.is(&["SHOW", "WARNINGS"]) || stmt.is(&["SHOW", "ERRORS"]) {
        return ready(Ok(Reply::Rows(ResultSet::new(&[
            ("Level", Column::Text),
            ("Code", Column::Int),
            ("Message", Column::Text),
        ]))));
    }
    if stmt.is(&["SHOW", "DATABASES"]) {
        return ready(Ok(Reply::Rows(ResultSet::new(&[(
            "Database",
            Column::Text,
        )]))));
    }
    if stmt.starts_with(&["SELECT"]) {
        return select(control, stmt).and_then(|r| ready(Ok(r)));
    }
    None
}

/// `SELECT item [AS alias], ... [LIMIT n]` where every item is a system
/// variable, a literal or a known function: one row.
fn select(control: &Control, stmt: &Statement) -> Option<Reply> {
    let mut items: Vec<Vec<(usize, &Token)>> = vec![Vec::new()];
    let mut depth = 0i32;
    let mut end = stmt.tokens.len();
    for (i, t) in stmt.tokens.iter().enumerate().skip(1) {
        match t {
            Token::Word(w) if depth == 0 && w == "LIMIT" => {
                end = i;
                break;
            }
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            _ => {}
        }
        if depth == 0 && *t == Token::Punct(',') {
            items.push(Vec::new());
        } else if let Some(last) = items.last_mut() {
            last.push((i, t));
        }
    }
    // LIMIT n: n = 0 gives no rows
    let limit_zero = matches!(stmt.tokens.get(end + 1), Some(Token::Number(n)) if n == "0");
    let mut columns = Vec::new();
    let mut row = Vec::new();
    for item in items {
        let (expr, alias) = split_alias(stmt, &item);
        let expr: Vec<&Token> = expr.iter().map(|(_, t)| *t).collect();
        let expr = expr.as_slice();
        let (name, kind, value) = evaluate(control, expr)?;
        columns.push((alias.unwrap_or(name), kind));
        row.push(value);
    }
    let mut rs = ResultSet {
        columns,
        rows: Vec::new(),
    };
    if !limit_zero {
        rs.push(row);
    }
    Some(Reply::Rows(rs))
}

/// The expression and the alias (as written) of one select item.
fn split_alias<'t>(
    stmt: &Statement,
    item: &'t [(usize, &'t Token)],
) -> (&'t [(usize, &'t Token)], Option<String>) {
    let n = item.len();
    if n >= 3 && matches!(item[n - 2].1, Token::Word(w) if w == "AS") {
        let (i, alias) = item[n - 1];
        if matches!(alias, Token::Word(_) | Token::Ident(_) | Token::Str(_)) {
            return (&item[..n - 2], stmt.original(i).map(str::to_string));
        }
    }
    (item, None)
}

/// Column name, type and value of one select item.
fn evaluate(control: &Control, expr: &[&Token]) -> Option<(String, Column, Option<String>)> {
    match expr {
        [Token::SysVar(v)] => {
            let (kind, value) = sysvar(control, v);
            Some((format!("@@{v}"), kind, value))
        }
        [Token::Number(n)] => Some((n.clone(), Column::Int, cell(n))),
        [Token::Str(s)] => Some((s.clone(), Column::Text, cell(s))),
        [Token::Word(w)] if w == "NULL" => Some(("NULL".into(), Column::Text, None)),
        [Token::Word(f), Token::Punct('('), Token::Punct(')')] => {
            let value = match f.as_str() {
                "VERSION" => cell(control.ctx.server_version()),
                "DATABASE" | "SCHEMA" => None,
                "USER" | "CURRENT_USER" | "SESSION_USER" | "SYSTEM_USER" => {
                    cell(format!("{}@localhost", control.config().router.admin_user))
                }
                "CONNECTION_ID" => cell(0),
                "NOW" | "CURRENT_TIMESTAMP" | "SYSDATE" => cell(now_text()),
                "UNIX_TIMESTAMP" => cell(unix_now()),
                _ => return None,
            };
            Some((format!("{f}()"), Column::Text, value))
        }
        _ => None,
    }
}

/// Values of the variables clients read at connect time.
fn sysvar(control: &Control, name: &str) -> (Column, Option<String>) {
    let text = |v: &str| (Column::Text, cell(v));
    let int = |v: u64| (Column::Int, cell(v));
    match name {
        "version_comment" => text("sqlyard admin"),
        "version" => text(&control.ctx.server_version()),
        "max_allowed_packet" => int(16 * 1024 * 1024),
        "wait_timeout" | "interactive_timeout" => {
            int(control.config().router.idle_timeout.get().as_secs())
        }
        "net_write_timeout" | "net_read_timeout" => int(60),
        "autocommit" => int(1),
        "auto_increment_increment" => int(1),
        "lower_case_table_names" => int(0),
        "sql_mode" | "socket" | "init_connect" => text(""),
        "character_set_client"
        | "character_set_connection"
        | "character_set_results"
        | "character_set_server"
        | "character_set_database" => text("utf8mb4"),
        "collation_connection" | "collation_server" | "collation_database" => {
            text("utf8mb4_general_ci")
        }
        "tx_isolation" | "transaction_isolation" => text("REPEATABLE-READ"),
        "tx_read_only" | "transaction_read_only" | "read_only" => int(0),
        "time_zone" => text("SYSTEM"),
        "system_time_zone" => text("UTC"),
        "license" => text("Apache-2.0"),
        "hostname" => text("sqlyard"),
        "port" => int(control
            .config()
            .router
            .admin_listen
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)),
        _ => (Column::Text, None),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn now_text() -> String {
    format_time(std::time::SystemTime::now())
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for a time.
pub fn format_time(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .trim_end_matches('Z')
        .replace('T', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        assert_eq!(format_time(t), "2026-11-18 11:06:40");
        assert_eq!(format_time(std::time::UNIX_EPOCH), "1970-01-01 00:00:00");
    }
}
