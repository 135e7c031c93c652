//! One test per rule of the emulated peers' election and counters.
use super::*;

const SELF: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
/// Lower than SELF read byte-reversed (ucarp's tie-break): .1 < .2.
const LOWER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const HIGHER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 3);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 250);

fn cfg(kind: Kind) -> PeerConfig {
    PeerConfig::new(kind, SELF, &[VIP])
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A valid advert of VHID 42 for `addresses`.
fn advert(addresses: &[Ipv4Addr], advbase: u8, advskew: u8, demote: u8, counter: u64) -> Header {
    Header {
        vhid: 42,
        advskew,
        demote,
        advbase,
        counter,
        digest: digest(b"love", 42, addresses, counter),
    }
}

fn from_peer(advbase: u8, advskew: u8, demote: u8) -> Header {
    advert(&[VIP], advbase, advskew, demote, 77)
}

fn sent(actions: &[Action]) -> Vec<Header> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(h) => Some(*h),
            _ => None,
        })
        .collect()
}

/// A machine that timed out into MASTER at t = 3 s + skew.
fn master(c: PeerConfig) -> Machine {
    let mut m = Machine::new(c, 1);
    m.start(Duration::ZERO);
    m.tick(secs(4.0));
    assert_eq!(m.state(), State::Master);
    m
}

fn backup(c: PeerConfig) -> Machine {
    let mut m = Machine::new(c, 1);
    m.start(Duration::ZERO);
    m
}

#[test]
fn backup_times_out_into_master_and_advertises_each_interval() {
    for kind in [Kind::OpenBsd, Kind::FreeBsd, Kind::Ucarp] {
        let mut m = Machine::new(
            PeerConfig {
                advskew: 128,
                ..cfg(kind)
            },
            1,
        );
        assert!(m.start(Duration::ZERO).is_empty());
        assert!(m.tick(secs(3.49)).is_empty(), "{kind:?} before master-down");
        assert_eq!(m.next_deadline(), Some(secs(3.5)));
        let actions = m.tick(secs(3.5));
        assert!(matches!(
            actions.as_slice(),
            [Action::Send(_), Action::BecomeMaster, Action::Garp]
        ));
        assert_eq!(m.state(), State::Master);
        assert!(m.tick(secs(4.99)).is_empty());
        let h = sent(&m.tick(secs(5.0)));
        assert_eq!((h[0].advbase, h[0].advskew), (1, 128));
        assert_eq!(m.next_deadline(), Some(secs(6.5)));
    }
}

#[test]
fn a_valid_advert_rearms_master_down_and_a_bad_digest_does_not() {
    let mut m = backup(cfg(Kind::FreeBsd));
    m.receive(secs(2.0), LOWER, &from_peer(1, 0, 0));
    assert_eq!(m.next_deadline(), Some(secs(5.0)));
    let mut forged = from_peer(1, 0, 0);
    forged.digest[0] ^= 1;
    m.receive(secs(4.0), LOWER, &forged);
    assert_eq!(m.next_deadline(), Some(secs(5.0)));
    assert_eq!(m.stats.bad_digest, 1);
    // Another VHID's password or addresses: a bad digest too.
    m.receive(secs(4.0), LOWER, &advert(&[HIGHER], 1, 0, 0, 77));
    assert_eq!(m.stats.bad_digest, 2);
    assert_eq!(m.stats.accepted, 1);
}

#[test]
fn a_master_ignores_a_better_advert_with_a_bad_digest() {
    let mut m = master(PeerConfig {
        advskew: 100,
        ..cfg(Kind::FreeBsd)
    });
    let mut forged = from_peer(1, 0, 0);
    forged.digest[19] ^= 0x80;
    assert!(m.receive(secs(5.0), LOWER, &forged).is_empty());
    assert_eq!(m.state(), State::Master);
}

#[test]
fn several_addresses_are_authenticated_in_ascending_order() {
    let configured = [
        Ipv4Addr::new(10, 99, 2, 10),
        Ipv4Addr::new(10, 99, 2, 9),
        Ipv4Addr::new(10, 99, 2, 200),
    ];
    let mut sender = master(PeerConfig::new(Kind::OpenBsd, LOWER, &configured));
    let h = sent(&sender.tick(secs(5.0)))[0];
    let mut reversed = configured;
    reversed.reverse();
    let mut m = backup(PeerConfig::new(Kind::FreeBsd, SELF, &reversed));
    m.receive(secs(5.0), LOWER, &h);
    assert_eq!((m.stats.accepted, m.stats.bad_digest), (1, 0));
    let mut one = backup(cfg(Kind::FreeBsd));
    one.receive(secs(5.0), LOWER, &h);
    assert_eq!(one.stats.bad_digest, 1, "one address is another VHID");
}

