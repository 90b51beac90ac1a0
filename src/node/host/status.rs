//! The status port of the host stack: a TCP connection gets the status line and is closed, a
//! UDP datagram gets the status line back. A few TCP listeners serve connections one after
//! another; each listens again as soon as its connection is over.

use super::HostCounters;
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};

/// TCP listeners, so that a few concurrent connects are served.
const LISTENERS: usize = 4;
/// Bytes a TCP listener can hold for sending: the longest status line served, newline included.
const TCP_TX: usize = 1024;
const TCP_RX: usize = 256;
const UDP_PACKETS: usize = 8;
/// A connection that is not over this long after it began is aborted and the listener reused.
const CONN_DEADLINE: Duration = Duration::from_secs(5);

/// One TCP listener and when its current connection began (it left LISTEN).
struct Listener {
    handle: SocketHandle,
    since: Option<Instant>,
}

/// The status service on one interface.
pub struct Status {
    port: u16,
    listeners: Vec<Listener>,
    udp: SocketHandle,
}

impl Status {
    /// Opens the sockets on `port` (not 0) in `sockets`.
    pub fn new(port: u16, sockets: &mut SocketSet<'static>) -> anyhow::Result<Status> {
        let mut listeners = Vec::with_capacity(LISTENERS);
        for _ in 0..LISTENERS {
            let mut socket = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; TCP_RX]),
                tcp::SocketBuffer::new(vec![0; TCP_TX]),
            );
            // No delayed ACK: the client's FIN (and data with it) is acknowledged before the
            // listener is reused.
            socket.set_ack_delay(None);
            socket.listen(port)?;
            listeners.push(Listener {
                handle: sockets.add(socket),
                since: None,
            });
        }
        let buffer = |bytes| {
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; UDP_PACKETS],
                vec![0; bytes],
            )
        };
        let mut socket = udp::Socket::new(buffer(UDP_PACKETS * 256), buffer(UDP_PACKETS * TCP_TX));
        socket.bind(port)?;
        Ok(Status {
            port,
            listeners,
            udp: sockets.add(socket),
        })
    }

    /// Answers what arrived: writes `line` to new TCP connections (then closes them) and to
    /// each UDP requester; listens again where a connection is over.
    pub fn serve(
        &mut self,
        now: Instant,
        line: &str,
        sockets: &mut SocketSet<'static>,
        counters: &mut HostCounters,
    ) {
        for l in &mut self.listeners {
            let socket = sockets.get_mut::<tcp::Socket>(l.handle);
            if socket.is_listening() {
                l.since = None;
                continue;
            }
            let since = *l.since.get_or_insert(now);
            // Once closed (FIN-WAIT, LAST-ACK) it may not send: the line is written once.
            if socket.may_send() {
                write_line(socket, line);
                socket.close();
                counters.status_tcp += 1;
            }
            let over = matches!(socket.state(), tcp::State::Closed | tcp::State::TimeWait);
            if over || now >= since + CONN_DEADLINE {
                // TIME-WAIT is skipped: the status line was delivered and acknowledged, and
                // the listener is needed for the next client.
                socket.abort();
                if socket.listen(self.port).is_ok() {
                    l.since = None;
                }
            }
        }
        let socket = sockets.get_mut::<udp::Socket>(self.udp);
        while let Ok((_, meta)) = socket.recv() {
            let n = line.len().min(TCP_TX - 1);
            match socket.send(n + 1, meta) {
                Ok(buf) => {
                    buf[..n].copy_from_slice(&line.as_bytes()[..n]);
                    buf[n] = b'\n';
                    counters.status_udp += 1;
                }
                Err(_) => counters.status_dropped += 1,
            }
        }
    }

    /// The earliest deadline of a connection in progress.
    pub fn poll_at(&self) -> Option<Instant> {
        self.listeners
            .iter()
            .filter_map(|l| l.since.map(|t| t + CONN_DEADLINE))
            .min()
    }
}

/// Writes `line` (cut to what the buffer holds) and a newline.
fn write_line(socket: &mut tcp::Socket, line: &str) {
    let room = socket.send_capacity() - socket.send_queue();
    let n = line.len().min(room.saturating_sub(1));
    // Cannot fail: the socket may send and the bytes fit.
    let _ = socket.send_slice(&line.as_bytes()[..n]);
    let _ = socket.send_slice(b"\n");
}
