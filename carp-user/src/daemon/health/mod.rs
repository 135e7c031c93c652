//! Health checks and tracked interfaces (docs/config.md, "Health checks"):
//! what demotes an instance so that its virtual addresses follow the
//! service.
//!
//! ```text
//!  check task per check (own process group, timeout) ─┐
//!  tracked-interface watcher (netlink + 1 s re-read) ──┴─► Report ─► event loop
//!      Health::on_report ─► demotion level per instance ─► Event::SetDemotion
//! ```
//!
//! A check never runs on the event loop: each has a task of its own that
//! starts it every `interval`, waits at most `timeout`, and reports how it
//! ended. The loop counts the outcomes ([`state`]) and feeds an instance's
//! engine the new level whenever it changes.
pub mod state;
mod watch;

use std::{
    collections::{BTreeMap, HashMap},
    process::Stdio,
    time::{Duration, SystemTime},
};

use tokio::{sync::mpsc, task::AbortHandle, time::Instant};

use super::{
    RateLimited,
    scripts::{ProcessEnd, run_in_own_group},
};
use crate::config::HealthCheck;
use state::{Change, CheckState, RunOutcome, demotion_level};

/// What the health tasks tell the event loop.
#[derive(Debug)]
pub enum Report {
    /// A run of check `check` of instance `instance` ended.
    Check {
        instance: u64,
        check: u64,
        outcome: RunOutcome,
        at: SystemTime,
    },
    /// A tracked interface changed: up with a carrier, or not (down or
    /// missing).
    Link { name: String, up: bool },
}

/// One check of an instance, running.
struct RunningCheck {
    id: u64,
    spec: HealthCheck,
    state: CheckState,
    task: AbortHandle,
}

/// The health of one instance.
struct InstanceHealth {
    name: String,
    checks: Vec<RunningCheck>,
    tracked: Vec<String>,
    /// The level last handed to the instance.
    level: u8,
}

/// Every instance's checks and tracked interfaces.
pub struct Health {
    reports: mpsc::UnboundedSender<Report>,
    instances: BTreeMap<u64, InstanceHealth>,
    /// Tracked interfaces by name: up with a carrier or not.
    links: HashMap<String, bool>,
    watcher: Option<watch::Watcher>,
    next_check: u64,
}

impl Health {
    /// No instance yet; reports go to `reports`.
    #[must_use]
    pub fn new(reports: mpsc::UnboundedSender<Report>) -> Self {
        Self {
            reports,
            instances: BTreeMap::new(),
            links: HashMap::new(),
            watcher: None,
            next_check: 0,
        }
    }

    /// Starts the checks and the interface tracking of instance `id`.
    /// Returns its demotion level now: the tracked interfaces are read at
    /// once, the checks start passing.
    pub fn add(&mut self, id: u64, name: &str, checks: &[HealthCheck], tracked: &[String]) -> u8 {
        let checks = checks
            .iter()
            .map(|spec| self.start_check(id, name, spec))
            .collect();
        self.instances.insert(
            id,
            InstanceHealth {
                name: name.to_owned(),
                checks,
                tracked: tracked.to_vec(),
                level: 0,
            },
        );
        self.track_links();
        self.level_change(id).unwrap_or(0)
    }

    /// A reload kept instance `id`: checks whose settings did not change
    /// keep running with their counts, the others start afresh; the
    /// tracked interfaces are replaced. Returns the new level if it
    /// changed.
    pub fn update(
        &mut self,
        id: u64,
        name: &str,
        checks: &[HealthCheck],
        tracked: &[String],
    ) -> Option<u8> {
        let Some(mut old) = self.instances.remove(&id) else {
            let level = self.add(id, name, checks, tracked);
            return (level > 0).then_some(level);
        };
        let mut kept = Vec::with_capacity(checks.len());
        for spec in checks {
            match old.checks.iter().position(|c| c.spec == *spec) {
                Some(i) => kept.push(old.checks.remove(i)),
                None => kept.push(self.start_check(id, name, spec)),
            }
        }
        for gone in &old.checks {
            gone.task.abort();
        }
        self.instances.insert(
            id,
            InstanceHealth {
                name: name.to_owned(),
                checks: kept,
                tracked: tracked.to_vec(),
                level: old.level,
            },
        );
        self.track_links();
        self.level_change(id)
    }

