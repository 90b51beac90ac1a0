//! The only code that makes syscalls for frames and memory: the port interface and the TAP
//! drivers under it, and the huge-page hint for large tables.

pub mod hugepages;
pub mod port;
pub mod tap;
pub mod vnet;
