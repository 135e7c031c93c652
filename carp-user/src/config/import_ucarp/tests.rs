use super::*;
use crate::config::{Settings, file::Checks};

fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ucarp-epel")
        .join(name)
}

/// The imported configuration, read back as `xcarp --config` reads it
/// (without opening the files it names).
fn round_trip(import: &Import) -> Settings {
    file::parse_str(
        &import.toml,
        Path::new("/etc/xcarp/xcarp.toml"),
        Checks::TextOnly,
    )
    .unwrap_or_else(|e| panic!("{e}\n---\n{}", import.toml))
}

fn source(name: &str, text: &str) -> Source {
    Source {
        path: PathBuf::from("/etc/ucarp").join(name),
        text: text.to_owned(),
    }
}

const COMMON: &str = "BIND_INTERFACE=\"eth0\"\nSOURCE_ADDRESS=\"10.1.1.1\"\nPASSWORD=\"love\"\n";

fn convert_one(common: &str, name: &str, vip: &str) -> Result<Import, ImportError> {
    convert(
        Some(&source("vip-common.conf", common)),
        &[source(name, vip)],
        Path::new("/etc/ucarp"),
    )
}

fn has(warnings: &[String], needles: &[&str]) {
    assert!(
        warnings
            .iter()
            .any(|w| needles.iter().all(|n| w.contains(n))),
        "no warning with {needles:?} in {warnings:#?}"
    );
}

#[test]
fn the_centos_pair_imports_each_hosts_preferred_vip() {
    for (host, srcip, skews) in [
        ("centos-host-a", "10.1.80.181", [0, 50]),
        ("centos-host-b", "10.1.80.182", [50, 0]),
    ] {
        let import = import(&fixtures(host)).unwrap();
        assert_eq!(import.instances, 2);
        assert!(import.warnings.is_empty(), "{host}: {:#?}", import.warnings);
        let s = round_trip(&import);
        let [one, two] = s.instances.as_slice() else {
            panic!("{host}: {:?}", s.instances)
        };
        for (instance, (name, vhid, address, skew)) in [one, two].into_iter().zip([
            ("vip-001", 1, "10.1.80.180", skews[0]),
            ("vip-002", 2, "10.1.80.190", skews[1]),
        ]) {
            assert_eq!(instance.name, name);
            assert_eq!(instance.vhid, vhid);
            assert_eq!(instance.interface.as_deref(), Some("eth0"));
            assert_eq!(instance.srcip.to_string(), srcip);
            assert_eq!(instance.addresses[0].typed, address);
            assert_eq!(instance.advskew, skew, "{host} {name}");
            assert!(instance.preempt && instance.shutdown && !instance.neutral);
            assert_eq!(
                instance.passfile.as_deref(),
                Some(Path::new("/etc/ucarp/vip.pwd"))
            );
            assert_eq!(instance.upscript.as_deref(), Some(Path::new(EPEL_UPSCRIPT)));
            assert_eq!(
                instance.downscript.as_deref(),
                Some(Path::new(EPEL_DOWNSCRIPT))
            );
        }
    }
}

#[test]
fn host_a_gives_the_reviewed_configuration() {
    let dir = fixtures("centos-host-a");
    let import = import(&dir).unwrap();
    let expected = std::fs::read_to_string(fixtures("centos-host-a.toml")).unwrap();
    assert_eq!(
        import.toml.replace(&dir.display().to_string(), "DIR"),
        expected
    );
}

#[test]
fn quirks_are_reported_with_their_file_and_line() {
    let dir = fixtures("quirks");
    let import = import(&dir).unwrap();
    let w = &import.warnings;
    let at = |name: &str, line: usize| format!("{}:{line}", dir.join(name).display());
    has(
        w,
        &[&dir.join("vip-web.conf").display().to_string(), "not read"],
    );
    has(
        w,
        &[
            &dir.join("vip-003.conf").display().to_string(),
            "skipped",
            "no VIP_ADDRESS",
        ],
    );
    has(
        w,
        &[&at("vip-common.conf", 6), "VIP_INTERFACE is not imported"],
    );
    has(w, &[&at("vip-common.conf", 4), "NET is not imported"]);
    has(
        w,
        &[
            &dir.join("vip-010.conf").display().to_string(),
            "octal",
            "vhid 8",
        ],
    );
    has(w, &[&at("vip-004.conf", 2), "--daemonize is not imported"]);
    has(w, &[&at("vip-004.conf", 2), "\"b'\"", "ignored"]);
    has(
        w,
        &[&at("vip-004.conf", 3), "UPSCRIPT not read", "run a command"],
    );
    has(w, &[&at("vip-004.conf", 4), "not read", "NAME=value"]);
    has(w, &["holds passwords"]);
    let s = round_trip(&import);
    let names: Vec<_> = s
        .instances
        .iter()
        .map(|i| (i.name.as_str(), i.vhid))
        .collect();
    assert_eq!(names, [("vip-004", 4), ("vip-010", 8)]);
    let [four, ten] = s.instances.as_slice() else {
        panic!()
    };
    // $NET and ${NET} expanded; OPTIONS of vip-common.conf, then the VIP's.
    assert_eq!(ten.addresses[0].typed, "192.168.7.10");
    assert_eq!(ten.srcip, Ipv4Addr::new(192, 168, 7, 1));
    assert_eq!((ten.advskew, ten.shutdown), (20, true));
    assert_eq!((four.advskew, four.shutdown), (100, false));
    // The quote is part of the word, as ucarp got it.
    assert_eq!(four.xparam.as_deref(), Some("'a"));
    assert_eq!(four.password.as_bytes(), b"love");
    assert_eq!(four.interface.as_deref(), Some("eth1"));
}

