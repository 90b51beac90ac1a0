//! Data-plane benchmarks: ns per frame for an established DR flow and for a new connection
//! (SYN + schedule + insert), with 1 and 1,000,000 entries in the table; and the memory one
//! table entry costs, measured by a counting allocator. The established frame is also measured
//! through the whole sans-IO director node (`node_established_frame`), to show what the node's
//! surface adds over the data plane alone.

use criterion::{Criterion, criterion_group, criterion_main};
use smoltcp::time::Instant;
use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use tapvs::config::DirectorConfig;
use tapvs::dataplane::conntrack::ConnKey;
use tapvs::dataplane::{Dataplane, Iface, Verdict};
use tapvs::io::hugepages::HugePageAlloc;
use tapvs::wire::EthernetAddress;
use tapvs::wire::build::{self, Endpoints, Flags};

/// Counts live heap bytes, to measure the table's footprint, over the allocator the
/// `tapvs` binary uses (huge pages for large blocks).
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the binary's allocator.
        unsafe { HugePageAlloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the binary's allocator.
        unsafe { HugePageAlloc.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const DIRECTOR_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 0, 2]);

fn config(capacity: usize) -> DirectorConfig {
    let text = format!(
        "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
         prefix_len = 24\ngateway = \"198.18.0.1\"\n[limits]\nmax_connections = {capacity}\n\
         [[service]]\nvip = \"198.18.0.100\"\nport = 80\nscheduler = \"wlc\"\n\
         [[service.real_server]]\nname = \"rs1\"\naddress = \"198.18.0.11\"\nport = 80\n\
         [[service.real_server]]\nname = \"rs2\"\naddress = \"198.18.0.12\"\nport = 80\n\
         [[service.real_server]]\nname = \"rs3\"\naddress = \"198.18.0.13\"\nport = 80\n"
    );
    DirectorConfig::parse(Path::new("bench.toml"), &text).unwrap()
}

fn ends(n: u32) -> Endpoints {
    Endpoints {
        src_mac: EthernetAddress([0x02, 0, 0, 0, 0, 1]),
        dst_mac: DIRECTOR_MAC,
        src: Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 19, 0, 0)) + (n >> 14)),
        src_port: 1024 + (n & 0x3fff) as u16,
        dst: Ipv4Addr::new(198, 18, 0, 100),
        dst_port: 80,
    }
}

/// The three real servers' ARP replies to the director at `director`.
fn server_arp_replies(director: Ipv4Addr) -> Vec<Vec<u8>> {
    (0..3u8)
        .map(|i| {
            let ip = Ipv4Addr::new(198, 18, 0, 11 + i);
            build::arp_reply(
                EthernetAddress([2, 0, 0, 0, 1, i]),
                ip,
                DIRECTOR_MAC,
                director,
            )
        })
        .collect()
}

/// A data plane with resolved neighbours and `entries` established connections.
fn filled(entries: u32) -> Dataplane {
    let mut dp = Dataplane::new(&config(2_000_000).dataplane(), 7);
    for mut f in server_arp_replies(dp.addr()) {
        dp.handle_frame(Instant::from_millis(0), Iface::OUTSIDE, &mut f);
    }
    let mut syn = build::tcp_frame(ends(0), Flags::SYN, b"");
    for n in 0..entries {
        let mut f = syn.clone();
        rewrite_source(&mut f, n);
        assert_eq!(
            dp.handle_frame(Instant::from_millis(0), Iface::OUTSIDE, &mut f),
            Verdict::Send(Iface::OUTSIDE)
        );
    }
    rewrite_source(&mut syn, 0);
    dp
}

/// Rewrites source address and port of a built frame in place (cheaper than building anew);
/// the checksums are recomputed so the frame stays valid.
fn rewrite_source(frame: &mut [u8], n: u32) {
    let e = ends(n);
    frame[26..30].copy_from_slice(&e.src.octets());
    frame[34..36].copy_from_slice(&e.src_port.to_be_bytes());
    let mut ip = smoltcp::wire::Ipv4Packet::new_unchecked(&mut frame[14..]);
    ip.fill_checksum();
}

/// Benchmarks `forward` on the same established frame over and over: it must come back out of
/// the outside port each time.
fn bench_established(c: &mut Criterion, name: &str, mut forward: impl FnMut(&mut [u8]) -> bool) {
    let mut frame = build::tcp_frame(ends(0), Flags::ACK, b"GET /bytes/10000 HTTP/1.1\r\n\r\n");
    c.bench_function(name, |b| {
        b.iter(|| {
            // The director rewrote the destination MAC last time: address it to us again.
            frame[..6].copy_from_slice(&DIRECTOR_MAC.0);
            let sent = forward(black_box(&mut frame));
            assert!(sent, "{name}: the frame was not forwarded");
            black_box(sent)
        })
    });
}

