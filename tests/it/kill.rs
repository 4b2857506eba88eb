//! `KILL [QUERY] <id>` names the connection id a client got from sqlyard's
//! handshake (what `Conn::id()` and the mariadb CLI's Ctrl-C use). sqlyard
//! must interrupt the backend statement that session is running, close the
//! session for a plain KILL, and answer 1094 for an id it does not know.
use crate::common;

use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::Conn;
use sqlyard::sandbox::Topology;

/// Server threads still running the statement with `marker`.
async fn running(topo: &Topology, marker: &str) -> i64 {
    let mut d = common::direct(topo).await;
    let (head, tail) = marker.split_at(marker.len() / 2);
    d.query_first::<i64, _>(format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE CONCAT('%', '{head}', '{tail}', '%')"
    ))
    .await
    .unwrap()
    .unwrap()
}

type Outcome = (Result<Vec<Option<i64>>, (u16, String)>, Duration);

/// Runs a long SLEEP on `c` in a task; returns the task.
fn sleeper(mut c: Conn, marker: &str) -> tokio::task::JoinHandle<(Outcome, Conn)> {
    let sql = format!("SELECT /* {marker} */ SLEEP(30)");
    tokio::spawn(async move {
        let t0 = Instant::now();
        let r = c.query::<Option<i64>, _>(sql).await.map_err(|e| match e {
            mysql_async::Error::Server(s) => (s.code, s.message),
            other => (0, other.to_string()),
        });
        ((r, t0.elapsed()), c)
    })
}

#[tokio::test]
async fn kill_query_interrupts_the_running_statement() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;

    // premise: what a direct KILL QUERY does to SELECT SLEEP(30)
    let direct_a = common::direct(topo).await;
    let direct_id = direct_a.id();
    let task = sleeper(direct_a, "kill-direct-marker");
    common::wait_running(topo, "kill-direct-marker").await;
    common::direct(topo)
        .await
        .query_drop(format!("KILL QUERY {direct_id}"))
        .await
        .unwrap();
    let ((direct_outcome, _), _) = task.await.unwrap();

    let mut a = router.conn().await;
    a.query_drop("SET @kept = 'still here'").await.unwrap();
    let a_id = a.id();
    let mut b = router.conn().await;
    let task = sleeper(a, "kill-query-marker");
    common::wait_running(topo, "kill-query-marker").await;
    let killed_at = Instant::now();
    b.query_drop(format!("KILL QUERY {a_id}")).await.unwrap();
    let ((outcome, _), mut a) = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the statement ends within 5 s of KILL QUERY")
        .unwrap();
    let after_kill = killed_at.elapsed();
    assert!(after_kill < Duration::from_secs(5), "{after_kill:?}");
    assert_eq!(
        outcome.as_ref().map_err(|e| e.0),
        Err(1317),
        "Query execution was interrupted: {outcome:?}"
    );
    assert_eq!(
        outcome.as_ref().map_err(|e| e.0),
        direct_outcome.as_ref().map_err(|e| e.0),
        "same outcome as a direct KILL QUERY"
    );
    assert_eq!(
        running(topo, "kill-query-marker").await,
        0,
        "no backend still sleeping"
    );
    // only the statement died: the session and its state go on
    let kept: Option<String> = a.query_first("SELECT @kept").await.unwrap();
    assert_eq!(kept.as_deref(), Some("still here"));
    let one: Option<i64> = a.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    drop((a, b));
    router.stop().await;
}

#[tokio::test]
async fn kill_closes_the_other_session() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let mut b = router.conn().await;

    // a session busy in a statement
    let a = router.conn().await;
    let a_id = a.id();
    let task = sleeper(a, "kill-conn-marker");
    common::wait_running(topo, "kill-conn-marker").await;
    let killed_at = Instant::now();
    b.query_drop(format!("KILL {a_id}")).await.unwrap();
    let ((outcome, _), mut a) = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the killed session's statement ends within 5 s")
        .unwrap();
    assert!(killed_at.elapsed() < Duration::from_secs(5));
    assert!(outcome.is_err(), "the killed statement fails: {outcome:?}");
    assert!(
        a.query_drop("SELECT 1").await.is_err(),
        "the killed session is closed"
    );
    assert_eq!(
        running(topo, "kill-conn-marker").await,
        0,
        "no backend still sleeping"
    );

    // an idle session
    let mut idle = router.conn().await;
    let idle_id = idle.id();
    let _: Option<i64> = idle.query_first("SELECT 1").await.unwrap();
    b.query_drop(format!("KILL CONNECTION {idle_id}"))
        .await
        .unwrap();
    let t0 = Instant::now();
    let r = idle.query_drop("SELECT 1").await;
    assert!(r.is_err(), "the killed idle session is closed");
    assert!(t0.elapsed() < Duration::from_secs(5));

    // killing it again: it is gone
    let e = b.query_drop(format!("KILL {idle_id}")).await.unwrap_err();
    match e {
        mysql_async::Error::Server(e) => assert_eq!(e.code, 1094, "{e:?}"),
        other => panic!("{other:?}"),
    }
    // the killer is unaffected
    let one: Option<i64> = b.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    drop(b);
    router.stop().await;
}

#[tokio::test]
async fn kill_of_an_unknown_id_gives_1094() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let mut c = router.conn().await;
    let mut d = common::direct(topo).await;
    for sql in [
        "KILL 987654321",
        "KILL QUERY 987654321",
        "KILL CONNECTION 987654321",
    ] {
        let via = c.query_drop(sql).await.unwrap_err();
        let direct = d.query_drop(sql).await.unwrap_err();
        match (via, direct) {
            (mysql_async::Error::Server(a), mysql_async::Error::Server(b)) => {
                assert_eq!(a.code, 1094, "{sql}: {a:?}");
                assert_eq!(
                    (a.code, &a.state),
                    (b.code, &b.state),
                    "{sql}: (sqlyard vs direct)"
                );
                assert!(a.message.contains(&b.message), "{sql}: {a:?} vs {b:?}");
            }
            other => panic!("{sql}: {other:?}"),
        }
    }
    let one: Option<i64> = c.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    drop(c);
    router.stop().await;
}
