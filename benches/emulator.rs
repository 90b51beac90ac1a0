//! The emulator's speed: a lab built by hand from the emu blocks (a DR director, three smoltcp
//! real servers, one smoltcp client, one switch) runs 2 simulated seconds of (a) new
//! connections at 500/s and (b) a closed loop of 64 keep-alive workers. Before criterion's
//! timing, one run of each prints simulated seconds per wall second and events (frames
//! delivered + timeouts handled) per wall second, from the loop's own counters.

use criterion::{Criterion, criterion_group, criterion_main};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use tapvs::client::Protocol;
use tapvs::emu::Node;
use tapvs::emu::host::{ClientConfig, Pacing, ServerConfig, SimClient, SimServer, Sources};
use tapvs::emu::link::Impairments;
use tapvs::emu::sim::Sim;
use tapvs::node::Director;
use tapvs::node::settings::NodeSettings;

/// The client's own address: it is also the LAN's gateway (its sources, 198.19/16, are
/// behind it), as a router would be.
const CLIENT: Ipv4Address = Ipv4Address::new(198, 18, 0, 1);
const VIP: Ipv4Address = Ipv4Address::new(198, 18, 0, 100);
const SIMULATED: Duration = Duration::from_secs(2);

/// A one-armed DR director, always active, round robin over rs1..rs3.
fn director() -> Director {
    let mut text = String::from(
        "seed = 1\n[limits]\nmax_connections = 65536\n\
         [interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\n\
         address = \"198.18.0.2\"\nprefix_len = 24\ngateway = \"198.18.0.1\"\n\
         [[service]]\nvip = \"198.18.0.100\"\nport = 80\nscheduler = \"rr\"\n",
    );
    for i in 1..=3 {
        text += &format!(
            "[[service.real_server]]\nname = \"rs{i}\"\naddress = \"198.18.0.1{i}\"\nport = 80\n"
        );
    }
    let settings: NodeSettings = toml::from_str(&text).expect("director settings");
    Director::new(&settings, "d1", 7, Instant::ZERO).expect("director")
}

fn server(i: u8) -> SimServer {
    SimServer::new(ServerConfig {
        name: format!("rs{i}"),
        mac: EthernetAddress([2, 0, 0, 0, 0, 10 + i]),
        addr: Ipv4Cidr::new(Ipv4Address::new(198, 18, 0, 10 + i), 24),
        gateway: Some(CLIENT),
        vips: vec![VIP],
        arp_suppression: true,
        protocol: Protocol::Tcp,
        port: 80,
        seed: u64::from(i),
    })
}

fn client(pacing: Pacing, concurrency: usize, requests_per_conn: u64) -> SimClient {
    SimClient::new(ClientConfig {
        load: "web".into(),
        mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
        addr: Ipv4Cidr::new(CLIENT, 24),
        gateway: None,
        sources: Sources::Range {
            first: Ipv4Address::new(198, 19, 0, 1),
            count: 1000,
        },
        target: (VIP, 80),
        protocol: Protocol::Tcp,
        path: "/bytes/100".into(),
        udp_response_bytes: 0,
        pacing,
        concurrency,
        requests_per_conn,
        timeout: Duration::from_secs(1),
        max_requests: u64::MAX,
        start: Instant::ZERO + Duration::from_millis(10),
        duration: SIMULATED,
        interval: Duration::from_millis(250),
        seed: 7,
    })
}

/// A host of the lab.
enum Host {
    Director(Box<Director>),
    Server(Box<SimServer>),
    Client(Box<SimClient>),
}

impl Host {
    fn node(&mut self) -> &mut dyn Node {
        match self {
            Host::Director(d) => d.as_mut(),
            Host::Server(s) => s.as_mut(),
            Host::Client(c) => c.as_mut(),
        }
    }
}

impl Node for Host {
    fn handle_frame(&mut self, now: Instant, port: usize, frame: &mut [u8]) -> Option<usize> {
        self.node().handle_frame(now, port, frame)
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.node().handle_timeout(now)
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        self.node().poll_transmit(now, buf)
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.node().poll_timeout()
    }
}

/// Node 1 of [`lab`].
const CLIENT_NODE: usize = 1;

/// The lab: director, the client, three servers, all on one switch.
fn lab(client: SimClient) -> Sim<Host> {
    let mut sim = Sim::new(1);
    let br0 = sim.add_switch();
    let mut nodes = vec![
        Host::Director(Box::new(director())),
        Host::Client(Box::new(client)),
    ];
    nodes.extend((1..=3).map(|i| Host::Server(Box::new(server(i)))));
    for node in nodes {
        let n = sim.add_node(node);
        sim.attach(n, 0, br0, Impairments::default())
            .expect("wiring");
    }
    sim
}

fn open() -> SimClient {
    client(Pacing::Open { rate: 500.0 }, 64, 1)
}

/// Each worker thinks 10 ms between answers (about 6,000 requests/s in all): heavier than the
/// CI scenarios' keep-alive loads (128 workers thinking 500 ms). Without think time the loop
/// runs at the speed of the simulated RTT, hundreds of thousands of requests per simulated
/// second, and no emulator keeps 100× real time on that.
fn closed() -> SimClient {
    let pacing = Pacing::Closed {
        think: Duration::from_millis(10),
        backoff: Duration::from_millis(10),
    };
    client(pacing, 64, 0)
}

/// Runs a lab for [`SIMULATED`]; the loop's counters.
fn run(mut sim: Sim<Host>) -> Sim<Host> {
    sim.run_until(Instant::ZERO + SIMULATED)
        .expect("no livelock");
    sim
}

/// One run, its loop timed (not the building of the lab) and printed.
fn report(name: &str, client: fn() -> SimClient) {
    let sim = lab(client());
    let wall = std::time::Instant::now();
    let mut sim = run(sim);
    let secs = wall.elapsed().as_secs_f64();
    let c = sim.counters;
    let Host::Client(client) = sim.node_mut(CLIENT_NODE) else {
        unreachable!("node 1 is the client")
    };
    let total = client.take_report().expect("a report").total;
    let events = c.delivered + c.timeouts;
    println!(
        "emulator/{name}: {events} events ({} frames, {} timeouts) in {secs:.3} s wall: \
         {:.0} events/s, {:.0} simulated s per wall s; {} requests answered, errors {:?}",
        c.delivered,
        c.timeouts,
        events as f64 / secs,
        SIMULATED.total_micros() as f64 / 1e6 / secs,
        total.ok,
        total.errors,
    );
}

fn benches(c: &mut Criterion) {
    report("new_conns_500_per_s", open);
    report("keep_alive_64_closed", closed);
    let mut g = c.benchmark_group("emulator");
    g.sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    let small = criterion::BatchSize::SmallInput;
    g.bench_function("new_conns_500_per_s_2s", |b| {
        b.iter_batched(|| lab(open()), run, small)
    });
    g.bench_function("keep_alive_64_closed_2s", |b| {
        b.iter_batched(|| lab(closed()), run, small)
    });
    g.finish();
}

criterion_group!(emulator, benches);
criterion_main!(emulator);
