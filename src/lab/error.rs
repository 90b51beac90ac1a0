//! What can go wrong while building, inspecting or removing a lab.

use std::path::PathBuf;
use std::process::ExitStatus;

/// An error of the lab layer.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Not running as root, or `ip` (iproute2) or `bash` cannot be run.
    #[error("tapvs lab needs root or CAP_NET_ADMIN, and iproute2's `ip` ({0})")]
    Privileges(String),

    /// The topology does not fit the address and naming plan of `netns/README.md`.
    #[error("lab topology: {0}")]
    Topology(String),

    /// A lab prefix given by name is not `tv` followed by 4 lowercase hex digits.
    #[error("lab prefix {0:?}: expected `tv` followed by 4 lowercase hex digits, e.g. tv1a2b")]
    BadPrefix(String),

    /// No unused prefix was found (65536 possible; something is leaking labs).
    #[error("no unused lab prefix after {0} tries; run `tapvs lab clean`")]
    NoFreePrefix(u32),

    /// `lab-up.sh` or `lab-down.sh` failed: which script, at which step, and what it printed.
    #[error("{script} failed at step `{step}` ({status}):\n{stderr}")]
    Script {
        script: &'static str,
        step: String,
        status: ExitStatus,
        stderr: String,
    },

    /// A helper command (`ip`, `bash`) could not be started, failed, or printed something unexpected.
    #[error("`{command}`: {detail}")]
    Command { command: String, detail: String },

    /// Reading or writing the lab's state dir failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// SIGINT, SIGTERM or SIGHUP arrived (see `Interrupt`); the lab is removed when dropped.
    #[error("interrupted by {0}")]
    Interrupted(&'static str),

    /// `clean` removed some labs but could not remove others.
    #[error("lab clean removed [{}] but failed on: {}", removed.join(" "), failures.join("; "))]
    CleanIncomplete {
        removed: Vec<String>,
        failures: Vec<String>,
    },
}

impl LabError {
    /// Wraps an I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> LabError {
        LabError::Io {
            path: path.into(),
            source,
        }
    }
}
