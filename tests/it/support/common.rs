//! Test support: a router started in-process in front of a real sandbox
//! topology (MariaDB servers started by `sqlyard::sandbox`).

use std::path::Path;
use std::time::Duration;

use mysql_async::prelude::*;
use sqlyard::config::Config;
use sqlyard::sandbox::{pick_free_port, Topology};
use sqlyard::server::Server;

pub use super::topologies::{own_topology, start_topology, topology, OwnTopology, TopologySlots};

/// A router in front of a topology, listening on a free port.
pub struct Router {
    pub server: Server,
    pub port: u16,
}

impl Router {
    /// Starts a router for `topo`; `extra_toml` is appended to the config
    /// (e.g. "[pool]\nmax_size = 1\n").
    pub async fn start(topo: &Topology, extra_toml: &str) -> Router {
        let extra = extra_toml.to_string();
        Self::start_with(topo, true, move |text| {
            text.push('\n');
            text.push_str(&extra);
        })
        .await
    }

    /// Starts a router whose `[router]` section also has `keys` (TOML lines).
    pub async fn start_with_router_keys(topo: &Topology, keys: &str) -> Router {
        let keys = keys.to_string();
        Self::start_with(topo, true, move |text| {
            *text = text.replacen("[router]\n", &format!("[router]\n{}\n", keys.trim_end()), 1);
        })
        .await
    }

    /// Starts a router with a config edited by `edit` (the config text, as
    /// written for the topology); waits for a primary when `wait_ready`.
    pub async fn start_with(
        topo: &Topology,
        wait_ready: bool,
        edit: impl FnOnce(&mut String),
    ) -> Router {
        let port = pick_free_port().expect("free port");
        let admin = pick_free_port().expect("free port");
        let metrics = pick_free_port().expect("free port");
        let mut text = topo.router_config_toml(port, admin, metrics);
        edit(&mut text);
        let config =
            Config::from_toml_str(&text, Path::new("test-router.toml")).expect("valid test config");
        let server = Server::start(config).await.expect("router starts");
        if wait_ready {
            assert!(
                server.wait_ready(Duration::from_secs(30)).await,
                "router found a primary"
            );
        }
        Router { server, port }
    }

    /// mysql_async options for the app user through the router.
    pub fn opts(&self) -> mysql_async::OptsBuilder {
        app_opts(self.port)
    }

    pub async fn conn(&self) -> mysql_async::Conn {
        mysql_async::Conn::new(self.opts())
            .await
            .expect("connect through sqlyard")
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }

    /// How many replicas the router would send a read to now.
    pub fn eligible_replicas(&self) -> usize {
        let snap = self.server.ctx.topology.load();
        let cfg = self.server.ctx.config.load();
        sqlyard::router::replicas::candidates(&snap, &cfg)
            .iter()
            .filter(|c| c.verdict.is_ok())
            .count()
    }

    /// Waits until exactly `n` replicas are eligible for reads.
    pub async fn wait_eligible(&self, n: usize, within: Duration) {
        let t0 = std::time::Instant::now();
        while self.eligible_replicas() != n {
            assert!(
                t0.elapsed() < within,
                "{n} eligible replicas expected, {} now",
                self.eligible_replicas()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// mysql_async options for the app user on a port (router or server).
pub fn app_opts(port: u16) -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("app"))
        .pass(Some("app_pw"))
        .prefer_socket(false)
}

/// A direct connection to the topology's primary as the app user.
pub async fn direct(topo: &Topology) -> mysql_async::Conn {
    let port = topo.primary().port();
    mysql_async::Conn::new(app_opts(port))
        .await
        .expect("direct connect")
}

/// A connection to one server as sqlyard's monitor account (it may read
/// server-wide status and every session in the processlist).
pub async fn monitor_conn(port: u16) -> mysql_async::Conn {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("router"))
        .pass(Some("router_pw"));
    mysql_async::Conn::new(opts)
        .await
        .expect("monitor account connects")
}

/// `Bytes_received` summed over the servers (read as the monitor user).
pub async fn bytes_received(topo: &Topology) -> u64 {
    let mut total = 0;
    for node in topo.nodes() {
        let mut c = monitor_conn(node.port()).await;
        let v: Option<(String, u64)> = c
            .query_first("SHOW GLOBAL STATUS LIKE 'Bytes_received'")
            .await
            .expect("SHOW GLOBAL STATUS");
        total += v.map_or(0, |(_, n)| n);
        c.disconnect().await.ok();
    }
    total
}

/// Creates a database unique to a test, through a direct connection.
pub async fn fresh_db(topo: &Topology, name: &str) -> String {
    let mut c = direct(topo).await;
    c.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
        .await
        .expect("drop db");
    c.query_drop(format!("CREATE DATABASE `{name}`"))
        .await
        .expect("create db");
    name.to_string()
}

/// Two connections to `db` as the app user: through the router, and
/// directly to the primary.
pub async fn both(
    topo: &Topology,
    router: &Router,
    db: &str,
) -> (mysql_async::Conn, mysql_async::Conn) {
    let via = mysql_async::Conn::new(router.opts().db_name(Some(db)))
        .await
        .expect("connect through sqlyard");
    let direct = mysql_async::Conn::new(app_opts(topo.primary().port()).db_name(Some(db)))
        .await
        .expect("direct connect");
    (via, direct)
}

/// Waits until a statement containing `marker` runs on some server (with
/// the read/write split a read may run on a replica).
pub async fn wait_running(topo: &Topology, marker: &str) {
    // the pattern is split so this query does not match itself
    let (head, tail) = marker.split_at(marker.len() / 2);
    let sql = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE CONCAT('%', '{head}', '{tail}', '%')"
    );
    let t0 = std::time::Instant::now();
    loop {
        for node in topo.nodes() {
            let mut d = node.root_conn().await.expect("root connection");
            let n: Option<i64> = d.query_first(&sql).await.unwrap();
            d.disconnect().await.unwrap();
            if n.unwrap_or(0) > 0 {
                return;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{marker} never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `/metrics` of a router, by plain HTTP.
pub async fn scrape_metrics(router: &Router) -> String {
    scrape_metrics_at(router.server.metrics_addr()).await
}

/// `/metrics` at `addr` (a router in another process), by plain HTTP.
pub async fn scrape_metrics_at(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// The HTTP status of `path` on a router's metrics listener.
pub async fn http_status(router: &Router, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = router.server.metrics_addr();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    raw.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}
