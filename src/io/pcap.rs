//! A port wrapper that writes every frame crossing a port, both ways and in the order they
//! crossed, to a classic libpcap file that tcpdump, tshark and Wireshark read; and a reader of
//! such files for tests ([`read`]). It must not import the data plane or the director.
//!
//! # Format
//! The classic format of `pcap-savefile(5)`: a 24-byte file header (magic `0xa1b2c3d4`, written
//! little-endian, so microsecond timestamps; version 2.4; snaplen [`SNAPLEN`]; link type 1,
//! `LINKTYPE_ETHERNET`), then per frame a 16-byte record header (seconds, microseconds, bytes
//! kept, bytes on the wire) and the frame. The direction is not recorded (the classic format
//! has no field for it): the MAC addresses tell.
//!
//! # Time
//! A record's time is `wall_base + now`, where `now` is the time the caller passes to
//! `recv`/`send` and `wall_base` is given once at creation: the wrapper reads no clock, so a
//! virtual clock gives virtual timestamps. The director's clock starts at 0, and its
//! `wall_base` is the wall-clock time (since the Unix epoch) of that start.
//!
//! # What is written
//! Every frame the port below returned from `recv`, and every frame it accepted in `send`
//! (`Ok(true)`; a frame it refused never crossed, as `tcpdump` on a NIC does not see a frame its
//! queue dropped). Frames are written as they crossed: with virtio-net offloads a TCP frame can be
//! a GSO super-segment of up to 64 KiB (longer than the MTU; the IP length describes the whole
//! super-segment) with a partial transport checksum (the pseudo-header sum only), which tshark
//! shows as a bad checksum if asked to check. The virtio-net header itself is not written. The
//! snaplen (256 KiB, what tcpdump uses by default) is above [`super::port::MAX_FRAME_LEN`], so no
//! frame is cut.
//!
//! # Ring
//! With a limit of L bytes, a capture is two files of at most L/2 bytes each: `NAME.pcap` takes
//! the frames; when the next record would take it past L/2, it is renamed to `NAME.pcap.1`
//! (replacing the older one, whose frames are dropped) and a new `NAME.pcap` starts with a file
//! header. So the newest frames are always in `NAME.pcap`, the ones before them in
//! `NAME.pcap.1`, and the capture never takes more than L bytes of disk (like `tcpdump -C L/2
//! -W 2`, with logrotate's names). Each file stands alone (`mergecap NAME.pcap.1 NAME.pcap`
//! joins them).
//!
//! # Cost and failures
//! The per-frame path copies the record into a buffer of its own (allocated once, large enough
//! for the largest record), allocates nothing and formats nothing. The buffer goes to the file
//! when a record would not fit, when the port is called (`recv`, `send`, `poll`; `poll_at` says
//! when) [`FLUSH_AFTER`] or more after the oldest record in it, at a rotation and on drop. A
//! record is never split over two writes, so a writer killed by SIGKILL leaves a file that ends
//! on a record boundary, missing the frames of its last [`FLUSH_AFTER`] (plus the time until
//! its next call). An I/O error on the capture is counted, reported once on stderr, and ends
//! the capture; the frames go on crossing the port.

mod read;
#[cfg(test)]
mod tests;

pub use read::{PcapError, PcapFile, Record, read};

use super::port::Port;
use super::vnet::VnetHeader;
use smoltcp::time::{Duration, Instant};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

/// The file magic of microsecond-resolution captures.
pub const MAGIC: u32 = 0xa1b2_c3d4;
/// `LINKTYPE_ETHERNET`: every record is an Ethernet frame.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// The longest frame kept whole (tcpdump's default; above the 64 KiB of a GSO super-frame).
pub const SNAPLEN: u32 = 262_144;
/// Bytes of the file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Bytes of a record header.
pub const RECORD_HEADER_LEN: usize = 16;
/// Longest time a handled frame stays in the buffer while the port is in use.
pub const FLUSH_AFTER: Duration = Duration::from_millis(100);
/// The buffer holds the largest record whole, so no record is ever split over two writes.
const BUFFER_LEN: usize = SNAPLEN as usize + RECORD_HEADER_LEN;

/// What a capture has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcapStats {
    /// Frames written (both directions).
    pub frames: u64,
    /// Bytes of those frames (as on the wire).
    pub bytes: u64,
    /// Times `NAME.pcap` was renamed to `NAME.pcap.1` and a new one begun.
    pub rotations: u64,
    /// I/O errors on the capture (the first one ends it).
    pub errors: u64,
}

/// A port that writes what crosses it to a pcap file: see the module's documentation.
pub struct Pcap<P: Port> {
    inner: P,
    /// `None` once an I/O error ended the capture.
    out: Option<Out>,
    stats: PcapStats,
}

/// The open capture file and its ring.
struct Out {
    path: PathBuf,
    /// `NAME.pcap.1`, the previous file of the ring.
    older: PathBuf,
    file: BufWriter<File>,
    /// Bytes in the current file, buffered ones included.
    len: u64,
    /// Most bytes one file may take.
    file_limit: u64,
    /// Microseconds since the Unix epoch at the caller's time 0.
    base_us: i64,
    /// When the buffer must go to the file; `None` while it holds no record.
    flush_at: Option<Instant>,
}

