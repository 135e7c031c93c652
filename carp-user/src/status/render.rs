//! The three renderings of a [`Snapshot`]: an operator's table, JSON, and
//! the Prometheus text exposition format 0.0.4 (docs/status.md describes
//! each, and lists every metric).
//!
//! The Prometheus text is written directly from the typed snapshot rather
//! than through a metrics registry: the daemon already keeps every value,
//! the format is small, and the tests parse the output back strictly.

use std::{
    collections::BTreeMap,
    fmt::{self, Write as _},
};

use super::snapshot::{
    InstanceStatus, InterfaceStatus, RxPath, Snapshot, StateName, XdpVerdict, unix_ms_now,
    xdp_verdict,
};

/// A rendering the status socket serves, named by the one-line request
/// that asks for it (docs/status.md, "Protocol").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// [`render_text`]: request `text`.
    #[default]
    Text,
    /// [`render_json`]: request `json`.
    Json,
    /// [`render_prometheus`]: request `prometheus`.
    Prometheus,
}

impl Format {
    /// The request word, without its newline.
    #[must_use]
    pub fn request(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
            Self::Prometheus => "prometheus",
        }
    }

    /// The format a request word asks for (surrounding white space
    /// ignored; an empty request means text).
    #[must_use]
    pub fn from_request(request: &str) -> Option<Self> {
        match request.trim() {
            "" | "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            "prometheus" => Some(Self::Prometheus),
            _ => None,
        }
    }

    /// Renders `snapshot` in this format.
    #[must_use]
    pub fn render(self, snapshot: &Snapshot) -> String {
        match self {
            Self::Text => render_text(snapshot),
            Self::Json => render_json(snapshot),
            Self::Prometheus => render_prometheus(snapshot),
        }
    }
}

// ---------------------------------------------------------------------------
// Text

/// The operator's table, with times in state measured from now.
#[must_use]
pub fn render_text(snapshot: &Snapshot) -> String {
    render_text_at(snapshot, unix_ms_now())
}

/// The operator's table, with times measured from `now_unix_ms`: a
/// heading line, one line per instance, the last transition and script of
/// each, one line per interface, then the XDP program's counters.
#[must_use]
pub fn render_text_at(snapshot: &Snapshot, now_unix_ms: u64) -> String {
    let mut out = format!(
        "xcarp {} (pid {}), up {}\n\n",
        clean(&snapshot.xcarp_version),
        snapshot.pid,
        human_duration(now_unix_ms.saturating_sub(snapshot.started_unix_ms)),
    );
    if snapshot.instances.is_empty() {
        out.push_str("no instances\n");
    } else {
        out.push_str(&instance_table(&snapshot.instances, now_unix_ms));
        out.push_str(&instance_details(&snapshot.instances, now_unix_ms));
        out.push_str(&health::health_table(&snapshot.instances, now_unix_ms));
    }
    if !snapshot.interfaces.is_empty() {
        out.push('\n');
        out.push_str(&interface_table(&snapshot.interfaces));
    }
    let mut xdp = String::new();
    if let Some(counters) = &snapshot.xdp_counters {
        xdp.push_str(&xdp_line("XDP program, all interfaces", counters));
    }
    for iface in &snapshot.interfaces {
        if let Some(counters) = &iface.xdp_counters {
            xdp.push_str(&xdp_line(
                &format!("XDP on {}", clean(&iface.name)),
                counters,
            ));
        }
    }
    if !xdp.is_empty() {
        out.push('\n');
        out.push_str(&xdp);
    }
    out
}

fn instance_table(instances: &[InstanceStatus], now_unix_ms: u64) -> String {
    let headers = [
        "NAME",
        "INTERFACE",
        "VLAN",
        "VHID",
        "STATE",
        "MASTER",
        "IN STATE",
        "SENT",
        "RECEIVED",
        "BAD DIGEST",
        "REPLAYED",
    ];
    let right = [
        false, false, true, true, false, false, true, true, true, true, true,
    ];
    let rows = instances
        .iter()
        .map(|i| {
            let master = match (i.master, i.state) {
                (Some(addr), StateName::Master) => format!("{addr} (us)"),
                (Some(addr), _) => addr.to_string(),
                (None, _) => "-".to_owned(),
            };
            vec![
                clean(&i.name),
                clean(&i.interface),
                i.vlan.to_string(),
                i.vhid.to_string(),
                i.state.to_string(),
                master,
                human_duration(now_unix_ms.saturating_sub(i.state_since_unix_ms)),
                i.counters.adverts_sent.to_string(),
                i.counters.adverts_received.to_string(),
                i.counters.bad_digest.to_string(),
                i.counters.replayed.to_string(),
            ]
        })
        .collect();
    table(&headers, &right, rows)
}

