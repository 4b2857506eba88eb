//! Problem: every statement must be routed by what it does (read, write,
//! lock, side effect, session state, a question about the previous
//! statement), and the session must learn what it changes in connection
//! state (user variables, temporary tables, named locks, LOCK TABLES,
//! prepared SQL, FOUND_ROWS()). Both must come from one cheap pass over the
//! text, without allocating on the common path, because it runs for every
//! statement. A small lexer skips strings, quoted identifiers and comments
//! (reading `/* sqlyard:... */` hints in them and the SQL inside executable
//! comments); a per-statement state machine reads the verb and the few
//! word patterns that matter. Only a statement whose verb the fast path
//! does not know (one starting with `(`, say) goes to sqlparser.

use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::lexing::Lexing;

/// What kind of statement this is, as far as routing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SELECT, SHOW, DESCRIBE, EXPLAIN, HELP, WITH ... SELECT, with no side
    /// effects: may run on a replica.
    Read,
    /// `START TRANSACTION READ ONLY`: the whole transaction may run on one
    /// replica.
    ReadOnlyTransaction,
    /// INSERT, UPDATE, DELETE, REPLACE, DDL, LOAD DATA, CALL, DO, GRANT,
    /// WITH ... UPDATE/DELETE, SET GLOBAL, ...
    Write,
    /// SELECT ... FOR UPDATE / LOCK IN SHARE MODE / FOR SHARE.
    LockingRead,
    /// A read calling a function with side effects (GET_LOCK,
    /// RELEASE_LOCK, IS_USED_LOCK, LAST_INSERT_ID(), NEXTVAL, ...), or
    /// asking about the serving server itself (SHOW MASTER STATUS, SHOW
    /// SLAVE STATUS, SHOW PROCESSLIST, ...): only the primary answers it.
    SideEffects,
    /// SELECT ... INTO (@var, OUTFILE, DUMPFILE).
    SelectInto,
    /// Assigns a user variable (`SET @v = ...`, `SELECT @v := ...`).
    UserVarAssignment,
    /// BEGIN, START TRANSACTION (read write), COMMIT, ROLLBACK, SAVEPOINT, XA.
    TransactionControl,
    /// Session state: SET (session variables, NAMES), USE.
    Session,
    /// Asks about the previous statement of the same connection:
    /// FOUND_ROWS(), ROW_COUNT(), SHOW WARNINGS / ERRORS / COUNT(*) WARNINGS,
    /// @@warning_count, @@error_count.
    ConnectionScoped,
    /// The classifier could not tell: the primary (the safe default).
    Unparsed,
}

impl Kind {
    /// The statement may change data, so its GTID matters to later reads
    /// (side-effect functions such as GET_LOCK or LAST_INSERT_ID() do not
    /// write a transaction).
    pub fn may_write(&self) -> bool {
        matches!(self, Kind::Write | Kind::Unparsed)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::ReadOnlyTransaction => "read_only_transaction",
            Kind::Write => "write",
            Kind::LockingRead => "locking_read",
            Kind::SideEffects => "side_effects",
            Kind::SelectInto => "select_into",
            Kind::UserVarAssignment => "user_variable_assignment",
            Kind::TransactionControl => "transaction_control",
            Kind::Session => "session",
            Kind::ConnectionScoped => "connection_scoped",
            Kind::Unparsed => "unparsed",
        }
    }

    /// Whether a `/* sqlyard:replica */` hint may send it to a replica:
    /// not a write, nor what may be one, nor session or transaction state.
    pub fn may_run_on_a_replica(&self) -> bool {
        !matches!(
            self,
            Kind::Write | Kind::TransactionControl | Kind::Session | Kind::Unparsed
        )
    }

    /// Which kind decides a multi-statement text: the one that needs the
    /// primary most.
    fn rank(&self) -> u8 {
        match self {
            Kind::Read => 0,
            Kind::ReadOnlyTransaction => 1,
            Kind::ConnectionScoped => 2,
            Kind::Session => 3,
            Kind::TransactionControl => 4,
            Kind::UserVarAssignment => 5,
            Kind::SelectInto => 6,
            Kind::LockingRead => 7,
            Kind::SideEffects => 8,
            Kind::Write => 9,
            Kind::Unparsed => 10,
        }
    }
}

/// A `/* sqlyard:primary */` or `/* sqlyard:replica */` comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    Primary,
    Replica,
}

impl Hint {
    pub fn as_str(&self) -> &'static str {
        match self {
            Hint::Primary => "primary",
            Hint::Replica => "replica",
        }
    }
}

/// Everything routing needs to know about one statement's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub kind: Kind,
    pub hint: Option<Hint>,
    pub effects: Effects,
}

/// Which part of the classifier decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decider {
    /// The single-pass lexer alone.
    FastPath,
    /// sqlparser, for a statement the fast path did not know.
    Parser,
    /// Neither could read it (Kind::Unparsed).
    Nobody,
}

impl Decider {
    pub fn as_str(&self) -> &'static str {
        match self {
            Decider::FastPath => "fast path",
            Decider::Parser => "sqlparser",
            Decider::Nobody => "unparsed",
        }
    }
}

/// A statement's effects on connection-scoped state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Effects {
    /// User variables the statement assigns (lower-cased).
    pub assigns_user_vars: Vec<String>,
    pub creates_temp_table: bool,
    pub drops_temp_table: bool,
    pub takes_named_lock: bool,
    pub releases_named_lock: bool,
    pub locks_tables: bool,
    pub unlocks_tables: bool,
    pub sql_prepare: bool,
    pub calc_found_rows: bool,
    pub uses_last_insert_id: bool,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        *self == Effects::default()
    }

    fn assign(&mut self, name: &[u8]) {
        let name = String::from_utf8_lossy(name).to_lowercase();
        if !self.assigns_user_vars.contains(&name) {
            self.assigns_user_vars.push(name);
        }
    }

    /// Adds what `other` does (for a statement read two ways).
    fn union(&mut self, other: Effects) {
        for v in other.assigns_user_vars {
            if !self.assigns_user_vars.contains(&v) {
                self.assigns_user_vars.push(v);
            }
        }
        self.creates_temp_table |= other.creates_temp_table;
        self.drops_temp_table |= other.drops_temp_table;
        self.takes_named_lock |= other.takes_named_lock;
        self.releases_named_lock |= other.releases_named_lock;
        self.locks_tables |= other.locks_tables;
        self.unlocks_tables |= other.unlocks_tables;
        self.sql_prepare |= other.sql_prepare;
        self.calc_found_rows |= other.calc_found_rows;
        self.uses_last_insert_id |= other.uses_last_insert_id;
    }
}

