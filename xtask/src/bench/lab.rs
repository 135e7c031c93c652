//! The benchmark's namespace labs, built from the test harness
//! (`xcarp-tests`, docs/testing.md): floods from an attacker host against a
//! master/backup pair, failovers after SIGKILL watched from a client, and
//! the daemons' memory. Everything is behind the harness's guards, so it is
//! removed on success, on error, on panic and on Ctrl-C.
use std::{
    net::Ipv4Addr,
    path::Path,
    thread,
    time::{Duration, Instant},
};

use xcarp_tests::{
    carp::{CarpOpts, Impl, Node, State, wait_for_exactly_one_master},
    frames::{Pace, Trafgen, carp_advert, carp_advert_forged, udp_broadcast},
    lan::{Lan, VIP},
    probe::{Adverts, Capture, Pinger, capture_frames, epoch_now, xdp_attachment},
};

use super::{
    report::{FailoverRep, FailoverRun, FloodKind, FloodPoint, FloodTakeover, ManyVhids, Memory},
    stats,
};

/// The VHID the pair runs.
pub(super) const VHID: u8 = 42;
/// The flooding host's index on the flood LAN (hosts 0 and 1 run CARP).
const ATTACKER: usize = 2;

/// How long each part runs.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub quick: bool,
    /// Measuring window of each flood rate.
    pub window: Duration,
    /// Measuring window of the own-VHID floods: at least a master-down
    /// interval, so that a backup starved of its master's adverts would
    /// have taken over inside it.
    pub own_window: Duration,
    pub failovers: usize,
    /// Planned stops per pairing of daemons.
    pub stops: usize,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                window: Duration::from_secs(2),
                own_window: Duration::from_millis(3500),
                failovers: 5,
                stops: 3,
            }
        } else {
            Self {
                quick,
                window: Duration::from_secs(5),
                own_window: Duration::from_secs(5),
                failovers: 20,
                stops: 10,
            }
        }
    }

    /// The paces each flood kind runs at, slowest first; the last is the
    /// fastest this machine generates.
    pub fn paces(&self, kind: FloodKind) -> Vec<Pace> {
        let own = matches!(kind, FloodKind::Forged | FloodKind::Replayed);
        match (self.quick, own) {
            (true, true) => vec![Pace::Unlimited],
            (true, false) => vec![Pace::Pps(10_000), Pace::Unlimited],
            (false, true) => vec![Pace::Pps(10_000), Pace::Unlimited],
            (false, false) => vec![
                Pace::Pps(1_000),
                Pace::Pps(10_000),
                Pace::Pps(100_000),
                Pace::Unlimited,
            ],
        }
    }
}

/// The CARP options of both nodes: one advert a second; the first node's
/// lower skew makes it the master, so the floods always meet the same roles.
fn opts(skew: u32) -> CarpOpts {
    CarpOpts {
        vhid: VHID,
        advskew: skew,
        ..CarpOpts::default()
    }
}

/// A point in time of one process's CPU use.
#[derive(Clone, Copy, Default)]
struct CpuSample {
    /// Sum over its threads of their time on a CPU, ns.
    sched_ns: u64,
    /// user + system, clock ticks.
    ticks: u64,
}

fn cpu_sample(pid: i32) -> CpuSample {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stats::stat_cpu_ticks(&s))
        .unwrap_or(0);
    let sched_ns = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                .filter_map(|s| stats::schedstat_ns(&s))
                .sum()
        })
        .unwrap_or(0);
    CpuSample { sched_ns, ticks }
}

fn softirq_ticks() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| stats::proc_stat_softirq_ticks(&s))
        .unwrap_or(0)
}

/// Clock ticks per second (`_SC_CLK_TCK`).
fn clock_ticks() -> f64 {
    #[allow(unsafe_code)]
    // SAFETY: sysconf(3) has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    #[allow(clippy::cast_precision_loss)]
    if t > 0 { t as f64 } else { 100.0 }
}

fn status_kb(pid: i32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| stats::status_kb(&s, field))
}

