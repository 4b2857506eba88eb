//! Failover (placeholder; the lead replaces this file).
pub mod candidate;
pub mod errant;
