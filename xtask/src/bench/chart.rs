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
    let root = SVGBackend::new(svg, (960, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
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
    for (imp, kind, pts) in series {
        let c = color(imp);
        // Own-VHID floods reach the digest check: thinner lines set them
        // apart from the floods XDP (or a socket filter) stops.
        let width = if kind.own_vhid() { 1 } else { 3 };
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(width)))?
            .label(format!("{imp}, {}", kind.label()))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(width))
            });
        match kind {
            FloodKind::ForeignVhid => {
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 5, c.filled())))?;
            }
            FloodKind::Udp => {
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 5, c.stroke_width(2))))?;
            }
            FloodKind::Forged | FloodKind::Replayed => {
                chart.draw_series(pts.iter().map(|p| TriangleMarker::new(*p, 6, c.filled())))?;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
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
