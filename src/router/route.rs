//! Problem: the routing decision must be one small, testable function that
//! also says why it decided, for logs, metrics and `EXPLAIN ROUTE`. It
//! looks only at the statement's class and the session's situation; which
//! replica (or whether a replica may serve it at all, given lag and
//! read-your-writes) is decided afterwards, from the topology snapshot.

use super::classify::{Class, Hint, Kind};

/// Where a statement runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The primary.
    Primary,
    /// A replica (chosen afterwards; the primary if none qualifies).
    Replica,
    /// The backend connection the session holds now.
    Held,
}

impl Target {
    pub fn as_str(&self) -> &'static str {
        match self {
            Target::Primary => "primary",
            Target::Replica => "replica",
            Target::Held => "held connection",
        }
    }
}

/// Why it runs there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteReason {
    /// The session holds a backend connection it cannot leave
    /// (transaction, temporary table, named lock, LOCK TABLES, ...).
    Pinned,
    /// FOUND_ROWS(), ROW_COUNT(), SHOW WARNINGS...: the connection that ran
    /// the previous statement.
    ConnectionScoped,
    /// `/* sqlyard:primary */`.
    HintPrimary,
    /// `/* sqlyard:replica */`.
    HintReplica,
    /// `routing.read_write_split = false`.
    SplitDisabled,
    /// autocommit=0: every statement is part of a transaction.
    AutocommitOff,
    Write,
    LockingRead,
    SideEffects,
    SelectInto,
    UserVariables,
    TransactionControl,
    /// SET / USE: session state, replayed wherever the next statement runs.
    Session,
    /// The classifier could not tell.
    Unparsed,
    /// A read without side effects.
    Read,
    /// `START TRANSACTION READ ONLY`.
    ReadOnlyTransaction,
    /// A read went to the primary because no replica qualified.
    NoReplica,
    /// A read went to the primary because no replica had the client's
    /// writes (read-your-writes).
    ReadYourWrites,
    /// A read went to the primary as one more read target
    /// (`routing.primary_reads = "always"`).
    PrimaryReads,
}

impl RouteReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            RouteReason::Pinned => "pinned",
            RouteReason::ConnectionScoped => "connection_scoped",
            RouteReason::HintPrimary => "hint_primary",
            RouteReason::HintReplica => "hint_replica",
            RouteReason::SplitDisabled => "split_disabled",
            RouteReason::AutocommitOff => "autocommit_off",
            RouteReason::Write => "write",
            RouteReason::LockingRead => "locking_read",
            RouteReason::SideEffects => "side_effects",
            RouteReason::SelectInto => "select_into",
            RouteReason::UserVariables => "user_variables",
            RouteReason::TransactionControl => "transaction_control",
            RouteReason::Session => "session",
            RouteReason::Unparsed => "unparsed",
            RouteReason::Read => "read",
            RouteReason::ReadOnlyTransaction => "read_only_transaction",
            RouteReason::NoReplica => "no_replica",
            RouteReason::ReadYourWrites => "read_your_writes",
            RouteReason::PrimaryReads => "primary_reads",
        }
    }
}

/// A routing decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub target: Target,
    pub reason: RouteReason,
}

/// The session's situation, as far as routing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RouteContext {
    /// Pinned to its backend connection for a reason other than the
    /// previous statement's answers (see `backend::pins::Pin`).
    pub pinned: bool,
    /// Holds the connection of its previous statement (FOUND_ROWS() etc.).
    pub holding: bool,
    /// `@@autocommit` is ON.
    pub autocommit: bool,
    /// `routing.read_write_split`.
    pub split: bool,
}

