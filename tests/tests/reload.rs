//! Reloads (SIGHUP with `--config`, docs/config.md "Reload") as a third
//! host on the wire sees them. A reload that changes a MASTER instance
//! (advskew, advbase, scripts, addresses, password; one HUP, two 100 ms
//! apart, twenty within a second) keeps it MASTER: its adverts stay one
//! interval apart and the VIP stays on it alone. A reload naming an
//! interface this host lacks, or one whose XDP attachment fails, changes
//! nothing. Removing every instance of
//! an interface detaches the XDP program there; adding one back attaches
//! it again.
use std::{
    net::Ipv4Addr,
    thread,
    time::{Duration, Instant},
};

use xcarp_tests::{
    carp::Impl,
    holders::HolderSamples,
    lan::{DEV, Lan},
    multi::{ConfigDaemon, InstanceConf, vip},
    probe::{Advert, Adverts, Capture, epoch_now},
    run_variants, wait_until,
};

/// Start: one master-down (3 s + skew) plus the slack of a loaded machine.
const CONVERGE: Duration = Duration::from_secs(30);
/// A reload is logged within this (it takes milliseconds).
const RELOADED: Duration = Duration::from_secs(10);
/// How often each host's addresses are read.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);
/// Tolerance over one advert interval, for a loaded two-core machine.
const SLACK: f64 = 0.2;

const ONLY_XCARP: &[Impl] = &[Impl::Xcarp];

/// What a reload changes on the master of VHID 1 (and, where the protocol
/// needs both sides to agree, on its backup too).
#[derive(Clone, Copy, Debug)]
enum Change {
    Advskew,
    /// advbase 1 → 2 on both (the backup first: a master advertising less
    /// often than a preempting backup would lose the VIP to it).
    Advbase,
    /// xparam, so that the scripts get another argument.
    Scripts,
    /// One more address, on both (the HMAC covers them), then back.
    Addresses,
    /// Another password on both.
    Password,
    /// advskew, with two HUPs 100 ms apart.
    TwoHups,
    /// advskew 10 and 20 in turn, with twenty HUPs within one second.
    TwentyHups,
}

/// VHID 1 with `skew` and more keys (`extra`).
fn vhid1(skew: u8, extra: &str) -> InstanceConf {
    let mut conf = InstanceConf::new(1, vip(1), skew);
    conf.extra = extra.to_owned();
    conf
}

/// Host A (advskew 0) masters VHID 1, host B (advskew 100) backs it up;
/// `wire` watches VHID 1 from the client.
fn pair() -> (Lan, Adverts, ConfigDaemon, ConfigDaemon) {
    let lan = Lan::with_hosts(2);
    let wire = Adverts::start(&lan, 1);
    let a = ConfigDaemon::start(&lan.hosts[0], &[vhid1(0, "")]);
    let b = ConfigDaemon::start(&lan.hosts[1], &[vhid1(100, "")]);
    assert!(
        a.wait_masters(&[1], CONVERGE) && b.wait_masters(&[], CONVERGE),
        "A {:?}, B {:?}",
        a.states(),
        b.states()
    );
    assert!(wait_until(Duration::from_secs(10), || lan.holders(vip(1)) == [0]));
    // A few adverts before the reload, to measure the gap around it.
    thread::sleep(Duration::from_secs(2));
    (lan, wire, a, b)
}

/// Waits for the reload `daemon` logs after `since`.
fn wait_reloaded(daemon: &ConfigDaemon, since: Instant) {
    assert!(
        daemon
            .log
            .wait_for_since("reloaded:", since, RELOADED)
            .is_some(),
        "{}: no reload logged:\n{}",
        daemon.label,
        daemon.log.text()
    );
}