/// Per instance, what a table cell cannot hold: why it is in its state and
/// how its last script ended.
fn instance_details(instances: &[InstanceStatus], now_unix_ms: u64) -> String {
    let mut out = String::new();
    for i in instances {
        let ago = |at: u64| human_duration(now_unix_ms.saturating_sub(at));
        let mut line = format!("{}:", clean(&i.name));
        match &i.last_transition {
            Some(t) => {
                let _ = write!(
                    line,
                    " {} -> {} {} ago ({})",
                    t.from,
                    t.to,
                    ago(t.at_unix_ms),
                    clean(&t.reason)
                );
            }
            None => line.push_str(" no transition yet"),
        }
        if let Some(s) = &i.last_script {
            let outcome = match (s.exit, s.timed_out) {
                (_, true) => "timed out".to_owned(),
                (Some(code), false) => format!("exited {code}"),
                (None, false) => "failed (no exit status)".to_owned(),
            };
            let _ = write!(
                line,
                "; {} script {outcome} {} ago",
                s.which.as_str(),
                ago(s.at_unix_ms)
            );
        }
        let c = &i.counters;
        if c.script_runs > 0 {
            let _ = write!(
                line,
                "; scripts run {}, failed {}",
                c.script_runs, c.script_failures
            );
        }
        if c.send_errors > 0 || c.malformed > 0 {
            let _ = write!(
                line,
                "; send errors {}, malformed {}",
                c.send_errors, c.malformed
            );
        }
        if i.rx_path != RxPath::Xdp {
            let _ = write!(line, "; receiving on a {} filter", i.rx_path.as_str());
        }
        if i.demotion > 0 {
            let _ = write!(line, "; demoted (level {})", i.demotion);
        }
        out.push_str("  ");
        out.push_str(&line);
        out.push('\n');
    }
    if out.is_empty() {
        out
    } else {
        format!("\n{out}")
    }
}

fn interface_table(interfaces: &[InterfaceStatus]) -> String {
    let headers = ["INTERFACE", "IFINDEX", "LINK", "XDP"];
    let right = [false, true, false, false];
    let rows = interfaces
        .iter()
        .map(|iface| {
            vec![
                clean(&iface.name),
                iface.ifindex.to_string(),
                if iface.running { "running" } else { "down" }.to_owned(),
                iface
                    .xdp_mode
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), clean),
            ]
        })
        .collect();
    table(&headers, &right, rows)
}

/// `<what>: N to the daemon, N passed, N dropped: reason=N …`, the drop
/// reasons that are not zero.
fn xdp_line(what: &str, counters: &BTreeMap<String, u64>) -> String {
    let sum = |verdict| {
        counters
            .iter()
            .filter(|(name, _)| xdp_verdict(name) == Some(verdict))
            .fold(0u64, |acc, (_, v)| acc.saturating_add(*v))
    };
    let mut line = format!(
        "{what}: {} to the daemon, {} passed, {} dropped",
        sum(XdpVerdict::ToDaemon),
        sum(XdpVerdict::Pass),
        sum(XdpVerdict::Drop),
    );
    let reasons: Vec<String> = counters
        .iter()
        .filter(|(name, v)| **v > 0 && xdp_verdict(name) == Some(XdpVerdict::Drop))
        .map(|(name, v)| format!("{}={v}", clean(name)))
        .collect();
    if !reasons.is_empty() {
        line.push_str(": ");
        line.push_str(&reasons.join(" "));
    }
    line.push('\n');
    line
}

