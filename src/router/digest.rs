//! Problem: operators need to see which statements the applications run,
//! how often, how slowly and where they were routed, without one row per
//! literal value. Statements are normalized (literals replaced by `?`) and
//! counted per normalized text (`SHOW QUERY DIGEST`).
//!
//! Normalization runs once per statement on the data path, so it is one
//! pass over the bytes with no regex and no parse: literals (numbers,
//! strings, hex and bit values, a unary sign before a number) become `?`,
//! lists of them after `IN` or `VALUES` become `(?+)` (several `VALUES`
//! rows collapse into one), comments are dropped (the contents of
//! executable `/*! ... */` comments are kept), whitespace is rewritten to
//! single spaces and SQL keywords are upper-cased. The text kept per digest
//! is capped at [`MAX_TEXT`] bytes.
//!
//! Memory is bounded: at most [`MAX_DIGESTS`] distinct texts are kept;
//! statements beyond them are counted in one `other` bucket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dashmap::DashMap;
use parking_lot::RwLock;

use crate::router::{Lexing, QueryRecord};

/// Distinct normalized statements kept.
pub const MAX_DIGESTS: usize = 5_000;
/// Bytes of normalized text kept per statement (longer ones end in `...`).
pub const MAX_TEXT: usize = 1_024;
/// The text of the bucket that counts statements beyond [`MAX_DIGESTS`].
pub const OTHER: &str = "(other: statements beyond the digest limit)";

/// Counters of one normalized statement, as `SHOW QUERY DIGEST` shows them.
#[derive(Debug, Clone)]
pub struct DigestStats {
    pub count: u64,
    pub total: Duration,
    pub min: Duration,
    pub max: Duration,
    pub rows: u64,
    pub errors: u64,
    pub first_seen: SystemTime,
    pub last_seen: SystemTime,
    /// Where it ran: per server and role, counts per route reason.
    pub routes: Vec<RouteCount>,
}

/// Statements of one digest that ran on one server in one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteCount {
    pub server: Arc<str>,
    pub role: &'static str,
    /// (route reason, count), in first-seen order.
    pub reasons: Vec<(&'static str, u64)>,
}

