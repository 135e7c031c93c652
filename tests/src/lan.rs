//! A virtual LAN: a bridge in a namespace of its own, host namespaces and a
//! client namespace, each with one veth leg on the bridge.
//!
//! Loss and partitions are injected with nftables rules of the bridge family
//! in the bridge's namespace: XDP runs before netfilter inside a host, and
//! frames sent through packet sockets skip the output hooks, so only the
//! bridge sees every frame on its way.
use std::{net::Ipv4Addr, process::Output};

use crate::{Netns, sh, try_sh};

/// Prefix length of every LAN (10.99.0.0/16): each LAN lives in namespaces of
/// its own, so LANs never see each other and may reuse addresses.
pub const PREFIX_LEN: u8 = 16;
/// The client's address on every LAN.
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);
/// The shared virtual address the scenarios use.
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 250);
/// Name of the host-side interface in every host namespace.
pub const DEV: &str = "eth0";
/// nftables table and chain used for loss and partitions.
const NFT_TABLE: &str = "xct";
const NFT_CHAIN: &str = "loss";

/// One namespace on the LAN, its interface and address.
pub struct Host {
    pub ns: Netns,
    /// Interface inside `ns` (always [`DEV`]).
    pub dev: String,
    pub addr: Ipv4Addr,
    /// The veth leg on the bridge's side, in the bridge namespace.
    pub port: String,
}

impl Host {
    /// The interface's MAC address, lower case.
    pub fn mac(&self) -> String {
        let out = self.ns.ip(&["-o", "link", "show", "dev", &self.dev]);
        out.split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_else(|| panic!("no MAC in {out}"))
            .to_owned()
    }

    /// Whether `addr` is configured on the host's interface.
    pub fn has_addr(&self, addr: Ipv4Addr) -> bool {
        let out = try_sh(
            "ip",
            &[
                "-n",
                &self.ns.name,
                "-4",
                "-o",
                "addr",
                "show",
                "dev",
                &self.dev,
            ],
        );
        let needle = format!(" {addr}/");
        String::from_utf8_lossy(&out.stdout).contains(&needle)
    }

    /// Runs a program inside the host's namespace.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        self.ns.exec(program, args)
    }
}

/// The bridge namespace, the hosts and the client. Dropping it deletes every
/// namespace, which removes the veth pairs and the bridge with them.
pub struct Lan {
    // Field order is drop order: hosts first, the bridge last.
    pub hosts: Vec<Host>,
    pub client: Host,
    pub bridge: Netns,
    nft_ready: std::cell::Cell<bool>,
}

impl Lan {
    /// A LAN with one host per address in `hosts` (all in 10.99.0.0/16) and a
    /// client at [`CLIENT_ADDR`].
    pub fn new(hosts: &[Ipv4Addr]) -> Self {
        let bridge = Netns::new("b");
        bridge.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        bridge.ip(&["link", "set", "br0", "up"]);
        let mut lan = Self {
            hosts: Vec::new(),
            client: Self::leg(&bridge, "pc", CLIENT_ADDR, "c"),
            bridge,
            nft_ready: false.into(),
        };
        for (i, addr) in hosts.iter().enumerate() {
            let host = Self::leg(&lan.bridge, &format!("p{i}"), *addr, "h");
            lan.hosts.push(host);
        }
        lan
    }

    /// A LAN with `n` hosts at 10.99.0.1, 10.99.0.2, …
    pub fn with_hosts(n: u8) -> Self {
        let addrs: Vec<Ipv4Addr> = (1..=n).map(|i| Ipv4Addr::new(10, 99, 0, i)).collect();
        Self::new(&addrs)
    }

