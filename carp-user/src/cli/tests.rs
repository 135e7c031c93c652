use std::{io::Read, os::unix::fs::PermissionsExt as _};

use zeroize::ZeroizeOnDrop;

use super::*;
use crate::xdp::AttachMode;

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

fn settings(args: &[&str]) -> Settings {
    match parse(args.iter().copied()) {
        Ok(Parsed::Run(s)) => *s,
        other => panic!("{args:?} was not accepted: {other:?}"),
    }
}

/// The command line's single instance, as the daemon takes it.
fn config(args: &[&str]) -> Config {
    Config::from_settings(settings(args)).expect("one instance")
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
fn a_script_others_can_write_gets_a_warning() {
    let shared = temp_file("up-shared", b"#!/bin/sh\n", 0o777);
    let mut args = BASE.to_vec();
    args.extend_from_slice(&["-u", shared.to_str().unwrap()]);
    let c = config(&args);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(
        c.warnings[0].contains("writable by group and other users (mode 0777), and run as root")
            && c.warnings[0].ends_with("(--upscript)"),
        "{:?}",
        c.warnings
    );
    let private = temp_file("up-private", b"#!/bin/sh\n", 0o755);
    args.extend_from_slice(&["-u", private.to_str().unwrap()]);
    assert_eq!(config(&args).warnings, Vec::<String>::new());
}

#[test]
fn a_password_that_is_not_utf8_is_taken_as_bytes() {
    use std::os::unix::ffi::OsStringExt as _;
    let mut args: Vec<OsString> = BASE.iter().map(OsString::from).collect();
    args.push("-p".into());
    args.push(OsString::from_vec(b"\xe9t\xe9".to_vec()));
    let Ok(Parsed::Run(settings)) = parse(args) else {
        panic!("a Latin-1 password was refused")
    };
    assert_eq!(settings.instances[0].password.as_bytes(), b"\xe9t\xe9");
}

#[test]
fn the_password_never_shows_in_debug_output() {
    let c = with_base(&["-p", "hunter2"]);
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<redacted>"));
    // Nor in the parsed command line before validation.
    let cli = Cli::try_parse_from(["xcarp", "-p", "hunter2"]).unwrap();
    let shown = format!("{cli:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
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

fn passfile_error(file: &Path) -> String {
    error(&[
        "xcarp",
        "-v",
        "1",
        "-o",
        file.to_str().unwrap(),
        "-a",
        "10.0.0.2",
        "-s",
        "10.0.0.1",
    ])
}

/// A reader that hands out one byte per call and counts what it gave.
struct Trickle<'a> {
    data: &'a [u8],
    given: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some((&first, rest)) = self.data.split_first() else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        buf[0] = first;
        self.data = rest;
        self.given += 1;
        Ok(1)
    }
}

#[test]
fn the_passfile_reader_keeps_ucarps_first_line_contract() {
    for (content, expected) in [
        (&b"secret\r\nsecond\n"[..], &b"secret\r"[..]),
        (b"plain", b"plain"),
        (b"", b""),
        (b"\nsecond", b""),
        // ucarp copies the line as a C string: a NUL ends it.
        (b"abc\0def\n", b"abc"),
    ] {
        let password = passfile_line(content).unwrap();
        assert_eq!(password.as_bytes(), expected, "{content:?}");
        let mut trickle = Trickle {
            data: content,
            given: 0,
        };
        assert_eq!(passfile_line(&mut trickle).unwrap().as_bytes(), expected);
    }
    let longest = [b'a'; MAX_PASSFILE_LINE];
    assert_eq!(
        passfile_line(&[&longest[..], b"\n"].concat()[..])
            .unwrap()
            .as_bytes()
            .len(),
        MAX_PASSFILE_LINE
    );
}

#[test]
fn the_passfile_reader_stops_after_512_bytes() {
    let e = passfile_line(std::io::repeat(b'a')).expect_err("an endless line was accepted");
    assert!(matches!(e, PassfileError::LineTooLong), "{e}");
    assert_eq!(
        passfile_line(std::io::repeat(0)).unwrap().as_bytes(),
        b"",
        "NULs end the line"
    );
    let long = vec![b'a'; 4096];
    let mut trickle = Trickle {
        data: &long,
        given: 0,
    };
    assert!(passfile_line(&mut trickle).is_err());
    assert_eq!(trickle.given, MAX_PASSFILE_LINE + 1);
    // It also stops at the end of the line: the rest is not read.
    let mut trickle = Trickle {
        data: b"pw\nmore lines that are never read\n",
        given: 0,
    };
    passfile_line(&mut trickle).unwrap();
    assert_eq!(trickle.given, 3);
}

#[test]
fn a_huge_passfile_is_a_quick_clear_error() {
    let f = temp_file("pw-huge", &[b'x'; 600], 0o600);
    // 64 GiB, sparse: reading it whole would take the machine down.
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let start = std::time::Instant::now();
    let e = passfile_error(&f);
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(
        e.contains("--passfile") && e.contains("longer than 511 bytes"),
        "{e}"
    );
}

#[test]
fn devices_and_fifos_are_refused_as_passfiles_without_hanging() {
    let fifo = std::env::temp_dir().join(format!("xcarp-cli-{}-fifo", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for path in [Path::new("/dev/zero"), Path::new("/dev/null"), &fifo] {
        let (tx, rx) = std::sync::mpsc::channel();
        let owned = path.to_owned();
        std::thread::spawn(move || tx.send(passfile_error(&owned)));
        let e = rx
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_else(|_| panic!("--passfile {} hangs", path.display()));
        assert!(
            e.contains("--passfile") && e.contains("not a regular file"),
            "{e}"
        );
    }
    let _ = std::fs::remove_file(&fifo);
}

#[test]
fn a_passfile_others_can_read_gets_a_warning() {
    let shared = temp_file("pw-shared", b"secret\n", 0o644);
    let mut args = BASE.to_vec();
    args.extend_from_slice(&["-o", shared.to_str().unwrap()]);
    let c = config(&args);
    assert_eq!(c.password.as_bytes(), b"secret");
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(
        c.warnings[0].contains("readable by other users") && c.warnings[0].contains("--passfile"),
        "{:?}",
        c.warnings
    );
    let private = temp_file("pw-private", b"secret\n", 0o600);
    args.extend_from_slice(&["-o", private.to_str().unwrap()]);
    assert_eq!(config(&args).warnings, Vec::<String>::new());
    // A password on the command line has no file to warn about.
    assert!(config(BASE).warnings.is_empty());
}

#[test]
fn the_password_is_wiped_when_handed_over() {
    fn wiped_on_drop<T: ZeroizeOnDrop>(_: &T) {}
    let mut c = with_base(&["-p", "hunter2"]);
    wiped_on_drop(&c.password);
    let taken = c.password.take();
    assert_eq!(taken.as_bytes(), b"hunter2");
    assert!(c.password.as_bytes().is_empty());
}

/// `path` written relative to the current directory, however deep it is.
fn relative_to_cwd(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap();
    let up = "../".repeat(cwd.components().count() - 1);
    PathBuf::from(up).join(path.strip_prefix("/").unwrap())
}

#[test]
fn relative_script_and_pidfile_paths_are_made_absolute() {
    let up = temp_file("up-rel", b"#!/bin/sh\n", 0o755);
    let down = temp_file("down-rel", b"#!/bin/sh\n", 0o755);
    let pid = up.with_file_name("xcarp-rel.pid");
    let (up_rel, down_rel, pid_rel) = (
        relative_to_cwd(&up),
        relative_to_cwd(&down),
        relative_to_cwd(&pid),
    );
    assert!(up_rel.is_relative());
    let c = with_base(&[
        "-u",
        up_rel.to_str().unwrap(),
        "--downscript",
        down_rel.to_str().unwrap(),
        "--pidfile",
        pid_rel.to_str().unwrap(),
    ]);
    let cwd = std::env::current_dir().unwrap();
    for (given, resolved) in [
        (&up_rel, &c.upscript),
        (&down_rel, &c.downscript),
        (&pid_rel, &c.pidfile),
    ] {
        let resolved = resolved.as_deref().unwrap();
        assert!(resolved.is_absolute(), "{}", resolved.display());
        assert_eq!(resolved, cwd.join(given));
    }
    assert!(base_error(&["--pidfile", ""]).contains("--pidfile"));
}

#[test]
fn a_nul_ends_the_passfile_password_as_in_ucarp() {
    let f = temp_file("pw-nul", b"abc\0def\n", 0o600);
    let mut args = BASE.to_vec();
    args.extend_from_slice(&["-o", f.to_str().unwrap()]);
    assert_eq!(config(&args).password.as_bytes(), b"abc");
}

#[test]
fn replay_protection_is_on_unless_switched_off() {
    assert!(with_base(&[]).replay_protection);
    assert!(!with_base(&["--replay-protection", "off"]).replay_protection);
    assert!(with_base(&["--replay-protection", "on"]).replay_protection);
    let e = error(&[BASE, &["--replay-protection", "maybe"]].concat());
    assert!(e.contains("--replay-protection"), "{e}");
}
