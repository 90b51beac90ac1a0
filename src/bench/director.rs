//! The director `tapvs bench` runs: the configuration a one-server scenario implies (the same
//! code as `tapvs run`), with a UDP service beside the HTTP one.

use super::labs::{HTTP_PORT, UDP_PORT, VIP};
use super::plan::Path;
use crate::scenario::Scenario;
use anyhow::Context;

/// Writes the configuration of director d1 for `path` (tapvs DR or two-armed NAT) to `file`.
pub fn write_config(path: Path, file: &std::path::Path) -> anyhow::Result<()> {
    let lab = match path {
        Path::TapvsNat | Path::TapvsNatUring => "mode = \"nat\"\nnat_arms = 2\n",
        _ => "mode = \"dr\"\n",
    };
    let text = format!(
        "name = \"bench-{}\"\n[lab]\n{lab}\n[service]\nvip = \"{VIP}\"\nport = {HTTP_PORT}\nscheduler = \"rr\"\n\n[[real_server]]\nname = \"rs1\"\n\n[[load]]\nname = \"bench\"\nmode = \"closed\"\nconcurrency = 1\nduration = \"1s\"\n",
        path.name()
    );
    let scenario = Scenario::parse(file, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut config = crate::run::director_config::director_config(&scenario, 1, 1);
    let mut udp = config.services[0].clone();
    udp.protocol = crate::dataplane::settings::Protocol::Udp;
    udp.port = UDP_PORT;
    for rs in &mut udp.real_servers {
        rs.port = UDP_PORT;
    }
    config.services.push(udp);
    std::fs::write(file, toml::to_string(&config)?)
        .with_context(|| format!("writing {}", file.display()))
}
