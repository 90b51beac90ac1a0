//! Nothing survives the runner: `kill -9` of `tapvs run` in the middle of a run leaves no process,
//! no namespace and no link behind — within a few seconds by itself (the processes are tethered
//! to the runner and a guardian removes the lab), and after `tapvs lab clean` when the guardian
//! is dead too; a SIGTERM leaves nothing either. One real server is a shell whose background
//! child is not tethered: only the namespace sweep can find it. Root only; skipped with a message
//! otherwise (a failure under CI).

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The tests here run one at a time: one's `lab clean` would remove the other's dead lab.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes the turn of one test (a failed test's poisoned lock is still a turn).
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const SCENARIO: &str = r#"
name = "runner-killed"
[lab]
settle = "200ms"
[service]
scheduler = "rr"
[[real_server]]
name = "rs1"
[[real_server]]
name = "rs2"
weight = 0
command = ["sh", "-c", "sleep 120 & sleep 120"]
[[load]]
name = "web"
mode = "open"
rate = 20
clients = 10
connection = "new"
duration = "60s"
"#;

fn tapvs() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tapvs"))
}

/// Namespace names of the lab `prefix`.
fn namespaces(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(str::to_string)
        .collect()
}

/// Inodes of every named namespace: (inode, name).
fn named_inodes() -> Vec<(u64, String)> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|n| {
            let meta = std::fs::metadata(Path::new("/run/netns").join(n)).ok()?;
            Some((meta.ino(), n.to_string()))
        })
        .collect()
}

/// Links of the root namespace whose name holds `prefix`.
fn root_links(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["-o", "link"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(prefix))
        .map(str::to_string)
        .collect()
}

