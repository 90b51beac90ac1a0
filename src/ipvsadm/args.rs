//! ipvsadm 1.31's command line: options as popt takes them (bundled short options `-Ln`,
//! `-t198.18.0.100:80`, `--long=value` or `--long value`, `-p` with an optional timeout), the
//! same checks in the same order and the same messages and exit codes. Every fact here was
//! observed by running the real `/usr/sbin/ipvsadm` 1.31 against the fake kernel in
//! `tests/golden/ipvsadm/fake-kernel.c` (it logs what ipvsadm parsed; see `make-golden.sh`).
//!
//! Pure: no I/O. Port names come from a [`PortNames`] table the caller gives.

use super::names::PortNames;
use crate::dataplane::ipvs::ServiceKey;
use crate::dataplane::settings::Protocol;
use std::net::Ipv4Addr;

/// What ipvsadm does when no `-s` is given.
pub const DEFAULT_SCHEDULER: &str = "wlc";
/// `-p` without a timeout (ipvsadm's IPVS_SVC_PERSISTENT_TIMEOUT: 6 minutes).
pub const DEFAULT_PERSISTENCE_S: u32 = 360;
/// The largest timeout `-p` and `--set` accept (31 days).
const MAX_TIMEOUT: u32 = 86400 * 31;

/// The command of one invocation, in ipvsadm's own order (its `cmdnames`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    AddService,
    EditService,
    DeleteService,
    Flush,
    List,
    AddServer,
    DeleteServer,
    EditServer,
    SetTimeout,
    Restore,
    Save,
    Zero,
    Help,
}

impl Command {
    /// ipvsadm's name for it in its messages.
    fn name(self) -> &'static str {
        match self {
            Command::AddService => "add-service",
            Command::EditService => "edit-service",
            Command::DeleteService => "delete-service",
            Command::Flush => "flush",
            Command::List => "list",
            Command::AddServer => "add-server",
            Command::DeleteServer => "delete-server",
            Command::EditServer => "edit-server",
            Command::SetTimeout => "set",
            Command::Restore => "restore",
            Command::Save => "save",
            Command::Zero => "zero",
            Command::Help => "help",
        }
    }
}

/// The options ipvsadm checks against each command, in its `optnames` order (the order its
/// checks run in, so the first offending option is the one named).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Opt {
    Numeric,
    Connection,
    Service,
    Scheduler,
    Persistent,
    Netmask,
    Server,
    Forward,
    Weight,
    UThreshold,
    LThreshold,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    Exact,
    OnePacket,
}

const OPTS: [Opt; 20] = [
    Opt::Numeric,
    Opt::Connection,
    Opt::Service,
    Opt::Scheduler,
    Opt::Persistent,
    Opt::Netmask,
    Opt::Server,
    Opt::Forward,
    Opt::Weight,
    Opt::UThreshold,
    Opt::LThreshold,
    Opt::Timeout,
    Opt::Daemon,
    Opt::Stats,
    Opt::Rate,
    Opt::Thresholds,
    Opt::PersistentConn,
    Opt::NoSort,
    Opt::Exact,
    Opt::OnePacket,
];

impl Opt {
    fn name(self) -> &'static str {
        match self {
            Opt::Numeric => "numeric",
            Opt::Connection => "connection",
            Opt::Service => "service-address",
            Opt::Scheduler => "scheduler",
            Opt::Persistent => "persistent",
            Opt::Netmask => "netmask",
            Opt::Server => "real-server",
            Opt::Forward => "forwarding-method",
            Opt::Weight => "weight",
            Opt::UThreshold => "u-threshold",
            Opt::LThreshold => "l-threshold",
            Opt::Timeout => "timeout",
            Opt::Daemon => "daemon",
            Opt::Stats => "stats",
            Opt::Rate => "rate",
            Opt::Thresholds => "thresholds",
            Opt::PersistentConn => "persistent-conn",
            Opt::NoSort => "nosort",
            Opt::Exact => "exact",
            Opt::OnePacket => "ops",
        }
    }

    fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// ipvsadm's table of which option each command needs (`+`), refuses (`x`), allows (` `) or
