//! Planned stops in the report: SIGTERM to a master started with `-z`, with
//! xcarp's bow-out and hand-over (docs/protocol.md, "Bow-out") beside
//! ucarp, which leaves without a farewell. The rows of the ratio table and
//! the details section; nothing here needs root.
use std::fmt::Write as _;

use serde::Serialize;

use super::{
    report::{Row, num},
    stats::Summary,
};

/// Targets (README, "Performance").
pub const STOP_TAKEOVER_TARGET_S: f64 = 0.5;
pub const STOP_LOST_TARGET: f64 = 20.0;

/// Which daemons run the master and the backup of a planned-stop lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pairing {
    XcarpXcarp,
    /// An xcarp master handing over to a ucarp backup.
    XcarpUcarp,
    /// The baseline.
    UcarpUcarp,
}

impl Pairing {
    pub const ALL: [Self; 3] = [Self::XcarpXcarp, Self::XcarpUcarp, Self::UcarpUcarp];

    /// "master → backup".
    pub fn label(self) -> &'static str {
        match self {
            Self::XcarpXcarp => "xcarp → xcarp",
            Self::XcarpUcarp => "xcarp → ucarp",
            Self::UcarpUcarp => "ucarp → ucarp",
        }
    }

    pub fn master_is_xcarp(self) -> bool {
        self != Self::UcarpUcarp
    }

    pub fn backup_is_xcarp(self) -> bool {
        self == Self::XcarpXcarp
    }
}

/// One planned stop: SIGTERM to the master.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StopRep {
    /// SIGTERM → the backup's first advert on the wire (capture timestamp
    /// on the client's leg).
    pub takeover_s: f64,
    /// SIGTERM → the old master's exit.
    pub exit_s: f64,
    /// SIGTERM → the old master's bow-out advert on the wire (none from
    /// ucarp).
    pub bow_out_s: Option<f64>,
    /// The client's longest silence between two replies of its 10 ms ping.
    pub longest_silence_s: Option<f64>,
    /// Probes from the last reply before the SIGTERM to the first reply
    /// after the takeover, by ping's sequence numbers.
    pub probes_sent: u64,
    pub probes_lost: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StopRun {
    pub pairing: Pairing,
    /// The backup's master-down interval: what a backup without a farewell
    /// waits.
    pub master_down_s: f64,
    pub reps: Vec<StopRep>,
}

impl StopRun {
    fn summary(&self, pick: impl Fn(&StopRep) -> Option<f64>) -> Option<Summary> {
        Summary::of(&self.reps.iter().filter_map(pick).collect::<Vec<_>>())
    }

    pub fn takeover_s(&self) -> Option<Summary> {
        self.summary(|r| Some(r.takeover_s))
    }

    pub fn exit_s(&self) -> Option<Summary> {
        self.summary(|r| Some(r.exit_s))
    }

    pub fn bow_out_s(&self) -> Option<Summary> {
        self.summary(|r| r.bow_out_s)
    }

    pub fn longest_silence_s(&self) -> Option<Summary> {
        self.summary(|r| r.longest_silence_s)
    }

    #[allow(clippy::cast_precision_loss)]
    pub fn probes_lost(&self) -> Option<Summary> {
        self.summary(|r| Some(r.probes_lost as f64))
    }
}

fn of(runs: &[StopRun], pairing: Pairing) -> Option<&StopRun> {
    runs.iter().find(|r| r.pairing == pairing)
}

