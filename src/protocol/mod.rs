//! The MySQL client/server wire protocol, for both sides of sqlyard.
//!
//! Problem: sqlyard is a MySQL server to applications and a MySQL client to
//! the backends, and it must relay results without buffering them. This
//! module holds the pieces both sides share: packet framing (with the
//! 16 MiB split), length-encoded values, the handshake, authentication
//! plugins, OK/ERR/EOF packets, session-state tracking and the response
//! boundary tracker used to stream result sets packet by packet.

pub mod auth;
pub mod budget;
pub mod codec;
pub mod collation;
pub mod constants;
pub mod error;
pub mod handshake;
pub mod lenenc;
pub mod origin;
pub mod response;
pub mod stream;

pub use codec::{Packet, PacketIo};
pub use error::ProtocolError;
pub use origin::{Origin, Retry};