/// allows only one of (`1`), one column per [`OPTS`] entry; as observed from the binary.
fn rule(command: Command, opt: Opt) -> u8 {
    let row: &[u8; 20] = match command {
        Command::AddService | Command::EditService => b"xx+   xxxxxxxxxxxxx ",
        Command::DeleteService => b"xx+xxxxxxxxxxxxxxxxx",
        Command::List => b" 11xxxxxxxx11      x",
        Command::AddServer | Command::EditServer => b"xx+xxx+    xxxxxxxxx",
        Command::DeleteServer => b"xx+xxx+xxxxxxxxxxxxx",
        Command::Save => b" xxxxxxxxxxxxxxxxxxx",
        Command::Zero => b"xx xxxxxxxxxxxxxxxxx",
        Command::Flush | Command::SetTimeout | Command::Restore | Command::Help => {
            b"xxxxxxxxxxxxxxxxxxxx"
        }
    };
    row[opt as usize]
}

/// How ipvsadm writes a protocol: in a listing, in `-S`, and in /etc/services.
pub fn proto_names(p: Protocol) -> (&'static str, &'static str, &'static str) {
    match p {
        Protocol::Tcp => ("TCP", "-t", "tcp"),
        Protocol::Udp => ("UDP", "-u", "udp"),
    }
}

/// Forwarding methods (`-g`, `-m`, `-i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    #[default]
    Route,
    Masq,
    Tunnel,
}

/// What a listing shows (ipvsadm's `FMT_*` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Format {
    pub numeric: bool,
    pub connection: bool,
    pub timeout: bool,
    pub daemon: bool,
    pub stats: bool,
    pub rate: bool,
    pub thresholds: bool,
    pub persistent_conn: bool,
    pub nosort: bool,
    pub exact: bool,
}

/// One parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub command: Command,
    pub service: Option<ServiceKey>,
    pub scheduler: String,
    /// `-p`: the persistence timeout in seconds.
    pub persistent: Option<u32>,
    pub netmask: Ipv4Addr,
    pub server: Option<(Ipv4Addr, u16)>,
    pub method: Method,
    pub weight: u32,
    /// `-x` and `-y`: connection thresholds (tapvs has none; only 0 is taken).
    pub thresholds: [u32; 2],
    /// `--set tcp tcpfin udp` (0: unchanged).
    pub timeouts: [u32; 3],
    pub format: Format,
    /// `-o`: one-packet scheduling (UDP services only).
    pub one_packet: bool,
}

/// Why ipvsadm gave up: the message it prints on stderr and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    /// ipvsadm's `fail(2, ...)`.
    fn fail(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 2,
        }
    }

    /// popt's own errors (`-Q: unknown option`), exit status 255.
    fn popt(option: &str, what: &str) -> Failure {
        Failure {
            message: format!("{option}: {what}"),
            code: 255,
        }
    }

    /// ipvsadm's `tryhelp_exit(program, -1)`.
    pub fn try_help(program: &str) -> Failure {
        Failure {
            message: format!("Try `{program} -h' or '{program} --help' for more information."),
            code: 255,
        }
    }
}

/// How an option takes an argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    Optional,
}

/// Every option ipvsadm 1.31 knows that tapvs takes: (short, long, argument).
const TABLE: &[(Option<char>, &str, Arg)] = &[
    (Some('A'), "add-service", Arg::None),
    (Some('E'), "edit-service", Arg::None),
    (Some('D'), "delete-service", Arg::None),
    (Some('C'), "clear", Arg::None),
    (Some('L'), "list", Arg::None),
    (Some('l'), "list", Arg::None),
    (Some('Z'), "zero", Arg::None),
    (Some('a'), "add-server", Arg::None),
    (Some('e'), "edit-server", Arg::None),
    (Some('d'), "delete-server", Arg::None),
    (Some('R'), "restore", Arg::None),
    (Some('S'), "save", Arg::None),
    (None, "set", Arg::None),
    (Some('h'), "help", Arg::None),
    (Some('t'), "tcp-service", Arg::Required),
    (Some('u'), "udp-service", Arg::Required),
    (Some('s'), "scheduler", Arg::Required),
    (Some('p'), "persistent", Arg::Optional),
    (Some('M'), "netmask", Arg::Required),
    (Some('r'), "real-server", Arg::Required),
    (Some('g'), "gatewaying", Arg::None),
    (Some('m'), "masquerading", Arg::None),
    (Some('i'), "ipip", Arg::None),
    (Some('w'), "weight", Arg::Required),
    (Some('x'), "u-threshold", Arg::Required),
    (Some('y'), "l-threshold", Arg::Required),
    (Some('c'), "connection", Arg::None),
    (None, "timeout", Arg::None),
    (None, "daemon", Arg::None),
    (None, "stats", Arg::None),
    (None, "rate", Arg::None),
    (Some('X'), "exact", Arg::None),
    (None, "thresholds", Arg::None),
    (None, "persistent-conn", Arg::None),
    (None, "nosort", Arg::None),
    (None, "sort", Arg::None),
    (Some('o'), "ops", Arg::None),
    (Some('n'), "numeric", Arg::None),
];

