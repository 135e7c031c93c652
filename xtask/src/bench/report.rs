//! What the benchmark measured, the targets it checks them against, and
//! the report: a ratio table (xcarp beside ucarp), the details, as Markdown
//! and JSON. Nothing here needs root, so all of it is unit-tested.
use std::fmt::Write as _;

use serde::Serialize;

use super::{micro::Micro, stats::Summary, stops_report::StopRun};

/// What the attacker floods the pair with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FloodKind {
    /// CARP adverts (protocol 112) for VHIDs the pair does not run.
    ForeignVhid,
    /// Adverts for the pair's VHID with wrong digests.
    Forged,
    /// The master's own authentic adverts, captured and sent again.
    Replayed,
    /// Broadcast UDP: not CARP at all.
    Udp,
}

impl FloodKind {
    pub const ALL: [Self; 4] = [Self::ForeignVhid, Self::Udp, Self::Replayed, Self::Forged];

    pub fn label(self) -> &'static str {
        match self {
            Self::ForeignVhid => "foreign-VHID adverts",
            Self::Forged => "forged-digest adverts",
            Self::Replayed => "replayed authentic adverts",
            Self::Udp => "UDP broadcast",
        }
    }

    /// Whether the frames carry the pair's own VHID (and so reach the
    /// daemons' digest check).
    pub fn own_vhid(self) -> bool {
        matches!(self, Self::Forged | Self::Replayed)
    }
}

/// One flood window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FloodPoint {
    pub imp: String,
    pub kind: FloodKind,
    /// The rate asked of trafgen (`max`: no limit).
    pub pace: String,
    /// Frames per second the bridge delivered to each CARP host.
    pub achieved_pps: f64,
    pub window_s: f64,
    /// Time on a CPU of each daemon over the window, % of one core.
    pub cpu_pct_master: f64,
    pub cpu_pct_backup: f64,
    /// user + system clock ticks of both daemons (/proc/<pid>/stat).
    pub cpu_ticks: u64,
    /// Softirq time of the whole machine, % of one core: the kernel's
    /// share of the flood (bridge, veth, XDP or socket filters).
    pub softirq_pct: f64,
    /// `Switching to state` lines of both daemons during the window.
    pub state_changes: usize,
}

impl FloodPoint {
    /// The busier of the two daemons.
    pub fn cpu_pct(&self) -> f64 {
        self.cpu_pct_master.max(self.cpu_pct_backup)
    }

    /// The busier daemon's CPU time per frame delivered to it, µs.
    pub fn cpu_us_per_frame(&self) -> f64 {
        per_frame_us(self.cpu_pct(), self.achieved_pps)
    }

    /// The machine's softirq time per frame delivered to one host, µs
    /// (the bridge copies each frame to every leg, so it covers them all).
    pub fn softirq_us_per_frame(&self) -> f64 {
        per_frame_us(self.softirq_pct, self.achieved_pps)
    }
}

/// `pct` % of a core spent on `pps` frames a second, as µs per frame.
fn per_frame_us(pct: f64, pps: f64) -> f64 {
    if pps > 0.0 {
        pct / 100.0 / pps * 1e6
    } else {
        f64::NAN
    }
}

/// One failover after SIGKILL of the master.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailoverRep {
    /// From the old master's last advert to the new master's first, on
    /// the wire (capture timestamps on the client's leg).
    pub takeover_s: f64,
    /// `takeover_s` beyond master-down, ms.
    pub overshoot_ms: f64,
    /// From the old master's last advert to the new master's gratuitous ARP.
    pub garp_s: Option<f64>,
    /// The client's longest silence of its 10 ms probes of the VIP.
    pub client_outage_s: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailoverRun {
    pub imp: String,
    pub master_down_s: f64,
    pub reps: Vec<FailoverRep>,
}

impl FailoverRun {
    pub fn overshoot_ms(&self) -> Option<Summary> {
        Summary::of(&self.reps.iter().map(|r| r.overshoot_ms).collect::<Vec<_>>())
    }

