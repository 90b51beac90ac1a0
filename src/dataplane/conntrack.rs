//! The connection table: IPVS-style entries keyed by (protocol, client addr:port, VIP:port),
//! stored in a slab reserved up front and indexed by a [`FlowIndex`] of slot numbers, so
//! lookups, inserts and the incremental expiry sweep never allocate.

use super::flow_hash::FlowHasherBuilder;
use super::flow_index::FlowIndex;
use super::tcp_state::ConnState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::Ipv4Addr;

/// What identifies a connection, as IPVS hashes it on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnKey {
    pub protocol: u8,
    pub client: Ipv4Addr,
    pub client_port: u16,
    pub vip: Ipv4Addr,
    pub vport: u16,
}

impl Hash for ConnKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let hi = (u32::from(self.client) as u64) << 32 | u32::from(self.vip) as u64;
        let lo = (self.client_port as u64) << 32 | (self.vport as u64) << 8 | self.protocol as u64;
        state.write_u64(hi);
        state.write_u64(lo);
    }
}

impl ConnKey {
    /// A key no flow has (protocol 0, every address and port 0): a placeholder.
    pub const NONE: ConnKey = ConnKey {
        protocol: 0,
        client: Ipv4Addr::UNSPECIFIED,
        client_port: 0,
        vip: Ipv4Addr::UNSPECIFIED,
        vport: 0,
    };
}

/// Entry flags.
pub mod flags {
    /// A persistence template (IPVS `IP_VS_CONN_F_TEMPLATE`): client network → real server.
    pub const TEMPLATE: u8 = 1;
    /// A masqueraded (NAT) connection: also indexed by its reply tuple.
    pub const NAT: u8 = 2;
}

/// One connection (or persistence template).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conn {
    pub key: ConnKey,
    /// Absolute expiry time, milliseconds on the data plane's clock.
    pub expires_ms: u64,
    /// For a connection: slab index of its persistence template, or [`NO_LINK`].
    /// For a template: the number of connections it controls.
    pub link: u32,
    /// Index of the virtual service.
    pub service: u16,
    /// Index of the real server within the service.
    pub server: u16,
    pub state: ConnState,
    pub flags: u8,
}

/// `Conn::link` of a connection without template.
pub const NO_LINK: u32 = u32::MAX;

impl Conn {
    pub fn is_template(&self) -> bool {
        self.flags & flags::TEMPLATE != 0
    }
}

/// The table is at capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

/// Connection table with a fixed capacity.
pub struct ConnTable {
    slots: Vec<Option<Conn>>,
    /// Slots by their entry's key.
    index: FlowIndex,
    /// NAT connections by their reply tuple: (protocol, server addr:port, client addr:port)
    /// stored as a `ConnKey` whose `client` fields hold the server and `vip` fields the client.
    replies: FlowIndex,
    /// Per slot, the reply tuple it was last indexed under in `replies`.
    reply_keys: Vec<ConnKey>,
    hasher: FlowHasherBuilder,
    free: Vec<u32>,
    capacity: usize,
    cursor: usize,
}

impl ConnTable {
    /// Reserves room for `capacity` entries (and as many reply tuples when `nat`); `seed` keys
    /// the hash.
    pub fn with_capacity(capacity: usize, seed: u64, nat: bool) -> Self {
        let replies = if nat { capacity } else { 0 };
        ConnTable {
            slots: Vec::with_capacity(capacity),
            index: FlowIndex::with_capacity(capacity),
            replies: FlowIndex::with_capacity(replies),
            reply_keys: Vec::with_capacity(replies),
            hasher: FlowHasherBuilder::new(seed),
            free: Vec::with_capacity(capacity),
            capacity,
            cursor: 0,
        }
    }

    /// Number of entries (connections and templates).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The hash of a key, for [`ConnTable::find_hashed`] and [`ConnTable::insert_hashed`]: a
    /// packet's lookup and the insert that may follow hash its key once.
    #[inline]
    pub fn hash(&self, key: &ConnKey) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The slab index of an entry.
    #[inline]
    pub fn find(&self, key: &ConnKey) -> Option<u32> {
        self.find_hashed(key, self.hash(key))
    }

