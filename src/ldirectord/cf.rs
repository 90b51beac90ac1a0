//! ldirectord.cf as ldirectord 4.12 reads it: global lines, then `virtual=` blocks whose lines are
//! indented. Only what tapvs can do is taken; any other key is refused with its line, so a user
//! never believes a setting took effect when it did not.

use std::net::Ipv4Addr;

/// A parsed ldirectord.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdirectordCf {
    /// Global check settings (a virtual's own override them).
    pub checks: Checks,
    /// `quiescent` (global default `no`, as ldirectord's).
    pub quiescent: bool,
    /// Global `fallback=` (the sorry server), as `ADDR:PORT`.
    pub fallback: Option<Real>,
    pub virtuals: Vec<Virtual>,
}

/// Check timing; `None`: not given here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checks {
    /// `checkinterval`, seconds.
    pub interval_s: Option<u32>,
    /// `checktimeout`, seconds (connect checks).
    pub timeout_s: Option<u32>,
    /// `negotiatetimeout`, seconds (negotiate checks).
    pub negotiate_timeout_s: Option<u32>,
    /// `failurecount`: failed checks in a row before a server is taken out.
    pub failure_count: Option<u32>,
}

impl Checks {
    /// `self` where given, else `outer`.
    pub fn or(self, outer: Checks) -> Checks {
        Checks {
            interval_s: self.interval_s.or(outer.interval_s),
            timeout_s: self.timeout_s.or(outer.timeout_s),
            negotiate_timeout_s: self.negotiate_timeout_s.or(outer.negotiate_timeout_s),
            failure_count: self.failure_count.or(outer.failure_count),
        }
    }
}

/// One `virtual=` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Virtual {
    /// Its line in the file.
    pub line: usize,
    pub addr: Ipv4Addr,
    pub port: u16,
    /// `tcp` or `udp` (ldirectord's default: udp for port 53, else tcp).
    pub udp: bool,
    /// `scheduler` (ldirectord's default `wrr`).
    pub scheduler: String,
    /// `persistent`, seconds.
    pub persistent_s: Option<u32>,
    pub netmask: Option<Ipv4Addr>,
    pub reals: Vec<Real>,
    pub fallback: Option<Real>,
    pub checktype: CheckType,
    /// `service` (default from the port: `http` for 80, else `none`).
    pub service: String,
    /// `request` (default `/`), `receive` (default: any answer).
    pub request: String,
    pub receive: Option<String>,
    pub checkport: Option<u16>,
    pub checks: Checks,
    pub quiescent: Option<bool>,
}

/// `checktype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckType {
    Connect,
    Negotiate,
    /// Always up: no check.
    On,
}

/// A `real=` (or `fallback=`) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Real {
    pub line: usize,
    pub addr: Ipv4Addr,
    /// 0: the virtual's port.
    pub port: u16,
    /// `gate` (direct routing) or `masq` (NAT).
    pub masq: bool,
    /// Default 1, as ldirectord's.
    pub weight: u32,
}

/// A refused line: its number, the key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: `{key}`: {reason}")]
pub struct LineError {
    pub line: usize,
    pub key: String,
    pub reason: String,
}

/// Keys ldirectord knows that tapvs does not do (refused with this reason, not as unknown).
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "virtual6",
        "IPv6 services are not supported (tapvs balances IPv4)",
    ),
    ("real6", "IPv6 real servers are not supported"),
    ("fallback6", "IPv6 is not supported"),
    ("callback", "tapvs runs no callback"),
    ("execute", "tapvs starts no other ldirectord instance"),
    (
        "supervised",
        "tapvs supervises the processes it starts itself",
    ),
    ("emailalert", "tapvs sends no mail"),
    ("emailalertfreq", "tapvs sends no mail"),
    ("emailalertstatus", "tapvs sends no mail"),
    ("emailalertfrom", "tapvs sends no mail"),
    ("smtp", "tapvs sends no mail"),
    ("maintenancedir", "not supported"),
    ("fallbackcommand", "tapvs runs no command on fallback"),
    ("checkcommand", "external checks are not supported"),
    (
        "connecttimeout",
        "deprecated in ldirectord in favour of negotiatetimeout",
    ),
    (
        "checkcount",
        "deprecated in ldirectord in favour of failurecount",
    ),
    ("readdquiescent", "not supported"),
    ("login", "only http and connect checks are supported"),
    ("passwd", "only http and connect checks are supported"),
    ("database", "only http and connect checks are supported"),
    ("secret", "only http and connect checks are supported"),
    ("load", "load-based checks are not supported"),
    ("schedflags", "scheduler flags are not supported"),
    ("ops", "one-packet scheduling is not supported"),
    (
        "monitorfile",
        "tapvs reports checks as events (logs/dN.events)",
    ),
];

/// Keys taken and ignored because they change nothing tapvs does, with why.
const ACCEPTED_AS_IS: &[&str] = &[
    "autoreload",
    "fork",
    "logfile",
    "cleanstop",
    "servicename",
    "comment",
];

