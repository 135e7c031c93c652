//! The example up/down scripts the package ships (packaging/vip-up.sh and
//! vip-down.sh, README "Running xcarp"), run as xcarp runs them,
//! `<script> <interface> <address>`, in a namespace: they add and remove
//! the address, and succeed when there is nothing to do. A backup runs its
//! downscript at start, before the address was ever added, and a failing
//! script is logged as one: the example must not fail every start.
use std::{path::PathBuf, process::Output};

use xcarp_tests::{Netns, needs_root};

const DEV: &str = "eth0";
/// The namespace's own address, which the scripts must leave alone.
const OWN: &str = "10.99.0.1/16";
const VIP: &str = "10.99.0.250";
/// The virtual address as the up-script configures it.
const VIP_32: &str = "10.99.0.250/32";

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../packaging")
        .join(name)
}

/// `<script> <interface> <address>` inside `ns`.
fn run(ns: &Netns, name: &str, dev: &str) -> Output {
    let path = script(name);
    ns.exec(path.to_str().expect("a UTF-8 path"), &[dev, VIP])
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The IPv4 addresses on [`DEV`], as `a.b.c.d/len`.
fn addresses(ns: &Netns) -> Vec<String> {
    let out = ns.ip(&["-4", "-o", "addr", "show", "dev", DEV]);
    out.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.find(|w| *w == "inet")?;
            words.next().map(str::to_owned)
        })
        .collect()
}

#[test]
fn the_example_scripts_add_and_remove_the_address_and_succeed_with_nothing_to_do() {
    if !needs_root() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let ns = Netns::new("scripts");
    ns.ip(&["link", "add", DEV, "type", "veth", "peer", "name", "peer0"]);
    ns.ip(&["addr", "add", OWN, "dev", DEV]);
    ns.ip(&["link", "set", "peer0", "up"]);
    ns.ip(&["link", "set", DEV, "up"]);

    // A backup's start: nothing to remove.
    assert_ok(&run(&ns, "vip-down.sh", DEV), "vip-down.sh, address absent");
    assert_eq!(addresses(&ns), [OWN]);

    assert_ok(&run(&ns, "vip-up.sh", DEV), "vip-up.sh");
    assert_eq!(addresses(&ns), [OWN, VIP_32]);
    // Becoming master again (a restart that kept the address).
    assert_ok(&run(&ns, "vip-up.sh", DEV), "vip-up.sh, address present");
    assert_eq!(addresses(&ns), [OWN, VIP_32]);

    assert_ok(&run(&ns, "vip-down.sh", DEV), "vip-down.sh");
    assert_eq!(addresses(&ns), [OWN]);
    assert_ok(&run(&ns, "vip-down.sh", DEV), "vip-down.sh, twice");
    assert_eq!(addresses(&ns), [OWN]);

    // The interface is gone (xcarp runs the downscript of a master that
    // lost it): nothing left to remove, and adding cannot work.
    assert_ok(
        &run(&ns, "vip-down.sh", "nosuchdev0"),
        "vip-down.sh, no interface",
    );
    assert!(
        !run(&ns, "vip-up.sh", "nosuchdev0").status.success(),
        "vip-up.sh must fail when it cannot add the address"
    );
}
