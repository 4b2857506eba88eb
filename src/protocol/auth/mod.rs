//! sqlyard authenticates twice per session: it is a MySQL *server* to the
//! application (checking the client's password proof) and a MySQL *client* to
//! each backend (proving its own password). This module holds the authentication
//! plugins for both sides as pure functions and state machines: no I/O, no
//! packet framing, so every byte can be unit-tested.
//!
//! * [`scramble`]: the per-connection random challenge.
//! * [`native`]: mysql_native_password (SHA-1), client response and verification
//!   from a stored `*HEX` hash.
//! * [`caching_sha2`]: caching_sha2_password (SHA-256), client response, the
//!   client-side exchange with MySQL 8 servers, and the server-side fast path.
//! * [`rsa`]: RSA-OAEP password encryption for caching_sha2 full authentication.
//! * [`server`]: which plugin sqlyard's frontend uses for a given stored
//!   credential and how it verifies the answer. A plaintext credential supports
//!   both plugins; a native hash forces an AuthSwitchRequest to
//!   mysql_native_password (caching_sha2 cannot be checked from a SHA-1 hash).

pub mod caching_sha2;
mod ct;
pub mod error;
pub mod native;
pub mod rsa;
pub mod scramble;
pub mod server;

#[cfg(test)]
mod live_check;

pub use caching_sha2::{
    sha2_client_response, sha2_verify_plain, Sha2Client, Sha2Step, FAST_AUTH_SUCCESS,
    PERFORM_FULL_AUTH, REQUEST_PUBLIC_KEY,
};
pub use error::AuthError;
pub use native::{
    native_client_response, native_hash, native_hash_matches, native_verify, parse_native_hash,
};
pub use rsa::encrypt_password_rsa;
pub use scramble::new_scramble;
pub use server::{ServerCredential, ServerVerdict};

/// An authentication plugin as named on the wire (handshake, AuthSwitchRequest).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuthPlugin {
    /// `mysql_native_password`
    MysqlNativePassword,
    /// `caching_sha2_password`
    CachingSha2Password,
    /// Any other plugin (e.g. `client_ed25519`, `sha256_password`); unsupported.
    Other(String),
}

impl AuthPlugin {
    /// Wire name of `mysql_native_password`.
    pub const NATIVE_NAME: &'static str = "mysql_native_password";
    /// Wire name of `caching_sha2_password`.
    pub const CACHING_SHA2_NAME: &'static str = "caching_sha2_password";

    /// The plugin's wire name.
    pub fn name(&self) -> &str {
        match self {
            AuthPlugin::MysqlNativePassword => Self::NATIVE_NAME,
            AuthPlugin::CachingSha2Password => Self::CACHING_SHA2_NAME,
            AuthPlugin::Other(name) => name,
        }
    }

    /// Plugin for a wire name. Exact, case-sensitive match as servers do; a
    /// trailing NUL (as in a raw handshake field) is ignored.
    pub fn from_name(name: &str) -> AuthPlugin {
        match name.trim_end_matches('\0') {
            Self::NATIVE_NAME => AuthPlugin::MysqlNativePassword,
            Self::CACHING_SHA2_NAME => AuthPlugin::CachingSha2Password,
            other => AuthPlugin::Other(other.to_string()),
        }
    }

    /// Plugin for a wire name given as bytes (not necessarily UTF-8).
    pub fn from_name_bytes(name: &[u8]) -> AuthPlugin {
        AuthPlugin::from_name(&String::from_utf8_lossy(name))
    }

    /// True for the plugins this module implements.
    pub fn is_supported(&self) -> bool {
        !matches!(self, AuthPlugin::Other(_))
    }
}

impl std::fmt::Display for AuthPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in [
            AuthPlugin::MysqlNativePassword,
            AuthPlugin::CachingSha2Password,
            AuthPlugin::Other("client_ed25519".into()),
        ] {
            assert_eq!(AuthPlugin::from_name(p.name()), p);
            assert_eq!(p.to_string(), p.name());
        }
        assert_eq!(
            AuthPlugin::MysqlNativePassword.name(),
            "mysql_native_password"
        );
        assert_eq!(
            AuthPlugin::CachingSha2Password.name(),
            "caching_sha2_password"
        );
    }

    #[test]
    fn from_name_details() {
        assert_eq!(
            AuthPlugin::from_name("mysql_native_password\0"),
            AuthPlugin::MysqlNativePassword
        );
        assert_eq!(
            AuthPlugin::from_name_bytes(b"caching_sha2_password"),
            AuthPlugin::CachingSha2Password
        );
        assert_eq!(
            AuthPlugin::from_name("MYSQL_NATIVE_PASSWORD"),
            AuthPlugin::Other("MYSQL_NATIVE_PASSWORD".into())
        );
        assert_eq!(AuthPlugin::from_name(""), AuthPlugin::Other(String::new()));
        assert!(!AuthPlugin::from_name_bytes(b"\xff\xfe").is_supported());
        assert!(AuthPlugin::MysqlNativePassword.is_supported());
        assert!(AuthPlugin::CachingSha2Password.is_supported());
    }
}
