//! Connection-table sync, master → backup: IPVS sync version 1 on the wire ([`wire`]) with a
//! sequence number, acknowledgements, bulk transfer and refresh, driven by a sans-IO
//! [`node::SyncNode`] per director. The data plane exports and installs [`entry::SyncEntry`]s
//! through [`node::SyncTable`].

pub mod entry;
pub mod node;
pub mod wire;
