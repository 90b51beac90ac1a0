//! How large a lab each engine takes, and where each load's client addresses are. The
//! namespace lab is bounded by this machine (a namespace, a veth pair and a process per host);
//! the emulator by its address plan and memory. A file is checked against the larger bounds
//! when it is read, and against its engine's when the engine is known (`tapvs run --engine`).

use super::{Scenario, ScenarioError};
use crate::run::EngineKind;
use std::net::Ipv4Addr;
use std::path::Path;

/// The largest lab an engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabBounds {
    /// Real servers (198.18.0.11 upwards, or 198.18.1.11 behind a two-armed NAT director).
    pub real_servers: usize,
    /// Client addresses of one load.
    pub clients_per_load: u32,
    /// Workers (closed loop) or requests in flight (open loop) of one load.
    pub concurrency: u32,
    /// Why these numbers, for the refusal.
    pub why: &'static str,
}

/// The namespace lab: each real server is a namespace, a veth pair and a `tapvs server`
/// process, each load one `tapvs client` process, all on this 2-core machine. A load's client
/// addresses are one 4096-address block of 198.19.0.0/17 ([`client_base`]; the SYN flood's
/// sources take 198.19.128.0/17).
pub const NETNS: LabBounds = LabBounds {
    real_servers: 50,
    clients_per_load: 4096,
    concurrency: 10_000,
    why: "each real server is a namespace, a veth pair and a process on this machine, each \
          load one client process with a 4096-address block of 198.19.0.0/17",
};

/// The emulator: 100 real servers end at 198.18.0.110, below most of the VIPs' range
/// (198.18.0.100–250; a VIP on a server's address is refused) and within the sub-seeds set
/// apart for servers (200–299, the clients' start at 300). A load is one simulated `tapvs
/// client`, which takes 50,000 workers, as the real one; the loads' addresses share
/// 198.19.0.0/16 ([`client_addresses`]). 8 loads of 50,000 connections are 400,000 connection
/// pairs, about 4.5 GB at the 11 KB a pair that `emu-scale` takes (its buffers sized to its
/// messages: `run::emulated::buffers`).
pub const EMULATED: LabBounds = LabBounds {
    real_servers: 100,
    clients_per_load: 65_535,
    concurrency: 50_000,
    why: "real servers take 198.18.0.11 upwards, below the VIPs, the loads share \
          198.19.0.0/16, and each load is one simulated client of at most 50,000 workers, as \
          `tapvs client`",
};

/// What an engine takes.
pub fn bounds(engine: EngineKind) -> LabBounds {
    match engine {
        EngineKind::Netns => NETNS,
        EngineKind::Emulated => EMULATED,
    }
}

/// The engine with the widest bounds, which every file is checked against when it is read.
pub const WIDEST_ENGINE: EngineKind = EngineKind::Emulated;

/// The namespace lab's address block of load `k`: 198.19.(16·k).1 onwards, 4096 addresses.
pub fn client_base(load_index: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 19, (16 * load_index) as u8, 1)
}

/// Addresses in one block of the client plan.
const BLOCK: u32 = 4096;

/// The emulator's addresses of each load (first, count), in order: a load takes as many
/// 4096-address blocks of 198.19.0.0/16 as it needs, from where the previous load's end. With
/// at most 4096 addresses per load, each load's range starts at [`client_base`], as in the
/// namespace lab. `None` when they do not fit in 198.19.0.0/16.
pub fn client_addresses(clients: impl IntoIterator<Item = u32>) -> Option<Vec<(Ipv4Addr, u32)>> {
    let first = u32::from(Ipv4Addr::new(198, 19, 0, 1));
    let end = u32::from(Ipv4Addr::new(198, 20, 0, 0));
    let mut block = 0u32;
    let mut ranges = Vec::new();
    for count in clients {
        let count = count.max(1);
        let start = first + block * BLOCK;
        if u64::from(start) + u64::from(count) > u64::from(end) {
            return None;
        }
        ranges.push((Ipv4Addr::from(start), count));
        block += count.div_ceil(BLOCK);
    }
    Some(ranges)
}

type Check = Result<(), (String, String)>;

impl Scenario {
    /// Each load's client addresses in the emulator (first, count).
    pub fn client_addresses(&self) -> Option<Vec<(Ipv4Addr, u32)>> {
        client_addresses(self.loads.iter().map(|l| l.clients))
    }

    /// Whether `engine` takes this scenario's lab (read from `path`): the refusal names the
    /// file, the field over the engine's bound and why.
    pub fn check_engine(&self, path: &Path, engine: EngineKind) -> Result<(), ScenarioError> {
        self.check_size(engine)
            .map_err(crate::file_error::invalid(path))
    }

    /// Whether `engine` takes a lab this large: the field over its bound and the reason.
    pub fn check_size(&self, engine: EngineKind) -> Check {
        let b = bounds(engine);
        // `n` of `noun` against the engine's `max` (and the emulator's `widest`), per load or
        // in all.
        let over = |field: String, noun: &str, (n, max, widest): (u64, u64, u64), per: &str| {
            if n <= max {
                return Ok(());
            }
            let also = if engine == EngineKind::Emulated {
                String::new()
            } else {
                let what = if per.is_empty() { noun } else { "per load" };
                format!("; the emulated engine takes up to {widest} {what} (`--engine emulated`)")
            };
            let text = format!(
                "{n} {noun}: the {} engine takes at most {max}{per} ({}){also}",
                engine.name(),
                b.why
            );
            Err((field, text))
        };
        let (n, e) = (self.real_servers.len() as u64, EMULATED);
        let servers = (n, b.real_servers as u64, e.real_servers as u64);
        over("real_server".into(), "real servers", servers, "")?;
        for (i, l) in self.loads.iter().enumerate() {
            let field = |name: &str| format!("load[{i}].{name}");
            let wide = |n: u32, max: u32, widest: u32| (n.into(), max.into(), widest.into());
            let clients = wide(l.clients, b.clients_per_load, e.clients_per_load);
            over(field("clients"), "client addresses", clients, " per load")?;
            let workers = wide(l.concurrency, b.concurrency, e.concurrency);
            over(field("concurrency"), "workers", workers, " per load")?;
        }
        if engine == EngineKind::Emulated && self.client_addresses().is_none() {
            return Err((
                "load".into(),
                format!(
                    "{} client addresses in all: the loads' blocks of {BLOCK} addresses must fit \
                     in 198.19.0.0/16 (65,535 addresses from 198.19.0.1)",
                    self.loads.iter().map(|l| u64::from(l.clients)).sum::<u64>()
                ),
            ));
        }
        Ok(())
    }
}
