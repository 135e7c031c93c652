//! What reaches a running daemon from outside besides adverts
//! (docs/config.md, "Reading the file" and "Renamed interfaces";
//! docs/architecture.md, "Signals" and "Reload"): a reload of a huge broken
//! file never delays the adverts, signals during the start are acted on
//! instead of killing the process, and a renamed interface keeps its
//! instances.
use std::{
    fs, thread,
    time::{Duration, Instant},
};

use xcarp_tests::{
    carp::{CarpOpts, Impl, Node},
    lan::Lan,
    multi::{ConfigDaemon, InstanceConf, vip},
    needs_xcarp,
    probe::{Capture, epoch_now},
    wait_until,
};

/// Master-down (3 s) plus the slack of a loaded two-core machine.
const TAKEOVER: Duration = Duration::from_secs(10);
/// Start-up with many instances: every instance waits one master-down.
const CONVERGE: Duration = Duration::from_secs(60);
/// The advert interval of these instances (advbase 1, advskew 0) and the
/// slack allowed on the wire.
const MAX_GAP: f64 = 1.1;

/// Capture times of vhid `vhid`'s adverts from `from` on, and the largest
/// gap between two of them.
fn adverts_since(capture: &Capture, vhid: u8, from: f64) -> (Vec<f64>, f64) {
    let needle = format!("vhid={vhid} ");
    let stamps: Vec<f64> = capture
        .stamps(&["CARP", &needle])
        .into_iter()
        .filter(|t| *t >= from)
        .collect();
    let gap = stamps.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    (stamps, gap)
}

/// `n` instances, vhid 1..=n, all preferring this host.
fn many(n: u8) -> Vec<InstanceConf> {
    (1..=n).map(|v| InstanceConf::new(v, vip(v), 0)).collect()
}

/// A reload of a 1 MB file of unknown keys is read off the event loop: the
/// master's adverts keep their schedule on the wire while it is read and
/// rejected, and the rejection is logged as bounded records.
#[test]
fn adverts_stay_on_time_while_a_huge_bad_file_is_rejected() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(1);
    let capture = Capture::start_with(&lan.client, &["-T", "carp"], "ip proto 112");
    let daemon = ConfigDaemon::start(&lan.hosts[0], &[InstanceConf::new(1, vip(1), 0)]);
    assert!(daemon.wait_masters(&[1], CONVERGE), "{:?}", daemon.states());
    thread::sleep(Duration::from_secs(2));

    let mut bad = fs::read_to_string(daemon.config_path()).expect("the configuration");
    let mut keys = 0;
    while bad.len() < 1_000_000 {
        bad.push_str(&format!("k{keys:05} = 1\n"));
        keys += 1;
    }
    let t0 = epoch_now();
    let sent = Instant::now();
    daemon.write_raw_config(&bad);
    daemon.signal(libc::SIGHUP);
    let rejected = daemon.log.wait_for_since(
        "reload rejected, the running instances are kept",
        sent,
        Duration::from_secs(60),
    );
    let took = rejected.map(|at| at.duration_since(sent).as_secs_f64());
    thread::sleep(Duration::from_secs(3));
    let (stamps, gap) = adverts_since(&capture, 1, t0 - 2.0);
    eprintln!(
        "RELOAD of {} bytes ({keys} unknown keys): rejected after {took:?} s, largest advert gap {gap:.3} s",
        bad.len()
    );
    assert!(took.is_some(), "no rejection: {}", daemon.log.text());
    assert!(stamps.len() >= 5, "{stamps:?}");
    assert!(
        gap <= MAX_GAP,
        "largest advert gap {gap:.3} s while the file was read"
    );
    assert_eq!(daemon.masters(), [1]);
    // Logged as bounded records: the first 50 problems and a count.
    let records: Vec<String> = daemon
        .log
        .lines()
        .into_iter()
        .filter(|l| l.contains("reload rejected"))
        .collect();
    assert_eq!(records.len(), 51, "{:#?}", &records[..records.len().min(3)]);
    assert!(records.iter().all(|l| l.len() < 1_000));
    assert!(
        records[50].contains(&format!("and {} more errors", keys - 50)),
        "{}",
        records[50]
    );
}

