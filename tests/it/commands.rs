//! The small commands through sqlyard answer as a direct connection does:
//! COM_PING, COM_STATISTICS, COM_FIELD_LIST, COM_SET_OPTION, COM_INIT_DB.

use crate::{common, raw};

use raw::{RawConn, Response};

async fn field_list(c: &mut RawConn, table: &str) -> Vec<String> {
    let mut p = vec![0x04];
    p.extend_from_slice(table.as_bytes());
    p.push(0);
    c.send_command(&p).await;
    let mut names = Vec::new();
    loop {
        let pkt = c.read_packet().await;
        match pkt.first() {
            Some(0xfe) if pkt.len() < 0xff_ffff => return names,
            Some(0xff) => panic!("COM_FIELD_LIST failed: {:?}", raw::parse_err(&pkt)),
            _ => names.push(raw::column_name(&pkt)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_commands_answer_like_a_direct_connection() {
    let topo = common::topology().await;
    let db = common::fresh_db(topo, "cmd_small").await;
    let mut d = common::direct(topo).await;
    use mysql_async::prelude::Queryable;
    d.query_drop(format!(
        "CREATE TABLE `{db}`.t (id INT PRIMARY KEY, name VARCHAR(10), at DATETIME)"
    ))
    .await
    .unwrap();
    drop(d);
    let router = common::Router::start(topo, "").await;
    let direct_port = topo.primary().port();
    for port in [router.port, direct_port] {
        let mut c = RawConn::connect(port, "app", "app_pw", Some(&db), 0)
            .await
            .unwrap();
        // COM_PING
        c.send_command(&[0x0e]).await;
        assert_eq!(c.read_packet().await.first(), Some(&0x00), "ping on {port}");
        // COM_STATISTICS: one string packet
        c.send_command(&[0x09]).await;
        let stats = String::from_utf8_lossy(&c.read_packet().await).into_owned();
        assert!(stats.starts_with("Uptime:"), "{stats}");
        // COM_FIELD_LIST
        assert_eq!(
            field_list(&mut c, "t").await,
            ["id", "name", "at"],
            "port {port}"
        );
        // COM_SET_OPTION off: multi-statements refused; on: allowed
        c.send_command(&[0x1b, 1, 0]).await;
        let _ = c.read_packet().await;
        match c.query("SELECT 1; SELECT 2").await {
            Response::Err(e) => assert_eq!(e.code, 1064, "port {port}"),
            other => panic!("multi-statements while off on {port}: {other:?}"),
        }
        c.send_command(&[0x1b, 0, 0]).await;
        let _ = c.read_packet().await;
        assert!(matches!(
            c.query("SELECT 1; SELECT 2").await,
            Response::Rows { .. }
        ));
        // drain the second result set
        let _ = c.read_response().await;
        // COM_INIT_DB: existing and unknown databases
        assert!(matches!(c.init_db("mysql").await, Response::Ok { .. }));
        match c.init_db("no_such_db_here").await {
            Response::Err(e) => assert_eq!(e.code, 1049, "port {port}"),
            other => panic!("{other:?}"),
        }
        let rows = c.query_rows("SELECT DATABASE()").await;
        assert_eq!(rows[0][0].as_deref(), Some(&b"mysql"[..]), "port {port}");
    }
    router.stop().await;
}
