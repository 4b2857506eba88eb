//! Problem: with several instances (`[cluster]`), only the leader may act
//! on servers, every instance must move writes the moment the leader
//! promotes, a leader cut off from the primary alone must not fail over,
//! and a new leader must finish what a lost one started. These are the
//! manager's cluster duties:
//! - every instance publishes its detector's view of the primary;
//! - followers copy the shared journal into their own (history survives
//!   their restart), and follow the published primary at once: the
//!   replaced one is fenced in routing until it shows up as a replica, and
//!   the monitor polls now;
//! - a new leader takes the shared journal and runs the restart recovery on
//!   it (finish or undo an interrupted failover, or mark it superseded);
//! - the leader fails over only when no other live instance still reaches
//!   the primary;
//! - SWITCHOVER and FAILOVER typed on a follower are forwarded to the
//!   leader through etcd and answered with its result.

use std::time::Duration;

use tokio::sync::watch as tokio_watch;
use tokio::time::Instant;

use super::manager::{push_alert, Manager};
use super::status::{FailoverRecord, Outcome, Quarantined, Request, RequestError};
use crate::cluster::records::{now_ms, ForwardedReply, ForwardedRequest, SharedQuarantine};
use crate::cluster::{ClusterHandle, ClusterView, PrimaryView, PublishedPrimary};
use crate::topology::{Role, Snapshot};

/// How long a forwarded request waits for the leader's answer, on top of
/// the failover timeouts.
const FORWARD_SLACK: Duration = Duration::from_secs(30);

/// The manager's cluster state.
#[derive(Debug, Default)]
pub struct Following {
    pub was_leader: bool,
    /// `journal_version` of the shared journal last copied.
    adopted: u64,
    /// The published primary last followed (its failover id and address).
    followed: Option<(u64, String)>,
    /// Replaced primaries fenced here because the leader said so.
    fenced: Vec<String>,
    /// Forwarded requests this leader has taken.
    served: std::collections::HashSet<String>,
    /// Since when another instance reaches the primary this leader lost.
    isolated_since: Option<Instant>,
    isolated_logged: bool,
    /// Writes held here because the leader holds them everywhere.
    holding: bool,
    /// Released by the leader: held here until routing sees this primary
    /// (or the time runs out).
    releasing: Option<(String, Instant)>,
    /// The `replacing` marker last acted on (failover id, ended).
    replacing: Option<(u64, bool)>,
}

/// Whether `shared` holds a server `mine` lacks.
fn taking_over_changes(mine: &[Quarantined], shared: &[Quarantined]) -> bool {
    shared
        .iter()
        .any(|q| !mine.iter().any(|x| x.address == q.address))
}

fn decode_journal(journal: &[Vec<u8>]) -> Vec<FailoverRecord> {
    journal
        .iter()
        .filter_map(|j| match serde_json::from_slice::<FailoverRecord>(j) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "skipped an unreadable record of the shared journal");
                None
            }
        })
        .collect()
}

impl Manager {
    pub(super) fn cluster(&self) -> Option<&ClusterHandle> {
        self.deps.cluster.as_ref()
    }

    /// Whether this instance may act on servers: it runs alone, or leads.
    pub(super) fn acts(&self) -> bool {
        self.cluster().is_none_or(|c| c.is_leader())
    }

