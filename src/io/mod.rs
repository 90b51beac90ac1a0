//! The only code that makes syscalls for frames and memory: the port interface, the TAP
//! drivers under it, the wrappers that stack on a port (the pcap writer, the fault injector),
//! and the huge-page hint for large tables.

pub mod hugepages;
pub mod impair;
pub mod netns;
pub mod pcap;
pub mod port;
pub mod tap;
#[cfg(test)]
pub mod test_netns;
pub mod uring;
pub mod vnet;
