//! The parser against what the real ipvsadm 1.31 did with the same command lines (observed
//! through tests/golden/ipvsadm/fake-kernel.c: its SET log shows what ipvsadm parsed, its
//! stderr and exit status the refusals).

use super::*;

fn names() -> PortNames {
    PortNames::parse("http 80/tcp www\ndomain 53/udp\n")
}

fn parse_line(line: &str) -> Result<Invocation, Failure> {
    let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    parse("ipvsadm", &args, &names())
}

fn ok(line: &str) -> Invocation {
    parse_line(line).unwrap_or_else(|f| panic!("`{line}`: {}", f.message))
}

fn refused(line: &str) -> (String, u8) {
    let f = parse_line(line).expect_err(line);
    (f.message, f.code)
}

fn svc(port: u16) -> Option<ServiceKey> {
    Some(ServiceKey {
        protocol: Protocol::Tcp,
        addr: Ipv4Addr::new(198, 18, 0, 100),
        port,
    })
}

#[test]
fn add_service_defaults_and_options_as_ipvsadm_sent_them() {
    let i = ok("-A -t 198.18.0.100:80");
    assert_eq!(i.command, Command::AddService);
    assert_eq!(i.service, svc(80));
    assert_eq!((i.scheduler.as_str(), i.persistent), ("wlc", None));
    assert_eq!(i.netmask, Ipv4Addr::BROADCAST);
    // `-p` alone: 360 s (ipvsadm 1.31's default, observed), before another option too.
    assert_eq!(ok("-A -t 198.18.0.100:80 -s rr -p").persistent, Some(360));
    assert_eq!(ok("-A -t 198.18.0.100:80 -p -s rr").persistent, Some(360));
    assert_eq!(ok("-A -t 198.18.0.100:80 -p -s rr").scheduler, "rr");
    assert_eq!(ok("-A -t 198.18.0.100:80 -p60").persistent, Some(60));
    assert_eq!(ok("-A -t 198.18.0.100:80 -p 20").persistent, Some(20));
    let i = ok("-A --tcp-service=198.18.0.100:80 --scheduler=rr --persistent=60");
    assert_eq!((i.scheduler.as_str(), i.persistent), ("rr", Some(60)));
    let i = ok("-A -t198.18.0.100:http -srr -p 300 -M 255.255.255.0");
    assert_eq!(i.service, svc(80));
    assert_eq!(i.netmask, Ipv4Addr::new(255, 255, 255, 0));
    // inet_aton reads one number as the whole address.
    assert_eq!(
        ok("-A -t 198.18.0.100:80 -M 24").netmask,
        Ipv4Addr::new(0, 0, 0, 24)
    );
    let udp = ok("--add-service -u 198.18.0.100:domain").service.unwrap();
    assert_eq!((udp.protocol, udp.port), (Protocol::Udp, 53));
    assert_eq!(ok("-E -t 198.18.0.100:80").command, Command::EditService);
    assert_eq!(ok("-D -t 198.18.0.100:80").command, Command::DeleteService);
}

#[test]
fn real_servers_take_the_service_port_unless_masqueraded() {
    let rs = |port| Some((Ipv4Addr::new(198, 18, 0, 11), port));
    let i = ok("-a -t 198.18.0.100:80 -r 198.18.0.11:8080 -w 3");
    assert_eq!((i.server, i.method, i.weight), (rs(80), Method::Route, 3));
    let i = ok("-a -t 198.18.0.100:80 -r 198.18.0.11:8080 -m");
    assert_eq!((i.server, i.method, i.weight), (rs(8080), Method::Masq, 1));
    assert_eq!(ok("-a -t 198.18.0.100:80 -r 198.18.0.11 -m").server, rs(80));
    assert_eq!(ok("-a -t 198.18.0.100:80 -r 198.18.0.11:0").server, rs(80));
    let tunnel = ok("-a -t 198.18.0.100:80 -r 198.18.0.11 -i");
    assert_eq!(tunnel.method, Method::Tunnel);
    assert_eq!(ok("-e -t 198.18.0.100:80 -r 198.18.0.11 -w 0").weight, 0);
    let max = ok("-a -t 198.18.0.100:80 -r 198.18.0.11 -w 2147483647");
    assert_eq!(max.weight, 2_147_483_647);
    let d = ok("-d -t 198.18.0.100:80 -r 198.18.0.11");
    assert_eq!(d.command, Command::DeleteServer);
    let x = ok("-a -t 198.18.0.100:80 -r 198.18.0.11 -x 5 -y 2");
    assert_eq!(x.thresholds, [5, 2]);
}

