//! A `[[link]]` in the emulator: the same fault injector `tapvs wire` runs ([`Impair`]), once
//! per direction, between a host's port and its cable. Below each injector is an in-memory
//! [`Port`] ([`Queue`]): what the injector releases waits there until the host (inbound) or
//! the cable (outbound) takes it. Time is the emulator's, so delays are exact.

use crate::emu::Node;
use crate::emu::gso::{MAX_SUPER_FRAME, segment};
use crate::impairment::WireStats;
use crate::io::impair::{Impair, PoolSize, Settings};
use crate::io::port::Port;
use crate::io::vnet::VnetHeader;
use crate::wire::MAX_FRAME_LEN;
use smoltcp::time::Instant;
use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;

/// An in-memory port: frames sent into it wait in order until read.
#[derive(Default)]
pub struct Queue {
    frames: VecDeque<Vec<u8>>,
    /// Buffers of frames read, reused (the steady state allocates nothing).
    spare: Vec<Vec<u8>>,
}

impl Port for Queue {
    fn name(&self) -> &str {
        "emulated"
    }

    fn recv(&mut self, _now: Instant, buf: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>> {
        let Some(frame) = self.frames.pop_front() else {
            return Ok(None);
        };
        let len = frame.len().min(buf.len());
        buf[..len].copy_from_slice(&frame[..len]);
        self.spare.push(frame);
        Ok(Some((VnetHeader::NONE, len)))
    }

    fn send(&mut self, _now: Instant, _header: &VnetHeader, frame: &[u8]) -> io::Result<bool> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(frame);
        self.frames.push_back(buf);
        Ok(true)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        None
    }
}

/// The two injectors of one link: `out` on what the host sends, `inbound` on what reaches it.
pub struct Wire {
    pub name: String,
    out: Impair<Queue>,
    inbound: Impair<Queue>,
    /// One frame being moved (a host's GSO super-frame fits).
    scratch: Vec<u8>,
    /// One MTU-sized piece of a super-frame (`tapvs wire`'s TAPs have no offloads).
    piece: Vec<u8>,
}

impl Wire {
    /// A link with `settings` both ways, each direction's draws from its own seed.
    pub fn new(name: &str, settings: Settings, seed: u64) -> io::Result<Wire> {
        let pool = PoolSize::default();
        Ok(Wire {
            name: name.to_owned(),
            out: Impair::new(Queue::default(), settings, seed, pool)?,
            inbound: Impair::new(Queue::default(), settings, seed ^ 0x5555, pool)?,
            scratch: vec![0; MAX_SUPER_FRAME],
            piece: vec![0; MAX_FRAME_LEN],
        })
    }

    pub fn set_settings(&mut self, settings: Settings) -> Result<(), String> {
        self.out.set_settings(settings)?;
        self.inbound.set_settings(settings)
    }

    /// As `tapvs wire` reports: side A is the host, B the switch.
    pub fn stats(&self) -> WireStats {
        WireStats {
            settings: *self.out.settings(),
            a_to_b: *self.out.counters(),
            b_to_a: *self.inbound.counters(),
            ..WireStats::default()
        }
    }

    /// A frame from the cable, towards the host: the TAP without offloads cuts a super-frame
    /// into MTU-sized frames, each then impaired on its own.
    pub fn arrive(&mut self, now: Instant, frame: &[u8]) {
        let inbound = &mut self.inbound;
        // The injector counts what it drops (a full pool too); a super-frame that is not TCP
        // is dropped, as the kernel drops a GSO packet it cannot segment.
        let _ = segment(frame, &mut self.piece, |f| {
            let _ = inbound.send(now, &VnetHeader::NONE, f);
        });
    }

    /// The host's next frame, taken into the wire's own buffer: its port and length there
    /// ([`Wire::host_frame`]).
    pub fn take_from(&mut self, now: Instant, host: &mut dyn Node) -> Option<(usize, usize)> {
        host.poll_transmit(now, &mut self.scratch)
    }

    /// The first `len` bytes of the wire's own buffer.
    pub fn host_frame(&self, len: usize) -> &[u8] {
        &self.scratch[..len]
    }

    /// The frame the host put in the wire's buffer goes towards the cable, cut into
    /// MTU-sized frames as [`Wire::arrive`] does.
    pub fn depart(&mut self, now: Instant, len: usize) {
        let out = &mut self.out;
        let _ = segment(&self.scratch[..len], &mut self.piece, |f| {
            let _ = out.send(now, &VnetHeader::NONE, f);
        });
    }

    /// Releases what is due, hands each frame due inbound to `host` (a frame it forwards
    /// goes out through this wire again).
    pub fn deliver(&mut self, now: Instant, host: &mut dyn Node) {
        let _ = self.inbound.poll(now);
        let _ = self.out.poll(now);
        while let Ok(Some((_, len))) = self.inbound.inner_mut().recv(now, &mut self.scratch) {
            if let Some(_port) = host.handle_frame(now, 0, &mut self.scratch[..len]) {
                let _ = self.out.send(now, &VnetHeader::NONE, &self.scratch[..len]);
            }
        }
        let _ = self.out.poll(now);
    }

    /// The next frame for the cable, into `buf`.
    pub fn next_out(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let _ = self.out.poll(now);
        let (_, len) = self.out.inner_mut().recv(now, buf).ok()??;
        Some(len)
    }

    /// When something held is due, or now if frames wait to be taken.
    pub fn poll_at(&self, now: Instant) -> Option<Instant> {
        let waiting =
            !self.inbound.inner().frames.is_empty() || !self.out.inner().frames.is_empty();
        let due = [self.inbound.poll_at(), self.out.poll_at()]
            .into_iter()
            .flatten()
            .min();
        if waiting { Some(now) } else { due }
    }
}
