//! `check` and `track_interface` (docs/config.md, "Health checks").
use super::*;
use crate::config::HealthCheck;

fn check(body: &str) -> String {
    format!("{}[[instance.check]]\n{body}", one(""))
}

#[test]
fn checks_take_every_key_and_their_defaults() {
    let s = ok(&format!(
        "{}track_interface = [\"eth1\", \"bond0.7\"]\n\
         [[instance.check]]\nname = \"web\"\ncommand = [\"/usr/bin/curl\", \"-fsS\", \"http://x/ a\"]\n\
         interval = 0.5\ntimeout = 0.25\nfall = 5\nrise = 1\n\
         [[instance.check]]\ncommand = [\"/usr/local/bin/check-db\"]\n",
        one("")
    ));
    let i = &s.instances[0];
    assert_eq!(i.track_interfaces, ["eth1", "bond0.7"]);
    assert_eq!(
        i.checks,
        [
            HealthCheck {
                name: "web".into(),
                program: "/usr/bin/curl".into(),
                // Passed as they are: no shell splits or expands them.
                args: vec!["-fsS".into(), "http://x/ a".into()],
                interval: Duration::from_millis(500),
                timeout: Duration::from_millis(250),
                fall: 5,
                rise: 1,
            },
            HealthCheck {
                // The program's file name when none is given.
                name: "check-db".into(),
                program: "/usr/local/bin/check-db".into(),
                args: Vec::new(),
                interval: Duration::from_secs(2),
                // The interval when none is given.
                timeout: Duration::from_secs(2),
                fall: 3,
                rise: 2,
            },
        ]
    );
    // Without the keys: no checks, nothing tracked.
    let plain = ok(&one(""));
    assert!(plain.instances[0].checks.is_empty());
    assert!(plain.instances[0].track_interfaces.is_empty());
}

#[test]
fn one_check_may_be_a_plain_table_and_programs_resolve_like_scripts() {
    let s = ok(&format!(
        "{}[instance.check]\ncommand = [\"checks/web.sh\", \"80\"]\ninterval = 3\ntimeout = 1\n",
        one("")
    ));
    let c = &s.instances[0].checks[0];
    // Relative to the file's directory, as upscript.
    assert_eq!(c.program, Path::new("/etc/xcarp/checks/web.sh"));
    assert_eq!(c.name, "web.sh");
    assert_eq!(
        (c.interval, c.timeout),
        (Duration::from_secs(3), Duration::from_secs(1))
    );
}

#[test]
fn defaults_give_checks_and_tracked_interfaces_to_every_instance() {
    let text = "[defaults]\ninterface = \"eth0\"\nsrcip = \"10.1.1.1\"\npassword = \"pw\"\n\
                track_interface = [\"eth1\"]\n\
                [[defaults.check]]\ncommand = [\"/bin/true\"]\n\
                [[instance]]\nvhid = 1\naddresses = [\"10.1.1.10\"]\n\
                [[instance]]\nvhid = 2\naddresses = [\"10.1.1.11\"]\ntrack_interface = []\n\
                [[instance.check]]\ncommand = [\"/bin/false\"]\n";
    let s = ok(text);
    assert_eq!(s.instances[0].track_interfaces, ["eth1"]);
    assert_eq!(s.instances[0].checks[0].name, "true");
    // An instance's own keys replace the defaults'.
    assert!(s.instances[1].track_interfaces.is_empty());
    assert_eq!(s.instances[1].checks.len(), 1);
    assert_eq!(s.instances[1].checks[0].name, "false");
}