/// Decides where a statement runs.
pub fn route(class: &Class, cx: &RouteContext) -> Route {
    let to = |target, reason| Route { target, reason };
    if cx.pinned {
        return to(Target::Held, RouteReason::Pinned);
    }
    if class.kind == Kind::ConnectionScoped && cx.holding {
        return to(Target::Held, RouteReason::ConnectionScoped);
    }
    match class.hint {
        Some(Hint::Primary) => return to(Target::Primary, RouteReason::HintPrimary),
        // a replica hint never sends a write (or what may be one, or the
        // start of a transaction that would then write) to a replica
        Some(Hint::Replica) if class.kind.may_run_on_a_replica() => {
            return to(Target::Replica, RouteReason::HintReplica)
        }
        Some(Hint::Replica) | None => {}
    }
    if !cx.split {
        return to(Target::Primary, RouteReason::SplitDisabled);
    }
    if !cx.autocommit {
        return to(Target::Primary, RouteReason::AutocommitOff);
    }
    match class.kind {
        Kind::Read => to(Target::Replica, RouteReason::Read),
        Kind::ReadOnlyTransaction => to(Target::Replica, RouteReason::ReadOnlyTransaction),
        Kind::Write => to(Target::Primary, RouteReason::Write),
        Kind::LockingRead => to(Target::Primary, RouteReason::LockingRead),
        Kind::SideEffects => to(Target::Primary, RouteReason::SideEffects),
        Kind::SelectInto => to(Target::Primary, RouteReason::SelectInto),
        Kind::UserVarAssignment => to(Target::Primary, RouteReason::UserVariables),
        Kind::TransactionControl => to(Target::Primary, RouteReason::TransactionControl),
        Kind::Session if cx.holding => to(Target::Held, RouteReason::Session),
        Kind::Session => to(Target::Primary, RouteReason::Session),
        // asked with no previous connection: any answer is the primary's
        Kind::ConnectionScoped => to(Target::Primary, RouteReason::ConnectionScoped),
        Kind::Unparsed => to(Target::Primary, RouteReason::Unparsed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::classify::classify;

    fn cx() -> RouteContext {
        RouteContext {
            autocommit: true,
            split: true,
            ..Default::default()
        }
    }

    fn target(sql: &str, cx: RouteContext) -> (Target, RouteReason) {
        let r = route(&classify(sql.as_bytes()), &cx);
        (r.target, r.reason)
    }

    #[test]
    fn reads_go_to_replicas_and_writes_to_the_primary() {
        assert_eq!(
            target("SELECT 1", cx()),
            (Target::Replica, RouteReason::Read)
        );
        assert_eq!(target("show tables", cx()).0, Target::Replica);
        assert_eq!(
            target("INSERT INTO t VALUES (1)", cx()),
            (Target::Primary, RouteReason::Write)
        );
        assert_eq!(
            target("SELECT * FROM t FOR UPDATE", cx()).1,
            RouteReason::LockingRead
        );
        assert_eq!(
            target("SELECT GET_LOCK('a', 1)", cx()).1,
            RouteReason::SideEffects
        );
        assert_eq!(
            target("START TRANSACTION READ ONLY", cx()),
            (Target::Replica, RouteReason::ReadOnlyTransaction)
        );
        assert_eq!(target("BEGIN", cx()).0, Target::Primary);
    }

    #[test]
    fn session_situation_comes_first() {
        let pinned = RouteContext {
            pinned: true,
            ..cx()
        };
        assert_eq!(
            target("SELECT 1", pinned),
            (Target::Held, RouteReason::Pinned)
        );
        let holding = RouteContext {
            holding: true,
            ..cx()
        };
        assert_eq!(
            target("SELECT FOUND_ROWS()", holding),
            (Target::Held, RouteReason::ConnectionScoped)
        );
        assert_eq!(target("SELECT 1", holding).0, Target::Replica);
        let off = RouteContext {
            autocommit: false,
            ..cx()
        };
        assert_eq!(target("SELECT 1", off).1, RouteReason::AutocommitOff);
        let nosplit = RouteContext {
            split: false,
            ..cx()
        };
        assert_eq!(target("SELECT 1", nosplit).1, RouteReason::SplitDisabled);
    }

    #[test]
    fn hints_force_the_route() {
        assert_eq!(
            target("SELECT /* sqlyard:primary */ 1", cx()),
            (Target::Primary, RouteReason::HintPrimary)
        );
        assert_eq!(
            target("/* sqlyard:replica */ SELECT * FROM t", cx()).1,
            RouteReason::HintReplica
        );
    }

    #[test]
    fn every_kind_has_its_route() {
        let cases = [
            ("SELECT * FROM t", Target::Replica, RouteReason::Read),
            ("SHOW TABLES", Target::Replica, RouteReason::Read),
            ("DESCRIBE t", Target::Replica, RouteReason::Read),
            ("EXPLAIN SELECT 1", Target::Replica, RouteReason::Read),
            ("HELP 'x'", Target::Replica, RouteReason::Read),
            (
                "WITH c AS (SELECT 1) SELECT * FROM c",
                Target::Replica,
                RouteReason::Read,
            ),
            (
                "START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT",
                Target::Replica,
                RouteReason::ReadOnlyTransaction,
            ),
            ("UPDATE t SET a = 1", Target::Primary, RouteReason::Write),
            (
                "WITH c AS (SELECT 1) DELETE FROM t",
                Target::Primary,
                RouteReason::Write,
            ),
            (
                "LOAD DATA INFILE 'f' INTO TABLE t",
                Target::Primary,
                RouteReason::Write,
            ),
            (
                "SELECT 1; INSERT INTO t VALUES (1)",
                Target::Primary,
                RouteReason::Write,
            ),
            (
                "SELECT * FROM t LOCK IN SHARE MODE",
                Target::Primary,
                RouteReason::LockingRead,
            ),
            (
                "SELECT * FROM t FOR SHARE SKIP LOCKED",
                Target::Primary,
                RouteReason::LockingRead,
            ),
            (
                "SELECT NEXT VALUE FOR s",
                Target::Primary,
                RouteReason::SideEffects,
            ),
            (
                "SELECT LAST_INSERT_ID()",
                Target::Primary,
                RouteReason::SideEffects,
            ),
            (
                "SELECT a INTO @x FROM t",
                Target::Primary,
                RouteReason::SelectInto,
            ),
            (
                "SELECT * FROM t INTO OUTFILE '/tmp/x'",
                Target::Primary,
                RouteReason::SelectInto,
            ),
            ("SET @x = 1", Target::Primary, RouteReason::UserVariables),
            (
                "SELECT @x := 1",
                Target::Primary,
                RouteReason::UserVariables,
            ),
            ("COMMIT", Target::Primary, RouteReason::TransactionControl),
            ("SET NAMES utf8mb4", Target::Primary, RouteReason::Session),
            ("USE db", Target::Primary, RouteReason::Session),
            (
                "SELECT FOUND_ROWS()",
                Target::Primary,
                RouteReason::ConnectionScoped,
            ),
            (
                "SHOW WARNINGS",
                Target::Primary,
                RouteReason::ConnectionScoped,
            ),
            ("FROBNICATE", Target::Primary, RouteReason::Unparsed),
        ];
        for (sql, t, r) in cases {
            assert_eq!(target(sql, cx()), (t, r), "{sql}");
        }
    }

    #[test]
    fn holding_keeps_session_and_connection_scoped_statements_on_the_held_connection() {
        let holding = RouteContext {
            holding: true,
            ..cx()
        };
        assert_eq!(
            target("SHOW COUNT(*) WARNINGS", holding),
            (Target::Held, RouteReason::ConnectionScoped)
        );
        assert_eq!(
            target("SELECT @@warning_count", holding),
            (Target::Held, RouteReason::ConnectionScoped)
        );
        assert_eq!(
            target("SET NAMES utf8", holding),
            (Target::Held, RouteReason::Session)
        );
        assert_eq!(
            target("INSERT INTO t VALUES (1)", holding),
            (Target::Primary, RouteReason::Write)
        );
        // a hint does not take a FOUND_ROWS() away from its connection
        assert_eq!(
            target("SELECT /* sqlyard:primary */ FOUND_ROWS()", holding).0,
            Target::Held
        );
    }

    #[test]
    fn hints_win_over_the_kind_but_not_over_a_pin() {
        assert_eq!(
            target("INSERT /* sqlyard:replica */ INTO t VALUES (1)", cx()),
            (Target::Primary, RouteReason::Write)
        );
        assert_eq!(
            target("/* sqlyard:replica */ BEGIN", cx()),
            (Target::Primary, RouteReason::TransactionControl)
        );
        assert_eq!(
            target("SELECT GET_LOCK('a', 0) /* sqlyard:replica */", cx()),
            (Target::Replica, RouteReason::HintReplica)
        );
        assert_eq!(
            target("INSERT /* sqlyard:primary */ INTO t VALUES (1)", cx()),
            (Target::Primary, RouteReason::HintPrimary)
        );
        assert_eq!(
            target("SELECT '/* sqlyard:primary */'", cx()),
            (Target::Replica, RouteReason::Read)
        );
        let pinned = RouteContext {
            pinned: true,
            ..cx()
        };
        assert_eq!(
            target("SELECT /* sqlyard:replica */ 1", pinned),
            (Target::Held, RouteReason::Pinned)
        );
        let nosplit = RouteContext {
            split: false,
            ..cx()
        };
        assert_eq!(
            target("SELECT /* sqlyard:replica */ 1", nosplit).1,
            RouteReason::HintReplica
        );
    }
}
