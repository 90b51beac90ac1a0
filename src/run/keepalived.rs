//! keepalived as director d2's stand-in (`[failover] peer = "keepalived"`): the real daemon
//! (VRRP only, VRRPv3) in its own namespace on the LAN, same VRID, VIP and interval as tapvs,
//! so the two must understand each other's adverts. Its transitions reach the same event log
//! format the tapvs directors write, through a notify script.

use crate::scenario::Scenario;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Where keepalived's files live in the lab's state dir.
pub struct KeepalivedFiles {
    pub config: PathBuf,
    pub notify: PathBuf,
    pub pid: PathBuf,
    pub vrrp_pid: PathBuf,
}

impl KeepalivedFiles {
    pub fn new(state: &Path, name: &str) -> KeepalivedFiles {
        KeepalivedFiles {
            config: state.join(format!("{name}-keepalived.conf")),
            notify: state.join(format!("{name}-notify.sh")),
            pid: state.join(format!("{name}-keepalived.pid")),
            vrrp_pid: state.join(format!("{name}-vrrp.pid")),
        }
    }

    /// The VRRP child's PID (the process that speaks VRRP), once it has written it.
    pub fn vrrp_child(&self) -> Option<i32> {
        std::fs::read_to_string(&self.vrrp_pid)
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// keepalived's configuration for director `number` (1-based) of `scenario`.
pub fn config_text(scenario: &Scenario, number: u8, notify: &Path) -> String {
    let f = scenario
        .failover
        .as_ref()
        .expect("a keepalived peer needs [failover]");
    let priority = f.priorities[(number - 1) as usize];
    // keepalived writes the interval in seconds; VRRPv3 allows hundredths.
    let advert = f.advert_interval.as_millis() as f64 / 1000.0;
    let preempt = if f.preempt { "" } else { "    nopreempt\n" };
    let notify = notify.display();
    format!(
        "# Written by tapvs run: keepalived as VRRP peer d{number} (VRRP only, no IPVS).
global_defs {{
    router_id tapvs_d{number}
    vrrp_version 3
    script_user root
}}

vrrp_instance tapvs {{
    state BACKUP
    interface eth0
    virtual_router_id {vrid}
    priority {priority}
    advert_int {advert}
{preempt}    virtual_ipaddress {{
        {vip}/32 dev eth0
    }}
    notify_master \"{notify} master\"
    notify_backup \"{notify} backup\"
    notify_fault \"{notify} fault\"
    notify_stop \"{notify} stopped\"
}}
",
        vrid = f.vrid,
        vip = scenario.service.vip,
    )
}

/// The notify script: appends a tapvs event line (`{"unix_ms":..,"event":{"type":"vrrp",
/// "state":..}}`) to `log`, the same [`crate::node::event::EventLine`] a tapvs director writes.
/// keepalived sends its gratuitous ARPs as it enters MASTER, so `master` is also logged as a
/// `gratuitous_arp` (the moment takeover_ms ends); FAULT and STOP read as `stopped`.
pub fn notify_script(log: &Path) -> String {
    let log = log.display();
    format!(
        "#!/bin/sh
# Written by tapvs run: keepalived's state changes, as tapvs event log lines.
now=$(date +%s%3N)
case \"$1\" in
    master|backup) state=$1 ;;
    *) state=stopped ;;
esac
printf '{{\"unix_ms\":%s,\"event\":{{\"type\":\"vrrp\",\"state\":\"%s\"}}}}\\n' \"$now\" \"$state\" >> '{log}'
if [ \"$1\" = master ]; then
    printf '{{\"unix_ms\":%s,\"event\":{{\"type\":\"gratuitous_arp\"}}}}\\n' \"$now\" >> '{log}'
fi
"
    )
}

/// Writes the configuration and the notify script; returns keepalived's arguments.
pub fn prepare(
    scenario: &Scenario,
    number: u8,
    files: &KeepalivedFiles,
    event_log: &Path,
) -> anyhow::Result<Vec<String>> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(&files.notify, notify_script(event_log)).context("writing the notify script")?;
    std::fs::set_permissions(&files.notify, std::fs::Permissions::from_mode(0o755))?;
    std::fs::write(&files.config, config_text(scenario, number, &files.notify))
        .context("writing keepalived.conf")?;
    let _ = std::fs::remove_file(&files.vrrp_pid);
    Ok([
        "--dont-fork",
        "--log-console",
        "--log-detail",
        "--no-syslog",
        "--vrrp",
    ]
    .into_iter()
    .map(String::from)
    .chain([
        format!("--use-file={}", files.config.display()),
        format!("--pid={}", files.pid.display()),
        format!("--vrrp_pid={}", files.vrrp_pid.display()),
    ])
    .collect())
}

/// keepalived's path, or a clear error.
pub fn find() -> anyhow::Result<PathBuf> {
    ["/usr/sbin/keepalived", "/usr/local/sbin/keepalived", "/sbin/keepalived"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .context(
            "[failover] peer = \"keepalived\" needs keepalived (apt-get install keepalived); .ci/run installs it",
        )
}

#[cfg(test)]
mod tests;
