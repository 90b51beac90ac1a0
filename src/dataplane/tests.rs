//! Data-plane tests with a hand-moved clock: ARP, DR rewrite, connection states and timeouts,
//! scheduling through the table, quiescence, persistence, and garbage in.

use super::counters::DropReason;
use super::*;
use crate::node::settings::NodeSettings;
use crate::wire::build::{self, Endpoints, Flags};
use crate::wire::{ETHERNET_HEADER_LEN, EthernetFrame};
use std::path::Path;

const DIRECTOR_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 0, 2]);
const ROUTER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
const DIRECTOR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
const OUT: Iface = Iface::OUTSIDE;

fn rs_ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 11 + i)
}
fn rs_mac(i: u8) -> EthernetAddress {
    EthernetAddress([0x02, 0, 0, 0, 1, 11 + i])
}

fn config(scheduler: &str, weights: &[u32], extra: &str) -> NodeSettings {
    let mut text = format!(
        "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
         prefix_len = 24\ngateway = \"198.18.0.1\"\n[limits]\nmax_connections = 1000\n{extra}\n\
         [[service]]\nvip = \"198.18.0.100\"\nport = 80\nscheduler = \"{scheduler}\"\n"
    );
    for (i, w) in weights.iter().enumerate() {
        text += &format!(
            "[[service.real_server]]\nname = \"rs{}\"\naddress = \"198.18.0.{}\"\nport = 80\nweight = {w}\n",
            i + 1,
            11 + i
        );
    }
    toml::from_str(&text).unwrap()
}

fn t(ms: i64) -> Instant {
    Instant::from_millis(ms)
}

/// A data plane whose neighbours (router and real servers) are all resolved.
fn resolved(scheduler: &str, weights: &[u32], extra: &str) -> Dataplane {
    let mut dp = Dataplane::new(&config(scheduler, weights, extra).dataplane(), 1);
    let mut f = build::arp_reply(ROUTER_MAC, ROUTER, DIRECTOR_MAC, DIRECTOR);
    assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::Consumed);
    for i in 0..weights.len() as u8 {
        let mut f = build::arp_reply(rs_mac(i), rs_ip(i), DIRECTOR_MAC, DIRECTOR);
        assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::Consumed);
    }
    dp
}

fn client(n: u32, port: u16) -> Endpoints {
    Endpoints {
        src_mac: ROUTER_MAC,
        dst_mac: DIRECTOR_MAC,
        src: Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 19, 0, 0)) + n),
        src_port: port,
        dst: VIP,
        dst_port: 80,
    }
}

/// Sends a segment; returns the real server it went to (by destination MAC), if sent.
fn send(dp: &mut Dataplane, now: i64, ends: Endpoints, flags: Flags) -> Result<u8, Verdict> {
    let mut f = build::tcp_frame(ends, flags, b"");
    match dp.handle_frame(t(now), OUT, &mut f) {
        Verdict::Send(_) => {
            let dst = EthernetFrame::new_checked(&f[..]).unwrap().dst_addr();
            Ok(dst.0[5] - 11)
        }
        v => Err(v),
    }
}

#[test]
fn answers_arp_for_the_vip_and_its_own_address_only_while_active() {
    let mut dp = Dataplane::new(&config("rr", &[1], "").dataplane(), 1);
    for target in [VIP, DIRECTOR] {
        let mut f = build::arp_request(ROUTER_MAC, ROUTER, target);
        assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::Send(OUT));
        let expected = build::arp_reply(DIRECTOR_MAC, target, ROUTER_MAC, ROUTER);
        assert_eq!(f, expected, "request turned into the exact reply in place");
    }
    let mut f = build::arp_request(ROUTER_MAC, ROUTER, Ipv4Addr::new(198, 18, 0, 50));
    assert_eq!(
        dp.handle_frame(t(0), OUT, &mut f),
        Verdict::Dropped(DropReason::ArpIgnored)
    );
    dp.set_active(t(0), false);
    let mut f = build::arp_request(ROUTER_MAC, ROUTER, VIP);
    assert_eq!(
        dp.handle_frame(t(0), OUT, &mut f),
        Verdict::Dropped(DropReason::Inactive)
    );
    let mut f = build::arp_request(ROUTER_MAC, ROUTER, DIRECTOR);
    assert_eq!(
        dp.handle_frame(t(0), OUT, &mut f),
        Verdict::Send(OUT),
        "own address still answered"
    );
    assert_eq!(dp.counters().arp_replies, 3);
}

