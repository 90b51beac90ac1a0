//! Root-only tests of teardown: on panic, after a failed step, and by `clean`. Each touches only
//! the prefixes it created (other runs' labs with live owners must survive `clean`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;
use std::sync::Mutex;

use super::support::{assert_gone, lab_tests_can_run, namespaces_of};
use crate::lab::{Lab, LabError, Topology, clean, script, state};

#[test]
fn a_panic_unwinds_through_the_lab_and_removes_it() {
    if !lab_tests_can_run("a_panic_unwinds_through_the_lab_and_removes_it") {
        return;
    }
    let prefix = Mutex::new(None);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let lab = Lab::up(&Topology::standard(1)).expect("lab up");
        *prefix.lock().unwrap() = Some(lab.prefix().to_owned());
        assert_eq!(namespaces_of(lab.prefix()).len(), 4);
        panic!("deliberate panic while a lab is up");
    }));
    assert!(outcome.is_err());
    let prefix = prefix.into_inner().unwrap().expect("the lab was built");
    assert_gone(&prefix);
}

#[test]
fn a_failed_step_is_named_and_the_half_built_lab_removed() {
    if !lab_tests_can_run("a_failed_step_is_named_and_the_half_built_lab_removed") {
        return;
    }
    let mark = r#"ip -n "$NS_CL" route add local 198.19.0.0/16 dev lo"#;
    assert!(
        script::LAB_UP.contains(mark),
        "lab-up.sh changed: update this test"
    );
    let broken = script::LAB_UP.replace(mark, &format!("{mark}\nfalse"));
    let error =
        Lab::up_with(&Topology::standard(1), &[], &broken).expect_err("the injected step fails");
    let LabError::Script {
        script: "lab-up.sh",
        step,
        stderr,
        ..
    } = &error
    else {
        panic!("expected a lab-up.sh error, got {error:?}");
    };
    assert!(step.starts_with("clients tv"), "step {step:?}");
    assert!(stderr.contains("false"), "stderr {stderr:?}");
    // "clients tv1a2b-cl: ..." names the prefix.
    let namespace = step.split_whitespace().nth(1).unwrap_or_default();
    let prefix = namespace
        .strip_suffix("-cl:")
        .expect("step names the client namespace");
    assert_gone(prefix);
}

#[test]
fn clean_removes_labs_without_a_live_owner_and_keeps_the_others() {
    if !lab_tests_can_run("clean_removes_labs_without_a_live_owner_and_keeps_the_others") {
        return;
    }
    let mut topo = Topology::standard(1);
    topo.directors.clear();
    // A: its owner died.
    let dead = Lab::up(&topo).expect("lab A up");
    let mut child = Command::new("true").spawn().expect("spawn true");
    let dead_pid = child.id();
    child.wait().unwrap();
    state::write_owner(dead.prefix(), dead_pid).unwrap();
    // B: owned by this (live) process.
    let alive = Lab::up(&topo).expect("lab B up");
    // C: kept by hand (owner 0).
    let kept = Lab::up(&topo).expect("lab C up").keep().expect("keep");
    assert_eq!(state::read_owner(&kept), Some(0));
    assert_eq!(namespaces_of(&kept).len(), 4, "a kept lab stays up");
    // D: a namespace without a state dir.
    let orphan = state::claim_prefix(std::process::id()).unwrap();
    let ns = format!("{orphan}-sw");
    assert!(
        Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap()
            .success()
    );
    std::fs::remove_dir_all(state::state_dir(&orphan)).unwrap();

    let removed = match clean() {
        Ok(removed) => removed,
        // Another run's leftovers may fail to go; only ours matter here.
        Err(LabError::CleanIncomplete { removed, failures }) => {
            eprintln!("clean failed on others' labs: {failures:?}");
            removed
        }
        Err(e) => panic!("clean: {e}"),
    };
    for prefix in [dead.prefix(), &kept, &orphan] {
        assert!(
            removed.iter().any(|p| p == prefix),
            "{prefix} not in {removed:?}"
        );
        assert_gone(prefix);
    }
    assert!(
        !removed.iter().any(|p| p == alive.prefix()),
        "removed a live lab: {removed:?}"
    );
    assert_eq!(
        namespaces_of(alive.prefix()).len(),
        4,
        "the live lab was touched"
    );
    assert!(alive.state_dir().join("owner.pid").exists());

    let (dead_prefix, alive_prefix) = (dead.prefix().to_owned(), alive.prefix().to_owned());
    dead.down()
        .expect("removing an already removed lab is fine");
    alive.down().expect("lab B down");
    assert_gone(&dead_prefix);
    assert_gone(&alive_prefix);
}
