use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    net::Ipv4Addr,
};

use super::*;
use crate::{
    status::snapshot::{
        CheckRun, CheckStatus, InstanceCounters, ScriptStatus, ScriptWhich, TrackedInterfaceStatus,
        TransitionInfo, xdp_counter_map,
    },
    xdp::XdpCounters,
};

const NOW: u64 = 1_700_000_000_000;

fn sample_snapshot() -> Snapshot {
    let xdp = XdpCounters {
        not_carp: 9000,
        foreign_vhid: 12,
        accepted: 120,
        bad_digest: 3,
        replayed: 2,
        ..XdpCounters::default()
    };
    Snapshot {
        xcarp_version: "0.1.0".to_owned(),
        pid: 4242,
        started_unix_ms: NOW - 3_600_000,
        instances: vec![
            InstanceStatus {
                name: "web".to_owned(),
                interface: "eth0".to_owned(),
                vlan: 0,
                vhid: 42,
                addresses: vec![Ipv4Addr::new(10, 1, 1, 252)],
                state: StateName::Master,
                master: Some(Ipv4Addr::new(10, 1, 1, 1)),
                advbase: 1,
                advskew: 0,
                advert_interval_ms: 1000,
                master_down_ms: 3000,
                state_since_unix_ms: NOW - 3_725_000,
                last_transition: Some(TransitionInfo {
                    at_unix_ms: NOW - 3_725_000,
                    from: StateName::Backup,
                    to: StateName::Master,
                    reason: "no advert for the master-down interval".to_owned(),
                }),
                counters: InstanceCounters {
                    adverts_sent: 3721,
                    adverts_received: 0,
                    bad_digest: 3,
                    replayed: 2,
                    became_master: 1,
                    script_runs: 1,
                    ..InstanceCounters::default()
                },
                last_script: Some(ScriptStatus {
                    which: ScriptWhich::Up,
                    exit: Some(0),
                    timed_out: false,
                    at_unix_ms: NOW - 3_724_000,
                }),
                rx_path: RxPath::Xdp,
                demotion: 0,
                checks: vec![CheckStatus {
                    name: "http".to_owned(),
                    failing: false,
                    consecutive_failures: 0,
                    consecutive_successes: 1800,
                    fall: 3,
                    rise: 2,
                    interval_ms: 2000,
                    timeout_ms: 2000,
                    runs: 1802,
                    failed_runs: 2,
                    timeouts: 0,
                    last_run: Some(CheckRun {
                        exit: Some(0),
                        signal: None,
                        timed_out: false,
                        error: None,
                        at_unix_ms: NOW - 1_500,
                    }),
                }],
                tracked_interfaces: vec![TrackedInterfaceStatus {
                    name: "eth2".to_owned(),
                    up: true,
                }],
            },
            InstanceStatus {
                name: "db".to_owned(),
                interface: "eth1".to_owned(),
                vlan: 10,
                vhid: 7,
                addresses: vec![Ipv4Addr::new(10, 2, 0, 10), Ipv4Addr::new(10, 2, 0, 11)],
                state: StateName::Backup,
                master: Some(Ipv4Addr::new(10, 2, 0, 2)),
                advbase: 2,
                advskew: 128,
                advert_interval_ms: 2500,
                master_down_ms: 7500,
                state_since_unix_ms: NOW - 42_000,
                last_transition: None,
                counters: InstanceCounters {
                    adverts_received: 21,
                    ..InstanceCounters::default()
                },
                last_script: Some(ScriptStatus {
                    which: ScriptWhich::Down,
                    exit: None,
                    timed_out: true,
                    at_unix_ms: NOW - 40_000,
                }),
                rx_path: RxPath::Socket,
                demotion: 2,
                checks: vec![
                    CheckStatus {
                        name: "pg".to_owned(),
                        failing: true,
                        consecutive_failures: 4,
                        consecutive_successes: 0,
                        fall: 3,
                        rise: 2,
                        interval_ms: 500,
                        timeout_ms: 250,
                        runs: 10,
                        failed_runs: 4,
                        timeouts: 4,
                        last_run: Some(CheckRun {
                            exit: None,
                            signal: None,
                            timed_out: true,
                            error: None,
                            at_unix_ms: NOW - 3_000,
                        }),
                    },
                    CheckStatus {
                        name: "fresh".to_owned(),
                        fall: 1,
                        rise: 1,
                        interval_ms: 1000,
                        timeout_ms: 1000,
                        ..CheckStatus::default()
                    },
                ],
                tracked_interfaces: vec![TrackedInterfaceStatus {
                    name: "bond0".to_owned(),
                    up: false,
                }],
            },
        ],
        interfaces: vec![
            InterfaceStatus {
                name: "eth0".to_owned(),
                ifindex: 2,
                running: true,
                xdp_mode: Some("driver".to_owned()),
                // As a program counting per interface would report it.
                xdp_counters: Some(xdp_counter_map(&xdp)),
            },
            InterfaceStatus {
                name: "eth1".to_owned(),
                ifindex: 3,
                running: false,
                xdp_mode: None,
                xdp_counters: None,
            },
        ],
        xdp_counters: Some(xdp_counter_map(&XdpCounters {
            not_carp: 20_000,
            ..xdp
        })),
    }
}

