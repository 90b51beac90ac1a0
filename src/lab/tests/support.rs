//! Helpers for the root-only tests: skipping, namespace listings, and running code or sockets
//! inside a lab namespace (a thread that `setns`es; a socket keeps the namespace it was made in).

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::os::fd::FromRawFd;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::lab::{Lab, check_privileges, state};

/// True if lab tests can run here; otherwise prints why and returns false, or panics when the
/// environment variable `CI` is set (CI must not silently skip them).
pub(super) fn lab_tests_can_run(test: &str) -> bool {
    match check_privileges() {
        Ok(()) => true,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("{test}: CI is set but lab tests cannot run: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: {e}");
            false
        }
    }
}

/// True if kernel NAT lab tests can run here: [`lab_tests_can_run`], and `nft` (package
/// nftables) is installed; otherwise prints why and returns false, or panics when `CI` is set.
pub(super) fn knat_tests_can_run(test: &str) -> bool {
    if !lab_tests_can_run(test) {
        return false;
    }
    // Where lab-up.sh looks: the caller's PATH plus the sbin directories.
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path
        .split(':')
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"]);
    if dirs
        .map(|d| std::path::Path::new(d).join("nft"))
        .any(|p| p.is_file())
    {
        return true;
    }
    let why = "nft is not installed (apt-get install nftables)";
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set but kernel NAT tests cannot run: {why}");
    }
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// The namespaces whose name starts with `<prefix>-`, sorted.
pub(super) fn namespaces_of(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = state::namespaces()
        .expect("ip netns list")
        .into_iter()
        .filter(|ns| ns.starts_with(&format!("{prefix}-")))
        .collect();
    names.sort();
    names
}

/// Runs `f` on a new thread that has entered namespace `ns`.
pub(super) fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    crate::io::netns::run_in(ns, f).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts that nothing of lab `prefix` is left: no namespace, no state dir.
pub(super) fn assert_gone(prefix: &str) {
    assert_eq!(
        namespaces_of(prefix),
        Vec::<String>::new(),
        "namespaces of {prefix} left"
    );
    assert!(
        !state::state_dir(prefix).exists(),
        "state dir of {prefix} left"
    );
}

/// `sysctl -n KEY` inside `host`'s namespace.
pub(super) fn sysctl(lab: &Lab, host: &str, key: &str) -> String {
    let output = lab
        .command(host, "sysctl")
        .args(["-n", key])
        .output()
        .expect("sysctl runs");
    assert!(
        output.status.success(),
        "sysctl {key} in {host}: {output:?}"
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `ip -n <ns> -j ARGS...`, parsed.
pub(super) fn ip_json(lab: &Lab, host: &str, args: &[&str]) -> Value {
    let output = std::process::Command::new("ip")
        .args(["-n", &lab.netns(host), "-j"])
        .args(args)
        .output()
        .expect("ip runs");
    assert!(output.status.success(), "ip {args:?} in {host}: {output:?}");
    serde_json::from_slice(&output.stdout).expect("ip -j prints JSON")
}

/// The MAC address of `ifname` in `host`'s namespace.
pub(super) fn mac(lab: &Lab, host: &str, ifname: &str) -> String {
    ip_json(lab, host, &["link", "show", "dev", ifname])[0]["address"]
        .as_str()
        .expect("link has an address")
        .to_owned()
}

/// A TCP connection from `source` (port chosen by the kernel) to `destination`, made in the
/// calling thread's namespace, giving up after `timeout`.
pub(super) fn connect_from(
    source: Ipv4Addr,
    destination: SocketAddrV4,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let check = |rc: libc::c_int| {
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    };
    let tv = libc::timeval {
        tv_sec: timeout.as_secs().try_into().unwrap_or(libc::time_t::MAX),
        tv_usec: timeout.subsec_micros().into(),
    };
    let (from, to) = (
        sockaddr(SocketAddrV4::new(source, 0)),
        sockaddr(destination),
    );
    let len = |size: usize| libc::socklen_t::try_from(size).expect("small struct");
    // SAFETY: plain socket calls on a descriptor that `stream` owns from the moment it exists; the
    // option and address structs are initialised and outlive the calls.
    unsafe {
        let fd = check(libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
        ))?;
        let stream = TcpStream::from_raw_fd(fd);
        let (tv_ptr, tv_len) = ((&raw const tv).cast(), len(size_of_val(&tv)));
        check(libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            tv_ptr,
            tv_len,
        ))?;
        check(libc::bind(
            fd,
            (&raw const from).cast(),
            len(size_of_val(&from)),
        ))?;
        match check(libc::connect(
            fd,
            (&raw const to).cast(),
            len(size_of_val(&to)),
        )) {
            // connect() gives up with EINPROGRESS when SO_SNDTIMEO expires.
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
            }
            // A signal cut the wait short (the test binary runs signal tests beside this one);
            // the handshake goes on: wait for it as long as the timeout says.
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                finish_connect(fd, timeout).map(|()| stream)
            }
            Err(e) => Err(e),
            Ok(_) => Ok(stream),
        }
    }
}

/// Waits up to `timeout` for an interrupted connect on `fd` to finish, and gives its outcome.
fn finish_connect(fd: libc::c_int, timeout: Duration) -> io::Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"));
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: one initialised pollfd, for the duration of the call.
        match unsafe { libc::poll(&raw mut pfd, 1, ms) } {
            0 => continue,
            n if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {
                continue;
            }
            n if n < 0 => return Err(io::Error::last_os_error()),
            _ => {}
        }
        let mut error: libc::c_int = 0;
        let mut len = libc::socklen_t::try_from(size_of_val(&error)).expect("small");
        // SAFETY: `error` and `len` outlive the call and are the sizes given.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut error).cast(),
                &raw mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        return match error {
            0 => Ok(()),
            e => Err(io::Error::from_raw_os_error(e)),
        };
    }
}

fn sockaddr(address: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: address.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*address.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// A JSON string, or "" if it is missing.
pub(super) fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// The link names of the namespace this test process runs in (the root namespace).
pub(super) fn root_links() -> BTreeSet<String> {
    let output = Command::new("ip")
        .args(["-j", "link", "show"])
        .output()
        .expect("ip runs");
    assert!(output.status.success(), "ip link show: {output:?}");
    let links: Value = serde_json::from_slice(&output.stdout).expect("ip -j prints JSON");
    links
        .as_array()
        .expect("links")
        .iter()
        .map(|l| text(&l["ifname"]))
        .collect()
}

/// No link the lab made (bridges, TAPs, veth ends) appeared in the root namespace.
pub(super) fn assert_nothing_in_the_root_namespace(before: &BTreeSet<String>, lab: &Lab) {
    let fixed = ["br0", "br1", "rt", "cl0", "eth0", "eth1", "kn", "kni"];
    let mut names: BTreeSet<String> = fixed.map(String::from).into();
    for d in &lab.topology().directors {
        names.insert(d.clone());
        names.extend(lab.topology().inside_tap(d));
    }
    names.extend(lab.topology().real_servers.iter().map(|rs| rs.name.clone()));
    let after = root_links();
    let new: Vec<&String> = after
        .difference(before)
        .filter(|l| names.contains(*l))
        .collect();
    assert!(new.is_empty(), "lab links in the root namespace: {new:?}");
}
