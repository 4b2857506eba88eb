//! Results through sqlyard must be indistinguishable from results on a
//! direct connection to the primary: the same values and the same column
//! metadata, for every column type, in the text and the binary protocol,
//! for multi-statements and for procedures returning several result sets.
use crate::{answers, common};

use answers::{assert_same, binary, text, without_tables};
use mysql_async::prelude::*;
use mysql_async::{Params, Value};

const CREATE_TYPES: &str = "CREATE TABLE t (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  de DECIMAL(20,6), de0 DECIMAL(5,0), f FLOAT, d DOUBLE,
  j JSON, bl BLOB, tb TINYBLOB, tx TEXT, lt LONGTEXT,
  vc VARCHAR(100), ch CHAR(10), vb VARBINARY(20), bn BINARY(4),
  dt DATETIME(6), dt0 DATETIME, dte DATE, tm TIME(3), ts TIMESTAMP(6) NULL, yr YEAR, bt BIT(10),
  en ENUM('a','b','c'), st SET('x','y','z'),
  emoji VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  l1 VARCHAR(20) CHARACTER SET latin1
)";

const INSERT_TYPES: &str = "INSERT INTO t VALUES
 (1, -128, 255, -32768, 65535, -8388608, -2147483648, 4294967295,
  -9223372036854775808, 18446744073709551615,
  -12345678901234.123456, 99999, 1.5, -2.2250738585072014e-308,
  '{\"a\": 1, \"b\": [true, null, \"x\"]}', X'00FF10', X'', 'text with ''quotes'' and \\\\ backslash', REPEAT('long', 5000),
  'varchar', 'char', X'0001FEFF', X'61',
  '2024-02-29 23:59:59.999999', '1000-01-01 00:00:00', '1000-01-01', '-838:59:59.000', '2030-01-01 00:00:00.500000', 1901, b'1010101010',
  'a', 'x,z', 'emoji 😀🎉 and ñ', _latin1 X'636166E9'),
 (2, 127, 0, 32767, 0, 8388607, 2147483647, 0, 9223372036854775807, 0,
  0.000001, -99999, -3.4e38, 1.7976931348623157e308,
  '[]', REPEAT(X'AB', 60000), X'FF', '', '',
  '', '', X'', X'00000000',
  '9999-12-31 23:59:59.000000', '9999-12-31 23:59:59', '9999-12-31', '838:59:59.999', '1990-06-15 12:00:00', 2155, b'1111111111',
  'c', '', '𝄞 clef and 中文', ''),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL)";

/// Sets up the shared schema once per test (idempotent, direct connection).
async fn setup(topo: &sqlyard::sandbox::Topology, db: &str) {
    common::fresh_db(topo, db).await;
    let mut d = common::direct(topo).await;
    d.query_drop(format!("USE `{db}`")).await.unwrap();
    d.query_drop(CREATE_TYPES).await.unwrap();
    d.query_drop(INSERT_TYPES).await.unwrap();
    d.query_drop(
        "CREATE PROCEDURE three_sets()
         BEGIN
           SELECT 1 AS one;
           SELECT id, emoji, de, dt FROM t ORDER BY id;
           SELECT 'done' AS s, 2.5 AS d, NULL AS n;
         END",
    )
    .await
    .unwrap();
    d.query_drop(
        "CREATE PROCEDURE with_out(IN a INT, OUT b INT)
         BEGIN
           SET b = a * 2;
           SELECT a AS a_in, a + 1 AS next;
         END",
    )
    .await
    .unwrap();
    d.query_drop(
        "CREATE PROCEDURE no_sets(IN a INT)
         BEGIN
           DECLARE x INT;
           SET x = a;
         END",
    )
    .await
    .unwrap();
    for suffix in ["r", "d"] {
        d.query_drop(format!(
            "CREATE TABLE scratch_{suffix} (id INT AUTO_INCREMENT PRIMARY KEY, v INT, s VARCHAR(40), \
             dt DATETIME(6), b BLOB, dd DECIMAL(10,2), f DOUBLE)"
        ))
        .await
        .unwrap();
        d.query_drop(format!(
            "INSERT INTO scratch_{suffix} (v, s) VALUES (1, 'a'), (2, 'b'), (3, 'c')"
        ))
        .await
        .unwrap();
    }
    // reads through sqlyard may run on a replica: they must have the
    // schema written directly (sqlyard's read-your-writes knows only the
    // writes made through it)
    topo.wait_replicas_caught_up(std::time::Duration::from_secs(10))
        .await
        .unwrap();
}

