//! TLS on both sides, with real clients and real servers: a `--tls`
//! sandbox (its own CA, servers with `require_secure_transport=ON`,
//! replication over TLS) and routers configured as `sqlyard sandbox --tls`
//! configures them (`[tls]` with `client_ca`, `[backend_tls] mode =
//! "verify-ca"`). Clients verify the router's certificate against the
//! sandbox CA; a client trusting another CA, or expecting another host
//! name, must fail on its own side. The servers' own counters say what
//! reached them (`Ssl_version`, `Master_SSL_Allowed`).
use crate::{common, failover_support, procs};

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use failover_support::*;
use mysql_async::prelude::*;
use sqlyard::sandbox::{SandboxOptions, TlsFiles, Topology};

const LIMIT: Duration = Duration::from_secs(30);
const PYTHON: &str = "/usr/bin/python3";

async fn tls_topology() -> common::OwnTopology {
    let topo = common::start_topology(SandboxOptions {
        tls: true,
        ..Default::default()
    })
    .await
    .expect("TLS sandbox starts");
    topo.set_router_auto_failover(false);
    topo
}

fn files(topo: &Topology) -> &TlsFiles {
    topo.tls_files().expect("a --tls sandbox has certificates")
}

/// mysql_async options for `user` through port `port`, over TLS checked
/// against `ca`.
fn tls_opts(port: u16, user: &str, password: &str, ca: &Path) -> mysql_async::OptsBuilder {
    common::app_opts(port)
        .user(Some(user))
        .pass(Some(password))
        .ssl_opts(mysql_async::SslOpts::default().with_root_certs(vec![ca.to_path_buf().into()]))
}

/// The `mariadb` CLI over TLS, verifying the server certificate with `ca`.
fn cli_tls(port: u16, ca: &Path, extra: &[&str], sql: &str) -> procs::Output {
    let mut c = procs::mariadb(port);
    c.arg(format!("--ssl-ca={}", ca.display()))
        .arg("--ssl-verify-server-cert")
        .args(extra)
        .arg("-e")
        .arg(sql);
    procs::run(c, LIMIT)
}

