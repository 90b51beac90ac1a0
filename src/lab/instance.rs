//! [`Lab`]: one running lab, owned by this process and removed when dropped.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use super::guardian::Guardian;
use super::{
    KnatService, LabError, LinkStats, Topology, check_privileges, plan, reap, record, script,
    state, tether,
};

/// A lab this process built: namespaces `<prefix>-<host>` and `/run/tapvs/<prefix>/`.
///
/// Dropping it removes the lab (errors are printed on stderr, never panicked on); so do
/// [`Lab::down`] (which reports errors) and, for a lab that should stay up, nothing after
/// [`Lab::keep`].
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    topology: Topology,
    /// Kernel NAT: what the `kn` box forwards.
    knat_services: Vec<KnatService>,
    /// Still up and ours to remove.
    live: bool,
    /// Removes the lab should this process die without doing it ([`Lab::guard`]).
    guardian: Option<Guardian>,
}

impl Lab {
    /// Builds the lab: checks privileges and the topology, claims a fresh prefix (recording this
    /// process as the owner), and runs `netns/lab-up.sh`. On failure everything created so far is
    /// removed and the error names the failed step with the script's stderr.
    ///
    /// A [`Layout::KernelNat`](super::Layout::KernelNat) lab built this way has a NAT box that
    /// forwards nothing (its ruleset has no rule): give it services with [`Lab::up_kernel_nat`].
    pub fn up(topo: &Topology) -> Result<Lab, LabError> {
        Lab::up_with(topo, &[], script::LAB_UP)
    }

    /// [`Lab::up`] for a [`Layout::KernelNat`](super::Layout::KernelNat) lab whose `kn` box DNATs
    /// `services` to the real servers (nftables `table ip tapvs_knat`). `services` must be empty
    /// for the other layouts; each must use one of the topology's VIPs and real servers.
    pub fn up_kernel_nat(topo: &Topology, services: &[KnatService]) -> Result<Lab, LabError> {
        Lab::up_with(topo, services, script::LAB_UP)
    }

    /// [`Lab::up_kernel_nat`] with another build script (tests inject failures with it).
    pub(crate) fn up_with(
        topo: &Topology,
        services: &[KnatService],
        lab_up: &str,
    ) -> Result<Lab, LabError> {
        check_privileges()?;
        plan::validate(topo)?;
        plan::validate_services(topo, services)?;
        let prefix = state::claim_prefix(std::process::id())?;
        let mut lab = Lab {
            prefix,
            topology: topo.clone(),
            knat_services: services.to_vec(),
            live: true,
            guardian: None,
        };
        let env = plan::script_env(&lab.prefix, topo, services);
        let built = script::run("lab-up.sh", lab_up, &env)
            .and_then(|_| record::record_namespaces(&lab.prefix));
        match built {
            Ok(()) => Ok(lab),
            Err(error) => {
                if let Err(down) = lab.teardown() {
                    lab.report(&format!("could not remove the half-built lab: {down}"));
                }
                Err(error)
            }
        }
    }

    /// The run prefix, e.g. `tv1a2b`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The topology the lab was built from.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Kernel NAT: the services the `kn` box forwards (empty in the other layouts).
    pub fn knat_services(&self) -> &[KnatService] {
        &self.knat_services
    }

    /// The hosts: `sw`, `rt`, `cl`, `kn` (kernel NAT only), then the real servers (`rs1`, ...).
    pub fn hosts(&self) -> Vec<String> {
        plan::hosts(&self.topology)
    }

    /// The namespace of `host` ("sw", "rt", "cl", "kn", "rs1", ...): `<prefix>-<host>`.
    pub fn netns(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    /// `/run/tapvs/<prefix>/`: holds `owner.pid`; the runner puts director configs and sockets here.
    pub fn state_dir(&self) -> PathBuf {
        state::state_dir(&self.prefix)
    }

    /// A command running `program` inside `host`'s namespace (`ip netns exec <ns> program`; add
    /// arguments to it). `ip netns exec` execs, so the child's PID is the program's own. The caller
    /// owns the child and must end it before the lab is dropped.
    ///
    /// The process is tethered to the calling thread: it gets SIGKILL when that thread exits (even
    /// by `kill -9` of the process), so spawn it from a thread that lives as long as it should.
    pub fn command(&self, host: &str, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec"])
            .arg(self.netns(host))
            .arg(program);
        tether::tie_to_caller(&mut command);
        command
    }

    /// Spawns `command` (made by [`Lab::command`]) and records its PID as `name` in the state dir,
    /// where the guardian and `tapvs lab clean` find it should this process die.
    pub fn spawn(&self, name: &str, command: &mut Command) -> std::io::Result<Child> {
        let mut child = command.spawn()?;
        if let Err(e) = record::record_pid(&self.prefix, child.id(), name) {
            // Unrecorded, it could outlive us unseen: end it (our unreaped child) at once.
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(e));
        }
        Ok(child)
    }

    /// Starts the guardian (`exe lab guard`, `exe` being this program): should this process die
    /// with the lab up, even by `kill -9`, the guardian ends the lab's processes and removes it.
    pub fn guard(&mut self, exe: &Path) -> Result<(), LabError> {
        if self.guardian.is_none() {
            self.guardian = Some(Guardian::spawn(exe, &self.prefix)?);
        }
        Ok(())
    }

    /// Counters of interface `ifname` in `host`'s namespace (e.g. "sw", "br0" or "rs1", "eth0").
    pub fn link_stats(&self, host: &str, ifname: &str) -> Result<LinkStats, LabError> {
        let ns = self.netns(host);
        let args = ["-n", &ns, "-s", "-j", "link", "show", "dev", ifname];
        let json = super::command::stdout_of(Command::new("ip").args(args))?;
        LinkStats::from_ip_json(&json).map_err(|detail| LabError::Command {
            command: format!("ip {}", args.join(" ")),
            detail,
        })
    }

    /// Removes the lab now, reporting failure (dropping does the same, printing failures).
    pub fn down(mut self) -> Result<(), LabError> {
        self.teardown()
    }

    /// Leaves the lab up for people (`tapvs lab up`) and returns its prefix. `owner.pid` then
    /// records 0 ("manual": no owner process), so `tapvs lab clean` counts it as a leftover and
    /// `tapvs lab down PREFIX` removes it. If that cannot be recorded, the lab is removed.
    pub fn keep(mut self) -> Result<String, LabError> {
        state::write_owner(&self.prefix, 0)?;
        self.live = false;
        if let Some(guardian) = self.guardian.take() {
            guardian.stop();
        }
        Ok(std::mem::take(&mut self.prefix))
    }

    /// Ends what still runs in the lab (the owner has ended what it started; this is what those
    /// forked: a shell's background jobs), then runs `lab-down.sh`, once; later calls (and drop) do
    /// nothing. The guardian is ended once the lab is down; should that fail, it is left to try
    /// again when this process is gone.
    fn teardown(&mut self) -> Result<(), LabError> {
        if !std::mem::replace(&mut self.live, false) {
            return Ok(());
        }
        let ended = reap::end_processes(&self.prefix);
        script::down(&self.prefix)?;
        ended?;
        if let Some(guardian) = self.guardian.take() {
            guardian.stop();
        }
        Ok(())
    }

    /// A message on stderr that cannot panic (not even with stderr closed).
    fn report(&self, message: &str) {
        let prefix = &self.prefix;
        let _ = writeln!(
            std::io::stderr(),
            "tapvs lab {prefix}: {message}; `tapvs lab down {prefix}` retries"
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            self.report(&format!("teardown failed: {e}"));
        }
    }
}
