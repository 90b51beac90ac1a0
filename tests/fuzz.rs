//! Fuzzing in the repo, on stable Rust, as plain tests: ten million generated frames through the
//! data plane (direct routing and two-armed NAT, both interfaces, with and without offloads,
//! sync entries installed on the side), random and mutated VRRP adverts and sync messages through
//! their parsers, and mutated scenario files through the scenario parser. Nothing may panic;
//! every frame's verdict must agree with the data plane's counters, reason by reason; every
//! rejected advert or message must carry its reason.
//!
//! `TAPVS_FUZZ_FRAMES` (default 10,000,000) and `TAPVS_FUZZ_SEED` (default: fixed) change a run;
//! a failure prints the seed so that it can be replayed.

mod fuzz_support;

use fuzz_support::{FrameGen, count_from_env, seed_from_env};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smoltcp::time::Instant;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use tapvs::config::DirectorConfig;
use tapvs::dataplane::counters::DropReason;
use tapvs::dataplane::{Dataplane, Iface, Verdict};
use tapvs::sync::entry::{SyncEntry, SyncForwarding};
use tapvs::sync::node::SyncTable;
use tapvs::wire::EthernetAddress;
use tapvs::wire::vrrp::{self, AddressList, VrrpRepr};

/// What the test saw: verdicts by kind, drops by reason.
#[derive(Default)]
struct Tally {
    frames: u64,
    sent: u64,
    to_host: u64,
    consumed: u64,
    parked: u64,
    drops: [u64; DropReason::ALL.len()],
}

impl Tally {
    fn add(&mut self, v: Verdict) {
        self.frames += 1;
        match v {
            Verdict::Send(_) => self.sent += 1,
            Verdict::ToHost => self.to_host += 1,
            Verdict::Consumed => self.consumed += 1,
            Verdict::Parked => self.parked += 1,
            Verdict::Dropped(r) => self.drops[r as usize] += 1,
        }
    }

    /// The data plane's counters agree with the verdicts it gave, reason by reason (parked
    /// frames may be dropped later, as unreachable, when their neighbour never answers).
    fn check(&self, dp: &Dataplane, what: &str, seed: u64) {
        let c = dp.counters();
        let ctx = format!("{what}, seed {seed}");
        assert_eq!(c.frames_in, self.frames, "frames in ({ctx})");
        assert_eq!(c.sent_in_place, self.sent, "sent ({ctx})");
        assert_eq!(c.to_host, self.to_host, "to host ({ctx})");
        assert_eq!(c.consumed, self.consumed, "consumed ({ctx})");
        assert_eq!(c.queued, self.parked, "parked ({ctx})");
        for r in DropReason::ALL {
            let (seen, counted) = (self.drops[r as usize], c.drops_for(r));
            if r == DropReason::NeighbourUnreachable || r == DropReason::QueueFull {
                assert!(counted >= seen, "{} ({ctx})", r.name());
            } else {
                assert_eq!(counted, seen, "drops by {} ({ctx})", r.name());
            }
        }
    }
}

fn director(two_armed: bool) -> DirectorConfig {
    let inside = if two_armed {
        "[inside]\nname = \"d1i\"\nmac = \"02:74:76:00:01:02\"\naddress = \"198.18.1.2\"\n\
         prefix_len = 24\nfloating = [\"198.18.1.1\"]\n"
    } else {
        ""
    };
    let (forwarding, net) = if two_armed {
        ("nat", "198.18.1")
    } else {
        ("dr", "198.18.0")
    };
    let mut text = format!(
        "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
         prefix_len = 24\ngateway = \"198.18.0.1\"\n{inside}[limits]\nmax_connections = 50000\n"
    );
    for (port, protocol) in [(80, "tcp"), (53, "udp")] {
        text += &format!(
            "[[service]]\nvip = \"198.18.0.100\"\nport = {port}\nprotocol = \"{protocol}\"\n\
             scheduler = \"wlc\"\nforwarding = \"{forwarding}\"\n"
        );
        for i in 0..3 {
            text += &format!(
                "[[service.real_server]]\nname = \"rs{}\"\naddress = \"{net}.{}\"\nport = {port}\n",
                i + 1,
                11 + i
            );
        }
    }
    DirectorConfig::parse(Path::new("fuzz.toml"), &text).expect("fuzz director config")
}

