//! What `tapvs bench` compares: the paths a request can take through the middle of the lab, the
//! tests run on each, and how long everything takes.

use std::time::Duration;

/// A way through the middle of the lab, where the director sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Path {
    /// No balancer: the clients address the real server itself (router and LAN bridge only).
    Direct,
    /// A kernel bridge joins the LAN and the inside segment (a veth pair between the bridges).
    KernelBridge,
    /// A kernel router between the LAN and the inside segment (a namespace forwarding).
    KernelRouter,
    /// That router with nftables DNAT of the VIP (the kernel doing two-armed NAT's job).
    KernelDnat,
    /// HAProxy in TCP mode in the router's place, listening on the VIP.
    Haproxy,
    /// The raw TAP wire on the director's TAP, one-TAP hairpin with a MAC rewrite (DR's shape).
    WireDr,
    /// The same with virtio-net headers and offloads.
    WireDrVnet,
    /// The raw TAP wire between the director's two TAPs, frames passed unchanged (NAT's shape).
    WireNat,
    /// The same with virtio-net headers and offloads.
    WireNatVnet,
    /// A tapvs director, direct routing.
    TapvsDr,
    /// A tapvs director, two-armed NAT.
    TapvsNat,
    /// [`Path::WireDrVnet`] reading and writing through io_uring (frames test only).
    WireDrUring,
    /// [`Path::WireNatVnet`] through io_uring (frames test only).
    WireNatUring,
    /// [`Path::TapvsDr`] through io_uring (frames test only).
    TapvsDrUring,
    /// [`Path::TapvsNat`] through io_uring (frames test only).
    TapvsNatUring,
}

/// Which lab a path runs in (each lab is built once, all kept up for the whole bench).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabKind {
    /// Direct routing: real server on the LAN with the VIP on `lo`, TAP `d1` on the LAN bridge.
    Dr,
    /// Two-armed NAT: real server on the inside segment, TAPs `d1` (LAN) and `d1i` (inside).
    Nat,
    /// The kernel NAT box `kn` between the LAN and the inside segment.
    Kernel,
}

impl Path {
    pub const ALL: [Path; 15] = [
        Path::Direct,
        Path::KernelBridge,
        Path::KernelRouter,
        Path::KernelDnat,
        Path::Haproxy,
        Path::WireDr,
        Path::WireDrVnet,
        Path::WireNat,
        Path::WireNatVnet,
        Path::TapvsDr,
        Path::TapvsNat,
        Path::WireDrUring,
        Path::WireNatUring,
        Path::TapvsDrUring,
        Path::TapvsNatUring,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Path::Direct => "no-balancer",
            Path::KernelBridge => "kernel-bridge",
            Path::KernelRouter => "kernel-router",
            Path::KernelDnat => "kernel-dnat",
            Path::Haproxy => "haproxy",
            Path::WireDr => "wire-dr",
            Path::WireDrVnet => "wire-dr-vnet",
            Path::WireNat => "wire-nat",
            Path::WireNatVnet => "wire-nat-vnet",
            Path::TapvsDr => "tapvs-dr",
            Path::TapvsNat => "tapvs-nat",
            Path::WireDrUring => "wire-dr-uring",
            Path::WireNatUring => "wire-nat-uring",
            Path::TapvsDrUring => "tapvs-dr-uring",
            Path::TapvsNatUring => "tapvs-nat-uring",
        }
    }

    pub fn lab(self) -> LabKind {
        match self {
            Path::Direct
            | Path::WireDr
            | Path::WireDrVnet
            | Path::TapvsDr
            | Path::WireDrUring
            | Path::TapvsDrUring => LabKind::Dr,
            Path::KernelBridge
            | Path::WireNat
            | Path::WireNatVnet
            | Path::TapvsNat
            | Path::WireNatUring
            | Path::TapvsNatUring => LabKind::Nat,
            Path::KernelRouter | Path::KernelDnat | Path::Haproxy => LabKind::Kernel,
        }
    }

    /// The raw TAP wire of the same shape and I/O, the physical limit of this path (itself for
    /// a wire; none for no balancer). tapvs opens its TAPs with virtio-net headers.
    pub fn raw_wire(self) -> Option<Path> {
        match self {
            Path::Direct => None,
            Path::WireDr
            | Path::WireDrVnet
            | Path::WireNat
            | Path::WireNatVnet
            | Path::WireDrUring
            | Path::WireNatUring => Some(self),
            Path::TapvsDr => Some(Path::WireDrVnet),
            Path::TapvsDrUring => Some(Path::WireDrUring),
            Path::TapvsNatUring => Some(Path::WireNatUring),
            _ => Some(Path::WireNatVnet),
        }
    }

    /// Whether the middle box is a process of its own (its CPU time is then measured alone).
    pub fn box_is_process(self) -> bool {
        !matches!(
            self,
            Path::Direct | Path::KernelBridge | Path::KernelRouter | Path::KernelDnat
        )
    }

    /// Whether `test` runs on this path: HAProxy in TCP mode carries no UDP; the io_uring
    /// variants are there for the per-frame cost, so only the frames test.
    pub fn runs(self, test: Test) -> bool {
        match self {
            Path::Haproxy => test != Test::UdpFrames,
            _ if self.io_uring() => test == Test::UdpFrames,
            _ => true,
        }
    }

    /// Whether the middle box reads and writes its TAPs through io_uring.
    pub fn io_uring(self) -> bool {
        matches!(
            self,
            Path::WireDrUring | Path::WireNatUring | Path::TapvsDrUring | Path::TapvsNatUring
        )
    }
}

