//! The workers' timing on tokio's paused clock: a scripted transport answers after a set
//! service time (no socket, no real sleep), so the open-loop schedule, the latency from the
//! intended start, the timeouts, the pauses and the caps come out exact and in microseconds.
//! The sockets themselves are tested against real servers in `tests/client_loopback.rs`.

use super::*;
use crate::metrics::ClientReport;
use std::sync::atomic::AtomicU64;

/// A target whose every answer takes `service` (`None`: it never answers).
#[derive(Default)]
struct Scripted {
    service: Option<Duration>,
    /// Requests handed to the transport.
    sent: AtomicU64,
    in_flight: AtomicU64,
    /// Most requests in flight at once.
    peak: AtomicU64,
}

impl Scripted {
    fn answering_after(service: Duration) -> Self {
        Self {
            service: Some(service),
            ..Self::default()
        }
    }
}

impl Transport for Arc<Scripted> {
    type Worker = ();
    fn worker(&self) {}
    async fn exchange(
        &self,
        _worker: &mut (),
        _source: &(dyn Fn() -> IpAddr + Sync),
        deadline: Instant,
    ) -> Exchange {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let answer = self.service.map(|s| Instant::now() + s);
        let ex = match answer.filter(|at| *at <= deadline) {
            Some(at) => {
                tokio::time::sleep_until(at).await;
                Exchange {
                    request_bytes: 10,
                    response_bytes: 100,
                    done: Some(at),
                    ..Exchange::default()
                }
            }
            None => {
                tokio::time::sleep_until(deadline).await;
                Exchange {
                    error: Some(ErrorKind::Timeout),
                    done: Some(deadline),
                    ..Exchange::default()
                }
            }
        };
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        ex
    }
    fn server(_: &()) -> &str {
        "scripted"
    }
}

/// Plays `options` against `target` (never contacted: the transport is scripted); returns the
/// report and the (paused) time the run took.
async fn play_scripted(options: &str, target: &Arc<Scripted>) -> (ClientReport, Duration) {
    let words = format!("--target 198.18.0.100:80 --load t {options}");
    let args = Args::parse_words(words.split_whitespace()).unwrap();
    args.check().unwrap();
    let started = Instant::now();
    let recorder = play(&args, target.clone()).await;
    (recorder.finish(&args.load, 0), started.elapsed())
}

/// Intervals cover the run and add up to the total.
fn check_consistent(r: &ClientReport, intervals: usize) {
    assert_eq!(r.intervals.len(), intervals);
    let sum = |f: fn(&crate::metrics::Interval) -> u64| r.intervals.iter().map(f).sum::<u64>();
    assert_eq!(sum(|i| i.ok), r.total.ok);
    assert_eq!(sum(|i| i.failed), r.total.failed);
}

