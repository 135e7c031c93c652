use std::{net::Ipv4Addr, time::Duration};

use carp_common::freshness::{ADVANCING, FRESH, REPEATING, VALUE_MASK, counter};

use super::*;

const X: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const O: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const U: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);

/// A guard and a clock: one advert a second.
struct Clocked {
    guard: ReplayGuard,
    now: Duration,
}

impl Clocked {
    fn new(guard: ReplayGuard) -> Self {
        Self {
            guard,
            now: Duration::ZERO,
        }
    }

    fn admit(&mut self, src: Ipv4Addr, c: u64) -> Admission {
        self.now += Duration::from_secs(1);
        self.guard.admit(src, c, self.now)
    }

    fn fresh(&mut self, src: Ipv4Addr, c: u64) -> bool {
        self.admit(src, c).fresh
    }

    /// The advert's news, reported as the daemon does when it may log.
    fn news(&mut self, src: Ipv4Addr, c: u64) -> Option<PeerCounters> {
        let a = self.admit(src, c);
        if let Some(b) = a.news {
            self.guard.reported(src, b);
        }
        a.news
    }
}

#[test]
fn an_advancing_stream_only_moves_forward() {
    let mut g = Clocked::new(ReplayGuard::default());
    assert!(g.fresh(X, counter(7, 100)));
    assert!(g.fresh(X, counter(7, 1_100)));
    assert_eq!(g.guard.class(7), Some(ADVANCING));
    assert!(!g.fresh(X, counter(7, 1_100)), "the same again");
    assert!(!g.fresh(X, counter(7, 100)), "an older one");
    assert!(g.fresh(X, counter(7, 9_000)), "a jump ahead");
    assert!(!g.fresh(U, counter(7, 1_101)), "older than the jump");
    assert!(g.fresh(U, counter(7, 9_001)), "a ucarp node continuing it");
    // Another stream (another sender, or a restart) has its own state.
    assert!(g.fresh(X, counter(8, 1)));
    assert!(g.fresh(X, counter(8, 2_000)));
}

/// OpenBSD sends its cookie in every advert: all of them pass.
#[test]
fn a_fixed_cookie_passes_every_time() {
    let mut g = Clocked::new(ReplayGuard::default());
    let cookie = 0x5eed_c00c_1e00_0001;
    for _ in 0..100 {
        assert!(g.fresh(O, cookie));
    }
    assert_eq!(g.guard.class(freshness::stream(cookie)), Some(REPEATING));
    // A ucarp node continuing the cookie passes too, and the cookie after it.
    assert!(g.fresh(U, cookie + 1));
    assert!(g.fresh(U, cookie + 2));
    assert!(g.fresh(O, cookie));
}

/// ucarp before it hears a peer: each advert a new random counter. All
/// pass, and so does a recording of them: a stream seen once and repeated
/// is what a fixed cookie looks like (docs/xdp.md, "Freshness", limits).
#[test]
fn random_counters_pass_and_so_does_a_recording_of_them() {
    let mut g = Clocked::new(ReplayGuard::default());
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut sent = Vec::new();
    for _ in 0..20 {
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        sent.push(rng);
        assert!(g.fresh(U, rng));
    }
    let recorded = &sent[15..];
    for c in recorded.iter().cycle().take(50) {
        assert!(g.fresh(U, *c));
    }
    for c in recorded {
        assert!(g.fresh(O, *c));
    }
}

#[test]
fn values_wrap_around() {
    let mut g = Clocked::new(ReplayGuard::default());
    assert!(g.fresh(X, counter(3, VALUE_MASK - 1_999)));
    assert!(g.fresh(X, counter(3, VALUE_MASK - 999)));
    assert!(g.fresh(X, counter(3, 0)));
    assert!(g.fresh(X, counter(3, 1_000)));
    assert!(!g.fresh(X, counter(3, VALUE_MASK - 999)), "before the wrap");
}

