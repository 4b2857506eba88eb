//! caching_sha2_password, MySQL 8's default plugin: sqlyard must log in to MySQL 8
//! backends with it, and MySQL 8 clients may offer it to sqlyard. This file holds
//! the scramble arithmetic, the verifier sqlyard uses as a server, and a pure state
//! machine for the client side's multi-packet exchange.
//!
//! Scramble (SHA-256, `^` XOR, `+` concatenation, nonce = server's 20 bytes):
//! `R = SHA256(pw) ^ SHA256(SHA256(SHA256(pw)) + nonce)`; an empty password is an
//! empty response.
//!
//! Client side exchange with a MySQL server (after sending `R`):
//! * server sends AuthMoreData `01 03` (fast auth success): an OK packet follows.
//! * server sends `01 04` (perform full auth): the server's cache does not know
//!   us. Over TLS or a unix socket the client sends `pw + '\0'` in clear; otherwise
//!   it sends the single byte `02` to request the server's RSA public key, gets
//!   back `01` + PEM, and sends the RSA-OAEP-encrypted password (see `rsa.rs`).
//! * OK or ERR packets may arrive at any point; they are not AuthMoreData and are
//!   for the caller to recognise before handing a packet to [`Sha2Client`].
//!
//! Server side (sqlyard towards its own clients), decided here and applied by
//! `server.rs`:
//! * When sqlyard is configured with the plaintext password it can compute what
//!   the client should have sent, so it always does the fast path: if
//!   [`sha2_verify_plain`] passes it sends `01 03` and then OK; if not, ERR. It
//!   never asks for full authentication (no cache to miss, and no RSA private key
//!   or TLS needed).
//! * When sqlyard holds only a mysql_native_password hash (`*HEX`), it cannot
//!   check a caching_sha2 response (that needs `SHA256(pw)`), so it answers a
//!   client that offered caching_sha2_password with an AuthSwitchRequest to
//!   mysql_native_password and verifies that response from the hash.

use std::fmt;

use sha2::{Digest, Sha256};

use super::ct::ct_eq;
use super::error::AuthError;
use super::rsa::encrypt_password_rsa;
use super::scramble::SCRAMBLE_LEN;

/// First byte of an AuthMoreData packet.
pub const AUTH_MORE_DATA: u8 = 0x01;
/// Data byte after 0x01: the server's cache knew the password; OK follows.
pub const FAST_AUTH_SUCCESS_BYTE: u8 = 0x03;
/// Data byte after 0x01: the client must send the full password.
pub const PERFORM_FULL_AUTH_BYTE: u8 = 0x04;
/// Whole AuthMoreData packet for fast auth success.
pub const FAST_AUTH_SUCCESS: [u8; 2] = [AUTH_MORE_DATA, FAST_AUTH_SUCCESS_BYTE];
/// Whole AuthMoreData packet asking for full authentication.
pub const PERFORM_FULL_AUTH: [u8; 2] = [AUTH_MORE_DATA, PERFORM_FULL_AUTH_BYTE];
/// The byte a client sends to ask for the server's RSA public key.
pub const REQUEST_PUBLIC_KEY: u8 = 0x02;
/// Length of a non-empty caching_sha2_password scramble response.
pub const SHA2_RESPONSE_LEN: usize = 32;

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Client side: the scramble response for `password` and the server's `nonce`
/// (first 20 bytes used). Empty password gives an empty response.
pub fn sha2_client_response(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let nonce = &nonce[..nonce.len().min(SCRAMBLE_LEN)];
    let stage1 = sha256(password);
    let stage2 = sha256(&stage1);
    let mut h = Sha256::new();
    h.update(stage2);
    h.update(nonce);
    let mask: [u8; 32] = h.finalize().into();
    stage1.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect()
}