// --- text -------------------------------------------------------------------

#[test]
fn text_has_one_aligned_row_per_instance() {
    let text = render_text_at(&sample_snapshot(), NOW);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "xcarp 0.1.0 (pid 4242), up 1h00m00s");
    let header = lines
        .iter()
        .position(|l| l.starts_with("NAME"))
        .expect("instance header");
    let cols = |line: &str| -> Vec<String> {
        // Columns are two or more spaces apart; "10.1.1.1 (us)" and
        // "BAD DIGEST" hold single spaces.
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        cols(lines[header]),
        [
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
            "REPLAYED"
        ]
    );
    assert_eq!(
        cols(lines[header + 1]),
        [
            "web",
            "eth0",
            "0",
            "42",
            "MASTER",
            "10.1.1.1 (us)",
            "1h02m05s",
            "3721",
            "0",
            "3",
            "2"
        ]
    );
    assert_eq!(
        cols(lines[header + 2]),
        [
            "db", "eth1", "10", "7", "BACKUP", "10.2.0.2", "42s", "0", "21", "0", "0"
        ]
    );
    // Aligned: every column starts at the same offset as its header.
    let state_at = lines[header].find("STATE").unwrap();
    assert_eq!(&lines[header + 1][state_at..state_at + 6], "MASTER");
    assert_eq!(&lines[header + 2][state_at..state_at + 6], "BACKUP");
    assert!(text.lines().all(|l| l == l.trim_end()), "trailing spaces");
}

#[test]
fn text_shows_transitions_scripts_and_xdp_drops() {
    let text = render_text_at(&sample_snapshot(), NOW);
    assert!(
        text.contains(
            "web: BACKUP -> MASTER 1h02m05s ago (no advert for the master-down interval); \
             up script exited 0 1h02m04s ago; scripts run 1, failed 0"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "db: no transition yet; down script timed out 40s ago; receiving on a socket filter"
        ),
        "{text}"
    );
    let eth0 = text
        .lines()
        .find(|l| l.starts_with("eth0 "))
        .expect("eth0 row");
    assert_eq!(
        eth0.split_whitespace().collect::<Vec<_>>(),
        ["eth0", "2", "running", "driver"]
    );
    let eth1 = text.lines().find(|l| l.starts_with("eth1 ")).unwrap();
    assert_eq!(
        eth1.split_whitespace().collect::<Vec<_>>(),
        ["eth1", "3", "down", "-"]
    );
    assert!(
        text.contains(
            "XDP program, all interfaces: 120 to the daemon, 20012 passed, 5 dropped: \
             bad_digest=3 replayed=2\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "XDP on eth0: 120 to the daemon, 9012 passed, 5 dropped: bad_digest=3 replayed=2\n"
        ),
        "{text}"
    );
    assert!(!text.contains("XDP on eth1"), "{text}");
}

