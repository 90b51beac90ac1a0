//! `tapvs wire`: joins two TAP devices, each possibly in another network namespace, and
//! forwards frames both ways through a fault injector ([`Impair`]) on each side, so both
//! directions are impaired alike. One thread, non-blocking TAPs, `ppoll(2)` until a frame
//! comes or the next held frame is due. Bounded by `--max-seconds`; SIGTERM or SIGINT end it;
//! SIGHUP re-reads the settings file. Writes [`WireStats`] a few times a second and at exit.

use super::{WireStats, read_settings, write_json};
use crate::io::impair::{Filter, Impair, PoolSize, Settings};
use crate::io::port::{IoMode, Port, TapPort, tap_port};
use anyhow::{Context, bail};
use smoltcp::time::Instant;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the stats file is written.
const STATS_EVERY: Duration = Duration::from_millis(250);
/// Frames read from one side before turning to the other (fairness).
const BURST: usize = 64;
/// The wire is part of a link: on a busy machine it should not wait behind the loads it
/// carries (nice −10; left as it is when not allowed).
const NICE: libc::c_int = -10;

/// Options of `tapvs wire`.
#[derive(Debug, clap::Args)]
pub struct WireArgs {
    /// Side A: `TAP` in this process's namespace, or `TAP@NETNS` in the named namespace
    /// (`/run/netns/NETNS`), e.g. `eth0@tv1a2b-rs1`.
    #[arg(long)]
    pub a: String,
    /// Side B, the same way (not with `--hairpin-to`).
    #[arg(
        long,
        required_unless_present = "hairpin_to",
        conflicts_with = "hairpin_to"
    )]
    pub b: Option<String>,
    /// The raw wire: no fault injector, frames pass unchanged (the speed reference of a
    /// director: `tapvs bench`). Refuses the impairment options.
    #[arg(long)]
    pub raw: bool,
    /// Raw wire: open the TAPs with virtio-net headers and offloads (TCP crosses as 64 KiB
    /// segments, checksums left to the kernel), as a director with `offload = true` does.
    #[arg(long, requires = "raw")]
    pub vnet: bool,
    /// Raw wire on one TAP (`--a` only): frames addressed to `--mac` go back out of the same
    /// TAP to this MAC (a direct-routing director's MAC rewrite, without its table or ARP).
    #[arg(long, requires = "raw", value_parser = parse_mac_arg)]
    pub hairpin_to: Option<[u8; 6]>,
    /// Raw hairpin: the wire's own MAC (frames to any other are dropped).
    #[arg(long, default_value = "02:74:76:00:00:fe", value_parser = parse_mac_arg)]
    pub mac: [u8; 6],
    /// Frames lost, percent (each direction).
    #[arg(long, default_value_t = 0.0)]
    pub loss_pct: f64,
    /// Added one-way delay, ms (each direction).
    #[arg(long, default_value_t = 0.0)]
    pub delay_ms: f64,
    /// Delay varies by ± this, ms.
    #[arg(long, default_value_t = 0.0)]
    pub jitter_ms: f64,
    /// Frames sent twice, percent.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate_pct: f64,
    /// Frames sent ahead of those held back, percent.
    #[arg(long, default_value_t = 0.0)]
    pub reorder_pct: f64,
    /// Rate limit, bytes per second (0: none).
    #[arg(long, default_value_t = 0)]
    pub rate_bytes_per_s: u64,
    /// Which frames are impaired: all, vrrp (IPv4 protocol 112), sync (UDP to port 8848).
    #[arg(long, default_value = "all", value_parser = parse_filter)]
    pub filter: Filter,
    /// A JSON file of settings (`io::impair::Settings`): read at start when it exists (it then
    /// wins over the options above) and again on every SIGHUP.
    #[arg(long)]
    pub settings_file: Option<PathBuf>,
    /// Where to write the counters (JSON, `impairment::WireStats`).
    #[arg(long)]
    pub stats: Option<PathBuf>,
    /// Seed of the random draws (side B's injector takes seed + 1).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Exit after this long whatever happens.
    #[arg(long, default_value_t = 600)]
    pub max_seconds: u64,
    /// How the TAPs are read and written: one system call per frame, or io_uring.
    #[arg(long, value_enum, default_value_t = IoMode::Syscalls)]
    pub io: IoMode,
}

