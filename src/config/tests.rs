//! Whole-file tests of the config layer: the shipped example, defaults,
//! durations and clamping, error locations, secrets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::load::parse_and_validate;
use super::*;

const FILE: &str = "examples/sqlyard.toml";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, Path::new(FILE))
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// The example with `from` replaced by `to` (which must occur).
fn example_with(from: &str, to: &str) -> String {
    let ex = example_toml();
    assert!(ex.contains(from), "{from:?} not in the example");
    ex.replacen(from, to, 1)
}

/// The example plus extra sections at the end (the example ends inside the
/// last `[[servers]]` table, so start with a section header).
fn example_plus(extra: &str) -> String {
    format!("{}\n{extra}", example_toml())
}

/// The 1-based line of the first line containing `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn example_parses_as_a_complete_config() {
    let c = parse(example_toml()).unwrap();
    assert_eq!(c.router.listen, "127.0.0.1:6033");
    assert_eq!(c.router.admin_listen, "127.0.0.1:6032");
    assert_eq!(c.router.admin_user, "admin");
    assert_eq!(c.router.admin_password.expose(), "admin_pw");
    assert_eq!(c.router.metrics_listen, "127.0.0.1:9033");
    assert_eq!(c.users.len(), 1);
    assert_eq!(c.users[0].name, "app");
    assert_eq!(
        c.users[0].password.plain().map(Secret::expose),
        Some("app_pw")
    );
    assert_eq!(c.monitor.user, "router");
    assert_eq!(c.monitor.password.expose(), "router_pw");
    assert_eq!(c.monitor.replication_user, "repl");
    assert_eq!(c.monitor.replication_password.expose(), "repl_pw");
    assert_eq!(c.monitor.schema, "sqlyard");
    let addresses: Vec<_> = c.servers.iter().map(|s| s.address.as_str()).collect();
    assert_eq!(
        addresses,
        ["127.0.0.1:23301", "127.0.0.1:23302", "127.0.0.1:23303"]
    );
    assert_eq!(c.source.as_deref(), Some(Path::new(FILE)));
    assert!(c.user("app").is_some());
    assert!(c.user("admin").is_none());
}

#[test]
fn example_file_on_disk_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE);
    let c = Config::load(&path).unwrap();
    assert_eq!(c.source.as_deref(), Some(path.as_path()));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), example_toml());
}

#[test]
fn every_other_key_has_its_documented_default() {
    let c = parse(example_toml()).unwrap();
    let d = |s: u64| DurationSetting::from_secs(s);
    assert_eq!(c.router.max_connections, 10_000);
    assert_eq!(c.router.worker_threads, 0);
    assert_eq!(c.router.admin_max_connections, 32);
    assert_eq!(c.router.auth_failures_before_delay, 3);
    assert_eq!(c.router.auth_max_delay, d(2));
    assert_eq!(c.router.admin_idle_timeout, d(3600));
    assert_eq!(c.router.connect_timeout, d(10));
    assert_eq!(c.router.idle_timeout, d(8 * 3600));
    assert_eq!(c.router.primary_wait, d(10));
    assert_eq!(c.router.shutdown_timeout, d(30));
    assert_eq!(c.router.server_version, "auto");
    assert_eq!(c.monitor.interval, DurationSetting::from_millis(500));
    assert_eq!(c.monitor.connect_timeout, d(1));
    assert_eq!(c.monitor.query_timeout, d(1));
    for s in &c.servers {
        assert_eq!(s.weight, 1);
        assert_eq!(s.promotion, Promotion::Always);
        assert_eq!(s.max_replication_lag, None);
    }
    assert_eq!(c.pool, PoolConfig::default());
    assert_eq!(c.pool.max_size, 200);
    assert_eq!(c.pool.checkout_timeout, d(5));
    assert_eq!(c.pool.connect_timeout, d(2));
    assert_eq!(c.pool.idle_timeout, d(60));
    assert_eq!(c.pool.min_idle, 0);
    assert_eq!(c.pool.max_prepared_per_connection, 64);
    assert!(c.routing.read_write_split);
    assert_eq!(c.routing.max_replication_lag, d(5));
    assert_eq!(c.routing.primary_reads, PrimaryReads::Fallback);
    assert_eq!(c.consistency.read_your_writes, RywScope::User);
    assert_eq!(c.consistency.wait_timeout, d(1));
    assert!(c.failover.enabled);
    assert_eq!(c.failover.silence_grace, d(3));
    assert_eq!(c.failover.hold_timeout, d(10));
    assert_eq!(c.failover.anti_flap_window, d(600));
    assert_eq!(c.failover.max_candidate_lag, d(10));
    assert_eq!(c.failover.journal, "sqlyard-failover.journal");
    assert_eq!(
        c.journal_path(),
        Path::new("examples/sqlyard-failover.journal")
    );
}

