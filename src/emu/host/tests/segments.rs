//! The segments of one short connection, as Linux's client and server send them (a lab
//! capture of `tapvs client` against `tapvs server`, 1 kB responses): the client SYN, ACK,
//! request, a quick ACK of the response, FIN (carrying the ACK of the server's FIN); the
//! server SYN-ACK, a quick ACK of the request, response, FIN, ACK of the client's FIN.

use super::net::Hub;
use super::{ClientConfig, Log, SimClient, client, run_changes, server};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, TcpPacket};

/// One segment as a capture shows it: SYN, FIN, whether it carries data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Syn,
    Ack,
    Data,
    Fin,
}

/// The TCP segments node `from` sent, in order.
fn kinds(log: &Log, from: usize) -> Vec<Kind> {
    let kind = |f: &[u8]| {
        let eth = EthernetFrame::new_checked(f).ok()?;
        (eth.ethertype() == EthernetProtocol::Ipv4).then_some(())?;
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        (ip.next_header() == IpProtocol::Tcp).then_some(())?;
        let t = TcpPacket::new_checked(ip.payload()).ok()?;
        Some(match () {
            _ if t.syn() => Kind::Syn,
            _ if t.fin() => Kind::Fin,
            _ if !t.payload().is_empty() => Kind::Data,
            _ => Kind::Ack,
        })
    };
    log.iter()
        .filter(|(_, n, _)| *n == from)
        .filter_map(|(_, _, f)| kind(f))
        .collect()
}

fn one_request(path: &str) -> Log {
    let config = ClientConfig {
        path: path.into(),
        ..client(1)
    };
    run_changes(&mut SimClient::new(config), &mut server(true), &[])
}

#[test]
fn a_short_connection_has_linuxs_segments() {
    use Kind::*;
    let log = one_request("/bytes/1000");
    assert_eq!(kinds(&log, 0), [Syn, Ack, Data, Ack, Fin], "client");
    assert_eq!(kinds(&log, 1), [Syn, Ack, Data, Fin, Ack], "server");
}

#[test]
fn a_multi_segment_response_leaves_as_one_gso_segment_acked_once() {
    use Kind::*;
    // 10 kB: one GSO packet on the lab's veths; the client's quick ACK, and the window
    // update when it has read it (a new connection's window, Linux's 10 segments or the
    // client's 16 KiB, more than doubles): 6 packets a connection, as the lab's director counts.
    let log = one_request("/bytes/10000");
    assert_eq!(kinds(&log, 0), [Syn, Ack, Data, Ack, Ack, Fin], "client");
    assert_eq!(kinds(&log, 1), [Syn, Ack, Data, Fin, Ack], "server");
}

#[test]
fn a_response_cut_to_the_mtu_is_acked_every_second_full_segment() {
    use Kind::*;
    // Through a device without offloads (a `tapvs wire`): 7 frames of at most 1448 bytes,
    // acknowledged when more than one MSS is unacknowledged (after the 2nd, 4th and 6th).
    let config = ClientConfig {
        path: "/bytes/10000".into(),
        ..client(1)
    };
    let (mut c, mut s) = (SimClient::new(config), server(true));
    let mut hub = Hub::new(vec![&mut c, &mut s]);
    (hub.log, hub.cut) = (Some(Vec::new()), true);
    hub.run(Instant::from_secs(60), |_| false);
    let log = hub.log.take().unwrap_or_default();
    let server = kinds(&log, 1);
    assert_eq!(
        server.iter().filter(|k| **k == Data).count(),
        7,
        "{server:?}"
    );
    let client = kinds(&log, 0);
    assert_eq!(client[..3], [Syn, Ack, Data]);
    assert_eq!(client.last(), Some(&Fin));
    let acks = client.iter().filter(|k| **k == Ack).count();
    assert_eq!(
        acks,
        1 + 3,
        "the handshake's and one per two segments: {client:?}"
    );
}

#[test]
fn later_data_of_a_connection_waits_for_a_segment_to_carry_its_ack() {
    use Kind::*;
    let config = ClientConfig {
        path: "/bytes/1000".into(),
        requests_per_conn: 2,
        ..client(2)
    };
    let log = run_changes(&mut SimClient::new(config), &mut server(true), &[]);
    // Only the first response and the first request are acknowledged on their own.
    let client = [Syn, Ack, Data, Ack, Data, Fin];
    assert_eq!(kinds(&log, 0), client, "client");
    assert_eq!(kinds(&log, 1), [Syn, Ack, Data, Data, Fin, Ack], "server");
}

#[test]
fn a_later_gsod_response_is_acked_at_once() {
    use Kind::*;
    // Past quick-ack mode, more than one MSS unacknowledged calls for an ACK at once (Linux's
    // `__tcp_ack_snd_check`): the second 3 kB response is acknowledged before the client's
    // FIN (a delayed ACK would have gone with it), with the window its read reopened.
    let config = ClientConfig {
        path: "/bytes/3000".into(),
        requests_per_conn: 2,
        ..client(2)
    };
    let log = run_changes(&mut SimClient::new(config), &mut server(true), &[]);
    let client = [Syn, Ack, Data, Ack, Data, Ack, Fin];
    assert_eq!(kinds(&log, 0), client, "client");
}
