//! Up/down scripts: `<script> <interface> <vip> [xparam]`, executed without a
//! shell, exactly as ucarp calls them; an instance with several virtual
//! addresses runs its script once per address, in the configured order.
//!
//! Unlike ucarp, a script never blocks the protocol: scripts run on their own
//! task, one at a time and in the order of the transitions that asked for
//! them, while adverts keep going out. A script still running after the
//! timeout is killed together with everything it started (its process group).
use std::{path::PathBuf, process::Stdio, time::Duration};

use nix::{sys::signal::Signal, unistd::Pid};
use tokio::{sync::mpsc, task::JoinHandle};

use crate::engine::Script;

/// What the scripts are and how to call them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptSpec {
    pub up: Option<PathBuf>,
    pub down: Option<PathBuf>,
    pub interface: String,
    /// Each virtual address as typed (ucarp passes the argument unchanged).
    pub vip_args: Vec<String>,
    pub xparam: Option<String>,
    pub timeout: Duration,
}

/// How one script run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// No script configured for this transition.
    Skipped,
    Exited(Option<i32>),
    SpawnFailed(String),
    TimedOut,
}

/// What a runner ran, as it reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ran {
    /// The script of a transition, once per address.
    Transition(Script),
    /// The script for these addresses only (as typed): a reload added them
    /// to a master (up) or removed them (down).
    Addresses(Script, Vec<String>),
}

/// Where a runner reports each outcome: the instance's tag and a channel
/// shared by all instances.
pub type ScriptReports = mpsc::UnboundedSender<(u64, Ran, ScriptOutcome)>;

/// What a runner is asked, in order.
enum Request {
    Run(Ran),
    /// The scripts, their arguments or timeout changed (a reload): runs
    /// queued after this take the new settings.
    Respec(Box<ScriptSpec>),
}

/// Runs scripts in order on a task of its own.
pub struct ScriptRunner {
    queue: mpsc::UnboundedSender<Request>,
    worker: JoinHandle<()>,
}

impl ScriptRunner {
    /// Starts the worker. `report` (optional) receives each outcome, for tests
    /// and counters.
    pub fn start(spec: ScriptSpec, report: Option<(u64, ScriptReports)>) -> Self {
        let (queue, mut requests) = mpsc::unbounded_channel::<Request>();
        let worker = tokio::spawn(async move {
            let mut spec = spec;
            while let Some(request) = requests.recv().await {
                let ran = match request {
                    Request::Run(ran) => ran,
                    Request::Respec(new) => {
                        spec = *new;
                        continue;
                    }
                };
                let outcome = match &ran {
                    Ran::Transition(script) => run_all(&spec, *script, &spec.vip_args).await,
                    Ran::Addresses(script, vip_args) => run_all(&spec, *script, vip_args).await,
                };
                if let Some((tag, report)) = &report {
                    let _ = report.send((*tag, ran, outcome));
                }
            }
        });
        Self { queue, worker }
    }

    /// Queues a transition's script behind those already queued.
    pub fn run(&self, script: Script) {
        // The worker only stops after `finish`, which consumes `self`.
        let _ = self.queue.send(Request::Run(Ran::Transition(script)));
    }

    /// Queues the script for some addresses only (given as typed).
    pub fn run_for(&self, script: Script, vip_args: Vec<String>) {
        let _ = self
            .queue
            .send(Request::Run(Ran::Addresses(script, vip_args)));
    }

    /// New settings for the runs queued from now on; those already queued
    /// run with the settings they were asked with.
    pub fn respec(&self, spec: ScriptSpec) {
        let _ = self.queue.send(Request::Respec(Box::new(spec)));
    }

    /// Waits until every queued script has finished (each bounded by the
    /// timeout), then stops the worker.
    pub async fn finish(self) {
        drop(self.queue);
        let _ = self.worker.await;
    }
}

