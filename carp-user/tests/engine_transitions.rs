//! One test per rule of the engine's transition table (ucarp's behaviour,
//! docs/protocol.md §1 and §4). Each test drives a single [`Engine`] with
//! explicit times and checks the exact actions.

use std::{net::Ipv4Addr, time::Duration};

use carp_common::freshness;
use xcarp::engine::{
    Action, CounterScheme, Engine, EngineConfig, Event, LogLevel, ReceivedAdvert, Script, State,
    TieBreak, Timer,
};

const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 5);
const SEED: u64 = 7;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

fn config() -> EngineConfig {
    EngineConfig::ucarp_defaults(42, LOCAL)
}

fn log(level: LogLevel, message: &str) -> Action {
    Action::Log {
        level,
        message: message.to_owned(),
    }
}

fn switching(state: &str) -> Action {
    log(LogLevel::Warning, &format!("Switching to state: {state}"))
}

fn arm(timer: Timer, at: Duration) -> Action {
    Action::ArmTimer { timer, at }
}

fn advert_from(src: Ipv4Addr, advbase: u8, advskew: u8, counter: u64) -> Event {
    Event::Advert(ReceivedAdvert {
        src_ip: src,
        advbase,
        advskew,
        demote: 0,
        counter,
    })
}

/// The counters of the adverts among `actions`.
fn sent_counters(actions: &[Action]) -> Vec<u64> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert { counter, .. } => Some(*counter),
            _ => None,
        })
        .collect()
}

fn count(actions: &[Action], wanted: &Action) -> usize {
    actions.iter().filter(|a| *a == wanted).count()
}

fn garps(actions: &[Action]) -> usize {
    count(actions, &Action::SendGarp)
}

/// An engine started at t=0 (BACKUP).
fn backup(config: EngineConfig) -> Engine {
    let mut engine = Engine::new(config, SEED);
    engine.handle(Duration::ZERO, Event::Start);
    assert_eq!(engine.state(), State::Backup);
    engine
}

/// An engine that took over at t=3 s (MASTER) and whose up-script has
/// finished (with its gratuitous ARP).
fn master(config: EngineConfig) -> Engine {
    let mut engine = backup(config);
    engine.handle(secs(3), Event::TimerFired(Timer::MasterDown));
    assert_eq!(engine.state(), State::Master);
    let garp = engine.handle(secs(3), Event::ScriptFinished(Script::Up));
    assert_eq!(garp, [Action::SendGarp]);
    engine
}

// ------------------------------------------------------------ §4.2 start

#[test]
fn start_enters_backup_runs_down_script_and_arms_master_down() {
    let mut engine = Engine::new(config(), SEED);
    assert_eq!(engine.state(), State::Init);
    let actions = engine.handle(secs(10), Event::Start);
    assert_eq!(
        actions,
        [
            switching("BACKUP"),
            Action::RunScript(Script::Down),
            arm(Timer::MasterDown, secs(13)),
        ]
    );
    assert_eq!(engine.state(), State::Backup);
}

#[test]
fn start_with_neutral_skips_only_the_initial_down_script() {
    let mut engine = Engine::new(
        EngineConfig {
            neutral: true,
            ..config()
        },
        SEED,
    );
    let actions = engine.handle(Duration::ZERO, Event::Start);
    assert_eq!(
        actions,
        [switching("BACKUP"), arm(Timer::MasterDown, secs(3))]
    );
    // Later transitions to BACKUP do run it.
    engine.handle(secs(3), Event::TimerFired(Timer::MasterDown));
    let actions = engine.handle(secs(4), Event::Demote);
    assert_eq!(count(&actions, &Action::RunScript(Script::Down)), 1);
}

#[test]
fn start_is_ignored_once_started() {
    let mut engine = backup(config());
    assert!(engine.handle(secs(1), Event::Start).is_empty());
}

#[test]
fn init_ignores_adverts_and_timers_but_adopts_the_counter() {
    let mut engine = Engine::new(config(), SEED);
    assert!(
        engine
            .handle(secs(1), advert_from(Ipv4Addr::new(10, 1, 1, 9), 1, 0, 500))
            .is_empty()
    );
    assert!(
        engine
            .handle(secs(1), Event::TimerFired(Timer::MasterDown))
            .is_empty()
    );
    assert_eq!(engine.state(), State::Init);
    engine.handle(secs(2), Event::Start);
    let actions = engine.handle(secs(5), Event::TimerFired(Timer::MasterDown));
    assert_eq!(sent_counters(&actions), [501]);
}

// ------------------------------------------------------------ §4.1 timers

#[test]
fn master_down_interval_adds_skew_once_to_advbase_times_deadratio() {
    let engine = Engine::new(
        EngineConfig {
            advbase: 2,
            advskew: 100,
            deadratio: 4,
            ..config()
        },
        SEED,
    );
    // 2 × 4 s + 100/256 s = 8.390625 s.
    assert_eq!(
        engine.master_down_interval(),
        Duration::from_micros(8_390_625)
    );
}

#[test]
fn advert_interval_truncates_skew_to_whole_microseconds() {
    let interval = |advbase, advskew| {
        Engine::new(
            EngineConfig {
                advbase,
                advskew,
                ..config()
            },
            SEED,
        )
        .advert_interval()
    };
    assert_eq!(interval(1, 0), secs(1));
    // 1/256 s = 3906.25 µs → 3906 µs; 255/256 s = 996093.75 µs → 996093 µs.
    assert_eq!(interval(1, 1), Duration::from_micros(1_003_906));
    assert_eq!(interval(3, 255), Duration::from_micros(3_996_093));
    assert_eq!(interval(0, 128), ms(500));
}

// ------------------------------------------------------- §4.3 takeover

