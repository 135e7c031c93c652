//! Health checks and tracked interfaces (docs/config.md, "Health checks"),
//! judged on the wire: two xcarp hosts, the instance MASTER on A; A's
//! check (a script that tests for a file the test creates and removes) or
//! a tracked interface decides where the VIP goes.
use std::{
    fs,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::Duration,
};

use xcarp_tests::{
    carp::{Impl, TempDir},
    lan::{DEV, Lan},
    multi::{ConfigDaemon, InstanceConf, check_toml, held, vip},
    probe::{Advert, Adverts, epoch_now},
    run_variants, try_sh, wait_until, write_executable,
};

const VHID: u8 = 1;
const A: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
/// The checks' interval (s), and their fall and rise.
const INTERVAL: f64 = 0.5;
const FALL: u32 = 3;
const RISE: u32 = 2;
/// Startup: master-down (3 s) plus the slack of a loaded two-core machine.
const CONVERGE: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug)]
enum Case {
    /// (a) then (b): the check fails, the VIP moves; it recovers, A stays
    /// BACKUP (no preempt) or takes the VIP back (preempt).
    CheckFails { preempt: bool },
    /// (c) checks that hang are killed, adverts stay on time.
    HangingChecks,
    /// (d) a tracked interface goes down.
    TrackedInterfaceDown,
}

#[test]
fn health_checks_and_tracked_interfaces_move_the_vip() {
    const XCARP: &[Impl] = &[Impl::Xcarp];
    run_variants(
        "health",
        &[
            (Case::CheckFails { preempt: false }, XCARP),
            (Case::CheckFails { preempt: true }, XCARP),
            (Case::HangingChecks, XCARP),
            (Case::TrackedInterfaceDown, XCARP),
        ],
        |case| match *case {
            Case::CheckFails { preempt } => check_fails_then_recovers(preempt),
            Case::HangingChecks => hanging_checks_never_delay_adverts(),
            Case::TrackedInterfaceDown => tracked_interface_down_moves_the_vip(),
        },
    );
}

/// A MASTER on host A with `a_extra` in its instance, then B as BACKUP
/// (advskew 100).
fn start_pair(lan: &Lan, preempt: bool, a_extra: String) -> (ConfigDaemon, ConfigDaemon) {
    let a_conf = InstanceConf {
        preempt,
        extra: a_extra,
        ..InstanceConf::new(VHID, vip(VHID), 0)
    };
    let b_conf = InstanceConf {
        preempt,
        ..InstanceConf::new(VHID, vip(VHID), 100)
    };
    let a = ConfigDaemon::start(&lan.hosts[0], &[a_conf]);
    assert!(a.wait_masters(&[VHID], CONVERGE), "A never became MASTER");
    let b = ConfigDaemon::start(&lan.hosts[1], &[b_conf]);
    assert!(
        wait_until(CONVERGE, || b.states().get(&VHID).map(String::as_str)
            == Some("BACKUP")),
        "B did not start as BACKUP: {:?}",
        b.states()
    );
    assert!(
        wait_until(Duration::from_secs(5), || held(&lan.hosts[0], &[vip(VHID)])
            .len()
            == 1),
        "A does not hold the VIP"
    );
    (a, b)
}

/// Samples who holds the VIP every 20 ms while `body` runs; returns the
/// longest time both hosts held it at once (s).
fn longest_overlap<T>(lan: &Lan, body: impl FnOnce() -> T) -> (T, f64) {
    let stop = AtomicBool::new(false);
    let namespaces: Vec<String> = lan.hosts.iter().map(|h| h.ns.name.clone()).collect();
    let holds = |ns: &str| {
        let out = try_sh("ip", &["-n", ns, "-4", "-o", "addr", "show", "dev", DEV]);
        String::from_utf8_lossy(&out.stdout).contains(&format!(" {}/", vip(VHID)))
    };
    thread::scope(|s| {
        let sampler = s.spawn(|| {
            let (mut longest, mut since) = (0.0f64, None::<f64>);
            while !stop.load(Ordering::Relaxed) {
                let both = namespaces.iter().all(|ns| holds(ns));
                let now = epoch_now();
                match (both, since) {
                    (true, None) => since = Some(now),
                    (true, Some(t)) => longest = longest.max(now - t),
                    (false, _) => since = None,
                }
                thread::sleep(Duration::from_millis(20));
            }
            longest
        });
        let result = body();
        stop.store(true, Ordering::Relaxed);
        (result, sampler.join().expect("sampler"))
    })
}

