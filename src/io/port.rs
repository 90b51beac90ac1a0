//! The port interface every frame of a director (or a wire) passes through, in the spirit of
//! smoltcp's `phy::Device`: a small trait that the TAP drivers implement and that wrappers
//! (a pcap writer, a fault injector, a port of an in-memory fabric) implement again around
//! another port, so that they stack. Frames carry a virtio-net header (all zero without
//! offloads); time comes from the caller, so wrappers that hold frames back (delay, rate)
//! stay deterministic under a hand-moved or virtual clock.

use super::tap::Tap;
use super::vnet::{VnetHeader, VnetTap};
use smoltcp::time::Instant;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// Largest frame a port hands over (a GSO super-segment with offloads).
pub const MAX_FRAME_LEN: usize = super::vnet::MAX_FRAME_LEN;

/// One port: frames in, frames out, and (for wrappers that hold frames) a deadline.
///
/// `recv` and `send` pass one frame per call; `recv_batch` is the shape batches take (a
/// driver with `recvmmsg` or a ring overrides it, everyone else gets the loop).
pub trait Port {
    /// The device's name (`d1-eth0`), for logs and file names.
    fn name(&self) -> &str;

    /// Reads one frame and its header into `buf`; `Ok(None)` when none waits.
    fn recv(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>>;

    /// Writes one frame with its header; `Ok(false)` when the frame was dropped (a full queue,
    /// or a wrapper's decision), as a NIC would.
    fn send(&mut self, now: Instant, header: &VnetHeader, frame: &[u8]) -> io::Result<bool>;

    /// Reads up to `bufs.len()` frames, one per buffer, into `got`; returns how many.
    fn recv_batch(
        &mut self,
        now: Instant,
        bufs: &mut [&mut [u8]],
        got: &mut [(VnetHeader, usize)],
    ) -> io::Result<usize> {
        let mut n = 0;
        while n < bufs.len().min(got.len()) {
            match self.recv(now, bufs[n])? {
                Some(frame) => got[n] = frame,
                None => break,
            }
            n += 1;
        }
        Ok(n)
    }

    /// When the port next has work of its own (a held-back frame to release); `None`: never.
    fn poll_at(&self) -> Option<Instant> {
        None
    }

    /// Does the work due by `now` (releases held-back frames into the port below).
    fn poll(&mut self, _now: Instant) -> io::Result<()> {
        Ok(())
    }

    /// The descriptor to wait on for frames to read, if the port has one.
    fn raw_fd(&self) -> Option<RawFd>;
}

/// A TAP device, either kind: the port at the bottom of every stack in a lab.
pub enum TapPort {
    Plain(Tap),
    Vnet(VnetTap),
}

impl TapPort {
    /// Opens TAP `name`, with virtio-net headers and offloads when `offload`.
    pub fn open(name: &str, offload: bool) -> io::Result<TapPort> {
        Ok(if offload {
            TapPort::Vnet(VnetTap::open(name, true)?)
        } else {
            TapPort::Plain(Tap::open(name)?)
        })
    }
}

impl Port for TapPort {
    fn name(&self) -> &str {
        match self {
            TapPort::Plain(t) => t.name(),
            TapPort::Vnet(t) => t.name(),
        }
    }

    #[inline]
    fn recv(&mut self, _now: Instant, buf: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>> {
        match self {
            TapPort::Plain(t) => Ok(t.recv(buf)?.map(|n| (VnetHeader::NONE, n))),
            TapPort::Vnet(t) => t.recv(buf),
        }
    }

    #[inline]
    fn send(&mut self, _now: Instant, header: &VnetHeader, frame: &[u8]) -> io::Result<bool> {
        match self {
            TapPort::Plain(t) => t.send(frame),
            TapPort::Vnet(t) => t.send(header, frame),
        }
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(match self {
            TapPort::Plain(t) => t.as_raw_fd(),
            TapPort::Vnet(t) => t.as_raw_fd(),
        })
    }
}

/// A boxed port is a port (stacks are built at run time from options).
impl<P: Port + ?Sized> Port for Box<P> {
    fn name(&self) -> &str {
        (**self).name()
    }
    #[inline]
    fn recv(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>> {
        (**self).recv(now, buf)
    }
    #[inline]
    fn send(&mut self, now: Instant, header: &VnetHeader, frame: &[u8]) -> io::Result<bool> {
        (**self).send(now, header, frame)
    }
    fn poll_at(&self) -> Option<Instant> {
        (**self).poll_at()
    }
    fn poll(&mut self, now: Instant) -> io::Result<()> {
        (**self).poll(now)
    }
    fn raw_fd(&self) -> Option<RawFd> {
        (**self).raw_fd()
    }
}

/// How a TAP port moves frames: one system call per frame, or io_uring with many frames per
/// system call ([`super::uring::UringPort`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum IoMode {
    /// `read`/`write` (`readv`/`writev` with vnet headers), one frame per system call.
    #[default]
    Syscalls,
    /// io_uring: reads kept in flight, writes queued, one `io_uring_enter` per loop iteration.
    Uring,
}

/// Opens TAP `name` (with virtio-net headers and offloads when `offload`) as a port of kind
/// `io`. Opened in the calling thread's network namespace.
pub fn open_tap(name: &str, offload: bool, io: IoMode) -> io::Result<Box<dyn Port>> {
    tap_port(TapPort::open(name, offload)?, io)
}

/// `tap` as a port of kind `io` (for a TAP opened elsewhere, e.g. by a thread in another
/// network namespace: a `TapPort` can cross threads, a boxed port cannot).
pub fn tap_port(tap: TapPort, io: IoMode) -> io::Result<Box<dyn Port>> {
    Ok(match io {
        IoMode::Syscalls => Box::new(tap),
        IoMode::Uring => Box::new(super::uring::UringPort::new(
            tap,
            super::uring::DEFAULT_DEPTH,
        )?),
    })
}
