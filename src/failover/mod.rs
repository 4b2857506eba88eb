//! Failover and switchover: the server-side actions they are built from (placeholder; the lead replaces this file).
pub mod actions;
pub mod error;
pub mod sql;
