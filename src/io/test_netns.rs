//! For the root-only TAP tests: whether they can run, and a namespace of their own holding one
//! TAP (made as `netns/lab-up.sh` makes its TAPs) with an address, a fixed MAC and a permanent
//! neighbour, IPv6 off so that nothing else crosses it, deleted on drop (also on a panic).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why a root-only test cannot run here, if it cannot.
pub fn cannot_run() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some(format!("not root (uid {euid})"));
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun does not exist".into());
    }
    match Command::new("ip").arg("-V").stdout(Stdio::null()).status() {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("`ip -V` failed: {s}")),
        Err(e) => Some(format!("cannot run `ip` (iproute2): {e}")),
    }
}

/// True if the test can run; otherwise prints why and returns false, or panics when `CI` is
/// set (CI must not skip it silently).
pub fn can_run(test: &str) -> bool {
    match cannot_run() {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("{test}: CI is set but this root-only test cannot run: {why}")
        }
        Some(why) => {
            eprintln!("SKIPPED {test}: {why}");
            false
        }
    }
}

/// Runs `cmd` to success.
pub fn run(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {out:?}");
}

/// A namespace `tvtest<random>-x` with TAP `tap`: kernel side 198.18.`octet`.1/24 with MAC
/// 02:00:00:c6:`mac`:01, the user side 198.18.`octet`.2 as a permanent neighbour at
/// 02:00:00:c6:`mac`:02 (no ARP).
pub struct TapNetns(pub String);

impl TapNetns {
    pub fn new(tap: &str, octet: u8, mac: u8) -> TapNetns {
        let ns = TapNetns::create();
        run(Command::new("ip").args(["netns", "exec", &ns.0]).args([
            "sysctl",
            "-q",
            "-w",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]));
        let kernel_mac = format!("02:00:00:c6:{mac:02x}:01");
        let user_mac = format!("02:00:00:c6:{mac:02x}:02");
        ns.ip(&["link", "set", "lo", "up"]);
        ns.ip(&["tuntap", "add", "dev", tap, "mode", "tap"]);
        ns.ip(&["link", "set", tap, "address", &kernel_mac]);
        ns.ip(&["addr", "add", &format!("198.18.{octet}.1/24"), "dev", tap]);
        ns.ip(&["link", "set", tap, "up"]);
        let user = format!("198.18.{octet}.2");
        ns.ip(&[
            "neigh",
            "add",
            &user,
            "lladdr",
            &user_mac,
            "dev",
            tap,
            "nud",
            "permanent",
        ]);
        ns
    }

    fn create() -> TapNetns {
        use std::hash::BuildHasher;
        for attempt in 0u32..16 {
            let random = std::collections::hash_map::RandomState::new().hash_one((
                std::process::id(),
                attempt,
                Instant::now(),
            ));
            let name = format!("tvtest{:08x}-x", random as u32);
            let status = Command::new("ip")
                .args(["netns", "add", &name])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("ip netns add runs");
            if status.success() {
                return TapNetns(name);
            }
        }
        panic!("could not create a tvtest namespace");
    }

    /// `ip -n NS ARGS...`
    pub fn ip(&self, args: &[&str]) {
        run(Command::new("ip").args(["-n", &self.0]).args(args));
    }

    /// Runs `f` on a new thread that has entered this namespace; a panic in `f` is raised here.
    pub fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        super::netns::run_in(&self.0, f).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for TapNetns {
    fn drop(&mut self) {
        let ok = Command::new("ip")
            .args(["netns", "del", &self.0])
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("WARNING: could not delete namespace {}", self.0);
        }
    }
}

/// Waits (at most `patience`) until TAP `tap` of namespace `ns` is operationally UP. The kernel
/// attaches the device's real queueing discipline in the same (asynchronous) link-watch step;
/// until then, what the kernel sends out of the TAP is dropped.
pub fn wait_up(ns: &str, tap: &str, patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        let out = Command::new("ip")
            .args(["-n", ns, "-o", "link", "show", "dev", tap])
            .stdin(Stdio::null())
            .output()
            .expect("ip link show");
        if String::from_utf8_lossy(&out.stdout).contains(" state UP ") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{tap} not UP within {patience:?}: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
