//! The sender of the frames test: a thread that enters the router's namespace, pins itself to
//! core 0 and writes ready-made 64-byte UDP frames (22 bytes of payload, from the clients'
//! address, several flows) straight onto the router's LAN port with an `AF_PACKET` socket and
//! `sendmmsg`: no socket layer and no routing per frame, so the sender outpaces every middle
//! box and frames/s is the middle box's own. Bounded in time, in count and in rate.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// UDP payload of a 64-byte Ethernet frame (14 + 20 + 8 + 22).
pub const PAYLOAD: usize = 22;
const FRAME: usize = 14 + 20 + 8 + PAYLOAD;
/// Flows (source ports): each one a connection entry of a balancer.
const FLOWS: usize = 8;
/// Frames per `sendmmsg`.
const BATCH: usize = 32;
/// The most frames per second it sends, and in all.
pub const MAX_RATE: u64 = 2_000_000;
pub const MAX_FRAMES: u64 = 200_000_000;
/// The clients' address on their link (the source of every frame).
const SOURCE: Ipv4Addr = Ipv4Addr::new(198, 18, 3, 2);

/// Where the frames go: out of `ifname` in namespace `netns`, to `mac` (the next hop the router
/// would use), addressed to `target:port`.
#[derive(Debug, Clone)]
pub struct Aim {
    pub netns: String,
    pub ifname: String,
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub target: Ipv4Addr,
    pub port: u16,
}

/// Sends for `duration` (or until `stop`); returns the frames the kernel took.
pub fn send(aim: &Aim, duration: Duration, stop: Arc<AtomicBool>) -> anyhow::Result<u64> {
    let aim = aim.clone();
    std::thread::spawn(move || blast(&aim, duration, &stop))
        .join()
        .map_err(|_| anyhow::anyhow!("the UDP sender panicked"))?
}

/// The frame of flow `flow`: Ethernet, IPv4 (checksummed), UDP without checksum (0: none).
pub fn frame(aim: &Aim, flow: u16) -> [u8; FRAME] {
    let mut f = [0u8; FRAME];
    f[0..6].copy_from_slice(&aim.dst_mac);
    f[6..12].copy_from_slice(&aim.src_mac);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + 8 + PAYLOAD) as u16).to_be_bytes());
    ip[6] = 0x40; // don't fragment
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&SOURCE.octets());
    ip[16..20].copy_from_slice(&aim.target.octets());
    let sum = !crate::wire::checksum::sum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&(40_000 + flow).to_be_bytes());
    udp[2..4].copy_from_slice(&aim.port.to_be_bytes());
    udp[4..6].copy_from_slice(&((8 + PAYLOAD) as u16).to_be_bytes());
    f[42..].fill(0x5a);
    f
}

fn blast(aim: &Aim, duration: Duration, stop: &AtomicBool) -> anyhow::Result<u64> {
    crate::io::netns::enter(&aim.netns)?;
    super::cpu::pin_thread(0, 1);
    super::cpu::nice_thread(-10);
    let socket = packet_socket(&aim.ifname)?;
    let frames: Vec<[u8; FRAME]> = (0..FLOWS as u16).map(|f| frame(aim, f)).collect();
    let mut iov: Vec<libc::iovec> = (0..BATCH)
        .map(|i| libc::iovec {
            iov_base: frames[i % FLOWS].as_ptr() as *mut libc::c_void,
            iov_len: FRAME,
        })
        .collect();
    // SAFETY: an all-zero mmsghdr is valid (no name, no control data: the socket is bound).
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
        m.msg_hdr.msg_iov = v;
        m.msg_hdr.msg_iovlen = 1;
    }
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < duration && sent < MAX_FRAMES && !stop.load(Ordering::Relaxed) {
        // The rate cap: never ahead of MAX_RATE since the start.
        let allowed = (start.elapsed().as_secs_f64() * MAX_RATE as f64) as u64 + BATCH as u64;
        if sent >= allowed {
            std::thread::yield_now();
            continue;
        }
        // SAFETY: `msgs` holds BATCH headers pointing at `iov` and `frames`, all alive here.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                0,
            )
        };
        if n > 0 {
            sent += n as u64;
        }
    }
    Ok(sent)
}

/// An `AF_PACKET` socket bound to `ifname`, skipping the queueing discipline.
fn packet_socket(ifname: &str) -> anyhow::Result<OwnedFd> {
    let name = std::ffi::CString::new(ifname)?;
    // SAFETY: plain socket(2), if_nametoindex(3), setsockopt(2) and bind(2) calls with valid
    // arguments; the descriptor is owned at once.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        if fd < 0 {
            anyhow::bail!("AF_PACKET socket: {}", std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let index = libc::if_nametoindex(name.as_ptr());
        if index == 0 {
            anyhow::bail!("interface {ifname}: {}", std::io::Error::last_os_error());
        }
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = index as i32;
        let rc = libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        );
        if rc != 0 {
            anyhow::bail!("binding to {ifname}: {}", std::io::Error::last_os_error());
        }
        Ok(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_is_64_bytes_of_valid_ipv4_udp() {
        let aim = Aim {
            netns: String::new(),
            ifname: String::new(),
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            target: Ipv4Addr::new(198, 18, 0, 100),
            port: 9,
        };
        let f = frame(&aim, 3);
        assert_eq!(f.len(), 64);
        let eth = smoltcp::wire::EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(eth.dst_addr().as_bytes(), &[2, 0, 0, 0, 0, 2]);
        let ip = smoltcp::wire::Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.src_addr(), SOURCE);
        assert_eq!(ip.dst_addr(), aim.target);
        let udp = smoltcp::wire::UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!((udp.src_port(), udp.dst_port()), (40_003, 9));
        assert_eq!(udp.payload().len(), PAYLOAD);
    }
}
