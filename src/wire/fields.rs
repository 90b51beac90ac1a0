//! Big-endian fields read at an offset of a buffer the caller has checked is long enough (the
//! sync messages, the emulator's segment rewrites). Panics past the end.

/// The 16-bit big-endian field at `at`.
pub fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The 32-bit big-endian field at `at`.
pub fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