#[test]
fn without_a_host_stack_it_answers_for_its_own_address_and_consumes_replies_to_it() {
    let mut dp = Dataplane::new(&config("rr", &[1], "").dataplane(), 1);
    let mut f = build::arp_request(ROUTER_MAC, ROUTER, DIRECTOR);
    assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::Send(OUT));
    assert_eq!(
        f,
        build::arp_reply(DIRECTOR_MAC, DIRECTOR, ROUTER_MAC, ROUTER)
    );
    let mut f = build::arp_reply(ROUTER_MAC, ROUTER, DIRECTOR_MAC, DIRECTOR);
    assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::Consumed);
    assert_eq!(dp.counters().to_host, 0);
}

#[test]
fn with_a_host_stack_arp_about_its_own_address_goes_up_and_vips_stay_here() {
    let mut dp = Dataplane::new(&config("rr", &[1], "").dataplane(), 1);
    dp.attach_host_stack();
    // A request for its own address: untouched, for the host stack to answer.
    let request = build::arp_request(ROUTER_MAC, ROUTER, DIRECTOR);
    let mut f = request.clone();
    assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::ToHost);
    assert_eq!(f, request, "the frame goes up as it came");
    // A reply to the host stack's own request: the data plane learns it too.
    let mut f = build::arp_reply(ROUTER_MAC, ROUTER, DIRECTOR_MAC, DIRECTOR);
    assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::ToHost);
    let router = dp.neighbours().index_of(ROUTER).unwrap();
    assert_eq!(
        dp.neighbours().mac(router),
        Some(ROUTER_MAC),
        "learnt first"
    );
    // The VIP is still answered by the data plane, only while active.
    let mut f = build::arp_request(ROUTER_MAC, ROUTER, VIP);
    assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::Send(OUT));
    assert_eq!(f, build::arp_reply(DIRECTOR_MAC, VIP, ROUTER_MAC, ROUTER));
    dp.set_active(t(0), false);
    let mut f = build::arp_request(ROUTER_MAC, ROUTER, VIP);
    assert_eq!(
        dp.handle_frame(t(0), OUT, &mut f),
        Verdict::Dropped(DropReason::Inactive)
    );
    let mut f = build::arp_request(ROUTER_MAC, ROUTER, DIRECTOR);
    assert_eq!(
        dp.handle_frame(t(0), OUT, &mut f),
        Verdict::ToHost,
        "passive too"
    );
    // Anything else is still ignored.
    let mut f = build::arp_request(ROUTER_MAC, ROUTER, Ipv4Addr::new(198, 18, 0, 50));
    assert_eq!(
        dp.handle_frame(t(0), OUT, &mut f),
        Verdict::Dropped(DropReason::ArpIgnored)
    );
    assert_eq!(dp.counters().to_host, 3);
    assert_eq!(dp.counters().arp_replies, 1);
    assert_accounted(&dp);
}

#[test]
fn arp_reply_bytes_match_a_fixed_capture() {
    // who-has 198.18.0.100 tell 198.18.0.1, from 02:00:00:00:00:01 (42 bytes, no padding).
    let mut request: Vec<u8> = vec![
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, //
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, //
        198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 198, 18, 0, 100,
    ];
    let reply: Vec<u8> = vec![
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x74, 0x76, 0x00, 0x00, 0x02, 0x08, 0x06, //
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x74, 0x76, 0x00, 0x00, 0x02, //
        198, 18, 0, 100, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 198, 18, 0, 1,
    ];
    let mut dp = Dataplane::new(&config("rr", &[1], "").dataplane(), 1);
    assert_eq!(dp.handle_frame(t(0), OUT, &mut request), Verdict::Send(OUT));
    assert_eq!(request, reply);
}

