//! The Debian package as an operator meets it (docs/packaging.md): it
//! installs with dpkg, `xcarp --version` runs, `man xcarp` shows the page,
//! the completions complete, both units pass `systemd-analyze verify`, and
//! the unit's command, run as systemd would run it for an instance, makes
//! xcarp master of the instance's address (through the example up-script)
//! and releases it on the unit's stop signal. Then the package is purged,
//! also when the test fails.
//!
//! There is no systemd here (a container), so the unit is read and
//! started by hand: `EnvironmentFile=`, `ExecStart=` with `%i` and
//! `$VARIABLE` expanded as systemd does, `CapabilityBoundingSet=` and
//! `NoNewPrivileges=` through setpriv, `KillSignal=` on stop. A directive
//! this emulation does not know fails the test rather than being ignored.
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use xcarp_tests::{
    ProcessGuard, cleanup,
    lan::{Lan, VIP},
    log::Log,
    needs_root, sh, try_sh, unmet, wait_until,
};

const PACKAGE: &str = "xcarp";
const UNIT: &str = "/lib/systemd/system/xcarp@.service";
/// The configuration file's unit (docs/config.md).
const CONFIG_UNIT: &str = "/lib/systemd/system/xcarp.service";
const MAN_PAGE: &str = "/usr/share/man/man8/xcarp.8.gz";
const EXAMPLES: &str = "/usr/share/doc/xcarp/examples";
const COMPLETIONS: &[&str] = &[
    "/usr/share/bash-completion/completions/xcarp",
    "/usr/share/zsh/vendor-completions/_xcarp",
    "/usr/share/fish/vendor_completions.d/xcarp.fish",
];
/// Says which test process installed the package (pid and start time), so
/// that a run killed before it could purge is cleaned up by the next one
/// and an xcarp package installed by someone else is never touched.
const OWNER_MARKER: &str = "/run/xcarp-tests-package.owner";

/// Whether dpkg has the package installed (or half-installed).
fn installed() -> bool {
    let out = try_sh("dpkg-query", &["-W", "-f=${Status}", PACKAGE]);
    out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("not-installed")
}

