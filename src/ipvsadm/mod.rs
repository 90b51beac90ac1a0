//! `tapvs ipvsadm ARGS`: ipvsadm 1.31's command line against a running director, through
//! its control socket (`--director SOCKET`, or the `TAPVS_DIRECTOR` environment variable).
//! The command line is parsed here exactly as ipvsadm parses it ([`args`]), sent as a typed
//! request ([`request`]), and the director's typed snapshot is printed here as ipvsadm prints
//! a kernel's ([`format`]), so ldirectord and people read it as they would ipvsadm's.
//!
//! - [`args`]: options, checks, messages and exit codes as ipvsadm's.
//! - [`format`]: the listings and `-S`, byte for byte.
//! - [`names`]: port names from /etc/services (ipvsadm prints `:http` without `-n`).
//! - [`request`]: the control socket's `ipvs` command, both sides.
//!
//! Must not touch the data plane except through [`request::execute`] (director side).

pub mod args;
pub mod format;
pub mod names;
pub mod request;

use args::{Command, Failure};
use names::PortNames;
use request::{IpvsReply, IpvsRequest};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment variable naming the director's control socket.
pub const ENV_DIRECTOR: &str = "TAPVS_DIRECTOR";
/// The program name in ipvsadm's "Try ..." line.
const PROGRAM: &str = "ipvsadm";

/// What one invocation prints and its exit status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

impl Outcome {
    fn failed(message: &str, code: u8) -> Outcome {
        Outcome {
            stdout: String::new(),
            stderr: format!("{message}\n"),
            code,
        }
    }
}

/// Whatever answers requests: a director's control socket, or a data plane in tests.
pub trait Director {
    fn ask(&mut self, request: &IpvsRequest) -> Result<IpvsReply, String>;
}

/// A director reached through its control socket.
pub struct Socket(pub PathBuf);

impl Director for Socket {
    fn ask(&mut self, request: &IpvsRequest) -> Result<IpvsReply, String> {
        let json = serde_json::to_string(request).map_err(|e| e.to_string())?;
        let reply = ask_socket(&self.0, &format!("ipvs {json}"))
            .map_err(|e| format!("control socket {}: {e}", self.0.display()))?;
        serde_json::from_str(&reply).map_err(|_| {
            format!(
                "control socket {}: unexpected reply `{reply}`",
                self.0.display()
            )
        })
    }
}

fn ask_socket(path: &Path, line: &str) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(line.as_bytes())?;
    stream.write_all(b"\n")?;
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply)?;
    Ok(reply.trim_end().to_string())
}

/// Runs one ipvsadm command line (`-R` reads its lines from `stdin`).
pub fn run(
    args: &[String],
    director: &mut dyn Director,
    names: &PortNames,
    stdin: &mut dyn BufRead,
) -> Outcome {
    let inv = match args::parse(PROGRAM, args, names) {
        Ok(inv) => inv,
        Err(Failure { message, code }) => return Outcome::failed(&message, code),
    };
    match inv.command {
        Command::Help => Outcome {
            stdout: USAGE.to_string(),
            ..Outcome::default()
        },
        Command::Restore => restore(director, names, stdin),
        _ => one(&inv, director, names),
    }
}

/// `-R`: every line is a command line of its own; a line ipvsadm cannot parse ends the
/// restore, one the director refuses is reported and the next goes on; the exit status is the
/// last line's (ipvsadm's behaviour).
fn restore(director: &mut dyn Director, names: &PortNames, stdin: &mut dyn BufRead) -> Outcome {
    let mut total = Outcome::default();
    let mut line = String::new();
    loop {
        line.clear();
        match stdin.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Outcome::failed(&format!("tapvs ipvsadm: stdin: {e}"), 2),
        }
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if words.is_empty() {
            continue;
        }
        let out = match args::parse(PROGRAM, &words, names) {
            Ok(inv) if matches!(inv.command, Command::Restore | Command::Help) => {
                Outcome::failed(&Failure::try_help(PROGRAM).message, 255)
            }
            Ok(inv) => one(&inv, director, names),
            Err(Failure { message, code }) => {
                total.stderr.push_str(&message);
                total.stderr.push('\n');
                total.code = code;
                return total;
            }
        };
        total.stdout.push_str(&out.stdout);
        total.stderr.push_str(&out.stderr);
        total.code = out.code;
    }
    total
}

