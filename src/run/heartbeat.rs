//! The real Heartbeat managing the tapvs directors (`[failover] manager = "heartbeat"`). Each
//! director `dN` gets a kernel host `dNhb` on the LAN (198.18.0.(6 + N)) where Heartbeat 3
//! runs in its classic mode (haresources, `crm off`) in its own mount and UTS namespaces
//! (`unshare -m -u`): a private /etc/ha.d (a copy of the installed one with this run's ha.cf,
//! haresources, authkeys and the `tapvs-vip` resource script), private /run, /var/lib/heartbeat
//! and /var/log, all bound from `<state>/<dN>hb/`, and its node name set with `hostname`.
//! Nothing on the host is written: the binds exist only in Heartbeat's mount namespace.
//!
//! The resource script is what Heartbeat starts, stops and asks the status of: it sends `role
//! master` / `role backup` / `role` to the director's control socket (`tapvs control`), so the
//! director answers ARP for the VIP and announces it by gratuitous ARP, and its sync becomes
//! master, or goes passive. The director logs each change as a `role` event, which the runner
//! reads like a VRRP transition.

use crate::scenario::Scenario;
use crate::scenario::heartbeat::{Heartbeat, Media};
use anyhow::Context;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Heartbeat's program.
pub const HEARTBEAT: &str = "/usr/libexec/heartbeat/heartbeat";
/// The name of the resource script in haresources and resource.d.
pub const RESOURCE: &str = "tapvs-vip";
/// Where the lab's state dir appears inside Heartbeat's mount namespace (/run is private).
const STATE_INSIDE: &str = "/etc/ha.d/tapvs";

/// The LAN host of director `n`'s Heartbeat (1-based): `d1hb` at 198.18.0.7, `d2hb` at .8.
pub fn host(n: u8) -> (String, Ipv4Addr) {
    (format!("d{n}hb"), Ipv4Addr::new(198, 18, 0, 6 + n))
}

/// The kernel hosts a scenario's lab needs beside its tapvs directors: one each where Heartbeat
/// manages the director (`manager = "heartbeat"`) or ldirectord checks for it (`[health]
/// checker = "ldirectord"`); both run in the same host.
pub fn hosts(scenario: &Scenario) -> Vec<(String, Ipv4Addr)> {
    let managed = scenario
        .failover
        .as_ref()
        .is_some_and(|f| f.heartbeat_manager().is_some());
    let checked = scenario.checker() == crate::scenario::Checker::Ldirectord;
    if !managed && !checked {
        return Vec::new();
    }
    scenario
        .tapvs_directors()
        .iter()
        .filter_map(|d| d.strip_prefix('d')?.parse().ok())
        .map(host)
        .collect()
}

/// A director host's leg on the inside segment (two-armed NAT, where the real servers
/// ldirectord checks live behind the directors): its LAN address's number on 198.18.1.0/24.
pub fn inside_leg(lan: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 1, lan.octets()[3])
}

/// Heartbeat's files for director `n` under the lab's state dir.
pub struct HeartbeatFiles {
    /// `<state>/d<n>hb`: ha.d/, run/, lib/, log/ and launch.sh.
    pub root: PathBuf,
    pub state: PathBuf,
    pub n: u8,
}

impl HeartbeatFiles {
    pub fn new(state: &Path, n: u8) -> HeartbeatFiles {
        HeartbeatFiles {
            root: state.join(host(n).0),
            state: state.to_path_buf(),
            n,
        }
    }

    fn ha_d(&self) -> PathBuf {
        self.root.join("ha.d")
    }

    /// Heartbeat's log, in the state dir (copied to the run's logs).
    pub fn log_name(&self) -> String {
        format!("{}-heartbeat.log", host(self.n).0)
    }

