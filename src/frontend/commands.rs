//! Problem: besides queries, clients send a handful of small commands
//! (USE via COM_INIT_DB, COM_FIELD_LIST, COM_STATISTICS, COM_DEBUG, COM_SET_OPTION,
//! COM_CHANGE_USER, COM_RESET_CONNECTION). Each must behave as on a direct
//! connection while the session's state stays on the client session.

use std::sync::Arc;

use super::error::SessionError;
use super::query::after_statement;
use super::session::{Next, Session};
use super::state::SessionState;
use crate::app::context::Context;
use crate::backend::conn::TRACKING_SETUP;
use crate::backend::internal;
use crate::backend::PoolKey;
use crate::protocol::auth::{AuthPlugin, ServerCredential};
use crate::protocol::constants::{cap, com, status};
use crate::protocol::lenenc;
use crate::protocol::response::{eof_payload, ok_payload};
use crate::protocol::stream::ResponseKind;
use crate::protocol::Packet;
use crate::router::classify::Effects;

/// COM_INIT_DB, COM_FIELD_LIST, COM_STATISTICS and COM_DEBUG (which the
/// server allows only with SUPER) run on a backend as is.
pub async fn forward_simple(s: &mut Session, pkt: Packet, cmd: u8) -> Result<Next, SessionError> {
    let kind = match cmd {
        com::FIELD_LIST => ResponseKind::FieldList,
        _ => ResponseKind::Single,
    };
    let Some((summary, conn)) = s.execute(&pkt.payload, kind).await? else {
        return Ok(Next::Continue);
    };
    let mut summary = summary;
    if cmd == com::INIT_DB && summary.error.is_none() && summary.schema.is_none() {
        summary.schema = Some(String::from_utf8_lossy(&pkt.payload[1..]).into_owned());
    }
    after_statement(s, conn, &summary, &Effects::default()).await;
    Ok(Next::Continue)
}

/// COM_SET_OPTION: multi-statements on or off, applied lazily to backends.
pub async fn set_option(s: &mut Session, pkt: Packet) -> Result<Next, SessionError> {
    let p = &pkt.payload[1..];
    if p.len() < 2 {
        s.send_error(1, &SessionError::Malformed("COM_SET_OPTION"))
            .await?;
        return Ok(Next::Continue);
    }
    let on = match u16::from_le_bytes([p[0], p[1]]) {
        0 => true,
        1 => false,
        other => {
            // the server's code for an option it does not know
            s.send_error(1, &SessionError::UnknownOption(other)).await?;
            return Ok(Next::Continue);
        }
    };
    if s.state.conn.multi_statements != on {
        s.state.conn.multi_statements = on;
        s.state.changed();
    }
    let deprecate = s.caps & cap::DEPRECATE_EOF != 0;
    let st = s.state.status & (status::AUTOCOMMIT | status::IN_TRANS);
    s.io.send(1, &eof_payload(deprecate, st, 0)).await?;
    Ok(Next::Continue)
}

/// Drops what the session holds on the servers, before the client hears
/// back, as a server does on COM_RESET_CONNECTION and COM_CHANGE_USER: its
/// prepared statements, and the connection it holds, which is reset (its
/// transaction rolled back, temporary tables dropped, named and table
/// locks released) and given back to its pool; a connection that fails
/// the reset is closed.
async fn reset_held(s: &mut Session) {
    s.stmts.clear();
    if let Some(mut conn) = s.binding.take() {
        let reset =
            internal::command(&mut conn, &[com::RESET_CONNECTION], ResponseKind::Single).await;
        let setup = match reset {
            Ok(_) => internal::execute(&mut conn, &format!("SET {TRACKING_SETUP}"))
                .await
                .is_ok(),
            Err(_) => false,
        };
        if setup {
            conn.state.vars.clear();
            conn.state.user_vars.clear();
            conn.prepared.clear();
            conn.synced_to = None;
            conn.release();
        }
    }
    s.lose_backend();
}

