//! The configuration file as an operator meets it through the binary:
//! `xcarp check-config`, `xcarp import-ucarp`, `xcarp --config`, their exit
//! codes and messages (docs/config.md). No namespace, no root.
use std::{
    io::Read as _,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use xcarp_tests::{needs_xcarp_bin, xcarp_bin};

fn xcarp(args: &[&str]) -> Output {
    Command::new(xcarp_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run xcarp")
}

/// xcarp as [`xcarp`], killed if it has not exited within 20 s, and with
/// at most 2 GiB of address space: a command that hangs, or reads without
/// bound, fails its test instead of holding the suite or the machine.
fn xcarp_bounded(args: &[&str]) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2097152 && exec \"$0\" \"$@\"")
        .arg(xcarp_bin())
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
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("xcarp {args:?} hangs: killed after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
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
    assert!(
        err.ends_with("xcarp: imported 3 of 3 VIP files\n"),
        "a summary ends the report: {err}"
    );
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
fn import_skips_a_file_it_cannot_convert_and_exits_3() {
    if !needs_xcarp_bin() {
        return;
    }
    let dir = temp_dir("import-skip");
    let ucarp = ucarp_dir(&dir);
    write(
        &ucarp.join("vip-004.conf"),
        "VIP_ADDRESS=10.99.1.204\nOPTIONS=\"-k 300\"\n",
        0o644,
    );
    let out = xcarp(&["import-ucarp", path(&ucarp)]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let toml = stdout(&out);
    assert_eq!(toml.matches("\n[[instance]]\n").count(), 3, "{toml}");
    assert!(!toml.contains("vip-004"), "{toml}");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "xcarp: skipped {}:2: the ucarp command line",
            ucarp.join("vip-004.conf").display()
        )) && err.contains("advskew"),
        "{err}"
    );
    assert!(
        err.contains("xcarp: imported 3 of 4 VIP files; 1 skipped"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_with_nothing_to_import_exits_1_and_writes_nothing() {
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
    let dir = temp_dir("import-nothing");
    let ucarp = ucarp_dir(&dir);
    for vip in ["vip-001.conf", "vip-002.conf", "vip-003.conf"] {
        std::fs::remove_file(ucarp.join(vip)).unwrap();
    }
    write(
        &ucarp.join("vip-004.conf"),
        "VIP_ADDRESS=10.99.1.204\nOPTIONS=\"-k 300\"\n",
        0o644,
    );
    let config = dir.join("xcarp.toml");
    let out = xcarp(&["import-ucarp", path(&ucarp), "-o", path(&config)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("vip-004.conf:2") && err.contains("advskew"),
        "{err}"
    );
    assert!(err.ends_with("xcarp: nothing written\n"), "{err}");
    assert!(!config.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `xcarp import-ucarp` on [`ucarp_dir`] with one more file, `vip-004.conf`,
/// made by `make`: its output (bounded in time and memory), the ucarp
/// directory and the written configuration's path.
fn import_with(name: &str, make: impl FnOnce(&Path)) -> (Output, PathBuf, PathBuf) {
    let dir = temp_dir(name);
    let ucarp = ucarp_dir(&dir);
    make(&ucarp.join("vip-004.conf"));
    let config = dir.join("xcarp.toml");
    let out = xcarp_bounded(&["import-ucarp", path(&ucarp), "-o", path(&config)]);
    (out, ucarp, config)
}

/// The other three VIPs are imported, vip-004.conf is skipped with `why`
/// after its name, and the exit status says something was skipped.
fn skipped_only_vip_004(out: &Output, ucarp: &Path, config: &Path, why: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let line = format!(
        "xcarp: skipped {}{why}",
        ucarp.join("vip-004.conf").display()
    );
    assert!(err.contains(&line), "no {line:?} in:\n{err}");
    assert!(
        err.contains("xcarp: imported 3 of 4 VIP files; 1 skipped"),
        "{err}"
    );
    let toml = std::fs::read_to_string(config).unwrap();
    assert_eq!(toml.matches("\n[[instance]]\n").count(), 3, "{toml}");
    assert!(!toml.contains("vip-004"), "{toml}");
    let _ = std::fs::remove_dir_all(config.parent().unwrap());
}

#[test]
fn import_skips_a_fifo_without_blocking() {
    if !needs_xcarp_bin() {
        return;
    }
    let (out, ucarp, config) = import_with("fifo", |vip| {
        let made = Command::new("mkfifo").arg(vip).status().expect("mkfifo");
        assert!(made.success(), "mkfifo: {made}");
    });
    skipped_only_vip_004(&out, &ucarp, &config, ": not a regular file (a FIFO)");
}

#[test]
fn import_skips_a_symlink_to_a_device_without_reading_it() {
    if !needs_xcarp_bin() {
        return;
    }
    let (out, ucarp, config) = import_with("zero", |vip| {
        std::os::unix::fs::symlink("/dev/zero", vip).unwrap();
    });
    skipped_only_vip_004(
        &out,
        &ucarp,
        &config,
        ": not a regular file (a character device, through a symbolic link to /dev/zero)",
    );
}

#[test]
fn import_skips_a_directory_named_like_a_vip_file() {
    if !needs_xcarp_bin() {
        return;
    }
    let (out, ucarp, config) = import_with("directory", |vip| {
        std::fs::create_dir(vip).unwrap();
    });
    skipped_only_vip_004(&out, &ucarp, &config, ": not a regular file (a directory)");
}

#[test]
fn import_skips_a_huge_file() {
    if !needs_xcarp_bin() {
        return;
    }
    let (out, ucarp, config) = import_with("huge", |vip| {
        // Sparse: 1 GiB that takes no room.
        let huge = std::fs::File::create(vip).unwrap();
        huge.set_len(1 << 30).unwrap();
    });
    skipped_only_vip_004(&out, &ucarp, &config, ": 1073741824 bytes, larger than");
}

#[test]
fn import_refuses_options_set_inside_if_fi() {
    if !needs_xcarp_bin() {
        return;
    }
    let (out, ucarp, config) = import_with("if-fi", |vip| {
        write(
            vip,
            "VIP_ADDRESS=10.99.1.204\nOPTIONS=\"--advskew 50 --preempt --shutdown\"\n\
             if [ \"$(hostname)\" = a ]; then\n    OPTIONS=\"--advskew 10\"\nfi\n",
            0o644,
        );
    });
    assert!(
        stderr(&out).contains("OPTIONS at line 4"),
        "{}",
        stderr(&out)
    );
    skipped_only_vip_004(&out, &ucarp, &config, ":3: `if`: a shell construct");
}

#[test]
fn import_keeps_a_password_that_is_not_utf8_byte_for_byte() {
    if !needs_xcarp_bin() {
        return;
    }
    let (out, _ucarp, config) = import_with("latin1", |vip| {
        // Latin-1 "été": ucarp's command line took it as these bytes.
        std::fs::write(
            vip,
            b"VIP_ADDRESS=\"10.99.1.204\"\nPASSWORD=\"\xe9t\xe9\"\n",
        )
        .unwrap();
    });
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("vip-004.conf: the password is not UTF-8 text"),
        "{err}"
    );
    let toml = std::fs::read_to_string(&config).unwrap();
    let vip_004 = &toml[toml.find("name = \"vip-004\"").expect("vip-004 imported")..];
    assert!(
        vip_004.contains("password_hex = \"e974e9\"") && !toml.contains('\u{FFFD}'),
        "{toml}"
    );
    // The imported interfaces are the ucarp hosts', not this machine's.
    let out = xcarp(&["check-config", "--offline", path(&config)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("ok, 4 instances"), "{}", stdout(&out));
    let _ = std::fs::remove_dir_all(config.parent().unwrap());
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
fn check_config_warns_about_what_others_could_change_or_reach() {
    if !needs_xcarp_bin() {
        return;
    }
    let dir = temp_dir("exposure");
    write(&dir.join("up"), "#!/bin/sh\n", 0o777);
    let config = dir.join("xcarp.toml");
    write(
        &config,
        "[global]\nmetrics_listen = \"0.0.0.0:9420\"\n\n[[instance]]\ninterface = \"eth0\"\n\
         vhid = 1\naddresses = [\"10.99.1.201\"]\nsrcip = \"10.99.1.1\"\npassword = \"x\"\n\
         upscript = \"up\"\n",
        0o620,
    );
    let out = xcarp(&["check-config", path(&config)]);
    assert_eq!(out.status.code(), Some(0), "warnings are not errors");
    let err = stderr(&out);
    let shown = config.display();
    for needle in [
        format!("xcarp: warning: {shown}: writable by its group (mode 0620)"),
        format!("xcarp: warning: {shown}:2: key `metrics_listen`: 0.0.0.0:9420"),
        format!("xcarp: warning: {shown}:10: key `upscript`"),
    ] {
        assert!(err.contains(&needle), "no {needle:?} in:\n{err}");
    }
    assert!(
        err.contains("firewall") && err.contains("mode 0777), and run as root"),
        "{err}"
    );
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
