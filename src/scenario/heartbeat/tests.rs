//! Heartbeat's settings from scenario keys and from its own files: what is read, and every
//! refusal naming the file, the line (or field) and the key.

use super::*;
use crate::scenario::Scenario;

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);

/// A scenario with `failover` as its `[failover]` body and `events` appended.
fn scenario_text(failover: &str, events: &str) -> String {
    format!(
        "[failover]\n{failover}\n[service]\nscheduler = \"rr\"\n[[real_server]]\nname = \"rs1\"\n\
         [[load]]\nname = \"web\"\nmode = \"open\"\nrate = 10\nconnection = \"new\"\nduration = \"4s\"\n\
         {events}"
    )
}

/// A folder removed when dropped.
struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes the scenario and `files` into a fresh folder and reads it back.
fn load(failover: &str, events: &str, files: &[(&str, &str)]) -> Result<Scenario, String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = Folder(std::env::temp_dir().join(format!("tapvs-hb-{}-{n}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    for (name, text) in files {
        std::fs::write(dir.0.join(name), text).unwrap();
    }
    let path = dir.0.join("s.toml");
    std::fs::write(&path, scenario_text(failover, events)).unwrap();
    Scenario::load(&path).map_err(|e| e.to_string())
}

fn heartbeat_of(s: &Scenario) -> Heartbeat {
    s.failover.as_ref().unwrap().heartbeat.clone().unwrap()
}

#[test]
fn scenario_keys_and_defaults() {
    let s = load(
        "manager = \"heartbeat\"\nkeepalive = \"200ms\"\ndeadtime = \"1s\"\nmedia = \"bcast\"",
        "",
        &[],
    )
    .unwrap();
    let hb = heartbeat_of(&s);
    assert_eq!(hb.keepalive, Duration::from_millis(200));
    assert_eq!(hb.deadtime, Duration::from_secs(1));
    assert_eq!(hb.warntime(), Duration::from_millis(600), "halfway");
    assert_eq!(hb.initdead(), Duration::from_secs(2), "twice the deadtime");
    assert!(hb.auto_failback);
    assert_eq!((hb.media, hb.udpport, hb.preferred), (Media::Bcast, 694, 0));
    assert_eq!(hb.nodes, ["d1".to_string(), "d2".to_string()]);
    let vrrp = load("", "", &[]).unwrap();
    assert!(vrrp.failover.unwrap().heartbeat.is_none());
}

#[test]
fn scenario_keys_are_checked_by_field() {
    let cases = [
        (
            "keepalive = \"1s\"",
            "failover.keepalive",
            "manager = \"heartbeat\"",
        ),
        (
            "manager = \"heartbeat\"\nkeepalive = \"500ms\"\ndeadtime = \"900ms\"",
            "failover.deadtime",
            "two keepalives",
        ),
        (
            "manager = \"heartbeat\"\ndeadtime = \"4s\"\nwarntime = \"5s\"",
            "failover.warntime",
            "between",
        ),
        (
            "manager = \"heartbeat\"\ndeadtime = \"4s\"\ninitdead = \"3s\"",
            "failover.initdead",
            "at least deadtime",
        ),
        (
            "manager = \"heartbeat\"\nha_cf = \"ha.cf\"\ndeadtime = \"4s\"",
            "failover.deadtime",
            "not in both",
        ),
        (
            "manager = \"heartbeat\"\nkeepalive = \"1s\"\nsweep_deadtimes = [\"4s\", \"1s\"]",
            "failover.sweep_deadtimes[1]",
            "deadtime must span",
        ),
        (
            "manager = \"heartbeat\"\npeer = \"keepalived\"",
            "failover.peer",
            "two tapvs directors",
        ),
    ];
    for (body, field, reason) in cases {
        let e = load(body, "", &[("ha.cf", "node a b\n")]).unwrap_err();
        assert!(
            e.contains(&format!("`{field}`")) && e.contains(reason),
            "{body}: {e}"
        );
        assert!(e.contains("s.toml"), "{e}");
    }
}

#[test]
fn faults_heartbeat_cannot_see_are_refused() {
    let event = "[[event]]\nat = \"1s\"\naction = \"freeze_director\"\ndirector = \"d1\"\n";
    let e = load("manager = \"heartbeat\"", event, &[]).unwrap_err();
    assert!(
        e.contains("event[0].action") && e.contains("heartbeat"),
        "{e}"
    );
    let kill = "[[event]]\nat = \"1s\"\naction = \"kill_director\"\ndirector = \"d1\"\n";
    load("manager = \"heartbeat\"", kill, &[]).unwrap();
}

const HA_CF: &str = "# the seed's ha.cf, lab style
logfile /var/log/ha-log
logfacility local0
keepalive 200ms
deadtime 1
warntime 0.5
initdead 10
udpport 694
ucast eth0 192.168.1.2   # the other director
auto_failback off
node lb1
node lb2
crm off
";

#[test]
fn an_ha_cf_and_haresources_are_read() {
    let files = [
        ("ha.cf", HA_CF),
        (
            "haresources",
            "# group\nlb2 IPaddr::198.18.0.100/24/eth0 \\\n    LVSSyncDaemonSwap::master\n",
        ),
    ];
    let s = load(
        "manager = \"heartbeat\"\nha_cf = \"ha.cf\"\nharesources = \"haresources\"",
        "",
        &files,
    )
    .unwrap();
    let hb = heartbeat_of(&s);
    assert_eq!(hb.keepalive, Duration::from_millis(200));
    assert_eq!(hb.deadtime, Duration::from_secs(1));
    assert_eq!(hb.warntime, Some(Duration::from_millis(500)));
    assert_eq!(hb.initdead, Some(Duration::from_secs(10)));
    assert!(!hb.auto_failback);
    assert_eq!(hb.media, Media::Ucast);
    assert_eq!(hb.nodes, ["lb1".to_string(), "lb2".to_string()]);
    assert_eq!(hb.preferred, 1, "lb2 holds the group");
}

#[test]
fn a_missing_file_is_the_scenario_field_s_error() {
    let e = load("manager = \"heartbeat\"\nha_cf = \"nowhere.cf\"", "", &[]).unwrap_err();
    assert!(
        e.contains("s.toml: field `failover.ha_cf`") && e.contains("nowhere.cf: cannot read"),
        "{e}"
    );
}

#[test]
fn unsupported_ha_cf_lines_are_refused_with_file_line_and_key() {
    let path = Path::new("conf/ha.cf");
    let cases: [(&str, usize, &str, &str); 8] = [
        ("ping 10.10.10.254", 14, "ping", "not supported"),
        ("crm respawn", 14, "crm", "crm off"),
        ("mcast eth0 225.0.0.1 694 1 0", 14, "mcast", "not supported"),
        (
            "bcast eth1",
            14,
            "bcast",
            "second medium (the first is on line 9)",
        ),
        ("auto_failback legacy", 14, "auto_failback", "on or off"),
        ("node lb3", 14, "node", "3 node(s)"),
        ("deadtime 0.3", 14, "deadtime", "two keepalives"),
        ("keepalive 2 3", 14, "keepalive", "one value"),
    ];
    for (extra, line, key, reason) in cases {
        let text = format!("{HA_CF}{extra}\n");
        let e = ha_cf(path, &text).unwrap_err().to_string();
        let want = format!("conf/ha.cf:{line}: `{key}`");
        assert!(e.starts_with(&want) && e.contains(reason), "{extra}: {e}");
    }
    let late_port = HA_CF
        .replace("udpport 694\n", "")
        .replace("crm off\n", "crm off\nudpport 700\n");
    let e = ha_cf(path, &late_port).unwrap_err().to_string();
    assert!(e.contains("`udpport`") && e.contains("before"), "{e}");
}

#[test]
fn haresources_refusals_name_the_line_and_the_resource() {
    let nodes = ["lb1".to_string(), "lb2".to_string()];
    let path = Path::new("haresources");
    let cases = [
        (
            "lb1 IPaddr::198.18.0.100 ldirectord::../../etc/passwd\n",
            "haresources:1: `ldirectord::../../etc/passwd`",
            "plain name",
        ),
        (
            "\n\nlb1 198.18.0.101/24\n",
            "haresources:3: `198.18.0.101/24`",
            "not the scenario's VIP",
        ),
        ("lb9 198.18.0.100\n", "haresources:1: `lb9`", "not a node"),
        (
            "lb1 Filesystem::/dev/sda1::/data 198.18.0.100\n",
            "haresources:1: `Filesystem::/dev/sda1::/data`",
            "not supported",
        ),
        (
            "lb1 LVSSyncDaemonSwap::master\n",
            "haresources:1: `lb1`",
            "does not hold the VIP",
        ),
        (
            "lb1 198.18.0.100\nlb2 198.18.0.100\n",
            "haresources:2: `lb2`",
            "second resource group",
        ),
        ("# nothing\n", "haresources:1:", "there is none"),
    ];
    for (text, want, reason) in cases {
        let e = haresources(path, text, &nodes, VIP)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(want) && e.contains(reason), "{text:?}: {e}");
    }
    assert_eq!(
        haresources(path, "lb2 198.18.0.100\n", &nodes, VIP).unwrap(),
        (1, None)
    );
    // The seed's group: the VIP, then ldirectord with its file.
    let seed = "lb1 IPaddr::198.18.0.100/24/eth0 ldirectord::ldirectord.cf\n";
    assert_eq!(
        haresources(path, seed, &nodes, VIP).unwrap(),
        (0, Some("ldirectord.cf".into()))
    );
    let bare = haresources(path, "lb1 198.18.0.100 ldirectord\n", &nodes, VIP).unwrap();
    assert_eq!(bare.1.as_deref(), Some("ldirectord.cf"));
}

#[test]
fn a_deadtime_sweep_runs_once_per_deadtime() {
    let s = load(
        "manager = \"heartbeat\"\nkeepalive = \"100ms\"\nsweep_deadtimes = [\"500ms\", \"2s\"]",
        "",
        &[],
    )
    .unwrap();
    let runs = s.variants();
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["s-deadtime-500ms", "s-deadtime-2s"]);
    let deadtimes: Vec<_> = runs.iter().map(|r| heartbeat_of(r).deadtime).collect();
    assert_eq!(
        deadtimes,
        [Duration::from_millis(500), Duration::from_secs(2)]
    );
}
