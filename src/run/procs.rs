//! The processes a run starts in the lab (director, servers, clients): kept by name and PID,
//! ended by PID only — SIGTERM, then SIGKILL if they linger — and always before the lab goes.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// One started process.
pub struct Proc {
    pub name: String,
    pub child: Child,
    /// Started as its own process group (`process_group(0)`) whose members are its own
    /// children (Heartbeat's): a kill ends the whole group; SIGTERM goes to the leader alone,
    /// so it can shut its children down in order.
    pub group: bool,
}

/// Every process a run started; dropping it ends those still running.
#[derive(Default)]
pub struct Procs {
    list: Vec<Proc>,
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on a PID we spawned and have not yet reaped, so it cannot be recycled.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

impl Procs {
    pub fn add(&mut self, name: &str, child: Child) {
        self.list.push(Proc {
            name: name.to_string(),
            child,
            group: false,
        });
    }

    /// [`Procs::add`] for a process group leader whose group is killed with it.
    pub fn add_group(&mut self, name: &str, child: Child) {
        self.list.push(Proc {
            name: name.to_string(),
            child,
            group: true,
        });
    }

    pub fn pid(&self, name: &str) -> Option<u32> {
        self.list
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.child.id())
    }

    /// Has `name` exited? (Reaps it if so.)
    pub fn exited(&mut self, name: &str) -> Option<ExitStatus> {
        let p = self.list.iter_mut().find(|p| p.name == name)?;
        p.child.try_wait().ok().flatten()
    }

    /// Sends SIGKILL to `name` and reaps it (a crash, for fault injection).
    pub fn kill(&mut self, name: &str) -> bool {
        let Some(i) = self.list.iter().position(|p| p.name == name) else {
            return false;
        };
        let mut p = self.list.remove(i);
        kill(&p);
        let _ = p.child.wait();
        true
    }

    /// Ends `name` cleanly: SIGTERM, then SIGKILL after `grace`. Returns its exit status.
    pub fn stop(&mut self, name: &str, grace: Duration) -> Option<ExitStatus> {
        let i = self.list.iter().position(|p| p.name == name)?;
        let mut p = self.list.remove(i);
        Some(stop_child(&mut p, grace))
    }

    /// Ends everything still running.
    pub fn stop_all(&mut self) {
        for p in &self.list {
            signal(&p.child, libc::SIGTERM);
        }
        for mut p in self.list.drain(..) {
            stop_child(&mut p, Duration::from_secs(2));
        }
    }
}

/// SIGKILL to `p`, or to its whole group while its leader is not reaped (so the group id
/// cannot have been reused).
fn kill(p: &Proc) {
    if p.group {
        // SAFETY: kill(2) on the process group this run started, led by an unreaped child.
        unsafe {
            libc::kill(-(p.child.id() as libc::pid_t), libc::SIGKILL);
        }
    } else {
        signal(&p.child, libc::SIGKILL);
    }
}

fn stop_child(p: &mut Proc, grace: Duration) -> ExitStatus {
    // A group leader (Heartbeat) that ends cleanly has ended its children first.
    if let Ok(Some(status)) = p.child.try_wait() {
        return status;
    }
    signal(&p.child, libc::SIGTERM);
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(status)) = p.child.try_wait() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    kill(p);
    p.child
        .wait()
        .unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(9))
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.stop_all();
    }
}
