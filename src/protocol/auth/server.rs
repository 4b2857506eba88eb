//! sqlyard's frontend must decide, per user, which auth plugin to run with a
//! connecting client and whether the client's answer is right, from whatever
//! credential the config holds: a plaintext password or only a native `*HEX`
//! hash. This file makes those two decisions, without I/O.
//!
//! Rules:
//! * Plaintext password: both plugins are verifiable. The client's own plugin is
//!   kept when it is mysql_native_password or caching_sha2_password; anything
//!   else is switched to mysql_native_password. For caching_sha2_password a
//!   correct non-empty answer gets AuthMoreData `01 03` (fast auth success) and
//!   then OK; a wrong one gets ERR, never a "perform full auth" request.
//! * Native hash only: caching_sha2_password needs `SHA256(pw)`, which the
//!   SHA-1 hash cannot give, so the client is always switched to
//!   mysql_native_password (AuthSwitchRequest, carrying the same 20-byte
//!   scramble) and verified with [`native_verify`].
//! * Empty password: accepted only with an empty answer (or a single NUL),
//!   answered with a plain OK for both plugins, as MySQL does.

use std::fmt;

use super::caching_sha2::{sha2_verify_plain, FAST_AUTH_SUCCESS};
use super::error::AuthError;
use super::native::{native_hash, native_verify, NATIVE_HASH_LEN};
use super::AuthPlugin;

/// What sqlyard knows about a user's password. Debug output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub enum ServerCredential {
    /// The plaintext password (may be empty).
    Plain(Vec<u8>),
    /// Only `SHA1(SHA1(pw))`, as in MySQL's `*HEX` form.
    NativeHash([u8; NATIVE_HASH_LEN]),
}

impl fmt::Debug for ServerCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerCredential::Plain(_) => f.write_str("Plain(<redacted>)"),
            ServerCredential::NativeHash(_) => f.write_str("NativeHash(<redacted>)"),
        }
    }
}

/// The frontend's verdict on a client's auth response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerVerdict {
    /// Send OK.
    Accept,
    /// Send the AuthMoreData packet [`FAST_AUTH_SUCCESS`] (`01 03`), then OK.
    AcceptAfterFastAuth,
    /// Send ERR (1045, access denied).
    Reject,
}

impl ServerVerdict {
    /// Packet payload to send before OK, if any.
    pub fn more_data_before_ok(&self) -> Option<&'static [u8]> {
        match self {
            ServerVerdict::AcceptAfterFastAuth => Some(&FAST_AUTH_SUCCESS),
            ServerVerdict::Accept | ServerVerdict::Reject => None,
        }
    }

    /// True when the client is authenticated.
    pub fn is_accepted(&self) -> bool {
        !matches!(self, ServerVerdict::Reject)
    }
}

impl ServerCredential {
    /// A credential from the plaintext password.
    pub fn plain(password: impl Into<Vec<u8>>) -> Self {
        ServerCredential::Plain(password.into())
    }

    /// Whether `password`, received in clear (inside TLS), is this one.
    pub fn matches_clear(&self, password: &[u8]) -> bool {
        match self {
            ServerCredential::Plain(pw) => super::ct::ct_eq(pw, password),
            ServerCredential::NativeHash(h) => super::native::native_hash_matches(password, h),
        }
    }

    /// The plugin to run with a client that answered the greeting using
    /// `client_plugin`. If the result differs from `client_plugin`, the frontend
    /// sends an AuthSwitchRequest for it.
    pub fn plugin_for(&self, client_plugin: &AuthPlugin) -> AuthPlugin {
        match (self, client_plugin) {
            (ServerCredential::Plain(_), AuthPlugin::CachingSha2Password) => {
                AuthPlugin::CachingSha2Password
            }
            _ => AuthPlugin::MysqlNativePassword,
        }
    }

