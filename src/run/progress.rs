//! The progress line of `tapvs run` on a terminal: scenario, seed i/N, engine, time on the
//! run's clock (simulated or real), requests answered and failed so far, the current master.
//! Redrawn in place at most five times a wall second; nothing at all when stderr is not a
//! terminal or under CI (`CI` set), so logs get only the lines that matter.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often the line is redrawn, at most.
const EVERY: Duration = Duration::from_millis(200);

/// One run's progress line.
pub struct Progress {
    /// What the line starts with: scenario, seed, engine.
    head: String,
    end_ms: u64,
    shown: bool,
    on: bool,
    last_draw: Option<Instant>,
    master: String,
}

impl Progress {
    /// A line for `scenario`'s run with seed number `i` of `n` in `engine`, whose load ends
    /// `end_ms` after its start.
    pub fn new(scenario: &str, (i, n): (usize, usize), engine: &str, end_ms: u64) -> Progress {
        let on = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        Progress::with(on, scenario, (i, n), engine, end_ms)
    }

    fn with(on: bool, scenario: &str, (i, n): (usize, usize), engine: &str, end_ms: u64) -> Self {
        Progress {
            head: format!("{scenario}  seed {i}/{n}  {engine}"),
            end_ms,
            shown: false,
            on,
            last_draw: None,
            master: "-".into(),
        }
    }

    /// The current master, from the last sample.
    pub fn master(&mut self, name: Option<&str>) {
        self.master = name.unwrap_or("none").to_owned();
    }

    /// The text of the line at `now_ms` with `tally` (answered, failed) when known.
    fn line(&self, now_ms: u64, tally: Option<(u64, u64)>) -> String {
        let requests = match tally {
            Some((ok, failed)) => format!("{ok} ok {failed} failed"),
            None => "requests counted at the end".into(),
        };
        format!(
            "{}  t {:.1}/{:.1} s  {}  master {}",
            self.head,
            now_ms as f64 / 1000.0,
            self.end_ms as f64 / 1000.0,
            requests,
            self.master
        )
    }

    /// Redraws the line if it is due.
    pub fn update(&mut self, now_ms: u64, tally: Option<(u64, u64)>) {
        if !self.on || self.last_draw.is_some_and(|t| t.elapsed() < EVERY) {
            return;
        }
        self.last_draw = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{}", self.line(now_ms, tally));
        let _ = err.flush();
        self.shown = true;
    }

    /// A line that stays (an event played): printed above the progress line.
    pub fn note(&mut self, text: &str) {
        self.clear();
        eprintln!("{text}");
    }

    fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[2K");
            self.shown = false;
        }
    }

    /// The run is over: the line goes away.
    pub fn done(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[test]
    fn the_line_names_scenario_seed_engine_time_requests_and_master() {
        let mut p = Progress::with(true, "dr-basic", (3, 10), "emulated", 8000);
        p.master(Some("d2"));
        let line = p.line(2500, Some((1200, 4)));
        assert_eq!(
            line,
            "dr-basic  seed 3/10  emulated  t 2.5/8.0 s  1200 ok 4 failed  master d2"
        );
        assert!(p.line(0, None).contains("requests counted at the end"));
    }

    #[test]
    fn off_it_draws_nothing() {
        let mut p = Progress::with(false, "x", (1, 1), "netns", 1000);
        p.update(10, None);
        assert!(!p.shown);
    }
}
