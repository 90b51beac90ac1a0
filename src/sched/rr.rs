//! `rr`: round robin. Each new connection goes to the next server with a nonzero weight.

use super::{Flow, Scheduler, ServerView};

/// Round robin over the servers in order, skipping quiescent (weight 0) ones.
#[derive(Debug, Default, Clone)]
pub struct RoundRobin {
    /// Index at which the next search starts (one past the last pick).
    next: usize,
}

impl RoundRobin {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Scheduler for RoundRobin {
    fn update(&mut self, servers: &[ServerView]) {
        // The cursor is a position, not an identity: keep it, but inside the new list.
        if self.next >= servers.len() {
            self.next = 0;
        }
    }

    fn schedule(&mut self, servers: &[ServerView], _flow: &Flow) -> Option<usize> {
        let n = servers.len();
        let pick = (0..n)
            .map(|step| (self.next + step) % n)
            .find(|&i| servers[i].weight > 0)?;
        self.next = (pick + 1) % n;
        Some(pick)
    }

    fn name(&self) -> &'static str {
        "rr"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_support::{flow, picks, servers};

    #[test]
    fn equal_thirds_in_order() {
        let servers = servers(&[1, 1, 1]);
        let mut rr = RoundRobin::new();
        let seq = picks(&mut rr, &servers, 300);
        assert_eq!(&seq[..6], &[0, 1, 2, 0, 1, 2]);
        for s in 0..3 {
            assert_eq!(seq.iter().filter(|&&p| p == s).count(), 100);
        }
    }

    #[test]
    fn ignores_weights_except_zero() {
        let servers = servers(&[5, 0, 1]);
        let mut rr = RoundRobin::new();
        assert_eq!(picks(&mut rr, &servers, 4), [0, 2, 0, 2]);
    }

    #[test]
    fn all_quiescent_or_empty_gives_none() {
        let mut rr = RoundRobin::new();
        assert_eq!(rr.schedule(&servers(&[0, 0]), &flow(1)), None);
        assert_eq!(rr.schedule(&[], &flow(1)), None);
    }

    #[test]
    fn shrinking_the_list_keeps_the_cursor_valid() {
        let mut rr = RoundRobin::new();
        let three = servers(&[1, 1, 1]);
        picks(&mut rr, &three, 2);
        let one = servers(&[1]);
        rr.update(&one);
        assert_eq!(picks(&mut rr, &one, 2), [0, 0]);
    }
}