/// Columns padded to their widest cell, two spaces apart, no trailing
/// spaces.
fn table(headers: &[&str], right_aligned: &[bool], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(header_row).chain(rows) {
        let mut line = String::new();
        for (col, cell) in row.iter().enumerate() {
            let width = widths.get(col).copied().unwrap_or(0);
            if col > 0 {
                line.push_str("  ");
            }
            if right_aligned.get(col).copied().unwrap_or(false) {
                let _ = write!(line, "{cell:>width$}");
            } else {
                let _ = write!(line, "{cell:<width$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `42s`, `5m03s`, `2h05m03s`, `3d04h05m`.
fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d{h:02}h{m:02}m")
    } else if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// The text with control characters (which could move a terminal's
/// cursor) replaced by `?`.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

// ---------------------------------------------------------------------------
// JSON

/// The snapshot as pretty-printed JSON, with a final newline.
#[must_use]
pub fn render_json(snapshot: &Snapshot) -> String {
    match serde_json::to_string_pretty(snapshot) {
        Ok(mut json) => {
            json.push('\n');
            json
        }
        // Not expected (every map key is a string); still an answer, not a
        // panic.
        Err(e) => format!(
            "{{\"error\": {}}}\n",
            serde_json::Value::String(e.to_string())
        ),
    }
}

// ---------------------------------------------------------------------------
// Prometheus

/// The snapshot in the Prometheus text exposition format 0.0.4: each
/// family's `# HELP` and `# TYPE` lines, then its samples, families in a
/// fixed order (docs/status.md, "Metrics").
#[must_use]
pub fn render_prometheus(snapshot: &Snapshot) -> String {
    let mut out = Exposition::default();
    let instances = &snapshot.instances;

    out.family(
        "xcarp_build_info",
        Kind::Gauge,
        "Always 1; the version label is the daemon's version.",
    );
    out.sample(
        "xcarp_build_info",
        &[("version", &snapshot.xcarp_version)],
        1,
    );
    out.family(
        "xcarp_start_time_seconds",
        Kind::Gauge,
        "When the daemon started, seconds since the Unix epoch.",
    );
    out.sample(
        "xcarp_start_time_seconds",
        &[],
        Seconds(snapshot.started_unix_ms),
    );

    out.per_instance(
        instances,
        "xcarp_instance_info",
        Kind::Gauge,
        "Always 1; rx_path says where adverts come from (xdp, or socket when another program holds the XDP slot).",
        |i| vec![(vec![("rx_path", i.rx_path.as_str().to_owned())], Value::from(1))],
    );
    out.per_instance(
        instances,
        "xcarp_instance_state",
        Kind::Gauge,
        "1 for the instance's current state, 0 for the others.",
        |i| {
            StateName::ALL
                .iter()
                .map(|s| {
                    (
                        vec![("state", s.label().to_owned())],
                        Value::from(u64::from(*s == i.state)),
                    )
                })
                .collect()
        },
    );
    out.per_instance(
        instances,
        "xcarp_instance_is_master",
        Kind::Gauge,
        "1 when the instance is MASTER, else 0.",
        |i| one(u64::from(i.state == StateName::Master)),
    );
    out.per_instance(
        instances,
        "xcarp_instance_address_info",
        Kind::Gauge,
        "Always 1, one series per virtual address of the instance.",
        |i| {
            i.addresses
                .iter()
                .map(|a| (vec![("address", a.to_string())], Value::from(1)))
                .collect()
        },
    );
    out.per_instance(
        instances,
        "xcarp_master_info",
        Kind::Gauge,
        "Always 1; address is the current master (ours when MASTER, else the source of the last authentic advert within the master-down interval). Absent when no master is known.",
        |i| {
            i.master
                .iter()
                .map(|a| (vec![("address", a.to_string())], Value::from(1)))
                .collect()
        },
    );
    out.per_instance(
        instances,
        "xcarp_advert_interval_seconds",
        Kind::Gauge,
        "The instance's advert interval, advbase + advskew/256.",
        |i| one(Seconds(i.advert_interval_ms)),
    );
    out.per_instance(
        instances,
        "xcarp_master_down_interval_seconds",
        Kind::Gauge,
        "How long a backup waits for an advert before it takes over.",
        |i| one(Seconds(i.master_down_ms)),
    );
    out.per_instance(
        instances,
        "xcarp_state_since_seconds",
        Kind::Gauge,
        "When the instance entered its current state, seconds since the Unix epoch.",
        |i| one(Seconds(i.state_since_unix_ms)),
    );

    let counters: [(&str, &str, ReadCounter); 11] = [
        ("xcarp_adverts_sent_total", "Adverts sent.", |i| {
            i.counters.adverts_sent
        }),
        (
            "xcarp_adverts_received_total",
            "Authentic, fresh adverts received and handed to the state machine.",
            |i| i.counters.adverts_received,
        ),
        (
            "xcarp_send_errors_total",
            "Frame writes (adverts, gratuitous ARPs) that failed.",
            |i| i.counters.send_errors,
        ),
        (
            "xcarp_auth_failures_total",
            "Adverts the daemon dropped because their HMAC-SHA1 digest did not verify; those the XDP program drops are in xcarp_xdp_frames_total{reason=\"bad_digest\"}.",
            |i| i.counters.bad_digest,
        ),
        (
            "xcarp_replays_dropped_total",
            "Authentic adverts the daemon dropped as replays (docs/xdp.md, Freshness); the XDP program's are in xcarp_xdp_frames_total{reason=\"replayed\"}.",
            |i| i.counters.replayed,
        ),
        (
            "xcarp_malformed_total",
            "Adverts the daemon could not decode or whose checksum failed.",
            |i| i.counters.malformed,
        ),
        ("xcarp_became_master_total", "Transitions to MASTER.", |i| {
            i.counters.became_master
        }),
        (
            "xcarp_released_master_total",
            "Transitions from MASTER to another state.",
            |i| i.counters.released_master,
        ),
        (
            "xcarp_script_runs_total",
            "Up and down scripts started.",
            |i| i.counters.script_runs,
        ),
        (
            "xcarp_script_failures_total",
            "Scripts that failed to start, exited non-zero, were killed or timed out.",
            |i| i.counters.script_failures,
        ),
        (
            "xcarp_script_timeouts_total",
            "Scripts killed at the script timeout.",
            |i| i.counters.script_timeouts,
        ),
    ];
    for (name, help, read) in counters {
        out.per_instance(instances, name, Kind::Counter, help, |i| one(read(i)));
    }

    out.per_instance(
        instances,
        "xcarp_last_script_exit_code",
        Kind::Gauge,
        "Exit status of the last up or down script; -1 when it did not exit by itself (failed to start, killed, timed out). Absent before the first script.",
        |i| {
            i.last_script
                .iter()
                .map(|s| {
                    let code = if s.timed_out { None } else { s.exit };
                    (
                        vec![("script", s.which.as_str().to_owned())],
                        Value::Int(code.map_or(-1, i64::from)),
                    )
                })
                .collect()
        },
    );
    out.per_instance(
        instances,
        "xcarp_last_script_success",
        Kind::Gauge,
        "1 when the last up or down script exited with status 0, else 0. Absent before the first script.",
        |i| {
            i.last_script
                .iter()
                .map(|s| {
                    (
                        vec![("script", s.which.as_str().to_owned())],
                        Value::from(u64::from(s.succeeded())),
                    )
                })
                .collect()
        },
    );
    out.per_instance(
        instances,
        "xcarp_last_script_timestamp_seconds",
        Kind::Gauge,
        "When the last up or down script ended, seconds since the Unix epoch. Absent before the first script.",
        |i| {
            i.last_script
                .iter()
                .map(|s| {
                    (
                        vec![("script", s.which.as_str().to_owned())],
                        Value::from(Seconds(s.at_unix_ms)),
                    )
                })
                .collect()
        },
    );

    health::health_families(&mut out, instances);

    let interfaces = &snapshot.interfaces;
    out.family(
        "xcarp_interface_running",
        Kind::Gauge,
        "1 when the interface is up with a carrier, else 0.",
    );
    for iface in interfaces {
        out.sample(
            "xcarp_interface_running",
            &[("interface", &iface.name)],
            u64::from(iface.running),
        );
    }
    out.family(
        "xcarp_xdp_attached",
        Kind::Gauge,
        "1 when the XDP program is attached to the interface (mode: driver, skb, ...), 0 when adverts come through a socket filter (mode=\"none\").",
    );
    for iface in interfaces {
        let mode = iface.xdp_mode.as_deref().unwrap_or("none");
        out.sample(
            "xcarp_xdp_attached",
            &[("interface", &iface.name), ("mode", mode)],
            u64::from(iface.xdp_mode.is_some()),
        );
    }
    out.family(
        "xcarp_xdp_frames_total",
        Kind::Counter,
        "Frames the XDP program saw on all its interfaces together, by what it did (verdict: pass, to_daemon, drop) and why (reason: its counter's name).",
    );
    for (reason, value) in snapshot.xdp_counters.iter().flatten() {
        out.sample(
            "xcarp_xdp_frames_total",
            &[("verdict", xdp_verdict_label(reason)), ("reason", reason)],
            *value,
        );
    }
    out.family(
        "xcarp_xdp_interface_frames_total",
        Kind::Counter,
        "As xcarp_xdp_frames_total, for one interface; only when the XDP program counts per interface.",
    );
    for iface in interfaces {
        for (reason, value) in iface.xdp_counters.iter().flatten() {
            out.sample(
                "xcarp_xdp_interface_frames_total",
                &[
                    ("interface", &iface.name),
                    ("verdict", xdp_verdict_label(reason)),
                    ("reason", reason),
                ],
                *value,
            );
        }
    }
    out.text
}

/// The `verdict` label of an XDP counter (`unknown` for a name this
/// version does not know).
fn xdp_verdict_label(reason: &str) -> &'static str {
    xdp_verdict(reason).map_or("unknown", XdpVerdict::label)
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// Milliseconds, written as seconds with up to three decimals.
#[derive(Clone, Copy)]
struct Seconds(u64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, ms) = (self.0 / 1000, self.0 % 1000);
        if ms == 0 {
            write!(f, "{s}")
        } else {
            let frac = format!("{ms:03}");
            write!(f, "{s}.{}", frac.trim_end_matches('0'))
        }
    }
}

/// A sample value. Integers are written exactly (no float rounding of
/// large counters).
#[derive(Clone, Copy)]
enum Value {
    Uint(u64),
    Int(i64),
    Seconds(Seconds),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Self::Uint(v)
    }
}

impl From<Seconds> for Value {
    fn from(v: Seconds) -> Self {
        Self::Seconds(v)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uint(v) => write!(f, "{v}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::Seconds(v) => write!(f, "{v}"),
        }
    }
}

/// Reads one counter of an instance.
type ReadCounter = fn(&InstanceStatus) -> u64;

/// Extra labels and value of one sample of an instance.
type InstanceSample = (Vec<(&'static str, String)>, Value);

fn one(value: impl Into<Value>) -> Vec<InstanceSample> {
    vec![(Vec::new(), value.into())]
}

#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (n, (label, value)) in labels.iter().enumerate() {
                if n > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape_label(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", value.into());
    }

    /// One family with the samples `samples` gives for each instance, each
    /// labelled `name`, `interface`, `vlan`, `vhid` and its extra labels.
    fn per_instance(
        &mut self,
        instances: &[InstanceStatus],
        name: &str,
        kind: Kind,
        help: &str,
        samples: impl Fn(&InstanceStatus) -> Vec<InstanceSample>,
    ) {
        self.family(name, kind, help);
        for instance in instances {
            let vlan = instance.vlan.to_string();
            let vhid = instance.vhid.to_string();
            for (extra, value) in samples(instance) {
                let mut labels: Vec<(&str, &str)> = vec![
                    ("name", &instance.name),
                    ("interface", &instance.interface),
                    ("vlan", &vlan),
                    ("vhid", &vhid),
                ];
                labels.extend(extra.iter().map(|(l, v)| (*l, v.as_str())));
                self.sample(name, &labels, value);
            }
        }
    }
}

/// A label value: backslash, double quote and line feed escaped.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A HELP text: backslash and line feed escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

mod health;
#[cfg(test)]
mod tests;
