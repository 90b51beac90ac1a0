//! Network faults a running lab can suffer: a director's cable pulled and plugged back, and the
//! heartbeat (VRRP) between the directors cut while the data path stays up. Everything happens
//! inside the lab's switch namespace `<prefix>-sw`.

use std::process::Command;

use super::command::stdout_of;
use super::{LabError, Layout};
use crate::lab::Lab;

/// The nftables table (bridge family, in the switch namespace) that drops VRRP on `br0`.
const HEARTBEAT_TABLE: &str = "tapvs_heartbeat";

/// VRRP (IP protocol 112) forwarded between switch ports is dropped and counted. Adverts to and
/// from anything else on the LAN, and every other frame, pass.
fn heartbeat_ruleset() -> String {
    format!(
        "table bridge {HEARTBEAT_TABLE} {{\n\tchain forward {{\n\t\ttype filter hook forward priority 0; policy accept;\n\t\tmeta protocol ip ip protocol 112 counter drop\n\t}}\n}}\n"
    )
}

impl Lab {
    /// Pulls (`up = false`) or plugs back a director's (or a peer's) cable: its ports on the
    /// switch (the outside one, and the inside one of a two-armed NAT lab) go down or up. While down, the
    /// director neither hears nor is heard (its writes fail, the bridge forwards nothing to it).
    pub fn set_director_link(&self, director: &str, up: bool) -> Result<(), LabError> {
        let topo = self.topology();
        let known = topo.lab_directors().iter().any(|d| d == director)
            || topo.peers.iter().any(|p| p.name == director);
        if !known {
            return Err(LabError::Topology(format!(
                "no director {director:?} in this lab"
            )));
        }
        let state = if up { "up" } else { "down" };
        let mut ports = vec![director.to_owned()];
        if topo.layout == Layout::NatTwoArmed && topo.lab_directors().iter().any(|d| d == director)
        {
            ports.push(format!("{director}i"));
        }
        let ns = self.netns("sw");
        for port in ports {
            stdout_of(Command::new("ip").args(["-n", &ns, "link", "set", "dev", &port, state]))?;
        }
        Ok(())
    }

    /// Cuts (`cut = true`) or heals the heartbeat path only: VRRP between the switch ports is
    /// dropped by an nftables bridge filter in the switch namespace, while all other traffic flows.
    /// Needs `nft` (nftables). Healing a heartbeat that is not cut does nothing.
    pub fn partition_heartbeat(&self, cut: bool) -> Result<(), LabError> {
        let ns = self.netns("sw");
        if cut {
            let path = self.state_dir().join("heartbeat.nft");
            std::fs::write(&path, heartbeat_ruleset()).map_err(|e| LabError::io(&path, e))?;
            stdout_of(
                Command::new("ip")
                    .args(["netns", "exec", &ns, "nft", "-f"])
                    .arg(&path),
            )?;
            Ok(())
        } else {
            let tables = stdout_of(
                Command::new("ip").args(["netns", "exec", &ns, "nft", "list", "tables"]),
            )?;
            if !tables.contains(&format!("bridge {HEARTBEAT_TABLE}")) {
                return Ok(());
            }
            stdout_of(Command::new("ip").args([
                "netns",
                "exec",
                &ns,
                "nft",
                "delete",
                "table",
                "bridge",
                HEARTBEAT_TABLE,
            ]))?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_heartbeat_filter_drops_only_vrrp() {
        let rules = super::heartbeat_ruleset();
        assert!(rules.starts_with("table bridge tapvs_heartbeat {"));
        assert!(rules.contains("hook forward"));
        assert!(rules.contains("ip protocol 112 counter drop"));
        assert!(rules.contains("policy accept"));
    }
}