/// The adverts of `master` in [from, to] follow each other within one
/// interval (the larger of the two adverts'), and nobody else advertised
/// nor did it bow out. Returns the adverts.
fn assert_one_master_without_gap(
    wire: &Adverts,
    master: Ipv4Addr,
    from: f64,
    to: f64,
) -> Vec<Advert> {
    let adverts = wire.between(from, to);
    assert!(adverts.len() >= 4, "too few adverts:\n{}", wire.text());
    for advert in &adverts {
        assert!(
            advert.src == master && !advert.is_bow_out(),
            "{advert:?} around the reload:\n{}",
            wire.text()
        );
    }
    for w in adverts.windows(2) {
        let gap = w[1].at - w[0].at;
        let allowed = w[0].interval().max(w[1].interval()) + SLACK;
        assert!(
            gap <= allowed,
            "advert gap of {gap:.3} s (allowed {allowed:.3} s) from {:.3}:\n{}",
            w[0].at,
            wire.text()
        );
    }
    adverts
}

/// Every sample in [from, to] shows the address on host 0 and not on host
/// 1; enough samples were taken to see a gap of a tenth of a second.
fn assert_held_by_first_only(samples: &[Vec<(f64, bool)>], from: f64, to: f64) {
    for (host, samples) in samples.iter().enumerate() {
        let window: Vec<&(f64, bool)> = samples
            .iter()
            .filter(|(at, _)| *at >= from && *at <= to)
            .collect();
        assert!(
            window.len() as f64 >= (to - from) * 10.0,
            "host {host}: {} samples in {:.1} s",
            window.len(),
            to - from
        );
        let wrong: Vec<f64> = window
            .iter()
            .filter(|(_, held)| *held != (host == 0))
            .map(|(at, _)| *at)
            .collect();
        assert!(
            wrong.is_empty(),
            "host {host} {} the VIP at {} sample(s), first at {:.3}",
            if host == 0 { "lacked" } else { "held" },
            wrong.len(),
            wrong[0]
        );
    }
}

/// The instance's counters in `xcarp status --json`.
fn counter(daemon: &ConfigDaemon, name: &str) -> u64 {
    let status = daemon.status().expect("status");
    status["instances"][0]["counters"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name} in {status}"))
}