#[test]
fn listener_defaults_allow_a_minimal_router_section() {
    let text = "[router]\nadmin_password = \"pw\"\n\
                [[users]]\nname = \"app\"\npassword = \"x\"\n\
                [monitor]\nuser = \"m\"\npassword = \"m\"\n\
                [failover]\nenabled = false\n\
                [[servers]]\naddress = \"db:3306\"\n";
    let c = parse(text).unwrap();
    assert_eq!(c.router.listen, "127.0.0.1:6033");
    assert_eq!(c.router.admin_listen, "127.0.0.1:6032");
    assert_eq!(c.router.metrics_listen, "127.0.0.1:9033");
    assert_eq!(c.router.admin_user, "admin");
}

#[test]
fn every_key_can_be_set() {
    let text = example_plus(
        "weight = 3\npromotion = \"never\"\nmax_replication_lag = \"2s\"\n\
         [pool]\nmax_size = 10\ncheckout_timeout = \"250ms\"\nconnect_timeout = \"3s\"\n\
         idle_timeout = \"2m\"\nmin_idle = 2\nmax_prepared_per_connection = 8\n\
         [routing]\nread_write_split = false\nmax_replication_lag = \"1.5s\"\nprimary_reads = \"always\"\n\
         [consistency]\nread_your_writes = \"none\"\nwait_timeout = \"100ms\"\n\
         [failover]\nenabled = false\nsilence_grace = \"1s\"\nhold_timeout = \"4s\"\n\
         anti_flap_window = \"1h\"\nmax_candidate_lag = \"3s\"\njournal = \"/var/lib/j\"\n",
    );
    let text = text.replace(
        "metrics_listen = \"127.0.0.1:9033\"",
        "metrics_listen = \"[::1]:9033\"\nmax_connections = 5\nworker_threads = 3\nconnect_timeout = \"1m\"\n\
         idle_timeout = \"30m\"\nprimary_wait = \"2s\"\nshutdown_timeout = \"5s\"\n\
         server_version = \"10.11.6-MariaDB\"",
    );
    let text = text.replace(
        "# schema = \"sqlyard\"   # the default",
        "schema = \"yard_2\"\ninterval = \"100ms\"\nconnect_timeout = \"2s\"\nquery_timeout = \"3s\"",
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.router.metrics_listen, "[::1]:9033");
    assert_eq!(c.router.max_connections, 5);
    assert_eq!(c.router.worker_threads, 3);
    assert_eq!(c.router.connect_timeout.get(), Duration::from_secs(60));
    assert_eq!(c.router.idle_timeout.get(), Duration::from_secs(1800));
    assert_eq!(c.router.primary_wait.get(), Duration::from_secs(2));
    assert_eq!(c.router.shutdown_timeout.get(), Duration::from_secs(5));
    assert_eq!(c.router.server_version, "10.11.6-MariaDB");
    assert_eq!(c.monitor.schema, "yard_2");
    assert_eq!(c.monitor.interval.get(), Duration::from_millis(100));
    assert_eq!(c.monitor.connect_timeout.get(), Duration::from_secs(2));
    assert_eq!(c.monitor.query_timeout.get(), Duration::from_secs(3));
    let last = &c.servers[2];
    assert_eq!(last.weight, 3);
    assert_eq!(last.promotion, Promotion::Never);
    assert_eq!(
        last.max_replication_lag,
        Some(DurationSetting::from_secs(2))
    );
    assert_eq!(c.pool.max_size, 10);
    assert_eq!(c.pool.checkout_timeout.get(), Duration::from_millis(250));
    assert_eq!(c.pool.connect_timeout.get(), Duration::from_secs(3));
    assert_eq!(c.pool.idle_timeout.get(), Duration::from_secs(120));
    assert_eq!(c.pool.min_idle, 2);
    assert_eq!(c.pool.max_prepared_per_connection, 8);
    assert!(!c.routing.read_write_split);
    assert_eq!(
        c.routing.max_replication_lag.get(),
        Duration::from_millis(1500)
    );
    assert_eq!(c.routing.primary_reads, PrimaryReads::Always);
    assert_eq!(c.consistency.read_your_writes, RywScope::None);
    assert_eq!(c.consistency.wait_timeout.get(), Duration::from_millis(100));
    assert!(!c.failover.enabled);
    assert_eq!(c.failover.silence_grace.get(), Duration::from_secs(1));
    assert_eq!(c.failover.hold_timeout.get(), Duration::from_secs(4));
    assert_eq!(c.failover.anti_flap_window.get(), Duration::from_secs(3600));
    assert_eq!(c.failover.max_candidate_lag.get(), Duration::from_secs(3));
    assert_eq!(c.journal_path(), PathBuf::from("/var/lib/j"));
}