#[test]
fn the_least_recently_seen_stream_is_forgotten_first() {
    let mut g = Clocked::new(ReplayGuard::new(2));
    assert!(g.fresh(X, counter(1, 1_000)));
    assert!(g.fresh(X, counter(1, 2_000)));
    assert!(g.fresh(U, counter(2, 1_000)));
    assert!(g.fresh(U, counter(2, 4_000)));
    assert!(g.fresh(X, counter(1, 5_000))); // stream 1 seen again
    assert!(g.fresh(X, counter(3, 10))); // evicts stream 2
    assert_eq!(g.guard.len(), 2);
    assert!(!g.fresh(X, counter(1, 2_000)), "stream 1 is still known");
    assert_eq!(g.guard.class(2), None, "stream 2 was forgotten");
    assert!(g.fresh(U, counter(2, 1_000)));
    assert_eq!(g.guard.class(2), Some(FRESH));
}

#[test]
fn sources_are_bounded_too() {
    let mut g = Clocked::new(ReplayGuard::with_capacities(16, 3));
    for i in 1..=10u8 {
        let _ = g.admit(Ipv4Addr::new(10, 1, 0, i), counter(1, u64::from(i)));
        assert!(g.guard.sources() <= 3);
    }
    assert_eq!(g.guard.sources(), 3);
}

/// Each behaviour is told once per source, and again when it changes.
#[test]
fn each_peer_behaviour_is_news_once() {
    let mut g = Clocked::new(ReplayGuard::default());
    // xcarp: the second advert shows it.
    assert_eq!(g.news(X, counter(5, 1_000)), None);
    assert_eq!(g.news(X, counter(5, 2_000)), Some(PeerCounters::Advancing));
    assert_eq!(g.news(X, counter(5, 3_000)), None);
    // OpenBSD.
    let cookie = counter(6, 77);
    assert_eq!(g.news(O, cookie), None);
    assert_eq!(g.news(O, cookie), Some(PeerCounters::FixedCookie));
    assert_eq!(g.news(O, cookie), None);
    // ucarp alone: random counters...
    assert_eq!(g.news(U, counter(100, 5)), None);
    assert_eq!(
        g.news(U, counter(101, 9)),
        Some(PeerCounters::RandomPerAdvert)
    );
    assert_eq!(g.news(U, counter(102, 3)), None);
    // ...then it hears OpenBSD and continues the cookie...
    assert_eq!(g.news(U, cookie + 1), Some(PeerCounters::Counting));
    assert_eq!(g.news(U, cookie + 2), None);
    // ...then xcarp, and continues its stream: protected.
    assert_eq!(g.news(U, counter(5, 3_001)), Some(PeerCounters::Advancing));
    // Not reported (the log line was rate-limited): told again.
    assert_eq!(g.admit(U, counter(200, 1)).news, None);
    for stream in [201, 202] {
        assert_eq!(
            g.admit(U, counter(stream, 1)).news,
            Some(PeerCounters::RandomPerAdvert)
        );
    }
    // FreeBSD counting up from a random start.
    let f = Ipv4Addr::new(10, 0, 0, 4);
    assert_eq!(g.news(f, counter(300, 10)), None);
    assert_eq!(g.news(f, counter(300, 11)), Some(PeerCounters::Counting));
}

/// The XDP program also learns from the adverts it drops, which never
/// reach the daemon: when it passes what the daemon's tables call a replay,
/// the daemon follows it.
#[test]
fn following_the_kernel_never_drops_and_takes_its_side() {
    let mut kernel = Clocked::new(ReplayGuard::default());
    let mut daemon = ReplayGuard::default();
    let x = counter(11, 0);
    for (c, later) in [(x, 0), (counter(11, 1_000), 1)] {
        kernel.now += Duration::from_secs(later);
        assert!(kernel.fresh(X, c));
        assert!(daemon.follow(X, c, kernel.now).fresh);
    }
    assert_eq!(kernel.guard.class(11), Some(ADVANCING));
    // Seen by the kernel only: the stream moved on (an advert the daemon
    // never got, say the ring was full), then an older one the kernel
    // still takes as late.
    kernel.now += Duration::from_secs(1);
    assert!(kernel.fresh(X, counter(11, 2_000)));
    assert!(kernel.fresh(X, counter(11, 1_990)));
    let followed = daemon.follow(X, counter(11, 1_990), kernel.now);
    assert!(followed.fresh, "the daemon follows the kernel's verdict");
}
