//! The daemon's side of the freshness rule (docs/xdp.md, "Freshness";
//! the rule itself is `carp_common::freshness::judge`, shared with the XDP
//! program), and what it tells about each peer.
//!
//! Where the XDP program checks freshness it alone decides: it sees every
//! authentic advert, also those it drops, and the rule remembers each
//! source's last counter, dropped or not. The daemon then only *follows*
//! ([`ReplayGuard::follow`]): it applies the rule to what reaches it to know
//! its peers, and never drops what the kernel passed. On the socket-filter
//! path, and when the kernel cannot check the digest, the daemon decides
//! ([`ReplayGuard::admit`]) with the same rule on every authentic advert.
use std::{collections::HashMap, net::Ipv4Addr, time::Duration};

use carp_common::freshness::{self, StreamState, Verdict};

/// Streams remembered per instance. A new one comes with each start of an
/// xcarp peer, each new OpenBSD cookie, or each advert of a ucarp or
/// FreeBSD peer that has not heard another node yet (its counters are
/// random then); the least recently seen is forgotten first.
pub const DEFAULT_CAPACITY: usize = 4096;
/// Sources remembered per instance: a few peers, and whatever source
/// addresses replays carry; the least recently seen is forgotten first.
pub const SOURCE_CAPACITY: usize = 1024;

/// How a peer numbers its adverts, as far as its adverts show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerCounters {
    /// The same counter in every advert (OpenBSD's replay cookie).
    FixedCookie,
    /// A new random counter in every advert (ucarp or FreeBSD before they
    /// hear a peer): each advert opens a new stream.
    RandomPerAdvert,
    /// Counters that grow in a protected stream (xcarp; ucarp or FreeBSD
    /// continuing an xcarp peer's counter).
    Advancing,
    /// Counters that grow by one per advert in a stream no clock drives
    /// (ucarp or FreeBSD continuing an OpenBSD cookie, FreeBSD counting up
    /// from a random start).
    Counting,
}

impl PeerCounters {
    /// What the log says of a peer that behaves so.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::FixedCookie => {
                "repeats one counter in every advert (OpenBSD's replay cookie): its adverts \
                 are accepted without replay protection"
            }
            Self::RandomPerAdvert => {
                "sends a new random counter in every advert (ucarp/FreeBSD before it hears a \
                 peer): its adverts are accepted without replay protection (a repeat of one \
                 looks like a fixed cookie)"
            }
            Self::Advancing => {
                "counters advance (xcarp, or ucarp/FreeBSD continuing a heard counter): \
                 replays of its stream are dropped"
            }
            Self::Counting => {
                "counts its adverts in a stream no clock drives (ucarp/FreeBSD continuing an \
                 OpenBSD cookie, or FreeBSD counting up from a random start): its adverts are \
                 accepted without replay protection"
            }
        }
    }
}

/// The guard's answer for one authentic advert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    /// Whether the advert goes on to the engine.
    pub fresh: bool,
    /// The rule's verdict (for `follow`, what the daemon's own tables
    /// said, before it deferred to the kernel).
    pub verdict: Verdict,
    /// Set when this advert shows a behaviour of its source that has not
    /// been reported yet (the caller logs it, then calls
    /// [`ReplayGuard::reported`]).
    pub news: Option<PeerCounters>,
}

#[derive(Debug)]
struct Source {
    /// Counter of the last authentic advert from this source.
    last: u64,
    /// Whether that advert opened a stream.
    opened: bool,
    /// The behaviour last reported for this source.
    reported: Option<PeerCounters>,
    seen: u64,
}

/// Per instance: what the rule knows of each stream and each source.
#[derive(Debug)]
pub struct ReplayGuard {
    /// stream → (state, when last seen in `tick`s).
    streams: HashMap<u32, (StreamState, u64)>,
    sources: HashMap<Ipv4Addr, Source>,
    tick: u64,
    capacity: usize,
    source_capacity: usize,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl ReplayGuard {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self::with_capacities(capacity, SOURCE_CAPACITY)
    }

    #[must_use]
    pub fn with_capacities(streams: usize, sources: usize) -> Self {
        Self {
            streams: HashMap::new(),
            sources: HashMap::new(),
            tick: 0,
            capacity: streams.max(1),
            source_capacity: sources.max(1),
        }
    }

