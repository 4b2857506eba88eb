//! Problem: a client session's state must survive being served by
//! different backend connections. It lives here: the desired connection
//! state (database, variables, user variables) and the server status
//! flags. The reasons the session is pinned to one backend connection are
//! kept with that connection in [`super::binding::Binding`]; when each is
//! set and cleared is described here.
//!
//! Pinning is an explicit state machine over reasons. Each reason is set
//! by a server signal or a statement, and cleared by another:
//! - `Transaction`: set while the server reports SERVER_STATUS_IN_TRANS
//!   (BEGIN, or autocommit=0 after a statement); cleared when it no longer
//!   does (COMMIT, ROLLBACK, implicit commit).
//! - `TempTable`: CREATE TEMPORARY TABLE; cleared when as many DROP
//!   TEMPORARY TABLE statements succeeded.
//! - `NamedLock`: GET_LOCK(); cleared by RELEASE_ALL_LOCKS() or as many
//!   RELEASE_LOCK() calls.
//! - `LockedTables`: LOCK TABLES; cleared by UNLOCK TABLES.
//! - `PreparedStatements`: SQL-level PREPARE (binary-protocol prepared
//!   statements do not pin: they are re-prepared where they run); cleared
//!   only by a reset.
//! - `Cursor`: COM_STMT_EXECUTE opened a cursor; cleared when the last row
//!   was fetched, or by COM_STMT_RESET / COM_STMT_CLOSE.
//! - `LongData`: COM_STMT_SEND_LONG_DATA sent parameter data to one
//!   connection; cleared after the COM_STMT_EXECUTE that uses it.
//! - `UnknownState`: the server reported a state change sqlyard cannot
//!   explain or replay; cleared only by COM_RESET_CONNECTION or
//!   COM_CHANGE_USER.
//! - `NextStatement`: every statement leaves answers that only its own
//!   connection can give (FOUND_ROWS(), ROW_COUNT(), SHOW WARNINGS), so the
//!   connection stays with the session until its next statement, or until
//!   the client has been idle for `pool.linger`. Warnings and
//!   SQL_CALC_FOUND_ROWS keep it for the next statement regardless.
//!
//! User variables and session variables do not pin: they are replayed.

pub use crate::backend::pins::{Pin, Pins, PIN_KINDS};
use crate::backend::ConnState;

/// The client session's state.
#[derive(Debug, Clone, Default)]
pub struct SessionState {
    /// What a backend connection must hold to serve this session.
    pub conn: ConnState,
    /// Bumped on every change of `conn`.
    pub version: u64,
    /// Server status flags of the last response (for locally made OKs,
    /// and `NO_BACKSLASH_ESCAPES` for reading the next statement).
    pub status: u16,
    /// A server's status flags have come back since the session (or its
    /// last reset) began, so `status` tells the SQL mode.
    pub status_seen: bool,
    pub last_insert_id: u64,
    pub temp_tables: u32,
    pub named_locks: u32,
}

impl SessionState {
    pub fn changed(&mut self) {
        self.version += 1;
    }
}
