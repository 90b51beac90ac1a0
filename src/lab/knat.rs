//! The services of the kernel NAT box ([`Layout::KernelNat`](super::Layout::KernelNat)): what
//! `lab-up.sh` turns into the nftables DNAT rules of `table ip tapvs_knat` in `<prefix>-kn`.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

/// The transport protocol of a [`KnatService`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnatProtocol {
    Tcp,
    Udp,
}

impl KnatProtocol {
    /// `tcp` or `udp`, as in `KNAT_SERVICES` and in nftables.
    pub fn name(self) -> &'static str {
        match self {
            KnatProtocol::Tcp => "tcp",
            KnatProtocol::Udp => "udp",
        }
    }
}

impl fmt::Display for KnatProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One virtual service of the kernel NAT box: new connections (UDP: new flows) to `vip:port` go
/// to `targets` in turn, round robin, each with its own port (port mapping). No SNAT: the real
/// servers see the clients' addresses and answer through the box, whose conntrack rewrites the
/// replies' source back to `vip:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnatService {
    pub protocol: KnatProtocol,
    /// One of [`Topology::vips`](super::Topology::vips).
    pub vip: Ipv4Addr,
    /// 1-65535.
    pub port: u16,
    /// Real servers' addresses ([`Topology::real_servers`](super::Topology::real_servers)) with
    /// the port each listens on; at least one. An address may appear more than once (it then gets
    /// that many turns of the round).
    pub targets: Vec<SocketAddrV4>,
}

impl KnatService {
    /// `vip:port` over `protocol`, to `targets` round robin.
    pub fn new(
        protocol: KnatProtocol,
        vip: Ipv4Addr,
        port: u16,
        targets: impl IntoIterator<Item = SocketAddrV4>,
    ) -> KnatService {
        KnatService {
            protocol,
            vip,
            port,
            targets: targets.into_iter().collect(),
        }
    }

    /// The service as one word of `KNAT_SERVICES`: `tcp:198.18.0.100:80=198.18.1.11:8080,...`.
    pub fn env_word(&self) -> String {
        let targets: Vec<String> = self.targets.iter().map(SocketAddrV4::to_string).collect();
        format!(
            "{}:{}:{}={}",
            self.protocol,
            self.vip,
            self.port,
            targets.join(",")
        )
    }
}
