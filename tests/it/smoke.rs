//! First end-to-end check: a real client through sqlyard to real MariaDB.
use crate::common;

use mysql_async::prelude::*;

#[tokio::test]
async fn select_through_router_matches_direct() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let mut c = router.conn().await;
    let via: Vec<(u32, String)> = c.query("SELECT @@server_id, @@version").await.unwrap();
    let mut d = common::direct(topo).await;
    let direct: Vec<(u32, String)> = d.query("SELECT @@server_id, @@version").await.unwrap();
    assert_eq!(via, direct);
    drop(c);
    router.stop().await;
}
