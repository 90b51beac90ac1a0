//! Live changes through the IPVS administration (`ipvsadm` against a running director):
//! weights, servers and services added and deleted under traffic, with stable indices,
//! connections that run out on a deleted server, health keeping the administrator's weight,
//! zeroing, timeouts, and the snapshot's counters.

use super::*;
use crate::dataplane::ipvs::{IpvsError, ServerSpec, ServiceKey, ServiceSpec, Timeouts};
use crate::dataplane::settings::{Forwarding, Protocol};

const KEY: ServiceKey = ServiceKey {
    protocol: Protocol::Tcp,
    addr: VIP,
    port: 80,
};

fn dr(i: u8, weight: u32) -> ServerSpec {
    ServerSpec {
        addr: rs_ip(i),
        port: 80,
        forwarding: Forwarding::Dr,
        weight,
    }
}

fn resolve(dp: &mut Dataplane, i: u8) {
    let mut f = build::arp_reply(rs_mac(i), rs_ip(i), DIRECTOR_MAC, DIRECTOR);
    dp.handle_frame(t(0), OUT, &mut f);
}

fn weights(dp: &mut Dataplane) -> Vec<(Ipv4Addr, u32)> {
    let table = dp.ipvs_table(t(0), false);
    table.services[0]
        .dests
        .iter()
        .map(|d| (d.addr, d.weight))
        .collect()
}

#[test]
fn an_edited_weight_steers_new_connections_at_once() {
    let mut dp = resolved("wrr", &[1, 1], "");
    dp.edit_server(&KEY, &dr(1, 0)).unwrap();
    for n in 0..6 {
        assert_eq!(send(&mut dp, 0, client(n, 2000), Flags::SYN), Ok(0));
    }
    dp.edit_server(&KEY, &dr(1, 3)).unwrap();
    let to_rs2 = (10..18)
        .filter(|&n| send(&mut dp, 10, client(n, 2000), Flags::SYN) == Ok(1))
        .count();
    assert_eq!(to_rs2, 6, "wrr 1:3 over 8 new connections");
    assert_eq!(weights(&mut dp), [(rs_ip(0), 1), (rs_ip(1), 3)]);
    assert_eq!(dp.edit_server(&KEY, &dr(5, 1)), Err(IpvsError::NoSuchDest));
}

#[test]
fn a_deleted_server_keeps_its_connections_until_they_end_and_comes_back_in_its_slot() {
    let mut dp = resolved("rr", &[1, 1], "");
    assert_eq!(send(&mut dp, 0, client(0, 2000), Flags::SYN), Ok(0));
    assert_eq!(send(&mut dp, 0, client(1, 2000), Flags::SYN), Ok(1));
    dp.delete_server(&KEY, rs_ip(1), 80).unwrap();
    assert_eq!(weights(&mut dp), [(rs_ip(0), 1)], "not listed");
    // Its open connection goes on (expire_nodest_conn off); new ones go elsewhere.
    assert_eq!(send(&mut dp, 10, client(1, 2000), Flags::ACK), Ok(1));
    for n in 2..6 {
        assert_eq!(send(&mut dp, 10, client(n, 2000), Flags::SYN), Ok(0));
    }
    assert_eq!(
        dp.delete_server(&KEY, rs_ip(1), 80),
        Err(IpvsError::NoSuchDest)
    );
    // Added again: the same slot (index 1), with its connection still counted there.
    dp.add_server(&KEY, &dr(1, 2)).unwrap();
    assert_eq!(dp.services()[0].servers.len(), 2);
    let v = dp.services()[0].views[1];
    assert_eq!(v.active_conns + v.inactive_conns, 1);
    assert_eq!(weights(&mut dp), [(rs_ip(0), 1), (rs_ip(1), 2)]);
    assert_eq!(dp.add_server(&KEY, &dr(1, 2)), Err(IpvsError::DestExists));
}

#[test]
fn a_new_server_takes_a_new_slot_and_traffic_once_resolved() {
    let mut dp = resolved("rr", &[1], "");
    dp.add_server(&KEY, &dr(1, 1)).unwrap();
    resolve(&mut dp, 1);
    let servers: Vec<_> = (0..4)
        .map(|n| send(&mut dp, 0, client(n, 2000), Flags::SYN))
        .collect();
    assert_eq!(servers, [Ok(0), Ok(1), Ok(0), Ok(1)]);
    // Masquerading cannot join a direct-routing service that has servers, nor a director
    // started without NAT.
    let nat = ServerSpec {
        forwarding: Forwarding::Nat,
        ..dr(2, 1)
    };
    assert!(matches!(
        dp.add_server(&KEY, &nat),
        Err(IpvsError::Unsupported(_))
    ));
}

