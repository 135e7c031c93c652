//! The configuration file as an operator meets it through the binary:
//! `xcarp check-config`, `xcarp import-ucarp`, `xcarp --config`, their exit
//! codes and messages (docs/config.md). No namespace, no root.
use std::{
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use xcarp_tests::{needs_xcarp_bin, xcarp_bin};

fn xcarp(args: &[&str]) -> Output {
    Command::new(xcarp_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run xcarp")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xcarp-config-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, content: &str, mode: u32) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A ucarp directory in the EPEL layout whose files all exist: two VIPs on
/// eth0 and one on eth1, password file and scripts beside them.
fn ucarp_dir(dir: &Path) -> PathBuf {
    let ucarp = dir.join("ucarp");
    std::fs::create_dir_all(&ucarp).unwrap();
    write(&ucarp.join("vip.pwd"), "secret\n", 0o600);
    write(&ucarp.join("up"), "#!/bin/sh\n", 0o755);
    write(&ucarp.join("down"), "#!/bin/sh\n", 0o755);
    write(
        &ucarp.join("vip-common.conf"),
        &format!(
            "BIND_INTERFACE=\"eth0\"\nSOURCE_ADDRESS=\"10.99.1.1\"\nPASSFILE=\"{}\"\n\
             OPTIONS=\"--shutdown --preempt\"\nUPSCRIPT={}\nDOWNSCRIPT={}\n",
            ucarp.join("vip.pwd").display(),
            ucarp.join("up").display(),
            ucarp.join("down").display()
        ),
        0o644,
    );
    write(
        &ucarp.join("vip-001.conf"),
        "VIP_ADDRESS=\"10.99.1.201\"\n",
        0o644,
    );
    write(
        &ucarp.join("vip-002.conf"),
        "VIP_ADDRESS=\"10.99.1.202\"\nOPTIONS=\"--shutdown --preempt -k 50\"\n",
        0o644,
    );
    write(
        &ucarp.join("vip-003.conf"),
        "BIND_INTERFACE=eth1\nVIP_ADDRESS=\"10.99.2.203\"\nVIP_INTERFACE=eth1:0\n",
        0o644,
    );
    ucarp
}

#[test]
fn import_then_check_config_round_trips() {
    if !needs_xcarp_bin() {
        return;
    }
    let dir = temp_dir("round-trip");
    let ucarp = ucarp_dir(&dir);
    let config = dir.join("xcarp.toml");
    let out = xcarp(&["import-ucarp", path(&ucarp), "-o", path(&config)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("vip-003.conf:3: VIP_INTERFACE is not imported"),
        "unsupported settings are reported: {err}"
    );
    assert!(err.contains("wrote 3 instances to"), "{err}");
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "it may hold passwords");

    // Checked here, not on the host that will run it (whose eth0 and eth1
    // this machine may lack).
    let out = xcarp(&["check-config", "--offline", path(&config)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{}: ok, 3 instances on 2 interfaces\n", config.display())
    );

    // -o never overwrites.
    let out = xcarp(&["import-ucarp", path(&ucarp), "-o", path(&config)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not overwriting it"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_prints_to_stdout_by_default() {
    if !needs_xcarp_bin() {
        return;
    }
    let dir = temp_dir("stdout");
    let ucarp = ucarp_dir(&dir);
    let out = xcarp(&["import-ucarp", path(&ucarp)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let toml = stdout(&out);
    assert!(
        toml.contains("[[instance]]\nname = \"vip-002\"\nvhid = 2"),
        "{toml}"
    );
    assert!(toml.contains("advskew = 50"), "{toml}");
    assert!(stderr(&out).contains("warning:"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_errors_exit_1_naming_the_file() {
    if !needs_xcarp_bin() {
        return;
    }
    let out = xcarp(&["import-ucarp", "/nonexistent/ucarp"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/ucarp: cannot read it"),
        "{}",
        stderr(&out)
    );
    let dir = temp_dir("import-error");
    let ucarp = ucarp_dir(&dir);
    write(
        &ucarp.join("vip-004.conf"),
        "VIP_ADDRESS=10.99.1.204\nOPTIONS=\"-k 300\"\n",
        0o644,
    );
    let out = xcarp(&["import-ucarp", path(&ucarp)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("vip-004.conf:2") && err.contains("advskew"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_config_exits_1_with_every_error_and_its_line() {
    if !needs_xcarp_bin() {
        return;
    }
    let dir = temp_dir("check");
    let config = dir.join("bad.toml");
    write(
        &config,
        "[global]\nfacility = \"daemon\"\ncolour = \"blue\"\n\n[[instance]]\ninterface = \"eth0\"\n\
         vhid = 300\naddresses = [\"10.99.1.201\"]\nsrcip = \"10.99.1.1\"\npassword = \"x\"\n",
        0o600,
    );
    let out = xcarp(&["check-config", path(&config)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    let shown = config.display();
    assert!(
        err.contains(&format!("{shown}:3: key `colour`: unknown key")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{shown}:7: key `vhid`: 300 is out of range (1-255)"
        )),
        "{err}"
    );
    let out = xcarp(&["check-config", path(&dir.join("missing.toml"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read the configuration file"));
    let out = xcarp(&["check-config"]);
    assert_eq!(out.status.code(), Some(1), "the file is required");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One instance on `interface`, or `count` instances on five interfaces.
fn instances_on(interface: &str, count: usize) -> String {
    let mut text = String::from("[defaults]\nsrcip = \"10.99.1.1\"\npassword = \"x\"\n");
    for i in 0..count {
        let interface = if count == 1 {
            interface.to_owned()
        } else {
            format!("{interface}{}", i / 255)
        };
        text.push_str(&format!(
            "[[instance]]\ninterface = \"{interface}\"\nvhid = {}\naddresses = [\"10.98.{}.{}\"]\n",
            i % 255 + 1,
            i / 250,
            i % 250 + 1
        ));
    }
    text
}

/// check-config refuses what `--config` cannot run on this host (an
/// interface it lacks), unless told the file is for another machine.
#[test]
fn check_config_refuses_a_missing_interface_unless_offline() {
    if !needs_xcarp_bin() {
        return;
    }
    let dir = temp_dir("host");
    let config = dir.join("xcarp.toml");
    write(&config, &instances_on("xcnone0", 1), 0o600);
    let out = xcarp(&["check-config", path(&config)]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("interface xcnone0 (instance xcnone0/vhid1): does not exist on this host"),
        "{err}"
    );
    let out = xcarp(&["check-config", "--offline", path(&config)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).ends_with(": ok, 1 instance on 1 interface\n"));
    // Loopback exists everywhere: the same file on it passes the host
    // checks.
    write(&config, &instances_on("lo", 1), 0o600);
    let out = xcarp(&["check-config", path(&config)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The XDP program's VHID table holds 1024 instances: more are a
/// configuration error (exit 1, no restart by systemd), found by
/// check-config, offline too, and by `--config` before it starts.
#[test]
fn more_instances_than_the_kernel_table_holds_are_refused() {
    if !needs_xcarp_bin() {
        return;
    }
    let dir = temp_dir("capacity");
    let config = dir.join("xcarp.toml");
    write(&config, &instances_on("xcnone", 1100), 0o600);
    for args in [
        &["check-config", path(&config)][..],
        &["check-config", "--offline", path(&config)],
        &["--config", path(&config)],
    ] {
        let out = xcarp(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.contains("1100 instances: one xcarp runs at most 1024"),
            "{args:?}: {err}"
        );
        assert_eq!(
            err.lines().count(),
            1,
            "one error, not one per instance: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn subcommands_have_their_own_help() {
    if !needs_xcarp_bin() {
        return;
    }
    for (args, needle) in [
        (&["check-config", "--help"][..], "FILE"),
        (&["import-ucarp", "-h"][..], "--output"),
    ] {
        let out = xcarp(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(stdout(&out).contains(needle), "{args:?}: {}", stdout(&out));
    }
    let out = xcarp(&["--help"]);
    assert!(
        stdout(&out).contains("check-config FILE"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn config_refuses_the_single_instance_options() {
    if !needs_xcarp_bin() {
        return;
    }
    let out = xcarp(&["--config", "/etc/xcarp.toml", "-v", "42", "--advskew=3"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--config cannot be used with --vhid, --advskew"),
        "{err}"
    );
}
