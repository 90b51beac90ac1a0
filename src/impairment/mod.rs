//! Link impairments in the lab: `tapvs wire` (two TAPs joined through a fault injector each
//! way) and the records it shares with the runner: the settings file it reads on SIGHUP and the
//! stats file it writes. The injector itself is [`crate::io::impair`].
//!
//! Why a file and SIGHUP rather than a control socket: the wire then has no client to wait
//! for (a silent client can never stall it), the settings in force are a file anyone can read
//! in the lab's state dir, and the runner already signals its processes by PID.

pub mod raw;
pub mod wire;

use crate::io::impair::{Counters, Settings};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::Path;

/// What a wire reports: its settings and what each direction did. Written a few times a second
/// and at exit as one JSON object (`<link>.wire.json` in the lab's state dir).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct WireStats {
    /// The settings in force.
    pub settings: Settings,
    /// Frames read on side A and sent into side B (the host's frames towards the switch).
    pub a_to_b: Counters,
    /// Frames read on side B and sent into side A.
    pub b_to_a: Counters,
    /// Read or write errors of the TAPs (the frame is lost; the wire goes on).
    pub io_errors: u64,
    /// Settings files refused (the previous settings stay).
    pub bad_settings: u64,
    /// When this was written, ms since the Unix epoch.
    pub unix_ms: u64,
}

impl WireStats {
    /// Both directions together.
    pub fn total(&self) -> Counters {
        let mut all = self.a_to_b;
        all.add(&self.b_to_a);
        all
    }
}

/// Writes `value` as JSON to `path` atomically (a temporary file renamed over it), so a reader
/// never sees half a record.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let text = serde_json::to_string(value).map_err(io::Error::other)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Reads settings written by [`write_json`], checked.
pub fn read_settings(path: &Path) -> Result<Settings, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let settings: Settings =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    match settings.problem() {
        Some(problem) => Err(format!("{}: {problem}", path.display())),
        None => Ok(settings),
    }
}

/// Reads a wire's stats file.
pub fn read_stats(path: &Path) -> Result<WireStats, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
