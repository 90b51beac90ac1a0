//! A TAP device with virtio-net headers (`IFF_VNET_HDR`) and, optionally, offloads: large TCP
//! segments (GSO, up to 64 KiB) cross in one frame and checksums are left to the kernel.
//!
//! # Opening
//! [`VnetTap::open`] opens `/dev/net/tun` non-blocking and issues, in this order:
//! `TUNSETIFF` (`IFF_TAP | IFF_NO_PI | IFF_VNET_HDR`), `TUNSETVNETLE` (1), `TUNSETVNETHDRSZ` (12)
//! and `TUNSETOFFLOAD` (`TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN` with offloads, 0
//! without). A persistent device keeps its offloads after its descriptor is closed (checked on
//! Linux 6.18), so `open` always sets them, and dropping a [`VnetTap`] switches them off again:
//! otherwise a later user reading without vnet headers (`io::tap::Tap`) would get 64 KiB
//! super-segments and unfinished checksums with no header to tell. A killed process cannot do
//! that; the next `VnetTap::open` repairs it, `Tap::open` does not.
//!
//! A persistent TAP made by `ip tuntap add dev NAME mode tap` (no `vnet_hdr`) works: on attach the
//! kernel replaces the device's `IFF_NO_PI | IFF_VNET_HDR | ...` bits with those of the opener's
//! `TUNSETIFF` (`tun_set_iff`: `tun->flags = (tun->flags & ~TUN_FEATURES) | (ifr_flags &
//! TUN_FEATURES)`), so `vnet_hdr` / `pi` given to `ip tuntap add` only describe the state until the
//! first open. The device keeps one queue (no `multi_queue`: the kernel refuses a mismatch), and
//! only one descriptor can be attached at a time (`EBUSY` otherwise; also for a moment after a
//! close if a child forked meanwhile still holds the descriptor until its exec).
//!
//! Until the kernel's link watcher has handled the carrier coming up (asynchronously, shortly
//! after the attach), what the kernel sends out of the TAP is dropped; the device's operational
//! state turns UP at the same moment (the root test waits for that).
//!
//! # Framing
//! Every read and write is one 12-byte header (the layout of `struct virtio_net_hdr_v1` /
//! `virtio_net_hdr_mrg_rxbuf`) followed by one Ethernet frame:
//!
//! | offset | size | field                                                  |
//! |--------|------|--------------------------------------------------------|
//! | 0      | u8   | flags (`NEEDS_CSUM` 1, `DATA_VALID` 2)                 |
//! | 1      | u8   | gso_type (NONE 0, TCPV4 1, UDP 3, TCPV6 4, UDP_L4 5, \| ECN 0x80) |
//! | 2      | u16  | hdr_len                                                |
//! | 4      | u16  | gso_size                                               |
//! | 6      | u16  | csum_start                                             |
//! | 8      | u16  | csum_offset                                            |
//! | 10     | u16  | num_buffers (not written by the kernel, ignored by it) |
//!
//! The u16 fields are little-endian: the kernel uses little-endian vnet headers when the device
//! has `TUN_VNET_LE` set or the host is little-endian (`tun_vnet_is_little_endian`); `open` sets
//! `TUNSETVNETLE` so this holds on every host. The kernel reads and writes only the first 10
//! bytes and skips the rest of the configured size; a size of 24 or more (Linux 6.18's
//! `virtio_net_hdr_v1_hash_tunnel`) would add hash and UDP-tunnel fields, which 12 keeps out.
//!
//! # What received frames look like (offloads on)
//! - `NEEDS_CSUM` (`CHECKSUM_PARTIAL` in the kernel): the transport checksum is not done.
//!   `csum_start` is the offset, from the first byte of the Ethernet frame (the vnet header not
//!   counted), of the transport header (34 for TCP/UDP over IPv4 without options or VLAN);
//!   `csum_offset` is the checksum field's offset inside it (TCP 16, UDP 6). The field holds the
//!   folded one's-complement sum of the pseudo-header (addresses, protocol, transport length; for
//!   a GSO frame, the length of the whole super-segment), **not** complemented. To finish it, sum
//!   everything from `csum_start` to the end, fold, complement ([`VnetHeader::complete_csum`]).
//!   Rewriting addresses (pseudo-header) must update the field as a plain sum: `field' =
//!   fold(field + !old + new)`, the opposite sense of RFC 1624 for a finished checksum. Rewriting
//!   ports or payload needs no update at all (the kernel sums those later). That is what
//!   `wire::checksum::rewrite_{src,dst}_partial` do.
//! - `DATA_VALID`: the checksum is complete and the kernel already verified it
//!   (`CHECKSUM_UNNECESSARY`, e.g. a frame that came in from a veth). On write the kernel ignores
//!   this flag and verifies again where it needs to.
//! - GSO (`gso_type` != NONE): one TCP super-segment, up to 64 KiB of IP packet; `gso_size` is the
//!   MSS the kernel will cut it into. `hdr_len` is only a hint (the length of the kernel's linear
//!   part), not the header length. Write such a frame back with its header and the kernel
//!   segments it wherever needed. IP header fields (total length, checksum) describe the
//!   super-segment; the kernel rewrites them per segment.
//!
//! With `offload == false` the kernel sends no GSO and no `NEEDS_CSUM` frames, but may still mark
//! frames `DATA_VALID`.
//!
//! UFO (`TUN_F_UFO`) is not asked for: Linux has not produced UFO since 4.14 (`TUNSETOFFLOAD`
//! accepts the bit and ignores it). USO (`TUN_F_USO4 | TUN_F_USO6`, Linux >= 6.2) is not asked
//! for either: it would hand us UDP super-datagrams (gso_type `UDP_L4`) that the data plane would
//! have to understand.