#[test]
fn text_shows_demotion_checks_and_tracked_interfaces() {
    let text = render_text_at(&sample_snapshot(), NOW);
    assert!(
        text.contains("; receiving on a socket filter; demoted (level 2)\n"),
        "{text}"
    );
    assert!(!text.contains("web: BACKUP -> MASTER 1h02m05s ago (no advert for the master-down interval); up script exited 0 1h02m04s ago; scripts run 1, failed 0; demoted"), "{text}");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip_while(|l| !l.starts_with("INSTANCE"))
        .take_while(|l| !l.is_empty())
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        [
            vec![
                "INSTANCE",
                "HEALTH",
                "STATE",
                "IN A ROW",
                "FALL/RISE",
                "LAST",
                "LAST RUN"
            ],
            vec![
                "web",
                "check http",
                "ok",
                "1800 ok",
                "3/2",
                "exit 0",
                "1s ago"
            ],
            vec!["web", "interface eth2", "up", "-", "-", "-", "-"],
            vec![
                "db",
                "check pg",
                "failing",
                "4 failed",
                "3/2",
                "timed out",
                "3s ago"
            ],
            vec!["db", "check fresh", "ok", "0 ok", "1/1", "-", "-"],
            vec!["db", "interface bond0", "down", "-", "-", "-", "-"],
        ],
        "{text}"
    );
    // No checks and no tracked interfaces: no health table.
    let mut bare = sample_snapshot();
    for i in &mut bare.instances {
        i.checks.clear();
        i.tracked_interfaces.clear();
    }
    assert!(!render_text_at(&bare, NOW).contains("HEALTH"));
}

#[test]
fn text_without_instances_says_so() {
    let snapshot = Snapshot {
        started_unix_ms: NOW,
        ..Snapshot::default()
    };
    let text = render_text_at(&snapshot, NOW);
    assert!(text.contains("no instances"), "{text}");
}

#[test]
fn text_replaces_control_characters() {
    let mut snapshot = sample_snapshot();
    snapshot.instances[0].name = "evil\x1b[2Jname".to_owned();
    let text = render_text_at(&snapshot, NOW);
    assert!(!text.contains('\x1b'));
    assert!(text.contains("evil?[2Jname"));
}

#[test]
fn durations_are_human() {
    assert_eq!(human_duration(0), "0s");
    assert_eq!(human_duration(59_999), "59s");
    assert_eq!(human_duration(61_000), "1m01s");
    assert_eq!(human_duration(3_600_000), "1h00m00s");
    assert_eq!(human_duration(90_061_000), "1d01h01m");
    // u64::MAX ms: no overflow, still days first.
    assert!(human_duration(u64::MAX).starts_with("213503982334d"));
}

#[test]
fn time_in_state_never_goes_negative() {
    // A wall clock stepped back: the state began "in the future".
    let mut snapshot = sample_snapshot();
    snapshot.instances[1].state_since_unix_ms = NOW + 10_000;
    let text = render_text_at(&snapshot, NOW);
    assert!(
        text.lines()
            .any(|l| l.starts_with("db ") && l.contains(" 0s "))
    );
}

// --- JSON -------------------------------------------------------------------

#[test]
fn json_round_trips() {
    let snapshot = sample_snapshot();
    let json = render_json(&snapshot);
    assert!(json.ends_with("}\n"));
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snapshot);
}

#[test]
fn json_uses_the_documented_shape() {
    let json: serde_json::Value = serde_json::from_str(&render_json(&sample_snapshot())).unwrap();
    let web = &json["instances"][0];
    assert_eq!(web["state"], "MASTER");
    assert_eq!(web["master"], "10.1.1.1");
    assert_eq!(web["addresses"][0], "10.1.1.252");
    assert_eq!(web["rx_path"], "xdp");
    assert_eq!(web["last_transition"]["from"], "BACKUP");
    assert_eq!(web["last_script"]["which"], "up");
    assert_eq!(web["counters"]["adverts_sent"], 3721);
    assert_eq!(
        json["instances"][1]["last_transition"],
        serde_json::Value::Null
    );
    assert_eq!(json["interfaces"][0]["xdp_counters"]["bad_digest"], 3);
    assert_eq!(json["xdp_counters"]["not_carp"], 20_000);
    assert_eq!(json["interfaces"][1]["xdp_mode"], serde_json::Value::Null);
    let db = &json["instances"][1];
    assert_eq!(db["demotion"], 2);
    assert_eq!(db["checks"][0]["name"], "pg");
    assert_eq!(db["checks"][0]["failing"], true);
    assert_eq!(db["checks"][0]["consecutive_failures"], 4);
    assert_eq!(db["checks"][0]["last_run"]["timed_out"], true);
    assert_eq!(db["checks"][0]["last_run"]["exit"], serde_json::Value::Null);
    assert_eq!(db["checks"][1]["last_run"], serde_json::Value::Null);
    assert_eq!(db["tracked_interfaces"][0]["name"], "bond0");
    assert_eq!(db["tracked_interfaces"][0]["up"], false);
    assert_eq!(web["checks"][0]["last_run"]["exit"], 0);
}