/// Classifies a statement of a session whose SQL mode sqlyard has not
/// seen yet (no server status has come back): if the text has a
/// backslash, it is read both with and without `NO_BACKSLASH_ESCAPES`, and
/// the stricter reading wins (the kind that needs more, the effects of
/// both, a primary hint from either).
pub fn classify_unsure(sql: &[u8], lexing: Lexing) -> Class {
    let mut a = classify_in(sql, lexing);
    if !sql.contains(&b'\\') {
        return a;
    }
    let other = Lexing {
        no_backslash_escapes: !lexing.no_backslash_escapes,
        ..lexing
    };
    let b = classify_in(sql, other);
    if b.kind.rank() > a.kind.rank() {
        a.kind = b.kind;
    }
    if b.hint == Some(Hint::Primary) {
        a.hint = b.hint;
    }
    a.effects.union(b.effects);
    a
}

/// Classifies a statement (or several, separated by `;`) for routing,
/// read the default way (backslash escapes, a single-byte-safe charset).
pub fn classify(sql: &[u8]) -> Class {
    classify_detailed(sql).0
}

/// [`classify`], reading quotes as a session with `lexing` does.
pub fn classify_in(sql: &[u8], lexing: Lexing) -> Class {
    classify_detailed_in(sql, lexing).0
}

/// [`classify`], also telling which part of the classifier decided.
pub fn classify_detailed(sql: &[u8]) -> (Class, Decider) {
    classify_detailed_in(sql, Lexing::default())
}

/// [`classify_detailed`], reading quotes as a session with `lexing` does.
pub fn classify_detailed_in(sql: &[u8], lexing: Lexing) -> (Class, Decider) {
    let mut effects = Effects::default();
    let (kind, decider, hint) = scan(sql, lexing, &mut effects);
    (
        Class {
            kind,
            hint,
            effects,
        },
        decider,
    )
}

/// Reads a statement's effects on connection-scoped state.
pub fn effects(sql: &[u8]) -> Effects {
    classify(sql).effects
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Word(&'a [u8]),
    /// `@name` or `@'name'` (the name without quotes).
    UserVar(&'a [u8]),
    /// `@@name`, `@@session.name` (the whole name after `@@`).
    SysVar(&'a [u8]),
    /// A string literal, a quoted identifier, a number or punctuation that
    /// matters to nobody.
    Other,
    Assign,
    Eq,
    Comma,
    LParen,
    RParen,
    Semi,
}

/// Statements longer than this are scanned only up to it (their tail is
/// almost always a data literal).
const SCAN_LIMIT: usize = 1 << 20;

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    /// Open executable comments (`/*! ... */`), whose `*/` ends nothing.
    exec: u32,
    /// The first hint found in a comment (primary wins over replica).
    hint: Option<Hint>,
    /// How quotes and multi-byte characters read.
    lexing: Lexing,
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

impl<'a> Lexer<'a> {
    fn new(s: &'a [u8], lexing: Lexing) -> Self {
        Lexer {
            s: &s[..s.len().min(SCAN_LIMIT)],
            i: 0,
            exec: 0,
            hint: None,
            lexing,
        }
    }

    /// Skips a quoted string or identifier starting at `self.i`.
    fn skip_quoted(&mut self) {
        self.i = self.lexing.skip_quoted(self.s, self.i);
    }

    fn ident_end(&self, mut j: usize) -> usize {
        while j < self.s.len() {
            if self.lexing.pair_at(self.s, j) {
                j += 2;
            } else if is_ident(self.s[j]) {
                j += 1;
            } else {
                break;
            }
        }
        j.min(self.s.len())
    }

    /// Reads a hint in a comment's text.
    fn comment(&mut self, text: &[u8]) {
        const TAG: &[u8] = b"sqlyard:";
        if text.len() < TAG.len() + 7 || self.hint == Some(Hint::Primary) {
            return;
        }
        let mut k = 0;
        while k + TAG.len() <= text.len() {
            if text[k..k + TAG.len()].eq_ignore_ascii_case(TAG) {
                let rest = &text[k + TAG.len()..];
                let word = &rest[..rest
                    .iter()
                    .position(|&c| !is_ident(c))
                    .unwrap_or(rest.len())];
                if word.eq_ignore_ascii_case(b"primary") {
                    self.hint = Some(Hint::Primary);
                    return;
                }
                if word.eq_ignore_ascii_case(b"replica") {
                    self.hint = Some(Hint::Replica);
                }
            }
            k += 1;
        }
    }

    fn next_tok(&mut self) -> Option<Tok<'a>> {
        let s = self.s;
        loop {
            let c = *s.get(self.i)?;
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => self.i += 1,
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                    let start = self.i;
                    self.i = self.ident_end(self.i);
                    return Some(Tok::Word(&s[start..self.i]));
                }
                b'#' => self.line_comment(self.i + 1),
                b'-' if s.get(self.i + 1) == Some(&b'-')
                    && s.get(self.i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
                {
                    self.line_comment(self.i + 2)
                }
                b'/' if s.get(self.i + 1) == Some(&b'*') => {
                    let bang = match (s.get(self.i + 2), s.get(self.i + 3)) {
                        (Some(b'!'), _) => Some(3),
                        (Some(b'M'), Some(b'!')) => Some(4),
                        _ => None,
                    };
                    if let Some(skip) = bang {
                        // executable comment: its content is SQL
                        self.i += skip;
                        while self.i < s.len() && s[self.i].is_ascii_digit() {
                            self.i += 1;
                        }
                        self.exec += 1;
                        continue;
                    }
                    let body = self.i + 2;
                    let end = s[body..]
                        .windows(2)
                        .position(|w| w == b"*/")
                        .map_or(s.len(), |p| body + p);
                    self.comment(&s[body..end]);
                    self.i = (end + 2).min(s.len());
                }
                b'*' if self.exec > 0 && s.get(self.i + 1) == Some(&b'/') => {
                    self.exec -= 1;
                    self.i += 2;
                }
                b'\'' | b'"' | b'`' => {
                    self.skip_quoted();
                    return Some(Tok::Other);
                }
                b'@' => return Some(self.variable()),
                b':' if s.get(self.i + 1) == Some(&b'=') => {
                    self.i += 2;
                    return Some(Tok::Assign);
                }
                b'0'..=b'9' => {
                    // a number, or an identifier starting with digits
                    self.i = self.ident_end(self.i + 1);
                    if s.get(self.i) == Some(&b'.') {
                        self.i = self.ident_end(self.i + 1);
                    }
                    return Some(Tok::Other);
                }
                _ => {
                    self.i += 1;
                    return Some(match c {
                        b'=' => Tok::Eq,
                        b',' => Tok::Comma,
                        b'(' => Tok::LParen,
                        b')' => Tok::RParen,
                        b';' => Tok::Semi,
                        _ => Tok::Other,
                    });
                }
            }
        }
    }

    fn line_comment(&mut self, body: usize) {
        let s = self.s;
        let end = s[body.min(s.len())..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(s.len(), |p| body + p);
        self.comment(&s[body.min(end)..end]);
        self.i = end;
    }

    /// `@name`, `@'name'`, `@@name`, `@@scope.name`, at `self.i`.
    fn variable(&mut self) -> Tok<'a> {
        let s = self.s;
        if s.get(self.i + 1) == Some(&b'@') {
            let start = self.i + 2;
            self.i = self.ident_end(start);
            while s.get(self.i) == Some(&b'.') {
                self.i = self.ident_end(self.i + 1);
            }
            return Tok::SysVar(&s[start..self.i]);
        }
        let start = self.i + 1;
        match s.get(start) {
            Some(&q @ (b'\'' | b'"' | b'`')) => {
                self.i = start;
                self.skip_quoted();
                let end = if self.i > start + 1 && s[self.i - 1] == q {
                    self.i - 1
                } else {
                    self.i
                };
                Tok::UserVar(&s[start + 1..end.max(start + 1)])
            }
            _ => {
                self.i = self.ident_end(start);
                Tok::UserVar(&s[start..self.i])
            }
        }
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Tok<'a>;

    fn next(&mut self) -> Option<Tok<'a>> {
        self.next_tok()
    }
}

fn is(w: &[u8], kw: &str) -> bool {
    w.eq_ignore_ascii_case(kw.as_bytes())
}

fn word_is(t: Tok<'_>, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if is(w, kw))
}

// ------------------------------------------------------ statement state

/// A statement's verb, as far as the fast path knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    /// No token yet.
    None,
    /// SELECT, VALUES, TABLE.
    Select,
    With,
    Show,
    /// DESCRIBE, DESC, EXPLAIN, HELP.
    Describe,
    Set,
    Use,
    Begin,
    Start,
    /// COMMIT, ROLLBACK, SAVEPOINT, RELEASE, XA.
    Transaction,
    /// CREATE, ALTER: may carry a compound body with `;` inside.
    Definition,
    Call,
    /// Every other verb that writes or needs the primary.
    Write,
    /// Not a verb the fast path knows (or a leading parenthesis).
    Unknown,
}

