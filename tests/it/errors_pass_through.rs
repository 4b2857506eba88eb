//! A server error must reach the client through sqlyard exactly as on a
//! direct connection (same code, SQLSTATE and message), in the text and the
//! binary protocol, at login, in the middle of a result set, and the session
//! must keep working afterwards.
use crate::{answers, common};

use answers::{assert_same, binary, server_err, text, ServerErr};
use mysql_async::prelude::*;
use mysql_async::{Conn, Params};

async fn setup(topo: &sqlyard::sandbox::Topology, db: &str) {
    common::fresh_db(topo, db).await;
    let mut d = common::direct(topo).await;
    d.query_drop(format!("USE `{db}`")).await.unwrap();
    for sql in [
        "CREATE TABLE k (id INT PRIMARY KEY, u VARCHAR(10) UNIQUE, n INT NOT NULL)",
        "INSERT INTO k VALUES (1, 'one', 1), (2, 'two', 2)",
        "CREATE TABLE parent (id INT PRIMARY KEY) ENGINE=InnoDB",
        "CREATE TABLE child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES parent (id)) ENGINE=InnoDB",
        "CREATE TABLE seq (id INT PRIMARY KEY, v INT)",
        "INSERT INTO seq VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)",
        "CREATE TABLE dup (v INT)",
        "INSERT INTO dup VALUES (1), (2)",
    ] {
        d.query_drop(sql).await.unwrap();
    }
    d.query_drop(
        "CREATE PROCEDURE fail_with(IN msg VARCHAR(100))
         BEGIN
           SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = msg, MYSQL_ERRNO = 1644;
         END",
    )
    .await
    .unwrap();
}

/// Statements that fail, with the error code each must give.
const FAILING: &[(&str, u16)] = &[
    ("SELEC 1", 1064),
    ("SELECT * FROM k WHERE", 1064),
    ("INSERT INTO k VALUES (1, 'uno', 1)", 1062),
    ("INSERT INTO k VALUES (3, 'one', 1)", 1062),
    ("SELECT * FROM no_such_table", 1146),
    ("SELECT * FROM no_such_db.t", 1146),
    ("SELECT no_such_column FROM k", 1054),
    ("INSERT INTO k (id, u) VALUES (5, 'five')", 1364),
    ("INSERT INTO k VALUES (6, 'much too long for ten', 1)", 1406),
    ("INSERT INTO k VALUES (7, 'seven', NULL)", 1048),
    ("INSERT INTO child VALUES (1, 42)", 1452),
    ("SELECT (SELECT v FROM dup)", 1242),
    ("CALL fail_with('custom failure 😀 ñ')", 1644),
    (
        "SIGNAL SQLSTATE '02000' SET MESSAGE_TEXT = 'not found here'",
        1643,
    ),
    ("CALL no_such_procedure()", 1305),
    ("USE no_such_database", 1049),
    ("DROP TABLE no_such_table", 1051),
    ("CREATE TABLE k (id INT)", 1050),
    ("SELECT CAST('x' AS SIGNED) + ", 1064),
    ("SET @@session.no_such_variable = 1", 1193),
    ("SET @@session.sql_mode = 'NO_SUCH_MODE'", 1231),
    ("SHOW MASTER STATUS", 1227),
];

#[tokio::test]
async fn text_protocol_errors_match_direct() {
    let topo = common::topology().await;
    let db = "err_text";
    setup(topo, db).await;
    let router = common::Router::start(topo, "").await;
    let (mut via, mut direct) = common::both(topo, &router, db).await;
    for &(sql, code) in FAILING {
        let a = text(&mut via, sql).await;
        let b = text(&mut direct, sql).await;
        assert_eq!(
            b.as_ref().err().map(|e| e.0),
            Some(code),
            "{sql}: direct error code (test premise)"
        );
        assert_same(sql, &a, &b);
        // The session is still usable and still in its database.
        let after: Option<String> = via.query_first("SELECT DATABASE()").await.unwrap();
        assert_eq!(after.as_deref(), Some(db), "after {sql}");
    }
    drop(via);
    router.stop().await;
}

#[tokio::test]
async fn binary_protocol_errors_match_direct() {
    let topo = common::topology().await;
    let db = "err_binary";
    setup(topo, db).await;
    let router = common::Router::start(topo, "").await;
    let (mut via, mut direct) = common::both(topo, &router, db).await;
    // Errors at prepare time.
    for sql in [
        "SELEC ?",
        "SELECT * FROM no_such_table WHERE id = ?",
        "SELECT nope FROM k",
    ] {
        let a = via.prep(sql).await.map(|_| ()).map_err(server_err);
        let b = direct.prep(sql).await.map(|_| ()).map_err(server_err);
        assert!(b.is_err(), "{sql}: fails directly");
        assert_eq!(a, b, "{sql}: prepare error (sqlyard vs direct)");
    }
    // Errors at execute time.
    let cases: Vec<(&str, Params)> = vec![
        (
            "INSERT INTO k VALUES (?, ?, ?)",
            Params::Positional(vec![1.into(), "x".into(), 1.into()]),
        ),
        (
            "INSERT INTO k VALUES (?, ?, ?)",
            Params::Positional(vec![9.into(), "x".into(), mysql_async::Value::NULL]),
        ),
        (
            "INSERT INTO child VALUES (?, ?)",
            Params::Positional(vec![1.into(), 99.into()]),
        ),
        (
            "CALL fail_with(?)",
            Params::Positional(vec!["from a parameter".into()]),
        ),
        (
            "SELECT (SELECT v FROM dup) + ?",
            Params::Positional(vec![1.into()]),
        ),
    ];
    for (sql, params) in cases {
        let a = binary(&mut via, sql, params.clone()).await;
        let b = binary(&mut direct, sql, params).await;
        assert!(b.is_err(), "{sql}: fails directly");
        assert_same(sql, &a, &b);
        let one: Option<i64> = via.exec_first("SELECT ?", (1,)).await.unwrap();
        assert_eq!(one, Some(1), "after {sql}");
    }
    drop(via);
    router.stop().await;
}

