//! `cargo xtask bench [--quick]`: xcarp beside ucarp on the same virtual
//! LAN in the same run: daemon CPU under floods (foreign VHIDs, forged
//! digests, replayed adverts, plain UDP), false failovers, failover time
//! after SIGKILL on the wire and as a client sees it, planned stops
//! (SIGTERM with `-z`), memory, and the XDP micro-benchmark. Writes Markdown, JSON and PNG charts to
//! `target/bench/<date>/` (and `target/bench/latest`), prints the ratio
//! table. Targets are judged, never enforced: the run fails only when it
//! cannot measure.
mod chart;
mod lab;
mod micro;
mod report;
mod stats;
mod stops;
mod stops_report;

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    process::Command,
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, ensure};
use xcarp_tests::{carp::Impl, cleanup};

use crate::{bootstrap, build};
use report::{Machine, Report};

/// Debian packages only the charts need: (file that shows it is there, package).
const CHART_PACKAGES: &[(&str, &str)] = &[
    ("/usr/bin/rsvg-convert", "librsvg2-bin"),
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "fonts-dejavu-core",
    ),
];

pub fn run(quick: bool) -> anyhow::Result<()> {
    ensure!(
        bootstrap::is_root(),
        "the benchmark creates network namespaces, attaches XDP programs and runs BPF_PROG_TEST_RUN: run it as root"
    );
    let started = Instant::now();
    let plan = lab::Plan::new(quick);
    // Set-up: one line per step, their output in the command's log.
    bootstrap::ebpf_toolchain()?;
    bootstrap::test_packages()?;
    crate::step::run(
        "checking what the charts need (rsvg-convert, a font)",
        chart_packages,
    )?;
    let xcarp = build::build_release()?.binary;
    micro::build()?;
    let ucarp = Impl::Ucarp.binary();
    for name in cleanup::sweep_stale() {
        println!("removed stale test namespace {name}");
    }
    let mut report = Report::default();
    step("XDP micro-benchmark (BPF_PROG_TEST_RUN beside an empty program)");
    match micro::run(quick) {
        Ok(m) => {
            print!("{}", m.text);
            report.micro = Some(m);
        }
        Err(e) => report.errors.push(format!("micro-benchmark: {e:#}")),
    }

    // Bounds the labs (about 5 min quick, 9 min full): past it, everything
    // they created is removed and the run fails (a stuck step cannot be
    // unwound from outside).
    let _limit = cleanup::time_limit(
        "cargo xtask bench",
        Duration::from_secs(if quick { 540 } else { 1320 }),
    );
    let mut xdp_attach = None;
    let progress = |line: &str| println!("   [{:>5.1}s] {line}", started.elapsed().as_secs_f64());
    for (imp, binary) in [(Impl::Xcarp, &xcarp), (Impl::Ucarp, &ucarp)] {
        step(&format!(
            "{imp}: floods from a third host against a master/backup pair ({})",
            if quick { "quick" } else { "full" }
        ));
        match guarded(|| lab::floods(imp, binary, &plan, &progress)) {
            Ok(run) => {
                report.floods.extend(run.points);
                report.flood_takeovers.extend(run.takeovers);
                report.memory.push(run.memory);
                if imp == Impl::Xcarp {
                    xdp_attach = Some(run.xdp_attach.unwrap_or("none").to_owned());
                }
            }
            Err(e) => report.errors.push(format!("{imp} floods: {e:#}")),
        }
    }

    step("the fastest floods with no daemon: the kernel's own share");
    match guarded(|| lab::baseline(&plan, &progress)) {
        Ok(points) => report.floods.extend(points),
        Err(e) => report
            .errors
            .push(format!("floods without a daemon: {e:#}")),
    }

    step(&format!(
        "failovers after SIGKILL of the master, {} each, xcarp and ucarp side by side on two LANs",
        plan.failovers
    ));
    let results: Vec<(Impl, anyhow::Result<report::FailoverRun>)> = thread::scope(|s| {
        let handles: Vec<_> = [(Impl::Xcarp, &xcarp), (Impl::Ucarp, &ucarp)]
            .into_iter()
            .map(|(imp, binary)| {
                let plan = &plan;
                let progress = &progress;
                (
                    imp,
                    s.spawn(move || guarded(|| lab::failovers(imp, binary, plan, progress))),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(imp, h)| {
                (
                    imp,
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("the failover thread panicked"))),
                )
            })
            .collect()
    });
    for (imp, result) in results {
        match result {
            Ok(run) => report.failovers.push(run),
            Err(e) => report.errors.push(format!("{imp} failovers: {e:#}")),
        }
    }

    step(&format!(
        "planned stops (SIGTERM, -z), {} each: {} side by side on three LANs",
        plan.stops,
        stops_report::Pairing::ALL
            .map(stops_report::Pairing::label)
            .join(", ")
    ));
    let results: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = stops_report::Pairing::ALL
            .into_iter()
            .map(|pairing| {
                let (plan, progress, xcarp, ucarp) = (&plan, &progress, &xcarp, &ucarp);
                (
                    pairing,
                    s.spawn(move || {
                        guarded(|| stops::planned_stops(pairing, xcarp, ucarp, plan, progress))
                    }),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(pairing, h)| {
                (
                    pairing,
                    h.join().unwrap_or_else(|_| {
                        Err(anyhow::anyhow!("the planned-stop thread panicked"))
                    }),
                )
            })
            .collect()
    });
    for (pairing, result) in results {
        match result {
            Ok(run) => report.stops.push(run),
            Err(e) => report
                .errors
                .push(format!("{} planned stops: {e:#}", pairing.label())),
        }
    }

    step(&format!(
        "{} VHIDs on one interface: one xcarp against one ucarp per VHID",
        lab::MANY_VHIDS
    ));
    let window = Duration::from_secs(if quick { 5 } else { 10 });
    match guarded(|| lab::many_vhids(&xcarp, &ucarp, window, &progress)) {
        Ok(m) => report.many_vhids = Some(m),
        Err(e) => report
            .errors
            .push(format!("{} VHIDs: {e:#}", lab::MANY_VHIDS)),
    }

    report.machine = machine(&xcarp, &ucarp, quick);
    report.machine.wall_s = started.elapsed().as_secs_f64();
    report.machine.xdp_attach = xdp_attach.unwrap_or_else(|| "not measured".into());
    report.compute_rows();
    let dir = write(&report)?;
    println!();
    println!("{}", report::ratio_table(&report.rows));
    for line in report.missed() {
        println!("target missed: {line}");
    }
    for e in &report.errors {
        println!("not measured: {e}");
    }
    println!(
        "report: {}/report.md (and report.json, charts) — {:.0} s",
        dir.display(),
        report.machine.wall_s
    );
    ensure!(
        report.errors.is_empty(),
        "parts of the benchmark could not run (see above)"
    );
    Ok(())
}

