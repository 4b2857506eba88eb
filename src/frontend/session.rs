//! Problem: each client needs one task that reads its requests in order,
//! answers each one, and cleans up whatever it held when it leaves. This is
//! that per-client loop; the work of each command lives in its own file
//! ([`super::query`], [`super::stmt`], [`super::commands`], [`super::kill`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::tls::Transport;
use tokio::sync::watch;

use super::binding::Binding;
use super::error::{server_err_payload, SessionError};
use super::observe::DigestCache;
use super::state::{Pin, SessionState};
use super::stmt::StmtInfo;
use crate::app::context::{Context, Stats};
use crate::app::registry::{SessionInfo, UserSlot};
use crate::backend::pool::Pool;
use crate::backend::relay::{relay, RelayError, RelayOpts, Summary};
use crate::backend::sync::sync_state;
use crate::backend::Outstanding;
use crate::backend::{BackendError, PoolKey, PooledConn};
use crate::config::Config;
use crate::protocol::constants::{cap, com, status};
use crate::protocol::response::{err_payload, ok_payload};
use crate::protocol::stream::ResponseKind;
use crate::protocol::{Packet, PacketIo, ProtocolError};
use crate::router::classify::{classify_in, classify_unsure, Class};
use crate::router::consistency::tracked_gtid;
use crate::router::{Lexing, Multibyte};
use crate::topology::{GtidSet, Snapshot};

/// After refusing an oversized packet, at most this much of it is read
/// (and dropped) before the connection closes, for at most this long.
const DISCARD_MAX: usize = 256 << 20;
const DISCARD_WITHIN: Duration = Duration::from_secs(2);
/// How long a client may take to finish sending a packet refused for want
/// of buffer space (it is read and dropped meanwhile).
const SKIP_WITHIN: Duration = Duration::from_secs(60);

/// What the loop does after a command.
pub enum Next {
    Continue,
    Quit,
}

/// One client session.
pub struct Session {
    pub ctx: Arc<Context>,
    pub io: PacketIo<Transport>,
    pub info: Arc<SessionInfo>,
    pub id: u32,
    pub user: Arc<str>,
    pub host: String,
    /// Negotiated capabilities.
    pub caps: u32,
    pub key: PoolKey,
    pub state: SessionState,
    /// The backend connection the session holds between statements, why,
    /// and the pools it used.
    pub binding: Binding,
    pub scramble: [u8; 20],
    /// Prepared statements by the id the client sees.
    pub stmts: HashMap<u32, StmtInfo>,
    /// The statements with an open server-side cursor, by client id (see
    /// `frontend::stmt`); the session is pinned while any is open.
    pub cursors: HashMap<u32, super::stmt::OpenCursor>,
    pub next_stmt_id: u32,
    /// The client id of the statement prepared last: MariaDB's
    /// `mariadb_stmt_execute_direct` sends its execute with id 0xFFFFFFFF,
    /// meaning that one, right behind the prepare.
    pub last_prepared: Option<u32>,
    /// The position of this session's own writes (read-your-writes).
    pub session_gtid: Option<GtidSet>,
    /// Digest entries of the statement texts this session ran last.
    pub digest_cache: DigestCache,
    /// A reused buffer for rewritten requests.
    pub scratch: Vec<u8>,
    /// The topology this statement is decided on: refreshed once per
    /// statement (see [`Session::refresh`]), so a statement sees one
    /// snapshot and reading it costs no shared reference-count write.
    pub snap: Arc<Snapshot>,
    /// The configuration, refreshed the same way.
    pub cfg: Arc<Config>,
    /// Counts this session against its user's `max_connections`.
    pub user_slot: UserSlot,
    /// Turns true when the router shuts down: the session closes before
    /// its next statement.
    shutdown: watch::Receiver<bool>,
}

