//! `tapvs director`: the process around one [`Director`] node. It opens the TAP ports, feeds
//! the node their frames and the time, sends what the node says, serves the control socket
//! (never blocking: a silent client delays no frame), writes the node's events to the event
//! log, and on SIGTERM/SIGINT stops the node cleanly (a master hands over) and exits.

pub mod control;
mod sink;

use crate::config::DirectorConfig;
use crate::dataplane::Iface;
use crate::io::port::{IoMode, MAX_FRAME_LEN, Port, open_tap};
use crate::io::tap::wait_readable;
use crate::io::vnet::VnetHeader;
use crate::node::Director;
use anyhow::Context;
use sink::EventSink;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Options of `tapvs director`.
#[derive(Debug, clap::Args)]
pub struct DirectorArgs {
    /// The director's configuration file (TOML).
    #[arg(long)]
    pub config: PathBuf,
    /// Also write the final counters as JSON to this file.
    #[arg(long)]
    pub stats_out: Option<PathBuf>,
    /// Exit by itself after this many seconds (a safety net for labs; 0 = never).
    #[arg(long, default_value_t = 0)]
    pub max_seconds: u64,
    /// Unix socket for `stats` and weight changes.
    #[arg(long)]
    pub control: Option<PathBuf>,
    /// Append the node's events here as JSON lines (VRRP transitions, health changes,
    /// counters a few times a second).
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// The seed of every random choice (over the file's `seed`; neither: one is drawn and
    /// printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The director's name in its status line (default: its outside TAP's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Write every frame of each port, both ways, to `DIR/<name>-<port>.pcap` (port: `outside`,
    /// or `inside` for a two-armed NAT director's inside arm).
    #[arg(long, value_name = "DIR")]
    pub pcap: Option<PathBuf>,
    /// The `<name>` of the pcap files (default: the configuration file's name without `.toml`).
    #[arg(long)]
    pub pcap_name: Option<String>,
    /// Disk for each port's capture, in MB (10^6 bytes): a ring of two files of half as much
    /// each, `<name>-<port>.pcap` (newest) and `.pcap.1`.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub pcap_limit_mb: u64,
    /// How the TAPs are read and written: one system call per frame, or io_uring.
    #[arg(long, value_enum, default_value_t = IoMode::Syscalls)]
    pub io: IoMode,
}

/// Frames read per port per wake-up before timers and the control socket get a turn.
const BURST: usize = 64;
/// Longest sleep, so signals and the control socket are noticed quickly.
const MAX_SLEEP_US: u64 = 50_000;

/// A seed from the OS, for a director given none.
fn drawn_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::process::id())
}

