//! Authentication paths real clients take (caching_sha2_password from the
//! mariadb CLI, a user configured by its mysql_native_password hash) and a
//! backend that dies under a connected client.

use crate::common;

use std::process::Command;
use std::time::Duration;

use mysql_async::prelude::*;
use sqlyard::sandbox::SandboxOptions;

fn cli(port: u16, args: &[&str]) -> std::process::Output {
    Command::new("mariadb")
        .args([
            "-h127.0.0.1",
            &format!("-P{port}"),
            "-uapp",
            "--protocol=TCP",
            "-N",
            "-B",
        ])
        .args(args)
        .output()
        .expect("run the mariadb CLI")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_cli_logs_in_with_caching_sha2_password() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let port = router.port;
    let out = tokio::task::spawn_blocking(move || {
        cli(
            port,
            &[
                "-papp_pw",
                "--default-auth=caching_sha2_password",
                "-e",
                "SELECT 40 + 2",
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    let out = tokio::task::spawn_blocking(move || {
        cli(
            port,
            &[
                "-pwrong",
                "--default-auth=caching_sha2_password",
                "-e",
                "SELECT 1",
            ],
        )
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("ERROR 1045 (28000)") && err.contains("sqlyard:"),
        "{err}"
    );
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_configured_by_native_hash_logs_in_and_reaches_the_servers() {
    let topo = common::topology().await;
    // PASSWORD('app_pw') as MariaDB stores it
    let mut d = common::direct(topo).await;
    let hash: String = d
        .query_first("SELECT PASSWORD('app_pw')")
        .await
        .unwrap()
        .unwrap();
    drop(d);
    assert!(hash.starts_with('*') && hash.len() == 41, "{hash}");
    let router = common::Router::start_with(topo, true, |text| {
        *text = text.replace("password = \"app_pw\"", &format!("password = \"{hash}\""));
        assert!(text.contains(&hash));
    })
    .await;
    let mut c = router.conn().await;
    let v: Option<u32> = c.query_first("SELECT @@server_id").await.unwrap();
    assert_eq!(v, Some(topo.primary().server_id()));
    drop(c);
    let wrong = mysql_async::Conn::new(common::app_opts(router.port).pass(Some("nope"))).await;
    let err = match wrong {
        Ok(_) => panic!("a wrong password was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("1045"), "{err}");
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_primary_gives_an_error_that_names_it() {
    let topo = common::start_topology(SandboxOptions::default())
        .await
        .unwrap();
    let router = common::Router::start_with(&topo, true, |t| {
        *t = t.replacen("[router]\n", "[router]\nprimary_wait = \"500ms\"\n", 1);
        // no failover here: this is about the error a client gets
        *t = t.replacen("[failover]\n", "[failover]\nenabled = false\n", 1);
    })
    .await;
    let mut c = router.conn().await;
    c.query_drop("SELECT 1").await.unwrap();
    topo.kill(0).unwrap();
    // (reads keep flowing to the replicas; these must run on the primary)
    let err = c
        .query_drop("/* sqlyard:primary */ SELECT 1")
        .await
        .expect_err("primary is dead")
        .to_string();
    let addr = topo.addresses()[0].clone();
    assert!(err.contains("sqlyard:"), "{err}");
    assert!(err.contains(&addr), "{err}");
    // the router itself is fine: new clients get the same clear error
    tokio::time::sleep(Duration::from_millis(700)).await;
    match mysql_async::Conn::new(router.opts()).await {
        Ok(mut c2) => {
            let e = c2
                .query_drop("/* sqlyard:primary */ SELECT 1")
                .await
                .expect_err("still dead")
                .to_string();
            assert!(e.contains("sqlyard:") && e.contains(&addr), "{e}");
        }
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("sqlyard:") && e.contains(&addr), "{e}");
        }
    }
    router.stop().await;
}

/// An unknown user and a known one with a wrong password get the same
/// packets up to the final ERR, on the application port and on the admin
/// port, whatever client plugin the client announces: the wire does not
/// tell which user names exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_look_like_wrong_passwords() {
    use crate::support::raw::RawConn;
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let admin = router.server.admin_addr().port();
    for (port, known) in [(router.port, "app"), (admin, "admin")] {
        for plugin in [
            "mysql_native_password",
            "client_ed25519",
            "mysql_old_password",
        ] {
            let wrong = RawConn::login_transcript(port, known, plugin).await;
            let unknown = RawConn::login_transcript(port, "nobody_here", plugin).await;
            assert_eq!(
                wrong, unknown,
                "port {port}, plugin {plugin}: a wrong password and an unknown user differ on the wire"
            );
            assert_eq!(wrong.last(), Some(&(0xff, 1045)), "ends with ERR 1045");
        }
    }
    router.stop().await;
}

/// `[[users]] max_connections` caps a user's sessions: one more login gets
/// ERR 1226, and a session that leaves frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_cannot_open_more_sessions_than_its_limit() {
    let topo = common::topology().await;
    let router = common::Router::start_with(topo, true, |text| {
        *text = text.replacen(
            "password = \"app_pw\"",
            "password = \"app_pw\"\nmax_connections = 2",
            1,
        );
    })
    .await;
    let mut a = router.conn().await;
    let mut b = router.conn().await;
    let one: Option<u32> = a.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    match mysql_async::Conn::new(router.opts()).await {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!(e.code, 1226, "{e:?}");
            assert!(
                e.message
                    .starts_with("sqlyard: User 'app' has exceeded the 'max_connections' resource"),
                "{}",
                e.message
            );
        }
        Err(e) => panic!("expected ERR 1226, got {e}"),
        Ok(_) => panic!("a third session of app was let in"),
    }
    b.query_drop("DO 1").await.unwrap();
    b.disconnect().await.unwrap();
    // the slot is freed when the session ends
    let mut c = None;
    for _ in 0..50 {
        if let Ok(conn) = mysql_async::Conn::new(router.opts()).await {
            c = Some(conn);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut c = c.expect("a session that left frees its place");
    let two: Option<u32> = c.query_first("SELECT 2").await.unwrap();
    assert_eq!(two, Some(2));
    a.disconnect().await.unwrap();
    c.disconnect().await.unwrap();
    router.stop().await;
}

/// After `router.auth_failures_before_delay` consecutive failures from one
/// address as one user, each further login waits (250 ms, doubling, at
/// most `router.auth_max_delay`); a success starts the count over; the
/// delays are counted in the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_are_slowed_until_one_succeeds() {
    use std::time::Instant;
    let topo = common::topology().await;
    let router = common::Router::start_with_router_keys(
        topo,
        "auth_failures_before_delay = 2\nauth_max_delay = \"1s\"",
    )
    .await;
    let mut took = Vec::new();
    for _ in 0..4 {
        let t = Instant::now();
        let wrong = common::app_opts(router.port).pass(Some("not the password"));
        assert!(mysql_async::Conn::new(wrong).await.is_err());
        took.push(t.elapsed());
    }
    let ms = |d: Duration| d.as_millis();
    assert!(ms(took[0]) < 200 && ms(took[1]) < 200, "{took:?}");
    assert!(ms(took[2]) >= 250, "the third failure waited: {took:?}");
    assert!(ms(took[3]) >= 500, "the fourth waited longer: {took:?}");
    // a correct login waits once more, then the count starts over
    let t = Instant::now();
    let c = router.conn().await;
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    drop(c);
    let t = Instant::now();
    let c = router.conn().await;
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    drop(c);
    let metrics = common::scrape_metrics(&router).await;
    assert!(
        metrics.contains("sqlyard_client_auth_delays_total 3"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("auth_delays"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    router.stop().await;
}

/// Password guessing through COM_CHANGE_USER on one open connection is
/// slowed as logins are; a refused change leaves the session open as its
/// previous user (as on MariaDB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_change_user_is_slowed_and_keeps_the_session() {
    use mysql_async::prelude::Queryable;
    use mysql_async::ChangeUserOpts;
    use std::time::Instant;
    let topo = common::topology().await;
    let router = common::Router::start_with_router_keys(
        topo,
        "auth_failures_before_delay = 2\nauth_max_delay = \"1s\"",
    )
    .await;
    let mut c = router.conn().await;
    let mut took = Vec::new();
    for _ in 0..4 {
        let t = Instant::now();
        let r = c
            .change_user(ChangeUserOpts::default().with_pass(Some("not the password".into())))
            .await;
        match r {
            Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1045, "{e:?}"),
            other => panic!("change_user with a wrong password: {other:?}"),
        }
        took.push(t.elapsed());
    }
    let ms = |d: Duration| d.as_millis();
    assert!(ms(took[0]) < 200 && ms(took[1]) < 200, "{took:?}");
    assert!(ms(took[2]) >= 250, "the third failure waited: {took:?}");
    assert!(ms(took[3]) >= 500, "the fourth waited longer: {took:?}");
    let who: Option<String> = c.query_first("SELECT CURRENT_USER()").await.unwrap();
    assert_eq!(who.as_deref(), Some("app@%"));
    router.stop().await;
}