/// Serves one client connection until it leaves (or until the router
/// shuts down: then it closes as soon as no statement is running).
pub async fn serve(
    ctx: Arc<Context>,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let info = ctx.registry.register(peer);
    let id = info.id;
    ctx.stats.active.fetch_add(1, Ordering::Relaxed);
    let mut io = PacketIo::with_chunk(
        Transport::Plain(stream),
        crate::protocol::codec::CLIENT_READ_CHUNK,
    );
    io.set_budget(ctx.buffers.clone());
    // Nobody logged in yet: no large packets.
    io.set_max_packet(crate::protocol::codec::MAX_HANDSHAKE_PACKET);
    let host = peer.ip().to_string();
    let connect_timeout = ctx.config.load().router.connect_timeout.get();
    let login = tokio::time::timeout(
        connect_timeout,
        super::auth::handshake(&ctx, &mut io, id, &host),
    )
    .await;
    match login {
        Ok(Ok(login)) => {
            let caps = super::auth::negotiated(login.response.capabilities);
            let user: Arc<str> = Arc::from(login.response.user.as_str());
            *info.user.lock() = user.clone();
            let limit = login.config.user(&user).and_then(|u| u.max_connections);
            let Some(user_slot) = ctx.registry.admit(&user, limit) else {
                let e = SessionError::UserLimit {
                    user: user.to_string(),
                    limit: limit.unwrap_or_default(),
                };
                tracing::info!(session = id, user = %user, "refused: {e}");
                let _ = io.send(login.seq, &e.to_err_payload()).await;
                ctx.registry.remove(id);
                ctx.stats.active.fetch_sub(1, Ordering::Relaxed);
                return;
            };
            let mut state = SessionState::default();
            state.conn.multi_statements = caps & cap::MULTI_STATEMENTS != 0;
            state.conn.db = login.response.database.clone();
            state.status = status::AUTOCOMMIT;
            let collation = pool_collation(login.response.collation, &mut state.conn.vars);
            let mut s = Session {
                key: PoolKey::new(user.clone(), caps, collation)
                    .with_ext(login.response.ext_capabilities),
                ctx: ctx.clone(),
                io,
                info: info.clone(),
                id,
                user,
                host,
                caps,
                state,
                binding: Binding::new(info.clone()),
                scramble: login.scramble,
                stmts: HashMap::new(),
                cursors: HashMap::new(),
                next_stmt_id: 1,
                last_prepared: None,
                session_gtid: None,
                digest_cache: DigestCache::default(),
                scratch: Vec::new(),
                snap: ctx.topology.load(),
                cfg: login.config,
                user_slot,
                shutdown,
            };
            s.io.set_max_packet(crate::protocol::codec::DEFAULT_MAX_PACKET);
            if s.finish_login(login.seq).await {
                s.run().await;
            }
            s.close().await;
        }
        Ok(Err(e)) => tracing::debug!(session = id, error = %e, "login failed"),
        Err(_) => {
            let e = SessionError::Malformed("handshake (timed out)");
            let _ = io.send(2, &e.to_err_payload()).await;
            tracing::debug!(session = id, "handshake timed out");
        }
    }
    ctx.registry.remove(id);
    ctx.stats.active.fetch_sub(1, Ordering::Relaxed);
}

impl Session {
    /// Checks the initial database (if any) and sends the login OK.
    async fn finish_login(&mut self, seq: u8) -> bool {
        if let Some(db) = self.state.conn.db.clone() {
            // The database must exist and be allowed: ask the server, unless
            // it accepted the pair just now (see app/login_db.rs).
            // The session already names it, so the check may take a pooled
            // connection that is in that (or any) database; a session
            // without one could only take a connection that has none, and
            // the pool would open a new server connection for every login
            // (PHP connects per page).
            let now = std::time::Instant::now();
            if !self.ctx.login_dbs.trusted(&self.user, &db, now) {
                let mut p = vec![com::INIT_DB];
                p.extend_from_slice(db.as_bytes());
                match self.execute_internal_on_primary(&p).await {
                    Ok(()) => self.ctx.login_dbs.accept(&self.user, &db, now),
                    Err(e) => {
                        self.ctx.login_dbs.forget(&self.user, &db);
                        self.state.conn.db = None;
                        let _ = self.io.send(seq, &err_payload_for(&e)).await;
                        return false;
                    }
                }
            }
            self.state.changed();
        }
        self.io
            .send(seq, &super::auth::login_ok(self.state.status))
            .await
            .is_ok()
    }

