//! `tapvs ipvsadm`'s output against the real ipvsadm 1.31's, byte for byte: every case of
//! tests/golden/ipvsadm/cases gives the same table (TABLE.tab, TABLE.conn) to both — to the
//! real binary through the fake kernel of `make-golden.sh` (its output is NAME.out), and here
//! to `tapvs ipvsadm` through a director stand-in that answers with that table.

use std::net::Ipv4Addr;
use std::path::Path;
use tapvs::dataplane::estimator::Rates;
use tapvs::dataplane::ipvs::{
    IpvsConn, IpvsDest, IpvsService, IpvsStats, IpvsTable, ServiceKey, Timeouts,
};
use tapvs::dataplane::settings::{Forwarding, Protocol};
use tapvs::ipvsadm::names::PortNames;
use tapvs::ipvsadm::request::{IpvsReply, IpvsRequest};
use tapvs::ipvsadm::{Director, run};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ipvsadm");

/// Answers every table request with one table.
struct Fixed(IpvsTable);

impl Director for Fixed {
    fn ask(&mut self, request: &IpvsRequest) -> Result<IpvsReply, String> {
        match request {
            IpvsRequest::Table { .. } => Ok(IpvsReply::Table {
                table: self.0.clone(),
            }),
            other => Err(format!("unexpected request {other:?}")),
        }
    }
}

fn stats(w: &[&str]) -> IpvsStats {
    let n: Vec<u64> = w.iter().map(|x| x.parse().unwrap()).collect();
    IpvsStats {
        conns: n[0],
        inpkts: n[1],
        outpkts: n[2],
        inbytes: n[3],
        outbytes: n[4],
        rates: Rates {
            cps: n[5],
            inpps: n[6],
            outpps: n[7],
            inbps: n[8],
            outbps: n[9],
        },
    }
}

fn protocol(n: &str) -> Protocol {
    match n {
        "6" | "TCP" => Protocol::Tcp,
        _ => Protocol::Udp,
    }
}

/// Reads fake-kernel.c's table format (see its opening comment).
fn table(name: &str) -> IpvsTable {
    let text = std::fs::read_to_string(Path::new(DIR).join(format!("{name}.tab"))).unwrap();
    let mut t = IpvsTable {
        version: 0x010201,
        size: 4096,
        timeouts: Timeouts::default(),
        services: Vec::new(),
        conns: Vec::new(),
    };
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w[0] {
            "info" => {
                t.version = u32::from_str_radix(w[1].trim_start_matches("0x"), 16).unwrap();
                t.size = w[2].parse().unwrap();
            }
            "timeout" => {
                t.timeouts = Timeouts {
                    tcp: w[1].parse().unwrap(),
                    tcpfin: w[2].parse().unwrap(),
                    udp: w[3].parse().unwrap(),
                }
            }
            "svc" => {
                let persistent = w[5] == "1";
                t.services.push(IpvsService {
                    key: ServiceKey {
                        protocol: protocol(w[1]),
                        addr: w[2].parse().unwrap(),
                        port: w[3].parse().unwrap(),
                    },
                    scheduler: w[4].to_string(),
                    persistence_s: if persistent { w[6].parse().unwrap() } else { 0 },
                    netmask: w[7].parse().unwrap(),
                    stats: stats(&w[8..]),
                    dests: Vec::new(),
                })
            }
            "dst" => t.services.last_mut().unwrap().dests.push(IpvsDest {
                addr: w[1].parse().unwrap(),
                port: w[2].parse().unwrap(),
                forwarding: if w[3] == "0" {
                    Forwarding::Nat
                } else {
                    Forwarding::Dr
                },
                weight: w[4].parse().unwrap(),
                active: w[5].parse().unwrap(),
                inactive: w[6].parse().unwrap(),
                persistent: w[7].parse().unwrap(),
                stats: stats(&w[8..]),
            }),
            other => panic!("{name}.tab: unknown line {other}"),
        }
    }
    let conn = Path::new(DIR).join(format!("{name}.conn"));
    if let Ok(text) = std::fs::read_to_string(conn) {
        let hex_addr = |s: &str| Ipv4Addr::from(u32::from_str_radix(s, 16).unwrap());
        let hex_port = |s: &str| u16::from_str_radix(s, 16).unwrap();
        for line in text.lines().skip(1) {
            let w: Vec<&str> = line.split_whitespace().collect();
            t.conns.push(IpvsConn {
                protocol: protocol(w[0]),
                client: hex_addr(w[1]),
                client_port: hex_port(w[2]),
                vip: hex_addr(w[3]),
                vport: hex_port(w[4]),
                dest: hex_addr(w[5]),
                dest_port: hex_port(w[6]),
                state: w[7].to_string(),
                expires_s: w[8].parse().unwrap(),
            });
        }
    }
    t
}

