//! protocol
pub mod auth;
