//! Statements are read the way the server reads them. Under
//! `NO_BACKSLASH_ESCAPES`, and in a character set whose second bytes can be
//! a backslash (sjis), `SELECT '…'; INSERT …; -- '` is a read followed by a
//! write; read the default way it is one read, which a replica refuses
//! (ERR 1290) or, for a user allowed to write there, takes as an errant
//! transaction. Checked on the servers: the rows are on the primary, and
//! no replica wrote anything of its own.
use crate::common;

use std::time::Duration;

use common::Router;
use mysql_async::prelude::*;
use sqlyard::sandbox::Topology;

/// `@@gtid_binlog_pos` of every server, by server id.
async fn positions(topo: &Topology) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for i in 0..3 {
        let node = topo.node(i).expect("node");
        let mut c = mysql_async::Conn::new(common::app_opts(node.port()))
            .await
            .expect("direct connect");
        let pos: Option<String> = c.query_first("SELECT @@gtid_binlog_pos").await.unwrap();
        out.push((node.server_id(), pos.unwrap_or_default()));
        c.disconnect().await.unwrap();
    }
    out
}

/// GTIDs in `pos` written by `server_id` itself (`domain-server-seq`).
fn own(pos: &str, server_id: u32) -> Vec<String> {
    pos.split(',')
        .map(str::trim)
        .filter(|g| g.split('-').nth(1) == Some(&server_id.to_string()))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_hidden_by_the_default_reading_of_quotes_reaches_the_primary() {
    let topo = common::topology().await;
    let db = common::fresh_db(topo, "lexing_quotes").await;
    let r = Router::start(topo, "").await;
    r.wait_eligible(2, Duration::from_secs(30)).await;
    let mut c = r.conn().await;
    c.query_drop(format!("CREATE TABLE `{db}`.t (a INT)"))
        .await
        .unwrap();
    let primary_id = topo.primary().server_id();
    let replica_ids: Vec<u32> = topo
        .replica_indexes()
        .into_iter()
        .map(|i| topo.node(i).unwrap().server_id())
        .collect();
    let before = positions(topo).await;

    // NO_BACKSLASH_ESCAPES, set by the session
    c.query_drop("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
        .await
        .unwrap();
    let sql = format!("SELECT 'x\\'; INSERT INTO `{db}`.t VALUES (1); -- '");
    c.query_drop(sql)
        .await
        .expect("the INSERT runs on the primary");
    // a plain read of that session still goes to a replica
    let served: u32 = c.query_first("SELECT @@server_id").await.unwrap().unwrap();
    assert!(
        replica_ids.contains(&served),
        "reads still go to the replicas (served by {served})"
    );

    // sjis: 0x95 0x5C is one character, and the quote after it ends the string
    let mut k = r.conn().await;
    k.query_drop("SET NAMES sjis").await.unwrap();
    let mut sql = b"SELECT '\x95\x5c'; INSERT INTO `".to_vec();
    sql.extend_from_slice(db.as_bytes());
    sql.extend_from_slice(b"`.t VALUES (2); -- '");
    k.query_drop(&sql[..])
        .await
        .expect("the INSERT of the sjis session runs on the primary");

    let mut d = common::direct(topo).await;
    let rows: Vec<u32> = d
        .query(format!("SELECT a FROM `{db}`.t ORDER BY a"))
        .await
        .unwrap();
    assert_eq!(rows, vec![1, 2], "both rows are on the primary");
    let after = positions(topo).await;
    for ((id, pos), (_, was)) in after.iter().zip(&before) {
        if *id == primary_id {
            continue;
        }
        assert_eq!(
            own(pos, *id),
            own(was, *id),
            "replica {id} wrote nothing of its own"
        );
    }
    c.disconnect().await.unwrap();
    k.disconnect().await.unwrap();
    d.disconnect().await.unwrap();
    r.stop().await;
}
