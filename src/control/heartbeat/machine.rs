//! One heartbeat node of a two-node cluster with one resource group (the director's VIPs),
//! sans-IO: [`HeartbeatNode::start`], [`HeartbeatNode::handle_datagram`] for every UDP/694
//! payload from the peer, [`HeartbeatNode::handle_timeout`] when
//! [`HeartbeatNode::poll_timeout`] says; send what [`HeartbeatNode::poll_transmit`] writes and
//! act on [`HeartbeatNode::poll_event`] (hold the group: activate; release: deactivate).
//!
//! # What it does as heartbeat 3.0.6 does (seen in captures of two real nodes)
//! - A `status` message every `keepalive` (`st=up` until the peer is heard or `initdead`
//!   passes, then `st=active`); every message carries `src`, `srcuuid`, `seq` (one counter,
//!   gapless, per generation `hg`), `ts` (Unix seconds), `ttl=3`, and both sha1 digests.
//! - The peer is dead `deadtime` after the last message heard from it (late after
//!   `warntime`: counted, one event); with the peer never heard, `initdead` after start.
//! - Start-up hand-shake: on first hearing the peer, `starting` and `resource rsc_hold=none
//!   isstable=0`; on the peer's `resource` the node is stable and says so (`isstable=1`),
//!   taking the group first if it is the primary (haresources names it) and the peer does not
//!   hold it. A peer's `starting` is answered with our `resource ... isstable=1`, or, while
//!   we wait for its `resource`, with our `starting` again (heartbeat ignores a `starting`
//!   that came before its own: seen with a real peer, which otherwise waits for ever).
//! - Takeover: the peer dead, the node takes the group (heartbeat's `mach_down`).
//! - Fail-back (`auto_failback on`): the non-primary holding the group, once the returned
//!   primary says it is stable, asks `ask_resources info=me`; the primary answers
//!   `info=other`; the holder releases, says `resource ... info=standby` and
//!   `ask_resources info=done`; the primary then takes the group. tapvs plays both sides.
//! - `reqnodes` addressed to us is answered with `repnodes` (both node names); every tenth
//!   message of the peer is acknowledged (`NS_ackmsg`), as heartbeat's peers expect.
//!
//! # Where this differs (choices)
//! - No retransmission: a `NS_rexmit` request is counted, not served (there is no history);
//!   a gap in the peer's sequence is counted. Only strings and binary fields are taken.
//! - No `ld` (load average) field: a director has none worth sending; heartbeat does not
//!   need it.
//! - Both holding (a healed partition): the non-primary releases.
//! - A clean stop releases the group and sends `status st=dead`; a peer saying `st=dead` is
//!   dead at once.
//!
//! Must not import `dataplane`, `io` or anything that touches a clock or a socket.

use super::wire::{self, Auth, Message, Writer};
use smoltcp::time::{Duration, Instant};
use std::collections::VecDeque;

/// Hops a message may be forwarded (heartbeat's `ttl`).
const TTL: &[u8] = b"3";
/// Every this many of the peer's messages are acknowledged.
const ACK_EVERY: u64 = 10;
/// Messages waiting to be sent; more are dropped and counted.
const QUEUE: usize = 64;

/// One node's settings (ha.cf, authkeys, haresources).
#[derive(Clone)]
pub struct HeartbeatConfig {
    /// Our node name (`node` in ha.cf; heartbeat compares them in lowercase).
    pub node: String,
    /// The other node's name.
    pub peer: String,
    /// haresources names us: the group is ours when both are up.
    pub primary: bool,
    pub keepalive: Duration,
    pub deadtime: Duration,
    pub warntime: Duration,
    pub initdead: Duration,
    pub auto_failback: bool,
    pub auth: Auth,
    /// Heartbeat generation (`hg`): must grow from one start to the next (Unix seconds of the
    /// start will do), or the peer takes the new sequence numbers for old ones.
    pub generation: u64,
    /// Unix seconds at `start` (for `ts`).
    pub clock_s: u64,
}

