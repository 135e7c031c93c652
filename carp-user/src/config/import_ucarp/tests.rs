use proptest::prelude::*;

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
    source_bytes(name, text.as_bytes())
}

fn source_bytes(name: &str, text: &[u8]) -> Source {
    Source {
        path: PathBuf::from("/etc/ucarp").join(name),
        text: text.to_vec(),
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
        assert_eq!((import.instances, import.vip_files), (2, 2));
        assert!(import.warnings.is_empty(), "{host}: {:#?}", import.warnings);
        assert!(import.skipped.is_empty(), "{host}: {:#?}", import.skipped);
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
        &import.skipped,
        &[
            &dir.join("vip-003.conf").display().to_string(),
            "ucarp would not run it",
            "no VIP_ADDRESS",
        ],
    );
    // OPTIONS inside an `if`: refused at the `if`, never imported in part.
    has(
        &import.skipped,
        &[
            &at("vip-005.conf", 3),
            "`if`: a shell construct",
            "OPTIONS at line 4",
            "not imported rather than read in part",
        ],
    );
    assert_eq!((import.instances, import.vip_files), (2, 4));
    assert_eq!(import.skipped.len(), 2, "{:#?}", import.skipped);
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
            (
                Err(ImportError {
                    errors, skipped, ..
                }),
                None,
            ) => {
                assert!(errors[0].contains("no VIP imported"), "{errors:?}");
                assert!(skipped[0].contains(name), "{skipped:?}");
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
        assert_eq!((two.instances, two.vip_files), (1, 2));
        has(
            &two.skipped,
            &["/etc/ucarp/vip-001.conf: ucarp would not run it", needle],
        );
    }
}

#[test]
fn what_xcarp_cannot_express_skips_the_file_naming_it() {
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
        let Err(ImportError { skipped: e, .. }) = convert_one(COMMON, "vip-001.conf", vip) else {
            panic!("{vip} was imported")
        };
        assert!(e[0].starts_with("/etc/ucarp/vip-001.conf"), "{e:?}");
        assert!(e.iter().any(|e| e.contains(needle)), "{needle}: {e:?}");
        assert!(!e[0].contains("love"), "the password is not shown: {e:?}");
    }
}

