//! The only code that makes syscalls for frames and memory: the port interface and the TAP
//! drivers under it, the fault injector that wraps a port, and the huge-page hint for large
//! tables.

pub mod hugepages;
pub mod impair;
pub mod port;
pub mod tap;
pub mod vnet;
