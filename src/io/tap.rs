//! A TAP device opened by name (tun-tap), non-blocking, read and written one frame per call.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use tun_tap::{Iface, Mode};

/// An open TAP device.
pub struct Tap {
    iface: Iface,
}

impl Tap {
    /// Attaches to the TAP device `name` (an existing persistent TAP is reused, otherwise one is
    /// created; either way it lives in the calling thread's network namespace).
    pub fn open(name: &str) -> io::Result<Tap> {
        let iface = Iface::without_packet_info(name, Mode::Tap).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot open TAP device `{name}`: {e}"))
        })?;
        iface.set_non_blocking()?;
        Ok(Tap { iface })
    }

    pub fn name(&self) -> &str {
        self.iface.name()
    }

    /// Reads one frame; `Ok(None)` when none is waiting.
    #[inline]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.iface.recv(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes one frame. A full queue drops the frame (returns false), as a NIC would.
    #[inline]
    pub fn send(&self, frame: &[u8]) -> io::Result<bool> {
        match self.iface.send(frame) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.iface.as_raw_fd()
    }
}

/// Waits until one of `fds` is readable or `timeout` passes (ppoll(2): to the microsecond, where
/// poll(2) rounds a timer due in 0.4 ms down to 0 and its caller would spin until it is due).
pub fn wait_readable(fds: &[RawFd], timeout: std::time::Duration) -> io::Result<()> {
    let mut pfds = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 8];
    let n = fds.len().min(pfds.len());
    for (p, fd) in pfds.iter_mut().zip(fds) {
        p.fd = *fd;
        p.events = libc::POLLIN;
    }
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: `pfds` is a valid array of `n` initialised pollfd structs and `ts` a valid
    // timespec, both outliving the call; no signal mask is changed (null).
    let rc = unsafe { libc::ppoll(pfds.as_mut_ptr(), n as libc::nfds_t, &ts, std::ptr::null()) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}