#[test]
fn of_two_files_for_one_vhid_or_one_address_the_first_is_imported() {
    let vips = [
        source("vip-001.conf", "VIP_ADDRESS=10.1.1.5\n"),
        source("vip-002.conf", "ID=1\nVIP_ADDRESS=10.1.1.6\n"),
        source("vip-003.conf", "VIP_ADDRESS=10.1.1.5\n"),
    ];
    let import = convert(
        Some(&source("vip-common.conf", COMMON)),
        &vips,
        Path::new("/etc/ucarp"),
    )
    .unwrap();
    assert_eq!((import.instances, import.vip_files), (1, 3));
    assert_eq!(round_trip(&import).instances[0].name, "vip-001");
    let e = &import.skipped;
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

/// The CARP HMAC of an advert (docs/protocol.md §2), computed here from
/// the key's bytes: what ucarp sends with that key.
fn ucarp_digest(key: &[u8], vhid: u8, addr: Ipv4Addr, counter: u64) -> [u8; 20] {
    use hmac::{Hmac, Mac as _};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    mac.update(&[2, 1, vhid]);
    mac.update(&addr.octets());
    mac.update(&counter.to_be_bytes());
    mac.finalize().into_bytes().into()
}

fn convert_bytes(common: &str, name: &str, vip: &[u8]) -> Result<Import, ImportError> {
    convert(
        Some(&source("vip-common.conf", common)),
        &[source_bytes(name, vip)],
        Path::new("/etc/ucarp"),
    )
}

#[test]
fn a_password_that_is_not_utf8_is_imported_byte_for_byte() {
    // Latin-1 "été": what a Latin-1 editor writes, and what ucarp keyed
    // its HMAC with.
    let common = "BIND_INTERFACE=eth0\nSOURCE_ADDRESS=10.1.1.1\n";
    let import = convert_bytes(
        common,
        "vip-001.conf",
        b"VIP_ADDRESS=10.1.1.5\nPASSWORD=\"\xe9t\xe9\"\n",
    )
    .unwrap();
    assert!(
        import.toml.contains("password_hex = \"e974e9\"\n") && !import.toml.contains("password ="),
        "{}",
        import.toml
    );
    has(
        &import.warnings,
        &["vip-001.conf", "not UTF-8", "password_hex"],
    );
    has(&import.warnings, &["holds passwords"]);
    let s = round_trip(&import);
    let instance = &s.instances[0];
    assert_eq!(instance.password.as_bytes(), b"\xe9t\xe9");
    // The daemon keys its HMAC with these bytes: the same digests as ucarp.
    let vip = Ipv4Addr::new(10, 1, 1, 5);
    let auth =
        crate::auth::CarpAuth::new(instance.password.as_bytes(), 1, &instance.hmac_addresses())
            .unwrap();
    for counter in [0, 7, u64::MAX] {
        assert_eq!(
            auth.digest(counter),
            ucarp_digest(b"\xe9t\xe9", 1, vip, counter)
        );
    }
    // What a lossy reading gave before: another key.
    assert_ne!(
        auth.digest(7),
        ucarp_digest("\u{FFFD}t\u{FFFD}".as_bytes(), 1, vip, 7)
    );

    // Unquoted on the init script's command line: the first word only.
    let import = convert_bytes(
        common,
        "vip-001.conf",
        b"VIP_ADDRESS=10.1.1.5\nPASSWORD=\"\xe9t\xe9 x\"\n",
    )
    .unwrap();
    has(&import.warnings, &["vip-001.conf:2", "several words"]);
    assert_eq!(
        round_trip(&import).instances[0].password.as_bytes(),
        b"\xe9t\xe9"
    );
    // A later `-p` in OPTIONS wins, as on ucarp's command line.
    let import = convert_bytes(
        common,
        "vip-001.conf",
        b"VIP_ADDRESS=10.1.1.5\nPASSWORD=\xe9t\xe9\nOPTIONS=\"-p love\"\n",
    )
    .unwrap();
    assert_eq!(
        round_trip(&import).instances[0].password.as_bytes(),
        b"love"
    );
    // Too long is too long, in bytes.
    let Err(ImportError { skipped, .. }) = convert_bytes(
        common,
        "vip-001.conf",
        &[&b"VIP_ADDRESS=10.1.1.5\nPASSWORD="[..], &[0xe9; 20], b"\n"].concat(),
    ) else {
        panic!("a 20-byte password was imported")
    };
    assert!(
        skipped[0].contains("20 bytes (`Password too long`"),
        "{skipped:?}"
    );
}

#[test]
fn other_values_that_are_not_utf8_skip_the_file() {
    let import = convert(
        Some(&source("vip-common.conf", COMMON)),
        &[
            source_bytes(
                "vip-001.conf",
                b"VIP_ADDRESS=10.1.1.5\nUPSCRIPT=/etc/\xe9/up\n",
            ),
            source("vip-002.conf", "VIP_ADDRESS=10.1.1.6\n"),
        ],
        Path::new("/etc/ucarp"),
    )
    .unwrap();
    assert_eq!(import.instances, 1);
    has(
        &import.skipped,
        &["/etc/ucarp/vip-001.conf:2: UPSCRIPT is not UTF-8 text"],
    );
}

#[test]
fn options_inside_a_shell_construct_skip_that_file_only() {
    let vips = [
        source(
            "vip-001.conf",
            "VIP_ADDRESS=10.1.1.5\nOPTIONS=\"--advskew 50 --preempt --shutdown\"\n\
             if [ \"$(hostname)\" = a ]; then\n  OPTIONS=\"--advskew 10\"\nfi\n",
        ),
        source(
            "vip-002.conf",
            "VIP_ADDRESS=10.1.1.6\n[ -f /etc/ucarp/fast ] && OPTIONS=\"-b 0 -k 1\"\n",
        ),
        source("vip-003.conf", "VIP_ADDRESS=10.1.1.7\nOPTIONS=-P\n"),
    ];
    let import = convert(
        Some(&source("vip-common.conf", COMMON)),
        &vips,
        Path::new("/etc/ucarp"),
    )
    .unwrap();
    assert_eq!((import.instances, import.vip_files), (1, 3));
    has(
        &import.skipped,
        &["/etc/ucarp/vip-001.conf:3: `if`", "OPTIONS at line 4"],
    );
    has(&import.skipped, &["/etc/ucarp/vip-002.conf:2: `[`"]);
    let s = round_trip(&import);
    assert_eq!(s.instances[0].name, "vip-003");
    assert!(s.instances[0].preempt);
    assert!(!import.toml.contains("advskew"), "{}", import.toml);
}

#[test]
fn a_value_only_the_shell_knew_skips_the_file_that_uses_it() {
    let import = convert(
        Some(&source("vip-common.conf", COMMON)),
        &[
            source(
                "vip-001.conf",
                "VIP_ADDRESS=10.1.1.5\nPASSWORD=\"pa$$w0rd\"\n",
            ),
            // Set and not used: harmless.
            source("vip-002.conf", "VIP_ADDRESS=10.1.1.6\nHOST=$$\n"),
        ],
        Path::new("/etc/ucarp"),
    )
    .unwrap();
    assert_eq!(import.instances, 1);
    has(
        &import.skipped,
        &[
            "/etc/ucarp/vip-001.conf:2: PASSWORD is set with `$$`",
            "cannot know",
        ],
    );
    has(&import.warnings, &["vip-002.conf:2: HOST is not imported"]);
}

#[test]
fn a_common_file_that_cannot_be_read_imports_nothing() {
    let Err(e) = convert(
        Some(&source(
            "vip-common.conf",
            "BIND_INTERFACE=eth0\ncase $(hostname) in a) OPTIONS=-P;; esac\n",
        )),
        &[source("vip-001.conf", "VIP_ADDRESS=10.1.1.5\n")],
        Path::new("/etc/ucarp"),
    ) else {
        panic!("imported without its common file")
    };
    assert!(
        e.errors[0].starts_with("/etc/ucarp/vip-common.conf:2: `case`"),
        "{e:?}"
    );
    assert!(e.errors[1].contains("no VIP imported"), "{e:?}");
}

#[test]
fn windows_line_ends_are_kept_as_the_shell_keeps_them_and_reported() {
    let Err(e) = convert_one(COMMON, "vip-001.conf", "VIP_ADDRESS=10.1.1.5\r\n") else {
        panic!("imported an address ucarp refused")
    };
    has(&e.warnings, &["vip-001.conf", "\\r\\n"]);
    has(&e.skipped, &["vip-001.conf", "Invalid address"]);
}

/// A temporary ucarp directory: vip-common.conf and the files given.
fn ucarp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xcarp-import-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("vip-common.conf"), COMMON).unwrap();
    dir
}