    pub fn garp_s(&self) -> Option<Summary> {
        Summary::of(
            &self
                .reps
                .iter()
                .filter_map(|r| r.garp_s)
                .collect::<Vec<_>>(),
        )
    }

    pub fn outage_s(&self) -> Option<Summary> {
        Summary::of(
            &self
                .reps
                .iter()
                .filter_map(|r| r.client_outage_s)
                .collect::<Vec<_>>(),
        )
    }
}

/// Resident memory of one daemon (the master of the flood lab).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Memory {
    pub imp: String,
    /// VmRSS once elected.
    pub rss_start_kb: u64,
    /// VmHWM once elected: whether the peak comes from starting or from
    /// the floods.
    pub hwm_start_kb: u64,
    /// VmRSS after every flood.
    pub rss_end_kb: u64,
    /// VmHWM (peak) after every flood.
    pub hwm_kb: u64,
    /// VmRSS after the floods split by kind (RssAnon, RssFile, RssShmem):
    /// heap and stacks, mapped files and libraries, shared mappings.
    pub rss_anon_kb: u64,
    pub rss_file_kb: u64,
    pub rss_shmem_kb: u64,
}

/// Where and with what the benchmark ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Machine {
    pub date: String,
    pub mode: String,
    pub kernel: String,
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    pub xcarp: String,
    pub ucarp: String,
    pub trafgen: String,
    pub rustc: String,
    pub commit: String,
    /// How xcarp's XDP program ran on the LAN's veth legs.
    pub xdp_attach: String,
    pub wall_s: f64,
}

/// One line of the ratio table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub metric: String,
    pub unit: String,
    pub xcarp: Option<f64>,
    pub ucarp: Option<f64>,
    /// xcarp / ucarp.
    pub ratio: Option<f64>,
    pub target: String,
    /// None: no target.
    pub pass: Option<bool>,
}

impl Row {
    pub(super) fn new(
        metric: impl Into<String>,
        unit: &str,
        xcarp: Option<f64>,
        ucarp: Option<f64>,
    ) -> Self {
        let ratio = match (xcarp, ucarp) {
            (Some(x), Some(u)) if u > 0.0 => Some(x / u),
            _ => None,
        };
        Self {
            metric: metric.into(),
            unit: unit.into(),
            xcarp,
            ucarp,
            ratio,
            target: String::new(),
            pass: None,
        }
    }

    pub(super) fn target(mut self, target: &str, pass: Option<bool>) -> Self {
        target.clone_into(&mut self.target);
        self.pass = pass;
        self
    }
}

/// A takeover after SIGKILL of the master while the fastest flood of our
/// own VHID's adverts (forged or replayed) runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FloodTakeover {
    pub imp: String,
    pub kind: FloodKind,
    /// The backup's master-down interval: the protocol's bound.
    pub master_down_s: f64,
    /// From the kill to the backup's "Switching to state: MASTER"; `None`
    /// when it did not take over within the wait.
    pub took_s: Option<f64>,
}

/// Every VHID on one interface: one xcarp against one ucarp per VHID.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ManyVhids {
    pub vhids: u8,
    pub window_s: f64,
    /// % of one core over the window, every instance MASTER.
    pub xcarp_cpu_pct: f64,
    pub xcarp_rss_kb: u64,
    pub xcarp_pss_kb: u64,
    pub ucarp_processes: usize,
    /// Summed over the processes.
    pub ucarp_cpu_pct: f64,
    pub ucarp_rss_kb: u64,
    pub ucarp_pss_kb: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub floods: Vec<FloodPoint>,
    pub flood_takeovers: Vec<FloodTakeover>,
    pub many_vhids: Option<ManyVhids>,
    pub failovers: Vec<FailoverRun>,
    /// SIGTERM to a master started with `-z`, per pairing of daemons.
    pub stops: Vec<StopRun>,
    pub memory: Vec<Memory>,
    pub micro: Option<Micro>,
    pub rows: Vec<Row>,
    /// Parts that could not run, and why.
    pub errors: Vec<String>,
}