/// What the flood lab of one implementation measured.
pub struct FloodRun {
    pub points: Vec<FloodPoint>,
    /// Takeovers after SIGKILL of the master under the own-VHID floods.
    pub takeovers: Vec<FloodTakeover>,
    pub memory: Memory,
    /// How the master's host runs XDP (`ip -d link`): "xdp" (driver
    /// mode), "xdpgeneric", or none (ucarp).
    pub xdp_attach: Option<&'static str>,
}

/// Starts the pair on a LAN with an attacker, then floods it with every
/// kind at every pace of `plan`, one after the other.
pub fn floods(
    imp: Impl,
    binary: &Path,
    plan: &Plan,
    progress: &dyn Fn(&str),
) -> anyhow::Result<FloodRun> {
    let lan = Lan::with_hosts(3);
    let mut master = Node::start_binary(&lan.hosts[0], imp, binary.to_path_buf(), opts(0));
    let mut backup = Node::start_binary(&lan.hosts[1], imp, binary.to_path_buf(), opts(100));
    let elected =
        wait_for_exactly_one_master(&mut [&mut master, &mut backup], Duration::from_secs(20));
    anyhow::ensure!(
        matches!(elected, Some((0, _))),
        "{imp}: the node with the lower skew did not become the only master within 20 s\n{}\n{}",
        master.full_log(),
        backup.full_log()
    );
    // Let the start settle (scripts done, buffers touched) before the
    // resident size counts.
    thread::sleep(Duration::from_secs(1));
    let rss_start_kb = status_kb(master.pid(), "VmRSS").unwrap_or(0);
    let hwm_start_kb = status_kb(master.pid(), "VmHWM").unwrap_or(0);
    let xdp_attach = xdp_attachment(&lan.hosts[0]);

    let replayed = capture_adverts(&lan, master.addr)?;
    let mut points = Vec::new();
    for kind in FloodKind::ALL {
        let frames = flood_frames(kind, &lan, &replayed);
        let window = if kind.own_vhid() {
            plan.own_window
        } else {
            plan.window
        };
        for pace in plan.paces(kind) {
            let point = flood_window(
                &lan,
                &mut master,
                &mut backup,
                imp,
                kind,
                &frames,
                pace,
                window,
            )?;
            progress(&format!(
                "{imp:<5} {:<26} {:<10} {:>9.0} frames/s  daemon CPU {:>6.2} % (master) {:>6.2} % (backup)  softirq {:>5.1} %  state changes {}",
                kind.label(),
                pace_label(pace),
                point.achieved_pps,
                point.cpu_pct_master,
                point.cpu_pct_backup,
                point.softirq_pct,
                point.state_changes
            ));
            points.push(point);
        }
    }
    let hwm_kb = status_kb(master.pid(), "VmHWM").unwrap_or(0);
    let rss_end_kb = status_kb(master.pid(), "VmRSS").unwrap_or(0);
    let memory = Memory {
        imp: imp.name().into(),
        rss_start_kb,
        hwm_start_kb,
        rss_end_kb,
        hwm_kb,
        rss_anon_kb: status_kb(master.pid(), "RssAnon").unwrap_or(0),
        rss_file_kb: status_kb(master.pid(), "RssFile").unwrap_or(0),
        rss_shmem_kb: status_kb(master.pid(), "RssShmem").unwrap_or(0),
    };
    let mut pair = [master, backup];
    let mut takeovers = Vec::new();
    for kind in [FloodKind::Forged, FloodKind::Replayed] {
        let t = takeover_under_flood(&lan, &mut pair, imp, kind)?;
        progress(&format!(
            "{imp:<5} {:<26} SIGKILL of the master → backup MASTER in {} (master-down {:.2} s)",
            kind.label(),
            t.took_s
                .map_or_else(|| "— (no takeover)".into(), |s| format!("{s:.2} s")),
            t.master_down_s
        ));
        takeovers.push(t);
    }
    Ok(FloodRun {
        points,
        takeovers,
        memory,
        xdp_attach,
    })
}

