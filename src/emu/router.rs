//! The lab's router `rt` as an emulated node: port 0 on the LAN (eth0, 198.18.0.1/24), port 1
//! on the client segment (cl0, 198.18.3.1/24), static routes to the clients' ranges. It
//! answers ARP for its addresses (on either port, like Linux with `arp_ignore=0`), forwards
//! IPv4 between its ports by longest match (TTL decremented, header checksum updated), and
//! finds next hops through a Linux-like neighbour cache ([`super::neigh`], whose doc states the
//! rules). Dropped, each counted by reason ([`RouterStats`]): malformed frames and headers
//! (bad checksum included), TTL expiry, no route, IPv4 to its own addresses, and frames not
//! sent to its MAC; no ICMP is sent. Per-port counters are `ip -s link`'s ([`LinkStats`]).
//! The forwarding path allocates nothing: frames are rewritten in place, or queued in
//! fixed storage while their next hop resolves.

use super::Node;
use super::arp::{self, Arp};
use super::gso::MAX_SUPER_FRAME;
use super::neigh::{ArpIn, NeighParams, Neighbours, Resolve};
use crate::lab::LinkStats;
use crate::wire::Ipv4Packet;
use crate::wire::checksum::{decrement_ttl, ipv4_header_ok};
use crate::wire::{ETHERNET_HEADER_LEN, EthernetAddress, EthernetFrame, EthernetProtocol};
use smoltcp::time::Instant;
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// ARP replies waiting to leave, at most.
const ARP_OUT: usize = 64;

/// One interface of the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterPort {
    pub mac: EthernetAddress,
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
}

/// A static route: the addresses `first..=last` go via `via` (on a connected subnet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    pub via: Ipv4Addr,
}

impl Route {
    /// `net/prefix_len via via`.
    pub fn prefix(net: Ipv4Addr, prefix_len: u8, via: Ipv4Addr) -> Route {
        let (first, last) = span(net, prefix_len);
        Route { first, last, via }
    }
}

/// The first and last address of `net/prefix_len`.
fn span(net: Ipv4Addr, prefix_len: u8) -> (Ipv4Addr, Ipv4Addr) {
    let host = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
    let first = u32::from(net) & !host;
    (Ipv4Addr::from(first), Ipv4Addr::from(first | host))
}

/// How a router is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// Port 0 (LAN) and port 1 (client segment).
    pub ports: [RouterPort; 2],
    pub routes: Vec<Route>,
    pub neigh: NeighParams,
    /// Neighbour cache entries (both ports).
    pub neighbours: usize,
    /// Draws the neighbour cache's `reachable_time`.
    pub seed: u64,
}

/// A route whose next hop is on no connected subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("route {first}-{last}: next hop {via} is on no connected subnet")]
pub struct RouteError {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    pub via: Ipv4Addr,
}

/// What the router dropped, by reason (the per-port counters hold the rest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouterStats {
    pub forwarded: u64,
    /// Too short, bad ARP, bad IPv4 header or checksum, or on a port it has not got.
    pub malformed: u64,
    pub ttl_expired: u64,
    pub no_route: u64,
    /// IPv4 to one of its own addresses (nothing listens).
    pub local: u64,
    /// IPv4 not sent to its MAC (another host's, broadcast, multicast), and other EtherTypes.
    pub not_routed: u64,
}

/// A resolved route: out of `port` to `via` (`None`: the destination itself).
#[derive(Debug, Clone, Copy)]
struct Hop {
    first: u32,
    last: u32,
    port: usize,
    via: Option<Ipv4Addr>,
}

/// The router node.
pub struct Router {
    ports: [RouterPort; 2],
    /// Connected subnets and static routes, most specific first.
    hops: Vec<Hop>,
    pub neigh: Neighbours,
    arp_out: VecDeque<(usize, Arp)>,
    /// Per port, as `ip -s link` counts them.
    pub links: [LinkStats; 2],
    pub stats: RouterStats,
}

impl Router {
    pub fn new(config: &RouterConfig) -> Result<Router, RouteError> {
        let mut hops: Vec<Hop> = (0..2)
            .map(|port| {
                let (first, last) = span(config.ports[port].addr, config.ports[port].prefix_len);
                (first.into(), last.into(), port, None)
            })
            .map(|(first, last, port, via)| Hop {
                first,
                last,
                port,
                via,
            })
            .collect();
        for r in &config.routes {
            let on_link = hops[..2]
                .iter()
                .find(|h| (h.first..=h.last).contains(&u32::from(r.via)));
            let Some(link) = on_link else {
                let (first, last, via) = (r.first, r.last, r.via);
                return Err(RouteError { first, last, via });
            };
            let (first, last) = (u32::from(r.first), u32::from(r.last));
            let (port, via) = (link.port, Some(r.via));
            hops.push(Hop {
                first,
                last,
                port,
                via,
            });
        }
        hops.sort_by_key(|h| h.last.wrapping_sub(h.first));
        Ok(Router {
            ports: config.ports,
            hops,
            neigh: Neighbours::new(config.neigh, config.neighbours, config.seed),
            arp_out: VecDeque::with_capacity(ARP_OUT),
            links: [LinkStats::default(); 2],
            stats: RouterStats::default(),
        })
    }

