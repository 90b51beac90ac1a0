//! The sync node of one director, sans-IO: the master sends its connection table, the backup
//! installs it. Which one it is follows VRRP ([`SyncNode::set_master`]).
//!
//! Drive it like the VRRP router: hand every sync payload received (source ≠ ourselves) to
//! [`SyncNode::handle_message`], tell it of every change to a syncable entry with
//! [`SyncNode::note_change`], and call [`SyncNode::poll_transmit`] until it returns `None`
//! whenever something happened or [`SyncNode::poll_timeout`] is reached; send each payload to
//! [`super::wire::GROUP`]:[`super::wire::PORT`] with TTL 1.
//!
//! # What goes out, master
//! 1. Changes, in the order noted, batched up to the MTU: a message leaves when it is full or
//!    when its oldest change has waited `batch_delay`. A connection appears at most once in a
//!    message, in the place of its first change and with the state of its last.
//! 2. A bulk transfer (the whole table, slab order) when a backup asks, paced with (3) to
//!    `burst` messages per millisecond so sync never starves traffic. A request during a bulk
//!    walk restarts the walk once it ends (the requester missed its first part). An empty table
//!    answers with one empty message. A BULK_DONE control message, carrying the walk's first
//!    sequence number, follows the walk's last message.
//! 3. The refresh walk: the table again and again at ⌈len / refresh_period⌉ entries per
//!    second, so every entry that lives on the master is re-sent at least once per period and a
//!    quiet connection does not expire on the backup.
//!
//! Every entries message takes the next sequence number (wrapping u16). Acknowledgements tell
//! the lag: the age of the oldest message sent and not acknowledged (the last `max_unacked`
//! messages are tracked; with several backups, the fastest one's acknowledgements count).
//!
//! # What goes out, backup
//! A BULK_REQUEST on becoming backup and after every sequence gap, retried every `bulk_retry`
//! until a whole walk has arrived: a BULK_DONE whose first sequence number lies in the backup's
//! current gapless run (a lost request, a lost message of the walk, a walk joined midway or a
//! lost BULK_DONE all mean asking again; a lost request after a gap is not left to the refresh,
//! which may be long or off); and an ACK of the latest sequence number at most every
//! `ack_interval`, while messages keep arriving.
//!
//! Must not import `dataplane`, `io` or anything that touches a clock or a socket.

use super::entry::SyncEntry;
use super::wire::{self, CONTROL_LEN, ControlKind, ENTRY_LEN, Message, WireError};
use smoltcp::time::{Duration, Instant};

mod backup;
mod coalesce;
mod master;

use backup::Backup;
use master::Master;

/// How a sync node is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// Messages with another sync id are ignored (two clusters on one LAN).
    pub syncid: u8,
    /// Largest UDP payload: the MTU − 28.
    pub max_payload: usize,
    /// Each entry is re-sent at least this often while it lives on the master; `None`: never.
    pub refresh_period: Option<Duration>,
    /// A backup acknowledges at most this often.
    pub ack_interval: Duration,
    /// A backup repeats an unanswered start-up bulk request this often, and asks at most this
    /// often after losses.
    pub bulk_retry: Duration,
    /// The longest a change waits for others to fill its message.
    pub batch_delay: Duration,
    /// Changes queued at most (preallocated); beyond, they are dropped and counted.
    pub change_queue: usize,
    /// Bulk and refresh messages per millisecond at most.
    pub burst: u32,
    /// Unacknowledged messages tracked for the lag (preallocated).
    pub max_unacked: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            syncid: 1,
            max_payload: wire::DEFAULT_MAX_PAYLOAD,
            refresh_period: Some(Duration::from_secs(30)),
            ack_interval: Duration::from_millis(200),
            bulk_retry: Duration::from_secs(1),
            batch_delay: Duration::from_millis(2),
            change_queue: 8_192,
            burst: 16,
            max_unacked: 8_192,
        }
    }
}

/// Why a [`SyncConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "max payload of {0} bytes: must hold a header, one entry and a record (48) and fit in 65535"
    )]
    Payload(usize),
    #[error("the ack interval, bulk retry and refresh period must be positive")]
    ZeroInterval,
    #[error("the change queue, burst and unacked tracking must be at least 1")]
    ZeroCapacity,
}

