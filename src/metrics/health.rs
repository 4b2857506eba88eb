//! Problem: orchestrators (systemd, Kubernetes, load balancers) need to
//! know whether to send this router traffic. Liveness is "the process
//! answers"; readiness is "new work would succeed": a primary is known and
//! the application listener accepts. This file makes that decision and
//! names the reason when the answer is no.

use std::fmt;

use super::Sources;

/// Why the router is not ready for new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    /// The application listener is not accepting connections (not started
    /// yet, or shutting down).
    NotAccepting,
    /// No server may take new writes: no primary elected, or the primary
    /// is set OFFLINE or DRAIN.
    NoPrimary,
}

impl NotReady {
    pub fn as_str(&self) -> &'static str {
        match self {
            NotReady::NotAccepting => "the application listener is not accepting connections",
            NotReady::NoPrimary => "no primary is available for new work",
        }
    }
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The readiness decision from its two inputs.
pub fn decide(accepting: bool, primary_for_new_work: bool) -> Result<(), NotReady> {
    if !accepting {
        return Err(NotReady::NotAccepting);
    }
    if !primary_for_new_work {
        return Err(NotReady::NoPrimary);
    }
    Ok(())
}

/// Whether the router is ready for new work now.
pub fn readiness(src: &dyn Sources) -> Result<(), NotReady> {
    let primary = src.snapshot().primary_for_new_work().is_some();
    decide(src.metrics().is_accepting(), primary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_accepting_with_a_primary() {
        assert_eq!(decide(true, true), Ok(()));
        assert_eq!(decide(false, true), Err(NotReady::NotAccepting));
        assert_eq!(decide(true, false), Err(NotReady::NoPrimary));
        assert_eq!(decide(false, false), Err(NotReady::NotAccepting));
    }
}