#[test]
fn later_options_override_earlier_ones_as_on_ucarps_command_line() {
    // OPTIONS come after --vhid and --addr on the init script's command
    // line, and before its --upscript/--downscript.
    let import = convert_one(
        COMMON,
        "vip-005.conf",
        "VIP_ADDRESS=10.1.1.5\nOPTIONS=\"--addr=10.1.1.6 -k 1 -k 2 -u /bin/other\"\n",
    )
    .unwrap();
    let s = round_trip(&import);
    let i = &s.instances[0];
    assert_eq!(i.addresses[0].typed, "10.1.1.6");
    assert_eq!(i.advskew, 2);
    assert_eq!(i.upscript.as_deref(), Some(Path::new(EPEL_UPSCRIPT)));
    has(
        &import.warnings,
        &["--upscript/--downscript in OPTIONS are overridden"],
    );
}

#[test]
fn the_vhid_is_the_one_ucarp_ran() {
    let vip = "VIP_ADDRESS=10.1.1.5\n";
    for (name, body, vhid) in [
        ("vip-007.conf", vip.to_owned(), Some(7)),
        ("vip-7.conf", vip.to_owned(), Some(7)),
        ("vip-012.conf", vip.to_owned(), Some(10)),
        ("vip-018.conf", vip.to_owned(), Some(1)),
        ("vip-009.conf", vip.to_owned(), None),
        ("vip-256.conf", vip.to_owned(), None),
        ("vip-000.conf", vip.to_owned(), None),
        ("vip-001.conf", format!("ID=\"042\"\n{vip}"), Some(34)),
        ("vip-001.conf", format!("ID=42\n{vip}"), Some(42)),
    ] {
        match (convert_one(COMMON, name, &body), vhid) {
            (Ok(import), Some(vhid)) => {
                assert_eq!(round_trip(&import).instances[0].vhid, vhid, "{name} {body}");
            }
            (Err(ImportError { errors: e, .. }), None) => {
                assert!(e[0].contains("no VIP to import"), "{e:?}")
            }
            (other, _) => panic!("{name} {body}: {other:?}"),
        }
    }
}

#[test]
fn a_vip_ucarp_would_not_run_is_skipped_with_the_reason() {
    for (common, vip, needle) in [
        (
            "BIND_INTERFACE=eth0\nPASSWORD=x\n",
            "VIP_ADDRESS=10.1.1.5\n",
            "no SOURCE_ADDRESS",
        ),
        (
            "BIND_INTERFACE=eth0\nSOURCE_ADDRESS=10.1.1.1\n",
            "VIP_ADDRESS=10.1.1.5\n",
            "no PASSWORD or PASSFILE",
        ),
        (
            COMMON,
            "VIP_ADDRESS=10.1.1.5\nOPTIONS=\"-b 0\"\n",
            "advertisement time base",
        ),
        (
            COMMON,
            "VIP_ADDRESS=10.1.1.5\nPASSWORD=01234567890123456789\n",
            "Password too long",
        ),
        (
            COMMON,
            "ID=abc\nVIP_ADDRESS=10.1.1.5\n",
            "not a decimal number",
        ),
    ] {
        let two = convert(
            Some(&source("vip-common.conf", common)),
            &[
                source("vip-001.conf", vip),
                source("vip-002.conf", &format!("{COMMON}VIP_ADDRESS=10.1.1.200\n")),
            ],
            Path::new("/etc/ucarp"),
        )
        .unwrap();
        assert_eq!(two.instances, 1);
        has(
            &two.warnings,
            &["/etc/ucarp/vip-001.conf", "skipped", needle],
        );
    }
}

#[test]
fn what_xcarp_cannot_express_is_an_error_naming_the_file() {
    for (vip, needle) in [
        (
            "VIP_ADDRESS=10.1.1.1\n",
            "SOURCE_ADDRESS and VIP_ADDRESS are both 10.1.1.1",
        ),
        (
            "VIP_ADDRESS=10.1.1.5\nOPTIONS=\"-k 300\"\n",
            "advskew must be a number between 0 and 255",
        ),
        ("VIP_ADDRESS=10.1.1.5\nOPTIONS=\"--bogus\"\n", "--bogus"),
        ("VIP_ADDRESS=10.1.1.300\n", "Invalid address"),
    ] {
        let Err(ImportError { errors: e, .. }) = convert_one(COMMON, "vip-001.conf", vip) else {
            panic!("{vip} was imported")
        };
        assert!(e[0].starts_with("/etc/ucarp/vip-001.conf"), "{e:?}");
        assert!(e.iter().any(|e| e.contains(needle)), "{needle}: {e:?}");
    }
}

