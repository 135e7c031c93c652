//! The daemon's side of the freshness rule (docs/xdp.md, "Freshness"):
//! an authentic advert whose counter is not newer than the last one seen in
//! its stream is a replay. The XDP program applies the same rule
//! (`carp_common::freshness`) before the ring; the daemon applies it again
//! to every advert, which is the only check on the socket-filter path and
//! when the digest is checked in userspace only.
use std::collections::HashMap;

use carp_common::freshness;

/// Streams remembered per instance. A new one comes with each start of an
/// xcarp peer, or with each advert of a ucarp peer that has not heard
/// another node yet (its counters are random then); the least recently
/// seen is forgotten first.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Newest value seen per counter stream, for one instance.
#[derive(Debug)]
pub struct ReplayGuard {
    /// stream → (newest value, when last seen in `tick`s).
    streams: HashMap<u32, (u64, u64)>,
    tick: u64,
    capacity: usize,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl ReplayGuard {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            streams: HashMap::new(),
            tick: 0,
            capacity: capacity.max(1),
        }
    }

    /// Whether an authentic advert's counter is fresh; a fresh one becomes
    /// its stream's newest. Only call it for adverts whose digest verified:
    /// a forged counter must never move the state.
    pub fn admit(&mut self, counter: u64) -> bool {
        self.tick += 1;
        let stream = freshness::stream(counter);
        let value = freshness::value(counter);
        if let Some((last, seen)) = self.streams.get_mut(&stream) {
            if !freshness::is_newer(value, *last) {
                return false;
            }
            *last = value;
            *seen = self.tick;
            return true;
        }
        if self.streams.len() >= self.capacity
            && let Some(oldest) = self
                .streams
                .iter()
                .min_by_key(|(_, (_, seen))| *seen)
                .map(|(stream, _)| *stream)
        {
            self.streams.remove(&oldest);
        }
        self.streams.insert(stream, (value, self.tick));
        true
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use carp_common::freshness::{VALUE_MASK, counter};

    #[test]
    fn a_stream_only_moves_forward() {
        let mut guard = ReplayGuard::default();
        assert!(guard.admit(counter(7, 100)));
        assert!(!guard.admit(counter(7, 100)), "the same advert again");
        assert!(!guard.admit(counter(7, 99)), "an older one");
        assert!(
            guard.admit(counter(7, 5_000)),
            "a jump ahead (adverts missed)"
        );
        assert!(!guard.admit(counter(7, 101)), "older than the jump");
        // Another stream (another sender, or a restart) has its own state.
        assert!(guard.admit(counter(8, 1)));
        assert!(guard.admit(counter(8, 2)));
    }

    #[test]
    fn values_wrap_around() {
        let mut guard = ReplayGuard::default();
        assert!(guard.admit(counter(3, VALUE_MASK - 1)));
        assert!(guard.admit(counter(3, VALUE_MASK)));
        assert!(guard.admit(counter(3, 0)));
        assert!(guard.admit(counter(3, 1)));
        assert!(!guard.admit(counter(3, VALUE_MASK)), "from before the wrap");
    }

    #[test]
    fn the_least_recently_seen_stream_is_forgotten_first() {
        let mut guard = ReplayGuard::new(2);
        assert!(guard.admit(counter(1, 10)));
        assert!(guard.admit(counter(2, 10)));
        assert!(guard.admit(counter(1, 11))); // stream 1 seen again
        assert!(guard.admit(counter(3, 10))); // evicts stream 2
        assert_eq!(guard.len(), 2);
        assert!(!guard.admit(counter(1, 11)), "stream 1 is still known");
        assert!(guard.admit(counter(2, 10)), "stream 2 was forgotten");
    }
}
