//! The labs `tapvs bench` measures in, built once and kept up for the whole run (so repetitions
//! can be the outer loop), and what each path changes in its lab while it runs: routes,
//! neighbours, a veth pair, and the middle-box process (raw wire, director or HAProxy).

use super::plan::{LabKind, Path};
use super::shell::{in_netns, ip, mac_of, rps, spawn_quiet, stop};
use crate::lab::{KnatProtocol, KnatService, Lab, Layout, Topology};
use anyhow::{Context, bail};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path as FsPath, PathBuf};
use std::process::{Child, Command, Stdio};

/// The service address of every balancer.
pub const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
/// HTTP on the real server, and on the VIP.
pub const HTTP_PORT: u16 = 80;
/// HAProxy listens on the VIP at this port (the kernel box DNATs port 80).
pub const HAPROXY_PORT: u16 = 8080;
/// UDP frames go to this port (the real server drops them at its interface's ingress).
pub const UDP_PORT: u16 = 9;
/// The raw hairpin wire's MAC (the router is told the VIP is there).
const WIRE_MAC: &str = "02:74:76:00:00:fe";
/// The address the router takes on the LAN to reach the inside segment through a bridge or a
/// wire (the real servers' default gateway there).
const INSIDE_GATEWAY: &str = "198.18.1.1/24";

/// One lab with its real server running.
pub struct BenchLab {
    pub lab: Lab,
    server: Child,
}

/// The three labs; each is `None` when no chosen path needs it.
pub struct Labs {
    pub dr: Option<BenchLab>,
    pub nat: Option<BenchLab>,
    pub kernel: Option<BenchLab>,
    exe: PathBuf,
    /// Every process gets this as its own time limit.
    max_seconds: u64,
}

/// A middle box running for one path.
pub struct MiddleBox {
    pub child: Option<Child>,
    pub path: Path,
}

impl MiddleBox {
    /// The middle box's PID, when it is a process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Labs {
    /// Builds the labs the paths need, each with its real server (`tapvs server` on port 80)
    /// and an ingress rule that drops the benchmark's UDP at the server's interface.
    pub fn up(paths: &[Path], exe: &FsPath, max_seconds: u64) -> anyhow::Result<Labs> {
        let mut labs = Labs {
            dr: None,
            nat: None,
            kernel: None,
            exe: exe.to_path_buf(),
            max_seconds,
        };
        for kind in [LabKind::Dr, LabKind::Nat, LabKind::Kernel] {
            if paths.iter().any(|p| p.lab() == kind) {
                let built = labs.build(kind)?;
                *labs.slot(kind) = Some(built);
            }
        }
        Ok(labs)
    }

    fn slot(&mut self, kind: LabKind) -> &mut Option<BenchLab> {
        match kind {
            LabKind::Dr => &mut self.dr,
            LabKind::Nat => &mut self.nat,
            LabKind::Kernel => &mut self.kernel,
        }
    }

    /// The `tapvs` binary every lab process runs.
    pub fn exe(&self) -> &FsPath {
        &self.exe
    }

    pub fn get(&self, kind: LabKind) -> &BenchLab {
        let lab = match kind {
            LabKind::Dr => &self.dr,
            LabKind::Nat => &self.nat,
            LabKind::Kernel => &self.kernel,
        };
        lab.as_ref().expect("the lab of every chosen path is built")
    }

    fn build(&self, kind: LabKind) -> anyhow::Result<BenchLab> {
        let layout = match kind {
            LabKind::Dr => Layout::DirectRouting,
            LabKind::Nat => Layout::NatTwoArmed,
            LabKind::Kernel => Layout::KernelNat,
        };
        let topo = Topology {
            vips: vec![VIP],
            directors: if kind == LabKind::Kernel {
                Vec::new()
            } else {
                vec!["d1".into()]
            },
            ..Topology::with_layout(layout, 1)
        };
        let rs = SocketAddrV4::new(layout.real_server_address(1), HTTP_PORT);
        let mut lab = if kind == LabKind::Kernel {
            let udp = SocketAddrV4::new(*rs.ip(), UDP_PORT);
            let services = [
                KnatService::new(KnatProtocol::Tcp, VIP, HTTP_PORT, [rs]),
                KnatService::new(KnatProtocol::Udp, VIP, UDP_PORT, [udp]),
            ];
            Lab::up_kernel_nat(&topo, &services)
        } else {
            Lab::up(&topo)
        }
        .with_context(|| format!("building the {kind:?} lab"))?;
        lab.guard(&self.exe)
            .context("starting the lab's guardian")?;
        if kind == LabKind::Kernel {
            ip(
                &lab,
                "rt",
                &["route", "add", "198.18.1.0/24", "via", "198.18.0.2"],
            )?;
        }
        // The switch is a switch: bridged frames skip the IP firewall hooks (br_netfilter, when
        // the host has it, calls them in every new namespace by default).
        let no_hooks = "for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e \"$f\" ] && echo 0 > \"$f\"; done; true";
        in_netns(&lab, "sw", "sh", &["-c", no_hooks], None)?;
        let ruleset = format!(
            "table netdev tapvs_bench {{\n chain ingress {{\n  type filter hook ingress device \"eth0\" priority 0; policy accept;\n  ip protocol udp udp dport {UDP_PORT} drop\n }}\n}}\n"
        );
        in_netns(&lab, "rs1", "nft", &["-f", "-"], Some(&ruleset))?;
        let mut command = lab.command("rs1", &self.exe);
        command.args(["server", "--name", "rs1", "--listen", "0.0.0.0:80"]);
        command.args(["--max-seconds", &self.max_seconds.to_string()]);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let server = lab.spawn("rs1-server", &mut command)?;
        Ok(BenchLab { lab, server })
    }

