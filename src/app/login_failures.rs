//! Problem: a client guessing passwords gets as many tries per second as
//! the router answers. MySQL's `connection_control` plugin slows such a
//! client down: after a few consecutive failures for one account from one
//! address, each further attempt waits before it is answered, longer each
//! time up to a bound, until a login succeeds. A correct client from
//! another address never waits. This is that bookkeeping.

use std::time::Duration;

use dashmap::DashMap;

/// Entries kept at most (an attacker cycling user names cannot grow it
/// without bound; when full, the oldest knowledge is dropped at once).
const MAX_TRACKED: usize = 100_000;

/// The first delay once the threshold is reached; it doubles per failure.
const FIRST_DELAY: Duration = Duration::from_millis(250);

/// Consecutive failed logins per (client address, user name).
#[derive(Debug, Default)]
pub struct LoginFailures {
    failures: DashMap<(Box<str>, Box<str>), u32>,
}

impl LoginFailures {
    /// How long a login attempt from `host` as `user` waits before it is
    /// answered.
    pub fn delay(&self, host: &str, user: &str, threshold: u32, max: Duration) -> Duration {
        let n = self
            .failures
            .get(&(Box::from(host), Box::from(user)))
            .map_or(0, |n| *n);
        delay_after(n, threshold, max)
    }

    /// A login from `host` as `user` failed.
    pub fn failed(&self, host: &str, user: &str) {
        if self.failures.len() >= MAX_TRACKED {
            self.failures.clear();
        }
        *self
            .failures
            .entry((Box::from(host), Box::from(user)))
            .or_insert(0) += 1;
    }

    /// A login from `host` as `user` succeeded: its count starts over.
    pub fn succeeded(&self, host: &str, user: &str) {
        self.failures.remove(&(Box::from(host), Box::from(user)));
    }
}

/// The delay after `failures` consecutive failures: none below `threshold`
/// (0: never), then 250 ms doubling per failure, at most `max`.
pub fn delay_after(failures: u32, threshold: u32, max: Duration) -> Duration {
    if threshold == 0 || failures < threshold {
        return Duration::ZERO;
    }
    let doublings = (failures - threshold).min(16);
    FIRST_DELAY.saturating_mul(1 << doublings).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_bound_and_reset() {
        let max = Duration::from_secs(2);
        let ms = |n| delay_after(n, 3, max).as_millis();
        assert_eq!(
            [ms(0), ms(2), ms(3), ms(4), ms(5), ms(6), ms(60)],
            [0, 0, 250, 500, 1000, 2000, 2000]
        );
        assert_eq!(delay_after(50, 0, max), Duration::ZERO, "0: never");
        let f = LoginFailures::default();
        for _ in 0..4 {
            f.failed("10.0.0.1", "app");
        }
        assert_eq!(
            f.delay("10.0.0.1", "app", 3, max),
            Duration::from_millis(500)
        );
        // another address, or another user, is not slowed
        assert_eq!(f.delay("10.0.0.2", "app", 3, max), Duration::ZERO);
        assert_eq!(f.delay("10.0.0.1", "bob", 3, max), Duration::ZERO);
        f.succeeded("10.0.0.1", "app");
        assert_eq!(f.delay("10.0.0.1", "app", 3, max), Duration::ZERO);
    }
}
