//! Running a helper command (`ip`, `nft`) to completion: its stdout, or an error naming the
//! command and what it printed on stderr.

use std::process::Command;

use super::LabError;

/// Runs `command` and returns its stdout; a failure to start or a non-zero exit becomes
/// [`LabError::Command`] with the command line and the reason.
pub(crate) fn stdout_of(command: &mut Command) -> Result<String, LabError> {
    let line = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let output = command.output().map_err(|e| LabError::Command {
        command: line.clone(),
        detail: e.to_string(),
    })?;
    if !output.status.success() {
        return Err(LabError::Command {
            command: line,
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