#[test]
fn enum_values() {
    for (text, want) in [
        ("session", RywScope::Session),
        ("user", RywScope::User),
        ("global", RywScope::Global),
        ("none", RywScope::None),
    ] {
        let c = parse(&example_plus(&format!(
            "[consistency]\nread_your_writes = \"{text}\"\n"
        )))
        .unwrap();
        assert_eq!(c.consistency.read_your_writes, want);
    }
    for (text, want) in [
        ("never", PrimaryReads::Never),
        ("fallback", PrimaryReads::Fallback),
        ("always", PrimaryReads::Always),
    ] {
        let c = parse(&example_plus(&format!(
            "[routing]\nprimary_reads = \"{text}\"\n"
        )))
        .unwrap();
        assert_eq!(c.routing.primary_reads, want);
    }
    let text = example_plus("promotion = \"sometimes\"\n");
    let msg = err(&text);
    assert!(
        msg.starts_with(&format!("{FILE}:{}:", line_of(&text, "sometimes"))),
        "{msg}"
    );
    assert!(msg.contains("unknown variant `sometimes`"), "{msg}");
}

#[test]
fn duration_forms_in_a_file() {
    for (text, want) in [
        ("\"500ms\"", Duration::from_millis(500)),
        ("\"5s\"", Duration::from_secs(5)),
        ("\"2m\"", Duration::from_secs(120)),
        ("\"1h\"", Duration::from_secs(3600)),
        ("\"1.5s\"", Duration::from_millis(1500)),
    ] {
        let c = parse(&example_plus(&format!(
            "[pool]\ncheckout_timeout = {text}\n"
        )))
        .unwrap();
        assert_eq!(c.pool.checkout_timeout.get(), want, "{text}");
    }
}

#[test]
fn bad_durations_are_errors_at_their_line() {
    for (value, reason) in [
        ("5", "durations are strings with a unit, e.g. \"500ms\""),
        ("-5", "durations are strings with a unit, e.g. \"500ms\""),
        ("1.5", "durations are strings with a unit, e.g. \"500ms\""),
        ("\"0s\"", "greater than zero"),
        ("\"-1s\"", "must be positive"),
        ("\"soon\"", "not a duration"),
        ("\"5\"", "missing unit"),
        ("\"5 days\"", "unknown unit"),
    ] {
        let text = example_plus(&format!("[pool]\n\nidle_timeout = {value}\n"));
        let msg = err(&text);
        let line = line_of(&text, "idle_timeout");
        assert!(
            msg.starts_with(&format!("{FILE}:{line}:16: ")),
            "{value}: {msg}"
        );
        assert!(msg.contains(reason), "{value}: {msg}");
    }
}

