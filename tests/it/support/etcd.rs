//! A real etcd cluster for the tests of several sqlyard instances: three
//! members of Debian's `etcd-server` (3.4) on loopback, on free ports,
//! each with its own data directory, tuned for a shared 2-core machine
//! (no fsync, a long election timeout). Members can be stopped and started
//! again one by one (quorum tests). Dropping the cluster kills every member
//! and removes its directory, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sqlyard::sandbox::pick_free_port;
use sqlyard::sandbox::process::spawn_tied;

/// One member's fixed settings.
struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

/// A running etcd cluster.
pub struct EtcdCluster {
    dir: tempfile::TempDir,
    members: Vec<Member>,
    initial_cluster: String,
    token: String,
}

impl EtcdCluster {
    /// Starts `n` members and waits until the cluster answers writes.
    pub async fn start(n: usize) -> EtcdCluster {
        let dir = tempfile::Builder::new()
            .prefix("sqlyard-etcd-")
            .tempdir()
            .expect("a temporary directory for etcd");
        let members: Vec<Member> = (0..n)
            .map(|i| Member {
                name: format!("e{i}"),
                client_port: pick_free_port().expect("free port"),
                peer_port: pick_free_port().expect("free port"),
                child: None,
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let token = format!(
            "sqlyard-test-{}-{}",
            std::process::id(),
            members[0].peer_port
        );
        let mut cluster = EtcdCluster {
            dir,
            members,
            initial_cluster,
            token,
        };
        for i in 0..n {
            cluster.start_member(i);
        }
        cluster
            .wait_writable(Duration::from_secs(30))
            .await
            .expect("the etcd cluster elects a leader");
        cluster
    }

    /// The directory holding the members' data and logs (removed on drop).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(&self.members[i].name)
    }

    /// Starts member `i` (again, with its data directory as it was left).
    pub fn start_member(&mut self, i: usize) {
        let data = self.data_dir(i);
        let m = &self.members[i];
        let mut cmd = sqlyard::sandbox::etcd::member_command(
            Path::new("/usr/bin/etcd"),
            std::net::Ipv4Addr::LOCALHOST.into(),
            &m.name,
            &data,
            (m.client_port, m.peer_port),
            &self.initial_cluster,
            &self.token,
        );
        cmd.stderr(
            std::fs::File::create(self.dir.path().join(format!("{}.log", m.name)))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        );
        let child = spawn_tied(cmd).expect("etcd starts (Debian package etcd-server)");
        self.members[i].child = Some(child);
    }

    /// Kills member `i` (SIGKILL) and waits for it.
    pub fn stop_member(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every member's client URL (running or not), as a router is configured.
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.client_port))
            .collect()
    }

    /// A client of the members running now (a request sent to a stopped
    /// member's endpoint would fail, not go to another).
    pub async fn client(&self) -> Result<etcd_client::Client, etcd_client::Error> {
        let opts = etcd_client::ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(3));
        let running: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| format!("http://127.0.0.1:{}", m.client_port))
            .collect();
        etcd_client::Client::connect(running, Some(opts)).await
    }

    /// Whether a write is accepted within `within` (a quorum and a leader).
    pub async fn wait_writable(&self, within: Duration) -> Result<(), String> {
        let t0 = Instant::now();
        let mut last = String::new();
        while t0.elapsed() < within {
            match self.client().await {
                Ok(mut c) => match c.put("/sqlyard-test/ping", "1", None).await {
                    Ok(_) => return Ok(()),
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!("no write accepted within {within:?}: {last}"))
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.stop_member(i);
        }
    }
}
