//! What `tapvs ipvsadm` asks a director over its control socket (`ipvs <json>`, one line)
//! and what the director answers (one JSON line): typed both ways. The director runs a
//! request on its data plane with [`execute`]; the client formats the reply itself.

use super::args::{Command, Invocation, Method};
use crate::dataplane::Dataplane;
use crate::dataplane::ipvs::{IpvsTable, ServerSpec, ServiceKey, ServiceSpec, Timeouts};
use crate::dataplane::settings::Forwarding;
use serde::{Deserialize, Serialize};
use smoltcp::time::Instant;
use std::net::Ipv4Addr;

/// One administrative request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum IpvsRequest {
    /// The table (with every connection entry when `conns`).
    Table {
        conns: bool,
    },
    AddService {
        spec: ServiceSpec,
    },
    EditService {
        spec: ServiceSpec,
    },
    DeleteService {
        key: ServiceKey,
    },
    Clear,
    Zero {
        key: Option<ServiceKey>,
    },
    AddServer {
        key: ServiceKey,
        server: ServerSpec,
    },
    EditServer {
        key: ServiceKey,
        server: ServerSpec,
    },
    DeleteServer {
        key: ServiceKey,
        addr: Ipv4Addr,
        port: u16,
    },
    SetTimeouts {
        timeouts: Timeouts,
    },
}

/// The director's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum IpvsReply {
    Done,
    Table {
        table: IpvsTable,
    },
    /// Refused, with the message ipvsadm prints.
    Error {
        message: String,
    },
}

/// Runs a request on the data plane (the director's side).
pub fn execute(dp: &mut Dataplane, now: Instant, request: &IpvsRequest) -> IpvsReply {
    let done = |r: Result<(), crate::dataplane::ipvs::IpvsError>| match r {
        Ok(()) => IpvsReply::Done,
        Err(e) => IpvsReply::Error {
            message: e.to_string(),
        },
    };
    match request {
        IpvsRequest::Table { conns } => IpvsReply::Table {
            table: dp.ipvs_table(now, *conns),
        },
        IpvsRequest::AddService { spec } => done(dp.add_service(spec)),
        IpvsRequest::EditService { spec } => done(dp.edit_service(spec)),
        IpvsRequest::DeleteService { key } => done(dp.delete_service(key)),
        IpvsRequest::Clear => {
            dp.clear();
            IpvsReply::Done
        }
        IpvsRequest::Zero { key } => done(dp.zero(key.as_ref())),
        IpvsRequest::AddServer { key, server } => done(dp.add_server(key, server)),
        IpvsRequest::EditServer { key, server } => done(dp.edit_server(key, server)),
        IpvsRequest::DeleteServer { key, addr, port } => done(dp.delete_server(key, *addr, *port)),
        IpvsRequest::SetTimeouts { timeouts } => {
            dp.set_timeouts(*timeouts);
            IpvsReply::Done
        }
    }
}

/// The control socket's `ipvs JSON` command: one request in, one reply line out.
pub fn serve(json: &str, now: Instant, dp: &mut Dataplane) -> String {
    let reply = match serde_json::from_str::<IpvsRequest>(json) {
        Ok(request) => execute(dp, now, &request),
        Err(e) => IpvsReply::Error {
            message: format!("tapvs: bad ipvs request: {e}"),
        },
    };
    serde_json::to_string(&reply).unwrap_or_else(|e| format!("error {e}"))
}

/// What tapvs refuses before asking (ipvsadm would pass it to a kernel that has it).
fn unsupported(inv: &Invocation) -> Option<&'static str> {
    if inv.method == Method::Tunnel {
        return Some("tapvs: IPIP tunnelling (-i) is not supported");
    }
    if inv.thresholds != [0, 0] {
        return Some("tapvs: connection thresholds (-x, -y) are not supported");
    }
    if inv.one_packet {
        return Some("tapvs: one-packet scheduling (-o) is not supported");
    }
    None
}

/// The request that carries out a parsed command line; `Ok(None)` for commands the client
/// does alone (help, restore), `Err` with a message for what tapvs cannot do.
pub fn request_of(inv: &Invocation) -> Result<Option<IpvsRequest>, &'static str> {
    if let Some(why) = unsupported(inv) {
        return Err(why);
    }
    let key = inv.service;
    let spec = || ServiceSpec {
        key: key.expect("checked: the command needs -t|-u"),
        scheduler: inv.scheduler.clone(),
        persistence_s: inv.persistent.unwrap_or(0),
        netmask: inv.netmask,
    };
    let server = || {
        let (addr, port) = inv.server.expect("checked: the command needs -r");
        ServerSpec {
            addr,
            port,
            forwarding: if inv.method == Method::Masq {
                Forwarding::Nat
            } else {
                Forwarding::Dr
            },
            weight: inv.weight,
        }
    };
    let need = || key.expect("checked: the command needs -t|-u");
    Ok(Some(match inv.command {
        Command::List | Command::Save => IpvsRequest::Table {
            conns: inv.format.connection,
        },
        Command::AddService => IpvsRequest::AddService { spec: spec() },
        Command::EditService => IpvsRequest::EditService { spec: spec() },
        Command::DeleteService => IpvsRequest::DeleteService { key: need() },
        Command::Flush => IpvsRequest::Clear,
        Command::Zero => IpvsRequest::Zero { key },
        Command::AddServer => IpvsRequest::AddServer {
            key: need(),
            server: server(),
        },
        Command::EditServer => IpvsRequest::EditServer {
            key: need(),
            server: server(),
        },
        Command::DeleteServer => {
            let s = server();
            IpvsRequest::DeleteServer {
                key: need(),
                addr: s.addr,
                port: s.port,
            }
        }
        Command::SetTimeout => IpvsRequest::SetTimeouts {
            timeouts: Timeouts {
                tcp: inv.timeouts[0],
                tcpfin: inv.timeouts[1],
                udp: inv.timeouts[2],
            },
        },
        Command::Restore | Command::Help => return Ok(None),
    }))
}