fn parse_mac_arg(s: &str) -> Result<[u8; 6], String> {
    crate::dataplane::settings::parse_mac(s)
        .ok_or_else(|| format!("`{s}`: expected six hex bytes like 02:00:00:00:00:01"))
}

fn parse_filter(s: &str) -> Result<Filter, String> {
    [Filter::All, Filter::Vrrp, Filter::Sync]
        .into_iter()
        .find(|f| f.name() == s)
        .ok_or_else(|| format!("`{s}`: expected all, vrrp or sync"))
}

impl WireArgs {
    /// The settings the options give.
    fn settings(&self) -> anyhow::Result<Settings> {
        let us = |field: &str, ms: f64| -> anyhow::Result<u64> {
            if !(0.0..=10_000.0).contains(&ms) {
                bail!("--{field}: {ms} is not 0 – 10000 ms");
            }
            Ok((ms * 1000.0).round() as u64)
        };
        let s = Settings {
            loss_pct: self.loss_pct,
            delay_us: us("delay-ms", self.delay_ms)?,
            jitter_us: us("jitter-ms", self.jitter_ms)?,
            duplicate_pct: self.duplicate_pct,
            reorder_pct: self.reorder_pct,
            rate_bytes_per_s: self.rate_bytes_per_s,
            queue_bytes: 0,
            filter: self.filter,
        };
        if let Some(problem) = s.problem() {
            bail!("{problem}");
        }
        Ok(s)
    }
}

/// Opens `TAP` or `TAP@NETNS` (plain frames unless `vnet`: the kernel segments and checksums
/// before the wire sees them, so every frame is impaired as what it is on a real link).
fn open_side(spec: &str, vnet: bool) -> anyhow::Result<TapPort> {
    let Some((tap, netns)) = spec.split_once('@') else {
        return TapPort::open(spec, vnet).with_context(|| format!("opening TAP `{spec}`"));
    };
    let (tap, netns) = (tap.to_owned(), netns.to_owned());
    // setns changes only the calling thread; the TAP's descriptor keeps the namespace it was
    // opened in, so a short-lived thread enters the namespace, opens it, and hands it back.
    let opened = crate::io::netns::run_in(&netns, move || TapPort::open(&tap, vnet))
        .and_then(|opened| opened);
    opened.with_context(|| format!("opening TAP `{spec}`"))
}

/// Runs the wire until SIGTERM/SIGINT or `--max-seconds`.
pub fn run(args: WireArgs) -> anyhow::Result<()> {
    if args.raw {
        return run_raw(&args);
    }
    let Some(side_b) = args.b.as_deref() else {
        bail!("--hairpin-to needs --raw");
    };
    let mut settings = args.settings()?;
    if let Some(path) = args.settings_file.as_ref().filter(|p| p.exists()) {
        settings = read_settings(path).map_err(|e| anyhow::anyhow!(e))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload))?;
    // SAFETY: setpriority on this process only; failure (no privilege) changes nothing.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, NICE);
    }
    // Side A's injector impairs what goes into A (read on B), and the reverse.
    let pool = PoolSize::default();
    let side = |spec: &str| -> anyhow::Result<Box<dyn Port>> {
        Ok(tap_port(open_side(spec, false)?, args.io)?)
    };
    let mut a = Impair::new(side(&args.a)?, settings, args.seed, pool)?;
    let mut b = Impair::new(side(side_b)?, settings, args.seed + 1, pool)?;
    let fds: Vec<_> = [a.raw_fd(), b.raw_fd()].into_iter().flatten().collect();
    eprintln!(
        "wire: {} <-> {side_b}: {settings:?}, seed {}",
        args.a, args.seed
    );
    let start = std::time::Instant::now();
    let limit = Duration::from_secs(args.max_seconds);
    let mut stats = WireStats::default();
    let mut next_stats = Duration::ZERO;
    let mut buf = vec![0u8; crate::io::port::MAX_FRAME_LEN];
    while !stop.load(Ordering::Relaxed) && start.elapsed() < limit {
        if reload.swap(false, Ordering::Relaxed)
            && let Some(path) = &args.settings_file
        {
            match read_settings(path) {
                Ok(s) => {
                    // Both checked by read_settings: set_settings cannot refuse them.
                    let _ = a.set_settings(s);
                    let _ = b.set_settings(s);
                    eprintln!("wire: settings now {s:?}");
                }
                Err(e) => {
                    stats.bad_settings += 1;
                    eprintln!("wire: settings refused, kept: {e}");
                }
            }
        }
        let now = Instant::from_micros(start.elapsed().as_micros() as i64);
        stats.io_errors += forward(now, &mut a, &mut b, &mut buf);
        stats.io_errors += forward(now, &mut b, &mut a, &mut buf);
        for port in [&mut a, &mut b] {
            if port.poll(now).is_err() {
                stats.io_errors += 1;
            }
        }
        if start.elapsed() >= next_stats {
            write_stats(&args, &mut stats, &a, &b);
            next_stats = start.elapsed() + STATS_EVERY;
        }
        wait(&fds, start, next_stats, [a.poll_at(), b.poll_at()]);
    }
    write_stats(&args, &mut stats, &a, &b);
    eprintln!("wire: done: {:?}", stats.total());
    Ok(())
}