/// The planned-stop rows of the ratio table. The xcarp column holds an
/// xcarp master's pairing (xcarp → xcarp, or xcarp → ucarp), the ucarp
/// column the ucarp → ucarp baseline. Targets are judged on the worst stop.
pub fn rows(runs: &[StopRun]) -> Vec<Row> {
    let stat = |p: Pairing, f: fn(&StopRun) -> Option<Summary>, s: fn(&Summary) -> f64| {
        of(runs, p).and_then(f).as_ref().map(s)
    };
    let median = |s: &Summary| s.median;
    let max = |s: &Summary| s.max;
    let n = runs.iter().map(|r| r.reps.len()).max().unwrap_or(0);
    let (xx, xu, uu) = (
        Pairing::XcarpXcarp,
        Pairing::XcarpUcarp,
        Pairing::UcarpUcarp,
    );
    let row = |metric: String, unit: &str, p: Pairing, f, s| {
        Row::new(metric, unit, stat(p, f, s), stat(uu, f, s))
    };
    let takeover = "planned stop (SIGTERM, -z) → backup's first advert";
    let mut rows = vec![
        row(
            format!("{takeover}, {}, median of {n}", xx.label()),
            "s",
            xx,
            StopRun::takeover_s,
            median,
        ),
        {
            let r = row(
                format!("{takeover}, {}, max of {n}", xx.label()),
                "s",
                xx,
                StopRun::takeover_s,
                max,
            );
            let pass = r.xcarp.map(|x| x <= STOP_TAKEOVER_TARGET_S);
            r.target(&format!("≤ {STOP_TAKEOVER_TARGET_S} s"), pass)
        },
        row(
            format!(
                "{takeover}, {} (ucarp reads frames up to 1 s late, docs/protocol.md §4.1), median of {n}",
                xu.label()
            ),
            "s",
            xu,
            StopRun::takeover_s,
            median,
        ),
        row(
            format!(
                "planned stop → old master's exit, {}, median of {n}",
                xx.label()
            ),
            "s",
            xx,
            StopRun::exit_s,
            median,
        ),
        row(
            format!(
                "planned stop → old master's exit, {} (xcarp keeps the VIP until ucarp advertises), median of {n}",
                xu.label()
            ),
            "s",
            xu,
            StopRun::exit_s,
            median,
        ),
    ];
    for p in [xx, xu] {
        let r = row(
            format!(
                "planned stop: client probes lost (10 ms ping, by sequence number), {}, max of {n}",
                p.label()
            ),
            "count",
            p,
            StopRun::probes_lost,
            max,
        );
        let pass = r.xcarp.map(|x| x <= STOP_LOST_TARGET);
        rows.push(r.target(&format!("≤ {STOP_LOST_TARGET}"), pass));
    }
    for p in [xx, xu] {
        rows.push(row(
            format!(
                "planned stop: client's longest silence (10 ms ping), {}, max of {n}",
                p.label()
            ),
            "s",
            p,
            StopRun::longest_silence_s,
            max,
        ));
    }
    rows
}

