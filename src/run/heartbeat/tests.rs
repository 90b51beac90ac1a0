//! The files a run gives Heartbeat: ha.cf from the scenario's settings, haresources naming the
//! preferred node, and a resource script that answers `status` as Heartbeat's ResourceManager
//! reads it.

use super::*;
use std::path::Path;

fn scenario(failover: &str) -> Scenario {
    let text = format!(
        "[failover]\n{failover}\n[service]\nscheduler = \"rr\"\n[[real_server]]\nname = \"rs1\"\n\
         [[load]]\nname = \"web\"\nmode = \"open\"\nrate = 10\nconnection = \"new\"\nduration = \"4s\"\n"
    );
    Scenario::parse(Path::new("hb.toml"), &text).unwrap()
}

#[test]
fn ha_cf_carries_the_scenario_timing_to_each_node() {
    let s = scenario(
        "manager = \"heartbeat\"\nkeepalive = \"200ms\"\ndeadtime = \"1s\"\nauto_failback = false",
    );
    let hb = s.failover.as_ref().unwrap().heartbeat.clone().unwrap();
    let logs = ("/l/log".to_string(), "/l/debug".to_string());
    let d1 = ha_cf_text(&hb, 1, &logs);
    for line in [
        "crm off",
        "keepalive 200ms",
        "deadtime 1000ms",
        "warntime 600ms",
        "initdead 2000ms",
        "udpport 694",
        "ucast eth0 198.18.0.8",
        "auto_failback off",
        "node d1",
        "node d2",
        "logfile /l/log",
    ] {
        assert!(d1.lines().any(|l| l == line), "{line} missing in\n{d1}");
    }
    // Heartbeat refuses udpport after the medium.
    let pos = |what: &str| d1.find(what).unwrap();
    assert!(pos("udpport") < pos("ucast"));
    assert!(ha_cf_text(&hb, 2, &logs).contains("\nucast eth0 198.18.0.7\n"));
    assert_eq!(
        haresources_text(&hb, None).lines().last(),
        Some("d1 tapvs-vip")
    );
    let seed = haresources_text(&hb, Some("ldirectord.cf"));
    assert_eq!(
        seed.lines().last(),
        Some("d1 tapvs-vip ldirectord::ldirectord.cf")
    );
    let bcast = scenario("manager = \"heartbeat\"\nmedia = \"bcast\"");
    let hb = bcast.failover.as_ref().unwrap().heartbeat.clone().unwrap();
    assert!(ha_cf_text(&hb, 1, &logs).contains("\nbcast eth0\n"));
}

#[test]
fn the_hosts_exist_only_for_heartbeat_and_ldirectord_scenarios() {
    let hb = scenario("manager = \"heartbeat\"");
    let found = hosts(&hb);
    assert_eq!(
        found,
        [
            ("d1hb".to_string(), Ipv4Addr::new(198, 18, 0, 7)),
            ("d2hb".to_string(), Ipv4Addr::new(198, 18, 0, 8))
        ]
    );
    assert_eq!(hosts_of_vrrp(""), 0);
    // ldirectord beside each tapvs director: VRRP with two, none with keepalived as d2's.
    let ldirectord = "[health]\ncheck = \"tcp\"\ninterval = \"1s\"\ntimeout = \"1s\"\nrise = 1\nchecker = \"ldirectord\"\n";
    assert_eq!(hosts_of_vrrp(ldirectord), 2);
    let one = Scenario::parse(
        Path::new("ld.toml"),
        &format!(
            "[service]\nscheduler = \"rr\"\n{ldirectord}[[real_server]]\nname = \"rs1\"\n\
             [[load]]\nname = \"web\"\nmode = \"open\"\nrate = 10\nconnection = \"new\"\nduration = \"4s\"\n"
        ),
    )
    .unwrap();
    assert_eq!(
        hosts(&one),
        [("d1hb".to_string(), Ipv4Addr::new(198, 18, 0, 7))]
    );
}

fn hosts_of_vrrp(more: &str) -> usize {
    let mut s = scenario("advert_interval = \"100ms\"");
    if !more.is_empty() {
        let text = format!(
            "[failover]\nadvert_interval = \"100ms\"\n[service]\nscheduler = \"rr\"\n{more}\
             [[real_server]]\nname = \"rs1\"\n[[load]]\nname = \"web\"\nmode = \"open\"\n\
             rate = 10\nconnection = \"new\"\nduration = \"4s\"\n"
        );
        s = Scenario::parse(Path::new("ld.toml"), &text).unwrap();
    }
    hosts(&s).len()
}

/// The resource script against a fake `tapvs control` that answers like a director: `status`
/// says `running` only while the director is master, as ResourceManager's `we_own_resource`
/// matches it (`*[Rr]unning*` but not `*not running*`).
#[test]
fn the_resource_script_drives_the_role_and_reports_it() {
    let dir = std::env::temp_dir().join(format!("tapvs-hb-agent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let role = dir.join("role");
    std::fs::write(&role, "backup\n").unwrap();
    // A stand-in for `tapvs control --timeout-ms N SOCKET role [ROLE]`: keeps the role in a file.
    let fake = dir.join("fake-tapvs");
    let text = format!(
        "#!/bin/sh\nshift 4\n[ \"$1\" = role ] || exit 2\nif [ -n \"$2\" ]; then echo \"$2\" > '{r}'; echo ok; else cat '{r}'; fi\n",
        r = role.display()
    );
    std::fs::write(&fake, text).unwrap();
    let agent = dir.join("agent");
    std::fs::write(&agent, agent_script(&fake, "/x.sock")).unwrap();
    let run = |arg: &str| {
        let out = Command::new("sh")
            .env("PATH", "/usr/bin:/bin")
            .arg(&agent)
            .arg(arg)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    };
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(run("status"), (Some(0), "stopped".into()));
    assert_eq!(run("start"), (Some(0), String::new()));
    assert_eq!(std::fs::read_to_string(&role).unwrap().trim(), "master");
    assert_eq!(run("status"), (Some(0), "running".into()));
    assert_eq!(run("stop"), (Some(0), String::new()));
    assert_eq!(run("status"), (Some(0), "stopped".into()));
    assert_eq!(run("bogus").0, Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
