//! The backup's side of a sync node: installing entries, the sequence check, bulk requests
//! (repeated until a whole walk has arrived) and acknowledgements.

use super::{InstallError, SyncNode, SyncTable, now_ms};
use crate::sync::wire::{ControlKind, Entries, write_control};
use smoltcp::time::Instant;

#[derive(Debug, Default)]
pub(super) struct Backup {
    /// The sequence number the next entries message should carry; `None` before the first.
    expected: Option<u16>,
    /// The latest sequence number received.
    latest: u16,
    /// When to send the next ACK; `None` when nothing new arrived since the last.
    ack_at: Option<Instant>,
    last_ack: Option<Instant>,
    /// The first sequence number of the current gapless run of entries messages.
    run_start: Option<u16>,
    /// When to send the next BULK_REQUEST.
    request_at: Option<Instant>,
    last_request: Option<Instant>,
    /// Started, and no whole bulk walk received yet: keep asking every `bulk_retry`.
    awaiting_bulk: bool,
}

impl Backup {
    /// Just became backup: ask for the whole table now.
    pub(super) fn start(&mut self, now: Instant) {
        self.awaiting_bulk = true;
        self.request_at = Some(now);
    }

    /// The master ended a walk that began at `first_seq`: it is whole here when every
    /// message since then arrived (`first_seq` within the current run, serial order).
    /// Returns whether it completed the start-up transfer.
    pub(super) fn bulk_done(&mut self, first_seq: u16) -> bool {
        let whole = self.run_start.is_some_and(|start| {
            first_seq.wrapping_sub(start) < 0x8000 && self.latest.wrapping_sub(first_seq) < 0x8000
        });
        if !(whole && self.awaiting_bulk) {
            return false;
        }
        self.awaiting_bulk = false;
        self.request_at = None;
        true
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        [self.request_at, self.ack_at].into_iter().flatten().min()
    }
}

impl SyncNode {
    /// Installs `entries`; `seq` (absent from a kernel master's messages) drives loss
    /// detection and acknowledgements.
    pub(super) fn backup_receive<T: SyncTable + ?Sized>(
        &mut self,
        now: Instant,
        seq: Option<u16>,
        entries: Entries<'_>,
        table: &mut T,
    ) {
        self.counters.entries_received += entries.len() as u64;
        if let Some(seq) = seq {
            self.backup_sequence(now, seq);
        }
        for entry in entries {
            match table.install(now_ms(now), &entry) {
                Ok(()) => self.counters.entries_installed += 1,
                Err(e) => self.count_install_error(e),
            }
        }
    }

    /// The sequence check of an entries message: a gap asks for the table, an ACK is due.
    fn backup_sequence(&mut self, now: Instant, seq: u16) {
        if let Some(expected) = self.backup.expected
            && seq != expected
        {
            let gap = seq.wrapping_sub(expected);
            if gap < 0x8000 {
                self.counters.msgs_lost += u64::from(gap);
            } else {
                self.counters.seq_resets += 1;
            }
            self.backup.awaiting_bulk = true;
            self.request_bulk(now);
        }
        let b = &mut self.backup;
        if b.expected != Some(seq) {
            b.run_start = Some(seq);
        }
        b.expected = Some(seq.wrapping_add(1));
        b.latest = seq;
        if b.ack_at.is_none() {
            let earliest = b.last_ack.map_or(now, |at| at + self.config.ack_interval);
            b.ack_at = Some(earliest.max(now));
        }
    }

    fn count_install_error(&mut self, error: InstallError) {
        let c = &mut self.counters;
        c.install_errors += 1;
        *match error {
            InstallError::NoService => &mut c.install_no_service,
            InstallError::NoServer => &mut c.install_no_server,
            InstallError::TableFull => &mut c.install_table_full,
            InstallError::Unsupported => &mut c.install_unsupported,
        } += 1;
    }

    /// Asks for a bulk transfer, at most once per `bulk_retry`.
    fn request_bulk(&mut self, now: Instant) {
        let b = &mut self.backup;
        if b.request_at.is_none() {
            let earliest = b.last_request.map_or(now, |at| at + self.config.bulk_retry);
            b.request_at = Some(earliest.max(now));
        }
    }

    pub(super) fn backup_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let syncid = self.config.syncid;
        let b = &mut self.backup;
        if b.request_at.is_some_and(|at| at <= now) {
            b.last_request = Some(now);
            b.request_at = b.awaiting_bulk.then(|| now + self.config.bulk_retry);
            self.counters.bulk_requests_sent += 1;
            self.counters.msgs_sent += 1;
            return Some(write_control(buf, syncid, ControlKind::BulkRequest, 0));
        }
        if b.ack_at.is_some_and(|at| at <= now) {
            b.last_ack = Some(now);
            b.ack_at = None;
            self.counters.acks_sent += 1;
            self.counters.msgs_sent += 1;
            self.counters.acked_seq = b.latest;
            return Some(write_control(buf, syncid, ControlKind::Ack, b.latest));
        }
        None
    }
}
