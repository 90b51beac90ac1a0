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
//! - Nothing survives the runner, even `kill -9`: [`Lab::command`] tethers each process to the
//!   calling thread (`PR_SET_PDEATHSIG`), [`Lab::spawn`] records its PID and `up` the inodes of
//!   the lab's namespaces in the state dir, and a guardian ([`Lab::guard`]) or `tapvs lab clean`
//!   ends a dead lab's processes (the recorded ones, checked, and whatever else runs in those
//!   namespaces) before removing it.
//!
//! # Layouts
//! [`Topology::layout`] picks direct routing (the default: real servers hold the VIPs on `lo`) or
//! NAT, where the real servers hold no VIP and route via [`Topology::nat_gateway`], an address the
//! directors own: two-armed (a second bridge `br1` for the inside segment 198.18.1.0/24, and an
//! inside TAP `<director>i` per director) or one-armed (everyone on the LAN `br0`). The kernel NAT
//! layout is the reference for two-armed NAT: the same segments, but no directors; a namespace `kn`
//! does the job with nftables DNAT ([`KnatService`], [`Lab::up_kernel_nat`]).
//!
//! This module imports nothing from the data plane; it only runs `ip` and `bash`.

mod clean;
mod command;
mod error;
mod faults;
mod guardian;
mod instance;
mod interrupt;
mod knat;
mod plan;
mod privileges;
mod reap;
mod record;
mod script;
mod state;
mod stats;
#[cfg(test)]
mod tests;
mod tether;

use std::net::Ipv4Addr;

pub use clean::{clean, down_prefix};
pub use error::LabError;
pub use guardian::{Guarded, guard};
pub use instance::Lab;
pub use interrupt::Interrupt;
pub use knat::{KnatProtocol, KnatService};
pub use privileges::check_privileges;
pub use state::STATE_ROOT;
pub use stats::LinkStats;

/// How the directors, the real servers and their routes are laid out (see `netns/README.md`).
///
/// Names used by the scripts (`LAYOUT=`): `dr`, `nat2`, `nat1`, `knat` ([`Layout::name`],
/// [`str::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Direct routing (IPVS `-g`): real servers on the LAN `br0` at 198.18.0.x, every VIP on
    /// `lo`, default route via the router 198.18.0.1, ARP suppressed if asked.
    #[default]
    DirectRouting,
    /// NAT, two-armed (IPVS `-m`): real servers on a second bridge `br1` (the inside segment
    /// 198.18.1.0/24) at 198.18.1.x, default route via [`Topology::nat_gateway`] (the directors'
    /// floating inside address, 198.18.1.1 by default). Each director `dN` has a second TAP `dNi`
    /// on `br1`. Nothing but the directors connects the two segments.
    NatTwoArmed,
    /// NAT, one-armed: real servers on the LAN `br0` at 198.18.0.x as in direct routing, but with
    /// no VIP and their default route via [`Topology::nat_gateway`] (director d1's 198.18.0.2 by
    /// default) instead of the router.
    NatOneArmed,
    /// The kernel's NAT, the reference for [`Layout::NatTwoArmed`]: real servers as there (on `br1`
    /// at 198.18.1.x, default route via [`Topology::nat_gateway`], no VIP), but no directors and no
    /// TAPs. A namespace `<prefix>-kn` (host `kn`) is the NAT box: `eth0` on `br0` with 198.18.0.2/24
    /// (d1's address) and the VIPs as /32, `eth1` on `br1` with the gateway (198.18.1.1/24 by
    /// default), forwarding, and an nftables `table ip tapvs_knat` that DNATs each [`KnatService`]
    /// to its targets round robin (no SNAT: conntrack un-NATs the replies).
    KernelNat,
}

impl Layout {
    /// Every layout, in the order of the README.
    pub const ALL: [Layout; 4] = [
        Layout::DirectRouting,
        Layout::NatTwoArmed,
        Layout::NatOneArmed,
        Layout::KernelNat,
    ];