// --- Prometheus -------------------------------------------------------------

/// One parsed sample line.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A strict reader of the text exposition format 0.0.4, as far as xcarp
/// uses it: HELP then TYPE then the family's samples, each family once and
/// contiguous, no timestamps, no blank lines, escaped label values, a
/// final newline. Returns the samples and each family's type.
fn parse_exposition(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    assert!(text.ends_with('\n'), "no final newline");
    let mut types = BTreeMap::new();
    let mut helped = HashSet::new();
    let mut current: Option<String> = None;
    let mut samples = Vec::new();
    let mut series = HashSet::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "blank line");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP without text");
            assert!(!help.is_empty());
            let mut chars = help.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    assert!(
                        matches!(chars.next(), Some('\\' | 'n')),
                        "bad escape in HELP {name}"
                    );
                }
            }
            assert!(helped.insert(name.to_owned()), "second HELP for {name}");
            assert!(!types.contains_key(name), "HELP after TYPE for {name}");
            current = None;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE without type");
            assert!(helped.contains(name), "TYPE before HELP for {name}");
            assert!(
                matches!(kind, "counter" | "gauge"),
                "unexpected type {kind}"
            );
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "second TYPE for {name}"
            );
            current = Some(name.to_owned());
        } else {
            assert!(!line.starts_with('#'), "unknown comment: {line}");
            let sample = parse_sample(line);
            assert_eq!(
                current.as_deref(),
                Some(sample.name.as_str()),
                "sample outside its family: {line}"
            );
            assert!(
                series.insert((sample.name.clone(), sample.labels.clone())),
                "duplicate series: {line}"
            );
            samples.push(sample);
        }
    }
    (samples, types)
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_xcarp_name(name: &str) -> bool {
    name.strip_prefix("xcarp_").is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    })
}

/// `name{label="value",...} value`, with the value's escapes undone.
fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value: {line}"));
    let name = &line[..name_end];
    assert!(is_metric_name(name), "bad metric name in {line}");
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        let consumed = loop {
            // label name
            let start = chars.peek().map(|(i, _)| *i).expect("cut in labels");
            if after[start..].starts_with('}') {
                break start + 1;
            }
            let eq = after[start..].find('=').expect("label without =") + start;
            let label = &after[start..eq];
            assert!(
                is_metric_name(label) && !label.contains(':') && !label.starts_with("__"),
                "bad label name {label:?} in {line}"
            );
            while chars.peek().is_some_and(|(i, _)| *i <= eq) {
                chars.next();
            }
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "unquoted: {line}");
            let mut value = String::new();
            loop {
                match chars.next().expect("unterminated label value") {
                    (_, '\\') => match chars.next().expect("cut escape").1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        c => panic!("bad escape \\{c} in {line}"),
                    },
                    (_, '"') => break,
                    (_, '\n') => panic!("raw newline in label value"),
                    (_, c) => value.push(c),
                }
            }
            assert!(
                labels.insert(label.to_owned(), value).is_none(),
                "label {label} twice in {line}"
            );
            match chars.next().expect("cut after label") {
                (_, ',') => {}
                (i, '}') => break i + 1,
                (_, c) => panic!("unexpected {c:?} after label in {line}"),
            }
        };
        rest = &after[consumed..];
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("no space before value: {line}"));
    assert!(
        !value.contains(' '),
        "timestamp or junk after value: {line}"
    );
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v
            .parse()
            .unwrap_or_else(|_| panic!("bad value {v:?}: {line}")),
    };
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    samples.iter().find(|s| {
        s.name == name
            && labels
                .iter()
                .all(|(l, v)| s.labels.get(*l).map(String::as_str) == Some(*v))
    })
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    find(samples, name, labels)
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
        .value
}