    async fn run(&mut self) {
        // One future for the whole session says when it must stop (KILL,
        // router shutdown), and two timers are moved forward per statement
        // instead of armed anew: moving a tokio deadline later is an atomic
        // store, re-arming one takes the timer wheel's lock.
        let stop = stop_signal(self.info.clone(), self.shutdown.clone());
        tokio::pin!(stop);
        let idle_sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(idle_sleep);
        let linger_sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(linger_sleep);
        loop {
            if self.info.killed.load(Ordering::Relaxed) {
                let _ = self.send_error(1, &SessionError::Killed).await;
                return;
            }
            if *self.shutdown.borrow() {
                self.send_shutdown().await;
                return;
            }
            self.refresh();
            let (idle, linger) = (
                self.cfg.router.idle_timeout.get(),
                self.cfg.pool.linger.get(),
            );
            // In a transaction, `router.idle_transaction_timeout` (if set)
            // comes first.
            let idle_trx = self
                .cfg
                .router
                .idle_transaction_timeout
                .map(|d| d.get())
                .filter(|t| *t < idle && self.binding.has(super::state::Pin::Transaction));
            let now = tokio::time::Instant::now();
            idle_sleep.as_mut().reset(now + idle_trx.unwrap_or(idle));
            // A connection kept only for the next statement goes back to
            // the pool once the client has been idle for `linger`.
            let mut lingering = self.lingering_pool();
            if let Some(pool) = &lingering {
                pool.lingering.fetch_add(1, Ordering::Relaxed);
                linger_sleep.as_mut().reset(now + linger);
            }
            let read = loop {
                tokio::select! {
                    biased;
                    why = &mut stop => {
                        if let Some(pool) = lingering.take() {
                            pool.lingering.fetch_sub(1, Ordering::Relaxed);
                        }
                        match why {
                            Stop::Killed => {
                                let _ = self.send_error(1, &SessionError::Killed).await;
                            }
                            Stop::Shutdown => self.send_shutdown().await,
                        }
                        return;
                    }
                    r = self.io.read_packet() => break Ok(r),
                    _ = &mut linger_sleep, if lingering.is_some() => {
                        if let Some(pool) = lingering.take() {
                            pool.lingering.fetch_sub(1, Ordering::Relaxed);
                        }
                        self.pin(super::state::Pin::NextStatement, false);
                        if let Some(conn) = self.binding.take() {
                            self.check_in(conn);
                        }
                    }
                    _ = &mut idle_sleep => break Err(()),
                }
            };
            if let Some(pool) = lingering.take() {
                pool.lingering.fetch_sub(1, Ordering::Relaxed);
            }
            let pkt = match read {
                Err(()) => {
                    let e = match idle_trx {
                        Some(t) => {
                            self.end_idle_transaction().await;
                            SessionError::IdleTransactionTimeout(t.as_secs())
                        }
                        None => SessionError::IdleTimeout(idle.as_secs()),
                    };
                    tracing::info!(session = self.id, "closing the client: {e}");
                    let _ = self.send_error(1, &e).await;
                    return;
                }
                Ok(Err(e)) if e.is_disconnect() => return,
                Ok(Err(e @ ProtocolError::OverBudget { .. })) => {
                    // Refused for now, not for good: drop the packet as it
                    // arrives, answer after its last part, and go on.
                    tracing::warn!(session = self.id, error = %e, "client packet refused");
                    // Long data has no answer of its own: the client
                    // would take the ERR for its next command's.
                    let answered = !matches!(
                        self.io.refused_command(),
                        Some(com::STMT_SEND_LONG_DATA | com::STMT_CLOSE) | None
                    );
                    match self.io.skip_packet(SKIP_WITHIN).await {
                        Ok(seq) if answered => {
                            let seq = seq.wrapping_add(1);
                            if self
                                .send_error(seq, &SessionError::Client(e))
                                .await
                                .is_err()
                            {
                                return;
                            }
                            self.io.shrink();
                            continue;
                        }
                        _ => return,
                    }
                }
                Ok(Err(e)) => {
                    tracing::info!(session = self.id, error = %e, "closing client after a bad packet");
                    let too_large = matches!(e, ProtocolError::TooLarge(..));
                    let _ = self.send_error(1, &SessionError::Client(e)).await;
                    if too_large {
                        // let the client finish sending, so it reads the ERR
                        // instead of a reset connection
                        self.io.discard(DISCARD_MAX, DISCARD_WITHIN).await;
                    }
                    return;
                }
                Ok(Ok(p)) => p,
            };
            self.ctx
                .stats
                .bytes_in
                .fetch_add(pkt.payload.len() as u64 + 4, Ordering::Relaxed);
            self.refresh();
            match self.dispatch(pkt).await {
                Ok(Next::Continue) => self.io.shrink(),
                Ok(Next::Quit) => return,
                Err(e) => {
                    if !matches!(&e, SessionError::Client(p) if p.is_disconnect()) {
                        tracing::debug!(session = self.id, error = %e, origin = %e.origin(), retry = %e.retry(), "session ends");
                    }
                    return;
                }
            }
        }
    }

