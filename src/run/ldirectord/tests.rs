//! Tests of ldirectord's private tree: the files it gets and the namespace it runs in.

use super::*;

#[test]
fn the_tree_binds_tapvs_ipvsadm_and_runs_ldirectord_in_the_foreground() {
    let state = std::env::temp_dir().join(format!("tapvs-ld-{}", std::process::id()));
    let files = LdirectordFiles::new(&state, "d1");
    let (program, args) = files
        .prepare(
            "virtual=198.18.0.100:80\n",
            Path::new("/opt/tapvs"),
            &state.join("d1.sock"),
        )
        .unwrap();
    let read = |name: &str| std::fs::read_to_string(files.root.join(name)).unwrap();
    let (cf, ipvsadm, launch) = (
        read("ha.d/ldirectord.cf"),
        read("ipvsadm"),
        read("launch.sh"),
    );
    let _ = std::fs::remove_dir_all(&state);
    assert_eq!(program, Path::new("unshare"));
    assert_eq!(
        args[..3],
        ["-m", "--propagation", "private"],
        "a private mount namespace"
    );
    assert_eq!(cf, "virtual=198.18.0.100:80\n");
    assert!(
        ipvsadm.contains("exec '/opt/tapvs' ipvsadm --director '/etc/ha.d/tapvs/d1.sock' \"$@\""),
        "{ipvsadm}"
    );
    for bind in ["/etc/ha.d\n", "/usr/sbin/ipvsadm\n", "/var/log\n", "/run\n"] {
        assert!(launch.contains(bind), "{bind:?} not bound:\n{launch}");
    }
    let exec = launch.lines().last().unwrap();
    assert_eq!(
        exec,
        "exec /usr/sbin/ldirectord -d /etc/ha.d/ldirectord.cf start"
    );
    assert!(launch.contains("\ncd /\n"), "away from any ./ipvsadm");
}
