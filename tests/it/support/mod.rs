//! Helpers of the integration tests.

pub mod answers;
pub mod capi_client;
pub mod common;
pub mod etcd;
pub mod failover_support;
pub mod fault_proxy;
pub mod load;
pub mod procs;
pub mod raw;
pub mod router_process;
pub mod sysbench;
pub mod topologies;
pub mod writable;