#[test]
fn listings_match_the_real_ipvsadm() {
    let names =
        PortNames::parse(&std::fs::read_to_string(Path::new(DIR).join("services")).unwrap());
    let cases = std::fs::read_to_string(Path::new(DIR).join("cases")).unwrap();
    let mut checked = 0;
    for line in cases.lines().filter(|l| !l.starts_with('#')) {
        let parts: Vec<&str> = line.split('|').collect();
        let (name, tab, args) = (parts[0], parts[1], parts[2]);
        let args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        let golden = std::fs::read_to_string(Path::new(DIR).join(format!("{name}.out"))).unwrap();
        let out = run(&args, &mut Fixed(table(tab)), &names, &mut std::io::empty());
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        assert_eq!(out.stdout, golden, "{name}: ipvsadm {}", args.join(" "));
        checked += 1;
    }
    assert!(checked >= 18, "every case is checked");
}

/// The real ldirectord's own patterns on `tapvs ipvsadm -L -n`: the regular expressions of its
/// `ld_read_ipvsadm` are taken from /usr/sbin/ldirectord (4.12) and run by perl on our output;
/// every line after the three it skips must match one, with the right fields. Skipped (with a
/// note) where ldirectord or perl is not installed.
#[test]
fn the_real_ldirectords_patterns_read_the_listing() {
    let Ok(source) = std::fs::read_to_string("/usr/sbin/ldirectord") else {
        eprintln!("SKIPPED: /usr/sbin/ldirectord is not installed");
        return;
    };
    let start = source
        .find("sub ld_read_ipvsadm\n")
        .expect("ld_read_ipvsadm");
    let end = start
        + source[start..]
            .find("sub ld_read_ipvsadm_thresholds")
            .unwrap();
    let patterns: Vec<&str> = source[start..end]
        .lines()
        .filter_map(|l| l.split_once("$line =~ /").map(|(_, r)| r))
        .filter_map(|r| r.rsplit_once("/) {").map(|(p, _)| p))
        .collect();
    assert_eq!(
        patterns.len(),
        4,
        "ldirectord 4.12's four patterns: {patterns:?}"
    );
    let args = vec!["-L".to_string(), "-n".to_string()];
    let listing = run(
        &args,
        &mut Fixed(table("mixed")),
        &PortNames::default(),
        &mut std::io::empty(),
    );
    let script = r#"my @re = map { qr/$_/ } @ARGV; <STDIN> for 1..3;
        while (my $l = <STDIN>) { chomp $l; my $hit = 0;
          for my $i (0..$#re) { if (my @c = ($l =~ $re[$i])) {
            print join("|", $i, map { defined $_ ? $_ : "" } @c), "\n"; $hit = 1; last } }
          print "unknown|$l\n" unless $hit }"#;
    let child = std::process::Command::new("perl")
        .arg("-e")
        .arg(script)
        .args(&patterns)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("SKIPPED: perl is not installed");
        return;
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(listing.stdout.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let parsed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        parsed,
        "1|TCP|198.18.0.99:443||sh|360\n\
         0|TCP|198.18.0.100:80||wlc|300|255.255.255.0\n\
         3|198.18.0.11:8080|Masq|65535\n\
         3|198.18.1.20:80|Masq|0\n\
         2|UDP|198.18.0.101:53||rr\n\
         3|198.18.0.12:53|Route|1\n"
    );
}