#[test]
fn master_down_timer_takes_over_with_up_script_and_immediate_advert() {
    let mut engine = backup(config());
    let actions = engine.handle(secs(3), Event::TimerFired(Timer::MasterDown));
    let [
        log_line,
        script,
        cancel,
        Action::SendAdvert {
            advbase: 1,
            advskew: 0,
            ..
        },
        next,
    ] = actions.as_slice()
    else {
        panic!("unexpected actions: {actions:?}");
    };
    assert_eq!(*log_line, switching("MASTER"));
    assert_eq!(*script, Action::RunScript(Script::Up));
    assert_eq!(*cancel, Action::CancelTimer(Timer::MasterDown));
    assert_eq!(*next, arm(Timer::Advert, secs(4)));
    assert_eq!(engine.state(), State::Master);
}

/// §4.3: ucarp announces the VIP only once its up-script has returned
/// (which configures the VIP); adverts do not wait for it.
#[test]
fn first_garp_waits_for_the_up_script() {
    let mut engine = backup(config());
    let takeover = engine.handle(secs(3), Event::TimerFired(Timer::MasterDown));
    assert_eq!(garps(&takeover), 0);
    assert_eq!(sent_counters(&takeover).len(), 1);
    // The down script of an earlier transition finishing changes nothing.
    assert_eq!(
        engine.handle(secs(3), Event::ScriptFinished(Script::Down)),
        []
    );
    // The up-script is slow: adverts go on, and the delayed GARP (after two
    // adverts) waits too.
    for t in 4..=6 {
        let actions = engine.handle(secs(t), Event::TimerFired(Timer::Advert));
        assert_eq!(sent_counters(&actions).len(), 1);
        assert_eq!(garps(&actions), 0, "t={t}");
    }
    // One GARP when it finishes, however many were waiting.
    assert_eq!(
        engine.handle(ms(6500), Event::ScriptFinished(Script::Up)),
        [Action::SendGarp]
    );
    assert_eq!(
        garps(&engine.handle(secs(7), Event::TimerFired(Timer::Advert))),
        0
    );
}

/// A GARP that waited for an up-script is dropped if the node stepped down
/// meanwhile: it would announce a VIP the down-script removes.
#[test]
fn garp_is_not_sent_after_stepping_down_before_the_up_script_ended() {
    let mut engine = backup(config());
    engine.handle(secs(3), Event::TimerFired(Timer::MasterDown));
    engine.handle(ms(3500), advert_from(Ipv4Addr::new(10, 1, 1, 9), 0, 0, 1));
    assert_eq!(engine.state(), State::Backup);
    assert_eq!(
        engine.handle(secs(4), Event::ScriptFinished(Script::Up)),
        []
    );
    assert_eq!(
        engine.handle(secs(4), Event::ScriptFinished(Script::Down)),
        []
    );
}

/// ucarp's `carp_send_ad`: a node configured with advbase 255 and advskew
/// 255 sends its (bow-out) advert and never re-arms the advert timer.
#[test]
fn advbase_and_advskew_255_send_one_advert_and_no_timer() {
    let mut engine = backup(EngineConfig {
        advbase: 255,
        advskew: 255,
        ..config()
    });
    let actions = engine.handle(secs(800), Event::TimerFired(Timer::MasterDown));
    assert_eq!(engine.state(), State::Master);
    assert_eq!(sent_counters(&actions).len(), 1);
    assert!(
        !actions.iter().any(|a| matches!(
            a,
            Action::ArmTimer {
                timer: Timer::Advert,
                ..
            }
        )),
        "{actions:?}"
    );
    // 255/254 is an ordinary (slow) master.
    let mut engine = backup(EngineConfig {
        advbase: 255,
        advskew: 254,
        ..config()
    });
    let actions = engine.handle(secs(800), Event::TimerFired(Timer::MasterDown));
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::ArmTimer {
            timer: Timer::Advert,
            ..
        }
    )));
}

#[test]
fn second_garp_goes_out_right_after_the_second_following_advert() {
    let mut engine = master(config());
    let first = engine.handle(secs(4), Event::TimerFired(Timer::Advert));
    assert_eq!(garps(&first), 0);
    let second = engine.handle(secs(5), Event::TimerFired(Timer::Advert));
    assert!(matches!(second[0], Action::SendAdvert { .. }));
    assert_eq!(second[1], Action::SendGarp);
    // Never periodic afterwards.
    for t in 6..20 {
        assert_eq!(
            garps(&engine.handle(secs(t), Event::TimerFired(Timer::Advert))),
            0
        );
    }
}

#[test]
fn advert_timer_sends_and_rearms_one_interval_later() {
    let mut engine = master(EngineConfig {
        advbase: 2,
        advskew: 100,
        ..config()
    });
    let actions = engine.handle(secs(20), Event::TimerFired(Timer::Advert));
    assert!(matches!(
        actions[0],
        Action::SendAdvert {
            advbase: 2,
            advskew: 100,
            ..
        }
    ));
    assert_eq!(
        actions.last(),
        Some(&arm(
            Timer::Advert,
            secs(20) + Duration::from_micros(2_390_625)
        ))
    );
}

#[test]
fn master_down_timer_is_ignored_in_master_and_advert_timer_in_backup() {
    let mut engine = master(config());
    assert!(
        engine
            .handle(secs(9), Event::TimerFired(Timer::MasterDown))
            .is_empty()
    );
    let mut engine = backup(config());
    assert!(
        engine
            .handle(secs(1), Event::TimerFired(Timer::Advert))
            .is_empty()
    );
}

// --------------------------------------------------------------- §1 counter

