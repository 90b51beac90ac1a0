use super::*;
use proptest::prelude::*;

// ---- Header parsing and emitting --------------------------------------------------------------

/// A TSO (TCPv4 + ECN) header as the kernel hands it over: little-endian u16 fields.
const TSO_BYTES: [u8; VNET_HDR_LEN] = [
    0x01, 0x81, // flags NEEDS_CSUM, gso_type TCPV4 | ECN
    0x42, 0x00, // hdr_len 66
    0xa8, 0x05, // gso_size 1448
    0x22, 0x00, // csum_start 34
    0x10, 0x00, // csum_offset 16
    0xaa, 0xbb, // num_buffers: ignored
];

#[test]
fn parses_fixed_bytes_little_endian() {
    let h = VnetHeader::parse(&TSO_BYTES).expect("12 bytes parse");
    assert_eq!(
        h,
        VnetHeader {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4 | GSO_ECN,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        }
    );
    assert!(h.needs_csum());
    assert!(!h.data_valid());
    assert!(h.is_gso());
}

#[test]
fn emits_and_round_trips() {
    let h = VnetHeader::parse(&TSO_BYTES).unwrap();
    let mut expected = TSO_BYTES;
    expected[10..].fill(0); // num_buffers is emitted as 0
    assert_eq!(h.to_bytes(), expected);
    let mut out = [0xffu8; 16];
    assert_eq!(h.emit(&mut out), Some(VNET_HDR_LEN));
    assert_eq!(out[..VNET_HDR_LEN], expected);
    assert_eq!(out[VNET_HDR_LEN..], [0xff; 4], "emit writes 12 bytes only");
    assert_eq!(VnetHeader::parse(&out), Some(h));
    // The legacy 10-byte header is enough to parse.
    assert_eq!(VnetHeader::parse(&TSO_BYTES[..10]), Some(h));
}

#[test]
fn short_input_is_refused() {
    for n in 0..10 {
        assert_eq!(VnetHeader::parse(&TSO_BYTES[..n]), None, "{n} bytes");
    }
    let mut out = [0u8; VNET_HDR_LEN - 1];
    assert_eq!(VnetHeader::NONE.emit(&mut out), None);
    assert_eq!(out, [0u8; VNET_HDR_LEN - 1]);
}

#[test]
fn flag_helpers() {
    assert_eq!(VnetHeader::NONE.to_bytes(), [0u8; VNET_HDR_LEN]);
    assert!(!VnetHeader::NONE.needs_csum() && !VnetHeader::NONE.is_gso());
    let ecn_only = VnetHeader {
        gso_type: GSO_ECN,
        ..VnetHeader::NONE
    };
    assert!(!ecn_only.is_gso(), "the ECN bit alone is no GSO type");
    for t in [GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_UDP_L4] {
        let h = VnetHeader {
            gso_type: t,
            ..VnetHeader::NONE
        };
        assert!(h.is_gso(), "type {t}");
    }
    let valid = VnetHeader {
        flags: F_DATA_VALID,
        ..VnetHeader::NONE
    };
    assert!(valid.data_valid() && !valid.needs_csum());
}

// ---- Software checksum completion ------------------------------------------------------------

const MAC_KERNEL: [u8; 6] = [0x02, 0x00, 0x00, 0xc6, 0x12, 0x01];
const MAC_USER: [u8; 6] = [0x02, 0x00, 0x00, 0xc6, 0x12, 0x02];
const IP_KERNEL: [u8; 4] = [198, 18, 200, 1];
const IP_USER: [u8; 4] = [198, 18, 200, 2];
const ETH_LEN: usize = 14;
const IP_LEN: usize = 20;
const L4_START: usize = ETH_LEN + IP_LEN;

