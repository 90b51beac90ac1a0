//! The one-line status the director's host stack serves on its status port:
//! `{"name":..,"state":..,"conns":..}`, rebuilt only when something in it changes.

use crate::control::vrrp::State;
use smoltcp::time::Instant;

/// How often the connection count in the status line may change.
const CONNS_REFRESH: smoltcp::time::Duration = smoltcp::time::Duration::from_millis(100);

/// The status line the host stack serves: `{"name":..,"state":..,"conns":..}`, rebuilt only
/// when the state changes or (at most every 100 ms) the connection count does.
pub struct StatusLine {
    name: String,
    state: &'static str,
    conns: usize,
    next_conns: Instant,
    line: String,
}

impl StatusLine {
    pub fn new(name: &str) -> StatusLine {
        let mut s = StatusLine {
            name: name.to_string(),
            state: "active",
            conns: 0,
            next_conns: Instant::ZERO,
            line: String::new(),
        };
        s.rebuild();
        s
    }

    pub fn refresh(&mut self, now: Instant, vrrp: Option<State>, conns: usize) {
        let state = match vrrp {
            None => "active",
            Some(State::Master) => "master",
            Some(State::Backup) => "backup",
            Some(State::Init) => "init",
        };
        let conns_due = now >= self.next_conns && conns != self.conns;
        if state == self.state && !conns_due {
            return;
        }
        if conns_due {
            self.conns = conns;
            self.next_conns = now + CONNS_REFRESH;
        }
        self.state = state;
        self.rebuild();
    }

    fn rebuild(&mut self) {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            name: &'a str,
            state: &'a str,
            conns: usize,
        }
        let line = Line {
            name: &self.name,
            state: self.state,
            conns: self.conns,
        };
        self.line = serde_json::to_string(&line).unwrap_or_default();
    }

    pub fn line(&self) -> &str {
        &self.line
    }
}
