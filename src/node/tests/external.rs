//! Failover set from outside (`[failover] mode = "external"`, Heartbeat's resource agent) on
//! the in-memory LAN: no VRRP, the role changes only when told, the new master announces the
//! VIP at once, and sync follows the role so connections survive the hand-over.

use super::*;
use crate::control::vrrp::State;
use crate::node::event::{DirectorEvent, VrrpState};

const EXTERNAL: &str = "[failover]\nmode = \"external\"\npeers = [\"{peer}\"]\n";

fn external_lan() -> Lan {
    lan_of(|d| {
        let section = EXTERNAL.replace("{peer}", &director_ip(1 - d).to_string());
        settings_with(d, "", &section)
    })
}

fn became(state: VrrpState) -> impl Fn(&DirectorEvent) -> bool {
    move |e| *e == DirectorEvent::Role { state }
}

#[test]
fn the_role_set_from_outside_moves_the_vip_and_synced_connections_survive() {
    let mut lan = external_lan();
    lan.run_until(ms(2_000));
    assert_eq!(lan.directors[D1].vrrp_state(), Some(State::Init));
    assert!(
        lan.events
            .iter()
            .all(|(_, _, e)| *e != DirectorEvent::GratuitousArp),
        "nobody takes the VIP by itself"
    );
    let now = lan.now;
    lan.directors[D1].set_role(now, true).unwrap();
    lan.directors[D2].set_role(now, false).unwrap();
    lan.run_until(now + Duration::from_millis(100));
    assert_eq!(
        lan.first_event(D1, now, |e| *e == DirectorEvent::GratuitousArp),
        Some(now),
        "d1 announces the VIP when told"
    );
    assert!(
        lan.first_event(D2, now, became(VrrpState::Backup))
            .is_some()
    );
    open(&mut lan, 0..60);
    lan.run_until(lan.now + Duration::from_millis(500));
    let before: Vec<usize> = (0..60).map(|i| server_of(&lan, conn(i))).collect();

    lan.crash(D1);
    lan.run_until(lan.now + Duration::from_secs(3));
    assert_eq!(
        lan.directors[D2].vrrp_state(),
        Some(State::Backup),
        "without VRRP nothing takes over until told"
    );
    let told = lan.now;
    lan.directors[D2].set_role(told, true).unwrap();
    lan.run_until(told);
    assert_eq!(
        lan.first_event(D2, told, |e| *e == DirectorEvent::GratuitousArp),
        Some(told)
    );
    assert_eq!(
        lan.first_event(D2, told, became(VrrpState::Master)),
        Some(told)
    );
    let after = lan.now;
    for i in 0..60 {
        send(&mut lan, conn(i), 2);
    }
    lan.run_until(after + Duration::from_millis(1));
    for (i, s) in before.iter().enumerate() {
        assert_eq!(landed(&lan, conn(i), after), [*s], "connection {i} moved");
    }
}
