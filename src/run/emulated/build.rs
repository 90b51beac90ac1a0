//! Building an emulated lab from a scenario: the same addresses, MACs, director settings and
//! seeds as the namespace lab (`netns/lab-up.sh`, `director_config`), on the emulator's
//! switches: br0 the LAN (router, directors, real servers of DR and one-armed NAT), br1 the
//! inside segment of a two-armed NAT director.

use super::lab_node::{Host, LabNode};
use crate::config::DirectorConfig;
use crate::emu::flooder::{Flooder, FlooderConfig};
use crate::emu::host::{
    ClientConfig, Pacing, ProbeConfig, ServerConfig, SimClient, SimProbe, SimServer, Sources,
};
use crate::emu::link::Impairments;
use crate::emu::neightypes::NeighParams;
use crate::emu::router::{Route, Router, RouterConfig, RouterPort};
use crate::emu::sim::Sim;
use crate::emu::spoofer::Spoofer;
use crate::node::{Director, sub_seed};
use crate::run::director_config::{director_config, nat_gateway};
use crate::run::execute::director_seed;
use crate::scenario::{LoadMode, Mode, Scenario};
use anyhow::Context;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

/// The router's LAN address (the real servers' and directors' gateway).
const ROUTER_LAN: Ipv4Address = Ipv4Address::new(198, 18, 0, 1);
/// The router's address on the clients' segment; load `k`'s host is 198.18.3.(2 + k).
const ROUTER_CLIENTS: Ipv4Address = Ipv4Address::new(198, 18, 3, 1);

/// The address of load `k`'s host on the clients' segment.
fn client_host(k: usize) -> Ipv4Address {
    Ipv4Address::new(198, 18, 3, 2 + k as u8)
}

/// What a tapvs director adds to each frame's way, in and out, over a kernel host's: the TAP
/// and a userspace process's wake-up. It decides who answers ARP first when real servers
/// answer for the VIP too (the ARP problem): in the lab, their kernels do.
const DIRECTOR_WAKEUP: Duration = Duration::from_micros(30);

/// The MACs of lab hosts by kind (the fourth byte).
const SERVER: u8 = 2;
const CLIENT: u8 = 3;
const PROBE: u8 = 4;
const ROUTER: u8 = 5;
const SPOOFER: u8 = 6;

/// Where everything of a built lab is.
pub struct Built {
    /// The tapvs directors: name, node.
    pub directors: Vec<(String, usize)>,
    /// The real servers: name, node.
    pub servers: Vec<(String, usize)>,
    /// One client node per load, in scenario order.
    pub clients: Vec<usize>,
    /// The router: port 0 on the LAN, port 1 on the clients' segment.
    pub router: usize,
    lan: usize,
    clients_segment: usize,
    /// Each director's settings and seed, to start it again.
    settings: Vec<(String, DirectorConfig, u64)>,
}

/// What the emulator cannot run in `scenario`, if anything.
pub fn unsupported(s: &Scenario) -> Option<String> {
    if s.tapvs_directors().len() < s.directors().len() {
        return Some("keepalived is a real daemon (`failover.peer`)".into());
    }
    if s.failover
        .as_ref()
        .is_some_and(|f| f.heartbeat_manager().is_some())
    {
        return Some("Heartbeat is a real daemon (`failover.manager = \"heartbeat\"`)".into());
    }
    if s.checker() == crate::scenario::Checker::Ldirectord {
        return Some("ldirectord is a real daemon (`health.checker = \"ldirectord\"`)".into());
    }
    if let Some(rs) = s.real_servers.iter().find(|r| !r.command.is_empty()) {
        return Some(format!("real server `{}` runs a command", rs.name));
    }
    if s.lab.mode == Mode::Kernel {
        return Some("`lab.mode = \"kernel\"` is the kernel's NAT".into());
    }
    None
}

/// A lab host's MAC: locally administered `02:74:76` ("tv"), then its kind and number.
fn mac(kind: u8, n: usize) -> EthernetAddress {
    EthernetAddress([0x02, 0x74, 0x76, kind, 0, n as u8 + 1])
}

fn cidr24(a: std::net::Ipv4Addr) -> Ipv4Cidr {
    Ipv4Cidr::new(a, 24)
}

impl Built {
    /// Every director, real server and client node.
    pub fn hosts(&self) -> Vec<usize> {
        let named = self.directors.iter().chain(&self.servers).map(|(_, i)| *i);
        named.chain(self.clients.iter().copied()).collect()
    }