/// Server side fast path when the plaintext password is known: does `response`
/// prove `password` for this `nonce`? An empty password matches an empty
/// response (or a single NUL); otherwise the response must be 32 bytes.
pub fn sha2_verify_plain(password: &[u8], nonce: &[u8], response: &[u8]) -> bool {
    if password.is_empty() {
        return response.is_empty() || response == [0];
    }
    if response.len() != SHA2_RESPONSE_LEN {
        return false;
    }
    ct_eq(&sha2_client_response(password, nonce), response)
}

/// What the client must do next in a caching_sha2_password exchange.
#[derive(Clone, PartialEq, Eq)]
pub enum Sha2Step {
    /// Fast auth succeeded; the next packet from the server should be OK.
    Done,
    /// Send `password + '\0'` in clear (only when the transport is TLS or a
    /// unix socket; [`Sha2Client`] produces it only if told so).
    SendClearPassword(Vec<u8>),
    /// Send the single byte [`REQUEST_PUBLIC_KEY`].
    RequestPublicKey,
    /// Send these bytes (the RSA-encrypted password); OK or ERR follows.
    SendEncrypted(Vec<u8>),
}

impl Sha2Step {
    /// The packet payload to send for this step, or `None` for [`Sha2Step::Done`].
    pub fn payload(&self) -> Option<Vec<u8>> {
        match self {
            Sha2Step::Done => None,
            Sha2Step::SendClearPassword(b) | Sha2Step::SendEncrypted(b) => Some(b.clone()),
            Sha2Step::RequestPublicKey => Some(vec![REQUEST_PUBLIC_KEY]),
        }
    }
}

impl fmt::Debug for Sha2Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sha2Step::Done => f.write_str("Done"),
            Sha2Step::SendClearPassword(_) => f.write_str("SendClearPassword(<redacted>)"),
            Sha2Step::RequestPublicKey => f.write_str("RequestPublicKey"),
            Sha2Step::SendEncrypted(b) => write!(f, "SendEncrypted({} bytes)", b.len()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sha2State {
    /// Scramble sent; waiting for fast-auth-success or perform-full-auth.
    AwaitingVerdict,
    /// Public key requested; waiting for `01` + PEM.
    AwaitingPublicKey,
    /// Nothing more to send; only OK/ERR may follow.
    Finished,
}

impl Sha2State {
    fn name(self) -> &'static str {
        match self {
            Sha2State::AwaitingVerdict => "awaiting-verdict",
            Sha2State::AwaitingPublicKey => "awaiting-public-key",
            Sha2State::Finished => "finished",
        }
    }
}

/// Client side of caching_sha2_password towards a MySQL server, without I/O.
///
/// Send [`Sha2Client::initial_response`] as the auth response (in the handshake
/// response or after an AuthSwitchRequest), then feed every AuthMoreData packet
/// (first byte 0x01) to [`Sha2Client::on_more_data`] and send what it returns.
/// Packets starting with 0x00 (OK) or 0xFF (ERR) end the exchange and are the
/// caller's to handle.
#[derive(Clone)]
pub struct Sha2Client {
    password: Vec<u8>,
    nonce: Vec<u8>,
    secure_transport: bool,
    /// The server's RSA public key (PEM) from a trusted file.
    public_key: Option<String>,
    /// Over plaintext, the key may be asked of the server.
    allow_key_retrieval: bool,
    state: Sha2State,
}

impl fmt::Debug for Sha2Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sha2Client")
            .field("password", &"<redacted>")
            .field("secure_transport", &self.secure_transport)
            .field("state", &self.state)
            .finish()
    }
}

impl Sha2Client {
    /// `nonce` is the server's scramble (handshake or AuthSwitchRequest data; a
    /// trailing NUL is fine). `secure_transport` is true only for TLS or unix
    /// sockets, where the server accepts the password in clear.
    pub fn new(password: &[u8], nonce: &[u8], secure_transport: bool) -> Self {
        Sha2Client {
            password: password.to_vec(),
            nonce: nonce[..nonce.len().min(SCRAMBLE_LEN)].to_vec(),
            secure_transport,
            public_key: None,
            allow_key_retrieval: false,
            state: Sha2State::AwaitingVerdict,
        }
    }

