//! Several xcarp processes on one interface, one per VHID (the layout of
//! ucarp's packaging: one process per virtual address). The first holds the
//! interface's XDP slot and passes the other VHIDs on; the others receive
//! through a socket filter. Each must still elect correctly against a ucarp
//! peer.
use std::{
    fs,
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use xcarp_tests::{Netns, ProcessGuard, needs_xcarp, wait_until, xcarp_bin};

struct Daemon {
    guard: ProcessGuard,
    log: PathBuf,
}

impl Daemon {
    fn start(ns: &Netns, program: &str, args: &[String], log: PathBuf) -> Self {
        let file = fs::File::create(&log).unwrap();
        let mut cmd = ns.command(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        Self {
            guard: ProcessGuard::spawn(cmd),
            log,
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn last_state(&self) -> Option<&'static str> {
        let log = self.log();
        let line = log
            .lines()
            .rev()
            .find(|l| l.contains("Switching to state: "))?;
        Some(if line.ends_with("MASTER") {
            "MASTER"
        } else {
            "BACKUP"
        })
    }
}

/// ucarp's command line for VHID `vhid` on `dev` with preemption; the
/// password and virtual address follow from the VHID.
fn carp_args(dev: &str, src: &str, vhid: u8, advskew: &str) -> Vec<String> {
    let (pass, vip) = match vhid {
        11 => ("eleven", "10.99.60.211"),
        _ => ("twelve", "10.99.60.212"),
    };
    let vhid = vhid.to_string();
    [
        "-i", dev, "-s", src, "-v", &vhid, "-p", pass, "-a", vip, "-k", advskew, "-P", "-f", "none",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn one_xcarp_per_vhid_on_one_interface_each_elects_against_ucarp() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let a = Netns::new("sa");
    let b = Netns::new("sb");
    let dir = std::env::temp_dir().join(format!("xcarp-shared-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    Command::new("ip")
        .args([
            "link", "add", "xs0", "netns", &a.name, "type", "veth", "peer", "name", "xs1", "netns",
            &b.name,
        ])
        .status()
        .unwrap();
    a.ip(&["addr", "add", "10.99.60.1/24", "dev", "xs0"]);
    b.ip(&["addr", "add", "10.99.60.2/24", "dev", "xs1"]);
    a.ip(&["link", "set", "xs0", "up"]);
    b.ip(&["link", "set", "xs1", "up"]);
    // ucarp sleeps 10 s if it starts before the carrier is up.
    assert!(wait_until(Duration::from_secs(5), || b
        .ip(&["link", "show", "xs1"])
        .contains("LOWER_UP")));

    // VHID 11: xcarp has the shorter interval and preempts → xcarp MASTER.
    // VHID 12: ucarp has the shorter interval and preempts → ucarp MASTER.
    // The vhid-11 xcarp takes the XDP slot first, so the vhid-12 one is the
    // fallback, and it can only stay BACKUP by hearing ucarp through it.
    let xcarp = xcarp_bin();
    let xcarp = xcarp.to_str().unwrap();
    let x11 = Daemon::start(
        &a,
        xcarp,
        &carp_args("xs0", "10.99.60.1", 11, "10"),
        dir.join("x11.log"),
    );
    assert!(
        wait_until(Duration::from_secs(10), || x11
            .log()
            .contains("XDP program attached")),
        "the first xcarp did not attach XDP:\n{}",
        x11.log()
    );
    let x12 = Daemon::start(
        &a,
        xcarp,
        &carp_args("xs0", "10.99.60.1", 12, "100"),
        dir.join("x12.log"),
    );
    let u11 = Daemon::start(
        &b,
        "ucarp",
        &carp_args("xs1", "10.99.60.2", 11, "100"),
        dir.join("u11.log"),
    );
    let u12 = Daemon::start(
        &b,
        "ucarp",
        &carp_args("xs1", "10.99.60.2", 12, "10"),
        dir.join("u12.log"),
    );

    let converged = wait_until(Duration::from_secs(20), || {
        x11.last_state() == Some("MASTER")
            && u11.last_state() == Some("BACKUP")
            && u12.last_state() == Some("MASTER")
            && x12.last_state() == Some("BACKUP")
    });
    let logs = format!(
        "x11:\n{}\nx12:\n{}\nu11:\n{}\nu12:\n{}",
        x11.log(),
        x12.log(),
        u11.log(),
        u12.log()
    );
    assert!(
        converged,
        "did not converge to one master per VHID:\n{logs}"
    );
    assert!(
        x12.log().contains("through a socket filter instead"),
        "{logs}"
    );
    assert!(
        !x11.log().contains("through a socket filter instead"),
        "{logs}"
    );
    // Stable: nobody flips during a few more advert intervals.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        (
            x11.last_state(),
            x12.last_state(),
            u11.last_state(),
            u12.last_state()
        ),
        (
            Some("MASTER"),
            Some("BACKUP"),
            Some("BACKUP"),
            Some("MASTER")
        ),
        "{logs}"
    );
    drop((x11.guard, x12.guard, u11.guard, u12.guard));
    let _ = fs::remove_dir_all(&dir);
}