    /// Director `name` as it starts (again) at `now`.
    pub fn new_director(&self, name: &str, now: Instant) -> anyhow::Result<Director> {
        let (_, settings, seed) = (self.settings.iter())
            .find(|(n, _, _)| n == name)
            .with_context(|| format!("no director `{name}`"))?;
        let mut settings = settings.clone();
        if let Some(hb) = settings.heartbeat.as_mut() {
            // Heartbeat's generation: larger on every start, as the Unix seconds would be.
            hb.clock_s = Some(1_000_000_000 + now.total_millis().max(0) as u64 / 1000);
        }
        Director::new(&settings, name, *seed, now)
    }
}

/// The lab of `scenario` with run seed `seed`: directors and real servers (the loads come
/// with [`add_clients`]).
pub fn build(scenario: &Scenario, seed: u64) -> anyhow::Result<(Sim<LabNode>, Built)> {
    let mut sim: Sim<LabNode> = Sim::new(sub_seed(seed, 100));
    let lan = sim.add_switch();
    let two_armed = scenario.lab.mode.two_armed(scenario.lab.nat_arms);
    let inside = two_armed.then(|| sim.add_switch());
    let clients_segment = sim.add_switch();
    let wire = Impairments::default();
    let router = sim.add_node(LabNode::new(Host::Router(Box::new(router(
        scenario, seed,
    )?))));
    sim.attach(router, 0, lan, wire)?;
    sim.attach(router, 1, clients_segment, wire)?;
    let mut built = Built {
        directors: Vec::new(),
        servers: Vec::new(),
        clients: Vec::new(),
        router,
        lan,
        clients_segment,
        settings: Vec::new(),
    };
    if scenario.lab.mode.has_director() {
        for name in scenario.tapvs_directors() {
            let n: u8 = name[1..].parse().context("director names are d1, d2")?;
            let dseed = director_seed(seed, n);
            let settings = director_config(scenario, n, dseed);
            built.settings.push((name.clone(), settings, dseed));
            let director = built.new_director(&name, sim.now())?;
            let i = sim.add_node(LabNode::new(Host::Director(Box::new(director))));
            built.directors.push((name, i));
        }
    }
    let dr = matches!(scenario.lab.mode, Mode::Dr);
    let gateway = match scenario.lab.mode {
        Mode::Nat => nat_gateway(scenario),
        _ => ROUTER_LAN,
    };
    let buffers = super::buffers::server_buffers(scenario);
    for (k, rs) in scenario.real_servers.iter().enumerate() {
        let config = ServerConfig {
            name: rs.name.clone(),
            mac: mac(SERVER, k),
            addr: cidr24(scenario.server_address(k)),
            gateway: Some(gateway),
            vips: if dr {
                vec![scenario.service.vip]
            } else {
                Vec::new()
            },
            arp_suppression: scenario.lab.arp_suppression,
            port: scenario.server_port(k),
            protocol: protocol(scenario),
            seed: sub_seed(seed, 200 + k as u64),
        };
        let i = sim.add_node(LabNode::new(Host::Server(SimServer::with_buffers(
            config, buffers,
        ))));
        sim.attach(i, 0, inside.unwrap_or(lan), wire)?;
        built.servers.push((rs.name.clone(), i));
    }
    // The lab plugs the directors' TAPs into the bridges after the real servers' veths (the
    // switches flood newest port first, as a Linux bridge does).
    let tap = Impairments {
        latency: wire.latency + DIRECTOR_WAKEUP,
        ..wire
    };
    for &(_, i) in &built.directors {
        sim.attach(i, 0, lan, tap)?;
        if let Some(br1) = inside {
            sim.attach(i, 1, br1, tap)?;
        }
    }
    for (name, i) in built.directors.iter().chain(&built.servers) {
        put_wire(&mut sim, (scenario, seed), name, *i)?;
    }
    Ok((sim, built))
}

/// Puts the scenario's `[[link]]` on host `host` (node `i`) between its port 0 and its cable,
/// if it has one there (`d1`, `d2`, `heartbeat` and `sync` on a director, a real server's
/// name, `cl` the clients). Its draws come from the run's seed and the link's own, so that
/// every seed of a `--seeds` run loses other frames.
fn put_wire(
    sim: &mut Sim<LabNode>,
    (scenario, run_seed): (&Scenario, u64),
    host: &str,
    i: usize,
) -> anyhow::Result<()> {
    for link in scenario
        .links
        .iter()
        .filter(|l| scenario.link_port(&l.name) == host)
    {
        let settings = (link.impair().settings(link.filter()))
            .map_err(|(field, why)| anyhow::anyhow!("link {}: {field}: {why}", link.name))?;
        let seed = sub_seed(run_seed, link.seed);
        let wire = super::wire::Wire::new(&link.name, settings, seed)?;
        sim.node_mut(i).wire = Some(wire);
    }
    Ok(())
}

