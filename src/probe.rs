//! `tapvs probe`: asks a director's status port (TCP or UDP) for its status line, to check
//! its host stack from a client; plain blocking std sockets with a timeout.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Options of `tapvs probe`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// The status port to ask, `IP:PORT`.
    #[arg(long)]
    pub target: SocketAddr,
    /// Ask over UDP instead of TCP.
    #[arg(long)]
    pub udp: bool,
    /// Give up after this many milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub timeout_ms: u64,
}

/// Why no status line came back.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{proto} {target}: refused")]
    Refused {
        proto: &'static str,
        target: SocketAddr,
    },
    #[error("{proto} {target}: no answer within {ms} ms")]
    Timeout {
        proto: &'static str,
        target: SocketAddr,
        ms: u64,
    },
    #[error("{proto} {target}: the answer was empty")]
    Empty {
        proto: &'static str,
        target: SocketAddr,
    },
    #[error("{proto} {target}: {source}")]
    Io {
        proto: &'static str,
        target: SocketAddr,
        source: std::io::Error,
    },
}

/// Longest status line read.
const MAX_LINE: usize = 4096;
/// What a UDP probe sends (any datagram is answered).
const UDP_REQUEST: &[u8] = b"status\n";

/// Runs `tapvs probe`: prints the status line and exits 0, or prints why not and exits 1.
pub fn run(args: &ProbeArgs) -> ExitCode {
    match probe(
        args.target,
        args.udp,
        Duration::from_millis(args.timeout_ms),
    ) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tapvs probe: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Asks `target` for its status line (without the newline).
pub fn probe(target: SocketAddr, udp: bool, timeout: Duration) -> Result<String, ProbeError> {
    let proto = if udp { "udp" } else { "tcp" };
    // A zero timeout means "block" to std's sockets.
    let timeout = timeout.max(Duration::from_millis(1));
    let ms = timeout.as_millis() as u64;
    let fail = |source: std::io::Error| match source.kind() {
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset => {
            ProbeError::Refused { proto, target }
        }
        ErrorKind::TimedOut | ErrorKind::WouldBlock => ProbeError::Timeout { proto, target, ms },
        _ => ProbeError::Io {
            proto,
            target,
            source,
        },
    };
    let bytes = if udp {
        ask_udp(target, timeout)
    } else {
        ask_tcp(target, timeout)
    }
    .map_err(fail)?;
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(ProbeError::Empty { proto, target });
    }
    Ok(line.to_string())
}

/// Connects, reads until the server closes (or a line and the deadline), within `timeout` in all.
fn ask_tcp(target: SocketAddr, timeout: Duration) -> std::io::Result<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&target, timeout)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return timed_out(out);
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.contains(&b'\n') || out.len() >= MAX_LINE {
                    return Ok(out);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return timed_out(out);
            }
            Err(e) => return Err(e),
        }
    }
}

/// A partial line at the deadline still counts; nothing at all is a timeout.
fn timed_out(out: Vec<u8>) -> std::io::Result<Vec<u8>> {
    if out.is_empty() {
        Err(ErrorKind::TimedOut.into())
    } else {
        Ok(out)
    }
}

/// Sends one datagram and waits for one back (an ICMP port unreachable reads as refused).
fn ask_udp(target: SocketAddr, timeout: Duration) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let deadline = Instant::now() + timeout;
    let socket = UdpSocket::bind(local)?;
    socket.connect(target)?;
    socket.send(UDP_REQUEST)?;
    let mut buf = vec![0u8; MAX_LINE];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            // A signal to this process (a child ending) is not an answer: wait on.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
