//! Problem: COM_QUERY is most of the traffic. It must be routed, run on a
//! connection that holds the session's state, relayed without buffering,
//! and its effects on the session (variables, schema, transaction,
//! temporary tables, locks, user variables) recorded so the session can
//! keep moving between backend connections, or stay pinned when it cannot.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::error::SessionError;
use super::observe::observe;
use super::placement::Placed;
use super::session::{Next, Session};
use super::state::Pin;
use crate::backend::internal;
use crate::backend::relay::Summary;
use crate::backend::sync::{is_replayable, quote_ident};
use crate::backend::PooledConn;
use crate::protocol::constants::status;
use crate::protocol::stream::ResponseKind;
use crate::protocol::Packet;
use crate::router::classify::Effects;
use crate::router::parse_kill;
use crate::router::QueryRecord;

/// Handles one COM_QUERY.
pub async fn handle(s: &mut Session, pkt: Packet) -> Result<Next, SessionError> {
    let sql = &pkt.payload[1..];
    let _current = s.info.begin_statement(pkt.payload.slice(1..));
    s.ctx.stats.queries.fetch_add(1, Ordering::Relaxed);
    if sql.len() < 64 {
        if let Some(k) = parse_kill(sql) {
            return super::kill::kill(s, k.id, k.query_only).await;
        }
    }
    let lexing = s.lexing();
    let class = s.classify(sql, lexing);
    let started = Instant::now();
    let placed = match s.place(&class, true).await {
        Ok(p) => p,
        Err(e) => {
            s.send_error(1, &e).await?;
            return Ok(Next::Continue);
        }
    };
    let Placed {
        mut conn,
        was_held,
        reason,
        role,
    } = placed;
    if class.effects.uses_last_insert_id && s.state.last_insert_id != 0 && !was_held {
        set_last_insert_id(s, &mut conn).await;
    }
    let Some((summary, conn)) = s
        .execute_on(
            conn,
            was_held,
            &[&pkt.payload],
            ResponseKind::Query,
            None,
            class.kind.may_write(),
        )
        .await?
    else {
        return Ok(Next::Continue);
    };
    let text = pkt.payload.slice(1..);
    let mut digest = s.digest_cache.get(&text);
    let cached = digest.clone();
    observe(
        &s.ctx,
        &QueryRecord {
            sql: &text,
            lexing,
            server: &conn.addr,
            role,
            reason,
            duration: started.elapsed(),
            rows: summary.rows.max(summary.affected_rows),
            error: summary.error.is_some(),
        },
        &conn.pool().server,
        &mut digest,
    );
    if let Some(entry) = digest {
        if !cached.is_some_and(|c| Arc::ptr_eq(&c, &entry)) {
            s.digest_cache.put(&text, entry);
        }
    }
    after_statement(s, conn, &summary, &class.effects).await;
    Ok(Next::Continue)
}

/// LAST_INSERT_ID() answers for the connection: make a connection that
/// did not run the session's previous statement answer for this session.
async fn set_last_insert_id(s: &Session, conn: &mut PooledConn) {
    let sql = format!("SET @@session.last_insert_id = {}", s.state.last_insert_id);
    if let Err(e) = internal::execute(conn, &sql).await {
        // the statement itself will report a broken connection
        tracing::debug!(session = s.id, error = %e, "could not carry LAST_INSERT_ID() over");
    }
}

