use std::os::unix::fs::PermissionsExt as _;

use super::*;

const BASE: &[&str] = &[
    "xcarp",
    "-v",
    "42",
    "-p",
    "love",
    "-a",
    "10.1.1.252",
    "-s",
    "10.1.1.1",
];

fn config(args: &[&str]) -> Config {
    match parse(args.iter().copied()) {
        Ok(Parsed::Run(c)) => *c,
        other => panic!("{args:?} was not accepted: {other:?}"),
    }
}

fn with_base(extra: &[&str]) -> Config {
    let mut args = BASE.to_vec();
    args.extend_from_slice(extra);
    config(&args)
}

fn error(args: &[&str]) -> String {
    match parse(args.iter().copied()) {
        Err(e) => e.0,
        other => panic!("{args:?} was accepted: {other:?}"),
    }
}

fn base_error(extra: &[&str]) -> String {
    let mut args = BASE.to_vec();
    args.extend_from_slice(extra);
    error(&args)
}

fn temp_file(name: &str, content: &[u8], mode: u32) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xcarp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn the_ucarp_readme_example_gives_ucarps_defaults() {
    let c = config(BASE);
    assert_eq!(c.vhid, 42);
    assert_eq!(c.password.as_bytes(), b"love");
    assert_eq!(c.vip, Ipv4Addr::new(10, 1, 1, 252));
    assert_eq!(c.vip_arg, "10.1.1.252");
    assert_eq!(c.srcip, Ipv4Addr::new(10, 1, 1, 1));
    assert_eq!(c.group, DEFAULT_GROUP);
    assert_eq!((c.advbase, c.advskew, c.deadratio), (1, 0, 3));
    assert!(!c.preempt && !c.neutral && !c.shutdown && !c.daemonize);
    assert!(!c.ignore_ifstate && !c.nomcast && !c.debug);
    assert_eq!(c.facility, Facility::Syslog(syslog::Facility::LOG_DAEMON));
    assert_eq!(c.interface, None);
    assert_eq!(c.xdp_mode, AttachMode::Auto);
    assert_eq!(c.script_timeout, Duration::from_secs(10));
    assert_eq!(c.tie_break, TieBreakArg::Ucarp);
    assert_eq!(c.pidfile, None);
}

#[test]
fn every_short_option_is_understood() {
    let up = temp_file("up-short", b"#!/bin/sh\n", 0o755);
    let down = temp_file("down-short", b"#!/bin/sh\n", 0o755);
    let c = with_base(&[
        "-i",
        "eth1",
        "-m",
        "239.192.0.1",
        "-P",
        "-n",
        "-b",
        "2",
        "-k",
        "100",
        "-u",
        up.to_str().unwrap(),
        "-d",
        down.to_str().unwrap(),
        "-r",
        "5",
        "-D",
        "-z",
        "-B",
        "-S",
        "-M",
        "-f",
        "local3",
        "-x",
        "param",
    ]);
    assert_eq!(c.interface.as_deref(), Some("eth1"));
    assert_eq!(c.group, Ipv4Addr::new(239, 192, 0, 1));
    assert!(c.preempt && c.neutral && c.debug && c.shutdown && c.daemonize);
    assert!(c.ignore_ifstate && c.nomcast);
    assert_eq!((c.advbase, c.advskew, c.deadratio), (2, 100, 5));
    assert_eq!(c.upscript.as_deref(), Some(up.as_path()));
    assert_eq!(c.downscript.as_deref(), Some(down.as_path()));
    assert_eq!(c.facility, Facility::Syslog(syslog::Facility::LOG_LOCAL3));
    assert_eq!(c.xparam.as_deref(), Some("param"));
}

#[test]
fn every_long_option_is_understood() {
    let c = config(&[
        "xcarp",
        "--interface=eth0",
        "--srcip=10.0.0.1",
        "--vhid=7",
        "--pass=pw",
        "--addr=10.0.0.100",
        "--advbase=3",
        "--advskew=10",
        "--preempt",
        "--neutral",
        "--deadratio=4",
        "--debug",
        "--shutdown",
        "--ignoreifstate",
        "--nomcast",
        "--facility=none",
        "--xparam=x",
        "--mcast=239.1.1.1",
        "--xdp-mode=skb",
        "--script-timeout=30",
        "--pidfile=/run/xcarp.pid",
        "--tie-break=numeric",
    ]);
    assert_eq!(c.interface.as_deref(), Some("eth0"));
    assert_eq!((c.vhid, c.advbase, c.advskew, c.deadratio), (7, 3, 10, 4));
    assert_eq!(c.group, Ipv4Addr::new(239, 1, 1, 1));
    assert_eq!(c.facility, Facility::None);
    assert!(c.preempt && c.neutral && c.debug && c.shutdown && c.ignore_ifstate && c.nomcast);
    assert_eq!(c.xdp_mode, AttachMode::Skb);
    assert_eq!(c.script_timeout, Duration::from_secs(30));
    assert_eq!(c.pidfile.as_deref(), Some(Path::new("/run/xcarp.pid")));
    assert_eq!(c.tie_break, TieBreakArg::Numeric);
}

