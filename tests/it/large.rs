//! Big values must cross sqlyard intact: a 20 MiB BLOB sent as a statement
//! parameter and read back, protocol packets larger than 16 MiB (which are
//! split into several wire packets) in both directions and exactly at the
//! split boundaries, and LOAD DATA LOCAL INFILE uploads.
use crate::common;

use std::io::Write as _;

use mysql_async::prelude::*;
use mysql_async::{Conn, WhiteListFsHandler};
use sha2::{Digest, Sha256};

const MAX_PAYLOAD: usize = 0xff_ffff;

/// Deterministic pseudo-random bytes (xorshift), every byte value included.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Printable text without quotes or backslashes, safe inside '...'.
fn text_of(len: usize) -> String {
    (0..len)
        .map(|i| (b'a' + (i * 7 % 26) as u8) as char)
        .collect()
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[tokio::test]
async fn blob_of_20_mib_round_trips() {
    let topo = common::topology().await;
    let db = common::fresh_db(topo, "large_blob").await;
    let router = common::Router::start(topo, "").await;
    let mut c = Conn::new(router.opts().db_name(Some(&db))).await.unwrap();
    c.query_drop("CREATE TABLE b (id INT PRIMARY KEY, data LONGBLOB)")
        .await
        .unwrap();
    let data = noise(20 << 20, 0x5eed);
    let want = sha_hex(&data);
    c.exec_drop("INSERT INTO b VALUES (?, ?)", (1, data.clone()))
        .await
        .unwrap();
    // what the server stored
    let on_server: Option<(u64, String)> = c
        .query_first("SELECT LENGTH(data), SHA2(data, 256) FROM b WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(
        on_server,
        Some((data.len() as u64, want.clone())),
        "stored intact"
    );
    // read back, text protocol (a row packet > 16 MiB)
    let back: Option<Vec<u8>> = c
        .query_first("SELECT data FROM b WHERE id = 1")
        .await
        .unwrap();
    let back = back.unwrap();
    assert_eq!(back.len(), data.len());
    assert_eq!(sha_hex(&back), want, "text protocol read back");
    // read back, binary protocol
    let back: Option<Vec<u8>> = c
        .exec_first("SELECT data FROM b WHERE id = ?", (1,))
        .await
        .unwrap();
    assert_eq!(sha_hex(&back.unwrap()), want, "binary protocol read back");
    // the session is fine afterwards
    let one: Option<i64> = c.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    drop(c);
    router.stop().await;
}

#[tokio::test]
async fn packets_over_16_mib_in_both_directions() {
    let topo = common::topology().await;
    let db = common::fresh_db(topo, "large_packets").await;
    let router = common::Router::start(topo, "").await;
    let mut c = Conn::new(router.opts().db_name(Some(&db))).await.unwrap();
    // COM_QUERY payload = 1 + len("SELECT '" + s + "'") = 10 + n;
    // a text row with one value of n (2^16 <= n < 2^24) bytes = 4 + n.
    let sizes = [
        ("query payload exactly 16 MiB - 1", MAX_PAYLOAD - 10),
        ("row payload exactly 16 MiB - 1", MAX_PAYLOAD - 4),
        ("query payload one byte over", MAX_PAYLOAD - 9),
        (
            "query payload exactly twice 16 MiB - 1",
            2 * MAX_PAYLOAD - 10,
        ),
        ("17 MiB", 17 << 20),
    ];
    for (what, n) in sizes {
        let s = text_of(n);
        let back: Option<String> = c.query_first(format!("SELECT '{s}'")).await.unwrap();
        let back = back.unwrap_or_default();
        assert_eq!(back.len(), n, "{what}: length");
        assert!(back == s, "{what}: content differs");
    }
    // binary protocol: a row of header + NULL bitmap + 4-byte length + n
    for (what, n) in [
        ("binary row payload exactly 16 MiB - 1", MAX_PAYLOAD - 6),
        ("binary row 17 MiB", 17 << 20),
    ] {
        let s = text_of(n);
        let back: Option<String> = c.exec_first("SELECT ?", (s.clone(),)).await.unwrap();
        assert!(
            back.as_deref() == Some(s.as_str()),
            "{what}: content differs"
        );
    }
    // a large INSERT statement (hex literal) and large result
    c.query_drop("CREATE TABLE big (id INT PRIMARY KEY, data LONGBLOB)")
        .await
        .unwrap();
    let data = noise(9 << 20, 42);
    c.query_drop(format!(
        "INSERT INTO big VALUES (1, X'{}')",
        hex::encode(&data)
    ))
    .await
    .unwrap();
    let back: Option<Vec<u8>> = c.query_first("SELECT data FROM big").await.unwrap();
    assert_eq!(sha_hex(&back.unwrap()), sha_hex(&data), "18 MiB INSERT");
    // several large rows in one result set, and a multi-statement answer
    let mut r = c
        .query_iter(
            "SELECT data FROM big UNION ALL SELECT data FROM big; SELECT LENGTH(data) FROM big",
        )
        .await
        .unwrap();
    let rows: Vec<Vec<u8>> = r.collect().await.unwrap();
    let lens: Vec<u64> = r.collect().await.unwrap();
    drop(r);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|b| b == &data));
    assert_eq!(lens, vec![data.len() as u64]);
    drop(c);
    router.stop().await;
}

