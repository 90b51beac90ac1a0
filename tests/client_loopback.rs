//! The whole load generator against real servers on loopback (127.0.0.1 only, port 0): real
//! sockets, the real kernel and real time, so that the HTTP and datagram exchanges, the error
//! kinds and the servers' own counts are those of real sockets. Runs are bounded by a request
//! cap where the count matters, so few of them wait for a duration; the workers' timing itself
//! (schedule, latency from the intended start, timeouts, pauses) is tested on tokio's paused
//! clock in `src/client/load/tests.rs`.

use std::net::SocketAddr;
use std::time::Duration;
use tapvs::client::{Args, generate, run};
use tapvs::metrics::ClientReport;
use tapvs::server::{self, Served, Server};

fn args(line: &str) -> Args {
    Args::parse_words(line.split_whitespace()).unwrap()
}

/// A `tapvs server` on its own thread and runtime, on a random loopback port.
struct TestServer {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Served>,
}

impl TestServer {
    fn start(name: &str, hang: bool) -> Self {
        Self::start_on(name, hang, false)
    }

    /// A UDP-only server; `addr` is its UDP address.
    fn start_udp(name: &str, hang: bool) -> Self {
        Self::start_on(name, hang, true)
    }

    fn start_on(name: &str, hang: bool, udp: bool) -> Self {
        let loopback: Vec<SocketAddr> = vec!["127.0.0.1:0".parse().unwrap()];
        let (listen, udp_listen) = if udp {
            (Vec::new(), loopback)
        } else {
            (loopback, Vec::new())
        };
        let args = server::Args {
            name: name.into(),
            listen,
            udp_listen,
            ready_file: None,
            max_seconds: 60,
            hang_after_accept: hang,
        };
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let server = Server::bind(&args).unwrap();
                let addrs = [server.local_addrs(), server.udp_local_addrs()].concat();
                addr_tx.send(addrs[0]).unwrap();
                server.serve(stop_rx).await.1
            })
        });
        Self {
            addr: addr_rx.recv().unwrap(),
            stop,
            thread,
        }
    }

    fn stop(self) -> Served {
        let _ = self.stop.send(());
        self.thread.join().unwrap()
    }
}

fn generate_blocking(args: Args) -> ClientReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(generate(args)).unwrap()
}

/// Checks that hold for every report: intervals cover the run and add up to the total.
fn check_consistent(r: &ClientReport, intervals: usize) {
    assert_eq!(r.intervals.len(), intervals);
    for (i, iv) in r.intervals.iter().enumerate() {
        assert_eq!(iv.start_ms, i as u64 * r.interval_ms);
    }
    let sum = |f: fn(&tapvs::metrics::Interval) -> u64| r.intervals.iter().map(f).sum::<u64>();
    assert_eq!(sum(|i| i.ok), r.total.ok);
    assert_eq!(sum(|i| i.failed), r.total.failed);
    assert_eq!(sum(|i| i.new_conns), r.total.new_conns);
    assert_eq!(sum(|i| i.bytes), r.total.bytes);
}

