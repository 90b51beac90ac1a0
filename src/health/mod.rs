//! Health checks of real servers (ldirectord / keepalived checkers), sans-IO: when each server
//! is checked ([`monitor::Monitor`]), the up/down hysteresis, and what a state change does to
//! the service table ([`policy`]). The checks themselves run from the director's host stack
//! (`director::host::check`); the scheduler only ever sees the resulting weights.

pub mod config;
pub mod monitor;
pub mod policy;

#[cfg(test)]
mod tests;
