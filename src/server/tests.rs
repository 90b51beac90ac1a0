//! Loopback tests of `tapvs server` (127.0.0.1, port 0), driven by raw TCP and UDP.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

fn args(name: &str) -> Args {
    Args {
        name: name.into(),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        udp_listen: Vec::new(),
        ready_file: None,
        max_seconds: 60,
        hang_after_accept: false,
    }
}

/// Starts a server on a random port; returns its address and a stop switch.
fn start(args: &Args) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let server = Server::bind(args).unwrap();
    let addr = server.local_addrs()[0];
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(rx));
    (addr, tx)
}

/// Starts a server on a random port; returns its TCP address (its UDP one if it has no TCP
/// listener), its shared state (to switch the hang) and a stop switch.
fn start_shared(args: &Args) -> (SocketAddr, Arc<Shared>, tokio::sync::oneshot::Sender<()>) {
    let server = Server::bind(args).unwrap();
    let addr = [server.local_addrs(), server.udp_local_addrs()].concat()[0];
    let shared = server.shared.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(rx));
    (addr, shared, tx)
}

/// What a hung server is given to answer before the test calls it unanswered.
const HUNG: Duration = Duration::from_millis(200);

/// What an answering server is given (only reached when the test fails).
const ANSWERED: Duration = Duration::from_secs(5);