/// Rows are streamed: an error that happens after some rows were sent
/// arrives after exactly as many rows as on a direct connection.
#[tokio::test]
async fn error_in_the_middle_of_a_result_set() {
    let topo = common::topology().await;
    let db = "err_midstream";
    setup(topo, db).await;
    let router = common::Router::start(topo, "").await;
    let (mut via, mut direct) = common::both(topo, &router, db).await;
    let sql = "SELECT id, IF(id < 4, id, (SELECT v FROM dup)) FROM seq ORDER BY id";
    async fn rows_then_error(c: &mut Conn, sql: &str) -> (usize, ServerErr) {
        let mut r = c.query_iter(sql).await.unwrap();
        let mut n = 0;
        loop {
            match r.next().await {
                Ok(Some(_)) => n += 1,
                Ok(None) => panic!("{sql}: expected an error after {n} rows"),
                Err(e) => return (n, server_err(e)),
            }
        }
    }
    let a = rows_then_error(&mut via, sql).await;
    let b = rows_then_error(&mut direct, sql).await;
    assert_eq!(b.1 .0, 1242, "direct: subquery error (test premise)");
    assert_eq!(
        a, b,
        "rows before the error, and the error (sqlyard vs direct)"
    );
    let one: Option<i64> = via.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    drop(via);
    router.stop().await;
}

#[tokio::test]
async fn errors_inside_a_transaction_keep_it() {
    let topo = common::topology().await;
    let db = "err_trx";
    setup(topo, db).await;
    let router = common::Router::start(topo, "[pool]\nmax_size = 2\n").await;
    let mut via = Conn::new(router.opts().db_name(Some(db))).await.unwrap();
    via.query_drop("BEGIN").await.unwrap();
    via.query_drop("INSERT INTO k VALUES (10, 'ten', 10)")
        .await
        .unwrap();
    let e = via
        .query_drop("INSERT INTO k VALUES (10, 'ten', 10)")
        .await
        .unwrap_err();
    assert_eq!(server_err(e).0, 1062);
    let e = via.query_drop("SELEC").await.unwrap_err();
    assert_eq!(server_err(e).0, 1064);
    // still the same transaction: the first insert is visible to it ...
    let n: Option<i64> = via
        .query_first("SELECT COUNT(*) FROM k WHERE id = 10")
        .await
        .unwrap();
    assert_eq!(n, Some(1));
    let in_trx: Option<i64> = via.query_first("SELECT @@in_transaction").await.unwrap();
    assert_eq!(in_trx, Some(1), "still in the transaction after errors");
    // ... and it rolls back as a whole.
    via.query_drop("ROLLBACK").await.unwrap();
    let mut d = common::direct(topo).await;
    let n: Option<i64> = d
        .query_first(format!("SELECT COUNT(*) FROM `{db}`.k WHERE id = 10"))
        .await
        .unwrap();
    assert_eq!(n, Some(0));
    drop(via);
    router.stop().await;
}

/// sqlyard answers logins itself, and its own messages carry a `sqlyard: `
/// prefix; code and SQLSTATE must be the server's, and the text must
/// contain the server's.
fn assert_login_err(what: &str, via: &ServerErr, direct: &ServerErr) {
    assert_eq!(
        (via.0, &via.1),
        (direct.0, &direct.1),
        "{what}: code and SQLSTATE (sqlyard {via:?} vs direct {direct:?})"
    );
    assert!(
        via.2.contains(&direct.2),
        "{what}: message {:?} must contain the server's {:?}",
        via.2,
        direct.2
    );
}

async fn login_error(opts: mysql_async::OptsBuilder) -> ServerErr {
    match Conn::new(opts).await {
        Ok(_) => panic!("login succeeded"),
        Err(e) => server_err(e),
    }
}

#[tokio::test]
async fn login_errors_match_direct() {
    let topo = common::topology().await;
    let db = "err_login";
    setup(topo, db).await;
    let router = common::Router::start(topo, "").await;
    let primary = topo.primary().port();
    // wrong password
    let a = login_error(router.opts().pass(Some("wrong"))).await;
    let b = login_error(common::app_opts(primary).pass(Some("wrong"))).await;
    assert_eq!(b.0, 1045, "direct: access denied (test premise)");
    assert_login_err("wrong password", &a, &b);
    // unknown user: MariaDB says 1698 here, MySQL 1045; sqlyard knows its
    // users itself and answers like a wrong password.
    let a = login_error(router.opts().user(Some("nobody"))).await;
    assert_eq!((a.0, a.1.as_str()), (1045, "28000"), "unknown user: {a:?}");
    assert!(a.2.contains("Access denied for user 'nobody'"), "{a:?}");
    // unknown initial database
    let a = login_error(router.opts().db_name(Some("no_such_db"))).await;
    let b = login_error(common::app_opts(primary).db_name(Some("no_such_db"))).await;
    assert_eq!(b.0, 1049, "direct: unknown database (test premise)");
    assert_login_err("unknown database at login", &a, &b);
    // and a good login still works afterwards
    let mut c = router.conn().await;
    let one: Option<i64> = c.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    drop(c);
    router.stop().await;
}
