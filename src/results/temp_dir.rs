//! A temporary folder for the results tests, removed when dropped (also when a test panics).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

pub(super) struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, not yet created, folder under the system's temp dir, unique to `name`, this
    /// process and this instant.
    pub(super) fn new(name: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = format!("tapvs-results-{name}-{}-{nanos}", std::process::id());
        TempDir(std::env::temp_dir().join(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
