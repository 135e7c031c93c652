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
//! In a FRESH stream an advert that repeats the stream's value, or the
//! previous counter of its own source, makes it REPEATING, whatever its
//! source: a replay of a stream seen once cannot be told from a fixed
//! cookie's next advert except by the IP source, which the HMAC does not
//! cover, and an attacker forging it must never get a cookie dropped. So
//! random counters (each advert a stream of its own) cannot be protected
//! either. Any other advert in a FRESH stream is accepted and changes
//! nothing: an older value (a random counter that landed in the stream,
//! 2^-24 per advert) or a newer one from another source (a ucarp node
//! continuing the stream). Nothing in a FRESH stream is ever dropped.
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
    /// FRESH and REPEATING: when `value` arrived (the caller's monotonic
    /// clock, ns). ADVANCING: when `anchor` arrived.
    pub since_ns: u64,
    /// ADVANCING: the value of the last advance that grew like a clock
    /// from the one before (the stream's owner, not a node counting on in
    /// it). How far ahead a newer value may be is measured from here, so
    /// that a stretch of counting by one (a ucarp node that was master a
    /// while) cannot leave the owner's next adverts, and replays of them,
    /// "too far ahead" to move the stream.
    pub anchor: u64,
    /// IPv4 source (network byte order) of the first advert seen in the
    /// stream.
    pub origin: [u8; 4],
    /// [`FRESH`], [`REPEATING`] or [`ADVANCING`]; any other byte reads as
    /// FRESH.
    pub class: u8,
    pub _pad: [u8; 3],
}

const _: () = assert!(core::mem::size_of::<StreamState>() == 40);

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
            anchor: value(counter),
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
    /// shifted along). The anchor moves to `value` when it grew like a
    /// clock from the anchor (always when the stream becomes protected).
    #[inline(always)]
    #[must_use]
    const fn advanced_to(self, value: u64, now_ns: u64) -> Self {
        let clock_like = self.class != ADVANCING || {
            let from_anchor = value.wrapping_sub(self.anchor) & VALUE_MASK;
            from_anchor.saturating_mul(CLOCK_NS_PER_VALUE) >= now_ns.saturating_sub(self.since_ns)
        };
        let (anchor, since_ns) = if clock_like {
            (value, now_ns)
        } else {
            (self.anchor, self.since_ns)
        };
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
            since_ns,
            anchor,
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
/// clock could have taken it since the anchor (FRESH: the stream's value)
/// arrived.
#[inline(always)]
#[must_use]
const fn within_clock(state: &StreamState, value: u64, now_ns: u64) -> bool {
    let ahead = value.wrapping_sub(state.anchor) & VALUE_MASK;
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
                            anchor: value,
                            ..state
                        }),
                    )
                }
            } else if repeat || value == state.value {
                // The same counter again, from whatever source: a fixed
                // cookie. Nothing tells a replay of a stream seen once from
                // the cookie's next advert but the IP source, which the
                // HMAC does not cover: an attacker could forge it to make
                // a cookie look replayed, and a legitimate peer must never
                // be dropped (docs/xdp.md, "Freshness").
                (Verdict::Repeated, Some(state.with_class(REPEATING)))
            } else {
                (Verdict::Unprotected, None)
            }
        }
    };
    Judgement { verdict, next }
}

#[cfg(test)]
mod tests;
