//! The injector under a hand-moved clock, over a fake port that records what it was sent.

use super::*;

/// A port that records every frame sent to it with the time, and never has frames to read.
#[derive(Default)]
struct Recorder {
    sent: Vec<(u64, Vec<u8>)>,
}

impl Port for Recorder {
    fn name(&self) -> &str {
        "fake"
    }
    fn recv(&mut self, _: Instant, _: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>> {
        Ok(None)
    }
    fn send(&mut self, now: Instant, _: &VnetHeader, frame: &[u8]) -> io::Result<bool> {
        self.sent.push((micros(now), frame.to_vec()));
        Ok(true)
    }
    fn raw_fd(&self) -> Option<RawFd> {
        None
    }
}

/// An Ethernet + IPv4 frame of `len` bytes with protocol `proto`; UDP gets destination
/// `port`. Bytes 42.. carry `id` (to follow frames through).
fn frame(proto: u8, port: u16, id: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len.max(50)];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    let total = (f.len() - 14) as u16;
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f[22] = 64;
    f[23] = proto;
    f[36..38].copy_from_slice(&port.to_be_bytes());
    let udp_len = (f.len() - 34) as u16;
    f[38..40].copy_from_slice(&udp_len.to_be_bytes());
    f[42..46].copy_from_slice(&id.to_be_bytes());
    f
}

fn id(f: &[u8]) -> u32 {
    u32::from_be_bytes([f[42], f[43], f[44], f[45]])
}

fn at(us: u64) -> Instant {
    Instant::from_micros(us as i64)
}

fn impair(settings: Settings, seed: u64) -> Impair<Recorder> {
    Impair::new(Recorder::default(), settings, seed, PoolSize::default()).unwrap()
}

/// Sends `n` UDP frames, one every `gap_us` from 0, polling at every due time between sends;
/// then drains what is held. Returns the recorder's (time, id) list.
fn drive(port: &mut Impair<Recorder>, n: u32, gap_us: u64, len: usize) -> Vec<(u64, u32)> {
    let mut now = 0;
    for i in 0..n {
        let next = u64::from(i) * gap_us;
        while let Some(due) = port.poll_at().map(micros).filter(|&d| d <= next) {
            now = due.max(now);
            port.poll(at(now)).unwrap();
        }
        now = next;
        port.send(at(now), &VnetHeader::NONE, &frame(17, 9, i, len))
            .unwrap();
    }
    while let Some(due) = port.poll_at().map(micros) {
        now = due.max(now);
        port.poll(at(now)).unwrap();
    }
    port.inner().sent.iter().map(|(t, f)| (*t, id(f))).collect()
}

#[test]
fn loss_is_near_its_ratio_and_the_same_for_a_seed() {
    let s = Settings {
        loss_pct: 20.0,
        ..Settings::default()
    };
    let mut a = impair(s, 7);
    let got_a = drive(&mut a, 10_000, 100, 100);
    let c = a.counters();
    // Binomial(10,000, 0.2): sd 40, so ±200 is 5 sd.
    assert!((1800..=2200).contains(&c.dropped_loss), "{c:?}");
    assert_eq!(c.passed + c.dropped_loss, 10_000);
    assert_eq!(got_a.len() as u64, c.passed);
    let mut b = impair(s, 7);
    assert_eq!(
        drive(&mut b, 10_000, 100, 100),
        got_a,
        "same seed, same frames"
    );
    let mut other = impair(s, 8);
    assert_ne!(drive(&mut other, 10_000, 100, 100), got_a, "another seed");
}

#[test]
fn delay_is_exact_and_measured() {
    let s = Settings {
        delay_us: 50_000,
        ..Settings::default()
    };
    let mut p = impair(s, 1);
    let got = drive(&mut p, 100, 1_000, 100);
    assert_eq!(got.len(), 100);
    for (i, (t, frame)) in got.iter().enumerate() {
        assert_eq!(*frame, i as u32);
        assert_eq!(*t, i as u64 * 1_000 + 50_000);
    }
    let c = p.counters();
    assert_eq!((c.delayed, c.delay_max_us), (100, 50_000));
    assert_eq!(c.mean_delay_ms(), 50.0);
}

#[test]
fn jitter_stays_in_its_range_and_keeps_order_unless_reordering_is_asked() {
    let s = Settings {
        delay_us: 20_000,
        jitter_us: 10_000,
        ..Settings::default()
    };
    let mut p = impair(s, 3);
    let got = drive(&mut p, 2_000, 1_000, 100);
    assert_eq!(got.len(), 2_000);
    for (i, (t, frame)) in got.iter().enumerate() {
        assert_eq!(*frame, i as u32, "in order");
        let d = t - u64::from(*frame) * 1_000;
        assert!((10_000..=30_000).contains(&d), "delay {d}");
    }
    // Frames 20 ms apart never wait for the one ahead: the draws spread over the whole range.
    let mut spread = impair(s, 3);
    let got = drive(&mut spread, 500, 20_000, 100);
    let delays: Vec<u64> = got
        .iter()
        .map(|(t, f)| t - u64::from(*f) * 20_000)
        .collect();
    assert!(delays.iter().all(|d| (10_000..=30_000).contains(d)));
    assert!(delays.iter().any(|&d| d < 11_000) && delays.iter().any(|&d| d > 29_000));
    let mean = delays.iter().sum::<u64>() as f64 / delays.len() as f64;
    assert!((19_000.0..21_000.0).contains(&mean), "{mean}");
    assert_eq!(p.counters().reordered, 0);

    let mut r = impair(
        Settings {
            reorder_pct: 1.0,
            ..s
        },
        3,
    );
    let got = drive(&mut r, 2_000, 1_000, 100);
    let out_of_order = got.windows(2).filter(|w| w[1].1 < w[0].1).count();
    assert!(out_of_order > 100, "{out_of_order}");
    assert!(r.counters().reordered > 100);
}