/// The last advert of `src` before `before`.
fn last_from(adverts: &[Advert], src: Ipv4Addr, before: f64) -> Option<Advert> {
    adverts
        .iter()
        .rfind(|a| a.src == src && a.at < before)
        .cloned()
}

fn instance_status(daemon: &ConfigDaemon) -> serde_json::Value {
    daemon.status().expect("status answers")["instances"][0].clone()
}

/// A check script: passes while `flag` exists; a failing run appends its
/// time (epoch seconds) to `fails`.
fn flag_check(dir: &Path, flag: &Path, fails: &Path) -> PathBuf {
    let script = dir.join("check.sh");
    write_executable(
        &script,
        &format!(
            "#!/bin/sh\n[ -e {flag} ] && exit 0\ndate +%s.%N >> {fails}\nexit 1\n",
            flag = flag.display(),
            fails = fails.display()
        ),
    );
    script
}

fn check_fails_then_recovers(preempt: bool) {
    let lan = Lan::with_hosts(2);
    let dir = TempDir::new("health");
    let (flag, fails) = (dir.0.join("healthy"), dir.0.join("fails"));
    fs::write(&flag, "").unwrap();
    let script = flag_check(&dir.0, &flag, &fails);
    let adverts = Adverts::start(&lan, VHID);
    let (a, b) = start_pair(
        &lan,
        preempt,
        check_toml("flag", &script, INTERVAL, INTERVAL, FALL, RISE),
    );
    let tag = format!("HEALTH check fails (preempt={preempt})");

    // (a) The check fails on the master: B takes over.
    let fall = f64::from(FALL) * INTERVAL;
    let bound = fall + INTERVAL + 0.5;
    let ((made_to_fail, b_first), overlap) = longest_overlap(&lan, || {
        let made_to_fail = epoch_now();
        fs::remove_file(&flag).unwrap();
        let b_first = adverts
            .wait_first_from(B, made_to_fail, Duration::from_secs_f64(bound + 2.0))
            .unwrap_or_else(|| panic!("{tag}: no advert from B:\n{}", adverts.text()));
        // Let the hand-over finish: scripts, a few adverts of B.
        thread::sleep(Duration::from_secs(3));
        (made_to_fail, b_first)
    });
    let first_failing_run: f64 = fs::read_to_string(&fails)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .find(|t| *t >= made_to_fail - 0.01)
        .unwrap_or_else(|| panic!("{tag}: the check never ran failing"));
    let (from_removal, from_run) = (b_first - made_to_fail, b_first - first_failing_run);
    eprintln!(
        "{tag}: B's first advert {from_removal:.3}s after the check was made to fail, \
         {from_run:.3}s after its first failing run (fall {FALL} x interval {INTERVAL}s); \
         both held the VIP at once for at most {overlap:.3}s"
    );
    assert!(
        from_removal <= bound,
        "{tag}: B took over {from_removal:.3}s after the failure, bound {bound}s"
    );
    assert!(
        from_run <= fall + 0.5,
        "{tag}: B took over {from_run:.3}s after the first failing run, bound {}s",
        fall + 0.5
    );
    let all = adverts.all();
    // A bowed out (advbase and advskew 255) just before B's first advert,
    // and was silent since (or advertised demoted).
    let bow_out = last_from(&all, A, b_first).expect("adverts of A");
    assert_eq!(
        (bow_out.advbase, bow_out.advskew),
        (255, 255),
        "{tag}: A's last advert before B's is not a bow-out:\n{}",
        adverts.text()
    );
    let a_after: Vec<&Advert> = all
        .iter()
        .filter(|x| x.src == A && x.at > b_first)
        .collect();
    assert!(
        a_after.iter().all(|x| x.advskew >= 240),
        "{tag}: A advertised as a healthy master after B took over: {a_after:?}"
    );
    assert!(
        all.iter().filter(|x| x.src == B && x.at > b_first).count() >= 2,
        "{tag}: B's adverts did not go on:\n{}",
        adverts.text()
    );
    assert!(overlap <= 0.5, "{tag}: both held the VIP for {overlap:.3}s");
    assert!(
        held(&lan.hosts[0], &[vip(VHID)]).is_empty(),
        "{tag}: VIP on A"
    );
    assert_eq!(held(&lan.hosts[1], &[vip(VHID)]), [vip(VHID)], "{tag}");
    assert_eq!(a.states().get(&VHID).map(String::as_str), Some("BACKUP"));
    // Status and metrics say why.
    let status = instance_status(&a);
    assert_eq!(status["demotion"], 1, "{status}");
    assert_eq!(status["checks"][0]["failing"], true, "{status}");
    assert!(
        status["checks"][0]["consecutive_failures"].as_u64() >= Some(u64::from(FALL)),
        "{status}"
    );
    assert_eq!(status["checks"][0]["last_run"]["exit"], 1, "{status}");
    let metrics = a.status_text(Some("--prometheus"));
    assert!(
        metrics
            .contains("xcarp_demotion{name=\"vip1\",interface=\"eth0\",vlan=\"0\",vhid=\"1\"} 1\n"),
        "{metrics}"
    );
    assert_eq!(instance_status(&b)["demotion"], 0);

    // (b) The check passes again.
    let recovered = epoch_now();
    fs::write(&flag, "").unwrap();
    let rise = f64::from(RISE) * INTERVAL + INTERVAL;
    if preempt {
        // A preempts B's slower adverts at B's next advert after recovery.
        let b_interval = 1.0 + 100.0 / 256.0;
        let bound = rise + b_interval + 0.5;
        let a_back = adverts
            .wait_first_from(A, recovered, Duration::from_secs_f64(bound + 2.0))
            .unwrap_or_else(|| panic!("{tag}: A never took the VIP back"));
        eprintln!(
            "{tag}: A took the VIP back {:.3}s after its check passed again",
            a_back - recovered
        );
        assert!(a_back - recovered <= bound, "{tag}: bound {bound}s");
        assert!(a.wait_masters(&[VHID], Duration::from_secs(5)));
        assert!(wait_until(Duration::from_secs(5), || held(
            &lan.hosts[0],
            &[vip(VHID)]
        )
        .len()
            == 1));
        assert_eq!(b.states().get(&VHID).map(String::as_str), Some("BACKUP"));
    } else {
        // Healthy again, but no preempt: B keeps the VIP.
        thread::sleep(Duration::from_secs_f64(rise + 3.0));
        let a_adverts = adverts
            .all()
            .into_iter()
            .filter(|x| x.src == A && x.at >= recovered)
            .count();
        assert_eq!(a_adverts, 0, "{tag}: A advertised after recovering");
        assert_eq!(a.states().get(&VHID).map(String::as_str), Some("BACKUP"));
        assert_eq!(b.masters(), [VHID]);
        assert_eq!(held(&lan.hosts[1], &[vip(VHID)]), [vip(VHID)]);
    }
    let status = instance_status(&a);
    assert_eq!(status["demotion"], 0, "{status}");
    assert_eq!(status["checks"][0]["failing"], false, "{status}");
}