/// Kills the master while the attacker floods at full speed with adverts
/// of our VHID (forged, or the current master's own, captured just before),
/// and times the backup's takeover; then restores the pair.
fn takeover_under_flood(
    lan: &Lan,
    pair: &mut [Node; 2],
    imp: Impl,
    kind: FloodKind,
) -> anyhow::Result<FloodTakeover> {
    const WAIT: Duration = Duration::from_secs(12);
    let m = (0..2)
        .find(|&i| pair[i].state() == Some(State::Master))
        .ok_or_else(|| anyhow::anyhow!("{imp}: no master before the takeover under flood"))?;
    let s = 1 - m;
    let frames = match kind {
        FloodKind::Replayed => capture_adverts(lan, lan.hosts[m].addr)?,
        _ => flood_frames(kind, lan, &[]),
    };
    let flood = Trafgen::start_paced(&lan.hosts[ATTACKER], &frames, Pace::Unlimited);
    thread::sleep(Duration::from_millis(1500));
    let t_kill = Instant::now();
    pair[m].kill();
    lan.carrier_off(m);
    let took_s = pair[s]
        .log
        .wait_for_since("Switching to state: MASTER", t_kill, WAIT)
        .map(|at| (at - t_kill).as_secs_f64());
    drop(flood);
    lan.carrier_on(m);
    pair[m].restart();
    let [a, b] = pair;
    anyhow::ensure!(
        wait_for_exactly_one_master(&mut [a, b], Duration::from_secs(20)).is_some(),
        "{imp}: no single master again after the takeover under the {} flood",
        kind.label()
    );
    Ok(FloodTakeover {
        imp: imp.name().into(),
        kind,
        master_down_s: opts(if s == 0 { 0 } else { 100 })
            .master_down()
            .as_secs_f64(),
        took_s,
    })
}

pub fn pace_label(pace: Pace) -> String {
    match pace {
        Pace::GapUs(us) => format!("gap {us}us"),
        Pace::Pps(pps) => format!("{pps}/s"),
        Pace::Unlimited => "max".into(),
    }
}

fn mac_bytes(mac: &str) -> [u8; 6] {
    let mut out = [0u8; 6];
    for (o, part) in out.iter_mut().zip(mac.split(':')) {
        *o = u8::from_str_radix(part, 16).unwrap_or(0);
    }
    out
}

/// A few of the master's authentic adverts, captured on the attacker's leg
/// (`tcpdump -w`), as whole frames to replay.
fn capture_adverts(lan: &Lan, master: Ipv4Addr) -> anyhow::Result<Vec<Vec<u8>>> {
    let filter = format!("ip proto 112 and ip[21] = {VHID} and ip src {master}");
    // Two adverts take two seconds.
    let frames = capture_frames(&lan.hosts[ATTACKER], &filter, 2, Duration::from_secs(5));
    anyhow::ensure!(
        !frames.is_empty(),
        "captured no advert of {master} to replay"
    );
    Ok(frames)
}

/// The frames of a flood of `kind` from the LAN's attacker host.
fn flood_frames(kind: FloodKind, lan: &Lan, replayed: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let attacker = &lan.hosts[ATTACKER];
    match kind {
        // Every VHID but ours (and 0, which is not one).
        FloodKind::ForeignVhid => (1..=255u8)
            .filter(|v| *v != VHID)
            .map(|v| carp_advert(v, attacker.addr))
            .collect(),
        // Adverts for our VHID claiming a shorter interval than the
        // master's: accepted, they would make it step down at once.
        FloodKind::Forged => (0..32u8)
            .map(|seed| carp_advert_forged(VHID, attacker.addr, 0, 1, seed))
            .collect(),
        FloodKind::Replayed => replayed.to_vec(),
        FloodKind::Udp => vec![udp_broadcast(
            mac_bytes(&attacker.mac()),
            attacker.addr,
            Ipv4Addr::new(10, 99, 255, 255),
            18,
        )],
    }
}

/// The fastest foreign-VHID and UDP floods with no daemon at all: the
/// kernel's own cost per frame (bridge, veths, stacks), which the daemons'
/// figures are read against.
pub fn baseline(plan: &Plan, progress: &dyn Fn(&str)) -> anyhow::Result<Vec<FloodPoint>> {
    let lan = Lan::with_hosts(3);
    let mut points = Vec::new();
    for kind in [FloodKind::ForeignVhid, FloodKind::Udp] {
        let w = measure(
            &lan,
            &[],
            &flood_frames(kind, &lan, &[]),
            Pace::Unlimited,
            plan.window,
        );
        let point = FloodPoint {
            imp: "none".into(),
            kind,
            pace: pace_label(Pace::Unlimited),
            achieved_pps: w.achieved_pps,
            window_s: w.elapsed,
            cpu_pct_master: 0.0,
            cpu_pct_backup: 0.0,
            cpu_ticks: 0,
            softirq_pct: w.softirq_pct,
            state_changes: 0,
        };
        progress(&format!(
            "none  {:<26} {:<10} {:>9.0} frames/s  softirq {:>5.1} %",
            kind.label(),
            point.pace,
            point.achieved_pps,
            point.softirq_pct
        ));
        points.push(point);
    }
    Ok(points)
}