#[test]
fn files_that_cannot_be_read_are_skipped_without_blocking_and_the_rest_imported() {
    use std::os::unix::fs::symlink;
    let dir = ucarp_dir("kinds");
    std::fs::write(dir.join("vip-001.conf"), "VIP_ADDRESS=10.1.1.2\n").unwrap();
    nix::unistd::mkfifo(
        &dir.join("vip-002.conf"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    std::fs::create_dir(dir.join("vip-003.conf")).unwrap();
    symlink("/dev/zero", dir.join("vip-004.conf")).unwrap();
    let huge = std::fs::File::create(dir.join("vip-005.conf")).unwrap();
    huge.set_len(1 << 30).unwrap();
    std::fs::write(dir.join("vip-006.conf"), "VIP_ADDRESS=10.1.1.6\n").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let read = dir.clone();
    std::thread::spawn(move || tx.send(import(&read)));
    let import = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the import hangs")
        .unwrap();
    assert_eq!((import.instances, import.vip_files), (2, 6));
    let at = |n: &str| dir.join(n).display().to_string();
    let skipped = &import.skipped;
    assert_eq!(skipped.len(), 4, "{skipped:#?}");
    assert!(skipped[0].starts_with(&format!(
        "{}: not a regular file (a FIFO)",
        at("vip-002.conf")
    )));
    assert!(skipped[1].starts_with(&format!(
        "{}: not a regular file (a directory)",
        at("vip-003.conf")
    )));
    assert!(skipped[2].starts_with(&format!(
        "{}: not a regular file (a character device, through a symbolic link to /dev/zero)",
        at("vip-004.conf")
    )));
    assert!(skipped[3].starts_with(&format!(
        "{}: 1073741824 bytes, larger than",
        at("vip-005.conf")
    )));
    let names: Vec<String> = round_trip(&import)
        .instances
        .iter()
        .map(|i| i.name.clone())
        .collect();
    assert_eq!(names, ["vip-001", "vip-006"]);

    // vip-common.conf is read before every VIP: without it, nothing.
    std::fs::remove_file(dir.join("vip-common.conf")).unwrap();
    symlink("/dev/zero", dir.join("vip-common.conf")).unwrap();
    let e = super::import(&dir).unwrap_err();
    assert!(
        e.errors[0].contains("vip-common.conf: not a regular file"),
        "{e:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    /// Whatever a VIP file holds, the import answers (an instance or the
    /// file skipped with a reason) and never panics.
    #[test]
    fn arbitrary_vip_files_never_panic(
        lines in prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    "VIP_ADDRESS=10.1.1.5", "PASSWORD=\"x y\"", "PASSFILE=rel", "ID=0x10",
                    "OPTIONS=\"-P -k\"", "OPTIONS=-p", "UPSCRIPT=", "A=$B", "if", "ID=$$",
                ]).prop_map(|s| s.as_bytes().to_vec()),
                prop::collection::vec(any::<u8>(), 0..24),
            ],
            0..6,
        )
    ) {
        let text = lines.join(&b'\n');
        let vip = source_bytes("vip-001.conf", &text);
        match convert(Some(&source("vip-common.conf", COMMON)), &[vip], Path::new("/etc/ucarp")) {
            Ok(import) => {
                round_trip(&import);
            }
            Err(e) => prop_assert!(!e.errors.is_empty()),
        }
    }
}