fn change_a_master(change: Change) {
    let (lan, wire, a, b) = pair();
    let garps = Capture::start(&lan.client, "arp");
    let samples = HolderSamples::start(&lan.hosts, vip(1), SAMPLE_EVERY);
    let t0 = epoch_now();
    let since = Instant::now();
    thread::sleep(Duration::from_millis(500));
    match change {
        Change::Advskew => a.reload(&[vhid1(10, "")]),
        Change::Advbase => {
            b.reload(&[vhid1(100, "advbase = 2\n")]);
            wait_reloaded(&b, since);
            a.reload(&[vhid1(0, "advbase = 2\n")]);
        }
        Change::Scripts => a.reload(&[vhid1(0, "xparam = \"reloaded\"\n")]),
        Change::Addresses => {
            let mut two = vhid1(0, "");
            two.addresses.push(vip(11));
            a.reload(std::slice::from_ref(&two));
            two.advskew = 100;
            b.reload(&[two]);
        }
        Change::Password => {
            a.reload(&[vhid1(0, "password = \"peace\"\n")]);
            b.reload(&[vhid1(100, "password = \"peace\"\n")]);
        }
        Change::TwoHups => {
            a.reload(&[vhid1(10, "")]);
            thread::sleep(Duration::from_millis(100));
            a.signal(libc::SIGHUP);
        }
        Change::TwentyHups => {
            for i in 0..20 {
                a.reload(&[vhid1(if i % 2 == 0 { 10 } else { 20 }, "")]);
                thread::sleep(Duration::from_millis(45));
            }
        }
    }
    wait_reloaded(&a, since);
    thread::sleep(Duration::from_secs(4));
    if let Change::Addresses = change {
        // The added address came up on the master alone, announced; the
        // first one was not brought up again.
        assert!(
            wait_until(Duration::from_secs(5), || lan.holders(vip(11)) == [0]),
            "{:?}",
            a.marker()
        );
        let marker = a.marker();
        let ups = |addr: Ipv4Addr| {
            marker
                .iter()
                .filter(|l| **l == format!("up {DEV} {addr}"))
                .count()
        };
        assert_eq!((ups(vip(1)), ups(vip(11))), (1, 1), "{marker:?}");
        assert!(
            wait_until(Duration::from_secs(5), || !garps
                .matching(&["who-has 10.99.2.11", "tell 10.99.2.11"])
                .is_empty()),
            "no gratuitous ARP for the added address:\n{}",
            garps.log.text()
        );
        // And back: its downscript runs for it alone.
        let since = Instant::now();
        a.reload(&[vhid1(0, "")]);
        b.reload(&[vhid1(100, "")]);
        wait_reloaded(&a, since);
        assert!(
            wait_until(Duration::from_secs(5), || lan.holders(vip(11)).is_empty()),
            "{:?}",
            a.marker()
        );
        let downs: Vec<String> = a
            .marker()
            .into_iter()
            .filter(|l| l.starts_with("down"))
            .collect();
        // The start's downscript for 10.99.2.1, then the removed one's.
        assert_eq!(
            downs,
            [
                format!("down {DEV} {}", vip(1)),
                format!("down {DEV} {}", vip(11))
            ]
        );
        thread::sleep(Duration::from_secs(3));
    }
    let t1 = epoch_now();
    let held = samples.stop();
    let adverts = assert_one_master_without_gap(&wire, lan.hosts[0].addr, t0 - 2.0, t1);
    assert_held_by_first_only(&held, t0, t1);
    assert_eq!(a.masters(), [1], "{}", a.log.text());
    assert_eq!(
        (counter(&a, "became_master"), counter(&a, "released_master")),
        (1, 0)
    );
    assert!(
        a.log
            .find_since("vip1: changed in place (", since)
            .is_some(),
        "{}",
        a.log.text()
    );
    let last = adverts.last().expect("adverts");
    let (advbase, advskew) = match change {
        Change::Advskew | Change::TwoHups => (1, 10),
        Change::TwentyHups => (1, 20),
        Change::Advbase => (2, 0),
        _ => (1, 0),
    };
    assert_eq!((last.advbase, last.advskew), (advbase, advskew), "{last:?}");
    match change {
        Change::Password => {
            // The backup verifies the master's adverts with the new key.
            let heard = counter(&b, "adverts_received");
            thread::sleep(Duration::from_millis(2500));
            assert!(counter(&b, "adverts_received") >= heard + 2);
            assert_eq!(b.masters(), Vec::<u8>::new());
        }
        Change::Scripts => {
            // The scripts run with the new argument: step down (SIGUSR2).
            a.signal(libc::SIGUSR2);
            assert!(
                wait_until(Duration::from_secs(10), || a
                    .marker()
                    .contains(&format!("down {DEV} {} reloaded", vip(1)))),
                "{:?}",
                a.marker()
            );
        }
        _ => {}
    }
    let gap = adverts
        .windows(2)
        .map(|w| w[1].at - w[0].at)
        .fold(0.0, f64::max);
    eprintln!("RELOAD {change:?}: largest advert gap {gap:.3} s, the VIP on the master alone");
}

#[test]
fn reload_changes_a_master_in_place() {
    let variants = [
        Change::Advskew,
        Change::Advbase,
        Change::Scripts,
        Change::Addresses,
        Change::Password,
        Change::TwoHups,
        Change::TwentyHups,
    ]
    .map(|c| (c, ONLY_XCARP));
    run_variants("reload changes a master in place", &variants, |c| {
        change_a_master(*c);
    });
}