    /// The slab index of an entry whose key hashes to `hash` ([`ConnTable::hash`]).
    #[inline]
    pub fn find_hashed(&self, key: &ConnKey, hash: u64) -> Option<u32> {
        let slots = &self.slots;
        (self.index).get(hash, |s| slot_key(slots, s) == Some(key))
    }

    /// Starts loading slot `i` (any index), to be read soon.
    #[inline]
    pub fn prefetch_slot(&self, i: usize) {
        if let Some(slot) = self.slots.get(i) {
            super::prefetch::prefetch(slot);
        }
    }

    /// Starts loading the index bucket where the key hashing to `hash` lives (or would).
    #[inline]
    pub fn prefetch_index(&self, hash: u64) {
        self.index.prefetch(hash);
    }

    /// The entry at a slab index. Panics on an empty slot (a caller bug, never input-driven).
    #[inline]
    pub fn get(&self, idx: u32) -> &Conn {
        self.slots[idx as usize].as_ref().expect("live slot")
    }

    #[inline]
    pub fn get_mut(&mut self, idx: u32) -> &mut Conn {
        self.slots[idx as usize].as_mut().expect("live slot")
    }

    /// Inserts an entry whose key is not in the table.
    pub fn insert(&mut self, conn: Conn) -> Result<u32, TableFull> {
        self.insert_hashed(conn, self.hash(&conn.key))
    }

    /// Inserts an entry whose key is not in the table and hashes to `hash`
    /// ([`ConnTable::hash`]).
    pub fn insert_hashed(&mut self, conn: Conn, hash: u64) -> Result<u32, TableFull> {
        debug_assert_eq!(hash, self.hash(&conn.key), "the hash of the entry's key");
        let idx = if let Some(idx) = self.free.pop() {
            self.slots[idx as usize] = Some(conn);
            idx
        } else if self.slots.len() < self.capacity {
            self.slots.push(Some(conn));
            (self.slots.len() - 1) as u32
        } else {
            return Err(TableFull);
        };
        self.index.insert(hash, idx);
        Ok(idx)
    }

    /// Whether NAT reply tuples are kept (some service masquerades).
    #[inline]
    /// The most entries the table holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn has_replies(&self) -> bool {
        self.replies.is_reserved()
    }

    /// Indexes a NAT connection by its reply tuple (a tuple already indexed now leads to
    /// `idx`).
    pub fn insert_reply(&mut self, reply: ConnKey, idx: u32) {
        let i = idx as usize;
        if i >= self.reply_keys.capacity() {
            return;
        }
        if self.reply_keys.len() <= i {
            self.reply_keys.resize(i + 1, ConnKey::NONE);
        }
        let hash = self.hasher.hash_one(reply);
        let keys = &self.reply_keys;
        let is_reply = |s: u32| keys.get(s as usize) == Some(&reply);
        if !self.replies.replace(hash, is_reply, idx) {
            self.replies.insert(hash, idx);
        }
        self.reply_keys[i] = reply;
    }

    /// The slab index of the NAT connection a reply belongs to.
    #[inline]
    pub fn find_reply(&self, reply: &ConnKey) -> Option<u32> {
        let keys = &self.reply_keys;
        (self.replies).get(self.hasher.hash_one(reply), |s| {
            keys.get(s as usize) == Some(reply)
        })
    }

    /// Forgets a reply tuple (when its connection goes).
    pub fn remove_reply(&mut self, reply: &ConnKey) {
        let (keys, hasher) = (&self.reply_keys, &self.hasher);
        (self.replies).remove(
            hasher.hash_one(reply),
            |s| keys.get(s as usize) == Some(reply),
            |s| hasher.hash_one(keys[s as usize]),
        );
    }

    /// Removes the entry at a slab index and returns it.
    pub fn remove(&mut self, idx: u32) -> Conn {
        let (slots, hasher) = (&self.slots, &self.hasher);
        // The key is hashed where it lies (a copy of the whole entry read back at once stalls).
        let key = slot_key(slots, idx).expect("live slot");
        (self.index).remove(
            hasher.hash_one(key),
            |s| s == idx,
            |s| hasher.hash_one(slot_key(slots, s).expect("indexed slot")),
        );
        self.free.push(idx);
        self.slots[idx as usize].take().expect("live slot")
    }

    /// Advances the sweep cursor slot by slot, spending `budget`, and returns the index of the
    /// first expired entry found, leaving the cursor just after it. `None` when the budget ran
    /// out without finding one. Half-open entries are compared with `half_open_now_ms`
    /// (later than `now_ms` while the flood defence shortens their timeout).
    pub fn next_expired(
        &mut self,
        now_ms: u64,
        half_open_now_ms: u64,
        budget: &mut usize,
    ) -> Option<u32> {
        let n = self.slots.len();
        while *budget > 0 && n > 0 {
            *budget -= 1;
            if self.cursor >= n {
                self.cursor = 0;
            }
            let idx = self.cursor;
            self.cursor += 1;
            if let Some(conn) = &self.slots[idx]
                && conn.expires_ms
                    <= if conn.state.is_half_open() {
                        half_open_now_ms
                    } else {
                        now_ms
                    }
            {
                return Some(idx as u32);
            }
        }
        None
    }

    /// The entry in slot `i`, if the slot is live (any index: sync walks and stale indices).
    #[inline]
    pub fn slot(&self, i: usize) -> Option<&Conn> {
        self.slots.get(i)?.as_ref()
    }

    /// Slots ever used (the sweep's range).
    pub fn slots_used(&self) -> usize {
        self.slots.len()
    }

    /// Iterates over live entries (for snapshots and tests, not the packet path).
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Conn)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|c| (i as u32, c)))
    }
}

