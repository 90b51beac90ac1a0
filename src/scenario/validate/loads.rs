//! Checks of `[[load]]`: rates, concurrency, client addresses, floods.

use super::{Check, MAX_EVENTS, bad, in_range, plain_name};
use crate::scenario::echo::shown;
use crate::scenario::*;
use std::collections::HashSet;
use std::time::Duration;

impl Scenario {
    pub(super) fn check_loads(&self) -> Check {
        if self.loads.is_empty() || self.loads.len() > 8 {
            return bad("load", "need 1 to 8 loads");
        }
        let mut names = HashSet::new();
        for (i, l) in self.loads.iter().enumerate() {
            let f = |name: &str| format!("load[{i}].{name}");
            plain_name(&f("name"), &l.name, 20)?;
            if !names.insert(l.name.as_str()) {
                return bad(f("name"), format!("`{}` is used twice", shown(&l.name)));
            }
            if l.mode == LoadMode::SynFlood {
                self.check_flood(&f, l.rate)?;
            } else if l.mode == LoadMode::Open && !(1..=50_000).contains(&l.rate) {
                return bad(
                    f("rate"),
                    "an open loop needs a rate of 1 – 50000 requests/s",
                );
            }
            if l.mode == LoadMode::Closed && l.rate != 0 {
                return bad(
                    f("rate"),
                    "a closed loop has no rate (it runs `concurrency` workers)",
                );
            }
            // At most the engine's bound: see `check_size`.
            if l.concurrency == 0 {
                return bad(f("concurrency"), "must be at least 1");
            }
            if l.clients == 0 {
                return bad(f("clients"), "must be at least 1 client address");
            }
            in_range(
                &f("duration"),
                l.duration,
                Duration::from_secs(1),
                Duration::from_secs(3600),
            )?;
            in_range(
                &f("start"),
                l.start,
                Duration::ZERO,
                Duration::from_secs(600),
            )?;
            in_range(
                &f("timeout"),
                l.timeout,
                Duration::from_millis(100),
                Duration::from_secs(60),
            )?;
            if self.service.protocol == crate::config::Protocol::Udp {
                if l.connection != crate::scenario::ConnectionMode::New {
                    return bad(f("connection"), "UDP has no keep-alive: use \"new\"");
                }
                if l.response_bytes > 1400 {
                    return bad(
                        f("response_bytes"),
                        "a UDP answer is one datagram: at most 1400 bytes",
                    );
                }
            }
            if l.response_bytes > 64 << 20 {
                return bad(f("response_bytes"), "must be at most 64 MiB");
            }
        }
        Ok(())
    }

    /// Expands events with `every` (and `until`) into single events, in time order. The file's
    /// own order is checked here, so a misplaced event is named by its index in the file (the
    /// expanded timeline is sorted, so later checks need not look).
    pub(in crate::scenario) fn expand_repeats(&mut self) -> Check {
        let mut last = Duration::ZERO;
        let mut expanded = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            let f = |name: &str| format!("event[{i}].{name}");
            if e.at < last {
                return bad(f("at"), "events must be in time order");
            }
            last = e.at;
            let (every, until) = match (e.every, e.until) {
                (None, None) => {
                    expanded.push(e.clone());
                    continue;
                }
                (Some(every), Some(until)) => (every, until),
                (Some(_), None) => return bad(f("until"), "a repeated event needs `until`"),
                (None, Some(_)) => return bad(f("every"), "`until` needs `every`"),
            };
            if every < Duration::from_millis(100) {
                return bad(f("every"), "must be at least 100ms");
            }
            if until < e.at || until > self.load_end() {
                return bad(f("until"), "must be between `at` and the end of the load");
            }
            let mut at = e.at;
            while at <= until {
                if expanded.len() >= MAX_EVENTS {
                    return bad(f("every"), format!("more than {MAX_EVENTS} events in all"));
                }
                let single = EventSpec {
                    at,
                    when: crate::scenario::seeds::When::At(at),
                    every: None,
                    until: None,
                    ..e.clone()
                };
                expanded.push(single);
                at += every;
            }
        }
        expanded.sort_by_key(|e| e.at);
        self.events = expanded;
        Ok(())
    }

    /// A spoofed-SYN flood: a bounded rate at a TCP service behind a tapvs director.
    pub(super) fn check_flood(&self, f: &dyn Fn(&str) -> String, rate: u32) -> Check {
        if !(1..=crate::client::MAX_FLOOD_RATE as u32).contains(&rate) {
            return bad(f("rate"), "a SYN flood needs a rate of 1 – 2000000 SYNs/s");
        }
        if self.service.protocol != crate::config::Protocol::Tcp {
            return bad(f("mode"), "a SYN flood needs a TCP service");
        }
        if !self.lab.mode.has_director() || !self.lab.compare_modes.is_empty() {
            return bad(
                f("mode"),
                "a SYN flood is for a tapvs director (lab.mode dr or nat)",
            );
        }
        Ok(())
    }
}