fn verb(w: &[u8]) -> Verb {
    const WRITES: &[&str] = &[
        "INSERT",
        "UPDATE",
        "DELETE",
        "REPLACE",
        "DROP",
        "TRUNCATE",
        "RENAME",
        "LOAD",
        "DO",
        "HANDLER",
        "GRANT",
        "REVOKE",
        "LOCK",
        "UNLOCK",
        "FLUSH",
        "OPTIMIZE",
        "REPAIR",
        "ANALYZE",
        "CHECK",
        "CHECKSUM",
        "INSTALL",
        "UNINSTALL",
        "KILL",
        "RESET",
        "PURGE",
        "CHANGE",
        "STOP",
        "SHUTDOWN",
        "PREPARE",
        "EXECUTE",
        "DEALLOCATE",
        "BINLOG",
        "CACHE",
        "IMPORT",
        "SIGNAL",
        "RESIGNAL",
        "BACKUP",
        "CLONE",
        "RESTART",
    ];
    match w.len() {
        3 if is(w, "USE") => Verb::Use,
        2 if is(w, "XA") => Verb::Transaction,
        3 if is(w, "SET") => Verb::Set,
        4 if is(w, "SHOW") => Verb::Show,
        4 if is(w, "DESC") || is(w, "HELP") => Verb::Describe,
        4 if is(w, "WITH") => Verb::With,
        4 if is(w, "CALL") => Verb::Call,
        5 if is(w, "BEGIN") => Verb::Begin,
        5 if is(w, "START") => Verb::Start,
        5 if is(w, "TABLE") => Verb::Select,
        5 if is(w, "ALTER") => Verb::Definition,
        6 if is(w, "SELECT") => Verb::Select,
        6 if is(w, "VALUES") => Verb::Select,
        6 if is(w, "COMMIT") => Verb::Transaction,
        6 if is(w, "CREATE") => Verb::Definition,
        7 if is(w, "EXPLAIN") => Verb::Describe,
        7 if is(w, "RELEASE") => Verb::Transaction,
        8 if is(w, "DESCRIBE") => Verb::Describe,
        8 if is(w, "ROLLBACK") => Verb::Transaction,
        9 if is(w, "SAVEPOINT") => Verb::Transaction,
        _ if WRITES.iter().any(|k| is(w, k)) => Verb::Write,
        _ => Verb::Unknown,
    }
}

/// What the pass learned about the statement being read.
struct Stmt<'a> {
    verb: Verb,
    start: usize,
    /// Words seen so far (saturating), and the second and third.
    words: u8,
    w2: Option<&'a [u8]>,
    w3: Option<&'a [u8]>,
    depth: u32,
    prev: Tok<'a>,
    prev2: Tok<'a>,
    /// A user variable whose assignment depends on the next token.
    pending_var: Option<&'a [u8]>,
    /// After INTO, until a token other than a variable or a comma.
    into: bool,
    /// Inside a compound body (CREATE PROCEDURE ... BEGIN, BEGIN NOT
    /// ATOMIC): `;` does not end the statement and nothing runs now.
    body: bool,
    locking: bool,
    side_effects: bool,
    select_into: bool,
    assigns: bool,
    connection_scoped: bool,
    /// WITH ... UPDATE / DELETE, SET GLOBAL, SET PASSWORD...
    writes: bool,
    read_only: bool,
}

impl<'a> Stmt<'a> {
    fn new(start: usize) -> Self {
        Stmt {
            verb: Verb::None,
            start,
            words: 0,
            w2: None,
            w3: None,
            depth: 0,
            prev: Tok::Semi,
            prev2: Tok::Semi,
            pending_var: None,
            into: false,
            body: false,
            locking: false,
            side_effects: false,
            select_into: false,
            assigns: false,
            connection_scoped: false,
            writes: false,
            read_only: false,
        }
    }