/// Runs a director until SIGTERM/SIGINT (or `max_seconds`).
pub fn run(args: DirectorArgs) -> anyhow::Result<()> {
    let mut config = DirectorConfig::load(&args.config)?;
    if let Some(hb) = config.heartbeat.as_mut() {
        // Heartbeat's generation: the start's Unix seconds, larger on every restart.
        let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        hb.clock_s.get_or_insert(unix.as_secs());
    }
    // The outside TAP first, then the inside one of a two-armed NAT director: index = `Iface`.
    let started = std::time::Instant::now();
    let mut ports = open_ports(&config, &args, started)?;
    let mut control = args
        .control
        .as_deref()
        .map(control::Control::bind)
        .transpose()?;
    let mut sink = EventSink::open(args.events.as_deref())?;
    let seed = args.seed.or(config.seed).unwrap_or_else(drawn_seed);
    let clock = || smoltcp::time::Instant::from_micros(started.elapsed().as_micros() as i64);
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| ports[0].name().to_string());
    let mut node = Director::new(&config, &name, seed, clock())?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    for (port, iface) in ports
        .iter()
        .zip(std::iter::once(&config.interface).chain(&config.inside))
    {
        eprintln!(
            "director: {} on {} ({})",
            iface.address,
            port.name(),
            iface.mac
        );
    }
    eprintln!("director: {} service(s)", config.services.len());
    if config.host.status_port != 0 {
        eprintln!("director: status port {}", config.host.status_port);
    }
    let mut fds: Vec<_> = ports.iter().filter_map(|p| p.raw_fd()).collect();
    fds.extend(control.as_ref().map(std::os::fd::AsRawFd::as_raw_fd));
    let mut buf = vec![0u8; MAX_FRAME_LEN];
    let mut out = vec![0u8; crate::node::outbox::SLOT_LEN];
    let mut tx_errors = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if args.max_seconds > 0 && started.elapsed().as_secs() >= args.max_seconds {
            eprintln!("director: max-seconds reached");
            break;
        }
        let now = clock();
        let sleep = std::iter::once(node.poll_timeout())
            .chain(ports.iter().map(|p| p.poll_at()))
            .flatten()
            .min()
            .map_or(MAX_SLEEP_US, |t| (t - now.min(t)).total_micros())
            .min(MAX_SLEEP_US);
        wait_readable(&fds, std::time::Duration::from_micros(sleep))?;
        let now = clock();
        for i in 0..ports.len() {
            for _ in 0..BURST {
                let Some((header, n)) = ports[i]
                    .recv(now, &mut buf)
                    .context("reading a TAP device")?
                else {
                    break;
                };
                let frame = &mut buf[..n];
                if let Some(to) = node.handle_frame(now, Iface(i as u8), frame, &header) {
                    // A header the kernel refuses: the frame is lost, counted, not fatal.
                    tx_errors +=
                        u64::from(ports[usize::from(to.0)].send(now, &header, frame).is_err());
                }
            }
        }
        node.handle_timeout(now);
        tx_errors += transmit(&mut node, &mut ports, now, &mut out);
        for port in &mut ports {
            tx_errors += u64::from(port.poll(now).is_err());
        }
        sink.drain(&mut node, now);
        if let Some(control) = &mut control {
            control.serve(clock(), &mut node);
        }
    }
    let now = clock();
    node.shutdown(now);
    tx_errors += transmit(&mut node, &mut ports, now, &mut out);
    sink.drain(&mut node, now);
    if tx_errors > 0 {
        eprintln!("director: {tx_errors} frame(s) could not be written");
    }
    let (events_dropped, frames_dropped) = node.dropped();
    if events_dropped + frames_dropped + sink.errors() > 0 {
        eprintln!(
            "director: {events_dropped} event(s) and {frames_dropped} own frame(s) dropped, {} event line(s) not written",
            sink.errors()
        );
    }
    eprintln!(
        "director: host counters {}",
        serde_json::to_string(node.host_counters())?
    );
    let stats = serde_json::to_string(&node.dataplane().stats())?;
    println!("{stats}");
    if let Some(path) = &args.stats_out {
        std::fs::write(path, &stats).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("director: stopped");
    Ok(())
}

/// The director's ports: the outside TAP, then the inside one of a two-armed NAT director
/// (index = `Iface`), each in a pcap writer with `--pcap`, stamped with wall-clock time from
/// `started` (the director clock's 0) on.
fn open_ports(
    config: &DirectorConfig,
    args: &DirectorArgs,
    started: std::time::Instant,
) -> anyhow::Result<Vec<Box<dyn Port>>> {
    let offload = config.limits.offload;
    let wall_base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(started.elapsed());
    let roles = std::iter::once(("outside", &config.interface))
        .chain(config.inside.as_ref().map(|i| ("inside", i)));
    let mut ports: Vec<Box<dyn Port>> = Vec::new();
    for (role, iface) in roles {
        let tap = open_tap(&iface.name, offload, args.io)?;
        let Some(dir) = &args.pcap else {
            ports.push(tap);
            continue;
        };
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let name = match &args.pcap_name {
            Some(n) => n.clone(),
            None => args
                .config
                .file_stem()
                .map_or("director".into(), |s| s.to_string_lossy().into_owned()),
        };
        let path = dir.join(format!("{name}-{role}.pcap"));
        let limit = args.pcap_limit_mb * 1_000_000;
        let pcap = crate::io::pcap::Pcap::create(tap, &path, limit, wall_base)
            .with_context(|| format!("creating {}", path.display()))?;
        eprintln!("director: capturing {} to {}", iface.name, path.display());
        ports.push(Box::new(pcap));
    }
    Ok(ports)
}

/// Sends every frame the node has; returns how many could not be written.
fn transmit(
    node: &mut Director,
    ports: &mut [Box<dyn Port>],
    now: smoltcp::time::Instant,
    out: &mut [u8],
) -> u64 {
    let mut errors = 0;
    while let Some((iface, n)) = node.poll_transmit(now, out) {
        if let Some(port) = ports.get_mut(usize::from(iface.0)) {
            errors += u64::from(port.send(now, &VnetHeader::NONE, &out[..n]).is_err());
        }
    }
    errors
}
