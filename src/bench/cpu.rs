//! CPU time as the kernel accounts it: a process's time on a CPU (all its threads, in ns, from
//! `/proc/PID/task/*/schedstat`), a core's busy time (`/proc/stat`), and the host's load.

use std::time::Duration;

/// Nanoseconds `pid`'s threads have run on a CPU so far (0 when it is gone).
pub fn process_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Time core `cpu` has been busy so far (user, nice, system, irq, softirq and steal), from
/// `/proc/stat`'s clock ticks.
pub fn core_busy(cpu: usize) -> Duration {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    core_busy_in(&text, cpu)
}

fn core_busy_in(stat: &str, cpu: usize) -> Duration {
    let name = format!("cpu{cpu}");
    let Some(line) = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&name))
    else {
        return Duration::ZERO;
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| v.get(i)).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(busy * 1_000_000_000 / hz)
}

/// The host's one-minute load average (`/proc/loadavg`).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Pins `pid` (all its threads) to the CPUs of `mask` (bit n: CPU n).
pub fn pin(pid: u32, mask: u64) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        if let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) {
            pin_thread(tid, mask);
        }
    }
}

/// Pins thread `tid` (0: the calling thread) to the CPUs of `mask`.
pub fn pin_thread(tid: libc::pid_t, mask: u64) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it; the call only
    // reads it. Failure (a thread gone) changes nothing.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..64 {
            if mask & (1 << cpu) != 0 {
                libc::CPU_SET(cpu, &mut set);
            }
        }
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Gives every thread of `pid` the real-time policy SCHED_FIFO (priority 1), so that no
/// ordinary task shares its core while it has work (it sleeps in poll(2) when it has none, and
/// the kernel's real-time throttling keeps 5 % of each second for others); `false` puts it back
/// to SCHED_OTHER.
pub fn real_time(pid: u32, on: bool) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    let (policy, priority) = if on {
        (libc::SCHED_FIFO, 1)
    } else {
        (libc::SCHED_OTHER, 0)
    };
    for task in tasks.flatten() {
        if let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) {
            let param = libc::sched_param {
                sched_priority: priority,
            };
            // SAFETY: a valid sched_param for the policy; failure (a thread gone, no
            // privilege) leaves the thread as it was.
            unsafe {
                libc::sched_setscheduler(tid, policy, &param);
            }
        }
    }
}

/// Sets the calling thread's nice value (the sender gives way to nothing ordinary).
pub fn nice_thread(nice: i32) {
    // SAFETY: gettid and setpriority on the calling thread only; failure changes nothing.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice);
    }
}

/// Every CPU of this machine, as a mask.
pub fn all_cpus() -> u64 {
    let n = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(64);
    if n == 64 { u64::MAX } else { (1u64 << n) - 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cores_busy_time_sums_all_but_idle_and_iowait() {
        let stat = "cpu  1 1 1 1 1 1 1 1 0 0\ncpu0 100 0 0 900 0 0 0 0 0 0\ncpu1 10 20 30 999 888 40 50 60 0 0\n";
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        let ticks = 10 + 20 + 30 + 40 + 50 + 60;
        assert_eq!(
            core_busy_in(stat, 1),
            Duration::from_nanos(ticks * 1_000_000_000 / hz)
        );
        assert_eq!(
            core_busy_in(stat, 0),
            Duration::from_nanos(100 * 1_000_000_000 / hz)
        );
        assert_eq!(core_busy_in(stat, 2), Duration::ZERO);
    }

    #[test]
    fn this_process_has_run_a_little() {
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(20) {}
        assert!(process_ns(std::process::id()) >= 10_000_000);
    }
}
