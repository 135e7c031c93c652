//! Conformance replay: the engine, given what a real ucarp was given, does
//! what that ucarp did.
//!
//! `tests/data/ucarp_inject.pcap` records a ucarp MASTER (10.99.0.1, vhid 42,
//! no preempt) receiving two adverts with its own interval: from 10.99.0.3
//! (counter 1000, "higher" with octets reversed: ucarp reasserts) and from
//! 10.99.1.0 (counter 2000, numerically higher but "lower" with octets
//! reversed: ucarp yields). The test feeds the engine the same inputs at
//! the times ucarp reacted and compares frames, counters, timing and log
//! lines (`ucarp_inject.log`).

use std::{collections::BTreeMap, net::Ipv4Addr, path::PathBuf, time::Duration};

use xcarp::{
    auth::CarpAuth,
    engine::{Action, Engine, EngineConfig, Event, LogLevel, State, Timer},
    wire::{AdvertFrameParams, Ipv4Carp, build_advert_frame, build_garp_frame, ipv4_payload},
};

const UCARP_SRC: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 252);
const UCARP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x99, 0x01];
/// The engine's clock: ucarp took over 3 s (one master-down) after start.
const TAKEOVER: Duration = Duration::from_secs(3);
/// ucarp's adverts follow its 1 s schedule within a millisecond or so.
const TIMING_SLACK: Duration = Duration::from_millis(15);

fn data_path(name: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "tests", "data", name]
        .iter()
        .collect()
}

/// (capture time, frame) of a classic little-endian pcap file.
fn read_pcap(name: &str) -> Vec<(Duration, Vec<u8>)> {
    let data = std::fs::read(data_path(name)).expect("capture present");
    assert_eq!(data[..4], [0xd4, 0xc3, 0xb2, 0xa1], "pcap magic");
    let word = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
    let mut frames = Vec::new();
    let mut offset = 24;
    while offset < data.len() {
        let at = Duration::new(u64::from(word(offset)), word(offset + 4) * 1000);
        let start = offset + 16;
        let end = start + word(offset + 8) as usize;
        frames.push((at, data[start..end].to_vec()));
        offset = end;
    }
    frames
}

/// What a node put on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Out {
    Garp,
    Advert(u64),
}

struct Recorded {
    /// ucarp's own frames, on the engine's clock.
    ucarp: Vec<(Duration, Out)>,
    /// Injected adverts: (engine time at which ucarp reacted, packet).
    injected: Vec<(Duration, Ipv4Carp, Vec<u8>)>,
}

fn recorded() -> Recorded {
    let frames = read_pcap("ucarp_inject.pcap");
    let mut ucarp = Vec::new();
    let mut injected_raw = Vec::new();
    for (at, frame) in &frames {
        if frame[12..14] == [0x08, 0x06] {
            assert_eq!(frame[..], build_garp_frame(UCARP_MAC, VIP)[..]);
            ucarp.push((*at, Out::Garp));
            continue;
        }
        let packet = Ipv4Carp::decode(ipv4_payload(frame).expect("IPv4")).expect("valid advert");
        if packet.src == UCARP_SRC {
            ucarp.push((*at, Out::Advert(packet.carp.counter)));
        } else {
            injected_raw.push((*at, packet, frame.clone()));
        }
    }
    // Engine time 3 s = ucarp's takeover (its first frame).
    let epoch = ucarp[0].0 - TAKEOVER;
    // ucarp reads at most one packet per wake-up and libpcap hands it over
    // late: take the time of ucarp's first frame after the injected one as
    // the moment it processed it.
    let injected = injected_raw
        .into_iter()
        .map(|(at, packet, frame)| {
            let reacted = ucarp
                .iter()
                .map(|(t, _)| *t)
                .find(|t| *t > at)
                .expect("ucarp reacted");
            (reacted - epoch, packet, frame)
        })
        .collect();
    Recorded {
        ucarp: ucarp.into_iter().map(|(t, o)| (t - epoch, o)).collect(),
        injected,
    }
}