    /// Stops the checks of instance `id` (a hung one is killed with its
    /// process group).
    pub fn remove(&mut self, id: u64) {
        if let Some(old) = self.instances.remove(&id) {
            for check in &old.checks {
                check.task.abort();
            }
            self.track_links();
        }
    }

    /// Stops every check (a run in progress is killed with its process
    /// group) and the interface watcher: the daemon is stopping.
    pub fn stop_all(&mut self) {
        let ids: Vec<u64> = self.instances.keys().copied().collect();
        for id in ids {
            self.remove(id);
        }
        self.watcher = None;
    }

    /// Counts a report; returns the instances whose level changed, with the
    /// new level.
    pub fn on_report(&mut self, report: Report) -> Vec<(u64, u8)> {
        match report {
            Report::Check {
                instance,
                check,
                outcome,
                at,
            } => {
                let Some(health) = self.instances.get_mut(&instance) else {
                    return Vec::new(); // removed since the run started
                };
                let Some(c) = health.checks.iter_mut().find(|c| c.id == check) else {
                    return Vec::new();
                };
                tracing::debug!("{}: check {} ended: {outcome}", health.name, c.spec.name);
                let shown = outcome.to_string();
                let change = c.state.record(outcome, at);
                let (check_name, fall, rise) = (c.spec.name.clone(), c.spec.fall, c.spec.rise);
                let Some(change) = change else {
                    return Vec::new();
                };
                let level = self.level_change(instance);
                let now = self.level_of(instance);
                let name = &self.instances[&instance].name;
                match change {
                    Change::Failing => tracing::warn!(
                        "{name}: check {check_name} failing ({fall}/{fall}, last: {shown}): \
                         instance demoted (level {now})"
                    ),
                    Change::Recovered => tracing::info!(
                        "{name}: check {check_name} recovered ({rise}/{rise} successes): \
                         demotion level {now}"
                    ),
                }
                level.map(|l| vec![(instance, l)]).unwrap_or_default()
            }
            Report::Link { name, up } => {
                if self.links.insert(name.clone(), up) == Some(up) {
                    return Vec::new();
                }
                let ids: Vec<u64> = self
                    .instances
                    .iter()
                    .filter(|(_, h)| h.tracked.contains(&name))
                    .map(|(id, _)| *id)
                    .collect();
                let mut changed = Vec::new();
                for id in ids {
                    let level = self.level_change(id);
                    let now = self.level_of(id);
                    let instance = &self.instances[&id].name;
                    if up {
                        tracing::info!(
                            "{instance}: tracked interface {name} is up again: demotion level {now}"
                        );
                    } else {
                        tracing::warn!(
                            "{instance}: tracked interface {name} is down or missing: instance \
                             demoted (level {now})"
                        );
                    }
                    changed.extend(level.map(|l| (id, l)));
                }
                changed
            }
        }
    }

    /// What `xcarp status` shows of instance `id`.
    #[must_use]
    pub fn status(
        &self,
        id: u64,
    ) -> (
        Vec<crate::status::CheckStatus>,
        Vec<crate::status::TrackedInterfaceStatus>,
    ) {
        use crate::status::{CheckRun, CheckStatus, TrackedInterfaceStatus, unix_ms};
        let Some(health) = self.instances.get(&id) else {
            return (Vec::new(), Vec::new());
        };
        let checks = health
            .checks
            .iter()
            .map(|c| CheckStatus {
                name: c.spec.name.clone(),
                failing: c.state.failing(),
                consecutive_failures: c.state.consecutive_failures(),
                consecutive_successes: c.state.consecutive_successes(),
                fall: c.spec.fall,
                rise: c.spec.rise,
                interval_ms: millis(c.spec.interval),
                timeout_ms: millis(c.spec.timeout),
                runs: c.state.runs,
                failed_runs: c.state.failed_runs,
                timeouts: c.state.timeouts,
                last_run: c.state.last.as_ref().map(|(outcome, at)| CheckRun {
                    exit: match outcome {
                        RunOutcome::Exited(code) => Some(*code),
                        _ => None,
                    },
                    signal: match outcome {
                        RunOutcome::Signaled(signal) => Some(*signal),
                        _ => None,
                    },
                    timed_out: *outcome == RunOutcome::TimedOut,
                    error: match outcome {
                        RunOutcome::NotStarted(e) => Some(e.clone()),
                        _ => None,
                    },
                    at_unix_ms: unix_ms(*at),
                }),
            })
            .collect();
        let tracked = health
            .tracked
            .iter()
            .map(|name| TrackedInterfaceStatus {
                name: name.clone(),
                up: self.links.get(name).copied().unwrap_or(false),
            })
            .collect();
        (checks, tracked)
    }

