//! The emulator's speed: a lab built by hand from the emu blocks (a DR director, three smoltcp
//! real servers, one smoltcp client, one switch) runs 2 simulated seconds of (a) new
//! connections at 500/s and (b) a closed loop of 64 keep-alive workers. Before criterion's
//! timing, one run of each prints simulated seconds per wall second and events (frames
//! delivered + timeouts handled) per wall second, from the loop's own counters.
//!
//! Then every CI scenario (`ci = true` in `scenarios/`) runs five times (`TAPVS_BENCH_ROUNDS`)
//! through `tapvs run --engine emulated --seed 5`, the scenarios interleaved round by round, and
//! their engine lines give the medians of simulated seconds per wall second (with the slowest
//! and fastest run), events per wall second and simulated seconds per CPU second of the engine's
//! thread (the figure a busy machine does not inflate). Scenarios the emulator refuses are
//! listed as such. Figures, never assertions.

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

/// The engine's own line: simulated s, wall s, events, CPU s.
fn engine_line(stderr: &str) -> Option<(f64, f64, f64, f64)> {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("run: emulated "))?;
    let word = |after: &str| -> Option<f64> {
        let rest = &line[line.find(after)? + after.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    let simulated = line.split_whitespace().next()?.parse().ok()?;
    Some((
        simulated,
        word(" s in ")?,
        word("real time, ")?,
        word("events; ")?,
    ))
}

/// Runs of each CI scenario, the scenarios interleaved round by round so that a noisy stretch
/// of a shared machine hits all of them alike (`TAPVS_BENCH_ROUNDS`, default 5).
fn rounds() -> usize {
    std::env::var("TAPVS_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(5)
}

/// The median of some values (the upper middle one of an even count).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// What one scenario's runs gave.
enum Outcome {
    /// Per run: simulated s, wall s, events, CPU s.
    Runs(Vec<(f64, f64, f64, f64)>),
    Refused,
    Failed(String),
}

/// Each CI scenario, emulated, [`rounds`] times: the medians of simulated s per wall s (with
/// the fastest and slowest run), of events per wall s and of simulated s per CPU s.
fn scenarios() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("scenarios"))
        .expect("scenarios/")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            p.extension().is_some_and(|x| x == "toml") && text.lines().any(|l| l == "ci = true")
        })
        .collect();
    files.sort();
    let results = std::env::temp_dir().join(format!("tapvs-bench-{}", std::process::id()));
    let mut outcomes: Vec<Outcome> = files.iter().map(|_| Outcome::Runs(Vec::new())).collect();
    let rounds = rounds();
    for _ in 0..rounds {
        for (file, outcome) in files.iter().zip(&mut outcomes) {
            let Outcome::Runs(runs) = outcome else {
                continue;
            };
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_tapvs"))
                .args(["run", "--engine", "emulated", "--seed", "5", "--results"])
                .arg(&results)
                .arg(file)
                .output()
                .expect("running tapvs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            match engine_line(&stderr) {
                Some(run) => runs.push(run),
                None if stderr.contains("cannot run this scenario") => *outcome = Outcome::Refused,
                None => *outcome = Outcome::Failed(stderr.lines().last().unwrap_or("").to_string()),
            }
            let _ = std::fs::remove_dir_all(&results);
        }
    }
    println!(
        "{rounds} runs of each, interleaved; medians, and the slowest and fastest run's sim/wall"
    );
    println!(
        "scenario                  sim s  wall s  sim/wall  [min-max]     events  events/wall s  sim/CPU s"
    );
    for (file, outcome) in files.iter().zip(&outcomes) {
        let name = file.file_stem().unwrap_or_default().to_string_lossy();
        match outcome {
            Outcome::Runs(runs) if !runs.is_empty() => {
                let speed: Vec<f64> = runs.iter().map(|r| r.0 / r.1).collect();
                let rate: Vec<f64> = runs.iter().map(|r| r.2 / r.1).collect();
                let per_cpu: Vec<f64> = runs.iter().map(|r| r.0 / r.3).collect();
                let wall: Vec<f64> = runs.iter().map(|r| r.1).collect();
                let (lo, hi) = speed
                    .iter()
                    .fold((f64::MAX, 0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
                println!(
                    "{name:<24} {:>6.1} {:>7.3} {:>8.0}x [{lo:>4.0}-{hi:<4.0}] {:>8} {:>13.0} {:>9.0}x",
                    runs[0].0,
                    median(&wall),
                    median(&speed),
                    runs[0].2,
                    median(&rate),
                    median(&per_cpu),
                )
            }
            Outcome::Runs(_) => println!("{name:<24} no run"),
            Outcome::Refused => {
                println!("{name:<24} not emulated (refused: it needs a real daemon or kernel)")
            }
            Outcome::Failed(why) => println!("{name:<24} failed: {why}"),
        }
    }
}

fn benches(c: &mut Criterion) {
    scenarios();
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
