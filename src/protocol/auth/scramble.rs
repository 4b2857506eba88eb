//! Every connection needs a fresh, unpredictable challenge (the "scramble" or
//! "nonce") that the server sends in its handshake and that the client mixes into
//! its password proof. This file produces one the way MySQL servers do.
//!
//! MySQL servers draw 20 random bytes, keep the low 7 bits and replace `'\0'` and
//! `'$'`, so every byte is in `1..=127` and never `b'$'`. We draw uniformly from
//! exactly that alphabet (rejection sampling, no bias) from `rand`'s thread-local
//! CSPRNG (ChaCha, seeded and periodically reseeded from the operating system):
//! asking the kernel for every byte cost a system call per byte, 20 per login.

use rand::Rng;

/// Length of a MySQL scramble in bytes (both mysql_native_password and
/// caching_sha2_password use 20).
pub const SCRAMBLE_LEN: usize = 20;

/// Returns `true` for bytes a MySQL server may put in a scramble.
pub fn is_scramble_byte(b: u8) -> bool {
    (1..=127).contains(&b) && b != b'$'
}

/// A new cryptographically random 20-byte scramble: bytes in `1..=127`, never `b'$'`.
pub fn new_scramble() -> [u8; SCRAMBLE_LEN] {
    let mut out = [0u8; SCRAMBLE_LEN];
    let mut rng = rand::thread_rng();
    for slot in out.iter_mut() {
        *slot = loop {
            let b: u8 = rng.gen_range(1..=127);
            if b != b'$' {
                break b;
            }
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_in_the_protocol_alphabet() {
        for _ in 0..2000 {
            let s = new_scramble();
            assert!(s.iter().all(|&b| is_scramble_byte(b)), "{s:?}");
        }
    }

    #[test]
    fn scrambles_differ_between_calls() {
        let a = new_scramble();
        let b = new_scramble();
        let c = new_scramble();
        assert!(a != b || b != c, "three identical scrambles in a row");
    }

    #[test]
    fn whole_alphabet_is_reachable() {
        // 126 allowed values; 2000 scrambles x 20 bytes = 40000 draws, so missing
        // any single value has probability ~126 * (125/126)^40000, i.e. never.
        let mut seen = [false; 128];
        for _ in 0..2000 {
            for b in new_scramble() {
                seen[b as usize] = true;
            }
        }
        let allowed = (0u8..128).filter(|&b| is_scramble_byte(b));
        for b in allowed {
            assert!(seen[b as usize], "byte {b} never produced");
        }
        assert!(!seen[0] && !seen[b'$' as usize]);
    }

    #[test]
    fn alphabet_predicate() {
        assert!(!is_scramble_byte(0));
        assert!(!is_scramble_byte(b'$'));
        assert!(!is_scramble_byte(128));
        assert!(!is_scramble_byte(255));
        assert!(is_scramble_byte(1));
        assert!(is_scramble_byte(127));
        assert!(is_scramble_byte(b'a'));
    }
}
