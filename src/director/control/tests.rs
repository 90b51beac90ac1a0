//! The control socket never waits for a client: a silent client, a slow one and a flood of
//! them leave the others answered in the same turn of the director's loop.

use super::*;
use std::io::{BufRead, BufReader};

fn node_with(extra: &str) -> Director {
    let text = "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
                prefix_len = 24\ngateway = \"198.18.0.1\"\n[[service]]\nvip = \"198.18.0.100\"\nport = 80\n\
                scheduler = \"rr\"\n[[service.real_server]]\nname = \"rs1\"\n\
                address = \"198.18.0.11\"\nport = 80\n";
    let settings: crate::node::settings::NodeSettings =
        toml::from_str(&format!("{text}{extra}")).unwrap();
    Director::new(&settings, "d1", 1, Instant::from_millis(0)).unwrap()
}

fn node() -> Director {
    node_with("")
}

fn socket(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tapvs-control-{name}-{}.sock", std::process::id()))
}

fn answer_of(stream: &UnixStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn a_command_sent_in_pieces_across_turns_is_answered() {
    let path = socket("pieces");
    let mut control = Control::bind(&path).unwrap();
    let mut node = node();
    let mut client = UnixStream::connect(&path).unwrap();
    client.write_all(b"act").unwrap();
    control.serve(Instant::from_millis(0), &mut node);
    assert_eq!(control.pending(), 1, "waiting for the rest of the line");
    client.write_all(b"ive 1\n").unwrap();
    control.serve(Instant::from_millis(10), &mut node);
    assert_eq!(answer_of(&client), "ok\n");
    assert!(node.dataplane().is_active());
    assert_eq!(control.pending(), 0);
}

#[test]
fn silent_clients_neither_delay_others_nor_stay_forever() {
    let path = socket("silent");
    let mut control = Control::bind(&path).unwrap();
    let mut node = node();
    let silent: Vec<UnixStream> = (0..3)
        .map(|_| UnixStream::connect(&path).unwrap())
        .collect();
    let mut talker = UnixStream::connect(&path).unwrap();
    talker.write_all(b"stats\n").unwrap();
    control.serve(Instant::from_millis(0), &mut node);
    let stats = answer_of(&talker);
    assert!(stats.contains("\"frames_in\":0"), "{stats}");
    assert_eq!(control.pending(), 3);
    control.serve(Instant::from_millis(CLIENT_DEADLINE_MS), &mut node);
    assert_eq!(control.pending(), 0, "let go at the deadline");
    drop(silent);
}

#[test]
fn a_flood_of_clients_keeps_the_newest_and_long_lines_are_refused() {
    let path = socket("flood");
    let mut control = Control::bind(&path).unwrap();
    let mut node = node();
    let flood: Vec<UnixStream> = (0..40)
        .map(|_| UnixStream::connect(&path).unwrap())
        .collect();
    control.serve(Instant::from_millis(0), &mut node);
    assert_eq!(control.pending(), MAX_CLIENTS);
    let mut long = UnixStream::connect(&path).unwrap();
    long.write_all(&[b'x'; 2 * MAX_LINE]).unwrap();
    let mut talker = UnixStream::connect(&path).unwrap();
    talker.write_all(b"active 1\n").unwrap();
    control.serve(Instant::from_millis(1), &mut node);
    assert_eq!(answer_of(&talker), "ok\n");
    assert!(
        control.pending() < MAX_CLIENTS,
        "the long line's client is gone"
    );
    drop(flood);
}

/// `tapvs ipvsadm` through a real control socket: a change, then the listing that shows it,
/// then -S fed back with -R after -C (ipvsadm-save | ipvsadm-restore).
#[test]
fn ipvsadm_round_trip_through_the_socket() {
    use crate::ipvsadm::{Outcome, Socket, names::PortNames, run};
    let path = socket("ipvsadm");
    let mut control = Control::bind(&path).unwrap();
    let mut dp = node();
    let mut ask = |args: &str, stdin: &str| -> Outcome {
        let args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        let (p, input) = (path.clone(), stdin.to_string());
        let client = std::thread::spawn(move || {
            let mut input = std::io::Cursor::new(input);
            run(&args, &mut Socket(p), &PortNames::default(), &mut input)
        });
        while !client.is_finished() {
            control.serve(Instant::from_millis(0), &mut dp);
            std::thread::sleep(Duration::from_millis(1));
        }
        client.join().unwrap()
    };
    assert_eq!(ask("-a -t 198.18.0.100:80 -r 198.18.0.12 -w 4", "").code, 0);
    assert_eq!(
        ask("-e -t 198.18.0.100:80 -r 198.18.0.11:80 -w 2", "").code,
        0
    );
    let save = ask("-S -n", "");
    assert_eq!(
        save.stdout,
        "-A -t 198.18.0.100:80 -s rr\n\
         -a -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 2\n\
         -a -t 198.18.0.100:80 -r 198.18.0.12:80 -g -w 4\n"
    );
    let refused = ask("-a -t 198.18.0.100:80 -r 198.18.0.12", "");
    assert_eq!(
        (refused.stderr.as_str(), refused.code),
        ("Destination already exists\n", 255)
    );
    let missing = ask("-L -n -t 198.18.0.100:81", "");
    assert_eq!(
        (missing.stderr.as_str(), missing.code),
        ("No such service\n", 1)
    );
    assert_eq!(ask("-C", "").code, 0);
    assert_eq!(ask("-S -n", "").stdout, "");
    let restored = ask("-R", &format!("\n{}", save.stdout));
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    assert_eq!(ask("-S -n", "").stdout, save.stdout);
    let listing = ask("-L -n --timeout", "");
    assert_eq!(listing.stdout, "Timeout (tcp tcpfin udp): 900 120 300\n");
}

const EXTERNAL: &str = "[failover]\nmode = \"external\"\npeers = [\"198.18.0.3\"]\n[sync]\n";

/// The events the node has queued, GARPs and roles only.
fn roles_and_garps(node: &mut Director) -> Vec<crate::node::event::DirectorEvent> {
    use crate::node::event::DirectorEvent;
    std::iter::from_fn(|| node.poll_event())
        .filter(|e| matches!(e, DirectorEvent::Role { .. } | DirectorEvent::GratuitousArp))
        .collect()
}

#[test]
fn role_commands_make_an_external_director_master_and_backup() {
    use crate::node::event::{DirectorEvent, VrrpState};
    let mut node = node_with(EXTERNAL);
    let t = Instant::from_millis;
    assert_eq!(execute("role", t(0), &mut node), "init");
    assert!(!node.dataplane().is_active(), "starts passive");
    assert_eq!(execute("role master", t(10), &mut node), "ok");
    assert!(node.dataplane().is_active());
    assert_eq!(execute("role", t(10), &mut node), "master");
    // The takeover's gratuitous ARP goes out with the next frames sent.
    let mut buf = [0u8; 2048];
    node.handle_timeout(t(10));
    while node.poll_transmit(t(10), &mut buf).is_some() {}
    let master = DirectorEvent::Role {
        state: VrrpState::Master,
    };
    assert_eq!(
        roles_and_garps(&mut node),
        [master, DirectorEvent::GratuitousArp]
    );
    assert_eq!(execute("role master", t(20), &mut node), "ok unchanged");
    assert!(roles_and_garps(&mut node).is_empty(), "no second takeover");
    assert_eq!(execute("role backup", t(30), &mut node), "ok");
    assert!(!node.dataplane().is_active());
    assert_eq!(execute("role", t(30), &mut node), "backup");
    let backup = DirectorEvent::Role {
        state: VrrpState::Backup,
    };
    assert_eq!(roles_and_garps(&mut node), [backup]);
    assert!(execute("role primary", t(40), &mut node).starts_with("error usage"));
}

#[test]
fn the_role_is_not_set_from_outside_without_external_failover() {
    let mut node = node();
    let t = Instant::from_millis(0);
    assert_eq!(execute("role", t, &mut node), "none");
    let answer = execute("role master", t, &mut node);
    assert!(
        answer.starts_with("error") && answer.contains("external"),
        "{answer}"
    );
    assert!(node.dataplane().is_active(), "a lone director stays active");
}
