//! Loopback tests of the whole client against the built-in server (127.0.0.1 only, port 0).

use super::*;
use crate::server::{self, Served, Server};
use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn args(line: &str) -> Args {
    let words = std::iter::once("client").chain(line.split_whitespace());
    Cli::try_parse_from(words).unwrap().args
}

/// A `tapvs server` on its own thread and runtime, on a random loopback port.
struct TestServer {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Served>,
}

impl TestServer {
    fn start(name: &str, hang: bool) -> Self {
        let args = server::Args {
            name: name.into(),
            listen: vec!["127.0.0.1:0".parse().unwrap()],
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
                addr_tx.send(server.local_addrs()[0]).unwrap();
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
    let sum = |f: fn(&crate::metrics::Interval) -> u64| r.intervals.iter().map(f).sum::<u64>();
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
        "--target {} --load web --mode open --rate 400 --concurrency 16 --connection new \
         --client-base 127.0.0.1 --clients 1 --duration 1s --interval 250ms --response-bytes 1000 --out {}",
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
         --clients 1 --duration 1s --path /bytes/100",
        server.addr
    );
    let r = generate_blocking(args(&line));
    let served = server.stop();
    check_consistent(&r, 4);
    let t = &r.total;
    assert!(t.ok > 100, "{}", t.ok);
    assert_eq!(t.failed, 0, "{:?}", t.errors);
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
         --client-base 127.0.0.1 --duration 500ms",
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
        "--target 127.0.0.1:{port} --client-base 127.0.0.1 --concurrency 2 --duration 300ms"
    );
    let r = generate_blocking(args(&line));
    check_consistent(&r, 2);
    assert_eq!(r.total.ok, 0);
    assert!(r.total.failed > 0);
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
        "--target {} --client-base 127.0.0.1 --concurrency 2 --duration 300ms --timeout 100ms",
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
    assert!(r.total.failed >= 4);

    let server = TestServer::start("rs-404", false);
    let line = format!(
        "--target {} --client-base 127.0.0.1 --concurrency 1 --connection keepalive --duration 300ms --path /nope --error-backoff 0",
        server.addr
    );
    let r = generate_blocking(args(&line));
    server.stop();
    assert_eq!(r.total.ok, 0);
    assert!(r.total.failed > 10);
    assert_eq!(
        r.total.errors.get("http"),
        Some(&r.total.failed),
        "{:?}",
        r.total.errors
    );
    assert_eq!(r.total.new_conns, 1);
}

#[test]
fn bad_options_are_refused() {
    let refused = |line: &str| {
        args(&format!("--target 127.0.0.1:1 {line}"))
            .check()
            .unwrap_err()
            .option
    };
    assert_eq!(refused("--mode open --rate 0"), "rate");
    assert_eq!(refused("--concurrency 0"), "concurrency");
    assert_eq!(refused("--clients 0"), "clients");
    assert_eq!(
        refused("--client-base 255.255.255.255 --clients 2"),
        "clients"
    );
    assert_eq!(refused("--client-base ::1"), "client-base");
    assert_eq!(refused("--duration 0"), "duration");
    assert_eq!(refused("--interval 0"), "interval");
    assert_eq!(refused("--path nope"), "path");
    assert!(Cli::try_parse_from(["client", "--target", "x:1"]).is_err());
    assert!(Cli::try_parse_from(["client", "--target", "127.0.0.1:1", "--duration", "5"]).is_err());
    assert!(
        Cli::try_parse_from([
            "client",
            "--target",
            "127.0.0.1:1",
            "--path",
            "/",
            "--response-bytes",
            "1"
        ])
        .is_err()
    );
}

const SLOW_OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nX-Server: slow\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

/// A server that answers every request with `response` after `delay`, then closes.
fn raw_server(delay: Duration, response: &'static [u8]) -> SocketAddr {
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
            std::thread::sleep(delay);
            let _ = std::io::Write::write_all(&mut stream, response);
        }
    });
    addr
}

#[test]
fn open_loop_latency_counts_from_the_intended_start() {
    // 50 requests intended over 0.5 s; one worker, 50 ms each: request i is sent at about
    // 50·i ms, so its latency from its intended 10·i ms grows by 40 ms per request until the
    // 1 s timeout. A generator with coordinated omission would report about 50 ms throughout.
    let addr = raw_server(Duration::from_millis(50), SLOW_OK);
    let line = format!(
        "--target {addr} --mode open --rate 100 --concurrency 1 --client-base 127.0.0.1 \
         --duration 500ms --timeout 1s"
    );
    let started = std::time::Instant::now();
    let r = generate_blocking(args(&line));
    let elapsed = started.elapsed();
    let t = &r.total;
    assert_eq!(
        t.ok + t.failed,
        50,
        "every intended request is accounted for"
    );
    assert!((18..=26).contains(&t.ok), "{}", t.ok);
    assert_eq!(t.errors.get("timeout"), Some(&t.failed), "{:?}", t.errors);
    assert!(
        t.latency.p50_us > 300_000 && t.latency.max_us > 800_000,
        "{:?}",
        t.latency
    );
    assert!(t.latency.max_us < 1_000_000, "{:?}", t.latency);
    assert_eq!(t.servers["slow"].requests, t.ok);
    assert!(
        elapsed < Duration::from_millis(2500),
        "ends within the timeout of the duration: {elapsed:?}"
    );
}

#[test]
fn foreign_servers_short_responses_and_missing_names() {
    let run = |response: &'static [u8]| {
        let addr = raw_server(Duration::ZERO, response);
        let line =
            format!("--target {addr} --client-base 127.0.0.1 --concurrency 1 --duration 200ms");
        generate_blocking(args(&line)).total
    };
    let t = run(b"HTTP/1.0 200 OK\r\n\r\nuntil close");
    assert!(t.ok > 0 && t.failed == 0, "{t:?}");
    assert_eq!(t.servers["?"].requests, t.ok);
    assert_eq!(t.bytes, t.ok * 30);
    let t = run(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok");
    assert!(t.ok == 0 && t.failed > 0, "{t:?}");
    assert_eq!(t.errors.get("short"), Some(&t.failed));
    let t = run(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
    assert_eq!(t.errors.get("other"), Some(&t.failed), "{t:?}");
}
