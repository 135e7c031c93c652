//! One xcarp serving many instances from a configuration file (issue
//! "one daemon, many virtual IPs"): elections with alternate affinities
//! across two hosts, failover both ways, reload without moving masters,
//! isolation of a hanging script, and the status and metrics it serves.
use std::{net::Ipv4Addr, thread, time::Duration};

use xcarp_tests::{
    lan::Lan,
    multi::{ConfigDaemon, InstanceConf, METRICS_PORT, held, vip},
    needs_xcarp,
    probe::{Adverts, Capture, epoch_now},
    wait_until,
};

/// Master-down (3 s + skew) plus the slack of a loaded two-core machine.
const TAKEOVER: Duration = Duration::from_secs(10);
/// Startup with many instances: every instance waits one master-down, and
/// preempting ones one more advert.
const CONVERGE: Duration = Duration::from_secs(30);

/// Host A is preferred (skew 0) for odd VHIDs, host B for even ones.
fn alternate(host_a: bool, n: u8) -> Vec<InstanceConf> {
    (1..=n)
        .map(|vhid| {
            let preferred = (vhid % 2 == 1) == host_a;
            InstanceConf::new(vhid, vip(vhid), if preferred { 0 } else { 100 })
        })
        .collect()
}

fn odd(n: u8) -> Vec<u8> {
    (1..=n).filter(|v| v % 2 == 1).collect()
}

fn even(n: u8) -> Vec<u8> {
    (1..=n).filter(|v| v % 2 == 0).collect()
}

/// Each VIP held by exactly the host whose daemon masters its VHID.
fn assert_vips_follow(lan: &Lan, a_masters: &[u8], b_masters: &[u8], n: u8) {
    let all: Vec<Ipv4Addr> = (1..=n).map(vip).collect();
    let on_a = held(&lan.hosts[0], &all);
    let on_b = held(&lan.hosts[1], &all);
    let want_a: Vec<Ipv4Addr> = a_masters.iter().map(|v| vip(*v)).collect();
    let want_b: Vec<Ipv4Addr> = b_masters.iter().map(|v| vip(*v)).collect();
    assert_eq!(on_a, want_a, "addresses on host A");
    assert_eq!(on_b, want_b, "addresses on host B");
}

/// Two hosts, `n` instances each on one interface, opposite affinities:
/// each host masters half, then each takes all when the other dies, and
/// gives its half back when the other returns (preempt).
fn alternate_affinities_fail_over_both_ways(n: u8) {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(2);
    let mut a = ConfigDaemon::start(&lan.hosts[0], &alternate(true, n));
    let mut b = ConfigDaemon::start(&lan.hosts[1], &alternate(false, n));
    let all: Vec<u8> = (1..=n).collect();
    assert!(
        a.wait_masters(&odd(n), CONVERGE) && b.wait_masters(&even(n), CONVERGE),
        "A masters {:?}, B masters {:?}",
        a.masters(),
        b.masters()
    );
    assert!(wait_until(Duration::from_secs(10), || {
        held(&lan.hosts[0], &[vip(1)]).len() == 1
    }));
    thread::sleep(Duration::from_secs(2));
    assert_vips_follow(&lan, &odd(n), &even(n), n);

    // A dies: B takes everything.
    a.kill();
    lan.carrier_off(0);
    assert!(
        b.wait_masters(&all, TAKEOVER),
        "B masters {:?} after A died",
        b.masters()
    );
    // A comes back (its addresses were left behind by SIGKILL: its start
    // runs the downscripts): it takes its half back.
    lan.carrier_on(0);
    a.restart();
    assert!(
        a.wait_masters(&odd(n), CONVERGE) && b.wait_masters(&even(n), CONVERGE),
        "after A returned: A masters {:?}, B masters {:?}",
        a.masters(),
        b.masters()
    );
    // And the other way: B dies, A takes everything.
    b.kill();
    lan.carrier_off(1);
    assert!(
        a.wait_masters(&all, TAKEOVER),
        "A masters {:?} after B died",
        a.masters()
    );
    thread::sleep(Duration::from_secs(2));
    let everything: Vec<Ipv4Addr> = (1..=n).map(vip).collect();
    assert_eq!(held(&lan.hosts[0], &everything), everything);
    eprintln!("MANY {n} instances: alternate affinities, failover both ways: ok");
}

/// The CentOS how-to's layout: two VIPs, two hosts, opposite affinities.
#[test]
fn two_vips_two_hosts_opposite_affinities() {
    alternate_affinities_fail_over_both_ways(2);
}

#[test]
fn hundred_instances_on_one_interface_alternate_and_fail_over_both_ways() {
    alternate_affinities_fail_over_both_ways(100);
}

