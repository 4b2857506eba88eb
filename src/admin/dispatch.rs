//! Problem: each admin statement must reach the one command family that
//! knows it, and a statement no family knows must get an error listing
//! everything that is accepted. The list of families is here, in one
//! place; each family matches its own statements.

use super::commands;
use super::error::AdminError;
use super::parse::Statement;
use super::reply::Reply;
use crate::control::Control;

/// A command family: returns `None` when the statement is not one of its
/// commands.
pub type Handler = for<'a> fn(&'a Control, &'a Statement) -> Option<commands::Pending<'a>>;

/// The families, in the order they are tried; `USAGE` lists their syntax.
pub const FAMILIES: &[(Handler, &[&str])] = &[
    (commands::servers::handle, commands::servers::USAGE),
    (commands::topology::handle, commands::topology::USAGE),
    (commands::pools::handle, commands::pools::USAGE),
    (commands::clients::handle, commands::clients::USAGE),
    (commands::stats::handle, commands::stats::USAGE),
    (commands::config::handle, commands::config::USAGE),
    (commands::digest::handle, commands::digest::USAGE),
    (commands::explain::handle, commands::explain::USAGE),
    (commands::failover::handle, commands::failover::USAGE),
    (commands::routers::handle, commands::routers::USAGE),
    (commands::backups::handle, commands::backups::USAGE),
    (commands::help::handle, commands::help::USAGE),
    (
        commands::client_queries::handle,
        commands::client_queries::USAGE,
    ),
];

/// Parses and runs one admin statement.
pub async fn run(control: &Control, sql: &str) -> Result<Reply, AdminError> {
    let stmt = Statement::parse(sql)?;
    for (handler, _) in FAMILIES {
        if let Some(pending) = handler(control, &stmt) {
            return pending.await;
        }
    }
    Err(AdminError::Unknown {
        got: shorten(&stmt.text),
        accepted: accepted(),
    })
}

/// Every accepted command, for error messages and `HELP`.
pub fn accepted() -> String {
    FAMILIES
        .iter()
        .flat_map(|(_, usage)| usage.iter().copied())
        .filter(|u| !u.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leading keywords of a usage line (`SET SERVER` of
    /// `SET SERVER '<host:port>' OFFLINE | ONLINE | DRAIN`).
    fn keywords(usage: &str) -> String {
        usage
            .split(' ')
            .take_while(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Every command the admin port accepts is in the README's table.
    #[test]
    fn readme_lists_every_command() {
        let readme = include_str!("../../README.md");
        let mut missing = Vec::new();
        for usage in FAMILIES.iter().flat_map(|(_, u)| u.iter()) {
            let k = keywords(usage);
            assert!(!k.is_empty(), "{usage}");
            if !readme.contains(&format!("`{k}")) {
                missing.push(k);
            }
        }
        assert!(missing.is_empty(), "not in the README: {missing:?}");
        for c in [
            "SHOW FAILOVERS",
            "SWITCHOVER",
            "FAILOVER",
            "SET AUTOFAILOVER",
        ] {
            assert!(accepted().contains(c), "{c} in {}", accepted());
        }
    }
}
