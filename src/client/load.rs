//! The load itself: `concurrency` workers, open loop (fixed arrival schedule, no coordinated
//! omission) or closed loop, all recording into one [`Recorder`].
//!
//! Open loop: request i is intended at `start + i / rate`. A free worker claims the next i and
//! sleeps until then, so at most `concurrency` requests are in flight; when all are busy the
//! next arrival waits for a worker, and its latency still counts from its intended time.
//! Tokio's timer ticks every millisecond and wakes up to two ticks late, which would add about
//! 1 ms to every latency; so a worker aims [`EARLY`] ahead, sends when it wakes, and counts
//! from the earlier of the intended time and the send. Arrivals are thus quantized to timer
//! ticks and sent up to 2 ms early, at an unchanged rate. The timeout runs from the same
//! instant: a request not answered within `--timeout` of its intended start is a `timeout`, and
//! one whose budget ran out while it waited for a worker is recorded so without being sent.
//! Every run therefore ends within `--timeout` of `--duration`.
//! Closed loop: each worker sends its next request as soon as the previous one finished, and
//! pauses `--error-backoff` after a failure, so a dead target does not become a SYN flood.
//! Both loops work the same over TCP (each worker its own connection) and UDP (the run's shared
//! sockets, see [`super::udp`]).

use super::conn::{Exchange, Exchanger, Target};
use super::record::{ErrorKind, Outcome, Recorder};
use super::udp::Udp;
use super::{Args, Mode};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How far ahead of its intended time an open-loop worker asks to be woken.
const EARLY: Duration = Duration::from_millis(2);

/// What every worker of a run shares.
pub(super) struct Run {
    pub args: Args,
    pub target: Target,
    /// The UDP sockets with `--protocol udp`; TCP otherwise.
    pub udp: Option<Arc<Udp>>,
    pub start: Instant,
    pub end: Instant,
    /// Index of the next request to claim.
    next: AtomicU64,
    /// Connections opened so far, to spread them over the source addresses.
    conns: AtomicU64,
    /// Taken by the run when it ends; late outcomes are then dropped.
    pub recorder: Mutex<Option<Recorder>>,
}

impl Run {
    pub fn new(args: Args, target: Target, udp: Option<Arc<Udp>>, start: Instant) -> Self {
        let recorder = Mutex::new(Some(Recorder::new(args.duration, args.interval)));
        let end = start + args.duration;
        Self {
            args,
            target,
            udp,
            start,
            end,
            next: AtomicU64::new(0),
            conns: AtomicU64::new(0),
            recorder,
        }
    }

    /// The next request index, if the cap allows one more.
    fn claim(&self) -> Option<u64> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.args.max_requests).then_some(i)
    }

    /// The source address of the next connection: round robin over `--clients` addresses.
    fn source(&self) -> IpAddr {
        let n = self.conns.fetch_add(1, Ordering::Relaxed) % u64::from(self.args.clients);
        super::args::nth_addr(self.args.client_base, n).unwrap_or(self.args.client_base)
    }

    /// When request `i` is intended in the open loop.
    fn intended(&self, i: u64) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 / self.args.rate)
    }
}

/// One worker: claims requests until the duration or the request cap runs out.
pub(super) async fn worker(run: Arc<Run>) {
    // TCP: this worker's connection and buffers. UDP: only the answering server's name.
    let mut tcp = run.udp.is_none().then(Exchanger::default);
    let mut udp_server = String::new();
    loop {
        let (at, sent) = match run.args.mode {
            Mode::Open => {
                let Some(i) = run.claim() else { return };
                let intended = run.intended(i);
                if intended >= run.end {
                    return;
                }
                tokio::time::sleep_until(intended.checked_sub(EARLY).unwrap_or(intended)).await;
                let now = Instant::now();
                (intended.min(now), now)
            }
            Mode::Closed => {
                let now = Instant::now();
                if now >= run.end || run.claim().is_none() {
                    return;
                }
                (now, now)
            }
        };
        let deadline = at + run.args.timeout;
        let result = if sent >= deadline {
            Exchange {
                error: Some(ErrorKind::Timeout),
                done: Some(sent),
                ..Exchange::default()
            }
        } else if let Some(ex) = &mut tcp {
            ex.exchange(&run.target, || run.source(), deadline).await
        } else if let Some(udp) = &run.udp {
            udp.exchange(deadline, &mut udp_server).await
        } else {
            return;
        };
        let done = result.done.unwrap_or(sent);
        let outcome = Outcome {
            at: at - run.start,
            latency: done - at,
            error: result.error,
            response_bytes: result.response_bytes,
            request_bytes: result.request_bytes,
            new_conn: result.new_conn,
            broken: result.broken,
            server: tcp.as_ref().map_or(&udp_server, |ex| &ex.server),
        };
        if let Some(r) = run
            .recorder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            r.record(&outcome);
        }
        let pause = match result.error {
            Some(_) => run.args.error_backoff,
            None => run.args.think,
        };
        if run.args.mode == Mode::Closed && !pause.is_zero() {
            tokio::time::sleep_until((Instant::now() + pause).min(run.end)).await;
        }
    }
}
