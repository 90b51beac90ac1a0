//! Two nodes on a hand-moved clock, every message through the wire form (both digests).

use super::*;

const KEY: &[u8] = b"lab secret";

fn config(node: &str, peer: &str, primary: bool, auto_failback: bool) -> HeartbeatConfig {
    HeartbeatConfig {
        node: node.into(),
        peer: peer.into(),
        primary,
        keepalive: Duration::from_millis(200),
        deadtime: Duration::from_millis(1000),
        warntime: Duration::from_millis(500),
        initdead: Duration::from_millis(2000),
        auto_failback,
        auth: Auth::sha1(1, KEY),
        generation: 1_800_000_000,
        clock_s: 1_800_000_000,
    }
}

struct Pair {
    nodes: [HeartbeatNode; 2],
    up: [bool; 2],
    now: Instant,
    events: [Vec<(Instant, HbEvent)>; 2],
    /// Datagrams delivered from node i.
    wire: [Vec<Vec<u8>>; 2],
}

impl Pair {
    fn new(auto_failback: bool) -> Pair {
        let now = Instant::from_millis(0);
        let mut p = Pair {
            nodes: [
                HeartbeatNode::new(config("d1", "d2", true, auto_failback), now),
                HeartbeatNode::new(config("d2", "d1", false, auto_failback), now),
            ],
            up: [true, true],
            now,
            events: [Vec::new(), Vec::new()],
            wire: [Vec::new(), Vec::new()],
        };
        p.nodes[0].start(now);
        p.nodes[1].start(now);
        p
    }

    fn run(&mut self, ms: i64) {
        let end = self.now + Duration::from_millis(ms as u64);
        while self.now < end {
            self.now += Duration::from_millis(10);
            for i in 0..2 {
                if !self.up[i] {
                    continue;
                }
                self.nodes[i].handle_timeout(self.now);
                let mut buf = [0u8; 1500];
                while let Some(n) = self.nodes[i].poll_transmit(self.now, &mut buf) {
                    self.wire[i].push(buf[..n].to_vec());
                    if self.up[1 - i] {
                        self.nodes[1 - i].handle_datagram(self.now, &buf[..n]);
                    }
                }
                for j in 0..2 {
                    while let Some(e) = self.nodes[j].poll_event() {
                        self.events[j].push((self.now, e));
                    }
                }
            }
        }
    }

    fn holders(&self) -> [bool; 2] {
        [self.nodes[0].holding(), self.nodes[1].holding()]
    }

    /// A crash: the node stops, a new one (next generation) starts later with `restart`.
    fn kill(&mut self, i: usize) {
        self.up[i] = false;
    }

    fn restart(&mut self, i: usize, auto_failback: bool) {
        let (node, peer) = if i == 0 { ("d1", "d2") } else { ("d2", "d1") };
        let mut c = config(node, peer, i == 0, auto_failback);
        c.generation += 100;
        c.clock_s += 100;
        self.nodes[i] = HeartbeatNode::new(c, self.now);
        self.nodes[i].start(self.now);
        self.up[i] = true;
    }

    fn first(&self, i: usize, event: HbEvent, after: Instant) -> Option<Instant> {
        self.events[i]
            .iter()
            .find(|(t, e)| *e == event && *t >= after)
            .map(|(t, _)| *t)
    }
}

#[test]
fn the_primary_holds_the_group_once_both_are_up() {
    let mut p = Pair::new(true);
    p.run(1000);
    assert_eq!(p.holders(), [true, false]);
    assert!(p.nodes[0].peer_alive() && p.nodes[1].peer_alive());
    // Long before initdead: the hand-shake, not a timeout, decided.
    assert!(p.first(0, HbEvent::Acquired, Instant::ZERO).unwrap() < Instant::from_millis(200));
    // Keepalives: about one per 200 ms each, nothing refused.
    p.run(2000);
    let c = p.nodes[1].counters();
    assert!(c.received >= 14, "{c:?}");
    assert_eq!((c.bad_auth, c.malformed, c.stale, c.gaps), (0, 0, 0, 0));
    assert_eq!(p.holders(), [true, false]);
}