fn purge() {
    let out = try_sh("dpkg", &["--purge", PACKAGE]);
    assert!(
        out.status.success(),
        "dpkg --purge {PACKAGE} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The installed package, purged on drop with the files the test added.
struct Installed {
    /// Files the test wrote under /etc/xcarp, removed before the purge.
    extra: Vec<PathBuf>,
}

impl Installed {
    fn install(deb: &Path) -> Self {
        if installed() {
            let owner = std::fs::read_to_string(OWNER_MARKER).unwrap_or_default();
            assert!(
                !owner.is_empty() && !cleanup::owner_alive(&owner),
                "a package {PACKAGE} is installed on this machine, not by a package test: \
                 the test installs and purges its own; remove it first (dpkg --purge {PACKAGE})"
            );
            eprintln!("purging the {PACKAGE} package a killed package test left");
            purge();
        }
        std::fs::write(OWNER_MARKER, cleanup::owner_line()).expect("write the owner marker");
        let out = Command::new("dpkg")
            .arg("-i")
            .arg(deb)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .expect("run dpkg");
        let installed = Self { extra: Vec::new() };
        assert!(
            out.status.success(),
            "dpkg -i {} failed: {}{}",
            deb.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        installed
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        for file in &self.extra {
            let _ = std::fs::remove_file(file);
        }
        let purged = try_sh("dpkg", &["--purge", PACKAGE]);
        if purged.status.success() {
            let _ = std::fs::remove_file(OWNER_MARKER);
        } else {
            eprintln!(
                "dpkg --purge {PACKAGE} failed: {}",
                String::from_utf8_lossy(&purged.stderr)
            );
        }
    }
}

#[test]
fn the_package_installs_documents_completes_and_its_unit_runs_xcarp() {
    if !needs_root() {
        return;
    }
    let Some(deb) = std::env::var_os("XCARP_DEB").map(PathBuf::from) else {
        let _ = unmet("needs XCARP_DEB, the package `cargo xtask package` builds");
        return;
    };
    let _limit = xcarp_tests::test_time_limit();
    let mut package = Installed::install(&deb);

    let version = sh("/usr/sbin/xcarp", &["--version"]);
    assert_eq!(
        version.trim(),
        format!("xcarp {}", env!("CARGO_PKG_VERSION"))
    );

    check_man_page();
    check_completions();
    check_unit_with_systemd_analyze();
    run_the_unit(&mut package);

    drop(package);
    assert!(!installed(), "{PACKAGE} is still installed after the purge");
    for path in ["/usr/sbin/xcarp", UNIT, CONFIG_UNIT, MAN_PAGE, "/etc/xcarp"] {
        assert!(!Path::new(path).exists(), "{path} is left after the purge");
    }
}

/// `man -l` on the installed page, and `man xcarp` finding it by name.
fn check_man_page() {
    for args in [&["-l", MAN_PAGE][..], &["xcarp"][..]] {
        let out = Command::new("man")
            .args(["-P", "cat"])
            .args(args)
            .env("MANWIDTH", "80")
            .stdin(Stdio::null())
            .output()
            .expect("run man");
        // Justified text: words are compared with single spaces.
        let page = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            out.status.success(),
            "man {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for needle in [
            "xcarp - share a virtual IPv4 address",
            "--vhid",
            "--passfile",
            "--xdp-mode",
            "SIGNALS",
            "EXIT STATUS",
            "xcarp check-config FILE",
            "xcarp@.service",
        ] {
            assert!(
                page.contains(needle),
                "man {args:?} lacks {needle:?}:\n{page}"
            );
        }
        // The page points to documents this system has, not to the
        // source tree.
        assert!(!page.contains("docs/"), "man {args:?} names docs/:\n{page}");
        let mut named = 0;
        for (at, _) in page.match_indices("/usr/share/doc/xcarp/") {
            let path: String = page[at..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !"),;".contains(*c))
                .collect();
            let path = path.trim_end_matches('.');
            assert!(
                Path::new(path).exists(),
                "man {args:?} names {path}, which is not installed"
            );
            named += 1;
        }
        assert!(named >= 4, "man {args:?} names {named} installed documents");
    }
}

/// Every completion is there and not empty; bash's completes an option and
/// an option's values.
fn check_completions() {
    for path in COMPLETIONS {
        let len = std::fs::metadata(path).map_or(0, |m| m.len());
        assert!(len > 0, "{path} is missing or empty");
    }
    let complete = |words: &[&str]| -> String {
        // bash passes the command, the current word and the previous one.
        let script = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; _xcarp xcarp \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; echo \"${{COMPREPLY[*]}}\"",
            COMPLETIONS[0],
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1
        );
        sh("bash", &["-c", &script]).trim().to_owned()
    };
    assert_eq!(complete(&["xcarp", "--shut"]), "--shutdown");
    assert_eq!(complete(&["xcarp", "--xdp-mode", ""]), "auto driver skb");
}

/// `systemd-analyze verify` of both units (an instance of the template):
/// no error, and no warning either (it warns about unknown keys and values
/// but exits 0).
fn check_unit_with_systemd_analyze() {
    if !Path::new("/usr/bin/systemd-analyze").exists() {
        eprintln!("systemd-analyze is not installed: the units are not verified by systemd");
        return;
    }
    let dir = xcarp_tests::carp::TempDir::new("sa");
    let instance = dir.0.join("xcarp@verify.service");
    std::fs::copy(UNIT, &instance).expect("copy the unit");
    for unit in [instance.as_path(), Path::new(CONFIG_UNIT)] {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(unit)
            .stdin(Stdio::null())
            .output()
            .expect("run systemd-analyze");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && said.trim().is_empty(),
            "systemd-analyze verify {}: {}\n{said}",
            unit.display(),
            out.status
        );
    }
}

/// The unit's `[Service]` directives (a repeated one keeps every value).
fn service_directives(unit: &str) -> BTreeMap<String, Vec<String>> {
    let mut section = "";
    let mut directives: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section == "[Service]"
            && let Some((key, value)) = line.split_once('=')
        {
            directives
                .entry(key.trim().to_owned())
                .or_default()
                .push(value.trim().to_owned());
        }
    }
    directives
}

