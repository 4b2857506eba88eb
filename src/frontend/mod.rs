//! Client sessions.
//!
//! Problem: applications connect to sqlyard as if it were their MySQL
//! server. This module accepts them ([`listener`]), authenticates them
//! ([`auth`]), and runs one task per client ([`session`]) that reads a
//! request, decides where it runs, borrows a backend connection for just
//! that statement (or transaction), and streams the answer back. The
//! client's session state lives here ([`state`]), not on the backend.

pub mod auth;
pub mod binding;
pub mod commands;
pub mod error;
pub mod kill;
pub mod listener;
pub mod observe;
pub mod placement;
pub mod query;
pub mod session;
pub mod state;
pub mod stmt;

pub use error::SessionError;
pub use listener::Listener;