#[test]
fn counters_are_random_until_a_valid_advert_then_continue_from_it() {
    let mut engine = master(config());
    let mut counters = Vec::new();
    for t in 4..10 {
        counters.extend(sent_counters(
            &engine.handle(secs(t), Event::TimerFired(Timer::Advert)),
        ));
    }
    assert!(
        counters.windows(2).all(|w| w[1] != w[0].wrapping_add(1)),
        "random, not incrementing: {counters:?}"
    );
    // A slower master's advert: we stay MASTER but adopt its counter.
    engine.handle(
        ms(10_500),
        advert_from(Ipv4Addr::new(10, 1, 1, 9), 2, 0, 2000),
    );
    let mut after = Vec::new();
    for t in 11..14 {
        after.extend(sent_counters(
            &engine.handle(secs(t), Event::TimerFired(Timer::Advert)),
        ));
    }
    assert_eq!(after, [2001, 2002, 2003]);
}

#[test]
fn counter_wraps_from_u64_max_to_zero() {
    let mut engine = master(config());
    engine.handle(
        ms(3500),
        advert_from(Ipv4Addr::new(10, 1, 1, 9), 2, 0, u64::MAX),
    );
    let actions = engine.handle(secs(4), Event::TimerFired(Timer::Advert));
    assert_eq!(sent_counters(&actions), [0]);
}

