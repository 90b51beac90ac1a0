//! Interface counters of a lab link, read from `ip -s -j link show` (JSON).

use serde_json::Value;

/// Counters of one interface, as the kernel reports them (`stats64`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
}

impl LinkStats {
    /// What was counted between `before` and these counters (0 where a counter went back).
    pub fn since(&self, before: &LinkStats) -> LinkStats {
        LinkStats {
            rx_bytes: self.rx_bytes.saturating_sub(before.rx_bytes),
            rx_packets: self.rx_packets.saturating_sub(before.rx_packets),
            rx_dropped: self.rx_dropped.saturating_sub(before.rx_dropped),
            tx_bytes: self.tx_bytes.saturating_sub(before.tx_bytes),
            tx_packets: self.tx_packets.saturating_sub(before.tx_packets),
            tx_dropped: self.tx_dropped.saturating_sub(before.tx_dropped),
        }
    }

    /// Parses the output of `ip -s -j link show dev IF`: a one-element array whose element holds
    /// `stats64.rx` and `stats64.tx` (or `stats` on old iproute2).
    pub(crate) fn from_ip_json(json: &str) -> Result<LinkStats, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
        let link = value
            .as_array()
            .and_then(|links| links.first())
            .ok_or("expected a non-empty JSON array")?;
        let stats = link
            .get("stats64")
            .or_else(|| link.get("stats"))
            .ok_or("no stats64 object (was -s given?)")?;
        let counter = |direction: &str, name: &str| {
            stats[direction][name]
                .as_u64()
                .ok_or_else(|| format!("no counter {direction}.{name}"))
        };
        Ok(LinkStats {
            rx_bytes: counter("rx", "bytes")?,
            rx_packets: counter("rx", "packets")?,
            rx_dropped: counter("rx", "dropped")?,
            tx_bytes: counter("tx", "bytes")?,
            tx_packets: counter("tx", "packets")?,
            tx_dropped: counter("tx", "dropped")?,
        })
    }
}
