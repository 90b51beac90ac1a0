//! The shell work of `tapvs bench`'s labs: `ip` and other commands in a lab host's namespace,
//! the MAC and RPS mask of an interface there, and starting and ending the processes it runs
//! (its own children only, by PID).

use crate::lab::Lab;
use anyhow::{Context, bail};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Ends `child` (one of ours, by its PID): SIGTERM, then SIGKILL after a second.
pub fn stop(child: &mut Child) {
    // SAFETY: kill(2) on the PID of a child we spawned and have not reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts a middle box, its stdout and stderr into `<state dir>/<name>.log`.
pub fn spawn_quiet(lab: &Lab, name: &str, mut command: Command) -> anyhow::Result<Child> {
    let log = lab.state_dir().join(format!("{name}.log"));
    let file = std::fs::File::create(&log).with_context(|| format!("{}", log.display()))?;
    command.stdout(file.try_clone()?).stderr(file);
    lab.spawn(name, &mut command)
        .with_context(|| format!("starting {name}"))
}

/// `ip -n <host's namespace> ARGS`.
pub fn ip(lab: &Lab, host: &str, args: &[&str]) -> anyhow::Result<()> {
    let ns = lab.netns(host);
    let out = Command::new("ip")
        .args(["-n", &ns])
        .args(args)
        .output()
        .context("running ip")?;
    if !out.status.success() {
        bail!(
            "ip -n {ns} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Runs `program ARGS` in `host`'s namespace, with `stdin` as its input, and returns its output.
pub fn in_netns(
    lab: &Lab,
    host: &str,
    program: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> anyhow::Result<String> {
    use std::io::Write;
    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.netns(host), program])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {program} in {host}"))?;
    if let Some(text) = stdin
        && let Some(mut input) = child.stdin.take()
    {
        input.write_all(text.as_bytes())?;
    }
    drop(child.stdin.take());
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{program} {} in {host}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The MAC of `ifname` in `host`'s namespace.
pub fn mac_of(lab: &Lab, host: &str, ifname: &str) -> anyhow::Result<String> {
    let path = format!("/sys/class/net/{ifname}/address");
    Ok(in_netns(lab, host, "cat", &[&path], None)?
        .trim()
        .to_owned())
}

/// Sets the RPS CPU mask of `ifname`'s receive queue in `host`'s namespace.
pub fn rps(lab: &Lab, host: &str, ifname: &str, mask: &str) -> anyhow::Result<()> {
    let script = format!("echo {mask} > /sys/class/net/{ifname}/queues/rx-0/rps_cpus");
    in_netns(lab, host, "sh", &["-c", &script], None).map(drop)
}
