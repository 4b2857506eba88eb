//! Clients built on the C API (libmariadb, libmysqlclient: Python
//! mysqlclient, Perl DBD::mysql, Ruby mysql2, C and C++ programs) use
//! protocol features PHP and sysbench never touch: server-side cursors,
//! COM_CHANGE_USER, bulk execution, progress reports, long data, the rarer
//! commands. Each test runs one scenario of tests/clients/capi.c directly
//! against the primary and through sqlyard, in the same database one after
//! the other, and requires the same transcript.
use crate::{capi_client, common};

use capi_client::Transcript;
use mysql_async::prelude::Queryable;

/// The second account of the COM_CHANGE_USER scenario.
const USER2: &str = "capi2";
const PASSWORD2: &str = "capi2_pw";

/// Runs `scenario` directly and through a router on `topo` (shared or a
/// test's own), requires the same transcript, and returns it.
async fn same_on(topo: &sqlyard::sandbox::Topology, scenario: &str) -> Transcript {
    let db = common::fresh_db(topo, &format!("capi_{scenario}")).await;
    let mut root = topo.primary().root_conn().await.unwrap();
    root.query_drop(format!(
        "CREATE USER IF NOT EXISTS '{USER2}'@'%' IDENTIFIED BY '{PASSWORD2}'"
    ))
    .await
    .unwrap();
    root.query_drop(format!("GRANT ALL ON `capi\\_%`.* TO '{USER2}'@'%'"))
        .await
        .unwrap();
    root.disconnect().await.unwrap();
    let router = common::Router::start(
        topo,
        &format!("[[users]]\nname = \"{USER2}\"\npassword = \"{PASSWORD2}\"\n"),
    )
    .await;
    let extra = [USER2, PASSWORD2];
    let direct = capi_client::run(topo.primary().port(), &db, scenario, &extra).await;
    let via = capi_client::run(router.port, &db, scenario, &extra).await;
    capi_client::assert_same(scenario, &via, &direct);
    router.stop().await;
    direct
}

async fn same_via_router_and_direct(scenario: &str) -> Transcript {
    same_on(common::topology().await, scenario).await
}

/// The scenario did what it is about (directly): `key` has `value`.
fn saw(t: &Transcript, key: &str, value: &str) {
    assert!(
        t.lines.iter().any(|(k, v)| k == key && v == value),
        "expected {key}\t{value} in:\n{}",
        t.lines
            .iter()
            .map(|(k, v)| format!("{k}\t{v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Several cursors open at once on one session (two of them on the same
/// text), read in turns, with other statements between fetches;
/// `mysql_stmt_reset`, `mysql_stmt_free_result` and `mysql_stmt_close` on
/// an open cursor; an empty cursor.
#[tokio::test]
async fn cursors_match_direct() {
    let t = same_via_router_and_direct("cursors").await;
    saw(&t, "fetch1", "row 3|b3");
    saw(&t, "fetch3", "row 5|a5");
    saw(&t, "other_statement", "row 3");
    saw(&t, "open0", "status=66");
}

/// To another user and to the same one, with and without a database, with
/// a new character set and with connection attributes; what the session
/// held before is gone (named locks released as seen from another
/// session); a wrong password.
#[tokio::test]
async fn change_user_matches_direct() {
    let t = same_via_router_and_direct("change_user").await;
    saw(&t, "while_locked", "row 0");
    saw(&t, "as_user2_lock", "row 1");
    saw(
        &t,
        "as_user2_who",
        &format!("row {USER2}@%|1|capi_change_user"),
    );
    saw(&t, "as_user2_tmp", "ERR 1146 42S02");
    saw(
        &t,
        "charset_latin1_cs",
        "row latin1|latin1|latin1_swedish_ci|latin1",
    );
    saw(&t, "wrong_password", "ERR 1045 28000");
}

/// COM_STMT_BULK_EXECUTE with array binding and NULL, DEFAULT and IGNORE
/// indicators: INSERT, INSERT ... RETURNING, REPLACE, UPDATE, DELETE ...
/// RETURNING, DELETE, on a table with a trigger.
#[tokio::test]
async fn bulk_execution_matches_direct() {
    let t = same_via_router_and_direct("bulk").await;
    saw(&t, "bulk_capability", "1");
    saw(&t, "insert_returning", "row 13|dflt|NULL");
}

/// Progress reports of a copying ALTER TABLE reach a client that asked for
/// them (a progress callback), and only such a client.
#[tokio::test]
async fn progress_reports_match_direct() {
    let t = same_via_router_and_direct("progress").await;
    saw(&t, "asked", "progress reports seen");
    saw(&t, "not_asked", "progress reports none");
}

/// The status flags of every OK packet, from the one that ends the login
/// on, with autocommit chosen by MYSQL_INIT_COMMAND.
#[tokio::test]
async fn status_flags_match_direct() {
    let t = same_via_router_and_direct("status").await;
    saw(&t, "init_off", "status=0");
    saw(&t, "plain_ro", "status=8195");
}

/// Prepare and execute metadata: EXPLAIN, ANALYZE FORMAT=JSON, SHOW, a CTE
/// with a parameter, and a statement whose table changes after prepare.
#[tokio::test]
async fn prepare_metadata_matches_direct() {
    let t = same_via_router_and_direct("metadata").await;
    saw(&t, "explain_exec", "params 1 fields 10");
    saw(&t, "reprepare", "params 1 fields 4");
}

/// COM_STMT_SEND_LONG_DATA within and beyond `max_allowed_packet` (set
/// low on a topology of the test's own, so that going beyond is cheap).
#[tokio::test]
async fn long_data_matches_direct() {
    let topo = common::own_topology().await;
    for node in topo.nodes() {
        let mut c = node.root_conn().await.unwrap();
        c.query_drop("SET GLOBAL max_allowed_packet = 8388608")
            .await
            .unwrap();
        c.disconnect().await.unwrap();
    }
    let t = same_on(&topo, "long_data").await;
    saw(&t, "within_max", "row 0|3145733");
    saw(&t, "beyond_max", "ERR 1105 HY000");
}

/// Character sets a server refuses at the handshake are refused the same
/// way; the others work.
#[tokio::test]
async fn handshake_charsets_match_direct() {
    let t = same_via_router_and_direct("charsets").await;
    saw(&t, "ucs2", "ERR 1231 42000");
    saw(&t, "latin1", "row latin1|latin1|latin1");
}

/// COM_PING, COM_STATISTICS, COM_DEBUG, COM_SET_OPTION (also an unknown
/// option), COM_STMT_RESET, COM_INIT_DB and COM_RESET_CONNECTION.
#[tokio::test]
async fn other_commands_match_direct() {
    let t = same_via_router_and_direct("commands").await;
    saw(&t, "debug", "ERR 1227 42000");
    saw(&t, "bad_option", "ERR 1047 08S01");
    saw(&t, "after_reset", "row NULL|1|capi_commands");
}

/// CALL through the binary protocol: several result sets and the OUT
/// parameters (SERVER_PS_OUT_PARAMS), twice; and through the text protocol.
#[tokio::test]
async fn procedures_match_direct() {
    let t = same_via_router_and_direct("procedures").await;
    saw(&t, "call2_set2", "out_params 1");
    saw(&t, "call2_set2", "row 40|hi!");
}