/// One parsed command: ask the director, print as ipvsadm would.
fn one(inv: &args::Invocation, director: &mut dyn Director, names: &PortNames) -> Outcome {
    let request = match request::request_of(inv) {
        Ok(Some(r)) => r,
        Ok(None) => return Outcome::default(),
        Err(why) => return Outcome::failed(why, 255),
    };
    let reply = match director.ask(&request) {
        Ok(r) => r,
        Err(e) => {
            return Outcome::failed(&format!("tapvs ipvsadm: cannot reach the director: {e}"), 2);
        }
    };
    let table = match reply {
        IpvsReply::Done => return Outcome::default(),
        IpvsReply::Error { message } => return Outcome::failed(&message, 255),
        IpvsReply::Table { table } => table,
    };
    let f = &inv.format;
    let stdout = match (inv.command, inv.service) {
        (Command::Save, _) => format::save(&table, f, names),
        (_, _) if f.connection => format::connections(&table, f, names),
        (_, _) if f.timeout => format::timeouts(&table),
        // No sync daemon is reported through ipvsadm (tapvs's sync is configured, not started).
        (_, _) if f.daemon => String::new(),
        (_, Some(key)) => match format::list_service(&table, &key, f, names) {
            Some(out) => out,
            None => return Outcome::failed("No such service", 1),
        },
        (_, None) => format::list_all(&table, f, names),
    };
    Outcome {
        stdout,
        ..Outcome::default()
    }
}

/// `tapvs ipvsadm [--director SOCKET] ARGS`: the process entry point; returns the exit status.
pub fn main(mut args: Vec<String>) -> u8 {
    let socket = match args.first().map(String::as_str) {
        Some("--director") if args.len() > 1 => {
            let path = args.remove(1);
            args.remove(0);
            Some(PathBuf::from(path))
        }
        Some(a) if a.starts_with("--director=") => {
            let path = a["--director=".len()..].to_string();
            args.remove(0);
            Some(PathBuf::from(path))
        }
        _ => std::env::var_os(ENV_DIRECTOR).map(PathBuf::from),
    };
    let Some(socket) = socket else {
        eprintln!("tapvs ipvsadm: no director: give --director SOCKET or set {ENV_DIRECTOR}");
        return 2;
    };
    let out = run(
        &args,
        &mut Socket(socket),
        &PortNames::system(),
        &mut std::io::stdin().lock(),
    );
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    let _ = std::io::stdout().flush();
    out.code
}

/// `-h`: what tapvs takes of ipvsadm's command line.
const USAGE: &str = "\
tapvs ipvsadm: ipvsadm 1.31's command line against a tapvs director
Usage:
  ipvsadm -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask]
  ipvsadm -D virtual-service
  ipvsadm -C
  ipvsadm -R
  ipvsadm -S [-n]
  ipvsadm -a|e virtual-service -r server-address [-g|-m] [-w weight]
  ipvsadm -d virtual-service -r server-address
  ipvsadm -L|l [virtual-service] [options]
  ipvsadm -Z [virtual-service]
  ipvsadm --set tcp tcpfin udp
  ipvsadm -h
virtual-service: --tcp-service|-t host[:port], --udp-service|-u host[:port]
schedulers: rr|wrr|lc|wlc|sed|nq|sh|dh|mh (default wlc)
list options: -n --stats --rate --exact --thresholds --persistent-conn -c --timeout
              --sort --nosort
The director: --director SOCKET before the arguments, or TAPVS_DIRECTOR=SOCKET.
";
