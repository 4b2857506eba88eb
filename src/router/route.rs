//! Problem: the routing decision must be one small, testable function that
//! also says why it decided, for logs, metrics and `EXPLAIN ROUTE`.

/// Where a statement runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Primary,
}

/// Why it runs there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteReason {
    /// The session holds a backend connection it cannot leave.
    Pinned,
    /// Read/write split is not available yet: everything goes to the primary.
    PrimaryOnly,
}

impl RouteReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            RouteReason::Pinned => "pinned",
            RouteReason::PrimaryOnly => "primary_only",
        }
    }
}

/// A routing decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub target: Target,
    pub reason: RouteReason,
}

/// Decides where a statement runs.
pub fn route_statement(_sql: &[u8], pinned: bool) -> Route {
    Route {
        target: Target::Primary,
        reason: if pinned {
            RouteReason::Pinned
        } else {
            RouteReason::PrimaryOnly
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_goes_to_the_primary_for_now() {
        assert_eq!(route_statement(b"SELECT 1", false).target, Target::Primary);
        assert_eq!(
            route_statement(b"SELECT 1", true).reason,
            RouteReason::Pinned
        );
    }
}
