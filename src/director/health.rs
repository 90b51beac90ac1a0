//! The director's health checks: the sans-IO [`Monitor`] decides when each real server is
//! checked and when it changes state, the host stack runs the checks from the director's own
//! address, and the [`ServicePolicy`] of its service turns each change into weights (and
//! expiry) in the data plane. Each change is logged (stderr, and JSON lines for the runner).

use super::host::HostStack;
use super::host::check::{CheckError, CheckSpec};
use crate::config::DirectorConfig;
use crate::dataplane::Dataplane;
use crate::health::config::{CheckKind, HealthConfig};
use crate::health::monitor::{Monitor, Target, Transition};
use crate::health::policy::{Action, ServicePolicy};
use crate::unix_ms;
use smoltcp::time::Instant;
use std::fs::File;
use std::io::Write;
use std::net::SocketAddrV4;
use std::path::Path;

/// The health checks of every checked service of one director.
pub struct Health {
    monitor: Monitor,
    /// By target index: the host stack's check.
    checks: Vec<usize>,
    /// By target index: the server's name (for logs).
    names: Vec<String>,
    /// By service index (`None`: not checked).
    policies: Vec<Option<ServicePolicy>>,
    /// By target index: why its latest check failed, for the log of a change to down.
    last_failure: Vec<Failure>,
    log: Option<File>,
}

/// Why a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    None,
    Timeout,
    Error(CheckError),
}

impl Failure {
    fn name(self) -> &'static str {
        match self {
            Failure::None => "none",
            Failure::Timeout => "timeout",
            Failure::Error(CheckError::Refused) => "refused",
            Failure::Error(CheckError::Closed) => "closed",
            Failure::Error(CheckError::Status(_)) => "status",
            Failure::Error(CheckError::Content) => "content",
            Failure::Error(CheckError::Malformed) => "malformed",
            Failure::Error(CheckError::Socket) => "socket",
        }
    }
}

/// The check a service's configuration asks for.
fn spec_of(health: &HealthConfig) -> CheckSpec {
    match health.check {
        CheckKind::Tcp => CheckSpec::Tcp,
        CheckKind::Http => CheckSpec::Http {
            path: health.path.clone(),
            status_min: health.status[0],
            status_max: health.status[1],
            body_contains: health.expect.clone(),
        },
        CheckKind::Udp => CheckSpec::Udp {
            request: health.request.as_bytes().to_vec(),
            expect: health.expect.as_ref().map(|e| e.as_bytes().to_vec()),
        },
    }
}