#[test]
fn direct_routing_rewrites_macs_and_leaves_the_ip_packet_byte_identical() {
    let mut dp = resolved("rr", &[1, 1, 1], "");
    let original = build::tcp_frame(client(1, 40000), Flags::SYN, b"");
    let mut f = original.clone();
    assert_eq!(dp.handle_frame(t(10), OUT, &mut f), Verdict::Send(OUT));
    let eth = EthernetFrame::new_checked(&f[..]).unwrap();
    assert_eq!(eth.src_addr(), DIRECTOR_MAC);
    assert_eq!(eth.dst_addr(), rs_mac(0));
    assert_eq!(
        &f[12..],
        &original[12..],
        "ethertype and IP packet untouched"
    );
    // The data that follows goes to the same server, payload and all.
    let original = build::tcp_frame(client(1, 40000), Flags::ACK, b"GET / HTTP/1.1\r\n\r\n");
    let mut f = original.clone();
    assert_eq!(dp.handle_frame(t(11), OUT, &mut f), Verdict::Send(OUT));
    assert_eq!(&f[ETHERNET_HEADER_LEN..], &original[ETHERNET_HEADER_LEN..]);
    assert_eq!(
        EthernetFrame::new_checked(&f[..]).unwrap().dst_addr(),
        rs_mac(0)
    );
}

#[test]
fn frames_wait_for_arp_resolution_and_leave_once_it_answers() {
    let mut dp = Dataplane::new(&config("rr", &[1], "").dataplane(), 1);
    let mut buf = [0u8; pending::SLOT_LEN];
    // At start it probes the router and the real server.
    let mut probes = Vec::new();
    while let Some((iface, n)) = dp.poll_transmit(t(0), &mut buf) {
        assert_eq!(iface, OUT);
        let f = EthernetFrame::new_checked(&buf[..n]).unwrap();
        assert!(f.dst_addr().is_broadcast());
        probes.push(buf[ETHERNET_HEADER_LEN + 24..ETHERNET_HEADER_LEN + 28].to_vec());
    }
    assert_eq!(
        probes,
        vec![ROUTER.octets().to_vec(), rs_ip(0).octets().to_vec()]
    );
    let mut f = build::tcp_frame(client(1, 40000), Flags::SYN, b"");
    assert_eq!(dp.handle_frame(t(5), OUT, &mut f), Verdict::Parked);
    assert_eq!(
        dp.poll_transmit(t(5), &mut buf),
        None,
        "no frame until the MAC is known"
    );
    let mut reply = build::arp_reply(rs_mac(0), rs_ip(0), DIRECTOR_MAC, DIRECTOR);
    assert_eq!(dp.handle_frame(t(6), OUT, &mut reply), Verdict::Consumed);
    assert_eq!(
        dp.poll_event(),
        Some(Event::NeighbourResolved {
            ip: rs_ip(0),
            mac: rs_mac(0)
        })
    );
    let (iface, n) = dp
        .poll_transmit(t(6), &mut buf)
        .expect("parked frame released");
    assert_eq!(iface, OUT);
    let out = EthernetFrame::new_checked(&buf[..n]).unwrap();
    assert_eq!(out.dst_addr(), rs_mac(0));
    assert_eq!(out.src_addr(), DIRECTOR_MAC);
    assert_eq!(dp.counters().dequeued, 1);
}

#[test]
fn an_unanswered_neighbour_drops_its_parked_frames_and_counts_them() {
    let mut dp = Dataplane::new(&config("rr", &[1], "").dataplane(), 1);
    let mut buf = [0u8; pending::SLOT_LEN];
    let mut f = build::tcp_frame(client(1, 40000), Flags::SYN, b"");
    assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::Parked);
    let mut now = 0;
    while now <= 4000 {
        while dp.poll_transmit(t(now), &mut buf).is_some() {}
        dp.handle_timeout(t(now));
        now += 100;
    }
    assert_eq!(dp.counters().drops_for(DropReason::NeighbourUnreachable), 1);
    assert!(
        std::iter::from_fn(|| dp.poll_event())
            .any(|e| e == Event::NeighbourFailed { ip: rs_ip(0) })
    );
}

