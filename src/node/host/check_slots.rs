//! The health checks a host stack runs: each on the interface its real server is reached
//! through, its attempts from local ports taken in turn.

use super::check::{Check, CheckError, CheckSpec};
use super::{CHECK_PORTS, CheckSlot, HostStack};
use std::net::SocketAddrV4;

impl HostStack {
    /// Adds a health check of `target` on the interface it is reached through; returns its
    /// index for the other `*_check` calls (which panic on an index not from here).
    pub fn add_check(&mut self, spec: CheckSpec, target: SocketAddrV4) -> usize {
        self.poll_at_cache = None;
        let port = usize::from(self.iface_for(*target.ip()).0);
        let check = Check::new(spec, target, &mut self.ports[port].sockets);
        self.checks.push(CheckSlot { port, check });
        self.checks.len() - 1
    }

    /// Starts an attempt of check `i` (aborting one still running) from the next local port
    /// in turn; it goes out at the next [`HostStack::poll`].
    pub fn start_check(&mut self, i: usize) -> Result<(), CheckError> {
        self.poll_at_cache = None;
        let local_port = self.next_check_port();
        let slot = &mut self.checks[i];
        let port = &mut self.ports[slot.port];
        slot.check
            .start(&mut port.iface, &mut port.sockets, local_port)
    }

    /// The result of the attempt of check `i`, once, when decided; `None` before, and when no
    /// attempt runs. Call it after each [`HostStack::poll`].
    pub fn check_result(&mut self, i: usize) -> Option<Result<(), CheckError>> {
        self.poll_at_cache = None;
        let slot = &mut self.checks[i];
        slot.check.poll(&mut self.ports[slot.port].sockets)
    }

    /// Abandons the attempt of check `i` (it timed out): the connection is aborted.
    pub fn cancel_check(&mut self, i: usize) {
        self.poll_at_cache = None;
        let slot = &mut self.checks[i];
        slot.check.cancel(&mut self.ports[slot.port].sockets);
    }

    /// Whether check `i` has an attempt whose result was not yet handed out.
    pub fn check_running(&self, i: usize) -> bool {
        self.checks[i].check.is_running()
    }

    /// The next local port for a check attempt: in turn over [`CHECK_PORTS`], never the
    /// status port, so a port comes back only after all the others.
    pub(in crate::node::host) fn next_check_port(&mut self) -> u16 {
        loop {
            let port = self.next_check_port;
            self.next_check_port = match port {
                p if p == *CHECK_PORTS.end() => *CHECK_PORTS.start(),
                p => p + 1,
            };
            if port != self.status_port {
                return port;
            }
        }
    }
}
