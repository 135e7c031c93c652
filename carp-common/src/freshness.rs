//! The freshness (anti-replay) rule, one copy for the XDP program and the
//! daemon (docs/xdp.md, "Freshness", has the reasoning and the table of
//! peers).
//!
//! The 64-bit advert counter is read as a *stream* (top 24 bits) and a
//! *value* (low 40 bits), compared in serial-number arithmetic (RFC 1982)
//! so that it may wrap. xcarp sends a random stream per process start and
//! its clock in milliseconds as the value. Other peers send what they send,
//! and every one of them must pass:
//!
//! - OpenBSD puts one fixed random "replay cookie" in every advert: the
//!   same counter again and again from one source;
//! - ucarp and FreeBSD send a new random counter in every advert until they
//!   hear a peer (each advert opens a stream), then the counter of the
//!   advert they last accepted + 1 per advert (they continue someone else's
//!   stream, from their own source); one FreeBSD variant starts at one
//!   random value and adds 1 per advert.
//!
//! So each (instance, stream) has a class ([`StreamState::class`]):
//!
//! - [`FRESH`]: not classified. Its `origin` is the source of the first
//!   advert seen in it.
//! - [`ADVANCING`] (protected): the origin's values grew like a clock in
//!   milliseconds (at least half as fast, over at least [`MIN_SPAN_NS`]):
//!   an xcarp sender. From then on only newer values pass, and values of
//!   the last [`WINDOW`] below the newest that were not seen yet, once (an
//!   advert overtaken by a ucarp node's continuation of it). Nothing moves
//!   the stream back or out of this class: repeats and old values of it are
//!   replays. Nor does anything move it further ahead than a clock could
//!   have in the time since: a value beyond that (a random counter that
//!   landed in the stream) passes without moving it.
//! - [`REPEATING`]: a source sent the counter of its own previous advert
//!   again, which only a fixed-cookie sender does. Everything in the stream
//!   is accepted: the adverts are identical, so a replay cannot be told
//!   from the next real one. Never upgraded.
//!
//! Counting up by one per advert never protects a stream: a ucarp node that
//! adopted an OpenBSD cookie counts up from it in the cookie's stream, and
//! a receiver that hears it before the cookie itself would otherwise
//! protect the stream and drop the cookie for good. So a FRESH stream whose
//! origin counts (FreeBSD's random start, or a continuation heard before
//! its owner) stays FRESH, measured again from each counted value.
//!
//! In a FRESH stream an advert that repeats the stream's value while its
//! source has sent something else in between is a replay (a ucarp node that
//! sends random counters never repeats one). Any other advert there is
//! accepted and changes nothing: an older value (a random counter that
//! landed in the stream, 2^-24 per advert) or a newer one from another
//! source (a ucarp node continuing the stream). That "previous counter of
//! the source" includes adverts that were dropped, so an attacker cycling
//! through several captured adverts never shows a repeat.
//!
//! Pure functions of their inputs, no I/O: the XDP program calls them on
//! map values and `bpf_ktime_get_ns`, the daemon on its own tables and
//! monotonic clock.

use bytemuck::{Pod, Zeroable};

/// Bits of the value (the rest is the stream).
pub const VALUE_BITS: u32 = 40;
/// Mask of the value bits.
pub const VALUE_MASK: u64 = (1 << VALUE_BITS) - 1;
/// Mask of a stream id (24 bits).
pub const STREAM_MASK: u32 = (1 << (64 - VALUE_BITS)) - 1;
/// Values more than this far ahead count as behind (half the space).
pub const HALF_SPACE: u64 = 1 << (VALUE_BITS - 1);

/// How far below the newest value of a protected stream
/// [`StreamState::seen`] remembers which values were seen: a late advert
/// there that was not seen yet passes once.
pub const WINDOW: u64 = 64;

/// The shortest time over which a FRESH stream's growth is judged: adverts
/// of one sender closer than this (advbase 0, or a delayed one arriving
/// with the next) could make one step per advert look like a clock.
pub const MIN_SPAN_NS: u64 = 500_000_000;

/// A clock in milliseconds grows by at least 1 value per this many
/// nanoseconds (half its rate); counting one per advert grows at most 1
/// per 3.9 ms (advbase 0, advskew 1).
pub const CLOCK_NS_PER_VALUE: u64 = 2_000_000;

/// Nor does a clock grow by more than 1 value per this many nanoseconds
/// (twice its rate) plus [`CLOCK_SLACK`]: a protected stream never jumps
/// further than that, so a random counter that lands in it (2^-24 per
/// advert) cannot carry it years ahead of its owner.
pub const CLOCK_MAX_NS_PER_VALUE: u64 = 500_000;

/// Values a protected stream may advance beyond twice the time elapsed
/// (delays, a node continuing the counter).
pub const CLOCK_SLACK: u64 = 10_000;