/// What one flood window measured.
struct Window {
    /// % of one core, per pid given.
    cpu_pct: Vec<f64>,
    /// user + system ticks of all the pids.
    ticks: u64,
    softirq_pct: f64,
    achieved_pps: f64,
    elapsed: f64,
}

/// Floods from the attacker at `pace` and measures, over `window` of the
/// steady flood, the CPU of `pids`, the machine's softirq time and the
/// frames delivered to host 1.
fn measure(lan: &Lan, pids: &[i32], frames: &[Vec<u8>], pace: Pace, window: Duration) -> Window {
    let flood = Trafgen::start_paced(&lan.hosts[ATTACKER], frames, pace);
    // trafgen sets its ring up first: measure the steady flood only.
    thread::sleep(Duration::from_millis(500));
    let before: Vec<CpuSample> = pids.iter().map(|p| cpu_sample(*p)).collect();
    let soft0 = softirq_ticks();
    let delivered0 = lan.frames_to_host(1);
    let t0 = Instant::now();
    thread::sleep(window);
    let after: Vec<CpuSample> = pids.iter().map(|p| cpu_sample(*p)).collect();
    let soft1 = softirq_ticks();
    let delivered1 = lan.frames_to_host(1);
    let elapsed = t0.elapsed().as_secs_f64();
    drop(flood);
    #[allow(clippy::cast_precision_loss)]
    let cpu_pct = before
        .iter()
        .zip(&after)
        .map(|(a, b)| b.sched_ns.saturating_sub(a.sched_ns) as f64 / 1e9 / elapsed * 100.0)
        .collect();
    let ticks = after
        .iter()
        .map(|s| s.ticks)
        .sum::<u64>()
        .saturating_sub(before.iter().map(|s| s.ticks).sum());
    #[allow(clippy::cast_precision_loss)]
    Window {
        cpu_pct,
        ticks,
        softirq_pct: soft1.saturating_sub(soft0) as f64 / clock_ticks() / elapsed * 100.0,
        achieved_pps: delivered1.saturating_sub(delivered0) as f64 / elapsed,
        elapsed,
    }
}

/// One flood of `frames` at `pace` for `window`, with what the daemons
/// spent meanwhile.
#[allow(clippy::too_many_arguments)]
fn flood_window(
    lan: &Lan,
    master: &mut Node,
    backup: &mut Node,
    imp: Impl,
    kind: FloodKind,
    frames: &[Vec<u8>],
    pace: Pace,
    window: Duration,
) -> anyhow::Result<FloodPoint> {
    let changes_before = master.state_changes() + backup.state_changes();
    let w = measure(lan, &[master.pid(), backup.pid()], frames, pace, window);
    // A master that accepted a forged advert steps down at once; a backup
    // starved of adverts takes over after master-down, inside the window.
    thread::sleep(Duration::from_millis(500));
    let state_changes = master.state_changes() + backup.state_changes() - changes_before;
    let (alive_m, alive_b) = (master.running(), backup.running());
    anyhow::ensure!(
        alive_m && alive_b,
        "{imp} died under the {} flood\n{}\n{}",
        kind.label(),
        master.full_log(),
        backup.full_log()
    );
    if state_changes > 0 || master.state() != Some(State::Master) {
        // Back to the starting roles before the next flood.
        let elected =
            wait_for_exactly_one_master(&mut [&mut *master, &mut *backup], Duration::from_secs(15));
        anyhow::ensure!(
            elected.is_some(),
            "{imp}: no single master again after the {} flood",
            kind.label()
        );
    }
    Ok(FloodPoint {
        imp: imp.name().into(),
        kind,
        pace: pace_label(pace),
        achieved_pps: w.achieved_pps,
        window_s: w.elapsed,
        cpu_pct_master: w.cpu_pct[0],
        cpu_pct_backup: w.cpu_pct[1],
        cpu_ticks: w.ticks,
        softirq_pct: w.softirq_pct,
        state_changes,
    })
}

