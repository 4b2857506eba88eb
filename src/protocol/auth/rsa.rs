//! Over a connection without TLS, caching_sha2_password's full authentication
//! must not send the password in clear: the client fetches the server's RSA public
//! key and sends the password encrypted with it. This file does that encryption.
//!
//! What MySQL's client does, and what we reproduce: take `password + '\0'`, XOR it
//! byte-wise with the 20-byte nonce repeated as often as needed, and encrypt the
//! result with RSA-OAEP (SHA-1 digest, MGF1 with SHA-1, no label), i.e. OpenSSL's
//! `RSA_PKCS1_OAEP_PADDING`. The server sends its key as a PEM
//! `-----BEGIN PUBLIC KEY-----` (SPKI); a PKCS#1 `BEGIN RSA PUBLIC KEY` is also
//! accepted. As in the hash functions, only the first 20 bytes of the nonce count,
//! so the handshake's NUL-terminated 21-byte form can be passed as is.

use rand::rngs::OsRng;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Oaep, RsaPublicKey};
use sha1::Sha1;

use super::error::AuthError;
use super::scramble::SCRAMBLE_LEN;

/// Parses a PEM RSA public key as MySQL sends it (SPKI), or PKCS#1 when the PEM
/// label says `RSA PUBLIC KEY`. Trailing NULs and whitespace are ignored.
pub fn parse_public_key_pem(pem: &str) -> Result<RsaPublicKey, AuthError> {
    let pem = pem.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    if pem.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
        RsaPublicKey::from_pkcs1_pem(pem).map_err(AuthError::InvalidPkcs1PublicKey)
    } else {
        RsaPublicKey::from_public_key_pem(pem).map_err(AuthError::InvalidSpkiPublicKey)
    }
}

/// `(password + '\0') XOR nonce[..20]` (nonce repeated): the plaintext that gets
/// RSA-encrypted. Exposed for tests and for a server that decrypts.
pub fn xor_password_with_nonce(password: &[u8], nonce: &[u8]) -> Result<Vec<u8>, AuthError> {
    let nonce = &nonce[..nonce.len().min(SCRAMBLE_LEN)];
    if nonce.is_empty() {
        return Err(AuthError::EmptyNonce);
    }
    Ok(password
        .iter()
        .chain(std::iter::once(&0u8))
        .zip(nonce.iter().cycle())
        .map(|(p, n)| p ^ n)
        .collect())
}

/// Encrypts `password` for caching_sha2_password full authentication with the
/// server's PEM public key. Fails on an unusable key, an empty nonce, or a
/// password too long for the key (2048-bit keys allow 214 bytes incl. the NUL).
pub fn encrypt_password_rsa(
    password: &[u8],
    nonce: &[u8],
    public_key_pem: &str,
) -> Result<Vec<u8>, AuthError> {
    let key = parse_public_key_pem(public_key_pem)?;
    encrypt_password_with_key(password, nonce, &key)
}

/// Same as [`encrypt_password_rsa`] with an already parsed key (a client may cache it).
pub fn encrypt_password_with_key(
    password: &[u8],
    nonce: &[u8],
    key: &RsaPublicKey,
) -> Result<Vec<u8>, AuthError> {
    let plain = xor_password_with_nonce(password, nonce)?;
    key.encrypt(&mut OsRng, Oaep::new::<Sha1>(), &plain)
        .map_err(AuthError::RsaEncrypt)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::traits::PublicKeyParts;
    use rsa::RsaPrivateKey;
    use std::sync::OnceLock;

    /// One 1024-bit key per test run: generating it is the slow part.
    pub(crate) fn test_key() -> &'static RsaPrivateKey {
        static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
        KEY.get_or_init(|| RsaPrivateKey::new(&mut OsRng, 1024).unwrap())
    }

    /// Generated with `openssl genrsa 2048 | openssl rsa -pubout`; the shape MySQL sends.
    const OPENSSL_SPKI_2048: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsT27gGDaqkX0SDp+HKnb
