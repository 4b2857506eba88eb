//! The classifier and the digest, under every way sqlyard lexes a session:
//! any bytes give a class and a digest text without panicking, and a
//! text without a backslash reads the same whether or not sqlyard knows
//! the session's SQL mode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sqlyard::router::classify::{classify_detailed_in, classify_unsure, effects};
use sqlyard::router::digest::normalize_in;
use sqlyard::router::{parse_kill, Lexing, Multibyte};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, sql)) = data.split_first() else {
        return;
    };
    let lexing = Lexing {
        no_backslash_escapes: mode & 1 != 0,
        multibyte: match (mode >> 1) % 4 {
            0 => None,
            1 => Some(Multibyte::Big5),
            2 => Some(Multibyte::Gbk),
            _ => Some(Multibyte::Sjis),
        },
    };
    let (class, _) = classify_detailed_in(sql, lexing);
    let unsure = classify_unsure(sql, lexing);
    if !sql.contains(&b'\\') {
        // without a backslash both readings agree
        assert_eq!(unsure.kind, class.kind);
    }
    let _ = effects(sql);
    let _ = parse_kill(sql);
    let text = normalize_in(sql, lexing);
    assert!(text.len() <= 4 * sql.len() + 64);
});
