//! ldirectord's ipvsadm calls against a running director on the in-memory LAN: a weight set
//! to 0 (`quiescent`) or a server deleted shows as a `Weight` event and takes the server out
//! of scheduling; a listing changes nothing and says nothing.

use super::*;
use crate::ipvsadm::request::{IpvsReply, IpvsRequest};
use crate::node::event::DirectorEvent;

/// One director as `tapvs ipvsadm` reaches it, at the LAN's current time.
struct AtNow<'a>(&'a mut Lan, usize);

impl crate::ipvsadm::Director for AtNow<'_> {
    fn ask(&mut self, request: &IpvsRequest) -> Result<IpvsReply, String> {
        let json = serde_json::to_string(request).map_err(|e| e.to_string())?;
        let now = self.0.now;
        let reply = self.0.directors[self.1].ipvs(now, &json);
        serde_json::from_str(&reply).map_err(|e| e.to_string())
    }
}

fn ipvsadm(lan: &mut Lan, d: usize, line: &str) -> crate::ipvsadm::Outcome {
    let args: Vec<String> = line.split_whitespace().map(String::from).collect();
    let names = crate::ipvsadm::names::PortNames::parse("");
    let out = crate::ipvsadm::run(&args, &mut AtNow(lan, d), &names, &mut std::io::empty());
    assert_eq!(out.code, 0, "ipvsadm {line}: {}", out.stderr);
    lan.run_until(lan.now + Duration::from_millis(1));
    out
}

fn weights(lan: &Lan, from: Instant) -> Vec<(String, u32)> {
    lan.events_of(D1)
        .filter(|(at, _)| *at >= from)
        .filter_map(|(_, e)| match e {
            DirectorEvent::Weight { server, weight } => Some((server.clone(), *weight)),
            _ => None,
        })
        .collect()
}

#[test]
fn ldirectords_calls_change_weights_and_say_so() {
    let mut lan = lan("");
    lan.run_until(ms(2_000));
    let start = lan.now;
    let listing = ipvsadm(&mut lan, D1, "-L -n");
    assert!(
        listing.stdout.contains("198.18.0.12:80"),
        "{}",
        listing.stdout
    );
    assert!(weights(&lan, start).is_empty(), "a listing changes nothing");

    let quiesced = lan.now;
    ipvsadm(
        &mut lan,
        D1,
        "-e -t 198.18.0.100:80 -r 198.18.0.12:80 -g -w 0",
    );
    assert_eq!(weights(&lan, quiesced), [("rs2".to_string(), 0)]);
    open(&mut lan, 0..30);
    lan.run_until(lan.now + Duration::from_millis(200));
    let used: Vec<usize> = (0..30).map(|i| server_of(&lan, conn(i))).collect();
    assert!(
        !used.contains(&1),
        "rs2 at weight 0 takes no new connection: {used:?}"
    );

    let restored = lan.now;
    ipvsadm(
        &mut lan,
        D1,
        "-e -t 198.18.0.100:80 -x 0 -y 0 -r 198.18.0.12:80 -g -w 1",
    );
    assert_eq!(weights(&lan, restored), [("rs2".to_string(), 1)]);

    let deleted = lan.now;
    ipvsadm(&mut lan, D1, "-d -t 198.18.0.100:80 -r 198.18.0.13:80");
    ipvsadm(
        &mut lan,
        D1,
        "-e -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 1",
    );
    assert_eq!(
        weights(&lan, deleted),
        [("rs3".to_string(), 0)],
        "a deletion is weight 0; setting the weight a server has is no change"
    );
}
