//! Problem: an error must say who caused it and whether the statement it
//! ended may be sent again, so that logs point at the right party and
//! retry decisions are made in one place, not guessed per call site.
//! (pingora's error source and retry type are the model.)

use std::fmt;

/// Who caused an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The client sent something wrong, went away, or was refused.
    Client,
    /// A database server refused, answered with an error, or failed.
    Server,
    /// sqlyard itself (its limits, its state, an operator's command).
    Sqlyard,
}

/// Whether the statement an error ended may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Nothing reached a server: sending it again cannot run it twice.
    Safe,
    /// It may have run: only the client, who knows what it did, may decide.
    Unsafe,
    /// Sending it again gives the same error.
    Pointless,
}

impl Origin {
    pub const ALL: [Origin; 3] = [Origin::Client, Origin::Server, Origin::Sqlyard];

    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::Client => "client",
            Origin::Server => "server",
            Origin::Sqlyard => "sqlyard",
        }
    }
}

impl Retry {
    pub fn as_str(&self) -> &'static str {
        match self {
            Retry::Safe => "safe",
            Retry::Unsafe => "unsafe",
            Retry::Pointless => "pointless",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