/// SIGHUP 20, 50 and 100 ms into the start of 200 instances: the daemon
/// lives on (no death by SIGHUP, exit 129), reads the file again once it
/// runs, and every instance elects itself.
#[test]
fn sighup_during_the_start_of_many_instances_is_survived() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(1);
    let all: Vec<u8> = (1..=200).collect();
    let mut daemon = ConfigDaemon::start(&lan.hosts[0], &many(200));
    for (i, delay) in [20, 50, 100].into_iter().enumerate() {
        if i > 0 {
            daemon.restart();
        }
        assert!(daemon.wait_exec(Duration::from_secs(10)), "xcarp never ran");
        thread::sleep(Duration::from_millis(delay));
        daemon.signal(libc::SIGHUP);
        thread::sleep(Duration::from_millis(500));
        assert!(
            daemon.running(),
            "SIGHUP {delay} ms into the start ended the daemon: {:?}\n{}",
            daemon.wait_exit(Duration::from_secs(1)),
            daemon.log.text()
        );
        assert!(
            daemon.wait_masters(&all, CONVERGE),
            "SIGHUP at {delay} ms: masters {:?}",
            daemon.masters().len()
        );
        assert!(daemon.running(), "SIGHUP at {delay} ms");
        // The SIGHUP was not lost: the file was read again.
        assert!(
            daemon
                .log
                .wait_for("reloaded: 200 instance(s) kept", TAKEOVER),
            "SIGHUP at {delay} ms: no reload"
        );
        eprintln!("START SIGHUP {delay} ms into the start of 200 instances: survived");
    }
}

/// SIGTERM during the start: a clean exit (status 0), the status socket
/// removed.
#[test]
fn sigterm_during_the_start_exits_cleanly() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(1);
    let mut daemon = ConfigDaemon::start(&lan.hosts[0], &many(200));
    assert!(daemon.wait_exec(Duration::from_secs(10)), "xcarp never ran");
    thread::sleep(Duration::from_millis(50));
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "{status:?}\n{}",
        daemon.log.text()
    );
    assert!(
        !daemon.socket_path().exists(),
        "the status socket was left behind"
    );
    assert_eq!(
        lan.hosts[0].ns.xdp_attachment(&lan.hosts[0].dev),
        None,
        "the XDP program was left attached"
    );
}

/// `xcarp` from the command line: SIGHUP means exit, as in ucarp, also
/// during the start, and through the ordinary exit (status 0), not death by
/// the signal. (From 10 ms on: the first instants after exec(2), before
/// `main` runs, belong to the dynamic loader.)
#[test]
fn sighup_during_a_command_line_start_is_an_ordinary_exit() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(1);
    let mut node = Node::start(&lan.hosts[0], Impl::Xcarp, CarpOpts::default());
    for (i, delay) in [10, 20, 50].into_iter().enumerate() {
        if i > 0 {
            node.restart();
        }
        let comm = format!("/proc/{}/comm", node.pid());
        assert!(
            wait_until_fast(Duration::from_secs(10), || fs::read_to_string(&comm)
                .is_ok_and(|c| c.trim() == "xcarp")),
            "xcarp never ran"
        );
        thread::sleep(Duration::from_millis(delay));
        node.signal(libc::SIGHUP);
        let status = node.wait_exit(Duration::from_secs(10));
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "SIGHUP {delay} ms into the start: {status:?}\n{}",
            node.log.text()
        );
    }
}

/// Polls `check` every millisecond.
fn wait_until_fast(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        thread::sleep(Duration::from_millis(1));
    }
    false
}

