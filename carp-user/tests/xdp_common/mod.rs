//! Shared by the XDP kernel tests: failing (or skipping, if allowed) on
//! missing kernel features,
//! hand-built frames, clocks.
#![allow(dead_code)]

pub mod pcap;
pub mod rx_paths;

use std::{net::Ipv4Addr, sync::OnceLock};

use aya::{maps::MapType, programs::ProgramType};
use xcarp::xdp::{AdvertReader, XdpAttachment, object_is_embedded};

pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;

/// The loaded (unattached) XDP program, or `None` when this test cannot
/// run here and is skipped (docs/testing.md, "No pass by skipping"):
/// without root or the real XDP object, under plain `cargo test` only
/// (`cargo xtask test` fails instead); when the kernel lacks XDP, ring
/// buffers or XDP test runs, only with `XCARP_TEST_ALLOW_SKIP=1`.
pub fn setup() -> Option<XdpAttachment> {
    if !xcarp_tests::needs_root() {
        return None;
    }
    if !object_is_embedded()
        && !xcarp_tests::unmet(
            "needs the XDP object, which this build lacks (bpf-linker missing, or XCARP_EBPF=stub)",
        )
    {
        return None;
    }
    if !aya::sys::is_program_supported(ProgramType::Xdp).unwrap_or(false) {
        xcarp_tests::skip_or_fail("this kernel does not support XDP programs");
        return None;
    }
    if !aya::sys::is_map_supported(MapType::RingBuf).unwrap_or(false) {
        xcarp_tests::skip_or_fail("this kernel does not support BPF ring buffers");
        return None;
    }
    let xdp = XdpAttachment::load_unattached(lo_ifindex()).expect("load the XDP program");
    match xdp.test_run(&[0; 64], 1) {
        Ok(_) => Some(xdp),
        Err(e)
            if format!("{e:?}").contains("NotSupported")
                || e.to_string().contains("not supported") =>
        {
            xcarp_tests::skip_or_fail(&format!(
                "BPF_PROG_TEST_RUN is not supported for XDP here: {e}"
            ));
            None
        }
        Err(e) => panic!("BPF_PROG_TEST_RUN failed: {e}"),
    }
}

/// Test-run frames arrive on the loopback device of the caller's namespace.
pub fn lo_ifindex() -> u32 {
    nix::net::if_::if_nametoindex("lo").expect("lo exists")
}

/// The advert reader of `xdp`, registered with a shared background runtime
/// (the tests read it with `try_next`, which needs no runtime).
pub fn reader(xdp: &mut XdpAttachment) -> AdvertReader {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    });
    let _guard = runtime.enter();
    xdp.advert_reader().expect("take the ring buffer")
}

/// CLOCK_MONOTONIC in ns, the clock of `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    assert_eq!(rc, 0);
    u64::try_from(ts.tv_sec).expect("positive") * 1_000_000_000
        + u64::try_from(ts.tv_nsec).expect("positive")
}

/// RFC 1071 Internet checksum: the harness's, independent of the daemon's
/// `wire` code that these frames test.
pub use xcarp_tests::frames::inet_checksum as checksum;

/// The 36-byte CARP header, as ucarp fills it.
#[derive(Clone, Debug)]
pub struct Carp {
    pub version_type: u8,
    pub vhid: u8,
    pub advskew: u8,
    pub authlen: u8,
    pub demote: u8,
    pub advbase: u8,
    pub counter: u64,
    pub md: [u8; 20],
}

impl Carp {
    pub fn advert(vhid: u8) -> Self {
        Self {
            version_type: 0x21,
            vhid,
            advskew: 0,
            authlen: 7,
            demote: 0,
            advbase: 1,
            counter: 0x1122_3344_5566_7788,
            md: [0x5a; 20],
        }
    }

    /// The wire bytes with a correct checksum.
    pub fn bytes(&self) -> [u8; 36] {
        let mut b = [0u8; 36];
        b[0] = self.version_type;
        b[1] = self.vhid;
        b[2] = self.advskew;
        b[3] = self.authlen;
        b[4] = self.demote;
        b[5] = self.advbase;
        b[8..16].copy_from_slice(&self.counter.to_be_bytes());
        b[16..].copy_from_slice(&self.md);
        let sum = checksum(&b);
        b[6..8].copy_from_slice(&sum.to_be_bytes());
        b
    }
}

/// An Ethernet/IPv4 frame carrying CARP (or another payload), built by hand.
#[derive(Clone, Debug)]
pub struct Frame {
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    pub vlan: Option<u16>,
    /// 802.1Q PCP/DEI bits (upper nibble of the TCI).
    pub vlan_pcp: u8,
    pub ip_options: Vec<u8>,
    pub tos: u8,
    pub id: u16,
    pub frag: u16,
    pub ttl: u8,
    pub protocol: u8,
    pub ip_src: Ipv4Addr,
    pub ip_dst: Ipv4Addr,
    pub tot_len_override: Option<u16>,
    pub carp: Carp,
    /// Replaces the CARP header as payload when set.
    pub payload_override: Option<Vec<u8>>,
}

impl Frame {
    /// What ucarp sends: multicast MAC of the group, 00:00:5e:00:00:<vhid>,
    /// TOS 0x10, DF, TTL 255.
    pub fn carp(src: Ipv4Addr, group: Ipv4Addr, carp: Carp) -> Self {
        let g = group.octets();
        Self {
            eth_dst: [0x01, 0x00, 0x5e, g[1] & 0x7f, g[2], g[3]],
            eth_src: [0x00, 0x00, 0x5e, 0x00, 0x00, carp.vhid],
            vlan: None,
            vlan_pcp: 0,
            ip_options: Vec::new(),
            tos: 0x10,
            id: 0x1234,
            frag: 0x4000,
            ttl: 255,
            protocol: 112,
            ip_src: src,
            ip_dst: group,
            tot_len_override: None,
            carp,
            payload_override: None,
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let payload = self
            .payload_override
            .clone()
            .unwrap_or_else(|| self.carp.bytes().to_vec());
        assert!(self.ip_options.len().is_multiple_of(4) && self.ip_options.len() <= 40);
        let ihl = 5 + self.ip_options.len() / 4;
        let tot_len = self
            .tot_len_override
            .unwrap_or(u16::try_from(ihl * 4 + payload.len()).expect("fits"));
        let mut f = Vec::new();
        f.extend(self.eth_dst);
        f.extend(self.eth_src);
        if let Some(vlan) = self.vlan {
            f.extend([0x81, 0x00]);
            f.extend((u16::from(self.vlan_pcp) << 12 | vlan).to_be_bytes());
        }
        f.extend([0x08, 0x00]);
        let l3 = f.len();
        f.push(0x40 | u8::try_from(ihl).expect("fits"));
        f.push(self.tos);
        f.extend(tot_len.to_be_bytes());
        f.extend(self.id.to_be_bytes());
        f.extend(self.frag.to_be_bytes());
        f.push(self.ttl);
        f.push(self.protocol);
        f.extend([0, 0]);
        f.extend(self.ip_src.octets());
        f.extend(self.ip_dst.octets());
        f.extend(&self.ip_options);
        let sum = checksum(&f[l3..]);
        f[l3 + 10..l3 + 12].copy_from_slice(&sum.to_be_bytes());
        f.extend(payload);
        f
    }
}