impl std::str::FromStr for Path {
    type Err = String;
    fn from_str(s: &str) -> Result<Path, String> {
        Path::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown path `{s}`: expected one of {}", names(&Path::ALL)))
    }
}

/// What is measured on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Test {
    /// 64-byte UDP frames one way, the middle box alone on core 1 and the sender on core 0:
    /// frames/s delivered and the middle box's CPU µs per frame.
    UdpFrames,
    /// Bulk TCP: 4 keep-alive connections fetching large responses; Gbit/s.
    BulkTcp,
    /// HTTP keep-alive: 32 workers, 1 kB responses; requests/s.
    KeepAlive,
    /// HTTP with a new connection per request: 64 workers, 1 kB responses; requests/s.
    NewConn,
    /// New-connection HTTP at a fixed offered rate below saturation; latency p50/p99/p99.9.
    Latency,
}

impl Test {
    pub const ALL: [Test; 5] = [
        Test::UdpFrames,
        Test::BulkTcp,
        Test::KeepAlive,
        Test::NewConn,
        Test::Latency,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Test::UdpFrames => "udp-frames",
            Test::BulkTcp => "bulk-tcp",
            Test::KeepAlive => "http-keepalive",
            Test::NewConn => "http-newconn",
            Test::Latency => "latency",
        }
    }

    /// The headline figure's unit, and whether more is better.
    pub fn unit(self) -> (&'static str, bool) {
        match self {
            Test::UdpFrames => ("frames/s", true),
            Test::BulkTcp => ("Gbit/s", true),
            Test::KeepAlive | Test::NewConn => ("req/s", true),
            Test::Latency => ("ms p99", false),
        }
    }
}

impl std::str::FromStr for Test {
    type Err = String;
    fn from_str(s: &str) -> Result<Test, String> {
        Test::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown test `{s}`: expected one of {}", names(&Test::ALL)))
    }
}

fn names<T: Copy + Into<&'static str>>(all: &[T]) -> String {
    all.iter().map(|&t| t.into()).collect::<Vec<_>>().join(", ")
}

/// In `bench.csv`, a path or a test is its name.
impl serde::Serialize for Path {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl serde::Serialize for Test {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl From<Path> for &'static str {
    fn from(p: Path) -> &'static str {
        p.name()
    }
}

impl From<Test> for &'static str {
    fn from(t: Test) -> &'static str {
        t.name()
    }
}

/// How long and how often.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub repetitions: u32,
    /// Each test's measured time.
    pub test: Duration,
    /// Bulk TCP: bytes per response.
    pub bulk_bytes: u64,
    /// Latency: requests per second offered.
    pub latency_rate: u32,
}

impl Timing {
    /// The default run: three repetitions of 2 s tests (about 8 minutes in all).
    pub const FULL: Timing = Timing {
        repetitions: 3,
        test: Duration::from_millis(2000),
        bulk_bytes: 16_000_000,
        latency_rate: 2000,
    };
    /// How long `test` measures: the latency test twice as long as the others (its p99.9 then
    /// rests on more than a few requests).
    pub fn duration(&self, test: Test) -> Duration {
        match test {
            Test::Latency => self.test * 2,
            _ => self.test,
        }
    }

    /// `--quick`: one repetition of 1 s tests (well under 2 minutes).
    pub const QUICK: Timing = Timing {
        repetitions: 1,
        test: Duration::from_millis(1000),
        bulk_bytes: 4_000_000,
        latency_rate: 2000,
    };
}

/// The cells of one repetition, in order: path by path, each path's tests in [`Test::ALL`]
/// order, paths in the given order (reversed on odd repetitions, so no path always runs first
/// on a machine that warms up or gets busier).
pub fn cells(paths: &[Path], tests: &[Test], repetition: u32) -> Vec<(Path, Test)> {
    let mut order: Vec<Path> = paths.to_vec();
    if repetition % 2 == 1 {
        order.reverse();
    }
    order
        .into_iter()
        .flat_map(|p| {
            tests
                .iter()
                .filter(move |&&t| p.runs(t))
                .map(move |&t| (p, t))
        })
        .collect()
}
