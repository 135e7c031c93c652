//! The health part of the renderings: each instance's demotion level, its
//! checks and tracked interfaces (docs/status.md, "Health").
use super::{Exposition, InstanceSample, Kind, Seconds, Value, clean, human_duration, one, table};
use crate::status::snapshot::InstanceStatus;

/// The text table of every check and tracked interface, after a blank
/// line; empty when no instance has any.
pub(super) fn health_table(instances: &[InstanceStatus], now_unix_ms: u64) -> String {
    let headers = [
        "INSTANCE",
        "HEALTH",
        "STATE",
        "IN A ROW",
        "FALL/RISE",
        "LAST",
        "LAST RUN",
    ];
    let right = [false, false, false, true, true, false, true];
    let mut rows = Vec::new();
    for i in instances {
        for c in &i.checks {
            let in_a_row = if c.consecutive_failures > 0 {
                format!("{} failed", c.consecutive_failures)
            } else {
                format!("{} ok", c.consecutive_successes)
            };
            rows.push(vec![
                clean(&i.name),
                format!("check {}", clean(&c.name)),
                if c.failing { "failing" } else { "ok" }.to_owned(),
                in_a_row,
                format!("{}/{}", c.fall, c.rise),
                c.last_run
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |r| clean(&r.describe())),
                c.last_run.as_ref().map_or_else(
                    || "-".to_owned(),
                    |r| {
                        format!(
                            "{} ago",
                            human_duration(now_unix_ms.saturating_sub(r.at_unix_ms))
                        )
                    },
                ),
            ]);
        }
        for t in &i.tracked_interfaces {
            rows.push(vec![
                clean(&i.name),
                format!("interface {}", clean(&t.name)),
                if t.up { "up" } else { "down" }.to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ]);
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    format!("\n{}", table(&headers, &right, rows))
}

/// The health families of the Prometheus text, every one present (HELP
/// and TYPE) even without samples.
pub(super) fn health_families(out: &mut Exposition, instances: &[InstanceStatus]) {
    out.per_instance(
        instances,
        "xcarp_demotion",
        Kind::Gauge,
        "The instance's demotion level, sent in the adverts' demote byte: one per failing health check and per tracked interface down; 0 when healthy.",
        |i| one(u64::from(i.demotion)),
    );
    let per_check = |read: fn(&crate::status::CheckStatus) -> Option<Value>| {
        move |i: &InstanceStatus| -> Vec<InstanceSample> {
            i.checks
                .iter()
                .filter_map(|c| read(c).map(|v| (vec![("check", c.name.clone())], v)))
                .collect()
        }
    };
    out.per_instance(
        instances,
        "xcarp_check_failing",
        Kind::Gauge,
        "1 while the health check fails (fall failed runs in a row, not yet rise successes), else 0.",
        per_check(|c| Some(Value::from(u64::from(c.failing)))),
    );
    out.per_instance(
        instances,
        "xcarp_check_consecutive_failures",
        Kind::Gauge,
        "Failed runs of the health check in a row (0 after a success).",
        per_check(|c| Some(Value::from(u64::from(c.consecutive_failures)))),
    );
    out.per_instance(
        instances,
        "xcarp_check_consecutive_successes",
        Kind::Gauge,
        "Successful runs of the health check in a row (0 after a failure).",
        per_check(|c| Some(Value::from(u64::from(c.consecutive_successes)))),
    );
    out.per_instance(
        instances,
        "xcarp_check_runs_total",
        Kind::Counter,
        "Runs of the health check since it started (a reload that changes it starts it again).",
        per_check(|c| Some(Value::from(c.runs))),
    );
    out.per_instance(
        instances,
        "xcarp_check_failures_total",
        Kind::Counter,
        "Runs of the health check that did not exit with status 0 (exited non-zero, killed, timed out or not started).",
        per_check(|c| Some(Value::from(c.failed_runs))),
    );
    out.per_instance(
        instances,
        "xcarp_check_timeouts_total",
        Kind::Counter,
        "Runs of the health check killed at its timeout (also counted as failures).",
        per_check(|c| Some(Value::from(c.timeouts))),
    );
    out.per_instance(
        instances,
        "xcarp_check_last_exit_code",
        Kind::Gauge,
        "Exit status of the health check's last run; -1 when it did not exit by itself (not started, killed, timed out). Absent before the first run.",
        per_check(|c| {
            c.last_run.as_ref().map(|r| {
                let code = if r.timed_out { None } else { r.exit };
                Value::Int(code.map_or(-1, i64::from))
            })
        }),
    );
    out.per_instance(
        instances,
        "xcarp_check_last_run_timestamp_seconds",
        Kind::Gauge,
        "When the health check's last run ended, seconds since the Unix epoch. Absent before the first run.",
        per_check(|c| {
            c.last_run
                .as_ref()
                .map(|r| Value::from(Seconds(r.at_unix_ms)))
        }),
    );
    out.per_instance(
        instances,
        "xcarp_tracked_interface_up",
        Kind::Gauge,
        "1 when the tracked interface (label tracked) is up with a carrier, 0 when it is down or missing (each such interface demotes the instance by one).",
        |i| {
            i.tracked_interfaces
                .iter()
                .map(|t| {
                    (
                        vec![("tracked", t.name.clone())],
                        Value::from(u64::from(t.up)),
                    )
                })
                .collect()
        },
    );
}