/// One option as popt hands it over: its long name, its argument, and how it was written.
struct Given {
    long: &'static str,
    arg: Option<String>,
    written: String,
}

/// What popt makes of a command line: the options in order, the leftover (non-option)
/// arguments, and the error that stopped it, if one did (reported after the options before it).
struct Tokens {
    given: Vec<Given>,
    rest: Vec<String>,
    error: Option<Failure>,
}

/// Splits `args` into options the way popt does.
fn tokenize(args: &[String]) -> Tokens {
    let mut given = Vec::new();
    let mut rest = Vec::new();
    let error = split(args, &mut given, &mut rest).err();
    Tokens { given, rest, error }
}

/// An option's argument from the next word (`args[*i]`), taken when `kind` wants one: a
/// required one must be there (`written` names the option in the error), an optional one is
/// any next word that is not an option.
fn next_arg(
    kind: Arg,
    args: &[String],
    i: &mut usize,
    written: &str,
) -> Result<Option<String>, Failure> {
    match (kind, args.get(*i)) {
        (Arg::None, _) => Ok(None),
        (Arg::Required, None) => Err(Failure::popt(written, "missing argument")),
        (Arg::Optional, Some(v)) if v.starts_with('-') => Ok(None),
        (Arg::Optional, None) => Ok(None),
        (_, Some(v)) => {
            *i += 1;
            Ok(Some(v.clone()))
        }
    }
}

fn split(args: &[String], given: &mut Vec<Given>, rest: &mut Vec<String>) -> Result<(), Failure> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(&(_, long_name, kind)) = TABLE.iter().find(|(_, l, _)| *l == name) else {
                return Err(Failure::popt(a, "unknown option"));
            };
            let arg = match (kind, inline) {
                (Arg::None, Some(_)) => {
                    return Err(Failure::popt(a, "option does not take an argument"));
                }
                (Arg::None, None) => None,
                (_, Some(v)) => Some(v),
                (kind, None) => next_arg(kind, args, &mut i, a)?,
            };
            given.push(Given {
                long: long_name,
                arg,
                written: a.clone(),
            });
        } else if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let Some(&(_, long_name, kind)) = TABLE.iter().find(|(s, _, _)| *s == Some(c))
                else {
                    return Err(Failure::popt(a, "unknown option"));
                };
                let tail: String = chars[j..].iter().collect();
                let arg = match kind {
                    Arg::None => None,
                    _ if !tail.is_empty() => {
                        j = chars.len();
                        Some(tail)
                    }
                    kind => next_arg(kind, args, &mut i, &format!("-{c}"))?,
                };
                given.push(Given {
                    long: long_name,
                    arg,
                    written: format!("-{c}"),
                });
            }
        } else {
            rest.push(a.clone());
        }
    }
    Ok(())
}

fn command_of(long: &str) -> Option<Command> {
    Some(match long {
        "add-service" => Command::AddService,
        "edit-service" => Command::EditService,
        "delete-service" => Command::DeleteService,
        "clear" => Command::Flush,
        "list" => Command::List,
        "zero" => Command::Zero,
        "add-server" => Command::AddServer,
        "edit-server" => Command::EditServer,
        "delete-server" => Command::DeleteServer,
        "restore" => Command::Restore,
        "save" => Command::Save,
        "set" => Command::SetTimeout,
        "help" => Command::Help,
        _ => return None,
    })
}

