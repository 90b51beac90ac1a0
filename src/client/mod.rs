//! `tapvs client`: the bounded load generator, run inside the client namespace.
//!
//! HTTP/1.1 GETs to one target, open or closed loop, a new connection per request or keep-alive,
//! spread over `--clients` source addresses; or, with `--protocol udp`, single request and
//! answer datagrams (`udp`) over one socket per source address. Every outcome (server, latency,
//! error kind) goes into a [`ClientReport`] with fixed intervals. Every run stops by itself: no request intended
//! after `--duration` is sent, and each one ends within `--timeout` of its intended start.
//!
//! It runs on a current-thread runtime: on the lab's 2-core machine the other core belongs to the
//! balancer being measured, one thread keeps the recorder and the request counters uncontended,
//! and timer wake-ups are not delayed by work stealing. Uses tokio and [`crate::metrics`]; never
//! the lab, the data plane or the runner.
//!
//! Layout: `args` (options and checks), `line` (the options as a command line, for the runner), [`http`] (request bytes and response parsing), `conn`
//! (TCP sockets), `udp` (UDP sockets and answer matching), `load` (the workers), [`record`]
//! (intervals and histograms), [`report`] (the summary line).

mod args;
mod conn;
pub mod flood;
pub mod http;
mod line;
mod load;
pub mod record;
pub mod report;
pub(crate) mod udp;

pub use args::{ArgError, Args, ConnMode, MAX_FLOOD_RATE, Mode, Protocol};
pub use report::summary;

use crate::metrics::ClientReport;
use anyhow::Context;
use conn::Target;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Runs `tapvs client`: the load, then the report to `--out` and a summary line to stdout.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.check()?;
    if let Some(dir) = args
        .out
        .as_deref()
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
    {
        anyhow::ensure!(
            dir.is_dir(),
            "--out: directory {} does not exist",
            dir.display()
        );
    }
    if args.syn_flood {
        return run_flood(&args);
    }
    crate::server::raise_fd_limit();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let out = args.out.clone();
    let report = rt.block_on(generate(args))?;
    if let Some(path) = out {
        write_report(&path, &report).with_context(|| format!("--out {}", path.display()))?;
    }
    println!("{}", summary(&report));
    Ok(())
}

/// `--syn-flood`: waits for the start time, floods, writes the report.
fn run_flood(args: &Args) -> anyhow::Result<()> {
    let std::net::SocketAddr::V4(target) = args.target else {
        anyhow::bail!("--syn-flood: IPv4 targets only");
    };
    std::thread::sleep(start_wait(args)?);
    let flood = flood::Flood {
        target,
        rate: args.rate,
        duration: args.duration,
        max_packets: args.max_requests,
        interval: args.interval,
        seed: crate::unix_ms() ^ u64::from(std::process::id()),
    };
    let report = flood::run(&flood, &args.load).context("--syn-flood: raw socket")?;
    if let Some(path) = &args.out {
        write_report(path, &report).with_context(|| format!("--out {}", path.display()))?;
    }
    let f = report.flood.as_ref().expect("a flood report");
    println!(
        "{}: {} SYNs in {} ms ({:.0}/s of {:.0}/s asked), {} refused by the kernel",
        args.load, f.sent, f.elapsed_ms, f.rate_achieved, f.rate_wanted, f.send_errors
    );
    Ok(())
}

/// Runs the load described by `args` and returns its report. Call inside a tokio runtime.
pub async fn generate(args: Args) -> Result<ClientReport, ArgError> {
    args.check()?;
    tokio::time::sleep(start_wait(&args)?).await;
    let last = u64::from(args.clients) - 1;
    for source in [
        Some(args.client_base),
        args::nth_addr(args.client_base, last),
    ]
    .into_iter()
    .flatten()
    {
        conn::check_source(source).map_err(|e| ArgError {
            option: "client-base",
            reason: format!("cannot send from {source} ({e}): not a local address here?"),
        })?;
    }
    let path = args.request_path();
    let host = args.target.to_string();
    let target = Target {
        addr: args.target,
        request_close: http::request(&path, &host, true),
        request_keep: http::request(&path, &host, false),
        requests_per_conn: match args.connection {
            ConnMode::New => 1,
            ConnMode::Keepalive => args.requests_per_conn,
        },
    };
    let (recorder, started_unix_ms, stray) = match args.protocol {
        Protocol::Tcp => {
            let started_unix_ms = crate::unix_ms();
            (load::play(&args, target).await, started_unix_ms, 0)
        }
        Protocol::Udp => {
            let udp = Arc::new(bind_udp(&args)?);
            // Aborted when dropped, as the run returns.
            let mut receivers = tokio::task::JoinSet::new();
            for i in 0..udp.sockets() {
                receivers.spawn(udp::receive(udp.clone(), i));
            }
            let started_unix_ms = crate::unix_ms();
            let recorder = load::play(&args, udp.clone()).await;
            (recorder, started_unix_ms, udp.stray())
        }
    };
    let mut report = recorder.finish(&args.load, started_unix_ms);
    report.stray_responses = stray;
    Ok(report)
}

/// The sockets of a UDP run: one per source address.
fn bind_udp(args: &Args) -> Result<udp::Udp, ArgError> {
    let sources = (0..u64::from(args.clients)).filter_map(|n| args::nth_addr(args.client_base, n));
    // Checked to be at most MAX_DATAGRAM, so it fits.
    let wanted = u16::try_from(args.udp_response_bytes()).unwrap_or(u16::MAX);
    udp::Udp::bind(args.target, wanted, sources).map_err(|e| ArgError {
        option: "client-base",
        reason: format!("cannot bind UDP sockets from {}: {e}", args.client_base),
    })
}

/// How long to wait for `--start-at-unix-ms` (nothing without it); refused beyond a day.
fn start_wait(args: &Args) -> Result<Duration, ArgError> {
    let Some(at) = args.start_at_unix_ms else {
        return Ok(Duration::ZERO);
    };
    let wait = Duration::from_millis(at.saturating_sub(crate::unix_ms()));
    if wait > Duration::from_secs(24 * 3600) {
        return Err(ArgError {
            option: "start-at-unix-ms",
            reason: "more than a day away".into(),
        });
    }
    Ok(wait)
}

/// Writes the report as JSON, atomically (a temporary file renamed into place).
fn write_report(path: &Path, report: &ClientReport) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests;