/// COM_RESET_CONNECTION: the session starts afresh (same user and database).
pub async fn reset_connection(s: &mut Session) -> Result<Next, SessionError> {
    reset_held(s).await;
    let db = s.state.conn.db.take();
    let multi = s.caps & cap::MULTI_STATEMENTS != 0;
    let version = s.state.version + 1;
    s.state = SessionState::default();
    s.state.version = version;
    s.state.conn.db = db;
    s.state.conn.multi_statements = multi;
    s.state.status = status::AUTOCOMMIT;
    s.send_ok().await?;
    Ok(Next::Continue)
}

/// COM_CHANGE_USER: authenticate as another user on the same connection.
/// As on a MariaDB server, the response in the packet was computed on the
/// connection's scramble (libmariadb also answers a switch to the same
/// plugin with it), and the session starts afresh whatever the outcome:
/// its transaction is rolled back, temporary tables, prepared statements,
/// user variables and locks are gone. A refused change leaves the session
/// open as the previous user, in its database.
pub async fn change_user(s: &mut Session, pkt: Packet) -> Result<Next, SessionError> {
    let Some(req) = parse_change_user(&pkt.payload[1..], s.caps) else {
        s.send_error(1, &SessionError::Malformed("COM_CHANGE_USER"))
            .await?;
        return Ok(Next::Quit);
    };
    s.refresh();
    let cred = Context::login_credential(&s.cfg, &req.user);
    let denied = SessionError::AccessDenied {
        user: req.user.clone(),
        host: s.host.clone(),
        using_password: !req.auth.is_empty(),
    };
    // An unknown user goes through the same exchange as a wrong password.
    let known = cred.is_some();
    let cred =
        cred.unwrap_or_else(|| ServerCredential::plain(crate::protocol::auth::new_scramble()));
    let client_plugin =
        AuthPlugin::from_name(req.plugin.as_deref().unwrap_or("mysql_native_password"));
    // password guessing by COM_CHANGE_USER is slowed as logins are
    let delay = s.ctx.login_failures.delay(
        &s.host,
        &req.user,
        s.cfg.router.auth_failures_before_delay,
        s.cfg.router.auth_max_delay.get(),
    );
    if !delay.is_zero() {
        s.ctx
            .stats
            .auth_delays
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(delay).await;
    }
    let scramble = s.scramble;
    let checked = super::auth::verify(
        &mut s.io,
        &cred,
        &client_plugin,
        &scramble,
        req.auth.clone(),
        1,
    )
    .await?;
    let seq = checked.seq;
    // the server resets the session before it checks the new user
    reset_held(s).await;
    let refusal = if !checked.accepted || !known {
        s.ctx
            .stats
            .auth_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        s.ctx.login_failures.failed(&s.host, &req.user);
        Some(denied)
    } else {
        s.ctx.login_failures.succeeded(&s.host, &req.user);
        s.cfg
            .user(&req.user)
            .and_then(|u| super::auth::transport_refusal(u, s.io.get_ref()))
            .map(|why| SessionError::TransportDenied {
                user: req.user.clone(),
                host: s.host.clone(),
                why,
            })
    };
    let user: Arc<str> = Arc::from(req.user.as_str());
    let refusal = match refusal {
        None if *user != *s.user => {
            let limit = s.cfg.user(&user).and_then(|u| u.max_connections);
            match s.ctx.registry.admit(&user, limit) {
                Some(slot) => {
                    s.user_slot = slot;
                    None
                }
                None => Some(SessionError::UserLimit {
                    user: user.to_string(),
                    limit: limit.unwrap_or_default(),
                }),
            }
        }
        other => other,
    };
    if let Some(e) = refusal {
        // still the previous user, in its database, with its character set
        let db = s.state.conn.db.take();
        start_afresh(s, None);
        s.state.conn.db = db;
        s.io.send(seq, &e.to_err_payload()).await?;
        return Ok(Next::Continue);
    }
    super::auth::learn(&s.ctx, &req.user, &cred, &scramble, checked);
    *s.info.user.lock() = user.clone();
    s.user = user;
    start_afresh(s, req.collation);
    if let Some(db) = req.db.filter(|d| !d.is_empty()) {
        s.state.conn.db = Some(db);
    }
    s.io.send(seq, &ok_payload(0, 0, status::AUTOCOMMIT, 0))
        .await?;
    Ok(Next::Continue)
}