#[test]
fn out_of_range_durations_are_clamped_and_reported() {
    let text = example_plus("max_replication_lag = \"48h\"\n").replace(
        "# schema = \"sqlyard\"   # the default",
        "interval = \"10ms\"",
    );
    let text = text.replace(
        "metrics_listen = \"127.0.0.1:9033\"",
        "metrics_listen = \"127.0.0.1:9033\"\nidle_timeout = \"100000h\"",
    );
    let loaded = parse_and_validate(&text, Path::new(FILE)).unwrap();
    let c = &loaded.config;
    assert_eq!(c.monitor.interval, DurationSetting::from_millis(50));
    assert_eq!(
        c.router.idle_timeout,
        DurationSetting::from_secs(365 * 24 * 3600)
    );
    assert_eq!(
        c.servers[2].max_replication_lag,
        Some(DurationSetting::from_secs(24 * 3600))
    );
    let report: Vec<String> = loaded
        .clamps
        .iter()
        .map(|(c, at)| {
            let at = at.map(|l| l.line).unwrap_or(0);
            format!("{}@{at}: {} -> {}", c.key, c.configured, c.clamped_to)
        })
        .collect();
    assert_eq!(
        report,
        [
            format!(
                "router.idle_timeout@{}: 100000h -> 8760h",
                line_of(&text, "idle_timeout")
            ),
            format!(
                "monitor.interval@{}: 10ms -> 50ms",
                line_of(&text, "interval")
            ),
            format!(
                "servers[2].max_replication_lag@{}: 48h -> 24h",
                line_of(&text, "max_replication_lag")
            ),
        ]
    );
    // The public entry point applies the same clamps.
    assert_eq!(
        parse(&text).unwrap().monitor.interval,
        DurationSetting::from_millis(50)
    );
}

#[test]
fn unknown_key_names_file_line_and_column() {
    let text = example_with("listen = \"127.0.0.1:6033\"", "listne = \"127.0.0.1:6033\"");
    let msg = err(&text);
    assert!(
        msg.starts_with("examples/sqlyard.toml:2:1: unknown field `listne`, expected one of"),
        "{msg}"
    );
    let text = example_plus("[pool]\nmax_size = 3\nmaxsize = 3\n");
    let msg = err(&text);
    assert!(
        msg.starts_with(&format!(
            "{FILE}:{}:1: unknown field `maxsize`",
            line_of(&text, "maxsize =")
        )),
        "{msg}"
    );
    let msg = err(&example_plus("[pools]\n"));
    assert!(msg.contains("unknown field `pools`"), "{msg}");
}

#[test]
fn toml_syntax_errors_have_a_line() {
    let text = example_plus("[pool\n");
    let msg = err(&text);
    assert!(
        msg.starts_with(&format!("{FILE}:{}:", line_of(&text, "[pool"))),
        "{msg}"
    );
}

#[test]
fn missing_required_table_keys_point_at_the_table() {
    let text = example_with(
        "[[servers]]\naddress = \"127.0.0.1:23303\"",
        "[[servers]]\nweight = 2",
    );
    let msg = err(&text);
    assert_eq!(msg, format!("{FILE}:23:1: missing field `address`"));
    let text = example_with("password = \"app_pw\"\n", "");
    assert_eq!(err(&text), format!("{FILE}:8:1: missing field `password`"));
}

/// The single issue of an `Invalid` error, as `line: message`.
fn issue(text: &str) -> (usize, String) {
    match parse(text) {
        Err(ConfigError::Invalid { issues, .. }) if issues.len() == 1 => {
            let i = &issues[0];
            (
                i.location.map_or(0, |l| l.line),
                format!("{} {}", i.key, i.problem),
            )
        }
        other => panic!("expected one issue, got {other:?}"),
    }
}