    /// Reads one token of the statement.
    fn feed(&mut self, t: Tok<'a>, fx: &mut Effects) {
        if let Some(name) = self.pending_var.take() {
            let set = self.verb == Verb::Set;
            if t == Tok::Assign || (set && t == Tok::Eq) {
                self.assigns = true;
                if !self.body {
                    fx.assign(name);
                }
            }
        }
        match t {
            Tok::Word(w) => self.word(w, fx),
            Tok::UserVar(name) => {
                if self.verb == Verb::None {
                    self.verb = Verb::Unknown;
                }
                if self.into || self.verb == Verb::Call {
                    // SELECT ... INTO @v, CALL p(@out): OUT parameters
                    self.assigns = true;
                    if !self.body {
                        fx.assign(name);
                    }
                } else {
                    self.pending_var = Some(name);
                }
            }
            Tok::SysVar(name) => {
                if self.verb == Verb::None {
                    self.verb = Verb::Unknown;
                }
                self.into = false;
                let scope_end = name.iter().rposition(|&c| c == b'.');
                let base = scope_end.map_or(name, |p| &name[p + 1..]);
                if is(base, "warning_count") || is(base, "error_count") {
                    self.connection_scoped = true;
                }
                if let Some(p) = scope_end {
                    let scope = &name[..p];
                    if self.verb == Verb::Set && (is(scope, "global") || is(scope, "persist")) {
                        self.writes = true;
                    }
                }
            }
            Tok::LParen => {
                if self.verb == Verb::None {
                    self.verb = Verb::Unknown;
                }
                self.into = false;
                self.depth += 1;
                if let Tok::Word(f) = self.prev {
                    self.function(f, fx);
                }
            }
            Tok::RParen => {
                self.into = false;
                self.depth = self.depth.saturating_sub(1);
            }
            Tok::Comma => {}
            Tok::Semi | Tok::Assign | Tok::Eq | Tok::Other => {
                if self.verb == Verb::None {
                    self.verb = Verb::Unknown;
                }
                self.into = false;
            }
        }
        self.prev2 = self.prev;
        self.prev = t;
    }

    fn word(&mut self, w: &'a [u8], fx: &mut Effects) {
        self.into = false;
        self.words = self.words.saturating_add(1);
        match self.words {
            1 if self.verb == Verb::None => {
                self.verb = verb(w);
                if self.verb == Verb::Write && !self.body {
                    if is(w, "UNLOCK") {
                        fx.unlocks_tables = true;
                    } else if is(w, "PREPARE") {
                        fx.sql_prepare = true;
                    }
                }
                return;
            }
            2 => {
                self.w2 = Some(w);
                match self.verb {
                    Verb::Begin if is(w, "NOT") => self.body = true,
                    Verb::Write
                        if (is(w, "TABLES") || is(w, "TABLE"))
                            && word_is(self.prev, "LOCK")
                            && !self.body =>
                    {
                        fx.locks_tables = true
                    }
                    Verb::Set if is(w, "PASSWORD") || is(w, "DEFAULT") => self.writes = true,
                    _ => {}
                }
            }
            3 => self.w3 = Some(w),
            _ => {}
        }
        match w.len() {
            3 if is(w, "FOR") => {
                // NEXT VALUE FOR seq, PREVIOUS VALUE FOR seq
                if word_is(self.prev, "VALUE")
                    && (word_is(self.prev2, "NEXT") || word_is(self.prev2, "PREVIOUS"))
                {
                    self.side_effects = true;
                }
                if self.verb == Verb::Set
                    && self.w2.is_some_and(|w2| is(w2, "STATEMENT"))
                    && self.depth == 0
                {
                    // SET STATEMENT var = value FOR <statement>: the
                    // statement after FOR decides
                    self.words = 0;
                    self.verb = Verb::None;
                    self.w2 = None;
                    self.w3 = None;
                }
            }
            4 if is(w, "INTO") => {
                self.into = true;
                if matches!(self.verb, Verb::Select | Verb::With) {
                    self.select_into = true;
                }
            }
            4 if is(w, "ONLY") && word_is(self.prev, "READ") => self.read_only = true,
            5 if is(w, "SHARE")
                && (word_is(self.prev, "FOR")
                    || (word_is(self.prev, "IN") && word_is(self.prev2, "LOCK"))) =>
            {
                self.locking = true
            }
            5 if is(w, "BEGIN") && self.verb == Verb::Definition => self.body = true,
            6 if is(w, "UPDATE") || is(w, "DELETE") => {
                if word_is(self.prev, "FOR") {
                    self.locking = true;
                } else if self.verb == Verb::With && self.depth == 0 {
                    self.writes = true;
                }
            }
            6 if is(w, "GLOBAL") && self.verb == Verb::Set => self.writes = true,
            7 if is(w, "PERSIST") && self.verb == Verb::Set => self.writes = true,
            9 if is(w, "TEMPORARY") && !self.body => {
                if word_is(self.prev, "CREATE") || word_is(self.prev, "REPLACE") {
                    fx.creates_temp_table = true;
                } else if word_is(self.prev, "DROP") {
                    fx.drops_temp_table = true;
                }
            }
            14 if is(w, "LAST_INSERT_ID") => fx.uses_last_insert_id = true,
            19 if is(w, "SQL_CALC_FOUND_ROWS") && !self.body => fx.calc_found_rows = true,
            _ => {}
        }
    }

    /// A call of function `f`.
    fn function(&mut self, f: &[u8], fx: &mut Effects) {
        match f.len() {
            6 if is(f, "SETVAL") => self.side_effects = true,
            7 if is(f, "NEXTVAL") || is(f, "LASTVAL") => self.side_effects = true,
            8 if is(f, "GET_LOCK") => {
                self.side_effects = true;
                if !self.body {
                    fx.takes_named_lock = true;
                }
            }
            9 if is(f, "ROW_COUNT") => self.connection_scoped = true,
            10 if is(f, "FOUND_ROWS") => self.connection_scoped = true,
            12 if is(f, "RELEASE_LOCK") || is(f, "IS_USED_LOCK") || is(f, "IS_FREE_LOCK") => {
                self.side_effects = true;
                if !self.body && is(f, "RELEASE_LOCK") {
                    fx.releases_named_lock = true;
                }
            }
            14 if is(f, "LAST_INSERT_ID") => self.side_effects = true,
            17 if is(f, "RELEASE_ALL_LOCKS") => {
                self.side_effects = true;
                if !self.body {
                    fx.releases_named_lock = true;
                }
            }
            _ => {}
        }
    }