    /// Where the clients send for `path`: TCP port `HTTP_PORT` (HAProxy: its own port); UDP
    /// goes to the same address, port [`UDP_PORT`].
    pub fn target(path: Path) -> SocketAddr {
        let (ip, port) = match path {
            Path::Direct => (Layout::DirectRouting.real_server_address(1), HTTP_PORT),
            Path::KernelBridge
            | Path::KernelRouter
            | Path::WireNat
            | Path::WireNatVnet
            | Path::WireNatUring => (Layout::NatTwoArmed.real_server_address(1), HTTP_PORT),
            Path::Haproxy => (VIP, HAPROXY_PORT),
            Path::KernelDnat
            | Path::WireDr
            | Path::WireDrVnet
            | Path::WireDrUring
            | Path::TapvsDr
            | Path::TapvsNat
            | Path::TapvsDrUring
            | Path::TapvsNatUring => (VIP, HTTP_PORT),
        };
        SocketAddr::from((ip, port))
    }

    /// Sets the lab up for `path` and starts its middle box.
    pub fn begin(&self, path: Path, state: &FsPath) -> anyhow::Result<MiddleBox> {
        let lab = &self.get(path.lab()).lab;
        forget_neighbours(lab)?;
        let exe = &self.exe;
        let limit = self.max_seconds.to_string();
        let child = match path {
            Path::Direct | Path::KernelRouter | Path::KernelDnat => None,
            Path::KernelBridge => {
                ip(
                    lab,
                    "sw",
                    &["link", "add", "kb0", "type", "veth", "peer", "name", "kb1"],
                )?;
                ip(lab, "sw", &["link", "set", "kb0", "master", "br0", "up"])?;
                ip(lab, "sw", &["link", "set", "kb1", "master", "br1", "up"])?;
                ip(lab, "rt", &["addr", "add", INSIDE_GATEWAY, "dev", "eth0"])?;
                None
            }
            Path::WireNat | Path::WireNatVnet | Path::WireNatUring => {
                ip(lab, "rt", &["addr", "add", INSIDE_GATEWAY, "dev", "eth0"])?;
                let mut c = lab.command("sw", exe);
                c.args([
                    "wire",
                    "--raw",
                    "--a",
                    "d1",
                    "--b",
                    "d1i",
                    "--max-seconds",
                    &limit,
                ]);
                if path != Path::WireNat {
                    c.arg("--vnet");
                }
                io_option(&mut c, path);
                Some(spawn_quiet(lab, path.name(), c)?)
            }
            Path::WireDr | Path::WireDrVnet | Path::WireDrUring => {
                let vip = VIP.to_string();
                ip(
                    lab,
                    "rt",
                    &["neigh", "replace", &vip, "lladdr", WIRE_MAC, "dev", "eth0"],
                )?;
                let to = mac_of(lab, "rs1", "eth0")?;
                let mut c = lab.command("sw", exe);
                c.args([
                    "wire",
                    "--raw",
                    "--a",
                    "d1",
                    "--mac",
                    WIRE_MAC,
                    "--hairpin-to",
                    &to,
                ]);
                c.args(["--max-seconds", &limit]);
                if path != Path::WireDr {
                    c.arg("--vnet");
                }
                io_option(&mut c, path);
                Some(spawn_quiet(lab, path.name(), c)?)
            }
            Path::TapvsDr | Path::TapvsNat | Path::TapvsDrUring | Path::TapvsNatUring => {
                let config = state.join(format!("{}.toml", path.name()));
                super::director::write_config(path, &config)?;
                let mut c = lab.command("sw", exe);
                c.arg("director").arg("--config").arg(&config);
                c.args(["--name", "d1", "--max-seconds", &limit]);
                io_option(&mut c, path);
                Some(spawn_quiet(lab, path.name(), c)?)
            }
            Path::Haproxy => {
                let config = state.join("haproxy.cfg");
                std::fs::write(&config, haproxy_config())
                    .with_context(|| format!("writing {}", config.display()))?;
                let mut c = lab.command("kn", "haproxy");
                c.arg("-db").arg("-f").arg(&config);
                Some(spawn_quiet(lab, path.name(), c)?)
            }
        };
        Ok(MiddleBox { child, path })
    }

