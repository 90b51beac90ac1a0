//! The interrupt flag: a signal sets it and `check` turns it into an error.

use crate::lab::{Interrupt, LabError};

#[test]
fn sighup_sets_the_interrupt_flag() {
    let interrupt = Interrupt::register().expect("handlers register");
    assert!(!interrupt.is_set());
    interrupt.check().expect("no signal yet");
    // SAFETY: raise only delivers SIGHUP to this thread, where the handler above takes it.
    assert_eq!(unsafe { libc::raise(libc::SIGHUP) }, 0);
    assert!(interrupt.is_set());
    assert!(interrupt.flag().load(std::sync::atomic::Ordering::SeqCst));
    match interrupt.check() {
        Err(LabError::Interrupted(name)) => assert_eq!(name, "SIGHUP"),
        other => panic!("expected Interrupted(SIGHUP), got {other:?}"),
    }
}
