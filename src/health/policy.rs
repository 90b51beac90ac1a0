//! What a server's change of state does to its service: the mechanism (weights, expiry) apart
//! from the checks. Down: weight 0 (quiescent), and with `remove` its connections expire too.
//! Up: its configured weight back. The sorry server gets weight 1 while no real server is up.

use super::config::OnFailure;

/// A change to the data plane's service table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Set a server's weight (the scheduler sees only this).
    SetWeight {
        service: usize,
        server: usize,
        weight: u32,
    },
    /// Expire every connection (and persistence template) to a server.
    ExpireConns { service: usize, server: usize },
}

/// How one service reacts to its servers' health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePolicy {
    pub service: usize,
    pub on_failure: OnFailure,
    /// The configured weight of each checked real server, by server index.
    pub configured: Vec<u32>,
    /// The sorry server's index in the service, if it has one.
    pub sorry: Option<usize>,
}

impl ServicePolicy {
    /// The actions for `server` going `up` (or down), given which of the service's real
    /// servers are up afterwards (`up_after[i]`, this one included).
    pub fn on_change(&self, server: usize, up: bool, up_after: &[bool]) -> Vec<Action> {
        let service = self.service;
        let mut actions = Vec::with_capacity(3);
        let weight = if up { self.configured[server] } else { 0 };
        actions.push(Action::SetWeight {
            service,
            server,
            weight,
        });
        if !up && self.on_failure == OnFailure::Remove {
            actions.push(Action::ExpireConns { service, server });
        }
        if let Some(sorry) = self.sorry {
            let none_up = !up_after.iter().any(|&u| u);
            actions.push(Action::SetWeight {
                service,
                server: sorry,
                weight: u32::from(none_up),
            });
        }
        actions
    }

    /// The actions that put the table in line with the initial states (servers that start
    /// down, the sorry server when none starts up).
    pub fn initial(&self, up: &[bool]) -> Vec<Action> {
        let mut actions = Vec::new();
        for (server, _) in up.iter().enumerate().filter(|(_, u)| !**u) {
            actions.push(Action::SetWeight {
                service: self.service,
                server,
                weight: 0,
            });
        }
        if let Some(sorry) = self.sorry {
            actions.push(Action::SetWeight {
                service: self.service,
                server: sorry,
                weight: u32::from(!up.iter().any(|&u| u)),
            });
        }
        actions
    }
}