/// The service's protocol as the simulated hosts name it.
fn protocol(scenario: &Scenario) -> crate::client::Protocol {
    match scenario.service.protocol {
        crate::config::Protocol::Tcp => crate::client::Protocol::Tcp,
        crate::config::Protocol::Udp => crate::client::Protocol::Udp,
    }
}

/// Each load's client addresses (first, count): blocks of 198.19.0.0/16 (see
/// `scenario::bounds::client_addresses`).
fn client_addresses(scenario: &Scenario) -> anyhow::Result<Vec<(std::net::Ipv4Addr, u32)>> {
    (scenario.client_addresses()).context("the loads' client addresses do not fit in 198.19.0.0/16")
}

/// The router of the lab (`rt`): 198.18.0.1 on the LAN, 198.18.3.1 towards the clients; each
/// load's addresses routed via that load's host, a flood's spoofed sources nowhere.
fn router(scenario: &Scenario, seed: u64) -> anyhow::Result<Router> {
    let mut routes = Vec::new();
    let addresses = client_addresses(scenario)?;
    for (k, load) in scenario.loads.iter().enumerate() {
        if load.mode == LoadMode::SynFlood {
            // The lab's blackhole route (`run::flood::drop_replies_to_flood`): no route, so
            // the servers' SYN-ACKs to the spoofed sources are dropped here, counted.
            continue;
        }
        let (first, count) = addresses[k];
        let last = Ipv4Address::from(u32::from(first) + count - 1);
        routes.push(Route {
            first,
            last,
            via: client_host(k),
        });
    }
    let port = |addr: Ipv4Address, n: usize| RouterPort {
        mac: mac(ROUTER, n),
        addr,
        prefix_len: 24,
    };
    let config = RouterConfig {
        ports: [port(ROUTER_LAN, 0), port(ROUTER_CLIENTS, 1)],
        routes,
        neigh: NeighParams::default(),
        neighbours: 1024,
        seed: sub_seed(seed, 500),
    };
    Ok(Router::new(&config)?)
}

/// Places one host per load on the clients' segment, its requests starting `start` plus the
/// load's own `start`: a simulated `tapvs client`, or the flooder of a `syn_flood` load.
pub fn add_clients(
    sim: &mut Sim<LabNode>,
    built: &mut Built,
    scenario: &Scenario,
    start: Instant,
    seed: u64,
) -> anyhow::Result<()> {
    let addresses = client_addresses(scenario)?;
    for (k, load) in scenario.loads.iter().enumerate() {
        let args = crate::run::loads::client_args(scenario, k, load, std::path::Path::new("-"), 0);
        let micros = |d: std::time::Duration| Duration::from_micros(d.as_micros() as u64);
        let target = match args.target {
            std::net::SocketAddr::V4(v4) => v4,
            std::net::SocketAddr::V6(_) => anyhow::bail!("the lab is IPv4"),
        };
        let host = if load.mode == LoadMode::SynFlood {
            Host::Flooder(Box::new(Flooder::new(FlooderConfig {
                load: load.name.clone(),
                mac: mac(CLIENT, k),
                addr: client_host(k),
                gateway_mac: mac(ROUTER, 1),
                first: Ipv4Address::from(u32::from(crate::client::flood::FLOOD_NET) + 1),
                count: (1u32 << (32 - crate::client::flood::FLOOD_PREFIX)) - 2,
                target,
                rate: args.rate,
                start: start + micros(load.start),
                duration: micros(args.duration),
                max_packets: args.max_requests,
                interval: micros(args.interval),
                seed: sub_seed(seed, 300 + k as u64),
            })))
        } else {
            let buffers = super::buffers::client_buffers(scenario, k);
            Host::Client(SimClient::with_buffers(
                ClientConfig {
                    load: load.name.clone(),
                    mac: mac(CLIENT, k),
                    addr: Ipv4Cidr::new(client_host(k), 24),
                    gateway: Some(ROUTER_CLIENTS),
                    sources: Sources::Range {
                        first: addresses[k].0,
                        count: addresses[k].1,
                    },
                    target: (*target.ip(), target.port()),
                    protocol: args.protocol,
                    udp_response_bytes: args.udp_response_bytes().min(u64::from(u16::MAX)) as u16,
                    path: args.request_path(),
                    pacing: match args.mode {
                        crate::client::Mode::Open => Pacing::Open { rate: args.rate },
                        crate::client::Mode::Closed => Pacing::Closed {
                            think: micros(args.think),
                            backoff: micros(args.error_backoff),
                        },
                    },
                    concurrency: args.concurrency as usize,
                    requests_per_conn: match args.connection {
                        crate::client::ConnMode::New => 1,
                        crate::client::ConnMode::Keepalive => args.requests_per_conn,
                    },
                    timeout: micros(args.timeout),
                    max_requests: args.max_requests,
                    start: start + micros(load.start),
                    duration: micros(args.duration),
                    interval: micros(args.interval),
                    seed: sub_seed(seed, 300 + k as u64),
                },
                buffers,
            ))
        };
        let i = sim.add_node(LabNode::new(host));
        sim.attach(i, 0, built.clients_segment, Impairments::default())?;
        put_wire(sim, (scenario, seed), "cl", i)?;
        built.clients.push(i);
    }
    Ok(())
}

