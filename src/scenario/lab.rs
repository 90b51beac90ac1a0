//! `[lab]`: the lab's shape (forwarding mode, arms, ARP behaviour, engine, captures).

use super::serde_glue::duration_field;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The lab's shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabSpec {
    /// Forwarding method: `dr` (direct routing) or `nat` (masquerading).
    pub mode: Mode,
    /// NAT only: 2 = real servers on their own network behind the director's inside arm;
    /// 1 = real servers on the LAN with the director as their gateway.
    pub nat_arms: u8,
    /// `arp_ignore=1`/`arp_announce=2` on the real servers. Turning it off shows the ARP problem.
    pub arp_suppression: bool,
    /// Time between starting the servers and the director and starting the load.
    #[serde(with = "duration_field")]
    pub settle: Duration,
    /// Open the director's TAPs with virtio-net headers and offloads (large segments).
    pub offload: bool,
    /// The directors' connection-table capacity.
    pub max_connections: usize,
    /// Run the scenario once per mode listed here (same load, same everything else) and
    /// write a comparison of them; `mode` is then ignored.
    pub compare_modes: Vec<Mode>,
    /// The seed of the directors' random choices (each director gets its own from it); none:
    /// one is drawn. Either way it is in the run's `run.json`.
    pub seed: Option<u64>,
    /// The engine that runs the scenario unless `tapvs run --engine` says otherwise.
    pub engine: crate::run::EngineKind,
    /// Capture every frame of each tapvs director's ports to the run's
    /// `pcap/<director>-<port>.pcap` (`tapvs director --pcap`).
    pub pcap: bool,
    /// Disk per captured port, in MB (a ring of two files); default [`PCAP_LIMIT_MB`].
    pub pcap_limit_mb: Option<u64>,
}

/// Disk per captured port when `pcap_limit_mb` is not given, in MB.
pub const PCAP_LIMIT_MB: u64 = 64;

impl LabSpec {
    /// The lab layout its mode needs.
    pub fn layout(&self) -> crate::lab::Layout {
        use crate::lab::Layout;
        match (self.mode, self.nat_arms) {
            (Mode::Dr | Mode::Direct, _) => Layout::DirectRouting,
            (Mode::Nat, 1) => Layout::NatOneArmed,
            (Mode::Nat, _) => Layout::NatTwoArmed,
            (Mode::Kernel, _) => Layout::KernelNat,
        }
    }

    /// `pcap_limit_mb` or its default.
    pub fn pcap_limit(&self) -> u64 {
        self.pcap_limit_mb.unwrap_or(PCAP_LIMIT_MB)
    }
}

impl Default for LabSpec {
    fn default() -> Self {
        LabSpec {
            mode: Mode::Dr,
            nat_arms: 2,
            arp_suppression: true,
            settle: Duration::from_millis(500),
            compare_modes: Vec::new(),
            offload: true,
            max_connections: 1 << 20,
            seed: None,
            engine: crate::run::EngineKind::Netns,
            pcap: false,
            pcap_limit_mb: None,
        }
    }
}

/// What balances the traffic: tapvs with an IPVS forwarding method, or a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// tapvs, direct routing.
    Dr,
    /// tapvs, NAT (masquerading).
    Nat,
    /// Reference: the Linux kernel doing the NAT (nftables DNAT in a namespace), no tapvs.
    Kernel,
    /// Reference: the clients talk straight to the (single) real server, no balancer at all.
    Direct,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Dr => "dr",
            Mode::Nat => "nat",
            Mode::Kernel => "kernel",
            Mode::Direct => "direct",
        }
    }

    /// Whether a tapvs director runs (the reference modes have none).
    pub fn has_director(self) -> bool {
        matches!(self, Mode::Dr | Mode::Nat)
    }

    /// Whether the real servers sit behind a NAT box on their own network (two-armed).
    pub fn two_armed(self, nat_arms: u8) -> bool {
        match self {
            Mode::Nat => nat_arms == 2,
            Mode::Kernel => true,
            Mode::Dr | Mode::Direct => false,
        }
    }
}
