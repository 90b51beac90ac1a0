//! One UDP listener of `tapvs server`: answer each well-formed request datagram with one
//! datagram to its sender (format: [`super::datagram`]).
//!
//! Every datagram received ends up in exactly one counter of [`Shared`]: answered
//! (`udp_requests`), malformed (`udp_malformed`), or well-formed but unanswered (`udp_unanswered`:
//! the server plays hung, or the socket refused the answer).

use super::Shared;
use super::datagram::{self, MAX_DATAGRAM, Query};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::UdpSocket;

/// Receive buffer: any datagram longer than a request is malformed, so a longer one cut short
/// by the kernel is still seen as malformed.
const RECV_LEN: usize = 2048;

const _: () = assert!(RECV_LEN > datagram::MAX_QUERY);

/// Serves `socket` until the task is dropped. While the server hangs, reads requests and never
/// answers.
pub(super) async fn serve(socket: UdpSocket, shared: &Shared) {
    let mut buf = [0; RECV_LEN];
    let mut out = Vec::with_capacity(MAX_DATAGRAM);
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // Nothing to answer; back off instead of spinning on a persistent error.
                eprintln!("tapvs server {}: udp receive: {e}", shared.name);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let counter = match Query::parse(&buf[..n]) {
            Err(_) => &shared.udp_malformed,
            Ok(_) if shared.hanging() => &shared.udp_unanswered,
            Ok(query) => {
                out.clear();
                datagram::emit_answer(&query, &shared.name, &mut out);
                match socket.send_to(&out, peer).await {
                    Ok(_) => {
                        shared.requests.fetch_add(1, Ordering::Relaxed);
                        &shared.udp_requests
                    }
                    Err(_) => &shared.udp_unanswered,
                }
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