    fn leg(bridge: &Netns, port: &str, addr: Ipv4Addr, tag: &str) -> Host {
        let ns = Netns::new(tag);
        bridge.ip(&[
            "link", "add", port, "type", "veth", "peer", "name", DEV, "netns", &ns.name,
        ]);
        bridge.ip(&["link", "set", port, "master", "br0", "up"]);
        let cidr = format!("{addr}/{PREFIX_LEN}");
        ns.ip(&["addr", "add", &cidr, "dev", DEV]);
        ns.ip(&["link", "set", DEV, "up"]);
        Host {
            ns,
            dev: DEV.to_owned(),
            addr,
            port: port.to_owned(),
        }
    }

    /// `nft args…` inside the bridge namespace.
    pub fn nft(&self, args: &[&str]) -> String {
        let out = self.bridge.exec("nft", args);
        assert!(
            out.status.success(),
            "nft {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn nft_chain(&self) {
        if !self.nft_ready.get() {
            self.nft(&["add", "table", "bridge", NFT_TABLE]);
            self.nft(&[
                "add",
                "chain",
                "bridge",
                NFT_TABLE,
                NFT_CHAIN,
                "{ type filter hook forward priority 0; policy accept; }",
            ]);
            self.nft_ready.set(true);
        }
    }

    /// Drops every CARP/VRRP frame (IP protocol 112) crossing the bridge.
    pub fn partition(&self) {
        self.nft_chain();
        self.nft(&[
            "add",
            "rule",
            "bridge",
            NFT_TABLE,
            NFT_CHAIN,
            "ip protocol 112 counter drop",
        ]);
    }

    /// Drops `percent` % of the protocol-112 frames crossing the bridge, at random.
    pub fn random_loss(&self, percent: u8) {
        self.nft_chain();
        let rule = format!("ip protocol 112 numgen random mod 100 < {percent} counter drop");
        self.nft(&["add", "rule", "bridge", NFT_TABLE, NFT_CHAIN, &rule]);
    }

    /// Removes every loss or partition rule.
    pub fn heal(&self) {
        if self.nft_ready.get() {
            self.nft(&["flush", "chain", "bridge", NFT_TABLE, NFT_CHAIN]);
        }
    }

    /// Frames dropped so far by the loss/partition rules.
    pub fn dropped_frames(&self) -> u64 {
        if !self.nft_ready.get() {
            return 0;
        }
        let out = self.nft(&["list", "chain", "bridge", NFT_TABLE, NFT_CHAIN]);
        out.lines()
            .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "packets").nth(1))
            .filter_map(|n| n.parse::<u64>().ok())
            .sum()
    }

    /// Frames the bridge has passed to host `i` so far: the transmit counter
    /// of its bridge-side leg. Proof that a flood reached the host's link,
    /// whatever the host then does with it.
    pub fn frames_to_host(&self, i: usize) -> u64 {
        let path = format!(
            "/sys/class/net/{}/statistics/tx_packets",
            self.hosts[i].port
        );
        let out = self.bridge.exec("cat", &[&path]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| {
                panic!(
                    "cannot read {path}: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    }

    /// Takes the bridge-side leg of host `i` down (the host sees NO-CARRIER).
    pub fn carrier_off(&self, i: usize) {
        self.bridge
            .ip(&["link", "set", &self.hosts[i].port, "down"]);
    }

    /// Brings the bridge-side leg of host `i` back up.
    pub fn carrier_on(&self, i: usize) {
        self.bridge.ip(&["link", "set", &self.hosts[i].port, "up"]);
    }

    /// Which hosts hold `addr` on their interface.
    pub fn holders(&self, addr: Ipv4Addr) -> Vec<usize> {
        (0..self.hosts.len())
            .filter(|&i| self.hosts[i].has_addr(addr))
            .collect()
    }

    /// Deletes a host's interface (and with it the bridge-side leg).
    pub fn delete_link(&self, i: usize) {
        sh(
            "ip",
            &[
                "-n",
                &self.hosts[i].ns.name,
                "link",
                "del",
                &self.hosts[i].dev,
            ],
        );
    }
}
