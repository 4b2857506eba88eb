//! The admin command families, one file each. A family's `handle` looks at
//! a tokenized statement and, if it is one of its commands, returns the
//! future that runs it; `USAGE` lists the syntax it accepts.

use std::future::Future;
use std::pin::Pin;

use super::error::AdminError;
use super::reply::Reply;

pub mod backups;
pub mod client_queries;
pub mod clients;
pub mod config;
pub mod digest;
pub mod explain;
pub mod failover;
pub mod help;
pub mod pools;
pub mod routers;
pub mod servers;
pub mod stats;
pub mod topology;

/// A command being run.
pub type Pending<'a> = Pin<Box<dyn Future<Output = Result<Reply, AdminError>> + Send + 'a>>;

/// A command that needs no waiting.
pub fn ready<'a>(r: Result<Reply, AdminError>) -> Option<Pending<'a>> {
    Some(Box::pin(std::future::ready(r)))
}
