//! Admin SQL.
//!
//! Problem: operators drive sqlyard with the `mysql`/`mariadb` client they
//! already have, on a port of its own with its own credentials, the way
//! they drive ProxySQL. This module serves that port: [`listener`] accepts,
//! [`session`] logs the operator in and reads statements, [`parse`] splits
//! a statement into words, [`dispatch`] hands it to the command family
//! that knows it (one file per family under [`commands`]), and [`reply`]
//! turns the answer into MySQL result sets or OK packets. Errors become ERR
//! packets in one place ([`error`]).
//!
//! Adding a command: write (or extend) a file in `commands/` with a
//! `handle(&Control, &Statement) -> Option<Result<Reply, AdminError>>`
//! function and a `USAGE` list, and add it to `dispatch::FAMILIES`.

pub mod commands;
pub mod dispatch;
pub mod error;
pub mod listener;
pub mod parse;
pub mod reply;
pub mod session;

pub use error::AdminError;
pub use listener::AdminListener;
pub use parse::Statement;
pub use reply::{Column, Reply, ResultSet};