    /// The statement's kind, and whether sqlparser had to decide it.
    fn finish(&self, text: &[u8]) -> (Kind, Decider) {
        let fast = |k| (k, Decider::FastPath);
        match self.verb {
            Verb::None => fast(Kind::Unparsed),
            Verb::Select | Verb::With => fast(self.select_kind()),
            Verb::Show => {
                let w2 = self.w2.unwrap_or_default();
                let w3 = self.w3.unwrap_or_default();
                let warnings = |w: &[u8]| is(w, "WARNINGS") || is(w, "ERRORS");
                if warnings(w2) || (is(w2, "COUNT") && warnings(w3)) {
                    fast(Kind::ConnectionScoped)
                } else if server_specific_show(w2, w3) {
                    fast(Kind::SideEffects)
                } else {
                    fast(Kind::Read)
                }
            }
            Verb::Describe => fast(Kind::Read),
            Verb::Set if self.writes => fast(Kind::Write),
            Verb::Set if self.assigns => fast(Kind::UserVarAssignment),
            Verb::Set | Verb::Use => fast(Kind::Session),
            Verb::Begin if self.body => fast(Kind::Write),
            Verb::Begin | Verb::Transaction => fast(Kind::TransactionControl),
            Verb::Start if self.w2.is_some_and(|w| is(w, "TRANSACTION")) => {
                if self.read_only {
                    fast(Kind::ReadOnlyTransaction)
                } else {
                    fast(Kind::TransactionControl)
                }
            }
            Verb::Start | Verb::Definition | Verb::Call | Verb::Write => fast(Kind::Write),
            Verb::Unknown => match parse(text) {
                Some(Parsed::Query) => (self.select_kind(), Decider::Parser),
                Some(Parsed::Read) => (Kind::Read, Decider::Parser),
                Some(Parsed::Other) => (Kind::Write, Decider::Parser),
                None => (Kind::Unparsed, Decider::Nobody),
            },
        }
    }

    fn select_kind(&self) -> Kind {
        if self.writes {
            Kind::Write
        } else if self.side_effects {
            Kind::SideEffects
        } else if self.locking {
            Kind::LockingRead
        } else if self.select_into {
            Kind::SelectInto
        } else if self.assigns {
            Kind::UserVarAssignment
        } else if self.connection_scoped {
            Kind::ConnectionScoped
        } else {
            Kind::Read
        }
    }
}

/// SHOW statements about the serving server itself, which a replica
/// would answer differently.
fn server_specific_show(w2: &[u8], w3: &[u8]) -> bool {
    [
        "MASTER",
        "BINLOG",
        "BINARY",
        "SLAVE",
        "REPLICA",
        "PROCESSLIST",
        "ENGINE",
        "ALL",
    ]
    .iter()
    .any(|k| is(w2, k))
        || (is(w2, "FULL") && is(w3, "PROCESSLIST"))
}

enum Parsed {
    /// A query (SELECT, UNION, parenthesized): the token rules decide.
    Query,
    /// EXPLAIN, DESCRIBE, SHOW.
    Read,
    /// Anything else sqlparser knows: the primary.
    Other,
}

/// The fallback: sqlparser (MySQL dialect) on one statement's text.
fn parse(text: &[u8]) -> Option<Parsed> {
    use sqlparser::ast::Statement as S;
    let text = std::str::from_utf8(text).ok()?;
    let stmts = Parser::parse_sql(&MySqlDialect {}, text).ok()?;
    let mut out = None;
    for s in &stmts {
        let p = match s {
            S::Query(_) => Parsed::Query,
            S::Explain { .. } | S::ExplainTable { .. } => Parsed::Read,
            _ => Parsed::Other,
        };
        out = Some(match (out, p) {
            (Some(Parsed::Other), _) | (_, Parsed::Other) => Parsed::Other,
            (Some(Parsed::Query), _) | (_, Parsed::Query) => Parsed::Query,
            _ => Parsed::Read,
        });
    }
    out
}

/// The single pass: every statement of `sql` in turn.
fn scan(sql: &[u8], lexing: Lexing, fx: &mut Effects) -> (Kind, Decider, Option<Hint>) {
    let mut lx = Lexer::new(sql, lexing);
    let mut st = Stmt::new(0);
    let mut kind: Option<Kind> = None;
    let mut decider = Decider::FastPath;
    let mut end_statement = |st: &Stmt<'_>, end: usize| {
        if st.verb == Verb::None {
            return; // empty: a trailing `;` or only comments
        }
        let text = &lx_slice(sql, st.start, end);
        let (k, d) = st.finish(text);
        if kind.is_none_or(|old: Kind| k.rank() > old.rank()) {
            kind = Some(k);
        }
        if d != Decider::FastPath && decider != Decider::Nobody {
            decider = d;
        }
    };
    loop {
        let at = lx.i;
        match lx.next_tok() {
            None => {
                end_statement(&st, lx.i);
                break;
            }
            Some(Tok::Semi) if !st.body => {
                end_statement(&st, at);
                st = Stmt::new(lx.i);
            }
            Some(t) => st.feed(t, fx),
        }
    }
    let hint = lx.hint;
    match kind {
        Some(k) => (k, decider, hint),
        None => (Kind::Unparsed, Decider::Nobody, hint),
    }
}

fn lx_slice(sql: &[u8], start: usize, end: usize) -> &[u8] {
    let end = end.min(sql.len());
    &sql[start.min(end)..end]
}

/// `KILL [HARD|SOFT] [CONNECTION|QUERY [ID]] <id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kill {
    pub query_only: bool,
    pub id: u64,
}

