//! The master's side of a sync node: the change queue, the bulk walk, the paced refresh walk,
//! and the unacknowledged messages behind the lag.

use super::coalesce::{Coalescer, Lookup};
use super::{SyncConfig, SyncNode, SyncTable, micros, now_ms};
use crate::sync::entry::SyncEntry;
use crate::sync::wire::{ControlKind, MessageWriter, write_control};
use smoltcp::time::{Duration, Instant};
use std::collections::VecDeque;

/// The window of the bulk/refresh message budget.
const BURST_WINDOW: Duration = Duration::from_millis(1);

/// Why an entries message goes out (which counter its entries go to).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Change,
    Bulk,
    Refresh,
}

#[derive(Debug)]
pub(super) struct Master {
    /// Changes with the instant they were noted; never grows past its capacity.
    changes: VecDeque<(Instant, SyncEntry)>,
    change_limit: usize,
    bulk: Bulk,
    refresh: Refresh,
    /// Bulk and refresh messages sent in the window starting at `window_start`.
    window_start: Instant,
    window_sent: u32,
    burst: u32,
    /// (sequence number, sent at) of the latest messages not acknowledged, oldest first.
    unacked: VecDeque<(u16, Instant)>,
    unacked_limit: usize,
    /// The next sequence number; kept across role changes.
    seq: u16,
    /// A walk ended: its BULK_DONE (carrying the walk's first sequence number) goes next.
    bulk_done: Option<u16>,
    /// The connections in the change message being built.
    coalesce: Coalescer,
}

#[derive(Debug, Default)]
struct Bulk {
    active: bool,
    /// Another request came during this walk: walk again once it ends.
    again: bool,
    cursor: usize,
    /// The sequence number of this walk's first message, once sent.
    first_seq: Option<u16>,
}

/// The refresh walk: one pass over the table per period, in ⌈len / per_msg⌉ messages spaced
/// evenly, so every entry is re-sent exactly once per period while the table's length holds.
/// `acc` counts message-microseconds: a message is due when it reaches `period_us`.
#[derive(Debug)]
struct Refresh {
    cursor: usize,
    acc: u128,
    last: Instant,
    /// Messages per pass at the table's length at the last poll.
    msgs_per_pass: u128,
}

impl Refresh {
    fn new(now: Instant) -> Self {
        Refresh {
            cursor: 0,
            acc: 0,
            last: now,
            msgs_per_pass: 0,
        }
    }

    fn advance(&mut self, now: Instant, len: usize, per_msg: usize, period: Duration) {
        let elapsed = u128::from(micros(self.last, now));
        self.last = self.last.max(now);
        self.msgs_per_pass = len.div_ceil(per_msg) as u128;
        let cap = self.msgs_per_pass * u128::from(period.total_micros());
        self.acc = (self.acc + elapsed * self.msgs_per_pass).min(cap);
    }

    fn due(&self, period: Duration) -> bool {
        self.msgs_per_pass > 0 && self.acc >= u128::from(period.total_micros())
    }

    fn due_at(&self, period: Duration) -> Option<Instant> {
        if self.msgs_per_pass == 0 {
            return None;
        }
        let missing = u128::from(period.total_micros()).saturating_sub(self.acc);
        let wait = missing.div_ceil(self.msgs_per_pass);
        Some(self.last + Duration::from_micros(wait as u64))
    }
}

impl Master {
    pub(super) fn new(config: &SyncConfig) -> Self {
        Master {
            changes: VecDeque::with_capacity(config.change_queue),
            change_limit: config.change_queue,
            bulk: Bulk::default(),
            refresh: Refresh::new(Instant::ZERO),
            window_start: Instant::ZERO,
            window_sent: 0,
            burst: config.burst,
            unacked: VecDeque::with_capacity(config.max_unacked),
            unacked_limit: config.max_unacked,
            seq: 0,
            bulk_done: None,
            coalesce: Coalescer::new(),
        }
    }

