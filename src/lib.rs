//! sqlyard: a MySQL-protocol router.
pub mod accept;
pub mod admin;
pub mod app;
pub mod backend;
pub mod cluster;
pub mod config;
pub mod control;
pub mod control_cluster;
pub mod failover;
pub mod frontend;
pub mod metrics;
pub mod protocol;
pub mod router;
pub mod sandbox;
pub mod server;
pub mod tls;
pub mod topology;
