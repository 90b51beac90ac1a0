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

use super::Mode;
use super::args::{Args, nth_addr};
use super::conn::{Exchange, Exchanger, Target};
use super::record::{ErrorKind, Outcome, Recorder};
use super::udp::Udp;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How far ahead of its intended time an open-loop worker asks to be woken.
const EARLY: Duration = Duration::from_millis(2);

/// How the workers reach the target: TCP ([`Target`], each worker its own connection) or UDP
/// (the run's shared sockets). The workers' timing does not depend on which.
pub(super) trait Transport: Send + Sync + 'static {
    /// What one worker keeps from one request to the next.
    type Worker: Send;
    fn worker(&self) -> Self::Worker;
    /// Sends one request and waits for its answer, all before `deadline`. A new connection
    /// takes its source address from `source`.
    fn exchange<'a>(
        &'a self,
        worker: &'a mut Self::Worker,
        source: &'a (dyn Fn() -> IpAddr + Sync),
        deadline: Instant,
    ) -> impl Future<Output = Exchange> + Send + 'a;
    /// The server that answered the worker's last request.
    fn server(worker: &Self::Worker) -> &str;
}

impl Transport for Target {
    type Worker = Exchanger;
    fn worker(&self) -> Exchanger {
        Exchanger::default()
    }
    fn exchange<'a>(
        &'a self,
        worker: &'a mut Exchanger,
        source: &'a (dyn Fn() -> IpAddr + Sync),
        deadline: Instant,
    ) -> impl Future<Output = Exchange> + Send + 'a {
        worker.exchange(self, source, deadline)
    }
    fn server(worker: &Exchanger) -> &str {
        &worker.server
    }
}

impl Transport for Arc<Udp> {
    /// The answering server's name.
    type Worker = String;
    fn worker(&self) -> String {
        String::new()
    }
    fn exchange<'a>(
        &'a self,
        worker: &'a mut String,
        _source: &'a (dyn Fn() -> IpAddr + Sync),
        deadline: Instant,
    ) -> impl Future<Output = Exchange> + Send + 'a {
        Udp::exchange(self, deadline, worker)
    }
    fn server(worker: &String) -> &str {
        worker
    }
}

/// What every worker of a run shares.
struct Run<T> {
    args: Args,
    transport: T,
    start: Instant,
    end: Instant,
    /// Index of the next request to claim.
    next: AtomicU64,
    /// Connections opened so far, to spread them over the source addresses.
    conns: AtomicU64,
    /// Taken by the run when it ends; late outcomes are then dropped.
    recorder: Mutex<Option<Recorder>>,
}

impl<T: Transport> Run<T> {
    fn new(args: Args, transport: T, start: Instant) -> Self {
        let recorder = Mutex::new(Some(Recorder::new(args.duration, args.interval)));
        let end = start + args.duration;
        Self {
            args,
            transport,
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
        nth_addr(self.args.client_base, n).unwrap_or(self.args.client_base)
    }

    /// When request `i` is intended in the open loop.
    fn intended(&self, i: u64) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 / self.args.rate)
    }
}

/// Runs the load of `args` over `transport`, from now until every worker is done; returns what
/// they recorded.
pub(super) async fn play<T: Transport>(args: &Args, transport: T) -> Recorder {
    let run = Arc::new(Run::new(args.clone(), transport, Instant::now()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..run.args.concurrency {
        workers.spawn(worker(run.clone()));
    }
    // Every request ends within its timeout of its intended start, and the lingering for a FIN
    // is shorter than a second: this bound only guards against a bug.
    let hard_stop = run.end + run.args.timeout + Duration::from_secs(1);
    while let Ok(Some(_)) = tokio::time::timeout_at(hard_stop, workers.join_next()).await {}
    workers.abort_all();
    let recorder = run
        .recorder
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    recorder.unwrap_or_else(|| Recorder::new(args.duration, args.interval))
}

/// One worker: claims requests until the duration or the request cap runs out.
async fn worker<T: Transport>(run: Arc<Run<T>>) {
    // TCP: this worker's connection and buffers. UDP: only the answering server's name.
    let mut state = run.transport.worker();
    let source = || run.source();
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
        } else {
            run.transport.exchange(&mut state, &source, deadline).await
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
            server: T::server(&state),
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

#[cfg(test)]
mod tests;