    /// Forgets everything but the sequence number.
    pub(super) fn reset(&mut self, now: Instant) {
        self.changes.clear();
        self.bulk = Bulk::default();
        self.refresh = Refresh::new(now);
        self.window_start = now;
        self.window_sent = 0;
        self.unacked.clear();
        self.bulk_done = None;
    }

    pub(super) fn start_bulk(&mut self) {
        if self.bulk.active {
            self.bulk.again = true;
        } else {
            self.bulk = Bulk {
                active: true,
                ..Bulk::default()
            };
        }
    }

    /// Every message up to `seq` arrived (serial-number order over a half window).
    pub(super) fn acknowledge(&mut self, seq: u16) {
        while let Some(&(sent, _)) = self.unacked.front() {
            if seq.wrapping_sub(sent) >= 0x8000 {
                break;
            }
            self.unacked.pop_front();
        }
    }

    pub(super) fn oldest_unacked(&self) -> Option<Instant> {
        self.unacked.front().map(|&(_, at)| at)
    }

    pub(super) fn poll_timeout(&self, config: &SyncConfig, per_msg: usize) -> Option<Instant> {
        let paced = self.paced_at();
        let changes = self.changes.front().map(|&(at, _)| {
            if self.changes.len() >= per_msg {
                at
            } else {
                at + config.batch_delay
            }
        });
        if self.bulk_done.is_some() {
            return Some(Instant::ZERO);
        }
        let bulk = self.bulk.active.then_some(paced);
        let refresh = config
            .refresh_period
            .and_then(|period| self.refresh.due_at(period))
            .map(|at| at.max(paced));
        [changes, bulk, refresh].into_iter().flatten().min()
    }

    /// When the next bulk/refresh message may go.
    fn paced_at(&self) -> Instant {
        if self.window_sent < self.burst {
            self.window_start
        } else {
            self.window_start + BURST_WINDOW
        }
    }

    /// Whether a bulk/refresh message may go at `now` (rolls the window).
    fn may_pace(&mut self, now: Instant) -> bool {
        if now >= self.window_start + BURST_WINDOW {
            self.window_start = now;
            self.window_sent = 0;
        }
        self.window_sent < self.burst
    }
}

impl SyncNode {
    pub(super) fn master_note_change(&mut self, now: Instant, entry: SyncEntry) {
        let m = &mut self.master;
        if m.changes.len() >= m.change_limit {
            self.counters.changes_dropped += 1;
        } else {
            m.changes.push_back((now, entry));
        }
    }

    pub(super) fn master_transmit<T: SyncTable + ?Sized>(
        &mut self,
        now: Instant,
        table: &T,
        buf: &mut [u8],
    ) -> Option<usize> {
        if let Some(period) = self.config.refresh_period {
            let per_msg = self.per_msg;
            self.master
                .refresh
                .advance(now, table.len(), per_msg, period);
        }
        let room = MessageWriter::new(buf, 0, 0).room();
        assert!(room > 0, "sync buffer holds no entry");
        if self.changes_due(now, room) {
            return Some(self.send_changes(now, buf));
        }
        if let Some(first_seq) = self.master.bulk_done.take() {
            self.counters.bulk_done_sent += 1;
            self.counters.msgs_sent += 1;
            let syncid = self.config.syncid;
            return Some(write_control(buf, syncid, ControlKind::BulkDone, first_seq));
        }
        if !self.master.may_pace(now) {
            return None;
        }
        let sent = if self.master.bulk.active {
            self.send_bulk(now, table, buf)
        } else {
            None
        };
        let sent = sent.or_else(|| self.send_refresh(now, table, buf));
        if sent.is_some() {
            self.master.window_sent += 1;
        }
        sent
    }

    fn changes_due(&self, now: Instant, room: usize) -> bool {
        let changes = &self.master.changes;
        changes
            .front()
            .is_some_and(|&(at, _)| changes.len() >= room || now >= at + self.config.batch_delay)
    }

