//! Lines read from a child's pipes by background threads, each with the
//! instant it arrived, so tests can measure when something was logged.
use std::{
    io::{BufRead as _, BufReader, Read},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use crate::wait_until;

/// A shared, growing list of timestamped lines.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<(Instant, String)>>>);

impl Log {
    /// Reads `pipe` line by line into the log until it closes.
    pub fn follow(&self, pipe: impl Read + Send + 'static) {
        let log = self.clone();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                log.push(line);
            }
        });
    }

    pub fn push(&self, line: String) {
        self.0
            .lock()
            .expect("log lock")
            .push((Instant::now(), line));
    }

    /// Every line with its arrival time.
    pub fn entries(&self) -> Vec<(Instant, String)> {
        self.0.lock().expect("log lock").clone()
    }

    pub fn lines(&self) -> Vec<String> {
        self.entries().into_iter().map(|(_, l)| l).collect()
    }

    pub fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// How many lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.0
            .lock()
            .expect("log lock")
            .iter()
            .filter(|(_, l)| l.contains(needle))
            .count()
    }

    /// Arrival time of the first line containing `needle` at or after `since`.
    pub fn find_since(&self, needle: &str, since: Instant) -> Option<Instant> {
        self.0
            .lock()
            .expect("log lock")
            .iter()
            .find(|(t, l)| *t >= since && l.contains(needle))
            .map(|(t, _)| *t)
    }

    /// Waits for a line containing `needle` arriving at or after `since`.
    pub fn wait_for_since(
        &self,
        needle: &str,
        since: Instant,
        timeout: Duration,
    ) -> Option<Instant> {
        let mut found = None;
        wait_until(timeout, || {
            found = self.find_since(needle, since);
            found.is_some()
        });
        found
    }

    /// Waits for a line containing `needle` arriving at or after `since`;
    /// returns the line.
    pub fn wait_for_line_since(
        &self,
        needle: &str,
        since: Instant,
        timeout: Duration,
    ) -> Option<String> {
        let mut found = None;
        wait_until(timeout, || {
            found = self
                .0
                .lock()
                .expect("log lock")
                .iter()
                .find(|(t, l)| *t >= since && l.contains(needle))
                .map(|(_, l)| l.clone());
            found.is_some()
        });
        found
    }

    /// Waits for any line containing `needle`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.count(needle) > 0)
    }
}
