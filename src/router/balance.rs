//! Problem: among the servers that may serve a read, sqlyard must spread
//! reads by their configured `weight` and away from a server that is busy
//! right now. This picks one: the server with the fewest outstanding
//! requests per unit of weight wins; when several are equally loaded
//! (always the case on an idle router, where every count is 0), one of
//! them is drawn at random in proportion to its weight. So an idle or
//! evenly loaded router spreads reads by weight (3:1 weights give about
//! 3:1 reads), and a replica that is slow to answer collects outstanding
//! requests and gets fewer new ones until it catches up.

use rand::Rng;

/// One server a read may go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// `[[servers]] weight`; 0 is never chosen.
    pub weight: u32,
    /// Requests running on it now (through this router).
    pub outstanding: u64,
}

/// `a` carries less load per unit of weight than `b` (compared exactly,
/// as `a.outstanding / a.weight < b.outstanding / b.weight`).
fn lighter(a: &Load, b: &Load) -> std::cmp::Ordering {
    let l = u128::from(a.outstanding) * u128::from(b.weight);
    let r = u128::from(b.outstanding) * u128::from(a.weight);
    l.cmp(&r)
}

/// Picks the index of the server to use, or `None` when none has a
/// positive weight.
pub fn pick<R: Rng + ?Sized>(loads: &[Load], rng: &mut R) -> Option<usize> {
    let mut best: Option<&Load> = None;
    for l in loads.iter().filter(|l| l.weight > 0) {
        if best.is_none_or(|b| lighter(l, b).is_lt()) {
            best = Some(l);
        }
    }
    let best = *best?;
    let tied = |l: &Load| l.weight > 0 && lighter(l, &best).is_eq();
    let total: u64 = loads
        .iter()
        .filter(|l| tied(l))
        .map(|l| u64::from(l.weight))
        .sum();
    let mut ticket = rng.gen_range(0..total);
    for (i, l) in loads.iter().enumerate().filter(|(_, l)| tied(l)) {
        let w = u64::from(l.weight);
        if ticket < w {
            return Some(i);
        }
        ticket -= w;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn load(weight: u32, outstanding: u64) -> Load {
        Load {
            weight,
            outstanding,
        }
    }

    fn shares(loads: &[Load], draws: usize) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = vec![0; loads.len()];
        for _ in 0..draws {
            counts[pick(loads, &mut rng).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn idle_servers_share_by_weight() {
        let c = shares(&[load(1, 0), load(1, 0)], 10_000);
        assert!((4_500..=5_500).contains(&c[0]), "{c:?}");
        let c = shares(&[load(3, 0), load(1, 0)], 10_000);
        assert!((7_200..=7_800).contains(&c[0]), "{c:?}");
        let c = shares(&[load(1, 0), load(2, 0), load(1, 0)], 10_000);
        assert!((4_500..=5_500).contains(&c[1]), "{c:?}");
    }

    #[test]
    fn fewest_outstanding_per_weight_wins() {
        assert_eq!(shares(&[load(1, 3), load(1, 1)], 100), vec![0, 100]);
        assert_eq!(shares(&[load(1, 0), load(5, 2)], 100), vec![100, 0]);
        // 4 on weight 3 (1.33 each) is more than 1 on weight 1
        assert_eq!(shares(&[load(3, 4), load(1, 1)], 100), vec![0, 100]);
        // 3 on weight 3 equals 1 on weight 1: a tie, drawn by weight
        let c = shares(&[load(3, 3), load(1, 1)], 10_000);
        assert!((7_200..=7_800).contains(&c[0]), "{c:?}");
    }

    #[test]
    fn zero_weight_and_empty() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(pick(&[], &mut rng), None);
        assert_eq!(pick(&[load(0, 0)], &mut rng), None);
        assert_eq!(shares(&[load(0, 0), load(1, 9)], 50), vec![0, 50]);
        assert_eq!(pick(&[load(u32::MAX, u64::MAX)], &mut rng), Some(0));
    }
}
