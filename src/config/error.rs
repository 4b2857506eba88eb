//! A config mistake must be fixable without guessing, so every error names
//! the file, the line and column, and the reason:
//! `examples/sqlyard.toml:12:1: unknown field `listne`, expected ...`.
//! [`ConfigError`] is the config layer's one error type; [`Problem`] lists
//! the checks made after parsing.

use std::fmt;
use std::path::PathBuf;

/// A position in the config file (1-based line, 1-based column in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text`. Offsets past the end, or
    /// inside a character, are moved back to the nearest valid position.
    pub fn from_offset(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One step of a key path: a table key or an index into an array of tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Key(&'static str),
    Index(usize),
}

/// The path of a key, e.g. `servers[2].weight`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    /// The path of a key: `KeyPath::key("router").then("listen")`.
    pub fn key(name: &'static str) -> KeyPath {
        KeyPath(vec![Segment::Key(name)])
    }

    /// This path extended by a key.
    pub fn then(mut self, name: &'static str) -> KeyPath {
        self.0.push(Segment::Key(name));
        self
    }

    /// This path extended by an array index.
    pub fn at(mut self, index: usize) -> KeyPath {
        self.0.push(Segment::Index(index));
        self
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Why an address is not `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("missing `:port`")]
    MissingPort,
    #[error("empty host")]
    EmptyHost,
    #[error("port `{0}` is not a number from 1 to 65535")]
    BadPort(String),
    #[error("host `{0}` is not an IPv4 address or a host name")]
    BadHost(String),
    #[error("`{0}` is not an IPv6 address")]
    BadIpv6(String),
    #[error("IPv6 addresses must be written in brackets, e.g. `[::1]:3306`")]
    UnbracketedIpv6,
}

/// A check that failed after the file parsed. The key it concerns is
/// printed before the message (see [`Issue`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("is required")]
    Required,
    #[error("is required when failover.enabled = true")]
    RequiredForFailover,
    #[error("must not be empty")]
    Empty,
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error("must be at least {min}")]
    TooSmall { min: u64 },
    #[error("must be at most {max}")]
    TooLarge { max: u64 },
    #[error("must not exceed {other} ({max})")]
    AboveOther { other: String, max: u64 },
    #[error("`{value}` is not a valid host:port address: {reason}")]
    BadAddress { value: String, reason: AddressError },
    #[error("duplicates {other} (`{value}`)")]
    Duplicate { other: String, value: String },
    #[error("`{name}` is also the name of {other}; the admin account must be separate")]
    AdminIsAppUser { name: String, other: String },
    #[error("needs at least one [[{0}]] entry")]
    NoEntries(&'static str),
    #[error("`{0}` must be 1 to 64 characters from A-Z, a-z, 0-9 and _")]
    BadSchemaName(String),
    #[error("must start with `{0}`")]
    MustStartWith(&'static str),
    #[error("lists `{0}` twice")]
    Repeated(&'static str),
    #[error("is required when {0}")]
    RequiredWhen(&'static str),
    #[error("needs {0}")]
    Needs(&'static str),
    #[error("`{value}` is not a valid URL: {reason}")]
    BadUrl { value: String, reason: &'static str },
    #[error("`{0}` must be 1 to 64 characters from A-Z, a-z, 0-9, `_`, `-` and `.` (instance: up to 128, no `/`)")]
    BadKeyName(String),
    #[error("cannot be set together with {0}")]
    Conflicts(&'static str),
    #[error("`{0}` is not a time of day: write HH:MM (24 h, UTC), e.g. \"03:30\"")]
    BadTimeOfDay(String),
    /// A file the key names cannot be used (the reason names the file).
    #[error("{0}")]
    Unusable(String),
}

/// One failed check, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub key: KeyPath,
    /// The key's line, or its table's when the key is missing; `None` when
    /// neither is in the file.
    pub location: Option<Location>,
    pub problem: Problem,
}

/// Errors of the config layer.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the config file: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or does not fit the config's shape
    /// (unknown key, wrong type, bad duration...).
    #[error("{}: {message}", At(path, *location))]
    Syntax {
        path: PathBuf,
        location: Option<Location>,
        message: String,
    },
    /// The file parsed but failed one or more checks (one line per issue).
    #[error("{}", Issues(path, issues))]
    Invalid { path: PathBuf, issues: Vec<Issue> },
}

impl ConfigError {
    /// The first location the error points at, if any.
    pub fn location(&self) -> Option<Location> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Syntax { location, .. } => *location,
            ConfigError::Invalid { issues, .. } => issues.iter().find_map(|i| i.location),
        }
    }
}

/// `file:line:col` or just `file`.
struct At<'a>(&'a PathBuf, Option<Location>);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(location) => write!(f, "{}:{location}", self.0.display()),
            None => write!(f, "{}", self.0.display()),
        }
    }
}

struct Issues<'a>(&'a PathBuf, &'a [Issue]);

impl fmt::Display for Issues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.1.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}: {} {}",
                At(self.0, issue.location),
                issue.key,
                issue.problem
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = 2\n\nc";
        assert_eq!(
            Location::from_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::from_offset(text, 6),
            Location { line: 2, column: 1 }
        );
        // 'é' is two bytes but one column.
        assert_eq!(
            Location::from_offset(text, 9),
            Location { line: 2, column: 3 }
        );
        // Inside 'é': moved back to its start.
        assert_eq!(
            Location::from_offset(text, 8),
            Location { line: 2, column: 2 }
        );
        assert_eq!(
            Location::from_offset(text, 999),
            Location { line: 4, column: 2 }
        );
    }

    #[test]
    fn key_paths_print_like_toml() {
        let p = KeyPath::key("servers").at(2).then("weight");
        assert_eq!(p.to_string(), "servers[2].weight");
    }

    #[test]
    fn invalid_lists_every_issue_with_its_place() {
        let err = ConfigError::Invalid {
            path: "x.toml".into(),
            issues: vec![
                Issue {
                    key: KeyPath::key("router").then("admin_password"),
                    location: Some(Location { line: 1, column: 1 }),
                    problem: Problem::Required,
                },
                Issue {
                    key: KeyPath::key("users"),
                    location: None,
                    problem: Problem::NoEntries("users"),
                },
            ],
        };
        assert_eq!(
            err.to_string(),
            "x.toml:1:1: router.admin_password is required\n\
             x.toml: users needs at least one [[users]] entry"
        );
        assert_eq!(err.location(), Some(Location { line: 1, column: 1 }));
    }
}