impl Health {
    /// Sets up the checks of every service with a `[service.health]` section and puts the
    /// table in line with the initial states; `None` when no service is checked.
    pub fn start(
        config: &DirectorConfig,
        host: &mut HostStack,
        dp: &mut Dataplane,
        now: Instant,
        log: Option<&Path>,
    ) -> anyhow::Result<Option<Health>> {
        let mut targets = Vec::new();
        let mut checks = Vec::new();
        let mut names = Vec::new();
        let mut policies = Vec::new();
        for (service, s) in config.services.iter().enumerate() {
            let Some(health) = &s.health else {
                policies.push(None);
                continue;
            };
            let spec = spec_of(health);
            for (server, rs) in s.real_servers.iter().enumerate() {
                let params = health.params(rs.health.as_ref());
                targets.push(Target {
                    service,
                    server,
                    params,
                });
                let target = SocketAddrV4::new(rs.address, rs.port);
                checks.push(host.add_check(spec.clone(), target));
                names.push(rs.name.clone());
            }
            policies.push(Some(ServicePolicy {
                service,
                on_failure: health.on_failure,
                configured: s.real_servers.iter().map(|rs| rs.weight).collect(),
                sorry: s.sorry_server.map(|_| s.real_servers.len()),
            }));
        }
        if targets.is_empty() {
            return Ok(None);
        }
        let log = log
            .map(|p| {
                File::options()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| anyhow::anyhow!("health log {}: {e}", p.display()))
            })
            .transpose()?;
        let monitor = Monitor::new(ms(now), &targets);
        let health = Health {
            last_failure: vec![Failure::None; checks.len()],
            monitor,
            checks,
            names,
            policies,
            log,
        };
        for policy in health.policies.iter().flatten() {
            let up = health.states(policy.service);
            for action in policy.initial(&up) {
                apply(dp, now, action);
            }
        }
        eprintln!("director: health checks of {} server(s)", targets.len());
        Ok(Some(health))
    }

    /// Which of `service`'s checked servers are up, by server index.
    fn states(&self, service: usize) -> Vec<bool> {
        (0..self.monitor.len())
            .filter(|&i| self.monitor.target(i).service == service)
            .map(|i| self.monitor.is_up(i))
            .collect()
    }

    /// Collects verdicts, gives up on checks past their timeout, starts the checks that are
    /// due. Call after the host stack's poll (answers) and before the next one (to send).
    pub fn poll(&mut self, now: Instant, host: &mut HostStack, dp: &mut Dataplane) {
        let now_ms = ms(now);
        for i in 0..self.checks.len() {
            let Some(result) = host.check_result(self.checks[i]) else {
                continue;
            };
            if let Err(e) = result {
                self.last_failure[i] = Failure::Error(e);
            }
            if let Some(t) = self.monitor.report(now_ms, i, result.is_ok()) {
                self.changed(now, t, dp);
            }
        }
        while let Some((i, t)) = self.monitor.poll_expired(now_ms) {
            host.cancel_check(self.checks[i]);
            self.last_failure[i] = Failure::Timeout;
            if let Some(t) = t {
                self.changed(now, t, dp);
            }
        }
        while let Some(i) = self.monitor.poll_start(now_ms) {
            if let Err(e) = host.start_check(self.checks[i]) {
                self.last_failure[i] = Failure::Error(e);
                if let Some(t) = self.monitor.report(now_ms, i, false) {
                    self.changed(now, t, dp);
                }
            }
        }
    }

    /// When [`Health::poll`] is next due for a start or a timeout.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.monitor
            .poll_timeout()
            .map(|t| Instant::from_millis(t as i64))
    }

    /// The checks' counters by server, as JSON, for the director's final report.
    pub fn report(&self) -> String {
        let servers: Vec<serde_json::Value> = (0..self.monitor.len())
            .map(|i| {
                serde_json::json!({
                    "server": self.names[i],
                    "up": self.monitor.is_up(i),
                    "counters": self.monitor.counters(i),
                })
            })
            .collect();
        serde_json::Value::Array(servers).to_string()
    }

    fn changed(&mut self, now: Instant, t: Transition, dp: &mut Dataplane) {
        let target = self.monitor.target(t.index);
        let name = &self.names[t.index];
        let state = if t.up { "up" } else { "down" };
        let reason = if t.up {
            "passed"
        } else {
            self.last_failure[t.index].name()
        };
        let c = self.monitor.counters(t.index);
        eprintln!(
            "director: health: {name} {state} ({reason}) after {} checks ({} ok, {} failed, {} timed out)",
            c.checks, c.ok, c.failed, c.timeouts
        );
        if let Some(log) = &mut self.log {
            let _ = writeln!(
                log,
                "{{\"unix_ms\":{},\"server\":\"{name}\",\"state\":\"{state}\",\"reason\":\"{reason}\"}}",
                unix_ms()
            );
        }
        let up_after = self.states(target.service);
        if let Some(policy) = &self.policies[target.service] {
            for action in policy.on_change(target.server, t.up, &up_after) {
                apply(dp, now, action);
            }
        }
    }
}

fn apply(dp: &mut Dataplane, now: Instant, action: Action) {
    match action {
        Action::SetWeight {
            service,
            server,
            weight,
        } => _ = dp.set_weight_of(service, server, weight),
        Action::ExpireConns { service, server } => {
            let n = dp.expire_server(now, service, server);
            eprintln!("director: health: expired {n} connection(s) of a server taken out");
        }
    }
}

fn ms(now: Instant) -> u64 {
    now.total_millis().max(0) as u64
}
