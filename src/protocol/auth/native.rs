//! mysql_native_password: the SHA-1 challenge/response that every MySQL and
//! MariaDB server understands. sqlyard needs both halves of it: as a client it
//! proves a backend password, and as a server it checks a client's proof,
//! ideally from a stored hash alone so the plaintext need not sit in the config.
//!
//! Definitions (all SHA-1, `^` is byte-wise XOR, `+` is concatenation):
//! * stored hash `H = SHA1(SHA1(pw))`; MySQL prints it as `*` + 40 upper-case hex.
//! * client response `R = SHA1(pw) ^ SHA1(scramble + H)`.
//! * server check, knowing only `H`: `c = R ^ SHA1(scramble + H)` must satisfy
//!   `SHA1(c) == H` (because `c` is then `SHA1(pw)`).
//!
//! An empty password is sent as an empty response, not as 20 bytes.
//! The scramble is the server's 20-byte challenge; callers may pass the
//! handshake's 21-byte form with a trailing NUL, only the first 20 bytes count.

use sha1::{Digest, Sha1};

use super::ct::ct_eq;
use super::scramble::SCRAMBLE_LEN;

/// Length of a SHA-1 digest, of the stored hash and of a non-empty response.
pub const NATIVE_HASH_LEN: usize = 20;

fn sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

fn sha1_pair(a: &[u8], b: &[u8]) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(a);
    h.update(b);
    h.finalize().into()
}

fn challenge(scramble: &[u8]) -> &[u8] {
    &scramble[..scramble.len().min(SCRAMBLE_LEN)]
}

/// `SHA1(SHA1(password))`: what MySQL stores (the `*HEX` form without the `*`).
pub fn native_hash(password: &[u8]) -> [u8; NATIVE_HASH_LEN] {
    sha1(&sha1(password))
}

/// Whether `password` (in clear) is the one `stored` is the hash of.
pub fn native_hash_matches(password: &[u8], stored: &[u8; NATIVE_HASH_LEN]) -> bool {
    !password.is_empty() && super::ct::ct_eq(&native_hash(password), stored)
}

/// Parses MySQL's printed form: `*` followed by exactly 40 hex digits (either case).
/// Anything else, including surrounding whitespace, is `None`.
pub fn parse_native_hash(s: &str) -> Option<[u8; NATIVE_HASH_LEN]> {
    let hex_part = s.strip_prefix('*')?;
    if hex_part.len() != 2 * NATIVE_HASH_LEN {
        return None;
    }
    let mut out = [0u8; NATIVE_HASH_LEN];
    hex::decode_to_slice(hex_part, &mut out).ok()?;
    Some(out)
}

/// Formats a hash the way MySQL prints it: `*` + 40 upper-case hex digits.
pub fn format_native_hash(hash: &[u8; NATIVE_HASH_LEN]) -> String {
    format!("*{}", hex::encode_upper(hash))
}

/// Client side: the auth response for `password` against the server's `scramble`.
/// An empty password gives an empty response.
pub fn native_client_response(password: &[u8], scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = sha1(password);
    let stage2 = sha1(&stage1);
    let mask = sha1_pair(challenge(scramble), &stage2);
    stage1.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect()
}

