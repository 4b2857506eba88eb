//! Problem: `KILL <id>`, Ctrl-C in the mariadb CLI and the admin's client
//! list need to find a session by sqlyard's own connection id, and know
//! which backend connection (if any) is running its statement right now.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// What other tasks may know about one client session.
#[derive(Debug)]
pub struct SessionInfo {
    pub id: u32,
    pub client_addr: SocketAddr,
    pub connected_at: SystemTime,
    pub user: Mutex<Arc<str>>,
    /// (server address, backend thread id) of the statement running now.
    pub running: Mutex<Option<(Arc<str>, u32)>>,
    /// Pin reasons as a bit set (see `state::Pin`).
    pub pins: AtomicU32,
    pub killed: AtomicBool,
    pub kill_notify: Notify,
    /// The statement the session is handling now (`SHOW CLIENTS`).
    pub statement: Mutex<Option<CurrentStatement>>,
}

/// Characters of a statement's text `SHOW CLIENTS` looks at.
pub const STATEMENT_TEXT: usize = 200;

/// The statement a session is handling.
#[derive(Debug, Clone)]
pub struct CurrentStatement {
    /// The statement as the client sent it (shared, not copied: it is
    /// only turned into text when `SHOW CLIENTS` asks).
    pub sql: Bytes,
    pub started: Instant,
}

impl CurrentStatement {
    /// The first [`STATEMENT_TEXT`] characters of the statement.
    pub fn text(&self) -> String {
        let head = &self.sql[..self.sql.len().min(STATEMENT_TEXT * 4)];
        String::from_utf8_lossy(head)
            .chars()
            .take(STATEMENT_TEXT)
            .collect()
    }
}

/// Clears the session's current statement when dropped.
#[derive(Debug)]
pub struct StatementGuard(Arc<SessionInfo>);

impl Drop for StatementGuard {
    fn drop(&mut self) {
        *self.0.statement.lock() = None;
    }
}

impl SessionInfo {
    /// Marks `sql` as the statement being handled until the guard drops.
    pub fn begin_statement(self: &Arc<Self>, sql: Bytes) -> StatementGuard {
        *self.statement.lock() = Some(CurrentStatement {
            sql,
            started: Instant::now(),
        });
        StatementGuard(self.clone())
    }
}

/// All live sessions by id.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: DashMap<u32, Arc<SessionInfo>>,
    next_id: AtomicU32,
    /// Logged-in sessions per user (`[[users]] max_connections`).
    per_user: Arc<DashMap<Arc<str>, usize>>,
}

/// One logged-in session of a user, counted until dropped.
#[derive(Debug)]
pub struct UserSlot {
    per_user: Arc<DashMap<Arc<str>, usize>>,
    user: Arc<str>,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        if let Some(mut n) = self.per_user.get_mut(&self.user) {
            *n = n.saturating_sub(1);
        }
        self.per_user.remove_if(&self.user, |_, n| *n == 0);
    }
}

impl Registry {
    pub fn new() -> Self {
        Registry {
            sessions: DashMap::new(),
            next_id: AtomicU32::new(1),
            per_user: Arc::default(),
        }
    }

    /// Counts a logged-in session of `user`, unless `limit` sessions of
    /// that user are open already.
    pub fn admit(&self, user: &Arc<str>, limit: Option<usize>) -> Option<UserSlot> {
        let mut n = self.per_user.entry(user.clone()).or_insert(0);
        if limit.is_some_and(|max| *n >= max) {
            return None;
        }
        *n += 1;
        drop(n);
        Some(UserSlot {
            per_user: self.per_user.clone(),
            user: user.clone(),
        })
    }

    /// Logged-in sessions of `user` now.
    pub fn sessions_of(&self, user: &str) -> usize {
        self.per_user.get(user).map_or(0, |n| *n)
    }

    /// Allocates a session id and registers the session.
    pub fn register(&self, client_addr: SocketAddr) -> Arc<SessionInfo> {
        let mut id = self.next_id.fetch_add(1, Ordering::Relaxed);
        while id == 0 || self.sessions.contains_key(&id) {
            id = self.next_id.fetch_add(1, Ordering::Relaxed);
        }
        let info = Arc::new(SessionInfo {
            id,
            client_addr,
            connected_at: SystemTime::now(),
            user: Mutex::new(Arc::from("")),
            running: Mutex::new(None),
            pins: AtomicU32::new(0),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            statement: Mutex::new(None),
        });
        self.sessions.insert(id, info.clone());
        info
    }

    pub fn remove(&self, id: u32) {
        self.sessions.remove(&id);
    }

    pub fn get(&self, id: u32) -> Option<Arc<SessionInfo>> {
        self.sessions.get(&id).map(|s| s.clone())
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The session of `user` whose statement runs on backend thread
    /// `thread` right now, if exactly one does.
    pub fn running_on_thread(&self, thread: u32, user: &str) -> Option<Arc<SessionInfo>> {
        let mut found = None;
        for e in self.sessions.iter() {
            let s = e.value();
            let runs = s.running.lock().as_ref().is_some_and(|(_, t)| *t == thread);
            if runs && &**s.user.lock() == user {
                if found.is_some() {
                    return None;
                }
                found = Some(s.clone());
            }
        }
        found
    }

    pub fn all(&self) -> Vec<Arc<SessionInfo>> {
        self.sessions.iter().map(|e| e.value().clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_per_user_are_capped_and_released() {
        let r = Registry::new();
        let app: Arc<str> = Arc::from("app");
        let a = r.admit(&app, Some(2)).expect("first");
        let b = r.admit(&app, Some(2)).expect("second");
        assert!(r.admit(&app, Some(2)).is_none(), "third refused");
        assert!(r.admit(&Arc::from("other"), Some(2)).is_some());
        drop(a);
        let c = r.admit(&app, Some(2)).expect("a slot came free");
        assert_eq!(r.sessions_of("app"), 2);
        drop((b, c));
        assert_eq!(r.sessions_of("app"), 0);
        let _unlimited: Vec<_> = (0..5).map(|_| r.admit(&app, None).unwrap()).collect();
        assert_eq!(r.sessions_of("app"), 5);
    }
}
