//! The xcarp binary as an operator meets it: help, exit codes, error
//! messages, --daemonize with --pidfile, password and pid files.
use std::{
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use xcarp_tests::{Netns, ProcessGuard, needs_xcarp, needs_xcarp_bin, wait_until, xcarp_bin};

fn xcarp(args: &[&str]) -> std::process::Output {
    Command::new(xcarp_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run xcarp")
}

#[test]
fn help_lists_every_ucarp_option_and_exits_0() {
    if !needs_xcarp_bin() {
        return;
    }
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
    if !needs_xcarp_bin() {
        return;
    }
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
    if !needs_xcarp() {
        return;
    }
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
    if !needs_xcarp() {
        return;
    }
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

/// A directory of its own for one test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("xcarp-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str, content: &str, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// xcarp in a namespace without the interface it is given: it gets past the
/// command line, the pid file and the log set-up, then stops with status 2.
fn run_without_interface(ns: &Netns, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "-i",
        "nosuchif0",
        "-v",
        "1",
        "-a",
        "10.99.254.252",
        "-s",
        "10.99.254.1",
        "-f",
        "none",
    ];
    args.extend_from_slice(extra);
    ns.exec(xcarp_bin().to_str().unwrap(), &args)
}

#[test]
fn a_device_as_passfile_fails_at_once_naming_the_option() {
    if !needs_xcarp_bin() {
        return;
    }
    for device in ["/dev/zero", "/dev/urandom"] {
        // A memory cap: reading such a file whole must fail, not swap.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "ulimit -v 1048576 && exec \"$0\" \"$@\""])
            .arg(xcarp_bin())
            .args(["-v", "1", "-o", device, "-a", "10.0.0.2", "-s", "10.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut xcarp = ProcessGuard::spawn(cmd);
        let status = xcarp.wait_exit(Duration::from_secs(5));
        let elapsed = start.elapsed();
        let mut stderr = String::new();
        if let Some(mut pipe) = xcarp.child.stderr.take() {
            use std::io::Read as _;
            let _ = pipe.read_to_string(&mut stderr);
        }
        assert_eq!(status.and_then(|s| s.code()), Some(1), "{device}: {stderr}");
        assert!(
            elapsed < Duration::from_secs(1),
            "{device}: took {elapsed:?}"
        );
        assert!(
            stderr.contains("--passfile") && stderr.contains("not a regular file"),
            "{device}: {stderr}"
        );
    }
}

#[test]
fn a_passfile_others_can_read_is_warned_about_and_the_password_never_logged() {
    if !needs_xcarp() {
        return;
    }
    let dir = TempDir::new("pw");
    let secret = "s3cr3t-Pw";
    let passfile = dir.file("pass", &format!("{secret}\n"), 0o644);
    let ns = Netns::new("pw");
    let out = run_without_interface(&ns, &["-D", "-o", passfile.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("Unable to find interface [nosuchif0]"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "password file {} is readable by other users",
            passfile.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(secret), "{stderr}");
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run_without_interface(&ns, &["-o", passfile.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("readable by other users"), "{stderr}");
}

#[test]
fn the_pidfile_of_another_running_program_is_left_alone() {
    if !needs_xcarp() {
        return;
    }
    let dir = TempDir::new("pf");
    let other = ProcessGuard::spawn({
        let mut cmd = Command::new("sleep");
        cmd.arg("60");
        cmd
    });
    let content = format!("{}\n", other.pid());
    let pidfile = dir.file("other.pid", &content, 0o644);
    let ns = Netns::new("po");
    let out = run_without_interface(&ns, &["-p", "pw", "--pidfile", pidfile.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--pidfile") && stderr.contains("which is not an xcarp"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), content);
}

#[test]
fn daemonize_keeps_relative_script_and_pidfile_paths_where_xcarp_started() {
    if !needs_xcarp() {
        return;
    }
    let dir = TempDir::new("rel");
    // The script leaves its arguments beside itself, wherever it runs from.
    dir.file(
        "up.sh",
        "#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/up-ran\"\n",
        0o755,
    );
    let ns = Netns::new("rl");
    ns.ip(&["link", "add", "xr0", "type", "veth", "peer", "name", "xr1"]);
    ns.ip(&["addr", "add", "10.99.250.1/24", "dev", "xr0"]);
    ns.ip(&["link", "set", "xr0", "up"]);
    ns.ip(&["link", "set", "xr1", "up"]);
    let out = ns
        .command(xcarp_bin().to_str().unwrap())
        .args([
            "-i",
            "xr0",
            "-v",
            "7",
            "-p",
            "pw",
            "-a",
            "10.99.250.252",
            "-s",
            "10.99.250.1",
            "-f",
            "none",
            "-B",
            "--pidfile",
            "xcarp.pid",
            "-u",
            "./up.sh",
        ])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pidfile = dir.0.join("xcarp.pid");
    // Wherever the daemon wrote its pid, it must not outlive the test.
    let daemon_pid = || {
        [pidfile.as_path(), Path::new("/xcarp.pid")]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<i32>().ok())
    };
    struct Kill(Option<i32>);
    impl Drop for Kill {
        fn drop(&mut self) {
            if let Some(pid) = self.0 {
                #[allow(unsafe_code)]
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
                // A pid file left in / by a daemon that lost its directory.
                let stray = Path::new("/xcarp.pid");
                if std::fs::read_to_string(stray).is_ok_and(|s| s.trim() == pid.to_string()) {
                    let _ = std::fs::remove_file(stray);
                }
            }
        }
    }
    let mut kill = Kill(None);
    let found = wait_until(Duration::from_secs(10), || {
        kill.0 = daemon_pid();
        kill.0.is_some()
    });
    assert!(found, "the daemon wrote no pid file");
    assert!(
        pidfile.exists(),
        "the relative pid file is not in the directory xcarp started in"
    );
    // Alone on its LAN, the daemon becomes master after the master-down
    // interval (3 s) and runs the upscript.
    let marker = dir.0.join("up-ran");
    assert!(
        wait_until(Duration::from_secs(10), || marker.exists()),
        "the relative upscript did not run"
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().trim(),
        "xr0 10.99.250.252"
    );
    let pid = kill.0.unwrap();
    #[allow(unsafe_code)]
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    assert!(
        wait_until(Duration::from_secs(10), || !Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists()),
        "daemon did not exit on SIGTERM"
    );
    assert!(!pidfile.exists(), "pid file left behind");
}
