//! The `[service.health]` section of a director configuration, the per-server overrides and
//! the sorry server: pure data, checked by [`HealthConfig::check`].

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// How a service's real servers are checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// `tcp` (connect), `http` (GET, status and body) or `udp` (request/response).
    pub check: CheckKind,
    /// Time between the starts of two checks of one server.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// A check with no verdict after this long failed.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Consecutive successes that bring a down server up.
    #[serde(default = "default_rise")]
    pub rise: u32,
    /// Consecutive failures that take an up server down.
    #[serde(default = "default_fall")]
    pub fall: u32,
    /// State before the first verdict.
    #[serde(default)]
    pub initial: InitialState,
    /// What a server marked down loses.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// HTTP: the path asked for.
    #[serde(default = "default_path")]
    pub path: String,
    /// HTTP: the status codes that count as up, inclusive.
    #[serde(default = "default_status")]
    pub status: [u16; 2],
    /// HTTP: text the body must contain; UDP: text the answer must contain.
    #[serde(default)]
    pub expect: Option<String>,
    /// UDP: the request datagram (default: a request of `tapvs server`'s datagram service).
    #[serde(default = "default_request")]
    pub request: String,
}

/// The check a [`HealthConfig`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    Tcp,
    Http,
    Udp,
}

/// A server's state before its first verdict (keepalived's `alpha` means down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitialState {
    #[default]
    Up,
    Down,
}

/// What a server marked down loses (ldirectord's `quiescent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Weight 0: no new connections; established ones carry on (`quiescent = yes`).
    #[default]
    Quiescent,
    /// Out of the service, and its connections expired at once (`quiescent = no` with
    /// IPVS's `expire_nodest_conn`).
    Remove,
}

/// Per-server changes to the service's check timing and hysteresis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthOverride {
    pub interval_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
    pub initial: Option<InitialState>,
}

/// The server that takes a service's new connections while none of its real servers is up
/// (keepalived's `sorry_server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SorryServer {
    pub address: Ipv4Addr,
    pub port: u16,
}

/// The timing and hysteresis of one server's checks, overrides applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub rise: u32,
    pub fall: u32,
    pub initially_up: bool,
}

pub(crate) fn default_interval_ms() -> u64 {
    1000
}
pub(crate) fn default_timeout_ms() -> u64 {
    500
}
pub(crate) fn default_rise() -> u32 {
    2
}
pub(crate) fn default_fall() -> u32 {
    3
}
pub(crate) fn default_path() -> String {
    "/".into()
}
pub(crate) fn default_status() -> [u16; 2] {
    [200, 399]
}
pub(crate) fn default_request() -> String {
    "TAPVS-Q 0 16\n".into()
}

impl HealthConfig {
    /// The parameters of a server with `over` applied.
    pub fn params(&self, over: Option<&HealthOverride>) -> Params {
        let o = over.copied().unwrap_or_default();
        Params {
            interval_ms: o.interval_ms.unwrap_or(self.interval_ms),
            timeout_ms: o.timeout_ms.unwrap_or(self.timeout_ms),
            rise: o.rise.unwrap_or(self.rise),
            fall: o.fall.unwrap_or(self.fall),
            initially_up: o.initial.unwrap_or(self.initial) == InitialState::Up,
        }
    }

    /// Checks the section: `Err((field, reason))`, the field relative to the section.
    pub fn check(&self) -> Result<(), (String, String)> {
        check_params(&self.params(None))?;
        let [low, high] = self.status;
        if !(100..=599).contains(&low) || !(low..=599).contains(&high) {
            return Err((
                "status".into(),
                "expected [low, high] within 100..=599".into(),
            ));
        }
        let plain = |c: char| c.is_ascii_graphic();
        if self.check == CheckKind::Http
            && !(self.path.starts_with('/') && self.path.chars().all(plain))
        {
            return Err((
                "path".into(),
                "an HTTP path starts with / and has no spaces or control characters".into(),
            ));
        }
        if self.check == CheckKind::Udp && self.request.is_empty() {
            return Err(("request".into(), "a UDP check needs a request".into()));
        }
        Ok(())
    }
}

/// Checks the timing and hysteresis of one server.
pub fn check_params(p: &Params) -> Result<(), (String, String)> {
    let bad = |f: &str, r: &str| Err((f.to_string(), r.to_string()));
    if p.interval_ms == 0 {
        return bad("interval_ms", "must be at least 1");
    }
    if p.timeout_ms == 0 || p.timeout_ms > p.interval_ms {
        return bad("timeout_ms", "must be between 1 and interval_ms");
    }
    if p.rise == 0 {
        return bad("rise", "must be at least 1");
    }
    if p.fall == 0 {
        return bad("fall", "must be at least 1");
    }
    Ok(())
}
