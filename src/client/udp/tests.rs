//! Loopback tests of the UDP exchange itself (127.0.0.1 only, port 0): several sockets on one
//! address, late answers and answers from elsewhere. None sleeps: a late answer is sent once the
//! request timed out on tokio's paused clock, and the others are answered at once.

use super::*;
use crate::server::{self, Server};

/// A UDP-only `tapvs server` on this runtime; returns its address and its stop switch.
fn start_server(name: &str) -> (SocketAddr, oneshot::Sender<()>) {
    let args = server::Args {
        name: name.into(),
        listen: Vec::new(),
        udp_listen: vec!["127.0.0.1:0".parse().unwrap()],
        ready_file: None,
        max_seconds: 60,
        hang_after_accept: false,
    };
    let server = Server::bind(&args).unwrap();
    let addr = server.udp_local_addrs()[0];
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(server.serve(rx));
    (addr, tx)
}

fn bind(target: SocketAddr, sockets: usize) -> Arc<Udp> {
    let localhost: IpAddr = "127.0.0.1".parse().unwrap();
    let udp = Arc::new(Udp::bind(target, 64, std::iter::repeat_n(localhost, sockets)).unwrap());
    for i in 0..udp.sockets() {
        tokio::spawn(receive(udp.clone(), i));
    }
    udp
}

#[tokio::test]
async fn requests_go_round_robin_and_each_socket_is_new_once() {
    let (addr, _stop) = start_server("rs-u");
    let udp = bind(addr, 3);
    let ports: std::collections::BTreeSet<u16> = udp
        .sources
        .iter()
        .map(|s| s.socket.local_addr().unwrap().port())
        .collect();
    assert_eq!(ports.len(), 3, "one socket (port) each");
    let mut server = String::new();
    let mut new = Vec::new();
    for _ in 0..9 {
        let deadline = Instant::now() + Duration::from_secs(2);
        let ex = udp.exchange(deadline, &mut server).await;
        assert_eq!(ex.error, None);
        assert_eq!((ex.response_bytes, server.as_str()), (64, "rs-u"));
        new.push(ex.new_conn);
    }
    let first_three = [true, true, true, false, false, false, false, false, false];
    assert_eq!(new, first_three, "the first answer of each socket");
    assert_eq!(udp.stray(), 0);
}

/// Yields (polling the sockets, not moving the clock) until `udp` has seen `n` strays; a
/// bound of 5 s of real time only guards against a bug.
async fn strays_reach(udp: &Udp, n: u64) -> u64 {
    let limit = std::time::Instant::now() + Duration::from_secs(5);
    while udp.stray() < n && std::time::Instant::now() < limit {
        tokio::task::yield_now().await;
    }
    udp.stray()
}

#[tokio::test(start_paused = true)]
async fn late_answers_time_out_and_count_as_strays() {
    // Answers a request only once told that it timed out. On the paused clock the 20 ms
    // timeout passes at once: nothing else is waiting for a timer.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let (timed_out, wait) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut buf = [0; 64];
        if let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let q = Query::parse(&buf[..n]).unwrap();
            if wait.recv_timeout(Duration::from_secs(5)).is_ok() {
                let mut out = Vec::new();
                crate::server::datagram::emit_answer(&q, "slow", &mut out);
                let _ = socket.send_to(&out, peer);
            }
        }
    });
    let udp = bind(addr, 1);
    let mut server = String::new();
    let ex = udp
        .exchange(Instant::now() + Duration::from_millis(20), &mut server)
        .await;
    assert_eq!(ex.error, Some(Timeout));
    assert!(!ex.new_conn && server.is_empty());
    assert!(
        udp.sources[0].pending().is_empty(),
        "a timed-out request is forgotten"
    );
    timed_out.send(()).unwrap();
    assert_eq!(strays_reach(&udp, 1).await, 1, "the late answer is a stray");
}

#[tokio::test]
async fn answers_from_another_address_are_strays() {
    // Each request is answered twice, from a second socket first (right seq, wrong source
    // port), then from the target: the first is a stray, the second the answer.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0; 64];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let q = Query::parse(&buf[..n]).unwrap();
            for (from, name) in [(&other, "wrong"), (&socket, "right")] {
                let mut out = Vec::new();
                crate::server::datagram::emit_answer(&q, name, &mut out);
                let _ = from.send_to(&out, peer);
            }
        }
    });
    let udp = bind(addr, 1);
    let mut server = String::new();
    let ex = udp
        .exchange(Instant::now() + Duration::from_secs(5), &mut server)
        .await;
    assert_eq!((ex.error, server.as_str()), (None, "right"));
    assert_eq!(strays_reach(&udp, 1).await, 1);
}