#[test]
fn prometheus_output_is_well_formed() {
    let text = render_prometheus(&sample_snapshot());
    let (samples, types) = parse_exposition(&text);
    assert!(!samples.is_empty());
    for (name, kind) in &types {
        assert!(is_xcarp_name(name), "name {name} outside ^xcarp_[a-z_]+$");
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{name}: counters and only counters end in _total"
        );
    }
    for sample in &samples {
        assert!(is_xcarp_name(&sample.name));
        let global = [
            "xcarp_build_info",
            "xcarp_start_time_seconds",
            "xcarp_xdp_frames_total",
        ];
        if !global.contains(&sample.name.as_str()) {
            assert!(
                sample.labels.contains_key("interface"),
                "{} without interface label",
                sample.name
            );
        }
        if types[&sample.name] == "counter" {
            assert!(sample.value >= 0.0);
        }
    }
}

#[test]
fn prometheus_covers_the_documented_metrics() {
    let text = render_prometheus(&sample_snapshot());
    let (samples, types) = parse_exposition(&text);
    let web = [
        ("name", "web"),
        ("interface", "eth0"),
        ("vlan", "0"),
        ("vhid", "42"),
    ];
    let db = [
        ("name", "db"),
        ("interface", "eth1"),
        ("vlan", "10"),
        ("vhid", "7"),
    ];
    let with = |base: &[(&'static str, &'static str)], extra: (&'static str, &'static str)| {
        let mut v = base.to_vec();
        v.push(extra);
        v
    };
    assert_eq!(
        value(&samples, "xcarp_build_info", &[("version", "0.1.0")]),
        1.0
    );
    assert_eq!(
        value(&samples, "xcarp_start_time_seconds", &[]),
        (NOW - 3_600_000) as f64 / 1000.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_instance_state",
            &with(&web, ("state", "master"))
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_instance_state",
            &with(&web, ("state", "backup"))
        ),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_instance_state",
            &with(&db, ("state", "backup"))
        ),
        1.0
    );
    assert_eq!(
        samples
            .iter()
            .filter(|s| s.name == "xcarp_instance_state")
            .count(),
        6,
        "one series per state and instance"
    );
    assert_eq!(value(&samples, "xcarp_instance_is_master", &web), 1.0);
    assert_eq!(value(&samples, "xcarp_instance_is_master", &db), 0.0);
    assert_eq!(value(&samples, "xcarp_adverts_sent_total", &web), 3721.0);
    assert_eq!(value(&samples, "xcarp_adverts_received_total", &db), 21.0);
    assert_eq!(value(&samples, "xcarp_auth_failures_total", &web), 3.0);
    assert_eq!(value(&samples, "xcarp_replays_dropped_total", &web), 2.0);
    assert_eq!(value(&samples, "xcarp_became_master_total", &web), 1.0);
    assert_eq!(value(&samples, "xcarp_released_master_total", &web), 0.0);
    assert_eq!(value(&samples, "xcarp_malformed_total", &web), 0.0);
    assert_eq!(value(&samples, "xcarp_send_errors_total", &web), 0.0);
    assert_eq!(value(&samples, "xcarp_script_runs_total", &web), 1.0);
    assert_eq!(value(&samples, "xcarp_script_failures_total", &web), 0.0);
    assert_eq!(value(&samples, "xcarp_script_timeouts_total", &web), 0.0);
    assert_eq!(
        value(
            &samples,
            "xcarp_last_script_exit_code",
            &with(&web, ("script", "up"))
        ),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_last_script_exit_code",
            &with(&db, ("script", "down"))
        ),
        -1.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_last_script_success",
            &with(&db, ("script", "down"))
        ),
        0.0
    );
    assert_eq!(value(&samples, "xcarp_advert_interval_seconds", &db), 2.5);
    assert_eq!(
        value(&samples, "xcarp_master_down_interval_seconds", &db),
        7.5
    );
    assert_eq!(
        value(&samples, "xcarp_state_since_seconds", &db),
        (NOW - 42_000) as f64 / 1000.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_master_info",
            &with(&db, ("address", "10.2.0.2"))
        ),
        1.0
    );
    assert_eq!(
        samples
            .iter()
            .filter(|s| s.name == "xcarp_instance_address_info" && s.labels["name"] == "db")
            .count(),
        2
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_instance_info",
            &with(&db, ("rx_path", "socket"))
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_xdp_frames_total",
            &[("verdict", "drop"), ("reason", "bad_digest")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_xdp_frames_total",
            &[("verdict", "pass"), ("reason", "not_carp")]
        ),
        20_000.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_xdp_frames_total",
            &[("verdict", "to_daemon"), ("reason", "accepted")]
        ),
        120.0
    );
    assert_eq!(
        samples
            .iter()
            .filter(|s| s.name == "xcarp_xdp_frames_total")
            .count(),
        16,
        "one series per kernel counter"
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_xdp_interface_frames_total",
            &[
                ("interface", "eth0"),
                ("verdict", "pass"),
                ("reason", "not_carp")
            ]
        ),
        9000.0
    );
    assert!(
        find(
            &samples,
            "xcarp_xdp_interface_frames_total",
            &[("interface", "eth1")]
        )
        .is_none(),
        "no per-interface series without per-interface counters"
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_xdp_attached",
            &[("interface", "eth1"), ("mode", "none")]
        ),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_interface_running",
            &[("interface", "eth0")]
        ),
        1.0
    );
    // Every family the documentation lists is here.
    let documented: BTreeSet<&str> = [
        "xcarp_build_info",
        "xcarp_start_time_seconds",
        "xcarp_instance_info",
        "xcarp_instance_state",
        "xcarp_instance_is_master",
        "xcarp_instance_address_info",
        "xcarp_master_info",
        "xcarp_advert_interval_seconds",
        "xcarp_master_down_interval_seconds",
        "xcarp_state_since_seconds",
        "xcarp_adverts_sent_total",
        "xcarp_adverts_received_total",
        "xcarp_send_errors_total",
        "xcarp_auth_failures_total",
        "xcarp_replays_dropped_total",
        "xcarp_malformed_total",
        "xcarp_became_master_total",
        "xcarp_released_master_total",
        "xcarp_script_runs_total",
        "xcarp_script_failures_total",
        "xcarp_script_timeouts_total",
        "xcarp_last_script_exit_code",
        "xcarp_last_script_success",
        "xcarp_last_script_timestamp_seconds",
        "xcarp_demotion",
        "xcarp_check_failing",
        "xcarp_check_consecutive_failures",
        "xcarp_check_consecutive_successes",
        "xcarp_check_runs_total",
        "xcarp_check_failures_total",
        "xcarp_check_timeouts_total",
        "xcarp_check_last_exit_code",
        "xcarp_check_last_run_timestamp_seconds",
        "xcarp_tracked_interface_up",
        "xcarp_interface_running",
        "xcarp_xdp_attached",
        "xcarp_xdp_frames_total",
        "xcarp_xdp_interface_frames_total",
    ]
    .into_iter()
    .collect();
    assert_eq!(
        types.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        documented
    );
}