/// Server side: checks a client's `response` to `scramble` using only the stored
/// hash `SHA1(SHA1(pw))`. Constant-time in the comparison.
///
/// Empty passwords: a client with an empty password sends an empty response
/// (some send a single NUL). Such a response is accepted only when
/// `stored_hash` is the hash of the empty password. Any other response must be
/// exactly 20 bytes.
pub fn native_verify(
    stored_hash: &[u8; NATIVE_HASH_LEN],
    scramble: &[u8],
    response: &[u8],
) -> bool {
    if response.is_empty() || response == [0] {
        return ct_eq(stored_hash, &native_hash(b""));
    }
    if response.len() != NATIVE_HASH_LEN {
        return false;
    }
    let mask = sha1_pair(challenge(scramble), stored_hash);
    let mut candidate = [0u8; NATIVE_HASH_LEN];
    for (c, (r, m)) in candidate.iter_mut().zip(response.iter().zip(mask.iter())) {
        *c = r ^ m;
    }
    ct_eq(&sha1(&candidate), stored_hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Scrambles used for the vectors below.
    const SCRAMBLE_A: &[u8; 20] = b"0123456789ABCDEFGHIJ";
    const SCRAMBLE_B: [u8; 20] = [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
    ];

    #[test]
    fn known_mysql_password_hash() {
        // MySQL: SELECT PASSWORD('password') = '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'
        let expected = parse_native_hash("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19").unwrap();
        assert_eq!(native_hash(b"password"), expected);
        assert_eq!(
            format_native_hash(&native_hash(b"password")),
            "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
        );
    }

    #[test]
    fn parse_hash_accepts_only_star_plus_40_hex() {
        let lower = "*2470c0c06dee42fd1618bb99005adca2ec9d1e19";
        assert_eq!(parse_native_hash(lower), Some(native_hash(b"password")));
        assert_eq!(
            parse_native_hash("2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"),
            None
        );
        assert_eq!(
            parse_native_hash("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1"),
            None
        );
        assert_eq!(
            parse_native_hash("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E190"),
            None
        );
        assert_eq!(
            parse_native_hash("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1EZZ"),
            None
        );
        assert_eq!(
            parse_native_hash(" *2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"),
            None
        );
        assert_eq!(parse_native_hash(""), None);
        assert_eq!(parse_native_hash("*"), None);
        // Multi-byte UTF-8 of the right byte length must not panic.
        assert_eq!(parse_native_hash("*éééééééééééééééééééé"), None);
    }

    #[test]
    fn client_response_vectors() {
        // python3 -c "import hashlib as h;s=lambda b:h.sha1(b).digest();pw=b'password';sc=b'0123456789ABCDEFGHIJ';print(bytes(a^b for a,b in zip(s(pw),s(sc+s(s(pw))))).hex())"
        assert_eq!(
            hex::encode(native_client_response(b"password", SCRAMBLE_A)),
            "9f14d8530c26444b47bf2ff8860de84dbfd85c88"
        );
        // same one-liner with pw=b'sqlyard-s3cret'; sc=bytes(range(1,21))
        assert_eq!(
            hex::encode(native_client_response(b"sqlyard-s3cret", &SCRAMBLE_B)),
            "2afcd2c1e353122cc0ad6708d183cbfbf3240771"
        );
        // (both also equal pymysql._auth.scramble_native_password(pw, sc))
    }

    #[test]
    fn trailing_nul_of_handshake_scramble_is_ignored() {
        let mut with_nul = SCRAMBLE_A.to_vec();
        with_nul.push(0);
        assert_eq!(
            native_client_response(b"password", &with_nul),
            native_client_response(b"password", SCRAMBLE_A)
        );
    }

    #[test]
    fn empty_password_gives_empty_response() {
        assert!(native_client_response(b"", SCRAMBLE_A).is_empty());
    }

    #[test]
    fn verify_accepts_right_and_rejects_wrong() {
        let stored = native_hash(b"password");
        let good = native_client_response(b"password", SCRAMBLE_A);
        assert!(native_verify(&stored, SCRAMBLE_A, &good));
        // wrong password
        let bad = native_client_response(b"Password", SCRAMBLE_A);
        assert!(!native_verify(&stored, SCRAMBLE_A, &bad));
        // right password, other scramble (replay)
        assert!(!native_verify(&stored, &SCRAMBLE_B, &good));
        // every single-bit flip is rejected
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut flipped = good.clone();
                flipped[i] ^= 1 << bit;
                assert!(!native_verify(&stored, SCRAMBLE_A, &flipped));
            }
        }
        // wrong lengths
        assert!(!native_verify(&stored, SCRAMBLE_A, &good[..19]));
        let mut longer = good.clone();
        longer.push(0);
        assert!(!native_verify(&stored, SCRAMBLE_A, &longer));
        // empty response for a non-empty password
        assert!(!native_verify(&stored, SCRAMBLE_A, b""));
        assert!(!native_verify(&stored, SCRAMBLE_A, b"\0"));
    }

    #[test]
    fn verify_known_vector_from_stored_hash_only() {
        let stored = parse_native_hash("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19").unwrap();
        let response = hex::decode("9f14d8530c26444b47bf2ff8860de84dbfd85c88").unwrap();
        assert!(native_verify(&stored, SCRAMBLE_A, &response));
    }

    #[test]
    fn verify_empty_password() {
        // python3 -c "import hashlib as h;print(h.sha1(h.sha1(b'').digest()).hexdigest())"
        let empty = native_hash(b"");
        assert_eq!(
            hex::encode(empty),
            "be1bdec0aa74b4dcb079943e70528096cca985f8"
        );
        assert!(native_verify(&empty, SCRAMBLE_A, b""));
        assert!(native_verify(&empty, SCRAMBLE_A, b"\0"));
        let some = native_client_response(b"x", SCRAMBLE_A);
        assert!(!native_verify(&empty, SCRAMBLE_A, &some));
    }

    #[test]
    fn short_scramble_does_not_panic() {
        let r = native_client_response(b"pw", b"abc");
        assert_eq!(r.len(), 20);
        assert!(native_verify(&native_hash(b"pw"), b"abc", &r));
        let r = native_client_response(b"pw", b"");
        assert!(native_verify(&native_hash(b"pw"), b"", &r));
    }
}