#[test]
fn a_repeated_option_takes_the_last_value_like_getopt() {
    let c = with_base(&["-a", "10.1.1.253", "-k", "5", "-k", "7"]);
    assert_eq!(c.vip, Ipv4Addr::new(10, 1, 1, 253));
    assert_eq!(c.advskew, 7);
}

#[test]
fn mcastip_is_accepted_as_ucarp_spells_it() {
    assert_eq!(
        with_base(&["--mcastip=239.2.2.2"]).group,
        Ipv4Addr::new(239, 2, 2, 2)
    );
}

#[test]
fn unambiguous_long_prefixes_work_like_getopt() {
    let c = config(&[
        "xcarp",
        "--inter",
        "eth0",
        "--src",
        "10.0.0.1",
        "--vh",
        "7",
        "--pass",
        "pw",
        "--addr",
        "10.0.0.100",
        "--advb",
        "3",
        "--advs",
        "10",
        "--pre",
        "--shut",
    ]);
    assert_eq!(c.interface.as_deref(), Some("eth0"));
    assert_eq!((c.vhid, c.advbase, c.advskew), (7, 3, 10));
    assert!(c.preempt && c.shutdown);
    // --adv could be --advbase or --advskew, --pa --pass or --passfile.
    assert!(base_error(&["--adv", "3"]).contains("--adv"));
    assert!(base_error(&["--pa", "x"]).contains("--pa"));
    // As with getopt, the word after an option that takes a value is its
    // value even when it starts with a dash.
    assert_eq!(with_base(&["-p", "-dash"]).password.as_bytes(), b"-dash");
}

#[test]
fn numbers_are_read_like_strtoul_base_0() {
    assert_eq!(
        config(&[
            "xcarp", "-v", "0x2a", "-p", "p", "-a", "10.0.0.2", "-s", "10.0.0.1"
        ])
        .vhid,
        42
    );
    assert_eq!(
        config(&[
            "xcarp", "-v", "052", "-p", "p", "-a", "10.0.0.2", "-s", "10.0.0.1"
        ])
        .vhid,
        42
    );
    assert_eq!(with_base(&["-k", "0xff"]).advskew, 255);
}

#[test]
fn out_of_range_numbers_are_errors_not_wrapped() {
    for (args, needle) in [
        (vec!["-v", "0"], "vhid must be a number between 1 and 255"),
        (vec!["-v", "256"], "vhid must be a number between 1 and 255"),
        (
            vec!["-b", "256"],
            "advbase (seconds) must be a number between 0 and 255",
        ),
        (
            vec!["-k", "256"],
            "advskew must be a number between 0 and 255",
        ),
        (vec!["-k", "-1"], "advskew"),
        (
            vec!["-r", "0"],
            "deadratio must be a number between 1 and 255",
        ),
        (vec!["--script-timeout", "0"], "script timeout"),
        (vec!["-b", "ten"], "advbase"),
    ] {
        let e = base_error(&args);
        assert!(e.contains(needle), "{args:?}: {e}");
    }
}

#[test]
fn advbase_zero_needs_a_skew() {
    assert_eq!(with_base(&["-b", "0", "-k", "10"]).advbase, 0);
    assert!(base_error(&["-b", "0"]).contains("advertisement time base"));
}

#[test]
fn required_options_are_named_when_missing() {
    assert!(error(&["xcarp", "-p", "x", "-a", "10.0.0.2", "-s", "10.0.0.1"]).contains("--vhid"));
    assert!(error(&["xcarp", "-v", "1", "-a", "10.0.0.2", "-s", "10.0.0.1"]).contains("--pass"));
    assert!(error(&["xcarp", "-v", "1", "-p", "x", "-s", "10.0.0.1"]).contains("--addr"));
    assert!(error(&["xcarp", "-v", "1", "-p", "x", "-a", "10.0.0.2"]).contains("--srcip"));
}

#[test]
fn bad_addresses_groups_and_facilities_are_rejected() {
    assert!(base_error(&["-s", "10.0.0"]).contains("Invalid address: [10.0.0]"));
    assert!(base_error(&["-a", "fe80::1"]).contains("Invalid address"));
    assert!(base_error(&["-m", "10.0.0.9"]).contains("not a multicast address"));
    assert!(base_error(&["-f", "bogus"]).contains("Unknown syslog facility: [bogus]"));
    assert!(base_error(&["-s", "10.1.1.252"]).contains("--srcip and --addr must differ"));
    assert!(base_error(&["--xdp-mode", "fast"]).contains("--xdp-mode"));
    assert!(base_error(&["--bogus"]).contains("--bogus"));
}

