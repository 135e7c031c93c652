//! The XDP micro-benchmark (carp-user/examples/xdp_bench.rs, see
//! docs/xdp.md): run it, keep its text, and read its table back.
use std::process::Stdio;

use anyhow::{Context as _, ensure};

use crate::{build, step};

/// One frame class of the micro-benchmark.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MicroRow {
    pub class: String,
    pub empty_ns: f64,
    pub xcarp_ns: f64,
    pub ratio: f64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Micro {
    pub rows: Vec<MicroRow>,
    /// The worst ratio to the empty program over the non-CARP classes.
    pub worst_not_carp: Option<f64>,
    /// The benchmark's own output.
    pub text: String,
}

/// Builds the micro-benchmark (release): one step, cargo's output in the
/// step log.
pub fn build() -> anyhow::Result<()> {
    step::run("building the XDP micro-benchmark (release)", || {
        step::exec(build::cargo().args([
            "build",
            "--release",
            "-p",
            "carp-user",
            "--example",
            "xdp_bench",
        ]))
    })
}

/// Runs the micro-benchmark [`build`] built (release), fewer rounds when
/// quick.
pub fn run(quick: bool) -> anyhow::Result<Micro> {
    let mut cmd = build::cargo();
    cmd.args([
        "run",
        "--release",
        "-q",
        "-p",
        "carp-user",
        "--example",
        "xdp_bench",
        "--",
    ]);
    if quick {
        cmd.args(["--repeat", "200000", "--rounds", "6"]);
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("cannot start the XDP micro-benchmark")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "the XDP micro-benchmark failed: {}\n{text}",
        out.status
    );
    Ok(parse(&text))
}

/// Reads the benchmark's table: rows end with `empty xcarp ratio` (and,
/// for non-CARP classes, `uncounted ratio`); the class is what precedes.
pub fn parse(text: &str) -> Micro {
    let mut rows = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let numeric = |w: &str| w.trim_end_matches('x').parse::<f64>().ok();
        let tail = words
            .iter()
            .rev()
            .take_while(|w| numeric(w).is_some())
            .count();
        if tail != 3 && tail != 5 {
            continue;
        }
        let nums: Vec<f64> = words[words.len() - tail..]
            .iter()
            .filter_map(|w| numeric(w))
            .collect();
        rows.push(MicroRow {
            class: words[..words.len() - tail].join(" "),
            empty_ns: nums[0],
            xcarp_ns: nums[1],
            ratio: nums[2],
        });
    }
    let worst_not_carp = text.lines().find_map(|l| {
        l.strip_prefix("worst non-CARP ratio:")?
            .split_whitespace()
            .next()?
            .trim_end_matches('x')
            .parse()
            .ok()
    });
    Micro {
        rows,
        worst_not_carp,
        text: text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    const SAMPLE: &str = "\
BPF_PROG_TEST_RUN, repeat 1000000 (valid adverts: 3000, ring drained in between), 15 alternating rounds, ns/frame: mean of the fastest 2/3 of the kernel's figures
frame class                             empty    xcarp   ratio  uncounted   ratio
ARP                                     20.10    22.30   1.11x      21.00   1.04x
802.1Q IPv4/UDP                         20.00    24.00   1.20x      22.00   1.10x
CARP our VHID, TTL 64 (drop)            20.00    30.00   1.50x
empty + per-CPU counter (IPv4/UDP)      20.00    21.00   1.05x
worst non-CARP ratio: 1.20x (target <= 1.30x); without the NOT_CARP counter 1.10x
xcarp_xdp: verified instructions 300, translated 2400 bytes (300 insns), jitted 1500 bytes
";

    #[test]
    fn reads_rows_and_the_worst_ratio() {
        let m = parse(SAMPLE);
        let classes: Vec<&str> = m.rows.iter().map(|r| r.class.as_str()).collect();
        assert_eq!(
            classes,
            [
                "ARP",
                "802.1Q IPv4/UDP",
                "CARP our VHID, TTL 64 (drop)",
                "empty + per-CPU counter (IPv4/UDP)"
            ]
        );
        assert_eq!(m.rows[1].xcarp_ns, 24.0);
        assert_eq!(m.rows[2].ratio, 1.5);
        assert_eq!(m.worst_not_carp, Some(1.2));
    }

    #[test]
    fn no_table_no_rows() {
        let m = parse("cannot load the program\n");
        assert!(m.rows.is_empty());
        assert_eq!(m.worst_not_carp, None);
    }
}
