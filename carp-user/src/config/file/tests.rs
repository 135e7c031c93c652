use std::os::unix::fs::PermissionsExt as _;

use proptest::prelude::*;

use super::*;

const FILE: &str = "/etc/xcarp/xcarp.toml";

fn ok(text: &str) -> Settings {
    parse_str(text, Path::new(FILE), Checks::TextOnly)
        .unwrap_or_else(|e| panic!("not accepted:\n{e}\n---\n{text}"))
}

fn errors(text: &str) -> Vec<String> {
    match parse_str(text, Path::new(FILE), Checks::TextOnly) {
        Ok(s) => panic!("accepted: {s:?}\n---\n{text}"),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

/// The only error of `text`, which must mention every needle.
fn error(text: &str, needles: &[&str]) -> String {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    for needle in needles {
        assert!(
            errors[0].contains(needle),
            "{needle:?} not in {}",
            errors[0]
        );
    }
    errors.into_iter().next().unwrap_or_default()
}

/// One valid instance, with `extra` lines appended to it.
fn one(extra: &str) -> String {
    format!(
        "[[instance]]\ninterface = \"eth0\"\nvhid = 42\naddresses = [\"10.1.1.252\"]\n\
         srcip = \"10.1.1.1\"\npassword = \"love\"\n{extra}"
    )
}

#[test]
fn a_minimal_instance_gets_ucarps_defaults() {
    let s = ok(&one(""));
    assert_eq!(s.global, Global::default());
    assert_eq!(s.global.status_socket, Path::new("/run/xcarp/status.sock"));
    assert_eq!(s.instances.len(), 1);
    let i = &s.instances[0];
    assert_eq!(i.name, "eth0/vhid42");
    assert_eq!(i.interface.as_deref(), Some("eth0"));
    assert_eq!((i.vlan, i.vhid), (0, 42));
    assert_eq!(
        i.addresses,
        vec![VirtualAddress::new(Ipv4Addr::new(10, 1, 1, 252))]
    );
    assert_eq!(i.srcip, Ipv4Addr::new(10, 1, 1, 1));
    assert_eq!(i.password.as_bytes(), b"love");
    assert_eq!(i.passfile, None);
    assert_eq!((i.advbase, i.advskew, i.deadratio), (1, 0, 3));
    assert_eq!(i.group, DEFAULT_GROUP);
    assert!(!i.preempt && !i.neutral && !i.shutdown && !i.ignore_ifstate && !i.nomcast);
    assert_eq!((i.upscript.as_ref(), i.downscript.as_ref()), (None, None));
    assert_eq!(i.xdp_mode, XdpMode::Auto);
    assert_eq!(i.tie_break, TieBreak::Ucarp);
    assert!(i.replay_protection);
    assert!(s.warnings.is_empty());
}

#[test]
fn every_key_is_read() {
    let s = ok(r#"
[global]
facility = "LOCAL3"
pidfile = "run/xcarp.pid"
script_timeout = 30
status_socket = "/run/x/status.sock"
metrics_listen = "127.0.0.1:9420"
debug = true

[defaults]
interface = "eth1"
srcip = "10.1.1.1"
passfile = "vip.pwd"
advbase = 2
upscript = "/usr/libexec/xcarp/vip-up"
downscript = "scripts/vip-down"
preempt = true

[[instance]]
name = "web"
vlan = 100
vhid = 7
addresses = ["10.1.1.253", "10.1.1.252"]
advskew = 100
deadratio = 4
neutral = true
shutdown = true
ignore_ifstate = true
group = "239.192.0.1"
nomcast = true
xparam = "x y"
xdp_mode = "skb"
tie_break = "numeric"
replay_protection = false
password = "secret"
"#);
    let g = &s.global;
    assert_eq!(g.facility, Facility::Syslog(syslog::Facility::LOG_LOCAL3));
    assert_eq!(
        g.pidfile.as_deref(),
        Some(Path::new("/etc/xcarp/run/xcarp.pid"))
    );
    assert_eq!(g.script_timeout, Duration::from_secs(30));
    assert_eq!(g.status_socket, Path::new("/run/x/status.sock"));
    assert_eq!(g.metrics_listen, Some("127.0.0.1:9420".parse().unwrap()));
    assert!(g.debug && !g.daemonize);
    let i = &s.instances[0];
    assert_eq!(i.name, "web");
    assert_eq!(
        (i.interface.as_deref(), i.vlan, i.vhid),
        (Some("eth1"), 100, 7)
    );
    // In the order given; the HMAC sorts them.
    assert_eq!(
        i.addresses
            .iter()
            .map(|a| a.typed.as_str())
            .collect::<Vec<_>>(),
        ["10.1.1.253", "10.1.1.252"]
    );
    assert_eq!(
        i.hmac_addresses(),
        [Ipv4Addr::new(10, 1, 1, 252), Ipv4Addr::new(10, 1, 1, 253)]
    );
    // The instance's own password replaces the defaults' passfile.
    assert_eq!(i.password.as_bytes(), b"secret");
    assert_eq!(i.passfile, None);
    assert_eq!((i.advbase, i.advskew, i.deadratio), (2, 100, 4));
    assert!(i.preempt && i.neutral && i.shutdown && i.ignore_ifstate && i.nomcast);
    assert_eq!(i.group, Ipv4Addr::new(239, 192, 0, 1));
    assert_eq!(
        i.upscript.as_deref(),
        Some(Path::new("/usr/libexec/xcarp/vip-up"))
    );
    // Relative paths are relative to the file's directory.
    assert_eq!(
        i.downscript.as_deref(),
        Some(Path::new("/etc/xcarp/scripts/vip-down"))
    );
    assert_eq!(i.xparam.as_deref(), Some("x y"));
    assert_eq!((i.xdp_mode, i.tie_break), (XdpMode::Skb, TieBreak::Numeric));
    assert!(!i.replay_protection);
}

#[test]
fn defaults_fill_every_instance_and_instances_override_them() {
    let s = ok(r#"
[defaults]
interface = "eth0"
srcip = "10.1.1.1"
passfile = "/etc/xcarp/vip.pwd"
advskew = 50

[[instance]]
vhid = 1
addresses = ["10.1.1.251"]

[[instance]]
vhid = 2
addresses = ["10.1.1.252"]
advskew = 0
interface = "eth1"
"#);
    let [a, b] = s.instances.as_slice() else {
        panic!("{:?}", s.instances)
    };
    assert_eq!((a.name.as_str(), a.advskew), ("eth0/vhid1", 50));
    assert_eq!((b.name.as_str(), b.advskew), ("eth1/vhid2", 0));
    // TextOnly reads no password file.
    assert_eq!(a.passfile.as_deref(), Some(Path::new("/etc/xcarp/vip.pwd")));
    assert!(a.password.as_bytes().is_empty());
}

#[test]
fn errors_cite_file_line_and_key_and_what_is_accepted() {
    let e = error(&one("advskew = 300\n"), &[]);
    assert_eq!(
        e,
        "/etc/xcarp/xcarp.toml:7: key `advskew`: 300 is out of range (0-255, in 1/256 s)"
    );
}

#[test]
fn unknown_keys_are_refused_everywhere() {
    error(
        &format!("colour = 1\n{}", one("")),
        &[
            ":1:",
            "key `colour`",
            "unknown key",
            "global, defaults, instance",
        ],
    );
    error(
        &format!("[global]\nfacilty = \"daemon\"\n{}", one("")),
        &[":2:", "key `facilty`", "[global]", "facility"],
    );
    error(
        &one("preemt = true\n"),
        &[":7:", "key `preemt`", "[[instance]]", "preempt"],
    );
    error(
        &format!("[defaults]\nvhid = 3\n{}", one("")),
        &[":2:", "key `vhid`", "has no default"],
    );
    error(
        &format!("[defaults]\nname = \"x\"\n{}", one("")),
        &[":2:", "key `name`", "has no default"],
    );
}

#[test]
fn values_of_the_wrong_type_or_out_of_range_are_refused() {
    for (extra, needles) in [
        (
            "advbase = \"1\"\n",
            &[
                ":6:",
                "key `advbase`",
                "expected an integer (0-255 seconds), found a string",
            ][..],
        ),
        (
            "advbase = 256\n",
            &["key `advbase`", "256 is out of range (0-255 seconds)"],
        ),
        ("advbase = -1\n", &["key `advbase`", "-1 is out of range"]),
        (
            "deadratio = 0\n",
            &["key `deadratio`", "0 is out of range (1-255)"],
        ),
        (
            "vlan = 4095\n",
            &["key `vlan`", "out of range (0-4094, 0 for untagged frames)"],
        ),
        (
            "preempt = \"yes\"\n",
            &["key `preempt`", "expected true or false"],
        ),
        (
            "xdp_mode = \"fast\"\n",
            &["key `xdp_mode`", "auto, driver, skb"],
        ),
        (
            "tie_break = \"lowest\"\n",
            &["key `tie_break`", "ucarp, numeric"],
        ),
        (
            "group = \"10.0.0.1\"\n",
            &["key `group`", "not a multicast address"],
        ),
        ("group = 5\n", &["key `group`", "expected a string"]),
        (
            "interface = \"eth0/1\"\n",
            &["key `interface`", "not an interface name"],
        ),
        (
            "interface = \"averyveryverylongname\"\n",
            &["key `interface`", "1-15 characters"],
        ),
        ("xparam = \"a\\u0000b\"\n", &["key `xparam`", "NUL"]),
        ("upscript = \"\"\n", &["key `upscript`", "is empty"]),
    ] {
        // The instance's own keys come first: replace, not add.
        let text = one("").replace("interface = \"eth0\"\n", "") + extra;
        let text = if extra.starts_with("interface") {
            text
        } else {
            text + "interface = \"eth0\"\n"
        };
        let e = errors(&text);
        assert_eq!(e.len(), 1, "{extra}: {e:#?}");
        for needle in needles {
            assert!(e[0].contains(needle), "{extra}: {needle:?} not in {}", e[0]);
        }
    }
    error(
        &one("").replace("vhid = 42", "vhid = 0"),
        &[":3:", "key `vhid`", "0 is out of range (1-255)"],
    );
    error(
        &one("").replace("vhid = 42", "vhid = 256"),
        &["key `vhid`", "256 is out of range (1-255)"],
    );
}

#[test]
fn bad_addresses_are_refused() {
    for (addresses, needle) in [
        ("[\"10.1.1\"]", "not an IPv4 address: \"10.1.1\""),
        ("[\"fe80::1\"]", "not an IPv4 address"),
        ("[]", "is empty"),
        ("\"10.1.1.252\"", "expected a list of IPv4 addresses"),
        (
            "[\"10.1.1.252\", \"10.1.1.252\"]",
            "10.1.1.252 is listed twice",
        ),
        ("[\"224.0.0.18\"]", "not a host address"),
        ("[\"0.0.0.0\"]", "not a host address"),
        ("[\"255.255.255.255\"]", "not a host address"),
        ("[42]", "expected a string"),
    ] {
        let text = one("").replace("[\"10.1.1.252\"]", addresses);
        let e = error(&text, &[":4:", "key `addresses`"]);
        assert!(e.contains(needle), "{addresses}: {e}");
    }
    error(
        &one("").replace("srcip = \"10.1.1.1\"", "srcip = \"10.1.1.252\""),
        &[":5:", "key `srcip`", "also one of the instance's addresses"],
    );
    error(
        &one("").replace("srcip = \"10.1.1.1\"", "srcip = \"nope\""),
        &[":5:", "key `srcip`", "not an IPv4 address"],
    );
}

#[test]
fn more_addresses_than_the_kernel_check_takes_are_allowed() {
    let many: Vec<String> = (1..=12).map(|i| format!("\"10.1.2.{i}\"")).collect();
    let text = one("").replace("[\"10.1.1.252\"]", &format!("[{}]", many.join(", ")));
    let s = ok(&text);
    assert_eq!(s.instances[0].addresses.len(), 12);
    assert!(s.instances[0].addresses.len() > crate::config::KERNEL_HMAC_MAX_ADDRESSES);
}

#[test]
fn missing_keys_are_named_at_the_instance() {
    let e = errors("[[instance]]\nvhid = 1\n");
    assert_eq!(e.len(), 4, "{e:#?}");
    for (e, key) in e
        .iter()
        .zip(["interface", "addresses", "srcip", "password"])
    {
        assert!(
            e.starts_with(&format!("{FILE}:1: key `{key}`: missing")),
            "{e}"
        );
    }
    error(
        &one("").replace("vhid = 42\n", ""),
        &[":1:", "key `vhid`", "missing", "1-255"],
    );
}

#[test]
fn password_and_passfile_exclude_each_other() {
    error(
        &one("passfile = \"/etc/xcarp/pw\"\n"),
        &[":7:", "key `passfile`", "exclude each other"],
    );
    error(
        &format!(
            "[defaults]\npassword = \"a\"\npassfile = \"b\"\n{}",
            one("")
        ),
        &[":3:", "key `passfile`", "exclude each other"],
    );
    error(
        &one("").replace("\"love\"", "\"01234567890123456789\""),
        &["key `password`", "too long: 20 bytes (at most 19"],
    );
    error(
        &one("").replace("\"love\"", "\"\""),
        &["key `password`", "empty"],
    );
}

#[test]
fn password_hex_gives_the_exact_bytes() {
    let with =
        |value: &str| one("").replace("password = \"love\"", &format!("password_hex = {value}"));
    let s = ok(&with("\"e974e9\""));
    assert_eq!(s.instances[0].password.as_bytes(), b"\xe9t\xe9");
    assert_eq!(s.instances[0].passfile, None);
    let s = ok(&with("\"00FF7f\""));
    assert_eq!(s.instances[0].password.as_bytes(), b"\x00\xff\x7f");
    let s = ok(&format!(
        "[defaults]\npassword_hex = \"6c6f7665\"\n{}",
        one("").replace("password = \"love\"\n", "")
    ));
    assert_eq!(s.instances[0].password.as_bytes(), b"love");
    for bad in ["\"e97\"", "\"e9 74\"", "\"zz\"", "\"0x41\""] {
        error(
            &with(bad),
            &[":6:", "key `password_hex`", "not hexadecimal"],
        );
    }
    error(&with("\"\""), &["key `password_hex`", "empty"]);
    error(
        &with(&format!("\"{}\"", "ab".repeat(20))),
        &["key `password_hex`", "too long: 20 bytes"],
    );
    error(&with("41"), &["key `password_hex`", "expected a string"]);
    error(
        &one("password_hex = \"41\"\n"),
        &[":7:", "key `password_hex`", "exclude each other"],
    );
    error(
        &(with("\"41\"") + "passfile = \"/etc/xcarp/pw\"\n"),
        &[":7:", "key `passfile`", "exclude each other"],
    );
    // An instance's password_hex replaces a default passfile.
    let s = ok(&format!(
        "[defaults]\npassfile = \"/etc/xcarp/pw\"\n{}",
        with("\"41\"")
    ));
    assert_eq!(s.instances[0].password.as_bytes(), b"A");
    assert_eq!(s.instances[0].passfile, None);
}

#[test]
fn an_instance_is_unique_by_interface_vlan_and_vhid() {
    let second = one("").replace("10.1.1.252", "10.1.1.253");
    let e = error(
        &format!("{}\n{second}", one("")),
        &["key `vhid`", "already the [[instance]] of line 1"],
    );
    assert!(e.starts_with(&format!("{FILE}:8:")), "{e}");
    // Another VLAN or interface is another instance.
    ok(&format!(
        "{}\n{}",
        one(""),
        second.replace("vhid = 42", "vhid = 42\nvlan = 5")
    ));
    ok(&format!(
        "{}\n{}",
        one(""),
        second.replace("\"eth0\"", "\"eth1\"")
    ));
}

/// `n` instances on five interfaces (255 VHIDs each), each with an
/// address of its own.
fn many(n: usize) -> String {
    let mut text = String::from("[defaults]\nsrcip = \"10.1.1.1\"\npassword = \"love\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[instance]]\ninterface = \"eth{}\"\nvhid = {}\naddresses = [\"10.2.{}.{}\"]\n",
            i / 255,
            i % 255 + 1,
            i / 250,
            i % 250 + 1
        ));
    }
    text
}

/// The XDP program's VHID table holds 1024 entries: a file with more
/// instances is refused once, at the first one too many, not at start.
#[test]
fn at_most_1024_instances() {
    assert_eq!(ok(&many(1024)).instances.len(), 1024);
    let text = many(1100);
    let e = error(
        &text,
        &["1100 instances", "at most 1024", "first one too many"],
    );
    // The 1025th [[instance]] (four lines each, after three of defaults).
    assert!(
        e.starts_with(&format!("{FILE}:{}:", 3 + 4 * 1024 + 1)),
        "{e}"
    );
}

#[test]
fn an_address_belongs_to_one_instance_and_names_are_unique() {
    let second = one("").replace("vhid = 42", "vhid = 43");
    error(
        &format!("{}\n{second}", one("")),
        &[
            ":8:",
            "key `addresses`",
            "10.1.1.252 is already an address of the [[instance]] of line 1",
        ],
    );
    let named = |vhid: u32, address: &str| {
        one("name = \"web\"\n")
            .replace("vhid = 42", &format!("vhid = {vhid}"))
            .replace("10.1.1.252", address)
    };
    error(
        &format!("{}\n{}", named(1, "10.1.1.2"), named(2, "10.1.1.3")),
        &[
            ":9:",
            "key `name`",
            "\"web\" is already the name of the [[instance]] of line 1",
        ],
    );
}

#[test]
fn the_file_needs_instances_as_an_array_of_tables() {
    let e = error("[global]\ndebug = true\n", &["no [[instance]]"]);
    assert_eq!(
        e,
        format!("{FILE}: no [[instance]]: at least one is needed")
    );
    error(
        &one("").replace("[[instance]]", "[instance]"),
        &["key `instance`", "double brackets"],
    );
    let e = errors(&format!("global = 3\n{}", one("")));
    assert_eq!(
        e,
        [format!("{FILE}:1: key `global`: expected a [global] table")]
    );
}

#[test]
fn toml_syntax_errors_give_their_line() {
    error(&one("advskew = \n"), &[":7:", "not valid TOML"]);
    error(
        "[[instance]]\nvhid = 1\nvhid = 2\n",
        &[":3:", "not valid TOML", "duplicate key"],
    );
}

#[test]
fn global_values_are_checked() {
    for (line, needle) in [
        (
            "facility = \"local9\"",
            "unknown syslog facility \"local9\"",
        ),
        ("script_timeout = 0", "0 is out of range (1-3600 seconds)"),
        ("metrics_listen = \"localhost\"", "not a listen address"),
        ("metrics_listen = \"127.0.0.1:0\"", "not a listen address"),
        ("debug = 1", "expected true or false"),
        ("status_socket = \"\"", "is empty"),
    ] {
        let e = error(&format!("[global]\n{line}\n{}", one("")), &[":2:"]);
        assert!(e.contains(needle), "{line}: {e}");
    }
    ok(&format!(
        "[global]\nmetrics_listen = \"[::1]:9420\"\n{}",
        one("")
    ));
}

#[test]
fn every_error_of_a_file_is_reported_in_file_order() {
    let e = errors(&format!(
        "[global]\nbogus = 1\n{}",
        one("advskew = 999\nneutral = 3\n")
    ));
    let lines: Vec<&str> = e
        .iter()
        .map(|e| e.split(':').nth(1).unwrap_or_default())
        .collect();
    assert_eq!(lines, ["2", "9", "10"], "{e:#?}");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xcarp-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, content: &str, mode: u32) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn load_reads_password_files_and_checks_scripts() {
    let dir = temp_dir("full");
    write(&dir.join("vip.pwd"), "secret\r\nsecond\n", 0o600);
    write(&dir.join("up"), "#!/bin/sh\n", 0o755);
    write(&dir.join("down"), "#!/bin/sh\n", 0o644);
    let config = dir.join("xcarp.toml");
    let text =
        one("").replace("password = \"love\"", "passfile = \"vip.pwd\"") + "upscript = \"up\"\n";
    write(&config, &text, 0o644);
    let s = load(&config).unwrap();
    let i = &s.instances[0];
    assert_eq!(i.password.as_bytes(), b"secret\r", "read as ucarp reads it");
    assert_eq!(i.passfile.as_deref(), Some(dir.join("vip.pwd").as_path()));
    assert_eq!(i.upscript.as_deref(), Some(dir.join("up").as_path()));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);

    write(&config, &(text.clone() + "downscript = \"down\"\n"), 0o600);
    let e = load(&config).unwrap_err().to_string();
    assert!(
        e.contains(":8: key `downscript`") && e.contains("not executable"),
        "{e}"
    );
    write(
        &config,
        &(text.clone() + "downscript = \"missing\"\n"),
        0o600,
    );
    let e = load(&config).unwrap_err().to_string();
    assert!(
        e.contains("key `downscript`") && e.contains("No such file"),
        "{e}"
    );

    write(&dir.join("vip.pwd"), "secret\n", 0o644);
    let s = load(&config.with_file_name("none"))
        .map(|_| ())
        .unwrap_err();
    assert!(s.to_string().contains("cannot read the configuration file"));
    write(&config, &text, 0o600);
    let s = load(&config).unwrap();
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(
        s.warnings[0].contains(":6: key `passfile`")
            && s.warnings[0].contains("readable by other users"),
        "{:?}",
        s.warnings
    );
    write(
        &config,
        &text.replace("\"vip.pwd\"", "\"nowhere.pwd\""),
        0o600,
    );
    let e = load(&config).unwrap_err().to_string();
    assert!(
        e.contains(":6: key `passfile`: cannot read password file"),
        "{e}"
    );
    write(
        &config,
        &text.replace("\"vip.pwd\"", "\"/dev/zero\""),
        0o600,
    );
    let e = load(&config).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_password_file_that_is_not_utf8_keys_the_hmac_with_its_bytes() {
    use hmac::{Hmac, Mac as _};
    let dir = temp_dir("latin1");
    std::fs::write(dir.join("vip.pwd"), b"\xe9t\xe9\n").unwrap();
    let config = dir.join("xcarp.toml");
    write(
        &config,
        &one("").replace("password = \"love\"", "passfile = \"vip.pwd\""),
        0o600,
    );
    let s = load(&config).unwrap();
    let i = &s.instances[0];
    assert_eq!(i.password.as_bytes(), b"\xe9t\xe9");
    let auth =
        crate::auth::CarpAuth::new(i.password.as_bytes(), i.vhid, &i.hmac_addresses()).unwrap();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"\xe9t\xe9").unwrap();
    mac.update(&[2, 1, 42, 10, 1, 1, 252]);
    mac.update(&5u64.to_be_bytes());
    let expected: [u8; 20] = mac.finalize().into_bytes().into();
    assert_eq!(auth.digest(5), expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_inline_password_in_a_file_others_can_read_gets_a_warning() {
    let dir = temp_dir("inline");
    let config = dir.join("xcarp.toml");
    write(&config, &one(""), 0o644);
    let s = load(&config).unwrap();
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(
        s.warnings[0].contains(":6: key `password`") && s.warnings[0].contains("mode 0644"),
        "{:?}",
        s.warnings
    );
    write(&config, &one(""), 0o600);
    assert!(load(&config).unwrap().warnings.is_empty());
    let hex = one("").replace("password = \"love\"", "password_hex = \"6c6f7665\"");
    write(&config, &hex, 0o640);
    let s = load(&config).unwrap();
    assert!(
        s.warnings.len() == 1 && s.warnings[0].contains(":6: key `password`"),
        "{:?}",
        s.warnings
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn what_others_could_change_or_reach_is_warned_about_never_refused() {
    let dir = temp_dir("exposure");
    write(&dir.join("up"), "#!/bin/sh\n", 0o775);
    write(&dir.join("down"), "#!/bin/sh\n", 0o755);
    let config = dir.join("xcarp.toml");
    let two = format!(
        "[global]\nmetrics_listen = \"0.0.0.0:9420\"\n\n[defaults]\nupscript = \"up\"\n\
         downscript = \"down\"\n\n{}\n{}",
        one(""),
        one("")
            .replace("vhid = 42", "vhid = 43")
            .replace(".252", ".253")
    );
    write(&config, &two, 0o664);
    let s = load(&config).unwrap();
    let w = &s.warnings;
    assert_eq!(w.len(), 4, "{w:#?}");
    assert!(
        w[0].starts_with(&format!(
            "{}: writable by its group (mode 0664)",
            config.display()
        )),
        "{w:#?}"
    );
    assert!(
        w[1].contains(":2: key `metrics_listen`: 0.0.0.0:9420 (every address of the host) is not a loopback address"),
        "{w:#?}"
    );
    // Read for both instances, said once.
    assert!(
        w[2].contains(":5: key `upscript`")
            && w[2].contains("writable by its group (mode 0775), and run as root"),
        "{w:#?}"
    );
    assert!(
        w[3].contains("key `password`") && w[3].contains("readable"),
        "{w:#?}"
    );

    write(&dir.join("up"), "#!/bin/sh\n", 0o755);
    write(
        &config,
        &two.replace("0.0.0.0:9420", "127.0.0.1:9420"),
        0o600,
    );
    let s = load(&config).unwrap();
    assert!(s.warnings.is_empty(), "{:#?}", s.warnings);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn only_regular_files_of_bounded_size_are_read() {
    let e = load(Path::new("/dev/zero")).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let dir = temp_dir("big");
    let big = dir.join("big.toml");
    write(&big, "", 0o600);
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(MAX_FILE_LEN + 1)
        .unwrap();
    let e = load(&big).unwrap_err().to_string();
    assert!(e.contains("larger than"), "{e}");
    write(&big, "\u{0}\u{ff}", 0o600);
    std::fs::write(&big, [b'a', 0xff, b'\n']).unwrap();
    let e = load(&big).unwrap_err().to_string();
    assert!(e.contains("not UTF-8"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    /// Whatever the text, the parser answers (settings or errors) and never
    /// panics; every error has a line within the text.
    #[test]
    fn arbitrary_text_never_panics(text in "(\\PC|\n|\\[|\\]|=|\"){0,300}") {
        if let Err(e) = parse_str(&text, Path::new(FILE), Checks::TextOnly) {
            for d in e.diagnostics {
                if let Some(line) = d.line {
                    prop_assert!(line <= text.lines().count() + 1);
                }
            }
        }
    }

    /// Arbitrary values under every known key: never a panic.
    #[test]
    fn arbitrary_values_never_panic(
        key in prop::sample::select(INSTANCE_KEYS),
        value in prop::sample::select(vec![
            "0", "-1", "256", "99999999999999999999", "0x2a", "1.5", "true", "\"\"",
            "\"x\"", "[]", "[1]", "[\"1.2.3.4\"]", "{}", "1979-05-27", "nan", "inf",
        ]),
    ) {
        let text = format!("[[instance]]\n{key} = {value}\n");
        let _ = parse_str(&text, Path::new(FILE), Checks::TextOnly);
        let text = format!("[defaults]\n{key} = {value}\n[[instance]]\nvhid = 1\n");
        let _ = parse_str(&text, Path::new(FILE), Checks::TextOnly);
    }
}

/// docs/xcarp.example.toml shows every key: it must stay a valid
/// configuration with every key of each table.
#[test]
fn the_example_file_is_valid_and_complete() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/xcarp.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let s = parse_str(&text, &path, Checks::TextOnly).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.instances.len(), 2);
    assert_eq!(s.instances[1].addresses.len(), 2);
    for key in GLOBAL_KEYS
        .iter()
        .chain(INSTANCE_KEYS)
        .chain(super::health::CHECK_KEYS)
    {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{key} = "))
                || l.starts_with(&format!("# {key} = "))
                || (*key == "check" && l == "[[instance.check]]")),
            "docs/xcarp.example.toml lacks `{key}`"
        );
    }
    // The example's checks and tracked interface are read as documented.
    let mail = &s.instances[0];
    assert!(!mail.checks.is_empty() && !mail.track_interfaces.is_empty());
}

mod health;
mod limits;