/// The script once per address of `vip_args`; the outcome is the first
/// failure, or the last run's.
async fn run_all(spec: &ScriptSpec, script: Script, vip_args: &[String]) -> ScriptOutcome {
    let path = match script {
        Script::Up => &spec.up,
        Script::Down => &spec.down,
    };
    let Some(path) = path else {
        return ScriptOutcome::Skipped;
    };
    let mut outcome = ScriptOutcome::Skipped;
    for vip_arg in vip_args {
        outcome = run_one(spec, path, vip_arg).await;
        if outcome != ScriptOutcome::Exited(Some(0)) {
            break;
        }
    }
    outcome
}

async fn run_one(spec: &ScriptSpec, path: &std::path::Path, vip_arg: &str) -> ScriptOutcome {
    let mut shown = format!("{} {} {}", path.display(), spec.interface, vip_arg);
    if let Some(x) = &spec.xparam {
        shown.push(' ');
        shown.push_str(x);
    }
    tracing::warn!("Spawning [{shown}]");
    let mut cmd = tokio::process::Command::new(path);
    cmd.arg(&spec.interface)
        .arg(vip_arg)
        .args(spec.xparam.as_slice())
        .stdin(Stdio::null());
    match run_in_own_group(cmd, spec.timeout).await {
        ProcessEnd::Exited(code) => {
            if code != 0 {
                tracing::warn!("Script [{shown}] exited with exit status: {code}");
            }
            ScriptOutcome::Exited(Some(code))
        }
        ProcessEnd::Signaled(signal) => {
            tracing::warn!("Script [{shown}] was killed by signal {signal}");
            ScriptOutcome::Exited(None)
        }
        ProcessEnd::SpawnFailed(e) => {
            tracing::error!("Unable to exec {shown}: {e}");
            ScriptOutcome::SpawnFailed(e)
        }
        ProcessEnd::WaitFailed(e) => {
            tracing::error!("Waiting for script [{shown}] failed: {e}");
            ScriptOutcome::Exited(None)
        }
        ProcessEnd::TimedOut => {
            tracing::error!(
                "Script [{shown}] still running after {}s: killed",
                spec.timeout.as_secs()
            );
            ScriptOutcome::TimedOut
        }
    }
}

/// How a process started by [`run_in_own_group`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessEnd {
    Exited(i32),
    /// Killed by this signal (not by us: a timeout is [`ProcessEnd::TimedOut`]).
    Signaled(i32),
    SpawnFailed(String),
    WaitFailed(String),
    /// Still running at the timeout: killed with its process group.
    TimedOut,
}

/// Runs `cmd` as the leader of a process group of its own and waits for it
/// at most `timeout`. At the timeout, or when the returned future is
/// dropped before the process ended (its task aborted), the whole group is
/// killed, so that nothing it started outlives it. Used by the up/down
/// scripts and the health checks.
pub async fn run_in_own_group(mut cmd: tokio::process::Command, timeout: Duration) -> ProcessEnd {
    use std::os::unix::process::ExitStatusExt as _;
    cmd.process_group(0).kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return ProcessEnd::SpawnFailed(e.to_string()),
    };
    let mut group = GroupKiller(
        child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .map(Pid::from_raw),
    );
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => {
            // Reaped: the group id may not be ours to signal any more.
            group.0 = None;
            match (status.code(), status.signal()) {
                (Some(code), _) => ProcessEnd::Exited(code),
                (None, Some(signal)) => ProcessEnd::Signaled(signal),
                (None, None) => ProcessEnd::WaitFailed(format!("{status}")),
            }
        }
        Ok(Err(e)) => ProcessEnd::WaitFailed(e.to_string()),
        Err(_) => {
            drop(group);
            let _ = child.kill().await;
            ProcessEnd::TimedOut
        }
    }
}