#[test]
fn tcp_states_and_ipvs_timeouts_with_a_hand_moved_clock() {
    let mut dp = resolved("rr", &[1], "");
    let c = client(1, 40000);
    send(&mut dp, 0, c, Flags::SYN).unwrap();
    let idx = dp.conns().find(&key(c)).unwrap();
    assert_eq!(dp.conns().get(idx).state, tcp_state::ConnState::SynRecv);
    assert_eq!(dp.services()[0].views[0].inactive_conns, 1);
    send(&mut dp, 1000, c, Flags::ACK).unwrap();
    assert_eq!(dp.conns().get(idx).state, tcp_state::ConnState::Established);
    assert_eq!(dp.services()[0].views[0].active_conns, 1);
    assert_eq!(dp.services()[0].views[0].inactive_conns, 0);
    // ESTABLISHED lives 900 s after the last packet.
    assert_eq!(dp.conns().get(idx).expires_ms, 1000 + 900_000);
    sweep(&mut dp, 1000 + 899_999);
    assert!(dp.conns().find(&key(c)).is_some());
    sweep(&mut dp, 1000 + 900_000 + SWEEP_EVERY_MS as i64);
    assert!(dp.conns().find(&key(c)).is_none(), "expired after 900 s");
    assert_eq!(dp.services()[0].views[0].active_conns, 0);
    assert_eq!(
        send(&mut dp, 1_000_000, c, Flags::ACK),
        Err(Verdict::Dropped(DropReason::NoConnection))
    );
    // FIN_WAIT lasts 120 s; a SYN on a finished connection schedules afresh.
    send(&mut dp, 2_000_000, c, Flags::SYN).unwrap();
    send(&mut dp, 2_000_001, c, Flags::ACK).unwrap();
    send(&mut dp, 2_000_002, c, Flags::FIN_ACK).unwrap();
    let idx = dp.conns().find(&key(c)).unwrap();
    assert_eq!(dp.conns().get(idx).state, tcp_state::ConnState::FinWait);
    assert_eq!(dp.conns().get(idx).expires_ms, 2_000_002 + 120_000);
    let created = dp.counters().conns_created;
    send(&mut dp, 2_000_003, c, Flags::SYN).unwrap();
    assert_eq!(
        dp.counters().conns_created,
        created + 1,
        "port reuse is a new connection"
    );
}

fn key(c: Endpoints) -> conntrack::ConnKey {
    conntrack::ConnKey {
        protocol: 6,
        client: c.src,
        client_port: c.src_port,
        vip: c.dst,
        vport: c.dst_port,
    }
}

/// One sweep pass (the tables here are smaller than the minimum sweep budget).
fn sweep(dp: &mut Dataplane, now: i64) {
    dp.handle_timeout(t(now));
}

#[test]
fn round_robin_spreads_new_connections_evenly_through_the_table() {
    let mut dp = resolved("rr", &[1, 1, 1], "");
    let mut per_server = [0; 3];
    for n in 0..300 {
        let s = send(&mut dp, 0, client(n, 1024 + n as u16), Flags::SYN).unwrap();
        per_server[s as usize] += 1;
    }
    assert_eq!(per_server, [100, 100, 100]);
    assert_eq!(dp.stats().services[0].servers[2].traffic.conns, 100);
}

#[test]
fn weight_zero_is_quiescent_existing_connections_keep_their_server() {
    let mut dp = resolved("rr", &[1, 1], "");
    let a = client(1, 1000);
    let b = client(2, 1000);
    assert_eq!(send(&mut dp, 0, a, Flags::SYN), Ok(0));
    assert_eq!(send(&mut dp, 0, b, Flags::SYN), Ok(1));
    assert!(dp.set_weight(0, "rs2", 0));
    assert!(!dp.set_weight(0, "nope", 0));
    for n in 10..20 {
        assert_eq!(
            send(&mut dp, 1, client(n, 1000), Flags::SYN),
            Ok(0),
            "no new conn to rs2"
        );
    }
    assert_eq!(
        send(&mut dp, 2, b, Flags::ACK),
        Ok(1),
        "rs2 keeps its connection"
    );
    assert!(dp.set_weight(0, "rs1", 0));
    assert_eq!(
        send(&mut dp, 3, client(99, 1000), Flags::SYN),
        Err(Verdict::Dropped(DropReason::NoServer))
    );
}