#[test]
fn prometheus_shows_demotion_checks_and_tracked_interfaces() {
    let text = render_prometheus(&sample_snapshot());
    let (samples, types) = parse_exposition(&text);
    let web = [
        ("name", "web"),
        ("interface", "eth0"),
        ("vlan", "0"),
        ("vhid", "42"),
    ];
    let db = [
        ("name", "db"),
        ("interface", "eth1"),
        ("vlan", "10"),
        ("vhid", "7"),
    ];
    let check = |base: &[(&'static str, &'static str)], name: &'static str| {
        let mut v = base.to_vec();
        v.push(("check", name));
        v
    };
    assert_eq!(value(&samples, "xcarp_demotion", &web), 0.0);
    assert_eq!(value(&samples, "xcarp_demotion", &db), 2.0);
    assert_eq!(
        value(&samples, "xcarp_check_failing", &check(&web, "http")),
        0.0
    );
    assert_eq!(
        value(&samples, "xcarp_check_failing", &check(&db, "pg")),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_check_consecutive_failures",
            &check(&db, "pg")
        ),
        4.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_check_consecutive_successes",
            &check(&web, "http")
        ),
        1800.0
    );
    assert_eq!(
        value(&samples, "xcarp_check_runs_total", &check(&web, "http")),
        1802.0
    );
    assert_eq!(
        value(&samples, "xcarp_check_failures_total", &check(&db, "pg")),
        4.0
    );
    assert_eq!(
        value(&samples, "xcarp_check_timeouts_total", &check(&db, "pg")),
        4.0
    );
    assert_eq!(
        value(&samples, "xcarp_check_last_exit_code", &check(&web, "http")),
        0.0
    );
    // Timed out: it did not exit by itself.
    assert_eq!(
        value(&samples, "xcarp_check_last_exit_code", &check(&db, "pg")),
        -1.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_check_last_run_timestamp_seconds",
            &check(&db, "pg")
        ),
        (NOW - 3_000) as f64 / 1000.0
    );
    // A check that has not run yet has counts but no last run.
    assert_eq!(
        value(&samples, "xcarp_check_runs_total", &check(&db, "fresh")),
        0.0
    );
    assert!(find(&samples, "xcarp_check_last_exit_code", &check(&db, "fresh")).is_none());
    let tracked = |base: &[(&'static str, &'static str)], name: &'static str| {
        let mut v = base.to_vec();
        v.push(("tracked", name));
        v
    };
    assert_eq!(
        value(
            &samples,
            "xcarp_tracked_interface_up",
            &tracked(&web, "eth2")
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "xcarp_tracked_interface_up",
            &tracked(&db, "bond0")
        ),
        0.0
    );
    assert_eq!(types["xcarp_check_runs_total"], "counter");
    assert_eq!(types["xcarp_demotion"], "gauge");
}