/// [`StreamState::class`]: not classified.
pub const FRESH: u8 = 0;
/// [`StreamState::class`]: a fixed-cookie stream, accepted unprotected.
pub const REPEATING: u8 = 1;
/// [`StreamState::class`]: a protected stream, only newer values pass.
pub const ADVANCING: u8 = 2;

#[inline(always)]
#[must_use]
pub const fn stream(counter: u64) -> u32 {
    (counter >> VALUE_BITS) as u32
}

#[inline(always)]
#[must_use]
pub const fn value(counter: u64) -> u64 {
    counter & VALUE_MASK
}

#[inline(always)]
#[must_use]
pub const fn counter(stream: u32, value: u64) -> u64 {
    (((stream & STREAM_MASK) as u64) << VALUE_BITS) | (value & VALUE_MASK)
}

/// Whether `value` comes after `last` in the stream: ahead by 1 up to
/// (not including) half the value space, wrapping.
#[inline(always)]
#[must_use]
pub const fn is_newer(value: u64, last: u64) -> bool {
    let ahead = value.wrapping_sub(last) & VALUE_MASK;
    ahead != 0 && ahead < HALF_SPACE
}

/// What is known of one (instance, stream): the value of the
/// `REPLAY_STATE` map in the kernel, and of the daemon's table.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct StreamState {
    /// FRESH: the value its growth is measured from (the first advert's,
    /// or the origin's last counted one); ADVANCING: the newest value;
    /// REPEATING: the value it had when it became so.
    pub value: u64,
    /// ADVANCING: bit i set when value − 1 − i was seen (i < [`WINDOW`]).
    pub seen: u64,
    /// When `value` arrived (the caller's monotonic clock, ns).
    pub since_ns: u64,
    /// IPv4 source (network byte order) of the first advert seen in the
    /// stream.
    pub origin: [u8; 4],
    /// [`FRESH`], [`REPEATING`] or [`ADVANCING`]; any other byte reads as
    /// FRESH.
    pub class: u8,
    pub _pad: [u8; 3],
}

const _: () = assert!(core::mem::size_of::<StreamState>() == 32);

impl StreamState {
    /// A stream learned from its first authentic advert, arrived at
    /// `now_ns`.
    #[inline(always)]
    #[must_use]
    pub const fn first(counter: u64, src: [u8; 4], now_ns: u64) -> Self {
        Self {
            value: value(counter),
            seen: 0,
            since_ns: now_ns,
            origin: src,
            class: FRESH,
            _pad: [0; 3],
        }
    }

    #[inline(always)]
    #[must_use]
    const fn with_class(self, class: u8) -> Self {
        Self { class, ..self }
    }

    /// Protected, at `value` (arrived at `now_ns`), newer than
    /// `self.value`, which is marked seen (as is what the window held,
    /// shifted along).
    #[inline(always)]
    #[must_use]
    const fn advanced_to(self, value: u64, now_ns: u64) -> Self {
        let ahead = value.wrapping_sub(self.value) & VALUE_MASK;
        let seen = if ahead > WINDOW {
            0
        } else {
            let old = if self.class == ADVANCING && ahead < WINDOW {
                self.seen << ahead
            } else {
                0
            };
            old | 1 << (ahead - 1)
        };
        Self {
            value,
            seen,
            since_ns: now_ns,
            class: ADVANCING,
            ..self
        }
    }

    /// For an older value of a protected stream: the window bit that marks
    /// it, when it lies within the window.
    #[inline(always)]
    #[must_use]
    const fn window_bit(&self, value: u64) -> Option<u64> {
        let behind = self.value.wrapping_sub(value) & VALUE_MASK;
        if behind == 0 || behind > WINDOW {
            None
        } else {
            Some(1 << (behind - 1))
        }
    }
}

/// Why an advert passed or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Its stream was unknown: now FRESH, with this advert's source as
    /// origin.
    Opened,
    /// Newer in a protected stream (by no more than a clock could have
    /// made it since), or the origin's value that shows a FRESH stream
    /// advancing like a clock and protects it.
    Advanced,
    /// In a protected stream, an older value just below the newest
    /// ([`WINDOW`]) not seen before: an advert overtaken by a newer one (a
    /// node continuing the counter answered before it arrived). Passes
    /// once.
    Late,
    /// The counter of its source's previous advert again: a fixed cookie
    /// (the stream is, or now becomes, REPEATING).
    Repeated,
    /// The origin's newer value in a FRESH stream, grown by fewer than a
    /// clock would: a node counting its adverts. Accepted, unprotected.
    Counted,
    /// Accepted, changing nothing: another counter in a REPEATING stream
    /// (a node continuing a cookie); in a FRESH stream an older value, a
    /// newer one from another source, or the origin's newer value too soon
    /// after the one its growth is measured from; in any stream a value
    /// further ahead than a clock could have made it (a random counter
    /// that landed there).
    Unprotected,
    /// A replay: dropped.
    Replayed,
}

