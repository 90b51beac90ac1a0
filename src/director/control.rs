//! The director's control socket: one line in, one line out, per connection, never blocking
//! the director's loop.
//! `stats` → the data plane's counters as JSON; `weight SERVICE SERVER WEIGHT` → `ok`;
//! `active 0|1` → `ok`; `ipvs JSON` → JSON (`tapvs ipvsadm`'s requests, see
//! `crate::ipvsadm::request`); `role master|backup` → `ok` or `ok unchanged` (`[failover] mode =
//! "external"` only: Heartbeat's resource agent); `role` → `master`, `backup`, `init` or
//! `none`. Used by the runner (drains), Heartbeat's resource agent, ldirectord (through `tapvs
//! ipvsadm`) and people poking at a lab (`tapvs control SOCKET COMMAND`).

use crate::node::Director;
use crate::node::external::RoleChange;
use smoltcp::time::Instant;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Clients served at once; the oldest is let go when one more comes.
const MAX_CLIENTS: usize = 16;
/// Longest command line.
const MAX_LINE: usize = 1024;
/// A client that has not sent its line (or taken its answer) by then is let go.
const CLIENT_DEADLINE_MS: i64 = 2000;

/// A listening control socket; removed from the filesystem on drop. Nothing it does blocks:
/// a client that connects and never writes, or writes a byte a second, delays no frame.
pub struct Control {
    listener: UnixListener,
    path: PathBuf,
    clients: Vec<Client>,
}

/// One connection: the line it is sending, then the answer it is taking.
struct Client {
    stream: UnixStream,
    since_ms: i64,
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
}

/// What became of a client after one turn.
enum Turn {
    Waiting,
    Done,
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
            clients: Vec::with_capacity(MAX_CLIENTS),
        })
    }

    /// Takes new clients and moves every client on as far as it can go without waiting;
    /// `now` is the director's clock.
    pub fn serve(&mut self, now: Instant, node: &mut Director) {
        while let Ok((stream, _)) = self.listener.accept() {
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            if self.clients.len() == MAX_CLIENTS {
                self.clients.remove(0);
            }
            self.clients.push(Client {
                stream,
                since_ms: now.total_millis(),
                input: Vec::new(),
                output: Vec::new(),
                written: 0,
            });
        }
        self.clients.retain_mut(|c| match c.turn(now, node) {
            Ok(Turn::Waiting) => now.total_millis() - c.since_ms < CLIENT_DEADLINE_MS,
            Ok(Turn::Done) => false,
            Err(e) => {
                eprintln!("director: control client: {e}");
                false
            }
        });
    }

    /// Clients connected and not yet answered.
    pub fn pending(&self) -> usize {
        self.clients.len()
    }
}

impl Client {
    fn turn(&mut self, now: Instant, node: &mut Director) -> io::Result<Turn> {
        if self.output.is_empty() {
            let Some(line) = self.read_line()? else {
                return Ok(Turn::Waiting);
            };
            let command = String::from_utf8_lossy(&line);
            self.output = execute(command.trim(), now, node).into_bytes();
            self.output.push(b'\n');
        }
        while self.written < self.output.len() {
            match (&self.stream).write(&self.output[self.written..]) {
                Ok(0) => return Ok(Turn::Done),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Turn::Waiting),
                Err(e) => return Err(e),
            }
        }
        Ok(Turn::Done)
    }

    /// Reads what has come; the whole line once it is there (or the client closed after it).
    fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut chunk = [0u8; 256];
        loop {
            if let Some(end) = self.input.iter().position(|&b| b == b'\n') {
                self.input.truncate(end);
                return Ok(Some(std::mem::take(&mut self.input)));
            }
            if self.input.len() > MAX_LINE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("command longer than {MAX_LINE} bytes"),
                ));
            }
            match (&self.stream).read(&mut chunk) {
                Ok(0) if self.input.is_empty() => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "closed without a command",
                    ));
                }
                Ok(0) => return Ok(Some(std::mem::take(&mut self.input))),
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
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

/// Runs one command and returns the reply line.
pub fn execute(command: &str, now: Instant, node: &mut Director) -> String {
    if let Some(json) = command.strip_prefix("ipvs ") {
        return node.ipvs(now, json);
    }
    let words: Vec<&str> = command.split_whitespace().collect();
    if let ["role", rest @ ..] = words.as_slice() {
        return role(rest, now, node);
    }
    let dp = node.dataplane_mut();
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
        _ => "error commands: stats | weight SERVICE SERVER WEIGHT | active 0|1 | role [master|backup] | ipvs JSON"
            .into(),
    }
}

/// `role`: the director's role; `role master|backup`: sets it (external failover only).
fn role(words: &[&str], now: Instant, node: &mut Director) -> String {
    let master = match words {
        [] => {
            let state = node.vrrp_state().map(crate::node::failover::vrrp_state);
            return state.map_or("none", |s| s.name()).into();
        }
        ["master"] => true,
        ["backup"] => false,
        _ => return "error usage: role [master|backup]".into(),
    };
    match node.set_role(now, master) {
        Ok(RoleChange::Changed) => "ok".into(),
        Ok(RoleChange::Unchanged) => "ok unchanged".into(),
        Err(e) => format!("error {e}"),
    }
}

/// Sends one command to a director's control socket and returns its reply line (runner side).
pub fn request(path: &Path, command: &str) -> io::Result<String> {
    // Short: a frozen director must not stall the runner's sampling.
    request_within(path, command, Duration::from_millis(300))
}

/// [`request`] waiting at most `timeout` for each of the write and the answer.
pub fn request_within(path: &Path, command: &str, timeout: Duration) -> io::Result<String> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(command.as_bytes())?;
    stream.write_all(b"\n")?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    Ok(line.trim_end().to_string())
}

#[cfg(test)]
mod tests;

/// `tapvs control SOCKET COMMAND...`: one command to a director, for scripts (Heartbeat's
/// resource agent) and people.
#[derive(Debug, clap::Args)]
pub struct ControlArgs {
    /// The director's control socket (`tapvs director --control`).
    pub socket: PathBuf,
    /// The command and its words, e.g. `role master`.
    #[arg(required = true, num_args = 1..)]
    pub command: Vec<String>,
    /// How long to wait for the director, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
}

/// Sends the command and prints the answer; false when the director answered `error ...`.
pub fn run_command(args: &ControlArgs) -> anyhow::Result<bool> {
    use anyhow::Context;
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let answer = request_within(&args.socket, &args.command.join(" "), timeout)
        .with_context(|| format!("asking the director at {}", args.socket.display()))?;
    println!("{answer}");
    Ok(!answer.starts_with("error"))
}
