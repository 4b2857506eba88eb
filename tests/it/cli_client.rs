//! People reach a database with the `mariadb` command-line client first, so
//! it must work through sqlyard exactly as it does direct: same result
//! tables and column metadata, `-e` scripts with many statements, errors
//! mid-script, and Ctrl-C / `KILL QUERY` stopping a running statement
//! (the CLI sends `KILL QUERY <id>` on a second connection, with the id
//! sqlyard gave it in the handshake).
use crate::{common, procs};

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use procs::{mariadb, run_async, Output, Running};
use sqlyard::sandbox::Topology;

const LIMIT: Duration = Duration::from_secs(20);

fn assert_cli_installed() {
    assert!(
        procs::have("mariadb", &["--version"]),
        "the mariadb CLI must be installed (Debian package mariadb-client)"
    );
}

/// Runs the CLI with `args` against `port`.
async fn cli(port: u16, args: &[&str]) -> Output {
    let mut c = mariadb(port);
    c.args(args);
    run_async(c, LIMIT).await
}

/// Statements whose text contains `marker` running on any server (with
/// the read/write split a read may run on a replica).
async fn running_on_primary(topo: &Topology, marker: &str) -> u64 {
    let mut total = 0;
    for node in topo.nodes() {
        let mut c = node.root_conn().await.unwrap();
        let n: Option<u64> = c
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE INFO LIKE CONCAT('%', ?, '%') AND ID <> CONNECTION_ID()",
                (marker,),
            )
            .await
            .unwrap();
        c.disconnect().await.unwrap();
        total += n.unwrap_or(0);
    }
    total
}

