//! Problem: admin commands are typed by people and sent by client
//! libraries, in any letter case, with comments, quotes, backticks and a
//! trailing semicolon. Commands should match on words, not on raw text.
//! This splits a statement into tokens once, so each command family checks
//! a short pattern.

/// One token of an admin statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A bare word, upper-cased (`SHOW`, `SERVERS`, `VERSION_COMMENT`);
    /// the spelling as written is in [`Statement::spelled`].
    Word(String),
    /// A quoted string ('..' or ".."), unescaped.
    Str(String),
    /// A back-quoted identifier.
    Ident(String),
    /// A number, as written.
    Number(String),
    /// `@@name` or `@@session.name` (lower-cased, scope dropped).
    SysVar(String),
    /// `@name`.
    UserVar(String),
    /// Any other character: `,` `=` `(` `)` `*` `.`
    Punct(char),
}

/// A tokenized admin statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement as sent, without surrounding blanks and semicolons.
    pub text: String,
    pub tokens: Vec<Token>,
    /// Each token's text as written (same indexes as `tokens`), for names
    /// that keep their case (`SELECT 1 AS x` names its column `x`).
    pub spelled: Vec<String>,
}

/// Why a statement could not be tokenized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unterminated quoted string")]
    UnterminatedString,
    #[error("unterminated comment")]
    UnterminatedComment,
}

impl Statement {
    pub fn parse(sql: &str) -> Result<Statement, ParseError> {
        let text = sql.trim().trim_end_matches(';').trim().to_string();
        let (tokens, spelled) = tokenize(&text)?;
        Ok(Statement {
            text,
            tokens,
            spelled,
        })
    }

    /// True if the statement starts with these words (upper-case).
    pub fn starts_with(&self, words: &[&str]) -> bool {
        words.len() <= self.tokens.len()
            && words
                .iter()
                .zip(&self.tokens)
                .all(|(w, t)| matches!(t, Token::Word(x) if x == w))
    }

    /// True if the statement is exactly these words.
    pub fn is(&self, words: &[&str]) -> bool {
        self.tokens.len() == words.len() && self.starts_with(words)
    }

    /// The upper-cased word at `i`, if that token is a word.
    pub fn word(&self, i: usize) -> Option<&str> {
        match self.tokens.get(i) {
            Some(Token::Word(w)) => Some(w),
            _ => None,
        }
    }

    /// The token at `i` as written: a word keeps its case, a quoted
    /// string or identifier is unquoted.
    pub fn original(&self, i: usize) -> Option<&str> {
        match self.tokens.get(i)? {
            Token::Word(_) => self.spelled.get(i).map(String::as_str),
            Token::Str(s) | Token::Ident(s) | Token::Number(s) => Some(s),
            _ => self.spelled.get(i).map(String::as_str),
        }
    }

    /// A string, identifier or word at `i` as a value (`'host:port'`).
    pub fn value(&self, i: usize) -> Option<&str> {
        match self.tokens.get(i) {
            Some(Token::Str(s) | Token::Ident(s) | Token::Number(s)) => Some(s),
            _ => None,
        }
    }
}

