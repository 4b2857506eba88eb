//! Problem: `sqlyard sandbox --routers N` runs several sqlyard instances,
//! and they need an etcd to share one decision. [`EtcdProcess`] is a
//! one-member etcd (on loopback unless told another address), in the sandbox's directory, tied to this
//! process like the MariaDB nodes (it dies with it), and removed with it.
//! Debian's `etcd-server` package provides `/usr/bin/etcd`. On a shared
//! 2-core machine it runs without fsync and with a patient election.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::error::SandboxError;
use super::ports::pick_free_port;
use super::process::spawn_tied;

/// A running one-member etcd.
#[derive(Debug)]
pub struct EtcdProcess {
    child: Child,
    /// The address it listens on.
    pub host: IpAddr,
    pub client_port: u16,
    pub dir: PathBuf,
}

/// Where etcd is looked for.
const ETCD: [&str; 3] = ["/usr/bin/etcd", "/usr/local/bin/etcd", "/usr/sbin/etcd"];

/// The command line of one etcd member on `host` (`ports`: client,
/// peer), for the sandbox and the test support: no fsync and a patient
/// election, for a shared 2-core machine. Output goes nowhere; set
/// stderr for a log.
pub fn member_command(
    program: &Path,
    host: IpAddr,
    name: &str,
    data: &Path,
    ports: (u16, u16),
    initial_cluster: &str,
    token: &str,
) -> Command {
    let client = format!("http://{}", SocketAddr::new(host, ports.0));
    let peer = format!("http://{}", SocketAddr::new(host, ports.1));
    let mut cmd = Command::new(program);
    cmd.arg("--name")
        .arg(name)
        .arg("--data-dir")
        .arg(data)
        .args(["--listen-client-urls", &client])
        .args(["--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", initial_cluster])
        .args(["--initial-cluster-token", token])
        .args(["--initial-cluster-state", "new"])
        .arg("--unsafe-no-fsync")
        .args(["--heartbeat-interval", "200"])
        .args(["--election-timeout", "2000"])
        .args(["--log-level", "warn"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

impl EtcdProcess {
    /// Starts etcd on 127.0.0.1 with its data in `dir/etcd` and waits
    /// until it answers.
    pub async fn start(dir: &Path) -> Result<EtcdProcess, SandboxError> {
        Self::start_on(dir, IpAddr::V4(Ipv4Addr::LOCALHOST)).await
    }

    /// [`EtcdProcess::start`] listening on `host` (one of this host's
    /// addresses).
    pub async fn start_on(dir: &Path, host: IpAddr) -> Result<EtcdProcess, SandboxError> {
        let Some(program) = ETCD.iter().find(|p| Path::new(p).exists()) else {
            return Err(SandboxError::EtcdNotFound(
                ETCD.iter().map(PathBuf::from).collect(),
            ));
        };
        let data = dir.join("etcd");
        let client_port = pick_free_port()?;
        let peer_port = pick_free_port()?;
        let peer = format!("http://{}", SocketAddr::new(host, peer_port));
        let log =
            std::fs::File::create(dir.join("etcd.log")).map_err(|source| SandboxError::Io {
                action: "create",
                path: dir.join("etcd.log"),
                source,
            })?;
        let mut cmd = member_command(
            Path::new(program),
            host,
            "sandbox",
            &data,
            (client_port, peer_port),
            &format!("sandbox={peer}"),
            "sqlyard-sandbox",
        );
        cmd.stderr(Stdio::from(log));
        let child = spawn_tied(cmd)?;
        let etcd = EtcdProcess {
            child,
            host,
            client_port,
            dir: data,
        };
        let t0 = Instant::now();
        while !etcd.healthy().await {
            if t0.elapsed() > Duration::from_secs(20) {
                return Err(SandboxError::Io {
                    action: "wait for etcd at",
                    path: dir.join("etcd.log"),
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "etcd did not answer within 20 s (see its log)",
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(etcd)
    }

    /// The client URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", SocketAddr::new(self.host, self.client_port))
    }

    /// Whether `/health` says true.
    async fn healthy(&self) -> bool {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut s) = tokio::net::TcpStream::connect((self.host, self.client_port)).await else {
            return false;
        };
        let req = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if s.write_all(req.as_bytes()).await.is_err() {
            return false;
        }
        let mut raw = String::new();
        let read = tokio::time::timeout(Duration::from_secs(2), s.read_to_string(&mut raw)).await;
        matches!(read, Ok(Ok(_))) && raw.contains("\"health\":\"true\"")
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
