extern crate std;
use std::{vec, vec::Vec};

use super::*;

const X: [u8; 4] = [10, 0, 0, 1];
const O: [u8; 4] = [10, 0, 0, 2];
const U: [u8; 4] = [10, 0, 0, 3];
const SECOND: u64 = 1_000_000_000;

/// The rule over a sequence of (counter, source, arrival in ns), with
/// both tables kept as the callers keep them; returns each advert's
/// verdict and the streams' states.
fn run_timed(adverts: &[(u64, [u8; 4], u64)]) -> ([Option<StreamState>; 4], Vec<Verdict>) {
    let mut streams: [(u32, Option<StreamState>); 4] = [(u32::MAX, None); 4];
    let mut sources: [([u8; 4], Option<u64>); 4] = [([0; 4], None); 4];
    let mut verdicts = Vec::new();
    for &(c, src, now) in adverts {
        let s = streams
            .iter()
            .position(|(id, _)| *id == stream(c))
            .or_else(|| streams.iter().position(|(_, st)| st.is_none()))
            .expect("four streams at most");
        let k = sources
            .iter()
            .position(|(a, l)| *a == src && l.is_some())
            .or_else(|| sources.iter().position(|(_, l)| l.is_none()))
            .expect("four sources at most");
        let j = judge(streams[s].1, c, src, sources[k].1, now);
        if let Some(next) = j.next {
            streams[s] = (stream(c), Some(next));
        }
        sources[k] = (src, Some(c));
        verdicts.push(j.verdict);
    }
    (streams.map(|(_, st)| st), verdicts)
}

/// The same, one advert a second.
fn run(adverts: &[(u64, [u8; 4])]) -> ([Option<StreamState>; 4], Vec<Verdict>) {
    let timed: Vec<_> = (0u64..)
        .zip(adverts)
        .map(|(i, &(c, src))| (c, src, i * SECOND))
        .collect();
    run_timed(&timed)
}

use Verdict::{Advanced, Counted, Late, Opened, Repeated, Replayed, Unprotected};

#[test]
fn stream_and_value_split_the_counter() {
    let c = counter(0xab_cdef, 0x12_3456_789a);
    assert_eq!(c, 0xabcd_ef12_3456_789a);
    assert_eq!(stream(c), 0xab_cdef);
    assert_eq!(value(c), 0x12_3456_789a);
    // Bits beyond the stream's 24 are dropped, not shifted out of place.
    assert_eq!(stream(counter(0xff00_0001, 5)), 1);
}

#[test]
fn newer_is_ahead_by_less_than_half_the_space_wrapping() {
    assert!(is_newer(2, 1));
    assert!(!is_newer(1, 1), "the same value again is not newer");
    assert!(!is_newer(1, 2));
    assert!(is_newer(1 + HALF_SPACE - 1, 1));
    assert!(!is_newer(1 + HALF_SPACE, 1));
    // Across the wrap: 0 and 5 come after the top value.
    assert!(is_newer(0, VALUE_MASK));
    assert!(is_newer(5, VALUE_MASK - 3));
    assert!(!is_newer(VALUE_MASK - 3, 5));
}

/// xcarp: values in milliseconds. Protected from its second advert on.
#[test]
fn a_stream_advancing_like_a_clock_is_protected() {
    let s = |v| counter(7, v);
    let (_, v) = run(&[
        (s(100), X),
        (s(1_100), X),
        (s(1_100), X), // the same advert again, even from its source
        (s(100), X),
        (s(9_000), X), // a jump ahead (adverts missed)
        (s(2_100), X),
        (s(9_001), U), // a ucarp node continuing it
    ]);
    assert_eq!(
        v,
        [
            Opened, Advanced, Replayed, Replayed, Advanced, Replayed, Advanced
        ]
    );
}

/// A random counter (ucarp before it hears a peer) that lands in a
/// protected stream far ahead of its owner passes, but does not carry
/// the stream there: the owner's next advert is still newer.
#[test]
fn a_random_counter_never_carries_a_protected_stream_ahead() {
    let s = |v| counter(7, v);
    let (streams, v) = run(&[
        (s(100), X),
        (s(1_100), X),
        (s(1_100 + (1 << 38)), U),
        (s(2_100), X),
        (s(1_100 + (1 << 38)), U),
    ]);
    assert_eq!(v, [Opened, Advanced, Unprotected, Advanced, Unprotected]);
    assert_eq!(streams[0].map(|s| s.value), Some(2_100));
    // A long silence allows a long jump: an owner back after a day.
    let day_ms = 86_400_000;
    let (_, v) = run_timed(&[
        (s(0), X, 0),
        (s(1_000), X, SECOND),
        (s(1_000 + day_ms), X, SECOND + day_ms * 1_000_000),
    ]);
    assert_eq!(v, [Opened, Advanced, Advanced]);
}

