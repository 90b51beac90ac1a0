//! A hint to the CPU to start loading a cache line that will be read soon (a table slot or
//! bucket drawn at random, so a miss). Changes nothing a program can observe; a no-op where
//! there is no such instruction.

/// Starts loading the cache line holding `*p` into every cache level.
#[inline(always)]
pub fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing the program sees; `p` is a valid
    // reference anyway.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((p as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
