//! UDP: `tapvs client --protocol udp` against `tapvs server --udp-listen`, simulated.

use super::{
    Log, SERVER, ServerState, SimClient, SimServer, VIP, client, errors, run_changes, server_config,
};
use crate::client::Protocol;
use crate::emu::host::{ClientConfig, ServerConfig, Sources};
use crate::server::datagram::Query;
use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, Icmpv4Message, Icmpv4Packet, IpProtocol, Ipv4Address,
    Ipv4Packet, UdpPacket,
};

/// rs1 serving UDP port 53, holding `vips` (DR) and answering ARP for them.
fn udp_server(vips: Vec<Ipv4Address>) -> SimServer {
    SimServer::new(ServerConfig {
        vips,
        protocol: Protocol::Udp,
        port: 53,
        ..server_config(false)
    })
}

/// `n` UDP requests from 4 source sockets, 3 in flight, 200-byte answers.
fn udp_client(n: u64, target: Ipv4Address) -> ClientConfig {
    ClientConfig {
        protocol: Protocol::Udp,
        target: (target, 53),
        udp_response_bytes: 200,
        concurrency: 3,
        sources: Sources::Range {
            first: Ipv4Address::new(198, 19, 0, 1),
            count: 4,
        },
        ..client(n)
    }
}

/// Datagrams of `log` from node `from` that match `pick`.
fn count(log: &Log, from: usize, pick: impl Fn(&Ipv4Packet<&[u8]>) -> bool) -> usize {
    let ip = |f: &[u8]| {
        let eth = EthernetFrame::new_checked(f).ok()?;
        (eth.ethertype() == EthernetProtocol::Ipv4).then_some(())?;
        Some(pick(&Ipv4Packet::new_checked(eth.payload()).ok()?))
    };
    log.iter()
        .filter(|(_, n, f)| *n == from && ip(f) == Some(true))
        .count()
}

fn udp_from(ip: &Ipv4Packet<&[u8]>, src: Ipv4Address, port: u16) -> bool {
    ip.next_header() == IpProtocol::Udp
        && ip.src_addr() == src
        && UdpPacket::new_checked(ip.payload()).is_ok_and(|u| u.src_port() == port)
}

#[test]
fn udp_requests_get_the_servers_answer_of_the_size_asked() {
    let mut server = udp_server(vec![]);
    let mut client = SimClient::new(udp_client(30, SERVER));
    let log = run_changes(&mut client, &mut server, &[]);
    let report = client.take_report().expect("a report");
    assert_eq!(report.total.ok, 30, "{:?}", report.total);
    assert_eq!(report.total.servers["rs1"].requests, 30);
    assert_eq!(report.total.bytes, 30 * 200);
    // One "connection" per source socket answered.
    assert_eq!(report.total.new_conns, 4);
    let mut query = Vec::new();
    let request_bytes: usize = (0..30)
        .map(|seq| {
            query.clear();
            Query { seq, bytes: 200 }.emit(&mut query);
            query.len()
        })
        .sum();
    assert_eq!(report.total.request_bytes, request_bytes as u64);
    assert_eq!(report.stray_responses, 0);
    let st = server.stats();
    assert_eq!(
        (st.requests, st.udp_requests, st.udp_malformed),
        (30, 30, 0)
    );
    assert_eq!(count(&log, 1, |ip| udp_from(ip, SERVER, 53)), 30);
    assert_eq!(client.tally(), (30, 0));
}

#[test]
fn a_dr_udp_server_answers_from_the_vip_and_its_own_address() {
    let mut server = udp_server(vec![VIP]);
    let mut client = SimClient::new(udp_client(10, VIP));
    let log = run_changes(&mut client, &mut server, &[]);
    let report = client.take_report().expect("a report");
    assert_eq!(report.total.ok, 10, "{:?}", report.total);
    assert_eq!(count(&log, 1, |ip| udp_from(ip, VIP, 53)), 10);
    // The health checks' address.
    let mut client = SimClient::new(udp_client(10, SERVER));
    let log = run_changes(&mut client, &mut server, &[]);
    assert_eq!(client.take_report().expect("a report").total.ok, 10);
    assert_eq!(count(&log, 1, |ip| udp_from(ip, SERVER, 53)), 10);
}

#[test]
fn a_killed_udp_server_sends_port_unreachable_until_restored() {
    let mut server = udp_server(vec![]);
    let config = ClientConfig {
        concurrency: 1,
        ..udp_client(8, SERVER)
    };
    let mut client = SimClient::new(config);
    let changes = [(0, ServerState::Killed), (1525, ServerState::Up)];
    let log = run_changes(&mut client, &mut server, &changes);
    let report = client.take_report().expect("a report");
    // Three timeouts of 500 ms and their backoffs, then answers.
    assert_eq!(errors(&report, "timeout"), 3, "{:?}", report.total);
    assert_eq!(report.total.ok, 5);
    let unreachable = |ip: &Ipv4Packet<&[u8]>| {
        ip.next_header() == IpProtocol::Icmp
            && ip.dst_addr() == Ipv4Address::new(198, 19, 0, 1)
            && Icmpv4Packet::new_checked(ip.payload())
                .is_ok_and(|i| i.msg_type() == Icmpv4Message::DstUnreachable && i.msg_code() == 3)
    };
    assert!(count(&log, 1, unreachable) >= 1);
    let all_unreachable = count(&log, 1, |ip| ip.next_header() == IpProtocol::Icmp);
    assert_eq!(all_unreachable, 3);
    assert_eq!(server.stats().udp_requests, 5);
}

#[test]
fn a_hung_udp_server_reads_and_never_answers() {
    let mut server = udp_server(vec![]);
    let mut client = SimClient::new(udp_client(6, SERVER));
    run_changes(&mut client, &mut server, &[(0, ServerState::Hung)]);
    let report = client.take_report().expect("a report");
    assert_eq!(errors(&report, "timeout"), 6, "{:?}", report.total);
    assert_eq!(report.total.new_conns, 0);
    let st = server.stats();
    assert_eq!((st.udp_unanswered, st.udp_requests, st.requests), (6, 0, 0));
    assert_eq!(client.tally(), (0, 6));
}