/// Why the data plane refused a received entry. Each is counted in [`SyncCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    #[error("no virtual service for the entry")]
    NoService,
    #[error("the real server is not configured")]
    NoServer,
    #[error("the connection table is full")]
    TableFull,
    #[error("protocol, state or forwarding not supported")]
    Unsupported,
}

/// The connection table as sync sees it; the data plane implements it.
pub trait SyncTable {
    /// The next syncable entry at or after slot `*cursor` (slab order), advancing `*cursor`
    /// past it; `None` at the end. What is syncable is the table's call (IPVS: templates
    /// always, UDP always, TCP in ESTABLISHED, FIN_WAIT, TIME_WAIT, CLOSE, CLOSE_WAIT). Its
    /// `timeout_s` is how long the backup keeps it: best the time left on the master, rounded
    /// up (IPVS sends the state's full timeout).
    fn next_entry(&self, cursor: &mut usize, now_ms: u64) -> Option<SyncEntry>;
    /// Creates or updates the entry, living `entry.timeout_s` from `now_ms`.
    fn install(&mut self, now_ms: u64, entry: &SyncEntry) -> Result<(), InstallError>;
    /// How many entries the table holds (syncable or not): paces the refresh walk.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What this node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Neither: ignores everything, sends nothing.
    Idle,
    Master,
    Backup,
}

/// Counters of one sync node. "Messages" are all messages, entries and control alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncCounters {
    pub msgs_sent: u64,
    pub entries_sent: u64,
    /// Messages with our sync id that parsed.
    pub msgs_received: u64,
    pub entries_received: u64,
    pub entries_installed: u64,
    /// All install errors; by reason below.
    pub install_errors: u64,
    pub install_no_service: u64,
    pub install_no_server: u64,
    pub install_table_full: u64,
    pub install_unsupported: u64,
    /// Entries messages missed, from sequence gaps (backup).
    pub msgs_lost: u64,
    /// A sequence number behind the expected one (a restarted or new master): resynchronised.
    pub seq_resets: u64,
    pub foreign_syncid: u64,
    pub malformed: u64,
    /// Messages that do not fit our role (another backup's control, a second master's entries).
    pub ignored_for_role: u64,
    pub bulk_requests_sent: u64,
    pub bulk_requests_received: u64,
    pub bulk_entries_sent: u64,
    /// Master: bulk walks ended (each announced by a BULK_DONE).
    pub bulk_done_sent: u64,
    /// Backup: start-up transfers received whole (every message of a walk, then its BULK_DONE).
    pub bulks_completed: u64,
    pub refresh_entries_sent: u64,
    pub change_entries_sent: u64,
    /// Changes folded into an entry already in their message (same connection, newer state).
    pub changes_coalesced: u64,
    /// Changes not queued because the queue was full (the refresh walk covers them).
    pub changes_dropped: u64,
    pub acks_sent: u64,
    pub acks_received: u64,
    /// Master: age of the oldest unacknowledged message, now.
    pub lag_ms: u64,
    /// Master: the last sequence number acknowledged; backup: the last one it acknowledged.
    pub acked_seq: u16,
}

/// The sync node of one director.
#[derive(Debug)]
pub struct SyncNode {
    config: SyncConfig,
    /// Entries per message at `max_payload`.
    per_msg: usize,
    role: Role,
    master: Master,
    backup: Backup,
    counters: SyncCounters,
}

impl SyncNode {
    /// An idle node; queues are allocated here, once.
    pub fn new(config: SyncConfig) -> Result<Self, ConfigError> {
        if !(CONTROL_LEN + ENTRY_LEN..=usize::from(u16::MAX)).contains(&config.max_payload) {
            return Err(ConfigError::Payload(config.max_payload));
        }
        let zero = Duration::ZERO;
        if config.ack_interval == zero
            || config.bulk_retry == zero
            || config.refresh_period == Some(zero)
        {
            return Err(ConfigError::ZeroInterval);
        }
        if config.change_queue == 0 || config.burst == 0 || config.max_unacked == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        Ok(SyncNode {
            per_msg: wire::max_entries(config.max_payload),
            role: Role::Idle,
            master: Master::new(&config),
            backup: Backup::default(),
            counters: SyncCounters::default(),
            config,
        })
    }

