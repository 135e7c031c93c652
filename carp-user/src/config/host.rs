//! What a configuration needs from the host it runs on, which its text
//! cannot tell: the interfaces it names exist here and can carry adverts,
//! and the instances fit the XDP program's table (docs/config.md, "Checks
//! on the host"). `xcarp --config` checks this before it starts, a reload
//! before it changes anything, and `xcarp check-config` unless `--offline`.
//! Scripts and password files are checked when the file is read
//! ([`super::file::load`]).
use std::{collections::BTreeMap, fmt};

use nix::{ifaddrs::getifaddrs, net::if_::if_nametoindex};

use super::{MAX_INSTANCES, Settings};

/// Problems listed in a message at most: the rest are counted.
const SHOWN_PROBLEMS: usize = 20;
/// Instance names listed per interface at most.
const SHOWN_NAMES: usize = 3;

/// Why this host cannot run a configuration: every problem found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct HostProblems(pub Vec<String>);

impl fmt::Display for HostProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().take(SHOWN_PROBLEMS).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        if self.0.len() > SHOWN_PROBLEMS {
            write!(f, "\n… and {} more", self.0.len() - SHOWN_PROBLEMS)?;
        }
        Ok(())
    }
}

/// Checks `settings` against this host (in the caller's network
/// namespace); changes nothing.
///
/// # Errors
/// Every problem found.
pub fn check(settings: &Settings) -> Result<(), HostProblems> {
    let mut problems = Vec::new();
    if settings.instances.len() > MAX_INSTANCES {
        problems.push(format!(
            "{} instances: one xcarp runs at most {MAX_INSTANCES} (the XDP program's VHID table \
             holds {MAX_INSTANCES})",
            settings.instances.len()
        ));
    }
    // Each interface once, with the instances that use it.
    let mut interfaces: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for instance in &settings.instances {
        if let Some(name) = instance.interface.as_deref() {
            interfaces.entry(name).or_default().push(&instance.name);
        }
    }
    let with_mac = interfaces_with_a_mac();
    for (name, users) in &interfaces {
        let problem = match if_nametoindex(*name) {
            Err(e) => format!("does not exist on this host ({e})"),
            Ok(_)
                if with_mac
                    .as_ref()
                    .is_some_and(|list| !list.iter().any(|n| n == name)) =>
            {
                "has no Ethernet address: adverts and gratuitous ARP cannot be sent there".into()
            }
            Ok(_) => continue,
        };
        problems.push(format!("interface {name} ({}): {problem}", listed(users)));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(HostProblems(problems))
    }
}

/// The names of the interfaces that have a 6-byte hardware address; None
/// when they cannot be listed (then nothing is refused for it).
fn interfaces_with_a_mac() -> Option<Vec<String>> {
    let addrs = getifaddrs().ok()?;
    Some(
        addrs
            .filter(|ifa| {
                ifa.address
                    .as_ref()
                    .and_then(|a| a.as_link_addr())
                    .and_then(|l| l.addr())
                    .is_some()
            })
            .map(|ifa| ifa.interface_name)
            .collect(),
    )
}

/// "instance vip1", "instances vip1, vip2, vip3 and 4 more".
fn listed(names: &[&str]) -> String {
    let shown = names[..names.len().min(SHOWN_NAMES)].join(", ");
    let more = names.len().saturating_sub(SHOWN_NAMES);
    match (names.len(), more) {
        (1, _) => format!("instance {shown}"),
        (_, 0) => format!("instances {shown}"),
        _ => format!("instances {shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::{Checks, parse_str};

    fn settings(interfaces: &[&str]) -> Settings {
        let mut text = String::from("[defaults]\nsrcip = \"192.0.2.1\"\npassword = \"pw\"\n");
        for (i, interface) in interfaces.iter().enumerate() {
            text.push_str(&format!(
                "[[instance]]\ninterface = \"{interface}\"\nvhid = {}\naddresses = [\"192.0.2.{}\"]\n",
                i + 1,
                i + 10
            ));
        }
        parse_str(&text, std::path::Path::new("/x.toml"), Checks::TextOnly).expect("valid")
    }

    #[test]
    fn a_missing_interface_is_named_with_its_instances() {
        let err = check(&settings(&["lo", "xcarp-none0", "xcarp-none0"])).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        assert!(
            err.0[0].starts_with(
                "interface xcarp-none0 (instances xcarp-none0/vhid2, xcarp-none0/vhid3): \
                 does not exist on this host"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_existing_interface_passes() {
        // Loopback exists in every namespace and has a (zero) hardware
        // address.
        assert_eq!(check(&settings(&["lo"])), Ok(()));
    }

    #[test]
    fn too_many_instances_and_long_lists_are_capped() {
        let names: Vec<String> = (0..30).map(|i| format!("xcarp-no{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let err = check(&settings(&refs)).unwrap_err();
        assert_eq!(err.0.len(), 30);
        let text = err.to_string();
        assert_eq!(text.lines().count(), SHOWN_PROBLEMS + 1, "{text}");
        assert!(text.ends_with("… and 10 more"), "{text}");
        assert_eq!(
            listed(&["a", "b", "c", "d", "e"]),
            "instances a, b, c and 2 more"
        );
        let mut many = settings(&["lo"]);
        let one = many.instances[0].clone();
        many.instances = vec![one; MAX_INSTANCES + 1];
        let err = check(&many).unwrap_err();
        assert!(err.0[0].starts_with("1025 instances"), "{err}");
    }
}