#[test]
fn facility_names_are_case_insensitive() {
    assert_eq!(
        with_base(&["-f", "LOCAL7"]).facility,
        Facility::Syslog(syslog::Facility::LOG_LOCAL7)
    );
}

#[test]
fn passwords_longer_than_19_bytes_are_rejected() {
    let ok = "a".repeat(19);
    assert_eq!(with_base(&["-p", &ok]).password.as_bytes(), ok.as_bytes());
    let e = base_error(&["-p", &"a".repeat(20)]);
    assert!(e.contains("Password too long") && e.contains("19"), "{e}");
}

#[test]
fn passfile_gives_the_first_line_keeping_a_carriage_return() {
    let f = temp_file("pw", b"secret\r\nsecond line\n", 0o600);
    let c = config(&[
        "xcarp",
        "-v",
        "1",
        "-o",
        f.to_str().unwrap(),
        "-a",
        "10.0.0.2",
        "-s",
        "10.0.0.1",
    ]);
    assert_eq!(c.password.as_bytes(), b"secret\r");
    let f = temp_file("pw-nonl", b"plain", 0o600);
    let c = config(&[
        "xcarp",
        "-v",
        "1",
        "--passfile",
        f.to_str().unwrap(),
        "-a",
        "10.0.0.2",
        "-s",
        "10.0.0.1",
    ]);
    assert_eq!(c.password.as_bytes(), b"plain");
}

#[test]
fn the_last_of_pass_and_passfile_wins() {
    let f = temp_file("pw-last", b"fromfile\n", 0o600);
    let path = f.to_str().unwrap();
    let tail = ["-a", "10.0.0.2", "-s", "10.0.0.1", "-v", "1"];
    let mut args = vec!["xcarp", "-p", "fromarg", "-o", path];
    args.extend_from_slice(&tail);
    assert_eq!(config(&args).password.as_bytes(), b"fromfile");
    let mut args = vec!["xcarp", "-o", path, "-p", "fromarg"];
    args.extend_from_slice(&tail);
    assert_eq!(config(&args).password.as_bytes(), b"fromarg");
}

#[test]
fn unreadable_or_empty_passfiles_are_errors() {
    let e = base_error(&["-o", "/nonexistent/xcarp-pw"]);
    assert!(
        e.contains("cannot read password file") && e.contains("--passfile"),
        "{e}"
    );
    let f = temp_file("pw-empty", b"\nsecond\n", 0o600);
    let e = error(&[
        "xcarp",
        "-v",
        "1",
        "-o",
        f.to_str().unwrap(),
        "-a",
        "10.0.0.2",
        "-s",
        "10.0.0.1",
    ]);
    assert!(e.contains("password is empty"), "{e}");
}

#[test]
fn scripts_must_exist_and_be_executable() {
    let e = base_error(&["-u", "/nonexistent/vip-up"]);
    assert!(e.contains("--upscript /nonexistent/vip-up"), "{e}");
    let f = temp_file("not-exec", b"#!/bin/sh\n", 0o644);
    let e = base_error(&["-d", f.to_str().unwrap()]);
    assert!(
        e.contains("--downscript") && e.contains("not executable"),
        "{e}"
    );
}

#[test]
fn the_password_never_shows_in_debug_output() {
    let c = with_base(&["-p", "hunter2"]);
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<redacted>"));
}

#[test]
fn help_lists_every_ucarp_option_and_no_arguments_prints_it() {
    let Ok(Parsed::Print(help)) = parse(["xcarp", "-h"]) else {
        panic!("-h did not print help")
    };
    for option in [
        "--interface",
        "--srcip",
        "--mcast",
        "--vhid",
        "--pass",
        "--passfile",
        "--preempt",
        "--neutral",
        "--addr",
        "--help",
        "--advbase",
        "--advskew",
        "--upscript",
        "--downscript",
        "--deadratio",
        "--debug",
        "--shutdown",
        "--daemonize",
        "--ignoreifstate",
        "--nomcast",
        "--facility",
        "--xparam",
    ] {
        assert!(help.contains(option), "help lacks {option}");
    }
    for short in [
        "-i,", "-s,", "-m,", "-v,", "-p,", "-o,", "-P,", "-n,", "-a,", "-h,", "-b,", "-k,", "-u,",
        "-d,", "-r,", "-D,", "-z,", "-B,", "-S,", "-M,", "-f,", "-x,",
    ] {
        assert!(help.contains(short), "help lacks {short}");
    }
    assert!(matches!(parse(["xcarp"]), Ok(Parsed::Print(_))));
}
