//! The planned-stop lab: SIGTERM to a master started with `-z`, timed from
//! the wire and from a client pinging the VIP every 10 ms. An xcarp master
//! bows out and hands the VIP over (docs/protocol.md, "Bow-out"); a ucarp
//! master runs its downscript and exits, so its backup waits master-down.
use std::{
    path::Path,
    thread,
    time::{Duration, Instant},
};

use xcarp_tests::{
    carp::{CarpOpts, Impl, Node, State},
    lan::{Lan, VIP},
    probe::{Adverts, Pinger, epoch_now},
    wait_until,
};

use super::{
    lab::{Plan, VHID, outage},
    stops_report::{Pairing, StopRep, StopRun},
};

fn imp(xcarp: bool) -> Impl {
    if xcarp { Impl::Xcarp } else { Impl::Ucarp }
}

/// The options of the master's node (host 0) and the backup's (host 1).
/// Equal pairs run equal options and swap roles after each stop, as the
/// failover lab does. xcarp → ucarp keeps its roles: the xcarp node runs
/// `--preempt` and the ucarp node one skew step more, so the restarted
/// xcarp takes the VIP back from ucarp (docs/protocol.md §4.3) and every
/// stop is an xcarp master's.
fn opts(pairing: Pairing) -> [CarpOpts; 2] {
    let base = CarpOpts {
        vhid: VHID,
        shutdown: true,
        ..CarpOpts::default()
    };
    if pairing == Pairing::XcarpUcarp {
        [
            CarpOpts {
                preempt: true,
                ..base.clone()
            },
            CarpOpts { advskew: 1, ..base },
        ]
    } else {
        [base.clone(), base]
    }
}

/// Polls the daemon every 2 ms until it exits (at most `bound`); returns
/// how long after `since` it was seen gone.
fn wait_exit(node: &mut Node, since: Instant, bound: Duration) -> Option<f64> {
    let deadline = since + bound;
    while node.running() {
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(2));
    }
    let gone = since.elapsed().as_secs_f64();
    // Reaped already: this only clears the node's handle.
    node.wait_exit(Duration::from_secs(1));
    Some(gone)
}

