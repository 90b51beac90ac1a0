//! One of the director's TAP devices, plain (one MTU frame per syscall, through `tun-tap`) or
//! with virtio-net headers and offloads (large segments, kernel-finished checksums).

use super::tap::Tap;
use super::vnet::{VnetHeader, VnetTap};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// Largest frame a port hands over (a GSO super-segment with offloads).
pub const MAX_FRAME_LEN: usize = super::vnet::MAX_FRAME_LEN;

/// A TAP device, either kind.
pub enum Port {
    Plain(Tap),
    Vnet(VnetTap),
}

impl Port {
    /// Opens TAP `name`, with virtio-net headers and offloads when `offload`.
    pub fn open(name: &str, offload: bool) -> io::Result<Port> {
        Ok(if offload {
            Port::Vnet(VnetTap::open(name, true)?)
        } else {
            Port::Plain(Tap::open(name)?)
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Port::Plain(t) => t.name(),
            Port::Vnet(t) => t.name(),
        }
    }

    /// Reads one frame and its header (all zero for a plain TAP); `Ok(None)` when none waits.
    #[inline]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>> {
        match self {
            Port::Plain(t) => Ok(t.recv(buf)?.map(|n| (VnetHeader::NONE, n))),
            Port::Vnet(t) => t.recv(buf),
        }
    }

    /// Writes one frame with its header (ignored by a plain TAP); false when the queue is full.
    #[inline]
    pub fn send(&self, header: &VnetHeader, frame: &[u8]) -> io::Result<bool> {
        match self {
            Port::Plain(t) => t.send(frame),
            Port::Vnet(t) => t.send(header, frame),
        }
    }
}

impl AsRawFd for Port {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Port::Plain(t) => t.as_raw_fd(),
            Port::Vnet(t) => t.as_raw_fd(),
        }
    }
}