#[test]
fn persistence_sends_a_client_network_to_one_server_until_the_template_expires() {
    let extra = "";
    let mut cfg = config("rr", &[1, 1, 1], extra);
    cfg.services[0].persistence_s = 300;
    cfg.services[0].persistence_netmask = Ipv4Addr::new(255, 255, 255, 0);
    let mut dp = Dataplane::new(&cfg.dataplane(), 1);
    for i in 0..3 {
        let mut f = build::arp_reply(rs_mac(i), rs_ip(i), DIRECTOR_MAC, DIRECTOR);
        dp.handle_frame(t(0), OUT, &mut f);
    }
    let first = send(&mut dp, 0, client(1, 1000), Flags::SYN).unwrap();
    for port in 1001..1010 {
        assert_eq!(send(&mut dp, 0, client(1, port), Flags::SYN), Ok(first));
        // Another host of the same /24 sticks too.
        assert_eq!(send(&mut dp, 0, client(2, port), Flags::SYN), Ok(first));
    }
    let other_net = Endpoints {
        src: Ipv4Addr::new(198, 19, 1, 1),
        ..client(0, 1000)
    };
    assert_ne!(
        send(&mut dp, 0, other_net, Flags::SYN),
        Ok(first),
        "rr moves on for a new network"
    );
    // Connections close (RST → CLOSE, 10 s); the template outlives them by its own timeout.
    send(&mut dp, 10, client(1, 1000), Flags::RST).unwrap();
    for port in 1001..1010 {
        send(&mut dp, 10, client(1, port), Flags::RST).unwrap();
        send(&mut dp, 10, client(2, port), Flags::RST).unwrap();
    }
    sweep(&mut dp, 20_000);
    assert_eq!(
        send(&mut dp, 200_000, client(3, 5000), Flags::SYN),
        Ok(first),
        "template alive"
    );
    send(&mut dp, 200_001, client(3, 5000), Flags::RST).unwrap();
    // A pass may meet the template before its last connection and re-arm it (as IPVS does);
    // it is gone one persistence timeout later at most.
    sweep(&mut dp, 200_000 + 300_000 + 20_000);
    sweep(&mut dp, 200_000 + 300_000 + 20_000 + 300_001);
    let tkey = conntrack::ConnKey {
        client: Ipv4Addr::new(198, 19, 0, 0),
        client_port: 0,
        ..key(client(1, 1))
    };
    assert!(dp.conns().find(&tkey).is_none(), "template expired");
}

#[test]
fn a_template_is_kept_while_it_controls_connections() {
    let mut cfg = config("rr", &[1, 1], "");
    cfg.services[0].persistence_s = 300;
    let mut dp = Dataplane::new(&cfg.dataplane(), 1);
    for i in 0..2 {
        let mut f = build::arp_reply(rs_mac(i), rs_ip(i), DIRECTOR_MAC, DIRECTOR);
        dp.handle_frame(t(0), OUT, &mut f);
    }
    let c = client(1, 1000);
    let s = send(&mut dp, 0, c, Flags::SYN).unwrap();
    send(&mut dp, 1, c, Flags::ACK).unwrap();
    // The connection stays busy for 10 minutes; the template must survive it.
    let mut now = 0;
    while now < 600_000 {
        now += 60_000;
        send(&mut dp, now, c, Flags::ACK).unwrap();
        sweep(&mut dp, now);
    }
    assert_eq!(send(&mut dp, now + 1, client(1, 2000), Flags::SYN), Ok(s));
}

#[test]
fn sloppy_picks_up_mid_flow_segments() {
    let mut dp = resolved("rr", &[1], "");
    assert_eq!(
        send(&mut dp, 0, client(1, 1000), Flags::ACK),
        Err(Verdict::Dropped(DropReason::NoConnection))
    );
    let mut cfg = config("rr", &[1], "");
    cfg.limits.sloppy = true;
    let mut dp = Dataplane::new(&cfg.dataplane(), 1);
    let mut f = build::arp_reply(rs_mac(0), rs_ip(0), DIRECTOR_MAC, DIRECTOR);
    dp.handle_frame(t(0), OUT, &mut f);
    assert_eq!(send(&mut dp, 0, client(1, 1000), Flags::ACK), Ok(0));
    let idx = dp.conns().find(&key(client(1, 1000))).unwrap();
    assert_eq!(dp.conns().get(idx).state, tcp_state::ConnState::Established);
}