#[test]
fn services_are_added_edited_deleted_and_cleared_live() {
    let mut dp = resolved("rr", &[1, 1], "");
    let spec = |port, scheduler: &str, persistence_s| ServiceSpec {
        key: ServiceKey { port, ..KEY },
        scheduler: scheduler.to_string(),
        persistence_s,
        netmask: Ipv4Addr::BROADCAST,
    };
    assert_eq!(
        dp.add_service(&spec(80, "rr", 0)),
        Err(IpvsError::ServiceExists)
    );
    assert_eq!(
        dp.add_service(&spec(81, "lblc", 0)),
        Err(IpvsError::NoScheduler)
    );
    dp.add_service(&spec(81, "wlc", 0)).unwrap();
    dp.edit_service(&spec(80, "wrr", 300)).unwrap();
    let table = dp.ipvs_table(t(0), false);
    let listed: Vec<_> = table
        .services
        .iter()
        .map(|s| (s.key.port, s.scheduler.as_str(), s.persistence_s))
        .collect();
    assert_eq!(listed, [(80, "wrr", 300), (81, "wlc", 0)]);
    // A connection open before the service goes keeps its server; none opens after.
    assert_eq!(send(&mut dp, 0, client(0, 2000), Flags::SYN), Ok(0));
    dp.delete_service(&KEY).unwrap();
    assert_eq!(send(&mut dp, 10, client(0, 2000), Flags::ACK), Ok(0));
    assert_eq!(
        send(&mut dp, 10, client(1, 2000), Flags::SYN),
        Err(Verdict::Dropped(DropReason::NoServer))
    );
    assert_eq!(dp.delete_service(&KEY), Err(IpvsError::NoSuchService));
    assert_eq!(
        dp.add_server(&KEY, &dr(0, 1)),
        Err(IpvsError::ServiceNotDefined)
    );
    // Back in its slot, empty until servers are added.
    dp.add_service(&spec(80, "rr", 0)).unwrap();
    assert!(dp.ipvs_table(t(0), false).services[0].dests.is_empty());
    dp.add_server(&KEY, &dr(1, 1)).unwrap();
    assert_eq!(send(&mut dp, 20, client(2, 2000), Flags::SYN), Ok(1));
    dp.clear();
    assert!(dp.ipvs_table(t(0), false).services.is_empty());
}

#[test]
fn health_holds_a_down_server_at_zero_and_gives_back_the_admin_weight() {
    let mut dp = resolved("wrr", &[1, 1], "");
    assert!(dp.set_server_health(0, 1, false));
    dp.edit_server(&KEY, &dr(1, 5)).unwrap();
    assert_eq!(weights(&mut dp)[1], (rs_ip(1), 0), "still down");
    assert!(dp.set_server_health(0, 1, true));
    assert_eq!(
        weights(&mut dp)[1],
        (rs_ip(1), 5),
        "the admin's weight, not 1"
    );
    dp.edit_server(&KEY, &dr(1, 0)).unwrap();
    assert!(dp.set_server_health(0, 1, true));
    assert_eq!(
        weights(&mut dp)[1],
        (rs_ip(1), 0),
        "a check does not undo a drain"
    );
}

#[test]
fn counters_rates_zero_and_timeouts() {
    let mut dp = resolved("rr", &[1, 1], "");
    for n in 0..4 {
        assert!(send(&mut dp, 0, client(n, 2000), Flags::SYN).is_ok());
    }
    let table = dp.ipvs_table(t(100), true);
    let s = &table.services[0];
    assert_eq!((s.stats.conns, s.stats.inpkts, s.stats.outpkts), (4, 4, 0));
    // IP bytes: a bare SYN is 40 (no Ethernet header).
    assert_eq!(s.stats.inbytes, 4 * 40);
    assert_eq!(s.dests[1].stats.conns, 2);
    assert_eq!(table.conns.len(), 4);
    assert_eq!(table.conns[0].state, "SYN_RECV");
    assert_eq!(table.size, 1000);
    // The estimator's first tick (at the snapshot above) took the 4 SYNs as 2/s; 40 more
    // in the next 2 s are 20/s, and the average moves a quarter of the way: 0.5 + 4.9 = 5.4.
    for n in 10..50 {
        assert!(send(&mut dp, 1000, client(n, 2000), Flags::SYN).is_ok());
    }
    let r = dp.ipvs_table(t(2100), false).services[0].stats.rates;
    assert_eq!((r.cps, r.inpps), (5, 5));
    dp.zero(None).unwrap();
    let s = &dp.ipvs_table(t(2200), false).services[0];
    assert_eq!((s.stats.conns, s.stats.rates.cps), (0, 0));
    dp.set_timeouts(Timeouts {
        tcp: 60,
        tcpfin: 0,
        udp: 0,
    });
    assert_eq!(
        dp.timeouts(),
        Timeouts {
            tcp: 60,
            tcpfin: 120,
            udp: 300
        }
    );
    assert_eq!(send(&mut dp, 3000, client(0, 2000), Flags::ACK), Ok(0));
    let conn = dp.ipvs_table(t(3000), true).conns;
    let c = conn
        .iter()
        .find(|c| c.client_port == 2000 && c.state == "ESTABLISHED");
    assert_eq!(c.map(|c| c.expires_s), Some(60));
}