    /// Builds the private tree and returns the program and arguments that start Heartbeat in
    /// its namespaces. `exe` is tapvs, `socket` the director's control socket (in the state
    /// dir).
    /// With `ldirectord` (its file's name and text), ldirectord is the group's second resource,
    /// as in the seed: Heartbeat starts it on the node that takes the VIP.
    pub fn prepare(
        &self,
        scenario: &Scenario,
        hb: &Heartbeat,
        (exe, socket): (&Path, &Path),
        ldirectord: Option<(&str, &str)>,
    ) -> anyhow::Result<(PathBuf, Vec<String>)> {
        let ha_d = self.ha_d();
        if self.root.exists() {
            // A restart: Heartbeat's own state (generation, uuid) is kept, as on a machine.
            std::fs::remove_dir_all(&ha_d).context("clearing the private ha.d")?;
        }
        for dir in ["run/heartbeat", "run/resource-agents", "lib", "log"] {
            std::fs::create_dir_all(self.root.join(dir))
                .with_context(|| format!("creating {}", self.root.join(dir).display()))?;
        }
        copy_tree(Path::new("/etc/ha.d"), &ha_d)?;
        if !self.root.join("lib/hb_uuid").exists() {
            copy_tree(Path::new("/var/lib/heartbeat"), &self.root.join("lib"))?;
        }
        // The installed files of other programs' are not ours to run (ldirectord.cf).
        let _ = std::fs::remove_file(ha_d.join("ldirectord.cf"));
        std::fs::create_dir_all(ha_d.join("tapvs"))?;
        let inside = |name: &str| format!("{STATE_INSIDE}/{name}");
        let write = |name: &str, text: String, mode: u32| -> anyhow::Result<()> {
            use std::os::unix::fs::PermissionsExt;
            let path = ha_d.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            Ok(())
        };
        let logs = (
            inside(&self.log_name()),
            inside(&self.log_name().replace(".log", "-debug.log")),
        );
        write("ha.cf", ha_cf_text(hb, self.n, &logs), 0o644)?;
        write(
            "haresources",
            haresources_text(hb, ldirectord.map(|(name, _)| name)),
            0o644,
        )?;
        write("authkeys", authkeys_text(scenario), 0o600)?;
        let socket_name = socket.file_name().context("a control socket file")?;
        let socket = inside(&socket_name.to_string_lossy());
        write(
            &format!("resource.d/{RESOURCE}"),
            agent_script(exe, &socket),
            0o755,
        )?;
        if let Some((name, cf)) = ldirectord {
            // Its log in the private /var/log, whatever the file says (the last one counts).
            write(
                name,
                format!("{cf}\nlogfile=\"/var/log/ldirectord.log\"\n"),
                0o644,
            )?;
            let script = super::ldirectord::ipvsadm_script(exe, &socket);
            std::fs::write(self.root.join("ipvsadm"), script)?;
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::Permissions::from_mode(0o755);
            std::fs::set_permissions(self.root.join("ipvsadm"), mode)?;
        }
        let launch = self.root.join("launch.sh");
        let node = &hb.nodes[usize::from(self.n - 1)];
        let text = launch_script(&self.state, &self.root, node, ldirectord.is_some());
        std::fs::write(&launch, text).context("writing Heartbeat's launch script")?;
        let _ = Command::new("chown")
            .args(["-R", "hacluster:haclient"])
            .arg(self.root.join("run/heartbeat"))
            .status();
        Ok((
            PathBuf::from("unshare"),
            // Its own PID namespace too: whatever its resources leave running (ldirectord's
            // daemon) dies with it.
            [
                "-m",
                "-u",
                "-p",
                "--kill-child",
                "--mount-proc",
                "--propagation",
                "private",
                "sh",
            ]
            .into_iter()
            .map(String::from)
            .chain([launch.display().to_string()])
            .collect(),
        ))
    }
}

/// `cp -a SRC/. DST/`: modes, owners and links kept (the installed ha.d has scripts).
fn copy_tree(src: &Path, dst: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dst)?;
    let status = Command::new("cp")
        .arg("-a")
        .arg(src.join("."))
        .arg(dst)
        .status()
        .context("running cp")?;
    anyhow::ensure!(
        status.success(),
        "cp -a {} {} failed",
        src.display(),
        dst.display()
    );
    Ok(())
}

