//! A TAP port on io_uring ([`UringPort`]): several reads kept in flight and the writes of a loop
//! iteration queued, so that one `io_uring_enter` per iteration replaces one `read`/`write`
//! system call per frame.
//!
//! # How it runs
//! - **Reads.** `depth` reads are in flight, each into its own preallocated slot. The TAP's
//!   descriptor is switched to blocking mode (only the ring uses it): on a non-blocking file
//!   io_uring completes a read that finds no frame at once with `EAGAIN`, on a blocking one it
//!   waits (armed on the device's poll queue) and completes when a frame comes. [`Port::recv`]
//!   takes the next completion from the completion queue (shared memory, no system call),
//!   copies the frame out of its slot and queues a new read into that slot; `Ok(None)` when no
//!   completion waits.
//! - **Writes.** [`Port::send`] copies the frame (behind its vnet header, if the TAP has them)
//!   into a free slot and queues a write. A TAP write completes inside `io_uring_enter`, so the
//!   slot is free again right after the next submission.
//! - **One submission.** [`Port::poll`], which the director and the wire call once per loop
//!   iteration, submits every queued write and re-armed read in one `io_uring_enter` and reaps
//!   the writes' completions. `send` submits early only when it finds no free slot.
//! - **Waiting.** [`Port::raw_fd`] is the ring's own descriptor: poll(2) on it is readable
//!   while the completion queue is not empty (`io_uring_poll`), so a loop that waits on it
//!   wakes for every frame read. Completions reaped by `poll` or `send` (a read found while
//!   looking for write completions) wait in a small queue of their own; while it is not empty
//!   [`Port::poll_at`] says "now", so the loop does not sleep on them.
//! - **Order.** Completions are handed over in the order the kernel posted them, which is the
//!   order the reads took frames from the device's queue.
//! - **Errors.** A read error is returned by `recv`, as [`TapPort`] does. A write the kernel
//!   refuses is known only at its completion: it is returned as an `Err` by a later `send` or
//!   `poll` (one `Err` per refused frame; that `send`'s own frame is queued all the same), so a
//!   loop that counts `send` and `poll` errors counts it once, as for [`TapPort`]. A write that
//!   finds the device's queue full (`EAGAIN`) is a drop, not an error.
//!
//! # Measured (Linux 6.18, 2 shared cores, LTO build, medians of 5 interleaved runs)
//! CPU time of the forwarding process per forwarded 64-byte UDP frame, process on CPU 1 and a
//! `sendmmsg` sender on CPU 0 for 5 s: `tapvs wire` 1.96 µs with syscalls, 2.07 µs with this
//! port; `tapvs director` (DR, one TAP in and out) 3.83 µs and 4.01 µs. Not a win here: most of
//! a frame's cost is the kernel's work on the write (the frame's trip through the bridge and the
//! receiving stack runs in the writer's context, `io_uring_enter` or `write` alike), and the
//! ring's own cost per request about equals the two system calls it saves. So
//! [`super::port::IoMode::Syscalls`] stays the default of both.
//!
//! No allocation, formatting or lock per frame (formatting only for a frame in error).
//! No `IORING_SETUP_COOP_TASKRUN` / `DEFER_TASKRUN`: with them a completion does not wake a task
//! that sleeps in poll(2) on another descriptor, or is not posted until the next
//! `io_uring_enter`.

use super::port::{MAX_FRAME_LEN, Port, TapPort};
use super::vnet::{VNET_HDR_LEN, VnetHeader};
use io_uring::{IoUring, opcode, types};
use smoltcp::time::Instant;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// Reads kept in flight by default (the loops read up to 64 frames per port per iteration).
pub const DEFAULT_DEPTH: usize = 64;

/// The tag of a write's `user_data` (a read's is its slot number alone).
const WRITE: u64 = 1 << 32;
/// The `user_data` of the cancellation submitted on drop.
const CANCEL: u64 = 1 << 33;

/// The `user_data` of a read into slot `slot`, or a write from it.
#[inline]
fn tag(write: bool, slot: u32) -> u64 {
    if write {
        WRITE | u64::from(slot)
    } else {
        u64::from(slot)
    }
}

/// What a `user_data` names: `Some((is_write, slot))`, `None` for the cancellation.
#[inline]
fn untag(user_data: u64) -> Option<(bool, u32)> {
    if user_data & CANCEL != 0 {
        return None;
    }
    Some((user_data & WRITE != 0, user_data as u32))
}

