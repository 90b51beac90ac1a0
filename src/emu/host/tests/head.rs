//! A request head the simulated server cannot take is refused as `tapvs server` refuses it:
//! longer than `MAX_HEAD` without its end → 400 and the connection closed, counted as a bad
//! request and, like every answer `tapvs server` writes, as a request.

use super::peer::{Peer, run};
use super::{Log, SimServer, server, server_config};
use crate::emu::host::buffers::TcpBuffers;
use crate::server::http::MAX_HEAD;

#[test]
fn a_head_longer_than_max_head_is_refused_with_400_and_closed() {
    refused(server(true), MAX_HEAD + 100);
}

#[test]
fn a_head_longer_than_a_fitted_read_buffer_is_refused_too() {
    // Buffers fitted to 40-byte requests read at most 82 bytes of a head.
    let buffers = TcpBuffers::SERVER.fitted(40, 100);
    refused(SimServer::with_buffers(server_config(true), buffers), 200);
}

/// Sends a head of `len` bytes without its end and checks the server's refusal.
fn refused(mut server: SimServer, len: usize) {
    let (mut peer, mut log) = (Peer::new(4 * MAX_HEAD), Log::new());
    run(&mut peer, &mut server, 10, &mut log);
    let mut head = b"GET /bytes/10 HTTP/1.1\r\nX-Long: ".to_vec();
    head.resize(len, b'a');
    assert_eq!(peer.sock().send_slice(&head).expect("sent"), head.len());
    let mut answer = Vec::new();
    let mut buf = [0; 2048];
    for ms in (20..=200).step_by(10) {
        run(&mut peer, &mut server, ms, &mut log);
        while let Ok(n @ 1..) = peer.sock().recv_slice(&mut buf) {
            answer.extend_from_slice(&buf[..n]);
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400 "), "answer: {text:?}");
    assert!(!peer.sock().may_recv(), "the server closed the connection");
    let stats = server.stats();
    assert_eq!((stats.bad_requests, stats.requests), (1, 1));
}