fn tokenize(s: &str) -> Result<(Vec<Token>, Vec<String>), ParseError> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut spelled = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let before = out.len();
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' || (c == '-' && b.get(i + 1) == Some(&'-')) {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            let mut j = i + 2;
            loop {
                if j + 1 >= b.len() {
                    return Err(ParseError::UnterminatedComment);
                }
                if b[j] == '*' && b[j + 1] == '/' {
                    break;
                }
                j += 1;
            }
            i = j + 2;
        } else if c == '\'' || c == '"' || c == '`' {
            let (v, next) = quoted(&b, i)?;
            out.push(if c == '`' {
                Token::Ident(v)
            } else {
                Token::Str(v)
            });
            i = next;
        } else if c == '@' {
            let sys = b.get(i + 1) == Some(&'@');
            let mut j = if sys { i + 2 } else { i + 1 };
            let start = j;
            while j < b.len()
                && (b[j].is_alphanumeric() || b[j] == '_' || b[j] == '.' || b[j] == '$')
            {
                j += 1;
            }
            let name: String = b[start..j].iter().collect::<String>().to_ascii_lowercase();
            if sys {
                let name = name
                    .strip_prefix("session.")
                    .or_else(|| name.strip_prefix("global."))
                    .or_else(|| name.strip_prefix("local."))
                    .unwrap_or(&name)
                    .to_string();
                out.push(Token::SysVar(name));
            } else {
                out.push(Token::UserVar(name));
            }
            i = j;
        } else if c.is_ascii_digit() {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == '.') {
                j += 1;
            }
            out.push(Token::Number(b[i..j].iter().collect()));
            i = j;
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let mut j = i;
            while j < b.len() && (b[j].is_alphanumeric() || b[j] == '_' || b[j] == '$') {
                j += 1;
            }
            out.push(Token::Word(
                b[i..j].iter().collect::<String>().to_ascii_uppercase(),
            ));
            i = j;
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
        if out.len() > before {
            spelled.push(b[start..i].iter().collect());
        }
    }
    Ok((out, spelled))
}

/// A quoted string starting at `b[i]`; doubled quotes and backslash
/// escapes are undone. Returns the value and the index after it.
fn quoted(b: &[char], i: usize) -> Result<(String, usize), ParseError> {
    let q = b[i];
    let mut v = String::new();
    let mut j = i + 1;
    while j < b.len() {
        let c = b[j];
        if c == '\\' && q != '`' {
            if let Some(&n) = b.get(j + 1) {
                v.push(match n {
                    'n' => '\n',
                    't' => '\t',
                    '0' => '\0',
                    other => other,
                });
                j += 2;
                continue;
            }
        }
        if c == q {
            if b.get(j + 1) == Some(&q) {
                v.push(q);
                j += 2;
                continue;
            }
            return Ok((v, j + 1));
        }
        v.push(c);
        j += 1;
    }
    Err(ParseError::UnterminatedString)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_upper_cased_and_values_kept() {
        let s = Statement::parse("  set server '127.0.0.1:3306' offline ; ").unwrap();
        assert!(s.starts_with(&["SET", "SERVER"]));
        assert_eq!(s.value(2), Some("127.0.0.1:3306"));
        assert_eq!(s.word(3), Some("OFFLINE"));
        assert_eq!(s.text, "set server '127.0.0.1:3306' offline");
    }

    #[test]
    fn comments_and_variables() {
        let s = Statement::parse("/* x */ select @@session.Version_Comment limit 1 -- y").unwrap();
        assert_eq!(
            s.tokens,
            vec![
                Token::Word("SELECT".into()),
                Token::SysVar("version_comment".into()),
                Token::Word("LIMIT".into()),
                Token::Number("1".into()),
            ]
        );
        assert!(Statement::parse("SHOW /* open").is_err());
        assert!(Statement::parse("SET SERVER 'a").is_err());
    }

    #[test]
    fn quotes_escape() {
        let s = Statement::parse(r#"x 'it''s' "a\"b" `c``d`"#).unwrap();
        assert_eq!(s.value(1), Some("it's"));
        assert_eq!(s.value(2), Some("a\"b"));
        assert_eq!(s.value(3), Some("c`d"));
    }

    #[test]
    fn words_keep_their_spelling() {
        let s = Statement::parse("select 1 as MyCol, 'a' /* c */ As `q`").unwrap();
        assert_eq!(s.tokens.len(), s.spelled.len());
        assert_eq!(s.word(3), Some("MYCOL"));
        assert_eq!(s.original(3), Some("MyCol"));
        assert_eq!(s.original(0), Some("select"));
        assert_eq!(s.original(7), Some("q"));
    }
}
