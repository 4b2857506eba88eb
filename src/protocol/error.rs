//! Problem: protocol failures must say what went wrong without crashing the
//! process; this is the error type of the protocol layer.

use thiserror::Error;

/// Everything that can go wrong while reading or writing MySQL packets.
#[derive(Debug, Error)]
pub enum ProtocolError {
    #[error("connection closed by peer")]
    Closed,
    #[error("connection closed in the middle of a packet")]
    Truncated,
    #[error("packet of {0} bytes exceeds the limit of {1} bytes")]
    TooLarge(usize, usize),
    /// The shared client buffer budget stayed full (`router.max_buffered_bytes`).
    #[error("client packets already hold the buffer budget of {budget} bytes (router.max_buffered_bytes); a packet of {packet} bytes waited {waited:?} for room")]
    OverBudget {
        packet: usize,
        budget: usize,
        waited: std::time::Duration,
    },
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl ProtocolError {
    /// True when the peer just went away (no need to log loudly).
    pub fn is_disconnect(&self) -> bool {
        match self {
            ProtocolError::Closed | ProtocolError::Truncated => true,
            ProtocolError::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionAborted
            ),
            _ => false,
        }
    }
}
