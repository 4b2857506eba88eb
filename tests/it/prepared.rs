//! Prepared statements through sqlyard: prepare, execute and close; ids
//! that stay valid over many executions and interleaved statements; cursor
//! fetch (COM_STMT_FETCH); SQL-level PREPARE/EXECUTE; and the server's error
//! for an unknown statement id.
use crate::{common, raw};

use mysql_async::prelude::*;
use mysql_async::{Conn, Statement};
use raw::{RawConn, Response};

async fn setup(topo: &sqlyard::sandbox::Topology, db: &str) {
    common::fresh_db(topo, db).await;
    let mut d = common::direct(topo).await;
    d.query_drop(format!(
        "CREATE TABLE `{db}`.n (id BIGINT PRIMARY KEY, label VARCHAR(20))"
    ))
    .await
    .unwrap();
    let rows: Vec<String> = (1..=25).map(|i| format!("({i}, 'n{i}')")).collect();
    d.query_drop(format!("INSERT INTO `{db}`.n VALUES {}", rows.join(",")))
        .await
        .unwrap();
}

fn meta(s: &Statement) -> Vec<(String, u8, u16, u16)> {
    s.columns()
        .iter()
        .chain(s.params())
        .map(|c| {
            (
                c.name_str().into_owned(),
                c.column_type() as u8,
                c.flags().bits(),
                c.character_set(),
            )
        })
        .collect()
}

#[tokio::test]
async fn prepare_execute_close() {
    let topo = common::topology().await;
    let db = "ps_basic";
    setup(topo, db).await;
    let router = common::Router::start(topo, "[pool]\nmax_size = 2\n").await;
    let opts = router.opts().db_name(Some(db)).stmt_cache_size(0);
    let mut c = Conn::new(opts).await.unwrap();
    let mut other = Conn::new(router.opts().db_name(Some(db))).await.unwrap();
    let mut d = Conn::new(
        common::app_opts(topo.primary().port())
            .db_name(Some(db))
            .stmt_cache_size(0),
    )
    .await
    .unwrap();

    let sql = "SELECT id, label, ? + 1 AS next FROM n WHERE id = ?";
    let s = c.prep(sql).await.unwrap();
    let sd = d.prep(sql).await.unwrap();
    assert_eq!(s.num_params(), 2);
    assert_eq!(
        meta(&s),
        meta(&sd),
        "statement metadata (sqlyard vs direct)"
    );
    // many executions of one id, with another client busy in between
    for i in 1..=500i64 {
        let id = i % 25 + 1;
        let row: Option<(i64, String, i64)> = c.exec_first(&s, (i, id)).await.unwrap();
        assert_eq!(row, Some((id, format!("n{id}"), i + 1)), "execution {i}");
        if i % 50 == 0 {
            let _: Option<i64> = other.query_first("SELECT 1").await.unwrap();
        }
    }
    // several statements prepared at once, executed interleaved
    let stmts: Vec<Statement> = {
        let mut v = Vec::new();
        for k in 0..5 {
            v.push(
                c.prep(format!("SELECT ? * {k}, CONCAT('s{k}-', ?)"))
                    .await
                    .unwrap(),
            );
        }
        v
    };
    let ids: std::collections::BTreeSet<u32> = stmts.iter().map(|s| s.id()).collect();
    assert_eq!(ids.len(), 5, "distinct statement ids");
    for round in 0..40i64 {
        for (k, st) in stmts.iter().enumerate() {
            let got: Option<(i64, String)> = c.exec_first(st, (round, round)).await.unwrap();
            assert_eq!(got, Some((round * k as i64, format!("s{k}-{round}"))));
        }
    }
    // closing: the closed id is unknown afterwards, the others keep working
    let closed = stmts[0].clone();
    c.close(stmts[0].clone()).await.unwrap();
    let e = c.exec_drop(&closed, (1, 1)).await.unwrap_err();
    match e {
        mysql_async::Error::Server(e) => {
            assert_eq!(e.code, 1243, "{e:?}");
            assert!(e.message.contains(&format!("({})", closed.id())), "{e:?}");
        }
        other => panic!("executing a closed statement: {other:?}"),
    }
    let got: Option<(i64, String)> = c.exec_first(&stmts[1], (3, 3)).await.unwrap();
    assert_eq!(got, Some((3, "s1-3".to_string())));
    for st in stmts.into_iter().skip(1) {
        c.close(st).await.unwrap();
    }
    c.close(s).await.unwrap();
    // all closed: the session moves freely again and can prepare anew
    let s2 = c.prep("SELECT ?").await.unwrap();
    for i in 0..20i64 {
        let v: Option<i64> = c.exec_first(&s2, (i,)).await.unwrap();
        assert_eq!(v, Some(i));
    }
    c.close(s2).await.unwrap();
    drop((c, other));
    router.stop().await;
}