/// Records what a statement did to the session, then keeps or returns the
/// connection.
pub async fn after_statement(
    s: &mut Session,
    mut conn: PooledConn,
    summary: &Summary,
    fx: &Effects,
) {
    // (a write's GTID was recorded by the relay, before the client had
    // its answer: see `Session::execute_on`)
    let ok = summary.error.is_none();
    if let Some(st) = summary.status {
        s.state.status = st;
        s.state.status_seen = true;
        s.pin(Pin::Transaction, st & status::IN_TRANS != 0);
    }
    let mut changed = false;
    for (k, v) in &summary.sysvars {
        if is_replayable(k) && s.state.conn.vars.get(k) != Some(v) {
            s.state.conn.vars.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    // SET NAMES ... COLLATE reports the character sets but not always the
    // collation, which results use too: read it where it changed.
    if summary
        .sysvars
        .iter()
        .any(|(k, _)| k.starts_with("character_set_") || k.starts_with("collation_"))
    {
        if let Ok(res) = internal::execute(&mut conn, "SELECT @@collation_connection").await {
            if let Some(Some(v)) = res.rows.first().and_then(|r| r.first()) {
                let v = String::from_utf8_lossy(v).into_owned();
                if s.state.conn.vars.get("collation_connection") != Some(&v) {
                    s.state.conn.vars.insert("collation_connection".into(), v);
                    changed = true;
                }
            }
        }
    }
    if let Some(db) = &summary.schema {
        if s.state.conn.db.as_deref() != Some(db) {
            s.state.conn.db = (!db.is_empty()).then(|| db.clone());
            changed = true;
        }
    }
    if summary.last_insert_id != 0 {
        s.state.last_insert_id = summary.last_insert_id;
    }
    if ok {
        if fx.creates_temp_table {
            s.state.temp_tables += 1;
        }
        if fx.drops_temp_table {
            s.state.temp_tables = s.state.temp_tables.saturating_sub(1);
        }
        if fx.takes_named_lock {
            s.state.named_locks += 1;
        }
        if fx.releases_named_lock {
            s.state.named_locks = s.state.named_locks.saturating_sub(1);
        }
        if fx.locks_tables {
            s.pin(Pin::LockedTables, true);
        }
        if fx.unlocks_tables {
            s.pin(Pin::LockedTables, false);
        }
        if fx.sql_prepare {
            s.pin(Pin::PreparedStatements, true);
        }
        if !fx.assigns_user_vars.is_empty() {
            match capture_user_vars(&mut conn, &fx.assigns_user_vars).await {
                Some(vals) => {
                    for (k, v) in vals {
                        s.state.conn.user_vars.insert(k, v);
                    }
                    changed = true;
                }
                None => s.pin(Pin::UserVariables, true),
            }
        }
        let explained = !summary.sysvars.is_empty()
            || summary.schema.is_some()
            || !fx.is_empty()
            || summary.status.is_some_and(|st| st & status::IN_TRANS != 0);
        if summary.state_changed && !explained && !s.binding.has(Pin::UnknownState) {
            tracing::info!(
                session = s.id,
                server = %conn.addr,
                "the server reported a session state change sqlyard cannot replay; the session stays on this connection"
            );
            s.pin(Pin::UnknownState, true);
        }
    }
    let temp = s.state.temp_tables > 0;
    let locks = s.state.named_locks > 0;
    s.pin(Pin::TempTable, temp);
    s.pin(Pin::NamedLock, locks);
    // Until the next statement (or pool.linger): see state.rs.
    s.pin(Pin::NextStatement, true);
    s.binding
        .keep_through_idle(summary.warnings > 0 || fx.calc_found_rows);
    if changed {
        s.state.changed();
        conn.state = s.state.conn.clone();
    }
    conn.synced_to = Some((s.id, s.state.version));
    s.check_in(conn);
}

/// Reads the values of user variables just assigned, as SQL literals that
/// recreate them (with their type) on another connection.
async fn capture_user_vars(
    conn: &mut PooledConn,
    names: &[String],
) -> Option<Vec<(String, String)>> {
    let cols: Vec<String> = names
        .iter()
        .map(|n| format!("@{}", quote_ident(n)))
        .collect();
    let sql = format!("SELECT {}", cols.join(", "));
    let res = internal::execute(conn, &sql).await.ok()?;
    let row = res.rows.first()?;
    let mut out = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let (ty, charset) = *res.columns.get(i)?;
        let v = row.get(i)?;
        out.push((name.clone(), literal(ty, charset, v.as_deref())?));
    }
    Some(out)
}

/// An SQL literal for a value read with the text protocol.
pub fn literal(ty: u8, charset: u16, v: Option<&[u8]>) -> Option<String> {
    let Some(v) = v else {
        return Some("NULL".into());
    };
    let text = std::str::from_utf8(v).ok();
    match ty {
        // integers and decimals
        1 | 2 | 3 | 8 | 9 | 0 | 246 => {
            let t = text?;
            t.bytes()
                .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.')
                .then(|| t.to_string())
        }
        // float, double
        4 | 5 => {
            let t = text?;
            let ok = t
                .bytes()
                .all(|b| b.is_ascii_digit() || b"-+.eE".contains(&b));
            if !ok {
                return None;
            }
            Some(if t.contains(['e', 'E']) {
                t.to_string()
            } else {
                format!("{t}e0")
            })
        }
        // NULL type
        6 => Some("NULL".into()),
        _ => {
            let intro = match charset {
                63 => "_binary",
                33 | 83 | 192..=215 => "_utf8mb3",
                45 | 46 | 224..=247 | 255..=323 => "_utf8mb4",
                5 | 8 | 15 | 31 | 47 | 48 | 49 | 94 => "_latin1",
                _ => return None,
            };
            Some(format!("{intro} X'{}'", hex::encode(v)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn literals_keep_types() {
        assert_eq!(literal(8, 63, Some(b"42")).as_deref(), Some("42"));
        assert_eq!(literal(246, 63, Some(b"-1.50")).as_deref(), Some("-1.50"));
        assert_eq!(literal(5, 63, Some(b"1.5")).as_deref(), Some("1.5e0"));
        assert_eq!(literal(5, 63, Some(b"1e100")).as_deref(), Some("1e100"));
        assert_eq!(
            literal(253, 45, Some("é'".as_bytes())).as_deref(),
            Some("_utf8mb4 X'c3a927'")
        );
        assert_eq!(
            literal(251, 63, Some(b"\x00\x01")).as_deref(),
            Some("_binary X'0001'")
        );
        assert_eq!(literal(253, 45, None).as_deref(), Some("NULL"));
        assert_eq!(literal(8, 63, Some(b"1; DROP")), None);
        assert_eq!(literal(253, 9999, Some(b"x")), None);
    }
}