/// A new session state for the session's user, with the connection
/// collation `collation` (none: the character set variables it had).
fn start_afresh(s: &mut Session, collation: Option<u8>) {
    let version = s.state.version + 1;
    let before: std::collections::BTreeMap<String, String> = std::mem::take(&mut s.state.conn.vars)
        .into_iter()
        .filter(|(k, _)| crate::backend::sync::NAMES_VARS.contains(&k.as_str()))
        .collect();
    s.state = SessionState::default();
    s.state.version = version;
    let collation = match collation {
        Some(c) => super::session::pool_collation(c, &mut s.state.conn.vars),
        None => {
            s.state.conn.vars = before;
            s.key.collation
        }
    };
    s.key = PoolKey::new(s.user.clone(), s.caps, collation).with_ext(s.key.ext);
    s.state.conn.multi_statements = s.caps & cap::MULTI_STATEMENTS != 0;
    s.state.status = status::AUTOCOMMIT;
}

/// A parsed COM_CHANGE_USER.
#[derive(Debug)]
pub struct ChangeUser {
    user: String,
    auth: Vec<u8>,
    db: Option<String>,
    collation: Option<u8>,
    plugin: Option<String>,
}

/// Parses a COM_CHANGE_USER payload (after the command byte) sent by a
/// client with capabilities `caps`.
pub fn parse_change_user(mut p: &[u8], caps: u32) -> Option<ChangeUser> {
    let user = lenenc::read_null_terminated(&mut p)?;
    let auth = if caps & cap::SECURE_CONNECTION != 0 {
        let (&n, rest) = p.split_first()?;
        let n = n as usize;
        if rest.len() < n {
            return None;
        }
        let a = &rest[..n];
        p = &rest[n..];
        a
    } else {
        lenenc::read_null_terminated(&mut p)?
    };
    let db = lenenc::read_null_terminated(&mut p)
        .or(Some(p))
        .map(|d| String::from_utf8_lossy(d).into_owned());
    let collation = if p.len() >= 2 {
        let c = p[0];
        p = &p[2..];
        Some(c)
    } else {
        None
    };
    let plugin = if caps & cap::PLUGIN_AUTH != 0 && !p.is_empty() {
        lenenc::read_null_terminated(&mut p).map(|s| String::from_utf8_lossy(s).into_owned())
    } else {
        None
    };
    Some(ChangeUser {
        user: String::from_utf8_lossy(user).into_owned(),
        auth: auth.to_vec(),
        db,
        collation,
        plugin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_user_packet() {
        let mut p = b"bob\0".to_vec();
        p.push(3);
        p.extend_from_slice(&[1, 2, 3]);
        p.extend_from_slice(b"db1\0");
        p.extend_from_slice(&[45, 0]);
        p.extend_from_slice(b"mysql_native_password\0");
        let c = parse_change_user(&p, cap::SECURE_CONNECTION | cap::PLUGIN_AUTH).unwrap();
        assert_eq!(c.user, "bob");
        assert_eq!(c.auth, vec![1, 2, 3]);
        assert_eq!(c.db.as_deref(), Some("db1"));
        assert_eq!(c.collation, Some(45));
        assert_eq!(c.plugin.as_deref(), Some("mysql_native_password"));
        assert!(parse_change_user(b"bob", cap::SECURE_CONNECTION).is_none());
        assert!(parse_change_user(b"bob\0\x09ab", cap::SECURE_CONNECTION).is_none());
    }
}
