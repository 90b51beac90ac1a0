//! Option checks of `tapvs client` (no socket). The whole client against real servers on
//! loopback, in real time, is in `tests/client_loopback.rs`.

use super::*;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn args(line: &str) -> Args {
    let words = std::iter::once("client").chain(line.split_whitespace());
    Cli::try_parse_from(words).unwrap().args
}

#[test]
fn bad_options_are_refused() {
    let refused = |line: &str| {
        args(&format!("--target 127.0.0.1:1 {line}"))
            .check()
            .unwrap_err()
            .option
    };
    assert_eq!(refused("--mode open --rate 0"), "rate");
    assert_eq!(refused("--concurrency 0"), "concurrency");
    assert_eq!(refused("--clients 0"), "clients");
    assert_eq!(
        refused("--client-base 255.255.255.255 --clients 2"),
        "clients"
    );
    assert_eq!(refused("--client-base ::1"), "client-base");
    assert_eq!(refused("--duration 0"), "duration");
    assert_eq!(refused("--interval 0"), "interval");
    assert_eq!(refused("--path nope"), "path");
    assert!(Cli::try_parse_from(["client", "--target", "x:1"]).is_err());
    assert!(Cli::try_parse_from(["client", "--target", "127.0.0.1:1", "--duration", "5"]).is_err());
    assert!(
        Cli::try_parse_from([
            "client",
            "--target",
            "127.0.0.1:1",
            "--path",
            "/",
            "--response-bytes",
            "1"
        ])
        .is_err()
    );
}

#[test]
fn udp_options_are_checked() {
    let refused = |line: &str| {
        args(&format!("--protocol udp --target 127.0.0.1:1 {line}"))
            .check()
            .unwrap_err()
            .option
    };
    assert_eq!(refused("--connection keepalive"), "connection");
    assert_eq!(refused("--path /"), "path");
    assert_eq!(refused("--response-bytes 1401"), "response-bytes");
    let ok =
        args("--protocol udp --target 127.0.0.1:1 --response-bytes 1400 --requests-per-conn 5");
    assert!(ok.check().is_ok());
    assert_eq!(ok.udp_response_bytes(), 1400);
    let default = args("--protocol udp --target 127.0.0.1:1");
    assert_eq!(
        (default.udp_response_bytes(), default.protocol),
        (100, Protocol::Udp)
    );
    // TCP keeps its meaning of the same options.
    assert!(
        args("--target 127.0.0.1:1 --connection keepalive --response-bytes 100000")
            .check()
            .is_ok()
    );
}
