//! Why a file given by a user (a scenario, a director configuration) was refused: one error
//! type that names the file, and the line or field, for every layer that reads one.

use std::path::{Path, PathBuf};

/// A refused file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read (said once: the I/O error is not also a `source`).
    #[error("{path}: cannot read: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not UTF-8 text: where the first bad byte is.
    #[error("{path}: not UTF-8 text: the byte at offset {offset} (line {line}) is not valid UTF-8")]
    NotUtf8 {
        path: PathBuf,
        offset: usize,
        line: usize,
    },
    /// Not valid TOML, or a field unknown, missing or of the wrong type.
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A line of a configuration file in another program's format (Heartbeat's `ha.cf`) is
    /// refused: its key (or word) and why.
    #[error("{path}:{line}: `{key}`: {reason}")]
    Line {
        path: PathBuf,
        line: usize,
        key: String,
        reason: String,
    },
    /// A field parses but its value is refused.
    #[error("{path}: field `{field}`: {reason}")]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
}

/// The text of the file at `path`: unreadable and non-UTF-8 files are refused, naming where.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    let bytes = std::fs::read(path).map_err(|error| FileError::Read {
        path: path.into(),
        error,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        FileError::NotUtf8 {
            path: path.into(),
            offset,
            line: 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count(),
        }
    })
}

/// The refusal of `path`'s field `field` for `reason`.
pub fn invalid(path: &Path) -> impl Fn((String, String)) -> FileError + Copy + '_ {
    move |(field, reason)| FileError::Invalid {
        path: path.into(),
        field,
        reason,
    }
}