#[test]
fn random_counters_are_a_function_of_the_seed() {
    let run = |seed| {
        let mut engine = Engine::new(config(), seed);
        engine.handle(Duration::ZERO, Event::Start);
        sent_counters(&engine.handle(secs(3), Event::TimerFired(Timer::MasterDown)))
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

// ------------------------------------------------ §4.3 BACKUP receiving

#[test]
fn backup_rearms_master_down_on_each_advert() {
    let mut engine = backup(config());
    let peer = Ipv4Addr::new(10, 1, 1, 9);
    assert_eq!(
        engine.handle(ms(2500), advert_from(peer, 1, 0, 1)),
        [arm(Timer::MasterDown, ms(5500))]
    );
    assert_eq!(
        engine.handle(ms(3500), advert_from(peer, 1, 0, 2)),
        [arm(Timer::MasterDown, ms(6500))]
    );
    assert_eq!(engine.state(), State::Backup);
}

#[test]
fn backup_preempts_with_strictly_shorter_interval_only_when_preempt() {
    let peer = Ipv4Addr::new(10, 1, 1, 9);
    let preempting = EngineConfig {
        preempt: true,
        advskew: 10,
        ..config()
    };
    // Equal interval: no preemption, even with --preempt.
    let mut engine = backup(preempting.clone());
    engine.handle(secs(1), advert_from(peer, 1, 10, 1));
    assert_eq!(engine.state(), State::Backup);
    // Slower master but no --preempt: wait.
    let mut engine = backup(EngineConfig {
        preempt: false,
        ..preempting.clone()
    });
    engine.handle(secs(1), advert_from(peer, 1, 11, 1));
    assert_eq!(engine.state(), State::Backup);
    // Slower master with --preempt: take over, then log the reason.
    let mut engine = backup(preempting);
    let actions = engine.handle(secs(1), advert_from(peer, 1, 11, 1));
    assert_eq!(engine.state(), State::Master);
    assert_eq!(actions.first(), Some(&switching("MASTER")));
    assert_eq!(
        actions.last(),
        Some(&log(LogLevel::Warning, "Putting MASTER down - preemption"))
    );
    // The takeover advert continues from the counter just received.
    assert_eq!(sent_counters(&actions), [2]);
}

#[test]
fn backup_takes_over_from_a_master_that_would_time_out() {
    let peer = Ipv4Addr::new(10, 1, 1, 9);
    // Local: advbase 1, deadratio 3, skew 0 → threshold 3 s.
    // Remote interval exactly 3 s: not beyond the threshold, wait.
    let mut engine = backup(config());
    engine.handle(secs(1), advert_from(peer, 3, 0, 1));
    assert_eq!(engine.state(), State::Backup);
    // Remote 3 s + 1/256: it would time out, take over now.
    let mut engine = backup(config());
    let actions = engine.handle(secs(1), advert_from(peer, 3, 1, 1));
    assert_eq!(engine.state(), State::Master);
    assert_eq!(
        actions.last(),
        Some(&log(
            LogLevel::Warning,
            "Putting MASTER DOWN (going to time out)"
        ))
    );
}

#[test]
fn backup_takes_over_on_a_bsd_bow_out_advert() {
    let mut engine = backup(config());
    engine.handle(
        secs(1),
        advert_from(Ipv4Addr::new(10, 1, 1, 9), 255, 255, 1),
    );
    assert_eq!(engine.state(), State::Master);
}

fn demoted_advert_from(src: Ipv4Addr, advbase: u8, advskew: u8, demote: u8) -> Event {
    Event::Advert(ReceivedAdvert {
        src_ip: src,
        advbase,
        advskew,
        demote,
        counter: 1,
    })
}

#[test]
fn backup_takes_over_a_more_demoted_master_without_preempt() {
    // OpenBSD: a backup takes over any master more demoted than itself,
    // whatever the intervals and the preempt setting.
    let mut engine = backup(EngineConfig {
        advskew: 100,
        ..config()
    });
    let actions = engine.handle(
        secs(1),
        demoted_advert_from(Ipv4Addr::new(10, 1, 1, 9), 1, 0, 1),
    );
    assert_eq!(engine.state(), State::Master);
    assert!(actions.contains(&log(
        LogLevel::Warning,
        "Putting MASTER down - it is more demoted than we are"
    )));
}

#[test]
fn demoted_backup_neither_preempts_nor_takes_over_a_less_demoted_master() {
    let mut engine = backup(EngineConfig {
        preempt: true,
        ..config()
    });
    engine.handle(secs(0), Event::SetDemotion(1));
    // Even demoted (1 s + 240/256) it advertises faster than this 2 s
    // master, which it would preempt if healthy; the master's demote 0
    // keeps it BACKUP.
    let actions = engine.handle(
        secs(1),
        demoted_advert_from(Ipv4Addr::new(10, 1, 1, 9), 2, 0, 0),
    );
    assert_eq!(actions, [arm(Timer::MasterDown, secs(4))]);
    assert_eq!(engine.state(), State::Backup);
}

// ------------------------------------------------ §4.4 MASTER receiving

#[test]
fn master_yields_to_a_shorter_interval_after_one_last_advert() {
    let mut engine = master(EngineConfig {
        advskew: 50,
        ..config()
    });
    let actions = engine.handle(
        secs(5),
        advert_from(Ipv4Addr::new(10, 1, 1, 200), 1, 49, 77),
    );
    assert_eq!(engine.state(), State::Backup);
    let [
        Action::SendAdvert {
            advskew: 50,
            counter: 78,
            ..
        },
        rest @ ..,
    ] = actions.as_slice()
    else {
        panic!("unexpected actions: {actions:?}");
    };
    assert_eq!(
        rest,
        [
            switching("BACKUP"),
            Action::RunScript(Script::Down),
            Action::CancelTimer(Timer::Advert),
            arm(
                Timer::MasterDown,
                secs(5) + Duration::from_micros(3_195_312)
            ),
            log(
                LogLevel::Warning,
                "Preferred master advertised: going back to BACKUP state"
            ),
        ]
    );
}

#[test]
fn master_tie_break_follows_ucarp_little_endian_quirk() {
    // Verified on x86 ucarp: 10.1.1.5 yields to 10.1.2.3 (numerically
    // higher, but lower with octets reversed) and keeps MASTER against
    // 10.1.0.200.
    let mut engine = master(config());
    engine.handle(secs(5), advert_from(Ipv4Addr::new(10, 1, 0, 200), 1, 0, 1));
    assert_eq!(engine.state(), State::Master);
    engine.handle(secs(6), advert_from(Ipv4Addr::new(10, 1, 2, 3), 1, 0, 2));
    assert_eq!(engine.state(), State::Backup);
}

#[test]
fn master_tie_break_numeric_uses_plain_address_order() {
    let numeric = EngineConfig {
        tie_break: TieBreak::Numeric,
        ..config()
    };
    let mut engine = master(numeric.clone());
    engine.handle(secs(5), advert_from(Ipv4Addr::new(10, 1, 2, 3), 1, 0, 1));
    assert_eq!(engine.state(), State::Master);
    let mut engine = master(numeric);
    engine.handle(secs(5), advert_from(Ipv4Addr::new(10, 1, 0, 200), 1, 0, 1));
    assert_eq!(engine.state(), State::Backup);
}

#[test]
fn master_reasserts_against_a_slower_master_with_garp_now_and_two_adverts_later() {
    let mut engine = master(config());
    // Let the takeover's own delayed GARP go out first.
    engine.handle(secs(4), Event::TimerFired(Timer::Advert));
    engine.handle(secs(5), Event::TimerFired(Timer::Advert));
    let actions = engine.handle(ms(5500), advert_from(Ipv4Addr::new(10, 1, 1, 9), 1, 1, 1));
    assert_eq!(
        actions,
        [
            Action::SendGarp,
            log(
                LogLevel::Warning,
                "Non-preferred master advertising: reasserting control of VIP with another gratuitous arp"
            ),
        ]
    );
    assert_eq!(engine.state(), State::Master);
    assert_eq!(
        garps(&engine.handle(secs(6), Event::TimerFired(Timer::Advert))),
        0
    );
    assert_eq!(
        garps(&engine.handle(secs(7), Event::TimerFired(Timer::Advert))),
        1
    );
    assert_eq!(
        garps(&engine.handle(secs(8), Event::TimerFired(Timer::Advert))),
        0
    );
}

// ---------------------------------------------------------- §4.5 SIGUSR2

#[test]
fn demote_from_master_bows_out_steps_down_and_waits_3s_plus_master_down() {
    let mut engine = master(config());
    let actions = engine.handle(secs(10), Event::Demote);
    let [
        _,
        Action::SendAdvert {
            advbase: 255,
            advskew: 255,
            demote: 0,
            ..
        },
        ..,
    ] = actions.as_slice()
    else {
        panic!("no bow-out first: {actions:?}")
    };
    assert_eq!(
        actions[..1],
        [log(
            LogLevel::Debug,
            "Caught signal (USR2) considering going down"
        )]
    );
    assert_eq!(
        actions[2..],
        [
            switching("BACKUP"),
            Action::RunScript(Script::Down),
            Action::CancelTimer(Timer::Advert),
            arm(Timer::MasterDown, secs(16)),
        ]
    );
    assert_eq!(engine.state(), State::Backup);
    // With nobody else around it takes over again when that fires.
    engine.handle(secs(16), Event::TimerFired(Timer::MasterDown));
    assert_eq!(engine.state(), State::Master);
}

#[test]
fn demote_in_backup_only_logs() {
    let mut engine = backup(config());
    assert_eq!(
        engine.handle(secs(1), Event::Demote),
        [log(
            LogLevel::Debug,
            "Caught signal (USR2) considering going down"
        )]
    );
}

// ------------------------------------------------------ §4.7 send errors

fn fail(engine: &mut Engine, at: Duration, times: usize) -> Vec<Action> {
    (0..times)
        .flat_map(|_| engine.handle(at, Event::SendResult { ok: false }))
        .collect()
}

fn succeed(engine: &mut Engine, at: Duration, times: usize) -> Vec<Action> {
    (0..times)
        .flat_map(|_| engine.handle(at, Event::SendResult { ok: true }))
        .collect()
}

#[test]
fn third_consecutive_send_failure_suppresses_preemption_with_skew_240() {
    let mut engine = master(EngineConfig {
        advskew: 10,
        ..config()
    });
    assert!(fail(&mut engine, secs(4), 2).is_empty());
    let actions = fail(&mut engine, secs(5), 1);
    assert!(engine.preempt_suppressed());
    assert_eq!(actions[0], log(LogLevel::Error, "write() error #0/3"));
    // ucarp re-advertises at once with the new skew.
    assert!(matches!(
        actions[1],
        Action::SendAdvert {
            advbase: 1,
            advskew: 240,
            ..
        }
    ));
    let interval = Duration::from_micros(1_937_500);
    assert_eq!(engine.advert_interval(), interval);
    assert_eq!(
        actions.last(),
        Some(&arm(Timer::Advert, secs(5) + interval))
    );
    // Further failures do not log again.
    assert!(fail(&mut engine, secs(6), 5).is_empty());
}

#[test]
fn send_failures_not_in_a_row_do_not_suppress() {
    let mut engine = master(config());
    for _ in 0..5 {
        fail(&mut engine, secs(4), 2);
        succeed(&mut engine, secs(4), 1);
    }
    assert!(!engine.preempt_suppressed());
}

#[test]
fn suppression_ends_after_three_consecutive_successes() {
    let mut engine = master(config());
    fail(&mut engine, secs(4), 3);
    succeed(&mut engine, secs(5), 2);
    fail(&mut engine, secs(6), 1); // resets the success streak
    succeed(&mut engine, secs(7), 2);
    assert!(engine.preempt_suppressed());
    succeed(&mut engine, secs(8), 1);
    assert!(!engine.preempt_suppressed());
    let actions = engine.handle(secs(9), Event::TimerFired(Timer::Advert));
    assert!(matches!(actions[0], Action::SendAdvert { advskew: 0, .. }));
}

#[test]
fn suppression_keeps_a_configured_skew_above_240() {
    let mut engine = master(EngineConfig {
        advskew: 250,
        ..config()
    });
    fail(&mut engine, secs(4), 3);
    assert!(engine.preempt_suppressed());
    assert_eq!(engine.advertised_skew(), 250);
}

#[test]
fn suppressed_master_yields_to_a_peer_with_its_configured_interval() {
    let mut engine = master(config());
    fail(&mut engine, secs(4), 3);
    // Peer at 1 s + 10/256 is faster than our suppressed 1 s + 240/256.
    engine.handle(secs(5), advert_from(Ipv4Addr::new(10, 1, 1, 9), 1, 10, 1));
    assert_eq!(engine.state(), State::Backup);
}

// ------------------------------------------------------------- §4.6 link

#[test]
fn link_down_in_master_goes_backup_runs_down_script_and_cancels_timers() {
    let mut engine = master(config());
    let actions = engine.handle(secs(5), Event::LinkDown);
    assert_eq!(
        actions,
        [
            switching("BACKUP"),
            Action::RunScript(Script::Down),
            Action::CancelTimer(Timer::Advert),
            Action::CancelTimer(Timer::MasterDown),
        ]
    );
    assert_eq!(engine.state(), State::Backup);
}

#[test]
fn link_down_in_backup_cancels_timers_without_script_or_log() {
    let mut engine = backup(config());
    assert_eq!(
        engine.handle(secs(1), Event::LinkDown),
        [Action::CancelTimer(Timer::MasterDown)]
    );
    assert!(engine.handle(secs(2), Event::LinkDown).is_empty());
}

#[test]
fn link_up_rearms_master_down() {
    let mut engine = master(config());
    engine.handle(secs(5), Event::LinkDown);
    assert_eq!(
        engine.handle(secs(20), Event::LinkUp),
        [arm(Timer::MasterDown, secs(23))]
    );
    assert!(engine.handle(secs(21), Event::LinkUp).is_empty());
    engine.handle(secs(23), Event::TimerFired(Timer::MasterDown));
    assert_eq!(engine.state(), State::Master);
}

#[test]
fn adverts_timers_and_demote_are_ignored_while_link_is_down() {
    let mut engine = backup(EngineConfig {
        preempt: true,
        ..config()
    });
    engine.handle(secs(1), Event::LinkDown);
    assert!(
        engine
            .handle(secs(2), advert_from(Ipv4Addr::new(10, 1, 1, 9), 1, 200, 5))
            .is_empty()
    );
    assert!(
        engine
            .handle(secs(4), Event::TimerFired(Timer::MasterDown))
            .is_empty()
    );
    assert_eq!(engine.state(), State::Backup);
}

#[test]
fn start_while_link_is_down_arms_nothing_until_link_up() {
    let mut engine = Engine::new(config(), SEED);
    engine.handle(Duration::ZERO, Event::LinkDown);
    let actions = engine.handle(secs(1), Event::Start);
    assert_eq!(
        actions,
        [switching("BACKUP"), Action::RunScript(Script::Down)]
    );
    assert_eq!(
        engine.handle(secs(2), Event::LinkUp),
        [arm(Timer::MasterDown, secs(5))]
    );
}

// ---------------------------------------------------- §4.5 --shutdown

#[test]
fn shutdown_in_master_bows_out_then_runs_the_down_script() {
    let mut engine = master(config());
    let actions = engine.handle(secs(5), Event::Shutdown);
    assert!(
        matches!(
            actions[0],
            Action::SendAdvert {
                advbase: 255,
                advskew: 255,
                ..
            }
        ),
        "{actions:?}"
    );
    assert_eq!(actions[1], Action::RunScript(Script::Down));
    assert_eq!(sent_counters(&actions).len(), 1, "one bow-out only");
    // Nothing after shutdown.
    assert!(
        engine
            .handle(secs(6), Event::TimerFired(Timer::Advert))
            .is_empty()
    );
}

#[test]
fn shutdown_in_backup_runs_no_script_and_sends_nothing() {
    let mut engine = backup(config());
    let actions = engine.handle(secs(1), Event::Shutdown);
    assert_eq!(count(&actions, &Action::RunScript(Script::Down)), 0);
    assert!(sent_counters(&actions).is_empty());
}

#[test]
fn shutdown_without_carrier_sends_no_bow_out() {
    let mut engine = master(config());
    engine.handle(secs(4), Event::LinkDown);
    let actions = engine.handle(secs(5), Event::Shutdown);
    assert!(sent_counters(&actions).is_empty(), "{actions:?}");
}

#[test]
fn hand_over_keeps_the_vip_until_a_successor_advertises() {
    let mut engine = master(config());
    let actions = engine.handle(secs(5), Event::HandOver);
    assert!(matches!(
        actions[0],
        Action::SendAdvert {
            advbase: 255,
            advskew: 255,
            ..
        }
    ));
    assert_eq!(count(&actions, &Action::RunScript(Script::Down)), 0);
    assert!(actions.contains(&arm(Timer::MasterDown, secs(8))));
    assert!(!engine.finished());
    // Our own timer and anything else change nothing meanwhile.
    assert!(
        engine
            .handle(secs(6), Event::TimerFired(Timer::Advert))
            .is_empty()
    );
    let actions = engine.handle(ms(5_300), advert_from(Ipv4Addr::new(10, 1, 1, 9), 1, 0, 9));
    assert_eq!(
        actions,
        [
            Action::RunScript(Script::Down),
            Action::CancelTimer(Timer::MasterDown)
        ]
    );
    assert!(engine.finished());
    assert!(
        engine
            .handle(secs(9), Event::TimerFired(Timer::MasterDown))
            .is_empty()
    );
}

#[test]
fn hand_over_without_a_successor_releases_after_master_down() {
    let mut engine = master(config());
    engine.handle(secs(5), Event::HandOver);
    let actions = engine.handle(secs(8), Event::TimerFired(Timer::MasterDown));
    assert_eq!(count(&actions, &Action::RunScript(Script::Down)), 1);
    assert!(engine.finished());
}

#[test]
fn hand_over_waits_at_most_five_seconds_whatever_advbase() {
    let mut engine = master(EngineConfig {
        advbase: 10,
        ..config()
    });
    let actions = engine.handle(secs(50), Event::HandOver);
    assert!(
        actions.contains(&arm(Timer::MasterDown, secs(55))),
        "{actions:?}"
    );
}

#[test]
fn hand_over_in_backup_is_a_plain_shutdown() {
    let mut engine = backup(config());
    let actions = engine.handle(secs(1), Event::HandOver);
    assert!(sent_counters(&actions).is_empty());
    assert_eq!(count(&actions, &Action::RunScript(Script::Down)), 0);
    assert!(engine.finished());
}

// ------------------------------------------------ demotion (health checks)

#[test]
fn a_master_that_becomes_demoted_bows_out_and_steps_down() {
    let mut engine = master(config());
    let actions = engine.handle(secs(5), Event::SetDemotion(1));
    assert_eq!(
        actions[0],
        Action::SendAdvert {
            advbase: 255,
            advskew: 255,
            demote: 1,
            counter: sent_counters(&actions)[0],
        }
    );
    assert_eq!(engine.state(), State::Backup);
    assert_eq!(count(&actions, &Action::RunScript(Script::Down)), 1);
    // master-down with the configured skew: 3 s.
    assert!(actions.contains(&arm(Timer::MasterDown, secs(8))));
}

#[test]
fn a_demoted_node_alone_takes_the_vip_back_and_advertises_its_demotion() {
    let mut engine = master(config());
    engine.handle(secs(5), Event::SetDemotion(2));
    engine.handle(secs(8), Event::TimerFired(Timer::MasterDown));
    assert_eq!(engine.state(), State::Master, "nobody else holds the VIP");
    let actions = engine.handle(secs(9), Event::TimerFired(Timer::Advert));
    let [
        Action::SendAdvert {
            advbase: 1,
            advskew: 240,
            demote: 2,
            ..
        },
        ..,
    ] = actions.as_slice()
    else {
        panic!("{actions:?}")
    };
    // Still ill but already master: no second bow-out, and recovering
    // restores the configured skew without a state change.
    assert!(engine.handle(secs(9), Event::SetDemotion(2)).is_empty());
    let actions = engine.handle(secs(9), Event::SetDemotion(0));
    assert_eq!(engine.state(), State::Master);
    assert!(matches!(
        actions[0],
        Action::SendAdvert {
            advbase: 1,
            advskew: 0,
            demote: 0,
            ..
        }
    ));
}

#[test]
fn a_demoted_master_yields_to_a_less_demoted_peer_whatever_its_interval() {
    let mut engine = master(config());
    engine.handle(secs(4), Event::SetDemotion(1));
    engine.handle(secs(7), Event::TimerFired(Timer::MasterDown));
    assert_eq!(engine.state(), State::Master);
    engine.handle(
        secs(8),
        demoted_advert_from(Ipv4Addr::new(10, 1, 1, 9), 5, 255, 0),
    );
    assert_eq!(engine.state(), State::Backup);
}

#[test]
fn a_healthy_master_keeps_the_vip_against_a_more_demoted_peer() {
    let mut engine = master(EngineConfig {
        advskew: 200,
        ..config()
    });
    let actions = engine.handle(
        secs(5),
        demoted_advert_from(Ipv4Addr::new(10, 1, 1, 9), 1, 0, 3),
    );
    assert_eq!(engine.state(), State::Master);
    assert_eq!(garps(&actions), 1, "reasserts the VIP");
}

#[test]
fn with_ucarp_peers_demote_0_changes_nothing() {
    // Equal demotion (0 on both sides): ucarp's interval rules, unchanged.
    let mut engine = master(EngineConfig {
        advskew: 50,
        ..config()
    });
    engine.handle(
        secs(5),
        demoted_advert_from(Ipv4Addr::new(10, 1, 1, 9), 1, 49, 0),
    );
    assert_eq!(engine.state(), State::Backup);
    let mut engine = backup(EngineConfig {
        preempt: true,
        ..config()
    });
    engine.handle(
        secs(1),
        demoted_advert_from(Ipv4Addr::new(10, 1, 1, 9), 1, 1, 0),
    );
    assert_eq!(engine.state(), State::Master);
}

#[test]
fn a_demoted_backup_still_takes_over_at_a_bow_out() {
    let mut engine = backup(config());
    engine.handle(secs(0), Event::SetDemotion(1));
    engine.handle(
        secs(1),
        demoted_advert_from(Ipv4Addr::new(10, 1, 1, 9), 255, 255, 0),
    );
    assert_eq!(engine.state(), State::Master);
}

// ------------------------------------------------------------------ misc

#[test]
fn state_names_match_ucarp() {
    assert_eq!(State::Init.to_string(), "INIT");
    assert_eq!(State::Backup.to_string(), "BACKUP");
    assert_eq!(State::Master.to_string(), "MASTER");
}

// ---------------------------------------------- sequenced counters (xcarp)

const WALL_MS: u64 = 1_700_000_000_000;

fn sequenced() -> EngineConfig {
    EngineConfig {
        counters: CounterScheme::Sequenced {
            wall_ms_at_zero: WALL_MS,
        },
        ..config()
    }
}

/// docs/xdp.md, "Freshness": one stream per engine, values from the wall
/// clock (or one more when it has not moved), never a peer's counter.
#[test]
fn sequenced_counters_follow_the_clock_in_one_stream_and_never_adopt() {
    let mut engine = master(sequenced());
    let mut sent = sent_counters(&engine.handle(secs(4), Event::TimerFired(Timer::Advert)));
    // A worse master's advert: we stay master and do not adopt its counter.
    let peer = Ipv4Addr::new(10, 1, 1, 9);
    engine.handle(ms(4_500), advert_from(peer, 1, 200, 0xdead_beef_0000_0001));
    sent.extend(sent_counters(
        &engine.handle(secs(5), Event::TimerFired(Timer::Advert)),
    ));
    // Three failed writes re-advertise at once: same millisecond.
    for _ in 0..3 {
        sent.extend(sent_counters(
            &engine.handle(secs(5), Event::SendResult { ok: false }),
        ));
    }
    assert_eq!(sent.len(), 3, "{sent:x?}");
    let stream = freshness::stream(sent[0]);
    assert!(sent.iter().all(|c| freshness::stream(*c) == stream));
    let values: Vec<u64> = sent.iter().map(|c| freshness::value(*c)).collect();
    let wall = |ms: u64| (WALL_MS + ms) & freshness::VALUE_MASK;
    assert_eq!(values, [wall(4_000), wall(5_000), wall(5_001)]);
}

#[test]
fn each_engine_start_numbers_a_stream_of_its_own() {
    let streams: std::collections::HashSet<u32> = (0..64)
        .map(|seed| {
            let mut engine = Engine::new(sequenced(), seed);
            engine.handle(Duration::ZERO, Event::Start);
            let actions = engine.handle(secs(3), Event::TimerFired(Timer::MasterDown));
            freshness::stream(sent_counters(&actions)[0])
        })
        .collect();
    assert_eq!(streams.len(), 64);
    assert!(!streams.contains(&0));
}

// ------------------------------------------------ reconfigure (a reload)

/// The adverts among `actions`, as (advbase, advskew).
fn sent_intervals(actions: &[Action]) -> Vec<(u8, u8)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert {
                advbase, advskew, ..
            } => Some((*advbase, *advskew)),
            _ => None,
        })
        .collect()
}