/// Runs an engine over the recorded inputs; returns its frames and logs.
fn replay(
    rec: &Recorded,
    until: Duration,
) -> (Vec<(Duration, Out)>, Vec<(LogLevel, String)>, State) {
    let config = EngineConfig {
        neutral: true,
        ..EngineConfig::ucarp_defaults(42, UCARP_SRC)
    };
    let mut engine = Engine::new(config, 1);
    let mut timers: BTreeMap<Timer, Duration> = BTreeMap::new();
    let mut inputs: Vec<(Duration, Event)> = rec
        .injected
        .iter()
        .map(|(t, p, _)| (*t, Event::Advert(p.received_advert())))
        .collect();
    inputs.insert(0, (Duration::ZERO, Event::Start));
    inputs.reverse();
    let mut out = Vec::new();
    let mut logs = Vec::new();
    loop {
        let next_timer = timers.iter().map(|(k, v)| (*v, *k)).min();
        let next_input = inputs.last().map(|(t, _)| *t);
        let (now, event) = match (next_timer, next_input) {
            // ucarp handles the packet before the deadlines of the same wake-up.
            (Some((t, timer)), Some(i)) if t < i => {
                timers.remove(&timer);
                (t, Event::TimerFired(timer))
            }
            (Some((t, timer)), None) => {
                timers.remove(&timer);
                (t, Event::TimerFired(timer))
            }
            (_, Some(_)) => inputs.pop().expect("input"),
            (None, None) => break,
        };
        if now > until {
            break;
        }
        let mut sends = 0;
        for action in engine.handle(now, event) {
            match action {
                Action::SendAdvert { counter, .. } => {
                    out.push((now, Out::Advert(counter)));
                    sends += 1;
                }
                Action::SendGarp => out.push((now, Out::Garp)),
                Action::ArmTimer { timer, at } => {
                    timers.insert(timer, at);
                }
                Action::CancelTimer(timer) => {
                    timers.remove(&timer);
                }
                Action::Log { level, message } => logs.push((level, message)),
                Action::RunScript(_) => {}
            }
        }
        for _ in 0..sends {
            engine.handle(now, Event::SendResult { ok: true });
        }
    }
    (out, logs, engine.state())
}

#[test]
fn injected_frames_are_byte_identical_to_our_builder() {
    // inject.py builds frames with Python's hmac, independently of xcarp.
    let rec = recorded();
    assert_eq!(rec.injected.len(), 2);
    let auth = CarpAuth::new(b"love", 42, &[VIP]).expect("auth");
    for (_, packet, frame) in &rec.injected {
        let built = build_advert_frame(&AdvertFrameParams {
            src_ip: packet.src,
            group: packet.dst,
            broadcast: false,
            vhid: 42,
            advbase: 1,
            advskew: 0,
            counter: packet.carp.counter,
            ip_id: packet.ip_id,
            digest: auth.digest(packet.carp.counter),
        });
        assert_eq!(built[..], frame[..]);
    }
}

#[test]
fn engine_sends_what_ucarp_sent_when_fed_the_same_adverts() {
    let rec = recorded();
    let last = rec.ucarp.last().expect("ucarp frames").0;
    let (engine_out, _, state) = replay(&rec, last);
    let kinds =
        |v: &[(Duration, Out)]| -> Vec<bool> { v.iter().map(|(_, o)| *o == Out::Garp).collect() };
    // Same frames in the same order: takeover GARP + adverts, the delayed
    // GARP, the reassertion GARP and its delayed GARP, the yielding advert.
    assert_eq!(kinds(&engine_out), kinds(&rec.ucarp));
    // Same counters from the first received advert on (before it both draw
    // random ones).
    let counters = |v: &[(Duration, Out)]| -> Vec<u64> {
        v.iter()
            .filter_map(|(_, o)| match o {
                Out::Advert(c) => Some(*c),
                Out::Garp => None,
            })
            .filter(|c| *c >= 1000 && *c < 3000)
            .collect()
    };
    assert_eq!(counters(&rec.ucarp), [1001, 1002, 1003, 2001]);
    assert_eq!(counters(&engine_out), counters(&rec.ucarp));
    // Same times.
    for ((te, oe), (tu, ou)) in engine_out.iter().zip(&rec.ucarp) {
        let gap = if te > tu { *te - *tu } else { *tu - *te };
        assert!(
            gap <= TIMING_SLACK,
            "engine {oe:?} at {te:?}, ucarp {ou:?} at {tu:?}"
        );
    }
    // ucarp yielded and stayed silent: so did the engine.
    assert_eq!(state, State::Backup);
}

#[test]
fn engine_logs_what_ucarp_logged() {
    let rec = recorded();
    let (_, logs, _) = replay(&rec, Duration::from_secs(30));
    let ucarp_log = std::fs::read_to_string(data_path("ucarp_inject.log")).expect("log present");
    // "2026-…: [WARNING] text" → text, without the missing-script notices.
    let ucarp_lines: Vec<&str> = ucarp_log
        .lines()
        .filter_map(|l| l.split_once("[WARNING] ").map(|(_, text)| text))
        .filter(|text| !text.starts_with("Warning: no script"))
        .collect();
    let engine_lines: Vec<&str> = logs
        .iter()
        .filter(|(level, _)| *level == LogLevel::Warning)
        .map(|(_, text)| text.as_str())
        .collect();
    assert_eq!(
        ucarp_lines,
        [
            "Switching to state: BACKUP",
            "Switching to state: MASTER",
            "Non-preferred master advertising: reasserting control of VIP with another gratuitous arp",
            "Switching to state: BACKUP",
            "Preferred master advertised: going back to BACKUP state",
        ]
    );
    // The engine, left running past the capture, takes over again after a
    // master-down interval of silence.
    assert_eq!(engine_lines[..ucarp_lines.len()], ucarp_lines[..]);
    assert_eq!(
        engine_lines[ucarp_lines.len()..],
        ["Switching to state: MASTER"]
    );
}