    /// How the servers read this session's quotes: `NO_BACKSLASH_ESCAPES`
    /// from the last status flags (they follow `SET sql_mode` and the
    /// global default alike), and the client character set (tracked, else
    /// the one chosen at login).
    pub fn lexing(&self) -> Lexing {
        let multibyte = match self.state.conn.vars.get("character_set_client") {
            Some(cs) => Multibyte::from_charset(cs),
            None => Multibyte::from_collation(u16::from(self.key.collation)),
        };
        Lexing {
            no_backslash_escapes: self.state.status & status::NO_BACKSLASH_ESCAPES != 0,
            multibyte,
        }
    }

    /// Classifies a statement as the servers will read it (`lexing`, from
    /// [`Session::lexing`]); before any status has told the SQL mode, the
    /// stricter of both readings.
    pub fn classify(&self, sql: &[u8], lexing: Lexing) -> Class {
        if self.state.status_seen {
            classify_in(sql, lexing)
        } else {
            classify_unsure(sql, lexing)
        }
    }

    /// Brings the session's snapshot and configuration up to date (before
    /// each statement, and before waiting for one).
    pub fn refresh(&mut self) {
        self.ctx.topology.refresh(&mut self.snap);
        let max = self
            .snap
            .max_packet(crate::protocol::codec::DEFAULT_MAX_PACKET);
        self.io.set_max_packet(max);
        crate::topology::handle::refresh_from(&self.ctx.config, &mut self.cfg);
    }

    async fn dispatch(&mut self, pkt: Packet) -> Result<Next, SessionError> {
        let Some(&cmd) = pkt.payload.first() else {
            self.send_error(1, &SessionError::Malformed("empty command"))
                .await?;
            return Ok(Next::Quit);
        };
        match cmd {
            com::QUERY => super::query::handle(self, pkt).await,
            com::QUIT => Ok(Next::Quit),
            com::PING => {
                self.send_ok().await?;
                Ok(Next::Continue)
            }
            com::INIT_DB | com::FIELD_LIST | com::STATISTICS | com::DEBUG => {
                super::commands::forward_simple(self, pkt, cmd).await
            }
            com::SET_OPTION => super::commands::set_option(self, pkt).await,
            com::CHANGE_USER => super::commands::change_user(self, pkt).await,
            com::RESET_CONNECTION => super::commands::reset_connection(self).await,
            com::PROCESS_KILL => super::kill::com_process_kill(self, pkt).await,
            com::STMT_PREPARE
            | com::STMT_EXECUTE
            | com::STMT_FETCH
            | com::STMT_RESET
            | com::STMT_CLOSE
            | com::STMT_SEND_LONG_DATA
            | com::STMT_BULK_EXECUTE => super::stmt::handle(self, pkt, cmd).await,
            other => {
                self.send_error(1, &SessionError::UnknownCommand(other))
                    .await?;
                Ok(Next::Continue)
            }
        }
    }

    /// The pool of a connection held only for the next statement (see
    /// [`Binding::lingering_pool`]); none when the next request is here.
    fn lingering_pool(&mut self) -> Option<Arc<Pool>> {
        self.binding.lingering_pool(!self.io.rbuf().is_empty())
    }

