//! Can a real server's `command` start? The lab runs it with `ip netns exec`, which keeps the
//! runner's environment and file system and `execvp`s the program: a name with a `/` is a path
//! (from the runner's working directory), any other name is looked up in the runner's `PATH`
//! (`/bin:/usr/bin` when unset, as execvp does). Checked before any namespace exists.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// execvp's search path when `PATH` is unset.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Where `program` would be found, or why it cannot be run.
pub fn find(program: &str) -> Result<PathBuf, String> {
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_owned());
    find_in(program, &path)
}

/// [`find`] with the search path given.
pub fn find_in(program: &str, search_path: &str) -> Result<PathBuf, String> {
    if program.contains('/') {
        return executable(Path::new(program)).map(|()| PathBuf::from(program));
    }
    search_path
        .split(':')
        // An empty entry is the working directory, as for execvp.
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(program))
        .find(|candidate| executable(candidate).is_ok())
        .ok_or_else(|| "not found in any directory of PATH".to_owned())
}

/// Ok if `path` is a file with an execute bit.
fn executable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a file".into());
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err("not executable".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_looked_up_in_the_search_path() {
        assert_eq!(
            find_in("sh", "/nonexistent:/bin"),
            Ok(PathBuf::from("/bin/sh"))
        );
        assert_eq!(
            find_in("sh", "/nonexistent"),
            Err("not found in any directory of PATH".into())
        );
        assert!(find_in("tapvs-no-such-program", "/bin:/usr/bin").is_err());
    }

    #[test]
    fn paths_must_be_executable_files() {
        assert_eq!(find_in("/bin/sh", ""), Ok(PathBuf::from("/bin/sh")));
        assert_eq!(find_in("/etc/passwd", "/bin"), Err("not executable".into()));
        assert_eq!(find_in("/", "/bin"), Err("not a file".into()));
        assert!(
            find_in("/no/such/file", "/bin")
                .unwrap_err()
                .contains("No such file")
        );
    }
}
