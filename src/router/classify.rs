//! Problem: a few things about a statement decide whether its session can
//! keep moving between backend connections: does it assign user variables,
//! create temporary tables, take named locks, lock tables, prepare SQL
//! statements, or ask for FOUND_ROWS? A small lexer answers that in one
//! pass, skipping strings, quoted identifiers and comments, without the
//! cost of a full SQL parse.

/// What kind of statement this is, as far as routing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SELECT, SHOW, DESCRIBE, EXPLAIN, WITH ... SELECT, with no side
    /// effects: may run on a replica.
    Read,
    /// `START TRANSACTION READ ONLY`: the whole transaction may run on one
    /// replica.
    ReadOnlyTransaction,
    /// INSERT, UPDATE, DELETE, REPLACE, DDL, LOAD DATA, CALL, GRANT...
    Write,
    /// SELECT ... FOR UPDATE / LOCK IN SHARE MODE / FOR SHARE.
    LockingRead,
    /// A read calling a function with side effects (GET_LOCK,
    /// RELEASE_LOCK, IS_USED_LOCK, LAST_INSERT_ID(), NEXTVAL, ...).
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
}

/// A `/* sqlyard:primary */` or `/* sqlyard:replica */` comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    Primary,
    Replica,
}

/// Everything routing needs to know about one statement's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub kind: Kind,
    pub hint: Option<Hint>,
    pub effects: Effects,
}

/// Classifies a statement for routing.
///
/// First version (to be replaced by a single-pass classifier): the first
/// keyword decides, refined by the effects the lexer finds.
pub fn classify(sql: &[u8]) -> Class {
    let effects = effects(sql);
    let hint = if contains_ci(sql, b"sqlyard:primary") {
        Some(Hint::Primary)
    } else if contains_ci(sql, b"sqlyard:replica") {
        Some(Hint::Replica)
    } else {
        None
    };
    let first = Lexer::new(sql).find_map(|t| match t {
        Tok::Word(w) => Some(w),
        _ => None,
    });
    let kind = match first {
        None => Kind::Unparsed,
        Some(w) if !effects.assigns_user_vars.is_empty() => {
            if is(w, "SET") {
                Kind::UserVarAssignment
            } else if contains_ci(sql, b" INTO ") {
                Kind::SelectInto
            } else {
                Kind::UserVarAssignment
            }
        }
        Some(w) if is(w, "SELECT") || is(w, "WITH") => {
            if contains_ci(sql, b"FOUND_ROWS(") || contains_ci(sql, b"ROW_COUNT(") {
                Kind::ConnectionScoped
            } else if contains_ci(sql, b"FOR UPDATE")
                || contains_ci(sql, b"LOCK IN SHARE MODE")
                || contains_ci(sql, b"FOR SHARE")
            {
                Kind::LockingRead
            } else if effects.takes_named_lock
                || effects.releases_named_lock
                || effects.uses_last_insert_id
                || contains_ci(sql, b"IS_USED_LOCK")
                || contains_ci(sql, b"IS_FREE_LOCK")
                || contains_ci(sql, b"NEXTVAL")
                || contains_ci(sql, b"SETVAL")
                || contains_ci(sql, b"LASTVAL")
            {
                Kind::SideEffects
            } else if contains_ci(sql, b" INTO ") {
                Kind::SelectInto
            } else {
                Kind::Read
            }
        }
        Some(w) if is(w, "SHOW") => {
            if contains_ci(sql, b"WARNINGS") || contains_ci(sql, b"ERRORS") {
                Kind::ConnectionScoped
            } else {
                Kind::Read
            }
        }
        Some(w) if is(w, "DESCRIBE") || is(w, "DESC") || is(w, "EXPLAIN") => Kind::Read,
        Some(w) if is(w, "START") && contains_ci(sql, b"READ ONLY") => Kind::ReadOnlyTransaction,
        Some(w)
            if is(w, "BEGIN")
                || is(w, "START")
                || is(w, "COMMIT")
                || is(w, "ROLLBACK")
                || is(w, "SAVEPOINT")
                || is(w, "RELEASE")
                || is(w, "XA") =>
        {
            Kind::TransactionControl
        }
        Some(w) if is(w, "SET") || is(w, "USE") => Kind::Session,
        Some(_) => Kind::Write,
    };
    Class {
        kind,
        hint,
        effects,
    }
}

/// A statement's effects on connection-scoped state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Effects {
    /// User variables the statement assigns.
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Word(&'a [u8]),
    UserVar(String),
    SysVar,
    Assign,
    Eq,
    Comma,
    LParen,
    Other,
}