/// A fixed-capacity FIFO of `(slot, result)` (read completions reaped but not yet handed
/// over); each read slot is in it at most once, so a capacity of the read depth never fills.
#[derive(Debug)]
struct Fifo {
    items: Box<[(u32, i32)]>,
    head: usize,
    len: usize,
}

impl Fifo {
    fn new(capacity: usize) -> Fifo {
        Fifo {
            items: vec![(0, 0); capacity].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    /// Appends; false (nothing stored) when full.
    #[inline]
    fn push(&mut self, item: (u32, i32)) -> bool {
        if self.len == self.items.len() {
            return false;
        }
        let at = (self.head + self.len) % self.items.len();
        self.items[at] = item;
        self.len += 1;
        true
    }

    #[inline]
    fn pop(&mut self) -> Option<(u32, i32)> {
        if self.len == 0 {
            return None;
        }
        let item = self.items[self.head];
        self.head = (self.head + 1) % self.items.len();
        self.len -= 1;
        Some(item)
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The free write slots (a stack: the slot freed last, still warm in the cache, goes first).
#[derive(Debug)]
struct FreeSlots {
    free: Vec<u32>,
}

impl FreeSlots {
    /// All of `0..n` free.
    fn new(n: usize) -> FreeSlots {
        FreeSlots {
            free: (0..n as u32).rev().collect(),
        }
    }

    #[inline]
    fn take(&mut self) -> Option<u32> {
        self.free.pop()
    }

    /// Frees `slot` (capacity `n` is never exceeded: each slot is freed once per take).
    #[inline]
    fn give(&mut self, slot: u32) {
        debug_assert!(!self.free.contains(&slot));
        debug_assert!(self.free.len() < self.free.capacity());
        self.free.push(slot);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.free.len()
    }
}

/// A TAP device driven through io_uring (see the module documentation).
pub struct UringPort {
    // Dropped first (fields drop in order): the ring holds the TAP's file and writes into the
    // slots below until its requests are cancelled (`Drop` waits for that).
    ring: IoUring,
    tap: TapPort,
    fd: RawFd,
    /// Frames carry a 12-byte virtio-net header on the device.
    vnet: bool,
    /// `depth` read slots of `stride` bytes (header, largest frame, one spare byte that tells a
    /// frame that filled the slot from one that did not fit).
    rx: Box<[u8]>,
    /// `depth` write slots of `stride` bytes.
    tx: Box<[u8]>,
    /// Bytes of each write in flight, by slot (a short write is an error).
    tx_len: Box<[u32]>,
    stride: usize,
    ready: Fifo,
    tx_free: FreeSlots,
    /// Reads and writes submitted or queued whose completion has not been reaped.
    in_flight: usize,
    /// Refused writes not yet reported, and the last one's error (a positive errno, or 0 for a
    /// short write).
    refused: u64,
    refused_errno: i32,
    /// Writes that found the device's queue full.
    dropped: u64,
}

impl UringPort {
    /// Drives `tap` (either kind) through a new ring with `depth` reads in flight and `depth`
    /// write slots. The TAP's descriptor is made blocking: use it only through this port.
    pub fn new(tap: TapPort, depth: usize) -> io::Result<UringPort> {
        let depth = depth.clamp(1, 4096);
        let vnet = matches!(tap, TapPort::Vnet(_));
        let fd = tap.raw_fd().unwrap_or(-1);
        // SAFETY: fcntl on a descriptor `tap` owns; only its status flags change.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        // SAFETY: as above.
        if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // Every slot has at most one request queued or in flight: 2 * depth submission entries
        // (and the cancellation on drop, after all are submitted) and the default completion
        // queue of twice that never overflow.
        let ring = IoUring::new((2 * depth).next_power_of_two() as u32)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot set up an io_uring: {e}")))?;
        let stride = VNET_HDR_LEN + MAX_FRAME_LEN + 1;
        let mut port = UringPort {
            ring,
            tap,
            fd,
            vnet,
            rx: vec![0u8; depth * stride].into_boxed_slice(),
            tx: vec![0u8; depth * stride].into_boxed_slice(),
            tx_len: vec![0u32; depth].into_boxed_slice(),
            stride,
            ready: Fifo::new(depth),
            tx_free: FreeSlots::new(depth),
            in_flight: 0,
            refused: 0,
            refused_errno: 0,
            dropped: 0,
        };
        for slot in 0..depth as u32 {
            port.arm_read(slot)?;
        }
        port.submit()?;
        Ok(port)
    }

    /// Writes dropped because the device's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Queues a read into `slot` (submitted by the next `submit`).
    #[inline]
    fn arm_read(&mut self, slot: u32) -> io::Result<()> {
        let at = slot as usize * self.stride;
        // The spare byte is in the read: a frame longer than the largest is seen, not cut.
        let buf = self.rx[at..at + self.stride].as_mut_ptr();
        let sqe = opcode::Read::new(types::Fd(self.fd), buf, self.stride as u32)
            .build()
            .user_data(tag(false, slot));
        self.push(&sqe)
    }

    /// Queues `sqe`, submitting first if the queue is full (it cannot be, by its size).
    #[inline]
    fn push(&mut self, sqe: &io_uring::squeue::Entry) -> io::Result<()> {
        // SAFETY: the entry's buffer is a slot of `rx` or `tx`, which live as long as the ring
        // (`Drop` cancels and reaps every request first) and are not touched by this side
        // until the request's completion is reaped.
        if unsafe { self.ring.submission().push(sqe) }.is_err() {
            self.submit()?;
            // SAFETY: as above.
            unsafe { self.ring.submission().push(sqe) }
                .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Submits everything queued (one `io_uring_enter`; none when nothing is queued).
    #[inline]
    fn submit(&mut self) -> io::Result<()> {
        if self.ring.submission().is_empty() {
            return Ok(());
        }
        loop {
            match self.ring.submit() {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next completion, if one was posted.
    #[inline]
    fn next_completion(&mut self) -> Option<(u64, i32)> {
        self.ring
            .completion()
            .next()
            .map(|c| (c.user_data(), c.result()))
    }

    /// Reaps every posted completion: writes free their slots, reads wait in `ready`.
    fn reap(&mut self) {
        while let Some((user_data, res)) = self.next_completion() {
            match untag(user_data) {
                Some((true, slot)) => self.write_done(slot, res),
                Some((false, slot)) => {
                    self.in_flight -= 1;
                    let stored = self.ready.push((slot, res));
                    debug_assert!(stored, "a read slot completed twice");
                }
                None => {}
            }
        }
    }

    /// The next read completion: the queue of reaped ones first, then the completion queue
    /// (write completions met on the way are handled).
    #[inline]
    fn next_read(&mut self) -> Option<(u32, i32)> {
        if let Some(read) = self.ready.pop() {
            return Some(read);
        }
        while let Some((user_data, res)) = self.next_completion() {
            match untag(user_data) {
                Some((true, slot)) => self.write_done(slot, res),
                Some((false, slot)) => {
                    self.in_flight -= 1;
                    return Some((slot, res));
                }
                None => {}
            }
        }
        None
    }

    #[inline]
    fn write_done(&mut self, slot: u32, res: i32) {
        self.in_flight -= 1;
        let want = self.tx_len[slot as usize];
        self.tx_free.give(slot);
        if res >= 0 && res as u32 == want {
            return;
        }
        if res == -libc::EAGAIN {
            self.dropped += 1;
        } else {
            self.refused += 1;
            self.refused_errno = (-res).max(0);
        }
    }

    /// One refused write as an error (and one fewer to report).
    #[cold]
    fn report_refused(&mut self) -> io::Error {
        self.refused -= 1;
        let name = self.tap.name();
        if self.refused_errno == 0 {
            io::Error::new(
                io::ErrorKind::WriteZero,
                format!("{name}: short write through io_uring"),
            )
        } else {
            let e = io::Error::from_raw_os_error(self.refused_errno);
            io::Error::new(e.kind(), format!("{name}: write refused: {e}"))
        }
    }

    /// Hands over the frame read into `slot` (`res`: the read's result) and queues the next
    /// read into that slot; `Ok(None)` for a read that brought nothing (cancelled, `EAGAIN`).
    #[inline]
    fn take_read(
        &mut self,
        slot: u32,
        res: i32,
        buf: &mut [u8],
    ) -> io::Result<Option<(VnetHeader, usize)>> {
        let at = slot as usize * self.stride;
        let got = if res < 0 {
            match -res {
                libc::EAGAIN | libc::EINTR | libc::ECANCELED => Ok(None),
                errno => Err(io::Error::from_raw_os_error(errno)),
            }
        } else {
            let data = &self.rx[at..at + res as usize];
            let (header, frame) = if self.vnet {
                match data.split_at_checked(VNET_HDR_LEN) {
                    Some((h, f)) => (VnetHeader::parse(h).unwrap_or_default(), f),
                    None => (VnetHeader::NONE, &[][..]),
                }
            } else {
                (VnetHeader::NONE, data)
            };
            if self.vnet && data.len() < VNET_HDR_LEN {
                Err(self.bad_read(format!("read of {} bytes has no vnet header", data.len())))
            } else if frame.len() > buf.len().min(MAX_FRAME_LEN) {
                Err(self.bad_read(format!(
                    "a frame longer than the {}-byte buffer was truncated",
                    buf.len().min(MAX_FRAME_LEN)
                )))
            } else {
                buf[..frame.len()].copy_from_slice(frame);
                Ok(Some((header, frame.len())))
            }
        };
        self.arm_read(slot)?;
        got
    }

    #[cold]
    fn bad_read(&self, what: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: {what}", self.tap.name()),
        )
    }
}

impl Port for UringPort {
    fn name(&self) -> &str {
        self.tap.name()
    }

    #[inline]
    fn recv(&mut self, _now: Instant, buf: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>> {
        while let Some((slot, res)) = self.next_read() {
            if let Some(frame) = self.take_read(slot, res, buf)? {
                return Ok(Some(frame));
            }
        }
        Ok(None)
    }

    #[inline]
    fn send(&mut self, _now: Instant, header: &VnetHeader, frame: &[u8]) -> io::Result<bool> {
        let hdr = if self.vnet { VNET_HDR_LEN } else { 0 };
        let len = hdr + frame.len();
        if len >= self.stride {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: a frame of {} bytes", self.tap.name(), frame.len()),
            ));
        }
        let slot = match self.tx_free.take() {
            Some(slot) => slot,
            None => {
                // Every slot is in a queued or submitted write: submit them, take the
                // completions (TAP writes complete inside the submission).
                self.submit()?;
                self.reap();
                match self.tx_free.take() {
                    Some(slot) => slot,
                    None => {
                        self.dropped += 1;
                        return Ok(false);
                    }
                }
            }
        };
        let at = slot as usize * self.stride;
        let out = &mut self.tx[at..at + len];
        if self.vnet {
            header.emit(out);
        }
        out[hdr..].copy_from_slice(frame);
        self.tx_len[slot as usize] = len as u32;
        let sqe = opcode::Write::new(types::Fd(self.fd), out.as_ptr(), len as u32)
            .build()
            .user_data(tag(true, slot));
        self.push(&sqe)?;
        if self.refused > 0 {
            return Err(self.report_refused());
        }
        Ok(true)
    }

    /// Reads reaped but not handed over are work for now.
    fn poll_at(&self) -> Option<Instant> {
        (!self.ready.is_empty()).then_some(Instant::ZERO)
    }

    /// Submits the queued writes and re-armed reads (one system call) and reaps completions.
    fn poll(&mut self, _now: Instant) -> io::Result<()> {
        self.submit()?;
        self.reap();
        if self.refused > 0 {
            return Err(self.report_refused());
        }
        Ok(())
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.ring.as_raw_fd())
    }
}

impl Drop for UringPort {
    /// Cancels the reads in flight and waits for every request to complete, so that the kernel
    /// is done with the slots before they are freed.
    fn drop(&mut self) {
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(CANCEL);
        // SAFETY: a cancellation names no buffer. (Every read and write is already queued or
        // in flight, so there is room for it.)
        let _ = unsafe { self.ring.submission().push(&cancel) };
        for _ in 0..1000 {
            let _ = self.submit();
            while let Some((user_data, res)) = self.next_completion() {
                match untag(user_data) {
                    Some((true, slot)) => self.write_done(slot, res),
                    Some((false, _)) => self.in_flight -= 1,
                    None => {}
                }
            }
            if self.in_flight == 0 {
                return;
            }
            let _ = self.ring.submit_and_wait(1);
        }
    }
}

#[cfg(test)]
mod tests;
