//! The control plane: pure state machines that decide which director serves (VRRP), and later
//! connection sync and health hysteresis.
//!
//! Sans-IO like the data plane: inputs are `start`/`handle_*(now, ..)`/`handle_timeout(now)`,
//! outputs are `poll_transmit`, `poll_event` and `poll_timeout`. Nothing here reads a clock,
//! does I/O or imports tokio, and it must not import `dataplane`: the embedding layer turns
//! events into data-plane actions (activate, gratuitous ARP).

pub mod heartbeat;
pub mod vrrp;