    fn is_own(&self, ip: Ipv4Addr) -> bool {
        self.ports.iter().any(|p| p.addr == ip)
    }

    /// The port and next hop for `dst`.
    fn route(&self, dst: Ipv4Addr) -> Option<(usize, Ipv4Addr)> {
        let d = u32::from(dst);
        let hop = self.hops.iter().find(|h| (h.first..=h.last).contains(&d))?;
        Some((hop.port, hop.via.unwrap_or(dst)))
    }

    fn handle_arp(&mut self, now: Instant, port: usize, frame: &[u8]) {
        let Some(a) = arp::parse(frame) else {
            self.stats.malformed += 1;
            self.links[port].rx_dropped += 1;
            return;
        };
        let own = self.ports[port];
        let arp_in = ArpIn {
            reply: a.reply,
            sha: a.sha,
            sip: a.sip,
            tha: a.tha,
            tip: a.tip,
            to_us: a.eth_dst == own.mac,
            for_us: self.is_own(a.tip),
        };
        self.neigh.handle_arp(now, port, &arp_in);
        if arp_in.for_us
            && let Some(reply) = arp::answer(&a, own.mac, a.tip)
        {
            if self.arp_out.len() < ARP_OUT {
                self.arp_out.push_back((port, reply));
            } else {
                self.links[port].tx_dropped += 1;
            }
        }
    }

    fn forward(&mut self, now: Instant, port: usize, frame: &mut [u8]) -> Option<usize> {
        let packet = &mut frame[ETHERNET_HEADER_LEN..];
        let ip = match Ipv4Packet::new_checked(&*packet) {
            Ok(ip)
                if ip.version() == 4 && ipv4_header_ok(&packet[..usize::from(ip.header_len())]) =>
            {
                ip
            }
            _ => {
                self.stats.malformed += 1;
                self.links[port].rx_dropped += 1;
                return None;
            }
        };
        let dst = ip.dst_addr();
        if self.is_own(dst) {
            self.stats.local += 1;
            return None;
        }
        let Some((out, next_hop)) = self.route(dst) else {
            self.stats.no_route += 1;
            return None;
        };
        match decrement_ttl(packet) {
            Ok(true) => {}
            Ok(false) => {
                self.stats.ttl_expired += 1;
                return None;
            }
            Err(_) => {
                self.stats.malformed += 1;
                return None;
            }
        }
        let mut eth = EthernetFrame::new_unchecked(&mut *frame);
        eth.set_src_addr(self.ports[out].mac);
        match self.neigh.resolve(now, out, next_hop) {
            Resolve::Mac(mac) => {
                eth.set_dst_addr(mac);
                self.stats.forwarded += 1;
                count_tx(&mut self.links[out], frame.len());
                Some(out)
            }
            Resolve::Queue(entry) => {
                self.stats.forwarded += 1;
                self.neigh.enqueue(entry, frame);
                None
            }
            Resolve::Full => {
                self.links[out].tx_dropped += 1;
                None
            }
        }
    }
}

fn count_tx(link: &mut LinkStats, len: usize) {
    link.tx_packets += 1;
    link.tx_bytes += len as u64;
}

impl Node for Router {
    fn handle_frame(&mut self, now: Instant, port: usize, frame: &mut [u8]) -> Option<usize> {
        let Some(link) = self.links.get_mut(port) else {
            self.stats.malformed += 1;
            return None;
        };
        link.rx_packets += 1;
        link.rx_bytes += frame.len() as u64;
        let Ok(eth) = EthernetFrame::new_checked(&*frame)
            .map_err(drop)
            .and_then(|eth| {
                // Longer than a GSO packet (`emu::gso`): a router would not take it either.
                if frame.len() > MAX_SUPER_FRAME {
                    Err(())
                } else {
                    Ok(eth)
                }
            })
        else {
            self.stats.malformed += 1;
            link.rx_dropped += 1;
            return None;
        };
        let (ethertype, to_us) = (eth.ethertype(), eth.dst_addr() == self.ports[port].mac);
        match ethertype {
            EthernetProtocol::Arp => {
                self.handle_arp(now, port, frame);
                None
            }
            EthernetProtocol::Ipv4 if to_us => self.forward(now, port, frame),
            _ => {
                self.stats.not_routed += 1;
                None
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.neigh.handle_timeout(now);
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        let (port, len) = if let Some((port, reply)) = self.arp_out.pop_front() {
            (port, arp::write(buf, &reply))
        } else if let Some(s) = self.neigh.poll_solicit() {
            let own = self.ports[s.port];
            let request = arp::request(own.mac, own.addr, s.ip, s.to);
            (s.port, arp::write(buf, &request))
        } else {
            self.neigh.poll_flush(buf)?
        };
        count_tx(&mut self.links[port], len);
        Some((port, len))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.neigh.poll_timeout()
    }
}