#[test]
fn cluster_section_is_checked_at_its_lines() {
    let ok =
        example_plus("[cluster]\netcd_endpoints = [\"http://127.0.0.1:2379\"]\nname = \"prod\"\n");
    let c = parse(&ok).unwrap();
    let cl = c.cluster.expect("[cluster]");
    assert_eq!(cl.lease_ttl, DurationSetting::from_secs(3));
    assert_eq!(cl.instance, None);
    let bad = example_plus("[cluster]\netcd_endpoints = [\"127.0.0.1:2379\"]\nname = \"prod\"\n");
    let (line, text) = issue(&bad);
    assert_eq!(line, line_of(&bad, "etcd_endpoints"));
    assert!(
        text.contains("must start with http:// or https://"),
        "{text}"
    );
    let bad = example_plus("[cluster]\netcd_endpoints = [\"http://e:1\"]\nname = \"a/b\"\n");
    let (line, text) = issue(&bad);
    assert_eq!(line, line_of(&bad, "name = \"a/b\""));
    assert!(text.starts_with("cluster.name"), "{text}");
    let bad = example_plus("[cluster]\nname = \"p\"\n");
    let (line, text) = issue(&bad);
    assert_eq!(line, line_of(&bad, "[cluster]"));
    assert_eq!(text, "cluster.etcd_endpoints is required");
    let bad = example_plus(
        "[cluster]\netcd_endpoints = [\"http://e:1\"]\nname = \"p\"\netcd_user = \"root\"\n",
    );
    assert_eq!(
        issue(&bad).1,
        "cluster.etcd_password is required when etcd_user is set"
    );
}

#[test]
fn backup_max_rate_takes_a_size_and_refuses_a_missing_unit() {
    let ok = example_plus("[backup]\ndir = \"/b\"\nmax_rate = \"8MiB\"\n");
    let b = parse(&ok).unwrap().backup.expect("[backup]");
    assert_eq!(b.max_rate.map(|r| r.get()), Some(8 << 20));
    let bad = example_plus("[backup]\ndir = \"/b\"\nmax_rate = 8\n");
    let (line, text) = issue(&bad);
    assert_eq!(line, line_of(&bad, "max_rate"));
    assert!(text.starts_with("backup.max_rate"), "{text}");
}