/// Ethernet + IPv4 (no options, DF) around `l4`; the IPv4 header checksum is filled.
fn ipv4_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    l4: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(L4_START + l4.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let total = (IP_LEN + l4.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    let check = !fold(ones_sum(&f[ETH_LEN..L4_START]));
    f[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&check.to_be_bytes());
    f.extend_from_slice(l4);
    f
}

/// The folded, non-complemented pseudo-header sum of an IPv4 transport segment.
fn pseudo_sum(src: [u8; 4], dst: [u8; 4], proto: u8, l4_len: usize) -> u16 {
    fold(ones_sum(&src) + ones_sum(&dst) + u64::from(proto) + l4_len as u64)
}

/// A UDP frame from the user side to the kernel side, with a complete checksum.
fn udp_to_kernel(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut udp = Vec::with_capacity(len);
    udp.extend_from_slice(&src_port.to_be_bytes());
    udp.extend_from_slice(&dst_port.to_be_bytes());
    udp.extend_from_slice(&(len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let sum = !fold(u64::from(pseudo_sum(IP_USER, IP_KERNEL, 17, len)) + ones_sum(&udp));
    let sum = if sum == 0 { 0xffff } else { sum };
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    ipv4_frame(MAC_USER, MAC_KERNEL, IP_USER, IP_KERNEL, 17, &udp)
}

/// Whether the UDP checksum of an IPv4 frame verifies (smoltcp's check, independent of ours).
fn udp_checksum_ok(frame: &[u8]) -> bool {
    use smoltcp::wire::{EthernetFrame, IpAddress, Ipv4Packet, UdpPacket};
    let eth = EthernetFrame::new_checked(frame).expect("ethernet");
    let ip = Ipv4Packet::new_checked(eth.payload()).expect("ipv4");
    let udp = UdpPacket::new_checked(ip.payload()).expect("udp");
    udp.verify_checksum(
        &IpAddress::Ipv4(ip.src_addr()),
        &IpAddress::Ipv4(ip.dst_addr()),
    )
}

/// The header of a frame whose UDP checksum field holds the pseudo-header sum only.
const UDP_PARTIAL: VnetHeader = VnetHeader {
    flags: F_NEEDS_CSUM,
    gso_type: GSO_NONE,
    hdr_len: 0,
    gso_size: 0,
    csum_start: L4_START as u16,
    csum_offset: 6,
};

/// Turns a complete UDP frame into its `CHECKSUM_PARTIAL` form.
fn make_partial(frame: &mut [u8]) {
    let l4_len = frame.len() - L4_START;
    let sum = pseudo_sum(IP_USER, IP_KERNEL, 17, l4_len);
    frame[L4_START + 6..L4_START + 8].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn complete_csum_finishes_a_partial_udp_checksum() {
    for payload in [&b""[..], b"x", b"odd length", b"even length!"] {
        let full = udp_to_kernel(40000, 5555, payload);
        assert!(udp_checksum_ok(&full), "builder");
        let mut partial = full.clone();
        make_partial(&mut partial);
        assert!(!udp_checksum_ok(&partial));
        assert!(UDP_PARTIAL.complete_csum(&mut partial));
        assert_eq!(partial, full, "payload {payload:?}");
    }
}

#[test]
fn complete_csum_refuses_what_it_cannot_do() {
    let mut frame = udp_to_kernel(1, 2, b"abc");
    let before = frame.clone();
    assert!(VnetHeader::NONE.complete_csum(&mut frame), "nothing to do");
    let gso = VnetHeader {
        gso_type: GSO_TCPV4,
        gso_size: 1448,
        ..UDP_PARTIAL
    };
    assert!(!gso.complete_csum(&mut frame));
    let outside = VnetHeader {
        csum_offset: frame.len() as u16,
        ..UDP_PARTIAL
    };
    assert!(!outside.complete_csum(&mut frame));
    let last = VnetHeader {
        csum_start: u16::MAX,
        csum_offset: u16::MAX,
        ..UDP_PARTIAL
    };
    assert!(!last.complete_csum(&mut frame));
    assert_eq!(frame, before);
}

proptest! {
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        match VnetHeader::parse(&bytes) {
            None => prop_assert!(bytes.len() < 10),
            Some(h) => {
                prop_assert_eq!(&h.to_bytes()[..10], &bytes[..10]);
                let _ = (h.needs_csum(), h.is_gso(), h.data_valid());
                let mut frame = bytes.clone();
                let _ = h.complete_csum(&mut frame);
                let mut out = bytes.clone();
                let _ = h.emit(&mut out);
            }
        }
    }

    #[test]
    fn any_header_round_trips(
        flags in any::<u8>(), gso_type in any::<u8>(), hdr_len in any::<u16>(),
        gso_size in any::<u16>(), csum_start in any::<u16>(), csum_offset in any::<u16>(),
    ) {
        let h = VnetHeader { flags, gso_type, hdr_len, gso_size, csum_start, csum_offset };
        prop_assert_eq!(VnetHeader::parse(&h.to_bytes()), Some(h));
    }

    #[test]
    fn complete_csum_never_panics(
        flags in any::<u8>(), csum_start in any::<u16>(), csum_offset in any::<u16>(),
        mut frame in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let h = VnetHeader { flags, csum_start, csum_offset, ..VnetHeader::NONE };
        let _ = h.complete_csum(&mut frame);
    }
}

#[test]
fn bad_names_are_refused_before_any_syscall() {
    for name in ["", "sixteen-bytes-xx", "nul\0"] {
        let err = VnetTap::open(name, true).expect_err(name);
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name:?}");
    }
}

// ---- Root test: a real TAP in a namespace of its own --------------------------------------------

mod root {
    use super::*;
    use crate::io::test_netns::{TapNetns, can_run, wait_up};
    use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
    use std::time::{Duration, Instant};

    const TAP: &str = "tvt0";
    const UDP_KERNEL_PORT: u16 = 5555;
    const UDP_USER_PORT: u16 = 40000;
    /// How long to wait for a frame before failing (a failure bound, not a measurement).
    const PATIENCE: Duration = Duration::from_secs(5);

    /// Opens the TAP again right after it was closed. `EBUSY` for a moment is expected: a child
    /// that another thread of this test binary forked (before its exec closed the descriptor)
    /// can briefly hold the old descriptor, and with it the device's only queue.
    fn reopen(open: impl Fn() -> io::Result<VnetTap>) -> VnetTap {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match open() {
                Err(e) if e.kind() == io::ErrorKind::ResourceBusy && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                result => return result.expect("reopen the TAP"),
            }
        }
    }

    /// Reads frames until one satisfies `pred`; panics after `PATIENCE`.
    fn recv_until(
        tap: &VnetTap,
        buf: &mut [u8],
        what: &str,
        mut pred: impl FnMut(&VnetHeader, &[u8]) -> bool,
    ) -> (VnetHeader, usize) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            while let Some((h, n)) = tap.recv(buf).expect("recv") {
                if pred(&h, &buf[..n]) {
                    return (h, n);
                }
                eprintln!("(ignoring a frame of {n} bytes, header {h:?})");
            }
            assert!(Instant::now() < deadline, "no {what} within {PATIENCE:?}");
            crate::io::tap::wait_readable(&[tap.as_raw_fd()], std::time::Duration::from_millis(50))
                .expect("poll");
        }
    }

    /// IPv4 from the kernel side to the user side with protocol `proto`?
    fn ipv4_to_user(frame: &[u8], proto: u8) -> bool {
        frame.len() >= L4_START
            && frame[12..14] == [0x08, 0x00]
            && frame[ETH_LEN] == 0x45
            && frame[ETH_LEN + 9] == proto
            && frame[ETH_LEN + 12..ETH_LEN + 16] == IP_KERNEL
            && frame[ETH_LEN + 16..ETH_LEN + 20] == IP_USER
    }

    fn icmp_echo_request(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut icmp = vec![8, 0, 0, 0];
        icmp.extend_from_slice(&id.to_be_bytes());
        icmp.extend_from_slice(&seq.to_be_bytes());
        icmp.extend_from_slice(payload);
        let check = !fold(ones_sum(&icmp));
        icmp[2..4].copy_from_slice(&check.to_be_bytes());
        ipv4_frame(MAC_USER, MAC_KERNEL, IP_USER, IP_KERNEL, 1, &icmp)
    }

    fn ioctl_int(tap: &VnetTap, request: libc::Ioctl) -> libc::c_int {
        let mut value: libc::c_int = -1;
        // SAFETY: the TUNGET* requests used here write one int through the pointer.
        let rc = unsafe { libc::ioctl(tap.as_raw_fd(), request, &raw mut value) };
        assert_eq!(rc, 0, "ioctl: {}", io::Error::last_os_error());
        value
    }

    fn tun_flags(tap: &VnetTap) -> libc::c_int {
        // SAFETY: all-zero is a valid ifreq.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        // SAFETY: TUNGETIFF writes one ifreq.
        let rc = unsafe { libc::ioctl(tap.as_raw_fd(), libc::TUNGETIFF, &raw mut ifr) };
        assert_eq!(rc, 0, "TUNGETIFF: {}", io::Error::last_os_error());
        // SAFETY: TUNGETIFF fills ifru_flags.
        libc::c_int::from(unsafe { ifr.ifr_ifru.ifru_flags })
    }

    /// Sends one datagram from the kernel side (a socket bound to 198.18.200.1) and returns the
    /// frame as read from the TAP.
    fn kernel_udp(tap: &VnetTap, sock: &UdpSocket, payload: &[u8]) -> (VnetHeader, Vec<u8>) {
        let to = SocketAddrV4::new(Ipv4Addr::from(IP_USER), UDP_USER_PORT);
        sock.send_to(payload, to)
            .expect("send_to from the kernel side");
        let mut buf = vec![0u8; MAX_FRAME_LEN];
        let (h, n) = recv_until(tap, &mut buf, "UDP datagram from the kernel", |_, f| {
            ipv4_to_user(f, 17) && f.ends_with(payload)
        });
        buf.truncate(n);
        (h, buf)
    }

    #[test]
    fn vnet_tap_frames_both_ways_in_a_namespace() {
        if !can_run("vnet_tap_frames_both_ways_in_a_namespace") {
            return;
        }
        let ns = TapNetns::new(TAP, 200, 0x12);
        let name = ns.0.clone();
        ns.enter(move || {
            let tap = VnetTap::open(TAP, true).expect("open with offloads");
            wait_up(&name, TAP, PATIENCE);
            assert_eq!(tap.name(), TAP);
            assert!(tap.offload());
            let flags = tun_flags(&tap);
            let want = libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR;
            assert_eq!(flags & want, want, "TUNGETIFF flags {flags:#x}");
            assert_eq!(ioctl_int(&tap, libc::TUNGETVNETHDRSZ), VNET_HDR_LEN as i32);
            assert_eq!(ioctl_int(&tap, libc::TUNGETVNETLE), 1);
            let sock = UdpSocket::bind(SocketAddrV4::new(
                Ipv4Addr::from(IP_KERNEL),
                UDP_KERNEL_PORT,
            ))
            .expect("bind 198.18.200.1 inside the namespace");
            sock.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut buf = vec![0u8; MAX_FRAME_LEN];

            // 1. user -> kernel -> user: ICMP echo, no flags either way.
            let payload: Vec<u8> = (0..56u8).collect();
            assert!(
                tap.send(&VnetHeader::NONE, &icmp_echo_request(0x7476, 1, &payload))
                    .expect("send echo request")
            );
            let (h, n) = recv_until(&tap, &mut buf, "ICMP echo reply", |_, f| {
                ipv4_to_user(f, 1) && f[L4_START] == 0
            });
            let reply = &buf[..n];
            assert_eq!(h, VnetHeader::NONE, "ICMP has no offload");
            assert_eq!(reply[..6], MAC_USER);
            assert_eq!(reply[6..12], MAC_KERNEL);
            assert_eq!(reply[L4_START + 4..L4_START + 8], [0x74, 0x76, 0, 1]);
            assert_eq!(&reply[L4_START + 8..], &payload[..]);
            assert_eq!(fold(ones_sum(&reply[L4_START..])), 0xffff, "ICMP checksum");
            eprintln!("echo reply: {n} bytes, header {h:?}");

            // 2. user -> kernel: a datagram with a wrong full checksum is dropped, one with only
            // the pseudo-header sum and NEEDS_CSUM is delivered, one complete without flags too.
            let mut bad = udp_to_kernel(UDP_USER_PORT, UDP_KERNEL_PORT, b"bad checksum");
            bad[L4_START + 6] ^= 0x55;
            assert!(tap.send(&VnetHeader::NONE, &bad).unwrap());
            let mut partial = udp_to_kernel(UDP_USER_PORT, UDP_KERNEL_PORT, b"partial checksum");
            make_partial(&mut partial);
            assert!(tap.send(&UDP_PARTIAL, &partial).unwrap());
            let full = udp_to_kernel(UDP_USER_PORT, UDP_KERNEL_PORT, b"full checksum");
            assert!(tap.send(&VnetHeader::NONE, &full).unwrap());
            let mut got = [0u8; 64];
            let from = SocketAddrV4::new(Ipv4Addr::from(IP_USER), UDP_USER_PORT).into();
            for expected in [&b"partial checksum"[..], b"full checksum"] {
                let (len, src) = sock.recv_from(&mut got).expect("datagram delivered");
                assert_eq!(src, from);
                assert_eq!(
                    &got[..len],
                    expected,
                    "the bad checksum must have been dropped"
                );
            }

            // 3. kernel -> user with offloads: the UDP checksum is left partial.
            let (h, mut frame) = kernel_udp(&tap, &sock, b"hello from the kernel");
            eprintln!("kernel UDP with offloads: header {h:?}");
            assert!(h.needs_csum(), "{h:?}");
            assert!(!h.is_gso());
            assert_eq!(
                usize::from(h.csum_start),
                L4_START,
                "csum_start: the UDP header"
            );
            assert_eq!(h.csum_offset, 6, "csum_offset: UDP's checksum field");
            let l4_len = frame.len() - L4_START;
            let field = u16::from_be_bytes([frame[L4_START + 6], frame[L4_START + 7]]);
            assert_eq!(
                field,
                pseudo_sum(IP_KERNEL, IP_USER, 17, l4_len),
                "the field holds the non-complemented pseudo-header sum"
            );
            assert!(!udp_checksum_ok(&frame));
            assert!(h.complete_csum(&mut frame));
            assert!(udp_checksum_ok(&frame), "completed checksum verifies");

            // 4. A short buffer is an error, not a silently cut frame.
            let big: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
            assert!(
                tap.send(&VnetHeader::NONE, &icmp_echo_request(0x7476, 2, &big))
                    .unwrap()
            );
            let deadline = Instant::now() + PATIENCE;
            let mut small = [0u8; 100];
            let err = loop {
                match tap.recv(&mut small) {
                    Err(e) => break e,
                    Ok(Some((h, n))) => eprintln!("(ignoring a frame of {n} bytes, header {h:?})"),
                    Ok(None) => {
                        assert!(Instant::now() < deadline, "no big echo reply");
                        crate::io::tap::wait_readable(
                            &[tap.as_raw_fd()],
                            std::time::Duration::from_millis(50),
                        )
                        .unwrap();
                    }
                }
            };
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains("truncated"), "{err}");
            // ... while a buffer the frame fills exactly is fine.
            assert!(
                tap.send(&VnetHeader::NONE, &icmp_echo_request(0x7476, 3, &big))
                    .unwrap()
            );
            let exact = L4_START + 8 + big.len();
            let (h, n) = recv_until(&tap, &mut buf[..exact], "exact-fit echo reply", |_, f| {
                ipv4_to_user(f, 1) && f[L4_START + 6..L4_START + 8] == [0, 3]
            });
            assert_eq!((h, n), (VnetHeader::NONE, exact));
            assert_eq!(&buf[L4_START + 8..exact], &big[..]);

            // 5. Closing switches the offloads off again: a later user that leaves them alone
            // gets complete checksums.
            drop(tap);
            let tap = reopen(|| VnetTap::attach(TAP, None));
            wait_up(&name, TAP, PATIENCE);
            let (h, frame) = kernel_udp(&tap, &sock, b"after the offloads were reset");
            assert!(!h.needs_csum() && !h.is_gso(), "{h:?}");
            assert!(udp_checksum_ok(&frame));
            drop(tap);

            // 6. Without offloads, the same: complete checksums, no GSO.
            let tap = reopen(|| VnetTap::open(TAP, false));
            wait_up(&name, TAP, PATIENCE);
            assert!(!tap.offload());
            let (h, frame) = kernel_udp(&tap, &sock, b"no offloads");
            assert!(!h.needs_csum() && !h.is_gso(), "{h:?}");
            assert!(udp_checksum_ok(&frame));
        });
        drop(ns);
    }
}

/// The one's-complement sum of `data` as big-endian 16-bit words (an odd last byte padded with
/// zero), not folded: the tests' own reference, apart from the code under test.
fn ones_sum(data: &[u8]) -> u64 {
    data.chunks(2)
        .map(|w| u64::from(u16::from_be_bytes([w[0], w.get(1).copied().unwrap_or(0)])))
        .sum()
}

/// Folds a one's-complement sum to 16 bits (not complemented).
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}