/// The variables of an EnvironmentFile: `KEY=VALUE` lines, the value
/// optionally in double or single quotes; comments and blank lines skipped.
fn environment_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let unquoted = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_owned(), unquoted.to_owned())
        })
        .collect()
}

/// `ExecStart=` as systemd turns it into an argument list: `%i` is the
/// instance, `$NAME` a variable split at whitespace into words, `${NAME}`
/// a variable as one word. Other specifiers and quoting are not emulated.
fn exec_start(line: &str, instance: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    assert!(
        !line.contains(['"', '\'', '\\']) && !line.starts_with(['-', '@', '+', '!', ':']),
        "ExecStart={line}: quoting and prefixes are not emulated"
    );
    let mut argv = Vec::new();
    for word in line.split_whitespace() {
        let word = word.replace("%i", instance).replace("%%", "%");
        assert!(
            !word.contains('%'),
            "ExecStart={line}: a specifier other than %i is not emulated"
        );
        if let Some(name) = word.strip_prefix("${").and_then(|w| w.strip_suffix('}')) {
            argv.push(env.get(name).cloned().unwrap_or_default());
        } else if let Some(name) = word.strip_prefix('$') {
            argv.extend(
                env.get(name)
                    .map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                    .unwrap_or_default(),
            );
        } else {
            assert!(
                !word.contains('$'),
                "ExecStart={line}: {word} is not emulated"
            );
            argv.push(word);
        }
    }
    argv
}

/// setpriv's form of `CapabilityBoundingSet=CAP_A CAP_B`: `-all,+a,+b`.
fn bounding_set(caps: &str) -> String {
    let mut set = vec!["-all".to_owned()];
    for cap in caps.split_whitespace() {
        let name = cap
            .strip_prefix("CAP_")
            .unwrap_or_else(|| panic!("CapabilityBoundingSet: {cap} is not emulated"));
        set.push(format!("+{}", name.to_ascii_lowercase()));
    }
    set.join(",")
}

fn signal_number(name: &str) -> i32 {
    match name {
        "SIGTERM" => libc::SIGTERM,
        "SIGINT" => libc::SIGINT,
        "SIGQUIT" => libc::SIGQUIT,
        "SIGHUP" => libc::SIGHUP,
        other => panic!("KillSignal={other} is not emulated"),
    }
}

