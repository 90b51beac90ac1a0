//! Failover decided outside the node (`[failover] mode = "external"`): Heartbeat's resource
//! agent, through the control socket, makes the director master or backup. Master activates the
//! data plane (it answers ARP for the VIPs and sends its gratuitous ARPs, as after a VRRP
//! takeover); backup makes it passive. Sync follows the role as it follows VRRP's. Each change
//! is a [`DirectorEvent::Role`]; setting the role it already has changes nothing and says so.

use super::EventQueue;
use super::event::{DirectorEvent, VrrpState};
use crate::control::vrrp::State;
use crate::dataplane::Dataplane;
use smoltcp::time::Instant;

/// The role an outside manager last set.
pub struct ExternalRole {
    state: State,
    /// Role commands that changed the role.
    changes: u64,
}

/// What a role command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChange {
    Changed,
    /// The director already had that role (Heartbeat repeats `start` and `stop`).
    Unchanged,
}

impl ExternalRole {
    /// Starts passive: nothing is active until the manager says so.
    pub fn start(dp: &mut Dataplane, now: Instant) -> ExternalRole {
        dp.attach_host_stack();
        dp.set_active(now, false);
        ExternalRole {
            state: State::Init,
            changes: 0,
        }
    }

    /// Makes the director master (`true`) or backup.
    pub fn set(
        &mut self,
        now: Instant,
        master: bool,
        dp: &mut Dataplane,
        events: &mut EventQueue,
    ) -> RoleChange {
        let state = if master { State::Master } else { State::Backup };
        if state == self.state {
            return RoleChange::Unchanged;
        }
        self.state = state;
        self.changes += 1;
        dp.set_active(now, master);
        events.push(DirectorEvent::Role {
            state: if master {
                VrrpState::Master
            } else {
                VrrpState::Backup
            },
        });
        RoleChange::Changed
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Role commands that changed the role.
    pub fn changes(&self) -> u64 {
        self.changes
    }
}