/// Sends `GET /health` on `s` and returns what came back within `wait`: the whole answer, or
/// whatever part came before the time was up.
async fn health(s: &mut TcpStream, wait: Duration) -> String {
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let read = async {
        let mut chunk = [0; 1024];
        while !out.ends_with(b"\r\n\r\nok") {
            match s.read(&mut chunk).await {
                Ok(n @ 1..) => out.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(wait, read).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

/// Sends `req` and reads until the server closes the connection (fails after 5 s).
async fn exchange_until_close(addr: SocketAddr, req: &[u8]) -> String {
    let read = read_until_close(addr, req);
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("server did not close")
}

async fn read_until_close(addr: SocketAddr, req: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req).await.unwrap();
    let mut out = Vec::new();
    // A server that closes with unread input resets the connection: keep what came before.
    let mut chunk = [0; 4096];
    while let Ok(n @ 1..) = s.read(&mut chunk).await {
        out.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn keep_alive_then_close() {
    let (addr, _stop) = start(&args("rs1"));
    let reqs = b"GET /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\n\r\n\
                 GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
    let text = exchange_until_close(addr, reqs).await;
    let parts: Vec<&str> = text.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(parts.len(), 3, "{text}");
    assert!(
        parts[0].starts_with("200 OK\r\n")
            && parts[0].ends_with("\r\nContent-Length: 5\r\n\r\nxxxxx")
    );
    assert!(parts[1].ends_with("\r\n\r\nok"));
    assert!(
        parts[2].contains("\r\nConnection: close\r\n")
            && parts[2].ends_with("\r\ntapvs server rs1\n")
    );
    assert!(parts.iter().all(|p| p.contains("\r\nX-Server: rs1\r\n")));
}

#[tokio::test]
async fn large_body_is_exact() {
    let (addr, _stop) = start(&args("big"));
    let n = 1_000_003;
    let text =
        exchange_until_close(addr, format!("GET /bytes/{n} HTTP/1.0\r\n\r\n").as_bytes()).await;
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.contains(&format!("Content-Length: {n}")));
    assert_eq!(body.len(), n);
}

#[tokio::test]
async fn errors_carry_the_name_and_bad_heads_close() {
    let (addr, _stop) = start(&args("rs2"));
    let text = exchange_until_close(addr, b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(
        text.starts_with("HTTP/1.1 404 ") && text.contains("X-Server: rs2"),
        "{text}"
    );
    let text = exchange_until_close(addr, b"GET /bytes/99999999999 HTTP/1.0\r\n\r\n").await;
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    // Garbage gets a 400 and the connection is closed (read_to_end returns).
    let text = exchange_until_close(addr, b"\x00\x01garbage\r\n\r\n").await;
    assert!(
        text.starts_with("HTTP/1.1 400 ") && text.contains("Connection: close"),
        "{text}"
    );
    let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    let text = exchange_until_close(addr, long.as_bytes()).await;
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
}

#[tokio::test]
async fn stop_ends_serving_and_counts() {
    let server = Server::bind(&args("rs3")).unwrap();
    let addr = server.local_addrs()[0];
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(rx));
    exchange_until_close(addr, b"GET / HTTP/1.0\r\n\r\n").await;
    tx.send(()).unwrap();
    let (_, served) = task.await.unwrap();
    assert_eq!(
        served,
        Served {
            requests: 1,
            connections: 1,
            ..Served::default()
        }
    );
    assert_eq!(served.to_string(), "1 requests on 1 connections");
}

#[test]
fn ready_file_lists_addresses_and_names_are_checked() {
    let dir = std::env::temp_dir().join(format!("tapvs-server-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ready");
    let addrs: Vec<SocketAddr> = vec![
        "127.0.0.1:8080".parse().unwrap(),
        "127.0.0.1:81".parse().unwrap(),
    ];
    write_ready(&path, &addrs, &[]).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "127.0.0.1:8080\n127.0.0.1:81\n"
    );
    write_ready(&path, &addrs[..1], &addrs[1..]).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "127.0.0.1:8080\nudp 127.0.0.1:81\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(check_name("rs1").is_ok());
    assert!(check_name("").is_err());
    assert!(check_name("a\r\nX-Evil: 1").is_err());
}

/// A UDP socket on loopback that gives up on a read after 5 s.
fn udp_peer() -> std::net::UdpSocket {
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    peer
}

#[tokio::test]
async fn udp_answers_requests_and_ignores_malformed_ones() {
    let mut a = args("rs-udp");
    a.listen.clear();
    a.udp_listen = vec!["127.0.0.1:0".parse().unwrap()];
    let server = Server::bind(&a).unwrap();
    assert!(server.local_addrs().is_empty(), "UDP only: no TCP listener");
    let addr = server.udp_local_addrs()[0];
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(rx));
    let exchange = tokio::task::spawn_blocking(move || {
        let peer = udp_peer();
        // Garbage, an oversized size and a request with trailing bytes first: all ignored,
        // so the first datagram back answers the first good request.
        for bad in [&b"\x00garbage"[..], b"TAPVS-Q 1 1401\n", b"TAPVS-Q 2 10\nx"] {
            peer.send_to(bad, addr).unwrap();
        }
        let mut answers = Vec::new();
        for (seq, bytes) in [(7, 100), (8, 0), (9, 1400)] {
            let mut q = Vec::new();
            datagram::Query { seq, bytes }.emit(&mut q);
            peer.send_to(&q, addr).unwrap();
            let mut buf = [0; 2048];
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            assert_eq!(from, addr);
            answers.push(buf[..n].to_vec());
        }
        answers
    });
    let answers = exchange.await.unwrap();
    assert_eq!(answers[0].len(), 100);
    assert!(answers[0].starts_with(b"TAPVS-R 7 rs-udp\nxxxx"));
    assert_eq!(answers[1], b"TAPVS-R 8 rs-udp\n");
    assert_eq!(answers[2].len(), 1400);
    tx.send(()).unwrap();
    let (_, served) = task.await.unwrap();
    assert_eq!(
        served,
        Served {
            requests: 3,
            connections: 0,
            udp_requests: 3,
            udp_malformed: 3,
            udp_unanswered: 0,
            tcp_unanswered: 0,
        }
    );
    assert!(served.to_string().contains("3 of them UDP"), "{served}");
}

#[tokio::test]
async fn tcp_and_udp_together_and_a_hung_server_answers_nothing() {
    let mut a = args("rs-both");
    a.udp_listen = vec!["127.0.0.1:0".parse().unwrap()];
    a.hang_after_accept = true;
    let server = Server::bind(&a).unwrap();
    assert_eq!(server.local_addrs().len(), 1);
    let (tcp, addr) = (server.local_addrs()[0], server.udp_local_addrs()[0]);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(rx));
    let got = tokio::task::spawn_blocking(move || {
        let peer = udp_peer();
        peer.set_read_timeout(Some(HUNG)).unwrap();
        peer.send_to(b"TAPVS-Q 1 10\n", addr).unwrap();
        peer.recv_from(&mut [0; 64]).is_ok()
    });
    let mut s = connect(tcp).await;
    assert_eq!(
        health(&mut s, HUNG).await,
        "",
        "a hung server answers no HTTP"
    );
    assert!(!got.await.unwrap(), "a hung server answers no UDP");
    tx.send(()).unwrap();
    let (_, served) = task.await.unwrap();
    assert_eq!(
        (
            served.requests,
            served.connections,
            served.udp_unanswered,
            served.tcp_unanswered
        ),
        (0, 1, 1, 1)
    );
    assert!(
        served
            .to_string()
            .ends_with("; 1 HTTP requests left unanswered"),
        "{served}"
    );
}

#[tokio::test]
async fn hang_switch_leaves_kept_alive_and_new_connections_unanswered_until_switched_back() {
    let (addr, shared, stop) = start_shared(&args("rs-sw"));
    let mut kept = connect(addr).await;
    let before = health(&mut kept, ANSWERED).await;
    assert!(before.starts_with("HTTP/1.1 200 "), "{before}");

    assert_eq!(switch_hang(&shared, true), "hanging");
    assert_eq!(switch_hang(&shared, true), "already hanging");
    // The kept-alive connection's next request, and a new connection's, both go unanswered.
    let mut new = connect(addr).await;
    let (kept_got, new_got) = tokio::join!(health(&mut kept, HUNG), health(&mut new, HUNG));
    assert_eq!((kept_got.as_str(), new_got.as_str()), ("", ""));

    assert_eq!(switch_hang(&shared, false), "answering again");
    // A new connection is answered; the hung one stays hung (its request is still pending).
    let mut after = connect(addr).await;
    let (after_got, kept_got) = tokio::join!(health(&mut after, ANSWERED), health(&mut kept, HUNG));
    assert!(after_got.starts_with("HTTP/1.1 200 "), "{after_got}");
    assert_eq!(kept_got, "");
    assert_eq!(switch_hang(&shared, false), "already answering");

    drop((kept, new, after));
    stop.send(()).unwrap();
    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    assert_eq!(
        (count(&shared.requests), count(&shared.tcp_unanswered)),
        (2, 3),
        "answered: before and after; unanswered: kept-alive twice, new once"
    );
}

#[tokio::test]
async fn hang_switch_leaves_udp_requests_unanswered_until_switched_back() {
    let mut a = args("rs-sw-udp");
    a.listen.clear();
    a.udp_listen = vec!["127.0.0.1:0".parse().unwrap()];
    let (addr, shared, stop) = start_shared(&a);
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    peer.connect(addr).await.unwrap();
    // Sends request `seq` and returns the answer's first line, if one came within `wait`.
    let ask = async |seq, wait| {
        let mut q = Vec::new();
        datagram::Query { seq, bytes: 0 }.emit(&mut q);
        peer.send(&q).await.unwrap();
        let mut buf = [0; 2048];
        let n = tokio::time::timeout(wait, peer.recv(&mut buf)).await.ok()?;
        Some(String::from_utf8_lossy(&buf[..n.unwrap()]).into_owned())
    };
    assert_eq!(
        ask(1, ANSWERED).await.as_deref(),
        Some("TAPVS-R 1 rs-sw-udp\n")
    );
    switch_hang(&shared, true);
    assert_eq!(ask(2, HUNG).await, None);
    switch_hang(&shared, false);
    // The next datagram answers request 3: request 2 stays unanswered.
    assert_eq!(
        ask(3, ANSWERED).await.as_deref(),
        Some("TAPVS-R 3 rs-sw-udp\n")
    );
    stop.send(()).unwrap();
    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    assert_eq!(
        (count(&shared.udp_requests), count(&shared.udp_unanswered)),
        (2, 1)
    );
}

#[test]
fn listen_defaults_to_tcp_80_only_without_udp() {
    let mut a = args("rs");
    a.listen.clear();
    assert_eq!(a.tcp_listen(), vec![DEFAULT_LISTEN]);
    a.udp_listen = vec!["127.0.0.1:53".parse().unwrap()];
    assert!(a.tcp_listen().is_empty());
    a.listen = vec!["127.0.0.1:80".parse().unwrap()];
    assert_eq!(a.tcp_listen(), a.listen);
    // A name too long for an answer header is refused with --udp-listen only.
    a.name = "n".repeat(datagram::MAX_NAME + 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    assert!(Server::bind(&a).unwrap_err().to_string().contains("--name"));
}
