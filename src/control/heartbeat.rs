//! Heartbeat 3 (Linux-HA, classic `haresources` mode) spoken natively: the wire form of its
//! cluster messages with their sha1 authentication ([`wire`]) and a two-node state machine
//! ([`machine`]) that keeps alive, declares the peer dead and hands the resource group over
//! as a real heartbeat peer expects. Sans-IO like `vrrp`.

pub mod machine;
pub mod wire;