/// Starts the unit's command for an instance whose configuration names a
/// one-host LAN's interface and the example scripts, as systemd would in
/// that host's namespace: xcarp must become master and the up-script add
/// the address; the unit's stop signal must make it run the downscript,
/// remove the address and exit 0 within TimeoutStopSec.
fn run_the_unit(package: &mut Installed) {
    let unit = std::fs::read_to_string(UNIT).expect("read the installed unit");
    let directives = service_directives(&unit);
    let one = |key: &str| -> &str {
        match directives.get(key).map(Vec::as_slice) {
            Some([value]) => value,
            other => panic!("{key}: expected one value in the unit, found {other:?}"),
        }
    };
    let emulated = [
        "Type",
        "EnvironmentFile",
        "ExecStart",
        "KillSignal",
        "KillMode",
        "TimeoutStopSec",
        "CapabilityBoundingSet",
        "NoNewPrivileges",
    ];
    for key in directives.keys() {
        let sandbox = key.starts_with("Protect")
            || key.starts_with("Private")
            || key.starts_with("Restrict")
            || key.starts_with("Restart")
            || key == "LockPersonality";
        assert!(
            sandbox || emulated.contains(&key.as_str()),
            "the unit's {key}= is neither emulated here nor a sandboxing or restart setting"
        );
    }
    assert_eq!(one("Type"), "simple");
    assert_eq!(one("KillMode"), "mixed", "only xcarp gets the stop signal");

    let lan = Lan::with_hosts(1);
    let host = &lan.hosts[0];
    let instance = format!("pkgtest{}", std::process::id());
    let conf_path = one("EnvironmentFile").replace("%i", &instance);
    assert_eq!(conf_path, format!("/etc/xcarp/{instance}.conf"));
    let conf = format!(
        "# written by the package test\nXCARP_ARGS=\"-i {} -v 42 -p love -a {VIP} -s {} -u {EXAMPLES}/vip-up.sh -d {EXAMPLES}/vip-down.sh -f none\"\n",
        host.dev, host.addr
    );
    std::fs::write(&conf_path, conf).expect("write the instance's configuration");
    package.extra.push(PathBuf::from(&conf_path));

    let env = environment_file(&std::fs::read_to_string(&conf_path).expect("read it back"));
    let argv = exec_start(one("ExecStart"), &instance, &env);
    assert_eq!(argv[0], "/usr/sbin/xcarp");
    assert!(
        argv.contains(&"-v".to_owned()),
        "XCARP_ARGS was not expanded: {argv:?}"
    );

    let mut cmd = host.ns.command("setpriv");
    cmd.arg(format!(
        "--bounding-set={}",
        bounding_set(one("CapabilityBoundingSet"))
    ));
    if one("NoNewPrivileges") == "yes" {
        cmd.arg("--no-new-privs");
    }
    cmd.args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut xcarp = ProcessGuard::spawn(cmd);
    let log = Log::default();
    log.follow(xcarp.child.stderr.take().expect("stderr piped"));
    let show = |what: &str| format!("{what}\nxcarp's log:\n{}", log.text());

    assert!(
        log.wait_for("Switching to state: MASTER", Duration::from_secs(20)),
        "{}",
        show("xcarp started by the unit's command did not become master")
    );
    assert!(
        wait_until(Duration::from_secs(5), || host.has_addr(VIP)),
        "{}",
        show("the example up-script did not add the address")
    );

    // `ip netns exec` and setpriv exec xcarp: the child is xcarp itself.
    xcarp.signal(signal_number(one("KillSignal")));
    let stop: u64 = one("TimeoutStopSec").parse().expect("TimeoutStopSec in s");
    let status = xcarp
        .wait_exit(Duration::from_secs(stop))
        .unwrap_or_else(|| panic!("{}", show("xcarp did not stop within TimeoutStopSec")));
    assert!(
        status.success(),
        "{}",
        show(&format!("xcarp exited with {status}"))
    );
    assert!(
        log.text()
            .contains(&format!("Spawning [{EXAMPLES}/vip-down.sh")),
        "{}",
        show("the stop did not run the downscript")
    );
    assert!(
        !host.has_addr(VIP),
        "{}",
        show("the address is still configured after the stop")
    );
    // The backup's downscript at start has nothing to remove: the example
    // scripts succeed then too (tests/tests/example_scripts.rs runs them
    // on their own).
    assert!(
        !log.text().contains("exited with"),
        "{}",
        show("an example script failed")
    );
}

#[test]
fn the_unit_emulation_reads_what_systemd_reads() {
    let env = environment_file("# comment\n\nXCARP_ARGS=\"-i eth0 -v 42\"\nOTHER='a b'\nPLAIN=x\n");
    assert_eq!(env["XCARP_ARGS"], "-i eth0 -v 42");
    assert_eq!(env["OTHER"], "a b");
    assert_eq!(env["PLAIN"], "x");
    assert_eq!(
        exec_start(
            "/usr/sbin/xcarp --shutdown $XCARP_ARGS ${OTHER} %i",
            "vip1",
            &env
        ),
        [
            "/usr/sbin/xcarp",
            "--shutdown",
            "-i",
            "eth0",
            "-v",
            "42",
            "a b",
            "vip1"
        ]
    );
    assert_eq!(
        bounding_set("CAP_BPF CAP_NET_ADMIN"),
        "-all,+bpf,+net_admin"
    );
    let unit = "[Unit]\nDescription=x %i\n[Service]\n# c\nExecStart=/bin/a\nRestrictAddressFamilies=AF_UNIX\nRestrictAddressFamilies=AF_INET\n[Install]\nWantedBy=x\n";
    let d = service_directives(unit);
    assert_eq!(d["ExecStart"], ["/bin/a"]);
    assert_eq!(d["RestrictAddressFamilies"], ["AF_UNIX", "AF_INET"]);
    assert!(!d.contains_key("Description") && !d.contains_key("WantedBy"));
}