fn admin_port(r: &common::Router) -> u16 {
    failover_support::admin_port(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_reach_the_servers_over_tls_verified_on_both_sides() {
    let own = tls_topology().await;
    let topo: &Topology = &own;
    let tls = files(topo).clone();
    let other = tempfile::tempdir().unwrap();
    let other_ca = TlsFiles::generate(other.path()).unwrap();
    // `app` may log in over TLS only
    let r = common::Router::start_with(topo, true, |text| {
        *text = text.replacen(
            "password = \"app_pw\"",
            "password = \"app_pw\"\nrequire_tls = true",
            1,
        );
    })
    .await;
    let port = r.port;

    // the mariadb CLI: `\s` names the cipher, and the statement reaches a server
    let out = cli_tls(port, &tls.ca, &[], "\\s");
    out.assert_ok("mariadb over TLS");
    let status = out.stdout.clone();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("SSL:") && l.contains("Cipher in use is TLS_")),
        "{status}"
    );
    let out = cli_tls(port, &tls.ca, &["-N"], "SELECT @@server_id");
    out.assert_ok("a query over TLS");
    assert!(out.stdout.trim().parse::<u32>().is_ok(), "{}", out.stdout);

    // another CA: the CLI refuses the router's certificate itself
    let out = cli_tls(port, &other_ca.ca, &[], "SELECT 1");
    assert_ne!(out.code, Some(0), "a wrong CA must fail: {out:?}");
    assert!(
        out.stderr.contains("SSL") || out.stderr.contains("certificate"),
        "{}",
        out.stderr
    );

    // plaintext: `app` is refused with 1045 and the reason
    let mut c = procs::mariadb(port);
    c.arg("--skip-ssl").arg("-e").arg("SELECT 1");
    let out = procs::run(c, LIMIT);
    assert!(
        out.stderr.contains("ERROR 1045")
            && out.stderr.contains("sqlyard:")
            && out.stderr.contains("must connect over TLS"),
        "{out:?}"
    );

    // PHP mysqli and PDO, verifying against the CA; and against another CA
    let php = |ca: &Path| {
        let mut c = Command::new("php");
        c.arg("-d")
            .arg("display_errors=stderr")
            .arg(procs::client_script("tls_php.php"))
            .args(["127.0.0.1", &port.to_string(), "app", "app_pw"])
            .arg(ca);
        let out = procs::run(c, LIMIT);
        out.assert_ok("php tls_php.php");
        out.stdout
    };
    let good = php(&tls.ca);
    for client in ["mysqli", "pdo"] {
        assert!(
            good.lines()
                .any(|l| l.starts_with(&format!("{client}\t{{\"ok\":"))),
            "{client} over TLS: {good}"
        );
    }
    let bad = php(&other_ca.ca);
    for client in ["mysqli", "pdo"] {
        assert!(
            bad.lines()
                .any(|l| l.starts_with(&format!("{client}\t{{\"error\":"))),
            "{client} must refuse a certificate from another CA: {bad}"
        );
    }

    // PyMySQL, host name checked too
    let py = |host: &str, p: u16, ca: &Path| {
        let mut c = Command::new(PYTHON);
        c.arg(procs::client_script("tls_pymysql.py"))
            .args([host, &p.to_string(), "app", "app_pw"])
            .arg(ca);
        let out = procs::run(c, LIMIT);
        out.assert_ok("python tls_pymysql.py");
        out.stdout
    };
    let out = py("127.0.0.1", port, &tls.ca);
    assert!(out.contains("version\t\"TLSv1.3\""), "{out}");
    assert!(out.contains("server_id\t"), "{out}");
    let out = py("127.0.0.1", port, &other_ca.ca);
    assert!(out.contains("error\t"), "{out}");

    // mysql_async with rustls
    let mut conn = mysql_async::Conn::new(tls_opts(port, "app", "app_pw", &tls.ca))
        .await
        .expect("mysql_async over TLS");
    let id: Option<u32> = conn.query_first("SELECT @@server_id").await.unwrap();
    assert!(id.is_some());
    // 20 MiB each way over TLS on both sides: nothing stays in a TLS buffer
    let big = vec![b'x'; 20 << 20];
    let len: Option<u64> = conn.exec_first("SELECT LENGTH(?)", (big,)).await.unwrap();
    assert_eq!(len, Some(20 << 20));
    let back: Option<Vec<u8>> = conn
        .query_first("SELECT REPEAT('y', 20 * 1024 * 1024)")
        .await
        .unwrap();
    assert_eq!(back.map(|b| b.len()), Some(20 << 20));
    conn.disconnect().await.unwrap();
    let refused = mysql_async::Conn::new(tls_opts(port, "app", "app_pw", &other_ca.ca)).await;
    assert!(refused.is_err(), "mysql_async must refuse another CA");

    // the servers saw TLS from sqlyard's pools: `Ssl_version` of the
    // backend session that runs the statement, as the server reports it
    let mut conn = mysql_async::Conn::new(tls_opts(port, "app", "app_pw", &tls.ca))
        .await
        .unwrap();
    let version: Option<(String, String)> = conn
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_version'")
        .await
        .unwrap();
    assert_eq!(version.map(|v| v.1).as_deref(), Some("TLSv1.3"));
    conn.disconnect().await.unwrap();

    // SHOW SERVERS names the TLS of each server's connections; the metrics
    // carry the certificates' expiry
    let rows = show_servers(admin_port(&r)).await;
    let primary = server_row(&rows, &topo.primary().address());
    assert!(
        cell(primary, "tls").starts_with("TLSv1.3 TLS13_"),
        "{primary:?}"
    );
    let metrics = common::scrape_metrics(&r).await;
    for cert in ["cert=\"listener\"", "cert=\"server\""] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("sqlyard_tls_cert_expiry_timestamp_seconds") && l.contains(cert)
            })
            .unwrap_or_else(|| panic!("no expiry metric for {cert}"));
        let at: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(at > now, "{line}");
    }
    r.stop().await;

    // a host name the certificate does not name fails on the client side
    let r2 = common::Router::start_with(topo, true, |text| {
        *text = text.replacen("listen = \"127.0.0.1:", "listen = \"127.0.0.2:", 1);
    })
    .await;
    let out = py("127.0.0.2", r2.port, &tls.ca);
    assert!(
        out.contains("error\t") && out.contains("127.0.0.2"),
        "the router's certificate does not name 127.0.0.2: {out}"
    );
    r2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_hash_only_users_and_plaintext_backends() {
    let own = tls_topology().await;
    let topo: &Topology = &own;
    let tls = files(topo).clone();
    let other = tempfile::tempdir().unwrap();
    let other_ca = TlsFiles::generate(other.path()).unwrap();
    // `app` configured by its mysql_native_password hash only, and
    // required to present a client certificate
    let hash = sqlyard::protocol::auth::native::format_native_hash(
        &sqlyard::protocol::auth::native_hash(b"app_pw"),
    );
    let r = common::Router::start_with(topo, true, |text| {
        *text = text.replacen(
            "password = \"app_pw\"",
            &format!("password = \"{hash}\"\nrequire_x509 = true"),
            1,
        );
    })
    .await;
    let port = r.port;

    // no client certificate: refused after the password, with the reason
    let out = cli_tls(port, &tls.ca, &[], "SELECT 1");
    assert!(
        out.stderr.contains("ERROR 1045") && out.stderr.contains("client certificate"),
        "{out:?}"
    );
    // a certificate from another CA: the TLS handshake fails
    let cert = format!("--ssl-cert={}", other_ca.client_cert.display());
    let key = format!("--ssl-key={}", other_ca.client_key.display());
    let out = cli_tls(port, &tls.ca, &[&cert, &key], "SELECT 1");
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(sqlyard_has_no_password(&r));

    // the sandbox's client certificate, and caching_sha2_password: the
    // client sends its password inside TLS (full authentication), sqlyard
    // checks it against the hash and from then on knows it
    let cert = format!("--ssl-cert={}", tls.client_cert.display());
    let key = format!("--ssl-key={}", tls.client_key.display());
    let out = cli_tls(
        port,
        &tls.ca,
        &[&cert, &key, "--default-auth=caching_sha2_password", "-N"],
        "SELECT CURRENT_USER()",
    );
    out.assert_ok("caching_sha2_password full authentication over TLS");
    assert!(out.stdout.starts_with("app@"), "{}", out.stdout);
    let learned = r.server.ctx.backends.credentials.get("app").unwrap();
    assert_eq!(
        learned.password.as_ref().map(|p| p.expose().to_string()),
        Some("app_pw".to_string()),
        "the password sent over TLS was learnt"
    );
    // (mysql_async reads only RSA PKCS#1 client keys; the sandbox's are
    // ECDSA, so the client certificate is checked with the CLI above)
    r.stop().await;

    // `[backend_tls] mode = "off"` against servers that require TLS: a
    // clear error for the client, in SHOW SERVERS and in the metrics
    let r = common::Router::start_with(topo, false, |text| {
        edit_toml(text, |doc| {
            doc["backend_tls"]["mode"] = toml_edit::value("off");
            doc["router"]["primary_wait"] = toml_edit::value("1s");
        });
    })
    .await;
    wait_until(
        Duration::from_secs(10),
        "the monitor reports the refusal",
        || async {
            let rows = show_servers(admin_port(&r)).await;
            rows.iter().all(|row| {
                cell(row, "reachable") == "no" && cell(row, "last_error").contains("mode = \"off\"")
            })
        },
    )
    .await;
    let metrics = common::scrape_metrics(&r).await;
    assert!(
        metrics
            .lines()
            .filter(|l| l.starts_with("sqlyard_server_up{"))
            .all(|l| l.ends_with(" 0")),
        "{metrics}"
    );
    let err = mysql_async::Conn::new(tls_opts(port_of(&r), "app", "app_pw", &tls.ca)).await;
    // no primary is known: the client is told so, with sqlyard's prefix
    if let Ok(mut c) = err {
        let e = c.query_drop("SELECT 1").await.unwrap_err().to_string();
        assert!(e.contains("sqlyard:"), "{e}");
    }
    r.stop().await;
}

