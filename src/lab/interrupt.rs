//! Ctrl-C and friends: SIGINT, SIGTERM and SIGHUP set a flag the runner polls, so it can return an
//! error and let `Drop` tear the lab down. A second signal runs the default action (the process
//! dies at once; `tapvs lab clean` removes what is left).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use signal_hook::SigId;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::{flag, low_level};

use super::LabError;

/// The signals that ask a run to stop.
const SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// Registered handlers for SIGINT, SIGTERM and SIGHUP; unregistered on drop.
#[derive(Debug)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
    ids: Vec<SigId>,
}

impl Interrupt {
    /// Registers the handlers. The first signal sets the flag; a second one (flag already set)
    /// gets the signal's default action, so a stuck teardown can still be killed with Ctrl-C.
    pub fn register() -> Result<Interrupt, LabError> {
        // Dropped on an early return, which unregisters whatever was registered so far.
        let mut interrupt = Interrupt {
            flag: Arc::new(AtomicBool::new(false)),
            signal: Arc::new(AtomicUsize::new(0)),
            ids: Vec::new(),
        };
        for signal in SIGNALS {
            let name = low_level::signal_name(signal).unwrap_or("a signal");
            let failed = |e: std::io::Error| LabError::Command {
                command: format!("registering a handler for {name}"),
                detail: e.to_string(),
            };
            // Order matters: the default action must be checked before the flag is set.
            let ids = [
                flag::register_conditional_default(signal, Arc::clone(&interrupt.flag)),
                flag::register_usize(signal, Arc::clone(&interrupt.signal), signal as usize),
                flag::register(signal, Arc::clone(&interrupt.flag)),
            ];
            for id in ids {
                interrupt.ids.push(id.map_err(failed)?);
            }
        }
        Ok(interrupt)
    }

    /// The flag itself, for threads that poll it.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    /// Has a signal arrived?
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// `Err(LabError::Interrupted(name))` once a signal has arrived.
    pub fn check(&self) -> Result<(), LabError> {
        if !self.is_set() {
            return Ok(());
        }
        let signal = i32::try_from(self.signal.load(Ordering::SeqCst)).unwrap_or(0);
        Err(LabError::Interrupted(
            low_level::signal_name(signal).unwrap_or("a signal"),
        ))
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            low_level::unregister(id);
        }
    }
}
