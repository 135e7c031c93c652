//! The xcarp binary as an operator meets it: help, exit codes, error
//! messages, --daemonize with --pidfile.
use std::{
    process::{Command, Stdio},
    time::Duration,
};

use xcarp_tests::{Netns, require_root, wait_until, xcarp_bin};

fn xcarp(args: &[&str]) -> std::process::Output {
    Command::new(xcarp_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run xcarp")
}

#[test]
fn help_lists_every_ucarp_option_and_exits_0() {
    for args in [&["-h"][..], &["--help"][..], &[][..]] {
        let out = xcarp(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
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
            "--xdp-mode",
            "--pidfile",
        ] {
            assert!(help.contains(option), "{args:?}: help lacks {option}");
        }
    }
}

#[test]
fn bad_options_exit_1_naming_the_option() {
    let base = [
        "-v",
        "42",
        "-p",
        "love",
        "-a",
        "10.99.251.252",
        "-s",
        "10.99.251.1",
    ];
    for (extra, needle) in [
        (
            &["-k", "256"][..],
            "advskew must be a number between 0 and 255",
        ),
        (&["-b", "300"][..], "advbase"),
        (&["-p", "01234567890123456789"][..], "Password too long"),
        (&["--facility", "nope"][..], "Unknown syslog facility"),
        (&["-u", "/nonexistent/up"][..], "--upscript"),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = xcarp(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(stderr.contains(needle), "{extra:?}: {stderr}");
    }
}

#[test]
fn an_unknown_interface_is_a_clear_error_with_status_2() {
    require_root();
    let _limit = xcarp_tests::test_time_limit();
    let ns = Netns::new("ui");
    let out = ns.exec(
        xcarp_bin().to_str().unwrap(),
        &[
            "-i",
            "nosuchif0",
            "-v",
            "1",
            "-p",
            "pw",
            "-a",
            "10.99.252.252",
            "-s",
            "10.99.252.1",
            "-f",
            "none",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("Unable to find interface [nosuchif0]"),
        "{stderr}"
    );
}

#[test]
fn daemonize_writes_and_locks_the_pidfile_and_cleans_up_on_sigterm() {
    require_root();
    let _limit = xcarp_tests::test_time_limit();
    let ns = Netns::new("pf");
    ns.ip(&["link", "add", "xp0", "type", "veth", "peer", "name", "xp1"]);
    ns.ip(&["addr", "add", "10.99.253.1/24", "dev", "xp0"]);
    ns.ip(&["link", "set", "xp0", "up"]);
    ns.ip(&["link", "set", "xp1", "up"]);
    let pidfile = std::env::temp_dir().join(format!("xcarp-test-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pidfile);
    let pidfile_arg = pidfile.to_str().unwrap();
    let bin = xcarp_bin();
    let args = [
        "-i",
        "xp0",
        "-v",
        "5",
        "-p",
        "pw",
        "-a",
        "10.99.253.252",
        "-s",
        "10.99.253.1",
        "-f",
        "none",
        "-B",
        "--pidfile",
        pidfile_arg,
    ];

    // The foreground process returns at once; the daemon lives on.
    let out = ns.exec(bin.to_str().unwrap(), &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::read_to_string(
            &pidfile
        )
        .is_ok_and(|s| !s.trim().is_empty())),
        "no pid in {pidfile_arg}"
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .expect("a pid");
    // Make sure the daemon is killed even if an assertion fails below.
    struct Kill(i32);
    impl Drop for Kill {
        fn drop(&mut self) {
            #[allow(unsafe_code)]
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe {
                libc::kill(self.0, libc::SIGKILL);
            }
        }
    }
    let _kill = Kill(pid);
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "daemon {pid} is not running"
    );
    assert!(
        wait_until(Duration::from_secs(10), || ns
            .xdp_attachment("xp0")
            .is_some()),
        "XDP not attached"
    );

    // A second instance with the same pidfile refuses to start.
    let second = ns.exec(
        bin.to_str().unwrap(),
        &[
            "-i",
            "xp0",
            "-v",
            "6",
            "-p",
            "pw",
            "-a",
            "10.99.253.253",
            "-s",
            "10.99.253.1",
            "-f",
            "none",
            "--pidfile",
            pidfile_arg,
        ],
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("locked by another running xcarp"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        pid.to_string(),
        "pidfile was overwritten"
    );

    // SIGTERM: the daemon exits, removes its pidfile and detaches XDP.
    #[allow(unsafe_code)]
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    assert!(
        wait_until(Duration::from_secs(10), || !std::path::Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists()),
        "daemon did not exit on SIGTERM"
    );
    assert!(!pidfile.exists(), "pidfile left behind");
    assert!(ns.xdp_attachment("xp0").is_none(), "XDP left attached");
}
