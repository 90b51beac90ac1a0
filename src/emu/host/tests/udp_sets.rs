//! UDP sockets in sets of their own ([`crate::emu::host::conns`]): a datagram reaches the
//! socket smoltcp would have picked in one shared set, and what the sockets queue leaves in
//! the order one shared set would have sent it.

use super::{CLIENT, Own, SERVER};
use crate::emu::host::stack::Stack;
use crate::wire::build::{Endpoints, arp_reply, udp_frame};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, IpEndpoint, IpListenEndpoint, IpProtocol, Ipv4Address,
    Ipv4Cidr, Ipv4Packet, UdpPacket,
};

const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 11]);

fn stack() -> Stack {
    Stack::new(MAC, Ipv4Cidr::new(CLIENT, 24), None, 1)
}

fn socket(addr: Option<Ipv4Address>, port: u16) -> udp::Socket<'static> {
    let buf = || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 4], vec![0; 1024]);
    let mut sock = udp::Socket::new(buf(), buf());
    let _ = sock.bind(IpListenEndpoint {
        addr: addr.map(Into::into),
        port,
    });
    sock
}

/// Every frame the stack has sent.
fn sent(stack: &mut Stack) -> Vec<Vec<u8>> {
    let mut buf = [0; 1514];
    std::iter::from_fn(|| stack.transmit(&mut buf).map(|n| buf[..n].to_vec())).collect()
}

/// The peer's datagram to our `port`.
fn datagram(port: u16) -> Vec<u8> {
    let ends = Endpoints {
        src_mac: PEER_MAC,
        dst_mac: MAC,
        src: SERVER,
        src_port: 53,
        dst: CLIENT,
        dst_port: port,
    };
    udp_frame(ends, b"answer")
}

/// The UDP source port of a frame, or `None` if it is not UDP.
fn udp_source(frame: &[u8]) -> Option<u16> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    (ip.next_header() == IpProtocol::Udp).then_some(())?;
    Some(UdpPacket::new_checked(ip.payload()).ok()?.src_port())
}

#[test]
fn datagrams_leave_in_the_order_of_one_shared_set() {
    // Socket k is bound to port 1000 + k; sockets 0, 2, 3 queue 1, 3 and 2 datagrams to a
    // peer whose MAC is not known yet.
    let queued = [1, 0, 3, 2];
    let (mut shared, mut own) = (stack(), stack());
    let mut ids = Vec::new();
    for k in 0..4u16 {
        let sock = socket(Some(CLIENT), 1000 + k);
        let handle = shared.sockets.add(sock);
        ids.push((handle, own.add_udp(socket(Some(CLIENT), 1000 + k))));
    }
    let to = IpEndpoint::new(SERVER.into(), 53);
    for (&(handle, id), &n) in ids.iter().zip(&queued) {
        for i in 0..n {
            let payload = [i as u8; 8];
            let sock = shared.sockets.get_mut::<udp::Socket>(handle);
            sock.send_slice(&payload, to).expect("room");
            own.udp(id).send_slice(&payload, to).expect("room");
        }
    }
    let start = Instant::from_millis(1);
    shared.poll(start);
    own.poll(start);
    let asked = sent(&mut shared);
    assert_eq!(
        asked.len(),
        1,
        "one ARP request, the sockets wait for the answer"
    );
    assert_eq!(sent(&mut own), asked);
    // The answer: every socket sends, one datagram per socket per pass.
    let answer = arp_reply(PEER_MAC, SERVER, MAC, CLIENT);
    let later = Instant::from_millis(2);
    shared.input(later, &answer, &Own);
    own.input(later, &answer, &Own);
    let (a, b) = (sent(&mut shared), sent(&mut own));
    let ports: Vec<_> = a.iter().filter_map(|f| udp_source(f)).collect();
    assert_eq!(ports, [1000, 1002, 1003, 1002, 1003, 1002]);
    assert_eq!(b, a);
    assert_eq!((own.poll_at(), shared.poll_at()), (None, None));
}

#[test]
fn a_datagram_reaches_the_first_socket_bound_to_its_address_or_port() {
    let mut stack = stack();
    let any_53 = stack.add_udp(socket(None, 53));
    let own_53 = stack.add_udp(socket(Some(CLIENT), 53));
    let own_54 = stack.add_udp(socket(Some(CLIENT), 54));
    let now = Instant::from_millis(1);
    // The peer is a known neighbour (an ICMP answer goes out at once).
    stack.input(now, &arp_reply(PEER_MAC, SERVER, MAC, CLIENT), &Own);
    let mut woken = Vec::new();
    let mut deliver = |stack: &mut Stack, port| {
        stack.input(now, &datagram(port), &Own);
        stack.take_woken(&mut woken);
        let got = woken.iter().copied().filter(|&id| stack.udp(id).can_recv());
        let got: Vec<_> = got.collect();
        for &id in &got {
            let _ = stack.udp(id).recv();
        }
        got
    };
    assert_eq!(deliver(&mut stack, 53), [any_53]);
    assert_eq!(deliver(&mut stack, 54), [own_54]);
    // Closed, the first socket takes nothing: the next one bound to the port does (its
    // binding is filed again at the next poll).
    stack.udp(any_53).close();
    stack.poll(now);
    assert_eq!(deliver(&mut stack, 53), [own_53]);
    // No socket on the port: ICMP port unreachable, as from one shared set.
    assert!(deliver(&mut stack, 55).is_empty());
    let icmp = sent(&mut stack).into_iter().filter(|f| {
        let eth = EthernetFrame::new_checked(&f[..]).expect("ethernet");
        Ipv4Packet::new_checked(eth.payload()).is_ok_and(|ip| ip.next_header() == IpProtocol::Icmp)
    });
    assert_eq!(icmp.count(), 1);
}
