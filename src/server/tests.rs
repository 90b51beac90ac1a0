//! Loopback tests of `tapvs server` (127.0.0.1, port 0), driven by raw TCP.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn args(name: &str) -> Args {
    Args {
        name: name.into(),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
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
            connections: 1
        }
    );
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
    write_ready(&path, &addrs).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "127.0.0.1:8080\n127.0.0.1:81\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(check_name("rs1").is_ok());
    assert!(check_name("").is_err());
    assert!(check_name("a\r\nX-Evil: 1").is_err());
}