#[test]
fn the_survivor_takes_the_group_within_deadtime() {
    let mut p = Pair::new(true);
    p.run(1000);
    let killed = p.now;
    p.kill(0);
    p.run(1500);
    assert!(p.holders()[1]);
    let took = p.first(1, HbEvent::Acquired, killed).unwrap() - killed;
    // Dead 1000 ms after the last keepalive heard, which is at most 10 ms before the kill.
    assert!(took <= Duration::from_millis(1000), "{took}");
    assert!(took >= Duration::from_millis(790), "{took}");
    assert!(p.first(1, HbEvent::LateHeartbeat, killed).unwrap() < killed + took);
    assert!(p.first(1, HbEvent::PeerDead, killed).is_some());
}

#[test]
fn the_primary_takes_the_group_back_with_auto_failback() {
    let mut p = Pair::new(true);
    p.run(1000);
    p.kill(0);
    p.run(1500);
    assert!(p.nodes[1].holding());
    let back = p.now;
    p.restart(0, true);
    p.run(1000);
    assert_eq!(p.holders(), [true, false]);
    // Released before the other acquired: never both.
    let released = p.first(1, HbEvent::Released, back).unwrap();
    let acquired = p.first(0, HbEvent::Acquired, back).unwrap();
    assert!(released <= acquired);
    assert!(acquired - back < Duration::from_millis(500));
}

#[test]
fn without_auto_failback_the_holder_keeps_it() {
    let mut p = Pair::new(false);
    p.run(1000);
    p.kill(0);
    p.run(1500);
    p.restart(0, false);
    p.run(3000);
    assert_eq!(p.holders(), [false, true]);
    // And the backup's death gives it back.
    p.kill(1);
    p.run(1500);
    assert!(p.holders()[0]);
}

#[test]
fn alone_a_node_takes_the_group_after_initdead() {
    let mut p = Pair::new(true);
    p.kill(0);
    p.run(1900);
    assert_eq!(p.holders(), [false, false]);
    p.run(200);
    assert_eq!(p.holders(), [false, true]);
}

#[test]
fn another_key_is_refused_and_counted() {
    let now = Instant::from_millis(0);
    let mut a = HeartbeatNode::new(config("d1", "d2", true, true), now);
    let mut c = config("d2", "d1", false, true);
    c.auth = Auth::sha1(1, b"wrong");
    let mut b = HeartbeatNode::new(c, now);
    a.start(now);
    b.start(now);
    let mut buf = [0u8; 1500];
    let n = b.poll_transmit(now, &mut buf).unwrap();
    a.handle_datagram(now, &buf[..n]);
    assert_eq!(a.counters().bad_auth, 1);
    assert!(!a.peer_alive());
    a.handle_datagram(now, b"garbage");
    assert_eq!(a.counters().malformed, 1);
}

#[test]
fn a_replayed_message_is_stale_and_a_clean_stop_hands_over_at_once() {
    let mut p = Pair::new(true);
    p.run(1000);
    let old = p.wire[0][0].clone();
    let before = p.nodes[1].counters().stale;
    p.nodes[1].handle_datagram(p.now, &old);
    assert_eq!(p.nodes[1].counters().stale, before + 1);
    // A clean stop: st=dead, the peer takes over without waiting for deadtime.
    let stop = p.now;
    p.nodes[0].shutdown(p.now);
    assert!(!p.nodes[0].holding());
    p.run(50);
    assert_eq!(p.holders(), [false, true]);
    assert!(p.first(1, HbEvent::Acquired, stop).unwrap() - stop < Duration::from_millis(50));
}

fn count(wire: &[Vec<u8>], what: &[u8]) -> usize {
    wire.iter()
        .filter(|m| m.windows(what.len()).any(|w| w == what))
        .count()
}

/// A real heartbeat ignores a `starting` that came before its own; while we wait for its
/// `resource`, its `starting` is answered with ours again, once per start of the peer.
#[test]
fn a_crossing_starting_is_sent_again_once() {
    let mut p = Pair::new(true);
    p.run(1000);
    // Started together, each got the other's `starting` while waiting: each sent its twice.
    assert_eq!(count(&p.wire[0], b"(0)t=starting,"), 2);
    assert_eq!(count(&p.wire[1], b"(0)t=starting,"), 2);
    p.run(2000);
    assert_eq!(count(&p.wire[0], b"(0)t=starting,"), 2);
    assert_eq!(count(&p.wire[1], b"(0)t=starting,"), 2);
}