    /// Whether the session holds its connection for a reason other than
    /// keeping it for the next statement (which is no routing constraint).
    pub fn pinned_for_a_reason(&self) -> bool {
        self.binding.pinned_for_a_reason()
    }

    /// Tells the client the router is shutting down (like a MySQL server's
    /// ER_SERVER_SHUTDOWN), before the connection closes.
    async fn send_shutdown(&mut self) {
        let p = err_payload(1053, b"08S01", "sqlyard: server shutdown in progress");
        let _ = tokio::time::timeout(Duration::from_millis(200), self.io.send(1, &p)).await;
    }

    /// Sends an ERR packet for a sqlyard error.
    pub async fn send_error(&mut self, seq: u8, e: &SessionError) -> Result<(), SessionError> {
        Stats::inc(&self.ctx.stats.query_errors);
        Stats::inc(&self.ctx.stats.errors_by_origin[e.origin() as usize]);
        self.io.send(seq, &err_payload_for(e)).await?;
        Ok(())
    }

    /// Sends an OK packet with the session's status flags.
    pub async fn send_ok(&mut self) -> Result<(), SessionError> {
        let st = self.state.status & (status::AUTOCOMMIT | status::IN_TRANS);
        self.io.send(1, &ok_payload(0, 0, st, 0)).await?;
        Ok(())
    }

    /// Whether responses must lose their session-state block for this client.
    pub fn strip_state(&self) -> bool {
        self.caps & cap::SESSION_TRACK == 0
    }

    /// A backend connection for the next statement: the pinned one, or one
    /// checked out from the primary's pool and synced to this session.
    pub async fn acquire(&mut self) -> Result<(PooledConn, bool), SessionError> {
        if self.binding.is_held() {
            return Ok((self.take_held().await?, true));
        }
        Ok((self.checkout().await?, false))
    }

    /// The address of the connection the session holds, if any.
    pub fn held_addr(&self) -> Option<&Arc<str>> {
        self.binding.held_addr()
    }

    /// Gives back a connection held only for the next statement's sake
    /// (never one pinned for a reason).
    pub fn release_held(&mut self) {
        let snap = &self.snap;
        self.binding.release_unless_pinned(|addr| {
            snap.server(addr)
                .is_some_and(|srv| srv.admin == crate::topology::AdminState::Offline)
        });
    }

    /// Takes the held connection for a statement, synced to the session.
    pub async fn take_held(&mut self) -> Result<PooledConn, SessionError> {
        if let Some(mut c) = self.binding.take() {
            let snap = &self.snap;
            let offline = snap
                .server(&c.addr)
                .is_some_and(|srv| srv.admin == crate::topology::AdminState::Offline);
            if offline {
                // OFFLINE takes the server out now: what the session held there is lost
                let addr = c.addr.to_string();
                drop(c);
                self.lose_backend();
                return Err(SessionError::ServerOffline(addr));
            }
            if snap.server(&c.addr).is_some_and(|srv| srv.fenced) {
                // failover replaced that primary: its transaction is lost, and
                // nothing may be written there again
                let addr = c.addr.to_string();
                drop(c);
                self.lose_backend();
                return Err(SessionError::ServerLost(addr));
            }
            // state changed without a statement (COM_SET_OPTION): apply it
            if let Err(e) = self.sync(&mut c).await {
                self.lose_backend();
                return Err(e);
            }
            return Ok(c);
        }
        self.checkout().await
    }

    /// Brings a connection's state in line with this session's.
    pub async fn sync(&mut self, conn: &mut PooledConn) -> Result<(), SessionError> {
        let want = (self.id, self.state.version);
        if conn.synced_to != Some(want) {
            let trips = sync_state(conn, &self.state.conn).await?;
            if trips > 0 {
                self.ctx
                    .stats
                    .state_syncs
                    .fetch_add(trips as u64, Ordering::Relaxed);
            }
            conn.synced_to = Some(want);
        }
        Ok(())
    }

