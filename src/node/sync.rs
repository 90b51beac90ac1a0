//! Connection sync wired to the director: a [`SyncNode`] that follows the VRRP role, fed with
//! the data plane's changed entries, its datagrams framed by hand for the outside port
//! (224.0.0.81:8848 from the director's own address) and the peer's datagrams taken from the
//! frames the data plane passes up (only from the VRRP peers when the director lists them).

use super::event::SyncReport;
use super::outbox::{Outbox, SLOT_LEN};
use super::settings::SyncSection;
use crate::dataplane::{Dataplane, Iface};
use crate::sync::node::{SyncConfig, SyncCounters, SyncNode};
use crate::wire::sync_frame::{self, OVERHEAD};
use smoltcp::time::{Duration, Instant};
use std::net::Ipv4Addr;

/// The director's sync node.
pub struct Sync {
    node: SyncNode,
    own: Ipv4Addr,
    /// Longest sync message.
    max_payload: usize,
    /// Turns at sending that found the outbox full (what was due waits in the node).
    tx_errors: u64,
    /// Acks seen so far and when the last new one came.
    acks: u64,
    last_ack: Option<Instant>,
    /// Worst lag while a backup was acknowledging (a master alone has no one to ack).
    max_lag_ms: u64,
    /// The directors whose datagrams are taken (the VRRP peers); empty: anyone's.
    peers: Vec<Ipv4Addr>,
    /// Datagrams from anyone else, dropped: a spoofed table cannot be installed.
    not_peer: u64,
}

impl Sync {
    /// A sync node taking datagrams only from `peers` (the VRRP peers; empty: from anyone).
    pub fn new(
        section: &SyncSection,
        peers: &[Ipv4Addr],
        dp: &mut Dataplane,
    ) -> anyhow::Result<Sync> {
        let config = SyncConfig {
            syncid: section.syncid,
            refresh_period: (section.refresh_s > 0).then(|| Duration::from_secs(section.refresh_s)),
            ..SyncConfig::default()
        };
        if OVERHEAD + config.max_payload > SLOT_LEN {
            anyhow::bail!(
                "sync: a datagram of {} bytes does not fit a frame",
                config.max_payload
            );
        }
        let max_payload = config.max_payload;
        let node = SyncNode::new(config)?;
        dp.enable_sync();
        Ok(Sync {
            node,
            own: dp.addr(),
            max_payload,
            tx_errors: 0,
            acks: 0,
            last_ack: None,
            max_lag_ms: 0,
            peers: peers.to_vec(),
            not_peer: 0,
        })
    }

    /// Follows the VRRP role (master sends, backup receives and asks for the table).
    pub fn set_master(&mut self, now: Instant, master: bool) {
        self.node.set_master(now, master);
    }

    /// Takes a frame the data plane passed up if it is a peer's sync datagram.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8], dp: &mut Dataplane) -> bool {
        if !sync_frame::is_sync(frame) {
            return false;
        }
        if let Some((src, payload)) = sync_frame::parse_frame(frame, self.own) {
            if !self.peers.is_empty() && !self.peers.contains(&src) {
                self.not_peer += 1;
                return true;
            }
            // Malformed messages are counted by the node.
            let _ = self.node.handle_message(now, payload, dp);
        }
        true
    }

    /// Queues the data plane's changes and sends what is due.
    pub fn poll(&mut self, now: Instant, dp: &mut Dataplane, out: &mut Outbox) {
        let now_ms = now.total_millis().max(0) as u64;
        while let Some(entry) = dp.poll_sync_change(now_ms) {
            self.node.note_change(now, entry);
        }
        let (mac, own, max_payload) = (dp.mac(), self.own, self.max_payload);
        loop {
            let mut sent = false;
            let queued = out.push_with(Iface::OUTSIDE, |frame| {
                let len =
                    self.node
                        .poll_transmit(now, dp, &mut frame[OVERHEAD..][..max_payload])?;
                sent = true;
                Some(sync_frame::emit_frame(frame, mac, own, len))
            });
            if !queued {
                // The outbox is full: the datagram waits in the node for the next poll.
                self.tx_errors += 1;
                break;
            }
            if !sent {
                break;
            }
        }
        let c = self.node.counters(now);
        if c.acks_received != self.acks {
            self.acks = c.acks_received;
            self.last_ack = Some(now);
        }
        if self
            .last_ack
            .is_some_and(|at| now - at < Duration::from_secs(1))
        {
            self.max_lag_ms = self.max_lag_ms.max(c.lag_ms);
        }
    }

    /// The counters and the worst lag while acknowledged.
    pub fn report(&self, now: Instant) -> SyncReport {
        SyncReport {
            counters: self.counters(now),
            max_lag_ms: self.max_lag_ms,
            tx_errors: self.tx_errors,
            not_peer: self.not_peer,
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.node.poll_timeout()
    }

    pub fn counters(&self, now: Instant) -> SyncCounters {
        self.node.counters(now)
    }

    /// Datagrams dropped because their sender is not a peer.
    pub fn not_peer(&self) -> u64 {
        self.not_peer
    }
}

#[cfg(test)]
mod tests;
