//! Problem: a backend failure must tell the client which server failed and
//! why, and tell sqlyard whether to blame the server or the client.

use thiserror::Error;

use crate::protocol::response::ErrInfo;
use crate::protocol::{Origin, ProtocolError, Retry};

/// Errors of the backend layer.
#[derive(Debug, Error)]
pub enum BackendError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("connecting to {addr} timed out after {ms} ms")]
    ConnectTimeout { addr: String, ms: u128 },
    #[error("{addr} refused login for user '{user}': {message}")]
    Auth {
        addr: String,
        user: String,
        code: u16,
        /// The server's SQLSTATE, passed on with its code.
        state: [u8; 5],
        message: String,
    },
    #[error("no credentials to log in to {addr} as '{user}' yet: {reason}")]
    NoCredential {
        addr: String,
        user: String,
        reason: &'static str,
    },
    #[error("{addr}: {source}")]
    Protocol { addr: String, source: ProtocolError },
    #[error("{addr} sent an unexpected packet: {what}")]
    Unexpected { addr: String, what: &'static str },
    #[error("{addr} answered with error {}: {}", .err.code, .err.message)]
    Server { addr: String, err: ErrInfo },
    #[error("no free connection to {addr} within {ms} ms (pool max {max})")]
    PoolTimeout { addr: String, ms: u128, max: usize },
    /// All the connections sqlyard may open to the server are open.
    #[error("all {max} connections sqlyard may open to {addr} are in use ([[servers]] max_connections); waited {ms} ms")]
    ServerConnLimit { addr: String, ms: u128, max: usize },
    #[error("{addr}: {source}")]
    Auth2 {
        addr: String,
        source: crate::protocol::auth::AuthError,
    },
    /// The TLS handshake with the server failed (certificate refused,
    /// protocol error).
    #[error("TLS with {addr} failed ([backend_tls] mode = \"{mode}\"): {source}")]
    Tls {
        addr: String,
        mode: &'static str,
        source: std::io::Error,
    },
    /// The mode requires TLS and the server does not offer it.
    #[error("{addr} does not offer TLS, and [backend_tls] mode = \"{mode}\" requires it")]
    TlsUnavailable { addr: String, mode: &'static str },
    /// caching_sha2_password full authentication would expose the password.
    #[error("{addr}: user '{user}' needs caching_sha2_password full authentication, which sqlyard does over TLS only, or over plaintext with [backend_tls] server_public_key (or allow_public_key_retrieval = true)")]
    InsecureAuth { addr: String, user: String },
}

impl BackendError {
    /// Who caused it.
    pub fn origin(&self) -> Origin {
        match self {
            BackendError::NoCredential { .. }
            | BackendError::InsecureAuth { .. }
            | BackendError::PoolTimeout { .. }
            | BackendError::ServerConnLimit { .. } => Origin::Sqlyard,
            _ => Origin::Server,
        }
    }

    /// Whether the statement it ended may be sent again.
    pub fn retry(&self) -> Retry {
        match self {
            // nothing reached a server
            BackendError::Connect { .. }
            | BackendError::ConnectTimeout { .. }
            | BackendError::PoolTimeout { .. }
            | BackendError::ServerConnLimit { .. } => Retry::Safe,
            // the connection broke or misbehaved: the statement may have run
            BackendError::Protocol { .. } | BackendError::Unexpected { .. } => Retry::Unsafe,
            // the server's own answer, or a login it refuses
            BackendError::Server { .. }
            | BackendError::Auth { .. }
            | BackendError::Auth2 { .. }
            | BackendError::NoCredential { .. }
            | BackendError::InsecureAuth { .. } => Retry::Pointless,
            // refused before any statement was sent
            BackendError::Tls { .. } | BackendError::TlsUnavailable { .. } => Retry::Safe,
        }
    }

    /// True when opening a new connection failed (counted per server).
    pub fn is_connect_error(&self) -> bool {
        matches!(
            self,
            BackendError::Connect { .. }
                | BackendError::ConnectTimeout { .. }
                | BackendError::Auth { .. }
                | BackendError::Auth2 { .. }
                | BackendError::Tls { .. }
                | BackendError::TlsUnavailable { .. }
                | BackendError::InsecureAuth { .. }
        )
    }

    /// True when the server could not be reached at all (it may have
    /// died). A login the server refuses (access denied, too many
    /// connections) is its answer, not a sign it is gone.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            BackendError::Connect { .. } | BackendError::ConnectTimeout { .. }
        )
    }

    /// True when the connection itself is unusable afterwards.
    pub fn is_fatal_for_connection(&self) -> bool {
        !matches!(
            self,
            BackendError::Server { .. }
                | BackendError::PoolTimeout { .. }
                | BackendError::ServerConnLimit { .. }
        )
    }
}
