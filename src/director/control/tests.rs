//! The control socket never waits for a client: a silent client, a slow one and a flood of
//! them leave the others answered in the same turn of the director's loop.

use super::*;
use std::io::{BufRead, BufReader};

fn dataplane() -> Dataplane {
    let text = "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
                prefix_len = 24\ngateway = \"198.18.0.1\"\n[[service]]\nvip = \"198.18.0.100\"\nport = 80\n\
                scheduler = \"rr\"\n[[service.real_server]]\nname = \"rs1\"\n\
                address = \"198.18.0.11\"\nport = 80\n";
    Dataplane::new(
        &toml::from_str::<crate::node::settings::NodeSettings>(text)
            .unwrap()
            .dataplane(),
        1,
    )
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
    let mut dp = dataplane();
    let mut client = UnixStream::connect(&path).unwrap();
    client.write_all(b"act").unwrap();
    control.serve(Instant::from_millis(0), &mut dp);
    assert_eq!(control.pending(), 1, "waiting for the rest of the line");
    client.write_all(b"ive 1\n").unwrap();
    control.serve(Instant::from_millis(10), &mut dp);
    assert_eq!(answer_of(&client), "ok\n");
    assert!(dp.is_active());
    assert_eq!(control.pending(), 0);
}

#[test]
fn silent_clients_neither_delay_others_nor_stay_forever() {
    let path = socket("silent");
    let mut control = Control::bind(&path).unwrap();
    let mut dp = dataplane();
    let silent: Vec<UnixStream> = (0..3)
        .map(|_| UnixStream::connect(&path).unwrap())
        .collect();
    let mut talker = UnixStream::connect(&path).unwrap();
    talker.write_all(b"stats\n").unwrap();
    control.serve(Instant::from_millis(0), &mut dp);
    let stats = answer_of(&talker);
    assert!(stats.contains("\"frames_in\":0"), "{stats}");
    assert_eq!(control.pending(), 3);
    control.serve(Instant::from_millis(CLIENT_DEADLINE_MS), &mut dp);
    assert_eq!(control.pending(), 0, "let go at the deadline");
    drop(silent);
}

#[test]
fn a_flood_of_clients_keeps_the_newest_and_long_lines_are_refused() {
    let path = socket("flood");
    let mut control = Control::bind(&path).unwrap();
    let mut dp = dataplane();
    let flood: Vec<UnixStream> = (0..40)
        .map(|_| UnixStream::connect(&path).unwrap())
        .collect();
    control.serve(Instant::from_millis(0), &mut dp);
    assert_eq!(control.pending(), MAX_CLIENTS);
    let mut long = UnixStream::connect(&path).unwrap();
    long.write_all(&[b'x'; 2 * MAX_LINE]).unwrap();
    let mut talker = UnixStream::connect(&path).unwrap();
    talker.write_all(b"active 1\n").unwrap();
    control.serve(Instant::from_millis(1), &mut dp);
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
    let mut dp = dataplane();
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