/// What a node says it holds (`rsc_hold`), from its own side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    None,
    Local,
    Foreign,
    All,
}

impl Hold {
    fn parse(s: &str) -> Option<Hold> {
        Some(match s {
            "none" => Hold::None,
            "local" => Hold::Local,
            "foreign" => Hold::Foreign,
            "all" => Hold::All,
            _ => return None,
        })
    }

    fn name(self) -> &'static [u8] {
        match self {
            Hold::None => b"none",
            Hold::Local => b"local",
            Hold::Foreign => b"foreign",
            Hold::All => b"all",
        }
    }
}

/// What the node tells its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HbEvent {
    /// We hold the group now: activate.
    Acquired,
    /// We gave the group up: deactivate.
    Released,
    /// The peer is heard (again).
    PeerUp,
    /// The peer is dead (deadtime, initdead, or it said so).
    PeerDead,
    /// The peer was silent for `warntime`.
    LateHeartbeat,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HbCounters {
    pub sent: u64,
    pub received: u64,
    /// Not heartbeat's netstring form, or an unsupported field type.
    pub malformed: u64,
    /// Failed either digest, or another key index.
    pub bad_auth: u64,
    /// From a node that is not our peer (or from ourselves).
    pub not_peer: u64,
    /// An older generation, or a sequence number already seen.
    pub stale: u64,
    /// Sequence numbers skipped by the peer.
    pub gaps: u64,
    /// Retransmission requests (not served).
    pub rexmit_requests: u64,
    pub late_heartbeats: u64,
    /// Messages not queued: the queue was full.
    pub queue_full: u64,
    /// Messages that did not fit the caller's buffer.
    pub too_long: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Peer not heard yet and `initdead` not over.
    Starting,
    /// Peer heard, `starting` sent, waiting for its `resource`.
    Joining,
    Stable,
}

#[derive(Debug, Clone, Copy)]
enum Out {
    Status,
    Starting,
    Resource {
        hold: Hold,
        stable: bool,
        info: Option<&'static [u8]>,
    },
    Ask(&'static [u8]),
    Ack(u64),
    RepNodes,
}

#[derive(Debug, Default)]
struct PeerView {
    heard: Option<Instant>,
    alive: bool,
    warned: bool,
    generation: u64,
    last_seq: u64,
    acked: u64,
    hold: Option<Hold>,
    stable: bool,
    /// Our `starting` was sent again for this start of the peer.
    echoed: bool,
    uuid: [u8; 16],
}

/// A node.
pub struct HeartbeatNode {
    config: HeartbeatConfig,
    uuid: [u8; 16],
    started: Instant,
    phase: Phase,
    holding: bool,
    /// We asked the peer to take its group back (`ask_resources info=me`).
    giving_back: bool,
    /// The peer offered us our group (`info=me` answered with `other`).
    taking_back: bool,
    stopped: bool,
    peer: PeerView,
    next_status: Instant,
    seq: u64,
    out: VecDeque<Out>,
    events: VecDeque<HbEvent>,
    counters: HbCounters,
}

/// A node's uuid, derived from its name: the same on every start, as heartbeat keeps its own
/// in `hb_uuid`.
pub fn node_uuid(name: &str) -> [u8; 16] {
    use sha1::{Digest, Sha1};
    let digest = Sha1::new()
        .chain_update(b"tapvs heartbeat node ")
        .chain_update(name.as_bytes())
        .finalize();
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&digest[..16]);
    uuid
}

impl HeartbeatNode {
    pub fn new(config: HeartbeatConfig, now: Instant) -> HeartbeatNode {
        HeartbeatNode {
            uuid: node_uuid(&config.node),
            config,
            started: now,
            phase: Phase::Starting,
            holding: false,
            giving_back: false,
            taking_back: false,
            stopped: true,
            peer: PeerView::default(),
            next_status: now,
            seq: 0,
            out: VecDeque::with_capacity(QUEUE),
            events: VecDeque::new(),
            counters: HbCounters::default(),
        }
    }

