//! ldirectord's side of tapvs: its configuration file (`ldirectord.cf`) read into what a
//! scenario means by it.

pub mod cf;
pub mod render;

#[cfg(test)]
mod tests;
