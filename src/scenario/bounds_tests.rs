//! Each engine's lab bounds: the namespace lab refuses what only the emulator takes, naming
//! the field and saying so; the emulator's loads get disjoint address blocks of 198.19.0.0/16
//! that equal the namespace lab's wherever both engines take the file.

use super::bounds::{EMULATED, NETNS, client_addresses, client_base};
use super::*;
use crate::run::EngineKind;
use std::collections::HashSet;

/// `servers` real servers and `loads` loads of `clients` addresses and `workers` workers each.
fn scenario(servers: usize, vip: &str, loads: &[(u32, u32)]) -> Result<Scenario, ScenarioError> {
    let mut text = format!("[service]\nscheduler = \"rr\"\nvip = \"{vip}\"\n");
    for i in 1..=servers {
        text += &format!("[[real_server]]\nname = \"rs{i}\"\n");
    }
    for (k, (clients, workers)) in loads.iter().enumerate() {
        text += &format!(
            "[[load]]\nname = \"l{k}\"\nmode = \"closed\"\nclients = {clients}\n\
             concurrency = {workers}\n\
             duration = \"1s\"\n"
        );
    }
    Scenario::parse(Path::new("big.toml"), &text)
}

fn refusal(s: &Scenario, engine: EngineKind) -> String {
    let e = s.check_engine(Path::new("big.toml"), engine).unwrap_err();
    e.to_string()
}

#[test]
fn the_namespace_lab_refuses_what_only_the_emulator_takes() {
    let s = scenario(100, "198.18.0.200", &[(6250, 12_500); 8]).unwrap();
    s.check_engine(Path::new("big.toml"), EngineKind::Emulated)
        .unwrap();
    let e = refusal(&s, EngineKind::Netns);
    assert!(
        e.starts_with(
            "big.toml: field `real_server`: 100 real servers: the netns engine takes at most 50 ("
        ) && e.ends_with("the emulated engine takes up to 100 real servers (`--engine emulated`)"),
        "{e}"
    );
    let s = scenario(50, "198.18.0.100", &[(4096, 10_000), (4097, 10)]).unwrap();
    let e = refusal(&s, EngineKind::Netns);
    assert!(
        e.contains("field `load[1].clients`: 4097 client addresses"),
        "{e}"
    );
    assert!(
        e.contains("the emulated engine takes up to 65535 per load"),
        "{e}"
    );
    let s = scenario(50, "198.18.0.100", &[(4096, 10_001)]).unwrap();
    let e = refusal(&s, EngineKind::Netns);
    assert!(
        e.contains("field `load[0].concurrency`: 10001 workers"),
        "{e}"
    );
    // At the namespace lab's bounds both engines take it.
    let s = scenario(NETNS.real_servers, "198.18.0.100", &[(4096, 10_000); 8]).unwrap();
    for engine in [EngineKind::Netns, EngineKind::Emulated] {
        s.check_engine(Path::new("big.toml"), engine).unwrap();
    }
}

#[test]
fn the_emulator_has_bounds_too() {
    let field = |r: Result<Scenario, ScenarioError>| match r {
        Err(ScenarioError::Invalid { field, reason, .. }) => format!("{field}: {reason}"),
        other => panic!("{:?}", other.map(|s| s.name)),
    };
    let e = field(scenario(101, "198.18.0.200", &[(1, 1)]));
    assert!(e.starts_with("real_server: 101 real servers: the emulated engine takes at most 100"));
    let e = field(scenario(
        2,
        "198.18.0.200",
        &[(1, EMULATED.concurrency + 1)],
    ));
    assert!(e.starts_with("load[0].concurrency: 50001 workers"), "{e}");
    // 8 loads of 8193 addresses need 3 blocks each: 24 of the 16 there are.
    let e = field(scenario(2, "198.18.0.200", &[(8193, 1); 8]));
    assert!(e.starts_with("load: 65544 client addresses in all"), "{e}");
    // A VIP on a real server's address.
    let e = field(scenario(100, "198.18.0.100", &[(1, 1)]));
    assert_eq!(
        e,
        "service.vip: 198.18.0.100 is real server `rs90`'s address (real servers take \
         198.18.0.11 onwards, one each)"
    );
}

#[test]
fn loads_within_the_namespace_bounds_keep_their_addresses() {
    let ranges = client_addresses([4096, 1, 300, 4096, 4096, 7, 4096, 4096]).unwrap();
    for (k, (first, _)) in ranges.iter().enumerate() {
        assert_eq!(*first, client_base(k));
    }
}

#[test]
fn the_scale_scenario_s_addresses_never_collide() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/emu-scale.toml");
    let s = Scenario::load(&path).unwrap();
    let ranges = s.client_addresses().unwrap();
    let total: u64 = ranges.iter().map(|&(_, n)| u64::from(n)).sum();
    assert!(total >= 50_000, "{total}");
    let span = |&(first, n): &(Ipv4Addr, u32)| (u32::from(first), u32::from(first) + n - 1);
    let lab = (
        u32::from(Ipv4Addr::new(198, 18, 0, 0)),
        u32::from(Ipv4Addr::new(198, 19, 255, 255)),
    );
    let mut spans: Vec<(u32, u32)> = ranges.iter().map(span).collect();
    for &(a, b) in &spans {
        assert!(
            lab.0 <= a && b <= lab.1,
            "{a:x}-{b:x} outside 198.18.0.0/15"
        );
    }
    spans.sort_unstable();
    for w in spans.windows(2) {
        assert!(w[0].1 < w[1].0, "{w:x?} overlap");
    }
    // Every other host of the lab: servers, directors, VIP, and the router and the loads' own
    // hosts where `run::emulated::build` places them.
    let mut hosts: Vec<Ipv4Addr> = (0..s.real_servers.len())
        .map(|i| s.server_address(i))
        .collect();
    hosts.extend((1..=2).map(crate::run::director_config::director_address));
    hosts.extend([
        s.service.vip,
        Ipv4Addr::new(198, 18, 0, 1),
        Ipv4Addr::new(198, 18, 3, 1),
    ]);
    hosts.extend((0..s.loads.len()).map(|k| Ipv4Addr::new(198, 18, 3, 2 + k as u8)));
    for h in hosts {
        let h = u32::from(h);
        assert!(
            spans.iter().all(|&(a, b)| h < a || b < h),
            "{h:x} is a client address"
        );
    }
    let servers: HashSet<Ipv4Addr> = (0..s.real_servers.len())
        .map(|i| s.server_address(i))
        .collect();
    assert_eq!(servers.len(), 100);
    assert!(!servers.contains(&s.service.vip));
}