    /// The primary's address; waits for one (held, see `failover::hold`).
    pub async fn primary_addr(&mut self) -> Result<Arc<str>, SessionError> {
        if self.snap.primary_for_new_work().is_none() {
            // About to wait (failover, switchover): give back a lingering
            // connection, so that nothing looks busy on the old primary.
            self.release_held();
            let ctx = &self.ctx;
            self.snap =
                crate::failover::hold::wait_for_primary(&self.cfg, &ctx.held, &ctx.topology)
                    .await?;
        }
        self.snap
            .primary_for_new_work()
            .map(|p| self.interned(&p.address))
            .ok_or(SessionError::Malformed("topology snapshot"))
    }

    /// `addr` as a shared string (see [`Binding::interned`]).
    fn interned(&self, addr: &str) -> Arc<str> {
        self.binding.interned(addr)
    }

    /// A connection to the primary, synced to this session. When the
    /// primary cannot be reached (it just died), the statement is held
    /// until failover provides the next one; a login it refuses is passed
    /// on at once.
    pub async fn checkout(&mut self) -> Result<PooledConn, SessionError> {
        let primary = self.primary_addr().await?;
        match self.checkout_at(&primary).await {
            Err(SessionError::Backend(e)) if e.is_unreachable() => {
                let next = self.next_primary(&primary).await?;
                self.checkout_at(&next).await
            }
            r => r,
        }
    }

    /// The primary that replaces `failed`, which refused connections (it has
    /// probably just died): held until failover provides one.
    pub async fn next_primary(&mut self, failed: &str) -> Result<Arc<str>, SessionError> {
        let ctx = &self.ctx;
        self.snap = crate::failover::hold::wait_for_new_primary(
            &self.cfg,
            &ctx.held,
            &ctx.topology,
            failed,
        )
        .await?;
        self.snap
            .primary_for_new_work()
            .map(|p| Arc::from(p.address.as_str()))
            .ok_or(SessionError::Malformed("topology snapshot"))
    }

    /// A connection to server `addr`, synced to this session.
    pub async fn checkout_at(&mut self, addr: &str) -> Result<PooledConn, SessionError> {
        let pool = self.pool_at(addr);
        self.checkout_from(&pool).await
    }

    /// The pool of server `addr` for this session's key.
    pub fn pool_at(&mut self, addr: &str) -> Arc<Pool> {
        self.binding.pool_at(&self.ctx.backends, addr, &self.key)
    }

    async fn checkout_from(&mut self, pool: &Arc<Pool>) -> Result<PooledConn, SessionError> {
        let mut conn = self.checkout_unsynced(pool).await?;
        self.sync(&mut conn).await?;
        Ok(conn)
    }

    /// A connection from `pool`, not yet synced to this session.
    pub async fn checkout_unsynced(
        &mut self,
        pool: &Arc<Pool>,
    ) -> Result<PooledConn, SessionError> {
        // the server's limit across pools, as configured or as it reports
        let configured = self
            .cfg
            .servers
            .iter()
            .find(|s| *s.address == *pool.addr)
            .and_then(|s| s.max_connections);
        let reported = self.snap.server(&pool.addr).and_then(|s| s.max_connections);
        pool.server
            .conns
            .set_limit(crate::backend::server_limit::limit_for(
                configured,
                reported,
                self.ctx
                    .backends
                    .instances
                    .load(std::sync::atomic::Ordering::Relaxed),
            ));
        let conn = match pool
            .get(
                &self.ctx.backends.credentials,
                &self.ctx.backends.tls,
                Some(self.id),
                self.state.conn.db.is_none(),
            )
            .await
        {
            Ok(c) => c,
            Err(e) => {
                if e.is_connect_error() {
                    Stats::inc(&pool.server.connect_errors);
                }
                return Err(e.into());
            }
        };
        Ok(conn)
    }

    /// Runs one command on a backend and relays the answer to the client.
    /// Returns `Ok(None)` when the client already got an error.
    pub async fn execute(
        &mut self,
        payload: &[u8],
        kind: ResponseKind,
    ) -> Result<Option<(Summary, PooledConn)>, SessionError> {
        self.execute_with(payload, kind, None).await
    }

