//! [`SimProbe`]: `tapvs probe` in an emulated lab. It asks each target (a director's status
//! port) for its status line over TCP (connect, read what comes) and over UDP (one datagram,
//! one answer), and after its timeout tells how many of those asks got nothing.

use super::stack::{Addresses, Stack};
use crate::emu::Node;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};

/// What a UDP probe sends (any datagram is answered), as `tapvs probe` does.
const UDP_REQUEST: &[u8] = b"status\n";
/// The probe's own ports: TCP from `FIRST_PORT + i`, UDP the same.
const FIRST_PORT: u16 = 40000;

/// How a probe is set up.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    pub mac: EthernetAddress,
    pub addr: Ipv4Cidr,
    pub gateway: Option<Ipv4Address>,
    /// The status ports asked.
    pub targets: Vec<(Ipv4Address, u16)>,
    pub start: Instant,
    /// Each ask's limit, from `start`.
    pub timeout: Duration,
    pub seed: u64,
}

struct Own(Ipv4Address);

impl Addresses for Own {
    fn accepts(&self, dst: Ipv4Address) -> bool {
        dst == self.0
    }
    fn answers_arp(&self, target: Ipv4Address) -> bool {
        target == self.0
    }
}

/// One target's two asks.
struct Ask {
    target: IpEndpoint,
    tcp: SocketHandle,
    udp: SocketHandle,
    tcp_answered: bool,
    udp_answered: bool,
}

/// A host that probes status ports once.
pub struct SimProbe {
    stack: Stack,
    own: Own,
    asks: Vec<Ask>,
    config: ProbeConfig,
    sent: bool,
}

impl SimProbe {
    pub fn new(config: ProbeConfig) -> SimProbe {
        let mut stack = Stack::new(config.mac, config.addr, config.gateway, config.seed);
        let asks = (config.targets.iter())
            .map(|&(addr, port)| {
                let tcp = tcp::Socket::new(
                    tcp::SocketBuffer::new(vec![0; 4096]),
                    tcp::SocketBuffer::new(vec![0; 64]),
                );
                let buffer =
                    || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 2], vec![0; 4096]);
                let udp = udp::Socket::new(buffer(), buffer());
                Ask {
                    target: IpEndpoint::new(addr.into(), port),
                    tcp: stack.sockets.add(tcp),
                    udp: stack.sockets.add(udp),
                    tcp_answered: false,
                    udp_answered: false,
                }
            })
            .collect();
        SimProbe {
            own: Own(config.addr.address()),
            stack,
            asks,
            config,
            sent: false,
        }
    }

    /// Once every ask is answered or the timeout has passed: how many got no status line.
    pub fn failures(&self, now: Instant) -> Option<u64> {
        let all = self.asks.iter().all(|a| a.tcp_answered && a.udp_answered);
        let over = now >= self.config.start + self.config.timeout;
        (all || over).then(|| {
            let missed = |a: &Ask| u64::from(!a.tcp_answered) + u64::from(!a.udp_answered);
            self.asks.iter().map(missed).sum()
        })
    }

    fn step(&mut self, now: Instant) {
        if !self.sent && now >= self.config.start {
            self.sent = true;
            let cx = self.stack.iface.context();
            for (i, ask) in self.asks.iter().enumerate() {
                let port = FIRST_PORT + i as u16;
                let sock = self.stack.sockets.get_mut::<tcp::Socket>(ask.tcp);
                // A target that cannot be asked stays unanswered (a failure).
                let _ = sock.connect(cx, ask.target, port);
                let sock = self.stack.sockets.get_mut::<udp::Socket>(ask.udp);
                if sock.bind(port).is_ok() {
                    let _ = sock.send_slice(UDP_REQUEST, ask.target);
                }
            }
        }
        for ask in &mut self.asks {
            let sock = self.stack.sockets.get_mut::<tcp::Socket>(ask.tcp);
            if sock.can_recv() {
                let got = sock.recv(|b| (b.len(), b.len())).unwrap_or(0);
                ask.tcp_answered |= got > 0;
            }
            let sock = self.stack.sockets.get_mut::<udp::Socket>(ask.udp);
            while let Ok((data, _)) = sock.recv() {
                ask.udp_answered |= !data.is_empty();
            }
        }
    }
}

impl Node for SimProbe {
    fn handle_frame(&mut self, now: Instant, _port: usize, frame: &mut [u8]) -> Option<usize> {
        self.stack.input(now, frame, &self.own);
        self.step(now);
        self.stack.poll(now);
        None
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.step(now);
        self.stack.poll(now);
        self.step(now);
        self.stack.poll(now);
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        self.stack.transmit(buf).map(|len| (0, len))
    }

    fn next_frame_len(&self) -> Option<usize> {
        self.stack.next_len()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let start = (!self.sent).then_some(self.config.start);
        [start, self.stack.poll_at()].into_iter().flatten().min()
    }
}
