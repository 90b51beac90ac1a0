//! One connection as connection sync carries it: what IPVS's sync v1 entry says, in host types.
//! The data plane exports its entries as this and installs received ones from it.

use std::net::Ipv4Addr;

/// IPVS connection flags sent in a sync entry (`IP_VS_CONN_F_*`, low 16 bits).
pub mod conn_flags {
    /// Forwarding method mask; values below.
    pub const FWD_MASK: u32 = 0x0007;
    pub const MASQ: u32 = 0x0000;
    pub const DROUTE: u32 = 0x0003;
    /// Created by sync (set by the receiver, not sent).
    pub const SYNC: u32 = 0x0020;
    /// Not established (inactive).
    pub const INACTIVE: u32 = 0x0100;
    /// A persistence template.
    pub const TEMPLATE: u32 = 0x1000;
}

/// How the connection is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncForwarding {
    /// Direct routing (`IP_VS_CONN_F_DROUTE`).
    DirectRouting,
    /// Masquerading (`IP_VS_CONN_F_MASQ`).
    Nat,
}

/// A connection (or persistence template) as synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncEntry {
    /// IP protocol (6 TCP, 17 UDP).
    pub protocol: u8,
    /// A persistence template (client network → real server; `client_port` 0).
    pub template: bool,
    pub forwarding: SyncForwarding,
    /// Not established (IPVS's inactive flag).
    pub inactive: bool,
    /// IPVS state number: TCP `IP_VS_TCP_S_*` (0 NONE, 1 ESTABLISHED, 2 SYN_SENT, 3 SYN_RECV,
    /// 4 FIN_WAIT, 5 TIME_WAIT, 6 CLOSE, 7 CLOSE_WAIT, 8 LAST_ACK, 9 LISTEN, 10 SYNACK); 0 for UDP.
    pub state: u16,
    pub client: Ipv4Addr,
    pub client_port: u16,
    pub vip: Ipv4Addr,
    pub vport: u16,
    /// The real server.
    pub server: Ipv4Addr,
    pub server_port: u16,
    /// Seconds the entry lives on the receiver from now (IPVS sends the state's full timeout).
    pub timeout_s: u32,
}

impl SyncEntry {
    /// The flags word of a sync v1 entry.
    pub fn flags(&self) -> u32 {
        let fwd = match self.forwarding {
            SyncForwarding::DirectRouting => conn_flags::DROUTE,
            SyncForwarding::Nat => conn_flags::MASQ,
        };
        let template = if self.template {
            conn_flags::TEMPLATE
        } else {
            0
        };
        let inactive = if self.inactive {
            conn_flags::INACTIVE
        } else {
            0
        };
        fwd | template | inactive
    }
}