    /// [`Session::execute`], with the client's id for a prepared statement:
    /// on the held connection, or else on the primary.
    pub async fn execute_with(
        &mut self,
        payload: &[u8],
        kind: ResponseKind,
        client_stmt_id: Option<u32>,
    ) -> Result<Option<(Summary, PooledConn)>, SessionError> {
        let (conn, was_held) = match self.acquire().await {
            Ok(c) => c,
            Err(e) => {
                self.send_error(1, &e).await?;
                return Ok(None);
            }
        };
        self.execute_on(conn, was_held, &[payload], kind, client_stmt_id, false)
            .await
    }

    /// Runs one command on `conn` (checked out for it, or held when
    /// `was_held`) and relays the answer to the client. The command is the
    /// concatenation of `request`'s parts (a large one is sent from them
    /// without a copy). A fresh connection
    /// that turns out dead before the request left is replaced once.
    /// `may_write`: the statement may write (see [`RelayOpts::may_write`]).
    /// Returns `Ok(None)` when the client already got an error.
    pub async fn execute_on(
        &mut self,
        conn: PooledConn,
        was_held: bool,
        request: &[&[u8]],
        kind: ResponseKind,
        client_stmt_id: Option<u32>,
        may_write: bool,
    ) -> Result<Option<(Summary, PooledConn)>, SessionError> {
        let mut conn = conn;
        let mut attempt = 0;
        // Watch for a lost server before sending, so no announcement is missed.
        let mut loss = self.ctx.backends.lost.watch();
        loop {
            if kind == ResponseKind::Prepare {
                // a client's prepare: the server never holds more than the bound
                super::stmt::make_room(&mut conn, &mut self.cursors);
            }
            let Err(e) = conn.io.send_parts(0, request).await else {
                break;
            };
            let pool = conn.pool().clone();
            drop(conn);
            if was_held || attempt > 0 {
                self.lose_backend();
                let e = SessionError::Backend(BackendError::Protocol {
                    addr: pool.addr.to_string(),
                    source: e,
                });
                self.send_error(1, &e).await?;
                return Ok(None);
            }
            attempt += 1;
            conn = match self.checkout_from(&pool).await {
                Ok(c) => c,
                Err(e) => {
                    self.send_error(1, &e).await?;
                    return Ok(None);
                }
            };
        }
        *self.info.running.lock() = Some((conn.addr.clone(), conn.thread_id));
        conn.uses += 1;
        let opts = RelayOpts {
            strip_state: self.strip_state(),
            client_stmt_id,
            may_write,
        };
        let server = conn.pool().server.clone();
        let outstanding = Outstanding::start(&server);
        let addr = conn.addr.clone();
        // A write's GTID is recorded before the client has its answer: a
        // read it sends next, on this or another connection, must see it.
        let ctx = &self.ctx;
        let (user, session_gtid) = (&self.user, &mut self.session_gtid);
        let scope = self.cfg.consistency.read_your_writes;
        let record = |summary: &Summary| {
            if let Some(gtid) = tracked_gtid(&summary.sysvars, summary.gtids.as_deref()) {
                ctx.consistency.record(scope, user, session_gtid, &gtid);
            }
        };
        let result = tokio::select! {
            r = relay(&mut conn, &mut self.io, kind, opts, record) => r,
            _ = crate::backend::lost::lost(&mut loss, &addr) => {
                drop(outstanding);
                *self.info.running.lock() = None;
                drop(conn);
                self.lose_backend();
                tracing::warn!(session = self.id, server = %addr, "statement ended: its server was lost");
                let _ = self.io.flush().await;
                self.send_error(1, &SessionError::ServerLost(addr.to_string())).await?;
                return Ok(None);
            }
        };
        drop(outstanding);
        *self.info.running.lock() = None;
        match result {
            Ok(summary) => {
                self.ctx
                    .stats
                    .bytes_out
                    .fetch_add(summary.bytes, Ordering::Relaxed);
                Ok(Some((summary, conn)))
            }
            Err(RelayError::Client(e)) => {
                drop(conn);
                self.lose_backend();
                Err(SessionError::Client(e))
            }
            Err(RelayError::Backend(e)) => {
                let addr = conn.addr.to_string();
                drop(conn);
                self.lose_backend();
                Stats::inc(&self.ctx.stats.backend_errors);
                tracing::warn!(session = self.id, server = %addr, error = %e, origin = %e.origin(), retry = %e.retry(), "backend failed during a statement");
                // The client may have part of a response; an ERR still tells it.
                let _ = self.io.flush().await;
                self.send_error(1, &SessionError::Backend(e)).await?;
                Ok(None)
            }
        }
    }

