//! The real ldirectord checking the real servers for a tapvs director (`[health] checker =
//! "ldirectord"`). It runs on the director's kernel host on the LAN (`dNhb`, the one Heartbeat
//! uses), in its own mount namespace: a private /etc/ha.d with this run's ldirectord.cf, private
//! /run and /var/log, and `/usr/sbin/ipvsadm` bound to a script that runs `tapvs ipvsadm`
//! against the director's control socket. So ldirectord's checks are its own, from the LAN, and
//! its `ipvsadm -a/-e/-d` calls change the tapvs director's table, as they would the kernel's.
//! Nothing on the host is written: the binds exist only in ldirectord's mount namespace.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// ldirectord's program.
pub const LDIRECTORD: &str = "/usr/sbin/ldirectord";
/// The ipvsadm ldirectord finds (it looks in /sbin, then /usr/sbin; /sbin is a link to it).
const IPVSADM: &str = "/usr/sbin/ipvsadm";
/// Where the lab's state dir appears inside ldirectord's mount namespace.
const STATE_INSIDE: &str = "/etc/ha.d/tapvs";

/// ldirectord's files for one director under the lab's state dir.
pub struct LdirectordFiles {
    /// `<state>/<director>ld`: ha.d/, run/, log/, ipvsadm and launch.sh.
    pub root: PathBuf,
    pub state: PathBuf,
}

impl LdirectordFiles {
    pub fn new(state: &Path, director: &str) -> LdirectordFiles {
        LdirectordFiles {
            root: state.join(format!("{director}ld")),
            state: state.to_path_buf(),
        }
    }

    /// Builds the private tree around `cf` (the ldirectord.cf text) and returns the program
    /// and arguments that start ldirectord in its mount namespace. `exe` is tapvs, `socket`
    /// the director's control socket (in the state dir).
    pub fn prepare(
        &self,
        cf: &str,
        exe: &Path,
        socket: &Path,
    ) -> anyhow::Result<(PathBuf, Vec<String>)> {
        use std::os::unix::fs::PermissionsExt;
        for dir in ["ha.d/tapvs", "run", "log"] {
            let path = self.root.join(dir);
            std::fs::create_dir_all(&path)
                .with_context(|| format!("creating {}", path.display()))?;
        }
        let write = |name: &str, text: &str, mode: u32| -> anyhow::Result<()> {
            let path = self.root.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            Ok(())
        };
        let socket_name = socket.file_name().context("a control socket file")?;
        let socket = format!("{STATE_INSIDE}/{}", socket_name.to_string_lossy());
        write("ha.d/ldirectord.cf", cf, 0o644)?;
        write("ipvsadm", &ipvsadm_script(exe, &socket), 0o755)?;
        write("launch.sh", &launch_script(&self.state, &self.root), 0o644)?;
        Ok((
            PathBuf::from("unshare"),
            ["-m", "--propagation", "private", "sh"]
                .into_iter()
                .map(String::from)
                .chain([self.root.join("launch.sh").display().to_string()])
                .collect(),
        ))
    }
}

/// The `ipvsadm` ldirectord runs: tapvs's, against this director.
pub fn ipvsadm_script(exe: &Path, socket: &str) -> String {
    format!(
        "#!/bin/sh\n# Written by tapvs run: ldirectord's ipvsadm is tapvs's, against its director.\n\
         exec '{}' ipvsadm --director '{socket}' \"$@\"\n",
        exe.display()
    )
}

/// What runs under `unshare -m`: the private binds, then ldirectord in the foreground (`-d`),
/// as the process the runner started.
pub fn launch_script(state: &Path, root: &Path) -> String {
    let (state, root) = (state.display(), root.display());
    format!(
        "# Written by tapvs run: ldirectord in its own mount namespace.
set -e
mount --bind '{state}' '{root}/ha.d/tapvs'
mount --rbind '{root}/ha.d' /etc/ha.d
mount --bind '{root}/ipvsadm' {IPVSADM}
mount --bind '{root}/log' /var/log
mount --bind '{root}/run' /run
# In debug mode ldirectord prefers an ./ipvsadm in its working directory.
cd /
exec {LDIRECTORD} -d /etc/ha.d/ldirectord.cf start
"
    )
}

/// ldirectord's path, or a clear error.
pub fn find() -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(LDIRECTORD);
    anyhow::ensure!(
        path.exists(),
        "[health] checker = \"ldirectord\" needs ldirectord ({LDIRECTORD}; apt-get install \
         ldirectord); .ci/run installs it"
    );
    Ok(path)
}

#[cfg(test)]
mod tests;
