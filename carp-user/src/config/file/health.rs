//! The health keys of an `[[instance]]`: `check` (one table, or an array of
//! tables `[[instance.check]]`) and `track_interface` (docs/config.md,
//! "Health checks").
use std::{collections::HashSet, time::Duration};

use toml::de::DeValue;

use super::{Checks, Found, Parser, Table, found};
use crate::config::{
    DEFAULT_CHECK_FALL, DEFAULT_CHECK_INTERVAL, DEFAULT_CHECK_RISE, HealthCheck, range,
};

/// Keys of one `check` table.
pub(super) const CHECK_KEYS: &[&str] = &["name", "command", "interval", "timeout", "fall", "rise"];

impl Parser<'_> {
    /// The checks of an instance: its own `check`, else the defaults'.
    pub(super) fn checks(&mut self, f: Option<Found<'_, '_>>) -> Vec<HealthCheck> {
        let Some(f) = f else {
            return Vec::new();
        };
        let tables: Vec<(&Table<'_>, usize)> = match f.value.get_ref() {
            DeValue::Table(t) => vec![(t, f.span().start)],
            DeValue::Array(items) => {
                let mut tables = Vec::new();
                for item in items {
                    match item.get_ref() {
                        DeValue::Table(t) => tables.push((t, item.span().start)),
                        _ => self.type_error(
                            Found {
                                value: item,
                                key: "check",
                            },
                            "a table of `command` and its settings",
                        ),
                    }
                }
                tables
            }
            _ => {
                self.type_error(
                    f,
                    "a [instance.check] table or [[instance.check]] tables (a table of `command` \
                     and its settings)",
                );
                return Vec::new();
            }
        };
        let mut checks: Vec<HealthCheck> = Vec::new();
        let mut names = HashSet::new();
        for (t, at) in tables {
            let Some(check) = self.check(t, at) else {
                continue;
            };
            if !names.insert(check.name.clone()) {
                self.error(
                    at,
                    Some("check"),
                    format!(
                        "two checks of the instance are named \"{}\" (give each a `name` of \
                         its own; the default is the program's file name)",
                        check.name
                    ),
                );
                continue;
            }
            checks.push(check);
        }
        checks
    }

    fn check(&mut self, t: &Table<'_>, at: usize) -> Option<HealthCheck> {
        self.unknown_keys(t, CHECK_KEYS, "a check");
        let before = self.errors.len();
        let command = match found(t, "command") {
            Some(f) => self.command(f),
            None => {
                self.error(
                    at,
                    Some("command"),
                    "missing in this check (the program and its arguments, such as \
                     [\"/usr/bin/curl\", \"-fsS\", \"http://127.0.0.1/\"])"
                        .into(),
                );
                None
            }
        };
        let interval = match found(t, "interval") {
            Some(f) => self.seconds(f),
            None => Some(DEFAULT_CHECK_INTERVAL),
        };
        let timeout = match found(t, "timeout") {
            Some(f) => {
                let timeout = self.seconds(f);
                if let (Some(timeout), Some(interval)) = (timeout, interval)
                    && timeout > interval
                {
                    self.key_error(
                        f,
                        format!(
                            "{} s is longer than the interval of {} s (a run must end before \
                             the next one starts: the timeout is at most the interval)",
                            timeout.as_secs_f64(),
                            interval.as_secs_f64()
                        ),
                    );
                }
                timeout
            }
            None => interval,
        };
        let runs = |p: &mut Self, key: &'static str, default: u32| match found(t, key) {
            Some(f) => p
                .integer(f, &range::CHECK_RUNS, " consecutive runs")
                .map(|n| n as u32),
            None => Some(default),
        };
        let fall = runs(self, "fall", DEFAULT_CHECK_FALL);
        let rise = runs(self, "rise", DEFAULT_CHECK_RISE);
        let name = match found(t, "name") {
            Some(f) => self.plain_string(f).and_then(|n| {
                if n.is_empty() || n.chars().any(char::is_control) {
                    self.key_error(
                        f,
                        "expected a name for logs and status (not empty, no control characters)"
                            .into(),
                    );
                    None
                } else {
                    Some(n)
                }
            }),
            None => command.as_ref().map(|(program, _)| {
                program
                    .file_name()
                    .map_or_else(|| "check".to_owned(), |n| n.to_string_lossy().into_owned())
            }),
        };
        if self.errors.len() > before {
            return None;
        }
        let (program, args) = command?;
        Some(HealthCheck {
            name: name?,
            program,
            args,
            interval: interval?,
            timeout: timeout?,
            fall: fall?,
            rise: rise?,
        })
    }

    /// A check's argument vector: its program (a path, resolved and, with
    /// [`Checks::Full`], checked as the up/down scripts are) and the
    /// arguments, passed as they are: no shell.
    fn command(&mut self, f: Found<'_, '_>) -> Option<(std::path::PathBuf, Vec<String>)> {
        let expected = "a list of the program and its arguments, such as [\"/usr/bin/curl\", \
                        \"-fsS\", \"http://127.0.0.1/\"] (run without a shell: for one, give \
                        [\"/bin/sh\", \"-c\", \"...\"])";
        let DeValue::Array(items) = f.value.get_ref() else {
            self.type_error(f, expected);
            return None;
        };
        let Some((first, rest)) = items.split_first() else {
            self.key_error(f, format!("is empty (expected {expected})"));
            return None;
        };
        let program_found = Found {
            value: first,
            key: f.key,
        };
        if self.checks == Checks::Full
            && let DeValue::String(typed) = first.get_ref()
            && !typed.contains('/')
            && !self.base.join(typed.as_ref()).exists()
        {
            // The usual slip: a program named as a shell would find it.
            self.key_error(
                program_found,
                format!(
                    "{}: no such file (a program is looked up in the configuration file's \
                     directory, not in PATH: give its absolute path, such as /usr/bin/{typed})",
                    self.base.join(typed.as_ref()).display()
                ),
            );
            return None;
        }
        let program = self.script(program_found)?;
        let mut args = Vec::with_capacity(rest.len());
        for item in rest {
            args.push(self.plain_string(Found {
                value: item,
                key: f.key,
            })?);
        }
        Some((program, args))
    }

    /// Seconds, an integer or a decimal, within [`range::CHECK_PERIOD_MS`].
    fn seconds(&mut self, f: Found<'_, '_>) -> Option<Duration> {
        let (min, max) = (
            *range::CHECK_PERIOD_MS.start() as f64 / 1000.0,
            *range::CHECK_PERIOD_MS.end() as f64 / 1000.0,
        );
        let what = format!("{min}-{max} seconds, such as 2 or 0.5");
        let value = match f.value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(x) => x.as_str().replace('_', "").parse::<f64>().ok(),
            _ => {
                self.type_error(f, &format!("a number ({what})"));
                return None;
            }
        };
        match value {
            Some(s) if (min..=max).contains(&s) => Some(Duration::from_millis((s * 1000.0) as u64)),
            _ => {
                self.key_error(f, format!("out of range ({what})"));
                None
            }
        }
    }

    /// `track_interface`: interface names, no duplicates.
    pub(super) fn track_interfaces(&mut self, f: Option<Found<'_, '_>>) -> Vec<String> {
        let Some(f) = f else {
            return Vec::new();
        };
        let DeValue::Array(items) = f.value.get_ref() else {
            self.type_error(f, "a list of interface names such as [\"eth1\"]");
            return Vec::new();
        };
        let mut names: Vec<String> = Vec::new();
        for item in items {
            let Some(name) = self.interface_name(Found {
                value: item,
                key: f.key,
            }) else {
                continue;
            };
            if names.contains(&name) {
                self.error(
                    item.span().start,
                    Some(f.key),
                    format!("\"{name}\" is listed twice"),
                );
                continue;
            }
            names.push(name);
        }
        names
    }
}