/// Adverts closer than half a second are not judged for their growth;
/// xcarp at advbase 0, advskew 1 (4 ms apart) is protected once half a
/// second has passed, and a node counting one per advert at that pace
/// never is.
#[test]
fn fast_adverts_are_judged_over_half_a_second() {
    let xcarp: Vec<_> = (0..200u64)
        .map(|i| (counter(1, 4 * i), X, i * 3_906_250))
        .collect();
    let (_, v) = run_timed(&xcarp);
    let first = v.iter().position(|v| *v == Advanced).expect("protected");
    assert!((128..=130).contains(&first), "protected at advert {first}");
    assert!(v[1..first].iter().all(|v| *v == Unprotected));
    assert!(v[first..].iter().all(|v| *v == Advanced));

    let counting: Vec<_> = (0..2_000u64)
        .map(|i| (counter(1, i), U, i * 3_906_250))
        .collect();
    let (streams, v) = run_timed(&counting);
    assert!(!v.contains(&Advanced) && !v.contains(&Replayed));
    assert_eq!(streams[0].map(|s| s.class), Some(FRESH));
}

/// OpenBSD: one cookie in every advert. Accepted forever, and no later
/// value of the stream (a ucarp node continuing the cookie, a random
/// collision) protects it, which would drop the cookie.
#[test]
fn a_fixed_cookie_is_accepted_forever_and_never_upgraded() {
    let cookie = 0x1234_5678_9abc_def0;
    let (streams, v) = run(&[
        (cookie, O),
        (cookie, O),
        (cookie, O),
        (cookie + 1, U),
        (cookie + 2, U),
        (cookie + 5_000, O), // even a clock-like jump from its source
        (cookie, O),
    ]);
    assert_eq!(
        v,
        [
            Opened,
            Repeated,
            Repeated,
            Unprotected,
            Unprotected,
            Unprotected,
            Unprotected
        ]
    );
    assert_eq!(streams[0].map(|s| s.class), Some(REPEATING));
}

/// A ucarp node that adopted the cookie, heard before the cookie or
/// between its first two adverts: the cookie is still recognised.
#[test]
fn a_fixed_cookie_continued_by_another_node_is_still_recognised() {
    let cookie = 0x0abc_0000_0000_0005;
    let (_, v) = run(&[(cookie, O), (cookie + 1, U), (cookie + 2, U), (cookie, O)]);
    assert_eq!(v, [Opened, Unprotected, Unprotected, Repeated]);
    // Heard from the continuing node first, for a long while (an xcarp
    // node started while it was master): it counts, it does not
    // advance like a clock, so the cookie still passes when its owner
    // is master again.
    let mut adverts: Vec<_> = (1..=100).map(|i| (cookie + i, U)).collect();
    adverts.extend([(cookie, O), (cookie, O), (cookie, O), (cookie + 101, U)]);
    let (streams, v) = run(&adverts);
    assert_eq!(v[0], Opened);
    assert!(v[1..100].iter().all(|v| *v == Counted), "{v:?}");
    assert_eq!(v[100..], [Unprotected, Repeated, Repeated, Unprotected]);
    assert_eq!(streams[0].map(|s| s.class), Some(REPEATING));
}

/// ucarp before it hears a peer: each advert its own stream. None is
/// dropped, and neither are replays of them: a stream seen once repeated
/// is what a fixed cookie looks like, and only the forgeable IP source
/// could tell the two apart (docs/xdp.md, "Freshness", limits).
#[test]
fn random_counters_pass_and_so_do_replays_of_them() {
    let r = [
        0x1111_1111_1111_1111,
        0x2222_2222_2222_2222,
        0x3333_3333_3333_3333,
    ];
    let (streams, v) = run(&[
        (r[0], U),
        (r[1], U),
        (r[2], U),
        // An attacker cycles through them (with the sender's source or
        // any other).
        (r[0], U),
        (r[1], U),
        (r[2], U),
        (r[0], X),
        (r[1], U),
    ]);
    assert!(v.iter().all(|v| *v != Replayed), "{v:?}");
    assert!(streams.iter().flatten().all(|s| s.class == REPEATING));
}

/// An attacker who forges a cookie sender's IP source between its adverts
/// (any other captured counter, sent "from" it) must not get the cookie
/// dropped: the stream's own repeat makes it REPEATING whatever the
/// source's previous counter was.
#[test]
fn a_forged_source_between_cookie_adverts_never_drops_the_cookie() {
    let cookie = 0x0abc_0000_0000_0005;
    let other = 0x0def_0000_0000_0009;
    let (streams, v) = run(&[
        (cookie, O),
        (other, O),
        (cookie, O),
        (other, O),
        (cookie, O),
    ]);
    assert!(v.iter().all(|v| *v != Replayed), "{v:?}");
    assert_eq!(streams[0].map(|s| s.class), Some(REPEATING));
}

/// FreeBSD's variant: one random start, then + 1 per advert. It counts,
/// so it passes unprotected.
#[test]
fn a_random_start_counting_up_passes_unprotected() {
    let start = 0x00ab_cdef_ff00_0000;
    let (_, v) = run(&[
        (start, U),
        (start + 1, U),
        (start + 2, U),
        (start + 1, X),
        (start + 2, X),
        (start + 3, U),
    ]);
    // Its latest value from another source is what a cookie looks like:
    // the stream is REPEATING from then on, and nothing is dropped.
    assert_eq!(
        v,
        [Opened, Counted, Counted, Unprotected, Repeated, Unprotected]
    );
}

