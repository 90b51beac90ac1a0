//! Where a director process puts its node's events: JSON lines of [`EventLine`] in the event
//! log (flushed after each batch, so a killed director's last samples are on disk), and a
//! human line on stderr for the notable ones.

use crate::node::Director;
use crate::node::event::{DirectorEvent, EventLine};
use crate::unix_ms;
use anyhow::Context;
use smoltcp::time::Instant;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// The event log of one director (or none: stderr only).
pub struct EventSink {
    file: Option<BufWriter<File>>,
    /// Lines that could not be written.
    errors: u64,
}

impl EventSink {
    /// Appends to `path` when given.
    pub fn open(path: Option<&Path>) -> anyhow::Result<EventSink> {
        let file = path
            .map(|p| {
                File::options()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("opening the event log {}", p.display()))
            })
            .transpose()?;
        Ok(EventSink {
            file: file.map(BufWriter::new),
            errors: 0,
        })
    }

    /// Writes every event the node has.
    pub fn drain(&mut self, node: &mut Director, now: Instant) {
        let mut wrote = false;
        while let Some(event) = node.poll_event() {
            self.write(now, event);
            wrote = true;
        }
        if wrote && let Some(f) = &mut self.file {
            self.errors += u64::from(f.flush().is_err());
        }
    }

    fn write(&mut self, now: Instant, event: DirectorEvent) {
        if event.is_notable() {
            eprintln!("director: {event}");
        }
        let Some(f) = &mut self.file else { return };
        let line = EventLine {
            unix_ms: unix_ms(),
            t_ms: now.total_millis().max(0) as u64,
            event,
        };
        let ok = serde_json::to_writer(&mut *f, &line).is_ok() && f.write_all(b"\n").is_ok();
        self.errors += u64::from(!ok);
    }

    pub fn errors(&self) -> u64 {
        self.errors
    }
}