/// A time as ha.cf takes it: milliseconds.
fn ms(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// ha.cf for director `n` (1-based): `logs` are its log and debug files as Heartbeat sees them.
pub fn ha_cf_text(hb: &Heartbeat, n: u8, logs: &(String, String)) -> String {
    let medium = match hb.media {
        Media::Ucast => format!("ucast eth0 {}", host(3 - n).1),
        Media::Bcast => "bcast eth0".to_string(),
    };
    format!(
        "# Written by tapvs run: Heartbeat for director d{n}, classic mode (haresources).
crm off
use_logd off
logfacility none
logfile {log}
debugfile {debug}
keepalive {keepalive}
deadtime {deadtime}
warntime {warntime}
initdead {initdead}
udpport {port}
{medium}
auto_failback {failback}
node {d1}
node {d2}
",
        log = logs.0,
        debug = logs.1,
        keepalive = ms(hb.keepalive),
        deadtime = ms(hb.deadtime),
        warntime = ms(hb.warntime()),
        initdead = ms(hb.initdead()),
        port = hb.udpport,
        failback = if hb.auto_failback { "on" } else { "off" },
        d1 = hb.nodes[0],
        d2 = hb.nodes[1],
    )
}

/// haresources: the preferred node holds the VIP (the tapvs director's, through the script),
/// and runs ldirectord with file `ldirectord` when given.
pub fn haresources_text(hb: &Heartbeat, ldirectord: Option<&str>) -> String {
    let checks = ldirectord.map_or(String::new(), |cf| format!(" ldirectord::{cf}"));
    format!(
        "# Written by tapvs run: the VIP and the sync role follow the {RESOURCE} resource.\n{} {RESOURCE}{checks}\n",
        hb.nodes[hb.preferred]
    )
}

/// authkeys: sha1 with a key of this run's scenario (mode 600, as Heartbeat demands).
pub fn authkeys_text(scenario: &Scenario) -> String {
    format!(
        "# Written by tapvs run.\nauth 1\n1 sha1 tapvs-{}\n",
        scenario.name
    )
}

/// The resource script (Heartbeat's resource.d, LSB style): start → the director is master;
/// stop → backup (also when it is unreachable: then it holds nothing); status → `running`
/// while master, `stopped` otherwise.
pub fn agent_script(exe: &Path, socket: &str) -> String {
    format!(
        "#!/bin/sh
# Written by tapvs run: Heartbeat's {RESOURCE} resource drives a tapvs director.
ctl() {{ '{exe}' control --timeout-ms 2000 '{socket}' \"$@\"; }}
case \"$1\" in
start) ctl role master >/dev/null ;;
stop) ctl role backup >/dev/null; exit 0 ;;
status) if [ \"$(ctl role 2>/dev/null)\" = master ]; then echo running; else echo stopped; fi ;;
*) echo \"usage: $0 start|stop|status\" >&2; exit 2 ;;
esac
",
        exe = exe.display()
    )
}

/// What runs under `unshare -m -u`: the private binds, the node name, then Heartbeat in the
/// foreground (`-f`), as the process the runner started.
/// With `ldirectord`, its ipvsadm is tapvs's.
pub fn launch_script(state: &Path, root: &Path, node: &str, ldirectord: bool) -> String {
    let (state, root) = (state.display(), root.display());
    // Before /run is replaced: `root` is under it.
    let ipvsadm = if ldirectord {
        format!("mount --bind '{root}/ipvsadm' /usr/sbin/ipvsadm\n")
    } else {
        String::new()
    };
    format!(
        "# Written by tapvs run: Heartbeat in its own mount and UTS namespaces.
set -e
mount --bind '{state}' '{root}/ha.d/tapvs'
mount --rbind '{root}/ha.d' /etc/ha.d
{ipvsadm}mount --bind '{root}/lib' /var/lib/heartbeat
mount --bind '{root}/log' /var/log
mount --bind '{root}/run' /run
hostname '{node}'
# This shell is the PID namespace's init: Heartbeat is not (it misbehaves as PID 1), and when
# this shell ends, whatever Heartbeat's resources left running ends with it.
{HEARTBEAT} -f &
wait $!
"
    )
}

/// Heartbeat's path, or a clear error.
pub fn find() -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(HEARTBEAT);
    anyhow::ensure!(
        path.exists() && Path::new("/etc/ha.d/shellfuncs").exists(),
        "[failover] manager = \"heartbeat\" needs Heartbeat 3 ({HEARTBEAT}, /etc/ha.d; apt-get install heartbeat); .ci/run installs it"
    );
    Ok(path)
}

#[cfg(test)]
mod tests;