#[tokio::test]
async fn load_data_local_infile() {
    let topo = common::topology().await;
    let db = common::fresh_db(topo, "large_infile").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.tsv");
    let rows = 100_000;
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 1..=rows {
            match i {
                7 => writeln!(f, "{i}\temoji 😀 ñ\t{i}").unwrap(),
                8 => writeln!(f, "{i}\t\\N\t\\N").unwrap(),
                9 => writeln!(f, "{i}\ttab\\tinside\t{i}").unwrap(),
                _ => writeln!(f, "{i}\tname-{i}\t{i}").unwrap(),
            }
        }
    }
    let empty = dir.path().join("empty.tsv");
    std::fs::write(&empty, b"").unwrap();
    let handler = WhiteListFsHandler::new([path.clone(), empty.clone()]);
    let router = common::Router::start(topo, "[pool]\nmax_size = 2\n").await;
    let mut c = Conn::new(
        router
            .opts()
            .db_name(Some(&db))
            .local_infile_handler(Some(handler.clone())),
    )
    .await
    .unwrap();
    let mut d = Conn::new(
        common::app_opts(topo.primary().port())
            .db_name(Some(&db))
            .local_infile_handler(Some(handler)),
    )
    .await
    .unwrap();
    for t in ["via", "direct"] {
        c.query_drop(format!(
            "CREATE TABLE li_{t} (id INT PRIMARY KEY, name VARCHAR(50) CHARACTER SET utf8mb4, num BIGINT)"
        ))
        .await
        .unwrap();
    }
    let load = |t: &str| {
        format!(
            "LOAD DATA LOCAL INFILE '{}' INTO TABLE li_{t} CHARACTER SET utf8mb4 (id, name, num)",
            path.display()
        )
    };
    c.query_drop(load("via")).await.unwrap();
    let (via_rows, via_info) = (c.affected_rows(), c.info().into_owned());
    d.query_drop(load("direct")).await.unwrap();
    let (direct_rows, direct_info) = (d.affected_rows(), d.info().into_owned());
    assert_eq!(via_rows, rows as u64, "rows loaded through sqlyard");
    assert_eq!(
        (via_rows, via_info),
        (direct_rows, direct_info),
        "LOAD DATA answer (sqlyard vs direct)"
    );
    let stats: Option<(i64, Option<i64>, i64)> = c
        .query_first("SELECT COUNT(*), SUM(num), COUNT(name) FROM li_via")
        .await
        .unwrap();
    let n = rows as i64;
    assert_eq!(stats, Some((n, Some(n * (n + 1) / 2 - 8), n - 1)));
    let special: Vec<(i32, Option<String>, Option<i64>)> = c
        .query("SELECT id, name, num FROM li_via WHERE id IN (7, 8, 9) ORDER BY id")
        .await
        .unwrap();
    assert_eq!(
        special,
        vec![
            (7, Some("emoji 😀 ñ".to_string()), Some(7)),
            (8, None, None),
            (9, Some("tab\tinside".to_string()), Some(9)),
        ]
    );
    // same content as the direct load
    let diff: Option<i64> = c
        .query_first(
            "SELECT COUNT(*) FROM li_via v JOIN li_direct d USING (id) \
             WHERE NOT (v.name <=> d.name AND v.num <=> d.num)",
        )
        .await
        .unwrap();
    assert_eq!(diff, Some(0));
    // an empty file loads nothing and the session goes on
    c.query_drop(format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE li_via",
        empty.display()
    ))
    .await
    .unwrap();
    assert_eq!(c.affected_rows(), 0, "empty upload");
    let still: Option<i64> = c.query_first("SELECT COUNT(*) FROM li_via").await.unwrap();
    assert_eq!(
        still,
        Some(n),
        "after an empty upload the session still works"
    );
    drop((c, d));
    router.stop().await;
}