/// `plan.stops` planned stops of `pairing`'s master.
pub fn planned_stops(
    pairing: Pairing,
    xcarp: &Path,
    ucarp: &Path,
    plan: &Plan,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<StopRun> {
    let label = pairing.label();
    let lan = Lan::with_hosts(2);
    let imps = [
        imp(pairing.master_is_xcarp()),
        imp(pairing.backup_is_xcarp()),
    ];
    let binary = |i: Impl| match i {
        Impl::Xcarp => xcarp.to_path_buf(),
        Impl::Ucarp => ucarp.to_path_buf(),
    };
    let [o0, o1] = opts(pairing);
    let master_down = o1.master_down();
    let mut nodes = vec![Node::start_binary(
        &lan.hosts[0],
        imps[0],
        binary(imps[0]),
        o0,
    )];
    anyhow::ensure!(
        nodes[0].wait_state(State::Master, Duration::from_secs(20)),
        "{label}: the first node did not become MASTER within 20 s\n{}",
        nodes[0].full_log()
    );
    nodes.push(Node::start_binary(
        &lan.hosts[1],
        imps[1],
        binary(imps[1]),
        o1,
    ));
    anyhow::ensure!(
        nodes[1].wait_state(State::Backup, Duration::from_secs(10)),
        "{label}: the second node did not settle as BACKUP\n{}",
        nodes[1].full_log()
    );
    let wire = Adverts::start(&lan, VHID);
    let pinger = Pinger::start(&lan.client, VIP, Duration::from_millis(10));
    thread::sleep(Duration::from_millis(1500));
    let mut reps = Vec::new();
    for rep in 0..plan.stops {
        let m = (0..2)
            .find(|&i| nodes[i].running() && nodes[i].state() == Some(State::Master))
            .ok_or_else(|| anyhow::anyhow!("{label}: no master before stop {rep}"))?;
        let s = 1 - m;
        anyhow::ensure!(
            nodes[m].imp == imps[0] && nodes[s].imp == imps[1],
            "{label}: the roles were swapped before stop {rep}"
        );
        let now = Instant::now();
        anyhow::ensure!(
            wait_until(Duration::from_secs(3), || pinger.replied_since(now)),
            "{label}: the VIP does not answer before stop {rep}"
        );
        // Stop at a different phase of the advert interval each time.
        #[allow(clippy::cast_precision_loss)]
        let phase = (rep as f64 * 0.382).fract();
        thread::sleep(Duration::from_secs_f64(phase));
        let t_term = Instant::now();
        let term_epoch = epoch_now();
        nodes[m].signal(libc::SIGTERM);
        // An xcarp master leaves at the latest one master-down after its
        // bow-out (docs/protocol.md, "Bow-out").
        let exit_s = wait_exit(&mut nodes[m], t_term, master_down + Duration::from_secs(5))
            .ok_or_else(|| anyhow::anyhow!("{label}: the master did not exit after SIGTERM"))?;
        let (old, new) = (lan.hosts[m].addr, lan.hosts[s].addr);
        let first = wire
            .wait_first_from(new, term_epoch, master_down + Duration::from_secs(3))
            .ok_or_else(|| anyhow::anyhow!("{label}: no advert of the backup after the SIGTERM"))?;
        let takeover_s = first - term_epoch;
        let bow_out_s = wire
            .all()
            .into_iter()
            .find(|a| a.src == old && a.at >= term_epoch && a.is_bow_out())
            .map(|a| a.at - term_epoch);
        let t_first = t_term + Duration::from_secs_f64(takeover_s.max(0.0));
        anyhow::ensure!(
            wait_until(Duration::from_secs(5), || pinger.replied_since(t_first)),
            "{label}: the VIP does not answer after stop {rep}"
        );
        thread::sleep(Duration::from_millis(200));
        let (probes_sent, probes_lost) = pinger.lost_by_sequence(t_term, t_first);
        let r = StopRep {
            takeover_s,
            exit_s,
            bow_out_s,
            longest_silence_s: outage(&pinger, t_term),
            probes_sent,
            probes_lost,
        };
        progress(&format!(
            "{label} stop {:>2}/{}: bow-out {}, backup's first advert {:.3} s, exit {:.3} s, longest silence {}, probes lost {}/{}",
            rep + 1,
            plan.stops,
            r.bow_out_s.map_or("none".into(), |b| format!("{b:.3} s")),
            r.takeover_s,
            r.exit_s,
            r.longest_silence_s
                .map_or("n/a".into(), |o| format!("{o:.3} s")),
            r.probes_lost,
            r.probes_sent,
        ));
        anyhow::ensure!(
            !lan.hosts[m].has_addr(VIP),
            "{label}: the stopped master left the VIP on its host"
        );
        reps.push(r);
        nodes[m].restart();
        if pairing == Pairing::XcarpUcarp {
            // The xcarp node preempts the ucarp master.
            anyhow::ensure!(
                nodes[m].wait_state(State::Master, Duration::from_secs(10))
                    && nodes[s].wait_state(State::Backup, Duration::from_secs(10)),
                "{label}: the restarted xcarp did not take the VIP back\n{}\n{}",
                nodes[m].full_log(),
                nodes[s].full_log()
            );
        } else {
            anyhow::ensure!(
                nodes[m].wait_state(State::Backup, Duration::from_secs(10)),
                "{label}: the restarted node did not settle as backup"
            );
        }
        // The backup's master-down timer runs from an advert it has heard.
        thread::sleep(Duration::from_millis(1500));
    }
    Ok(StopRun {
        pairing,
        master_down_s: master_down.as_secs_f64(),
        reps,
    })
}
