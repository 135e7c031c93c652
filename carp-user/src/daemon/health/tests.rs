//! The checks' tasks and the level they add up to, with real processes.
use std::path::{Path, PathBuf};

use super::*;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xcarp-health-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn check(dir: &Path, name: &str, body: &str, interval_ms: u64, timeout_ms: u64) -> HealthCheck {
    let program = dir.join(name);
    xcarp_tests::write_executable(&program, &format!("#!/bin/sh\n{body}\n"));
    HealthCheck {
        name: name.to_owned(),
        program,
        args: Vec::new(),
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
        fall: 2,
        rise: 2,
    }
}

/// Feeds reports to `health` until one changes a level; returns the
/// changes and every outcome seen on the way.
async fn next_change(
    health: &mut Health,
    reports: &mut mpsc::UnboundedReceiver<Report>,
) -> (Vec<(u64, u8)>, Vec<RunOutcome>) {
    let mut outcomes = Vec::new();
    loop {
        let report = tokio::time::timeout(Duration::from_secs(10), reports.recv())
            .await
            .expect("a report within 10 s")
            .expect("the channel is open");
        if let Report::Check { outcome, .. } = &report {
            outcomes.push(outcome.clone());
        }
        let changes = health.on_report(report);
        if !changes.is_empty() {
            return (changes, outcomes);
        }
    }
}

#[tokio::test]
async fn a_failing_check_demotes_after_fall_runs_and_recovers_after_rise() {
    let dir = temp_dir("flag");
    let flag = dir.join("healthy");
    let spec = check(
        &dir,
        "flag",
        &format!("test -e {}", flag.display()),
        100,
        100,
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut health = Health::new(tx);
    assert_eq!(health.add(7, "web", std::slice::from_ref(&spec), &[]), 0);
    let (changes, outcomes) = next_change(&mut health, &mut rx).await;
    assert_eq!(changes, [(7, 1)]);
    assert_eq!(outcomes, [RunOutcome::Exited(1), RunOutcome::Exited(1)]);
    let (checks, _) = health.status(7);
    assert!(checks[0].failing);
    assert_eq!(checks[0].consecutive_failures, 2);
    assert_eq!(checks[0].last_run.as_ref().and_then(|r| r.exit), Some(1));

    std::fs::write(&flag, "").unwrap();
    let (changes, outcomes) = next_change(&mut health, &mut rx).await;
    assert_eq!(changes, [(7, 0)]);
    assert_eq!(outcomes.last(), Some(&RunOutcome::Exited(0)));
    assert!(outcomes.len() >= 2, "{outcomes:?}");
    assert!(!health.status(7).0[0].failing);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_hanging_check_is_killed_at_its_timeout_with_what_it_started() {
    let dir = temp_dir("hang");
    let marker = dir.join("child-survived");
    // The child would leave the marker after 1.5 s if it outlived the
    // run's timeout.
    let spec = check(
        &dir,
        "hang",
        &format!("(sleep 1.5; touch {}) & sleep 100", marker.display()),
        1000,
        300,
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut health = Health::new(tx);
    let started = std::time::Instant::now();
    health.add(1, "web", &[spec], &[]);
    let report = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        matches!(
            report,
            Report::Check {
                outcome: RunOutcome::TimedOut,
                ..
            }
        ),
        "{report:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(900),
        "killed after {elapsed:?}"
    );
    drop(health);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(!marker.exists(), "the check's child outlived the timeout");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn removing_an_instance_kills_its_running_check_and_group() {
    let dir = temp_dir("abort");
    let marker = dir.join("child-survived");
    let spec = check(
        &dir,
        "slow",
        &format!("(sleep 1; touch {}) & sleep 100", marker.display()),
        5000,
        5000,
    );
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut health = Health::new(tx);
    health.add(1, "web", &[spec], &[]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    health.remove(1);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert!(!marker.exists(), "the aborted check's child survived");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_program_that_cannot_start_fails() {
    let spec = HealthCheck {
        name: "gone".into(),
        program: "/nonexistent/xcarp-check".into(),
        args: Vec::new(),
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(100),
        fall: 1,
        rise: 1,
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut health = Health::new(tx);
    health.add(3, "db", &[spec], &[]);
    let (changes, outcomes) = next_change(&mut health, &mut rx).await;
    assert_eq!(changes, [(3, 1)]);
    assert!(
        matches!(outcomes[..], [RunOutcome::NotStarted(_)]),
        "{outcomes:?}"
    );
    let run = health.status(3).0[0].last_run.clone().unwrap();
    assert!(run.error.is_some() && run.exit.is_none(), "{run:?}");
}

#[tokio::test]
async fn tracked_interfaces_down_or_missing_add_to_the_level() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut health = Health::new(tx);
    let tracked = ["lo".to_owned(), "no-such-if0".to_owned()];
    // Read at once: the missing one demotes from the start.
    assert_eq!(health.add(1, "web", &[], &tracked), 1);
    assert_eq!(health.add(2, "db", &[], &tracked[..1]), 0);
    let (_, status) = health.status(1);
    assert_eq!(
        status
            .iter()
            .map(|t| (t.name.as_str(), t.up))
            .collect::<Vec<_>>(),
        [("lo", true), ("no-such-if0", false)]
    );
    // Only the instances tracking the interface change, once.
    let down = |up| Report::Link {
        name: "lo".into(),
        up,
    };
    assert_eq!(health.on_report(down(false)), [(1, 2), (2, 1)]);
    assert_eq!(health.on_report(down(false)), []);
    assert_eq!(health.on_report(down(true)), [(1, 1), (2, 0)]);
    let appeared = Report::Link {
        name: "no-such-if0".into(),
        up: true,
    };
    assert_eq!(health.on_report(appeared), [(1, 0)]);
}

#[tokio::test]
async fn a_reload_keeps_unchanged_checks_and_their_counts() {
    let dir = temp_dir("reload");
    let failing = check(&dir, "failing", "exit 1", 100, 100);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut health = Health::new(tx);
    health.add(1, "web", std::slice::from_ref(&failing), &[]);
    assert_eq!(next_change(&mut health, &mut rx).await.0, [(1, 1)]);
    // Same check, another one added: still failing, no change of level.
    let other = check(&dir, "other", "exit 0", 100, 100);
    assert_eq!(
        health.update(1, "web", &[failing.clone(), other.clone()], &[]),
        None
    );
    assert!(health.status(1).0[0].failing);
    // The failing check changed (another interval): it starts afresh,
    // passing, and the level drops.
    let mut changed = failing.clone();
    changed.interval = Duration::from_millis(200);
    changed.timeout = Duration::from_millis(200);
    assert_eq!(health.update(1, "web", &[changed, other], &[]), Some(0));
    assert!(!health.status(1).0[0].failing);
    let _ = std::fs::remove_dir_all(&dir);
}