/// Targets (README, "Performance").
pub const CPU_TARGET_PCT: f64 = 1.0;
pub const CPU_TARGET_RATIO: f64 = 0.02;
pub const OVERSHOOT_TARGET_MS: f64 = 10.0;
pub const RSS_TARGET_KB: u64 = 8 * 1024;
pub const XDP_TARGET_RATIO: f64 = 1.3;
/// Slack over the master-down interval for a takeover under a flood: the
/// log line's way to the harness on a machine the flood saturates.
pub const TAKEOVER_SLACK_S: f64 = 0.5;

impl Report {
    /// The fastest flood of `kind` for `imp` (the last pace of the plan).
    pub fn top(&self, imp: &str, kind: FloodKind) -> Option<&FloodPoint> {
        self.floods
            .iter()
            .filter(|p| p.imp == imp && p.kind == kind)
            .max_by(|a, b| a.achieved_pps.total_cmp(&b.achieved_pps))
    }

    fn failover(&self, imp: &str) -> Option<&FailoverRun> {
        self.failovers.iter().find(|f| f.imp == imp)
    }

    fn memory_of(&self, imp: &str) -> Option<&Memory> {
        self.memory.iter().find(|m| m.imp == imp)
    }

    fn state_changes(&self, imp: &str, kind: FloodKind) -> Option<f64> {
        let points: Vec<&FloodPoint> = self
            .floods
            .iter()
            .filter(|p| p.imp == imp && p.kind == kind)
            .collect();
        #[allow(clippy::cast_precision_loss)]
        (!points.is_empty()).then(|| points.iter().map(|p| p.state_changes).sum::<usize>() as f64)
    }

