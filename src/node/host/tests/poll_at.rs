//! The kept answer of `poll_at` is the answer asked afresh: a frame queued, a check started
//! and a socket's neighbour deadline passing all change it at once.

use super::*;
use crate::node::host::check::CheckSpec;
use std::net::SocketAddrV4;

/// `poll_at` at `ms`, checked against an answer asked afresh.
fn poll_at(host: &mut HostStack, ms: i64) -> Option<Instant> {
    let fresh = host.poll_at_uncached(t(ms));
    let kept = host.poll_at(t(ms));
    assert_eq!(kept, fresh, "at {ms} ms");
    kept
}

#[test]
fn a_queued_frame_is_due_at_once_after_a_kept_answer() {
    let mut host = stack("");
    assert_eq!(poll_at(&mut host, 0), None, "nothing to do");
    host.handle_frame(OUT, &build::arp_request(PEER_MAC, PEER, DIRECTOR));
    assert_eq!(poll_at(&mut host, 5), Some(t(5)));
    single(exchange(&mut host, 5, &[]));
    assert_eq!(poll_at(&mut host, 6), None);
}

#[test]
fn a_check_waiting_for_its_neighbour_is_due_again_at_the_silent_time() {
    let mut host = stack("");
    let server = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 11), 80);
    let i = host.add_check(CheckSpec::Tcp, server);
    assert_eq!(poll_at(&mut host, 0), None);
    host.start_check(i).unwrap();
    assert_eq!(poll_at(&mut host, 0), Some(t(0)), "the SYN to send");
    // The SYN waits for the server's MAC: one ARP request, then silence for a second.
    arp_of(&single(exchange(&mut host, 0, &[])));
    let silent = poll_at(&mut host, 1).expect("a deadline");
    assert!(silent > t(1));
    for ms in (100..=2000).step_by(100) {
        poll_at(&mut host, ms);
    }
}