/// The details section, Markdown: min / median / max per pairing.
pub fn markdown(runs: &[StopRun]) -> String {
    let mut s = String::from(
        "\n## Planned stops\n\nSIGTERM to a master started with `-z`, at a varying point between two adverts. xcarp bows out (one advert with advbase and advskew 255) and keeps the VIP until its successor's first advert, then runs its downscript and exits (docs/protocol.md, \"Bow-out\"); ucarp runs its downscript and exits, and its backup waits master-down. Times from the SIGTERM; adverts by their capture timestamps on the client's leg. Probes are counted by ping's sequence numbers (it sends every ~16 ms when asked for 10 ms). In the ratio table the ucarp column is ucarp → ucarp.\n\n| master → backup | stops | master-down s | SIGTERM → bow-out median s | SIGTERM → backup's first advert min / median / max s | SIGTERM → old master's exit min / median / max s | client's longest silence min / median / max s | probes lost min / median / max |\n|---|--:|--:|--:|---|---|---|---|\n",
    );
    let three = |s: Option<Summary>| {
        s.map_or("—".into(), |s| {
            format!(
                "{} / {} / {}",
                num(Some(s.min)),
                num(Some(s.median)),
                num(Some(s.max))
            )
        })
    };
    for p in Pairing::ALL {
        let Some(r) = of(runs, p) else {
            continue;
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            p.label(),
            r.reps.len(),
            num(Some(r.master_down_s)),
            num(r.bow_out_s().map(|b| b.median)),
            three(r.takeover_s()),
            three(r.exit_s()),
            three(r.longest_silence_s()),
            three(r.probes_lost()),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(takeover_s: f64, exit_s: f64, lost: u64) -> StopRep {
        StopRep {
            takeover_s,
            exit_s,
            bow_out_s: (takeover_s < 3.0).then_some(0.002),
            longest_silence_s: Some(0.016 + f64::from(u32::try_from(lost).unwrap_or(0)) * 0.016),
            probes_sent: 100 + lost,
            probes_lost: lost,
        }
    }

    fn runs(xcarp_takeovers: [f64; 3], xcarp_ucarp_lost: u64) -> Vec<StopRun> {
        let run = |pairing, reps| StopRun {
            pairing,
            master_down_s: 3.0,
            reps,
        };
        vec![
            run(
                Pairing::XcarpXcarp,
                xcarp_takeovers
                    .iter()
                    .map(|t| rep(*t, t + 0.01, 0))
                    .collect(),
            ),
            run(
                Pairing::XcarpUcarp,
                vec![
                    rep(0.4, 0.41, 0),
                    rep(0.9, 0.91, xcarp_ucarp_lost),
                    rep(0.6, 0.61, 1),
                ],
            ),
            run(
                Pairing::UcarpUcarp,
                vec![
                    rep(3.5, 0.005, 200),
                    rep(4.2, 0.006, 240),
                    rep(3.1, 0.004, 180),
                ],
            ),
        ]
    }

    fn row<'a>(rows: &'a [Row], start: &str) -> &'a Row {
        rows.iter()
            .find(|r| r.metric.starts_with(start))
            .unwrap_or_else(|| panic!("no row {start}"))
    }

    #[test]
    fn takeover_target_is_judged_on_the_worst_stop_beside_ucarp() {
        let good = rows(&runs([0.01, 0.03, 0.02], 0));
        let median = row(
            &good,
            "planned stop (SIGTERM, -z) → backup's first advert, xcarp → xcarp, median of 3",
        );
        assert_eq!((median.xcarp, median.ucarp), (Some(0.02), Some(3.5)));
        assert_eq!(median.pass, None, "the median row carries no verdict");
        let max = row(
            &good,
            "planned stop (SIGTERM, -z) → backup's first advert, xcarp → xcarp, max",
        );
        assert_eq!((max.xcarp, max.ucarp), (Some(0.03), Some(4.2)));
        assert!((max.ratio.expect("ratio") - 0.03 / 4.2).abs() < 1e-12);
        assert_eq!(max.pass, Some(true));
        // One slow stop of three fails it, though the median is fine.
        let bad = rows(&runs([0.01, 0.7, 0.02], 0));
        let max = row(
            &bad,
            "planned stop (SIGTERM, -z) → backup's first advert, xcarp → xcarp, max",
        );
        assert_eq!((max.xcarp, max.pass), (Some(0.7), Some(false)));
    }

    #[test]
    fn xcarp_to_ucarp_shows_ucarps_latency_and_judges_the_outage() {
        let r = rows(&runs([0.01, 0.02, 0.03], 0));
        let takeover = row(
            &r,
            "planned stop (SIGTERM, -z) → backup's first advert, xcarp → ucarp",
        );
        assert!(takeover.metric.contains("1 s late"), "{}", takeover.metric);
        assert_eq!((takeover.xcarp, takeover.pass), (Some(0.6), None));
        let exit = row(&r, "planned stop → old master's exit, xcarp → ucarp");
        assert_eq!((exit.xcarp, exit.ucarp), (Some(0.61), Some(0.005)));
        let lost = row(
            &r,
            "planned stop: client probes lost (10 ms ping, by sequence number), xcarp → ucarp",
        );
        assert_eq!(
            (lost.xcarp, lost.ucarp, lost.pass),
            (Some(1.0), Some(240.0), Some(true))
        );
        let worse = rows(&runs([0.01, 0.02, 0.03], 21));
        let lost = row(
            &worse,
            "planned stop: client probes lost (10 ms ping, by sequence number), xcarp → ucarp",
        );
        assert_eq!(
            (lost.xcarp, lost.pass),
            (Some(21.0), Some(false)),
            "21 > 20"
        );
        let silence = row(
            &r,
            "planned stop: client's longest silence (10 ms ping), xcarp → xcarp",
        );
        assert_eq!(silence.xcarp, Some(0.016));
    }

    #[test]
    fn a_missing_lab_gives_no_figure_and_no_verdict() {
        let mut r = runs([0.01, 0.02, 0.03], 0);
        r.retain(|run| run.pairing == Pairing::UcarpUcarp);
        let rows = rows(&r);
        assert_eq!(rows.len(), 9);
        for row in &rows {
            assert_eq!(
                (row.xcarp, row.pass, row.ratio),
                (None, None, None),
                "{row:?}"
            );
            assert!(row.ucarp.is_some(), "the baseline still shows: {row:?}");
        }
        assert_eq!(
            super::rows(&[])
                .iter()
                .filter(|r| r.ucarp.is_some())
                .count(),
            0
        );
    }

    #[test]
    fn details_list_every_pairing_that_ran() {
        let md = markdown(&runs([0.01, 0.02, 0.03], 0));
        for p in Pairing::ALL {
            assert!(md.contains(&format!("| {} | 3 |", p.label())), "{md}");
        }
        // ucarp sends no bow-out: no median for it.
        assert!(
            md.contains("| ucarp → ucarp | 3 | 3.00 | — | 3.10 / 3.50 / 4.20 |"),
            "{md}"
        );
        assert!(md.contains("| 180 / 200 / 240 |"), "{md}");
    }
}