/// A reload that changes the skew of a MASTER (took over at 3 s, next
/// advert due at 4 s): it stays MASTER, runs no script, sends nothing at
/// once, and its next advert goes out one new interval after the last one,
/// carrying the new skew.
#[test]
fn reconfigured_master_stays_and_times_its_next_advert_from_the_last() {
    let mut engine = master(config());
    let actions = engine.reconfigure(
        ms(3_400),
        EngineConfig {
            advskew: 128,
            ..config()
        },
    );
    assert_eq!(actions, [arm(Timer::Advert, ms(4_500))]);
    assert_eq!(engine.state(), State::Master);
    let actions = engine.handle(ms(4_500), Event::TimerFired(Timer::Advert));
    assert_eq!(sent_intervals(&actions), [(1, 128)]);
    assert_eq!(count(&actions, &arm(Timer::Advert, secs(6))), 1);
    assert_eq!(engine.state(), State::Master);
}

/// A shorter interval never waits longer than it: due at the last advert
/// plus the new interval, or at once when that moment has passed.
#[test]
fn reconfigured_master_with_a_shorter_interval_advertises_no_later_than_it() {
    let slow = EngineConfig {
        advbase: 2,
        ..config()
    };
    // advbase 2: master-down 6 s; MASTER at 6 s, next advert due at 8 s.
    let started = || {
        let mut engine = backup(slow.clone());
        engine.handle(secs(6), Event::TimerFired(Timer::MasterDown));
        assert_eq!(engine.state(), State::Master);
        engine
    };
    let mut engine = started();
    assert_eq!(
        engine.reconfigure(ms(6_500), config()),
        [arm(Timer::Advert, secs(7))]
    );
    let mut engine_late = started();
    assert_eq!(
        engine_late.reconfigure(ms(7_500), config()),
        [arm(Timer::Advert, ms(7_500))]
    );
    let actions = engine.handle(secs(7), Event::TimerFired(Timer::Advert));
    assert_eq!(sent_intervals(&actions), [(1, 0)]);
    assert_eq!(count(&actions, &arm(Timer::Advert, secs(8))), 1);
}

