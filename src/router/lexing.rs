//! Problem: where a quoted string ends depends on the session, not only on
//! the text. Under `NO_BACKSLASH_ESCAPES` a backslash is a plain character,
//! so `'x\'` is a whole string; and in big5, cp932, gbk and sjis the second
//! byte of a character may be 0x5C (a backslash) or 0x60 (a backtick),
//! which must not escape or end anything. Reading such a statement the
//! default way can hide a write inside what looks like a string. This is
//! what the classifier and the digest need to know to read quotes the way
//! the server does.

/// How the server reads the quotes of a session's statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lexing {
    /// `NO_BACKSLASH_ESCAPES` is in the session's SQL mode.
    pub no_backslash_escapes: bool,
    /// The client character set, when it has two-byte characters whose
    /// second byte can be an ASCII quote, backslash or backtick.
    pub multibyte: Option<Multibyte>,
}

/// Character sets whose second bytes overlap ASCII punctuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Multibyte {
    Big5,
    Gbk,
    /// sjis and cp932 (the same lead and trail bytes).
    Sjis,
}

impl Multibyte {
    /// The family of character set `name` (as `@@character_set_client`
    /// names it), if it is one of them.
    pub fn from_charset(name: &str) -> Option<Multibyte> {
        match name.to_ascii_lowercase().as_str() {
            "big5" => Some(Multibyte::Big5),
            "gbk" => Some(Multibyte::Gbk),
            "sjis" | "cp932" => Some(Multibyte::Sjis),
            _ => None,
        }
    }

    /// The family of collation id `id` (as a handshake names it).
    pub fn from_collation(id: u16) -> Option<Multibyte> {
        match id {
            1 | 84 | 1025 | 1108 => Some(Multibyte::Big5),
            28 | 87 | 1052 | 1111 => Some(Multibyte::Gbk),
            13 | 88 | 95 | 96 | 1037 | 1112 | 1119 | 1120 => Some(Multibyte::Sjis),
            _ => None,
        }
    }

    /// True if `lead` followed by `trail` is one two-byte character (the
    /// ranges MariaDB's `ismbchar` accepts).
    pub fn pair(self, lead: u8, trail: u8) -> bool {
        match self {
            Multibyte::Big5 => {
                (0xA1..=0xF9).contains(&lead)
                    && ((0x40..=0x7E).contains(&trail) || (0xA1..=0xFE).contains(&trail))
            }
            Multibyte::Gbk => {
                (0x81..=0xFE).contains(&lead)
                    && ((0x40..=0x7E).contains(&trail) || (0x80..=0xFE).contains(&trail))
            }
            Multibyte::Sjis => {
                ((0x81..=0x9F).contains(&lead) || (0xE0..=0xFC).contains(&lead))
                    && ((0x40..=0x7E).contains(&trail) || (0x80..=0xFC).contains(&trail))
            }
        }
    }
}

impl Lexing {
    /// True if a two-byte character starts at `s[i]`.
    #[inline]
    pub fn pair_at(&self, s: &[u8], i: usize) -> bool {
        match (self.multibyte, s.get(i), s.get(i + 1)) {
            (Some(mb), Some(&lead), Some(&trail)) => lead >= 0x80 && mb.pair(lead, trail),
            _ => false,
        }
    }

    /// The index after the quoted string or identifier that starts at
    /// `s[i]` (its quote character), read as the server reads it.
    pub fn skip_quoted(&self, s: &[u8], i: usize) -> usize {
        let q = s[i];
        let mut j = i + 1;
        while j < s.len() {
            if self.pair_at(s, j) {
                j += 2;
                continue;
            }
            let c = s[j];
            if c == b'\\' && q != b'`' && !self.no_backslash_escapes {
                j += 2;
                continue;
            }
            j += 1;
            if c == q {
                if s.get(j) == Some(&q) {
                    j += 1;
                    continue;
                }
                return j;
            }
        }
        s.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(lx: Lexing, s: &[u8]) -> usize {
        lx.skip_quoted(s, 0)
    }

    #[test]
    fn backslashes_escape_only_without_the_mode() {
        let s = b"'x\\'; INSERT INTO t VALUES (1); -- '";
        let plain = Lexing::default();
        let nbe = Lexing {
            no_backslash_escapes: true,
            ..Lexing::default()
        };
        assert_eq!(end(plain, s), s.len(), "one string up to the last quote");
        assert_eq!(end(nbe, s), 4, "the string is 'x\\'");
        assert_eq!(end(plain, b"'it''s' x"), 7);
        assert_eq!(end(nbe, b"'it''s' x"), 7);
        assert_eq!(end(plain, b"`a\\` x"), 4, "no escapes in identifiers");
    }

    #[test]
    fn a_trail_byte_is_not_a_backslash_or_backtick() {
        // 0x95 0x5C is one sjis character (U+8868); the backslash is its
        // second byte, so the string ends at the next quote.
        let s = b"'\x95\x5c'; INSERT INTO t VALUES (1); -- '";
        let sjis = Lexing {
            multibyte: Multibyte::from_charset("sjis"),
            ..Lexing::default()
        };
        assert_eq!(end(sjis, s), 4);
        assert_eq!(end(Lexing::default(), s), s.len());
        // gbk: 0x81 0x60 is one character, not a closing backtick
        let gbk = Lexing {
            multibyte: Multibyte::from_charset("GBK"),
            ..Lexing::default()
        };
        assert_eq!(end(gbk, b"`\x81\x60` x"), 4);
        // big5 lead bytes start at 0xA1; 0x81 0x5C is not a pair there
        let big5 = Lexing {
            multibyte: Some(Multibyte::Big5),
            ..Lexing::default()
        };
        assert!(big5.pair_at(b"\xa4\x5c", 0));
        assert!(!big5.pair_at(b"\x81\x5c", 0));
        assert_eq!(Multibyte::from_collation(95), Some(Multibyte::Sjis));
        assert_eq!(Multibyte::from_collation(33), None);
        assert_eq!(Multibyte::from_charset("utf8mb4"), None);
    }
}