#[test]
fn two_files_for_one_vhid_or_one_address_are_errors() {
    let vips = [
        source("vip-001.conf", "VIP_ADDRESS=10.1.1.5\n"),
        source("vip-002.conf", "ID=1\nVIP_ADDRESS=10.1.1.6\n"),
        source("vip-003.conf", "VIP_ADDRESS=10.1.1.5\n"),
    ];
    let Err(ImportError { errors: e, .. }) = convert(
        Some(&source("vip-common.conf", COMMON)),
        &vips,
        Path::new("/etc/ucarp"),
    ) else {
        panic!()
    };
    assert!(
        e[0].contains("vip-002.conf: vhid 1 on eth0 is also the vhid of /etc/ucarp/vip-001.conf"),
        "{e:?}"
    );
    assert!(
        e[1].contains("vip-003.conf:1: VIP_ADDRESS 10.1.1.5 is also the address of"),
        "{e:?}"
    );
}

#[test]
fn both_password_variables_are_reported_and_the_nearer_one_wins() {
    let import = convert_one(
        COMMON,
        "vip-001.conf",
        "VIP_ADDRESS=10.1.1.5\nPASSFILE=/etc/ucarp/pw\n",
    )
    .unwrap();
    has(
        &import.warnings,
        &[
            "both PASSWORD (/etc/ucarp/vip-common.conf:3) and PASSFILE (/etc/ucarp/vip-001.conf:2)",
            "imported PASSFILE",
        ],
    );
    let s = round_trip(&import);
    assert_eq!(
        s.instances[0].passfile.as_deref(),
        Some(Path::new("/etc/ucarp/pw"))
    );
}

#[test]
fn variables_one_vip_file_sets_may_leak_into_the_next() {
    let vips = [
        source("vip-001.conf", "VIP_ADDRESS=10.1.1.5\nOPTIONS=-P\n"),
        source("vip-002.conf", "VIP_ADDRESS=10.1.1.6\n"),
    ];
    let import = convert(
        Some(&source("vip-common.conf", COMMON)),
        &vips,
        Path::new("/etc/ucarp"),
    )
    .unwrap();
    has(
        &import.warnings,
        &["vip-002.conf: does not set OPTIONS, which /etc/ucarp/vip-001.conf:2 sets"],
    );
    let s = round_trip(&import);
    assert!(s.instances[0].preempt && !s.instances[1].preempt);
}

#[test]
fn shell_values_are_read_as_the_shell_reads_them() {
    let env = Env::new();
    for (input, expected) in [
        ("plain", "plain"),
        ("\"double quoted\"", "double quoted"),
        ("'single $HOME'", "single $HOME"),
        ("\"a\\\"b\"", "a\"b"),
        ("a\\ b", "a b"),
        ("\"x\"'y'z", "xyz"),
        ("value # comment", "value"),
        ("\"value\"   # comment", "value"),
        ("", ""),
        ("\"\"", ""),
        ("'pa$$w0rd'", "pa$$w0rd"),
    ] {
        let (value, _) = shell_word(input, &env).unwrap();
        assert_eq!(value, expected, "{input}");
    }
    let (value, notes) = shell_word("\"pa$$w0rd\"", &env).unwrap();
    assert_eq!(value, "pa$$w0rd");
    assert!(notes[0].contains("shell would expand it"), "{notes:?}");
    assert!(
        shell_word("a b", &env)
            .unwrap_err()
            .contains("run a command")
    );
    assert!(
        shell_word("\"open", &env)
            .unwrap_err()
            .contains("not closed")
    );
    assert!(shell_word("a; rm -rf /", &env).is_err());
}

#[test]
fn strtoul_reads_ids_as_ucarp_does() {
    for (text, n) in [
        ("1", 1),
        ("001", 1),
        ("010", 8),
        ("018", 1),
        ("08", 0),
        ("0x1f", 31),
        ("255", 255),
    ] {
        assert_eq!(strtoul_base0(text), n, "{text}");
    }
}

#[test]
fn output_strings_are_valid_toml() {
    for s in [
        "plain",
        "quote \" and \\ backslash",
        "tab\tnew\nline",
        "\u{1}",
    ] {
        let text = format!("x = {}\n", quote(s));
        let table = toml::de::DeTable::parse(&text).unwrap();
        let value = table.get_ref().get("x").unwrap();
        assert!(
            matches!(value.get_ref(), toml::de::DeValue::String(v) if v == s),
            "{s:?}"
        );
    }
}

#[test]
fn an_empty_or_missing_directory_is_an_error() {
    let Err(ImportError { errors: e, .. }) = import(Path::new("/nonexistent/ucarp")) else {
        panic!()
    };
    assert!(e[0].contains("/nonexistent/ucarp: cannot read it"), "{e:?}");
    let Err(ImportError { errors: e, .. }) = convert(None, &[], Path::new("/etc/ucarp")) else {
        panic!()
    };
    assert!(e[0].contains("no VIP to import"), "{e:?}");
}