#[test]
fn the_rate_limit_holds_and_its_queue_is_bounded() {
    // 1 Mbit/s; 1000-byte frames offered at 4 Mbit/s for 2 s.
    let s = Settings {
        rate_bytes_per_s: 125_000,
        queue_bytes: 20_000,
        ..Settings::default()
    };
    let mut p = impair(s, 1);
    let got = drive(&mut p, 1_000, 2_000, 1_000);
    let c = *p.counters();
    // Sent over about 2 s + the queue (20 kB = 0.16 s) at 125 frames/s, plus the burst.
    let sent = got.len() as u64;
    assert!((250..=300).contains(&sent), "{sent} {c:?}");
    assert_eq!(c.dropped_queue + sent, 1_000);
    // Never faster than the rate over any second past the burst.
    let first_second = got
        .iter()
        .filter(|(t, _)| (500_000..1_500_000).contains(t))
        .count();
    assert!((120..=130).contains(&first_second), "{first_second}");
    // The queue bounds the wait: 20 kB at 125 kB/s = 160 ms.
    assert!(c.delay_max_us <= 170_000, "{c:?}");
}

#[test]
fn the_filter_picks_the_frames() {
    let vrrp = Settings {
        loss_pct: 100.0,
        filter: Filter::Vrrp,
        ..Settings::default()
    };
    let mut p = impair(vrrp, 1);
    for (i, (proto, port)) in [(112, 0), (17, 8848), (6, 80), (112, 0)]
        .into_iter()
        .enumerate()
    {
        p.send(at(0), &VnetHeader::NONE, &frame(proto, port, i as u32, 60))
            .unwrap();
    }
    let ids: Vec<u32> = p.inner().sent.iter().map(|(_, f)| id(f)).collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!((p.counters().matched, p.counters().dropped_loss), (2, 2));

    let sync = Settings {
        filter: Filter::Sync,
        ..vrrp
    };
    let mut p = impair(sync, 1);
    for (i, (proto, port)) in [(17, 8848), (17, 53), (112, 0), (6, 8848)]
        .into_iter()
        .enumerate()
    {
        p.send(at(0), &VnetHeader::NONE, &frame(proto, port, i as u32, 60))
            .unwrap();
    }
    let ids: Vec<u32> = p.inner().sent.iter().map(|(_, f)| id(f)).collect();
    assert_eq!(ids, [1, 2, 3]);
    // Too short to be IPv4: only Filter::All touches it.
    assert!(!Filter::Vrrp.matches(&[0u8; 20]) && Filter::All.matches(&[0u8; 20]));
}

#[test]
fn duplicates_are_counted_and_sent() {
    let s = Settings {
        duplicate_pct: 10.0,
        ..Settings::default()
    };
    let mut p = impair(s, 5);
    let got = drive(&mut p, 10_000, 100, 100);
    let c = p.counters();
    assert!((800..=1200).contains(&c.duplicated), "{c:?}");
    assert_eq!(got.len() as u64, 10_000 + c.duplicated);
}

#[test]
fn settings_change_at_run_time_and_a_full_pool_drops() {
    let mut p = Impair::new(
        Recorder::default(),
        Settings {
            delay_us: 10_000,
            ..Settings::default()
        },
        1,
        PoolSize {
            slots: 4,
            slot_len: 128,
        },
    )
    .unwrap();
    for i in 0..6 {
        p.send(at(0), &VnetHeader::NONE, &frame(17, 9, i, 60))
            .unwrap();
    }
    assert_eq!((p.held(), p.counters().dropped_queue), (4, 2));
    p.poll(at(10_000)).unwrap();
    p.send(at(20_000), &VnetHeader::NONE, &frame(17, 9, 7, 60))
        .unwrap();
    // Repaired: a new frame still leaves after the one held, in order.
    p.set_settings(Settings::default()).unwrap();
    p.send(at(21_000), &VnetHeader::NONE, &frame(17, 9, 8, 60))
        .unwrap();
    assert_eq!(p.inner().sent.len(), 4);
    p.poll(at(30_000)).unwrap();
    let ids: Vec<u32> = p.inner().sent.iter().map(|(_, f)| id(f)).collect();
    assert_eq!(ids, [0, 1, 2, 3, 7, 8]);
    p.send(at(40_000), &VnetHeader::NONE, &frame(17, 9, 9, 60))
        .unwrap();
    assert_eq!(p.inner().sent.last().map(|(t, _)| *t), Some(40_000));
    assert!(
        p.set_settings(Settings {
            loss_pct: 101.0,
            ..Settings::default()
        })
        .is_err()
    );
}