/// Parses one invocation (`args` without the program name); `program` names ipvsadm in the
/// "Try ..." line. An empty `args` lists the table, as a bare `ipvsadm` does.
pub fn parse(program: &str, args: &[String], names: &PortNames) -> Result<Invocation, Failure> {
    let mut inv = Invocation {
        command: Command::List,
        service: None,
        scheduler: DEFAULT_SCHEDULER.to_string(),
        persistent: None,
        netmask: Ipv4Addr::BROADCAST,
        server: None,
        method: Method::Route,
        weight: 1,
        thresholds: [0; 2],
        timeouts: [0; 3],
        format: Format::default(),
        one_packet: false,
    };
    if args.is_empty() {
        return Ok(inv);
    }
    let Tokens { given, rest, error } = tokenize(args);
    // The first option must be a command; an unknown or malformed first option is only "try".
    if given.first().is_none_or(|g| command_of(g.long).is_none()) {
        return Err(Failure::try_help(program));
    }
    let mut options = 0u32;
    let mut set = |opt: Opt| -> Result<(), Failure> {
        if options & opt.bit() != 0 {
            return Err(Failure::fail(format!(
                "multiple '{}' options specified",
                opt.name()
            )));
        }
        options |= opt.bit();
        Ok(())
    };
    for (n, g) in given.iter().enumerate() {
        let arg = g.arg.as_deref().unwrap_or("");
        if let Some(command) = command_of(g.long) {
            if n > 0 {
                return Err(Failure::fail(format!("invalid option `{}'", g.written)));
            }
            inv.command = command;
            continue;
        }
        match g.long {
            "tcp-service" | "udp-service" => {
                set(Opt::Service)?;
                let protocol = if g.long == "tcp-service" {
                    Protocol::Tcp
                } else {
                    Protocol::Udp
                };
                let (addr, port) = host_port(arg, protocol, names).ok_or_else(|| {
                    Failure::fail("illegal virtual server address[:port] specified")
                })?;
                inv.service = Some(ServiceKey {
                    protocol,
                    addr,
                    port,
                });
            }
            "scheduler" => {
                set(Opt::Scheduler)?;
                inv.scheduler = arg.to_string();
            }
            "persistent" => {
                set(Opt::Persistent)?;
                inv.persistent = Some(match &g.arg {
                    None => DEFAULT_PERSISTENCE_S,
                    Some(t) => timeout(t, 1)?,
                });
            }
            "netmask" => {
                set(Opt::Netmask)?;
                inv.netmask = netmask(arg).ok_or_else(|| {
                    Failure::fail("illegal virtual server persistent mask specified")
                })?;
            }
            "real-server" => {
                set(Opt::Server)?;
                // The protocol only names ports; a real server's is the service's.
                let protocol = inv.service.map_or(Protocol::Tcp, |s| s.protocol);
                inv.server = Some(host_port(arg, protocol, names).ok_or_else(|| {
                    Failure::fail("illegal real server address[:port] specified")
                })?);
            }
            "gatewaying" | "masquerading" | "ipip" => {
                set(Opt::Forward)?;
                inv.method = match g.long {
                    "gatewaying" => Method::Route,
                    "masquerading" => Method::Masq,
                    _ => Method::Tunnel,
                };
            }
            "weight" => {
                set(Opt::Weight)?;
                inv.weight = number(arg, 0, i32::MAX as u32)
                    .ok_or_else(|| Failure::fail("illegal weight specified"))?;
            }
            "u-threshold" | "l-threshold" => {
                let (opt, what, slot) = if g.long == "u-threshold" {
                    (Opt::UThreshold, "u_threshold", 0)
                } else {
                    (Opt::LThreshold, "l_threshold", 1)
                };
                set(opt)?;
                inv.thresholds[slot] = number(arg, 0, i32::MAX as u32)
                    .ok_or_else(|| Failure::fail(format!("illegal {what} specified")))?;
            }
            "connection" => set(Opt::Connection).map(|()| inv.format.connection = true)?,
            "timeout" => set(Opt::Timeout).map(|()| inv.format.timeout = true)?,
            "daemon" => set(Opt::Daemon).map(|()| inv.format.daemon = true)?,
            "stats" => set(Opt::Stats).map(|()| inv.format.stats = true)?,
            "rate" => set(Opt::Rate).map(|()| inv.format.rate = true)?,
            "thresholds" => set(Opt::Thresholds).map(|()| inv.format.thresholds = true)?,
            "persistent-conn" => {
                set(Opt::PersistentConn).map(|()| inv.format.persistent_conn = true)?
            }
            "nosort" => set(Opt::NoSort).map(|()| inv.format.nosort = true)?,
            "exact" => set(Opt::Exact).map(|()| inv.format.exact = true)?,
            "numeric" => set(Opt::Numeric).map(|()| inv.format.numeric = true)?,
            "ops" => set(Opt::OnePacket).map(|()| inv.one_packet = true)?,
            // `--sort` is the default: accepted with any command, does nothing.
            _ => {}
        }
    }
    if let Some(error) = error {
        return Err(error);
    }
    let mut rest = rest.into_iter();
    if inv.command == Command::SetTimeout {
        let values: Vec<String> = rest.by_ref().take(3).collect();
        if values.len() < 3 {
            return Err(Failure::fail("--set option requires 3 timeout values"));
        }
        for (slot, v) in inv.timeouts.iter_mut().zip(&values) {
            *slot = timeout(v, 0)?;
        }
    }
    if let Some(extra) = rest.next() {
        return Err(Failure::fail(format!("unexpected argument {extra}")));
    }
    check_options(inv.command, options)?;
    if inv.command == Command::List {
        let only = Opt::Connection.bit() | Opt::Timeout.bit() | Opt::Daemon.bit();
        let shown = Opt::Stats.bit() | Opt::Rate.bit() | Opt::Thresholds.bit();
        let pc = options & Opt::PersistentConn.bit() != 0 && options & Opt::Connection.bit() == 0;
        if options & only != 0 && (options & shown != 0 || pc) {
            return Err(Failure::fail("options conflicts in the list command"));
        }
    }
    if let Some(s) = inv.service.as_mut() {
        let adds = matches!(inv.command, Command::AddService | Command::EditService);
        if adds && s.port == 0 && inv.persistent.is_none() {
            return Err(Failure::fail(
                "Zero port specified for non-persistent service",
            ));
        }
        if inv.one_packet && s.protocol != Protocol::Udp {
            return Err(Failure::fail(
                "One-Packet Scheduling is only for UDP virtual services",
            ));
        }
        // Direct routing and tunnels cannot change the port: the server's is the service's.
        if let Some((_, port)) = inv.server.as_mut()
            && (inv.method != Method::Masq || *port == 0)
        {
            *port = s.port;
        }
    }
    Ok(inv)
}

