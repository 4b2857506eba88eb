//! Live reload: SIGHUP (and `Control::reload`, behind `RELOAD CONFIG`)
//! applies a changed config without dropping a client connection; an
//! invalid config changes nothing and is reported with file:line: reason;
//! and no password ever reaches the log, even at debug level.
use crate::{common, procs, router_process};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use router_process::{create_account, user_entry, user_opts, RouterProcess};
use sqlyard::config::Config;
use sqlyard::control::ControlError;
use sqlyard::server::Server;

const SB_DB: &str = "sbreload";

/// sysbench oltp_read_write on `port`. Enough rows that 4 threads
/// practically never deadlock (sysbench counts deadlocks among "ignored
/// errors").
fn sysbench(port: u16) -> Command {
    crate::sysbench::sysbench("oltp_read_write", &port.to_string(), SB_DB, 4, 20000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_under_sysbench_load_drops_nothing() {
    let topo = common::topology().await;
    create_account(topo, "reload_new", "reload_new_pw", SB_DB).await;
    let primary = topo.primary().port();
    let prep = procs::run_async(
        {
            let mut c = sysbench(primary);
            c.arg("cleanup");
            c
        },
        Duration::from_secs(60),
    )
    .await;
    prep.assert_ok("sysbench cleanup");
    let mut c = sysbench(primary);
    c.arg("prepare");
    procs::run_async(c, Duration::from_secs(120))
        .await
        .assert_ok("sysbench prepare");

    let router = RouterProcess::start(topo, "info", |_| {}).await;
    let base = router.text.clone();
    let replica = topo.node(topo.replica_indexes()[0]).unwrap().address();

    let mut run = sysbench(router.port);
    run.arg("--threads=4")
        .arg("--time=15")
        .arg("--report-interval=0")
        .arg("run");
    let bench = tokio::task::spawn_blocking(move || procs::run(run, Duration::from_secs(60)));

    // Each step changes something, then SIGHUP; a few seconds apart.
    let with_user = format!("{base}{}", user_entry("reload_new", "reload_new_pw"));
    let with_pool = format!("{with_user}\n[pool]\nidle_timeout = \"42s\"\n");
    let without_replica = with_pool.replace(&format!("[[servers]]\naddress = \"{replica}\"\n"), "");
    assert_ne!(without_replica, with_pool, "replica entry was found");
    let steps = [
        (with_user.as_str(), "users added: reload_new"),
        (with_pool.as_str(), "settings changed in: pool"),
        (without_replica.as_str(), "servers removed: "),
        (with_pool.as_str(), "servers added: "),
        (with_pool.as_str(), "nothing changed"),
    ];
    for (text, expect) in steps {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        router.write_config(text);
        let outcome = router.reload().await;
        assert!(outcome.contains(expect), "{expect:?} not in {outcome:?}");
    }
    let out = bench.await.unwrap();
    out.assert_ok("sysbench run through sqlyard");
    assert!(
        crate::sysbench::stat(&out.stdout, "transactions:") > 100,
        "{}",
        out.stdout
    );
    assert_eq!(
        crate::sysbench::stat(&out.stdout, "ignored errors:"),
        0,
        "{}",
        out.stdout
    );
    assert_eq!(
        crate::sysbench::stat(&out.stdout, "reconnects:"),
        0,
        "{}",
        out.stdout
    );

    // The new user logs in through the router.
    let mut c = mysql_async::Conn::new(user_opts(router.port, "reload_new", "reload_new_pw"))
        .await
        .expect("the user added by the reload logs in");
    let who: Option<String> = c.query_first("SELECT CURRENT_USER()").await.unwrap();
    assert_eq!(who.as_deref(), Some("reload_new@%"));
    drop(c);

    let log = router.log();
    assert!(
        log.contains(&format!(
            "server removed by a config reload; its sessions drain address={replica}"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "server added by a config reload address={replica}"
        )),
        "{log}"
    );
    assert!(
        log.contains("user added by a config reload user=reload_new"),
        "{log}"
    );
    router.signal(libc::SIGTERM);
    let out = router.wait_exit(Duration::from_secs(40)).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_reload_changes_nothing() {
    let topo = common::topology().await;
    create_account(topo, "reload_ghost", "ghost_pw", "test").await;
    let router = RouterProcess::start(topo, "info", |_| {}).await;
    let base = router.text.clone();
    let mut held = router_conn(router.port).await;

    // A syntax error, on a known line, in a file that also adds a user.
    let broken = format!(
        "{base}{}\n[pool]\nmax_size = = 3\n",
        user_entry("reload_ghost", "ghost_pw")
    );
    let bad_line = broken
        .lines()
        .position(|l| l.contains("max_size = = 3"))
        .unwrap()
        + 1;
    router.write_config(&broken);
    let outcome = router.reload().await;
    let path = router.config.display().to_string();
    assert!(outcome.contains("config not applied"), "{outcome}");
    assert!(
        outcome.contains(&format!("{path}:{bad_line}:")),
        "{outcome} (line {bad_line})"
    );

    // An unknown key, equally located.
    let unknown = format!(
        "{base}{}\n[pool]\nmax_sise = 3\n",
        user_entry("reload_ghost", "ghost_pw")
    );
    let bad_line = unknown
        .lines()
        .position(|l| l.contains("max_sise"))
        .unwrap()
        + 1;
    router.write_config(&unknown);
    let outcome = router.reload().await;
    assert!(
        outcome.contains(&format!("{path}:{bad_line}:")),
        "{outcome} (line {bad_line})"
    );
    assert!(outcome.contains("unknown field `max_sise`"), "{outcome}");

    // Nothing changed: old users work (old connection and a new one),
    // the user of the invalid files does not exist.
    let one: Option<i64> = held.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    let mut fresh = router_conn(router.port).await;
    let one: Option<i64> = fresh.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    match mysql_async::Conn::new(user_opts(router.port, "reload_ghost", "ghost_pw")).await {
        Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1045, "{e:?}"),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a user from an invalid config could log in"),
    }

    // The same file, fixed, is applied.
    router.write_config(&format!("{base}{}", user_entry("reload_ghost", "ghost_pw")));
    let outcome = router.reload().await;
    assert!(outcome.contains("users added: reload_ghost"), "{outcome}");
    mysql_async::Conn::new(user_opts(router.port, "reload_ghost", "ghost_pw"))
        .await
        .expect("valid reload adds the user");
    drop((held, fresh));
    router.signal(libc::SIGTERM);
    let out = router.wait_exit(Duration::from_secs(40)).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

async fn router_conn(port: u16) -> mysql_async::Conn {
    mysql_async::Conn::new(common::app_opts(port))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_reload_in_process() {
    let topo = common::topology().await;
    create_account(topo, "reload_inproc", "inproc_pw", "test").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sqlyard.toml");
    let port = sqlyard::sandbox::pick_free_port().unwrap();
    let admin = sqlyard::sandbox::pick_free_port().unwrap();
    let metrics = sqlyard::sandbox::pick_free_port().unwrap();
    let base = topo.router_config_toml(port, admin, metrics);
    let with_user = format!("{base}{}", user_entry("reload_inproc", "inproc_pw"));
    std::fs::write(&path, &with_user).unwrap();
    let server = Server::start(Config::load(&path).unwrap()).await.unwrap();
    assert!(server.wait_ready(Duration::from_secs(30)).await);
    let control = server.control.clone();

    // Unchanged file: nothing to report.
    let report = control.reload().await.unwrap();
    assert_eq!(report, Default::default(), "{report}");

    // A session of the user that is about to be removed.
    let mut doomed = mysql_async::Conn::new(user_opts(port, "reload_inproc", "inproc_pw"))
        .await
        .unwrap();
    doomed.query_drop("SELECT 1").await.unwrap();
    let pools_before = server.ctx.backends.pools();
    assert!(!pools_before.is_empty());

    // Remove the user, change pool and router settings, drop a replica.
    let replica = topo.node(topo.replica_indexes()[0]).unwrap().address();
    let changed = base
        .replace(&format!("[[servers]]\naddress = \"{replica}\"\n"), "")
        .replace("[router]\n", "[router]\nidle_timeout = \"7h\"\n")
        + "\n[pool]\nidle_timeout = \"17s\"\nmax_size = 7\n";
    std::fs::write(&path, &changed).unwrap();
    let report = control.reload().await.unwrap();
    assert_eq!(report.users_removed, ["reload_inproc"]);
    assert_eq!(report.servers_removed, vec![replica.clone()]);
    assert_eq!(report.sections_changed, ["router", "pool"]);
    assert!(report.needs_restart.is_empty(), "{report}");
    // Pool settings reached the existing pools.
    for p in &pools_before {
        assert_eq!(p.settings().idle_timeout, Duration::from_secs(17));
        assert_eq!(p.settings().max_size, 7);
    }
    // No new work for the removed server.
    let snap = server.ctx.topology.load();
    assert!(snap
        .server(&replica)
        .is_none_or(|s| !s.admin.accepts_new_work()));

    // The removed user's session keeps running, even on a new backend
    // connection after housekeeping; a new login is refused.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.ctx.backends.close_idle_to(&topo.primary().address());
    let two: Option<i64> = doomed.query_first("SELECT 2").await.unwrap();
    assert_eq!(two, Some(2));
    assert!(
        mysql_async::Conn::new(user_opts(port, "reload_inproc", "inproc_pw"))
            .await
            .is_err(),
        "removed user logged in"
    );
    drop(doomed);

    // An invalid file: ControlError::Config with file:line, nothing applied.
    std::fs::write(&path, format!("{changed}\n[routing]\nbogus = 1\n")).unwrap();
    let before = control.config();
    match control.reload().await {
        Err(ControlError::Config(e)) => {
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("{}:", path.display())), "{msg}");
            assert!(e.location().is_some(), "{msg}");
            assert!(msg.contains("bogus"), "{msg}");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(std::sync::Arc::ptr_eq(&before, &control.config()));

    // ADD SERVER / REMOVE SERVER edit the file, then reload.
    std::fs::write(&path, &changed).unwrap();
    let report = control.add_server(&replica).await.unwrap();
    assert_eq!(report.servers_added, vec![replica.clone()]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("address = \"{replica}\"")), "{text}");
    assert!(text.contains("idle_timeout = \"17s\""), "{text}");
    assert!(matches!(
        control.add_server(&replica).await,
        Err(ControlError::ServerExists(_))
    ));
    let report = control.remove_server(&replica).await.unwrap();
    assert_eq!(report.servers_removed, vec![replica.clone()]);
    assert!(!std::fs::read_to_string(&path).unwrap().contains(&replica));
    let primary = topo.primary().address();
    assert!(matches!(
        control.remove_server(&primary).await,
        Err(ControlError::RemovePrimary(_))
    ));
    assert!(matches!(
        control.add_server("not an address").await,
        Err(ControlError::BadAddress { .. })
    ));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_log_has_no_passwords() {
    let topo = common::topology().await;
    let router = RouterProcess::start(topo, "debug", |_| {}).await;
    // A wrong password, then the right one, on the app and admin ports.
    let wrong = "wrong_pw_7d1f";
    assert!(mysql_async::Conn::new(user_opts(router.port, "app", wrong))
        .await
        .is_err());
    let mut c = router_conn(router.port).await;
    c.query_drop("SELECT 1").await.unwrap();
    assert!(
        mysql_async::Conn::new(user_opts(router.admin_port, "admin", wrong))
            .await
            .is_err()
    );
    // A reload that changes users and the monitor section.
    let changed = format!("{}{}", router.text, user_entry("log_user", "log_user_pw"));
    router.write_config(&changed);
    let outcome = router.reload().await;
    assert!(outcome.contains("users added: log_user"), "{outcome}");
    // And an invalid one (the monitor table twice, with its password).
    router.write_config(&format!(
        "{changed}\n[monitor]\nuser = \"router\"\npassword = \"router_pw\"\n"
    ));
    let outcome = router.reload().await;
    assert!(outcome.contains("config not applied"), "{outcome}");
    drop(c);
    router.signal(libc::SIGTERM);
    let out = router.wait_exit(Duration::from_secs(40)).await;
    assert_eq!(out.code, Some(0));
    assert!(out.stderr.contains("DEBUG"), "debug logging was on");
    for secret in [
        "app_pw",
        "admin_pw",
        "router_pw",
        "repl_pw",
        "log_user_pw",
        wrong,
    ] {
        assert!(
            !out.stderr.contains(secret),
            "{secret} in the log:\n{}",
            out.stderr
        );
    }
}

/// A router started from a config built in memory has no file to reload.
#[tokio::test]
async fn reload_without_a_file_is_refused() {
    let text = sqlyard::sandbox::render_router_config(
        &["127.0.0.1:1".to_string()],
        sqlyard::sandbox::RouterPorts {
            listen: 1,
            admin: 2,
            metrics: 3,
        },
    );
    let mut config = Config::from_toml_str(&text, Path::new("mem.toml")).unwrap();
    config.source = None;
    config.router.listen = "127.0.0.1:0".into();
    config.router.admin_listen = "127.0.0.1:0".into();
    config.router.metrics_listen = "127.0.0.1:0".into();
    let t0 = Instant::now();
    let server = Server::start(config).await.unwrap();
    assert!(matches!(
        server.reload().await,
        Err(ControlError::NoConfigFile(_))
    ));
    server.shutdown().await;
    assert!(t0.elapsed() < Duration::from_secs(5));
}