    /// Over plaintext, full authentication encrypts the password with
    /// `public_key` when given; else it asks the server for its key only
    /// when `allow_retrieval` (off by default: whoever answers could be a
    /// man in the middle); else it fails with [`AuthError::InsecureFullAuth`].
    pub fn with_key_policy(mut self, public_key: Option<&str>, allow_retrieval: bool) -> Self {
        self.public_key = public_key.map(str::to_string);
        self.allow_key_retrieval = allow_retrieval;
        self
    }

    /// The scramble response to send first.
    pub fn initial_response(&self) -> Vec<u8> {
        sha2_client_response(&self.password, &self.nonce)
    }

    /// True once nothing more needs to be sent (OK or ERR is next).
    pub fn is_finished(&self) -> bool {
        self.state == Sha2State::Finished
    }

    /// Given one AuthMoreData packet payload as read off the wire (including
    /// its leading 0x01), returns what to send next.
    pub fn on_more_data(&mut self, packet: &[u8]) -> Result<Sha2Step, AuthError> {
        let data = match packet.split_first() {
            Some((&AUTH_MORE_DATA, data)) => data,
            other => {
                return Err(AuthError::NotAuthMoreData {
                    first: other.map_or(0, |(f, _)| *f),
                })
            }
        };
        let unexpected = |state: Sha2State| AuthError::UnexpectedSha2Data {
            state: state.name(),
            first: data.first().copied().unwrap_or(0),
            len: data.len(),
        };
        match self.state {
            Sha2State::AwaitingVerdict => match data {
                [FAST_AUTH_SUCCESS_BYTE] => {
                    self.state = Sha2State::Finished;
                    Ok(Sha2Step::Done)
                }
                [PERFORM_FULL_AUTH_BYTE] => {
                    if self.secure_transport {
                        self.state = Sha2State::Finished;
                        let mut clear = self.password.clone();
                        clear.push(0);
                        Ok(Sha2Step::SendClearPassword(clear))
                    } else if let Some(pem) = &self.public_key {
                        let encrypted = encrypt_password_rsa(&self.password, &self.nonce, pem)?;
                        self.state = Sha2State::Finished;
                        Ok(Sha2Step::SendEncrypted(encrypted))
                    } else if self.allow_key_retrieval {
                        self.state = Sha2State::AwaitingPublicKey;
                        Ok(Sha2Step::RequestPublicKey)
                    } else {
                        Err(AuthError::InsecureFullAuth)
                    }
                }
                _ => Err(unexpected(self.state)),
            },
            Sha2State::AwaitingPublicKey => {
                let pem = std::str::from_utf8(data).map_err(|_| AuthError::PublicKeyNotUtf8)?;
                let encrypted = encrypt_password_rsa(&self.password, &self.nonce, pem)?;
                self.state = Sha2State::Finished;
                Ok(Sha2Step::SendEncrypted(encrypted))
            }
            Sha2State::Finished => Err(unexpected(self.state)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::auth::rsa::tests::test_key;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::Oaep;
    use sha1::Sha1;

    const NONCE_A: &[u8; 20] = b"0123456789ABCDEFGHIJ";
    const NONCE_B: [u8; 20] = [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
    ];

    #[test]
    fn client_response_vectors() {
        // python3 -c "import hashlib as h;s=lambda b:h.sha256(b).digest();pw=b'password';n=b'0123456789ABCDEFGHIJ';print(bytes(a^b for a,b in zip(s(pw),s(s(s(pw))+n))).hex())"
        assert_eq!(
            hex::encode(sha2_client_response(b"password", NONCE_A)),
            "2a0ead4fc2ab65f9a3da7336d576cff2c972a658753d2e9567a11d0cb42dd0f6"
        );
        // same one-liner with pw=b'sqlyard-s3cret'; n=bytes(range(1,21))
        assert_eq!(
            hex::encode(sha2_client_response(b"sqlyard-s3cret", &NONCE_B)),
            "6f6a737aa644669f1e418c515e4786996392bcffc72aab356fb6392c3e7ffc4e"
        );
        // (both also equal pymysql._auth.scramble_caching_sha2(pw, n))
    }

    #[test]
    fn empty_password_and_trailing_nul() {
        assert!(sha2_client_response(b"", NONCE_A).is_empty());
        let mut with_nul = NONCE_A.to_vec();
        with_nul.push(0);
        assert_eq!(
            sha2_client_response(b"password", &with_nul),
            sha2_client_response(b"password", NONCE_A)
        );
    }

    #[test]
    fn verify_plain() {
        let r = hex::decode("2a0ead4fc2ab65f9a3da7336d576cff2c972a658753d2e9567a11d0cb42dd0f6")
            .unwrap();
        assert!(sha2_verify_plain(b"password", NONCE_A, &r));
        assert!(!sha2_verify_plain(b"passwort", NONCE_A, &r));
        assert!(!sha2_verify_plain(b"password", &NONCE_B, &r));
        assert!(!sha2_verify_plain(b"password", NONCE_A, &r[..31]));
        assert!(!sha2_verify_plain(b"password", NONCE_A, b""));
        let mut flipped = r.clone();
        flipped[31] ^= 0x80;
        assert!(!sha2_verify_plain(b"password", NONCE_A, &flipped));
        // empty password
        assert!(sha2_verify_plain(b"", NONCE_A, b""));
        assert!(sha2_verify_plain(b"", NONCE_A, b"\0"));
        assert!(!sha2_verify_plain(b"", NONCE_A, &r));
    }

    /// What the server reads from an RSA-encrypted password.
    fn decrypt(private: &rsa::RsaPrivateKey, ct: &[u8]) -> Vec<u8> {
        let plain = private.decrypt(Oaep::new::<Sha1>(), ct).unwrap();
        plain
            .iter()
            .zip(NONCE_A.iter().cycle())
            .map(|(p, n)| p ^ n)
            .collect()
    }

    #[test]
    fn fast_auth_path() {
        let mut c = Sha2Client::new(b"password", NONCE_A, false);
        assert_eq!(
            c.initial_response(),
            sha2_client_response(b"password", NONCE_A)
        );
        assert!(!c.is_finished());
        assert_eq!(c.on_more_data(&FAST_AUTH_SUCCESS).unwrap(), Sha2Step::Done);
        assert!(c.is_finished());
        assert_eq!(Sha2Step::Done.payload(), None);
        // nothing more is acceptable afterwards
        assert!(matches!(
            c.on_more_data(&FAST_AUTH_SUCCESS),
            Err(AuthError::UnexpectedSha2Data {
                state: "finished",
                ..
            })
        ));
    }

    #[test]
    fn full_auth_over_secure_transport_sends_clear_password() {
        let mut c = Sha2Client::new(b"pw", NONCE_A, true);
        let step = c.on_more_data(&PERFORM_FULL_AUTH).unwrap();
        assert_eq!(step, Sha2Step::SendClearPassword(b"pw\0".to_vec()));
        assert_eq!(step.payload().unwrap(), b"pw\0");
        assert!(c.is_finished());
        assert!(!format!("{step:?}").contains("pw"));
    }

    #[test]
    fn full_auth_with_public_key() {
        let private = test_key();
        let pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let mut nonce21 = NONCE_A.to_vec();
        nonce21.push(0);
        let mut c = Sha2Client::new(b"s3cret", &nonce21, false).with_key_policy(None, true);
        let step = c.on_more_data(&PERFORM_FULL_AUTH).unwrap();
        assert_eq!(step, Sha2Step::RequestPublicKey);
        assert_eq!(step.payload().unwrap(), vec![REQUEST_PUBLIC_KEY]);
        assert!(!c.is_finished());

        let mut packet = vec![AUTH_MORE_DATA];
        packet.extend_from_slice(pem.as_bytes());
        let step = c.on_more_data(&packet).unwrap();
        let Sha2Step::SendEncrypted(ct) = step else {
            panic!("expected SendEncrypted, got {step:?}");
        };
        assert!(c.is_finished());
        assert_eq!(decrypt(private, &ct), b"s3cret\0");
    }

    #[test]
    fn full_auth_over_plaintext_asks_for_no_key_by_default() {
        // MySQL's documented exchange: 0x01 0x04 "perform full
        // authentication". Over plaintext with no key file, nothing is
        // sent (no 0x02 key request) and the login fails.
        let mut c = Sha2Client::new(b"pw", NONCE_A, false);
        assert!(matches!(
            c.on_more_data(&PERFORM_FULL_AUTH),
            Err(AuthError::InsecureFullAuth)
        ));
    }

    #[test]
    fn full_auth_over_plaintext_uses_the_configured_key() {
        let private = test_key();
        let pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let mut c = Sha2Client::new(b"s3cret", NONCE_A, false).with_key_policy(Some(&pem), false);
        let Sha2Step::SendEncrypted(ct) = c.on_more_data(&PERFORM_FULL_AUTH).unwrap() else {
            panic!("expected the password encrypted with the configured key");
        };
        assert!(c.is_finished());
        assert_eq!(decrypt(private, &ct), b"s3cret\0");
        // over TLS the configured key is not needed: the password goes in clear
        let mut c = Sha2Client::new(b"s3cret", NONCE_A, true).with_key_policy(Some(&pem), false);
        assert_eq!(
            c.on_more_data(&PERFORM_FULL_AUTH).unwrap(),
            Sha2Step::SendClearPassword(b"s3cret\0".to_vec())
        );
    }

    #[test]
    fn bad_packets_are_errors_not_panics() {
        let mut c = Sha2Client::new(b"pw", NONCE_A, false).with_key_policy(None, true);
        assert!(matches!(
            c.on_more_data(&[]),
            Err(AuthError::NotAuthMoreData { first: 0 })
        ));
        assert!(matches!(
            c.on_more_data(&[0x00, 0x00, 0x00]),
            Err(AuthError::NotAuthMoreData { first: 0 })
        ));
        assert!(matches!(
            c.on_more_data(&[0xff, 0x15, 0x04]),
            Err(AuthError::NotAuthMoreData { first: 0xff })
        ));
        assert!(matches!(
            c.on_more_data(&[AUTH_MORE_DATA]),
            Err(AuthError::UnexpectedSha2Data { len: 0, .. })
        ));
        assert!(matches!(
            c.on_more_data(&[AUTH_MORE_DATA, 0x05]),
            Err(AuthError::UnexpectedSha2Data { first: 5, .. })
        ));
        assert!(matches!(
            c.on_more_data(&[AUTH_MORE_DATA, 0x03, 0x00]),
            Err(AuthError::UnexpectedSha2Data { len: 2, .. })
        ));
        // now in the public-key state: bad keys
        assert_eq!(
            c.on_more_data(&PERFORM_FULL_AUTH).unwrap(),
            Sha2Step::RequestPublicKey
        );
        assert!(matches!(
            c.on_more_data(&[AUTH_MORE_DATA, 0xff, 0xfe]),
            Err(AuthError::PublicKeyNotUtf8)
        ));
        assert!(matches!(
            c.on_more_data(b"\x01-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----\n"),
            Err(AuthError::InvalidSpkiPublicKey(_))
        ));
        assert!(!c.is_finished());
    }

    #[test]
    fn debug_never_shows_password() {
        let c = Sha2Client::new(b"hunter2-secret", NONCE_A, true);
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("redacted"));
    }
}