    /// Publishes this instance's view of the primary.
    pub(super) fn publish_view(&self, snap: &Snapshot) {
        let Some(cluster) = self.cluster() else {
            return;
        };
        let status = self.handle.status();
        let watched = status.watched.clone();
        let server_id = self.watch.watched().and_then(|w| w.server_id);
        let last_ok_ms = watched
            .as_deref()
            .and_then(|w| snap.server(w))
            .and_then(|s| s.last_seen)
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64);
        let evidence = match (status.detector, &watched) {
            (_, None) => "no primary known".to_string(),
            (super::DetectorState::Healthy, Some(_)) => "answers the monitor".to_string(),
            (d, Some(w)) => snap
                .server(w)
                .filter(|s| !s.reachable)
                .and_then(|s| s.last_error.clone())
                .map(|e| format!("{}: {e}", d.as_str()))
                .unwrap_or_else(|| d.as_str().to_string()),
        };
        cluster.set_local_view(PrimaryView {
            primary: watched,
            server_id,
            state: status.detector.as_str().to_string(),
            evidence,
            last_ok_ms,
        });
    }

    /// Reacts to a new cluster view (see the module doc).
    pub(super) async fn on_cluster(&mut self, shutdown: &mut tokio_watch::Receiver<bool>) {
        let Some(cluster) = self.cluster().cloned() else {
            return;
        };
        let view = cluster.view();
        let leader = view.is_leader();
        self.etcd_alert(&view);
        if leader && !self.following.was_leader {
            self.following.was_leader = true;
            tracing::info!(instance = %cluster.instance(), "this instance leads: it runs failover, switchover, rejoin and heartbeat tuning");
            self.adopt(&view);
            self.follow_quarantine(&view, true);
            // what the previous leader left unfinished
            self.recover(shutdown).await;
            for address in std::mem::take(&mut self.following.fenced) {
                if !self.rejoin.contains(&address) {
                    self.monitor.set_fenced(&address, false);
                }
            }
        } else if !leader && self.following.was_leader {
            self.following.was_leader = false;
            tracing::warn!(instance = %cluster.instance(), "this instance no longer leads: it acts on no server");
        }
        if leader {
            if self.following.holding || self.following.releasing.is_some() {
                self.following.holding = false;
                self.following.releasing = None;
                self.monitor.set_writes_held(false);
            }
            self.serve_forwarded(&cluster, &view).await;
        } else {
            self.adopt(&view);
            self.follow_quarantine(&view, false);
            self.follow_replacing(&view);
            self.follow(&view);
            self.follow_hold(&view);
        }
    }

    /// Raises (or clears) the alert for an unreachable etcd.
    fn etcd_alert(&mut self, view: &ClusterView) {
        const PREFIX: &str = "etcd is unreachable";
        let raised = self
            .handle
            .status()
            .alerts
            .iter()
            .any(|a| a.address.is_none() && a.message.starts_with(PREFIX));
        if view.etcd_up && raised {
            tracing::info!("etcd is reachable again");
            self.handle.update(|s| {
                s.alerts
                    .retain(|a| !(a.address.is_none() && a.message.starts_with(PREFIX)))
            });
        } else if !view.etcd_up && !raised && view.generation > 1 {
            let message = format!(
                "{PREFIX} ({}): routing continues, but no instance fails over until a leader is elected again",
                view.etcd_error.as_deref().unwrap_or("no answer")
            );
            tracing::error!("{message}");
            self.handle.update(|s| push_alert(s, None, message));
        }
    }

    /// The shared quarantine list. A follower shows it as it is (SHOW
    /// AUTOFAILOVER) and keeps it for the day it leads; a new leader
    /// (`taking_over`) adds it to its own, so a server another instance
    /// quarantined is never promoted nor repointed, and shares the union.
    fn follow_quarantine(&mut self, view: &ClusterView, taking_over: bool) {
        let Some(list) = &view.quarantined else {
            if taking_over && !self.rejoin.quarantined().is_empty() {
                self.share_quarantine();
            }
            return;
        };
        let shared: Vec<Quarantined> = list
            .iter()
            .map(|q| Quarantined {
                address: q.address.clone(),
                server_id: q.server_id,
                errant: q.errant.clone(),
                since: std::time::UNIX_EPOCH + Duration::from_millis(q.since_ms),
            })
            .collect();
        if !taking_over {
            let mine: Vec<String> = self.rejoin.quarantined().to_vec();
            for a in mine
                .iter()
                .filter(|a| !shared.iter().any(|q| &q.address == *a))
            {
                self.rejoin.release(a);
            }
        }
        for q in &shared {
            self.rejoin.quarantine(&q.address);
        }
        let status = self.handle.status();
        let same = status.quarantined.len() == shared.len()
            && shared
                .iter()
                .all(|q| status.quarantined.iter().any(|x| x.address == q.address));
        if taking_over {
            if taking_over_changes(&status.quarantined, &shared) {
                self.handle.update(|s| {
                    for q in &shared {
                        if !s.quarantined.iter().any(|x| x.address == q.address) {
                            s.quarantined.push(q.clone());
                        }
                    }
                });
            }
            for q in &shared {
                self.monitor.set_fenced(&q.address, true);
            }
            self.share_quarantine();
        } else if !same {
            self.handle.update(|s| s.quarantined = shared.clone());
        }
    }

    /// Writes this leader's quarantine list to etcd (queued, fenced).
    pub(super) fn share_quarantine(&self) {
        let Some(shared) = &self.shared else {
            return;
        };
        if !self.acts() {
            return;
        }
        let list: Vec<SharedQuarantine> = self
            .handle
            .status()
            .quarantined
            .iter()
            .map(|q| SharedQuarantine {
                address: q.address.clone(),
                server_id: q.server_id,
                errant: q.errant.clone(),
                since_ms: q
                    .since
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0),
            })
            .collect();
        match serde_json::to_vec(&list) {
            Ok(json) => shared.queue_put(shared.cluster().keys().quarantine(), json),
            Err(e) => {
                tracing::warn!(error = %e, "could not encode the quarantine list for the other instances")
            }
        }
    }

    /// Copies the shared journal into this instance's.
    fn adopt(&mut self, view: &ClusterView) {
        if view.journal_version == self.following.adopted {
            return;
        }
        self.following.adopted = view.journal_version;
        let records = decode_journal(&view.journal);
        match self.journal.adopt(records) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(records = n, "copied the shared journal"),
            Err(e) => {
                tracing::warn!(error = %e, "the shared journal could not be copied to the local file")
            }
        }
        self.publish_history();
    }

    /// A failover started on the leader: this instance stops using the
    /// primary it replaces at once, and statements waiting on it end with
    /// an error (a primary that thaws must not acknowledge them here). If
    /// the failover did not succeed, the server is released again.
    fn follow_replacing(&mut self, view: &ClusterView) {
        let Some(r) = &view.replacing else {
            return;
        };
        let key = (r.failover, r.outcome.is_some());
        if self.following.replacing == Some(key) {
            return;
        }
        self.following.replacing = Some(key);
        match r.outcome.as_deref() {
            None => {
                tracing::warn!(primary = %r.old, failover = r.failover, "the leader is replacing the primary: no more statements to it from here");
                self.fence_followed(&r.old);
                self.deps.backends.lost.announce(&r.old);
            }
            Some("succeeded") => {}
            Some(other) => {
                // nothing replaced it: routing follows the live servers again
                if self.following.fenced.contains(&r.old) {
                    tracing::info!(primary = %r.old, outcome = other, "the leader's failover did not replace the primary");
                    self.following.fenced.retain(|a| *a != r.old);
                    self.monitor.set_fenced(&r.old, false);
                }
            }
        }
    }

    /// Several instances, at startup, before etcd is heard from (it may be
    /// down): the journal here (its copy of the shared one) says which
    /// primary the newest failover replaced. Unless the live servers
    /// supersede that entry, routing never elects it until it replicates
    /// again; no server is touched (the leader's `recover` acts).
    pub(super) async fn fence_replaced_at_start(
        &mut self,
        shutdown: &mut tokio_watch::Receiver<bool>,
    ) {
        use super::recover::{judge, Verdict};
        let Some(record) = self.newest_topology_change() else {
            return;
        };
        let promoted = record.outcome == super::Outcome::Succeeded
            || record.phase(super::Phase::Promote).is_some();
        let Some(old) = record.old_primary.clone().filter(|_| promoted) else {
            return;
        };
        self.monitor.set_fenced(&old, true);
        if !self.wait_first_polls(shutdown).await {
            return;
        }
        match judge(&record, &self.deps().topology.load()) {
            Verdict::Applies => {
                tracing::info!(server = %old, id = record.id, "replaced by the newest failover in the journal: not elected primary here until it replicates");
                self.fence_followed(&old);
            }
            Verdict::Superseded(why) => {
                tracing::info!(server = %old, id = record.id, "the journal's newest failover does not match the live servers ({why}): routing follows them");
                self.monitor.set_fenced(&old, false);
            }
        }
    }

    /// Fences `address` in routing here because the leader replaced (or
    /// is replacing) it; released once it replicates (`release_followed`).
    fn fence_followed(&mut self, address: &str) {
        self.monitor.set_fenced(address, true);
        if !self.following.fenced.iter().any(|a| a == address) {
            self.following.fenced.push(address.to_string());
        }
    }

    /// Leader: says that a failover replacing `old` started.
    pub(super) async fn publish_replacing(&self, old: &str, failover: u64) {
        let Some(shared) = &self.shared else {
            return;
        };
        let r = crate::cluster::records::Replacing {
            old: old.to_string(),
            failover,
            outcome: None,
        };
        let key = shared.cluster().keys().replacing();
        shared.write_now("which primary is replaced", key, &r).await;
    }

    /// Leader: a failover that published its `replacing` marker ended.
    pub(super) fn end_replacing(&self, record: &FailoverRecord) {
        let (Some(shared), Some(old)) = (&self.shared, &record.old_primary) else {
            return;
        };
        if record.kind == super::status::Kind::Switchover {
            return;
        }
        let r = crate::cluster::records::Replacing {
            old: old.clone(),
            failover: record.id,
            outcome: Some(record.outcome.as_str().to_string()),
        };
        if let Ok(json) = serde_json::to_vec(&r) {
            shared.queue_put(shared.cluster().keys().replacing(), json);
        }
    }

    /// Follows the primary the leader published.
    fn follow(&mut self, view: &ClusterView) {
        let Some(p) = &view.primary else {
            return;
        };
        let key = (p.failover, p.address.clone());
        if self.following.followed.as_ref() == Some(&key) {
            return;
        }
        let first = self.following.followed.is_none();
        self.following.followed = Some(key);
        if let Some(replaced) = p.replaced.as_ref().filter(|r| **r != p.address) {
            let snap = self.deps.topology.load();
            let replica = snap
                .server(replaced)
                .is_some_and(|s| s.role == Role::Replica);
            if !replica {
                self.fence_followed(replaced);
            }
        }
        if !first
            || self
                .deps
                .topology
                .load()
                .primary_server()
                .map(|s| &s.address)
                != Some(&p.address)
        {
            tracing::info!(primary = %p.address, replaced = ?p.replaced, by = %p.by, failover = p.failover, "following the primary the leader promoted");
        }
        self.monitor.poll_now();
    }

    /// Holds writes here while the leader holds them everywhere (a
    /// switchover), up to the time it gave.
    fn follow_hold(&mut self, view: &ClusterView) {
        let Some(cluster) = self.cluster().cloned() else {
            return;
        };
        let until = view
            .hold
            .as_ref()
            .map(|h| h.until_ms)
            .filter(|u| *u > now_ms());
        let held = until.is_some();
        if held == self.following.holding {
            return;
        }
        self.following.holding = held;
        if !held {
            cluster.set_held(false);
            let target = view.hold.as_ref().and_then(|h| h.primary.clone());
            match target {
                // held until this instance routes to the new primary
                Some(p) => {
                    self.following.releasing =
                        Some((p, Instant::now() + super::manager::ROUTE_TIMEOUT));
                    self.monitor.poll_now();
                    let snap = self.deps.topology.load();
                    self.release_when_routed(&snap);
                }
                None => {
                    self.monitor.set_writes_held(false);
                    tracing::info!("writes released by the leader");
                }
            }
            return;
        }
        self.following.releasing = None;
        self.monitor.set_writes_held(true);
        tracing::info!("writes held by the leader (switchover)");
        // tell the leader once nothing runs on the primary here
        let primary = self
            .deps
            .topology
            .load()
            .primary_server()
            .map(|p| p.address.clone());
        let backends = self.deps.backends.clone();
        let deadline =
            Instant::now() + Duration::from_millis(until.unwrap_or(0).saturating_sub(now_ms()));
        tokio::spawn(async move {
            loop {
                let busy = primary
                    .as_deref()
                    .map_or(0, |p| backends.server_counts(p).1);
                let still = cluster
                    .view()
                    .hold
                    .as_ref()
                    .is_some_and(|h| h.until_ms > now_ms());
                if !still {
                    return;
                }
                if busy == 0 {
                    cluster.set_held(true);
                    return;
                }
                if Instant::now() >= deadline {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
    }

    /// The live instances other than this one that do not yet hold and
    /// drain their writes for this leader's switchover (empty alone).
    pub(super) fn instances_not_holding(&self) -> Vec<String> {
        let Some(cluster) = self.cluster() else {
            return Vec::new();
        };
        cluster
            .view()
            .routers
            .iter()
            .filter(|r| r.instance != cluster.instance() && !r.held)
            .map(|r| r.instance.clone())
            .collect()
    }

    /// Switchover: holds (or releases) writes on every instance, not only
    /// here; `for_at_most` bounds the hold should this leader die meanwhile.
    pub(super) async fn hold_everywhere(
        &self,
        on: bool,
        for_at_most: Duration,
        primary: Option<&str>,
    ) {
        let Some(shared) = &self.shared else {
            return;
        };
        let hold = crate::cluster::records::Hold {
            by: shared.cluster().instance().to_string(),
            until_ms: if on {
                now_ms().saturating_add(for_at_most.as_millis() as u64)
            } else {
                0
            },
            primary: primary.map(str::to_string),
        };
        let key = shared.cluster().keys().hold();
        shared.write_now("the writes held", key, &hold).await;
    }

    /// Releases the writes held for a switchover once routing here sees the
    /// new primary (or after the route timeout).
    pub(super) fn release_when_routed(&mut self, snap: &Snapshot) {
        let Some((target, deadline)) = &self.following.releasing else {
            return;
        };
        let routed = snap.primary_server().is_some_and(|p| p.address == *target);
        if routed || Instant::now() >= *deadline {
            tracing::info!(primary = %target, routed, "writes released after the leader's switchover");
            self.following.releasing = None;
            self.monitor.set_writes_held(false);
        } else {
            self.monitor.poll_now();
        }
    }

    /// Releases replaced primaries that now replicate (followers).
    pub(super) fn release_followed(&mut self, snap: &Snapshot) {
        if self.following.fenced.is_empty() {
            return;
        }
        let monitor = self.monitor.clone();
        self.following.fenced.retain(|address| {
            let replica = snap
                .server(address)
                .is_some_and(|s| s.role == Role::Replica);
            if replica {
                tracing::info!(server = %address, "the replaced primary replicates now: back in rotation");
                monitor.set_fenced(address, false);
            }
            !replica
        });
    }

    /// The leader lost `primary`: the other live instances that still
    /// reach it (healthy view, polled it within the silence grace).
    pub(super) fn still_reaching(&self, primary: &super::watch::Watched) -> Vec<String> {
        let Some(cluster) = self.cluster() else {
            return Vec::new();
        };
        let window = self.config().failover.silence_grace.get();
        reaching(
            &cluster.view().routers,
            cluster.instance(),
            primary,
            now_ms(),
            window,
        )
    }

    /// A loss only this leader sees: no failover. Logged, counted and shown
    /// once it lasts (other instances notice a dead primary a poll later).
    pub(super) fn on_isolated(&mut self, primary: &str, reaching: &[String]) {
        let since = *self
            .following
            .isolated_since
            .get_or_insert_with(Instant::now);
        let settle = self.config().monitor.interval.get() * 2 + Duration::from_millis(500);
        if self.following.isolated_logged || since.elapsed() < settle {
            return;
        }
        self.following.isolated_logged = true;
        let message = format!(
            "the leader cannot reach the primary but sqlyard instance(s) {} still do: no failover (a partition between the leader and the primary)",
            reaching.join(", ")
        );
        tracing::warn!(primary = %primary, instances = ?reaching, "{message}");
        self.handle.update(|s| {
            s.leader_isolated_losses += 1;
            push_alert(s, Some(primary.to_string()), message);
        });
    }

    /// The loss episode ended (or was confirmed by everyone).
    pub(super) fn clear_isolated(&mut self) {
        self.following.isolated_since = None;
        self.following.isolated_logged = false;
    }

    /// After a successful failover or switchover: tell every instance.
    pub(super) fn publish_primary(&self, record: &FailoverRecord) {
        let (Some(shared), Some(new)) = (&self.shared, &record.new_primary) else {
            return;
        };
        if record.outcome != Outcome::Succeeded {
            return;
        }
        let server_id = self
            .deps
            .topology
            .load()
            .server(new)
            .and_then(|s| s.server_id);
        shared.publish_primary(PublishedPrimary {
            address: new.clone(),
            server_id,
            replaced: record.old_primary.clone(),
            failover: record.id,
            by: shared.cluster().instance().to_string(),
            at_ms: now_ms(),
        });
    }

    /// Runs the requests forwarded by other instances (leader).
    async fn serve_forwarded(&mut self, cluster: &ClusterHandle, view: &ClusterView) {
        let waiting: Vec<(String, Vec<u8>)> = view
            .requests
            .iter()
            .filter(|(id, _)| !self.following.served.contains(*id))
            .map(|(id, v)| (id.clone(), v.clone()))
            .collect();
        self.following
            .served
            .retain(|id| view.requests.contains_key(id));
        for (id, raw) in waiting {
            self.following.served.insert(id.clone());
            let as_json = |r: Result<FailoverRecord, RequestError>| {
                r.and_then(|rec| {
                    serde_json::to_value(rec).map_err(|e| RequestError::Failed(e.to_string()))
                })
            };
            let result = match serde_json::from_slice::<ForwardedRequest>(&raw) {
                Ok(req) => {
                    tracing::info!(kind = %req.kind, to = ?req.to, from = %req.from_instance, "serving a request forwarded by another instance");
                    match req.kind.as_str() {
                        "switchover" => as_json(super::switchover::run(self, req.to).await),
                        "failover" => as_json(self.manual_failover(req.to).await),
                        "rebuild" => match req.to.as_deref() {
                            Some(target) => (self.deps.on_rebuild)(target, req.source.as_deref()),
                            None => Err(RequestError::Refused(
                                "a forwarded rebuild names no server".into(),
                            )),
                        },
                        other => Err(RequestError::Refused(format!(
                            "unknown forwarded request {other:?}"
                        ))),
                    }
                }
                Err(e) => Err(RequestError::Refused(format!(
                    "unreadable forwarded request: {e}"
                ))),
            };
            let reply = ForwardedReply {
                record: result.as_ref().ok().cloned(),
                error: result.as_ref().err().map(|e| match e {
                    RequestError::Refused(m) => ("refused".to_string(), m.clone()),
                    other => ("failed".to_string(), other.to_string()),
                }),
                leader: cluster.instance().to_string(),
            };
            let json = serde_json::to_vec(&reply).unwrap_or_default();
            let _ = cluster.delete(cluster.keys().request(&id)).await;
            if let Err(e) = cluster.put(cluster.keys().reply(&id), json).await {
                tracing::warn!(error = %e, "could not answer a forwarded request");
            }
        }
    }

    /// A request typed here while another instance leads: forwarded
    /// through etcd, answered (by a task, so this manager keeps following
    /// the cluster) with the leader's result.
    pub(super) fn forward(&self, req: Request) {
        let Some(cluster) = self.cluster().cloned() else {
            return;
        };
        let config = self.config();
        let wait = config.failover.switchover_timeout.get()
            + config.failover.catch_up_timeout.get()
            + FORWARD_SLACK;
        let (kind, to, reply) = match req {
            Request::Switchover { to, reply } => ("switchover", to, reply),
            Request::Failover { to, reply } => ("failover", to, reply),
        };
        let req = ForwardedRequest {
            kind: kind.to_string(),
            to,
            source: None,
            from_instance: cluster.instance().to_string(),
        };
        tokio::spawn(async move {
            let r = forward_request(&cluster, req, wait).await.and_then(|rec| {
                serde_json::from_value(rec).map_err(|e| {
                    RequestError::Failed(format!("unreadable record from the leader: {e}"))
                })
            });
            let _ = reply.send(r);
        });
    }
}

/// The instances other than `me` that still reach `primary`: their view
/// names it (by address or server_id), says healthy, and they polled it
/// successfully within `window` of `now_ms`. Pure.
pub fn reaching(
    routers: &[crate::cluster::RouterRecord],
    me: &str,
    primary: &super::watch::Watched,
    now_ms: u64,
    window: Duration,
) -> Vec<String> {
    let window = window.as_millis() as u64;
    routers
        .iter()
        .filter(|r| r.instance != me)
        .filter(|r| {
            r.view.primary.as_deref() == Some(primary.address.as_str())
                || (primary.server_id.is_some() && r.view.server_id == primary.server_id)
        })
        .filter(|r| r.view.state == super::DetectorState::Healthy.as_str())
        .filter(|r| {
            r.view
                .last_ok_ms
                .is_some_and(|t| now_ms.saturating_sub(t) <= window)
        })
        .map(|r| r.instance.clone())
        .collect()
}

/// Puts `req` where the leader serves it and waits up to `wait` for its
/// answer: the record (JSON) of what the leader ran, or why it did not.
pub async fn forward_request(
    cluster: &ClusterHandle,
    req: ForwardedRequest,
    wait: Duration,
) -> Result<serde_json::Value, RequestError> {
    let view = cluster.view();
    let Some(leader) = view.leader.clone().filter(|_| view.etcd_up) else {
        return Err(RequestError::Refused(
            "no sqlyard instance leads (etcd is unreachable or no leader is elected): nothing was done".into(),
        ));
    };
    let id = format!(
        "{}-{}-{}",
        cluster.instance().replace('/', "_"),
        now_ms(),
        rand::random::<u32>()
    );
    let shows = if req.kind == "rebuild" {
        "SHOW REBUILDS"
    } else {
        "SHOW FAILOVERS"
    };
    let json = serde_json::to_vec(&req).map_err(|e| RequestError::Failed(e.to_string()))?;
    let mut changes = cluster.subscribe();
    cluster
        .put(cluster.keys().request(&id), json)
        .await
        .map_err(|e| {
            RequestError::Failed(format!("could not forward to the leader {leader}: {e}"))
        })?;
    let deadline = Instant::now() + wait;
    loop {
        if let Some(raw) = cluster.view().replies.get(&id).cloned() {
            let _ = cluster.delete(cluster.keys().reply(&id)).await;
            let reply: ForwardedReply = serde_json::from_slice(&raw).map_err(|e| {
                RequestError::Failed(format!("unreadable answer from the leader: {e}"))
            })?;
            return match (reply.record, reply.error) {
                (Some(rec), _) => Ok(rec),
                (None, Some((kind, m))) if kind == "refused" => Err(RequestError::Refused(m)),
                (None, Some((_, m))) => Err(RequestError::Failed(m)),
                (None, None) => Err(RequestError::Failed("empty answer from the leader".into())),
            };
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() {
                return Err(RequestError::NotRunning);
            },
            _ = tokio::time::sleep_until(deadline) => {
                let _ = cluster.delete(cluster.keys().request(&id)).await;
                return Err(RequestError::Failed(format!(
                    "no answer from the leader {leader} within {wait:?}; {shows} there shows whether it ran"
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::RouterRecord;
    use crate::failover::watch::Watched;

    fn router(
        name: &str,
        primary: &str,
        id: Option<u32>,
        state: &str,
        ok: Option<u64>,
    ) -> RouterRecord {
        RouterRecord {
            instance: name.into(),
            view: PrimaryView {
                primary: Some(primary.into()),
                server_id: id,
                state: state.into(),
                evidence: String::new(),
                last_ok_ms: ok,
            },
            ..RouterRecord::default()
        }
    }

    #[test]
    fn only_fresh_healthy_views_of_the_same_server_count() {
        let lost = Watched {
            address: "10.0.0.1:3306".into(),
            server_id: Some(1),
        };
        let now = 1_000_000;
        let window = Duration::from_secs(3);
        let routers = vec![
            router("me", "10.0.0.1:3306", Some(1), "healthy", Some(now)),
            router("b", "10.0.0.1:3306", Some(1), "healthy", Some(now - 500)),
            // the same server under another name (a proxy, a host name)
            router("c", "db1:3306", Some(1), "healthy", Some(now - 2_000)),
            // lost it too
            router("d", "10.0.0.1:3306", Some(1), "suspect", Some(now - 200)),
            // healthy but stale: its last good poll is too old
            router("e", "10.0.0.1:3306", Some(1), "healthy", Some(now - 3_500)),
            // watches another server
            router("f", "10.0.0.2:3306", Some(2), "healthy", Some(now)),
            router("g", "10.0.0.1:3306", Some(1), "healthy", None),
        ];
        assert_eq!(reaching(&routers, "me", &lost, now, window), ["b", "c"]);
        assert!(reaching(&routers[3..], "me", &lost, now, window).is_empty());
    }
}
