//! The director's health checks: the sans-IO [`Monitor`] decides when each real server is
//! checked and when it changes state, the host stack runs the checks from the director's own
//! address, and the [`ServicePolicy`] of its service turns each change into weights (and
//! expiry) in the data plane. Each change is a [`DirectorEvent::Health`] with its reason.

use super::EventQueue;
use super::event::{DirectorEvent, HealthReason, ServerHealth};
use super::host::HostStack;
use super::host::check::{CheckError, CheckSpec};
use super::settings::NodeSettings;
use crate::dataplane::Dataplane;
use crate::health::config::{CheckKind, HealthConfig};
use crate::health::monitor::{Monitor, Target, Transition};
use crate::health::policy::{Action, ServicePolicy};
use smoltcp::time::Instant;
use std::net::SocketAddrV4;

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
}

/// Why a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    None,
    Timeout,
    Error(CheckError),
}

impl Failure {
    fn reason(self) -> HealthReason {
        match self {
            // A change to down always follows a failure; `None` cannot reach here.
            Failure::None | Failure::Timeout => HealthReason::Timeout,
            Failure::Error(CheckError::Refused) => HealthReason::Refused,
            Failure::Error(CheckError::Closed) => HealthReason::Closed,
            Failure::Error(CheckError::Status(_)) => HealthReason::Status,
            Failure::Error(CheckError::Content) => HealthReason::Content,
            Failure::Error(CheckError::Malformed) => HealthReason::Malformed,
            Failure::Error(CheckError::Socket) => HealthReason::Socket,
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
        config: &NodeSettings,
        host: &mut HostStack,
        dp: &mut Dataplane,
        now: Instant,
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
        let monitor = Monitor::new(ms(now), &targets);
        let health = Health {
            last_failure: vec![Failure::None; checks.len()],
            monitor,
            checks,
            names,
            policies,
        };
        for policy in health.policies.iter().flatten() {
            let up = health.states(policy.service);
            for action in policy.initial(&up) {
                health.apply(dp, now, action, &mut EventQueue::default());
            }
        }
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
    pub fn poll(
        &mut self,
        now: Instant,
        host: &mut HostStack,
        dp: &mut Dataplane,
        events: &mut EventQueue,
    ) {
        let now_ms = ms(now);
        for i in 0..self.checks.len() {
            let Some(result) = host.check_result(self.checks[i]) else {
                continue;
            };
            if let Err(e) = result {
                self.last_failure[i] = Failure::Error(e);
            }
            if let Some(t) = self.monitor.report(now_ms, i, result.is_ok()) {
                self.changed(now, t, dp, events);
            }
        }
        while let Some((i, t)) = self.monitor.poll_expired(now_ms) {
            host.cancel_check(self.checks[i]);
            self.last_failure[i] = Failure::Timeout;
            if let Some(t) = t {
                self.changed(now, t, dp, events);
            }
        }
        while let Some(i) = self.monitor.poll_start(now_ms) {
            if let Err(e) = host.start_check(self.checks[i]) {
                self.last_failure[i] = Failure::Error(e);
                if let Some(t) = self.monitor.report(now_ms, i, false) {
                    self.changed(now, t, dp, events);
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

    /// Every checked server's state and counters.
    pub fn report(&self) -> Vec<ServerHealth> {
        (0..self.monitor.len())
            .map(|i| ServerHealth {
                server: self.names[i].clone(),
                up: self.monitor.is_up(i),
                counters: self.monitor.counters(i),
            })
            .collect()
    }

    fn changed(
        &mut self,
        now: Instant,
        t: Transition,
        dp: &mut Dataplane,
        events: &mut EventQueue,
    ) {
        let target = self.monitor.target(t.index);
        events.push(DirectorEvent::Health {
            server: self.names[t.index].clone(),
            up: t.up,
            reason: if t.up {
                HealthReason::Passed
            } else {
                self.last_failure[t.index].reason()
            },
            counters: self.monitor.counters(t.index),
        });
        let up_after = self.states(target.service);
        if let Some(policy) = &self.policies[target.service] {
            for action in policy.on_change(target.server, t.up, &up_after) {
                self.apply(dp, now, action, events);
            }
        }
    }

    fn apply(&self, dp: &mut Dataplane, now: Instant, action: Action, events: &mut EventQueue) {
        match action {
            Action::SetWeight {
                service,
                server,
                weight,
            } => {
                let sorry = self.policies[service].as_ref().and_then(|p| p.sorry);
                match self.states(service).get(server) {
                    // A real server: up gives back its administrative weight (`ipvsadm -e`
                    // may have changed it), down holds it at 0; see `dataplane::ipvs`.
                    Some(&up) if sorry != Some(server) => {
                        _ = dp.set_server_health(service, server, up)
                    }
                    _ => _ = dp.set_weight_of(service, server, weight),
                }
            }
            Action::ExpireConns { service, server } => {
                let count = dp.expire_server(now, service, server);
                let name = self
                    .monitor_index(service, server)
                    .map_or_else(String::new, |i| self.names[i].clone());
                events.push(DirectorEvent::ConnsExpired {
                    server: name,
                    count,
                });
            }
        }
    }

    /// The target index of a service's server.
    fn monitor_index(&self, service: usize, server: usize) -> Option<usize> {
        (0..self.monitor.len()).find(|&i| {
            let t = self.monitor.target(i);
            t.service == service && t.server == server
        })
    }
}

fn ms(now: Instant) -> u64 {
    now.total_millis().max(0) as u64
}