/// Settings that do not change the intervals (preempt, tie-break,
/// neutral) touch no timer; the VHID, the instance's identity, is kept.
#[test]
fn reconfigure_without_new_intervals_arms_nothing_and_keeps_the_vhid() {
    let mut engine = master(config());
    let actions = engine.reconfigure(
        ms(3_500),
        EngineConfig {
            vhid: 7,
            preempt: true,
            neutral: true,
            tie_break: TieBreak::Numeric,
            ..config()
        },
    );
    assert_eq!(actions, []);
    assert_eq!(engine.config().vhid, 42);
    assert!(engine.config().preempt);
    let mut engine = backup(config());
    engine.handle(secs(1), advert_from(Ipv4Addr::new(10, 1, 1, 9), 1, 0, 5));
    assert_eq!(
        engine.reconfigure(
            secs(2),
            EngineConfig {
                preempt: true,
                ..config()
            }
        ),
        []
    );
}

/// A BACKUP measures its new master-down interval from the last advert it
/// heard, not from the reload: the master it hears keeps it BACKUP, and a
/// master silent for longer than the new interval is taken over at once.
#[test]
fn reconfigured_backup_rearms_master_down_from_the_last_advert_heard() {
    let peer = Ipv4Addr::new(10, 1, 1, 9);
    let mut engine = backup(config());
    engine.handle(secs(1), advert_from(peer, 1, 0, 5));
    let longer = EngineConfig {
        deadratio: 5,
        ..config()
    };
    assert_eq!(
        engine.reconfigure(secs(2), longer),
        [arm(Timer::MasterDown, secs(6))]
    );
    assert_eq!(engine.state(), State::Backup);
    // Heard again: master-down is the new interval from there.
    let actions = engine.handle(secs(3), advert_from(peer, 1, 0, 6));
    assert_eq!(actions, [arm(Timer::MasterDown, secs(8))]);

    let shorter = EngineConfig {
        deadratio: 2,
        ..config()
    };
    let mut engine = backup(config());
    engine.handle(secs(1), advert_from(peer, 1, 0, 5));
    assert_eq!(
        engine.reconfigure(ms(3_500), shorter),
        [arm(Timer::MasterDown, ms(3_500))]
    );
    let actions = engine.handle(ms(3_500), Event::TimerFired(Timer::MasterDown));
    assert_eq!(engine.state(), State::Master);
    assert_eq!(sent_intervals(&actions), [(1, 0)]);
}