/// `--raw`: the raw wire ([`super::raw`]) until SIGTERM/SIGINT or `--max-seconds`; prints its
/// counters as JSON (and writes them to `--stats`).
fn run_raw(args: &WireArgs) -> anyhow::Result<()> {
    if args.settings()? != Settings::default() || args.settings_file.is_some() {
        bail!("--raw passes frames unchanged: it takes no impairment option");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let side = |spec: &str| -> anyhow::Result<Box<dyn Port>> {
        Ok(tap_port(open_side(spec, args.vnet)?, args.io)?)
    };
    let a = side(&args.a)?;
    let shape = match (&args.b, args.hairpin_to) {
        (None, Some(to)) => super::raw::Shape::Hairpin {
            tap: a,
            own: args.mac,
            to,
        },
        (Some(b), None) => super::raw::Shape::Pass { a, b: side(b)? },
        _ => bail!("--raw takes --b or --hairpin-to"),
    };
    eprintln!(
        "wire: raw, {} (vnet headers: {}, io: {:?})",
        args.a, args.vnet, args.io
    );
    let stats = super::raw::run(shape, &stop, Duration::from_secs(args.max_seconds));
    let json = serde_json::to_string(&stats)?;
    println!("{json}");
    if let Some(path) = &args.stats {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Reads up to [`BURST`] frames from `from` and sends them into `to`; returns the I/O errors.
fn forward(
    now: Instant,
    from: &mut Impair<Box<dyn Port>>,
    to: &mut Impair<Box<dyn Port>>,
    buf: &mut [u8],
) -> u64 {
    let mut errors = 0;
    for _ in 0..BURST {
        match from.recv(now, buf) {
            Ok(Some((header, n))) => {
                if to.send(now, &header, &buf[..n]).is_err() {
                    errors += 1;
                }
            }
            Ok(None) => break,
            Err(_) => {
                errors += 1;
                break;
            }
        }
    }
    errors
}

fn write_stats(
    args: &WireArgs,
    stats: &mut WireStats,
    a: &Impair<Box<dyn Port>>,
    b: &Impair<Box<dyn Port>>,
) {
    stats.settings = *a.settings();
    stats.a_to_b = *b.counters();
    stats.b_to_a = *a.counters();
    stats.unix_ms = crate::unix_ms();
    if let Some(path) = &args.stats
        && let Err(e) = write_json(path, stats)
    {
        eprintln!("wire: cannot write {}: {e}", path.display());
    }
}

/// Waits until a TAP has a frame, the next held frame is due, or the stats are (ppoll(2):
/// microseconds, where poll(2) counts whole milliseconds).
fn wait(
    fds: &[std::os::fd::RawFd],
    start: std::time::Instant,
    next_stats: Duration,
    due: [Option<Instant>; 2],
) {
    let mut until = next_stats;
    for d in due.into_iter().flatten() {
        until = until.min(Duration::from_micros(d.total_micros().max(0) as u64));
    }
    let left = until.saturating_sub(start.elapsed());
    if !left.is_zero() {
        // An error (a descriptor gone) shows in the next read; the loop goes on.
        let _ = crate::io::tap::wait_readable(fds, left);
    }
}
