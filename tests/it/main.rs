//! sqlyard's integration tests, in one test binary: one module per area
//! (each was a test binary of its own), run against real MariaDB servers
//! started by `sqlyard::sandbox` and real clients (the mariadb CLI, PHP,
//! Python, WordPress). The helpers they share are in `support/`.

mod support;

use support::{
    answers, capi_client, common, etcd, failover_support, fault_proxy, load, procs, raw,
    router_process, sysbench, writable,
};

mod admin;
mod auth_and_failures;
mod backups;
mod bad_input;
mod capi;
mod check_config;
mod cli_client;
mod cluster_failover;
mod commands;
mod errors_pass_through;
mod etcd_cluster;
mod explain_route;
mod failover;
mod failover_actions;
mod failover_safety;
mod kill;
mod lag;
mod large;
mod lexing;
mod memory;
mod metrics;
mod multiplexing;
mod ops_examples;
mod packet_limit;
mod php_clients;
mod prepared;
mod prepared_limits;
mod python_client;
mod read_your_writes;
mod rebuilds;
mod reload;
mod results_match_direct;
mod routing;
mod sandbox_topology;
mod server_limits;
mod sessions;
mod shutdown;
mod single_writer;
mod smoke;
mod tls;
mod topology_monitor;
mod vip;
mod wordpress;