/// Whether process `pid` still runs (a zombie does not).
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command's closing parenthesis.
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

fn hanging_checks_never_delay_adverts() {
    let lan = Lan::with_hosts(2);
    let dir = TempDir::new("hang");
    let pids = dir.0.join("pids");
    // Each run records its pid and a child's, then hangs.
    let script = dir.0.join("hang.sh");
    write_executable(
        &script,
        &format!(
            "#!/bin/sh\nsleep 1000 &\necho $! >> {p}\necho $$ >> {p}\nwait\n",
            p = pids.display()
        ),
    );
    // Never failing often enough to demote: adverts must stay as they are.
    let extra = format!(
        "{}{}",
        check_toml("hang-fast", &script, 0.2, 0.2, 255, 1),
        check_toml("hang-slow", &script, 1.0, 0.9, 255, 1)
    );
    let adverts = Adverts::start(&lan, VHID);
    let (a, _b) = start_pair(&lan, false, extra);
    let from = epoch_now();
    thread::sleep(Duration::from_secs(8));
    let to = epoch_now();
    let stamps: Vec<f64> = adverts
        .between(from, to)
        .into_iter()
        .filter(|x| x.src == A)
        .map(|x| x.at)
        .collect();
    let max_gap = stamps
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(0.0f64, f64::max);
    let status = instance_status(&a);
    let timeouts: Vec<u64> = (0..2)
        .map(|i| status["checks"][i]["timeouts"].as_u64().unwrap_or(0))
        .collect();
    eprintln!(
        "HEALTH hanging checks: {} adverts of A in {:.1}s, largest gap {max_gap:.3}s \
         (interval 1s); runs killed at their timeout: {timeouts:?}",
        stamps.len(),
        to - from
    );
    assert!(
        stamps.len() >= 7,
        "A's adverts stopped:\n{}",
        adverts.text()
    );
    assert!(
        max_gap <= 1.0 + 0.15,
        "an advert gap of {max_gap:.3}s while checks hung"
    );
    assert!(
        timeouts[0] >= 20 && timeouts[1] >= 4,
        "hung runs were not killed at their timeouts: {status}"
    );
    assert_eq!(status["demotion"], 0, "{status}");
    assert_eq!(a.masters(), [VHID]);
    // Every run but the ones still going was killed with its child.
    let recorded: Vec<i32> = fs::read_to_string(&pids)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    thread::sleep(Duration::from_millis(300));
    let survivors: Vec<i32> = recorded.iter().copied().filter(|p| alive(*p)).collect();
    assert!(
        recorded.len() >= 40 && survivors.len() <= 4,
        "{} processes recorded, still alive: {survivors:?}",
        recorded.len()
    );
}