/// Statements longer than this are scanned only up to it (their tail is
/// almost always a data literal).
const SCAN_LIMIT: usize = 1 << 20;

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a [u8]) -> Self {
        Lexer {
            s: &s[..s.len().min(SCAN_LIMIT)],
            i: 0,
        }
    }

    fn skip_quoted(&mut self, q: u8) {
        let s = self.s;
        self.i += 1;
        while self.i < s.len() {
            let c = s[self.i];
            if c == b'\\' && q != b'`' {
                self.i += 2;
                continue;
            }
            self.i += 1;
            if c == q {
                if self.i < s.len() && s[self.i] == q {
                    self.i += 1;
                    continue;
                }
                return;
            }
        }
    }

    fn ident_end(&self, mut j: usize) -> usize {
        while j < self.s.len()
            && (self.s[j].is_ascii_alphanumeric()
                || self.s[j] == b'_'
                || self.s[j] == b'$'
                || self.s[j] >= 0x80)
        {
            j += 1;
        }
        j
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Tok<'a>;

    fn next(&mut self) -> Option<Tok<'a>> {
        let s = self.s;
        loop {
            let c = *s.get(self.i)?;
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => self.i += 1,
                b'#' => {
                    while self.i < s.len() && s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b'-' if s.get(self.i + 1) == Some(&b'-')
                    && s.get(self.i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
                {
                    while self.i < s.len() && s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b'/' if s.get(self.i + 1) == Some(&b'*') => {
                    if s.get(self.i + 2) == Some(&b'!') || s.get(self.i + 2) == Some(&b'M') {
                        // executable comment: its content is SQL
                        self.i += 3;
                        while self.i < s.len() && s[self.i].is_ascii_digit() {
                            self.i += 1;
                        }
                        continue;
                    }
                    match s[self.i + 2..].windows(2).position(|w| w == b"*/") {
                        Some(p) => self.i += p + 4,
                        None => self.i = s.len(),
                    }
                }
                b'*' if s.get(self.i + 1) == Some(&b'/') => self.i += 2,
                b'\'' | b'"' | b'`' => {
                    self.skip_quoted(c);
                    return Some(Tok::Other);
                }
                b'@' => {
                    if s.get(self.i + 1) == Some(&b'@') {
                        self.i = self.ident_end(self.i + 2);
                        while s.get(self.i) == Some(&b'.') {
                            self.i = self.ident_end(self.i + 1);
                        }
                        return Some(Tok::SysVar);
                    }
                    let start = self.i + 1;
                    let name = match s.get(start) {
                        Some(&q @ (b'\'' | b'"' | b'`')) => {
                            self.i = start;
                            self.skip_quoted(q);
                            let inner = &s[start + 1..self.i.saturating_sub(1).max(start + 1)];
                            String::from_utf8_lossy(inner).into_owned()
                        }
                        _ => {
                            let end = self.ident_end(start);
                            self.i = end.max(start);
                            String::from_utf8_lossy(&s[start..end]).into_owned()
                        }
                    };
                    return Some(Tok::UserVar(name.to_lowercase()));
                }
                b':' if s.get(self.i + 1) == Some(&b'=') => {
                    self.i += 2;
                    return Some(Tok::Assign);
                }
                b'=' => {
                    self.i += 1;
                    return Some(Tok::Eq);
                }
                b',' => {
                    self.i += 1;
                    return Some(Tok::Comma);
                }
                b'(' => {
                    self.i += 1;
                    return Some(Tok::LParen);
                }
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                    let start = self.i;
                    self.i = self.ident_end(self.i);
                    return Some(Tok::Word(&s[start..self.i]));
                }
                _ => {
                    self.i += 1;
                    return Some(Tok::Other);
                }
            }
        }
    }
}

fn is(w: &[u8], kw: &str) -> bool {
    w.eq_ignore_ascii_case(kw.as_bytes())
}

/// Reads a statement's effects on connection-scoped state.
pub fn effects(sql: &[u8]) -> Effects {
    let mut e = Effects::default();
    let toks: Vec<Tok<'_>> = Lexer::new(sql).collect();
    let first_word = toks.iter().find_map(|t| match t {
        Tok::Word(w) => Some(*w),
        _ => None,
    });
    let is_set = first_word.is_some_and(|w| is(w, "SET"));
    // OUT and INOUT parameters of a procedure assign user variables.
    let is_call = first_word.is_some_and(|w| is(w, "CALL"));
    let mut into = false;
    for (i, t) in toks.iter().enumerate() {
        let next = toks.get(i + 1);
        match t {
            Tok::Word(w) => {
                into = is(w, "INTO");
                if is(w, "TEMPORARY") {
                    let prev = i.checked_sub(1).and_then(|j| toks.get(j));
                    match prev {
                        Some(Tok::Word(p)) if is(p, "CREATE") || is(p, "REPLACE") => {
                            e.creates_temp_table = true
                        }
                        Some(Tok::Word(p)) if is(p, "DROP") => e.drops_temp_table = true,
                        _ => {}
                    }
                } else if is(w, "GET_LOCK") && next == Some(&Tok::LParen) {
                    e.takes_named_lock = true;
                } else if (is(w, "RELEASE_LOCK") || is(w, "RELEASE_ALL_LOCKS"))
                    && next == Some(&Tok::LParen)
                {
                    e.releases_named_lock = true;
                } else if is(w, "SQL_CALC_FOUND_ROWS") {
                    e.calc_found_rows = true;
                } else if is(w, "LAST_INSERT_ID") {
                    e.uses_last_insert_id = true;
                }
            }
            Tok::UserVar(name) => {
                let assigned = matches!(next, Some(Tok::Assign))
                    || (is_set && matches!(next, Some(Tok::Eq)))
                    || into
                    || is_call;
                if assigned && !e.assigns_user_vars.contains(name) {
                    e.assigns_user_vars.push(name.clone());
                }
            }
            Tok::Comma => {}
            _ => into = false,
        }
    }
    if let Some(w) = first_word {
        let second = toks
            .iter()
            .filter_map(|t| match t {
                Tok::Word(w) => Some(*w),
                _ => None,
            })
            .nth(1);
        if is(w, "LOCK") && second.is_some_and(|s| is(s, "TABLES") || is(s, "TABLE")) {
            e.locks_tables = true;
        } else if is(w, "UNLOCK") {
            e.unlocks_tables = true;
        } else if is(w, "PREPARE") {
            e.sql_prepare = true;
        }
    }
    e
}

/// `KILL [HARD|SOFT] [CONNECTION|QUERY [ID]] <id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kill {
    pub query_only: bool,
    pub id: u64,
}

/// Recognizes a KILL statement (the ids in it are sqlyard's own).
pub fn parse_kill(sql: &[u8]) -> Option<Kill> {
    let mut words = Lexer::new(sql).filter(|t| !matches!(t, Tok::Other if false));
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

/// Case-insensitive substring test.
pub fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
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
}