fn netns_of(pid: u32) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    link.to_str()?
        .strip_prefix("net:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Processes in one of `inodes`, with their command names.
fn processes_in(inodes: &HashSet<u64>) -> Vec<(u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| netns_of(pid).is_some_and(|i| inodes.contains(&i)))
        .map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            (pid, comm.trim().to_string())
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    // A zombie holds nothing: count only processes that still run.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

/// A run in progress: the runner, its lab's prefix, the lab's namespace inodes, and the PIDs the
/// lab recorded (if it records them).
struct Running {
    runner: Child,
    prefix: String,
    inodes: HashSet<u64>,
    recorded: Vec<u32>,
    dir: PathBuf,
}

/// Starts `tapvs run` and waits until the director, both servers (the shell and its background
/// child) and the load generator run in the lab.
fn start_run(tag: &str) -> Running {
    let dir = std::env::temp_dir().join(format!("tapvs-killed-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("runner-killed.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let mut runner = tapvs()
        .arg("run")
        .arg("--results")
        .arg(dir.join("results"))
        .arg(&scenario)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = runner.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("runner: {line}");
            if let Some(rest) = line.strip_prefix("run: lab ") {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let prefix = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the lab comes up");
    let start = Instant::now();
    loop {
        let by_name = |host: &str| {
            let ns = format!("{prefix}-{host}");
            let inodes: HashSet<u64> = named_inodes()
                .into_iter()
                .filter(|(_, n)| *n == ns)
                .map(|(i, _)| i)
                .collect();
            processes_in(&inodes)
        };
        // The load generator (not the status probe that runs in `cl` before it).
        let loading = by_name("cl").iter().any(|&(pid, _)| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|&b| b == 0).any(|w| w == b"client"))
        });
        let started = !by_name("sw").is_empty() && !by_name("rs1").is_empty();
        if started && by_name("rs2").len() >= 2 && loading {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the run's processes did not all start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let inodes: HashSet<u64> = named_inodes()
        .into_iter()
        .filter(|(_, n)| n.starts_with(&format!("{prefix}-")))
        .map(|(i, _)| i)
        .collect();
    let recorded = std::fs::read_to_string(format!("/run/tapvs/{prefix}/pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    Running {
        runner,
        prefix,
        inodes,
        recorded,
        dir,
    }
}

impl Running {
    /// What is left of the lab: processes in its namespaces (ignoring inodes that a namespace of
    /// another name took over since), recorded PIDs still running, namespaces, root links.
    fn leftovers(&self) -> Vec<String> {
        let mut inodes = self.inodes.clone();
        for (inode, name) in named_inodes() {
            if !name.starts_with(&format!("{}-", self.prefix)) {
                inodes.remove(&inode);
            }
        }
        let mut left: Vec<String> = processes_in(&inodes)
            .into_iter()
            .map(|(pid, comm)| format!("process {pid} ({comm}) in the lab"))
            .collect();
        left.extend(
            self.recorded
                .iter()
                .filter(|&&pid| alive(pid) && netns_of(pid).is_some_and(|i| inodes.contains(&i)))
                .map(|pid| format!("recorded process {pid}")),
        );
        left.extend(
            namespaces(&self.prefix)
                .into_iter()
                .map(|n| format!("namespace {n}")),
        );
        left.extend(
            root_links(&self.prefix)
                .into_iter()
                .map(|l| format!("link {l}")),
        );
        left
    }

    /// Waits up to `limit` for nothing to be left; returns what is left then.
    fn wait_empty(&self, limit: Duration) -> Vec<String> {
        let start = Instant::now();
        loop {
            let left = self.leftovers();
            if left.is_empty() || start.elapsed() > limit {
                return left;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM to the runner (by the PID we spawned); waits for it to exit.
    fn terminate_runner(&mut self) -> std::process::ExitStatus {
        let pid = i32::try_from(self.runner.id()).unwrap();
        // SAFETY: kill(2) on our unreaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        self.runner.wait().unwrap()
    }

    fn kill_runner(&mut self) {
        self.runner.kill().unwrap(); // SIGKILL, by the PID we spawned
        self.runner.wait().unwrap();
    }

    /// Whatever happens, the lab goes (so a failing test leaves nothing either).
    fn clean(&self) -> String {
        let out = tapvs().args(["lab", "clean"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.runner.kill();
        let _ = self.runner.wait();
        let _ = tapvs().args(["lab", "down", &self.prefix]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn kill_9_of_the_runner_leaves_nothing_within_seconds() {
    if !common::lab_can_run("kill_9_of_the_runner_leaves_nothing_within_seconds") {
        return;
    }
    let _turn = one_at_a_time();
    let mut run = start_run("guarded");
    assert!(
        run.inodes.len() >= 5,
        "the lab's namespaces: {:?}",
        run.inodes
    );
    let killed = Instant::now();
    run.kill_runner();
    let left = run.wait_empty(Duration::from_secs(5));
    assert!(
        left.is_empty(),
        "5 s after kill -9 of the runner: {left:#?}"
    );
    eprintln!("nothing left {:?} after kill -9", killed.elapsed());
    run.clean();
    assert_eq!(run.leftovers(), Vec::<String>::new(), "after lab clean");
}

#[test]
fn lab_clean_ends_what_a_killed_runner_left() {
    if !common::lab_can_run("lab_clean_ends_what_a_killed_runner_left") {
        return;
    }
    let _turn = one_at_a_time();
    let mut run = start_run("clean");
    // No guardian: only `lab clean` can remove the lab.
    let guardian = std::fs::read_to_string(format!("/run/tapvs/{}/guardian.pid", run.prefix));
    if let Some(pid) = guardian.ok().and_then(|p| p.trim().parse::<i32>().ok()) {
        // SAFETY: kill(2) on the guardian the runner we started started for this lab.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    run.kill_runner();
    std::thread::sleep(Duration::from_secs(2));
    let before = run.leftovers();
    assert!(
        before.iter().any(|l| l.starts_with("namespace")),
        "without a guardian the lab stays until `lab clean`: {before:#?}"
    );
    // Tethered, every process the runner started died with it; only what they forked is left
    // (the shell's untethered `sleep`s).
    assert!(!run.recorded.is_empty(), "the lab records what it starts");
    let untethered: Vec<&String> = before
        .iter()
        .filter(|l| l.contains("process") && !l.ends_with("(sleep) in the lab"))
        .collect();
    assert!(
        untethered.is_empty(),
        "2 s after kill -9 of the runner: {untethered:#?}"
    );
    assert!(
        before.iter().any(|l| l.ends_with("(sleep) in the lab")),
        "the shell's background child is not tethered: {before:#?}"
    );
    let said = run.clean();
    assert!(
        said.contains(&run.prefix),
        "lab clean names the lab: {said}"
    );
    assert_eq!(run.leftovers(), Vec::<String>::new(), "after lab clean");
}

#[test]
fn sigterm_of_the_runner_leaves_nothing_either() {
    if !common::lab_can_run("sigterm_of_the_runner_leaves_nothing_either") {
        return;
    }
    let _turn = one_at_a_time();
    let mut run = start_run("sigterm");
    let status = run.terminate_runner();
    assert_eq!(status.code(), Some(2), "an interrupted run is an error");
    // The runner tore its lab down itself, the background `sleep`s included.
    assert_eq!(run.leftovers(), Vec::<String>::new(), "after SIGTERM");
}
