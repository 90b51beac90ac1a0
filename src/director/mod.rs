//! `tapvs director`: one director on a TAP device. Reads frames, hands them to the data plane
//! with the time, writes out what it says, passes frames for the director itself to VRRP or to
//! its own host stack (ARP, ping, the status port), serves the control socket, and on
//! SIGTERM/SIGINT prints its counters and exits.

pub mod control;
pub mod failover;
pub mod health;
pub mod host;
pub mod sync;

use crate::config::DirectorConfig;
use crate::dataplane::{Dataplane, Event, Iface, Verdict};
use crate::io::port::{MAX_FRAME_LEN, Port, TapPort};
use crate::io::tap::wait_readable;
use crate::io::vnet::VnetHeader;
use anyhow::Context;
use std::hash::BuildHasher;
use std::os::fd::AsRawFd;
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
}

/// Frames read per wake-up before timers and the control socket get a turn.
const BURST: usize = 64;
/// Longest sleep, so signals and the control socket are noticed quickly.
const MAX_SLEEP_MS: i64 = 50;

/// Runs a director until SIGTERM/SIGINT (or `max_seconds`).
pub fn run(args: DirectorArgs) -> anyhow::Result<()> {
    let config = DirectorConfig::load(&args.config)?;
    // The outside TAP first, then the inside one of a two-armed NAT director: index = `Iface`.
    let started = std::time::Instant::now();
    let mut taps = open_ports(&config, &args, started)?;
    let mut control = config
        .control_socket
        .as_deref()
        .map(control::Control::bind)
        .transpose()?;
    let seed = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    let mut dp = Dataplane::new(&config, seed);
    let clock = || smoltcp::time::Instant::from_micros(started.elapsed().as_micros() as i64);
    dp.attach_host_stack();
    let mut host = host::HostStack::new(&config, clock())?;
    let mut failover = match &config.vrrp {
        Some(section) => Some(failover::Failover::start(
            section,
            &mut dp,
            clock(),
            config.state_log.as_deref(),
        )?),
        None => None,
    };
    let mut sync = config
        .sync
        .as_ref()
        .map(|s| {
            let peers = config.vrrp.as_ref().map_or(&[][..], |v| &v.peers[..]);
            sync::Sync::new(s, peers, &mut dp)
        })
        .transpose()?;
    let sync_report = config
        .control_socket
        .as_ref()
        .map(|c| c.with_extension("sync.json"));
    let mut next_sync_report = clock();
    let vrrp_report = config
        .control_socket
        .as_ref()
        .map(|c| c.with_extension("vrrp.json"));
    let mut next_vrrp_report = clock();
    let health_log = config
        .control_socket
        .as_ref()
        .map(|c| c.with_extension("health"));
    let mut health =
        health::Health::start(&config, &mut host, &mut dp, clock(), health_log.as_deref())?;
    let health_report = health_log.as_ref().map(|p| p.with_extension("health.json"));
    let mut next_health_report = clock();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    for (tap, iface) in taps
        .iter()
        .zip(std::iter::once(&config.interface).chain(&config.inside))
    {
        eprintln!(
            "director: {} on {} ({})",
            iface.address,
            tap.name(),
            iface.mac
        );
    }
    eprintln!("director: {} service(s)", config.services.len());
    if config.host.status_port != 0 {
        eprintln!("director: status port {}", config.host.status_port);
    }
    let mut status = StatusLine::new(taps[0].name());
    let mut fds: Vec<_> = taps.iter().filter_map(|t| t.raw_fd()).collect();
    fds.extend(control.as_ref().map(|c| c.as_raw_fd()));
    let mut buf = vec![0u8; MAX_FRAME_LEN];
    let mut tx_errors = 0u64;
    let mut out = vec![0u8; crate::dataplane::pending::SLOT_LEN];
    while !stop.load(Ordering::Relaxed) {
        if args.max_seconds > 0 && started.elapsed().as_secs() >= args.max_seconds {
            eprintln!("director: max-seconds reached");
            break;
        }
        let now = clock();
        let due = [
            dp.poll_timeout(),
            failover.as_ref().and_then(|f| f.poll_timeout()),
            host.poll_at(now),
            sync.as_ref().and_then(|s| s.poll_timeout()),
            health.as_ref().and_then(|h| h.poll_timeout()),
        ];
        let sleep = due
            .into_iter()
            .flatten()
            .min()
            .map_or(MAX_SLEEP_MS, |t| (t - now.min(t)).total_millis() as i64)
            .clamp(0, MAX_SLEEP_MS);
        wait_readable(&fds, sleep as i32)?;
        let now = clock();
        for i in 0..taps.len() {
            for _ in 0..BURST {
                let Some((header, n)) = taps[i]
                    .recv(now, &mut buf)
                    .context("reading a TAP device")?
                else {
                    break;
                };
                let frame = &mut buf[..n];
                let verdict = dp.handle_offloaded(now, Iface(i as u8), frame, header.needs_csum());
                match verdict {
                    // A header the kernel refuses: the frame is lost, counted, not fatal.
                    Verdict::Send(out)
                        if taps[out.0 as usize].send(now, &header, frame).is_err() =>
                    {
                        tx_errors += 1;
                    }
                    Verdict::ToHost => match &mut failover {
                        Some(f) if is_vrrp(frame) => f.handle_frame(now, frame),
                        _ if sync
                            .as_mut()
                            .is_some_and(|s| s.handle_frame(now, frame, &mut dp)) => {}
                        _ => {
                            // smoltcp checks checksums: finish a partial one (offloads).
                            header.complete_csum(frame);
                            host.handle_frame(Iface(i as u8), frame);
                        }
                    },
                    _ => {}
                }
            }
        }
        if let Some(f) = &mut failover {
            f.poll(now, &mut dp, &mut taps[0], &mut out);
            // For the runner: the VRRP counters, a few times a second.
            if now >= next_vrrp_report
                && let Some(path) = &vrrp_report
            {
                next_vrrp_report = now + smoltcp::time::Duration::from_millis(250);
                let _ = std::fs::write(path, f.report(&dp));
            }
        }
        dp.handle_timeout(now);
        while let Some((iface, n)) = dp.poll_transmit(now, &mut out) {
            if taps[iface.0 as usize]
                .send(now, &VnetHeader::NONE, &out[..n])
                .is_err()
            {
                tx_errors += 1;
            }
        }
        while let Some(event) = dp.poll_event() {
            log_event(event);
            if let Some(f) = &mut failover {
                f.note(event);
            }
        }
        let state = failover.as_ref().map(|f| f.state());
        if let Some(s) = &mut sync {
            s.set_master(now, state == Some(crate::control::vrrp::State::Master));
            s.poll(now, &mut dp, &mut taps[0]);
            // For the runner: the counters, a few times a second (a killed director's last).
            if now >= next_sync_report {
                next_sync_report = now + smoltcp::time::Duration::from_millis(250);
                if let Some(path) = &sync_report {
                    let _ = std::fs::write(path, s.report(now));
                }
            }
        }
        status.refresh(now, state, dp.conns().len());
        if let Some(h) = &mut health {
            h.poll(now, &mut host, &mut dp);
            // For the runner: the checks' counters, a few times a second.
            if now >= next_health_report {
                next_health_report = now + smoltcp::time::Duration::from_millis(250);
                if let Some(path) = &health_report {
                    let _ = std::fs::write(path, h.report());
                }
            }
        }
        host.poll(now, status.line(), &mut |iface, frame| {
            if taps[iface.0 as usize]
                .send(now, &VnetHeader::NONE, frame)
                .is_err()
            {
                tx_errors += 1;
            }
        });
        // Verdicts the host stack just reached, now rather than at the next wake-up (which
        // may be up to MAX_SLEEP_MS away on a quiet LAN); checks started here go out at once,
        // as the host stack then asks to be polled.
        if let Some(h) = &mut health {
            h.poll(now, &mut host, &mut dp);
        }
        if let Some(control) = &mut control {
            control.serve(clock(), &mut dp);
        }
    }
    if let Some(f) = &mut failover {
        f.shutdown(clock(), &mut dp, &mut taps[0], &mut out);
        if let Some(path) = &vrrp_report {
            let _ = std::fs::write(path, f.report(&dp));
        }
    }
    if tx_errors > 0 {
        eprintln!("director: {tx_errors} frame(s) could not be written");
    }
    eprintln!(
        "director: host counters {}",
        serde_json::to_string(host.counters())?
    );
    if let Some(h) = &health {
        let report = h.report();
        eprintln!("director: health counters {report}");
        if let Some(path) = &health_report {
            let _ = std::fs::write(path, report);
        }
    }
    if let Some(s) = &sync {
        let counters = s.report(clock());
        eprintln!("director: sync counters {counters}");
        if let Some(path) = &sync_report {
            let _ = std::fs::write(path, counters);
        }
    }
    let stats = serde_json::to_string(&dp.stats())?;
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
        let tap = TapPort::open(&iface.name, offload)?;
        let Some(dir) = &args.pcap else {
            ports.push(Box::new(tap));
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

/// Whether a frame for the director is a VRRP packet (IPv4 protocol 112).
fn is_vrrp(frame: &[u8]) -> bool {
    use crate::wire::{EthernetFrame, EthernetProtocol, Ipv4Packet};
    EthernetFrame::new_checked(frame)
        .ok()
        .filter(|eth| eth.ethertype() == EthernetProtocol::Ipv4)
        .is_some_and(|eth| {
            Ipv4Packet::new_checked(eth.payload())
                .is_ok_and(|ip| u8::from(ip.next_header()) == crate::wire::vrrp::PROTOCOL)
        })
}

/// How often the connection count in the status line may change.
const CONNS_REFRESH: smoltcp::time::Duration = smoltcp::time::Duration::from_millis(100);

/// The status line the host stack serves: `{"name":..,"state":..,"conns":..}`, rebuilt only
/// when the state changes or (at most every 100 ms) the connection count does.
struct StatusLine {
    name: String,
    state: &'static str,
    conns: usize,
    next_conns: smoltcp::time::Instant,
    line: String,
}

impl StatusLine {
    fn new(name: &str) -> StatusLine {
        let mut s = StatusLine {
            name: name.to_string(),
            state: "active",
            conns: 0,
            next_conns: smoltcp::time::Instant::ZERO,
            line: String::new(),
        };
        s.rebuild();
        s
    }

    fn refresh(
        &mut self,
        now: smoltcp::time::Instant,
        vrrp: Option<crate::control::vrrp::State>,
        conns: usize,
    ) {
        use crate::control::vrrp::State;
        let state = match vrrp {
            None => "active",
            Some(State::Master) => "master",
            Some(State::Backup) => "backup",
            Some(State::Init) => "init",
        };
        let conns_due = now >= self.next_conns && conns != self.conns;
        if state == self.state && !conns_due {
            return;
        }
        if conns_due {
            self.conns = conns;
            self.next_conns = now + CONNS_REFRESH;
        }
        self.state = state;
        self.rebuild();
    }

    fn rebuild(&mut self) {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            name: &'a str,
            state: &'a str,
            conns: usize,
        }
        let line = Line {
            name: &self.name,
            state: self.state,
            conns: self.conns,
        };
        self.line = serde_json::to_string(&line).unwrap_or_default();
    }

    fn line(&self) -> &str {
        &self.line
    }
}

fn log_event(event: Event) {
    match event {
        Event::NeighbourResolved { ip, mac } => eprintln!("director: neighbour {ip} is at {mac}"),
        Event::NeighbourFailed { ip } => eprintln!("director: neighbour {ip} does not answer ARP"),
        Event::GratuitousArp { at_ms } => eprintln!("director: gratuitous ARP at {at_ms} ms"),
    }
}
