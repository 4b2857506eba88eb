//! sqlyard: a MySQL-protocol router.
pub mod backend;
pub mod config;
pub mod frontend;
pub mod protocol;
pub mod router;
pub mod sandbox;
pub mod server;
pub mod topology;