#[tokio::test(start_paused = true)]
async fn open_loop_latency_counts_from_the_intended_start() {
    // 50 requests intended over 0.5 s (one per 10 ms); one worker, 50 ms each: request i is
    // sent at 50·i ms, so its latency from its intended 10·i ms is 40·i + 50 ms, within the
    // 1 s timeout up to i = 23. From i = 24 on each times out, 1 s after its intended start.
    // A generator with coordinated omission would report about 50 ms throughout.
    let target = Arc::new(Scripted::answering_after(Duration::from_millis(50)));
    let options = "--mode open --rate 100 --concurrency 1 --duration 500ms --timeout 1s";
    let (r, took) = play_scripted(options, &target).await;
    let t = &r.total;
    assert_eq!(
        (t.ok, t.failed),
        (24, 26),
        "every intended request accounted for"
    );
    assert_eq!(t.errors.get("timeout"), Some(&26), "{:?}", t.errors);
    assert_eq!(target.sent.load(Ordering::Relaxed), 50);
    let ms = |us: u64| us / 1000;
    // The histogram keeps 3 significant digits.
    assert!(
        (960..=980).contains(&ms(t.latency.max_us)),
        "{:?}",
        t.latency
    );
    assert!(
        (490..=540).contains(&ms(t.latency.p50_us)),
        "{:?}",
        t.latency
    );
    assert_eq!(t.servers["scripted"].requests, t.ok);
    assert_eq!(
        took,
        Duration::from_millis(1490),
        "the last request, intended at 490 ms, times out at 1490 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn open_loop_keeps_its_schedule_with_at_most_concurrency_in_flight() {
    let fast = Arc::new(Scripted::answering_after(Duration::from_millis(1)));
    let options = "--mode open --rate 400 --concurrency 16 --duration 1s --interval 250ms";
    let (r, took) = play_scripted(options, &fast).await;
    check_consistent(&r, 4);
    assert_eq!(
        (r.total.ok, r.total.failed),
        (400, 0),
        "the schedule holds 400"
    );
    for iv in &r.intervals {
        // Sent up to 2 ms early (EARLY): an interval's first arrival may land in the one before.
        assert!((99..=101).contains(&iv.ok), "{:?}", r.intervals);
    }
    assert!(took <= Duration::from_millis(1000), "{took:?}");
    // 100 ms each at 400/s would need 40 workers: 16 are in flight, the rest wait.
    let slow = Arc::new(Scripted::answering_after(Duration::from_millis(100)));
    let (r, _) = play_scripted(options, &slow).await;
    assert_eq!(slow.peak.load(Ordering::Relaxed), 16);
    assert_eq!(r.total.ok + r.total.failed, 400);
    assert!(
        r.total.latency.max_us > 1_000_000,
        "waiting counts: {:?}",
        r.total.latency
    );
}

#[tokio::test(start_paused = true)]
async fn closed_loop_times_out_backs_off_and_ends_with_the_duration() {
    // Never answered: 100 ms each. With a 10 ms back-off two workers send at 0, 110 and 220 ms
    // (the next would be at 330 ms, the end); without one, at 0, 100, 200 and 300 ms.
    let hung = Arc::new(Scripted::default());
    let options = "--concurrency 2 --duration 330ms --timeout 100ms --interval 110ms";
    let (r, took) = play_scripted(&format!("{options} --error-backoff 10ms"), &hung).await;
    check_consistent(&r, 3);
    assert_eq!((r.total.ok, r.total.failed), (0, 6));
    assert_eq!(
        r.total.errors.get("timeout"),
        Some(&6),
        "{:?}",
        r.total.errors
    );
    assert_eq!(took, Duration::from_millis(330));
    let (r, took) = play_scripted(&format!("{options} --error-backoff 0"), &hung).await;
    assert_eq!((r.total.ok, r.total.failed), (0, 8));
    assert_eq!(
        took,
        Duration::from_millis(400),
        "within the timeout of the duration"
    );
}

#[tokio::test(start_paused = true)]
async fn closed_loop_thinks_and_stops_at_the_request_cap() {
    // Answered at once; 10 ms of think time: each of 4 workers at 0, 10, ..., 990 ms.
    let target = Arc::new(Scripted::answering_after(Duration::ZERO));
    let options = "--concurrency 4 --duration 1s --think 10ms";
    let bounded = format!("{options} --max-requests 1000");
    let (r, took) = play_scripted(&bounded, &target).await;
    assert_eq!((r.total.ok, r.total.failed), (400, 0));
    assert_eq!(took, Duration::from_secs(1));
    let capped = Arc::new(Scripted::answering_after(Duration::ZERO));
    let (r, took) = play_scripted(&format!("{options} --max-requests 7"), &capped).await;
    assert_eq!((r.total.ok, capped.sent.load(Ordering::Relaxed)), (7, 7));
    // 4 requests at 0 ms, 3 at 10 ms; those 3 workers think until 20 ms and find the cap.
    assert_eq!(
        took,
        Duration::from_millis(20),
        "ends with the cap, not the duration"
    );
}