    /// The name `lab-up.sh` takes in `LAYOUT=`: `dr`, `nat2`, `nat1` or `knat`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::DirectRouting => "dr",
            Layout::NatTwoArmed => "nat2",
            Layout::NatOneArmed => "nat1",
            Layout::KernelNat => "knat",
        }
    }

    /// NAT (masquerading): the real servers hold no VIP and route their replies through the NAT
    /// gateway (the directors', or the kernel NAT box's).
    pub fn is_nat(self) -> bool {
        self != Layout::DirectRouting
    }

    /// Whether the lab has directors (TAPs on the switch): every layout but [`Layout::KernelNat`].
    pub fn has_directors(self) -> bool {
        self != Layout::KernelNat
    }

    /// The default [`Topology::nat_gateway`]: 198.18.1.1 (the floating inside address; kernel NAT:
    /// the box's `eth1`) for two-armed and kernel NAT, 198.18.0.2 (director d1) for one-armed NAT.
    /// Direct routing does not use a NAT gateway (its real servers route via the router
    /// 198.18.0.1); it gets 198.18.1.1, which validation rejects should the layout be switched to
    /// one-armed NAT without setting it.
    pub fn default_nat_gateway(self) -> Ipv4Addr {
        match self {
            Layout::DirectRouting | Layout::NatTwoArmed | Layout::KernelNat => {
                Ipv4Addr::new(198, 18, 1, 1)
            }
            Layout::NatOneArmed => Ipv4Addr::new(198, 18, 0, 2),
        }
    }

    /// The subnet (first three octets) the real servers live in: 198.18.1 for two-armed and kernel
    /// NAT (the inside segment), the LAN 198.18.0 otherwise.
    pub fn real_server_subnet(self) -> [u8; 3] {
        match self {
            Layout::NatTwoArmed | Layout::KernelNat => [198, 18, 1],
            Layout::DirectRouting | Layout::NatOneArmed => [198, 18, 0],
        }
    }

    /// Real server number `n` (from 1) of this layout: 198.18.0.(10 + n), or 198.18.1.(10 + n)
    /// for two-armed and kernel NAT.
    pub fn real_server_address(self, n: u8) -> Ipv4Addr {
        let [a, b, c] = self.real_server_subnet();
        Ipv4Addr::new(a, b, c, 10u8.saturating_add(n))
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Layout {
    type Err = LabError;

    /// Parses `dr`, `nat2`, `nat1` or `knat`.
    fn from_str(s: &str) -> Result<Layout, LabError> {
        Layout::ALL
            .into_iter()
            .find(|layout| layout.name() == s)
            .ok_or_else(|| {
                LabError::Topology(format!("layout {s:?}: expected dr, nat2, nat1 or knat"))
            })
    }
}

/// What to build. Addresses follow the plan in `netns/README.md` (all in 198.18.0.0/15).
///
/// `Topology::default()` is `Topology::standard(2)`: direct routing, as before layouts existed, so
/// a literal can end with `..Topology::default()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Real servers: names (`rs1`...) and addresses: 198.18.0.4-254 on the LAN, or 198.18.1.4-254
    /// on the inside segment for [`Layout::NatTwoArmed`] and [`Layout::KernelNat`].
    pub real_servers: Vec<RealServerHost>,
    /// Directors (`d1`, `d2`): each gets a TAP device on the LAN bridge (and, two-armed NAT, a
    /// second one `<name>i` on the inside bridge `br1`). Ignored by [`Layout::KernelNat`], which
    /// has none (the `kn` box takes their place): see [`Topology::lab_directors`].
    pub directors: Vec<String>,
    /// Virtual IPs, on the LAN (198.18.0.4-254). Direct routing: the real servers hold them on
    /// `lo`. NAT: only the directors own them (in userspace); the real servers do not. Kernel NAT:
    /// the `kn` box holds them on its `eth0`.
    pub vips: Vec<Ipv4Addr>,
    /// `arp_ignore=1`, `arp_announce=2` on the real servers (the normal DR set-up). Direct routing
    /// only: in the NAT layouts the real servers hold no VIP and keep the defaults (0), whatever
    /// this says.
    pub arp_suppression: bool,
    /// Direct routing (the default) or one of the NAT layouts.
    pub layout: Layout,
    /// NAT layouts: the real servers' default route, the directors' (userspace) gateway address.
    /// Two-armed: in 198.18.1.1-254 (default 198.18.1.1); one-armed: in 198.18.0.2-254 (default
    /// 198.18.0.2, director d1); kernel NAT: the `kn` box's `eth1` address, in 198.18.1.1-254
    /// (default 198.18.1.1). Never a real server's or a VIP's address. Unused in direct
    /// routing. [`Layout::default_nat_gateway`] gives the defaults.
    pub nat_gateway: Ipv4Addr,
    /// Plain hosts on the LAN `br0` besides the real servers (198.18.0.2-254, e.g. keepalived as
    /// director d2's stand-in at 198.18.0.3): a namespace each, `eth0` with the address, default
    /// route via the router. What runs there is the runner's business.
    pub peers: Vec<RealServerHost>,
    /// Peers that also get a leg on the inside bridge `br1` (two-armed NAT only): `eth1` at the
    /// address (198.18.1.2-254), its switch port `<name>i`. The ldirectord hosts, which check
    /// real servers that live behind the directors.
    pub inside_legs: Vec<RealServerHost>,
    /// Links that get an impairment wire instead of a veth pair (`WIRED=` of `lab-up.sh`): a
    /// director (its LAN port), a real server, or `cl` (the clients' uplink). The runner starts
    /// a `tapvs wire` on each ([`Topology::wire_sides`]).
    pub wired: Vec<String>,
}

