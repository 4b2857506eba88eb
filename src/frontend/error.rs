//! Problem: every failure a client can see must become one well-formed ERR
//! packet whose message starts with `sqlyard:` and says what failed, and
//! the mapping from failure to MySQL error code must live in one place.

use thiserror::Error;

use crate::backend::BackendError;
use crate::protocol::constants::errcode;
use crate::protocol::response::{err_payload, err_payload_before_greeting, ErrInfo};
use crate::protocol::{Origin, ProtocolError, Retry};
use crate::topology::NoPrimary;

/// Errors of the frontend layer.
#[derive(Debug, Error)]
pub enum SessionError {
    #[error("client: {0}")]
    Client(#[from] ProtocolError),
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("{0}")]
    NoPrimary(#[from] NoPrimary),
    #[error("Access denied for user '{user}'@'{host}' (using password: {})", if *.using_password { "YES" } else { "NO" })]
    AccessDenied {
        user: String,
        host: String,
        using_password: bool,
    },
    #[error(
        "unknown command 0x{0:02x}; sqlyard accepts the MySQL text and binary protocol commands"
    )]
    UnknownCommand(u8),
    #[error(
        "unknown COM_SET_OPTION option {0}; the options are 0 (multi-statements on) and 1 (off)"
    )]
    UnknownOption(u16),
    #[error("malformed {0} packet")]
    Malformed(&'static str),
    #[error("Unknown prepared statement handler ({0}) given to {1}")]
    UnknownStatement(u32, &'static str),
    #[error("Unknown thread id: {0}")]
    NoSuchThread(u64),
    #[error("You are not owner of thread {0}")]
    NotOwner(u64),
    #[error("too many connections (router.max_connections = {0})")]
    TooManyConnections(usize),
    #[error("User '{user}' has exceeded the 'max_connections' resource (current value: {limit})")]
    UserLimit { user: String, limit: usize },
    #[error("TLS is not configured on this listener")]
    TlsNotConfigured,
    /// The TLS handshake failed (no ERR can be sent: the stream is broken).
    #[error("TLS handshake failed: {0}")]
    TlsHandshake(std::io::Error),
    /// A plaintext client where TLS is required for everyone.
    #[error("Connections using insecure transport are prohibited while {0}")]
    InsecureTransport(&'static str),
    /// The password was right, the transport is not the user's.
    #[error("Access denied for user '{user}'@'{host}': {why}")]
    TransportDenied {
        user: String,
        host: String,
        why: &'static str,
    },
    #[error("idle timeout: no request for {0} s")]
    IdleTimeout(u64),
    #[error("idle transaction timeout: the transaction was idle for {0} s (router.idle_transaction_timeout); it was rolled back")]
    IdleTransactionTimeout(u64),
    #[error("connection was killed")]
    Killed,
    #[error("no replica may serve this read now and routing.primary_reads = \"never\" ({0})")]
    NoReplica(String),
    #[error("server {0} was set OFFLINE by an operator; the session's transaction or state on it is lost")]
    ServerOffline(String),
    #[error("server {0} was lost while this statement ran on it (failover); its outcome is unknown, so it was not retried")]
    ServerLost(String),
    #[error("too many statements are waiting for a primary (failover.max_held = {0})")]
    TooManyHeld(usize),
}

impl From<crate::failover::hold::HoldError> for SessionError {
    fn from(e: crate::failover::hold::HoldError) -> Self {
        use crate::failover::hold::HoldError;
        match e {
            HoldError::TooManyHeld(max) => SessionError::TooManyHeld(max),
            HoldError::NoPrimary(e) => SessionError::NoPrimary(e),
        }
    }
}

impl SessionError {
    /// Who caused it.
    pub fn origin(&self) -> Origin {
        use SessionError::*;
        match self {
            Backend(e) => e.origin(),
            NoPrimary(_) | ServerLost(_) => Origin::Server,
            Client(_)
            | AccessDenied { .. }
            | UnknownCommand(_)
            | UnknownOption(_)
            | Malformed(_)
            | UnknownStatement(..)
            | NoSuchThread(_)
            | NotOwner(_)
            | IdleTimeout(_)
            | IdleTransactionTimeout(_)
            | TlsNotConfigured
            | TlsHandshake(_)
            | InsecureTransport(_)
            | TransportDenied { .. } => Origin::Client,
            TooManyConnections(_)
            | UserLimit { .. }
            | Killed
            | NoReplica(_)
            | ServerOffline(_)
            | TooManyHeld(_) => Origin::Sqlyard,
        }
    }

    /// Whether the statement it ended may be sent again.
    pub fn retry(&self) -> Retry {
        use SessionError::*;
        match self {
            Backend(e) => e.retry(),
            // refused before anything reached a server
            NoPrimary(_)
            | TooManyConnections(_)
            | UserLimit { .. }
            | NoReplica(_)
            | TooManyHeld(_) => Retry::Safe,
            // it may have run (or its transaction is gone)
            ServerLost(_) | ServerOffline(_) => Retry::Unsafe,
            // the client's own request, or a session that was ended
            _ => Retry::Pointless,
        }
    }

    /// The MySQL error code and SQLSTATE for this error.
    pub fn code(&self) -> (u16, &[u8; 5]) {
        match self {
            SessionError::AccessDenied { .. } => (errcode::ACCESS_DENIED, b"28000"),
            SessionError::UnknownCommand(_) | SessionError::UnknownOption(_) => {
                (errcode::UNKNOWN_COM, b"08S01")
            }
            SessionError::Malformed(_) => (errcode::NET_READ_ERROR, b"08S01"),
            SessionError::Client(ProtocolError::TooLarge(..)) => {
                (errcode::NET_PACKET_TOO_LARGE, b"08S01")
            }
            // ER_OUT_OF_RESOURCES, as a server short of memory answers
            SessionError::Client(ProtocolError::OverBudget { .. }) => (1041, b"HY000"),
            SessionError::Client(_) => (errcode::NET_READ_ERROR, b"08S01"),
            SessionError::UnknownStatement(..) => (1243, b"HY000"),
            SessionError::NoSuchThread(_) => (errcode::NO_SUCH_THREAD, b"HY000"),
            SessionError::NotOwner(_) => (errcode::NOT_OWNER, b"HY000"),
            SessionError::TooManyConnections(_) => (errcode::CON_COUNT, b"08004"),
            SessionError::UserLimit { .. } => (1226, b"42000"),
            SessionError::TlsNotConfigured | SessionError::TlsHandshake(_) => {
                (errcode::HANDSHAKE, b"08S01")
            }
            // ER_SECURE_TRANSPORT_REQUIRED, as MySQL's require_secure_transport
            SessionError::InsecureTransport(_) => (3159, b"HY000"),
            SessionError::TransportDenied { .. } => (errcode::ACCESS_DENIED, b"28000"),
            SessionError::IdleTimeout(_) | SessionError::IdleTransactionTimeout(_) => {
                (4031, b"HY000")
            }
            SessionError::Killed => (errcode::CONNECTION_KILLED, b"70100"),
            // 2013 is a client-side code: libmariadb reports it as a malformed packet
            SessionError::ServerOffline(_)
            | SessionError::ServerLost(_)
            | SessionError::TooManyHeld(_)
            | SessionError::NoPrimary(_)
            | SessionError::NoReplica(_) => (1105, b"HY000"),
            SessionError::Backend(
                BackendError::PoolTimeout { .. } | BackendError::ServerConnLimit { .. },
            ) => (errcode::CON_COUNT, b"08004"),
            // the server refused the login (too many connections, access
            // denied, a per-user limit): its own answer, passed on
            SessionError::Backend(BackendError::Auth { code, state, .. }) => (*code, state),
            SessionError::Backend(_) => (2013, b"HY000"),
        }
    }

    /// The ERR packet payload a client gets for this error.
    pub fn to_err_payload(&self) -> Vec<u8> {
        let (code, state) = self.code();
        err_payload(code, state, &format!("sqlyard: {self}"))
    }

    /// The ERR a client gets instead of the greeting.
    pub fn to_err_before_greeting(&self) -> Vec<u8> {
        err_payload_before_greeting(self.code().0, &format!("sqlyard: {self}"))
    }
}

/// An ERR from a server is passed through unchanged: same code, state and
/// message as a direct connection gives.
pub fn server_err_payload(e: &ErrInfo) -> Vec<u8> {
    err_payload(e.code, &e.state, &e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_backend_login_passes_the_servers_code_on() {
        let refused = |code: u16| {
            SessionError::Backend(BackendError::Auth {
                addr: "127.0.0.1:1".into(),
                user: "app".into(),
                code,
                state: *match code {
                    1040 => b"08004",
                    1045 => b"28000",
                    1203 => b"42000",
                    _ => b"HY000",
                },
                message: "Too many connections".into(),
            })
        };
        assert_eq!(refused(1040).code(), (1040, b"08004"));
        assert_eq!(refused(1045).code(), (1045, b"28000"));
        assert_eq!(refused(1203).code(), (1203, b"42000"));
        assert_eq!(refused(1129).code(), (1129, b"HY000"));
        let p = refused(1040).to_err_payload();
        assert_eq!(&p[..3], &[0xff, 0x10, 0x04]);
    }

    #[test]
    fn errors_say_who_caused_them_and_whether_a_retry_is_safe() {
        let addr = || "127.0.0.1:1".to_string();
        let cases: Vec<(SessionError, Origin, Retry)> = vec![
            (
                SessionError::Backend(BackendError::ConnectTimeout {
                    addr: addr(),
                    ms: 5,
                }),
                Origin::Server,
                Retry::Safe,
            ),
            (
                SessionError::Backend(BackendError::Protocol {
                    addr: addr(),
                    source: ProtocolError::Closed,
                }),
                Origin::Server,
                Retry::Unsafe,
            ),
            (
                SessionError::Backend(BackendError::Server {
                    addr: addr(),
                    err: ErrInfo {
                        code: 1146,
                        state: *b"42S02",
                        message: "Table 'x.t' doesn't exist".into(),
                    },
                }),
                Origin::Server,
                Retry::Pointless,
            ),
            (
                SessionError::Backend(BackendError::PoolTimeout {
                    addr: addr(),
                    ms: 10,
                    max: 1,
                }),
                Origin::Sqlyard,
                Retry::Safe,
            ),
            (
                SessionError::ServerLost(addr()),
                Origin::Server,
                Retry::Unsafe,
            ),
            (
                SessionError::ServerOffline(addr()),
                Origin::Sqlyard,
                Retry::Unsafe,
            ),
            (SessionError::TooManyHeld(3), Origin::Sqlyard, Retry::Safe),
            (
                SessionError::Malformed("x"),
                Origin::Client,
                Retry::Pointless,
            ),
            (SessionError::Killed, Origin::Sqlyard, Retry::Pointless),
        ];
        for (e, origin, retry) in cases {
            assert_eq!((e.origin(), e.retry()), (origin, retry), "{e}");
        }
    }
}
