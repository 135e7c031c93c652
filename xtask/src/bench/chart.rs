//! The report's charts: drawn as SVG with plotters, turned into PNG with
//! rsvg-convert (librsvg2-bin), so that no font has to be compiled in.
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, ensure};
use plotters::prelude::*;

use super::report::{FailoverRun, FloodKind, Report};

const XCARP: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const UCARP: RGBColor = RGBColor(0xd6, 0x27, 0x28);

fn color(imp: &str) -> RGBColor {
    if imp == "xcarp" { XCARP } else { UCARP }
}

/// Daemon CPU against the delivered flood rate, per implementation and
/// flood kind (the busier daemon of the pair).
pub fn cpu_vs_rate(report: &Report, svg: &Path) -> anyhow::Result<()> {
    let mut series = Vec::new();
    for imp in ["xcarp", "ucarp"] {
        for kind in FloodKind::ALL {
            let mut pts: Vec<(f64, f64)> = report
                .floods
                .iter()
                .filter(|p| p.imp == imp && p.kind == kind)
                .map(|p| (p.achieved_pps / 1000.0, p.cpu_pct()))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            if !pts.is_empty() {
                series.push((imp, kind, pts));
            }
        }
    }
    let xmax = series
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|q| q.0))
        .fold(1.0, f64::max)
        * 1.05;
    // A log scale: the daemons differ by orders of magnitude, and a ratio
    // is a distance on it. Zero (no tick in the window) sits on the floor.
    let floor = 0.001;
    let ymax = series
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|q| q.1))
        .fold(1.0, f64::max)
        * 2.0;
    let root = SVGBackend::new(svg, (1200, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    // The legend gets a column of its own: inside the plot it would hide
    // points wherever it went.
    let (plot, legend) = root.split_horizontally(900);
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            "Daemon CPU under floods from a third host (busier of master/backup)",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..xmax, (floor..ymax).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("frames per second delivered to each CARP host (thousands)")
        .y_desc("daemon CPU, % of one core (log scale)")
        .label_style(("sans-serif", 15))
        .light_line_style(RGBColor(240, 240, 240))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v}"))
        .draw()?;
    let series: Vec<_> = series
        .into_iter()
        .map(|(i, k, p)| {
            (
                i,
                k,
                p.into_iter()
                    .map(|(x, y)| (x, y.max(floor)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let mut entries = Vec::new();
    for (imp, kind, pts) in series {
        let c = color(imp);
        // Own-VHID floods reach the digest check: thinner lines set them
        // apart from the floods XDP (or a socket filter) stops.
        let width = if kind.own_vhid() { 1 } else { 3 };
        chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(width)))?;
        for p in &pts {
            chart.plotting_area().draw(&marker(kind, *p, c))?;
        }
        entries.push((format!("{imp}, {}", kind.label()), kind, c, width));
    }
    let x = 12;
    for (i, (label, kind, c, width)) in entries.into_iter().enumerate() {
        let y = 70 + 26 * i32::try_from(i).unwrap_or(0);
        legend.draw(&PathElement::new(
            vec![(x, y), (x + 32, y)],
            c.stroke_width(width),
        ))?;
        legend.draw(&marker(kind, (x + 16, y), c))?;
        legend.draw(&Text::new(label, (x + 42, y - 8), ("sans-serif", 15)))?;
    }
    root.present()?;
    Ok(())
}

/// The marker of a flood kind: filled circle (foreign VHID), ring (UDP),
/// triangle (replayed), cross (forged).
fn marker<'b, C: Copy + 'static>(
    kind: FloodKind,
    at: C,
    c: RGBColor,
) -> DynElement<'static, SVGBackend<'b>, C> {
    match kind {
        FloodKind::ForeignVhid => Circle::new(at, 5, c.filled()).into_dyn(),
        FloodKind::Udp => Circle::new(at, 5, c.stroke_width(2)).into_dyn(),
        FloodKind::Replayed => TriangleMarker::new(at, 6, c.filled()).into_dyn(),
        FloodKind::Forged => Cross::new(at, 5, c.stroke_width(2)).into_dyn(),
    }
}

/// The failover overshoots of each implementation as an empirical
/// distribution (share of failovers at or under each overshoot).
pub fn failover_cdf(runs: &[FailoverRun], target_ms: f64, svg: &Path) -> anyhow::Result<()> {
    let mut all: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.reps.iter().map(|x| x.overshoot_ms))
        .collect();
    all.push(target_ms);
    all.push(0.0);
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = (hi - lo).max(1.0) * 0.05;
    let root = SVGBackend::new(svg, (960, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let master_down = runs.first().map_or(3.0, |r| r.master_down_s);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Failover after SIGKILL: time beyond master-down ({master_down} s), on the wire"
            ),
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d((lo - pad)..(hi + pad), 0f64..1.02)?;
    chart
        .configure_mesh()
        .x_desc("overshoot: old master's last advert → new master's first, minus master-down (ms)")
        .y_desc("share of failovers at or under")
        .label_style(("sans-serif", 15))
        .light_line_style(RGBColor(240, 240, 240))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for run in runs {
        let mut v: Vec<f64> = run.reps.iter().map(|r| r.overshoot_ms).collect();
        v.sort_by(f64::total_cmp);
        #[allow(clippy::cast_precision_loss)]
        let n = v.len() as f64;
        // A step function: up by 1/n at each sample.
        let mut steps = vec![(v.first().copied().unwrap_or(0.0), 0.0)];
        for (i, x) in v.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let (below, at) = (i as f64 / n, (i + 1) as f64 / n);
            steps.push((*x, below));
            steps.push((*x, at));
        }
        let c = color(&run.imp);
        chart
            .draw_series(LineSeries::new(steps, c.stroke_width(3)))?
            .label(format!("{} ({} failovers)", run.imp, v.len()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3)));
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(target_ms, 0.0), (target_ms, 1.02)],
            BLACK.mix(0.5).stroke_width(1),
        )))?
        .label(format!("target: p95 ≤ {target_ms} ms"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.5)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// `svg` as a PNG beside it (rsvg-convert); returns the PNG's path.
pub fn to_png(svg: &Path) -> anyhow::Result<PathBuf> {
    let png = svg.with_extension("png");
    let out = Command::new("rsvg-convert")
        .args(["-b", "white", "-o"])
        .arg(&png)
        .arg(svg)
        .output()
        .context("cannot run rsvg-convert")?;
    ensure!(
        out.status.success(),
        "rsvg-convert {} failed: {}",
        svg.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{FailoverRep, FloodPoint};

    fn sample() -> Report {
        let mut floods = Vec::new();
        for (imp, scale) in [("xcarp", 0.001), ("ucarp", 1.0)] {
            for kind in FloodKind::ALL {
                for pps in [1_000.0, 10_000.0, 100_000.0, 130_000.0] {
                    floods.push(FloodPoint {
                        imp: imp.into(),
                        kind,
                        pace: "max".into(),
                        achieved_pps: pps,
                        window_s: 5.0,
                        cpu_pct_master: pps / 5_000.0 * if kind.own_vhid() { 1.0 } else { scale },
                        cpu_pct_backup: 0.0,
                        cpu_ticks: 0,
                        softirq_pct: 50.0,
                        state_changes: 0,
                    });
                }
            }
        }
        Report {
            floods,
            ..Report::default()
        }
    }

    /// Draws both charts from made-up figures; with XCARP_BENCH_CHART_DIR
    /// set they are kept there (as PNG too) to be looked at.
    #[test]
    fn charts_draw_every_series() {
        let keep = std::env::var_os("XCARP_BENCH_CHART_DIR").map(PathBuf::from);
        let dir = keep.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("xcarp-chart-{}", std::process::id()))
        });
        std::fs::create_dir_all(&dir).expect("chart dir");
        let report = sample();
        let cpu = dir.join("cpu_vs_rate.svg");
        cpu_vs_rate(&report, &cpu).expect("cpu chart");
        let text = std::fs::read_to_string(&cpu).expect("svg");
        for kind in FloodKind::ALL {
            for imp in ["xcarp", "ucarp"] {
                let label = format!("{imp}, {}", kind.label());
                assert!(text.contains(&label), "legend lacks {label}");
            }
        }
        let runs: Vec<FailoverRun> = [("xcarp", 1.0), ("ucarp", 300.0)]
            .into_iter()
            .map(|(imp, base)| FailoverRun {
                imp: imp.into(),
                master_down_s: 3.0,
                reps: (0..20)
                    .map(|i| FailoverRep {
                        takeover_s: 3.0,
                        overshoot_ms: base * (1.0 + f64::from(i) / 10.0),
                        garp_s: None,
                        client_outage_s: None,
                    })
                    .collect(),
            })
            .collect();
        let cdf = dir.join("failover.svg");
        failover_cdf(&runs, 10.0, &cdf).expect("failover chart");
        assert!(
            std::fs::read_to_string(&cdf)
                .expect("svg")
                .contains("xcarp (20 failovers)")
        );
        if keep.is_some() {
            to_png(&cpu).expect("png");
            to_png(&cdf).expect("png");
        } else {
            std::fs::remove_dir_all(&dir).expect("remove chart dir");
        }
    }
}
