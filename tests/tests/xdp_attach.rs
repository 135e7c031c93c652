//! The daemon attaches its XDP program in driver and skb mode, visibly to the
//! kernel's own tools, and detaches it when it exits.
use std::{process::Stdio, time::Duration};

use xcarp_tests::{Netns, ProcessGuard, needs_xcarp, wait_until, xcarp_bin};

fn attach_and_detach(mode: &str, expected: &str) {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let ns = Netns::new("at");
    ns.ip(&["link", "add", "xa0", "type", "veth", "peer", "name", "xa1"]);
    ns.ip(&["link", "set", "xa0", "up"]);
    ns.ip(&["link", "set", "xa1", "up"]);
    assert_eq!(ns.xdp_attachment("xa0"), None, "fresh veth already has XDP");

    let mut cmd = ns.command(xcarp_bin().to_str().expect("utf-8 path"));
    cmd.args(["--interface", "xa0", "--xdp-mode", mode])
        .args([
            "-v",
            "9",
            "-p",
            "attach",
            "-a",
            "10.99.250.252",
            "-s",
            "10.99.250.1",
            "-f",
            "none",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut daemon = ProcessGuard::spawn(cmd);
    assert!(
        wait_until(Duration::from_secs(10), || ns.xdp_attachment("xa0")
            == Some(expected)),
        "xcarp did not attach in {mode} mode: {}",
        ns.ip(&["-d", "link", "show", "dev", "xa0"])
    );
    // `ip netns exec` runs xcarp as its child process after an exec, so the
    // signal reaches xcarp itself.
    daemon.signal(libc::SIGTERM);
    let status = daemon
        .wait_exit(Duration::from_secs(10))
        .expect("xcarp did not exit on SIGTERM");
    assert!(status.success(), "xcarp exited with {status}");
    assert_eq!(
        ns.xdp_attachment("xa0"),
        None,
        "XDP still attached after exit"
    );
}

#[test]
fn attaches_in_driver_mode_and_detaches_on_exit() {
    attach_and_detach("driver", "xdp");
}

#[test]
fn attaches_in_skb_mode_and_detaches_on_exit() {
    attach_and_detach("skb", "xdpgeneric");
}