/// mysql_async's default statement cache keeps statements open; executions
/// through it must work from many clients on a pool smaller than the number
/// of clients (so statements run on connections that did not prepare them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_statements_from_many_clients() {
    let topo = common::topology().await;
    let db = "ps_cached";
    setup(topo, db).await;
    let router =
        common::Router::start(topo, "[pool]\nmax_size = 3\ncheckout_timeout = \"20s\"\n").await;
    let mut tasks = Vec::new();
    for client in 0..10i64 {
        let opts = router.opts().db_name(Some(db));
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::new(opts).await.unwrap();
            for i in 0..100i64 {
                let v: Option<(i64, String)> = c
                    .exec_first(
                        "SELECT ? + id, label FROM n WHERE id = ?",
                        (client, i % 25 + 1),
                    )
                    .await
                    .unwrap();
                assert_eq!(v, Some((client + i % 25 + 1, format!("n{}", i % 25 + 1))));
            }
            c.disconnect().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    router.stop().await;
}

/// Two sessions on one backend connection, each with its own statements
/// (same and different SQL), executed alternately.
#[tokio::test]
async fn statements_of_sessions_sharing_one_connection() {
    let topo = common::topology().await;
    let db = "ps_shared";
    setup(topo, db).await;
    let router =
        common::Router::start(topo, "[pool]\nmax_size = 1\ncheckout_timeout = \"10s\"\n").await;
    let mut a = Conn::new(router.opts().db_name(Some(db)).stmt_cache_size(0))
        .await
        .unwrap();
    let mut b = Conn::new(router.opts().db_name(Some(db)).stmt_cache_size(0))
        .await
        .unwrap();
    let sa = a.prep("SELECT 'A', ? + 0").await.unwrap();
    let sb = b.prep("SELECT 'B', ? + 0").await.unwrap();
    let shared_a = a.prep("SELECT label FROM n WHERE id = ?").await.unwrap();
    let shared_b = b.prep("SELECT label FROM n WHERE id = ?").await.unwrap();
    for i in 0..50i64 {
        let va: Option<(String, i64)> = a.exec_first(&sa, (i,)).await.unwrap();
        let vb: Option<(String, i64)> = b.exec_first(&sb, (-i,)).await.unwrap();
        assert_eq!(va, Some(("A".to_string(), i)));
        assert_eq!(vb, Some(("B".to_string(), -i)));
        let la: Option<String> = a.exec_first(&shared_a, (i % 25 + 1,)).await.unwrap();
        let lb: Option<String> = b.exec_first(&shared_b, (25 - i % 25,)).await.unwrap();
        assert_eq!(la, Some(format!("n{}", i % 25 + 1)));
        assert_eq!(lb, Some(format!("n{}", 25 - i % 25)));
    }
    a.close(sa.clone()).await.unwrap();
    let e = a.exec_drop(&sa, (1,)).await.unwrap_err();
    assert!(
        matches!(&e, mysql_async::Error::Server(s) if s.code == 1243),
        "A's closed statement is gone: {e:?}"
    );
    let vb: Option<(String, i64)> = b.exec_first(&sb, (7,)).await.unwrap();
    assert_eq!(
        vb,
        Some(("B".to_string(), 7)),
        "B's statement is unaffected"
    );
    let la: Option<String> = a.exec_first(&shared_a, (3,)).await.unwrap();
    assert_eq!(la.as_deref(), Some("n3"));
    drop((a, b));
    router.stop().await;
}

#[tokio::test]
async fn sql_prepare_and_execute() {
    let topo = common::topology().await;
    let db = "ps_sql";
    setup(topo, db).await;
    let router = common::Router::start(topo, "[pool]\nmax_size = 2\n").await;
    let mut c = Conn::new(router.opts().db_name(Some(db))).await.unwrap();
    let mut other = Conn::new(router.opts().db_name(Some(db))).await.unwrap();
    let mut d = Conn::new(common::app_opts(topo.primary().port()).db_name(Some(db)))
        .await
        .unwrap();
    for conn in [&mut c, &mut d] {
        conn.query_drop("PREPARE s FROM 'SELECT label FROM n WHERE id = ?'")
            .await
            .unwrap();
    }
    for i in 1..=10 {
        c.query_drop(format!("SET @id = {i}")).await.unwrap();
        let _: Option<i64> = other.query_first("SELECT 1").await.unwrap();
        let got: Option<String> = c.query_first("EXECUTE s USING @id").await.unwrap();
        assert_eq!(got, Some(format!("n{i}")));
    }
    for conn in [&mut c, &mut d] {
        conn.query_drop("DEALLOCATE PREPARE s").await.unwrap();
    }
    let via = c.query_drop("EXECUTE s USING @id").await.unwrap_err();
    let direct = d.query_drop("EXECUTE s USING @id").await.unwrap_err();
    match (via, direct) {
        (mysql_async::Error::Server(a), mysql_async::Error::Server(b)) => {
            assert_eq!(
                (a.code, a.state, a.message),
                (b.code, b.state, b.message),
                "EXECUTE of a deallocated statement (sqlyard vs direct)"
            );
        }
        other => panic!("{other:?}"),
    }
    drop((c, other));
    router.stop().await;
}