fn tracked_interface_down_moves_the_vip() {
    let lan = Lan::with_hosts(2);
    // A veth pair inside A's namespace: trk0 is tracked.
    let ns = &lan.hosts[0].ns;
    ns.ip(&[
        "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
    ]);
    ns.ip(&["link", "set", "trk1", "up"]);
    ns.ip(&["link", "set", "trk0", "up"]);
    assert!(wait_until(Duration::from_secs(5), || {
        ns.ip(&["-o", "link", "show", "dev", "trk0"])
            .contains("LOWER_UP")
    }));
    let adverts = Adverts::start(&lan, VHID);
    let (a, _b) = start_pair(&lan, false, "track_interface = [\"trk0\"]\n".into());
    assert_eq!(instance_status(&a)["tracked_interfaces"][0]["up"], true);
    let ((down_at, b_first), overlap) = longest_overlap(&lan, || {
        let down_at = epoch_now();
        ns.ip(&["link", "set", "trk0", "down"]);
        let b_first = adverts
            .wait_first_from(B, down_at, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("no advert from B:\n{}", adverts.text()));
        thread::sleep(Duration::from_secs(2));
        (down_at, b_first)
    });
    eprintln!(
        "HEALTH tracked interface down: B's first advert {:.3}s after trk0 went down; \
         both held the VIP at once for at most {overlap:.3}s",
        b_first - down_at
    );
    // Netlink reports it at once; the periodic reading within a second.
    assert!(b_first - down_at <= 1.5, "took {:.3}s", b_first - down_at);
    assert!(overlap <= 0.5, "both held the VIP for {overlap:.3}s");
    let bow_out = last_from(&adverts.all(), A, b_first).expect("adverts of A");
    assert_eq!((bow_out.advbase, bow_out.advskew), (255, 255));
    assert!(held(&lan.hosts[0], &[vip(VHID)]).is_empty());
    assert_eq!(held(&lan.hosts[1], &[vip(VHID)]), [vip(VHID)]);
    let status = instance_status(&a);
    assert_eq!(status["demotion"], 1, "{status}");
    assert_eq!(status["tracked_interfaces"][0]["up"], false, "{status}");
    // Up again: healthy, and without preempt B keeps the VIP.
    ns.ip(&["link", "set", "trk0", "up"]);
    assert!(wait_until(
        Duration::from_secs(5),
        || instance_status(&a)["demotion"] == 0
    ));
    assert_eq!(a.states().get(&VHID).map(String::as_str), Some("BACKUP"));
    // A reload adds a check that always fails: it runs and demotes A
    // without restarting the instance.
    let tracked = "track_interface = [\"trk0\"]\n";
    a.write_config(&[InstanceConf {
        preempt: false,
        extra: format!(
            "{tracked}{}",
            check_toml("false", Path::new("/bin/false"), 0.5, 0.5, 1, 1)
        ),
        ..InstanceConf::new(VHID, vip(VHID), 0)
    }]);
    a.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || {
            let s = instance_status(&a);
            s["checks"][0]["name"] == "false" && s["demotion"] == 1
        }),
        "the reloaded check did not demote A: {}",
        instance_status(&a)
    );
    assert_eq!(a.states().get(&VHID).map(String::as_str), Some("BACKUP"));
    assert_eq!(instance_status(&a)["tracked_interfaces"][0]["up"], true);
}