/// Text-protocol corpus; none of these depend on the connection or time.
const TEXT_CORPUS: &[&str] = &[
    "SELECT * FROM t ORDER BY id",
    "SELECT * FROM t WHERE 1 = 0",
    "SELECT id, ti, tiu, si, siu, mi, i, iu, bi, biu FROM t ORDER BY id DESC",
    "SELECT de, de0, f, d, de * 2, f + 0, d / 3 FROM t ORDER BY id",
    "SELECT j, JSON_EXTRACT(j, '$.b'), JSON_UNQUOTE(JSON_EXTRACT(j, '$.a')), JSON_OBJECT('k', emoji), JSON_ARRAY(1, 2.5, 'x', NULL) FROM t ORDER BY id",
    "SELECT bl, tb, tx, LENGTH(lt), vc, ch, vb, bn, HEX(bl) FROM t ORDER BY id",
    "SELECT dt, dt0, dte, tm, ts, yr, bt, bt + 0, en, st, en + 0, st + 0 FROM t ORDER BY id",
    "SELECT emoji, CHAR_LENGTH(emoji), LENGTH(emoji), UPPER(emoji), l1, HEX(l1) FROM t ORDER BY id",
    "SELECT 1, -1, 18446744073709551615, -9223372036854775808, 1.5, 1e300, -0.0e0, 'x', NULL, X'00FF', \
     _utf8mb4 '😀 ✓', TRUE, 0.1 + 0.2, 1/3, 7 DIV 2, -7 % 3",
    "SELECT CAST('2024-02-29 12:34:56.123456' AS DATETIME(6)), DATE '1000-01-01', TIME '-838:59:59', \
     TIME '12:00:00.5', CAST(b'101' AS UNSIGNED), 0x41 + 0, CAST(-1 AS UNSIGNED), CAST('x' AS BINARY(3))",
    "SELECT COUNT(*), SUM(i), AVG(d), MIN(dt), MAX(ts), GROUP_CONCAT(en ORDER BY id), BIT_OR(bt) FROM t",
    "SELECT LPAD('', 70000, 'ab') AS big, REPEAT('😀', 20000) AS emojis",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5000) \
     SELECT n, n * n, CONCAT('row', n), n / 7 FROM r",
    "SHOW CREATE TABLE t",
    "SHOW FULL COLUMNS FROM t",
    "SHOW VARIABLES LIKE 'max_allowed_packet'",
    "SELECT table_name, column_name, data_type, column_type FROM information_schema.COLUMNS \
     WHERE table_schema = DATABASE() AND table_name = 't' ORDER BY ordinal_position",
    "SELECT 1/0",
    "SELECT CAST('12abc' AS SIGNED)",
    "DO 1",
    "SELECT 1 AS a; SELECT 2 AS b",
    "SELECT 1 AS a; DO 2; SELECT 'b' AS b, 2.5 AS c; SELECT * FROM t ORDER BY id",
    "SELECT 1; SELECT * FROM t WHERE id = 3; SELECT emoji FROM t ORDER BY id",
    "CALL three_sets()",
    "CALL no_sets(5)",
];

#[tokio::test]
async fn text_protocol_corpus_matches_direct() {
    let topo = common::topology().await;
    let db = "rmd_text";
    setup(topo, db).await;
    let router = common::Router::start(topo, "").await;
    let (mut via, mut direct) = common::both(topo, &router, db).await;
    for sql in TEXT_CORPUS {
        let a = text(&mut via, sql).await;
        let b = text(&mut direct, sql).await;
        assert!(b.is_ok(), "corpus query fails directly: {sql}: {b:?}");
        assert_same(sql, &a, &b);
    }
    // The corpus is really what it claims: every column type came back.
    let all = text(&mut via, "SELECT * FROM t ORDER BY id").await.unwrap();
    let types: std::collections::BTreeSet<u8> =
        all.sets[0].columns.iter().map(|c| c.column_type).collect();
    for ty in [
        1u8, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 16, 246, 252, 253, 254,
    ] {
        assert!(
            types.contains(&ty),
            "column type {ty} in the corpus: {types:?}"
        );
    }
    drop(via);
    router.stop().await;
}