/// Drives one data plane with `count` generated frames; returns the verdicts' tally.
fn drive(two_armed: bool, count: u64, seed: u64) -> (Dataplane, Tally) {
    let mut dp = Dataplane::new(&director(two_armed).dataplane(), seed);
    dp.set_active(Instant::from_millis(0), true);
    dp.enable_sync();
    if two_armed {
        dp.attach_host_stack();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut frames = FrameGen::new(two_armed);
    let mut tally = Tally::default();
    let mut buf = vec![0u8; 70_000];
    let mut out = [0u8; 2048];
    let mut now_ms: i64 = 0;
    for n in 0..count {
        let (iface, mut len) = frames.next(&mut rng, &mut buf);
        if rng.random_ratio(1, 3) {
            len = fuzz_support::mutate(&mut rng, &mut buf, len);
        }
        let offload = rng.random_ratio(1, 8);
        let iface = if two_armed && rng.random_ratio(1, 50) {
            Iface(rng.random_range(0..4u8)) // interfaces it does not have, too
        } else {
            iface
        };
        let now = Instant::from_millis(now_ms);
        let v = dp.handle_offloaded(now, iface, &mut buf[..len], offload);
        tally.add(v);
        if n % 64 == 0 {
            now_ms += rng.random_range(0..20);
            let now = Instant::from_millis(now_ms);
            dp.handle_timeout(now);
            while dp.poll_transmit(now, &mut out).is_some() {}
            while dp.poll_event().is_some() {}
            while dp.poll_sync_change(now_ms as u64).is_some() {}
            let _ = dp.install(now_ms as u64, &random_entry(&mut rng, two_armed));
        }
        if n % 100_000 == 99_999 {
            dp.set_active(now, rng.random_bool(0.8));
            let (service, server) = (rng.random_range(0..2), rng.random_range(0..4));
            dp.set_weight_of(service, server, rng.random_range(0..3));
            if rng.random_ratio(1, 4) {
                dp.expire_server(now, service, server);
            }
            dp.announce(now);
        }
    }
    (dp, tally)
}

fn random_entry(rng: &mut ChaCha8Rng, two_armed: bool) -> SyncEntry {
    let net = if two_armed { 1 } else { 0 };
    SyncEntry {
        protocol: *[6u8, 17, 1, 0].get(rng.random_range(0..4usize)).unwrap(),
        template: rng.random_ratio(1, 10),
        forwarding: if rng.random_bool(0.5) {
            SyncForwarding::Nat
        } else {
            SyncForwarding::DirectRouting
        },
        inactive: rng.random_bool(0.5),
        state: rng.random_range(0..12),
        client: Ipv4Addr::new(198, 19, rng.random(), rng.random()),
        client_port: rng.random(),
        vip: Ipv4Addr::new(
            198,
            18,
            0,
            *[100u8, 101].get(rng.random_range(0..2usize)).unwrap(),
        ),
        vport: *[80u16, 53, 81].get(rng.random_range(0..3usize)).unwrap(),
        server: Ipv4Addr::new(198, 18, net, rng.random_range(10..15)),
        server_port: *[80u16, 53, 8080].get(rng.random_range(0..3usize)).unwrap(),
        timeout_s: rng.random_range(0..1000),
    }
}

#[test]
fn ten_million_frames_through_every_interface_are_each_accounted_for() {
    let seed = seed_from_env();
    let total = count_from_env("TAPVS_FUZZ_FRAMES", 10_000_000);
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    let mut outcomes = [0u64; 4];
    for (k, two_armed) in [false, true].into_iter().enumerate() {
        let what = if two_armed { "two-armed NAT" } else { "DR" };
        let (dp, tally) = drive(two_armed, total / 2, seed + k as u64);
        tally.check(&dp, what, seed);
        for r in DropReason::ALL {
            *reasons.entry(r.name()).or_default() += tally.drops[r as usize];
        }
        outcomes[0] += tally.sent;
        outcomes[1] += tally.to_host;
        outcomes[2] += tally.consumed;
        outcomes[3] += tally.parked;
        assert!(
            dp.conns().len() <= 50_000,
            "the table stays within its capacity"
        );
    }
    eprintln!(
        "fuzz: {total} frames (seed {seed}): sent {}, to host {}, consumed {}, parked {}; drops {reasons:?}",
        outcomes[0], outcomes[1], outcomes[2], outcomes[3]
    );
    // The generator reaches deep: forwarding and the main refusals all happen.
    if total >= 1_000_000 {
        assert!(
            outcomes[0] > total / 20,
            "frames forwarded: {}",
            outcomes[0]
        );
        for reason in [
            "malformed",
            "bad_checksum",
            "no_connection",
            "arp_bad_opcode",
            "fragment",
        ] {
            assert!(reasons[reason] > 0, "no frame dropped as {reason}");
        }
    }
}

#[test]
fn vrrp_adverts_random_and_mutated_parse_or_say_why() {
    let seed = seed_from_env();
    let total = count_from_env("TAPVS_FUZZ_VRRP", 1_000_000);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut buf = vec![0u8; 2048];
    let mut why: BTreeMap<String, u64> = BTreeMap::new();
    let mut ok = 0u64;
    for _ in 0..total {
        let addrs: Vec<Ipv4Addr> = (0..rng.random_range(0..5u8))
            .map(|i| Ipv4Addr::new(198, 18, 0, 100 + i))
            .collect();
        let repr = VrrpRepr {
            vrid: rng.random(),
            priority: rng.random(),
            max_advert_int_cs: rng.random_range(0..4096),
            addresses: AddressList::from_slice(&addrs).expect("few addresses"),
        };
        let src = Ipv4Addr::new(198, 18, 0, rng.random_range(1..20));
        let mut len = vrrp::emit_frame(&mut buf, EthernetAddress([2, 0, 0, 0, 0, 3]), src, &repr)
            .expect("room for an advert");
        if rng.random_ratio(3, 4) {
            len = fuzz_support::mutate(&mut rng, &mut buf, len);
        }
        match vrrp::parse_frame(&buf[..len]) {
            Ok(_) => ok += 1,
            Err(e) => *why.entry(reason_name(&format!("{e:?}"))).or_default() += 1,
        }
    }
    eprintln!("fuzz: {total} VRRP frames (seed {seed}): {ok} parsed; refused {why:?}");
    assert_eq!(ok + why.values().sum::<u64>(), total);
    assert!(ok > total / 5, "unmutated adverts parse");
    assert!(
        why.len() >= 5,
        "the mutations reach several checks: {why:?}"
    );
}

#[test]
fn sync_messages_random_and_mutated_parse_or_say_why() {
    let seed = seed_from_env();
    let total = count_from_env("TAPVS_FUZZ_SYNC", 1_000_000);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut buf = vec![0u8; 1500];
    let mut why: BTreeMap<String, u64> = BTreeMap::new();
    let (mut ok, mut entries) = (0u64, 0u64);
    for _ in 0..total {
        let cap = rng.random_range(tapvs::sync::wire::CONTROL_LEN..1500);
        let mut w =
            tapvs::sync::wire::MessageWriter::new(&mut buf[..cap], rng.random(), rng.random());
        for _ in 0..rng.random_range(0..6) {
            let two_armed = rng.random_bool(0.5);
            w.push(&random_entry(&mut rng, two_armed));
        }
        let mut len = w.finish();
        if rng.random_ratio(3, 4) {
            len = fuzz_support::mutate(&mut rng, &mut buf, len).min(1500);
        }
        match tapvs::sync::wire::parse(&buf[..len]) {
            Ok(tapvs::sync::wire::Message::Entries { entries: e, .. }) => {
                ok += 1;
                entries += e.count() as u64;
            }
            Ok(_) => ok += 1,
            Err(e) => *why.entry(reason_name(&format!("{e:?}"))).or_default() += 1,
        }
    }
    eprintln!(
        "fuzz: {total} sync messages (seed {seed}): {ok} parsed ({entries} entries); refused {why:?}"
    );
    assert_eq!(ok + why.values().sum::<u64>(), total);
    assert!(ok > total / 5 && entries > 0, "unmutated messages parse");
    assert!(
        why.len() >= 4,
        "the mutations reach several checks: {why:?}"
    );
}

#[test]
fn mutated_scenario_files_load_or_name_the_file() {
    let seed = seed_from_env();
    let total = count_from_env("TAPVS_FUZZ_SCENARIOS", 20_000);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut texts: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    texts.sort();
    let (mut ok, mut refused) = (0u64, 0u64);
    for _ in 0..total {
        let (name, text) = &texts[rng.random_range(0..texts.len())];
        let mutated = fuzz_support::mutate_toml(&mut rng, text);
        let path = Path::new("fuzzed").join(name);
        match tapvs::scenario::Scenario::parse(&path, &mutated) {
            Ok(_) => ok += 1,
            Err(e) => {
                refused += 1;
                let msg = e.to_string();
                assert!(
                    msg.contains(&*path.to_string_lossy()),
                    "error without the file name: {msg}"
                );
                assert!(msg.len() < 2000, "error of {} bytes: {msg:.200}", msg.len());
            }
        }
    }
    eprintln!("fuzz: {total} mutated scenario files (seed {seed}): {ok} loaded, {refused} refused");
    assert!(ok > 0 && refused > 0);
}

/// The variant name of an error's Debug form: `Ttl(3)` → `Ttl`.
fn reason_name(debug: &str) -> String {
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}