/// After SIGUSR2 the master-down interval starts after the 3 s hold
/// (§4.5); a reload during the hold keeps it.
#[test]
fn reconfigure_during_the_demote_hold_keeps_the_hold() {
    let mut engine = master(config());
    engine.handle(secs(4), Event::Demote);
    assert_eq!(engine.state(), State::Backup);
    let longer = EngineConfig {
        advbase: 2,
        ..config()
    };
    // 4 s + 3 s hold + 2 × 3 s.
    assert_eq!(
        engine.reconfigure(secs(5), longer),
        [arm(Timer::MasterDown, secs(13))]
    );
}

/// Without carrier no timer runs; the new intervals apply when it returns.
#[test]
fn reconfigure_without_carrier_waits_for_the_link() {
    let mut engine = backup(config());
    engine.handle(secs(1), Event::LinkDown);
    let longer = EngineConfig {
        deadratio: 5,
        ..config()
    };
    assert_eq!(engine.reconfigure(secs(2), longer), []);
    assert_eq!(
        engine.handle(secs(4), Event::LinkUp),
        [arm(Timer::MasterDown, secs(9))]
    );
}

/// A stopped or handing-over engine takes the settings and does nothing.
#[test]
fn reconfigure_after_shutdown_or_during_a_hand_over_does_nothing() {
    let longer = EngineConfig {
        advbase: 3,
        ..config()
    };
    let mut engine = master(config());
    engine.handle(ms(3_200), Event::HandOver);
    assert_eq!(engine.reconfigure(ms(3_300), longer.clone()), []);
    let mut engine = master(config());
    engine.handle(ms(3_200), Event::Shutdown);
    assert_eq!(engine.reconfigure(ms(3_300), longer), []);
}