    /// The last lines the middle box of `path` wrote (for a failure's note).
    pub fn log_tail(&self, path: Path) -> String {
        let log = self
            .get(path.lab())
            .lab
            .state_dir()
            .join(format!("{}.log", path.name()));
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(3).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" / ")
    }

    /// Stops the middle box and undoes what [`Labs::begin`] changed.
    pub fn end(&self, mut middle: MiddleBox) -> anyhow::Result<()> {
        if let Some(child) = middle.child.as_mut() {
            stop(child);
        }
        let lab = &self.get(middle.path.lab()).lab;
        match middle.path {
            Path::KernelBridge => {
                ip(lab, "sw", &["link", "del", "kb0"])?;
                ip(lab, "rt", &["addr", "del", INSIDE_GATEWAY, "dev", "eth0"])?;
            }
            Path::WireNat | Path::WireNatVnet | Path::WireNatUring => {
                ip(lab, "rt", &["addr", "del", INSIDE_GATEWAY, "dev", "eth0"])?;
            }
            Path::WireDr | Path::WireDrVnet | Path::WireDrUring => {
                ip(
                    lab,
                    "rt",
                    &["neigh", "del", &VIP.to_string(), "dev", "eth0"],
                )?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Puts a kernel middle box's forwarding on core 1 for the frames test (RPS on its
    /// receiving interfaces); `on = false` undoes it. The real server's side is left alone:
    /// steering it to core 0 would make a TAP writer send an inter-processor interrupt per
    /// frame (a VM exit here, a quarter of the raw wire's time), and dropping the frames at the
    /// server's ingress costs every path alike on the core that delivers them.
    pub fn udp_cores(&self, path: Path, on: bool) -> anyhow::Result<()> {
        let lab = &self.get(path.lab()).lab;
        let middle = if on { "2" } else { "0" };
        match path {
            Path::KernelRouter | Path::KernelDnat => {
                rps(lab, "kn", "eth0", middle)?;
                rps(lab, "kn", "eth1", middle)?;
            }
            Path::KernelBridge => {
                rps(lab, "sw", "kb0", middle)?;
                rps(lab, "sw", "kb1", middle)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Where the frames test sends for `path`: out of the router's LAN port to the MAC its
    /// route to the target resolves to (learnt by the warm-up's requests).
    pub fn aim(&self, path: Path) -> anyhow::Result<super::blast::Aim> {
        let lab = &self.get(path.lab()).lab;
        let target = match Labs::target(path).ip() {
            std::net::IpAddr::V4(ip) => ip,
            std::net::IpAddr::V6(_) => bail!("IPv4 only"),
        };
        let route: serde_json::Value = serde_json::from_str(&in_netns(
            lab,
            "rt",
            "ip",
            &["-j", "route", "get", &target.to_string()],
            None,
        )?)?;
        let hop = route[0]["gateway"]
            .as_str()
            .map_or(target.to_string(), str::to_owned);
        let neigh: serde_json::Value = serde_json::from_str(&in_netns(
            lab,
            "rt",
            "ip",
            &["-j", "neigh", "show", &hop, "dev", "eth0"],
            None,
        )?)?;
        let parse = |text: &str| crate::dataplane::settings::parse_mac(text);
        let dst_mac = neigh[0]["lladdr"]
            .as_str()
            .and_then(parse)
            .with_context(|| format!("the router has no MAC for {hop} (towards {target})"))?;
        let src_mac = parse(&mac_of(lab, "rt", "eth0")?).context("the router's MAC")?;
        Ok(super::blast::Aim {
            netns: lab.netns("rt"),
            ifname: "eth0".into(),
            src_mac,
            dst_mac,
            target,
            port: UDP_PORT,
        })
    }

    /// Stops the real servers and removes the labs, reporting the first failure.
    pub fn down(self) -> anyhow::Result<()> {
        let mut first = Ok(());
        for bench_lab in [self.dr, self.nat, self.kernel].into_iter().flatten() {
            let BenchLab { lab, mut server } = bench_lab;
            stop(&mut server);
            if let Err(e) = lab.down()
                && first.is_ok()
            {
                first = Err(anyhow::Error::from(e));
            }
        }
        first
    }
}

/// `--io uring` for the io_uring variants.
fn io_option(command: &mut Command, path: Path) {
    if path.io_uring() {
        command.args(["--io", "uring"]);
    }
}

/// HAProxy in TCP mode: the VIP's port [`HAPROXY_PORT`] to the real server's port 80.
fn haproxy_config() -> String {
    let rs = Layout::KernelNat.real_server_address(1);
    format!(
        "global\n    maxconn 9000\n\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n\nfrontend bench\n    bind {VIP}:{HAPROXY_PORT}\n    default_backend servers\n\nbackend servers\n    server rs1 {rs}:{HTTP_PORT}\n"
    )
}

/// Forgets the router's and the real server's neighbours (a path moves the VIP or the
/// gateway to another MAC).
fn forget_neighbours(lab: &Lab) -> anyhow::Result<()> {
    ip(lab, "rt", &["neigh", "flush", "dev", "eth0"])?;
    ip(lab, "rs1", &["neigh", "flush", "dev", "eth0"])
}