/// `plan.failovers` takeovers after SIGKILL of the master, alternating
/// between the two nodes, timed from the wire and from a client probing
/// the VIP every 10 ms.
pub fn failovers(
    imp: Impl,
    binary: &Path,
    plan: &Plan,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<FailoverRun> {
    let lan = Lan::with_hosts(2);
    let o = opts(0);
    let master_down = o.master_down().as_secs_f64();
    let mut nodes: Vec<Node> = lan
        .hosts
        .iter()
        .map(|h| Node::start_binary(h, imp, binary.to_path_buf(), o.clone()))
        .collect();
    {
        let (a, b) = nodes.split_at_mut(1);
        anyhow::ensure!(
            wait_for_exactly_one_master(&mut [&mut a[0], &mut b[0]], Duration::from_secs(20))
                .is_some(),
            "{imp}: no single master within 20 s"
        );
    }
    let wire = Adverts::start(&lan, VHID);
    let arp = Capture::start(&lan.client, "arp");
    let pinger = Pinger::start(&lan.client, VIP, Duration::from_millis(10));
    thread::sleep(Duration::from_millis(1500));
    let mut reps = Vec::new();
    for rep in 0..plan.failovers {
        let m = (0..2)
            .find(|&i| nodes[i].running() && nodes[i].state() == Some(State::Master))
            .ok_or_else(|| anyhow::anyhow!("{imp}: no master before failover {rep}"))?;
        let s = 1 - m;
        // Kill at a different phase of the advert interval each time.
        #[allow(clippy::cast_precision_loss)]
        let phase = (rep as f64 * 0.382).fract();
        thread::sleep(Duration::from_secs_f64(phase));
        let t_kill = Instant::now();
        let kill_epoch = epoch_now();
        nodes[m].kill();
        // The dead master's host still holds the VIP: unplug it, as a dead
        // machine would be, so the client sees the real outage.
        lan.carrier_off(m);
        let first = wire
            .wait_first_from(lan.hosts[s].addr, kill_epoch, Duration::from_secs(10))
            .ok_or_else(|| anyhow::anyhow!("{imp}: no takeover within 10 s of the kill"))?;
        let last = wire
            .last_from_before(lan.hosts[m].addr, first)
            .ok_or_else(|| anyhow::anyhow!("{imp}: no advert of the old master on the wire"))?;
        let takeover = first - last;
        // The client's probes come back once the new master answers.
        let back = xcarp_tests::wait_until(Duration::from_secs(5), || {
            pinger.replied_since(t_kill + Duration::from_secs_f64(master_down))
        });
        thread::sleep(Duration::from_millis(200));
        let garp = first_garp_after(&arp, kill_epoch).map(|g| g - last);
        let outage = back.then(|| outage(&pinger, t_kill)).flatten();
        let r = FailoverRep {
            takeover_s: takeover,
            overshoot_ms: (takeover - master_down) * 1000.0,
            garp_s: garp,
            client_outage_s: outage,
        };
        progress(&format!(
            "{imp:<5} failover {:>2}/{}: takeover {:.3} s (overshoot {:+.1} ms), GARP {}, client outage {}",
            rep + 1,
            plan.failovers,
            r.takeover_s,
            r.overshoot_ms,
            r.garp_s.map_or("none".into(), |g| format!("{g:.3} s")),
            r.client_outage_s
                .map_or("n/a".into(), |o| format!("{o:.3} s")),
        ));
        reps.push(r);
        // Bring the dead node back as a backup for the next round.
        let host = &lan.hosts[m];
        let _ = host.exec(
            "ip",
            &["addr", "del", &format!("{VIP}/32"), "dev", &host.dev],
        );
        lan.carrier_on(m);
        nodes[m].restart();
        let settled = nodes[m].wait_state(State::Backup, Duration::from_secs(10));
        anyhow::ensure!(
            settled,
            "{imp}: the restarted node did not settle as backup"
        );
        // Its master-down timer runs from an advert it has heard.
        thread::sleep(Duration::from_millis(1500));
    }
    Ok(FailoverRun {
        imp: imp.name().into(),
        master_down_s: master_down,
        reps,
    })
}

/// Capture time of the first gratuitous ARP for the VIP (`who-has VIP tell
/// VIP`) at or after `since`.
fn first_garp_after(arp: &Capture, since: f64) -> Option<f64> {
    arp.frames()
        .into_iter()
        .filter(|(_, l)| is_garp(l, VIP))
        .filter_map(|(_, l)| l.split_whitespace().next()?.parse::<f64>().ok())
        .find(|t| *t >= since)
}

/// Whether a `tcpdump -e -tt` line is a gratuitous ARP for `vip`: a
/// request for it from it. tcpdump names the target MAC when it is not
/// zero (`who-has VIP (mac) tell VIP`), or says `Announcement`.
fn is_garp(line: &str, vip: Ipv4Addr) -> bool {
    let asks = line.contains(&format!("who-has {vip} ")) && line.contains(&format!("tell {vip},"));
    asks || line.contains(&format!("Announcement {vip},"))
}

/// The longest silence of the client's probes around `t_kill`: from the
/// last reply before the outage to the first after it.
pub(super) fn outage(pinger: &Pinger, t_kill: Instant) -> Option<f64> {
    let from = t_kill.checked_sub(Duration::from_millis(500))?;
    let times: Vec<f64> = pinger
        .replies()
        .into_iter()
        .filter(|(_, t)| *t >= from)
        .map(|(_, t)| (t - from).as_secs_f64())
        .collect();
    stats::longest_gap(&times)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gratuitous_arp_lines() {
        let vip = Ipv4Addr::new(10, 99, 0, 250);
        let garp = "1795879779.959261 52:9e:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 10.99.0.250 (52:9e:00:00:00:01) tell 10.99.0.250, length 28";
        assert!(is_garp(garp, vip));
        let announce = "1795879779.959261 52:9e:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Announcement 10.99.0.250, length 28";
        assert!(is_garp(announce, vip));
        // The client asking for the VIP, and the answer, are not.
        let ask = "1795879779.9 52:9e:00:00:00:09 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 10.99.0.250 tell 10.99.0.100, length 28";
        assert!(!is_garp(ask, vip));
        let reply = "1795879779.9 52:9e:00:00:00:01 > 52:9e:00:00:00:09, ethertype ARP (0x0806), length 42: Reply 10.99.0.250 is-at 52:9e:00:00:00:01, length 28";
        assert!(!is_garp(reply, vip));
        // Another address that merely starts the same way.
        assert!(!is_garp(&garp.replace("10.99.0.250", "10.99.0.25"), vip));
    }

    #[test]
    fn quick_plan_is_smaller_and_ends_unlimited() {
        let (quick, full) = (Plan::new(true), Plan::new(false));
        assert!(quick.failovers < full.failovers && full.failovers >= 20);
        assert!(quick.stops < full.stops && quick.stops >= 3);
        for kind in FloodKind::ALL {
            assert_eq!(quick.paces(kind).last(), Some(&Pace::Unlimited));
            assert_eq!(full.paces(kind).last(), Some(&Pace::Unlimited));
            assert!(quick.paces(kind).len() <= full.paces(kind).len());
        }
        // Own-VHID windows cover a master-down interval (3 s).
        assert!(quick.own_window > Duration::from_secs(3));
    }
}

/// How many VHIDs the many-instances comparison runs on one interface.
pub const MANY_VHIDS: u8 = 255;

/// Every VHID 1..=255 on one interface of one host, all MASTER: one xcarp
/// serving them all from a configuration file, then 255 ucarp processes
/// (one per VHID, as ucarp runs them), each measured over `window` once
/// every instance is MASTER: memory (RSS, and PSS, which shares the common
/// pages of the 255 processes out fairly) and CPU.
pub fn many_vhids(
    xcarp: &Path,
    ucarp: &Path,
    window: Duration,
    progress: &dyn Fn(&str),
) -> anyhow::Result<ManyVhids> {
    use xcarp_tests::multi::{ConfigDaemon, InstanceConf, vip};
    let lan = Lan::with_hosts(1);
    let host = &lan.hosts[0];
    let instances: Vec<InstanceConf> = (1..=MANY_VHIDS)
        .map(|v| InstanceConf::new(v, vip(v), 0))
        .collect();
    let all: Vec<u8> = (1..=MANY_VHIDS).collect();
    let daemon = ConfigDaemon::start_binary(host, xcarp, &instances);
    anyhow::ensure!(
        daemon.wait_masters(&all, Duration::from_secs(40)),
        "xcarp: not every one of the {MANY_VHIDS} VHIDs became MASTER (masters: {})\n{}",
        daemon.masters().len(),
        daemon.log.text()
    );
    let pid = daemon
        .pid()
        .ok_or_else(|| anyhow::anyhow!("xcarp is not running"))?;
    thread::sleep(Duration::from_secs(2));
    let (xcarp_cpu_pct, xcarp_mem) = idle_cost(&[pid], window);
    progress(&format!(
        "xcarp {MANY_VHIDS} VHIDs, one process: CPU {xcarp_cpu_pct:.2} % of a core, RSS {:.1} MB, PSS {:.1} MB",
        kb_mb(xcarp_mem.rss_kb),
        kb_mb(xcarp_mem.pss_kb)
    ));
    drop(daemon);

    let mut nodes: Vec<Node> = (1..=MANY_VHIDS)
        .map(|v| {
            Node::start_binary(
                host,
                Impl::Ucarp,
                ucarp.to_path_buf(),
                CarpOpts {
                    vhid: v,
                    vip: vip(v),
                    ..CarpOpts::default()
                },
            )
        })
        .collect();
    let elected = xcarp_tests::wait_until(Duration::from_secs(60), || {
        nodes.iter().all(|n| n.state() == Some(State::Master))
    });
    anyhow::ensure!(
        elected,
        "ucarp: not every one of the {MANY_VHIDS} processes became MASTER ({} did)",
        nodes
            .iter()
            .filter(|n| n.state() == Some(State::Master))
            .count()
    );
    thread::sleep(Duration::from_secs(2));
    let pids: Vec<i32> = nodes.iter_mut().map(|n| n.pid()).collect();
    let (ucarp_cpu_pct, ucarp_mem) = idle_cost(&pids, window);
    progress(&format!(
        "ucarp {MANY_VHIDS} VHIDs, {} processes: CPU {ucarp_cpu_pct:.2} % of a core, RSS {:.1} MB, PSS {:.1} MB",
        pids.len(),
        kb_mb(ucarp_mem.rss_kb),
        kb_mb(ucarp_mem.pss_kb)
    ));
    drop(nodes);
    Ok(ManyVhids {
        vhids: MANY_VHIDS,
        window_s: window.as_secs_f64(),
        xcarp_cpu_pct,
        xcarp_rss_kb: xcarp_mem.rss_kb,
        xcarp_pss_kb: xcarp_mem.pss_kb,
        ucarp_processes: pids.len(),
        ucarp_cpu_pct,
        ucarp_rss_kb: ucarp_mem.rss_kb,
        ucarp_pss_kb: ucarp_mem.pss_kb,
    })
}

/// Memory of a set of processes, summed.
#[derive(Clone, Copy, Default)]
struct MemorySum {
    rss_kb: u64,
    pss_kb: u64,
}

/// CPU of `pids` over `window` (% of one core, summed) and their memory at
/// its end.
fn idle_cost(pids: &[i32], window: Duration) -> (f64, MemorySum) {
    let before: u64 = pids.iter().map(|p| cpu_sample(*p).sched_ns).sum();
    let t0 = Instant::now();
    thread::sleep(window);
    let after: u64 = pids.iter().map(|p| cpu_sample(*p).sched_ns).sum();
    #[allow(clippy::cast_precision_loss)]
    let pct = after.saturating_sub(before) as f64 / t0.elapsed().as_nanos() as f64 * 100.0;
    let mut mem = MemorySum::default();
    for pid in pids {
        mem.rss_kb += status_kb(*pid, "VmRSS").unwrap_or(0);
        mem.pss_kb += std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .ok()
            .and_then(|s| stats::status_kb(&s, "Pss"))
            .unwrap_or(0);
    }
    (pct, mem)
}

#[allow(clippy::cast_precision_loss)]
fn kb_mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}