/// SIGHUP: an unchanged instance stays MASTER with no gap in its adverts
/// (on the wire), a removed one runs its downscript, a new one starts, and
/// a broken file changes nothing.
#[test]
fn reload_keeps_masters_and_applies_the_difference() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(1);
    let wire = Adverts::start(&lan, 1);
    let first = [
        InstanceConf::new(1, vip(1), 0),
        InstanceConf::new(2, vip(2), 0),
    ];
    let daemon = ConfigDaemon::start(&lan.hosts[0], &first);
    assert!(
        daemon.wait_masters(&[1, 2], CONVERGE),
        "{:?}",
        daemon.states()
    );
    let before = daemon.status().expect("status");
    let sent_before = before["instances"][0]["counters"]["adverts_sent"]
        .as_u64()
        .expect("adverts_sent");
    thread::sleep(Duration::from_secs(2));

    let t0 = epoch_now();
    daemon.write_config(&[
        InstanceConf::new(1, vip(1), 0),
        InstanceConf::new(3, vip(3), 0),
    ]);
    daemon.signal(libc::SIGHUP);
    assert!(
        daemon.log.wait_for(
            "reloaded: 1 instance(s) kept, 1 stopped, 1 started",
            TAKEOVER
        ),
        "{}",
        daemon.log.text()
    );
    assert!(
        daemon.wait_masters(&[1, 3], CONVERGE),
        "{:?}",
        daemon.states()
    );
    thread::sleep(Duration::from_secs(3));
    // vhid 1 never left MASTER: one transition in all, and its counters went on.
    let after = daemon.status().expect("status");
    let one = &after["instances"][0];
    assert_eq!(one["vhid"], 1);
    assert_eq!(one["counters"]["became_master"], 1, "{one}");
    assert_eq!(one["counters"]["released_master"], 0, "{one}");
    assert!(one["counters"]["adverts_sent"].as_u64().expect("sent") > sent_before + 3);
    // On the wire: vhid 1's adverts around the reload are one interval apart.
    let adverts: Vec<f64> = wire
        .between(t0 - 2.0, epoch_now())
        .iter()
        .map(|a| a.at)
        .collect();
    assert!(adverts.len() >= 5, "{}", wire.text());
    let gap = adverts.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(
        gap <= 1.1,
        "largest advert gap {gap:.3} s around the reload"
    );
    // vhid 2 gave its address up through its downscript; vhid 3 holds its own.
    assert!(
        daemon
            .marker()
            .iter()
            .any(|l| l == &format!("down eth0 {}", vip(2))),
        "{:?}",
        daemon.marker()
    );
    assert!(wait_until(Duration::from_secs(5), || held(
        &lan.hosts[0],
        &[vip(1), vip(2), vip(3)]
    ) == [vip(1), vip(3)]));

    // A broken file is rejected as a whole; the running set stays.
    daemon.write_raw_config("[[instance]]\nvhid = 300\n");
    daemon.signal(libc::SIGHUP);
    assert!(
        daemon
            .log
            .wait_for("reload rejected, the running instances are kept", TAKEOVER),
        "{}",
        daemon.log.text()
    );
    thread::sleep(Duration::from_secs(2));
    assert_eq!(daemon.masters(), [1, 3]);
    eprintln!("MANY reload: largest advert gap of the kept master {gap:.3} s");
}

/// One instance's up-script hangs: the other instance's adverts keep their
/// schedule and its own script runs at once.
#[test]
fn a_hanging_script_delays_no_other_instance() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(1);
    let capture = Capture::start_with(&lan.client, &["-T", "carp"], "ip proto 112");
    let mut hanging = InstanceConf::new(1, vip(1), 0);
    hanging.hanging_upscript = true;
    let daemon = ConfigDaemon::start(&lan.hosts[0], &[hanging, InstanceConf::new(2, vip(2), 0)]);
    assert!(
        daemon.wait_masters(&[1, 2], CONVERGE),
        "{:?}",
        daemon.states()
    );
    // vhid 2's up-script ran and added its address while vhid 1's hangs.
    assert!(
        wait_until(Duration::from_secs(5), || held(&lan.hosts[0], &[vip(2)])
            == [vip(2)]),
        "{:?}",
        daemon.marker()
    );
    assert_eq!(held(&lan.hosts[0], &[vip(1)]), Vec::<Ipv4Addr>::new());
    assert_eq!(daemon.script_pids().len(), 1, "vhid 1's script hangs");
    let t0 = epoch_now();
    thread::sleep(Duration::from_secs(4));
    // Both instances advertised every second meanwhile.
    for vhid in [1, 2] {
        let needle = format!("vhid={vhid} ");
        let stamps: Vec<f64> = capture
            .stamps(&["CARP", &needle])
            .into_iter()
            .filter(|t| *t >= t0)
            .collect();
        assert!(stamps.len() >= 3, "vhid {vhid}: {stamps:?}");
        let gap = stamps.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        assert!(gap <= 1.1, "vhid {vhid}: advert gap {gap:.3} s");
    }
}