/// The foreign host of a `spoof_vrrp` event on the LAN, sending what `tapvs spoof vrrp`
/// would from now on (to the group and to each director's own address).
pub fn spoofer(
    sim: &mut Sim<LabNode>,
    built: &Built,
    scenario: &Scenario,
    event: &crate::scenario::EventSpec,
) -> anyhow::Result<usize> {
    let (_, src) = crate::scenario::SPOOFER;
    let f = scenario
        .failover
        .as_ref()
        .context("spoof_vrrp needs [failover]")?;
    let numbers: Vec<u8> = (built.directors.iter())
        .filter_map(|(d, _)| d[1..].parse().ok())
        .collect();
    let to = std::iter::once(crate::wire::vrrp::GROUP)
        .chain(
            numbers
                .iter()
                .map(|&n| crate::run::director_config::director_address(n)),
        )
        .collect();
    let args = crate::spoof::SpoofVrrpArgs {
        vrid: f.vrid,
        priority: event.priority.unwrap_or(255),
        vip: vec![scenario.service.vip],
        src,
        to,
        interval: event.interval,
        count: event.spoof_count(),
        advert_cs: 10,
    };
    // Each director's MAC as its own settings give it.
    let director_mac = |a: Ipv4Address| {
        let (_, settings, _) =
            (built.settings.iter()).find(|(_, c, _)| c.interface.address == a)?;
        Some(EthernetAddress(settings.mac()))
    };
    let spoofer = Spoofer::new(&args, mac(SPOOFER, 0), sim.now(), director_mac)?;
    let i = sim.add_node(LabNode::new(Host::Spoofer(Box::new(spoofer))));
    sim.attach(i, 0, built.lan, Impairments::default())?;
    Ok(i)
}

/// Places the status-port probe of the tapvs directors on the LAN (at the highest LAN address
/// the scenario leaves free), starting now; `None` without directors.
pub fn probe(
    sim: &mut Sim<LabNode>,
    built: &Built,
    scenario: &Scenario,
    seed: u64,
) -> anyhow::Result<Option<usize>> {
    if built.directors.is_empty() {
        return Ok(None);
    }
    let taken = |a: Ipv4Address| {
        a == scenario.service.vip
            || (0..scenario.real_servers.len()).any(|i| scenario.server_address(i) == a)
    };
    let addr = (200..=254u8)
        .rev()
        .map(|h| Ipv4Address::new(198, 18, 0, h))
        .find(|a| !taken(*a))
        .context("no free LAN address for the probe")?;
    let targets = (built.directors.iter())
        .filter_map(|(name, _)| name[1..].parse::<u8>().ok())
        .map(|n| {
            let a = crate::run::director_config::director_address(n);
            (a, crate::config::DEFAULT_STATUS_PORT)
        })
        .collect();
    let config = ProbeConfig {
        mac: mac(PROBE, 0),
        addr: Ipv4Cidr::new(addr, 24),
        gateway: None,
        targets,
        start: sim.now(),
        timeout: Duration::from_secs(2),
        seed: sub_seed(seed, 400),
    };
    let i = sim.add_node(LabNode::new(Host::Probe(SimProbe::new(config))));
    sim.attach(i, 0, built.lan, Impairments::default())?;
    Ok(Some(i))
}