#[test]
fn validation_errors_name_their_line() {
    let dup = example_with(
        "address = \"127.0.0.1:23302\"",
        "address = \"127.0.0.1:23301\"",
    );
    assert_eq!(
        issue(&dup),
        (
            22,
            "servers[1].address duplicates servers[0].address (`127.0.0.1:23301`)".into()
        )
    );
    let msg = err(&dup);
    assert!(
        msg.starts_with("examples/sqlyard.toml:22:1: servers[1].address"),
        "{msg}"
    );

    let bad = example_with("address = \"127.0.0.1:23302\"", "address = \"127.0.0.1\"");
    assert_eq!(
        issue(&bad),
        (
            22,
            "servers[1].address `127.0.0.1` is not a valid host:port address: missing `:port`"
                .into()
        )
    );

    let weight = example_plus("weight = 0\n");
    assert_eq!(
        issue(&weight),
        (26, "servers[2].weight must be at least 1".into())
    );

    let threads = example_with(
        "admin_password = \"admin_pw\"",
        "admin_password = \"admin_pw\"\nworker_threads = 5000",
    );
    assert_eq!(
        issue(&threads),
        (6, "router.worker_threads must be at most 1024".into())
    );

    let no_pw = example_with("admin_password = \"admin_pw\"\n", "");
    assert_eq!(
        issue(&no_pw),
        (1, "router.admin_password is required".into())
    );
    assert!(err(&no_pw).starts_with(&format!("{FILE}:1:1: router.admin_password is required")));

    let empty_pw = example_with("admin_password = \"admin_pw\"", "admin_password = \"\"");
    assert_eq!(
        issue(&empty_pw),
        (5, "router.admin_password is required".into())
    );

    let admin_clash = example_with("name = \"app\"", "name = \"admin\"");
    assert_eq!(
        issue(&admin_clash),
        (
            4,
            "router.admin_user `admin` is also the name of users[0].name; \
             the admin account must be separate"
                .into()
        )
    );

    let dup_user = example_with(
        "[monitor]",
        "[[users]]\nname = \"app\"\npassword = \"other\"\n\n[monitor]",
    );
    assert_eq!(
        issue(&dup_user),
        (13, "users[1].name duplicates users[0].name (`app`)".into())
    );

    let empty_name = example_with("name = \"app\"", "name = \"\"");
    assert_eq!(
        issue(&empty_name),
        (9, "users[0].name must not be empty".into())
    );

    let listen_clash = example_with("127.0.0.1:9033", "127.0.0.1:6033");
    assert_eq!(
        issue(&listen_clash),
        (
            6,
            "router.metrics_listen duplicates router.listen (`127.0.0.1:6033`)".into()
        )
    );

    let bad_listen = example_with("127.0.0.1:6032", "127.0.0.1:70000");
    assert_eq!(
        issue(&bad_listen),
        (
            3,
            "router.admin_listen `127.0.0.1:70000` is not a valid host:port address: \
             port `70000` is not a number from 1 to 65535"
                .into()
        )
    );

    let min_idle = example_plus("[pool]\nmax_size = 2\nmin_idle = 3\n");
    assert_eq!(
        issue(&min_idle),
        (28, "pool.min_idle must not exceed pool.max_size (2)".into())
    );

    let schema = example_with("# schema = \"sqlyard\"", "schema = \"x;drop\"");
    assert_eq!(issue(&schema).0, 17);

    let no_repl = example_with("replication_user = \"repl\"", "");
    assert_eq!(
        issue(&no_repl),
        (
            12,
            "monitor.replication_user is required when failover.enabled = true".into()
        )
    );
    let no_repl_ok = format!("{no_repl}\n[failover]\nenabled = false\n");
    parse(&no_repl_ok).unwrap();
}

#[test]
fn empty_lists_and_all_issues_at_once() {
    let text = "[router]\nadmin_password = \"pw\"\n[monitor]\nuser = \"m\"\npassword = \"p\"\n\
                [failover]\nenabled = false\n";
    let msg = err(text);
    assert_eq!(
        msg,
        "examples/sqlyard.toml: users needs at least one [[users]] entry\n\
         examples/sqlyard.toml: servers needs at least one [[servers]] entry"
    );
    let msg = err("");
    let lines: Vec<&str> = msg.lines().collect();
    assert_eq!(lines.len(), 7, "{msg}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("examples/sqlyard.toml: ")),
        "{msg}"
    );
}

#[test]
fn inline_arrays_are_located_too() {
    let without_users = example_with(
        "[[users]]            # who may log in to the router; the same credentials are used towards the servers\nname = \"app\"\npassword = \"app_pw\"\n",
        "",
    );
    let text = format!(
        "users = [{{ name = \"app\", password = \"a\" }}, {{ name = \"app\", password = \"b\" }}]\n{without_users}"
    );
    let (line, msg) = issue(&text);
    assert_eq!(line, 1);
    assert_eq!(msg, "users[1].name duplicates users[0].name (`app`)");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.location().map(|l| l.column), Some(46));
}

#[test]
fn io_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.toml");
    let e = Config::load(&path).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read", path.display())),
        "{e}"
    );
}

#[test]
fn native_hashes_are_recognised_in_users() {
    let text = example_with(
        "password = \"app_pw\"",
        "password = \"*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9\"",
    );
    let c = parse(&text).unwrap();
    let pw = &c.user("app").unwrap().password;
    assert!(matches!(pw, Password::NativeHash(_)));
    assert_eq!(pw.native_hash(), Password::parse("123456").native_hash());
}