    /// Follows VRRP: master (sends) or backup (receives, asks for the whole table now).
    /// Nothing happens when the role is unchanged.
    pub fn set_master(&mut self, now: Instant, master: bool) {
        let role = if master { Role::Master } else { Role::Backup };
        if role == self.role {
            return;
        }
        self.role = role;
        self.master.reset(now);
        self.backup = Backup::default();
        if role == Role::Backup {
            self.backup.start(now);
        }
    }

    /// Stops: idle, queues emptied.
    pub fn stop(&mut self, now: Instant) {
        self.role = Role::Idle;
        self.master.reset(now);
        self.backup = Backup::default();
    }

    /// Master: `entry` changed (created, new state); it goes out in the next change message.
    /// Ignored in other roles.
    pub fn note_change(&mut self, now: Instant, entry: SyncEntry) {
        if self.role == Role::Master {
            self.master_note_change(now, entry);
        }
    }

    /// Takes a sync payload from the network.
    pub fn handle_message<T: SyncTable + ?Sized>(
        &mut self,
        now: Instant,
        payload: &[u8],
        table: &mut T,
    ) -> Result<(), WireError> {
        let msg = match wire::parse(payload) {
            Ok(msg) => msg,
            Err(e) => {
                self.counters.malformed += 1;
                return Err(e);
            }
        };
        if msg.syncid() != self.config.syncid {
            self.counters.foreign_syncid += 1;
            return Ok(());
        }
        self.counters.msgs_received += 1;
        match (self.role, msg) {
            (Role::Master, Message::Control { kind, value, .. }) => match kind {
                ControlKind::BulkRequest => {
                    self.counters.bulk_requests_received += 1;
                    self.master.start_bulk();
                }
                ControlKind::Ack => {
                    self.counters.acks_received += 1;
                    self.counters.acked_seq = value;
                    self.master.acknowledge(value);
                }
                ControlKind::BulkDone => self.counters.ignored_for_role += 1,
            },
            (
                Role::Backup,
                Message::Control {
                    kind: ControlKind::BulkDone,
                    value,
                    ..
                },
            ) => {
                if self.backup.bulk_done(value) {
                    self.counters.bulks_completed += 1;
                }
            }
            (Role::Backup, Message::Entries { seq, entries, .. }) => {
                self.backup_receive(now, seq, entries, table);
            }
            _ => self.counters.ignored_for_role += 1,
        }
        Ok(())
    }

    /// The next payload to send, written into `buf` (at least [`wire::CONTROL_LEN`] bytes, and
    /// 48 for a master; the message takes at most `max_payload`). Call until `None`.
    pub fn poll_transmit<T: SyncTable + ?Sized>(
        &mut self,
        now: Instant,
        table: &T,
        buf: &mut [u8],
    ) -> Option<usize> {
        assert!(buf.len() >= CONTROL_LEN, "sync buffer too short");
        let limit = buf.len().min(self.config.max_payload);
        let buf = &mut buf[..limit];
        match self.role {
            Role::Idle => None,
            Role::Master => self.master_transmit(now, table, buf),
            Role::Backup => self.backup_transmit(now, buf),
        }
    }

    /// When to call [`SyncNode::poll_transmit`] next (possibly already past).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.role {
            Role::Idle => None,
            Role::Master => self.master.poll_timeout(&self.config, self.per_msg),
            Role::Backup => self.backup.poll_timeout(),
        }
    }

    /// Age of the oldest message sent and not yet acknowledged (zero when all are).
    pub fn lag(&self, now: Instant) -> Duration {
        Duration::from_micros(self.master.oldest_unacked().map_or(0, |at| micros(at, now)))
    }

    /// The counters, with `lag_ms` as of `now`.
    pub fn counters(&self, now: Instant) -> SyncCounters {
        SyncCounters {
            lag_ms: self.lag(now).total_millis(),
            ..self.counters
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }
}

/// Microseconds from `from` to `to`, zero if `to` is earlier.
fn micros(from: Instant, to: Instant) -> u64 {
    (to.total_micros() - from.total_micros()).max(0) as u64
}

/// `now` as the data plane's millisecond clock.
fn now_ms(now: Instant) -> u64 {
    now.total_millis().max(0) as u64
}

#[cfg(test)]
mod tests;
