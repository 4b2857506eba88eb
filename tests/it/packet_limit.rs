//! A client packet larger than the servers take (`max_allowed_packet`,
//! read by the monitor) is refused by sqlyard with ERR 1153 before it is
//! buffered or forwarded: the servers' own `Bytes_received` shows it never
//! reached them.
use crate::common;

use std::time::Duration;

use mysql_async::prelude::*;
use sqlyard::sandbox::Topology;

use crate::support::raw::{parse_err, RawConn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_over_max_allowed_packet_are_refused_before_the_servers() {
    let own = common::own_topology().await;
    let topo: &Topology = &own;
    for node in topo.nodes() {
        let mut c = node.root_conn().await.expect("root connection");
        c.query_drop("SET GLOBAL max_allowed_packet = 1048576")
            .await
            .unwrap();
        c.disconnect().await.ok();
    }
    let r = common::Router::start(topo, "").await;
    // the monitor's next polls read the new value
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut small = r.conn().await;
    let before = common::bytes_received(topo).await;
    // A raw client: mysql_async would refuse to send it itself.
    let mut c = RawConn::connect(r.port, "app", "app_pw", None, 0)
        .await
        .expect("raw login");
    let mut big = vec![0x03];
    big.extend_from_slice(format!("SELECT LENGTH('{}')", "x".repeat(3 << 20)).as_bytes());
    c.send_command(&big).await;
    let err = parse_err(&c.read_packet().await);
    assert_eq!(err.code, 1153, "{err:?}");
    assert!(err.message.starts_with("sqlyard:"), "{}", err.message);
    let after = common::bytes_received(topo).await;
    assert!(
        after - before < 1 << 20,
        "the servers received {} bytes: the packet reached them",
        after - before
    );
    // other sessions go on; a packet under the limit still runs
    let n: Option<u64> = small
        .query_first(format!("SELECT LENGTH('{}')", "y".repeat(512 << 10)))
        .await
        .unwrap();
    assert_eq!(n, Some(512 << 10));
    small.disconnect().await.unwrap();
    r.stop().await;
}