#[test]
fn udp_flows_are_tracked_with_the_udp_timeout() {
    let mut cfg = config("rr", &[1, 1], "");
    cfg.services[0].protocol = super::settings::Protocol::Udp;
    let mut dp = Dataplane::new(&cfg.dataplane(), 1);
    for i in 0..2 {
        let mut f = build::arp_reply(rs_mac(i), rs_ip(i), DIRECTOR_MAC, DIRECTOR);
        dp.handle_frame(t(0), OUT, &mut f);
    }
    let mut f = build::udp_frame(client(1, 5353), b"q");
    assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::Send(OUT));
    let k = conntrack::ConnKey {
        protocol: 17,
        ..key(client(1, 5353))
    };
    let idx = dp.conns().find(&k).unwrap();
    assert_eq!(dp.conns().get(idx).expires_ms, 300_000);
    let mut f = build::tcp_frame(client(1, 5353), Flags::SYN, b"");
    assert_eq!(
        dp.handle_frame(t(0), OUT, &mut f),
        Verdict::Dropped(DropReason::NoService)
    );
}

#[test]
fn backup_drops_vip_traffic() {
    let mut dp = resolved("rr", &[1], "");
    dp.set_active(t(0), false);
    assert_eq!(
        send(&mut dp, 0, client(1, 1000), Flags::SYN),
        Err(Verdict::Dropped(DropReason::Inactive))
    );
}

#[test]
fn table_full_is_a_counted_drop() {
    let mut dp = resolved("rr", &[1], "[defense]\ndrop_entry = \"off\"");
    let cap = 1000;
    for n in 0..cap {
        send(&mut dp, 0, client(n, 1000), Flags::SYN).unwrap();
    }
    assert_eq!(
        send(&mut dp, 0, client(cap, 1000), Flags::SYN),
        Err(Verdict::Dropped(DropReason::TableFull))
    );
    assert_eq!(dp.counters().drops_for(DropReason::TableFull), 1);
}

/// Every frame handed in is accounted for exactly once.
fn assert_accounted(dp: &Dataplane) {
    let c = dp.counters();
    let later = c.drops_for(DropReason::NeighbourUnreachable);
    assert_eq!(
        c.frames_in,
        c.sent_in_place + c.to_host + c.consumed + c.queued + c.total_drops() - later,
        "{c:?}"
    );
}

#[test]
fn truncations_of_valid_frames_never_panic_and_are_counted() {
    let mut dp = resolved("rr", &[1, 1], "");
    let frames = [
        build::tcp_frame(client(1, 1000), Flags::SYN, b"hello"),
        build::udp_frame(client(1, 1000), b"hello"),
        build::arp_request(ROUTER_MAC, ROUTER, VIP),
    ];
    for f in &frames {
        for len in 0..=f.len() {
            let mut g = f[..len].to_vec();
            dp.handle_frame(t(0), OUT, &mut g);
        }
    }
    assert_accounted(&dp);
    assert!(dp.counters().drops_for(DropReason::Malformed) > 0);
}

mod arp;
mod defense;
mod health;
mod ipvs;
mod vrrp_peers;

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn random_frames_never_panic_and_every_one_is_accounted(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..20),
            mutate in proptest::collection::vec((0usize..80, any::<u8>()), 0..6),
        ) {
            let mut dp = resolved("rr", &[1, 1], "");
            for mut f in frames {
                dp.handle_frame(t(0), OUT, &mut f);
            }
            // Valid frames with a few bytes flipped reach deeper parsers.
            let mut f = build::tcp_frame(client(1, 1000), Flags::SYN, b"x");
            for (at, byte) in mutate {
                let at = at % f.len();
                f[at] = byte;
            }
            dp.handle_frame(t(1), OUT, &mut f);
            dp.handle_timeout(t(5000));
            assert_accounted(&dp);
        }
    }
}

