//! The buffers of a simulated host's TCP connections (the socket's receive and send buffers,
//! and the one the application reads into): sized once from the largest message each side
//! receives and sends, allocated with the socket and kept for the run (a connection reuses
//! its socket; nothing is allocated or zeroed per frame).
//!
//! A size never changes how a connection behaves, only its memory: a receive buffer of more
//! than twice the largest message it takes (one at a time: a client's response, a server's
//! request) never fills past half, so smoltcp never sends a window update (it does when
//! reading reopens the window to twice what it last advertised) and the window never limits
//! the sender; a send buffer that holds the largest message takes it whole at once; a read
//! buffer as large as the receive buffer holds any head that comes. Each is capped at the
//! fixed size the hosts had before ([`TcpBuffers::CLIENT`], [`TcpBuffers::SERVER`]), so
//! larger messages flow as they did.

use smoltcp::socket::tcp;

/// A TCP connection's buffer sizes, in bytes: the socket's receive and send buffers, and the
/// application's read buffer (a client's for responses, a server's for request heads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpBuffers {
    pub rx: usize,
    pub tx: usize,
    pub read: usize,
}

impl TcpBuffers {
    /// A client connection's, at most: a 16 KiB window for responses, 1 KiB for a request,
    /// reads of 16 KiB (two response heads of the longest `tapvs client` takes).
    pub const CLIENT: TcpBuffers = TcpBuffers {
        rx: 16 * 1024,
        tx: 1024,
        read: super::response::BUF_LEN,
    };
    /// A server connection's, at most: 4 KiB for requests, 16 KiB of a response in flight,
    /// request heads of up to 8 KiB (`tapvs server`'s longest).
    pub const SERVER: TcpBuffers = TcpBuffers {
        rx: 4 * 1024,
        tx: 16 * 1024,
        read: crate::server::http::MAX_HEAD,
    };

    /// These sizes, lowered to what messages of at most `largest_in` bytes received and
    /// `largest_out` bytes sent need.
    pub fn fitted(self, largest_in: usize, largest_out: usize) -> TcpBuffers {
        let room = 2 * largest_in + 2;
        TcpBuffers {
            rx: self.rx.min(room),
            tx: self.tx.min(largest_out.max(1)),
            read: self.read.min(room),
        }
    }

    /// A socket with buffers of these sizes.
    pub fn socket(self) -> tcp::Socket<'static> {
        tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; self.rx]),
            tcp::SocketBuffer::new(vec![0; self.tx]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::TcpBuffers;

    #[test]
    fn buffers_fit_the_messages_below_the_old_sizes() {
        let small = TcpBuffers::CLIENT.fitted(230, 80);
        let (rx, tx, read) = (462, 80, 462);
        assert_eq!(small, TcpBuffers { rx, tx, read });
        // Large messages keep the old sizes, so they flow as before.
        assert_eq!(TcpBuffers::CLIENT.fitted(10_240, 4_000), TcpBuffers::CLIENT);
        let (rx, tx, read) = (2, 1, 2);
        assert_eq!(TcpBuffers::SERVER.fitted(0, 0), TcpBuffers { rx, tx, read });
    }
}
