//! What a lab run with `[lab] pcap = true` must leave: a readable capture of every port of every
//! tapvs director (`pcap/<director>-<port>.pcap`), read back with `tapvs::io::pcap::read`, and
//! in them what the directors' configurations (`logs/d<N>.toml`) promise: ARP; VRRP adverts
//! (IP protocol 112) with `[vrrp]`; sync datagrams (UDP 8848) with `[sync]`; and, with a DR
//! service, frames the director forwarded (destination IP a VIP, destination MAC a real
//! server's, source MAC the director's own). Every sync datagram must be one a Linux backup
//! takes as version 1: `reserved` 0, version 1, `spare` 0 (a kernel reads anything else as
//! version 0). When tshark is there (always under CI: `.ci/run` installs it) it must read the
//! files too and decode `vrrp` and `ipvs` (its IPVS sync dissector), both its "Reserved"
//! fields 0.

use smoltcp::wire::{
    ArpOperation, ArpPacket, EthernetFrame, EthernetProtocol, Ipv4Packet, UdpPacket,
};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

/// What one director's capture holds, counted.
#[derive(Debug, Default)]
struct Seen {
    frames: usize,
    arp: usize,
    vrrp: usize,
    sync: usize,
    /// Sync datagrams a kernel would not take as version 1.
    sync_not_v1: usize,
    /// Frames to a VIP with the director's MAC as source and a real server's as destination.
    dr_forwarded: usize,
}

/// The facts of one director's configuration the check needs.
struct Director {
    name: String,
    mac: [u8; 6],
    vrrp: bool,
    sync: bool,
    inside: bool,
    dr_vips: Vec<Ipv4Addr>,
    real_servers: Vec<Ipv4Addr>,
}

/// Checks the captures of the run in `run_dir`; `Err` says what is missing.
pub fn check(run_dir: &Path) -> Result<(), String> {
    let directors = directors(&run_dir.join("logs"))?;
    if directors.is_empty() {
        return Err("no director configuration in logs/".into());
    }
    let mut forwarded = 0;
    for d in &directors {
        let ports = if d.inside {
            &["outside", "inside"][..]
        } else {
            &["outside"][..]
        };
        for port in ports {
            let path = run_dir.join("pcap").join(format!("{}-{port}.pcap", d.name));
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let file =
                tapvs::io::pcap::read(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            if file.linktype != tapvs::io::pcap::LINKTYPE_ETHERNET || file.records.is_empty() {
                return Err(format!("{}: no Ethernet frames", path.display()));
            }
            check_times(&path, &file.records)?;
            if *port == "inside" {
                continue;
            }
            let seen = count(d, &file.records);
            println!("capture {}: {seen:?}", path.display());
            let missing = [
                (seen.arp == 0, "ARP"),
                (d.vrrp && seen.vrrp == 0, "VRRP adverts"),
                (d.sync && seen.sync == 0, "sync datagrams (UDP 8848)"),
            ];
            if let Some((_, what)) = missing.iter().find(|(m, _)| *m) {
                return Err(format!("{}: no {what}", path.display()));
            }
            if seen.sync_not_v1 > 0 {
                return Err(format!(
                    "{}: {} of {} sync datagrams are not kernel version 1",
                    path.display(),
                    seen.sync_not_v1,
                    seen.sync
                ));
            }
            forwarded += seen.dr_forwarded;
            tshark(&path, d, seen.dr_forwarded > 0)?;
        }
    }
    if directors.iter().any(|d| !d.dr_vips.is_empty()) && forwarded == 0 {
        return Err("no director's capture holds a DR-forwarded frame".into());
    }
    Ok(())
}

/// Timestamps are wall-clock times of this run, in order.
fn check_times(path: &Path, records: &[tapvs::io::pcap::Record]) -> Result<(), String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let hour = 3_600_000_000;
    let first = records[0].time_us;
    if first > now || now - first > hour {
        return Err(format!(
            "{}: first frame at {first} µs, now {now}",
            path.display()
        ));
    }
    if let Some(w) = records.windows(2).find(|w| w[1].time_us < w[0].time_us) {
        return Err(format!(
            "{}: time goes back at {}",
            path.display(),
            w[1].time_us
        ));
    }
    Ok(())
}