#[test]
fn open_loop_new_connections() {
    let server = TestServer::start("rs-open", false);
    let dir = std::env::temp_dir().join(format!("tapvs-client-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("open.json");
    let line = format!(
        "--target {} --load web --mode open --rate 2000 --concurrency 16 --connection new \
         --client-base 127.0.0.1 --clients 1 --duration 200ms --interval 50ms --response-bytes 1000 --out {}",
        server.addr,
        out.display()
    );
    run(args(&line)).unwrap();
    let r: ClientReport = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let served = server.stop();
    check_consistent(&r, 4);
    let t = &r.total;
    assert_eq!(r.load, "web");
    assert_eq!(t.ok, 400, "the schedule holds 400 requests");
    assert_eq!(t.failed, 0, "{:?}", t.errors);
    assert_eq!(t.new_conns, t.ok);
    assert_eq!(t.servers.len(), 1);
    assert_eq!(t.servers["rs-open"].requests, t.ok);
    assert_eq!(t.servers["rs-open"].new_conns, t.ok);
    assert!(t.bytes > 1000 * t.ok && t.request_bytes > 0);
    assert_eq!((served.requests, served.connections), (t.ok, t.ok));
    assert!(t.latency.p50_us > 0 && t.latency.max_us >= t.latency.p99_us);
}

#[test]
fn closed_loop_keepalive() {
    let server = TestServer::start("rs-ka", false);
    let line = format!(
        "--target {} --mode closed --concurrency 4 --connection keepalive --client-base 127.0.0.1 \
         --clients 1 --duration 10s --max-requests 400 --path /bytes/100",
        server.addr
    );
    let r = generate_blocking(args(&line));
    let served = server.stop();
    check_consistent(&r, 40);
    let t = &r.total;
    assert_eq!((t.ok, t.failed), (400, 0), "{:?}", t.errors);
    assert_eq!(t.new_conns, 4, "one connection per worker");
    assert_eq!(t.servers["rs-ka"].requests, t.ok);
    assert_eq!(t.servers["rs-ka"].new_conns, 4);
    assert_eq!((served.requests, served.connections), (t.ok, 4));
}

#[test]
fn keepalive_reopens_after_requests_per_conn() {
    let server = TestServer::start("rs-rpc", false);
    let line = format!(
        "--target {} --concurrency 2 --connection keepalive --requests-per-conn 5 \
         --client-base 127.0.0.1 --duration 10s --max-requests 100",
        server.addr
    );
    let r = generate_blocking(args(&line));
    let served = server.stop();
    let t = &r.total;
    assert_eq!(t.failed, 0, "{:?}", t.errors);
    assert_eq!(t.new_conns, served.connections);
    assert!(
        t.new_conns * 5 >= t.ok && t.new_conns * 5 <= t.ok + 10,
        "{} conns for {} requests",
        t.new_conns,
        t.ok
    );
}

#[test]
fn nothing_listening_is_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let line = format!(
        "--target 127.0.0.1:{port} --client-base 127.0.0.1 --concurrency 2 --duration 10s \
         --interval 5s --max-requests 20 --error-backoff 0"
    );
    let r = generate_blocking(args(&line));
    check_consistent(&r, 2);
    assert_eq!((r.total.ok, r.total.failed), (0, 20));
    assert_eq!(
        r.total.errors.get("refused"),
        Some(&r.total.failed),
        "{:?}",
        r.total.errors
    );
    assert_eq!(r.total.new_conns, 0);
}

#[test]
fn hung_server_times_out_and_http_errors_keep_the_connection() {
    let hung = TestServer::start("rs-hung", true);
    let line = format!(
        "--target {} --client-base 127.0.0.1 --concurrency 2 --duration 10s --timeout 50ms \
         --max-requests 2",
        hung.addr
    );
    let r = generate_blocking(args(&line));
    hung.stop();
    assert_eq!(r.total.ok, 0);
    assert_eq!(
        r.total.errors.get("timeout"),
        Some(&r.total.failed),
        "{:?}",
        r.total.errors
    );
    assert_eq!(r.total.failed, 2);

    let server = TestServer::start("rs-404", false);
    let line = format!(
        "--target {} --client-base 127.0.0.1 --concurrency 1 --connection keepalive --duration 10s --max-requests 20 --path /nope --error-backoff 0",
        server.addr
    );
    let r = generate_blocking(args(&line));
    server.stop();
    assert_eq!(r.total.ok, 0);
    assert_eq!(r.total.failed, 20);
    assert_eq!(
        r.total.errors.get("http"),
        Some(&r.total.failed),
        "{:?}",
        r.total.errors
    );
    assert_eq!(r.total.new_conns, 1);
}

/// A server that answers every request with `response`, then closes.
fn raw_server(response: &'static [u8]) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0];
            while !head.ends_with(b"\r\n\r\n")
                && std::io::Read::read(&mut stream, &mut byte).unwrap_or(0) == 1
            {
                head.push(byte[0]);
            }
            let _ = std::io::Write::write_all(&mut stream, response);
        }
    });
    addr
}

