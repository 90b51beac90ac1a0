//! The lab: network namespaces, the LAN bridge, veth pairs and the directors' TAP devices,
//! built by the readable shell in `netns/` and removed on every way out (drop, Ctrl-C, panic).
//!
//! Every object a lab creates lives inside a namespace named `<prefix>-<host>`, where the prefix
//! is `tv` + 4 hex digits unique to the run; deleting the namespaces removes everything.
//!
//! # How a lab is built and removed
//! - `netns/lab-up.sh` and `netns/lab-down.sh` are the single source of truth: they are embedded
//!   with `include_str!` and fed to `bash -s` (parameters in the environment), so the binary needs
//!   no checkout and a person can run the very same scripts by hand (see `netns/README.md`).
//! - [`Lab::up`] claims a prefix by creating `/run/tapvs/<prefix>/owner.pid` atomically *before*
//!   anything exists in the kernel, so [`clean`] (run by any process) never removes a lab that is
//!   being built. [`clean`] removes labs whose owner process is gone (or that have no state dir).
//! - Teardown happens in `Drop`, so it runs on `?`, on panic (the crate must keep the default
//!   `panic = "unwind"`: with `abort`, `Drop` does not run) and after Ctrl-C when the runner polls an
//!   [`Interrupt`] and returns an error. A second Ctrl-C kills at once; `tapvs lab clean` then
//!   removes the leftovers.
//! - Processes the runner starts with [`Lab::command`] are the runner's: it must end them (by PID)
//!   before the lab is dropped; a process left inside keeps its namespace alive, unnamed.
//!
//! This module imports nothing from the data plane; it only runs `ip` and `bash`.

mod clean;
mod error;
mod instance;
mod interrupt;
mod plan;
mod privileges;
mod script;
mod state;
mod stats;
#[cfg(test)]
mod tests;

use std::net::Ipv4Addr;

pub use clean::{clean, down_prefix};
pub use error::LabError;
pub use instance::Lab;
pub use interrupt::Interrupt;
pub use privileges::check_privileges;
pub use state::STATE_ROOT;
pub use stats::LinkStats;

/// What to build. Addresses follow the plan in `netns/README.md` (all in 198.18.0.0/15).
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Real servers: names (`rs1`...) and LAN addresses.
    pub real_servers: Vec<RealServerHost>,
    /// Directors (`d1`, `d2`): each gets a TAP device on the LAN bridge.
    pub directors: Vec<String>,
    /// Virtual IPs the real servers hold on `lo` (direct routing).
    pub vips: Vec<Ipv4Addr>,
    /// `arp_ignore=1`, `arp_announce=2` on the real servers (the normal DR set-up).
    pub arp_suppression: bool,
}

impl Topology {
    /// The usual direct-routing lab: `rs1..rsN` at 198.18.0.11.., directors `d1` and `d2`, one VIP
    /// 198.18.0.100, ARP suppressed on the real servers.
    pub fn standard(real_servers: u8) -> Topology {
        Topology {
            real_servers: (1..=real_servers).map(RealServerHost::numbered).collect(),
            directors: vec!["d1".into(), "d2".into()],
            vips: vec![Ipv4Addr::new(198, 18, 0, 100)],
            arp_suppression: true,
        }
    }
}

/// One real-server namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct RealServerHost {
    pub name: String,
    pub address: Ipv4Addr,
}

impl RealServerHost {
    /// Real server number `n` (from 1) of the plan: `rs<n>` at 198.18.0.(10 + n).
    pub fn numbered(n: u8) -> RealServerHost {
        RealServerHost {
            name: format!("rs{n}"),
            address: Ipv4Addr::new(198, 18, 0, 10u8.saturating_add(n)),
        }
    }
}
