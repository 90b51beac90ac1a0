//! The one-line summary of a client report, printed when a run ends. (The runner reads the
//! JSON reports and merges them itself: `run::derive`.)

use crate::metrics::ClientReport;

/// One line for stdout: totals, rate, latency, per-server counts.
pub fn summary(r: &ClientReport) -> String {
    let t = &r.total;
    let seconds = (r.intervals.len() as u64 * r.interval_ms) as f64 / 1000.0;
    let errors: Vec<String> = t.errors.iter().map(|(k, n)| format!("{k}={n}")).collect();
    let servers: Vec<String> = t
        .servers
        .iter()
        .map(|(k, c)| format!("{k}={}", c.requests))
        .collect();
    let stray = match r.stray_responses {
        0 => String::new(),
        n => format!(", {n} stray responses"),
    };
    format!(
        "tapvs client {}: {} ok, {} failed [{}], {:.0} ok/s over {seconds:.2}s, {} new conns, \
         latency p50 {} p90 {} p99 {} max {} us, servers [{}]{stray}",
        r.load,
        t.ok,
        t.failed,
        errors.join(" "),
        t.ok as f64 / seconds.max(1e-9),
        t.new_conns,
        t.latency.p50_us,
        t.latency.p90_us,
        t.latency.p99_us,
        t.latency.max_us,
        servers.join(" "),
    )
}

#[cfg(test)]
mod tests;