    fn send_changes(&mut self, now: Instant, buf: &mut [u8]) -> usize {
        let mut writer = MessageWriter::new(buf, self.config.syncid, self.master.seq);
        let m = &mut self.master;
        m.coalesce.clear();
        while let Some((_, entry)) = m.changes.front() {
            match m.coalesce.lookup(entry) {
                Lookup::At(position) => {
                    writer.replace(position, entry);
                    self.counters.changes_coalesced += 1;
                }
                free => {
                    if !writer.push(entry) {
                        break;
                    }
                    m.coalesce.insert(free, writer.count() - 1);
                }
            }
            m.changes.pop_front();
        }
        self.sent(now, writer, Kind::Change)
    }

    /// The next bulk message; `None` once the walk has ended with nothing left to send.
    fn send_bulk<T: SyncTable + ?Sized>(
        &mut self,
        now: Instant,
        table: &T,
        buf: &mut [u8],
    ) -> Option<usize> {
        while self.master.bulk.active {
            let seq = self.master.seq;
            let mut writer = MessageWriter::new(buf, self.config.syncid, seq);
            let bulk = &mut self.master.bulk;
            let first = bulk.first_seq.is_none();
            // Set only when this message goes out: a first message always does.
            let first_seq = *bulk.first_seq.get_or_insert(seq);
            let mut ended = false;
            while writer.room() > 0 {
                match table.next_entry(&mut bulk.cursor, now_ms(now)) {
                    Some(entry) => _ = writer.push(&entry),
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            if ended {
                let again = bulk.again;
                *bulk = Bulk {
                    active: again,
                    ..Bulk::default()
                };
                self.master.bulk_done = Some(first_seq);
            }
            // An empty table still answers, once per walk, so the backup stops asking.
            if writer.count() > 0 || first {
                return Some(self.sent(now, writer, Kind::Bulk));
            }
        }
        None
    }

    /// The next refresh message, when one is due: the walk goes on from where it stopped, and
    /// a message never crosses the end of a pass.
    fn send_refresh<T: SyncTable + ?Sized>(
        &mut self,
        now: Instant,
        table: &T,
        buf: &mut [u8],
    ) -> Option<usize> {
        let period = self.config.refresh_period?;
        let refresh = &mut self.master.refresh;
        if !refresh.due(period) {
            return None;
        }
        let mut writer = MessageWriter::new(buf, self.config.syncid, self.master.seq);
        let mut wrapped = false;
        while writer.room() > 0 {
            match table.next_entry(&mut refresh.cursor, now_ms(now)) {
                Some(entry) => _ = writer.push(&entry),
                None => {
                    refresh.cursor = 0;
                    if writer.count() > 0 || wrapped {
                        break;
                    }
                    wrapped = true;
                }
            }
        }
        if writer.count() == 0 {
            refresh.acc = 0;
            return None;
        }
        refresh.acc -= u128::from(period.total_micros());
        Some(self.sent(now, writer, Kind::Refresh))
    }

    /// Finishes a message: sequence number, counters, lag tracking.
    fn sent(&mut self, now: Instant, writer: MessageWriter<'_>, kind: Kind) -> usize {
        let entries = writer.count() as u64;
        let len = writer.finish();
        let c = &mut self.counters;
        c.msgs_sent += 1;
        c.entries_sent += entries;
        match kind {
            Kind::Change => c.change_entries_sent += entries,
            Kind::Bulk => c.bulk_entries_sent += entries,
            Kind::Refresh => c.refresh_entries_sent += entries,
        }
        let m = &mut self.master;
        if m.unacked.len() >= m.unacked_limit {
            m.unacked.pop_front();
        }
        m.unacked.push_back((m.seq, now));
        m.seq = m.seq.wrapping_add(1);
        len
    }
}