/// `ip link set eth0 name lan0`: the instance follows the interface by its
/// index. It stays MASTER and advertises on time (wire), its status names
/// lan0; a reload of a file that names lan0 keeps it, one that still names
/// eth0 is rejected; and its scripts get the new name.
#[test]
fn a_renamed_interface_keeps_its_instances() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(1);
    let host = &lan.hosts[0];
    let capture = Capture::start_with(&lan.client, &["-T", "carp"], "ip proto 112");
    let daemon = ConfigDaemon::start(host, &[InstanceConf::new(1, vip(1), 0)]);
    assert!(daemon.wait_masters(&[1], CONVERGE), "{:?}", daemon.states());
    thread::sleep(Duration::from_secs(2));
    let t0 = epoch_now();
    host.ns.ip(&["link", "set", "eth0", "name", "lan0"]);
    // Well beyond the watcher's one-second re-read.
    thread::sleep(Duration::from_secs(4));
    let (stamps, gap) = adverts_since(&capture, 1, t0 - 1.0);
    assert!(stamps.len() >= 4, "adverts after the rename: {stamps:?}");
    assert!(
        gap <= MAX_GAP,
        "largest advert gap {gap:.3} s around the rename"
    );
    assert!(
        stamps.last().is_some_and(|t| epoch_now() - t < 1.5),
        "adverts stopped"
    );
    let status = daemon.status().expect("status");
    let one = &status["instances"][0];
    assert_eq!(one["state"], "MASTER", "{one}");
    assert_eq!(one["interface"], "lan0", "{one}");
    assert_eq!(status["interfaces"][0]["name"], "lan0", "{status}");
    assert_eq!(one["counters"]["became_master"], 1, "{one}");

    // A file that still names eth0: rejected, the instance runs on.
    let text = fs::read_to_string(daemon.config_path()).expect("the configuration");
    let since = Instant::now();
    daemon.signal(libc::SIGHUP);
    assert!(
        daemon
            .log
            .wait_for_since("reload rejected", since, TAKEOVER)
            .is_some(),
        "{}",
        daemon.log.text()
    );
    assert_eq!(daemon.masters(), [1]);
    // One that names lan0: the instance is kept as it is.
    let renamed = text.replace("interface = \"eth0\"", "interface = \"lan0\"");
    assert_ne!(renamed, text);
    daemon.write_raw_config(&renamed);
    let since = Instant::now();
    daemon.signal(libc::SIGHUP);
    assert!(
        daemon
            .log
            .wait_for_since(
                "reloaded: 1 instance(s) kept, 0 stopped, 0 started",
                since,
                TAKEOVER
            )
            .is_some(),
        "{}",
        daemon.log.text()
    );
    // One without the instance: its downscript gets lan0 and releases the
    // address there.
    let other = renamed.replace(
        "vhid = 1\naddresses = [\"10.99.2.1\"]",
        "vhid = 2\naddresses = [\"10.99.2.2\"]",
    );
    assert_ne!(other, renamed);
    let held_on_lan0 = |addr: &str| {
        host.ns
            .ip(&["-4", "-o", "addr", "show", "dev", "lan0"])
            .contains(&format!(" {addr}/"))
    };
    assert!(held_on_lan0("10.99.2.1"));
    daemon.write_raw_config(&other);
    daemon.signal(libc::SIGHUP);
    assert!(
        wait_until(TAKEOVER, || !held_on_lan0("10.99.2.1")),
        "vhid 1's address stays on lan0: {:?}",
        daemon.marker()
    );
    assert!(
        daemon.marker().iter().any(|l| l == "down lan0 10.99.2.1"),
        "{:?}",
        daemon.marker()
    );
}

/// `systemctl stop` then a `systemctl reload` (or a logrotate HUP) within
/// the hand-over: with a configuration file SIGHUP asks for a reload, which
/// has nothing to do once the daemon stops. It must not cut the hand-over
/// short: the lone master keeps its VIP for the whole wait
/// (docs/protocol.md, "Bow-out").
#[test]
fn sighup_during_a_hand_over_does_not_cut_it_short() {
    if !needs_xcarp() {
        return;
    }
    let lan = Lan::with_hosts(1);
    let mut conf = InstanceConf::new(1, vip(1), 0);
    conf.extra = "shutdown = true\n".into();
    let mut daemon = ConfigDaemon::start(&lan.hosts[0], &[conf]);
    assert!(daemon.wait_masters(&[1], TAKEOVER), "{}", daemon.log.text());
    let host = &lan.hosts[0];
    assert!(wait_until(Duration::from_secs(3), || host.has_addr(vip(1))));
    let t0 = Instant::now();
    daemon.signal(libc::SIGTERM);
    thread::sleep(Duration::from_millis(300));
    daemon.signal(libc::SIGHUP);
    thread::sleep(Duration::from_millis(700));
    assert!(daemon.running(), "the SIGHUP ended the hand-over");
    assert!(host.has_addr(vip(1)), "the VIP went before the wait ended");
    let status = daemon
        .wait_exit(Duration::from_secs(6))
        .expect("no exit after the hand-over's bound");
    let took = t0.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(!host.has_addr(vip(1)), "the VIP is left behind");
    assert!(
        took >= Duration::from_secs(3),
        "released after {took:?}, before master-down"
    );
    eprintln!("hand-over with a SIGHUP in it: exit after {took:?}");
}