    /// Judges an authentic advert that arrived at `now` (a monotonic
    /// clock) and learns from it. Only call it for adverts whose digest
    /// verified: a forged counter must never move the state.
    pub fn admit(&mut self, src: Ipv4Addr, counter: u64, now: Duration) -> Admission {
        self.apply(src, counter, now, false)
    }

    /// Learns from an advert the XDP program has already judged fresh
    /// (module docs): where the daemon's tables disagree, they take the
    /// kernel's side. The kernel remembers dropped adverts the daemon never
    /// sees, so it can pass a repeat the daemon's tables would call a
    /// replay; the stream is then REPEATING, as in the kernel.
    pub fn follow(&mut self, src: Ipv4Addr, counter: u64, now: Duration) -> Admission {
        self.apply(src, counter, now, true)
    }

    /// Records that `behaviour` of `src` has been logged.
    pub fn reported(&mut self, src: Ipv4Addr, behaviour: PeerCounters) {
        if let Some(source) = self.sources.get_mut(&src) {
            source.reported = Some(behaviour);
        }
    }

    fn apply(&mut self, src: Ipv4Addr, counter: u64, now: Duration, follow: bool) -> Admission {
        let now_ns = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        self.tick += 1;
        let tick = self.tick;
        let stream = freshness::stream(counter);
        let state = self.streams.get(&stream).map(|(state, _)| *state);
        let (source_last, previous_opened) = self
            .sources
            .get(&src)
            .map_or((None, false), |s| (Some(s.last), s.opened));
        let octets = src.octets();
        let mut judgement = freshness::judge(state, counter, octets, source_last, now_ns);
        let verdict = judgement.verdict;
        if follow && !judgement.fresh() {
            // The kernel passed it, so to the kernel it was a repeat.
            judgement = freshness::judge(state, counter, octets, Some(counter), now_ns);
        }
        let fresh = follow || judgement.fresh();
        if let Some(next) = judgement.next {
            if state.is_none() {
                self.make_room_for_stream();
            }
            self.streams.insert(stream, (next, tick));
        } else if let Some((_, seen)) = self.streams.get_mut(&stream) {
            *seen = tick;
        }

        let opened = matches!(judgement.verdict, Verdict::Opened);
        let shown = match judgement.verdict {
            Verdict::Repeated => Some(PeerCounters::FixedCookie),
            Verdict::Advanced => Some(PeerCounters::Advancing),
            Verdict::Opened if previous_opened => Some(PeerCounters::RandomPerAdvert),
            Verdict::Counted => Some(PeerCounters::Counting),
            Verdict::Unprotected
                if state.is_some_and(|s| {
                    s.class == freshness::REPEATING && s.value != freshness::value(counter)
                }) =>
            {
                Some(PeerCounters::Counting)
            }
            _ => None,
        };
        if !self.sources.contains_key(&src) {
            self.make_room_for_source();
        }
        let entry = self.sources.entry(src).or_insert(Source {
            last: counter,
            opened,
            reported: None,
            seen: tick,
        });
        entry.last = counter;
        entry.opened = opened;
        entry.seen = tick;
        let news = shown.filter(|b| fresh && entry.reported != Some(*b));
        Admission {
            fresh,
            verdict,
            news,
        }
    }

    fn make_room_for_stream(&mut self) {
        if self.streams.len() >= self.capacity
            && let Some(oldest) = self
                .streams
                .iter()
                .min_by_key(|(_, (_, seen))| *seen)
                .map(|(stream, _)| *stream)
        {
            self.streams.remove(&oldest);
        }
    }

    fn make_room_for_source(&mut self) {
        if self.sources.len() >= self.source_capacity
            && let Some(oldest) = self
                .sources
                .iter()
                .min_by_key(|(_, s)| s.seen)
                .map(|(src, _)| *src)
        {
            self.sources.remove(&oldest);
        }
    }

    /// Streams currently remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Sources currently remembered.
    #[must_use]
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// The class of a stream (`carp_common::freshness::FRESH`…), if known.
    #[must_use]
    pub fn class(&self, stream: u32) -> Option<u8> {
        self.streams.get(&stream).map(|(state, _)| state.class)
    }
}

#[cfg(test)]
mod tests;
