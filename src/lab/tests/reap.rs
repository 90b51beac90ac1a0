//! Root-only tests of ending a dead lab's processes (`reap`): everything inside the lab's
//! namespaces goes, recorded or not; nothing outside, even under a recorded PID.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::support::{assert_gone, lab_tests_can_run};
use crate::lab::{Lab, Topology, reap, record};

/// `sleep 30` in namespace `ns` (through `ip netns exec`, untethered), or in our own.
fn sleep_in(ns: Option<&str>) -> std::process::Child {
    let mut command = Command::new(if ns.is_some() { "ip" } else { "sleep" });
    if let Some(ns) = ns {
        command.args(["netns", "exec", ns, "sleep"]);
    }
    command.arg("30").stdout(Stdio::null());
    command.spawn().expect("spawn sleep")
}

#[test]
fn a_dead_labs_processes_end_and_nothing_outside_it() {
    if !lab_tests_can_run("a_dead_labs_processes_end_and_nothing_outside_it") {
        return;
    }
    let lab = Lab::up(&Topology::standard(1)).expect("lab up");
    let prefix = lab.prefix().to_owned();
    // Recorded and tethered, as the runner starts them.
    let mut command = lab.command("cl", "sleep");
    command.arg("30");
    let mut recorded = lab.spawn("sleeper", &mut command).expect("spawn in cl");
    // Not recorded: what a started process forks.
    let mut forked = sleep_in(Some(&lab.netns("rs1")));
    // Outside the lab, under a recorded PID (as if the PID had been reused).
    let mut outside = sleep_in(None);
    record::record_pid(&prefix, outside.id(), "reused").expect("record");
    // Wait until both `ip netns exec` have entered their namespace (slow on a busy machine).
    let entered = |pid: u32, host: &str| {
        record::process_netns(pid) == record::namespace_inode(&lab.netns(host))
    };
    let start = std::time::Instant::now();
    while !(entered(recorded.id(), "cl") && entered(forked.id(), "rs1")) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "sleep never entered the lab"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let ended = reap::end_processes(&prefix).expect("end the lab's processes");

    let outside_alive = outside.try_wait().expect("try_wait").is_none();
    let _ = outside.kill();
    let _ = outside.wait();
    assert!(outside_alive, "a process outside the lab must survive");
    assert_eq!(
        ended, 2,
        "the recorded one in cl and the unrecorded one in rs1"
    );
    for child in [&mut recorded, &mut forked] {
        let status = child.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
    }
    lab.down().expect("lab down");
    assert_gone(&prefix);
}
