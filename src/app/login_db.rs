//! Problem: a login that names a database must fail at once when the
//! database does not exist or the user may not use it, as it does on the
//! server; asking the primary costs a round trip per login, and PHP logs
//! in for every page. A (user, database) pair the primary accepted is
//! trusted for [`TRUST`] after that: logins within it skip the check. A
//! database dropped or a grant revoked meanwhile shows at the session's
//! first statement (the server refuses it there) instead of at login.

use std::time::{Duration, Instant};

use dashmap::DashMap;

/// How long an accepted (user, database) pair is trusted.
pub const TRUST: Duration = Duration::from_secs(1);

/// Pairs the primary accepted, with when.
#[derive(Debug, Default)]
pub struct LoginDbs {
    accepted: DashMap<(Box<str>, Box<str>), Instant>,
}

impl LoginDbs {
    /// Whether the primary accepted `db` for `user` within [`TRUST`].
    pub fn trusted(&self, user: &str, db: &str, now: Instant) -> bool {
        let key = (Box::from(user), Box::from(db));
        self.accepted
            .get(&key)
            .is_some_and(|at| now.saturating_duration_since(*at) < TRUST)
    }

    /// The primary accepted `db` for `user` at `now`.
    pub fn accept(&self, user: &str, db: &str, now: Instant) {
        // bounded: entries older than TRUST go whenever the map grows large
        if self.accepted.len() >= 4096 {
            self.accepted
                .retain(|_, at| now.saturating_duration_since(*at) < TRUST);
        }
        self.accepted.insert((Box::from(user), Box::from(db)), now);
    }

    /// Forgets the pair (the primary refused it: a later login must ask
    /// again).
    pub fn forget(&self, user: &str, db: &str) {
        self.accepted.remove(&(Box::from(user), Box::from(db)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_for_a_while_per_user_and_database() {
        let d = LoginDbs::default();
        let t0 = Instant::now();
        assert!(!d.trusted("app", "shop", t0));
        d.accept("app", "shop", t0);
        assert!(d.trusted("app", "shop", t0 + TRUST / 2));
        assert!(!d.trusted("app", "shop", t0 + TRUST));
        assert!(!d.trusted("other", "shop", t0));
        assert!(!d.trusted("app", "blog", t0));
        d.forget("app", "shop");
        assert!(!d.trusted("app", "shop", t0));
    }
}