fn count(d: &Director, records: &[tapvs::io::pcap::Record]) -> Seen {
    let mut seen = Seen::default();
    // Real servers' MACs, from their ARP answers in the same capture.
    let mut rs_macs = Vec::new();
    for r in records {
        let Ok(eth) = EthernetFrame::new_checked(r.data) else {
            continue;
        };
        if eth.ethertype() != EthernetProtocol::Arp {
            continue;
        }
        if let Ok(arp) = ArpPacket::new_checked(eth.payload())
            && arp.operation() == ArpOperation::Reply
            && let Ok(ip) = <[u8; 4]>::try_from(arp.source_protocol_addr())
            && d.real_servers.contains(&Ipv4Addr::from(ip))
        {
            rs_macs.push(arp.source_hardware_addr().to_vec());
        }
    }
    for r in records {
        seen.frames += 1;
        let Ok(eth) = EthernetFrame::new_checked(r.data) else {
            continue;
        };
        match eth.ethertype() {
            EthernetProtocol::Arp => seen.arp += 1,
            EthernetProtocol::Ipv4 => {
                let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
                    continue;
                };
                let proto = u8::from(ip.next_header());
                if proto == tapvs::wire::vrrp::PROTOCOL {
                    seen.vrrp += 1;
                } else if proto == 17
                    && let Ok(udp) = UdpPacket::new_checked(ip.payload())
                    && udp.dst_port() == tapvs::sync::wire::PORT
                {
                    seen.sync += 1;
                    let v1 = matches!(udp.payload(), [0, _, _, _, _, 1, 0, 0, ..]);
                    seen.sync_not_v1 += usize::from(!v1);
                }
                if d.dr_vips.contains(&ip.dst_addr())
                    && eth.src_addr().0 == d.mac
                    && rs_macs.iter().any(|m| m[..] == eth.dst_addr().0)
                {
                    seen.dr_forwarded += 1;
                }
            }
            _ => {}
        }
    }
    seen
}

/// The tapvs directors of the run, from their configurations in `logs/`.
fn directors(logs: &Path) -> Result<Vec<Director>, String> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".toml") else {
            continue;
        };
        let number = name.strip_prefix('d').map(str::parse::<u8>);
        if !matches!(number, Some(Ok(_))) {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).map_err(|e| format!("{file}: {e}"))?;
        let v: toml::Value = toml::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
        let mac = v["interface"]["mac"].as_str().unwrap_or_default();
        let mac: Vec<u8> = mac
            .split(':')
            .filter_map(|b| u8::from_str_radix(b, 16).ok())
            .collect();
        let services = v
            .get("service")
            .and_then(|s| s.as_array())
            .cloned()
            .unwrap_or_default();
        let addr = |v: &toml::Value, key: &str| v.get(key)?.as_str()?.parse::<Ipv4Addr>().ok();
        out.push(Director {
            name: name.to_owned(),
            mac: mac
                .try_into()
                .map_err(|_| format!("{file}: interface.mac"))?,
            vrrp: v.get("vrrp").is_some(),
            sync: v.get("sync").is_some(),
            inside: v.get("inside").is_some(),
            dr_vips: services
                .iter()
                .filter(|s| s.get("forwarding").and_then(|f| f.as_str()) == Some("dr"))
                .filter_map(|s| addr(s, "vip"))
                .collect(),
            real_servers: services
                .iter()
                .filter_map(|s| s.get("real_server")?.as_array())
                .flatten()
                .filter_map(|r| addr(r, "address"))
                .collect(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// tshark reads the capture and decodes ARP, VRRP, IPVS sync and the forwarded frames (one
/// pass: each frame's protocol stack and addresses); skipped (with a message) where tshark is
/// missing, a failure under CI.
fn tshark(path: &Path, d: &Director, forwarded: bool) -> Result<(), String> {
    if Command::new("tshark").arg("-v").output().is_err() {
        if std::env::var_os("CI").is_some() {
            return Err("CI is set but tshark is missing (.ci/run installs it)".into());
        }
        eprintln!("SKIPPED tshark check of {}: no tshark", path.display());
        return Ok(());
    }
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-T", "fields", "-E", "separator=,"])
        .args(["-e", "frame.protocols", "-e", "eth.src", "-e", "ip.dst"])
        .args(["-e", "ipvs.resv"])
        .output()
        .map_err(|e| format!("tshark: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("tshark -r {}: {err}", path.display()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mac = d.mac.map(|b| format!("{b:02x}")).join(":");
    let (mut arp, mut vrrp, mut ipvs, mut dr, mut reserved) = (0, 0, 0, 0, 0);
    for line in text.lines() {
        let mut fields = line.split(',');
        let (protocols, src, dst) = (
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
        );
        let layers: Vec<&str> = protocols.split(':').collect();
        arp += usize::from(layers.contains(&"arp"));
        vrrp += usize::from(layers.contains(&"vrrp"));
        ipvs += usize::from(layers.contains(&"ipvs"));
        // The IPVS header's two "Reserved" fields (`reserved`, `spare`), last on the line.
        reserved += usize::from(fields.any(|r| r.chars().any(|c| c != '0')));
        let to_vip = dst.parse().is_ok_and(|ip| d.dr_vips.contains(&ip));
        dr += usize::from(to_vip && src == mac);
    }
    println!(
        "tshark -r {}: {} frames, arp {arp}, vrrp {vrrp}, ipvs {ipvs} ({reserved} with a \
         nonzero Reserved), to a VIP from {mac} {dr}",
        path.display(),
        text.lines().count()
    );
    if reserved > 0 {
        return Err(format!(
            "tshark -r {}: {reserved} ipvs messages with a nonzero Reserved field",
            path.display()
        ));
    }
    let missing = [
        (arp == 0, "arp"),
        (d.vrrp && vrrp == 0, "vrrp"),
        (d.sync && ipvs == 0, "ipvs (sync)"),
        (forwarded && dr == 0, "DR-forwarded"),
    ];
    match missing.iter().find(|(m, _)| *m) {
        Some((_, what)) => Err(format!("tshark -r {}: no {what} frames", path.display())),
        None => Ok(()),
    }
}