#[test]
fn list_flags_bundle_and_combine() {
    let f = ok("-Lnc").format;
    assert!(f.numeric && f.connection);
    let f = ok("-l -n --rate --exact --nosort --sort").format;
    assert!(f.numeric && f.rate && f.exact && f.nosort && !f.stats);
    let f = ok("-L --stats --rate").format;
    assert!(f.stats && f.rate);
    assert!(ok("-L -X").format.exact);
    assert!(ok("-L -c -n --persistent-conn").format.persistent_conn);
    assert!(ok("-L --timeout").format.timeout);
    assert_eq!(ok("-L -n -t 198.18.0.100:80").service, svc(80));
    assert_eq!(ok("--list --numeric").command, Command::List);
    assert_eq!(ok("").command, Command::List);
    assert_eq!(ok("-S -n").command, Command::Save);
    assert_eq!(ok("-C").command, Command::Flush);
    assert_eq!(ok("-Z").service, None);
    assert_eq!(ok("-Z -t 198.18.0.100:80").service, svc(80));
    assert_eq!(ok("-R").command, Command::Restore);
    assert_eq!(ok("--set 1 2 3").timeouts, [1, 2, 3]);
    assert_eq!(ok("--set 0 0 0").timeouts, [0, 0, 0]);
}

/// Each refusal as the real ipvsadm 1.31 printed it, with its exit status.
const REFUSALS: &[(&str, &str, u8)] = &[
    (
        "-A -t 198.18.0.100 -s rr",
        "Zero port specified for non-persistent service",
        2,
    ),
    (
        "-A -t 198.18.0.100:80 -p 0",
        "invalid timeout value `0' specified",
        2,
    ),
    (
        "-A -t 198.18.0.100:80 -p 2678401",
        "invalid timeout value `2678401' specified",
        2,
    ),
    (
        "-A -t 198.18.0.100:80 -p x",
        "invalid timeout value `x' specified",
        2,
    ),
    (
        "-A -t foo:80",
        "illegal virtual server address[:port] specified",
        2,
    ),
    (
        "-A -t 198.18.0.100:x",
        "illegal virtual server address[:port] specified",
        2,
    ),
    (
        "-A -t 198.18.0.100:65536",
        "illegal virtual server address[:port] specified",
        2,
    ),
    (
        "-A -t -s rr",
        "illegal virtual server address[:port] specified",
        2,
    ),
    (
        "-A -t 198.18.0.100:80 -M 255.255.255.256",
        "illegal virtual server persistent mask specified",
        2,
    ),
    (
        "-A -t 198.18.0.100:80 -u 198.18.0.100:80",
        "multiple 'service-address' options specified",
        2,
    ),
    (
        "-A -t 198.18.0.100:80 -s rr -s wrr",
        "multiple 'scheduler' options specified",
        2,
    ),
    ("-L -n -n", "multiple 'numeric' options specified", 2),
    (
        "-A",
        "You need to supply the 'service-address' option for the 'add-service' command",
        2,
    ),
    (
        "-a -t 198.18.0.100:80",
        "You need to supply the 'real-server' option for the 'add-server' command",
        2,
    ),
    ("-A -L", "invalid option `-L'", 2),
    (
        "-a -t 198.18.0.100:80 -r 198.18.0.11 -w 2147483648",
        "illegal weight specified",
        2,
    ),
    (
        "-a -t 198.18.0.100:80 -r 198.18.0.11 -w -1",
        "illegal weight specified",
        2,
    ),
    (
        "-a -t 198.18.0.100:80 -r foo",
        "illegal real server address[:port] specified",
        2,
    ),
    (
        "-a -t 198.18.0.100:80 -r 198.18.0.11:99999",
        "illegal real server address[:port] specified",
        2,
    ),
    (
        "-a -t 198.18.0.100:80 -r 198.18.0.11 -g -m",
        "multiple 'forwarding-method' options specified",
        2,
    ),
    (
        "-d -t 198.18.0.100:80 -r 198.18.0.11 -w 1",
        "Illegal 'weight' option with the 'delete-server' command",
        2,
    ),
    (
        "-D -t 198.18.0.100:80 -s rr",
        "Illegal 'scheduler' option with the 'delete-service' command",
        2,
    ),
    (
        "-C -n",
        "Illegal 'numeric' option with the 'flush' command",
        2,
    ),
    (
        "-Z -n",
        "Illegal 'numeric' option with the 'zero' command",
        2,
    ),
    (
        "-R -n",
        "Illegal 'numeric' option with the 'restore' command",
        2,
    ),
    (
        "-S -c",
        "Illegal 'connection' option with the 'save' command",
        2,
    ),
    (
        "-L -g",
        "Illegal 'forwarding-method' option with the 'list' command",
        2,
    ),
    (
        "-A -t 198.18.0.100:80 -X",
        "Illegal 'exact' option with the 'add-service' command",
        2,
    ),
    (
        "-L -t 198.18.0.100:80 -c",
        "The option 'service-address' conflicts with the 'connection' option in the 'list' command",
        2,
    ),
    (
        "-L -c --timeout",
        "The option 'timeout' conflicts with the 'connection' option in the 'list' command",
        2,
    ),
    (
        "-L --timeout --daemon",
        "The option 'daemon' conflicts with the 'timeout' option in the 'list' command",
        2,
    ),
    ("-L -c --stats", "options conflicts in the list command", 2),
    (
        "-L --timeout --persistent-conn",
        "options conflicts in the list command",
        2,
    ),
    ("-L extra", "unexpected argument extra", 2),
    ("extra -L", "unexpected argument extra", 2),
    (
        "-A -t 198.18.0.100:80 -s rr extra",
        "unexpected argument extra",
        2,
    ),
    ("--set 1 2", "--set option requires 3 timeout values", 2),
    ("--set 1 2 3 4", "unexpected argument 4", 2),
    ("--set 1 2 x", "invalid timeout value `x' specified", 2),
    (
        "-A -t 198.18.0.100:80 --ops",
        "One-Packet Scheduling is only for UDP virtual services",
        2,
    ),
    ("-L -n --foo", "--foo: unknown option", 255),
    ("-L -Q", "-Q: unknown option", 255),
    ("-Lnq", "-Lnq: unknown option", 255),
    (
        "-L --stats=3",
        "--stats=3: option does not take an argument",
        255,
    ),
    ("-A -t", "-t: missing argument", 255),
    ("-A --tcp-service", "--tcp-service: missing argument", 255),
    ("-A -t 198.18.0.100:80 -s", "-s: missing argument", 255),
    ("--set -1 2 3", "-1: unknown option", 255),
    (
        "-A -t bad -Q",
        "illegal virtual server address[:port] specified",
        2,
    ),
];

#[test]
fn refusals_in_ipvsadm_words_and_exit_codes() {
    for (line, message, code) in REFUSALS {
        assert_eq!(
            refused(line),
            (message.to_string(), *code),
            "ipvsadm {line}"
        );
    }
    let try_help = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.".to_string();
    for line in ["-X", "--foo", "-n -L", "-V", "extra"] {
        assert_eq!(refused(line), (try_help.clone(), 255), "ipvsadm {line}");
    }
}
