//! A fake connection table: a slab with reused slots and expiry, like the data plane's.
//! Every entry is syncable; `install` and `put` set expiry = now + timeout.

use super::super::*;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// What identifies a connection (or template) in the table.
type Key = (u8, bool, Ipv4Addr, u16, Ipv4Addr, u16);

fn key(e: &SyncEntry) -> Key {
    (
        e.protocol,
        e.template,
        e.client,
        e.client_port,
        e.vip,
        e.vport,
    )
}

#[derive(Debug, Default)]
pub struct FakeTable {
    slots: Vec<Option<(SyncEntry, u64)>>,
    free: Vec<usize>,
    index: HashMap<Key, usize>,
    /// `install` refuses entries for other VIPs (NoService) when set.
    pub vips: Option<Vec<Ipv4Addr>>,
    /// `install` refuses new entries beyond this many (TableFull) when set.
    pub capacity: Option<usize>,
}

impl FakeTable {
    /// Creates or updates `entry`, living `timeout_s` from `now_ms`.
    pub fn put(&mut self, now_ms: u64, entry: SyncEntry) {
        let slot = Some((entry, now_ms + u64::from(entry.timeout_s) * 1000));
        match self.index.get(&key(&entry)) {
            Some(&i) => self.slots[i] = slot,
            None => {
                let i = match self.free.pop() {
                    Some(i) => {
                        self.slots[i] = slot;
                        i
                    }
                    None => {
                        self.slots.push(slot);
                        self.slots.len() - 1
                    }
                };
                self.index.insert(key(&entry), i);
            }
        }
    }

    /// Removes every entry whose expiry is at or before `now_ms`.
    pub fn expire(&mut self, now_ms: u64) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.is_some_and(|(_, at)| at <= now_ms) {
                let (entry, _) = slot.take().unwrap();
                self.index.remove(&key(&entry));
                self.free.push(i);
            }
        }
    }

    /// The entry with `like`'s key.
    pub fn get(&self, like: &SyncEntry) -> Option<SyncEntry> {
        let i = *self.index.get(&key(like))?;
        self.slots[i].map(|(e, _)| e)
    }

    pub fn contains(&self, like: &SyncEntry) -> bool {
        self.get(like).is_some()
    }

    /// Every entry, in a stable order (for comparing tables).
    pub fn entries(&self) -> Vec<SyncEntry> {
        let mut all: Vec<_> = self.slots.iter().flatten().map(|&(e, _)| e).collect();
        all.sort_by_key(key);
        all
    }

    pub fn clear(&mut self) {
        *self = FakeTable {
            vips: self.vips.take(),
            capacity: self.capacity,
            ..FakeTable::default()
        };
    }
}

impl SyncTable for FakeTable {
    fn next_entry(&self, cursor: &mut usize, _now_ms: u64) -> Option<SyncEntry> {
        while *cursor < self.slots.len() {
            let slot = self.slots[*cursor];
            *cursor += 1;
            if let Some((entry, _)) = slot {
                return Some(entry);
            }
        }
        None
    }

    fn install(&mut self, now_ms: u64, entry: &SyncEntry) -> Result<(), InstallError> {
        if self
            .vips
            .as_ref()
            .is_some_and(|vips| !vips.contains(&entry.vip))
        {
            return Err(InstallError::NoService);
        }
        let new = !self.index.contains_key(&key(entry));
        if new && self.capacity.is_some_and(|cap| self.index.len() >= cap) {
            return Err(InstallError::TableFull);
        }
        self.put(now_ms, *entry);
        Ok(())
    }

    fn len(&self) -> usize {
        self.index.len()
    }
}
