//! `lc`, `wlc`, `sed`, `nq`: the least-connection family. They differ only in how a server's
//! load is scored; all skip quiescent servers and break ties toward the first server in order.

use super::{Flow, Scheduler, ServerView};

/// Which member of the least-connection family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeastConnRule {
    /// `lc`: least [`conn_overhead`], weights ignored (beyond 0 = quiescent).
    Lc,
    /// `wlc`: least `conn_overhead / weight`.
    Wlc,
    /// `sed`, shortest expected delay: least `(active + 1) / weight`.
    Sed,
    /// `nq`, never queue: the first server with no active connection, else as `sed`.
    Nq,
}

/// A least-connection scheduler. Stateless: the score comes from the live connection counts.
#[derive(Debug, Clone, Copy)]
pub struct LeastConn {
    rule: LeastConnRule,
}

impl LeastConn {
    pub fn new(rule: LeastConnRule) -> Self {
        Self { rule }
    }

    /// The server this rule picks, or `None` when all are quiescent.
    pub fn pick(&self, servers: &[ServerView]) -> Option<usize> {
        match self.rule {
            LeastConnRule::Lc => least(servers, |s| (conn_overhead(s), 1)),
            LeastConnRule::Wlc => least(servers, |s| (conn_overhead(s), u64::from(s.weight))),
            LeastConnRule::Sed => least(servers, |s| (expected_delay(s), u64::from(s.weight))),
            LeastConnRule::Nq => servers
                .iter()
                .position(|s| s.weight > 0 && s.active_conns == 0)
                .or_else(|| least(servers, |s| (expected_delay(s), u64::from(s.weight)))),
        }
    }
}

/// IPVS `ip_vs_dest_conn_overhead`: an active connection costs 256 inactive ones.
pub fn conn_overhead(s: &ServerView) -> u64 {
    u64::from(s.active_conns) * 256 + u64::from(s.inactive_conns)
}

/// The sed/nq load: active connections including the one being scheduled.
pub fn expected_delay(s: &ServerView) -> u64 {
    u64::from(s.active_conns) + 1
}

/// Index of the nonzero-weight server with the least `load / per` (from `score(s) = (load, per)`),
/// compared by cross-multiplication so no precision is lost; the first one wins a tie.
fn least(servers: &[ServerView], score: impl Fn(&ServerView) -> (u64, u64)) -> Option<usize> {
    let mut best: Option<(usize, u64, u64)> = None;
    for (i, s) in servers.iter().enumerate().filter(|(_, s)| s.weight > 0) {
        let (load, per) = score(s);
        let better = match best {
            None => true,
            // load / per < best_load / best_per, as products; u128 since both may reach 2^40.
            Some((_, best_load, best_per)) => {
                u128::from(load) * u128::from(best_per) < u128::from(best_load) * u128::from(per)
            }
        };
        if better {
            best = Some((i, load, per));
        }
    }
    best.map(|(i, _, _)| i)
}

impl Scheduler for LeastConn {
    fn update(&mut self, _servers: &[ServerView]) {}

    fn schedule(&mut self, servers: &[ServerView], _flow: &Flow) -> Option<usize> {
        self.pick(servers)
    }

    fn name(&self) -> &'static str {
        match self.rule {
            LeastConnRule::Lc => "lc",
            LeastConnRule::Wlc => "wlc",
            LeastConnRule::Sed => "sed",
            LeastConnRule::Nq => "nq",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LeastConnRule::{Lc, Nq, Sed, Wlc};
    use super::*;
    use crate::sched::test_support::server;

    /// What each of lc, wlc, sed, nq picks.
    fn picks(servers: &[ServerView]) -> [Option<usize>; 4] {
        [Lc, Wlc, Sed, Nq].map(|rule| LeastConn::new(rule).pick(servers))
    }

    #[test]
    fn active_outweighs_inactive_by_256() {
        // lc/wlc: 1 active (256) beats 300 inactive; 1 active loses to 255 inactive.
        let s = [server(1, 0, 300), server(1, 1, 0)];
        assert_eq!(picks(&s)[..2], [Some(1), Some(1)]);
        let s = [server(1, 1, 0), server(1, 0, 255)];
        assert_eq!(picks(&s)[..2], [Some(1), Some(1)]);
        // sed/nq ignore inactive connections entirely.
        let s = [server(1, 0, 300), server(1, 1, 0)];
        assert_eq!(picks(&s)[2..], [Some(0), Some(0)]);
    }

    #[test]
    fn wlc_divides_by_weight_lc_does_not() {
        // A: 256/1 = 256, B: 512/3 ≈ 171.
        let s = [server(1, 1, 0), server(3, 2, 0)];
        assert_eq!(picks(&s), [Some(0), Some(1), Some(1), Some(1)]);
    }

    #[test]
    fn sed_counts_the_new_connection_wlc_does_not() {
        // Both idle: wlc ties 0/1 vs 0/10 and keeps the first; sed compares 1/1 vs 1/10.
        let s = [server(1, 0, 0), server(10, 0, 0)];
        assert_eq!(picks(&s), [Some(0), Some(0), Some(1), Some(0)]);
    }

    #[test]
    fn nq_takes_an_idle_server_before_sed() {
        // sed: A (0+1)/1 = 1 vs B (1+1)/10 = 0.2 → B; nq: A is idle → A.
        let s = [server(1, 0, 0), server(10, 1, 0)];
        assert_eq!(picks(&s)[2..], [Some(1), Some(0)]);
        // Nobody idle: nq is sed.
        let s = [server(1, 1, 0), server(10, 2, 0)];
        assert_eq!(picks(&s)[2..], [Some(1), Some(1)]);
    }

    #[test]
    fn ties_go_to_the_first_server() {
        let s = [server(2, 3, 1), server(2, 3, 1), server(2, 3, 1)];
        assert_eq!(picks(&s), [Some(0); 4]);
        // Equal ratio with different numbers: wlc 512/2 == 256/1.
        let s = [server(2, 2, 0), server(1, 1, 0)];
        assert_eq!(picks(&s)[1], Some(0));
    }

    #[test]
    fn quiescent_never_picked_even_when_idle() {
        let s = [server(0, 0, 0), server(1, 50, 50)];
        assert_eq!(picks(&s), [Some(1); 4]);
        let s = [server(0, 0, 0), server(0, 0, 0)];
        assert_eq!(picks(&s), [None; 4]);
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let s = [
            server(u32::MAX, u32::MAX, u32::MAX),
            server(u32::MAX - 1, u32::MAX, u32::MAX),
        ];
        assert_eq!(picks(&s), [Some(0); 4]);
    }
}
