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

    let out = xcarp(&["check-config", path(&config)]);
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

/// `xcarp args`, killed if it takes longer than `limit`: its output, and
/// how long it took (None: it was killed). The output is read meanwhile, so
/// that a full pipe never holds xcarp up.
fn xcarp_within(args: &[&str], limit: std::time::Duration) -> (Output, Option<f64>) {
    use std::io::Read as _;
    let t0 = std::time::Instant::now();
    let mut child = Command::new(xcarp_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run xcarp");
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr piped")));
    let mut status = None;
    while t0.elapsed() < limit {
        status = child.try_wait().expect("wait for xcarp");
        if status.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let elapsed = status.is_some().then(|| t0.elapsed().as_secs_f64());
    if status.is_none() {
        let _ = child.kill();
    }
    let status = child.wait().expect("xcarp's exit");
    let out = Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    };
    (out, elapsed)
}

/// A file of about 1 MB, nearly all of it unknown keys: `check-config`
/// answers at once with the first 50 errors and a count of the rest.
#[test]
fn check_config_reports_fifty_errors_and_counts_the_rest() {
    if !needs_xcarp_bin() {
        return;
    }
    let dir = temp_dir("many-errors");
    let config = dir.join("big.toml");
    let mut text = String::from(
        "[[instance]]\ninterface = \"eth0\"\nvhid = 1\naddresses = [\"10.99.1.201\"]\n\
         srcip = \"10.99.1.1\"\npassword = \"x\"\n",
    );
    let mut keys = 0;
    while text.len() < 1_000_000 {
        text.push_str(&format!("k{keys:05} = 1\n"));
        keys += 1;
    }
    write(&config, &text, 0o600);
    let (out, took) = xcarp_within(
        &["check-config", path(&config)],
        std::time::Duration::from_secs(60),
    );
    let took = took.expect("check-config did not finish within 60 s");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.len(),
        51,
        "50 errors and a count: {} lines",
        lines.len()
    );
    assert!(
        lines[0].starts_with(&format!(
            "{}:7: key `k00000`: unknown key",
            config.display()
        )),
        "{}",
        lines[0]
    );
    assert_eq!(lines[50], format!("and {} more errors", keys - 50));
    eprintln!(
        "check-config on {} bytes, {keys} unknown keys: {took:.2} s",
        text.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A FIFO (with no writer) and a file beyond the size bound are refused at
/// once, neither waited on nor read.
#[test]
fn check_config_refuses_a_fifo_and_a_huge_file_at_once() {
    if !needs_xcarp_bin() {
        return;
    }
    let dir = temp_dir("not-a-file");
    let fifo = dir.join("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let (out, took) = xcarp_within(
        &["check-config", path(&fifo)],
        std::time::Duration::from_secs(10),
    );
    assert!(took.is_some(), "check-config on a FIFO hangs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );

    // Sparse: 16 GiB that would take long to read.
    let huge = dir.join("huge.toml");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(16 << 30)
        .unwrap();
    let (out, took) = xcarp_within(
        &["check-config", path(&huge)],
        std::time::Duration::from_secs(10),
    );
    assert!(took.is_some(), "check-config on a huge file takes long");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("larger than 1048576 bytes"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