fn port_of(r: &common::Router) -> u16 {
    r.port
}

fn sqlyard_has_no_password(r: &common::Router) -> bool {
    r.server
        .ctx
        .backends
        .credentials
        .get("app")
        .is_none_or(|c| c.password.is_none())
}

/// The 32-byte SSLRequest a client sends (capabilities with CLIENT_SSL).
fn ssl_request() -> Vec<u8> {
    let caps: u32 = 0x0000_0200 | 0x0000_0800 | 0x0000_8000 | 0x0008_0000; // 4.1, SSL, secure conn, plugin auth
    let mut p = Vec::new();
    p.extend_from_slice(&caps.to_le_bytes());
    p.extend_from_slice(&(1u32 << 24).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0u8; 23]);
    let mut pkt = vec![32, 0, 0, 1];
    pkt.extend_from_slice(&p);
    pkt
}

/// Reads one packet's payload from a raw stream.
async fn read_payload(s: &mut tokio::net::TcpStream) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut hdr = [0u8; 4];
    s.read_exact(&mut hdr).await?;
    let len = hdr[0] as usize | (hdr[1] as usize) << 8 | (hdr[2] as usize) << 16;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).await?;
    Ok(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_requests_and_bad_handshakes_get_clear_answers() {
    use tokio::io::AsyncWriteExt;
    // a listener without [tls]: the SSLRequest gets ERR 1043, not a parse error
    let shared = common::topology().await;
    let plain = common::Router::start(shared, "").await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", plain.port))
        .await
        .unwrap();
    let greeting = read_payload(&mut s).await.unwrap();
    // CLIENT_SSL is not offered: the low capability bytes follow the
    // version, connection id, 8 scramble bytes and a filler
    let at = greeting.iter().position(|&b| b == 0).unwrap() + 14;
    let caps_low = u16::from_le_bytes([greeting[at], greeting[at + 1]]);
    assert_eq!(caps_low & 0x0800, 0, "no TLS offered without [tls]");
    s.write_all(&ssl_request()).await.unwrap();
    let err = read_payload(&mut s).await.unwrap();
    assert_eq!(err[0], 0xff);
    assert_eq!(u16::from_le_bytes([err[1], err[2]]), 1043);
    let msg = String::from_utf8_lossy(&err[9..]).into_owned();
    assert_eq!(msg, "sqlyard: TLS is not configured on this listener");
    plain.stop().await;

    // a TLS listener: garbage instead of a ClientHello, and a client that
    // stalls in the middle of the handshake, are closed; the router goes on
    let own = tls_topology().await;
    let topo: &Topology = &own;
    let tls = files(topo).clone();
    let r = common::Router::start_with_router_keys(topo, "connect_timeout = \"1s\"").await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", r.port))
        .await
        .unwrap();
    read_payload(&mut s).await.unwrap();
    s.write_all(&ssl_request()).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt;
        s.read_to_end(&mut rest).await
    })
    .await;
    assert!(
        closed.is_ok(),
        "garbage instead of a ClientHello closes the connection"
    );

    let mut stalled = tokio::net::TcpStream::connect(("127.0.0.1", r.port))
        .await
        .unwrap();
    read_payload(&mut stalled).await.unwrap();
    stalled.write_all(&ssl_request()).await.unwrap();
    // half a ClientHello header, then nothing
    stalled.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    let t0 = std::time::Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt;
        let mut sink = Vec::new();
        stalled.read_to_end(&mut sink).await
    })
    .await;
    assert!(closed.is_ok(), "a stalled handshake is cut");
    assert!(
        t0.elapsed() >= Duration::from_millis(800),
        "{:?}",
        t0.elapsed()
    );

    // the router still serves TLS clients
    let out = cli_tls(r.port, &tls.ca, &["-N"], "SELECT 1");
    out.assert_ok("TLS after bad handshakes");
    r.stop().await;
}