    /// Computes the ratio table from the measurements.
    pub fn compute_rows(&mut self) {
        let mut rows = Vec::new();
        for kind in FloodKind::ALL {
            let (x, u) = (self.top("xcarp", kind), self.top("ucarp", kind));
            let rate = x
                .or(u)
                .map(|p| format!(" ({:.0}k frames/s)", p.achieved_pps / 1000.0))
                .unwrap_or_default();
            let row = Row::new(
                format!("daemon CPU, fastest {} flood{rate}", kind.label()),
                "% core",
                x.map(FloodPoint::cpu_pct),
                u.map(FloodPoint::cpu_pct),
            );
            rows.push(match kind {
                FloodKind::ForeignVhid => {
                    let pass = row.xcarp.map(|xc| {
                        xc <= CPU_TARGET_PCT && row.ratio.is_some_and(|r| r <= CPU_TARGET_RATIO)
                    });
                    row.target(
                        &format!("≤ {CPU_TARGET_PCT} % and ≤ {CPU_TARGET_RATIO} × ucarp"),
                        pass,
                    )
                }
                FloodKind::Forged | FloodKind::Replayed => {
                    let pass = row.xcarp.map(|xc| xc <= CPU_TARGET_PCT);
                    row.target(&format!("≤ {CPU_TARGET_PCT} %"), pass)
                }
                FloodKind::Udp => row,
            });
        }
        for kind in [FloodKind::Forged, FloodKind::Replayed] {
            let of = |imp: &str| {
                self.flood_takeovers
                    .iter()
                    .find(|t| t.imp == imp && t.kind == kind)
            };
            let (x, u) = (of("xcarp"), of("ucarp"));
            let bound = x.or(u).map(|t| t.master_down_s);
            let row = Row::new(
                format!(
                    "SIGKILL → backup MASTER, under the fastest {} flood",
                    kind.label()
                ),
                "s",
                x.and_then(|t| t.took_s),
                u.and_then(|t| t.took_s),
            );
            let pass = x.map(|t| {
                t.took_s
                    .is_some_and(|took| took <= t.master_down_s + TAKEOVER_SLACK_S)
            });
            rows.push(row.target(
                &format!(
                    "≤ master-down ({}) + {TAKEOVER_SLACK_S} s",
                    bound.map_or_else(|| "?".into(), |b| format!("{b:.2} s"))
                ),
                pass,
            ));
        }
        rows.push(Row::new(
            "softirq (whole machine), fastest foreign-VHID flood",
            "% core",
            self.top("xcarp", FloodKind::ForeignVhid)
                .map(|p| p.softirq_pct),
            self.top("ucarp", FloodKind::ForeignVhid)
                .map(|p| p.softirq_pct),
        ));
        // The fastest floods reach different rates with each daemon (the
        // daemon and trafgen share the cores): per frame, they compare.
        for kind in [FloodKind::Replayed, FloodKind::Forged] {
            rows.push(Row::new(
                format!(
                    "daemon CPU per delivered frame, fastest {} flood",
                    kind.label()
                ),
                "µs",
                self.top("xcarp", kind).map(FloodPoint::cpu_us_per_frame),
                self.top("ucarp", kind).map(FloodPoint::cpu_us_per_frame),
            ));
        }
        for kind in [FloodKind::ForeignVhid, FloodKind::Udp] {
            let none = self.top("none", kind).map(FloodPoint::softirq_us_per_frame);
            let above = |imp: &str| Some(self.top(imp, kind)?.softirq_us_per_frame() - none?);
            rows.push(Row::new(
                format!(
                    "softirq per delivered frame above no daemon ({} µs), fastest {} flood",
                    num(none),
                    kind.label()
                ),
                "µs",
                above("xcarp"),
                above("ucarp"),
            ));
        }
        for kind in [FloodKind::ForeignVhid, FloodKind::Udp] {
            rows.push(Row::new(
                format!(
                    "softirq (whole machine) per delivered frame, fastest {} flood",
                    kind.label()
                ),
                "µs",
                self.top("xcarp", kind)
                    .map(FloodPoint::softirq_us_per_frame),
                self.top("ucarp", kind)
                    .map(FloodPoint::softirq_us_per_frame),
            ));
        }
        for kind in [FloodKind::Forged, FloodKind::Replayed] {
            let row = Row::new(
                format!("false failovers, {} floods (all rates)", kind.label()),
                "count",
                self.state_changes("xcarp", kind),
                self.state_changes("ucarp", kind),
            );
            let pass = row.xcarp.map(|x| x == 0.0);
            rows.push(row.target("0", pass));
        }
        let other_changes = |imp: &str| -> Option<f64> {
            Some(
                self.state_changes(imp, FloodKind::ForeignVhid)?
                    + self.state_changes(imp, FloodKind::Udp)?,
            )
        };
        rows.push(Row::new(
            "state changes, foreign-VHID and UDP floods",
            "count",
            other_changes("xcarp"),
            other_changes("ucarp"),
        ));
        let over = |imp: &str| self.failover(imp).and_then(FailoverRun::overshoot_ms);
        let (xo, uo) = (over("xcarp"), over("ucarp"));
        let n = xo.as_ref().or(uo.as_ref()).map_or(0, |s| s.n);
        let master_down = self
            .failover("xcarp")
            .or_else(|| self.failover("ucarp"))
            .map_or(3.0, |f| f.master_down_s);
        for (name, pick) in [
            ("median", (|s: &Summary| s.median) as fn(&Summary) -> f64),
            ("p95", |s| s.p95),
            ("min", |s| s.min),
            ("max", |s| s.max),
        ] {
            let row = Row::new(
                format!("failover overshoot beyond master-down ({master_down} s), {name} of {n}"),
                "ms",
                xo.as_ref().map(pick),
                uo.as_ref().map(pick),
            );
            rows.push(if name == "p95" {
                let pass = row.xcarp.map(|x| x <= OVERSHOOT_TARGET_MS);
                row.target(&format!("≤ {OVERSHOOT_TARGET_MS} ms"), pass)
            } else {
                row
            });
        }
        let garp = |imp: &str| self.failover(imp).and_then(FailoverRun::garp_s);
        rows.push(Row::new(
            "old master's last advert → new master's gratuitous ARP, median",
            "s",
            garp("xcarp").map(|s| s.median),
            garp("ucarp").map(|s| s.median),
        ));
        let outage = |imp: &str| self.failover(imp).and_then(FailoverRun::outage_s);
        for (name, pick) in [
            ("median", (|s: &Summary| s.median) as fn(&Summary) -> f64),
            ("p95", |s| s.p95),
        ] {
            rows.push(Row::new(
                format!("client outage (10 ms probes of the VIP), {name}"),
                "s",
                outage("xcarp").as_ref().map(pick),
                outage("ucarp").as_ref().map(pick),
            ));
        }
        rows.extend(super::stops_report::rows(&self.stops));
        #[allow(clippy::cast_precision_loss)]
        let mb = |kb: u64| kb as f64 / 1024.0;
        for (name, pick) in [
            (
                "RSS once elected (VmRSS)",
                (|m: &Memory| m.rss_start_kb) as fn(&Memory) -> u64,
            ),
            ("peak RSS after every flood (VmHWM)", |m| m.hwm_kb),
        ] {
            let row = Row::new(
                name,
                "MB",
                self.memory_of("xcarp").map(|m| mb(pick(m))),
                self.memory_of("ucarp").map(|m| mb(pick(m))),
            );
            let pass = row.xcarp.map(|x| x <= mb(RSS_TARGET_KB));
            rows.push(row.target("≤ 8 MB", pass));
        }
        if let Some(m) = &self.many_vhids {
            #[allow(clippy::cast_precision_loss)]
            let mb = |kb: u64| kb as f64 / 1024.0;
            let what = format!(
                "{} VHIDs on one interface, all MASTER: one xcarp vs {} ucarp processes",
                m.vhids, m.ucarp_processes
            );
            rows.push(Row::new(
                format!("{what}, CPU"),
                "% core",
                Some(m.xcarp_cpu_pct),
                Some(m.ucarp_cpu_pct),
            ));
            rows.push(Row::new(
                format!("{what}, RSS (summed)"),
                "MB",
                Some(mb(m.xcarp_rss_kb)),
                Some(mb(m.ucarp_rss_kb)),
            ));
            rows.push(Row::new(
                format!("{what}, PSS (summed)"),
                "MB",
                Some(mb(m.xcarp_pss_kb)),
                Some(mb(m.ucarp_pss_kb)),
            ));
        }
        let worst = self.micro.as_ref().and_then(|m| m.worst_not_carp);
        rows.push(
            Row::new(
                "XDP cost per non-CARP frame, worst class ÷ empty program",
                "×",
                worst,
                None,
            )
            .target(
                &format!("≤ {XDP_TARGET_RATIO} ×"),
                worst.map(|w| w <= XDP_TARGET_RATIO),
            ),
        );
        self.rows = rows;
    }