/// Connection sync between two data planes, without the network: what the master exports
/// (established only, never half-open), installed on a backup, forwards there at once to the
/// same real server.
#[test]
fn synced_entries_forward_on_the_backup_to_the_same_server() {
    use crate::sync::node::SyncTable;
    let mut master = resolved("rr", &[1, 1, 1], "");
    let mut backup = resolved("rr", &[1, 1, 1], "");
    master.enable_sync();
    let mut servers = Vec::new();
    for n in 0..6 {
        let c = client(n, 40000);
        servers.push(send(&mut master, 0, c, Flags::SYN).unwrap());
    }
    // Half-open connections are not synced (IPVS never syncs them).
    assert_eq!(master.poll_sync_change(0), None);
    let mut cursor = 0;
    assert_eq!(master.next_entry(&mut cursor, 0), None);
    for n in 0..6 {
        send(&mut master, 10, client(n, 40000), Flags::ACK).unwrap();
    }
    let mut changes = Vec::new();
    while let Some(e) = master.poll_sync_change(10) {
        changes.push(e);
    }
    assert_eq!(changes.len(), 6);
    assert!(
        changes
            .iter()
            .all(|e| e.state == 1 && !e.inactive && e.timeout_s == 900)
    );
    for e in &changes {
        backup.install(10, e).unwrap();
    }
    // The table walk (bulk, refresh) sees the same six.
    let mut cursor = 0;
    let mut walked = 0;
    while master.next_entry(&mut cursor, 10).is_some() {
        walked += 1;
    }
    assert_eq!(walked, 6);
    // Mid-flow segments on the backup go to the master's server for each connection.
    for n in 0..6 {
        let to = send(&mut backup, 20, client(n, 40000), Flags::ACK).unwrap();
        assert_eq!(to, servers[n as usize], "connection {n}");
    }
    assert_eq!(
        backup.services()[0]
            .views
            .iter()
            .map(|v| v.active_conns)
            .sum::<u32>(),
        6
    );
    // A connection nobody synced is dropped there (not sloppy).
    assert_eq!(
        send(&mut backup, 20, client(99, 40000), Flags::ACK),
        Err(Verdict::Dropped(DropReason::NoConnection))
    );
    // An entry for a server this director does not have is refused.
    let stranger = crate::sync::entry::SyncEntry {
        server: Ipv4Addr::new(198, 18, 0, 99),
        ..changes[0]
    };
    assert_eq!(
        backup.install(10, &stranger),
        Err(crate::sync::node::InstallError::NoServer)
    );
}

#[test]
fn a_big_table_is_swept_in_small_steps_that_still_expire_everything_in_time() {
    // Without the flood defence, which would drop or shorten these half-open entries.
    let off = "[defense]\ndrop_entry = \"off\"\nsecure_tcp = \"off\"";
    let mut settings = config("rr", &[1], off);
    settings.limits.max_connections = 200_000;
    let mut dp = Dataplane::new(&settings.dataplane(), 1);
    let mut f = build::arp_reply(rs_mac(0), rs_ip(0), DIRECTOR_MAC, DIRECTOR);
    assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::Consumed);
    let n = 120_000u32;
    for i in 0..n {
        send(&mut dp, 0, client(i, 1024 + (i % 7) as u16), Flags::SYN).unwrap();
    }
    // 120,000 slots: 6,000 a period, in two steps of 3,000, one every 50 ms.
    sweep(&mut dp, 1);
    assert_eq!((dp.next_sweep_ms, dp.next_tick_ms), (51, 101));
    // SYN_RECV lives 60 s: none goes early, and all are gone within the 2 s a full pass takes.
    let mut now = 1;
    while dp.next_sweep_ms < 60_000 {
        now = dp.next_sweep_ms as i64;
        sweep(&mut dp, now);
    }
    assert_eq!(dp.conns().len(), n as usize, "none expires before 60 s");
    while now < 62_100 {
        now = dp.next_sweep_ms as i64;
        sweep(&mut dp, now);
    }
    assert_eq!(dp.conns().len(), 0, "all expire within a pass of the table");
}
