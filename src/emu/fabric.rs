//! The wiring of an emulated lab: switches (bridges such as the LAN's br0 and a NAT director's
//! inside br1) and cables. A cable joins a node's port either to a switch (one switch port per
//! cable) or straight to another node's port (point to point); each of its two directions has
//! its own impairments and seeded RNG. The fabric says where a frame sent now goes and when it
//! gets there; the event loop ([`super::sim`]) carries it. It must not import the nodes.

use super::link::{Direction, Dropped, ImpairmentError, Impairments};
use super::switch::{Forward, Switch};
use crate::node::sub_seed;
use smoltcp::time::Instant;

/// Where a frame in flight lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hop {
    /// A switch's port.
    Switch { switch: usize, port: usize },
    /// A node's port.
    Node { node: usize, port: usize },
}

/// A cable: `near` is a node's port; `far` is a switch port or another node's port.
#[derive(Debug)]
pub struct Cable {
    pub near: (usize, usize),
    pub far: Hop,
    /// Near to far.
    pub up: Direction,
    /// Far to near.
    pub down: Direction,
}

/// Why the wiring cannot be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TopologyError {
    /// The node's port already has a cable.
    #[error("node {node} port {port} is already wired")]
    PortInUse { node: usize, port: usize },
    #[error("no switch {0}")]
    NoSwitch(usize),
    #[error("no node {0}")]
    NoNode(usize),
    #[error(transparent)]
    Impairments(#[from] ImpairmentError),
}

/// The switches and cables.
#[derive(Debug)]
pub struct Fabric {
    seed: u64,
    pub switches: Vec<Switch>,
    /// Per switch, per switch port: its cable.
    switch_ports: Vec<Vec<usize>>,
    pub cables: Vec<Cable>,
    /// Per node, per node port: its cable, and whether the node is the cable's far end.
    ends: Vec<Vec<Option<(usize, bool)>>>,
}

impl Fabric {
    /// An empty fabric: cable `i`'s directions draw from `seed`'s sub-seeds `2i` and `2i + 1`.
    pub fn new(seed: u64) -> Fabric {
        Fabric {
            seed,
            switches: Vec::new(),
            switch_ports: Vec::new(),
            cables: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Makes room for node `node`'s ports.
    pub fn add_node(&mut self, node: usize) {
        if self.ends.len() <= node {
            self.ends.resize_with(node + 1, Vec::new);
        }
    }

    pub fn add_switch(&mut self) -> usize {
        self.switches.push(Switch::default());
        self.switch_ports.push(Vec::new());
        self.switches.len() - 1
    }

    /// Cables `node`'s `port` to a new port of `switch`; returns the cable.
    pub fn attach(
        &mut self,
        (node, port): (usize, usize),
        switch: usize,
        imp: Impairments,
    ) -> Result<usize, TopologyError> {
        let ports = self
            .switch_ports
            .get(switch)
            .ok_or(TopologyError::NoSwitch(switch))?;
        let far = Hop::Switch {
            switch,
            port: ports.len(),
        };
        let cable = self.cable((node, port), far, imp)?;
        self.switch_ports[switch].push(cable);
        Ok(cable)
    }

    /// Cables `a`'s port straight to `b`'s port; returns the cable.
    pub fn connect(
        &mut self,
        a: (usize, usize),
        b: (usize, usize),
        imp: Impairments,
    ) -> Result<usize, TopologyError> {
        self.free(b)?;
        let cable = self.cable(
            a,
            Hop::Node {
                node: b.0,
                port: b.1,
            },
            imp,
        )?;
        self.set_end(b, cable, true);
        Ok(cable)
    }

    fn cable(
        &mut self,
        near: (usize, usize),
        far: Hop,
        imp: Impairments,
    ) -> Result<usize, TopologyError> {
        imp.check()?;
        self.free(near)?;
        let i = self.cables.len();
        let seed = |n: usize| sub_seed(self.seed, n as u64);
        self.cables.push(Cable {
            near,
            far,
            up: Direction::new(imp, seed(2 * i)),
            down: Direction::new(imp, seed(2 * i + 1)),
        });
        self.set_end(near, i, false);
        Ok(i)
    }

    /// Fails unless `(node, port)` exists and has no cable.
    fn free(&self, (node, port): (usize, usize)) -> Result<(), TopologyError> {
        let ports = self.ends.get(node).ok_or(TopologyError::NoNode(node))?;
        match ports.get(port) {
            Some(Some(_)) => Err(TopologyError::PortInUse { node, port }),
            _ => Ok(()),
        }
    }

    fn set_end(&mut self, (node, port): (usize, usize), cable: usize, far: bool) {
        let ports = &mut self.ends[node];
        if ports.len() <= port {
            ports.resize(port + 1, None);
        }
        ports[port] = Some((cable, far));
    }

    /// A frame of `len` bytes leaves `node`'s `port` at `now`: where and when it lands.
    /// `Ok(None)`: the port has no cable (counted by the caller).
    pub fn from_node(
        &mut self,
        now: Instant,
        (node, port): (usize, usize),
        len: usize,
    ) -> Result<Option<(Instant, Hop)>, Dropped> {
        let Some(&Some((i, far_end))) = self.ends.get(node).and_then(|p| p.get(port)) else {
            return Ok(None);
        };
        let cable = &mut self.cables[i];
        if far_end {
            let (node, port) = cable.near;
            let at = cable.down.admit(now, len)?;
            Ok(Some((at, Hop::Node { node, port })))
        } else {
            let at = cable.up.admit(now, len)?;
            Ok(Some((at, cable.far)))
        }
    }

    /// Cut-through: a frame that will reach `switch`'s `port` at `at`, for a destination the
    /// switch knows on another port whose cable is plain, is switched now (learning its source
    /// now rather than at `at`) and goes straight on: where and when it reaches the node.
    /// `None`: it must land at the switch (flooded, filtered, or out over an impaired cable).
    pub fn cut_through(
        &mut self,
        switch: usize,
        port: usize,
        at: Instant,
        frame: &[u8],
    ) -> Option<(Instant, Hop)> {
        let (cables, ports) = (&self.cables, &self.switch_ports[switch]);
        let out = self.switches[switch]
            .forward_one(port, frame, |out| cables[ports[out]].down.is_plain())?;
        let cable = &mut self.cables[self.switch_ports[switch][out]];
        let (node, port) = cable.near;
        Some((cable.down.pass(at), Hop::Node { node, port }))
    }

    /// A frame arrives at a switch port: where the switch sends it (`None`: malformed).
    pub fn switch(&mut self, switch: usize, port: usize, frame: &[u8]) -> Option<Forward> {
        self.switches[switch].forward(port, frame)
    }

    /// The number of ports of `switch`.
    pub fn switch_ports(&self, switch: usize) -> usize {
        self.switch_ports[switch].len()
    }

    /// A frame leaves `switch`'s `port` at `now` down its cable: when it reaches the node.
    pub fn from_switch(
        &mut self,
        now: Instant,
        switch: usize,
        port: usize,
        len: usize,
    ) -> Result<(Instant, Hop), Dropped> {
        let cable = &mut self.cables[self.switch_ports[switch][port]];
        let at = cable.down.admit(now, len)?;
        let (node, port) = cable.near;
        Ok((at, Hop::Node { node, port }))
    }
}
