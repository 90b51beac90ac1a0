//! The impairment wires of a run's `[[link]]` entries: started in their link before anything
//! else (the link has no carrier until then), given new settings by `degrade_link` /
//! `repair_link` (settings file + SIGHUP), stopped after the load, their stats read back.

use super::{Ctx, Procs, wait_for};
use crate::impairment::{WireStats, read_stats, write_json};
use crate::scenario::{Action, EventSpec, LinkSpec};
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

/// The process name of a link's wire.
fn proc_name(link: &str) -> String {
    format!("wire-{link}")
}

impl Ctx<'_> {
    fn wire_file(&self, link: &str, what: &str) -> PathBuf {
        self.state.join(format!("{link}.{what}.json"))
    }

    /// Starts one `tapvs wire` per `[[link]]` and waits until each has opened its TAPs.
    pub(super) fn spawn_wires(&self, procs: &mut Procs) -> anyhow::Result<()> {
        for link in &self.scenario.links {
            self.spawn_wire(procs, link)?;
        }
        Ok(())
    }

    fn spawn_wire(&self, procs: &mut Procs, link: &LinkSpec) -> anyhow::Result<()> {
        let port = self.scenario.link_port(&link.name);
        let (host, a, b) = self.lab.topology().wire_sides(self.lab.prefix(), &port);
        let settings = link
            .impair()
            .settings(link.filter())
            .map_err(|(field, why)| anyhow::anyhow!("link {}: {field}: {why}", link.name))?;
        let settings_file = self.wire_file(&link.name, "wire-settings");
        write_json(&settings_file, &settings).context("writing a wire's settings")?;
        let stats = self.wire_file(&link.name, "wire");
        let _ = std::fs::remove_file(&stats);
        let args = [
            "wire".to_string(),
            "--a".into(),
            a,
            "--b".into(),
            b,
            "--settings-file".into(),
            settings_file.display().to_string(),
            "--stats".into(),
            stats.display().to_string(),
            "--seed".into(),
            link.seed.to_string(),
            "--max-seconds".into(),
            self.max_seconds.to_string(),
        ];
        let name = proc_name(&link.name);
        self.spawn(procs, host, &name, &self.exe, &args)?;
        wait_for("an impairment wire", Duration::from_secs(5), || {
            stats.exists() || procs.exited(&name).is_some()
        })?;
        if let Some(status) = procs.exited(&name) {
            anyhow::bail!(
                "wire of link {} exited at once ({status}); see logs/{name}.log",
                link.name
            );
        }
        Ok(())
    }

    /// `degrade_link` (the event's settings) or `repair_link` (none): rewrites the settings
    /// file and signals the wire to read it.
    pub(super) fn set_link(&self, procs: &Procs, event: &EventSpec) -> anyhow::Result<()> {
        let link = self.scenario.link(&event.link).context("validated")?;
        let impair = match (event.action, &event.impair) {
            (Action::DegradeLink, Some(imp)) => imp.clone(),
            _ => Default::default(),
        };
        let settings = impair
            .settings(link.filter())
            .map_err(|(field, why)| anyhow::anyhow!("link {}: {field}: {why}", link.name))?;
        write_json(&self.wire_file(&link.name, "wire-settings"), &settings)?;
        let pid = procs
            .pid(&proc_name(&link.name))
            .with_context(|| format!("the wire of link {} is not running", link.name))?;
        // SAFETY: kill(2) on a PID this run spawned and has not reaped.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGHUP);
        }
        Ok(())
    }

    /// Stops the wires (they write their last stats on SIGTERM) and reads them, by link.
    pub(super) fn stop_wires(&self, procs: &mut Procs) -> Vec<(String, WireStats)> {
        let mut out = Vec::new();
        for link in &self.scenario.links {
            procs.stop(&proc_name(&link.name), Duration::from_secs(2));
            match read_stats(&self.wire_file(&link.name, "wire")) {
                Ok(stats) => out.push((link.name.clone(), stats)),
                Err(e) => eprintln!("run: link {}: no stats: {e}", link.name),
            }
        }
        out
    }
}