/// Parses the text of an ldirectord.cf.
pub fn parse(text: &str) -> Result<LdirectordCf, LineError> {
    let mut cf = LdirectordCf {
        checks: Checks::default(),
        quiescent: false,
        fallback: None,
        virtuals: Vec::new(),
    };
    // Whether the lines since the last `virtual=` have all been its block (ldirectord ends a
    // block at the first line that is not indented by a tab or four spaces).
    let mut in_block = false;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or_default();
        if content.trim().is_empty() {
            continue;
        }
        let indent = content.len() - content.trim_start().len();
        let (key, value) = key_value(content.trim(), line)?;
        if indent > 0 {
            let block_indent = content.starts_with('\t') || content.starts_with("    ");
            let virtual_ = cf.virtuals.last_mut().filter(|_| in_block && block_indent);
            let Some(virtual_) = virtual_ else {
                return Err(error(
                    line,
                    key,
                    "indented line outside a `virtual=` block (a block's lines follow it, \
                     indented by a tab or four spaces)",
                ));
            };
            virtual_line(virtual_, key, value, line)?;
        } else if key == "virtual" {
            cf.virtuals.push(new_virtual(value, line)?);
            in_block = true;
        } else {
            global_line(&mut cf, key, value, line)?;
            in_block = false;
        }
    }
    for v in &mut cf.virtuals {
        finish_virtual(v)?;
    }
    Ok(cf)
}

fn key_value(content: &str, line: usize) -> Result<(&str, &str), LineError> {
    let Some((key, value)) = content.split_once('=') else {
        return Err(error(line, content, "expected `key = value`"));
    };
    Ok((key.trim(), value.trim()))
}

