//! Problem: a session bound to its backend connection must say why, and
//! the admin's client list, `SHOW STATS` and the metrics read those reasons
//! from outside the session. These are the reasons, as a small set that
//! fits in one atomic word. When each is set and cleared is the session's
//! business (`frontend::state`).

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
