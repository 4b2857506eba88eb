//! Several sqlyard instances will coordinate through etcd (issue 15). The
//! tests of that run on a real three-member etcd cluster started by the
//! test support (`support/etcd.rs`); this checks the support itself: the
//! cluster answers, keeps quorum with one member down, refuses writes with
//! two down, recovers when one returns, and leaves nothing behind.
use crate::etcd::EtcdCluster;

use std::time::Duration;

#[tokio::test]
async fn a_three_member_etcd_cluster_keeps_quorum_with_one_member_down() {
    let mut cluster = EtcdCluster::start(3).await;
    let dir = cluster.dir();
    let mut c = cluster.client().await.unwrap();
    c.put("/sqlyard-test/k", "v1", None).await.unwrap();
    cluster.stop_member(0);
    cluster
        .wait_writable(Duration::from_secs(30))
        .await
        .expect("two of three members keep a quorum");
    cluster.stop_member(1);
    assert!(
        cluster.wait_writable(Duration::from_secs(4)).await.is_err(),
        "one member of three accepted a write"
    );
    cluster.start_member(1);
    cluster
        .wait_writable(Duration::from_secs(30))
        .await
        .expect("a quorum again once a member returns");
    let mut c = cluster.client().await.unwrap();
    let got = c.get("/sqlyard-test/k", None).await.unwrap();
    let value = got.kvs().first().map(|kv| kv.value().to_vec());
    assert_eq!(value.as_deref(), Some(&b"v1"[..]));
    drop(c);
    drop(cluster);
    assert!(!dir.exists(), "{} is left behind", dir.display());
}
