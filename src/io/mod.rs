//! The only code that makes syscalls for frames: the TAP device driver.

pub mod tap;
