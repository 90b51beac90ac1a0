//! The SYN cookie of Linux (`net/ipv4/syncookies.c`, `net.ipv4.tcp_syncookies = 1`), as a
//! pure function of the 4-tuple, the client's ISN, a secret and the time: the ISN a server
//! sends in a SYN-ACK when its listen queue is full, from which the client's ACK (ack - 1)
//! gives back the MSS it asked for, without the server keeping any state.
//!
//! `cookie = H0(tuple) + client_isn + (count << 24) + ((H1(tuple, count) + mss_index) mod 2^24)`
//! with `count` the minute the SYN came in (`tcp_cookie_time`): a cookie is valid in its
//! minute and the next (`MAX_SYNCOOKIE_AGE`). Linux's hash is SipHash with a boot-time secret;
//! here it is the flow hasher ([`crate::dataplane::flow_hash`]) seeded with the server's
//! secret. With TCP timestamps (on in every simulated host, [`super::acks::like_linux`]) the
//! options the cookie cannot hold ride in the low 6 bits of the SYN-ACK's TSval, which the
//! client echoes (`cookie_init_timestamp`, `cookie_timestamp_decode`): the client's window
//! scale (15: none) and SACK; ECN is not modelled.

use super::conns::Key;
use crate::dataplane::flow_hash::FlowHasherBuilder;
use smoltcp::time::Instant;
use std::hash::BuildHasher;

/// The MSS values a cookie can say (`msstab` in `syncookies.c`).
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];
const COOKIE_BITS: u32 = 24;
const COOKIE_MASK: u32 = (1 << COOKIE_BITS) - 1;
/// A cookie is valid in the minute it was made and the next.
const MAX_AGE: u32 = 2;
/// TSval bits that carry options: the window scale (4 bits), SACK (1), ECN (1).
const TS_OPT_BITS: u32 = 0x3f;
const TS_NO_WSCALE: u32 = 0xf;
const TS_SACK: u32 = 1 << 4;

/// What a valid cookie ACK gives back of the client's SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieSyn {
    pub mss: u16,
    /// The client's window scale, when the SYN offered one (and timestamps carried it).
    pub window_scale: Option<u8>,
    pub sack: bool,
}

/// The cookie maker of one server: its secret.
#[derive(Debug, Clone, Copy)]
pub struct CookieJar {
    hasher: FlowHasherBuilder,
}

/// The minute counter of `tcp_cookie_time`.
fn minute(now: Instant) -> u32 {
    // Wraps as Linux's 32-bit counter does; only differences are used.
    (now.total_millis() / 60_000) as u32
}

impl CookieJar {
    pub fn new(secret: u64) -> Self {
        CookieJar {
            hasher: FlowHasherBuilder::new(secret),
        }
    }

    fn hash(&self, key: Key, count: u32, which: u8) -> u32 {
        // The low half of the 64-bit hash.
        self.hasher.hash_one((key, count, which)) as u32
    }

    /// The ISN to answer a SYN of `key` (the server's view: local, then remote) whose
    /// sequence number is `client_isn` and whose MSS option is `mss` (536 without one).
    pub fn make(&self, now: Instant, key: Key, client_isn: u32, mss: u16) -> u32 {
        let count = minute(now);
        let index = MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0) as u32;
        self.hash(key, 0, 0)
            .wrapping_add(client_isn)
            .wrapping_add(count << COOKIE_BITS)
            .wrapping_add(self.hash(key, count, 1).wrapping_add(index) & COOKIE_MASK)
    }

    /// The MSS a cookie of `key` says, if it is one of this server's and not too old.
    pub fn check(&self, now: Instant, key: Key, client_isn: u32, cookie: u32) -> Option<u16> {
        let rest = cookie.wrapping_sub(self.hash(key, 0, 0).wrapping_add(client_isn));
        let count = minute(now);
        let age = count.wrapping_sub(rest >> COOKIE_BITS) & (u32::MAX >> COOKIE_BITS);
        if age >= MAX_AGE {
            return None;
        }
        let made = count.wrapping_sub(age);
        let index = rest.wrapping_sub(self.hash(key, made, 1)) & COOKIE_MASK;
        MSS_TABLE.get(index as usize).copied()
    }
}

/// The SYN-ACK's TSval: `now_ts` with the client's window scale and SACK in its low bits,
/// never later than `now_ts`.
pub fn timestamp(now_ts: u32, window_scale: Option<u8>, sack: bool) -> u32 {
    let mut options = window_scale.map_or(TS_NO_WSCALE, |s| u32::from(s) & TS_NO_WSCALE);
    if sack {
        options |= TS_SACK;
    }
    let ts = (now_ts & !TS_OPT_BITS) | options;
    if ts > now_ts {
        ts.wrapping_sub(TS_OPT_BITS + 1)
    } else {
        ts
    }
}

/// What a cookie connection keeps of the SYN: from the echoed TSval, else nothing but the MSS.
pub fn options(mss: u16, tsecr: Option<u32>) -> CookieSyn {
    let Some(ts) = tsecr else {
        return CookieSyn {
            mss,
            window_scale: None,
            sack: false,
        };
    };
    let scale = ts & TS_NO_WSCALE;
    CookieSyn {
        mss,
        window_scale: (scale != TS_NO_WSCALE).then_some(scale as u8),
        sack: ts & TS_SACK != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::time::Duration;
    use smoltcp::wire::Ipv4Address;

    const KEY: Key = (
        Ipv4Address::new(198, 18, 0, 100),
        80,
        Ipv4Address::new(198, 19, 0, 7),
        40000,
    );

    #[test]
    fn a_cookie_gives_back_its_mss_for_two_minutes_only() {
        let jar = CookieJar::new(9);
        let t0 = Instant::from_secs(59);
        let cookie = jar.make(t0, KEY, 1234, 1460);
        assert_eq!(jar.check(t0, KEY, 1234, cookie), Some(1460));
        // Made in minute 0: valid in minute 1 (119 s), not in minute 2 (120 s).
        let at = |s| t0 + Duration::from_secs(s);
        assert_eq!(jar.check(at(60), KEY, 1234, cookie), Some(1460));
        assert_eq!(jar.check(at(61), KEY, 1234, cookie), None);
        // Another tuple, ISN or secret: not a cookie of this one.
        let other = (KEY.0, KEY.1, KEY.2, 40001);
        assert_eq!(jar.check(t0, other, 1234, cookie), None);
        // (As Linux's, an ISN off by less than 4 reads as another MSS index.)
        assert_eq!(jar.check(t0, KEY, 2234, cookie), None);
        assert_eq!(CookieJar::new(10).check(t0, KEY, 1234, cookie), None);
        // An MSS between the table's values is rounded down.
        let cookie = jar.make(t0, KEY, 1, 1400);
        assert_eq!(jar.check(t0, KEY, 1, cookie), Some(1300));
    }

    #[test]
    fn timestamps_carry_window_scale_and_sack() {
        let ts = timestamp(1000, Some(7), true);
        assert!(ts <= 1000);
        let syn = options(536, Some(ts));
        assert_eq!((syn.window_scale, syn.sack), (Some(7), true));
        let syn = options(536, Some(timestamp(1000, None, false)));
        assert_eq!((syn.window_scale, syn.sack), (None, false));
        assert_eq!(options(536, None).window_scale, None);
    }
}
