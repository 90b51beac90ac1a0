//! VRRP peers in the director configuration: what `[vrrp] peers` / `unicast` accept, and the
//! unicast peer resolved by ARP like a real server (the director's adverts need its MAC).

use super::*;
use crate::config::DirectorConfig;

const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 0, 3]);

fn vrrp(fields: &str) -> String {
    format!("[vrrp]\nvrid = 51\npriority = 150\n{fields}\n")
}

/// The error for `[vrrp]` with `fields`, if any.
fn refused(fields: &str) -> Option<String> {
    let text = format!(
        "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
         prefix_len = 24\ngateway = \"198.18.0.1\"\n{}\n[[service]]\nvip = \"198.18.0.100\"\n\
         port = 80\nscheduler = \"rr\"\n[[service.real_server]]\nname = \"rs1\"\n\
         address = \"198.18.0.11\"\nport = 80\n",
        vrrp(fields)
    );
    DirectorConfig::parse(Path::new("d1.toml"), &text)
        .err()
        .map(|e| e.to_string())
}

#[test]
fn peers_are_checked() {
    assert_eq!(refused("peers = [\"198.18.0.3\"]\nunicast = true"), None);
    assert_eq!(refused(""), None, "no peers: any source, multicast");
    let cases = [
        (
            "peers = [\"198.18.0.2\"]",
            "vrrp.peers[0]`: is the director's own address",
        ),
        (
            "peers = [\"198.18.5.3\"]",
            "vrrp.peers[0]`: not a host on the outside network",
        ),
        ("peers = [\"224.0.0.18\"]", "vrrp.peers[0]`: not a host"),
        (
            "peers = [\"198.18.0.3\", \"198.18.0.3\"]",
            "vrrp.peers[1]`: listed twice",
        ),
        (
            "unicast = true",
            "vrrp.unicast`: unicast adverts need peers",
        ),
    ];
    for (fields, expected) in cases {
        let err = refused(fields).unwrap_or_default();
        assert!(
            err.contains("d1.toml") && err.contains(expected),
            "{fields}: {err}"
        );
    }
}

#[test]
fn a_unicast_peer_is_probed_from_the_start_and_resolved_by_arp() {
    let dp_config = config(
        "rr",
        &[1],
        &vrrp("peers = [\"198.18.0.3\"]\nunicast = true"),
    );
    let mut dp = Dataplane::new(&dp_config.dataplane(), 1);
    assert_eq!(dp.resolve(t(0), PEER), None, "not known yet");
    // Probed like the router and the real servers from the start.
    let mut buf = vec![0u8; pending::SLOT_LEN];
    let mut asked = Vec::new();
    while let Some((_, n)) = dp.poll_transmit(t(0), &mut buf) {
        let arp = smoltcp::wire::ArpPacket::new_checked(&buf[ETHERNET_HEADER_LEN..n]).unwrap();
        asked.push(Ipv4Addr::from_octets(
            arp.target_protocol_addr().try_into().unwrap(),
        ));
    }
    assert!(asked.contains(&PEER), "asked {asked:?}");
    let mut reply = build::arp_reply(PEER_MAC, PEER, DIRECTOR_MAC, DIRECTOR);
    assert_eq!(dp.handle_frame(t(5), OUT, &mut reply), Verdict::Consumed);
    assert_eq!(dp.resolve(t(5), PEER), Some(PEER_MAC));
    // An address that is not tracked is never resolved here.
    assert_eq!(dp.resolve(t(5), Ipv4Addr::new(198, 18, 0, 4)), None);
}

#[test]
fn multicast_peers_are_not_tracked() {
    let dp_config = config("rr", &[1], &vrrp("peers = [\"198.18.0.3\"]"));
    let dp = Dataplane::new(&dp_config.dataplane(), 1);
    assert_eq!(dp.neighbours().index_of(PEER), None);
}