/// `xcarp status` (table, JSON, Prometheus) and the metrics endpoint of a
/// running daemon.
#[test]
fn status_and_metrics_describe_each_instance() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(2);
    let a = ConfigDaemon::start(&lan.hosts[0], &alternate(true, 2));
    let b = ConfigDaemon::start(&lan.hosts[1], &alternate(false, 2));
    assert!(a.wait_masters(&[1], CONVERGE) && b.wait_masters(&[2], CONVERGE));
    thread::sleep(Duration::from_secs(2));
    let status = a.status().expect("status");
    let instances = status["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 2);
    let (one, two) = (&instances[0], &instances[1]);
    assert_eq!(
        (one["state"].as_str(), two["state"].as_str()),
        (Some("MASTER"), Some("BACKUP"))
    );
    // The master of vhid 2, as A sees it, is B.
    assert_eq!(
        two["master"].as_str(),
        Some(lan.hosts[1].addr.to_string().as_str())
    );
    assert_eq!(
        one["master"].as_str(),
        Some(lan.hosts[0].addr.to_string().as_str())
    );
    assert!(one["counters"]["adverts_sent"].as_u64() > Some(0));
    assert!(two["counters"]["adverts_received"].as_u64() > Some(0));
    assert_eq!(one["last_transition"]["to"].as_str(), Some("MASTER"));
    assert_eq!(status["interfaces"][0]["name"].as_str(), Some("eth0"));
    let table = a.status_text(None);
    assert!(
        table.contains("vip1") && table.contains("MASTER"),
        "{table}"
    );
    let prometheus = a.status_text(Some("--prometheus"));
    assert!(
        prometheus
            .lines()
            .any(|l| l.starts_with("xcarp_instance_is_master{")
                && l.contains("vhid=\"1\"")
                && l.ends_with(" 1")),
        "{prometheus}"
    );
    assert!(
        prometheus.contains("xcarp_adverts_sent_total{"),
        "{prometheus}"
    );
    // The metrics endpoint, from the client over the LAN.
    let request = format!(
        "exec 3<>/dev/tcp/{}/{METRICS_PORT}; printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3",
        lan.hosts[1].addr
    );
    let out = lan.client.exec("bash", &["-c", &request]);
    let http = String::from_utf8_lossy(&out.stdout);
    assert!(
        http.starts_with("HTTP/1.") && http.contains(" 200 "),
        "{http}"
    );
    assert!(http.contains("text/plain; version=0.0.4"), "{http}");
    assert!(
        http.lines()
            .any(|l| l.starts_with("xcarp_instance_is_master{")
                && l.contains("vhid=\"2\"")
                && l.ends_with(" 1")),
        "{http}"
    );
    eprintln!(
        "MANY status: {} bytes JSON, {} lines Prometheus",
        status.to_string().len(),
        prometheus.lines().count()
    );
}

/// systemd's Type=notify: READY=1 comes once the XDP program is attached,
/// RELOADING=1 then READY=1 around a reload, STOPPING=1 at exit.
#[test]
fn systemd_hears_ready_once_attached_and_around_reloads() {
    use std::os::unix::net::UnixDatagram;
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(1);
    let dir = xcarp_tests::carp::TempDir::new("notify");
    let socket_path = dir.0.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let path = socket_path.display().to_string();
    let mut daemon = ConfigDaemon::start_with_env(
        &lan.hosts[0],
        &xcarp_tests::xcarp_bin(),
        &[InstanceConf::new(1, vip(1), 0)],
        &[("NOTIFY_SOCKET", &path)],
    );
    let next = || {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).expect("a notification within 15 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = next();
    assert!(ready.contains("READY=1"), "{ready:?}");
    // At that moment the program is attached already.
    assert!(
        lan.hosts[0].ns.xdp_attachment(&lan.hosts[0].dev).is_some(),
        "READY before the XDP attachment"
    );
    daemon.signal(libc::SIGHUP);
    let reloading = next();
    assert!(reloading.contains("RELOADING=1"), "{reloading:?}");
    let ready = next();
    assert!(ready.contains("READY=1"), "{ready:?}");
    daemon.signal(libc::SIGTERM);
    let stopping = next();
    assert!(stopping.contains("STOPPING=1"), "{stopping:?}");
    daemon.kill();
}
