//! `setsockopt(2)` with an integer value: the one unsafe call behind the load generator's,
//! the servers' and the VRRP spoofer's socket options.

use std::os::fd::AsRawFd;

/// Sets the integer option `level`/`name` of `socket` to `value`.
pub fn set_int(
    socket: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> std::io::Result<()> {
    // SAFETY: a descriptor `socket` keeps open, and a pointer to a live c_int with its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sets_an_option_and_reports_a_refused_one() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        super::set_int(&socket, libc::IPPROTO_IP, libc::IP_TTL, 7).unwrap();
        assert_eq!(socket.ttl().unwrap(), 7);
        let err = super::set_int(&socket, libc::IPPROTO_IP, libc::IP_TTL, 1000).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}