/// The key of the entry in slot `s`, if the slot is live.
#[inline]
fn slot_key(slots: &[Option<Conn>], s: u32) -> Option<&ConnKey> {
    slots.get(s as usize)?.as_ref().map(|c| &c.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(port: u16, expires_ms: u64) -> Conn {
        Conn {
            key: ConnKey {
                protocol: 6,
                client: Ipv4Addr::new(198, 19, 0, 1),
                client_port: port,
                vip: Ipv4Addr::new(198, 18, 0, 100),
                vport: 80,
            },
            expires_ms,
            link: NO_LINK,
            service: 0,
            server: 0,
            state: ConnState::SynRecv,
            flags: 0,
        }
    }

    #[test]
    fn insert_find_remove_reuse_slot() {
        let mut t = ConnTable::with_capacity(2, 7, false);
        let a = t.insert(conn(1, 10)).unwrap();
        let b = t.insert(conn(2, 10)).unwrap();
        assert_eq!(t.insert(conn(3, 10)), Err(TableFull));
        assert_eq!(t.find(&conn(2, 0).key), Some(b));
        assert_eq!(t.remove(a).key.client_port, 1);
        assert_eq!(t.find(&conn(1, 0).key), None);
        let c = t.insert(conn(3, 10)).unwrap();
        assert_eq!(c, a, "freed slot is reused");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn sweep_finds_each_expired_entry_once_per_pass() {
        let mut t = ConnTable::with_capacity(8, 1, false);
        for p in 0..8 {
            t.insert(conn(p, if p % 2 == 0 { 5 } else { 50 })).unwrap();
        }
        let mut expired = Vec::new();
        let mut budget = 3;
        while let Some(idx) = t.next_expired(10, 10, &mut budget) {
            expired.push(t.remove(idx).key.client_port);
        }
        assert_eq!(budget, 0);
        assert_eq!(
            expired,
            vec![0, 2],
            "three slots visited, two expired among them"
        );
        let mut budget = 100;
        while let Some(idx) = t.next_expired(10, 10, &mut budget) {
            expired.push(t.remove(idx).key.client_port);
        }
        expired.sort();
        assert_eq!(expired, vec![0, 2, 4, 6]);
        assert_eq!(t.len(), 4);
    }
}