impl DigestStats {
    /// `127.0.0.1:3306 primary (pinned: 3, write: 10)`, one part
    /// per server and role, joined by `; `.
    pub fn routes_text(&self) -> String {
        self.routes
            .iter()
            .map(|r| {
                let reasons: Vec<String> = r
                    .reasons
                    .iter()
                    .map(|(name, n)| format!("{name}: {n}"))
                    .collect();
                format!("{} {} ({})", r.server, r.role, reasons.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Where one digest's statements ran on one server in one role.
#[derive(Debug)]
struct RouteSlot {
    server: Arc<str>,
    role: &'static str,
    reasons: Vec<(&'static str, AtomicU64)>,
}

/// One normalized statement and its live counters. Sessions keep the
/// entry of each prepared statement and of the texts they run often, so a
/// statement is normalized once, not at every execution; the counters are
/// atomics, so popular statements do not serialize the workers (only a
/// new server, role or route reason takes a write lock).
#[derive(Debug)]
pub struct DigestEntry {
    text: Box<str>,
    /// The [`Digest`]'s generation it belongs to (`TRUNCATE` starts a new one).
    generation: u64,
    count: AtomicU64,
    total_ns: AtomicU64,
    min_ns: AtomicU64,
    max_ns: AtomicU64,
    rows: AtomicU64,
    errors: AtomicU64,
    first_seen: SystemTime,
    /// Microseconds since the Unix epoch.
    last_seen_us: AtomicU64,
    routes: RwLock<Vec<RouteSlot>>,
}

fn micros_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros().min(u128::from(u64::MAX)) as u64)
}

impl DigestEntry {
    fn new(text: Box<str>, generation: u64, now: SystemTime) -> Self {
        DigestEntry {
            text,
            generation,
            count: AtomicU64::new(0),
            total_ns: AtomicU64::new(0),
            min_ns: AtomicU64::new(u64::MAX),
            max_ns: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_seen: now,
            last_seen_us: AtomicU64::new(micros_since_epoch(now)),
            routes: RwLock::new(Vec::new()),
        }
    }

    /// The normalized text.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn add(&self, rec: &QueryRecord<'_>, now: SystemTime) {
        let ns = rec.duration.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_ns.fetch_add(ns, Ordering::Relaxed);
        self.min_ns.fetch_min(ns, Ordering::Relaxed);
        self.max_ns.fetch_max(ns, Ordering::Relaxed);
        self.rows.fetch_add(rec.rows, Ordering::Relaxed);
        if rec.error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.last_seen_us
            .fetch_max(micros_since_epoch(now), Ordering::Relaxed);
        let reason = rec.reason.as_str();
        let counted = |slots: &[RouteSlot]| {
            slots
                .iter()
                .find(|r| r.role == rec.role && &*r.server == rec.server)
                .and_then(|r| r.reasons.iter().find(|(n, _)| *n == reason))
                .map(|(_, c)| c.fetch_add(1, Ordering::Relaxed))
                .is_some()
        };
        if counted(&self.routes.read()) {
            return;
        }
        let mut w = self.routes.write();
        if counted(&w) {
            return;
        }
        let i = match w
            .iter()
            .position(|r| r.role == rec.role && &*r.server == rec.server)
        {
            Some(i) => i,
            None => {
                w.push(RouteSlot {
                    server: Arc::from(rec.server),
                    role: rec.role,
                    reasons: Vec::new(),
                });
                w.len() - 1
            }
        };
        w[i].reasons.push((reason, AtomicU64::new(1)));
    }

    fn stats(&self) -> DigestStats {
        let count = self.count.load(Ordering::Relaxed);
        let min = self.min_ns.load(Ordering::Relaxed);
        DigestStats {
            count,
            total: Duration::from_nanos(self.total_ns.load(Ordering::Relaxed)),
            min: Duration::from_nanos(if count == 0 { 0 } else { min }),
            max: Duration::from_nanos(self.max_ns.load(Ordering::Relaxed)),
            rows: self.rows.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            first_seen: self.first_seen,
            last_seen: SystemTime::UNIX_EPOCH
                + Duration::from_micros(self.last_seen_us.load(Ordering::Relaxed)),
            routes: self
                .routes
                .read()
                .iter()
                .map(|r| RouteCount {
                    server: r.server.clone(),
                    role: r.role,
                    reasons: r
                        .reasons
                        .iter()
                        .map(|(n, c)| (*n, c.load(Ordering::Relaxed)))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// One row of `SHOW QUERY DIGEST`.
#[derive(Debug, Clone)]
pub struct DigestRow {
    pub text: String,
    pub stats: DigestStats,
}

/// Counters per normalized statement.
#[derive(Debug)]
pub struct Digest {
    entries: DashMap<Box<str>, Arc<DigestEntry>>,
    /// Statements beyond the limit.
    other: RwLock<Arc<DigestEntry>>,
    generation: AtomicU64,
    limit: usize,
}

impl Default for Digest {
    fn default() -> Self {
        Digest::with_limit(MAX_DIGESTS)
    }
}

impl Digest {
    /// A digest that keeps at most `limit` distinct statements.
    pub fn with_limit(limit: usize) -> Self {
        Digest {
            entries: DashMap::new(),
            other: RwLock::new(Arc::new(DigestEntry::new(
                OTHER.into(),
                0,
                SystemTime::now(),
            ))),
            generation: AtomicU64::new(0),
            limit,
        }
    }

    /// The entry that counts statement `sql` (normalized here: keep it
    /// for the statement's next runs, see [`Digest::record_on`]).
    pub fn entry(&self, sql: &[u8], lx: Lexing) -> Arc<DigestEntry> {
        let text = normalize_in(sql, lx);
        if let Some(e) = self.entries.get(text.as_str()) {
            return e.clone();
        }
        if self.entries.len() >= self.limit {
            return self.other.read().clone();
        }
        let generation = self.generation.load(Ordering::Acquire);
        self.entries
            .entry(text.clone().into_boxed_str())
            .or_insert_with(|| {
                Arc::new(DigestEntry::new(text.into(), generation, SystemTime::now()))
            })
            .clone()
    }

    /// Counts one finished statement on the entry a session kept for it
    /// (replaced by a current one when `TRUNCATE QUERY DIGEST` ran since).
    pub fn record_on(&self, entry: &mut Arc<DigestEntry>, rec: &QueryRecord<'_>) {
        if entry.generation != self.generation.load(Ordering::Acquire) {
            *entry = self.entry(rec.sql, rec.lexing);
        }
        entry.add(rec, SystemTime::now());
    }

    /// Counts one finished statement (normalizing it).
    pub fn record(&self, rec: &QueryRecord<'_>) {
        self.entry(rec.sql, rec.lexing).add(rec, SystemTime::now());
    }

    /// Every digest (and the `other` bucket, if used), by total time,
    /// largest first.
    pub fn rows(&self) -> Vec<DigestRow> {
        let mut rows: Vec<DigestRow> = self
            .entries
            .iter()
            .map(|e| DigestRow {
                text: e.key().to_string(),
                stats: e.value().stats(),
            })
            .collect();
        let other = self.other.read().stats();
        if other.count > 0 {
            rows.push(DigestRow {
                text: OTHER.to_string(),
                stats: other,
            });
        }
        rows.sort_by(|a, b| {
            b.stats
                .total
                .cmp(&a.stats.total)
                .then_with(|| b.stats.count.cmp(&a.stats.count))
                .then_with(|| a.text.cmp(&b.text))
        });
        rows
    }

    /// Distinct statements kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.other.read().count.load(Ordering::Relaxed) == 0
    }

    /// Forgets everything (`TRUNCATE QUERY DIGEST`); returns how many
    /// digests were dropped. Entries sessions still hold belong to the old
    /// generation: their next statement finds a current one.
    pub fn truncate(&self) -> usize {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let fresh = Arc::new(DigestEntry::new(
            OTHER.into(),
            generation,
            SystemTime::now(),
        ));
        let old = std::mem::replace(&mut *self.other.write(), fresh);
        let n = self.entries.len() + usize::from(old.count.load(Ordering::Relaxed) > 0);
        self.entries.clear();
        n
    }
}

/// What the last emitted token was, for spacing and literal decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prev {
    Start,
    Keyword,
    Word,
    Value,
    Open,
    Close,
    Comma,
    Dot,
    Op,
    Other,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'@' || b >= 0x80
}

fn is_op_byte(b: u8) -> bool {
    b"<>=!:|&+-*/%^~".contains(&b)
}

/// Keywords that are upper-cased and after which `(` is not a function call.
const KEYWORDS: &[&str] = &[
    "ADD",
    "ALL",
    "ALTER",
    "AND",
    "ANY",
    "AS",
    "ASC",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CALL",
    "CASE",
    "COMMIT",
    "CREATE",
    "CROSS",
    "DATABASE",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DISTINCT",
    "DROP",
    "DUPLICATE",
    "ELSE",
    "END",
    "EXISTS",
    "FOR",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "IF",
    "IGNORE",
    "IN",
    "INDEX",
    "INNER",
    "INSERT",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "KEY",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LOCK",
    "NOT",
    "NULL",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "REPLACE",
    "RIGHT",
    "ROLLBACK",
    "SELECT",
    "SET",
    "SHARE",
    "SHOW",
    "START",
    "TABLE",
    "TABLES",
    "THEN",
    "TRANSACTION",
    "TRUNCATE",
    "UNION",
    "UNLOCK",
    "UPDATE",
    "USE",
    "USING",
    "VALUE",
    "VALUES",
    "WHEN",
    "WHERE",
    "WITH",
    "XOR",
];

/// The upper-case keyword `w` is, if it is one.
fn keyword(w: &[u8]) -> Option<&'static str> {
    if w.len() > 11 {
        return None;
    }
    let mut buf = [0u8; 11];
    let up = &mut buf[..w.len()];
    up.copy_from_slice(w);
    up.make_ascii_uppercase();
    let up = std::str::from_utf8(up).ok()?;
    KEYWORDS.binary_search(&up).ok().map(|i| KEYWORDS[i])
}

/// Is `run` (starting with a digit or `.`) a numeric literal?
fn is_number(run: &[u8]) -> bool {
    if let Some(hex) = run.strip_prefix(b"0x") {
        return !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit);
    }
    if let Some(bits) = run.strip_prefix(b"0b") {
        return !bits.is_empty() && bits.iter().all(|b| *b == b'0' || *b == b'1');
    }
    let mut seen_e = false;
    for (i, &b) in run.iter().enumerate() {
        match b {
            b'0'..=b'9' | b'.' => {}
            b'e' | b'E' if !seen_e && i > 0 => seen_e = true,
            b'+' | b'-' if i > 0 && matches!(run[i - 1], b'e' | b'E') => {}
            _ => return false,
        }
    }
    true
}

/// Normalizes a statement for the digest (see the module documentation),
/// read the default way.
pub fn normalize(sql: &[u8]) -> String {
    normalize_in(sql, Lexing::default())
}

/// [`normalize`], reading quotes as a session with `lx` does.
pub fn normalize_in(sql: &[u8], lx: Lexing) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(sql.len().min(MAX_TEXT) + 8);
    let mut prev = Prev::Start;
    let mut prev_kw: Option<&'static str> = None;
    // output positions of open parentheses, and whether each may be a list
    let mut opens: Vec<(usize, bool)> = Vec::new();
    let mut in_exec_comment = false;
    let n = sql.len();
    let mut i = 0;
    while i < n {
        if out.len() >= MAX_TEXT {
            break;
        }
        let c = sql[i];
        let next = sql.get(i + 1).copied();
        // blanks and comments
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#'
            || (c == b'-'
                && next == Some(b'-')
                && sql.get(i + 2).is_none_or(|b| b.is_ascii_whitespace()))
        {
            while i < n && sql[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && next == Some(b'*') {
            let exec = sql.get(i + 2) == Some(&b'!')
                || (sql.get(i + 2) == Some(&b'M') && sql.get(i + 3) == Some(&b'!'));
            if exec {
                i += if sql[i + 2] == b'M' { 4 } else { 3 };
                while i < n && sql[i].is_ascii_digit() {
                    i += 1;
                }
                in_exec_comment = true;
                continue;
            }
            i += 2;
            while i < n && !(sql[i] == b'*' && sql.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i = (i + 2).min(n);
            continue;
        }
        if in_exec_comment && c == b'*' && next == Some(b'/') {
            in_exec_comment = false;
            i += 2;
            continue;
        }
        // what the token is
        let start = i;
        let (tok, kind): (&[u8], Prev) = if c == b'\'' || c == b'"' {
            i = lx.skip_quoted(sql, i);
            (b"?", Prev::Value)
        } else if c == b'`' {
            i = lx.skip_quoted(sql, i);
            (&sql[start..i], Prev::Word)
        } else if c.is_ascii_digit()
            || (c == b'.' && next.is_some_and(|b| b.is_ascii_digit()) && prev != Prev::Word)
        {
            while i < n
                && (sql[i].is_ascii_alphanumeric()
                    || sql[i] == b'.'
                    || sql[i] == b'_'
                    || ((sql[i] == b'+' || sql[i] == b'-')
                        && matches!(sql[i - 1], b'e' | b'E')
                        && sql[start].is_ascii_digit()
                        && sql[start..i - 1]
                            .iter()
                            .all(|b| b.is_ascii_digit() || *b == b'.')))
            {
                i += 1;
            }
            let run = &sql[start..i];
            if is_number(run) {
                // a unary sign before it belongs to the literal
                if matches!(out.last(), Some(b'-' | b'+'))
                    && prev == Prev::Op
                    && sign_is_unary(&out)
                {
                    out.pop();
                    while out.last() == Some(&b' ') {
                        out.pop();
                    }
                    prev = unary_context(&out);
                }
                (b"?", Prev::Value)
            } else {
                (run, Prev::Word)
            }
        } else if matches!(c, b'x' | b'X' | b'b' | b'B' | b'n' | b'N') && next == Some(b'\'') {
            i = lx.skip_quoted(sql, i + 1);
            (b"?", Prev::Value)
        } else if is_word_byte(c) {
            while i < n {
                if lx.pair_at(sql, i) {
                    i += 2;
                } else if is_word_byte(sql[i]) || sql[i] == b'.' && sql[start] == b'@' {
                    i += 1;
                } else {
                    break;
                }
            }
            i = i.min(n);
            let w = &sql[start..i];
            match keyword(w) {
                Some(k) => {
                    prev_kw = Some(k);
                    (k.as_bytes(), Prev::Keyword)
                }
                None => (w, Prev::Word),
            }
        } else if c == b'?' {
            i += 1;
            (b"?", Prev::Value)
        } else if c == b'(' {
            i += 1;
            (b"(", Prev::Open)
        } else if c == b')' {
            i += 1;
            (b")", Prev::Close)
        } else if c == b',' {
            i += 1;
            (b",", Prev::Comma)
        } else if c == b'.' {
            i += 1;
            (b".", Prev::Dot)
        } else if is_op_byte(c) {
            i += 1;
            if b"<>=!:|&".contains(&c) {
                while i < n && b"<>=!|&".contains(&sql[i]) {
                    i += 1;
                }
            }
            (&sql[start..i], Prev::Op)
        } else {
            i += 1;
            (&sql[start..i], Prev::Other)
        };
        // spacing
        let space = !matches!(
            (prev, kind),
            (Prev::Start, _)
                | (_, Prev::Comma | Prev::Close | Prev::Dot)
                | (Prev::Open | Prev::Dot, _)
                | (Prev::Word, Prev::Open)
        );
        if space {
            out.push(b' ');
        }
        if kind == Prev::Open {
            let list = prev == Prev::Keyword && matches!(prev_kw, Some("IN" | "VALUES" | "VALUE"))
                || out.ends_with(b"(?+), ");
            opens.push((out.len(), list));
        }
        out.extend_from_slice(tok);
        if kind == Prev::Close {
            if let Some((at, list)) = opens.pop() {
                if list && only_placeholders(&out[at + 1..out.len() - 1]) {
                    out.truncate(at);
                    if out.ends_with(b"(?+), ") {
                        // another row of a VALUES list: one row stands for all
                        out.truncate(out.len() - 2);
                    } else {
                        out.extend_from_slice(b"(?+)");
                    }
                }
            }
        }
        if kind != Prev::Keyword {
            prev_kw = None;
        }
        prev = kind;
    }
    while out.last() == Some(&b';') || out.last() == Some(&b' ') {
        out.pop();
    }
    if out.len() >= MAX_TEXT && i < n || out.len() > MAX_TEXT {
        // cut on a character boundary
        let mut cut = MAX_TEXT.min(out.len());
        while cut > 0 && cut < out.len() && out[cut] & 0xC0 == 0x80 {
            cut -= 1;
        }
        out.truncate(cut);
        out.extend_from_slice(b"...");
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `? , ?, ?` with at least one `?`.
fn only_placeholders(inner: &[u8]) -> bool {
    inner.contains(&b'?') && inner.iter().all(|b| matches!(b, b'?' | b',' | b' '))
}

/// The sign just emitted (last byte of `out`) is unary: what precedes it
/// is the start, `(`, `,`, an operator or a keyword.
fn sign_is_unary(out: &[u8]) -> bool {
    let before = &out[..out.len() - 1];
    let before = before.strip_suffix(b" ").unwrap_or(before);
    match before.last() {
        None => true,
        Some(b) if b"(,".contains(b) || is_op_byte(*b) => true,
        Some(b) if b.is_ascii_uppercase() => {
            let start = before
                .iter()
                .rposition(|b| !is_word_byte(*b))
                .map_or(0, |p| p + 1);
            keyword(&before[start..]).is_some()
        }
        _ => false,
    }
}

/// What `prev` is after a unary sign was removed from the end of `out`.
fn unary_context(out: &[u8]) -> Prev {
    match out.last() {
        None => Prev::Start,
        Some(b'(') => Prev::Open,
        Some(b',') => Prev::Comma,
        Some(b) if is_op_byte(*b) => Prev::Op,
        _ => Prev::Keyword,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::RouteReason;

    fn norm(s: &str) -> String {
        normalize(s.as_bytes())
    }

    #[test]
    fn quotes_normalize_as_the_session_reads_them() {
        let nbe = Lexing {
            no_backslash_escapes: true,
            ..Lexing::default()
        };
        let sql = b"SELECT 'x\\'; DELETE FROM t WHERE a = 'b'";
        // read the default way, the DELETE hides in a string
        assert!(!normalize(sql).contains("DELETE"), "{}", normalize(sql));
        assert_eq!(
            normalize_in(sql, nbe),
            "SELECT ? ; DELETE FROM t WHERE a = ?"
        );
        let sjis = Lexing {
            multibyte: Some(crate::router::Multibyte::Sjis),
            ..Lexing::default()
        };
        let mb = b"SELECT '\x95\x5c', 1 FROM t";
        assert_eq!(normalize_in(mb, sjis), "SELECT ?, ? FROM t");
    }

    #[test]
    fn keywords_sorted_for_binary_search() {
        let mut sorted = KEYWORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, KEYWORDS);
    }

    #[test]
    fn literals_become_placeholders() {
        assert_eq!(
            norm("select * from t where a = 1 and b='x''y' and c = \"q\\\"z\""),
            "SELECT * FROM t WHERE a = ? AND b = ? AND c = ?"
        );
        assert_eq!(
            norm("SELECT 1.5e-3, .5, 0x1F, X'ab', b'01', 0b11"),
            "SELECT ?, ?, ?, ?, ?, ?"
        );
        assert_eq!(
            norm("select a from t1 where id=42"),
            "SELECT a FROM t1 WHERE id = ?"
        );
        assert_eq!(norm("SELECT -5, a - 3, (-2)"), "SELECT ?, a - ?, (?)");
        assert_eq!(
            norm("SELECT a FROM t WHERE x = -1"),
            "SELECT a FROM t WHERE x = ?"
        );
        assert_eq!(norm("SELECT ? , ?"), "SELECT ?, ?");
    }

    #[test]
    fn same_digest_for_different_literals_and_spacing() {
        let a = norm("SELECT  name FROM users WHERE id = 7  ;");
        let b = norm("select name\n  from users where id=12345 -- trailing\n");
        let c = norm("/* app:1 */ SELECT name FROM users # x\n WHERE id = 0");
        assert_eq!(a, "SELECT name FROM users WHERE id = ?");
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_ne!(a, norm("SELECT name FROM users WHERE uid = 7"));
    }

    #[test]
    fn lists_collapse() {
        assert_eq!(
            norm("SELECT * FROM t WHERE id IN (1, 2, 3)"),
            "SELECT * FROM t WHERE id IN (?+)"
        );
        assert_eq!(
            norm("SELECT * FROM t WHERE id in (4)"),
            "SELECT * FROM t WHERE id IN (?+)"
        );
        assert_eq!(
            norm("INSERT INTO t (a, b) VALUES (1,'x'), (2,'y'),(3, 'z')"),
            "INSERT INTO t(a, b) VALUES (?+)"
        );
        assert_eq!(
            norm("INSERT INTO t VALUES (1, NOW())"),
            "INSERT INTO t VALUES (?, NOW())"
        );
        assert_eq!(
            norm("SELECT SUBSTR(a, 1, 2) FROM t"),
            "SELECT SUBSTR(a, ?, ?) FROM t"
        );
    }

    #[test]
    fn identifiers_variables_and_comments() {
        assert_eq!(
            norm("SELECT `weird``name`, @v, @@session.sql_mode"),
            "SELECT `weird``name`, @v, @@session.sql_mode"
        );
        assert_eq!(norm("/*!40101 SET NAMES utf8mb4 */"), "SET NAMES utf8mb4");
        assert_eq!(norm("SELECT t.a FROM db1.t"), "SELECT t.a FROM db1.t");
        assert_eq!(norm("SELECT 'é', 'ü' AS ä"), "SELECT ?, ? AS ä");
        assert_eq!(norm("SELECT a>=1 AND b<>2"), "SELECT a >= ? AND b <> ?");
        assert_eq!(norm(""), "");
        assert_eq!(norm("SELECT 'unterminated"), "SELECT ?");
        assert_eq!(norm("SELECT /* open"), "SELECT");
    }

    #[test]
    fn long_text_is_capped() {
        let long = format!("SELECT {}", vec!["col"; 2000].join(", "));
        let n = norm(&long);
        assert!(n.len() <= MAX_TEXT + 3);
        assert!(n.ends_with("..."));
        let wide = format!("SELECT {}", "é".repeat(2000));
        assert!(norm(&wide).ends_with("..."));
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for s in [
            &b"\xff\xfe'"[..],
            b"--",
            b"-",
            b"/*!",
            b"/*M!1",
            b"1e",
            b"1e-",
            b".",
            b"x'",
            b"))((",
            b"0x",
        ] {
            let _ = normalize(s);
        }
    }

    fn rec<'a>(sql: &'a str, reason: RouteReason, ms: u64) -> QueryRecord<'a> {
        QueryRecord {
            sql: sql.as_bytes(),
            lexing: Lexing::default(),
            server: "127.0.0.1:3306",
            role: "primary",
            reason,
            duration: Duration::from_millis(ms),
            rows: 2,
            error: false,
        }
    }

    #[test]
    fn counts_per_digest_and_routes() {
        let d = Digest::default();
        d.record(&rec("SELECT 1", RouteReason::Write, 5));
        d.record(&rec("select 2", RouteReason::Pinned, 1));
        d.record(&rec("SELECT 3", RouteReason::Write, 3));
        d.record(&rec("DELETE FROM t", RouteReason::Write, 100));
        let rows = d.rows();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].text, "DELETE FROM t", "by total time");
        let s = &rows[1].stats;
        assert_eq!(rows[1].text, "SELECT ?");
        assert_eq!(s.count, 3);
        assert_eq!(s.total, Duration::from_millis(9));
        assert_eq!(s.min, Duration::from_millis(1));
        assert_eq!(s.max, Duration::from_millis(5));
        assert_eq!(s.rows, 6);
        assert_eq!(
            s.routes_text(),
            "127.0.0.1:3306 primary (write: 2, pinned: 1)"
        );
        assert_eq!(d.truncate(), 2);
        assert!(d.rows().is_empty());
        assert!(d.is_empty());
    }

    #[test]
    fn bounded_with_an_other_bucket() {
        let d = Digest::with_limit(2);
        d.record(&rec("SELECT a", RouteReason::Write, 1));
        d.record(&rec("SELECT b", RouteReason::Write, 1));
        d.record(&rec("SELECT c", RouteReason::Write, 1));
        d.record(&rec("SELECT d", RouteReason::Write, 1));
        d.record(&rec("SELECT a", RouteReason::Write, 5));
        assert_eq!(d.len(), 2);
        let rows = d.rows();
        assert_eq!(rows.len(), 3);
        let other = rows.iter().find(|r| r.text == OTHER).map(|r| r.stats.count);
        assert_eq!(other, Some(2));
        assert_eq!(rows[0].text, "SELECT a");
    }
}