/// The SHA-256 of the first certificate of a PEM file, hex.
fn cert_sha256(pem: &Path) -> String {
    use sha2::{Digest, Sha256};
    let certs = sqlyard::tls::pem::certs(pem).unwrap();
    hex::encode(Sha256::digest(&certs[0]))
}

/// What PyMySQL sees of the router: the certificate's SHA-256, or the error.
fn presented_cert(port: u16, ca: &Path) -> String {
    let mut c = Command::new(PYTHON);
    c.arg(procs::client_script("tls_pymysql.py"))
        .args(["127.0.0.1", &port.to_string(), "app", "app_pw"])
        .arg(ca);
    let out = procs::run(c, LIMIT);
    out.assert_ok("python tls_pymysql.py");
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("cert_sha256\t"))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("no certificate: {}", out.stdout))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_reload_under_load_and_replication_stays_encrypted_across_a_switchover() {
    use crate::router_process::RouterProcess;
    let own = tls_topology().await;
    let topo: &Topology = &own;
    let tls = files(topo).clone();
    // the router's certificate files, which the test replaces
    let certs = tempfile::tempdir().unwrap();
    let cert = certs.path().join("router-cert.pem");
    let key = certs.path().join("router-key.pem");
    std::fs::copy(&tls.router_cert, &cert).unwrap();
    std::fs::copy(&tls.router_key, &key).unwrap();
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    let router = RouterProcess::start(topo, "info", |text| {
        edit_toml(text, |doc| {
            doc["tls"]["cert"] = toml_edit::value(cert_s.as_str());
            doc["tls"]["key"] = toml_edit::value(key_s.as_str());
        })
    })
    .await;
    assert_eq!(
        presented_cert(router.port, &tls.ca),
        cert_sha256(&tls.router_cert)
    );

    // sysbench over TLS (its files: cacert.pem, client-cert.pem, client-key.pem)
    let work = tempfile::tempdir().unwrap();
    std::fs::copy(&tls.ca, work.path().join("cacert.pem")).unwrap();
    std::fs::copy(&tls.client_cert, work.path().join("client-cert.pem")).unwrap();
    std::fs::copy(&tls.client_key, work.path().join("client-key.pem")).unwrap();
    let mut root = topo.primary().root_conn().await.unwrap();
    root.query_drop("CREATE DATABASE IF NOT EXISTS sbtls")
        .await
        .unwrap();
    root.query_drop("GRANT ALL ON sbtls.* TO 'app'@'%'")
        .await
        .unwrap();
    drop(root);
    let sysbench = |cmd: &str, extra: &[&str]| {
        let port = router.port.to_string();
        let mut c = crate::sysbench::sysbench("oltp_read_write", &port, "sbtls", 4, 20000);
        c.current_dir(work.path())
            .arg("--mysql-ssl=on")
            .args(extra)
            .arg(cmd);
        c
    };
    procs::run_async(sysbench("prepare", &[]), Duration::from_secs(120))
        .await
        .assert_ok("sysbench prepare over TLS");
    let run = sysbench("run", &["--threads=4", "--time=10", "--report-interval=0"]);
    let bench = tokio::task::spawn_blocking(move || procs::run(run, Duration::from_secs(60)));
    tokio::time::sleep(Duration::from_secs(3)).await;

    // new files from another CA; SIGHUP: new connections present them
    let next = tempfile::tempdir().unwrap();
    let next = TlsFiles::generate(next.path()).unwrap();
    std::fs::copy(&next.router_cert, &cert).unwrap();
    std::fs::copy(&next.router_key, &key).unwrap();
    let outcome = router.reload().await;
    assert!(!outcome.contains("not applied"), "{outcome}");
    assert_eq!(
        presented_cert(router.port, &next.ca),
        cert_sha256(&next.router_cert)
    );

    // an unusable key: refused with its path and reason; the running
    // certificate stays
    std::fs::write(&key, "not a key\n").unwrap();
    let outcome = router.reload().await;
    assert!(
        outcome.contains("not applied")
            && outcome.contains("tls.key")
            && outcome.contains(&key_s)
            && outcome.contains("no private key"),
        "{outcome}"
    );
    let admin = mysql_async::Conn::new(admin_opts(router.admin_port)).await;
    let mut admin = admin.expect("admin login");
    let refused = admin
        .query_drop("RELOAD CONFIG")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("sqlyard:") && refused.contains("no private key"),
        "{refused}"
    );
    drop(admin);
    assert_eq!(
        presented_cert(router.port, &next.ca),
        cert_sha256(&next.router_cert)
    );

    let out = bench.await.unwrap();
    out.assert_ok("sysbench over TLS through the reloads");
    let errors = crate::sysbench::stat(&out.stdout, "ignored errors:");
    // (sysbench counts deadlocks among ignored errors; 4 tables of 20,000
    // rows make them practically impossible at 4 threads)
    assert_eq!(errors, 0, "{}", out.stdout);

    // a switchover repoints the replicas: replication stays encrypted and
    // verified (failover.replication_ssl_ca), as the replicas report it
    let configured = topo.addresses();
    let old = topo.primary_index();
    let target = topo.replica_indexes()[0];
    admin_sql(
        router.admin_port,
        &format!("SWITCHOVER TO '{}'", configured[target]),
    )
    .await
    .expect("switchover");
    wait_until(
        Duration::from_secs(30),
        "the switchover finishes",
        || async {
            show_servers(router.admin_port).await.iter().any(|row| {
                cell(row, "address") == configured[target] && cell(row, "role") == "primary"
            })
        },
    )
    .await;
    topo.set_primary_index(target).unwrap();
    for (i, node) in topo.nodes().iter().enumerate() {
        if i == target {
            continue;
        }
        wait_until(
            Duration::from_secs(20),
            "the replica follows the new primary",
            || async { replicates_from(topo, i, target).await.is_ok() },
        )
        .await;
        let rows: Vec<mysql_async::Row> = node.query_root("SHOW SLAVE STATUS").await.unwrap();
        let status = rows.first().expect("a replica");
        let get = |c: &str| status.get::<Option<String>, &str>(c).flatten();
        assert_eq!(
            get("Master_SSL_Allowed").as_deref(),
            Some("Yes"),
            "node {i}"
        );
        assert_eq!(
            get("Master_SSL_Verify_Server_Cert").as_deref(),
            Some("Yes"),
            "node {i}"
        );
        assert_eq!(
            get("Master_SSL_CA_File").as_deref(),
            tls.ca.to_str(),
            "node {i}"
        );
    }
    let _ = old;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_a_warning_and_a_metric_and_admin_tls_can_be_required() {
    use crate::router_process::RouterProcess;
    let own = tls_topology().await;
    let topo: &Topology = &own;
    let tls = files(topo).clone();
    // a router certificate that expired yesterday, signed by a CA of its own
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let (cert_path, key_path) = (dir.path().join("old.pem"), dir.path().join("old-key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let (c, k) = (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    );
    let router = RouterProcess::start(topo, "info", |text| {
        edit_toml(text, |doc| {
            doc["tls"]["cert"] = toml_edit::value(c.as_str());
            doc["tls"]["key"] = toml_edit::value(k.as_str());
            doc["router"]["admin_require_tls"] = toml_edit::value(true);
        })
    })
    .await;
    let log = router.log();
    assert!(log.contains("has expired"), "{log}");
    let metrics_addr = toml::from_str::<toml::Value>(&router.text).unwrap()["router"]
        ["metrics_listen"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let metrics = common::scrape_metrics_at(metrics_addr).await;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("sqlyard_tls_cert_expiry_timestamp_seconds") && l.contains("listener")
        })
        .unwrap_or_else(|| panic!("no listener expiry metric:\n{metrics}"));
    // 2021-01-01T00:00:00Z
    assert!(line.ends_with(" 1609459200"), "{line}");

    // the admin listener refuses plaintext operators, with the reason
    let e = mysql_async::Conn::new(admin_opts(router.admin_port))
        .await
        .expect_err("plaintext admin login refused")
        .to_string();
    assert!(e.contains("3159") && e.contains("admin_require_tls"), "{e}");
    // over TLS (this certificate is expired: the client does not verify it)
    let opts = admin_opts(router.admin_port)
        .ssl_opts(mysql_async::SslOpts::default().with_danger_accept_invalid_certs(true));
    let mut admin = mysql_async::Conn::new(opts).await.expect("admin over TLS");
    let rows: Vec<mysql_async::Row> = admin.query("SHOW SERVERS").await.unwrap();
    assert_eq!(rows.len(), topo.nodes().len());
    drop(admin);
    let _ = tls;
}