zHaDn93IoQJmgK9qrX7wO8RokzxdgsjHuwQO9BsnxTwzF7A6v7zSSdodzzKpVwlu
dKe56MX57ByqKrIsycsz5tvlnu1buNTunjINQWCaa5BINsZrG8bxz3x+uCvdfqL8
53yZ+Ue75nMv3ZOF5GPhOWRHwrF8lmDLlWuzfAFCC9LVmGgJqe/PThNHaRwb7Ryi
q0U+kpY9s+js1KYq/jjMJgVSyO888bmzFV8Vhy1vPOscFR+Nw2VIOd0evwsrFioR
I+zN+exKW2kyZ+e6lAQoFSQ2hko0A1b74SyerWSFiDEriAlBS6XL9WMe9T2z8Dn5
DQIDAQAB
-----END PUBLIC KEY-----
";

    const NONCE: &[u8; 20] = b"0123456789ABCDEFGHIJ";

    #[test]
    fn xor_vector() {
        // python3 -c "pw=b'password\0';n=b'0123456789ABCDEFGHIJ';print(bytes(p^n[i%20] for i,p in enumerate(pw)).hex())"
        assert_eq!(
            hex::encode(xor_password_with_nonce(b"password", NONCE).unwrap()),
            "40504140435a445338"
        );
    }

    #[test]
    fn xor_repeats_nonce_for_long_passwords() {
        let pw = [0u8; 45];
        let x = xor_password_with_nonce(&pw, NONCE).unwrap();
        assert_eq!(x.len(), 46);
        assert_eq!(&x[..20], NONCE);
        assert_eq!(&x[20..40], NONCE);
        assert_eq!(&x[40..], &NONCE[..6]);
    }

    #[test]
    fn xor_ignores_nonce_tail_and_rejects_empty_nonce() {
        let mut long = NONCE.to_vec();
        long.push(0);
        let pw = [7u8; 30];
        assert_eq!(
            xor_password_with_nonce(&pw, &long).unwrap(),
            xor_password_with_nonce(&pw, NONCE).unwrap()
        );
        assert!(matches!(
            xor_password_with_nonce(b"pw", b""),
            Err(AuthError::EmptyNonce)
        ));
        assert!(matches!(
            encrypt_password_rsa(b"pw", b"", OPENSSL_SPKI_2048),
            Err(AuthError::EmptyNonce)
        ));
    }

    #[test]
    fn parses_openssl_spki_key() {
        let key = parse_public_key_pem(OPENSSL_SPKI_2048).unwrap();
        assert_eq!(key.size(), 256);
        // MySQL's packet may end with a NUL; tolerate it.
        let with_nul = format!("{OPENSSL_SPKI_2048}\0");
        assert_eq!(parse_public_key_pem(&with_nul).unwrap(), key);
        let ct = encrypt_password_rsa(b"password", NONCE, OPENSSL_SPKI_2048).unwrap();
        assert_eq!(ct.len(), 256);
    }

    #[test]
    fn rejects_garbage_keys() {
        assert!(matches!(
            parse_public_key_pem("not a key"),
            Err(AuthError::InvalidSpkiPublicKey(_))
        ));
        assert!(matches!(
            parse_public_key_pem(
                "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n"
            ),
            Err(AuthError::InvalidPkcs1PublicKey(_))
        ));
        let truncated = &OPENSSL_SPKI_2048[..200];
        assert!(parse_public_key_pem(truncated).is_err());
        assert!(encrypt_password_rsa(b"pw", NONCE, "").is_err());
    }

    #[test]
    fn round_trip_spki_and_pkcs1() {
        let private = test_key();
        let public = private.to_public_key();
        let spki = public.to_public_key_pem(LineEnding::LF).unwrap();
        let pkcs1 = public.to_pkcs1_pem(LineEnding::LF).unwrap();
        assert!(spki.starts_with("-----BEGIN PUBLIC KEY-----"));
        for pem in [spki.as_str(), pkcs1.as_str()] {
            for pw in [
                &b""[..],
                b"password",
                b"a much longer password with spaces, 40+",
            ] {
                let ct = encrypt_password_rsa(pw, NONCE, pem).unwrap();
                assert_eq!(ct.len(), 128);
                let plain = private.decrypt(Oaep::new::<Sha1>(), &ct).unwrap();
                // undo the XOR to get the password and its terminating NUL back
                let unmasked: Vec<u8> = plain
                    .iter()
                    .zip(NONCE.iter().cycle())
                    .map(|(p, n)| p ^ n)
                    .collect();
                let mut expected = pw.to_vec();
                expected.push(0);
                assert_eq!(unmasked, expected);
            }
        }
    }

    #[test]
    fn password_too_long_for_key_is_an_error() {
        let pem = test_key()
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        // 1024-bit key, OAEP-SHA1: at most 128 - 2*20 - 2 = 86 bytes, i.e. 85 + NUL.
        assert!(encrypt_password_rsa(&[b'x'; 85], NONCE, &pem).is_ok());
        assert!(matches!(
            encrypt_password_rsa(&[b'x'; 86], NONCE, &pem),
            Err(AuthError::RsaEncrypt(_))
        ));
    }
}
