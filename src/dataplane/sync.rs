//! Connection sync seen from the data plane: which entries are worth syncing (as IPVS: templates
//! and UDP always, TCP once established — never half-open), the bounded queue of entries that
//! changed, exporting entries as [`SyncEntry`] and installing received ones bound to this
//! director's own configured real servers.

use super::Dataplane;
use super::conntrack::{Conn, ConnKey, NO_LINK, flags};
use super::settings::{Forwarding, Protocol};
use super::tcp_state::ConnState;
use crate::sync::entry::{SyncEntry, SyncForwarding};
use crate::sync::node::{InstallError, SyncTable};

/// Changed entries queued for sync at most (preallocated); more are dropped and counted (the
/// refresh walk sends them later).
pub(super) const SYNC_QUEUE: usize = 8192;

const TCP: u8 = 6;
const UDP: u8 = 17;

/// Whether IPVS would sync an entry in this state.
fn syncable(conn: &Conn) -> bool {
    use ConnState::*;
    conn.is_template()
        || matches!(
            conn.state,
            Udp | Established | FinWait | TimeWait | Close | CloseWait
        )
}

impl Dataplane {
    /// Notes that entry `idx` was created or changed state; called on the packet path (no
    /// allocation: the queue is reserved up front).
    #[inline]
    pub(super) fn note_sync(&mut self, idx: u32) {
        if !self.sync_enabled {
            return;
        }
        if self.sync_changes.len() < SYNC_QUEUE {
            self.sync_changes.push_back(idx);
        } else {
            self.counters.sync_changes_dropped += 1;
        }
    }

    /// Turns the change queue on (a director with connection sync).
    pub fn enable_sync(&mut self) {
        self.sync_enabled = true;
    }

    /// The next changed entry worth syncing, as it is now.
    pub fn poll_sync_change(&mut self, now_ms: u64) -> Option<SyncEntry> {
        while let Some(idx) = self.sync_changes.pop_front() {
            if let Some(conn) = self.conns.slot(idx as usize)
                && syncable(conn)
            {
                return Some(self.export(conn, now_ms));
            }
        }
        None
    }

    /// An entry as sync carries it; its timeout is the time it has left here, rounded up.
    fn export(&self, conn: &Conn, now_ms: u64) -> SyncEntry {
        let svc = &self.services[conn.service as usize];
        let view = &svc.views[conn.server as usize];
        SyncEntry {
            protocol: conn.key.protocol,
            template: conn.is_template(),
            forwarding: match svc.forwarding {
                Forwarding::Dr => SyncForwarding::DirectRouting,
                Forwarding::Nat => SyncForwarding::Nat,
            },
            inactive: !conn.state.is_active(),
            state: conn.state.ipvs_number(),
            client: conn.key.client,
            client_port: conn.key.client_port,
            vip: conn.key.vip,
            vport: conn.key.vport,
            server: view.addr,
            server_port: view.port,
            timeout_s: conn.expires_ms.saturating_sub(now_ms).div_ceil(1000).max(1) as u32,
        }
    }
}

impl SyncTable for Dataplane {
    fn next_entry(&self, cursor: &mut usize, now_ms: u64) -> Option<SyncEntry> {
        while *cursor < self.conns.slots_used() {
            let i = *cursor;
            *cursor += 1;
            if let Some(conn) = self.conns.slot(i)
                && syncable(conn)
                && conn.expires_ms > now_ms
            {
                return Some(self.export(conn, now_ms));
            }
        }
        None
    }

    fn install(&mut self, now_ms: u64, e: &SyncEntry) -> Result<(), InstallError> {
        let protocol = match e.protocol {
            TCP => Protocol::Tcp,
            UDP => Protocol::Udp,
            _ => return Err(InstallError::Unsupported),
        };
        let service = self
            .services
            .iter()
            .position(|s| s.vip == e.vip && s.port == e.vport && s.protocol == protocol)
            .ok_or(InstallError::NoService)?;
        let svc = &self.services[service];
        let server = svc
            .views
            .iter()
            .position(|v| v.addr == e.server && v.port == e.server_port)
            .ok_or(InstallError::NoServer)?;
        let nat = svc.forwarding == Forwarding::Nat;
        if nat != (e.forwarding == SyncForwarding::Nat) {
            return Err(InstallError::Unsupported);
        }
        let state = match e.protocol {
            UDP => ConnState::Udp,
            _ => ConnState::from_ipvs_tcp(e.state).ok_or(InstallError::Unsupported)?,
        };
        let expires_ms = now_ms + u64::from(e.timeout_s) * 1000;
        let key = ConnKey {
            protocol: e.protocol,
            client: e.client,
            client_port: e.client_port,
            vip: e.vip,
            vport: e.vport,
        };
        let hash = self.conns.hash(&key);
        if let Some(idx) = self.conns.find_hashed(&key, hash) {
            let conn = *self.conns.get(idx);
            if conn.server as usize != server || conn.is_template() != e.template {
                // Bound elsewhere here: the master's word wins, as a new entry.
                self.expire(idx, now_ms);
                if self.conns.find_hashed(&key, hash).is_some() {
                    // A template that still controls connections stays.
                    return Err(InstallError::Unsupported);
                }
            } else {
                let c = self.conns.get_mut(idx);
                c.state = state;
                self.defense
                    .track(key.client, Some(conn.state), Some(state));
                c.expires_ms = c.expires_ms.max(expires_ms);
                if !conn.is_template() && conn.state.is_active() != state.is_active() {
                    let svc = &mut self.services[service];
                    svc.count_conn(server, conn.state.is_active(), -1);
                    svc.count_conn(server, state.is_active(), 1);
                }
                return Ok(());
            }
        }
        let mut entry_flags = 0;
        if e.template {
            entry_flags |= flags::TEMPLATE;
        } else if nat {
            entry_flags |= flags::NAT;
        }
        let conn = Conn {
            key,
            expires_ms,
            link: if e.template { 0 } else { NO_LINK },
            service: service as u16,
            server: server as u16,
            state,
            flags: entry_flags,
        };
        let idx = self
            .insert(now_ms, conn, hash)
            .map_err(|_| InstallError::TableFull)?;
        self.defense.track(key.client, None, Some(state));
        if e.template {
            return Ok(());
        }
        if nat {
            let reply = self.reply_key(&conn);
            self.conns.insert_reply(reply, idx);
        }
        self.services[service].count_conn(server, state.is_active(), 1);
        // The real server must be reachable at once on takeover: resolve it now.
        let nb = self.services[service].servers[server].neighbour;
        if self.neighbours.mac(nb).is_none() {
            self.neighbours.solicit(nb, now_ms);
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.conns.len()
    }
}