#[test]
fn secrets_never_show_in_debug_or_errors() {
    let c = parse(example_toml()).unwrap();
    let debug = format!("{c:?} {c:#?}");
    for secret in ["admin_pw", "app_pw", "router_pw", "repl_pw"] {
        assert!(!debug.contains(secret), "{secret} leaked");
    }
    assert!(debug.contains("***"));
    // A password written as a number is refused without echoing it.
    let text = example_with("password = \"router_pw\"", "password = 918273");
    let msg = err(&text);
    assert!(msg.contains("passwords must be quoted strings"), "{msg}");
    assert!(!msg.contains("918273"), "{msg}");
    let text = example_with("password = \"app_pw\"", "password = 918273");
    assert!(!err(&text).contains("918273"));
}

/// The rows of the README's configuration reference as (key, default cell).
fn documented_keys() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let section = readme
        .split("\n## Configuration reference")
        .nth(1)
        .expect("README has a configuration reference section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let row = l.replace("\\|", "/");
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            // cells[0] is the empty text before the first `|`.
            let key = cells[1].trim_matches('`');
            (key.to_string(), cells[4].to_string())
        })
        .collect()
}

/// The fields serde accepts in a section, read from its unknown-field error.
fn accepted_fields(section_header: &str) -> Vec<String> {
    let text = format!("{section_header}\nno_such_key = 1\n");
    let msg = toml::from_str::<Config>(&text)
        .unwrap_err()
        .message()
        .to_string();
    // "expected one of `a`, `b`", or "expected `a` or `b`" for two fields.
    let list = msg.split("expected ").nth(1).expect(&msg);
    let list = list.trim_start_matches("one of ").replace(" or ", ", ");
    list.split(", ")
        .map(|f| f.trim_matches('`').to_string())
        .collect()
}

#[test]
fn reference_doc_lists_exactly_the_accepted_keys() {
    let mut documented: Vec<String> = documented_keys().into_iter().map(|(k, _)| k).collect();
    let mut accepted = Vec::new();
    for section in accepted_fields("") {
        let (header, prefix) = match section.as_str() {
            "users" | "servers" => (format!("[[{section}]]"), format!("{section}[]")),
            _ => (format!("[{section}]"), section.clone()),
        };
        for field in accepted_fields(&header) {
            accepted.push(format!("{prefix}.{field}"));
        }
    }
    documented.sort();
    accepted.sort();
    assert_eq!(documented, accepted);
}