/// Nothing an attacker sends moves a protected stream back or out of
/// its class: repeats, old values, from any source, any number of
/// times.
#[test]
fn nothing_downgrades_a_protected_stream() {
    let s = |v| counter(9, v);
    // What an attacker captured: everything sent (the last one twice),
    // and an advert older than any this node saw.
    let sent = [1_000, 1_030, 3_000, 4_000, 4_000, 900];
    let mut adverts = vec![(s(1_000), X), (s(1_030), U), (s(3_000), X), (s(4_000), X)];
    for _ in 0..3 {
        for v in sent {
            for src in [X, O, U] {
                adverts.push((s(v), src));
            }
        }
    }
    adverts.push((s(4_001), X));
    let (streams, v) = run(&adverts);
    assert_eq!(v[..4], [Opened, Unprotected, Advanced, Advanced]);
    assert!(v[4..v.len() - 1].iter().all(|v| *v == Replayed), "{v:?}");
    assert_eq!(v.last(), Some(&Advanced));
    assert_eq!(
        streams[0].map(|s| (s.class, s.value)),
        Some((ADVANCING, 4_001))
    );
}

/// An advert overtaken by a newer one of its stream (a ucarp node
/// continued it before it arrived) passes, once, if it lies just below
/// the newest.
#[test]
fn a_late_advert_just_below_the_newest_passes_once() {
    let s = |v| counter(4, v);
    let (_, v) = run(&[
        (s(1_000), X),
        (s(2_000), X),
        (s(3_001), U), // continues 3_000, which is still on its way
        (s(3_000), X),
        (s(3_000), X),
        (s(2_999), U), // never sent: a stand-in for a lost advert
        (s(3_001 - WINDOW - 1), X),
    ]);
    assert_eq!(
        v,
        [Opened, Advanced, Advanced, Late, Replayed, Late, Replayed]
    );
    // The window moves with the newest value, across the wrap too.
    let top = VALUE_MASK - 1_499;
    let (_, v) = run(&[
        (s(top), X),
        (s(top + 1_000), X),
        (s(500), X), // top + 2_000, wrapped
        (s(top), X),
        (s(top + 1_000), X),
        (s(499), X),
        (s(499), X),
        (s(500 + WINDOW), X),
        (s(501), X),
        (s(500), X),
        (s(499), X),
    ]);
    assert_eq!(
        v,
        [
            Opened, Advanced, Advanced, Replayed, Replayed, Late, Replayed, Advanced, Late,
            Replayed, Replayed
        ]
    );
}

/// A FRESH stream: an older value or another source's newer value
/// passes and leaves it as it was; only the origin protects it.
#[test]
fn only_the_origin_protects_a_fresh_stream() {
    let s = |v| counter(3, v);
    let (streams, v) = run(&[(s(100), X), (s(90), U), (s(1_101), U), (s(3_100), X)]);
    assert_eq!(v, [Opened, Unprotected, Unprotected, Advanced]);
    assert_eq!(streams[0].map(|s| s.origin), Some(X));
}

#[test]
fn values_wrap_around() {
    let s = |v| counter(3, v);
    let (_, v) = run(&[
        (s(VALUE_MASK - 1_999), X),
        (s(VALUE_MASK - 999), X),
        (s(0), X),
        (s(1_000), X),
        (s(VALUE_MASK - 999), X),
    ]);
    assert_eq!(v, [Opened, Advanced, Advanced, Advanced, Replayed]);
}

#[test]
fn an_unknown_class_byte_reads_as_fresh() {
    let mut state = StreamState::first(counter(1, 5), X, 0);
    state.class = 0x7f;
    let j = judge(Some(state), counter(1, 2_005), X, None, SECOND);
    assert_eq!(j.verdict, Advanced);
}

/// xcarp preferred, a ucarp node master for a while (it counts on in the
/// xcarp node's stream), then the xcarp node back: its next adverts are
/// measured from its own last clock-like advance, not from the ucarp
/// node's last step, so they move the stream at once, and replays of them
/// are dropped at once.
#[test]
fn a_stretch_of_counting_does_not_leave_the_owner_too_far_ahead() {
    let s = |v| counter(0x42, 1_000_000 + v);
    let mut adverts = vec![(s(0), X, 0), (s(1000), X, SECOND)];
    // The ucarp node counts on for 100 s.
    adverts.extend((1..=100).map(|i| (s(1000 + i), U, (1 + i) * SECOND)));
    // The xcarp node is master again: its clock went on meanwhile.
    adverts.extend([
        (s(104_000), X, 104 * SECOND),
        (s(105_000), X, 105 * SECOND),
        // It dies; an attacker replays its last advert.
        (s(105_000), U, 106 * SECOND),
        (s(104_000), X, 107 * SECOND),
    ]);
    let (_, v) = run_timed(&adverts);
    assert_eq!(v[..2], [Opened, Advanced]);
    assert!(v[2..102].iter().all(|v| *v == Advanced), "{v:?}");
    assert_eq!(v[102..], [Advanced, Advanced, Replayed, Replayed]);
}