/// Kills a process group when dropped, unless its leader was reaped.
struct GroupKiller(Option<Pid>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = nix::sys::signal::killpg(pgid, Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{path::Path, time::Instant};

    use super::*;

    /// Tests run in parallel threads that spawn scripts: see
    /// `write_executable` for why the file is not written from here.
    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        xcarp_tests::write_executable(&path, &format!("#!/bin/sh\n{body}\n"));
        path
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xcarp-scripts-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn spec(up: Option<PathBuf>, down: Option<PathBuf>, timeout: Duration) -> ScriptSpec {
        ScriptSpec {
            up,
            down,
            interface: "eth9".into(),
            vip_args: vec!["192.0.2.7".into()],
            xparam: None,
            timeout,
        }
    }

    #[tokio::test]
    async fn scripts_get_interface_vip_and_xparam_and_run_in_order() {
        let dir = temp_dir("order");
        let log = dir.join("log");
        // The up script is slow: the down script queued after it must still
        // run after it, never concurrently.
        let up = script(
            &dir,
            "up",
            &format!("sleep 0.3; echo \"up $*\" >> {}", log.display()),
        );
        let down = script(
            &dir,
            "down",
            &format!("echo \"down $*\" >> {}", log.display()),
        );
        let mut s = spec(Some(up), Some(down), Duration::from_secs(5));
        s.xparam = Some("extra".into());
        let runner = ScriptRunner::start(s, None);
        runner.run(Script::Up);
        runner.run(Script::Down);
        runner.run(Script::Up);
        runner.finish().await;
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            text,
            "up eth9 192.0.2.7 extra\ndown eth9 192.0.2.7 extra\nup eth9 192.0.2.7 extra\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn several_addresses_run_the_script_once_each_in_order() {
        let dir = temp_dir("multi");
        let log = dir.join("log");
        let up = script(&dir, "up", &format!("echo \"$2\" >> {}", log.display()));
        let mut s = spec(Some(up), None, Duration::from_secs(5));
        s.vip_args = vec!["192.0.2.7".into(), "192.0.2.8".into(), "192.0.2.9".into()];
        let (tx, mut rx) = mpsc::unbounded_channel();
        let runner = ScriptRunner::start(s, Some((7, tx)));
        runner.run(Script::Up);
        runner.finish().await;
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "192.0.2.7\n192.0.2.8\n192.0.2.9\n"
        );
        // One report for the transition, tagged with the instance.
        assert_eq!(
            rx.recv().await,
            Some((
                7,
                Ran::Transition(Script::Up),
                ScriptOutcome::Exited(Some(0))
            ))
        );
        assert_eq!(rx.recv().await, None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A reload that changes a master's addresses and scripts: the runs
    /// queued before it keep the old settings, the later ones take the
    /// new; a run for some addresses runs for those only.
    #[tokio::test]
    async fn respec_applies_to_later_runs_and_runs_for_some_addresses() {
        let dir = temp_dir("respec");
        let log = dir.join("log");
        let down = script(
            &dir,
            "down",
            &format!("echo \"down $*\" >> {}", log.display()),
        );
        let up = script(&dir, "up", &format!("echo \"up $*\" >> {}", log.display()));
        let new_up = script(
            &dir,
            "up2",
            &format!("echo \"up2 $*\" >> {}", log.display()),
        );
        let mut old = spec(Some(up), Some(down.clone()), Duration::from_secs(5));
        old.vip_args = vec!["192.0.2.7".into(), "192.0.2.8".into()];
        let (tx, mut rx) = mpsc::unbounded_channel();
        let runner = ScriptRunner::start(old, Some((3, tx)));
        runner.run(Script::Up);
        runner.run_for(Script::Down, vec!["192.0.2.8".into()]);
        let mut new = spec(Some(new_up), Some(down), Duration::from_secs(5));
        new.vip_args = vec!["192.0.2.7".into(), "192.0.2.9".into()];
        new.xparam = Some("x".into());
        runner.respec(new);
        runner.run_for(Script::Up, vec!["192.0.2.9".into()]);
        runner.run(Script::Down);
        runner.finish().await;
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "up eth9 192.0.2.7\nup eth9 192.0.2.8\ndown eth9 192.0.2.8\n\
             up2 eth9 192.0.2.9 x\ndown eth9 192.0.2.7 x\ndown eth9 192.0.2.9 x\n"
        );
        let mut reports = Vec::new();
        while let Some((tag, ran, _)) = rx.recv().await {
            reports.push((tag, ran));
        }
        assert_eq!(
            reports,
            [
                (3, Ran::Transition(Script::Up)),
                (3, Ran::Addresses(Script::Down, vec!["192.0.2.8".into()])),
                (3, Ran::Addresses(Script::Up, vec!["192.0.2.9".into()])),
                (3, Ran::Transition(Script::Down)),
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_hanging_script_and_its_children_are_killed_at_the_timeout() {
        let dir = temp_dir("hang");
        let marker = dir.join("child-survived");
        // The child would write the marker after 2 s if it were not killed
        // along with the script.
        let up = script(
            &dir,
            "up",
            &format!("(sleep 2; touch {}) & sleep 100", marker.display()),
        );
        let (tx, mut rx) = mpsc::unbounded_channel();
        let runner = ScriptRunner::start(
            spec(Some(up), None, Duration::from_millis(300)),
            Some((0, tx)),
        );
        let started = Instant::now();
        runner.run(Script::Up);
        runner.finish().await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "timeout not enforced"
        );
        assert_eq!(
            rx.recv().await,
            Some((0, Ran::Transition(Script::Up), ScriptOutcome::TimedOut))
        );
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!marker.exists(), "the script's child outlived the kill");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn scripts_written_while_other_threads_spawn_them_run() {
        // Each thread writes fresh scripts and runs them at once, as the tests
        // of this module do side by side: a script must never be busy
        // (ETXTBSY) because another thread's child still holds it open.
        let dir = temp_dir("stress");
        std::thread::scope(|s| {
            for t in 0..4 {
                let dir = &dir;
                s.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    for i in 0..100 {
                        let up = script(dir, &format!("up-{t}-{i}"), "exit 0");
                        let (tx, mut rx) = mpsc::unbounded_channel();
                        let outcome = runtime.block_on(async {
                            let runner = ScriptRunner::start(
                                spec(Some(up), None, Duration::from_secs(5)),
                                Some((0, tx)),
                            );
                            runner.run(Script::Up);
                            runner.finish().await;
                            rx.recv().await
                        });
                        assert_eq!(
                            outcome,
                            Some((
                                0,
                                Ran::Transition(Script::Up),
                                ScriptOutcome::Exited(Some(0))
                            )),
                            "thread {t}, run {i}"
                        );
                    }
                });
            }
        });
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn missing_scripts_are_skipped_and_failures_reported() {
        let dir = temp_dir("fail");
        let down = script(&dir, "down", "exit 3");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let vanished = dir.join("vanished");
        let runner = ScriptRunner::start(
            spec(Some(vanished), Some(down), Duration::from_secs(5)),
            Some((0, tx)),
        );
        runner.run(Script::Up);
        runner.run(Script::Down);
        runner.finish().await;
        let (_, s, outcome) = rx.recv().await.unwrap();
        assert_eq!(s, Ran::Transition(Script::Up));
        assert!(
            matches!(outcome, ScriptOutcome::SpawnFailed(_)),
            "{outcome:?}"
        );
        assert_eq!(
            rx.recv().await,
            Some((
                0,
                Ran::Transition(Script::Down),
                ScriptOutcome::Exited(Some(3))
            ))
        );

        let (tx, mut rx) = mpsc::unbounded_channel();
        let runner = ScriptRunner::start(spec(None, None, Duration::from_secs(5)), Some((0, tx)));
        runner.run(Script::Down);
        runner.finish().await;
        assert_eq!(
            rx.recv().await,
            Some((0, Ran::Transition(Script::Down), ScriptOutcome::Skipped))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
