//! Problem: with multiplexing, the backend connection that serves a
//! statement may have last served another client. Before the statement
//! runs, the connection's session state (database, session variables, user
//! variables, multi-statement option) is brought in line with the client
//! session's, in as few round trips as possible: usually none.

use super::conn::{BackendConn, ConnState, TRACKING_SETUP};
use super::error::BackendError;
use super::internal;
use crate::protocol::constants::com;
use crate::protocol::stream::ResponseKind;

/// System variables that are never replayed: read-only, sqlyard's own, or
/// per-statement values the server reports through tracking.
pub fn is_replayable(name: &str) -> bool {
    !(name.starts_with("session_track")
        || matches!(
            name,
            "last_gtid"
                | "warning_count"
                | "error_count"
                | "rand_seed1"
                | "rand_seed2"
                | "in_transaction"
                | "identity"
                | "last_insert_id"
                | "insert_id"
                | "gtid_next"
                | "transaction_isolation_one_shot"
                | "server_id"
                | "pseudo_thread_id"
                | "timestamp"
        ))
}

/// Makes `conn` hold `want`. Returns how many round trips it took.
pub async fn sync_state(conn: &mut BackendConn, want: &ConnState) -> Result<u32, BackendError> {
    if conn.state == *want {
        return Ok(0);
    }
    let mut trips = 0;
    let have = &conn.state;
    // A session without a database may get a connection that has one: no
    // command unselects a database, and a reset keeps it.
    let needs_reset = have.vars.keys().any(|k| !want.vars.contains_key(k))
        || have
            .user_vars
            .keys()
            .any(|k| !want.user_vars.contains_key(k));
    let mut sets: Vec<String> = Vec::new();
    if needs_reset {
        internal::command(conn, &[com::RESET_CONNECTION], ResponseKind::Single).await?;
        conn.prepared.clear();
        trips += 1;
        // A reset keeps the current database and the multi-statement
        // option as they were; mark the option unknown so it is set below.
        let db = conn.state.db.take();
        conn.state = ConnState {
            multi_statements: !want.multi_statements,
            db,
            ..Default::default()
        };
        sets.push(TRACKING_SETUP.to_string());
    }
    let have = &conn.state;
    // SET NAMES ... COLLATE also sets the collation results are sent in,
    // which setting the variables one by one does not: replay it as such.
    let names = set_names(&want.vars);
    if let Some((cs, coll)) = names {
        let keys = NAMES_VARS;
        if keys.iter().any(|k| have.vars.get(*k) != want.vars.get(*k)) {
            sets.push(format!(
                "NAMES {} COLLATE {}",
                quote_value(cs),
                quote_value(coll)
            ));
        }
    }
    for (k, v) in &want.vars {
        if names.is_some() && NAMES_VARS.contains(&k.as_str()) {
            continue;
        }
        if have.vars.get(k) != Some(v) {
            sets.push(format!("@@session.{k}={}", var_literal(k, v)));
        }
    }
    for (k, v) in &want.user_vars {
        if have.user_vars.get(k) != Some(v) {
            sets.push(format!("@{}={v}", quote_ident(k)));
        }
    }
    if !sets.is_empty() {
        let sql = format!("SET {}", sets.join(", "));
        internal::execute(conn, &sql).await?;
        trips += 1;
    }
    if want.db.is_some() && conn.state.db != want.db {
        if let Some(db) = &want.db {
            let mut p = Vec::with_capacity(db.len() + 1);
            p.push(com::INIT_DB);
            p.extend_from_slice(db.as_bytes());
            internal::command(conn, &p, ResponseKind::Single).await?;
            trips += 1;
        }
    }
    if conn.state.multi_statements != want.multi_statements {
        let opt: u16 = if want.multi_statements { 0 } else { 1 };
        let mut p = vec![com::SET_OPTION];
        p.extend_from_slice(&opt.to_le_bytes());
        internal::command(conn, &p, ResponseKind::Single).await?;
        trips += 1;
    }
    let db = conn.state.db.take();
    conn.state = want.clone();
    if want.db.is_none() {
        conn.state.db = db;
    }
    Ok(trips)
}

/// The variables `SET NAMES cs COLLATE coll` (and a handshake collation) set.
pub const NAMES_VARS: [&str; 4] = [
    "character_set_client",
    "character_set_connection",
    "character_set_results",
    "collation_connection",
];

/// (charset, collation) when the variables are what SET NAMES cs COLLATE
/// collation leaves: all three character sets equal, and the collation
/// belongs to that character set.
fn set_names(vars: &std::collections::BTreeMap<String, String>) -> Option<(&str, &str)> {
    let cs = vars.get("character_set_client")?;
    let coll = vars.get("collation_connection")?;
    let same = vars.get("character_set_connection") == Some(cs)
        && vars.get("character_set_results") == Some(cs)
        && coll.starts_with(&format!("{cs}_"));
    same.then_some((cs.as_str(), coll.as_str()))
}

/// An SQL literal for a tracked system variable value.
pub fn var_literal(name: &str, v: &str) -> String {
    if v.is_empty() && name == "character_set_results" {
        return "NULL".into();
    }
    let numeric = !v.is_empty()
        && v.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-') || b == b'.')
        && v.bytes().filter(|&b| b == b'.').count() <= 1
        && v != "-";
    if numeric {
        v.to_string()
    } else {
        quote_value(v)
    }
}

/// A string literal that every session reads the same way: quoted when it
/// holds only plain ASCII, else in hex (`X'..'`). A quoted backslash reads
/// differently under `NO_BACKSLASH_ESCAPES`, and in big5, cp932, gbk and
/// sjis a byte above 0x7F may swallow the quote or backslash after it.
pub fn quote_value(v: &str) -> String {
    let plain = v
        .bytes()
        .all(|b| (0x20..0x7F).contains(&b) && b != b'\'' && b != b'\\');
    if plain {
        format!("'{v}'")
    } else {
        format!("X'{}'", hex::encode(v))
    }
}

/// A backquoted identifier.
pub fn quote_ident(v: &str) -> String {
    format!("`{}`", v.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(var_literal("sql_select_limit", "100"), "100");
        assert_eq!(var_literal("sql_mode", "ANSI_QUOTES"), "'ANSI_QUOTES'");
        assert_eq!(var_literal("time_zone", "+00:00"), "'+00:00'");
        assert_eq!(var_literal("x", "-1.5"), "-1.5");
        assert_eq!(var_literal("x", "1.2.3"), "'1.2.3'");
        assert_eq!(var_literal("character_set_results", ""), "NULL");
        assert_eq!(quote_value("ANSI"), "'ANSI'");
        assert_eq!(quote_value("a\\b"), "X'615c62'");
        assert_eq!(quote_value("it's"), "X'69742773'");
        assert_eq!(quote_value("é"), "X'c3a9'");
        assert_eq!(var_literal("x", "C:\\dir"), "X'433a5c646972'");
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert!(!is_replayable("last_gtid"));
        assert!(is_replayable("sql_mode"));
    }
}