/// COM_STMT_EXECUTE with a read-only cursor, then COM_STMT_FETCH in
/// batches: the same packets through sqlyard as directly.
#[tokio::test]
async fn cursor_fetch_matches_direct() {
    let topo = common::topology().await;
    let db = "ps_cursor";
    setup(topo, db).await;
    let router = common::Router::start(topo, "[pool]\nmax_size = 2\n").await;

    async fn fetch_all(port: u16, db: &str) -> (Response, Vec<Vec<u8>>, Vec<u16>, Response) {
        let mut c = RawConn::connect(port, "app", "app_pw", Some(db), 0)
            .await
            .unwrap();
        let (id, cols, params) = c
            .prepare("SELECT id, label FROM n WHERE id <= 11 ORDER BY id")
            .await
            .unwrap();
        assert_eq!((cols, params), (2, 0));
        let mut rows = Vec::new();
        let mut statuses = Vec::new();
        let mut head = None;
        // twice: re-executing closes the previous cursor
        for _ in 0..2 {
            rows.clear();
            statuses.clear();
            c.execute_no_params(id, true).await;
            let h = c.read_execute_response().await;
            match &h {
                Response::Rows { status, .. } => assert!(
                    status & raw::STATUS_CURSOR_EXISTS != 0,
                    "a cursor was opened: {h:?}"
                ),
                other => panic!("execute with cursor: {other:?}"),
            }
            head = Some(h);
            loop {
                let (batch, status) = c.fetch(id, 4).await.unwrap();
                rows.extend(batch);
                statuses.push(status);
                if status & raw::STATUS_LAST_ROW_SENT != 0 {
                    break;
                }
                assert!(statuses.len() < 10, "fetch never ends");
            }
        }
        // the session goes on: a plain query after the cursor
        let after = c.query("SELECT 'after'").await;
        c.close_stmt(id).await;
        (head.unwrap(), rows, statuses, after)
    }

    let via = fetch_all(router.port, db).await;
    let direct = fetch_all(topo.primary().port(), db).await;
    assert_eq!(via.1.len(), 11, "all rows fetched through sqlyard");
    assert_eq!(
        raw::binary_first_int(&via.1[10], 8),
        11,
        "last fetched row is id 11"
    );
    assert_eq!(via.0, direct.0, "execute response (sqlyard vs direct)");
    assert_eq!(via.1, direct.1, "fetched rows (sqlyard vs direct)");
    assert_eq!(via.2, direct.2, "fetch statuses (sqlyard vs direct)");
    assert_eq!(
        via.3, direct.3,
        "query after the cursor (sqlyard vs direct)"
    );
    router.stop().await;
}

/// A statement id the session never prepared: the server's own error, both
/// when the session holds no prepared statement and when it holds one.
#[tokio::test]
async fn unknown_statement_id_errors_like_the_server() {
    let topo = common::topology().await;
    let db = "ps_unknown";
    setup(topo, db).await;
    let router = common::Router::start(topo, "").await;
    let bogus = 999_999u32;
    async fn errors(c: &mut RawConn, bogus: u32) -> Vec<Response> {
        let mut out = Vec::new();
        c.execute_no_params(bogus, false).await;
        out.push(c.read_execute_response().await);
        let f = c.fetch(bogus, 1).await;
        out.push(match f {
            Err(e) => Response::Err(e),
            Ok(_) => panic!("fetch of an unknown statement succeeded"),
        });
        let mut reset = vec![raw::COM_STMT_RESET];
        reset.extend_from_slice(&bogus.to_le_bytes());
        c.send_command(&reset).await;
        out.push(c.read_response().await);
        // a close of an unknown id is silently ignored; the session goes on
        c.close_stmt(bogus).await;
        out.push(c.query("SELECT 1").await);
        out
    }
    for holding in [false, true] {
        let mut via = RawConn::connect(router.port, "app", "app_pw", Some(db), 0)
            .await
            .unwrap();
        let mut direct = RawConn::connect(topo.primary().port(), "app", "app_pw", Some(db), 0)
            .await
            .unwrap();
        if holding {
            via.prepare("SELECT 1").await.unwrap();
            direct.prepare("SELECT 1").await.unwrap();
        }
        // Errors sqlyard answers itself carry a `sqlyard: ` prefix by
        // design; code, SQLSTATE and the rest of the text must match.
        let a: Vec<Response> = errors(&mut via, bogus)
            .await
            .into_iter()
            .map(|r| match r {
                Response::Err(mut e) => {
                    if let Some(rest) = e.message.strip_prefix("sqlyard: ") {
                        e.message = rest.to_string();
                    }
                    Response::Err(e)
                }
                other => other,
            })
            .collect();
        let b = errors(&mut direct, bogus).await;
        assert!(
            matches!(&b[0], Response::Err(e) if e.code == 1243),
            "direct: {b:?}"
        );
        assert_eq!(a, b, "holding a statement: {holding} (sqlyard vs direct)");
    }
    router.stop().await;
}