use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[cfg(test)]
mod tests;

/// Bytes of the virtio-net header in front of every frame (`virtio_net_hdr_v1` layout).
pub const VNET_HDR_LEN: usize = 12;

/// The longest frame `recv` can return: an IP packet of up to 65535 bytes (a GSO super-segment)
/// behind an Ethernet header and one VLAN tag. A receive buffer of this size never truncates.
pub const MAX_FRAME_LEN: usize = 65535 + 14 + 4;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the transport checksum field holds only the pseudo-header sum.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum has been verified.
pub const F_DATA_VALID: u8 = 2;

/// `VIRTIO_NET_HDR_GSO_NONE`.
pub const GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
pub const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_UDP` (UFO, legacy).
pub const GSO_UDP: u8 = 3;
/// `VIRTIO_NET_HDR_GSO_TCPV6`.
pub const GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_UDP_L4` (USO).
pub const GSO_UDP_L4: u8 = 5;
/// `VIRTIO_NET_HDR_GSO_ECN`: a flag on the GSO type (the super-segment carries CWR).
pub const GSO_ECN: u8 = 0x80;

/// The offloads asked for with `offload == true`.
const OFFLOADS: libc::c_uint =
    libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;

/// The virtio-net header of one frame (`num_buffers` is not kept: the kernel neither reads it nor
/// writes it on a TAP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VnetHeader {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHeader {
    /// No flags, no GSO: a complete frame with finished checksums.
    pub const NONE: VnetHeader = VnetHeader {
        flags: 0,
        gso_type: GSO_NONE,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    /// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the transport checksum at `csum_start + csum_offset` holds
    /// only the pseudo-header sum.
    #[inline]
    pub fn needs_csum(&self) -> bool {
        self.flags & F_NEEDS_CSUM != 0
    }

    /// `VIRTIO_NET_HDR_F_DATA_VALID`: the kernel verified the checksum.
    #[inline]
    pub fn data_valid(&self) -> bool {
        self.flags & F_DATA_VALID != 0
    }

    /// A GSO super-segment (any type, with or without the ECN bit).
    #[inline]
    pub fn is_gso(&self) -> bool {
        self.gso_type & !GSO_ECN != GSO_NONE
    }

    /// Reads a header from the first 10 bytes of `bytes` (`num_buffers` is ignored); `None` when
    /// there are fewer. Any values are accepted.
    #[inline]
    pub fn parse(bytes: &[u8]) -> Option<VnetHeader> {
        let b: &[u8; 10] = bytes.get(..10)?.try_into().ok()?;
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(VnetHeader {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        })
    }

    /// The 12 bytes of this header (`num_buffers` = 0).
    #[inline]
    pub fn to_bytes(&self) -> [u8; VNET_HDR_LEN] {
        let mut out = [0u8; VNET_HDR_LEN];
        out[0] = self.flags;
        out[1] = self.gso_type;
        out[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        out[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        out[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        out[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        out
    }

    /// Writes the 12 bytes of this header at the start of `out`; `None` when it is shorter.
    #[inline]
    pub fn emit(&self, out: &mut [u8]) -> Option<usize> {
        out.get_mut(..VNET_HDR_LEN)?
            .copy_from_slice(&self.to_bytes());
        Some(VNET_HDR_LEN)
    }

    /// Finishes a partial checksum in software, for a frame that must leave through something
    /// without checksum offload: sums `frame[csum_start..]`, folds, complements and stores the
    /// result at `csum_start + csum_offset` (0 is stored as 0xffff, as the kernel does).
    /// Nothing to do without `NEEDS_CSUM` (true). False, leaving the frame untouched, for a GSO
    /// frame (it must be segmented first) or when the offsets do not fit in `frame`. Afterwards
    /// the frame is complete: send it with [`VnetHeader::NONE`].
    pub fn complete_csum(&self, frame: &mut [u8]) -> bool {
        if !self.needs_csum() {
            return true;
        }
        let start = usize::from(self.csum_start);
        let field = start + usize::from(self.csum_offset);
        !self.is_gso() && crate::wire::checksum::complete_partial(frame, start, field)
    }
}

/// A TAP device opened with virtio-net headers, non-blocking.
#[derive(Debug)]
pub struct VnetTap {
    fd: OwnedFd,
    name: String,
    offload: bool,
}

impl VnetTap {
    /// Attaches to the TAP device `name` (an existing persistent TAP is reused, otherwise a
    /// non-persistent one is created; either way it lives in the calling thread's network
    /// namespace) with `IFF_VNET_HDR`, 12-byte little-endian headers, and with `offload` the
    /// checksum and TSO offloads (without it, offloads are switched off).
    pub fn open(name: &str, offload: bool) -> io::Result<VnetTap> {
        VnetTap::attach(name, Some(if offload { OFFLOADS } else { 0 }))
    }

    /// [`VnetTap::open`] with the given `TUNSETOFFLOAD` bits, or without touching the device's
    /// offloads (`None`, for tests).
    fn attach(name: &str, offloads: Option<libc::c_uint>) -> io::Result<VnetTap> {
        let context = |what: &str, e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("cannot open TAP device `{name}` with vnet headers: {what}: {e}"),
            )
        };
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{name}` is not a valid interface name (1 to 15 bytes, no NUL)"),
            ));
        }
        // SAFETY: a NUL-terminated path; the returned descriptor is checked below.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(context("open /dev/net/tun", io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // SAFETY: ifreq is plain old data (a name array and a union of integers and pointers);
        // all-zero is a valid value.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as i16;
        // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which `ifr` is.
        ioctl_result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &raw mut ifr) })
            .map_err(|e| context("TUNSETIFF", e))?;
        let len = ifr.ifr_name.iter().position(|&c| c == 0).unwrap_or(0);
        let name: String = ifr.ifr_name[..len]
            .iter()
            .map(|&c| char::from(c as u8))
            .collect();

        let one: libc::c_int = 1;
        // SAFETY: TUNSETVNETLE reads one int through the pointer.
        ioctl_result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETVNETLE, &raw const one) })
            .map_err(|e| context("TUNSETVNETLE", e))?;
        let size = VNET_HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer.
        ioctl_result(unsafe {
            libc::ioctl(fd.as_raw_fd(), libc::TUNSETVNETHDRSZ, &raw const size)
        })
        .map_err(|e| context("TUNSETVNETHDRSZ", e))?;
        if let Some(offloads) = offloads {
            // SAFETY: TUNSETOFFLOAD takes its argument by value.
            ioctl_result(unsafe {
                libc::ioctl(
                    fd.as_raw_fd(),
                    libc::TUNSETOFFLOAD,
                    libc::c_ulong::from(offloads),
                )
            })
            .map_err(|e| context("TUNSETOFFLOAD", e))?;
        }
        let offload = offloads.is_some_and(|o| o != 0);
        Ok(VnetTap { fd, name, offload })
    }

    /// The device's name, as the kernel reported it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether checksum and TSO offloads were asked for.
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// Reads one frame into the start of `buf` (its vnet header into a separate small buffer,
    /// with `readv`, so the frame needs no copy). `Ok(None)` when none is waiting. A frame longer
    /// than `buf` is an `InvalidInput` error (and lost); a `buf` of [`MAX_FRAME_LEN`] never
    /// truncates.
    #[inline]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>> {
        let mut hdr = [0u8; VNET_HDR_LEN];
        // The kernel returns at most what the buffers hold, and drops the rest of a longer frame
        // silently: one spare byte behind `buf` tells a frame that filled `buf` exactly from one
        // that did not fit.
        let mut spare = [0u8; 1];
        let iov = [
            libc::iovec {
                iov_base: hdr.as_mut_ptr().cast::<c_void>(),
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: buf.as_mut_ptr().cast::<c_void>(),
                iov_len: buf.len(),
            },
            libc::iovec {
                iov_base: spare.as_mut_ptr().cast::<c_void>(),
                iov_len: spare.len(),
            },
        ];
        let n = loop {
            // SAFETY: the iovecs point into live, exclusively borrowed buffers of the given
            // lengths, which outlive the call.
            let n = unsafe { libc::readv(self.fd.as_raw_fd(), iov.as_ptr(), iov.len() as i32) };
            if n >= 0 {
                break n as usize;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => return Ok(None),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(err),
            }
        };
        let Some(len) = n.checked_sub(VNET_HDR_LEN) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: read of {n} bytes has no vnet header", self.name),
            ));
        };
        if len > buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: a frame longer than the {}-byte buffer was truncated",
                    self.name,
                    buf.len()
                ),
            ));
        }
        let header = VnetHeader::parse(&hdr).unwrap_or_default();
        Ok(Some((header, len)))
    }

    /// Writes one frame behind `header` with `writev`. A full queue drops the frame (returns
    /// false), as a NIC would. A header the kernel rejects (e.g. GSO with `gso_size` 0,
    /// `hdr_len` shorter than 14 or longer than the frame, checksum offsets outside the frame) is
    /// an `InvalidInput` error (`EINVAL`).
    #[inline]
    pub fn send(&self, header: &VnetHeader, frame: &[u8]) -> io::Result<bool> {
        let hdr = header.to_bytes();
        let iov = [
            libc::iovec {
                iov_base: hdr.as_ptr().cast_mut().cast::<c_void>(),
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: frame.as_ptr().cast_mut().cast::<c_void>(),
                iov_len: frame.len(),
            },
        ];
        loop {
            // SAFETY: both iovecs point into live buffers of the given lengths, which outlive the
            // call; writev only reads them.
            let n = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
            if n >= 0 {
                let n = n as usize;
                if n != VNET_HDR_LEN + frame.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("{}: short write of {n} bytes", self.name),
                    ));
                }
                return Ok(true);
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => return Ok(false),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(err),
            }
        }
    }
}

impl Drop for VnetTap {
    /// Switches the offloads off before closing: a persistent TAP keeps them otherwise, and the
    /// next user of the device, if it reads without vnet headers (`io::tap::Tap`), would get GSO
    /// super-segments and unfinished checksums it cannot recognise.
    fn drop(&mut self) {
        if self.offload {
            // SAFETY: TUNSETOFFLOAD takes its argument by value; the result does not matter.
            unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TUNSETOFFLOAD, 0 as libc::c_ulong) };
        }
    }
}

impl AsRawFd for VnetTap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn ioctl_result(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