    /// The targets missed, one line each.
    pub fn missed(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|r| r.pass == Some(false))
            .map(|r| {
                format!(
                    "{}: xcarp {} {} (target {})",
                    r.metric,
                    num(r.xcarp),
                    r.unit,
                    r.target
                )
            })
            .collect()
    }
}

/// A number for the tables: about three significant digits.
pub fn num(v: Option<f64>) -> String {
    let Some(v) = v else {
        return "—".into();
    };
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    }
}

fn verdict(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None => "",
    }
}

/// The ratio table, Markdown (also what the terminal shows).
pub fn ratio_table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| metric | unit | xcarp | ucarp | xcarp/ucarp | target (xcarp) | |\n|---|---|--:|--:|--:|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.metric,
            r.unit,
            num(r.xcarp),
            num(r.ucarp),
            num(r.ratio),
            if r.target.is_empty() {
                "—"
            } else {
                &r.target
            },
            verdict(r.pass)
        );
    }
    s
}

/// The whole report, Markdown. `charts` are PNG file names beside it.
pub fn markdown(report: &Report, charts: &[(&str, &str)]) -> String {
    let m = &report.machine;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# xcarp beside ucarp: `cargo xtask bench{}`\n",
        if m.mode == "quick" { " --quick" } else { "" }
    );
    let _ = writeln!(
        s,
        "{} · {} mode · {:.0} s\n\n| | |\n|---|---|\n| kernel | {} |\n| CPU | {} × {} |\n| memory | {} |\n| xcarp | {} |\n| ucarp | {} |\n| trafgen | {} |\n| rustc | {} |\n| commit | {} |\n| xcarp's XDP on the veth legs | {} |\n",
        m.date,
        m.mode,
        m.wall_s,
        m.kernel,
        m.cores,
        m.cpu,
        m.memory,
        m.xcarp,
        m.ucarp,
        m.trafgen,
        m.rustc,
        m.commit,
        m.xdp_attach
    );
    s.push_str("## Ratio table\n\nSame LAN, same run, one implementation at a time. CPU is the busier of the two daemons (master, backup), from their threads' time on a CPU. In the planned-stop rows the xcarp column is the named pairing (master → backup) with an xcarp master, the ucarp column ucarp → ucarp.\n\n");
    s.push_str(&ratio_table(&report.rows));
    let missed = report.missed();
    if missed.is_empty() {
        s.push_str("\nEvery target met.\n");
    } else {
        s.push_str("\nTargets missed:\n\n");
        for line in missed {
            let _ = writeln!(s, "- {line}");
        }
    }
    for (file, caption) in charts {
        let _ = writeln!(s, "\n![{caption}]({file})");
    }
    s.push_str("\n## Floods\n\nThe attacker is a third host on the bridge; every frame reaches both CARP hosts (rate: frames delivered to one host's leg). Softirq is the whole machine's, trafgen's sending included.\n\n| daemon | flood | asked | delivered/s | CPU master % | CPU backup % | user+sys ticks | softirq % core | state changes |\n|---|---|---|--:|--:|--:|--:|--:|--:|\n");
    for p in &report.floods {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {} | {} | {} | {:.1} | {} |",
            p.imp,
            p.kind.label(),
            p.pace,
            p.achieved_pps,
            num(Some(p.cpu_pct_master)),
            num(Some(p.cpu_pct_backup)),
            p.cpu_ticks,
            p.softirq_pct,
            p.state_changes
        );
    }
    s.push_str("\n## Failovers after SIGKILL of the master\n\nTimes from the old master's last advert on the wire (tcpdump on the client's leg); the dead master's leg is unplugged at the kill, as a dead machine's would be. The client's outage runs from the kill, which falls at a varying point between two adverts, to its first answered probe: it is shorter than the takeover by that point's distance from the last advert.\n\n| daemon | master-down s | takeover min / median / p95 / max s | overshoot min / median / p95 / max ms | GARP median s | client outage median / max s |\n|---|--:|---|---|--:|---|\n");
    for f in &report.failovers {
        let t = Summary::of(&f.reps.iter().map(|r| r.takeover_s).collect::<Vec<_>>());
        let four = |s: Option<Summary>, scale: f64| {
            s.map_or("—".into(), |s| {
                format!(
                    "{} / {} / {} / {}",
                    num(Some(s.min * scale)),
                    num(Some(s.median * scale)),
                    num(Some(s.p95 * scale)),
                    num(Some(s.max * scale))
                )
            })
        };
        let o = f.outage_s();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} / {} |",
            f.imp,
            f.master_down_s,
            four(t, 1.0),
            four(f.overshoot_ms(), 1.0),
            num(f.garp_s().map(|g| g.median)),
            num(o.as_ref().map(|o| o.median)),
            num(o.as_ref().map(|o| o.max)),
        );
    }
    if !report.stops.is_empty() {
        s.push_str(&super::stops_report::markdown(&report.stops));
    }
    s.push_str("\n## Memory\n\nThe flood lab's master, from /proc/<pid>/status.\n\n| daemon | VmRSS elected kB | VmHWM elected kB | VmRSS after floods kB | of which anon / file / shmem kB | VmHWM after floods kB |\n|---|--:|--:|--:|--:|--:|\n");
    for mem in &report.memory {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} / {} / {} | {} |",
            mem.imp,
            mem.rss_start_kb,
            mem.hwm_start_kb,
            mem.rss_end_kb,
            mem.rss_anon_kb,
            mem.rss_file_kb,
            mem.rss_shmem_kb,
            mem.hwm_kb
        );
    }
    s.push_str("\n## XDP micro-benchmark (BPF_PROG_TEST_RUN, docs/xdp.md)\n\n");
    match &report.micro {
        Some(m) => {
            let _ = writeln!(s, "```\n{}```", m.text);
        }
        None => s.push_str("not run\n"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(imp: &str, kind: FloodKind, pps: f64, cpu: f64, changes: usize) -> FloodPoint {
        FloodPoint {
            imp: imp.into(),
            kind,
            pace: "max".into(),
            achieved_pps: pps,
            window_s: 5.0,
            cpu_pct_master: cpu,
            cpu_pct_backup: cpu / 2.0,
            cpu_ticks: 0,
            softirq_pct: 40.0,
            state_changes: changes,
        }
    }

    fn report(xcarp_cpu: f64, forged_changes: usize) -> Report {
        let mut floods = Vec::new();
        for imp in ["xcarp", "ucarp"] {
            let cpu = if imp == "xcarp" { xcarp_cpu } else { 20.0 };
            floods.push(point(imp, FloodKind::ForeignVhid, 1000.0, cpu * 10.0, 0));
            floods.push(point(imp, FloodKind::ForeignVhid, 200_000.0, cpu, 0));
            floods.push(point(
                imp,
                FloodKind::Forged,
                200_000.0,
                cpu,
                forged_changes,
            ));
            floods.push(point(imp, FloodKind::Replayed, 200_000.0, cpu, 0));
        }
        let reps = |base: f64| {
            (0..20)
                .map(|i| FailoverRep {
                    takeover_s: 3.0 + (base + f64::from(i)) / 1000.0,
                    overshoot_ms: base + f64::from(i),
                    garp_s: Some(3.01),
                    client_outage_s: Some(3.5),
                })
                .collect()
        };
        let mut r = Report {
            floods,
            failovers: vec![
                FailoverRun {
                    imp: "xcarp".into(),
                    master_down_s: 3.0,
                    reps: reps(0.0),
                },
                FailoverRun {
                    imp: "ucarp".into(),
                    master_down_s: 3.0,
                    reps: reps(500.0),
                },
            ],
            memory: vec![Memory {
                imp: "xcarp".into(),
                rss_start_kb: 4096,
                hwm_start_kb: 9000,
                rss_end_kb: 5000,
                hwm_kb: 9000,
                rss_anon_kb: 3000,
                rss_file_kb: 2000,
                rss_shmem_kb: 0,
            }],
            ..Report::default()
        };
        r.compute_rows();
        r
    }

    fn row<'a>(r: &'a Report, start: &str) -> &'a Row {
        r.rows
            .iter()
            .find(|row| row.metric.starts_with(start))
            .unwrap_or_else(|| panic!("no row {start}"))
    }

    #[test]
    fn cpu_target_is_judged_at_the_fastest_flood_against_ucarp() {
        let good = report(0.3, 0);
        let cpu = row(&good, "daemon CPU, fastest foreign");
        assert_eq!(cpu.xcarp, Some(0.3), "the fastest point, not the slow one");
        assert!((cpu.ratio.expect("ratio") - 0.015).abs() < 1e-12);
        assert_eq!(cpu.pass, Some(true));
        assert!(cpu.metric.contains("200k frames/s"), "{}", cpu.metric);
        // Under 1 % but more than 0.02 × ucarp's 20 %.
        let bad = report(0.5, 0);
        assert_eq!(row(&bad, "daemon CPU, fastest foreign").pass, Some(false));
    }

    #[test]
    fn false_failovers_rss_overshoot_and_missing_data() {
        let r = report(0.1, 2);
        let forged = row(&r, "false failovers, forged");
        assert_eq!((forged.xcarp, forged.pass), (Some(2.0), Some(false)));
        assert_eq!(row(&r, "false failovers, replayed").pass, Some(true));
        // p95 of 0..19 ms is 18.05 ms: over 10 ms.
        let p95 = row(&r, "failover overshoot beyond master-down (3 s), p95 of 20");
        assert!((p95.xcarp.expect("xcarp") - 18.05).abs() < 1e-9);
        assert_eq!(p95.pass, Some(false));
        assert_eq!(row(&r, "RSS once elected").pass, Some(true));
        assert_eq!(row(&r, "peak RSS").pass, Some(false));
        // No UDP flood ran and no micro-benchmark: no figure, no verdict.
        assert_eq!(row(&r, "daemon CPU, fastest UDP").xcarp, None);
        assert_eq!(row(&r, "XDP cost").pass, None);
        assert_eq!(row(&r, "state changes").xcarp, None);
        let missed = r.missed();
        assert_eq!(missed.len(), 3, "{missed:#?}");
    }

    #[test]
    fn takeovers_under_floods_are_judged_against_master_down() {
        let mut r = report(0.1, 0);
        let takeover = |imp: &str, kind, took_s| FloodTakeover {
            imp: imp.into(),
            kind,
            master_down_s: 3.39,
            took_s,
        };
        r.flood_takeovers = vec![
            takeover("xcarp", FloodKind::Forged, Some(3.5)),
            takeover("ucarp", FloodKind::Forged, Some(3.6)),
            takeover("xcarp", FloodKind::Replayed, Some(4.2)),
            takeover("ucarp", FloodKind::Replayed, None),
        ];
        r.compute_rows();
        let forged = row(&r, "SIGKILL → backup MASTER, under the fastest forged");
        assert_eq!((forged.xcarp, forged.pass), (Some(3.5), Some(true)));
        assert!(forged.target.contains("3.39 s"), "{}", forged.target);
        let replayed = row(&r, "SIGKILL → backup MASTER, under the fastest replayed");
        assert_eq!(replayed.ucarp, None, "ucarp never took over");
        assert_eq!(replayed.pass, Some(false), "4.2 s > 3.39 + 0.5 s");
        // And the CPU targets of the own-VHID floods: 0.1 % ≤ 1 %.
        assert_eq!(row(&r, "daemon CPU, fastest forged").pass, Some(true));
    }

    #[test]
    fn ratio_table_names_both_daemons_and_verdicts() {
        let r = report(0.1, 0);
        let table = ratio_table(&r.rows);
        let header = table.lines().next().expect("header");
        assert!(header.contains("xcarp") && header.contains("ucarp"));
        assert_eq!(table.lines().count(), r.rows.len() + 2);
        assert!(table.contains("| PASS |") && table.contains("| FAIL |"));
        let md = markdown(&r, &[("cpu.png", "CPU")]);
        assert!(md.contains("![CPU](cpu.png)"));
        assert!(md.contains("Targets missed:"));
    }

    #[test]
    fn per_frame_costs() {
        let p = point("xcarp", FloodKind::Forged, 100_000.0, 25.0, 0);
        assert!((p.cpu_us_per_frame() - 2.5).abs() < 1e-9);
        assert!((p.softirq_us_per_frame() - 4.0).abs() < 1e-9);
        let r = report(0.1, 0);
        let row = row(&r, "daemon CPU per delivered frame, fastest forged");
        // ucarp: 20 % at 200k frames/s.
        assert!((row.ucarp.expect("ucarp") - 1.0).abs() < 1e-9);
    }

    #[test]
    fn numbers_keep_about_three_digits() {
        assert_eq!(num(None), "—");
        assert_eq!(num(Some(0.0)), "0");
        assert_eq!(num(Some(1234.4)), "1234");
        assert_eq!(num(Some(12.345)), "12.3");
        assert_eq!(num(Some(1.2345)), "1.23");
        assert_eq!(num(Some(0.12345)), "0.123");
        assert_eq!(num(Some(0.00123)), "1.2e-3");
    }
}