/// Waits until a statement containing `marker` runs on the primary.
async fn wait_running(topo: &Topology, marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while running_on_primary(topo, marker).await == 0 {
        assert!(
            Instant::now() < deadline,
            "statement {marker} never started on the primary"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until no statement containing `marker` runs on the primary.
async fn wait_gone(topo: &Topology, marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while running_on_primary(topo, marker).await > 0 {
        assert!(
            Instant::now() < deadline,
            "statement {marker} still runs on the primary"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_results_match_a_direct_connection() {
    assert_cli_installed();
    let topo = common::topology().await;
    let db = common::fresh_db(topo, "cli_tables").await;
    let mut d = common::direct(topo).await;
    d.query_drop(format!(
        "CREATE TABLE `{db}`.t (
            id INT UNSIGNED PRIMARY KEY,
            name VARCHAR(40) CHARACTER SET utf8mb4 NOT NULL,
            price DECIMAL(10,3),
            born DATE,
            at DATETIME(3),
            blob_col VARBINARY(16),
            f DOUBLE,
            e ENUM('a','b','c'),
            j JSON
        )"
    ))
    .await
    .unwrap();
    d.query_drop(format!(
        "INSERT INTO `{db}`.t VALUES
            (1, 'plain', 1.5, '2001-02-03', '2024-05-06 07:08:09.123', X'00FF10', 0.25, 'a', '{{\"k\": [1, 2]}}'),
            (2, 'naïve ☃ 日本', NULL, NULL, NULL, NULL, -1e300, NULL, NULL),
            (3, 'tab\\tand\\nnewline', 123456.789, '1999-12-31', '2000-01-01 00:00:00.000', '', 3.5, 'c', '[]')"
    ))
    .await
    .unwrap();
    let router = common::Router::start(topo, "").await;
    let query = format!("SELECT * FROM `{db}`.t ORDER BY id");
    let direct_port = topo.primary().port();
    let formats: [&[&str]; 6] = [
        &["--batch"],
        &["--table"],
        &["--vertical"],
        &["--xml"],
        &["--column-type-info"],
        &["-N", "--raw", "--batch"],
    ];
    for format in formats {
        let mut args = format.to_vec();
        args.extend(["-e", &query]);
        let via = cli(router.port, &args).await;
        let direct = cli(direct_port, &args).await;
        via.assert_ok("mariadb through sqlyard");
        direct.assert_ok("mariadb direct");
        assert_eq!(via.stdout, direct.stdout, "output of {format:?}");
        assert_eq!(via.stderr, direct.stderr, "stderr of {format:?}");
    }
    // And the content is what was stored (so equal outputs are not both empty).
    let batch = cli(router.port, &["--batch", "-e", &query]).await;
    let lines: Vec<&str> = batch.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", batch.stdout);
    assert!(lines[0].starts_with("id\tname\tprice"), "{}", lines[0]);
    assert!(
        lines[2].starts_with("2\tnaïve ☃ 日本\tNULL\tNULL"),
        "{}",
        lines[2]
    );
    assert!(lines[1].contains("2024-05-06 07:08:09.123"), "{}", lines[1]);
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_with_many_statements_matches_direct() {
    assert_cli_installed();
    let topo = common::topology().await;
    let db = common::fresh_db(topo, "cli_multi").await;
    let router = common::Router::start(topo, "").await;
    // Temporary table, session variables, USE, last insert id and a
    // transaction: every statement depends on the session of the ones before.
    let script = format!(
        "CREATE TEMPORARY TABLE `{db}`.tmp_cli (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO `{db}`.tmp_cli (v) VALUES ('one'), ('two');
         SELECT LAST_INSERT_ID() AS lid, ROW_COUNT() AS rc;
         SET @x := 41;
         SELECT @x + 1 AS answer;
         USE `{db}`;
         SELECT DATABASE() AS db;
         START TRANSACTION;
         INSERT INTO tmp_cli (v) VALUES ('three');
         ROLLBACK;
         SELECT id, v FROM tmp_cli ORDER BY id;
         SET SESSION sql_mode = 'ANSI_QUOTES';
         SELECT @@SESSION.sql_mode AS mode;
         SELECT 'it''s' AS \"quoted\";"
    );
    let via = cli(router.port, &["--batch", "-e", &script]).await;
    let direct = cli(topo.primary().port(), &["--batch", "-e", &script]).await;
    via.assert_ok("-e script through sqlyard");
    direct.assert_ok("-e script direct");
    assert_eq!(via.stdout, direct.stdout);
    let expected = format!(
        "lid\trc\n1\t2\nanswer\n42\ndb\n{db}\nid\tv\n1\tone\n2\ttwo\nmode\nANSI_QUOTES\nquoted\nit's\n"
    );
    assert_eq!(via.stdout, expected);
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_script_error_midway_matches_direct() {
    assert_cli_installed();
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let script = "SELECT 'before' AS b; SELECT * FROM test.no_such_table_cli; SELECT 'after' AS a";
    // -e stops at the first error, --force or not.
    let args = ["--batch", "-e", script];
    let via = cli(router.port, &args).await;
    let direct = cli(topo.primary().port(), &args).await;
    assert_eq!(via.code, Some(1), "{via:?}");
    assert_eq!(via.stdout, direct.stdout);
    assert_eq!(via.stderr, direct.stderr);
    assert_eq!(via.stdout, "b\nbefore\n");
    assert!(
        via.stderr
            .contains("ERROR 1146 (42S02) at line 1: Table 'test.no_such_table_cli' doesn't exist"),
        "{via:?}"
    );
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_script_with_force_goes_on_after_an_error() {
    assert_cli_installed();
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let script =
        "SELECT 'before' AS b;\nSELECT * FROM test.no_such_table_cli2;\nSELECT 'after' AS a;\n";
    for force in [false, true] {
        let run = |port: u16| {
            let mut c = mariadb(port);
            c.arg("--batch");
            if force {
                c.arg("--force");
            }
            procs::run_with_stdin_async(c, script.as_bytes().to_vec(), LIMIT)
        };
        let via = run(router.port).await;
        let direct = run(topo.primary().port()).await;
        assert_eq!(via.code, direct.code, "force={force}: {via:?}");
        assert_eq!(via.code, Some(if force { 0 } else { 1 }), "{via:?}");
        assert_eq!(via.stdout, direct.stdout, "force={force}");
        assert_eq!(via.stderr, direct.stderr, "force={force}");
        assert!(
            via.stderr.contains("ERROR 1146 (42S02) at line 2"),
            "{via:?}"
        );
        let after = if force { "a\nafter\n" } else { "" };
        assert_eq!(via.stdout, format!("b\nbefore\n{after}"));
    }
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_packet_with_several_statements_gives_every_result() {
    assert_cli_installed();
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    // With another delimiter the CLI sends "SELECT 1 ...; SELECT 2 ..." as a
    // single COM_QUERY: a multi-statement with several result sets.
    let script = "DELIMITER //\nSELECT 1 AS first; DO 0; SELECT 'x' AS second, NULL AS n//\nSELECT 3 AS third//";
    let via = cli(router.port, &["--batch", "-e", script]).await;
    let direct = cli(topo.primary().port(), &["--batch", "-e", script]).await;
    via.assert_ok("multi-statement through sqlyard");
    assert_eq!(via.stdout, direct.stdout);
    assert_eq!(via.stdout, "first\n1\nsecond\tn\nx\tNULL\nthird\n3\n");
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_in_a_terminal_interrupts_the_running_query() {
    assert_cli_installed();
    assert!(
        procs::have("script", &["--version"]),
        "`script` (bsdutils) is needed to give the CLI a terminal"
    );
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let marker = "ctrl_c_marker_7781";
    let cli_line = format!(
        "mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P{} -uapp -papp_pw -e 'SELECT SLEEP(30) AS {marker}'",
        router.port
    );
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-q", "-e", "-c", &cli_line, "/dev/null"])
        .env("TERM", "dumb");
    let mut term = Running::spawn(cmd);
    wait_running(topo, marker).await;
    // Ctrl-C typed at the terminal: the line discipline turns it into SIGINT.
    let pressed = Instant::now();
    term.write_stdin(b"\x03");
    let out = tokio::task::spawn_blocking(move || term.wait(LIMIT))
        .await
        .unwrap();
    let took = pressed.elapsed();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("Query execution was interrupted"),
        "after Ctrl-C: {out:?}"
    );
    assert!(all.contains("Ctrl-C -- query killed"), "{out:?}");
    assert!(took < Duration::from_secs(5), "Ctrl-C took {took:?}");
    wait_gone(topo, marker).await;
    // The router still serves.
    let after = cli(router.port, &["-N", "-e", "SELECT 'alive'"]).await;
    assert_eq!(after.assert_ok("after Ctrl-C").stdout, "alive\n");
    router.stop().await;
}

/// Runs `SELECT SLEEP(30)` in CLI process A after printing an id obtained
/// with `first` (client commands or statements) and picked out of its
/// output by `parse`, then kills it from a
/// second CLI process B with `KILL QUERY <id>`.
async fn kill_query_from_second_cli(marker: &str, first: &str, parse: fn(&str) -> Option<u32>) {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let mut a = mariadb(router.port);
    a.args([
        "--unbuffered",
        "-e",
        &format!("{first}; SELECT SLEEP(30) AS {marker}"),
    ]);
    let a = Running::spawn(a);
    let (a, id) = tokio::task::spawn_blocking(move || {
        let id = a.find_line(LIMIT, parse);
        (a, id)
    })
    .await
    .unwrap();
    let id = id.unwrap_or_else(|| panic!("no id printed by the first CLI: {:?}", a.printed()));
    wait_running(topo, marker).await;
    let killed_at = Instant::now();
    let b = cli(router.port, &["-e", &format!("KILL QUERY {id}")]).await;
    b.assert_ok(&format!("KILL QUERY {id} from a second CLI"));
    let out = tokio::task::spawn_blocking(move || a.wait(LIMIT))
        .await
        .unwrap();
    let took = killed_at.elapsed();
    assert!(
        out.stderr.contains("Query execution was interrupted"),
        "first CLI after KILL QUERY {id}: {out:?}"
    );
    assert_eq!(out.code, Some(1));
    assert!(took < Duration::from_secs(5), "KILL QUERY took {took:?}");
    wait_gone(topo, marker).await;
    router.stop().await;
}

fn parse_number_line(line: &str) -> Option<u32> {
    line.trim().parse().ok()
}

fn parse_status_id(line: &str) -> Option<u32> {
    line.strip_prefix("Connection id:")
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_query_by_connection_id_from_a_second_cli() {
    assert_cli_installed();
    // The id an application sees with CONNECTION_ID() through sqlyard.
    kill_query_from_second_cli("kill_by_cid_5521", "SELECT CONNECTION_ID()", |l| {
        parse_number_line(l)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_query_by_handshake_id_from_a_second_cli() {
    assert_cli_installed();
    // The id the CLI got in the handshake (what its own Ctrl-C uses).
    // `status` output is flushed by the --unbuffered query after it.
    kill_query_from_second_cli(
        "kill_by_hid_5522",
        "status; SELECT 'flush'",
        parse_status_id,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_of_unknown_id_is_an_error_in_the_cli() {
    assert_cli_installed();
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let out = cli(router.port, &["-e", "KILL QUERY 3999999999"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("ERROR 1094 (HY000)") && out.stderr.contains("Unknown thread id"),
        "{out:?}"
    );
    router.stop().await;
}
