//! P0: the harness checked against the reference implementation: the
//! ucarp emulator beside the real ucarp, each as master and as backup.
use std::time::Duration;

use xcarp_tests::{
    carp::{Impl::Ucarp as U, Node, State as NodeState},
    lan::Lan,
    peers::{Peer, State},
    probe::{Adverts, epoch_now},
    run_variants,
};

use super::{
    BACKUP_SKEW, CONVERGE, MASTER_SKEW, PeerCounters, SLACK, VHID, first_from, hold, report, secs,
    xcarp_opts,
};

/// Which of the two is master first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UcarpPair {
    EmulatorMaster,
    UcarpMaster,
}

#[test]
fn p0_ucarp_emulator_against_the_real_ucarp() {
    run_variants(
        "P0 ucarp_emulator_against_the_real_ucarp",
        &[
            (UcarpPair::EmulatorMaster, &[U]),
            (UcarpPair::UcarpMaster, &[U]),
        ],
        |&role| {
            let lan = Lan::with_hosts(2);
            let (uhost, phost) = (&lan.hosts[0], &lan.hosts[1]);
            let wire = Adverts::start(&lan, VHID);
            let window = Duration::from_secs(10);
            let peer_master = role == UcarpPair::EmulatorMaster;
            let (pskew, uskew) = if peer_master {
                (MASTER_SKEW, BACKUP_SKEW)
            } else {
                (BACKUP_SKEW, MASTER_SKEW)
            };
            let pcfg = PeerCounters::UcarpRandom.config(phost, pskew);
            let uopts = xcarp_opts(uskew, false);
            let (mut peer, mut ucarp);
            if peer_master {
                peer = Peer::start(phost, pcfg.clone());
                assert!(peer.wait_state(State::Master, CONVERGE));
                ucarp = Node::start(uhost, U, uopts.clone());
                assert!(ucarp.wait_state(NodeState::Backup, Duration::from_secs(5)));
                hold(&wire, phost.addr, window, || {
                    (ucarp.state() != Some(NodeState::Backup))
                        .then(|| "ucarp left BACKUP".to_owned())
                });
                let t0 = epoch_now();
                peer.kill();
                // ucarp's libpcap hands frames over up to 1 s late.
                let bound = uopts.master_down() + Duration::from_millis(1500);
                let took = first_from(&wire, uhost.addr, t0, bound) - t0;
                assert!(took <= bound.as_secs_f64(), "ucarp took {took:.3}s");
                report(
                    "P0",
                    "ucarp_emulator",
                    &role,
                    &format!("ucarp_took={}", secs(took)),
                );
            } else {
                ucarp = Node::start(uhost, U, uopts.clone());
                assert!(ucarp.wait_state(NodeState::Master, CONVERGE));
                peer = Peer::start(phost, pcfg.clone());
                hold(&wire, uhost.addr, window, || {
                    (peer.state() != State::Backup).then(|| "the emulator left BACKUP".to_owned())
                });
                let stats = peer.stats();
                assert!(stats.accepted >= 8 && stats.bad_digest == 0, "{stats:?}");
                let t0 = epoch_now();
                ucarp.kill();
                lan.carrier_off(0);
                let bound = pcfg.master_down() + SLACK;
                let took = first_from(&wire, phost.addr, t0, bound) - t0;
                assert!(took <= bound.as_secs_f64(), "the emulator took {took:.3}s");
                report(
                    "P0",
                    "ucarp_emulator",
                    &role,
                    &format!("emulator_took={}", secs(took)),
                );
            }
            assert_eq!(ucarp.log.count("Bad digest"), 0, "{}", ucarp.full_log());
        },
    );
}