fn established(c: &mut Criterion) {
    for entries in [1u32, 1_000_000] {
        let mut dp = filled(entries);
        let name = format!("dr_established_frame/{entries}_entries");
        bench_established(c, &name, |frame| {
            dp.handle_frame(Instant::from_millis(1), Iface::OUTSIDE, frame)
                == Verdict::Send(Iface::OUTSIDE)
        });
    }
}

/// The same established frame through `Director::handle_frame` (data plane + the node's
/// dispatch), one connection in the table.
fn node_established(c: &mut Criterion) {
    use tapvs::io::vnet::VnetHeader;
    use tapvs::node::Director;
    let t0 = Instant::from_millis(0);
    let mut node = Director::new(&config(2_000_000), "d1", 7, t0).unwrap();
    let offload = VnetHeader::NONE;
    for mut f in server_arp_replies(node.dataplane().addr()) {
        node.handle_frame(t0, Iface::OUTSIDE, &mut f, &offload);
    }
    let mut syn = build::tcp_frame(ends(0), Flags::SYN, b"");
    assert_eq!(
        node.handle_frame(t0, Iface::OUTSIDE, &mut syn, &offload),
        Some(Iface::OUTSIDE)
    );
    bench_established(c, "node_established_frame/1_entries", |frame| {
        let now = Instant::from_millis(1);
        node.handle_frame(now, Iface::OUTSIDE, frame, &offload) == Some(Iface::OUTSIDE)
    });
}

fn new_connection(c: &mut Criterion) {
    for entries in [1u32, 1_000_000] {
        let mut dp = filled(entries);
        let template = build::tcp_frame(ends(0), Flags::SYN, b"");
        // Fresh keys beyond the prefilled ones; each batch's entries are removed untimed.
        c.bench_function(&format!("dr_new_connection/{entries}_entries"), |b| {
            b.iter_custom(|iters| {
                // In chunks, so the table never fills: fresh keys beyond the prefilled ones are
                // built untimed, sent timed, and removed again untimed.
                let mut total = std::time::Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    let n = (iters - done).min(100_000);
                    let mut frames: Vec<Vec<u8>> = (0..n)
                        .map(|k| {
                            let mut f = template.clone();
                            rewrite_source(&mut f, 2_000_000 + k as u32);
                            f
                        })
                        .collect();
                    let start = std::time::Instant::now();
                    for f in frames.iter_mut() {
                        let v = dp.handle_frame(Instant::from_millis(1), Iface::OUTSIDE, f);
                        assert!(v == Verdict::Send(Iface::OUTSIDE), "{v:?}");
                    }
                    total += start.elapsed();
                    for k in 0..n {
                        let e = ends(2_000_000 + k as u32);
                        let key = ConnKey {
                            protocol: 6,
                            client: e.src,
                            client_port: e.src_port,
                            vip: e.dst,
                            vport: 80,
                        };
                        let idx = dp.conns().find(&key).expect("inserted");
                        dp.conns_mut().remove(idx);
                    }
                    done += n;
                }
                total
            })
        });
    }
}

fn bytes_per_entry(_c: &mut Criterion) {
    let n = 1_000_000u32;
    let before = LIVE.load(Ordering::Relaxed);
    let empty = Dataplane::new(&config(n as usize).dataplane(), 7);
    let reserved = LIVE.load(Ordering::Relaxed) - before;
    drop(empty);
    let dp = filled(0);
    drop(dp);
    let before = LIVE.load(Ordering::Relaxed);
    let dp = {
        let mut dp = Dataplane::new(&config(n as usize).dataplane(), 7);
        let mut syn = build::tcp_frame(ends(0), Flags::SYN, b"");
        for mut f in server_arp_replies(dp.addr()) {
            dp.handle_frame(Instant::from_millis(0), Iface::OUTSIDE, &mut f);
        }
        for k in 0..n {
            rewrite_source(&mut syn, k);
            let mut f = syn.clone();
            dp.handle_frame(Instant::from_millis(0), Iface::OUTSIDE, &mut f);
        }
        dp
    };
    let full = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "table memory: {} entries, {:.1} MB reserved up front, {:.1} bytes per entry when full \
         (slab + index + free list), size_of::<Conn>() = {} bytes",
        dp.conns().len(),
        reserved as f64 / 1e6,
        full as f64 / n as f64,
        std::mem::size_of::<tapvs::dataplane::conntrack::Conn>()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bytes_per_entry, established, node_established, new_connection
}
criterion_main!(benches);