/// What a reload does to the host's side of things.
#[derive(Clone, Copy, Debug)]
enum HostCase {
    /// A reload naming a missing interface is rejected whole.
    MissingInterface,
    /// A reload whose XDP attachment fails on one new interface after
    /// another was attached is rejected whole, and the other detached.
    AttachFails,
    /// Removing every instance of the first-attached interface, then adding
    /// one back, with this `xdp_mode`.
    Reattach(&'static str),
}

fn missing_interface_changes_nothing() {
    let (lan, wire, a, _b) = pair();
    let wire2 = Adverts::start(&lan, 2);
    let samples = HolderSamples::start(&lan.hosts, vip(1), SAMPLE_EVERY);
    let t0 = epoch_now();
    let since = Instant::now();
    let mut elsewhere = InstanceConf::new(2, vip(2), 0);
    elsewhere.extra = "interface = \"eth9\"\n".into();
    // Another skew for VHID 1 too: that must not apply either.
    a.reload(&[vhid1(50, ""), elsewhere]);
    let line = a
        .log
        .wait_for_line_since("reload rejected", since, RELOADED)
        .unwrap_or_else(|| panic!("not rejected:\n{}", a.log.text()));
    assert!(
        line.contains("interface eth9 (instance vip2): does not exist"),
        "{line}"
    );
    thread::sleep(Duration::from_secs(4));
    let t1 = epoch_now();
    let held = samples.stop();
    let adverts = assert_one_master_without_gap(&wire, lan.hosts[0].addr, t0 - 2.0, t1);
    assert!(adverts.iter().all(|a| a.advskew == 0), "{}", wire.text());
    assert!(wire2.all().is_empty(), "VHID 2 started:\n{}", wire2.text());
    assert_held_by_first_only(&held, t0, t1);
    assert_eq!(a.states().len(), 1);
    assert_eq!(counter(&a, "became_master"), 1);
    assert_eq!(a.log.count("cannot start"), 0, "{}", a.log.text());
    // check-config on this host refuses the same file.
    let out = lan.hosts[0].exec(
        a.binary.to_str().expect("utf-8 path"),
        &[
            "check-config",
            a.config_path().to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    eprintln!("RELOAD missing interface: rejected whole, nothing changed on the wire: {line}");
}

fn failed_attach_undoes_the_reload() {
    let (lan, wire, a, _b) = pair();
    let ns = &lan.hosts[0].ns;
    ns.ip(&[
        "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
    ]);
    ns.ip(&["link", "set", "eth1", "up"]);
    ns.ip(&["link", "set", "eth1p", "up"]);
    // A bridge has no native XDP: driver mode fails there.
    ns.ip(&["link", "add", "br9", "type", "bridge"]);
    ns.ip(&["link", "set", "br9", "up"]);
    let wire2 = Adverts::start(&lan, 2);
    let samples = HolderSamples::start(&lan.hosts, vip(1), SAMPLE_EVERY);
    let t0 = epoch_now();
    let since = Instant::now();
    let mut on_eth1 = InstanceConf::new(2, vip(2), 0);
    on_eth1.extra = "interface = \"eth1\"\n".into();
    let mut on_bridge = InstanceConf::new(3, vip(3), 0);
    on_bridge.extra = "interface = \"br9\"\nxdp_mode = \"driver\"\n".into();
    a.reload(&[vhid1(50, ""), on_eth1, on_bridge]);
    let line = a
        .log
        .wait_for_line_since("reload rejected", since, RELOADED)
        .unwrap_or_else(|| panic!("not rejected:\n{}", a.log.text()));
    assert!(line.contains("vip3") && line.contains("br9"), "{line}");
    // eth1 was attached for vip2 first, then given back.
    assert!(
        a.log
            .find_since("XDP program attached to eth1", since)
            .is_some(),
        "{}",
        a.log.text()
    );
    assert_eq!(ns.xdp_attachment("eth1"), None, "eth1 kept the program");
    thread::sleep(Duration::from_secs(4));
    let t1 = epoch_now();
    let held = samples.stop();
    let adverts = assert_one_master_without_gap(&wire, lan.hosts[0].addr, t0 - 2.0, t1);
    assert!(adverts.iter().all(|a| a.advskew == 0), "{}", wire.text());
    assert!(wire2.all().is_empty(), "VHID 2 started:\n{}", wire2.text());
    assert_held_by_first_only(&held, t0, t1);
    assert_eq!(a.states().len(), 1);
    assert_eq!(counter(&a, "became_master"), 1);
    eprintln!("RELOAD failed attach: rejected whole, the other interface detached again: {line}");
}

fn removing_an_interface_then_adding_it_back_reattaches(mode: &str) {
    let lan = Lan::with_hosts(2);
    let ns = &lan.hosts[0].ns;
    ns.ip(&[
        "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
    ]);
    ns.ip(&["link", "set", "eth1", "up"]);
    ns.ip(&["link", "set", "eth1p", "up"]);
    // A: VHID 1 on eth0 (attached first; B masters it, so A's XDP program
    // hands A B's adverts) and VHID 2 on eth1.
    let on_eth0 = vhid1(100, &format!("xdp_mode = \"{mode}\"\n"));
    let mut on_eth1 = InstanceConf::new(2, vip(2), 0);
    on_eth1.extra = "interface = \"eth1\"\n".into();
    let a = ConfigDaemon::start(&lan.hosts[0], &[on_eth0.clone(), on_eth1.clone()]);
    let b = ConfigDaemon::start(&lan.hosts[1], &[vhid1(0, "")]);
    assert!(
        a.wait_masters(&[2], CONVERGE) && b.wait_masters(&[1], CONVERGE),
        "A {:?}, B {:?}",
        a.states(),
        b.states()
    );
    let expected = if mode == "skb" { "xdpgeneric" } else { "xdp" };
    assert_eq!(ns.xdp_attachment(DEV), Some(expected));
    assert!(ns.xdp_attachment("eth1").is_some());

    let since = Instant::now();
    a.reload(std::slice::from_ref(&on_eth1));
    wait_reloaded(&a, since);
    assert!(
        wait_until(Duration::from_secs(5), || ns.xdp_attachment(DEV).is_none()),
        "{DEV} keeps the XDP program without instances:\n{}",
        ns.ip(&["-d", "link", "show", "dev", DEV])
    );
    assert!(ns.xdp_attachment("eth1").is_some());

    let since = Instant::now();
    a.reload(&[on_eth0, on_eth1]);
    wait_reloaded(&a, since);
    assert_eq!(ns.xdp_attachment(DEV), Some(expected));
    assert_eq!(a.log.count("already in use"), 0, "{}", a.log.text());
    assert_eq!(a.log.count("cannot start"), 0, "{}", a.log.text());
    // VHID 1 receives B's adverts through the XDP program again.
    let accepted = || {
        a.status().expect("status")["xdp_counters"]["accepted"]
            .as_u64()
            .expect("xdp counters")
    };
    let vhid1_status = || {
        let status = a.status().expect("status");
        status["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .find(|i| i["vhid"] == 1)
            .cloned()
            .expect("VHID 1 runs")
    };
    assert_eq!(vhid1_status()["rx_path"], "xdp");
    let (before, heard) = (
        accepted(),
        vhid1_status()["counters"]["adverts_received"]
            .as_u64()
            .unwrap_or(0),
    );
    thread::sleep(Duration::from_secs(3));
    assert!(
        accepted() >= before + 2,
        "the kernel's counters did not move"
    );
    assert!(
        vhid1_status()["counters"]["adverts_received"]
            .as_u64()
            .unwrap_or(0)
            >= heard + 2
    );
    assert_eq!(b.masters(), [1]);
    eprintln!("RELOAD {mode}: {DEV} detached without instances, attached again with one");
}

#[test]
fn reload_is_all_or_nothing_and_reattaches_xdp() {
    let variants = [
        HostCase::MissingInterface,
        HostCase::AttachFails,
        HostCase::Reattach("auto"),
        HostCase::Reattach("skb"),
    ]
    .map(|c| (c, ONLY_XCARP));
    run_variants("reload against the host", &variants, |case| match case {
        HostCase::MissingInterface => missing_interface_changes_nothing(),
        HostCase::AttachFails => failed_attach_undoes_the_reload(),
        HostCase::Reattach(mode) => removing_an_interface_then_adding_it_back_reattaches(mode),
    });
}
