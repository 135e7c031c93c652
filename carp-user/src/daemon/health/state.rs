//! What the health of an instance is made of, without any I/O: each check's
//! run outcomes counted against its `fall` and `rise`, and the demotion
//! level that failing checks and tracked interfaces that are down add up to
//! (docs/config.md, "Health checks").
use std::time::SystemTime;

/// How one run of a check ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    Exited(i32),
    /// Killed by a signal it did not get from us.
    Signaled(i32),
    /// Still running at its timeout: killed with its process group.
    TimedOut,
    /// The program could not be started (missing, not executable...).
    NotStarted(String),
}

impl RunOutcome {
    /// Only exit status 0 is a success.
    #[must_use]
    pub fn ok(&self) -> bool {
        *self == Self::Exited(0)
    }
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited(code) => write!(f, "exit status {code}"),
            Self::Signaled(signal) => write!(f, "killed by signal {signal}"),
            Self::TimedOut => f.write_str("timed out"),
            Self::NotStarted(e) => write!(f, "could not start: {e}"),
        }
    }
}

/// A check's verdict changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// `fall` consecutive failures: the check now demotes its instance.
    Failing,
    /// `rise` consecutive successes: it no longer does.
    Recovered,
}

/// One check's counts. A check starts passing, as keepalived's scripts do
/// by default: it takes `fall` failed runs to demote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckState {
    fall: u32,
    rise: u32,
    failing: bool,
    consecutive_successes: u32,
    consecutive_failures: u32,
    /// The last run's outcome and when it ended.
    pub last: Option<(RunOutcome, SystemTime)>,
    pub runs: u64,
    pub failed_runs: u64,
    pub timeouts: u64,
}

impl CheckState {
    /// A passing check that fails after `fall` and recovers after `rise`
    /// consecutive runs (each at least 1).
    #[must_use]
    pub fn new(fall: u32, rise: u32) -> Self {
        Self {
            fall: fall.max(1),
            rise: rise.max(1),
            failing: false,
            consecutive_successes: 0,
            consecutive_failures: 0,
            last: None,
            runs: 0,
            failed_runs: 0,
            timeouts: 0,
        }
    }

    /// Counts one run; returns the change of verdict it caused, if any.
    pub fn record(&mut self, outcome: RunOutcome, at: SystemTime) -> Option<Change> {
        self.runs += 1;
        let ok = outcome.ok();
        if outcome == RunOutcome::TimedOut {
            self.timeouts += 1;
        }
        self.last = Some((outcome, at));
        if ok {
            self.consecutive_failures = 0;
            self.consecutive_successes = self.consecutive_successes.saturating_add(1);
            if self.failing && self.consecutive_successes >= self.rise {
                self.failing = false;
                return Some(Change::Recovered);
            }
        } else {
            self.failed_runs += 1;
            self.consecutive_successes = 0;
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            if !self.failing && self.consecutive_failures >= self.fall {
                self.failing = true;
                return Some(Change::Failing);
            }
        }
        None
    }

    #[must_use]
    pub fn failing(&self) -> bool {
        self.failing
    }

    #[must_use]
    pub fn consecutive_successes(&self) -> u32 {
        self.consecutive_successes
    }

    #[must_use]
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    #[must_use]
    pub fn fall(&self) -> u32 {
        self.fall
    }

    #[must_use]
    pub fn rise(&self) -> u32 {
        self.rise
    }
}

/// The demotion level of an instance: one per failing check and per tracked
/// interface that is down or missing, at most 255 (the demote byte).
#[must_use]
pub fn demotion_level(failing_checks: usize, interfaces_down: usize) -> u8 {
    u8::try_from(failing_checks.saturating_add(interfaces_down)).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: SystemTime = SystemTime::UNIX_EPOCH;

    fn fail() -> RunOutcome {
        RunOutcome::Exited(1)
    }

    fn pass() -> RunOutcome {
        RunOutcome::Exited(0)
    }

    #[test]
    fn a_check_fails_after_fall_consecutive_failures_only() {
        let mut c = CheckState::new(3, 2);
        assert!(!c.failing());
        assert_eq!(c.record(fail(), T), None);
        assert_eq!(c.record(fail(), T), None);
        // A success in between starts the count again.
        assert_eq!(c.record(pass(), T), None);
        assert_eq!(c.record(fail(), T), None);
        assert_eq!(c.record(fail(), T), None);
        assert_eq!(c.consecutive_failures(), 2);
        assert_eq!(c.record(fail(), T), Some(Change::Failing));
        assert!(c.failing());
        // Further failures change nothing more.
        assert_eq!(c.record(fail(), T), None);
        assert_eq!(c.consecutive_failures(), 4);
        assert_eq!((c.runs, c.failed_runs), (7, 6));
    }

    #[test]
    fn a_failing_check_recovers_after_rise_consecutive_successes() {
        let mut c = CheckState::new(1, 3);
        assert_eq!(c.record(fail(), T), Some(Change::Failing));
        assert_eq!(c.record(pass(), T), None);
        assert_eq!(c.record(pass(), T), None);
        assert_eq!(c.record(fail(), T), None);
        assert!(c.failing());
        assert_eq!(c.record(pass(), T), None);
        assert_eq!(c.record(pass(), T), None);
        assert_eq!(c.consecutive_successes(), 2);
        assert_eq!(c.record(pass(), T), Some(Change::Recovered));
        assert!(!c.failing());
        assert_eq!(c.record(pass(), T), None);
    }

    #[test]
    fn every_outcome_but_exit_zero_is_a_failure() {
        for outcome in [
            RunOutcome::Exited(1),
            RunOutcome::Exited(-1),
            RunOutcome::Signaled(9),
            RunOutcome::TimedOut,
            RunOutcome::NotStarted("No such file or directory".into()),
        ] {
            let mut c = CheckState::new(1, 1);
            assert_eq!(
                c.record(outcome.clone(), T),
                Some(Change::Failing),
                "{outcome}"
            );
            assert_eq!(c.last.as_ref().map(|(o, _)| o), Some(&outcome));
        }
        let mut c = CheckState::new(1, 1);
        assert_eq!(c.record(RunOutcome::TimedOut, T), Some(Change::Failing));
        assert_eq!(c.timeouts, 1);
    }

    #[test]
    fn fall_and_rise_of_one_follow_every_run() {
        let mut c = CheckState::new(1, 1);
        assert_eq!(c.record(fail(), T), Some(Change::Failing));
        assert_eq!(c.record(pass(), T), Some(Change::Recovered));
        assert_eq!(c.record(fail(), T), Some(Change::Failing));
        // Zero is taken as one: a check always needs a run to change.
        let mut z = CheckState::new(0, 0);
        assert_eq!((z.fall(), z.rise()), (1, 1));
        assert_eq!(z.record(pass(), T), None);
    }

    #[test]
    fn the_level_counts_failing_checks_and_interfaces_down_saturating() {
        assert_eq!(demotion_level(0, 0), 0);
        assert_eq!(demotion_level(2, 0), 2);
        assert_eq!(demotion_level(1, 3), 4);
        assert_eq!(demotion_level(200, 55), 255);
        assert_eq!(demotion_level(200, 56), 255);
        assert_eq!(demotion_level(usize::MAX, usize::MAX), 255);
    }
}
