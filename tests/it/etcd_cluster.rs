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

/// Kills the etcd it holds when dropped (also when the test fails).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `[cluster]`'s TLS options against a real etcd that serves TLS and asks
/// for client certificates: with `etcd_ca`, `etcd_cert` and `etcd_key`
/// the store writes and reads; without the client certificate, or without
/// the CA, etcd is not reached.
#[tokio::test]
async fn the_cluster_store_talks_to_etcd_over_tls_with_a_client_certificate() {
    use sqlyard::cluster::store::Range;
    use sqlyard::config::ClusterConfig;
    use std::path::{Path, PathBuf};

    let dir = tempfile::tempdir().unwrap();
    let files = sqlyard::sandbox::TlsFiles::generate(dir.path()).unwrap();
    let port = sqlyard::sandbox::pick_free_port().unwrap();
    let peer = sqlyard::sandbox::pick_free_port().unwrap();
    let url = format!("https://127.0.0.1:{port}");
    let mut cmd = sqlyard::sandbox::etcd::member_command(
        Path::new("/usr/bin/etcd"),
        std::net::Ipv4Addr::LOCALHOST.into(),
        "tls0",
        &dir.path().join("data"),
        (port, peer),
        &format!("tls0=http://127.0.0.1:{peer}"),
        "sqlyard-tls-test",
    );
    // the last value of a repeated flag wins
    cmd.args(["--listen-client-urls", &url])
        .args(["--advertise-client-urls", &url])
        .arg("--cert-file")
        .arg(&files.server_cert)
        .arg("--key-file")
        .arg(&files.server_key)
        .arg("--client-cert-auth")
        .arg("--trusted-ca-file")
        .arg(&files.ca);
    let _etcd = Killed(sqlyard::sandbox::process::spawn_tied(cmd).expect("etcd starts"));
    let path = |p: &Path| Some(p.to_string_lossy().into_owned());
    let config = |ca: bool, client: bool| ClusterConfig {
        etcd_endpoints: vec![url.clone()],
        name: "tls".into(),
        etcd_ca: if ca { path(&files.ca) } else { None },
        etcd_cert: if client {
            path(&files.client_cert)
        } else {
            None
        },
        etcd_key: if client {
            path(&files.client_key)
        } else {
            None
        },
        ..Default::default()
    };
    let store =
        sqlyard::cluster::etcd_store(&config(true, true), |p: &str| PathBuf::from(p)).unwrap();
    let t0 = std::time::Instant::now();
    loop {
        match store
            .put("/sqlyard/tls/k".into(), b"over tls".to_vec(), None)
            .await
        {
            Ok(()) => break,
            Err(e) => assert!(
                t0.elapsed() < Duration::from_secs(30),
                "no write to etcd over TLS: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = store
        .read(vec![Range::key("/sqlyard/tls/k")])
        .await
        .unwrap();
    assert_eq!(
        got[0].first().map(|kv| kv.value.as_slice()),
        Some(&b"over tls"[..])
    );

    for (what, ca, client) in [
        ("no client certificate", true, false),
        ("no CA", false, true),
    ] {
        let store =
            sqlyard::cluster::etcd_store(&config(ca, client), |p: &str| PathBuf::from(p)).unwrap();
        let r = store.read(vec![Range::key("/sqlyard/tls/k")]).await;
        assert!(r.is_err(), "{what}: etcd answered {r:?}");
    }
}