#[tokio::test]
async fn dml_answers_match_direct() {
    let topo = common::topology().await;
    let db = "rmd_dml";
    setup(topo, db).await;
    let router = common::Router::start(topo, "").await;
    let (mut via, mut direct) = common::both(topo, &router, db).await;
    let dml = [
        "UPDATE {t} SET v = v WHERE id <= 3",
        "UPDATE {t} SET v = v + 1 WHERE id <= 2",
        "INSERT INTO {t} (v, s) VALUES (10, 'x'), (11, 'y')",
        "INSERT INTO {t} (v, s) VALUES (12, 'a much too long string for a forty character column')",
        "INSERT IGNORE INTO {t} (id, v) VALUES (1, 99)",
        "REPLACE INTO {t} (id, v, s) VALUES (2, 20, 'replaced')",
        "INSERT INTO {t} (id, v) VALUES (3, 0) ON DUPLICATE KEY UPDATE v = v + 100",
        "DELETE FROM {t} WHERE id = 1000",
        "DELETE FROM {t} WHERE v = 11",
        "SELECT id, v, s FROM {t} ORDER BY id",
        "UPDATE {t} SET s = 'multi' WHERE id = 2; UPDATE {t} SET s = 'stmt' WHERE id IN (2, 3)",
        "SELECT id, v, s FROM {t} ORDER BY id",
    ];
    // Strict mode makes the too-long insert an error on both sides.
    for sql in dml {
        let a = without_tables(text(&mut via, &sql.replace("{t}", "scratch_r")).await);
        let b = without_tables(text(&mut direct, &sql.replace("{t}", "scratch_d")).await);
        assert_same(sql, &a, &b);
    }
    drop(via);
    router.stop().await;
}