    /// The backend connection was lost: whatever was pinned to it is gone.
    pub fn lose_backend(&mut self) {
        self.binding.lose();
        self.cursors.clear();
        let st = &mut self.state;
        st.temp_tables = 0;
        st.named_locks = 0;
        st.status &= !status::IN_TRANS;
    }

    /// Keeps the connection if the session is pinned, else returns it.
    pub fn check_in(&mut self, conn: PooledConn) {
        self.binding.check_in(conn, self.id);
    }

    /// Rolls back a transaction the client left idle too long and gives
    /// the connection back to the pool, unless it also holds other session
    /// state (temporary tables, locks...): then it is closed.
    async fn end_idle_transaction(&mut self) {
        let Some(mut conn) = self.binding.take() else {
            return;
        };
        let rolled_back = crate::backend::internal::execute(&mut conn, "ROLLBACK")
            .await
            .is_ok();
        self.pin(super::state::Pin::Transaction, false);
        self.pin(super::state::Pin::NextStatement, false);
        if rolled_back && !self.binding.pinned_by_anything() {
            self.state.status &= !status::IN_TRANS;
            self.check_in(conn);
        } else {
            self.binding.lose();
        }
    }

    /// Sets a pin reason, counting new pins.
    pub fn pin(&mut self, p: Pin, on: bool) {
        if self.binding.pin(p, on) {
            self.ctx.stats.pins_total[p as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Runs an internal command (no client output) on a primary connection.
    async fn execute_internal_on_primary(&mut self, payload: &[u8]) -> Result<(), SessionError> {
        let (mut conn, _) = self.acquire().await?;
        crate::backend::internal::command(&mut conn, payload, ResponseKind::Single).await?;
        conn.synced_to = None;
        if payload.first() == Some(&com::INIT_DB) {
            conn.state.db = Some(String::from_utf8_lossy(&payload[1..]).into_owned());
        }
        self.check_in(conn);
        Ok(())
    }

    async fn close(&mut self) {
        // The handles go first, so the connection given back closes the
        // statements no other client holds.
        self.stmts.clear();
        self.binding.close();
        let _ = tokio::time::timeout(Duration::from_millis(100), self.io.flush()).await;
    }
}

/// Why a session must stop before its next statement.
enum Stop {
    Killed,
    Shutdown,
}

/// Resolves when the session is killed or the router shuts down.
async fn stop_signal(info: Arc<SessionInfo>, mut shutdown: watch::Receiver<bool>) -> Stop {
    tokio::select! {
        biased;
        _ = info.kill_notify.notified() => Stop::Killed,
        _ = shutting_down(&mut shutdown) => Stop::Shutdown,
    }
}

/// Resolves once a shutdown has begun; never when the server was dropped
/// without one.
async fn shutting_down(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|down| *down).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The pool key collation for a client's handshake collation `id`. One the
/// servers share by name is not a pool of its own: the session's
/// variables (`vars`) get it, and syncing replays it with `SET NAMES` on
/// whichever connection serves the session (see `protocol::collation`).
pub fn pool_collation(id: u8, vars: &mut std::collections::BTreeMap<String, String>) -> u8 {
    use crate::protocol::constants::DEFAULT_COLLATION;
    if id == DEFAULT_COLLATION {
        return id;
    }
    let Some((cs, coll)) = crate::protocol::collation::replayable(id) else {
        return id;
    };
    for k in crate::backend::sync::NAMES_VARS {
        let v = if k == "collation_connection" {
            &coll
        } else {
            &cs
        };
        vars.insert(k.to_string(), v.clone());
    }
    DEFAULT_COLLATION
}

/// ERR payload for a sqlyard error; server errors pass through unchanged.
pub fn err_payload_for(e: &SessionError) -> Vec<u8> {
    match e {
        SessionError::Backend(BackendError::Server { err, .. }) => server_err_payload(err),
        other => other.to_err_payload(),
    }
}
