//! Passwords in the config must never leak into logs, `Debug` output or error
//! messages. [`Secret`] wraps any secret string with masked formatting, and
//! [`Password`] tells a plain application password from a
//! `mysql_native_password` hash (`*` + 40 hex digits, as in `mysql.user`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use sha1::{Digest, Sha1};

/// What `Debug` and `Display` print instead of a secret.
const MASK: &str = "***";

/// A secret string (password). `Debug` and `Display` print `***`; the value is
/// reachable only through [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Call this only where the value is really needed
    /// (authentication), never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no secret was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// An application user's password, as written in `[[users]] password`.
///
/// A string of the form `*` followed by exactly 40 hex digits is a
/// `mysql_native_password` hash, i.e. `SHA1(SHA1(password))` as shown in
/// `mysql.user.authentication_string`; anything else is the plain password.
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    /// The password itself.
    Plain(Secret),
    /// `SHA1(SHA1(password))`.
    NativeHash([u8; 20]),
}

impl Password {
    /// Reads a configured password string (see the type's documentation).
    pub fn parse(text: &str) -> Password {
        match parse_native_hash(text) {
            Some(hash) => Password::NativeHash(hash),
            None => Password::Plain(Secret::new(text)),
        }
    }

    /// The `mysql_native_password` hash, `SHA1(SHA1(password))`: stored as is
    /// for [`Password::NativeHash`], computed for [`Password::Plain`].
    pub fn native_hash(&self) -> [u8; 20] {
        match self {
            Password::NativeHash(hash) => *hash,
            Password::Plain(secret) => {
                let stage1 = Sha1::digest(secret.expose().as_bytes());
                Sha1::digest(stage1).into()
            }
        }
    }

    /// The plain password, when the config holds it (not only a hash).
    pub fn plain(&self) -> Option<&Secret> {
        match self {
            Password::Plain(secret) => Some(secret),
            Password::NativeHash(_) => None,
        }
    }
}

impl From<String> for Password {
    fn from(text: String) -> Self {
        match parse_native_hash(&text) {
            Some(hash) => Password::NativeHash(hash),
            None => Password::Plain(Secret(text)),
        }
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Password::Plain(_) => write!(f, "Password::Plain({MASK})"),
            Password::NativeHash(_) => write!(f, "Password::NativeHash({MASK})"),
        }
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_string(SecretVisitor).map(Secret)
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_string(SecretVisitor)
            .map(Password::from)
    }
}

/// Reads a string. Unlike serde's default, a wrongly typed value (a number
/// written without quotes) is not echoed in the error message.
struct SecretVisitor;

const NOT_A_STRING: &str = "passwords must be quoted strings";

impl Visitor<'_> for SecretVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quoted string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<String, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<String, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<String, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<String, E> {
        Err(E::custom(NOT_A_STRING))
    }
}

/// `*` + 40 hex digits (either case) -> the 20 hash bytes.
fn parse_native_hash(text: &str) -> Option<[u8; 20]> {
    let hex_part = text.strip_prefix('*')?;
    if hex_part.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    hex::decode_to_slice(hex_part, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_form_is_detected() {
        let upper = Password::parse("*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9");
        match upper {
            Password::NativeHash(h) => assert_eq!(h[0], 0x6b),
            other => panic!("expected hash, got {other:?}"),
        }
        let lower = Password::parse("*6bb4837eb74329105ee4568dda7dc67ed2ca2ad9");
        assert!(matches!(lower, Password::NativeHash(_)));
    }

    #[test]
    fn almost_hashes_are_plain() {
        for text in [
            "6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9",   // no star
            "*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD",   // 39 digits
            "*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD90", // 41 digits
            "*6BB4837EB74329105EE4568DDA7DC67ED2CA2ADZ",  // not hex
            "",
            "app_pw",
        ] {
            let p = Password::parse(text);
            assert_eq!(p.plain().map(Secret::expose), Some(text), "{text:?}");
        }
    }

    #[test]
    fn native_hash_of_plain_matches_mysql() {
        // MySQL's PASSWORD('123456') is *6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9.
        let plain = Password::parse("123456");
        let stored = Password::parse("*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9");
        assert_eq!(plain.native_hash(), stored.native_hash());
        assert_ne!(Password::parse("app_pw").native_hash(), plain.native_hash());
    }

    #[test]
    fn debug_and_display_are_masked() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "hunter2");
        let p = Password::parse("hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(!format!("{p}").contains("hunter2"));
        let h = Password::parse("*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9");
        assert!(!format!("{h:?}").to_lowercase().contains("6bb4837e"));
        // A derived Debug of [u8; 20] would print the first byte 0x6b as 107.
        assert!(!format!("{h:?}").contains("107"));
    }
}