/// The counter stream goes on through a reload (receivers' replay state
/// stays valid), even though the new settings carry another clock origin.
#[test]
fn reconfigure_keeps_the_sequenced_counter_stream_and_its_clock() {
    let mut engine = master(sequenced());
    let before = sent_counters(&engine.handle(secs(4), Event::TimerFired(Timer::Advert)));
    let other_clock = EngineConfig {
        advskew: 10,
        counters: CounterScheme::Sequenced {
            wall_ms_at_zero: WALL_MS + 99_000,
        },
        ..config()
    };
    engine.reconfigure(ms(4_200), other_clock);
    let after = sent_counters(&engine.handle(ms(5_039), Event::TimerFired(Timer::Advert)));
    assert_eq!(freshness::stream(after[0]), freshness::stream(before[0]));
    assert_eq!(
        freshness::value(after[0]),
        (WALL_MS + 5_039) & freshness::VALUE_MASK
    );
}

/// Switching replay protection on starts a sequenced stream from the
/// clock (not from ucarp's last counter); switching it off goes back to
/// ucarp's random counters.
#[test]
fn reconfigure_between_counter_schemes_starts_the_new_one_afresh() {
    let mut engine = master(config());
    engine.reconfigure(ms(3_500), sequenced());
    let sent = sent_counters(&engine.handle(secs(4), Event::TimerFired(Timer::Advert)));
    assert_eq!(
        freshness::value(sent[0]),
        (WALL_MS + 4_000) & freshness::VALUE_MASK
    );
    engine.reconfigure(ms(4_500), config());
    let a = sent_counters(&engine.handle(secs(5), Event::TimerFired(Timer::Advert)));
    let b = sent_counters(&engine.handle(secs(6), Event::TimerFired(Timer::Advert)));
    assert_ne!(b[0], a[0].wrapping_add(1), "random until an advert arrives");
}