#[test]
fn foreign_servers_short_responses_and_missing_names() {
    let run = |response: &'static [u8]| {
        let addr = raw_server(response);
        let line = format!(
            "--target {addr} --client-base 127.0.0.1 --concurrency 1 --duration 10s --max-requests 20"
        );
        generate_blocking(args(&line)).total
    };
    let t = run(b"HTTP/1.0 200 OK\r\n\r\nuntil close");
    assert!(t.ok == 20 && t.failed == 0, "{t:?}");
    assert_eq!(t.servers["?"].requests, t.ok);
    assert_eq!(t.bytes, t.ok * 30);
    let t = run(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok");
    assert!(t.ok == 0 && t.failed == 20, "{t:?}");
    assert_eq!(t.errors.get("short"), Some(&t.failed));
    let t = run(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
    assert_eq!(t.errors.get("other"), Some(&t.failed), "{t:?}");
}

#[test]
fn udp_open_loop_is_answered_by_the_server() {
    let server = TestServer::start_udp("rs-dns", false);
    let line = format!(
        "--protocol udp --target {} --load dns --mode open --rate 5000 --concurrency 16 \
         --client-base 127.0.0.1 --clients 1 --duration 200ms --interval 50ms --timeout 500ms",
        server.addr
    );
    let r = generate_blocking(args(&line));
    let served = server.stop();
    check_consistent(&r, 4);
    let t = &r.total;
    assert_eq!(
        t.ok, 1000,
        "the schedule holds 1000 requests: {:?}",
        t.errors
    );
    assert_eq!(t.failed, 0, "{:?}", t.errors);
    assert_eq!(r.stray_responses, 0);
    assert_eq!(t.servers.len(), 1);
    assert_eq!(t.servers["rs-dns"].requests, t.ok);
    assert_eq!(t.new_conns, 1, "one source socket");
    assert_eq!(t.servers["rs-dns"].new_conns, 1);
    assert_eq!(t.bytes, 100 * t.ok, "the default answer size is 100 bytes");
    assert_eq!(
        t.request_bytes,
        (0..1000u64)
            .map(|seq| 13 + seq.to_string().len() as u64)
            .sum::<u64>()
    );
    assert_eq!(
        (served.udp_requests, served.requests, served.connections),
        (t.ok, t.ok, 0)
    );
    assert_eq!(served.udp_malformed, 0);
    assert!(t.latency.p50_us > 0 && t.latency.max_us >= t.latency.p99_us);
}

#[test]
fn udp_closed_loop_with_large_answers() {
    let server = TestServer::start_udp("rs-big", false);
    let line = format!(
        "--protocol udp --target {} --mode closed --concurrency 4 --client-base 127.0.0.1 \
         --duration 10s --max-requests 400 --response-bytes 1400",
        server.addr
    );
    let r = generate_blocking(args(&line));
    let served = server.stop();
    let t = &r.total;
    assert_eq!((t.ok, t.failed), (400, 0), "{:?}", t.errors);
    assert_eq!(t.bytes, 1400 * t.ok);
    assert_eq!(t.new_conns, 1);
    assert_eq!(served.udp_requests, t.ok);
}

#[test]
fn udp_without_answers_times_out() {
    // Nothing listening (loopback's ICMP port unreachable is not seen by unconnected sockets),
    // then a server that reads every request and answers none.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hung = TestServer::start_udp("rs-hung", true);
    for target in [format!("127.0.0.1:{port}"), hung.addr.to_string()] {
        let line = format!(
            "--protocol udp --target {target} --client-base 127.0.0.1 --concurrency 2 \
             --duration 10s --interval 5s --timeout 50ms --max-requests 4 --error-backoff 0"
        );
        let started = std::time::Instant::now();
        let r = generate_blocking(args(&line));
        assert!(started.elapsed() < Duration::from_secs(2));
        check_consistent(&r, 2);
        let t = &r.total;
        assert_eq!(t.ok, 0);
        assert_eq!(t.failed, 4);
        assert_eq!(t.errors.get("timeout"), Some(&t.failed), "{:?}", t.errors);
        assert_eq!((t.new_conns, r.stray_responses), (0, 0));
    }
    let served = hung.stop();
    assert!(
        served.udp_unanswered == 4 && served.udp_requests == 0,
        "{served:?}"
    );
}

/// Answers request `seq` (of `bytes` asked) with a datagram, or ignores it.
type Answerer = fn(u64, u16) -> Option<Vec<u8>>;

/// A UDP server answering each request as `answer` says.
fn raw_udp_server(answer: Answerer) -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    // The thread ends after 10 s without requests.
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0; 2048];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let q = tapvs::server::datagram::Query::parse(&buf[..n]).unwrap();
            if let Some(a) = answer(q.seq, q.bytes) {
                let _ = socket.send_to(&a, peer);
            }
        }
    });
    addr
}

