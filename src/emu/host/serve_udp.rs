//! The UDP sockets of a [`super::SimServer`]: `tapvs server --udp-listen`'s loop
//! (`src/server/udp.rs`) on smoltcp UDP sockets. Each well-formed request datagram gets one
//! answer datagram (`crate::server::datagram`) to its sender, from the address the socket is
//! bound to; a socket bound to no address answers from the host's own address, as the kernel
//! picks the source of an unbound socket's datagram (hence a DR server binds the VIP).
//!
//! Every datagram read lands in exactly one counter: answered, malformed, or unanswered (the
//! server hangs, or the answer did not fit the socket). While the process is dead the sockets
//! are closed: smoltcp then answers a datagram to the port with ICMP port unreachable, as
//! Linux does (Linux rate-limits those, smoltcp does not).

use super::serve::ServerStats;
use crate::server::datagram::{self, MAX_DATAGRAM, Query};
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::udp;
use smoltcp::wire::IpListenEndpoint;

/// Datagrams a socket holds each way before the server or the stack takes them.
const PACKETS: usize = 16;

/// The server's UDP sockets and where they bind.
#[derive(Debug)]
pub struct UdpServe {
    sockets: Vec<(SocketHandle, IpListenEndpoint)>,
    out: Vec<u8>,
}

impl UdpServe {
    /// One socket per endpoint in `binds`, bound at once.
    pub fn new(set: &mut SocketSet<'static>, binds: &[IpListenEndpoint]) -> Self {
        let sockets = binds
            .iter()
            .map(|&bind| {
                let sock = udp::Socket::new(
                    udp::PacketBuffer::new(
                        vec![udp::PacketMetadata::EMPTY; PACKETS],
                        vec![0; PACKETS * 1500],
                    ),
                    udp::PacketBuffer::new(
                        vec![udp::PacketMetadata::EMPTY; PACKETS],
                        vec![0; PACKETS * MAX_DATAGRAM],
                    ),
                );
                (set.add(sock), bind)
            })
            .collect();
        let mut serve = Self {
            sockets,
            out: Vec::with_capacity(MAX_DATAGRAM),
        };
        serve.open(set);
        serve
    }

    /// Binds every socket (the process starts).
    pub fn open(&mut self, set: &mut SocketSet<'static>) {
        for &(handle, bind) in &self.sockets {
            let sock = set.get_mut::<udp::Socket>(handle);
            if !sock.is_open() {
                // Port 0 does not bind: that socket then never receives.
                let _ = sock.bind(bind);
            }
        }
    }

    /// Closes every socket (the process dies): what they held is gone, the ports are closed.
    pub fn close(&mut self, set: &mut SocketSet<'static>) {
        for &(handle, _) in &self.sockets {
            set.get_mut::<udp::Socket>(handle).close();
        }
    }

    /// Reads every request datagram and answers it as server `name` (unless `hanging`).
    pub fn step(
        &mut self,
        set: &mut SocketSet<'static>,
        name: &str,
        hanging: bool,
        st: &mut ServerStats,
    ) {
        for &(handle, _) in &self.sockets {
            let sock = set.get_mut::<udp::Socket>(handle);
            while let Ok((query, peer)) = sock.recv().map(|(d, m)| (Query::parse(d), m.endpoint)) {
                let counter = match query {
                    Err(_) => &mut st.udp_malformed,
                    Ok(_) if hanging => &mut st.udp_unanswered,
                    Ok(query) => {
                        self.out.clear();
                        datagram::emit_answer(&query, name, &mut self.out);
                        match sock.send_slice(&self.out, peer) {
                            Ok(()) => {
                                st.requests += 1;
                                &mut st.udp_requests
                            }
                            Err(_) => &mut st.udp_unanswered,
                        }
                    }
                };
                *counter += 1;
            }
        }
    }
}