    /// Starts sending keepalives at once.
    pub fn start(&mut self, now: Instant) {
        self.started = now;
        self.stopped = false;
        self.next_status = now;
        self.handle_timeout(now);
    }

    /// Takes one UDP/694 payload.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        if self.stopped {
            return;
        }
        let msg = match wire::parse(datagram, &self.config.auth) {
            Ok(msg) => msg,
            Err(wire::WireError::BadAuth) => return self.counters.bad_auth += 1,
            Err(_) => return self.counters.malformed += 1,
        };
        if msg.text("src") != Some(self.config.peer.as_str()) {
            return self.counters.not_peer += 1;
        }
        let Some(generation) = msg.hex("hg") else {
            return self.counters.malformed += 1;
        };
        if generation < self.peer.generation {
            return self.counters.stale += 1;
        }
        if generation > self.peer.generation {
            // A new start of the peer: its sequence begins again.
            self.peer.generation = generation;
            self.peer.last_seq = 0;
            self.peer.acked = 0;
            self.peer.hold = None;
            self.peer.stable = false;
            self.peer.echoed = false;
        }
        if let Some(seq) = msg.hex("seq") {
            if seq <= self.peer.last_seq {
                return self.counters.stale += 1;
            }
            if self.peer.last_seq != 0 && seq > self.peer.last_seq + 1 {
                self.counters.gaps += seq - self.peer.last_seq - 1;
            }
            self.peer.last_seq = seq;
            if seq >= self.peer.acked + ACK_EVERY {
                self.peer.acked = seq;
                self.queue(Out::Ack(seq));
            }
        }
        if let Some(uuid) = msg.get("srcuuid").filter(|u| u.len() == 16) {
            self.peer.uuid.copy_from_slice(uuid);
        }
        self.counters.received += 1;
        self.heard(now);
        self.dispatch(now, &msg);
    }

    fn heard(&mut self, now: Instant) {
        self.peer.heard = Some(now);
        self.peer.warned = false;
        if !self.peer.alive {
            self.peer.alive = true;
            self.events.push_back(HbEvent::PeerUp);
        }
        if self.phase == Phase::Starting {
            self.phase = Phase::Joining;
            self.queue(Out::Starting);
            self.queue(Out::Resource {
                hold: self.own_hold(),
                stable: false,
                info: None,
            });
        }
    }

    fn dispatch(&mut self, now: Instant, msg: &Message) {
        match msg.text("t").unwrap_or("") {
            "status" if msg.text("st") == Some("dead") => self.peer_dead(now),
            "starting" => {
                self.peer.hold = None;
                self.peer.stable = false;
                match self.phase {
                    Phase::Stable => self.say_stable(None),
                    // Our `starting` may have crossed its start: heartbeat answers only one
                    // that comes after its own. Once per start of the peer.
                    Phase::Joining if !self.peer.echoed => {
                        self.peer.echoed = true;
                        self.queue(Out::Starting);
                        self.queue(Out::Resource {
                            hold: self.own_hold(),
                            stable: false,
                            info: None,
                        });
                    }
                    _ => {}
                }
            }
            "resource" => {
                self.peer.hold = msg.text("rsc_hold").and_then(Hold::parse);
                self.peer.stable = msg.text("isstable") == Some("1");
                self.peer_resources();
            }
            "ask_resources" => match msg.text("info") {
                Some("me") if self.config.primary && !self.holding => {
                    self.taking_back = true;
                    self.queue(Out::Ask(b"other"));
                }
                Some("other") if self.giving_back => {
                    self.giving_back = false;
                    self.release();
                    self.queue(Out::Resource {
                        hold: self.own_hold(),
                        stable: false,
                        info: Some(b"standby"),
                    });
                    self.queue(Out::Ask(b"done"));
                }
                Some("done") if self.taking_back => {
                    self.taking_back = false;
                    self.acquire();
                    self.say_stable(None);
                    self.queue(Out::Ask(b"done"));
                }
                _ => {}
            },
            "reqnodes" if msg.text("dest") == Some(self.config.node.as_str()) => {
                self.queue(Out::RepNodes)
            }
            "NS_rexmit" => self.counters.rexmit_requests += 1,
            _ => {}
        }
    }

    /// The peer told us what it holds.
    fn peer_resources(&mut self) {
        let peer_holds = self.peer_holds_group();
        match self.phase {
            Phase::Starting => {}
            Phase::Joining => {
                self.phase = Phase::Stable;
                let take = self.config.primary && !self.holding && !peer_holds;
                if take {
                    self.acquire();
                }
                self.say_stable(take.then_some(&b"req_our_resources()"[..]));
            }
            Phase::Stable => {
                if self.holding && peer_holds && !self.config.primary {
                    // Both hold it (a partition healed): the primary keeps it.
                    self.release();
                    self.say_stable(None);
                } else if self.holding
                    && !self.config.primary
                    && self.config.auto_failback
                    && self.peer.stable
                    && !peer_holds
                    && !self.giving_back
                {
                    self.giving_back = true;
                    self.queue(Out::Ask(b"me"));
                }
            }
        }
    }

    fn say_stable(&mut self, info: Option<&'static [u8]>) {
        self.queue(Out::Resource {
            hold: self.own_hold(),
            stable: true,
            info,
        });
    }

    /// Whether the peer's last `rsc_hold` covers our one group.
    fn peer_holds_group(&self) -> bool {
        match self.peer.hold {
            Some(Hold::All) => true,
            Some(Hold::Local) => !self.config.primary,
            Some(Hold::Foreign) => self.config.primary,
            _ => false,
        }
    }

    /// What we hold, as `rsc_hold` says it.
    fn own_hold(&self) -> Hold {
        match (self.config.primary, self.holding) {
            (true, true) => Hold::Local,
            (false, true) => Hold::All,
            (false, false) if self.phase == Phase::Stable => Hold::Local,
            _ => Hold::None,
        }
    }

    fn acquire(&mut self) {
        if !self.holding {
            self.holding = true;
            self.events.push_back(HbEvent::Acquired);
        }
    }

    fn release(&mut self) {
        if self.holding {
            self.holding = false;
            self.events.push_back(HbEvent::Released);
        }
    }

    fn peer_dead(&mut self, _now: Instant) {
        if self.peer.alive {
            self.events.push_back(HbEvent::PeerDead);
        }
        self.peer.alive = false;
        self.peer.hold = None;
        self.peer.stable = false;
        self.giving_back = false;
        self.taking_back = false;
        if self.phase != Phase::Stable {
            self.phase = Phase::Stable;
        }
        // heartbeat's mach_down: the survivor takes the dead node's resources.
        self.acquire();
    }

    /// Moves the timers: keepalives, late and dead peer, initdead.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        if now >= self.next_status {
            self.queue(Out::Status);
            self.next_status = now + self.config.keepalive;
        }
        match self.peer.heard {
            None if self.phase == Phase::Starting && now >= self.started + self.config.initdead => {
                self.phase = Phase::Stable;
                self.peer.alive = true; // so that PeerDead is reported once
                self.peer_dead(now);
            }
            Some(heard) if self.peer.alive => {
                if !self.peer.warned && now >= heard + self.config.warntime {
                    self.peer.warned = true;
                    self.counters.late_heartbeats += 1;
                    self.events.push_back(HbEvent::LateHeartbeat);
                }
                if now >= heard + self.config.deadtime {
                    self.peer_dead(now);
                }
            }
            _ => {}
        }
    }

    /// A clean stop: release the group and say `st=dead`.
    pub fn shutdown(&mut self, _now: Instant) {
        if self.stopped {
            return;
        }
        self.release();
        self.queue(Out::Status);
        self.stopped = true;
    }

    /// Writes the next message into `buf`: its length.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let out = self.out.pop_front()?;
        match self.emit(now, out, buf) {
            Ok(n) => {
                self.counters.sent += 1;
                Some(n)
            }
            // A buffer too small for a message of a few hundred bytes: dropped, counted.
            Err(_) => {
                self.counters.too_long += 1;
                None
            }
        }
    }

    fn emit(&mut self, now: Instant, out: Out, buf: &mut [u8]) -> Result<usize, wire::WireError> {
        let c = &self.config;
        let mut w = Writer::new(buf, &c.auth);
        let peer = c.peer.as_bytes();
        let sequenced = !matches!(out, Out::Ack(_));
        match out {
            Out::Status => {
                let st: &[u8] = if self.stopped {
                    b"dead"
                } else if self.phase == Phase::Starting {
                    b"up"
                } else {
                    b"active"
                };
                w.text("t", b"status").text("st", st);
                w.hex("dt", c.deadtime.total_millis())
                    .text("protocol", b"1");
            }
            Out::Starting => {
                w.text("t", b"starting");
            }
            Out::Resource { hold, stable, info } => {
                w.text("t", b"resource").text("rsc_hold", hold.name());
                w.text("rtype", b"full");
                w.text("isstable", if stable { b"1" } else { b"0" });
                if let Some(info) = info {
                    w.text("info", info);
                }
            }
            Out::Ask(info) => {
                w.text("t", b"ask_resources").text("rsc_hold", b"foreign");
                w.text("info", info);
            }
            Out::Ack(seq) => {
                w.text("t", b"NS_ackmsg")
                    .text("dest", peer)
                    .hex("ackseq", seq);
                w.binary("destuuid", &self.peer.uuid);
            }
            Out::RepNodes => {
                let mut list = [0u8; 128];
                let n = node_list(&mut list, c.node.as_bytes(), peer);
                w.text("dest", peer).text("t", b"repnodes");
                w.text("nodelist", &list[..n]).text("delnodelist", b"");
                w.binary("destuuid", &self.peer.uuid);
            }
        }
        w.text("src", c.node.as_bytes())
            .binary("srcuuid", &self.uuid);
        if sequenced {
            self.seq += 1;
            w.hex("seq", self.seq);
        }
        let ts = c.clock_s + (now - self.started).secs();
        w.hex("hg", c.generation).hex("ts", ts).text("ttl", TTL);
        w.finish()
    }

    fn queue(&mut self, out: Out) {
        if self.out.len() >= QUEUE {
            self.counters.queue_full += 1;
            return;
        }
        self.out.push_back(out);
    }

    pub fn poll_event(&mut self) -> Option<HbEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        let mut next = self.next_status;
        match self.peer.heard {
            None if self.phase == Phase::Starting => {
                next = next.min(self.started + self.config.initdead)
            }
            Some(heard) if self.peer.alive => {
                if !self.peer.warned {
                    next = next.min(heard + self.config.warntime);
                }
                next = next.min(heard + self.config.deadtime);
            }
            _ => {}
        }
        Some(next)
    }

    /// Whether we hold the group.
    pub fn holding(&self) -> bool {
        self.holding
    }

    /// Whether the peer is alive as far as we know.
    pub fn peer_alive(&self) -> bool {
        self.peer.alive && self.peer.heard.is_some()
    }

    pub fn counters(&self) -> &HbCounters {
        &self.counters
    }

    pub fn config(&self) -> &HeartbeatConfig {
        &self.config
    }
}

/// `a b ` (heartbeat ends its node list with a space).
fn node_list(buf: &mut [u8; 128], a: &[u8], b: &[u8]) -> usize {
    let mut n = 0;
    for name in [a, b] {
        let take = name.len().min(buf.len() - n - 1);
        buf[n..n + take].copy_from_slice(&name[..take]);
        n += take;
        buf[n] = b' ';
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests;
