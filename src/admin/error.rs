//! Problem: a wrong admin command must get an ERR packet that starts with
//! `sqlyard:` and tells the operator what is accepted, and the mapping from
//! failure to MySQL error code must live in one place.

use crate::control::ControlError;
use crate::protocol::constants::errcode;
use crate::protocol::response::{err_payload, err_payload_before_greeting};

use super::parse::ParseError;

/// Errors of admin commands.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot parse the command: {0}")]
    Parse(#[from] ParseError),
    #[error("unknown admin command {got:?}; accepted: {accepted}")]
    Unknown { got: String, accepted: String },
    #[error("malformed {command}; usage: {usage}")]
    Usage {
        command: &'static str,
        usage: &'static str,
    },
    #[error("{0}")]
    Control(#[from] ControlError),
    #[error("unknown command 0x{0:02x} on the admin port; it accepts COM_QUERY, COM_PING, COM_INIT_DB and COM_QUIT")]
    UnsupportedCommand(u8),
    /// SWITCHOVER / FAILOVER could not be served.
    #[error("{0}")]
    Failover(#[from] crate::failover::RequestError),
    /// SWITCHOVER / FAILOVER ran but did not succeed.
    #[error("{kind} {id} {outcome}: {detail}")]
    FailoverEnded {
        kind: &'static str,
        id: u64,
        outcome: &'static str,
        detail: String,
    },
    #[error("too many admin connections (router.admin_max_connections = {0})")]
    TooManyConnections(usize),
    #[error("idle timeout: no request for {0} s (router.admin_idle_timeout)")]
    IdleTimeout(u64),
    /// BACKUP could not be started.
    #[error("{0}")]
    Backup(#[from] crate::backup::BackupError),
    #[error("{0}")]
    Other(String),
}

impl AdminError {
    /// The MySQL error code and SQLSTATE.
    pub fn code(&self) -> (u16, &'static [u8; 5]) {
        match self {
            AdminError::Parse(_) | AdminError::Unknown { .. } | AdminError::Usage { .. } => {
                (1064, b"42000")
            }
            AdminError::UnsupportedCommand(_) => (errcode::UNKNOWN_COM, b"08S01"),
            AdminError::TooManyConnections(_) => (errcode::CON_COUNT, b"08004"),
            AdminError::IdleTimeout(_) => (4031, b"HY000"),
            AdminError::Control(ControlError::UnknownServer(_)) => (1105, b"HY000"),
            AdminError::Control(_)
            | AdminError::Failover(_)
            | AdminError::FailoverEnded { .. }
            | AdminError::Backup(_)
            | AdminError::Other(_) => (1105, b"HY000"),
        }
    }

    /// The ERR payload the operator's client gets.
    pub fn to_err_payload(&self) -> Vec<u8> {
        let (code, state) = self.code();
        err_payload(code, state, &format!("sqlyard: {self}"))
    }

    /// The ERR an operator's client gets instead of the greeting.
    pub fn to_err_before_greeting(&self) -> Vec<u8> {
        err_payload_before_greeting(self.code().0, &format!("sqlyard: {self}"))
    }
}
