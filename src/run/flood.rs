//! Spoofed-SYN floods in a run: the flood generator's command line, the lab rule that makes its
//! sources absent hosts, and what the run reports of it (metrics and the `flood.png` record).

use super::execute::Collected;
use crate::lab::{Lab, LinkStats};
use crate::metrics::catalogue as cat;
use crate::metrics::registry::Values;
use crate::results::{FloodRecord, FloodSample};
use crate::scenario::{ConnectionMode, LoadMode, LoadSpec, Scenario};
use anyhow::Context;

/// The spoofed sub-range as a prefix (no real client of a scenario uses it: see `client_base`).
pub fn flood_net() -> String {
    use crate::client::flood::{FLOOD_NET, FLOOD_PREFIX};
    format!("{FLOOD_NET}/{FLOOD_PREFIX}")
}

/// Makes the spoofed sources behave like absent hosts: the router drops what the real servers
/// send them (their SYN-ACKs), so the clients' kernel never answers them with a reset (which
/// would end each half-open entry at once). A blackhole route sends nothing back, as a host
/// that does not exist answers nothing.
pub fn drop_replies_to_flood(lab: &Lab) -> anyhow::Result<()> {
    let net = flood_net();
    let status = lab
        .command("rt", "ip")
        .args(["route", "add", "blackhole", &net])
        .status()
        .context("adding the flood's blackhole route in the router")?;
    anyhow::ensure!(status.success(), "ip route add blackhole {net}: {status}");
    Ok(())
}

/// The first flood's window, ms from the load start.
fn window(scenario: &Scenario) -> Option<(u64, u64)> {
    let f = scenario
        .loads
        .iter()
        .find(|l| l.mode == LoadMode::SynFlood)?;
    let from = f.start.as_millis() as u64;
    Some((from, from + f.duration.as_millis() as u64))
}

/// Whether a load is real clients opening a new connection per request.
fn real_new_conns(l: &LoadSpec) -> bool {
    l.mode != LoadMode::SynFlood && l.connection == ConnectionMode::New
}

/// The flood chart's data: real clients' new-connection outcomes per interval and the first
/// director's table size (its last sample in the interval), with the flood's window.
pub fn record(scenario: &Scenario, c: &Collected) -> Option<FloodRecord> {
    let (from_ms, to_ms) = window(scenario)?;
    let interval = scenario.interval.as_millis() as u64;
    let mut samples = super::timeline::per_interval(
        scenario,
        c,
        |t_ms| FloodSample {
            t_ms,
            ..FloodSample::default()
        },
        |s, load, iv, k| {
            if real_new_conns(&scenario.loads[load]) {
                s.new_ok += iv.ok;
                s.new_failed += iv.failed;
            }
            if let Some(f) = &c.clients[load].flood {
                s.flood_sent += f.per_interval.get(k).copied().unwrap_or(0);
            }
        },
    );
    let first = scenario.directors().first().cloned().unwrap_or_default();
    for (t, name, _, size) in &c.director_tables {
        if *name == first
            && let Some(s) = samples.get_mut((*t / interval) as usize)
        {
            s.table = *size as u64;
        }
    }
    Some(FloodRecord {
        from_ms,
        to_ms,
        capacity: scenario.lab.max_connections as u64,
        samples,
    })
}

/// The flood's metrics (README, "Metrics").
pub fn metrics(m: &mut Values, scenario: &Scenario, c: &Collected) {
    let Some(rec) = record(scenario, c) else {
        return;
    };
    let share = |during: bool| {
        let (ok, failed) = rec
            .samples
            .iter()
            .filter(|s| {
                if during {
                    s.t_ms >= rec.from_ms && s.t_ms < rec.to_ms
                } else {
                    s.t_ms >= rec.to_ms
                }
            })
            .fold((0, 0), |(o, f), s| (o + s.new_ok, f + s.new_failed));
        if ok + failed == 0 {
            f64::NAN
        } else {
            ok as f64 / (ok + failed) as f64
        }
    };
    m.set(&cat::NEW_CONN_SUCCESS_DURING_FLOOD, share(true));
    m.set(&cat::NEW_CONN_SUCCESS_AFTER_FLOOD, share(false));
    let flood = c.clients.iter().filter_map(|r| r.flood.as_ref());
    let (mut sent, mut errors, mut rate) = (0, 0, 0.0);
    for f in flood {
        sent += f.sent;
        errors += f.send_errors;
        rate += f.rate_achieved;
    }
    m.set(&cat::FLOOD_SENT, sent as f64);
    m.set(&cat::FLOOD_SEND_ERRORS, errors as f64);
    m.set(&cat::FLOOD_RATE_ACHIEVED, rate);
    let d = &c.director_final.defense;
    let peak = c
        .director_tables
        .iter()
        .map(|t| t.3 as u64)
        .max()
        .unwrap_or(0)
        .max(d.table_peak);
    m.set(&cat::TABLE_PEAK, peak as f64);
    m.set(
        &cat::TABLE_PEAK_SHARE,
        peak as f64 / scenario.lab.max_connections as f64,
    );
    m.set(&cat::DEFENSE_LEVEL_CHANGES, d.level_changes as f64);
    m.set(&cat::DEFENSE_HALF_OPEN_EVICTED, d.half_open_evicted as f64);
    m.set(&cat::DEFENSE_HALF_OPEN_DROPPED, d.half_open_dropped as f64);
    m.set(
        &cat::DEFENSE_HALF_OPEN_EXPIRED_EARLY,
        d.half_open_expired_early as f64,
    );
    m.set(&cat::DEFENSE_SYNS_REFUSED, d.syns_refused as f64);
    m.set(
        &cat::DEFENSE_SYNS_REFUSED_PER_SOURCE,
        d.syns_refused_per_source as f64,
    );
    let drops = |name: &str| c.director_final.drops.get(name).copied().unwrap_or(0) as f64;
    m.set(&cat::DIRECTOR_TABLE_FULL_DROPS, drops("table_full"));
    m.set(&cat::TAP_TX_DROPPED, c.director_tap.tx_dropped as f64);
}

/// The first director's TAP counters (in the switch's namespace: its `tx` is towards the
/// director), or zeros when it has none.
pub fn tap_stats(lab: &Lab, scenario: &Scenario) -> LinkStats {
    scenario
        .tapvs_directors()
        .first()
        .and_then(|d| lab.link_stats("sw", d).ok())
        .unwrap_or_default()
}
