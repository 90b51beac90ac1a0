//! The one walk through a scenario's timeline, whatever the engine: sample the directors every
//! interval (and their memory every second), play each event when it is due, notice a director
//! that died on its own, and end when the loads are done (or fail when they overrun).

use super::engine::{Engine, Walked, sum_forwarded};
use super::progress::Progress;
use crate::dataplane::stats::Stats;
use crate::lab::Interrupt;
use crate::scenario::{Action, Scenario};
use anyhow::bail;

/// Walks `scenario`'s timeline on `engine`, sampling `directors` (the tapvs ones).
pub fn walk(
    scenario: &Scenario,
    engine: &mut dyn Engine,
    interrupt: &Interrupt,
    directors: &[String],
    progress: &mut Progress,
) -> anyhow::Result<Walked> {
    let interval_ms = scenario.interval.as_millis() as u64;
    let end_ms = scenario.load_end().as_millis() as u64;
    let longest_timeout = scenario.loads.iter().map(|l| l.timeout.as_millis() as u64);
    let deadline_ms = end_ms + longest_timeout.max().unwrap_or(0) + 10_000;
    let mut w = Walked {
        last: vec![Stats::default(); directors.len()],
        ..Walked::default()
    };
    let (mut next_sample, mut next_memory, mut next_event) = (0u64, 0u64, 0usize);
    // Directors ended on purpose by the timeline.
    let mut gone: Vec<String> = Vec::new();
    // Waits for the load start (real time) before anything is sampled.
    engine.advance(0)?;
    loop {
        interrupt.check()?;
        let now = engine.now_ms();
        if !directors.is_empty() && now >= next_sample {
            let mut active = Vec::new();
            for (i, name) in directors.iter().enumerate() {
                if let Some(stats) = engine.director_stats(name) {
                    if stats.active {
                        active.push(name.clone());
                    }
                    w.tables
                        .push((now, name.clone(), stats.active, stats.conns));
                    w.last[i] = stats;
                }
            }
            progress.master(active.first().map(String::as_str));
            w.samples.push((now, sum_forwarded(&w.last)));
            w.masters.push((now, active));
            next_sample += interval_ms;
        }
        if now >= next_memory {
            w.memory.extend(engine.memory(now));
            next_memory += 1000;
        }
        while let Some(event) = scenario
            .events
            .get(next_event)
            .filter(|e| now >= e.at.as_millis() as u64)
        {
            let at = engine.now_ms();
            engine.apply(event)?;
            match event.action {
                Action::KillDirector | Action::StopDirector => gone.push(event.director.clone()),
                Action::RestartDirector => gone.retain(|d| d != &event.director),
                _ => {}
            }
            progress.note(&format!(
                "run: {:>6} ms  {} {}{}{}",
                at,
                event.action.name(),
                event.server,
                event.director,
                event.link
            ));
            w.events.push((at, event.clone()));
            next_event += 1;
        }
        engine.check_directors(&gone)?;
        progress.update(now, engine.tally());
        if now > end_ms && engine.loads_done() {
            break;
        }
        if now > deadline_ms {
            bail!("the load generators did not finish in time");
        }
        let next_due = scenario
            .events
            .get(next_event)
            .map_or(u64::MAX, |e| e.at.as_millis() as u64);
        let wake = [next_sample, next_memory, next_due, end_ms + 1]
            .into_iter()
            .filter(|&t| t > now)
            .min()
            .unwrap_or(now + interval_ms.max(1));
        engine.advance(wake)?;
    }
    for (i, name) in directors.iter().enumerate() {
        if let Some(stats) = engine.director_stats(name) {
            w.last[i] = stats;
        }
    }
    w.samples.push((engine.now_ms(), sum_forwarded(&w.last)));
    progress.done();
    Ok(w)
}