#[test]
fn reference_doc_defaults_match_the_code() {
    fn same<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(text: &str, default: T) {
        assert_eq!(toml::from_str::<T>(text).unwrap(), default, "{text}");
    }
    let mut checked = 0;
    for (key, cell) in documented_keys() {
        let Some(value) = cell.strip_prefix('`').and_then(|c| c.strip_suffix('`')) else {
            continue; // *required*
        };
        if value.starts_with(|c: char| c.is_ascii_lowercase()) && value != "true" {
            continue; // refers to another key
        }
        let (section, field) = key.split_once('.').unwrap();
        let line = format!("{field} = {value}\n");
        match section {
            "router" => same(&line, RouterConfig::default()),
            "monitor" => same(&line, MonitorConfig::default()),
            "servers[]" => same(
                &format!("address = \"a:1\"\n{line}"),
                ServerConfig::new("a:1"),
            ),
            "pool" => same(&line, PoolConfig::default()),
            "routing" => same(&line, RoutingConfig::default()),
            "consistency" => same(&line, ConsistencyConfig::default()),
            "failover" => same(&line, FailoverConfig::default()),
            "users[]" => {
                let user = "name = \"a\"\npassword = \"p\"\n";
                let parsed: UserConfig = toml::from_str(&format!("{user}{line}")).unwrap();
                let default: UserConfig = toml::from_str(user).unwrap();
                assert_eq!(parsed, default, "{line}");
            }
            "tls" => {
                let tls = "cert = \"c\"\nkey = \"k\"\n";
                let parsed: super::TlsConfig = toml::from_str(&format!("{tls}{line}")).unwrap();
                let default: super::TlsConfig = toml::from_str(tls).unwrap();
                assert_eq!(parsed, default, "{line}");
            }
            "backend_tls" => same(&line, super::BackendTlsConfig::default()),
            "cluster" => same(&line, super::ClusterConfig::default()),
            "backup" => {
                let dir = "dir = \"/b\"\n";
                let parsed: super::BackupConfig = toml::from_str(&format!("{dir}{line}")).unwrap();
                let default: super::BackupConfig = toml::from_str(dir).unwrap();
                assert_eq!(parsed, default, "{line}");
            }
            other => panic!("no default expected in {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 55);
}

#[test]
fn clamping_logs_a_warning_naming_the_key_and_line() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let text = example_plus("[pool]\ncheckout_timeout = \"48h\"\n");
    tracing::subscriber::with_default(subscriber, || parse(&text).unwrap());
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("WARN"), "{log}");
    assert!(
        log.contains("examples/sqlyard.toml:27:1: pool.checkout_timeout = \"48h\" is out of range; using \"24h\""),
        "{log}"
    );
    assert!(!log.contains("admin_pw"), "{log}");
}

#[test]
fn a_malformed_password_value_is_not_quoted_in_the_error() {
    let text = example_toml().replacen("password = \"app_pw\"", "password = 987654321", 1);
    let e = parse(&text).unwrap_err().to_string();
    assert!(!e.contains("987654321"), "{e}");
    assert!(e.contains(FILE), "the file is still named: {e}");
}

#[test]
fn fence_steps_are_checked_at_their_line() {
    let c = parse(example_toml()).unwrap();
    assert_eq!(
        c.failover.fence,
        vec![FenceStep::ReadOnly, FenceStep::KillConnections]
    );
    assert_eq!(
        c.failover.replica_heartbeat_period.get(),
        Duration::from_secs(1)
    );
    assert!(c.failover.tune_replica_heartbeat);

    let text = example_plus(
        "[failover]\nfence = [\"read_only\", \"shutdown\", \"command\"]\n\
         fence_command = [\"/usr/local/sbin/fence-host\", \"--vip\"]\n\
         fence_command_timeout = \"30s\"\nreplica_heartbeat_period = \"500ms\"\n\
         tune_replica_heartbeat = false\n",
    );
    let c = parse(&text).unwrap();
    assert_eq!(
        c.failover.fence,
        vec![FenceStep::ReadOnly, FenceStep::Shutdown, FenceStep::Command]
    );
    assert_eq!(
        c.failover.fence_command,
        ["/usr/local/sbin/fence-host", "--vip"]
    );
    assert_eq!(
        c.failover.fence_command_timeout.get(),
        Duration::from_secs(30)
    );
    assert_eq!(
        c.failover.replica_heartbeat_period.get(),
        Duration::from_millis(500)
    );
    assert!(!c.failover.tune_replica_heartbeat);

    let first = example_plus("[failover]\nfence = [\"kill_connections\", \"read_only\"]\n");
    let line = line_of(&first, "fence = ");
    assert_eq!(
        issue(&first),
        (line, "failover.fence must start with `read_only`".into())
    );
    let twice = example_plus("[failover]\nfence = [\"read_only\", \"shutdown\", \"shutdown\"]\n");
    assert_eq!(
        issue(&twice),
        (
            line_of(&twice, "fence = "),
            "failover.fence[2] lists `shutdown` twice".into()
        )
    );
    let no_command = example_plus("[failover]\nfence = [\"read_only\", \"command\"]\n");
    let (_, msg) = issue(&no_command);
    assert_eq!(
        msg,
        "failover.fence_command is required when failover.fence lists \"command\""
    );
    let stonith = example_plus("[failover]\nfence = [\"read_only\", \"stonith\"]\n");
    let unknown = err(&stonith);
    let at = format!(
        "{FILE}:{}:23: unknown variant `stonith`",
        line_of(&stonith, "stonith")
    );
    assert!(unknown.starts_with(&at), "{unknown}");
    let empty = example_plus("[failover]\nfence = []\n");
    assert_eq!(
        issue(&empty).1,
        "failover.fence must start with `read_only`"
    );
}
