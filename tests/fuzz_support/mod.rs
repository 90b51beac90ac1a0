//! Generators for the fuzz tests: frames built from templates of every kind the data plane
//! meets (patched at random, then sometimes mutated), byte mutations, and scenario-file edits.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use smoltcp::wire::Icmpv4Packet;
use std::net::Ipv4Addr;
use tapvs::dataplane::Iface;
use tapvs::wire::build::{self, Endpoints, Flags};
use tapvs::wire::{ETHERNET_HEADER_LEN, EthernetAddress, Ipv4Packet};

const DIRECTOR_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 0, 2]);
const INSIDE_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 1, 2]);
const ROUTER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DIRECTOR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);

/// The seed of a run: `TAPVS_FUZZ_SEED`, or a fixed one.
pub fn seed_from_env() -> u64 {
    std::env::var("TAPVS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7a9f5)
}

/// A count from the environment, or `default`.
pub fn count_from_env(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// How a template is patched before it goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Patch {
    /// A client's TCP segment to the VIP: client address, port and flags drawn.
    ClientTcp,
    /// A client's UDP datagram to the VIP: client address and port drawn.
    ClientUdp,
    /// A real server's answer to a client: client address and port drawn.
    ServerReply,
    /// Sent as built.
    None,
}

struct Template {
    iface: Iface,
    bytes: Vec<u8>,
    patch: Patch,
}

/// Frames of every kind the data plane meets, from fixed templates.
pub struct FrameGen {
    templates: Vec<Template>,
}

fn mac_of(ip: Ipv4Addr) -> EthernetAddress {
    let o = ip.octets();
    EthernetAddress([0x02, 0, 0, o[2], 1, o[3]])
}

impl FrameGen {
    pub fn new(two_armed: bool) -> FrameGen {
        let net = if two_armed { 1 } else { 0 };
        let rs = |i: u8| Ipv4Addr::new(198, 18, net, 11 + i);
        let inside = if two_armed {
            Iface::INSIDE
        } else {
            Iface::OUTSIDE
        };
        let to_director = if two_armed { INSIDE_MAC } else { DIRECTOR_MAC };
        let client = Endpoints {
            src_mac: ROUTER_MAC,
            dst_mac: DIRECTOR_MAC,
            src: Ipv4Addr::new(198, 19, 0, 1),
            src_port: 1000,
            dst: VIP,
            dst_port: 80,
        };
        let mut t = Vec::new();
        let mut add = |iface, bytes, patch| {
            t.push(Template {
                iface,
                bytes,
                patch,
            })
        };
        let out = Iface::OUTSIDE;
        for _ in 0..6 {
            add(
                out,
                build::tcp_frame(client, Flags::SYN, b""),
                Patch::ClientTcp,
            );
        }
        add(
            out,
            build::tcp_frame(client, Flags::ACK, b"GET / HTTP/1.1\r\n\r\n"),
            Patch::ClientTcp,
        );
        let udp = Endpoints {
            dst_port: 53,
            ..client
        };
        add(out, build::udp_frame(udp, b"query"), Patch::ClientUdp);
        add(
            out,
            build::tcp_frame(
                Endpoints {
                    dst_port: 81,
                    ..client
                },
                Flags::SYN,
                b"",
            ),
            Patch::ClientTcp,
        );
        for i in 0..3 {
            let reply = Endpoints {
                src_mac: mac_of(rs(i)),
                dst_mac: to_director,
                src: rs(i),
                src_port: 80,
                dst: client.src,
                dst_port: 1000,
            };
            add(
                inside,
                build::tcp_frame(reply, Flags::ACK, b"HTTP/1.1 200 OK\r\n"),
                Patch::ServerReply,
            );
            add(
                inside,
                build::udp_frame(
                    Endpoints {
                        src_port: 53,
                        ..reply
                    },
                    b"answer",
                ),
                Patch::ServerReply,
            );
            add(
                inside,
                build::arp_reply(
                    mac_of(rs(i)),
                    rs(i),
                    to_director,
                    Ipv4Addr::new(198, 18, net, 2),
                ),
                Patch::None,
            );
            add(out, icmp_error(rs(i), client.src), Patch::None);
        }
        add(
            out,
            build::arp_reply(ROUTER_MAC, ROUTER, DIRECTOR_MAC, DIRECTOR),
            Patch::None,
        );
        for target in [
            VIP,
            DIRECTOR,
            Ipv4Addr::new(198, 18, 0, 50),
            Ipv4Addr::new(198, 18, 1, 1),
        ] {
            add(
                out,
                build::arp_request(ROUTER_MAC, ROUTER, target),
                Patch::None,
            );
            add(
                inside,
                build::arp_request(mac_of(rs(0)), rs(0), target),
                Patch::None,
            );
        }
        let mut rarp = build::arp_reply(
            EthernetAddress([2, 0xee, 0, 0, 0, 1]),
            rs(0),
            DIRECTOR_MAC,
            DIRECTOR,
        );
        rarp[ETHERNET_HEADER_LEN + 7] = 3;
        add(inside, rarp, Patch::None);
        let mut vrrp = vec![0u8; 128];
        let repr = tapvs::wire::vrrp::VrrpRepr {
            vrid: 51,
            priority: 255,
            max_advert_int_cs: 10,
            addresses: tapvs::wire::vrrp::AddressList::from_slice(&[VIP]).unwrap(),
        };
        let n = tapvs::wire::vrrp::emit_frame(
            &mut vrrp,
            ROUTER_MAC,
            Ipv4Addr::new(198, 18, 0, 3),
            &repr,
        )
        .unwrap();
        vrrp.truncate(n);
        add(out, vrrp, Patch::None);
        let mut sync = vec![0u8; 200];
        let n = tapvs::wire::sync_frame::emit_frame(
            &mut sync,
            ROUTER_MAC,
            Ipv4Addr::new(198, 18, 0, 3),
            8,
        );
        sync.truncate(n);
        add(out, sync, Patch::None);
        let to_host = Endpoints {
            dst: DIRECTOR,
            dst_port: 7070,
            ..client
        };
        add(out, build::tcp_frame(to_host, Flags::SYN, b""), Patch::None);
        let mut fragment = build::tcp_frame(client, Flags::SYN, b"x");
        fragment[ETHERNET_HEADER_LEN + 6] = 0x20; // more fragments
        fix_ip_checksum(&mut fragment);
        add(out, fragment, Patch::None);
        let mut ttl1 = build::tcp_frame(client, Flags::SYN, b"");
        ttl1[ETHERNET_HEADER_LEN + 8] = 1;
        fix_ip_checksum(&mut ttl1);
        add(out, ttl1, Patch::ClientTcp);
        let mut bad_sum = build::udp_frame(udp, b"q");
        bad_sum[ETHERNET_HEADER_LEN + 10] ^= 0xff;
        add(out, bad_sum, Patch::None);
        let mut ipv6 = build::udp_frame(udp, b"q");
        ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
        add(out, ipv6, Patch::None);
        let mut other_mac = build::udp_frame(udp, b"q");
        other_mac[5] = 0x99;
        add(out, other_mac, Patch::None);
        FrameGen { templates: t }
    }

    /// Writes the next frame into `buf`; returns its interface and length.
    pub fn next(&mut self, rng: &mut ChaCha8Rng, buf: &mut [u8]) -> (Iface, usize) {
        let t = &self.templates[rng.random_range(0..self.templates.len())];
        let len = t.bytes.len();
        buf[..len].copy_from_slice(&t.bytes);
        let ip = ETHERNET_HEADER_LEN;
        let l4 = ip + 20;
        let client = [rng.random_range(0..16u8), rng.random()];
        let port = rng.random_range(1000..1064u16).to_be_bytes();
        match t.patch {
            Patch::ClientTcp | Patch::ClientUdp => {
                buf[ip + 14..ip + 16].copy_from_slice(&client);
                buf[l4..l4 + 2].copy_from_slice(&port);
            }
            Patch::ServerReply => {
                buf[ip + 18..ip + 20].copy_from_slice(&client);
                buf[l4 + 2..l4 + 4].copy_from_slice(&port);
            }
            Patch::None => {}
        }
        if t.patch == Patch::ClientTcp {
            // SYN, ACK, PSH+ACK, FIN+ACK, RST, SYN+ACK, nothing, everything.
            const FLAGS: [u8; 8] = [0x02, 0x10, 0x18, 0x11, 0x04, 0x12, 0x00, 0x3f];
            buf[l4 + 13] = FLAGS[rng.random_range(0..FLAGS.len())];
        }
        if t.patch != Patch::None {
            fix_ip_checksum(&mut buf[..len]);
        }
        (t.iface, len)
    }
}

/// A router's "port unreachable" about a packet `server` → `client` (an ICMP error the director
/// must match to a connection).
fn icmp_error(server: Ipv4Addr, client: Ipv4Addr) -> Vec<u8> {
    let quoted = build::udp_frame(
        Endpoints {
            src_mac: ROUTER_MAC,
            dst_mac: DIRECTOR_MAC,
            src: server,
            src_port: 53,
            dst: client,
            dst_port: 1000,
        },
        b"",
    );
    let quote = &quoted[ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + 28];
    let mut f = build::udp_frame(
        Endpoints {
            src_mac: ROUTER_MAC,
            dst_mac: DIRECTOR_MAC,
            src: ROUTER,
            src_port: 0,
            dst: VIP,
            dst_port: 0,
        },
        &[0u8; 28],
    );
    let ip = ETHERNET_HEADER_LEN;
    f[ip + 9] = 1; // ICMP
    let icmp = &mut f[ip + 20..];
    icmp[..8].copy_from_slice(&[3, 3, 0, 0, 0, 0, 0, 0]);
    icmp[8..36].copy_from_slice(quote);
    Icmpv4Packet::new_unchecked(&mut icmp[..36]).fill_checksum();
    f.truncate(ip + 20 + 36);
    let total = (20 + 36) as u16;
    f[ip + 2..ip + 4].copy_from_slice(&total.to_be_bytes());
    fix_ip_checksum(&mut f);
    f
}

fn fix_ip_checksum(frame: &mut [u8]) {
    if let Ok(mut ip) = Ipv4Packet::new_checked(&mut frame[ETHERNET_HEADER_LEN..]) {
        ip.fill_checksum();
    }
}

/// Mutates the frame `buf[..len]` in place (the buffer may grow it); returns the new length.
pub fn mutate(rng: &mut ChaCha8Rng, buf: &mut [u8], len: usize) -> usize {
    match rng.random_range(0..7u8) {
        // A few bytes of the headers flipped.
        0 | 1 => {
            for _ in 0..rng.random_range(1..5) {
                let at = rng.random_range(0..len.clamp(1, 80));
                buf[at] = rng.random();
            }
            len.max(1)
        }
        // Cut anywhere.
        2 => rng.random_range(0..=len),
        // Random bytes appended (up to a 64 KiB super-frame).
        3 => {
            let extra = if rng.random_ratio(1, 20) {
                rng.random_range(0..(buf.len() - len).min(65_000))
            } else {
                rng.random_range(0..64)
            };
            rng.fill(&mut buf[len..len + extra]);
            len + extra
        }
        // The IPv4 length fields lie.
        4 if len > ETHERNET_HEADER_LEN + 4 => {
            buf[ETHERNET_HEADER_LEN] = rng.random();
            buf[ETHERNET_HEADER_LEN + 2] = rng.random();
            buf[ETHERNET_HEADER_LEN + 3] = rng.random();
            len
        }
        // Noise.
        5 => {
            let n = rng.random_range(0..200);
            rng.fill(&mut buf[..n]);
            n
        }
        _ => {
            // One bit of anything.
            if len > 0 {
                let at = rng.random_range(0..len);
                buf[at] ^= 1 << rng.random_range(0..8);
            }
            len
        }
    }
}

/// Values that scenario fields should refuse or take: wrong types, edges, a very long string.
const ODD_VALUES: [&str; 16] = [
    "-1",
    "0",
    "\"\"",
    "\"x\"",
    "1e309",
    "[]",
    "{}",
    "\"999999h\"",
    "true",
    "\"198.18.0.300\"",
    "\"0s\"",
    "4294967296",
    "\"8.8.8.8\"",
    "\"-5ms\"",
    "[1, \"a\"]",
    "\"\u{1F600}\"",
];

/// One random edit of a scenario file, keeping it text.
pub fn mutate_toml(rng: &mut ChaCha8Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        return String::new();
    }
    for _ in 0..rng.random_range(1..4) {
        let i = rng.random_range(0..lines.len());
        match rng.random_range(0..6u8) {
            0 => {
                lines.remove(i);
                if lines.is_empty() {
                    break;
                }
            }
            1 => lines.insert(i, lines[i].clone()),
            2 => {
                let j = rng.random_range(0..lines.len());
                lines.swap(i, j);
            }
            3 | 4 => {
                if let Some((key, _)) = lines[i].split_once('=') {
                    let value = if rng.random_ratio(1, 8) {
                        format!("\"{}\"", "n".repeat(rng.random_range(100..100_000)))
                    } else {
                        ODD_VALUES[rng.random_range(0..ODD_VALUES.len())].to_owned()
                    };
                    lines[i] = format!("{key}= {value}");
                }
            }
            _ => {
                let cut = rng.random_range(0..=lines[i].len());
                let cut = (0..=cut)
                    .rev()
                    .find(|c| lines[i].is_char_boundary(*c))
                    .unwrap_or(0);
                lines[i].truncate(cut);
            }
        }
    }
    lines.join("\n")
}
