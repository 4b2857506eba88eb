//! Problem: a client session's state must survive being served by
//! different backend connections. It lives here: the desired connection
//! state (database, variables, user variables), the server status flags,
//! and the reasons the session is pinned to one backend connection.
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

use crate::backend::ConnState;

/// Why a session is pinned to its backend connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Pin {
    Transaction = 0,
    TempTable = 1,
    NamedLock = 2,
    LockedTables = 3,
    PreparedStatements = 4,
    UnknownState = 5,
    NextStatement = 6,
    UserVariables = 7,
    Cursor = 8,
    LongData = 9,
}

/// How many pin kinds there are.
pub const PIN_KINDS: usize = 10;

impl Pin {
    pub const ALL: [Pin; PIN_KINDS] = [
        Pin::Transaction,
        Pin::TempTable,
        Pin::NamedLock,
        Pin::LockedTables,
        Pin::PreparedStatements,
        Pin::UnknownState,
        Pin::NextStatement,
        Pin::UserVariables,
        Pin::Cursor,
        Pin::LongData,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Pin::Transaction => "transaction",
            Pin::TempTable => "temporary_table",
            Pin::NamedLock => "named_lock",
            Pin::LockedTables => "locked_tables",
            Pin::PreparedStatements => "prepared_statements",
            Pin::UnknownState => "unknown_state",
            Pin::NextStatement => "connection_scoped_result",
            Pin::UserVariables => "user_variables",
            Pin::Cursor => "open_cursor",
            Pin::LongData => "long_data",
        }
    }
}

/// A set of pin reasons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pins(pub u32);

impl Pins {
    pub fn set(&mut self, p: Pin, on: bool) -> bool {
        let bit = 1u32 << p as u8;
        let was = self.0 & bit != 0;
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
        on && !was
    }

    pub fn has(&self, p: Pin) -> bool {
        self.0 & (1 << p as u8) != 0
    }

    pub fn any(&self) -> bool {
        self.0 != 0
    }

    pub fn names(&self) -> Vec<&'static str> {
        Pin::ALL
            .iter()
            .filter(|p| self.has(**p))
            .map(|p| p.as_str())
            .collect()
    }
}

/// The client session's state.
#[derive(Debug, Clone, Default)]
pub struct SessionState {
    /// What a backend connection must hold to serve this session.
    pub conn: ConnState,
    /// Bumped on every change of `conn`.
    pub version: u64,
    pub pins: Pins,
    /// Server status flags of the last response (for locally made OKs).
    pub status: u16,
    pub last_insert_id: u64,
    pub temp_tables: u32,
    pub named_locks: u32,
}

impl SessionState {
    pub fn changed(&mut self) {
        self.version += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins() {
        let mut p = Pins::default();
        assert!(!p.any());
        assert!(p.set(Pin::Transaction, true));
        assert!(!p.set(Pin::Transaction, true));
        assert!(p.has(Pin::Transaction));
        p.set(Pin::TempTable, true);
        assert_eq!(p.names(), vec!["transaction", "temporary_table"]);
        p.set(Pin::Transaction, false);
        p.set(Pin::TempTable, false);
        assert!(!p.any());
    }
}