/// [`judge`]'s answer: the verdict and, when the stream's state changes,
/// its new state (an existing stream keeps its origin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub next: Option<StreamState>,
}

impl Judgement {
    /// Whether the advert passes.
    #[inline(always)]
    #[must_use]
    pub const fn fresh(&self) -> bool {
        !matches!(self.verdict, Verdict::Replayed)
    }
}

/// Whether `value`, newer than the stream's, is no further ahead than a
/// clock could have taken it since the stream's value arrived.
#[inline(always)]
#[must_use]
const fn within_clock(state: &StreamState, value: u64, now_ns: u64) -> bool {
    let ahead = value.wrapping_sub(state.value) & VALUE_MASK;
    let span = now_ns.saturating_sub(state.since_ns);
    ahead <= span / CLOCK_MAX_NS_PER_VALUE + CLOCK_SLACK
}

/// The rule (module docs). `state` is the stream's state (`None`: not
/// known); `counter` and `src` are the authentic advert's, `now_ns` its
/// arrival on the caller's monotonic clock; `source_last` is the counter of
/// the last authentic advert seen from `src` before this one (`None`: none
/// known), dropped or not. The caller stores `next`, and records `counter`
/// as `src`'s last whatever the verdict.
#[inline(always)]
#[must_use]
pub fn judge(
    state: Option<StreamState>,
    counter: u64,
    src: [u8; 4],
    source_last: Option<u64>,
    now_ns: u64,
) -> Judgement {
    let Some(state) = state else {
        return Judgement {
            verdict: Verdict::Opened,
            next: Some(StreamState::first(counter, src, now_ns)),
        };
    };
    let value = value(counter);
    let repeat = matches!(source_last, Some(last) if last == counter);
    let (verdict, next) = match state.class {
        ADVANCING => {
            if is_newer(value, state.value) {
                if within_clock(&state, value, now_ns) {
                    (Verdict::Advanced, Some(state.advanced_to(value, now_ns)))
                } else {
                    (Verdict::Unprotected, None)
                }
            } else {
                match state.window_bit(value) {
                    Some(bit) if state.seen & bit == 0 => (
                        Verdict::Late,
                        Some(StreamState {
                            seen: state.seen | bit,
                            ..state
                        }),
                    ),
                    _ => (Verdict::Replayed, None),
                }
            }
        }
        REPEATING => {
            if repeat {
                (Verdict::Repeated, None)
            } else {
                (Verdict::Unprotected, None)
            }
        }
        _ => {
            if is_newer(value, state.value) && src == state.origin {
                let span = now_ns.saturating_sub(state.since_ns);
                let ahead = value.wrapping_sub(state.value) & VALUE_MASK;
                if span < MIN_SPAN_NS || !within_clock(&state, value, now_ns) {
                    (Verdict::Unprotected, None)
                } else if ahead.saturating_mul(CLOCK_NS_PER_VALUE) >= span {
                    (Verdict::Advanced, Some(state.advanced_to(value, now_ns)))
                } else {
                    (
                        Verdict::Counted,
                        Some(StreamState {
                            value,
                            since_ns: now_ns,
                            ..state
                        }),
                    )
                }
            } else if repeat {
                (Verdict::Repeated, Some(state.with_class(REPEATING)))
            } else if value == state.value {
                (Verdict::Replayed, None)
            } else {
                (Verdict::Unprotected, None)
            }
        }
    };
    Judgement { verdict, next }
}

#[cfg(test)]
mod tests {
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
    /// dropped; replays of them are, unless the very last one is repeated
    /// (which is what a fixed cookie looks like).
    #[test]
    fn random_counters_pass_and_replays_of_earlier_ones_do_not() {
        let r = [
            0x1111_1111_1111_1111,
            0x2222_2222_2222_2222,
            0x3333_3333_3333_3333,
        ];
        let (_, v) = run(&[
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
        assert_eq!(
            v,
            [
                Opened, Opened, Opened, Replayed, Replayed, Replayed, Replayed, Replayed
            ]
        );
        // The limit: the sender's last advert sent again right after it is
        // what a fixed cookie looks like.
        let (_, v) = run(&[(r[0], U), (r[1], U), (r[1], U)]);
        assert_eq!(v, [Opened, Opened, Repeated]);
    }

    /// FreeBSD's variant: one random start, then + 1 per advert. It counts,
    /// so it passes unprotected; only its latest value repeated by another
    /// source is dropped.
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
        assert_eq!(
            v,
            [Opened, Counted, Counted, Unprotected, Replayed, Counted]
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
}