    /// The level instance `id`'s checks and tracked interfaces add up to.
    fn level_of(&self, id: u64) -> u8 {
        let Some(health) = self.instances.get(&id) else {
            return 0;
        };
        let failing = health.checks.iter().filter(|c| c.state.failing()).count();
        let down = health
            .tracked
            .iter()
            .filter(|name| !self.links.get(*name).copied().unwrap_or(false))
            .count();
        demotion_level(failing, down)
    }

    /// The level of instance `id` if it differs from the one last handed
    /// out (which it then becomes).
    fn level_change(&mut self, id: u64) -> Option<u8> {
        let level = self.level_of(id);
        let health = self.instances.get_mut(&id)?;
        (health.level != level).then(|| {
            health.level = level;
            level
        })
    }

    fn start_check(&mut self, instance: u64, name: &str, spec: &HealthCheck) -> RunningCheck {
        let id = self.next_check;
        self.next_check += 1;
        let task = tokio::spawn(run_check(
            (instance, name.to_owned()),
            id,
            spec.clone(),
            self.reports.clone(),
        ));
        RunningCheck {
            id,
            spec: spec.clone(),
            state: CheckState::new(spec.fall, spec.rise),
            task: task.abort_handle(),
        }
    }

    /// Tells the watcher which interfaces are tracked now (starting it the
    /// first time one is), and reads the new ones at once so that an
    /// instance starts with its true level.
    fn track_links(&mut self) {
        let mut names: Vec<String> = self
            .instances
            .values()
            .flat_map(|h| h.tracked.iter().cloned())
            .collect();
        names.sort();
        names.dedup();
        self.links.retain(|name, _| names.contains(name));
        for name in &names {
            if !self.links.contains_key(name) {
                self.links
                    .insert(name.clone(), super::net::running_by_name(name));
            }
        }
        if names.is_empty() && self.watcher.is_none() {
            return;
        }
        let known: Vec<(String, bool)> = names.iter().map(|n| (n.clone(), self.links[n])).collect();
        match &self.watcher {
            Some(watcher) => watcher.track(known),
            None => self.watcher = Some(watch::Watcher::start(known, self.reports.clone())),
        }
    }
}

impl Drop for Health {
    fn drop(&mut self) {
        for health in self.instances.values() {
            for check in &health.checks {
                check.task.abort();
            }
        }
    }
}

/// Runs one check every `interval` (the schedule does not drift with the
/// runs' durations; a run ends within its timeout, which is at most the
/// interval) until its task is aborted.
async fn run_check(
    (instance, instance_name): (u64, String),
    id: u64,
    spec: HealthCheck,
    reports: mpsc::UnboundedSender<Report>,
) {
    let mut ticks = tokio::time::interval(spec.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A program that cannot start fails every run: say so, not every time.
    let mut not_started_log = RateLimited::new(Duration::from_secs(60));
    loop {
        ticks.tick().await;
        let mut cmd = tokio::process::Command::new(&spec.program);
        // Only the exit status counts; the output would flood the log.
        cmd.args(&spec.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let outcome = match run_in_own_group(cmd, spec.timeout).await {
            ProcessEnd::Exited(code) => RunOutcome::Exited(code),
            ProcessEnd::Signaled(signal) => RunOutcome::Signaled(signal),
            ProcessEnd::TimedOut => RunOutcome::TimedOut,
            ProcessEnd::SpawnFailed(e) => {
                if let Some(suppressed) = not_started_log.check(Instant::now()) {
                    tracing::error!(
                        "{instance_name}: check {}: cannot start {}: {e} (the check fails until \
                         it can){}",
                        spec.name,
                        spec.program.display(),
                        if suppressed == 0 {
                            String::new()
                        } else {
                            format!(" ({suppressed} more failed starts in the last minute)")
                        }
                    );
                }
                RunOutcome::NotStarted(e)
            }
            ProcessEnd::WaitFailed(e) => RunOutcome::NotStarted(format!("waiting for it: {e}")),
        };
        let report = Report::Check {
            instance,
            check: id,
            outcome,
            at: SystemTime::now(),
        };
        if reports.send(report).is_err() {
            return;
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
