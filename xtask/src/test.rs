//! `cargo xtask test`: the project's one test command.
use std::{
    io::{BufRead as _, BufReader, Write as _},
    process::Stdio,
};

use anyhow::{Context as _, ensure};

use crate::{bootstrap, build};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    crate::fuzz::short_pass()?;
    ensure!(
        bootstrap::is_root(),
        "the test suite attaches XDP programs and creates network namespaces: run it as root"
    );
    bootstrap::test_packages()?;
    // Builds the xcarp binary the namespace tests drive (and the eBPF object
    // the kernel tests load) before any test starts.
    let built = build::build(build::Profile::Dev, &["--bin", "xcarp"])?;
    let mut cmd = build::cargo();
    // --no-fail-fast: one failing test binary must not hide the others.
    cmd.args(["test", "--workspace", "--no-fail-fast"])
        .env("XCARP_BIN", &built.binary)
        .env("XCARP_EBPF_OBJECT", &built.object)
        .stdout(Stdio::piped());
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    let mut child = cmd.spawn().context("cannot start cargo test")?;
    let stdout = child.stdout.take().context("no stdout")?;
    // Pass the output through, and add up the binaries' summaries: cargo's
    // own last line is that of whichever binary ran last (often an empty
    // doc-test run), not the suite's.
    let mut totals = Totals::default();
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        totals.add(&line);
        writeln!(out, "{line}")?;
    }
    let status = child.wait()?;
    writeln!(
        out,
        "\ntests: {} passed, {} failed",
        totals.passed, totals.failed
    )?;
    ensure!(status.success(), "cargo test failed: {status}");
    ensure!(totals.passed > 0, "no test ran");
    Ok(())
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
}

impl Totals {
    /// Adds a libtest summary line (`test result: ok. 3 passed; 1 failed; …`).
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Totals;

    #[test]
    fn sums_libtest_summaries_and_ignores_other_lines() {
        let mut t = Totals::default();
        t.add("test result: ok. 43 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.82s");
        t.add("test result: FAILED. 13 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 141s");
        t.add("test s01_failover_after_sigkill ... ok");
        t.add("running 15 tests");
        t.add("test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s");
        assert_eq!(
            t,
            Totals {
                passed: 56,
                failed: 2
            }
        );
    }
}