    /// Checks `response` to `scramble` under `plugin`. Errors only when this
    /// credential cannot verify that plugin at all (a caller that used
    /// [`ServerCredential::plugin_for`] never sees that).
    pub fn verify(
        &self,
        plugin: &AuthPlugin,
        scramble: &[u8],
        response: &[u8],
    ) -> Result<ServerVerdict, AuthError> {
        let accept = |ok: bool| {
            if ok {
                ServerVerdict::Accept
            } else {
                ServerVerdict::Reject
            }
        };
        match (plugin, self) {
            (AuthPlugin::MysqlNativePassword, ServerCredential::NativeHash(h)) => {
                Ok(accept(native_verify(h, scramble, response)))
            }
            (AuthPlugin::MysqlNativePassword, ServerCredential::Plain(pw)) => {
                if pw.is_empty() {
                    return Ok(accept(response.is_empty() || response == [0]));
                }
                Ok(accept(native_verify(&native_hash(pw), scramble, response)))
            }
            (AuthPlugin::CachingSha2Password, ServerCredential::Plain(pw)) => {
                if pw.is_empty() {
                    return Ok(accept(sha2_verify_plain(pw, scramble, response)));
                }
                Ok(if sha2_verify_plain(pw, scramble, response) {
                    ServerVerdict::AcceptAfterFastAuth
                } else {
                    ServerVerdict::Reject
                })
            }
            (AuthPlugin::CachingSha2Password, ServerCredential::NativeHash(_))
            | (AuthPlugin::Other(_), _) => Err(AuthError::CannotVerify {
                plugin: plugin.name().to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::auth::caching_sha2::sha2_client_response;
    use crate::protocol::auth::native::native_client_response;
    use crate::protocol::auth::scramble::new_scramble;

    const NATIVE: AuthPlugin = AuthPlugin::MysqlNativePassword;
    const SHA2: AuthPlugin = AuthPlugin::CachingSha2Password;

    #[test]
    fn plugin_choice() {
        let plain = ServerCredential::plain("pw");
        let hash = ServerCredential::NativeHash(native_hash(b"pw"));
        let ed = AuthPlugin::Other("client_ed25519".into());
        assert_eq!(plain.plugin_for(&SHA2), SHA2);
        assert_eq!(plain.plugin_for(&NATIVE), NATIVE);
        assert_eq!(plain.plugin_for(&ed), NATIVE);
        assert_eq!(hash.plugin_for(&SHA2), NATIVE);
        assert_eq!(hash.plugin_for(&NATIVE), NATIVE);
        assert_eq!(hash.plugin_for(&ed), NATIVE);
    }

    #[test]
    fn native_with_plain_and_hash() {
        let s = new_scramble();
        let good = native_client_response(b"pw", &s);
        let bad = native_client_response(b"pW", &s);
        for cred in [
            ServerCredential::plain("pw"),
            ServerCredential::NativeHash(native_hash(b"pw")),
        ] {
            assert_eq!(
                cred.verify(&NATIVE, &s, &good).unwrap(),
                ServerVerdict::Accept
            );
            assert_eq!(
                cred.verify(&NATIVE, &s, &bad).unwrap(),
                ServerVerdict::Reject
            );
            assert_eq!(
                cred.verify(&NATIVE, &s, b"").unwrap(),
                ServerVerdict::Reject
            );
        }
    }

    #[test]
    fn sha2_fast_auth_with_plain() {
        let s = new_scramble();
        let cred = ServerCredential::plain("pw");
        let v = cred
            .verify(&SHA2, &s, &sha2_client_response(b"pw", &s))
            .unwrap();
        assert_eq!(v, ServerVerdict::AcceptAfterFastAuth);
        assert_eq!(v.more_data_before_ok(), Some(&[0x01, 0x03][..]));
        assert!(v.is_accepted());
        let v = cred
            .verify(&SHA2, &s, &sha2_client_response(b"px", &s))
            .unwrap();
        assert_eq!(v, ServerVerdict::Reject);
        assert!(!v.is_accepted());
        assert_eq!(v.more_data_before_ok(), None);
        // a native-style answer under the sha2 plugin is wrong
        let v = cred
            .verify(&SHA2, &s, &native_client_response(b"pw", &s))
            .unwrap();
        assert_eq!(v, ServerVerdict::Reject);
    }

    #[test]
    fn empty_password() {
        let s = new_scramble();
        let cred = ServerCredential::plain("");
        for plugin in [&NATIVE, &SHA2] {
            assert_eq!(cred.verify(plugin, &s, b"").unwrap(), ServerVerdict::Accept);
            assert_eq!(
                cred.verify(plugin, &s, b"\0").unwrap(),
                ServerVerdict::Accept
            );
        }
        let some = native_client_response(b"x", &s);
        assert_eq!(
            cred.verify(&NATIVE, &s, &some).unwrap(),
            ServerVerdict::Reject
        );
        let some = sha2_client_response(b"x", &s);
        assert_eq!(
            cred.verify(&SHA2, &s, &some).unwrap(),
            ServerVerdict::Reject
        );
        // a configured non-empty password never accepts an empty answer
        let cred = ServerCredential::plain("pw");
        assert_eq!(cred.verify(&SHA2, &s, b"").unwrap(), ServerVerdict::Reject);
        assert_eq!(
            cred.verify(&NATIVE, &s, b"").unwrap(),
            ServerVerdict::Reject
        );
    }

    #[test]
    fn unverifiable_combinations_are_errors() {
        let s = new_scramble();
        let hash = ServerCredential::NativeHash(native_hash(b"pw"));
        assert!(matches!(
            hash.verify(&SHA2, &s, &sha2_client_response(b"pw", &s)),
            Err(AuthError::CannotVerify { .. })
        ));
        let ed = AuthPlugin::Other("client_ed25519".into());
        assert!(matches!(
            ServerCredential::plain("pw").verify(&ed, &s, b"x"),
            Err(AuthError::CannotVerify { .. })
        ));
    }

    #[test]
    fn debug_is_redacted() {
        let d = format!(
            "{:?} {:?}",
            ServerCredential::plain("topsecret"),
            ServerCredential::NativeHash(native_hash(b"topsecret"))
        );
        assert!(!d.contains("topsecret"));
        assert!(!d
            .to_lowercase()
            .contains(&hex::encode(native_hash(b"topsecret"))[..8]));
    }
}
