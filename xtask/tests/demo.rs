//! `cargo xtask demo` as a newcomer sees it: one line per set-up step, and
//! the election on screen within 40 lines (the set-up's own output goes to
//! its log, docs/testing.md).
use std::process::{Command, Stdio};

use xcarp_tests::{needs_xcarp, xcarp_bin};

/// What a first run may print before the election, at most.
const MAX_LINES_BEFORE_ELECTION: usize = 40;

#[test]
fn the_demo_prints_one_line_per_set_up_step_and_the_election_within_40_lines() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("demo")
        .arg("--xcarp")
        .arg(xcarp_bin())
        .stdin(Stdio::null())
        .output()
        .expect("run cargo xtask demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!(
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the demo failed: {report}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("xtask demo: set-up output goes to target/xtask-logs/demo.log"),
        "{report}"
    );
    let lab = lines
        .iter()
        .position(|l| l.starts_with("==> Creating the lab"))
        .unwrap_or_else(|| panic!("the lab did not start: {report}"));
    for line in &lines[1..lab] {
        assert!(
            line.contains("… "),
            "a set-up line that is not a step's one line: {line:?}\n{report}"
        );
    }
    let elected = lines
        .iter()
        .position(|l| l.contains(" is MASTER after "))
        .unwrap_or_else(|| panic!("no election shown: {report}"));
    assert!(
        elected < MAX_LINES_BEFORE_ELECTION,
        "{elected} lines before the election: {report}"
    );
    assert!(stdout.contains("takeover: "), "no takeover shown: {report}");
}