fn step(text: &str) {
    println!("bench: {text}");
}

/// Runs a lab, turning a panic of the harness (which unwinds through its
/// guards, removing what it created) into an error, so the other parts
/// still run and the report says what is missing.
fn guarded<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".into());
            Err(anyhow::anyhow!("{msg}"))
        }
    }
}

fn chart_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = CHART_PACKAGES
        .iter()
        .filter(|(file, _)| !Path::new(file).exists())
        .map(|(_, pkg)| *pkg)
        .collect();
    bootstrap::install_packages(&missing, "the charts")
}

/// First line of a command's output (stdout, else stderr), or "?".
fn first_line(program: &Path, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

fn machine(xcarp: &Path, ucarp: &Path, quick: bool) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb = stats::status_kb(&meminfo, "MemTotal").unwrap_or(0);
    let root = bootstrap::workspace_root();
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(&root)
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let dirty = if git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        ""
    } else {
        " (with uncommitted changes)"
    };
    #[allow(clippy::cast_precision_loss)]
    let mem_gb = mem_kb as f64 / 1024.0 / 1024.0;
    Machine {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        mode: if quick { "quick" } else { "full" }.into(),
        kernel: first_line(Path::new("uname"), &["-srm"]),
        cpu: cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map_or("?".into(), |(_, v)| v.trim().to_owned()),
        cores: thread::available_parallelism().map_or(0, usize::from),
        memory: format!("{mem_gb:.1} GB"),
        xcarp: first_line(xcarp, &["-V"]),
        ucarp: first_line(ucarp, &["--help"]),
        trafgen: first_line(Path::new("trafgen"), &["-v"]),
        rustc: first_line(Path::new("rustc"), &["-V"]),
        commit: format!("{}{dirty}", git(&["rev-parse", "--short", "HEAD"])),
        xdp_attach: String::new(),
        wall_s: 0.0,
    }
}

/// Writes the report into a fresh folder under target/bench, points
/// `latest` at it, and returns the folder.
fn write(report: &Report) -> anyhow::Result<PathBuf> {
    let base = bootstrap::workspace_root().join("target/bench");
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let name = format!("{stamp}-{}", report.machine.mode);
    let dir = base.join(&name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(report)?,
    )?;
    let mut charts = Vec::new();
    let cpu_svg = dir.join("cpu_vs_rate.svg");
    if !report.floods.is_empty() {
        chart::cpu_vs_rate(report, &cpu_svg)?;
        chart::to_png(&cpu_svg)?;
        charts.push(("cpu_vs_rate.png", "daemon CPU against flood rate"));
    }
    let cdf_svg = dir.join("failover.svg");
    if !report.failovers.is_empty() {
        chart::failover_cdf(&report.failovers, report::OVERSHOOT_TARGET_MS, &cdf_svg)?;
        chart::to_png(&cdf_svg)?;
        charts.push(("failover.png", "failover overshoot distribution"));
    }
    let mut md = report::markdown(report, &charts);
    if !report.errors.is_empty() {
        md.push_str("\n## Not measured\n\n");
        for e in &report.errors {
            md.push_str(&format!("- {e}\n"));
        }
    }
    std::fs::write(dir.join("report.md"), md)?;
    let latest = base.join("latest");
    let _ = std::fs::remove_file(&latest);
    std::os::unix::fs::symlink(&name, &latest)
        .with_context(|| format!("cannot link {}", latest.display()))?;
    Ok(dir)
}