#[test]
fn bad_checks_are_refused_with_the_line_and_what_is_accepted() {
    error(
        &check("interval = 2\n"),
        &[":7:", "key `command`", "missing in this check"],
    );
    error(
        &check("command = []\n"),
        &[":8:", "key `command`", "is empty"],
    );
    error(
        &check("command = \"/usr/bin/curl -f http://x/\"\n"),
        &[":8:", "key `command`", "found a string", "without a shell"],
    );
    error(
        &check("command = [\"/bin/x\", 3]\n"),
        &[":8:", "key `command`", "found an integer"],
    );
    error(
        &check("command = [\"/bin/x\"]\ninterval = 0.05\n"),
        &[":9:", "key `interval`", "out of range", "0.1-3600 seconds"],
    );
    error(
        &check("command = [\"/bin/x\"]\ninterval = 3601\n"),
        &[":9:", "key `interval`", "out of range"],
    );
    error(
        &check("command = [\"/bin/x\"]\ninterval = \"2s\"\n"),
        &[":9:", "key `interval`", "expected a number"],
    );
    error(
        &check("command = [\"/bin/x\"]\ninterval = nan\n"),
        &[":9:", "key `interval`", "out of range"],
    );
    error(
        &check("command = [\"/bin/x\"]\ninterval = 1\ntimeout = 1.5\n"),
        &[
            ":10:",
            "key `timeout`",
            "longer than the interval",
            "at most the interval",
        ],
    );
    // The default interval bounds the timeout too.
    error(
        &check("command = [\"/bin/x\"]\ntimeout = 3\n"),
        &[":9:", "key `timeout`", "longer than the interval of 2 s"],
    );
    error(
        &check("command = [\"/bin/x\"]\nfall = 0\n"),
        &[":9:", "key `fall`", "out of range (1-255 consecutive runs)"],
    );
    error(
        &check("command = [\"/bin/x\"]\nrise = 256\n"),
        &[":9:", "key `rise`", "out of range"],
    );
    error(
        &check("command = [\"/bin/x\"]\nretries = 3\n"),
        &[
            ":9:",
            "key `retries`",
            "unknown key in a check",
            "command, interval",
        ],
    );
    error(
        &check("command = [\"/bin/x\"]\nname = \"\"\n"),
        &["key `name`", "not empty"],
    );
    error(
        &format!("{}check = 3\n", one("")),
        &[":7:", "key `check`", "[instance.check] table"],
    );
    error(
        &format!(
            "{}[[instance.check]]\ncommand = [\"/a/probe\"]\n[[instance.check]]\ncommand = [\"/b/probe\"]\n",
            one("")
        ),
        &[
            "key `check`",
            "two checks of the instance are named \"probe\"",
            "`name`",
        ],
    );
}

#[test]
fn tracked_interfaces_must_be_interface_names_once_each() {
    error(
        &one("track_interface = [\"eth1\", \"eth1\"]\n"),
        &[":7:", "key `track_interface`", "\"eth1\" is listed twice"],
    );
    error(
        &one("track_interface = [\"eth/1\"]\n"),
        &[":7:", "key `track_interface`", "not an interface name"],
    );
    error(
        &one("track_interface = \"eth1\"\n"),
        &[":7:", "key `track_interface`", "a list of interface names"],
    );
}

#[test]
fn load_checks_that_check_programs_exist_and_are_executable() {
    let dir = temp_dir("checks");
    let config = dir.join("xcarp.toml");
    let probe = dir.join("probe.sh");
    write(&probe, "#!/bin/sh\nexit 0\n", 0o755);
    let plain = dir.join("plain.sh");
    write(&plain, "exit 0\n", 0o644);
    let base = one("");
    let with = |command: &str| format!("{base}[[instance.check]]\ncommand = {command}\n");

    write(&config, &with("[\"probe.sh\", \"x\"]"), 0o600);
    let s = load(&config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.instances[0].checks[0].program, probe);

    write(&config, &with("[\"curl\", \"-f\"]"), 0o600);
    let e = load(&config).unwrap_err().to_string();
    assert!(
        e.contains("not in PATH") && e.contains("/usr/bin/curl"),
        "{e}"
    );

    write(&config, &with(&format!("[\"{}\"]", plain.display())), 0o600);
    let e = load(&config).unwrap_err().to_string();
    assert!(e.contains("not executable"), "{e}");

    write(&config, &with("[\"/nonexistent/check\"]"), 0o600);
    let e = load(&config).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/check"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