#[test]
fn openbsd_sends_one_cookie_and_drops_adverts_carrying_it() {
    let mut m = master(cfg(Kind::OpenBsd));
    let Counter::Cookie(cookie) = m.counter() else {
        panic!("no cookie")
    };
    let counters: Vec<u64> = (5..10)
        .flat_map(|s| sent(&m.tick(secs(f64::from(s)))))
        .map(|h| h.counter)
        .collect();
    assert_eq!(counters, vec![cookie; 5]);
    // Its own advert looped back, claiming a shorter interval: dropped.
    let mut slow = master(PeerConfig {
        advskew: 200,
        ..cfg(Kind::OpenBsd)
    });
    let Counter::Cookie(slow_cookie) = slow.counter() else {
        panic!("no cookie")
    };
    let echo_slow = advert(&[VIP], 1, 0, 0, slow_cookie);
    assert!(slow.receive(secs(5.0), LOWER, &echo_slow).is_empty());
    assert_eq!((slow.state(), slow.stats.own_cookie), (State::Master, 1));
    // Someone else's counter: taken, and never adopted.
    slow.receive(secs(5.0), LOWER, &advert(&[VIP], 1, 0, 0, slow_cookie ^ 1));
    assert_eq!(slow.state(), State::Backup);
    assert_eq!(slow.counter(), Counter::Cookie(slow_cookie));
}

#[test]
fn freebsd_and_ucarp_send_random_counters_until_they_hear_a_peer_then_adopt() {
    for kind in [Kind::FreeBsd, Kind::Ucarp] {
        let mut m = master(PeerConfig {
            advskew: 100,
            ..cfg(kind)
        });
        let random: Vec<u64> = (5..10)
            .flat_map(|s| sent(&m.tick(secs(f64::from(s) * 1.4))))
            .map(|h| h.counter)
            .collect();
        assert_eq!(random.len(), 5);
        assert!(
            random
                .windows(2)
                .all(|w| w[1] != w[0].wrapping_add(1) && w[1] != w[0]),
            "{kind:?}: {random:?}"
        );
        // A slower master: accepted (its counter adopted), no yielding.
        m.receive(secs(15.0), HIGHER, &advert(&[VIP], 1, 200, 0, u64::MAX - 1));
        assert_eq!(m.state(), State::Master);
        let next: Vec<u64> = (11..14)
            .flat_map(|s| sent(&m.tick(secs(f64::from(s) * 1.4))))
            .map(|h| h.counter)
            .collect();
        assert_eq!(next, vec![u64::MAX, 0, 1], "{kind:?} wraps");
    }
}

#[test]
fn a_heard_counter_starts_the_plus_one_sequence() {
    let mut m = master(PeerConfig {
        heard_counter: Some(1000),
        ..cfg(Kind::FreeBsd)
    });
    // The takeover advert was 1001.
    let next: Vec<u64> = (5..8)
        .flat_map(|s| sent(&m.tick(secs(f64::from(s)))))
        .map(|h| h.counter)
        .collect();
    assert_eq!(next, [1002, 1003, 1004]);
}

#[test]
fn openbsd_master_yields_by_interval_and_demote() {
    // (own advskew, own demote, peer advskew, peer demote, yields)
    let cases = [
        (0, 0, 0, 0, true),    // equal, equal demote
        (100, 0, 0, 0, true),  // peer more frequent
        (0, 0, 100, 0, false), // peer less frequent
        (0, 1, 100, 0, true),  // peer less demoted, though slower
        (100, 0, 0, 1, false), // peer faster but more demoted
        (0, 1, 0, 1, true),    // equal everything
        (100, 2, 0, 1, true),  // faster and less demoted
    ];
    for (own_skew, own_demote, skew, demote, yields) in cases {
        let mut m = master(PeerConfig {
            advskew: own_skew,
            demote: own_demote,
            ..cfg(Kind::OpenBsd)
        });
        let actions = m.receive(secs(5.0), HIGHER, &from_peer(1, skew, demote));
        assert_eq!(
            m.state() == State::Backup,
            yields,
            "own {own_skew}/{own_demote} peer {skew}/{demote}"
        );
        if yields {
            assert_eq!(actions, [Action::BecomeBackup]);
        }
    }
}

#[test]
fn openbsd_backup_takes_over_a_more_demoted_master_without_preempt() {
    let mut m = backup(PeerConfig {
        advskew: 100,
        ..cfg(Kind::OpenBsd)
    });
    let actions = m.receive(secs(1.0), LOWER, &from_peer(1, 0, 1));
    assert_eq!(m.state(), State::Master);
    assert_eq!(sent(&actions)[0].demote, 0);
    // Demoted itself, a backup with preempt leaves a faster, less demoted
    // master alone, and a slower, less demoted one too.
    for skew in [0, 200] {
        let mut demoted = backup(PeerConfig {
            advskew: 100,
            demote: 1,
            preempt: true,
            ..cfg(Kind::OpenBsd)
        });
        demoted.receive(secs(1.0), LOWER, &from_peer(1, skew, 0));
        assert_eq!(demoted.state(), State::Backup, "peer skew {skew}");
    }
    // Preempt from a slower master with the same demotion.
    let mut preempting = backup(PeerConfig {
        preempt: true,
        ..cfg(Kind::OpenBsd)
    });
    preempting.receive(secs(1.0), LOWER, &from_peer(1, 10, 0));
    assert_eq!(preempting.state(), State::Master);
}