fn corpus_params() -> Vec<(&'static str, Params)> {
    vec![
        (
            "SELECT * FROM t WHERE id = ?",
            Params::Positional(vec![1.into()]),
        ),
        (
            "SELECT * FROM t WHERE id = ?",
            Params::Positional(vec![2.into()]),
        ),
        (
            "SELECT * FROM t WHERE id = ?",
            Params::Positional(vec![3.into()]),
        ),
        ("SELECT * FROM t ORDER BY id", Params::Empty),
        (
            "SELECT * FROM t WHERE id = ?",
            Params::Positional(vec![Value::NULL]),
        ),
        (
            "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?",
            Params::Positional(vec![
                Value::NULL,
                Value::Int(-5),
                Value::UInt(u64::MAX),
                Value::Float(1.5),
                Value::Double(-2.25e10),
                Value::Bytes("😀 text".as_bytes().to_vec()),
                Value::Bytes(vec![0, 255, 1]),
                Value::Date(2024, 2, 29, 13, 14, 15, 123456),
                Value::Date(2024, 1, 1, 0, 0, 0, 0),
                Value::Time(true, 1, 2, 3, 4, 5),
                Value::Time(false, 34, 22, 59, 59, 0),
            ]),
        ),
        (
            "SELECT CAST(? AS DECIMAL(20,6)), ? + 1, CONCAT(?, '!'), JSON_EXTRACT(?, '$.a')",
            Params::Positional(vec![
                Value::Bytes(b"-12.5".to_vec()),
                Value::Int(41),
                Value::Bytes("ñ😀".as_bytes().to_vec()),
                Value::Bytes(br#"{"a": [1, 2]}"#.to_vec()),
            ]),
        ),
        (
            "SELECT id, emoji FROM t WHERE en = ? OR st = ? ORDER BY id",
            Params::Positional(vec!["c".into(), "x,z".into()]),
        ),
        (
            "SELECT dt, ts, tm FROM t WHERE dt > ? ORDER BY id",
            Params::Positional(vec![Value::Date(2000, 1, 1, 0, 0, 0, 0)]),
        ),
        (
            "SELECT LPAD('', ?, 'ab') AS big",
            Params::Positional(vec![70000.into()]),
        ),
        ("CALL three_sets()", Params::Empty),
        ("CALL no_sets(?)", Params::Positional(vec![1.into()])),
        ("SELECT 1/0", Params::Empty),
    ]
}

#[tokio::test]
async fn binary_protocol_corpus_matches_direct() {
    let topo = common::topology().await;
    let db = "rmd_binary";
    setup(topo, db).await;
    let router = common::Router::start(topo, "").await;
    let (mut via, mut direct) = common::both(topo, &router, db).await;
    for (sql, params) in corpus_params() {
        let a = binary(&mut via, sql, params.clone()).await;
        let b = binary(&mut direct, sql, params).await;
        assert!(b.is_ok(), "corpus statement fails directly: {sql}: {b:?}");
        assert_same(sql, &a, &b);
    }
    // Typed parameters written through each path read back the same.
    let insert = "INSERT INTO {t} (v, s, dt, b, dd, f) VALUES (?, ?, ?, ?, ?, ?)";
    let values = Params::Positional(vec![
        Value::Int(-7),
        Value::Bytes("ünï 😀".as_bytes().to_vec()),
        Value::Date(2023, 12, 31, 23, 59, 59, 999999),
        Value::Bytes((0..=255u8).collect()),
        Value::Bytes(b"12.34".to_vec()),
        Value::Double(std::f64::consts::PI),
    ]);
    let a = binary(
        &mut via,
        &insert.replace("{t}", "scratch_r"),
        values.clone(),
    )
    .await;
    let b = binary(&mut direct, &insert.replace("{t}", "scratch_d"), values).await;
    assert_same("typed insert", &a, &b);
    let read = "SELECT id, v, s, dt, b, dd, f FROM {t} ORDER BY id";
    // The two tables differ only by name, which is in the metadata.
    let a =
        without_tables(binary(&mut via, &read.replace("{t}", "scratch_r"), Params::Empty).await);
    let b = without_tables(
        binary(
            &mut direct,
            &read.replace("{t}", "scratch_d"),
            Params::Empty,
        )
        .await,
    );
    assert_same("typed read back", &a, &b);
    drop(via);
    router.stop().await;
}

#[tokio::test]
async fn out_parameters_in_binary_protocol_match_direct() {
    let topo = common::topology().await;
    let db = "rmd_out";
    setup(topo, db).await;
    let router = common::Router::start(topo, "").await;
    let (mut via, mut direct) = common::both(topo, &router, db).await;
    let sql = "CALL with_out(?, ?)";
    let params = Params::Positional(vec![21.into(), Value::NULL]);
    let a = binary(&mut via, sql, params.clone()).await;
    let b = binary(&mut direct, sql, params).await;
    assert_same(sql, &a, &b);
    let answer = a.unwrap();
    // the OUT parameter result set carries 42
    let has_42 = answer.sets.iter().any(|s| {
        s.rows
            .iter()
            .any(|r| r.iter().any(|v| matches!(v, Some(Value::Int(42)))))
    });
    assert!(has_42, "OUT parameter 42 among the result sets: {answer:?}");
    // and the connection answers normally afterwards
    let one: Option<i64> = via.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    drop(via);
    router.stop().await;
}

#[tokio::test]
async fn multi_statements_through_sqlyard() {
    let topo = common::topology().await;
    let db = "rmd_multi";
    setup(topo, db).await;
    let router = common::Router::start(topo, "").await;
    let (mut via, _direct) = common::both(topo, &router, db).await;
    let mut r = via.query_iter("SELECT 1; SELECT 2").await.unwrap();
    let first: Vec<i64> = r.collect().await.unwrap();
    let second: Vec<i64> = r.collect().await.unwrap();
    assert!(r.is_empty(), "exactly two result sets");
    drop(r);
    assert_eq!((first, second), (vec![1], vec![2]));
    // An error in the second statement ends the answer after the first set.
    let mut r = via
        .query_iter("SELECT 'before'; SELECT * FROM no_such_table; SELECT 'after'")
        .await
        .unwrap();
    let before: Vec<String> = r.collect().await.unwrap();
    assert_eq!(before, vec!["before".to_string()]);
    let err = r.collect::<String>().await.unwrap_err();
    drop(r);
    assert_eq!(answers::server_err(err).0, 1146);
    let still: Option<i64> = via.query_first("SELECT 3").await.unwrap();
    assert_eq!(
        still,
        Some(3),
        "the session works after a failed multi-statement"
    );
    drop(via);
    router.stop().await;
}

#[tokio::test]
async fn procedure_with_several_result_sets() {
    let topo = common::topology().await;
    let db = "rmd_call";
    setup(topo, db).await;
    let router = common::Router::start(topo, "").await;
    let (mut via, _direct) = common::both(topo, &router, db).await;
    for round in 0..3 {
        let a = text(&mut via, "CALL three_sets()").await.unwrap();
        assert_eq!(a.sets.len(), 3, "round {round}: three result sets: {a:?}");
        assert_eq!(a.sets[0].rows.len(), 1);
        assert_eq!(a.sets[1].rows.len(), 3);
        assert_eq!(a.sets[2].columns.len(), 3);
        let b = binary(&mut via, "CALL three_sets()", Params::Empty)
            .await
            .unwrap();
        assert_eq!(b.sets.len(), 3, "round {round}: binary: three result sets");
    }
    let after: Option<String> = via.query_first("SELECT DATABASE()").await.unwrap();
    assert_eq!(after.as_deref(), Some(db));
    drop(via);
    router.stop().await;
}
