//! Problem: every failure a client can see must become one well-formed ERR
//! packet whose message starts with `sqlyard:` and says what failed, and
//! the mapping from failure to MySQL error code must live in one place.

use thiserror::Error;

use crate::backend::BackendError;
use crate::protocol::constants::errcode;
use crate::protocol::response::{err_payload, ErrInfo};
use crate::protocol::ProtocolError;
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
    #[error("TLS is not supported by sqlyard yet; connect without SSL")]
    TlsUnsupported,
    #[error("idle timeout: no request for {0} s")]
    IdleTimeout(u64),
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

impl SessionError {
    /// The MySQL error code and SQLSTATE for this error.
    pub fn code(&self) -> (u16, &'static [u8; 5]) {
        match self {
            SessionError::AccessDenied { .. } => (errcode::ACCESS_DENIED, b"28000"),
            SessionError::UnknownCommand(_) => (errcode::UNKNOWN_COM, b"08S01"),
            SessionError::Malformed(_) => (errcode::NET_READ_ERROR, b"08S01"),
            SessionError::Client(ProtocolError::TooLarge(..)) => {
                (errcode::NET_PACKET_TOO_LARGE, b"08S01")
            }
            SessionError::Client(_) => (errcode::NET_READ_ERROR, b"08S01"),
            SessionError::UnknownStatement(..) => (1243, b"HY000"),
            SessionError::NoSuchThread(_) => (errcode::NO_SUCH_THREAD, b"HY000"),
            SessionError::NotOwner(_) => (errcode::NOT_OWNER, b"HY000"),
            SessionError::TooManyConnections(_) => (errcode::CON_COUNT, b"08004"),
            SessionError::TlsUnsupported => (errcode::HANDSHAKE, b"08S01"),
            SessionError::IdleTimeout(_) => (4031, b"HY000"),
            SessionError::Killed => (errcode::CONNECTION_KILLED, b"70100"),
            // 2013 is a client-side code: libmariadb reports it as a malformed packet
            SessionError::ServerOffline(_)
            | SessionError::ServerLost(_)
            | SessionError::TooManyHeld(_)
            | SessionError::NoPrimary(_)
            | SessionError::NoReplica(_) => (1105, b"HY000"),
            SessionError::Backend(BackendError::PoolTimeout { .. }) => {
                (errcode::CON_COUNT, b"08004")
            }
            SessionError::Backend(_) => (2013, b"HY000"),
        }
    }

    /// The ERR packet payload a client gets for this error.
    pub fn to_err_payload(&self) -> Vec<u8> {
        let (code, state) = self.code();
        err_payload(code, state, &format!("sqlyard: {self}"))
    }
}

/// An ERR from a server is passed through unchanged: same code, state and
/// message as a direct connection gives.
pub fn server_err_payload(e: &ErrInfo) -> Vec<u8> {
    err_payload(e.code, &e.state, &e.message)
}