/// ipvsadm's `generic_opt_check`: options against the command's row, in option order.
fn check_options(command: Command, options: u32) -> Result<(), Failure> {
    let mut one: Option<Opt> = None;
    for opt in OPTS {
        let r = rule(command, opt);
        if options & opt.bit() == 0 {
            if r == b'+' {
                return Err(Failure::fail(format!(
                    "You need to supply the '{}' option for the '{}' command",
                    opt.name(),
                    command.name()
                )));
            }
            continue;
        }
        if r == b'x' {
            return Err(Failure::fail(format!(
                "Illegal '{}' option with the '{}' command",
                opt.name(),
                command.name()
            )));
        }
        if r == b'1' {
            if let Some(last) = one {
                return Err(Failure::fail(format!(
                    "The option '{}' conflicts with the '{}' option in the '{}' command",
                    opt.name(),
                    last.name(),
                    command.name()
                )));
            }
            one = Some(opt);
        }
    }
    Ok(())
}

/// ipvsadm's `string_to_number`: a decimal integer in `min..=max`.
fn number(text: &str, min: u32, max: u32) -> Option<u32> {
    let n: i64 = text.parse().ok()?;
    (i64::from(min)..=i64::from(max))
        .contains(&n)
        .then_some(n as u32)
}

fn timeout(text: &str, min: u32) -> Result<u32, Failure> {
    number(text, min, MAX_TIMEOUT)
        .ok_or_else(|| Failure::fail(format!("invalid timeout value `{text}' specified")))
}

/// A netmask as `inet_aton` reads it here: dotted quad or one number.
fn netmask(text: &str) -> Option<Ipv4Addr> {
    text.parse()
        .ok()
        .or_else(|| text.parse::<u32>().ok().map(Ipv4Addr::from))
}

/// `host[:port]`: a dotted IPv4 address, and a port number or a service name (0 if absent).
fn host_port(text: &str, protocol: Protocol, names: &PortNames) -> Option<(Ipv4Addr, u16)> {
    let (host, port) = match text.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (text, None),
    };
    let addr: Ipv4Addr = host.parse().ok()?;
    let port = match port {
        None => 0,
        Some(p) => match number(p, 0, 65535) {
            Some(n) => n as u16,
            None => names.port(p, proto_names(protocol).2)?,
        },
    };
    Some((addr, port))
}

#[cfg(test)]
mod tests;
