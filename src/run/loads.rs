//! A scenario's loads as the load generator's own typed settings ([`client::Args`]): the one
//! place where a `[[load]]` becomes `tapvs client` options. The client knows nothing of
//! scenarios; the runner starts it with [`client::Args::command_line`].

use crate::client;
use crate::config::Protocol;
use crate::scenario::{ConnectionMode, LoadMode, LoadSpec, Mode, Scenario, client_base};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// The settings of load number `index` of `scenario`: its report goes to `out`, and it starts
/// at `start_unix_ms` plus its own `start`.
pub fn client_args(
    scenario: &Scenario,
    index: usize,
    load: &LoadSpec,
    out: &Path,
    start_unix_ms: u64,
) -> client::Args {
    let vip = SocketAddr::from((scenario.service.vip, scenario.service.port));
    let target = match (load.mode, scenario.lab.mode) {
        // No balancer: straight to the one real server.
        (LoadMode::Open | LoadMode::Closed, Mode::Direct) => {
            SocketAddr::from((scenario.server_address(0), scenario.server_port(0)))
        }
        _ => vip,
    };
    let mut a = client::Args::with_defaults(target);
    a.load = load.name.clone();
    a.duration = load.duration;
    a.interval = scenario.interval;
    a.out = Some(out.to_owned());
    a.start_at_unix_ms = Some(start_unix_ms + load.start.as_millis() as u64);
    if load.mode != LoadMode::Closed {
        a.rate = f64::from(load.rate);
    }
    match load.mode {
        LoadMode::SynFlood => {
            a.syn_flood = true;
            // Bounded in count too: the rate for the duration.
            a.max_requests =
                (u64::from(load.rate) * load.duration.as_millis() as u64).div_ceil(1000);
        }
        LoadMode::Open | LoadMode::Closed => {
            a.protocol = match scenario.service.protocol {
                Protocol::Tcp => client::Protocol::Tcp,
                Protocol::Udp => client::Protocol::Udp,
            };
            a.mode = match load.mode {
                LoadMode::Open => client::Mode::Open,
                _ => client::Mode::Closed,
            };
            a.concurrency = load.concurrency;
            a.connection = match load.connection {
                ConnectionMode::New => client::ConnMode::New,
                ConnectionMode::Keepalive => client::ConnMode::Keepalive,
            };
            a.requests_per_conn = u64::from(load.requests_per_conn);
            a.clients = load.clients;
            a.client_base = IpAddr::V4(client_base(index));
            a.response_bytes = Some(load.response_bytes);
            a.timeout = load.timeout;
            a.think = load.think;
        }
    }
    a
}

#[cfg(test)]
mod tests;