fn error(line: usize, key: &str, reason: impl Into<String>) -> LineError {
    LineError {
        line,
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// A key no branch took: ldirectord's but not tapvs's, or nobody's.
fn refuse(key: &str, line: usize) -> LineError {
    match UNSUPPORTED.iter().find(|(k, _)| *k == key) {
        Some((_, why)) => error(line, key, format!("not supported by tapvs: {why}")),
        None => error(line, key, "unknown key"),
    }
}

fn global_line(
    cf: &mut LdirectordCf,
    key: &str,
    value: &str,
    line: usize,
) -> Result<(), LineError> {
    if check_line(&mut cf.checks, key, value, line)? {
        return Ok(());
    }
    match key {
        "quiescent" => cf.quiescent = yes_no(key, value, line)?,
        "fallback" => cf.fallback = Some(real(value, line, key)?),
        k if ACCEPTED_AS_IS.contains(&k) => {}
        _ => return Err(refuse(key, line)),
    }
    Ok(())
}

/// The timing keys, global or per virtual; false when `key` is not one of them.
fn check_line(checks: &mut Checks, key: &str, value: &str, line: usize) -> Result<bool, LineError> {
    let slot = match key {
        "checkinterval" => &mut checks.interval_s,
        "checktimeout" => &mut checks.timeout_s,
        "negotiatetimeout" => &mut checks.negotiate_timeout_s,
        "failurecount" => &mut checks.failure_count,
        _ => return Ok(false),
    };
    *slot = Some(positive(key, value, line)?);
    Ok(true)
}

fn new_virtual(value: &str, line: usize) -> Result<Virtual, LineError> {
    let (addr, port) = addr_port(value, line, "virtual")?;
    if port == 0 {
        return Err(error(
            line,
            "virtual",
            "a port is needed (fwmark services are not supported)",
        ));
    }
    Ok(Virtual {
        line,
        addr,
        port,
        udp: port == 53,
        scheduler: "wrr".into(),
        persistent_s: None,
        netmask: None,
        reals: Vec::new(),
        fallback: None,
        checktype: CheckType::Negotiate,
        service: String::new(),
        request: "/".into(),
        receive: None,
        checkport: None,
        checks: Checks::default(),
        quiescent: None,
    })
}

fn virtual_line(v: &mut Virtual, key: &str, value: &str, line: usize) -> Result<(), LineError> {
    if check_line(&mut v.checks, key, value, line)? {
        return Ok(());
    }
    match key {
        "real" => v.reals.push(real(value, line, key)?),
        "fallback" => v.fallback = Some(real(value, line, key)?),
        "scheduler" => {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(error(line, key, "should be only lowercase letters (a-z)"));
            }
            v.scheduler = value.into();
        }
        "persistent" => v.persistent_s = Some(number(key, value, line)?),
        "netmask" => {
            v.netmask = Some(value.parse().map_err(|_| {
                error(
                    line,
                    key,
                    "invalid netmask: dotted quad notation is required",
                )
            })?)
        }
        "protocol" => {
            v.udp = match value {
                "tcp" => false,
                "udp" => true,
                "fwm" => return Err(error(line, key, "not supported by tapvs: fwmark services")),
                _ => return Err(error(line, key, "protocol must be tcp or udp")),
            }
        }
        "checktype" => {
            v.checktype = match value {
                "connect" => CheckType::Connect,
                "negotiate" => CheckType::Negotiate,
                "on" => CheckType::On,
                "off" | "ping" | "external" | "external-perl" => {
                    return Err(error(
                        line,
                        key,
                        format!("not supported by tapvs: `{value}`"),
                    ));
                }
                n if n.parse::<u32>().is_ok() => {
                    return Err(error(line, key, "not supported by tapvs: combined checks"));
                }
                _ => {
                    return Err(error(
                        line,
                        key,
                        "checktype must be connect, negotiate or on",
                    ));
                }
            }
        }
        "service" => v.service = value.into(),
        "request" => {
            let text = quoted(key, value, line)?;
            v.request = if text.starts_with('/') {
                text.into()
            } else {
                format!("/{text}")
            };
        }
        "receive" => v.receive = Some(quoted(key, value, line)?.into()),
        "checkport" => {
            let port: u32 = positive(key, value, line)?;
            v.checkport = Some(
                u16::try_from(port)
                    .map_err(|_| error(line, key, "checkport must be in range 1..65535"))?,
            );
        }
        "quiescent" => v.quiescent = Some(yes_no(key, value, line)?),
        "httpmethod" if value.eq_ignore_ascii_case("GET") => {}
        "httpmethod" => return Err(error(line, key, "not supported by tapvs: only GET")),
        "virtualhost" => {}
        k if ACCEPTED_AS_IS.contains(&k) => {}
        _ => return Err(refuse(key, line)),
    }
    Ok(())
}

/// What the whole block decides: the service's default, and what tapvs cannot check.
fn finish_virtual(v: &mut Virtual) -> Result<(), LineError> {
    if v.service.is_empty() {
        v.service = if v.port == 80 { "http" } else { "none" }.into();
    }
    if v.checktype == CheckType::Negotiate && v.service != "http" {
        return Err(error(
            v.line,
            "service",
            format!(
                "negotiate checks of service `{}` are not supported by tapvs (http only; or \
                 checktype = connect)",
                v.service
            ),
        ));
    }
    if v.udp && v.checktype != CheckType::On {
        return Err(error(
            v.line,
            "checktype",
            "UDP services can only be `checktype = on` from an ldirectord.cf",
        ));
    }
    if v.reals.is_empty() {
        return Err(error(v.line, "virtual", "no `real=` line in this block"));
    }
    Ok(())
}

/// `ADDR[:PORT] gate|masq|ipip [WEIGHT]`.
fn real(value: &str, line: usize, key: &str) -> Result<Real, LineError> {
    let mut words = value.split_whitespace();
    let (addr, port) = addr_port(words.next().unwrap_or_default(), line, key)?;
    let masq = match words.next() {
        Some("gate") => false,
        Some("masq") => true,
        Some("ipip") => return Err(error(line, key, "not supported by tapvs: ipip forwarding")),
        _ => {
            return Err(error(
                line,
                key,
                "forward method must be gate, masq or ipip",
            ));
        }
    };
    let weight = match words.next() {
        None => 1,
        Some(w) => w
            .parse()
            .map_err(|_| error(line, key, format!("weight `{w}` is not a number")))?,
    };
    if let Some(extra) = words.next() {
        return Err(error(
            line,
            key,
            format!("not supported by tapvs: `{extra}` (per-server request/receive, thresholds)"),
        ));
    }
    Ok(Real {
        line,
        addr,
        port,
        masq,
        weight,
    })
}

/// `A.B.C.D[:PORT]` (numeric only: tapvs resolves no names).
fn addr_port(text: &str, line: usize, key: &str) -> Result<(Ipv4Addr, u16), LineError> {
    let (addr, port) = match text.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr = addr.parse().map_err(|_| {
        error(
            line,
            key,
            format!("`{addr}` is not an IPv4 address (names are not resolved)"),
        )
    })?;
    let port = match port {
        None => 0,
        Some(p) => p.parse().map_err(|_| {
            error(
                line,
                key,
                format!("port `{p}` is not a number from 1 to 65535"),
            )
        })?,
    };
    Ok((addr, port))
}

fn quoted<'a>(key: &str, value: &'a str, line: usize) -> Result<&'a str, LineError> {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| error(line, key, "expected a non-empty \"quoted\" string"))
}

fn yes_no(key: &str, value: &str, line: usize) -> Result<bool, LineError> {
    match value {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(error(line, key, format!("{key} must be 'yes' or 'no'"))),
    }
}

fn number(key: &str, value: &str, line: usize) -> Result<u32, LineError> {
    value
        .parse()
        .map_err(|_| error(line, key, format!("`{value}` is not a whole number")))
}

fn positive(key: &str, value: &str, line: usize) -> Result<u32, LineError> {
    match number(key, value, line)? {
        0 => Err(error(line, key, "must be above 0")),
        n => Ok(n),
    }
}
