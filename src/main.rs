//! The `sqlyard` command: run the router, check a config, or start a local
//! sandbox topology with the router in front of it.
//!
//! Signals while running: SIGHUP re-reads the config file (an invalid one
//! is refused with file:line: reason in the log; the running config stays);
//! SIGTERM or Ctrl-C shut down gracefully (see `Server::shutdown`) and the
//! process exits 0; a second one during the drain exits at once.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use sqlyard::config::Config;
use sqlyard::sandbox::{EtcdProcess, RouterPorts, SandboxOptions, Topology};
use sqlyard::server::Server;

#[derive(Parser, Debug)]
#[command(
    name = "sqlyard",
    version,
    about = "MySQL-protocol router with read/write split and built-in failover"
)]
struct Cli {
    /// Config file to run the router with.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate a config file; exit 0 if it is valid, 1 if not.
    CheckConfig { file: PathBuf },
    /// Start a local primary + replicas (MariaDB) with the router in front.
    Sandbox {
        /// Port of the first server; the others follow.
        #[arg(long, default_value_t = 23301)]
        base_port: u16,
        /// Number of replicas.
        #[arg(long, default_value_t = 2)]
        replicas: usize,
        /// Turn on semi-synchronous replication.
        #[arg(long)]
        semi_sync: bool,
        /// Leave replication timing at MariaDB's defaults (slave_net_timeout
        /// 60 s, heartbeat every 30 s), as many topologies run.
        #[arg(long)]
        mariadb_defaults: bool,
        /// TLS everywhere: generate a CA and certificates, give the servers
        /// TLS with require_secure_transport=ON, and the router TLS on both
        /// sides.
        #[arg(long)]
        tls: bool,
        /// Application port of the router.
        #[arg(long, default_value_t = 6033)]
        port: u16,
        /// Admin port of the router.
        #[arg(long, default_value_t = 6032)]
        admin_port: u16,
        /// Metrics port of the router.
        #[arg(long, default_value_t = 9033)]
        metrics_port: u16,
        /// Run this many sqlyard instances sharing one decision through an
        /// etcd the sandbox starts; instance i listens on the ports plus 10 * i.
        #[arg(long, default_value_t = 1)]
        routers: u16,
        /// Directory to create the sandbox in (default: the temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Address the servers (and etcd) listen on and replicate through,
        /// one of this host's, e.g. a bridge address reachable from network
        /// namespaces. The router's listeners stay on 127.0.0.1.
        #[arg(long, default_value = "127.0.0.1")]
        bind_address: std::net::IpAddr,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => b.init(),
        LogFormat::Json => b.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Some(Command::CheckConfig { file }) => match Config::load(&file) {
            Ok(_) => {
                println!("{}: OK", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Some(Command::Sandbox {
            base_port,
            replicas,
            semi_sync,
            mariadb_defaults,
            tls,
            port,
            admin_port,
            metrics_port,
            routers,
            dir,
            bind_address,
        }) => {
            let opts = SandboxOptions {
                base_port: Some(base_port),
                replicas,
                semi_sync,
                mariadb_defaults,
                tls,
                base_dir: dir,
                bind_address,
                ..Default::default()
            };
            let Some(rt) = runtime(0) else {
                return ExitCode::FAILURE;
            };
            let ports = RouterPorts {
                listen: port,
                admin: admin_port,
                metrics: metrics_port,
            };
            rt.block_on(sandbox(opts, ports, routers.max(1)))
        }
        None => {
            match cli.config {
                Some(file) => {
                    let config = match Config::load(&file) {
                        Ok(c) => c,
                        Err(e) => {
                            eprintln!("{e}");
                            return ExitCode::FAILURE;
                        }
                    };
                    let Some(rt) = runtime(config.router.worker_threads) else {
                        return ExitCode::FAILURE;
                    };
                    rt.block_on(run(config))
                }
                None => {
                    eprintln!("sqlyard: give a config (--config FILE), or try `sqlyard sandbox`; see --help");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The runtime sessions run on, with `router.worker_threads` threads
/// (0: see `config::worker_threads`).
fn runtime(configured: usize) -> Option<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = sqlyard::config::worker_threads(configured, cores);
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("sqlyard: cannot start the runtime: {e}");
            None
        }
    }
}

/// Starts a router on a loaded config; errors are printed.
async fn start(config: Config) -> Option<Server> {
    match Server::start(config).await {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("sqlyard: {e}");
            None
        }
    }
}

async fn run(config: Config) -> ExitCode {
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sqlyard: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(server) = start(config).await else {
        return ExitCode::FAILURE;
    };
    let servers = [server];
    serve_until_stopped(&servers, &mut signals).await;
    for server in servers {
        stop(server, &mut signals).await;
    }
    ExitCode::SUCCESS
}

/// Handles SIGHUP (reload, every router) until SIGTERM or Ctrl-C.
async fn serve_until_stopped(servers: &[Server], signals: &mut Signals) {
    loop {
        match signals.next().await {
            Signal::Reload => {
                tracing::info!("SIGHUP: reloading the config file");
                for server in servers {
                    match server.reload().await {
                        Ok(report) => tracing::info!("SIGHUP: {report}"),
                        Err(e) => tracing::error!("SIGHUP: {e}"),
                    }
                }
            }
            Signal::Stop(name) => {
                tracing::info!("{name}: shutting down");
                return;
            }
        }
    }
}

/// Graceful shutdown; a second stop signal ends the wait at once.
async fn stop(server: Server, signals: &mut Signals) {
    let second = async {
        loop {
            if let Signal::Stop(name) = signals.next().await {
                return name;
            }
        }
    };
    tokio::select! {
        _ = server.shutdown() => {}
        name = second => tracing::warn!("{name} again: exiting without waiting for sessions"),
    }
}

enum Signal {
    Reload,
    Stop(&'static str),
}

/// The signals the router reacts to.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                hup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Signal::Stop("SIGINT"),
                _ = self.term.recv() => Signal::Stop("SIGTERM"),
                _ = self.hup.recv() => Signal::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop("Ctrl-C")
        }
    }
}

/// The config of sandbox router `i` of `n`: ports plus 10 * i, and with
/// several, `[cluster]` on the sandbox's etcd.
fn sandbox_config(
    topo: &Topology,
    ports: RouterPorts,
    i: u16,
    n: u16,
    etcd: Option<&str>,
) -> Result<(Config, std::path::PathBuf), String> {
    let p = |base: u16| base.saturating_add(10 * i);
    let name = if n > 1 {
        format!("sqlyard-{}.toml", i + 1)
    } else {
        "sqlyard.toml".to_string()
    };
    let path = topo
        .write_router_config(
            &topo.dir().join(name),
            p(ports.listen),
            p(ports.admin),
            p(ports.metrics),
        )
        .map_err(|e| format!("sqlyard sandbox: cannot write the config: {e}"))?;
    if let Some(endpoint) = etcd {
        let mut text = std::fs::read_to_string(&path)
            .map_err(|e| format!("sqlyard sandbox: cannot read {}: {e}", path.display()))?;
        text.push_str(&format!(
            "\n# several sqlyard instances share one decision through etcd\n[cluster]\netcd_endpoints = [\"{endpoint}\"]\nname = \"sandbox\"\ninstance = \"sandbox-{}\"\n",
            i + 1
        ));
        std::fs::write(&path, text)
            .map_err(|e| format!("sqlyard sandbox: cannot write {}: {e}", path.display()))?;
    }
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    Ok((config, path))
}

async fn sandbox(opts: SandboxOptions, ports: RouterPorts, routers: u16) -> ExitCode {
    eprintln!(
        "sqlyard sandbox: starting a primary and {} replicas (MariaDB)...",
        opts.replicas
    );
    let topo = match Topology::start(opts).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("sqlyard sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    let etcd = if routers > 1 {
        eprintln!("sqlyard sandbox: starting etcd for {routers} sqlyard instances...");
        match EtcdProcess::start_on(topo.dir(), topo.options().bind_address).await {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("sqlyard sandbox: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sqlyard sandbox: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut servers = Vec::new();
    let mut paths = Vec::new();
    for i in 0..routers {
        let endpoint = etcd.as_ref().map(|e| e.endpoint());
        let (config, path) = match sandbox_config(&topo, ports, i, routers, endpoint.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let Some(server) = start(config).await else {
            return ExitCode::FAILURE;
        };
        servers.push(server);
        paths.push(path);
    }
    for server in &servers {
        if !server.wait_ready(Duration::from_secs(30)).await {
            eprintln!("sqlyard sandbox: a router found no primary within 30 s");
        }
    }
    println!("sqlyard sandbox is running.");
    println!("  servers: {}", topo.addresses().join(", "));
    if let Some(e) = &etcd {
        println!("  etcd:    {}", e.endpoint());
    }
    let ssl = match topo.tls_files() {
        Some(tls) => format!(" --ssl-ca={} --ssl-verify-server-cert", tls.ca.display()),
        None => String::new(),
    };
    for (i, (server, path)) in servers.iter().zip(&paths).enumerate() {
        if routers > 1 {
            println!("  sqlyard instance sandbox-{}:", i + 1);
        }
        let (port, admin, metrics) = (
            server.listen_addr().port(),
            server.admin_addr().port(),
            server.metrics_addr().port(),
        );
        println!("  config:  {}", path.display());
        println!("  connect: mariadb -h127.0.0.1 -P{port} -uapp -papp_pw{ssl}");
        let show = if routers > 1 {
            "SHOW ROUTERS"
        } else {
            "SHOW SERVERS"
        };
        println!("  admin:   mariadb -h127.0.0.1 -P{admin} -uadmin -padmin_pw{ssl} -e '{show}'");
        println!("  metrics: curl http://127.0.0.1:{metrics}/metrics");
    }
    println!(
        "  reload:  kill -HUP {} (after editing the config)",
        std::process::id()
    );
    println!("Press Ctrl-C to stop everything.");
    serve_until_stopped(&servers, &mut signals).await;
    eprintln!("sqlyard sandbox: stopping");
    for server in servers {
        stop(server, &mut signals).await;
    }
    drop(etcd);
    let _ = topo.stop().await;
    drop(topo);
    ExitCode::SUCCESS
}
