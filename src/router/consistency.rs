//! Problem: after a client writes, its later reads must see that write,
//! even when they go to a replica, and even from a new connection of the
//! same user (PHP opens one per page). sqlyard tracks the GTID of every
//! write from the server's own session tracking (MariaDB `last_gtid`,
//! MySQL `session_track_gtids=OWN_GTID`), keeps the position each scope
//! must see (`consistency.read_your_writes`: session, user, global or
//! none), and lets a read go to a replica only if that replica has applied
//! the position: known from the monitor's last poll, or waited for on the
//! replica (MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET) for at most
//! `consistency.wait_timeout`; otherwise the read goes to the primary.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::Mutex;

use crate::config::RywScope;
use crate::topology::{Flavor, GtidSet, ServerState, ThreadState};

/// The write positions sqlyard remembers per user and globally.
#[derive(Debug, Default)]
pub struct Consistency {
    global: Mutex<Option<GtidSet>>,
    users: DashMap<Arc<str>, GtidSet>,
}

/// The GTID a write reported, from an OK packet's session tracking:
/// MariaDB's `last_gtid` system variable, or MySQL's GTIDs block.
pub fn tracked_gtid(sysvars: &[(String, String)], gtids: Option<&str>) -> Option<GtidSet> {
    if let Some(g) = gtids.filter(|g| !g.is_empty()) {
        return GtidSet::parse(Flavor::MySql, g).ok();
    }
    let (_, v) = sysvars.iter().rev().find(|(k, _)| k == "last_gtid")?;
    if v.is_empty() {
        return None;
    }
    GtidSet::parse(Flavor::MariaDb, v).ok()
}

impl Consistency {
    /// Records a write by `user` (and in `session`, the session's own
    /// position), as the scope needs.
    pub fn record(
        &self,
        scope: RywScope,
        user: &Arc<str>,
        session: &mut Option<GtidSet>,
        gtid: &GtidSet,
    ) {
        merge_into(session, gtid);
        match scope {
            RywScope::User => {
                self.users
                    .entry(user.clone())
                    .and_modify(|g| g.merge(gtid))
                    .or_insert_with(|| gtid.clone());
            }
            RywScope::Global => merge_into(&mut self.global.lock(), gtid),
            RywScope::Session | RywScope::None => {}
        }
    }

    /// The position a read by `user` in a session that has seen `session`
    /// must see; `None` when there is nothing to wait for.
    pub fn needed(
        &self,
        scope: RywScope,
        user: &str,
        session: &Option<GtidSet>,
    ) -> Option<GtidSet> {
        match scope {
            RywScope::None => None,
            RywScope::Session => session.clone(),
            RywScope::User => {
                let mut need = session.clone();
                if let Some(u) = self.users.get(user) {
                    merge_into(&mut need, &u);
                }
                need
            }
            RywScope::Global => {
                let mut need = session.clone();
                if let Some(g) = self.global.lock().as_ref() {
                    merge_into(&mut need, g);
                }
                need
            }
        }
    }

    /// Users with a remembered position (for `SHOW STATS`).
    pub fn users_tracked(&self) -> usize {
        self.users.len()
    }
}

fn merge_into(into: &mut Option<GtidSet>, gtid: &GtidSet) {
    match into {
        Some(g) => g.merge(gtid),
        None => *into = Some(gtid.clone()),
    }
}

/// True if the monitor's last poll of `server` shows it has applied
/// `needed`.
pub fn covers(server: &ServerState, needed: &GtidSet) -> bool {
    server
        .gtid
        .executed
        .as_ref()
        .is_some_and(|have| have.contains(needed))
}

/// Whether waiting on `server` for a position can succeed: its SQL
/// thread runs (never wait on a stopped one).
pub fn may_wait_on(server: &ServerState) -> bool {
    let mut channels = server
        .replication
        .iter()
        .filter(|c| c.has_source())
        .peekable();
    channels.peek().is_some() && channels.all(|c| c.sql_running == ThreadState::Running)
}

/// The statement that waits up to `timeout` for `needed` on a replica. It
/// returns one row: 0 when the position was reached (MariaDB
/// MASTER_GTID_WAIT, MySQL WAIT_FOR_EXECUTED_GTID_SET), non-zero (or NULL)
/// otherwise.
pub fn wait_sql(needed: &GtidSet, timeout: Duration) -> String {
    let secs = format!("{:.3}", timeout.as_secs_f64());
    match needed {
        GtidSet::MariaDb(_) => format!("SELECT MASTER_GTID_WAIT('{needed}', {secs})"),
        GtidSet::MySql(_) => format!("SELECT WAIT_FOR_EXECUTED_GTID_SET('{needed}', {secs})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maria(s: &str) -> GtidSet {
        GtidSet::parse(Flavor::MariaDb, s).unwrap()
    }

    #[test]
    fn tracked_gtid_from_mariadb_last_gtid_and_mysql_block() {
        let vars = vec![
            ("autocommit".to_string(), "ON".to_string()),
            ("last_gtid".to_string(), "0-1-42".to_string()),
        ];
        assert_eq!(tracked_gtid(&vars, None), Some(maria("0-1-42")));
        assert_eq!(tracked_gtid(&[("last_gtid".into(), "".into())], None), None);
        let uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let g = tracked_gtid(&[], Some(&format!("{uuid}:23"))).unwrap();
        assert_eq!(g.flavor(), Flavor::MySql);
        assert_eq!(g.to_string(), format!("{uuid}:23"));
    }

    #[test]
    fn scopes() {
        let c = Consistency::default();
        let alice: Arc<str> = Arc::from("alice");
        let mut s1 = None;
        c.record(RywScope::User, &alice, &mut s1, &maria("0-1-5"));
        // a new session of alice must see it; bob need not
        assert_eq!(
            c.needed(RywScope::User, "alice", &None),
            Some(maria("0-1-5"))
        );
        assert_eq!(c.needed(RywScope::User, "bob", &None), None);
        // session scope: only the session that wrote
        assert_eq!(c.needed(RywScope::Session, "alice", &None), None);
        assert_eq!(
            c.needed(RywScope::Session, "alice", &s1),
            Some(maria("0-1-5"))
        );
        assert_eq!(c.needed(RywScope::None, "alice", &s1), None);
        // global: everyone
        let mut s2 = None;
        c.record(RywScope::Global, &alice, &mut s2, &maria("0-1-7"));
        assert_eq!(
            c.needed(RywScope::Global, "bob", &None),
            Some(maria("0-1-7"))
        );
        // positions only move forward
        c.record(RywScope::User, &alice, &mut s1, &maria("0-1-3"));
        assert_eq!(
            c.needed(RywScope::User, "alice", &None),
            Some(maria("0-1-5"))
        );
    }

    #[test]
    fn wait_statements() {
        assert_eq!(
            wait_sql(&maria("0-1-5"), Duration::from_millis(1500)),
            "SELECT MASTER_GTID_WAIT('0-1-5', 1.500)"
        );
        let uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let g = GtidSet::parse(Flavor::MySql, &format!("{uuid}:1-5")).unwrap();
        assert!(wait_sql(&g, Duration::from_secs(1))
            .starts_with("SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47"));
    }
}