impl Topology {
    /// Where the wire of `link` (one of [`Topology::wired`]) runs, and its two TAPs as
    /// `tapvs wire --a/--b` takes them (`TAP` in that host, or `TAP@NAMESPACE`): side A faces
    /// the host, side B the switch (the router, for `cl`).
    pub fn wire_sides(&self, prefix: &str, link: &str) -> (&'static str, String, String) {
        if link == "cl" {
            ("rt", format!("eth0@{prefix}-cl"), "cl0".to_owned())
        } else if self.lab_directors().iter().any(|d| d == link) {
            ("sw", format!("{link}wa"), format!("{link}wb"))
        } else {
            ("sw", format!("eth0@{prefix}-{link}"), link.to_owned())
        }
    }

    /// The usual direct-routing lab: `rs1..rsN` at 198.18.0.11.., directors `d1` and `d2`, one VIP
    /// 198.18.0.100, ARP suppressed on the real servers.
    pub fn standard(real_servers: u8) -> Topology {
        Topology::with_layout(Layout::DirectRouting, real_servers)
    }

    /// The usual lab of `layout`: `rs1..rsN` at [`Layout::real_server_address`], directors `d1`
    /// and `d2` (none for kernel NAT), one VIP 198.18.0.100, the layout's default NAT gateway, and
    /// ARP suppressed on the real servers in direct routing (off in the NAT layouts, where it does
    /// not apply).
    pub fn with_layout(layout: Layout, real_servers: u8) -> Topology {
        let directors = if layout.has_directors() {
            vec!["d1".into(), "d2".into()]
        } else {
            Vec::new()
        };
        Topology {
            real_servers: (1..=real_servers)
                .map(|n| RealServerHost::numbered_in(layout, n))
                .collect(),
            directors,
            vips: vec![Ipv4Addr::new(198, 18, 0, 100)],
            arp_suppression: !layout.is_nat(),
            layout,
            nat_gateway: layout.default_nat_gateway(),
            peers: Vec::new(),
            inside_legs: Vec::new(),
            wired: Vec::new(),
        }
    }

    /// The inside TAP of `director` (`d1` → `d1i`, on `br1`) in two-armed NAT; `None` in the other
    /// layouts, which give a director only its LAN TAP (named like the director).
    pub fn inside_tap(&self, director: &str) -> Option<String> {
        (self.layout == Layout::NatTwoArmed).then(|| format!("{director}i"))
    }

    /// The directors the lab builds TAPs for: [`Topology::directors`], or none in kernel NAT
    /// (which ignores them).
    pub fn lab_directors(&self) -> &[String] {
        if self.layout.has_directors() {
            &self.directors
        } else {
            &[]
        }
    }
}

impl Default for Topology {
    /// [`Topology::standard`]`(2)`: direct routing, two real servers.
    fn default() -> Topology {
        Topology::standard(2)
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
        RealServerHost::numbered_in(Layout::DirectRouting, n)
    }

    /// Real server number `n` (from 1) of `layout`: `rs<n>` at
    /// [`Layout::real_server_address`]`(n)` (198.18.1.(10 + n) for two-armed NAT).
    pub fn numbered_in(layout: Layout, n: u8) -> RealServerHost {
        RealServerHost {
            name: format!("rs{n}"),
            address: layout.real_server_address(n),
        }
    }
}
