//! The only code that makes syscalls for frames and memory: the port interface, the TAP
//! drivers under it and the pcap writer around them, and the huge-page hint for large tables.

pub mod hugepages;
pub mod pcap;
pub mod port;
pub mod tap;
pub mod vnet;
