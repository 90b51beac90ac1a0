//! The director's control socket: one line in, one line out, per connection.
//! `stats` → the data plane's counters as JSON; `weight SERVICE SERVER WEIGHT` → `ok`;
//! `active 0|1` → `ok`. Used by the runner (drains) and by people poking at a lab.

use crate::dataplane::Dataplane;
use smoltcp::time::Instant;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A listening control socket; removed from the filesystem on drop.
pub struct Control {
    listener: UnixListener,
    path: PathBuf,
}

impl Control {
    pub fn bind(path: &Path) -> io::Result<Control> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot bind control socket {}: {e}", path.display()),
            )
        })?;
        listener.set_nonblocking(true)?;
        Ok(Control {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Answers every waiting client; `now` is the director's clock.
    pub fn serve(&self, now: Instant, dp: &mut Dataplane) {
        while let Ok((stream, _)) = self.listener.accept() {
            if let Err(e) = answer(stream, now, dp) {
                eprintln!("director: control client: {e}");
            }
        }
    }
}

impl AsRawFd for Control {
    fn as_raw_fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn answer(stream: UnixStream, now: Instant, dp: &mut Dataplane) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let reply = execute(line.trim(), now, dp);
    (&stream).write_all(reply.as_bytes())?;
    (&stream).write_all(b"\n")
}

/// Runs one command and returns the reply line.
pub fn execute(command: &str, now: Instant, dp: &mut Dataplane) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    match words.as_slice() {
        ["stats"] => serde_json::to_string(&dp.stats()).unwrap_or_else(|e| format!("error {e}")),
        ["weight", service, server, weight] => {
            match (service.parse::<usize>(), weight.parse::<u32>()) {
                (Ok(svc), Ok(w)) if dp.set_weight(svc, server, w) => "ok".into(),
                (Ok(_), Ok(_)) => format!("error no server `{server}` in service {service}"),
                _ => "error usage: weight SERVICE_INDEX SERVER_NAME WEIGHT".into(),
            }
        }
        ["active", flag @ ("0" | "1")] => {
            dp.set_active(now, *flag == "1");
            "ok".into()
        }
        _ => "error commands: stats | weight SERVICE SERVER WEIGHT | active 0|1".into(),
    }
}

/// Sends one command to a director's control socket and returns its reply line (runner side).
pub fn request(path: &Path, command: &str) -> io::Result<String> {
    let mut stream = UnixStream::connect(path)?;
    // Short: a frozen director must not stall the runner's sampling.
    stream.set_read_timeout(Some(Duration::from_millis(300)))?;
    stream.set_write_timeout(Some(Duration::from_millis(300)))?;
    stream.write_all(command.as_bytes())?;
    stream.write_all(b"\n")?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    Ok(line.trim_end().to_string())
}