#[test]
fn prometheus_escapes_label_values() {
    let mut snapshot = sample_snapshot();
    let nasty = "a\"b\\c\nd}e,f=\"g";
    snapshot.instances[0].name = nasty.to_owned();
    snapshot.xcarp_version = "1\\\"2\n".to_owned();
    let text = render_prometheus(&snapshot);
    assert!(text.contains(r#"name="a\"b\\c\nd}e,f=\"g""#), "{text}");
    let (samples, _) = parse_exposition(&text);
    assert_eq!(
        value(&samples, "xcarp_adverts_sent_total", &[("name", nasty)]),
        3721.0
    );
    assert_eq!(
        value(&samples, "xcarp_build_info", &[("version", "1\\\"2\n")]),
        1.0
    );
}

#[test]
fn prometheus_without_instances_is_still_valid() {
    let (samples, types) = parse_exposition(&render_prometheus(&Snapshot::default()));
    assert!(types.contains_key("xcarp_adverts_sent_total"));
    assert_eq!(samples.len(), 2, "build info and start time only");
}

#[test]
fn prometheus_writes_large_counters_exactly() {
    let mut snapshot = sample_snapshot();
    snapshot.instances[0].counters.adverts_sent = u64::MAX;
    let text = render_prometheus(&snapshot);
    assert!(text.contains(&format!(
        "xcarp_adverts_sent_total{{name=\"web\",interface=\"eth0\",vlan=\"0\",vhid=\"42\"}} {}\n",
        u64::MAX
    )));
}

#[test]
fn seconds_are_written_from_milliseconds() {
    assert_eq!(Seconds(0).to_string(), "0");
    assert_eq!(Seconds(1000).to_string(), "1");
    assert_eq!(Seconds(2500).to_string(), "2.5");
    assert_eq!(Seconds(1_700_000_000_123).to_string(), "1700000000.123");
    assert_eq!(Seconds(1010).to_string(), "1.01");
}

#[test]
fn help_text_is_escaped() {
    assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    assert_eq!(escape_label("a\\b\nc\"d"), "a\\\\b\\nc\\\"d");
}

#[test]
fn requests_name_formats() {
    for format in [Format::Text, Format::Json, Format::Prometheus] {
        assert_eq!(Format::from_request(format.request()), Some(format));
        assert_eq!(
            Format::from_request(&format!(" {}\r\n", format.request())),
            Some(format)
        );
    }
    assert_eq!(Format::from_request(""), Some(Format::Text));
    assert_eq!(Format::from_request("xml"), None);
}
