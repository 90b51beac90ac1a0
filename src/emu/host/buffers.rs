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
//!
//! A server makes a socket for every request sock (a SYN flood makes thousands that never
//! carry a byte): their receive and send buffers are cut from large zeroed blocks of a
//! [`BufferArena`] instead, so making one costs no allocation and no memory is touched (no
//! page faulted in) until the connection writes to it.

use smoltcp::socket::tcp;
use std::alloc::Layout;
use std::ptr::NonNull;

/// Bytes of an arena's block (at least: a larger piece gets a block of its own).
const BLOCK: usize = 256 * 1024;

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

    /// A socket like [`TcpBuffers::socket`]'s whose buffers are cut from `arena`.
    ///
    /// # Safety
    ///
    /// The socket must be dropped before `arena` is, and not used after.
    pub unsafe fn socket_in(self, arena: &mut BufferArena) -> tcp::Socket<'static> {
        // SAFETY: the caller keeps the socket, the only user of these pieces, from outliving
        // the arena.
        let (rx, tx) = unsafe { (arena.take(self.rx), arena.take(self.tx)) };
        tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx))
    }
}

/// Zeroed memory handed out in pieces that are never given back one by one: all of it is
/// freed with the arena. Blocks are allocated zeroed, so pages nobody writes to stay
/// untouched.
#[derive(Default)]
pub struct BufferArena {
    /// Every block, to free; the pieces handed out point into them.
    blocks: Vec<(NonNull<u8>, Layout)>,
    /// The unused end of the last block: its start and length.
    rest: Option<(NonNull<u8>, usize)>,
}

impl BufferArena {
    /// A zeroed piece of `len` bytes, disjoint from every other piece.
    ///
    /// # Safety
    ///
    /// The piece must not be used once the arena is dropped (`'static` is a lie the caller
    /// keeps true).
    unsafe fn take(&mut self, len: usize) -> &'static mut [u8] {
        if len == 0 {
            return &mut [];
        }
        let (start, left) = match self.rest {
            Some((start, left)) if left >= len => (start, left),
            _ => self.block(len),
        };
        // SAFETY: `start..start + left` lies inside a live block and no piece handed out
        // overlaps it (the rest only shrinks from its front), so `start + len` is in bounds
        // and the piece is unaliased, zeroed, initialised memory.
        unsafe {
            self.rest = Some((start.add(len), left - len));
            std::slice::from_raw_parts_mut(start.as_ptr(), len)
        }
    }

    /// A new zeroed block of at least `len` (non-zero) bytes, which becomes the rest.
    fn block(&mut self, len: usize) -> (NonNull<u8>, usize) {
        let size = len.max(BLOCK);
        let Ok(layout) = Layout::array::<u8>(size) else {
            std::alloc::handle_alloc_error(Layout::new::<u8>());
        };
        // SAFETY: the layout's size is non-zero.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(ptr) else {
            std::alloc::handle_alloc_error(layout);
        };
        self.blocks.push((ptr, layout));
        (ptr, size)
    }
}

impl Drop for BufferArena {
    fn drop(&mut self) {
        for &(ptr, layout) in &self.blocks {
            // SAFETY: allocated in `block` with this layout, freed once; no piece is used
            // any more (the contract of `take`).
            unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BLOCK, BufferArena, TcpBuffers};

    #[test]
    fn arena_pieces_are_zeroed_disjoint_and_of_the_size_asked() {
        let mut arena = BufferArena::default();
        // SAFETY: the pieces are dropped before the arena.
        let (a, b, big, c) = unsafe {
            (
                arena.take(100),
                arena.take(BLOCK - 150),
                arena.take(BLOCK + 1),
                arena.take(60),
            )
        };
        assert_eq!(
            (a.len(), b.len(), big.len(), c.len()),
            (100, BLOCK - 150, BLOCK + 1, 60)
        );
        for piece in [&mut *a, &mut *b, &mut *big, &mut *c] {
            assert!(piece.iter().all(|&x| x == 0));
            piece.fill(0xa5);
        }
        // Written whole, none overwrote another; `c` did not fit what was left: new block.
        let pieces = [&*a, &*b, &*big, &*c];
        assert!(pieces.iter().all(|p| p.iter().all(|&x| x == 0xa5)));
        assert_eq!(arena.blocks.len(), 3);
        drop(arena);
    }

    #[test]
    fn a_socket_in_an_arena_is_a_socket_of_those_sizes() {
        let sizes = TcpBuffers {
            rx: 300,
            tx: 700,
            read: 300,
        };
        let mut arena = BufferArena::default();
        // SAFETY: the socket is dropped before the arena.
        let sock = unsafe { sizes.socket_in(&mut arena) };
        let own = sizes.socket();
        assert_eq!((sock.recv_capacity(), sock.send_capacity()), (300, 700));
        assert_eq!(sock.recv_capacity(), own.recv_capacity());
        assert_eq!(sock.send_capacity(), own.send_capacity());
        drop(sock);
    }

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