/// Recognizes a KILL statement (the ids in it are sqlyard's own).
pub fn parse_kill(sql: &[u8]) -> Option<Kill> {
    let mut words =
        Lexer::new(sql, Lexing::default()).filter(|t| !matches!(t, Tok::Other if false));
    let Some(Tok::Word(w)) = words.next() else {
        return None;
    };
    if !is(w, "KILL") {
        return None;
    }
    let mut query_only = false;
    let rest: Vec<Tok<'_>> = words.collect();
    let mut idx = 0;
    while let Some(Tok::Word(w)) = rest.get(idx) {
        if is(w, "HARD") || is(w, "SOFT") || is(w, "CONNECTION") || is(w, "ID") {
            idx += 1;
        } else if is(w, "QUERY") {
            query_only = true;
            idx += 1;
        } else {
            return None;
        }
    }
    // the id is lexed as Other characters: take the remaining text
    let text = std::str::from_utf8(sql).ok()?;
    let digits: String = text
        .trim()
        .trim_end_matches(';')
        .rsplit(|c: char| c.is_whitespace())
        .next()?
        .to_string();
    let id = digits.parse::<u64>().ok()?;
    Some(Kill { query_only, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_vars() {
        assert_eq!(
            effects(b"SET @a = 1, @B := 2").assigns_user_vars,
            vec!["a", "b"]
        );
        assert_eq!(effects(b"SELECT @x := 5").assigns_user_vars, vec!["x"]);
        assert_eq!(effects(b"SELECT 1 INTO @x").assigns_user_vars, vec!["x"]);
        assert_eq!(
            effects(b"SELECT a, b INTO @x, @y FROM t").assigns_user_vars,
            vec!["x", "y"]
        );
        assert!(effects(b"SELECT @x").assigns_user_vars.is_empty());
        assert!(effects(b"SELECT '@x := 1'").assigns_user_vars.is_empty());
        assert!(effects(b"SET @@session.sql_mode = ''")
            .assigns_user_vars
            .is_empty());
        assert!(effects(b"SELECT * FROM t WHERE a = @x")
            .assigns_user_vars
            .is_empty());
        assert_eq!(
            effects(b"SET @`odd name` = 1").assigns_user_vars,
            vec!["odd name"]
        );
        assert_eq!(effects(b"CALL p(1, @out)").assigns_user_vars, vec!["out"]);
    }

    #[test]
    fn temp_tables_locks_and_friends() {
        assert!(effects(b"CREATE TEMPORARY TABLE t (a int)").creates_temp_table);
        assert!(effects(b"create temporary table if not exists t like x").creates_temp_table);
        assert!(effects(b"DROP TEMPORARY TABLE t").drops_temp_table);
        assert!(!effects(b"SELECT 'CREATE TEMPORARY TABLE'").creates_temp_table);
        assert!(effects(b"SELECT GET_LOCK('a', 1)").takes_named_lock);
        assert!(effects(b"SELECT RELEASE_LOCK('a')").releases_named_lock);
        assert!(!effects(b"SELECT get_lock FROM t").takes_named_lock);
        assert!(effects(b"LOCK TABLES t WRITE").locks_tables);
        assert!(effects(b"UNLOCK TABLES").unlocks_tables);
        assert!(effects(b"PREPARE s FROM 'SELECT 1'").sql_prepare);
        assert!(effects(b"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1").calc_found_rows);
        assert!(effects(b"/* x */ SELECT LAST_INSERT_ID()").uses_last_insert_id);
        assert!(effects(b"SELECT 1 -- GET_LOCK(\n").is_empty());
    }

    #[test]
    fn kill() {
        assert_eq!(
            parse_kill(b"KILL QUERY 12"),
            Some(Kill {
                query_only: true,
                id: 12
            })
        );
        assert_eq!(
            parse_kill(b"kill 7;"),
            Some(Kill {
                query_only: false,
                id: 7
            })
        );
        assert_eq!(
            parse_kill(b"KILL CONNECTION 9"),
            Some(Kill {
                query_only: false,
                id: 9
            })
        );
        assert_eq!(
            parse_kill(b"KILL HARD QUERY 3"),
            Some(Kill {
                query_only: true,
                id: 3
            })
        );
        assert_eq!(
            parse_kill(b"KILL QUERY ID 3"),
            Some(Kill {
                query_only: true,
                id: 3
            })
        );
        assert_eq!(parse_kill(b"KILL USER app"), None);
        assert_eq!(parse_kill(b"SELECT 1"), None);
        assert_eq!(parse_kill(b"KILL"), None);
    }

    #[test]
    fn no_panic_on_garbage() {
        for s in [
            &b"@"[..],
            b"@'",
            b"/*",
            b"'",
            b"--",
            b"/*!",
            b"@@",
            b"SET @",
            b"\xff\xfe",
        ] {
            let _ = effects(s);
            let _ = parse_kill(s);
        }
    }

    fn k(sql: &str) -> Kind {
        classify(sql.as_bytes()).kind
    }

    fn d(sql: &str) -> Decider {
        classify_detailed(sql.as_bytes()).1
    }

    #[test]
    fn reads() {
        for sql in [
            "SELECT 1",
            "select * from wp_posts where ID = 5",
            "  \n SELECT option_value FROM wp_options WHERE option_name = 'siteurl' LIMIT 1",
            "SHOW TABLES",
            "show full columns from t",
            "SHOW GLOBAL STATUS LIKE 'x'",
            "DESCRIBE t",
            "desc t",
            "EXPLAIN SELECT * FROM t",
            "EXPLAIN UPDATE t SET a = 1",
            "HELP 'select'",
            "WITH c AS (SELECT 1) SELECT * FROM c",
            "with recursive c(n) as (select 1 union all select n + 1 from c where n < 5) select * from c",
            "SELECT @x",
            "SELECT * FROM t WHERE a = @x",
            "SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10",
            "SELECT SLEEP(0)",
            "SELECT UUID_SHORT(), BENCHMARK(1, 1)",
            "SELECT @@server_id",
            "SELECT @@session.sql_mode, @@global.read_only",
            "VALUES (1), (2)",
            "TABLE t",
            "SELECT 1;",
            "SELECT 1; SELECT 2",
            "SELECT last_insert_id FROM t",
            "SELECT get_lock FROM t",
            "SELECT REPLACE(a, 'x', 'y'), INSERT(a, 1, 1, 'z') FROM t",
        ] {
            assert_eq!(k(sql), Kind::Read, "{sql}");
        }
    }

    #[test]
    fn writes() {
        for sql in [
            "INSERT INTO t VALUES (1)",
            "insert ignore into t select * from u",
            "UPDATE t SET a = 1",
            "DELETE FROM t",
            "REPLACE INTO t VALUES (1)",
            "CREATE TABLE t (a int)",
            "ALTER TABLE t ADD b int",
            "DROP TABLE t",
            "TRUNCATE t",
            "RENAME TABLE a TO b",
            "LOAD DATA INFILE 'x' INTO TABLE t",
            "CALL p()",
            "DO GET_LOCK('a', 1)",
            "HANDLER t OPEN",
            "GRANT SELECT ON *.* TO u",
            "REVOKE ALL ON *.* FROM u",
            "LOCK TABLES t WRITE",
            "FLUSH TABLES",
            "OPTIMIZE TABLE t",
            "WITH c AS (SELECT 1) UPDATE t SET a = 1",
            "WITH c AS (SELECT id FROM u) DELETE FROM t WHERE id IN (SELECT id FROM c)",
            "SET GLOBAL max_connections = 10",
            "SET @@global.max_connections = 10",
            "SET PERSIST max_connections = 10",
            "SET PASSWORD = PASSWORD('x')",
            "SET DEFAULT ROLE r FOR u",
            "START SLAVE",
            "BEGIN NOT ATOMIC SELECT 1; SELECT 2; END",
            "CREATE PROCEDURE p() BEGIN SELECT 1; INSERT INTO t VALUES (1); END",
        ] {
            assert_eq!(k(sql), Kind::Write, "{sql}");
        }
    }

    #[test]
    fn locking_reads() {
        for sql in [
            "SELECT * FROM t FOR UPDATE",
            "select * from t where id = 1 for update nowait",
            "SELECT * FROM t FOR UPDATE SKIP LOCKED",
            "SELECT * FROM t LOCK IN SHARE MODE",
            "SELECT * FROM t FOR SHARE",
            "SELECT * FROM t FOR SHARE NOWAIT",
            "WITH c AS (SELECT 1) SELECT * FROM t FOR UPDATE",
            "SELECT * FROM t /* x */ FOR /* y */ UPDATE",
        ] {
            assert_eq!(k(sql), Kind::LockingRead, "{sql}");
        }
        for sql in [
            "SELECT * FROM t WHERE a = 'FOR UPDATE'",
            "SELECT * FROM t WHERE a = \"LOCK IN SHARE MODE\"",
            "SELECT `for update` FROM t",
            "SELECT * FROM t -- FOR UPDATE\n",
            "SELECT * FROM t # FOR SHARE",
            "SELECT * FROM t /* FOR UPDATE */",
        ] {
            assert_eq!(k(sql), Kind::Read, "{sql}");
        }
    }

    #[test]
    fn side_effect_functions() {
        for sql in [
            "SELECT GET_LOCK('a', 1)",
            "select release_lock('a')",
            "SELECT RELEASE_ALL_LOCKS()",
            "SELECT IS_USED_LOCK('a')",
            "SELECT IS_FREE_LOCK('a')",
            "SELECT LAST_INSERT_ID()",
            "SELECT last_insert_id ( )",
            "SELECT NEXTVAL(s)",
            "SELECT NEXT VALUE FOR s",
            "SELECT PREVIOUS VALUE FOR s",
            "SELECT SETVAL(s, 10)",
            "SELECT LASTVAL(s)",
            "SELECT a FROM t WHERE b = (SELECT GET_LOCK('x', 0))",
            "SHOW MASTER STATUS",
            "SHOW SLAVE STATUS",
            "SHOW ALL SLAVES STATUS",
            "SHOW BINARY LOGS",
            "SHOW PROCESSLIST",
            "SHOW FULL PROCESSLIST",
        ] {
            assert_eq!(k(sql), Kind::SideEffects, "{sql}");
        }
        assert_eq!(k("SELECT 'GET_LOCK(1)'"), Kind::Read);
        assert_eq!(k("SELECT `get_lock`(1)"), Kind::Read);
    }

    #[test]
    fn select_into_and_user_variables() {
        for sql in [
            "SELECT a INTO @x FROM t",
            "SELECT a, b INTO @x, @y FROM t",
            "SELECT * FROM t INTO OUTFILE '/tmp/x'",
            "SELECT a FROM t INTO DUMPFILE '/tmp/x'",
            "SELECT 1 INTO @x",
        ] {
            assert_eq!(k(sql), Kind::SelectInto, "{sql}");
        }
        for sql in [
            "SET @x = 1",
            "set @x := 1",
            "SET @a = 1, @b = 2",
            "SET @`odd` = 1",
            "SELECT @x := 5",
            "SELECT @rownum := @rownum + 1 FROM t",
            "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */",
            "SET SESSION sql_mode = 'x', @y = 2",
        ] {
            assert_eq!(k(sql), Kind::UserVarAssignment, "{sql}");
        }
        assert_eq!(k("SELECT '@x := 1'"), Kind::Read);
        assert_eq!(k("SELECT @x = 1"), Kind::Read);
    }

    #[test]
    fn connection_scoped() {
        for sql in [
            "SELECT FOUND_ROWS()",
            "select found_rows() as n",
            "SELECT ROW_COUNT()",
            "SHOW WARNINGS",
            "show errors limit 5",
            "SHOW COUNT(*) WARNINGS",
            "SHOW COUNT(*) ERRORS",
            "SELECT @@warning_count",
            "SELECT @@error_count",
            "SELECT @@session.warning_count",
            "SELECT @@SESSION.ERROR_COUNT, 1",
        ] {
            assert_eq!(k(sql), Kind::ConnectionScoped, "{sql}");
        }
        assert_eq!(k("SHOW COLUMNS FROM errors"), Kind::Read);
        assert_eq!(k("SELECT found_rows FROM t"), Kind::Read);
    }

    #[test]
    fn session_and_transactions() {
        for sql in [
            "SET NAMES utf8mb4",
            "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'",
            "SET CHARACTER SET utf8",
            "SET SESSION sql_mode = 'TRADITIONAL'",
            "SET sql_mode = ''",
            "SET @@session.time_zone = '+00:00'",
            "SET autocommit = 0",
            "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
            "SET SESSION TRANSACTION READ ONLY",
            "SET ROLE r",
            "USE wordpress",
            "use `my db`",
            "/*!40101 SET NAMES utf8 */",
            "/*M!100100 SET sql_mode = '' */",
        ] {
            assert_eq!(k(sql), Kind::Session, "{sql}");
        }
        for sql in [
            "BEGIN",
            "begin work",
            "START TRANSACTION",
            "START TRANSACTION READ WRITE",
            "START TRANSACTION WITH CONSISTENT SNAPSHOT",
            "COMMIT",
            "commit and chain",
            "ROLLBACK",
            "ROLLBACK TO SAVEPOINT a",
            "SAVEPOINT a",
            "RELEASE SAVEPOINT a",
            "XA START 'x'",
            "XA COMMIT 'x'",
        ] {
            assert_eq!(k(sql), Kind::TransactionControl, "{sql}");
        }
        for sql in [
            "START TRANSACTION READ ONLY",
            "start transaction read only",
            "START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT",
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        ] {
            assert_eq!(k(sql), Kind::ReadOnlyTransaction, "{sql}");
        }
    }

    #[test]
    fn set_statement_for_is_decided_by_its_statement() {
        assert_eq!(
            k("SET STATEMENT max_statement_time = 1 FOR SELECT * FROM t"),
            Kind::Read
        );
        assert_eq!(
            k("SET STATEMENT sql_mode = '' FOR INSERT INTO t VALUES (1)"),
            Kind::Write
        );
    }

    #[test]
    fn hints() {
        let h = |sql: &str| classify(sql.as_bytes()).hint;
        assert_eq!(h("SELECT /* sqlyard:primary */ 1"), Some(Hint::Primary));
        assert_eq!(h("/* sqlyard:replica */ SELECT 1"), Some(Hint::Replica));
        assert_eq!(h("SELECT 1 /* SQLYARD:REPLICA */"), Some(Hint::Replica));
        assert_eq!(h("SELECT 1 -- sqlyard:primary"), Some(Hint::Primary));
        assert_eq!(h("SELECT 1 # sqlyard:replica\n"), Some(Hint::Replica));
        assert_eq!(
            h("/* sqlyard:replica */ SELECT /* sqlyard:primary */ 1"),
            Some(Hint::Primary)
        );
        assert_eq!(h("SELECT '/* sqlyard:primary */'"), None);
        assert_eq!(h("SELECT `sqlyard:replica`"), None);
        assert_eq!(h("SELECT 1 /* sqlyard:replicas */"), None);
        assert_eq!(h("SELECT 1"), None);
        assert_eq!(
            k("INSERT /* sqlyard:replica */ INTO t VALUES (1)"),
            Kind::Write
        );
    }

    #[test]
    fn executable_comments_are_sql() {
        assert_eq!(k("SELECT /*!50000 SQL_NO_CACHE */ * FROM t"), Kind::Read);
        assert_eq!(
            k("SELECT * FROM t /*!50000 FOR UPDATE */"),
            Kind::LockingRead
        );
        assert_eq!(k("/*!40000 ALTER TABLE t DISABLE KEYS */"), Kind::Write);
        // an optimizer hint is a comment
        assert_eq!(
            k("SELECT /*+ MAX_EXECUTION_TIME(1) */ * FROM t"),
            Kind::Read
        );
        assert_eq!(k("SELECT /*Mx GET_LOCK('a',1) */ 1"), Kind::Read);
    }

    #[test]
    fn multi_statements_take_the_strictest() {
        assert_eq!(k("SELECT 1; INSERT INTO t VALUES (1)"), Kind::Write);
        assert_eq!(k("INSERT INTO t VALUES (1); SELECT 1"), Kind::Write);
        assert_eq!(k("SELECT 1; SELECT * FROM t FOR UPDATE"), Kind::LockingRead);
        assert_eq!(k("SET NAMES utf8; SELECT 1"), Kind::Session);
        assert_eq!(k("SELECT 1; SELECT 'a;b'; SELECT `c;d`"), Kind::Read);
        assert_eq!(k("SELECT 1; @@@"), Kind::Unparsed);
        let fx = effects(b"SELECT 1; SET @a = 1; CREATE TEMPORARY TABLE t (a int)");
        assert_eq!(fx.assigns_user_vars, vec!["a"]);
        assert!(fx.creates_temp_table);
    }

    #[test]
    fn quotes_read_as_the_session_reads_them() {
        use crate::router::lexing::{Lexing, Multibyte};
        let sql = b"SELECT 'x\\'; INSERT INTO t VALUES (1); -- '";
        let nbe = Lexing {
            no_backslash_escapes: true,
            ..Lexing::default()
        };
        assert_eq!(classify(sql).kind, Kind::Read, "one string by default");
        assert_eq!(classify_in(sql, nbe).kind, Kind::Write);
        // not known yet: the stricter reading, whichever mode is assumed
        assert_eq!(classify_unsure(sql, Lexing::default()).kind, Kind::Write);
        assert_eq!(classify_unsure(sql, nbe).kind, Kind::Write);
        let fx =
            classify_unsure(b"SELECT '\\'; CREATE TEMPORARY TABLE t (a int); -- '", nbe).effects;
        assert!(fx.creates_temp_table);
        // a string ending in an escaped backslash reads the same both ways
        assert_eq!(classify_in(b"SELECT 'a\\\\'", nbe).kind, Kind::Read);
        // sjis: 0x95 0x5C is one character; the quote after it ends the string
        let sjis = Lexing {
            multibyte: Some(Multibyte::Sjis),
            ..Lexing::default()
        };
        let mb = b"SELECT '\x95\x5c'; DELETE FROM t; -- '";
        assert_eq!(classify(mb).kind, Kind::Read);
        assert_eq!(classify_in(mb, sjis).kind, Kind::Write);
        // a two-byte identifier whose second byte is a backtick
        let gbk = Lexing {
            multibyte: Some(Multibyte::Gbk),
            ..Lexing::default()
        };
        assert_eq!(
            classify_in(b"SELECT \x81\x60 FROM t; UPDATE t SET a = 1", gbk).kind,
            Kind::Write
        );
    }

    #[test]
    fn fallback_to_sqlparser() {
        assert_eq!(k("(SELECT 1) UNION (SELECT 2)"), Kind::Read);
        assert_eq!(d("(SELECT 1) UNION (SELECT 2)"), Decider::Parser);
        assert_eq!(k("(SELECT a FROM t) FOR UPDATE"), Kind::LockingRead);
        assert_eq!(k("((SELECT GET_LOCK('a', 1)))"), Kind::SideEffects);
        assert_eq!(k("(SELECT FOUND_ROWS())"), Kind::ConnectionScoped);
        assert_eq!(d("SELECT 1"), Decider::FastPath);
        for sql in [
            "",
            "   ",
            "/* only a comment */",
            ";",
            "@@@",
            "12 34",
            "FROBNICATE t",
            "((",
        ] {
            assert_eq!(k(sql), Kind::Unparsed, "{sql:?}");
        }
        assert_eq!(d("FROBNICATE t"), Decider::Nobody);
    }

    #[test]
    fn procedure_bodies_do_not_change_the_session() {
        let fx = effects(
            b"CREATE PROCEDURE p() BEGIN SET @x = 1; CREATE TEMPORARY TABLE t (a int); SELECT GET_LOCK('a', 1); END",
        );
        assert!(fx.is_empty(), "{fx:?}");
    }

    /// The WordPress corpus of `benches/classify.rs`, one entry per statement.
    fn corpus() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/corpus");
        let mut out = Vec::new();
        for name in ["wordpress.sql", "wordpress-general-log.sql"] {
            let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
                continue;
            };
            for block in text.split("\n;;\n") {
                let b = block.trim().trim_end_matches(";;").trim();
                if !b.is_empty() {
                    out.push(b.to_string());
                }
            }
        }
        out
    }

    /// Every corpus statement is classified by the fast path (none needs
    /// sqlparser or ends up unparsed), and the time per statement is
    /// printed (the criterion bench is the real measurement).
    #[test]
    fn wordpress_corpus_takes_the_fast_path() {
        let stmts = corpus();
        assert!(stmts.len() >= 60, "corpus has {} statements", stmts.len());
        let mut kinds = std::collections::HashMap::new();
        for s in &stmts {
            let (c, d) = classify_detailed(s.as_bytes());
            assert_eq!(d, Decider::FastPath, "{s}");
            assert_ne!(c.kind, Kind::Unparsed, "{s}");
            *kinds.entry(c.kind.as_str()).or_insert(0) += 1;
        }
        for k in [
            "read",
            "write",
            "session",
            "connection_scoped",
            "side_effects",
        ] {
            assert!(kinds.contains_key(k), "no {k} in the corpus: {kinds:?}");
        }
        let rounds = 200;
        let mut per_stmt = Vec::with_capacity(stmts.len());
        for s in &stmts {
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(classify(std::hint::black_box(s.as_bytes())));
            }
            per_stmt.push(start.elapsed() / rounds);
        }
        per_stmt.sort();
        println!(
            "classify over {} WordPress statements ({kinds:?}): median {:?}, max {:?} per statement",
            stmts.len(),
            per_stmt[per_stmt.len() / 2],
            per_stmt[per_stmt.len() - 1]
        );
    }
}