impl<P: Port> Pcap<P> {
    /// Wraps `inner`, writing to `path` (created or truncated; an older `path.1` is removed)
    /// with at most `limit` bytes of disk for both files of the ring (a file takes at least one
    /// record, however small `limit` is), and `wall_base` as the wall-clock time (since the
    /// Unix epoch) of the caller's time 0.
    pub fn create(
        inner: P,
        path: &Path,
        limit: u64,
        wall_base: std::time::Duration,
    ) -> io::Result<Pcap<P>> {
        let mut older = path.as_os_str().to_owned();
        older.push(".1");
        let older = PathBuf::from(older);
        match std::fs::remove_file(&older) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut out = Out {
            path: path.to_owned(),
            older,
            file: BufWriter::with_capacity(BUFFER_LEN, File::create(path)?),
            len: 0,
            file_limit: limit / 2,
            base_us: i64::try_from(wall_base.as_micros()).unwrap_or(i64::MAX),
            flush_at: None,
        };
        out.begin()?;
        out.file.flush()?;
        Ok(Pcap {
            inner,
            out: Some(out),
            stats: PcapStats::default(),
        })
    }

    /// What the capture has done so far.
    pub fn stats(&self) -> PcapStats {
        self.stats
    }

    /// Whether frames are still being written (no I/O error so far).
    pub fn capturing(&self) -> bool {
        self.out.is_some()
    }

    /// The port below.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Writes one frame's record; an I/O error ends the capture.
    #[inline]
    fn record(&mut self, now: Instant, frame: &[u8]) {
        let Some(out) = &mut self.out else {
            return;
        };
        match out.record(now, frame, &mut self.stats) {
            Ok(()) => {
                self.stats.frames += 1;
                self.stats.bytes += frame.len() as u64;
            }
            Err(e) => self.stop(e),
        }
    }

    /// Writes the buffer out if a record has waited long enough.
    #[inline]
    fn flush_due(&mut self, now: Instant) {
        if let Some(out) = &mut self.out
            && out.flush_at.is_some_and(|at| now >= at)
            && let Err(e) = out.flush()
        {
            self.stop(e);
        }
    }

    /// Ends the capture after an I/O error (once: later frames find no file).
    #[cold]
    fn stop(&mut self, e: io::Error) {
        self.stats.errors += 1;
        if let Some(out) = self.out.take() {
            eprintln!(
                "pcap: {}: capture stopped after {} frame(s): {e}",
                out.path.display(),
                self.stats.frames
            );
            // Whatever is still buffered is dropped, not written again.
            let _ = out.file.into_parts();
        }
    }
}

impl Out {
    /// Writes the file header into the (empty) buffer of a new file.
    fn begin(&mut self) -> io::Result<()> {
        let mut h = [0u8; FILE_HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // 8..16: thiszone and sigfigs, 0.
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        self.file.write_all(&h)?;
        self.len = FILE_HEADER_LEN as u64;
        Ok(())
    }

    #[inline]
    fn record(&mut self, now: Instant, frame: &[u8], stats: &mut PcapStats) -> io::Result<()> {
        let kept = &frame[..frame.len().min(SNAPLEN as usize)];
        let len = (RECORD_HEADER_LEN + kept.len()) as u64;
        if self.len + len > self.file_limit && self.len > FILE_HEADER_LEN as u64 {
            self.rotate()?;
            stats.rotations += 1;
        }
        // Whole records only: make room first, so the buffer never writes half of one.
        if self.file.capacity() - self.file.buffer().len() < len as usize {
            self.file.flush()?;
        }
        let us = self.base_us.saturating_add(now.total_micros()).max(0);
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(kept.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        self.file.write_all(&h)?;
        self.file.write_all(kept)?;
        self.len += len;
        self.flush_at.get_or_insert(now + FLUSH_AFTER);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_at = None;
        self.file.flush()
    }

    /// `NAME.pcap` becomes `NAME.pcap.1` (the older one is dropped); a new `NAME.pcap` begins.
    #[cold]
    fn rotate(&mut self) -> io::Result<()> {
        self.flush()?;
        std::fs::rename(&self.path, &self.older)?;
        // Swapping the file under the buffer: the buffer is empty after the flush.
        *self.file.get_mut() = File::create(&self.path)?;
        self.begin()
    }
}

impl<P: Port> Port for Pcap<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    #[inline]
    fn recv(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>> {
        let got = self.inner.recv(now, buf)?;
        if let Some((_, n)) = got {
            self.record(now, &buf[..n]);
        }
        self.flush_due(now);
        Ok(got)
    }

    #[inline]
    fn send(&mut self, now: Instant, header: &VnetHeader, frame: &[u8]) -> io::Result<bool> {
        let sent = self.inner.send(now, header, frame)?;
        if sent {
            self.record(now, frame);
        }
        self.flush_due(now);
        Ok(sent)
    }

    fn recv_batch(
        &mut self,
        now: Instant,
        bufs: &mut [&mut [u8]],
        got: &mut [(VnetHeader, usize)],
    ) -> io::Result<usize> {
        let n = self.inner.recv_batch(now, bufs, got)?;
        for (buf, &(_, len)) in bufs.iter().zip(got.iter()).take(n) {
            self.record(now, &buf[..len]);
        }
        self.flush_due(now);
        Ok(n)
    }

    fn poll_at(&self) -> Option<Instant> {
        let flush_at = self.out.as_ref().and_then(|o| o.flush_at);
        match (self.inner.poll_at(), flush_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn poll(&mut self, now: Instant) -> io::Result<()> {
        self.inner.poll(now)?;
        self.flush_due(now);
        Ok(())
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }
}

impl<P: Port> Drop for Pcap<P> {
    fn drop(&mut self) {
        if let Some(out) = &mut self.out
            && let Err(e) = out.flush()
        {
            self.stats.errors += 1;
            eprintln!("pcap: {}: last frames not written: {e}", out.path.display());
        }
    }
}