#[test]
fn every_kind_takes_over_from_a_bow_out_at_once() {
    for kind in [Kind::OpenBsd, Kind::FreeBsd, Kind::Ucarp] {
        let mut m = backup(cfg(kind));
        m.receive(secs(1.0), LOWER, &from_peer(255, 255, 0));
        assert_eq!(m.state(), State::Master, "{kind:?}");
    }
}

#[test]
fn a_backup_without_preempt_stays_behind_a_slower_master() {
    for kind in [Kind::OpenBsd, Kind::FreeBsd, Kind::Ucarp] {
        let mut m = backup(cfg(kind));
        m.receive(secs(1.0), LOWER, &from_peer(1, 200, 0));
        assert_eq!(m.state(), State::Backup, "{kind:?}");
        let mut p = backup(PeerConfig {
            preempt: true,
            ..cfg(kind)
        });
        p.receive(secs(1.0), LOWER, &from_peer(1, 200, 0));
        assert_eq!(p.state(), State::Master, "{kind:?} with preempt");
    }
}

#[test]
fn freebsd_folds_demotion_into_advskew_and_yields_on_equal_intervals() {
    let mut m = master(PeerConfig {
        demote: 10,
        ..cfg(Kind::FreeBsd)
    });
    let h = sent(&m.tick(secs(5.1)))[0];
    assert_eq!((h.advskew, h.demote), (10, 0));
    m.set_demote(250);
    let h = sent(&m.tick(secs(6.1)))[0];
    assert_eq!(h.advskew, 240, "capped");
    let mut equal = master(cfg(Kind::FreeBsd));
    equal.receive(secs(5.0), HIGHER, &from_peer(1, 0, 0));
    assert_eq!(
        equal.state(),
        State::Backup,
        "equal intervals: FreeBSD yields"
    );
}

#[test]
fn ucarp_breaks_ties_by_the_byte_reversed_source() {
    let mut m = master(cfg(Kind::Ucarp));
    let actions = m.receive(secs(5.0), HIGHER, &from_peer(1, 0, 0));
    assert_eq!((m.state(), actions), (State::Master, vec![Action::Garp]));
    let actions = m.receive(secs(5.5), LOWER, &from_peer(1, 0, 0));
    assert_eq!(m.state(), State::Backup);
    // One advert before going BACKUP (§4.4).
    assert!(matches!(
        actions.as_slice(),
        [Action::Send(_), Action::BecomeBackup]
    ));
    // OpenBSD on the same tie yields whoever sent it.
    let mut o = master(cfg(Kind::OpenBsd));
    o.receive(secs(5.0), HIGHER, &from_peer(1, 0, 0));
    assert_eq!(o.state(), State::Backup);
}

#[test]
fn openbsd_bows_out_when_it_leaves_as_master() {
    let mut m = master(PeerConfig {
        demote: 2,
        ..cfg(Kind::OpenBsd)
    });
    let Counter::Cookie(cookie) = m.counter() else {
        panic!("no cookie")
    };
    let actions = m.leave();
    let bow = sent(&actions);
    assert_eq!(bow.len(), 1);
    assert!(bow[0].is_bow_out());
    assert_eq!((bow[0].counter, bow[0].demote), (cookie, 2));
    assert_eq!(actions.last(), Some(&Action::BecomeBackup));
    assert_eq!(m.state(), State::Stopped);
    assert!(m.tick(secs(100.0)).is_empty());
    assert!(
        m.receive(secs(100.0), LOWER, &from_peer(1, 0, 0))
            .is_empty()
    );
    for kind in [Kind::FreeBsd, Kind::Ucarp] {
        let mut quiet = master(cfg(kind));
        assert_eq!(quiet.leave(), [Action::BecomeBackup], "{kind:?}");
    }
    let mut b = backup(cfg(Kind::OpenBsd));
    assert!(b.leave().is_empty(), "a backup leaves silently");
}

#[test]
fn set_demote_changes_the_openbsd_demote_byte_and_the_election() {
    let mut m = master(cfg(Kind::OpenBsd));
    m.set_demote(3);
    assert_eq!(sent(&m.tick(secs(5.0)))[0].demote, 3);
    // Now a slower, undemoted peer wins.
    m.receive(secs(5.5), HIGHER, &from_peer(1, 100, 0));
    assert_eq!(m.state(), State::Backup);
}

#[test]
fn late_ticks_restart_the_schedule_instead_of_bursting() {
    let mut m = master(cfg(Kind::Ucarp));
    assert_eq!(sent(&m.tick(secs(60.0))).len(), 1);
    assert_eq!(m.next_deadline(), Some(secs(61.0)));
}
