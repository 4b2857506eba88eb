//! Where a statement runs, and why.
//!
//! Problem: every statement must reach a server that can answer it
//! correctly. [`classify`] reads what matters from the SQL text with a fast
//! lexer (no full parse on the hot path); [`route`] turns that and the
//! session's state into a decision with a reason: writes, transactions
//! and session-bound statements to the primary, autocommit reads to a
//! replica that qualifies ([`replicas`], [`balance`], [`consistency`]).

pub mod balance;
pub mod classify;
pub mod consistency;
pub mod digest;
pub mod lexing;
pub mod record;
pub mod replicas;
pub mod route;

pub use classify::{classify, classify_in, parse_kill, Class, Effects, Hint, Kill, Kind};
pub use lexing::{Lexing, Multibyte};
pub use record::QueryRecord;
pub use route::{route, Route, RouteContext, RouteReason, Target};