/// An answer header for `seq` from `name`, padded with dots to `len` bytes.
fn padded(seq: u64, name: &str, len: usize) -> Vec<u8> {
    let mut a = format!("TAPVS-R {seq} {name}\n").into_bytes();
    a.resize(len, b'.');
    a
}

#[test]
fn foreign_udp_answers_are_short_other_or_stray() {
    let run = |answer: Answerer, cap: u64| {
        let addr = raw_udp_server(answer);
        let line = format!(
            "--protocol udp --target {addr} --client-base 127.0.0.1 --concurrency 1 \
             --duration 10s --timeout 50ms --error-backoff 0 --response-bytes 50 --max-requests {cap}"
        );
        generate_blocking(args(&line))
    };
    // A correct foreign server: the padding byte does not matter.
    let r = run(|seq, bytes| Some(padded(seq, "x", bytes.into())), 20);
    assert!(r.total.ok == 20 && r.total.failed == 0, "{:?}", r.total);
    assert_eq!(r.total.servers["x"].requests, r.total.ok);
    let cases: [(Answerer, &str); 4] = [
        (
            |seq, bytes| Some(padded(seq, "x", usize::from(bytes) - 1)),
            "short",
        ),
        (
            |seq, _| Some(format!("TAPVS-R {seq} x").into_bytes()),
            "short",
        ),
        (
            |seq, bytes| Some(padded(seq, "x", usize::from(bytes) + 1)),
            "other",
        ),
        (|seq, bytes| Some(padded(seq, "x y", bytes.into())), "other"),
    ];
    for (answer, kind) in cases {
        let r = run(answer, 20);
        let t = &r.total;
        assert!(t.ok == 0 && t.failed == 20, "{kind}: {t:?}");
        assert_eq!(
            t.errors.get(kind),
            Some(&t.failed),
            "{kind}: {:?}",
            t.errors
        );
        assert_eq!(r.stray_responses, 0);
    }
    // Answers to the wrong request, or unreadable ones: strays, and the requests time out.
    let strays: [Answerer; 2] = [
        |seq, bytes| Some(padded(seq + 1_000_000, "x", bytes.into())),
        |_, _| Some(b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
    ];
    for answer in strays {
        // Each waits for its 50 ms timeout: few requests.
        let r = run(answer, 3);
        let t = &r.total;
        assert!(t.ok == 0 && t.failed == 3, "{t:?}");
        assert_eq!(t.errors.get("timeout"), Some(&t.failed), "{:?}", t.errors);
        assert!(
            r.stray_responses >= t.failed,
            "{} strays",
            r.stray_responses
        );
    }
}
