//! Crafted protocol-112 frames (CARP adverts for other VHIDs, VRRP v2/v3
//! adverts as keepalived sends them) and a trafgen sender for them.
use std::{fs, net::Ipv4Addr, process::Stdio};

use crate::{ProcessGuard, carp::TempDir, lan::Host};

/// RFC 1071 checksum of `data`.
pub fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet + IPv4 (protocol 112, TTL 255, to 224.0.0.18) around `payload`.
fn ip112_frame(src_mac: [u8; 6], src: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = u16::try_from(20 + payload.len()).expect("small payload");
    let mut ip = vec![0x45, 0x10];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 255, 112, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&[224, 0, 0, 18]);
    let ck = inet_checksum(&ip);
    ip[10..12].copy_from_slice(&ck.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(payload);
    f
}

/// A ucarp-style CARP advert for `vhid` with valid checksums and a zero
/// digest (never valid for anyone: for VHIDs nobody runs).
pub fn carp_advert(vhid: u8, src: Ipv4Addr) -> Vec<u8> {
    let mut carp = vec![0x21, vhid, 0, 7, 0, 1, 0, 0];
    carp.extend_from_slice(&0x0102_0304_0506_0708_u64.to_be_bytes());
    carp.extend_from_slice(&[0u8; 20]);
    let ck = inet_checksum(&carp);
    carp[6..8].copy_from_slice(&ck.to_be_bytes());
    ip112_frame([0, 0, 0x5e, 0, 0, vhid], src, &carp)
}

/// A VRRP advert as keepalived sends it: version 2 (RFC 3768, no auth) or
/// 3 (RFC 5798; its checksum covers a pseudo-header), one address.
pub fn vrrp_advert(version: u8, vrid: u8, src: Ipv4Addr, addr: Ipv4Addr) -> Vec<u8> {
    let mut v = match version {
        2 => vec![0x21, vrid, 100, 1, 0, 1, 0, 0],
        3 => vec![0x31, vrid, 100, 1, 0x00, 100, 0, 0],
        _ => panic!("VRRP version {version}"),
    };
    v.extend_from_slice(&addr.octets());
    if version == 2 {
        v.extend_from_slice(&[0u8; 8]);
    }
    let ck = if version == 3 {
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src.octets());
        pseudo.extend_from_slice(&[224, 0, 0, 18, 0, 112]);
        pseudo.extend_from_slice(&u16::try_from(v.len()).expect("small").to_be_bytes());
        pseudo.extend_from_slice(&v);
        inet_checksum(&pseudo)
    } else {
        inet_checksum(&v)
    };
    v[6..8].copy_from_slice(&ck.to_be_bytes());
    ip112_frame([0, 0, 0x5e, 0, 1, vrid], src, &v)
}

/// A CARP advert for `vhid` from `src` with the given timing and a digest
/// derived from `seed`: what an attacker without the password can send
/// (the digest is wrong for any password, bar a 2^-160 chance).
pub fn carp_advert_forged(vhid: u8, src: Ipv4Addr, advbase: u8, advskew: u8, seed: u8) -> Vec<u8> {
    let mut carp = vec![0x21, vhid, advskew, 7, 0, advbase, 0, 0];
    carp.extend_from_slice(&(0x1122_3344_5566_7700_u64 | u64::from(seed)).to_be_bytes());
    carp.extend((0..20u8).map(|i| i.wrapping_mul(37).wrapping_add(seed) | 1));
    let ck = inet_checksum(&carp);
    carp[6..8].copy_from_slice(&ck.to_be_bytes());
    ip112_frame([0, 0, 0x5e, 0, 0, vhid], src, &carp)
}

/// A broadcast IPv4/UDP datagram (to port 9, discard) of `payload_len`
/// bytes: traffic no CARP daemon has any business with.
pub fn udp_broadcast(src_mac: [u8; 6], src: Ipv4Addr, dst: Ipv4Addr, payload_len: u16) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let udp_len = 8 + payload_len;
    let total = 20 + udp_len;
    let mut ip = vec![0x45, 0x00];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0x56, 0x78, 0x40, 0x00, 64, 17, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let ck = inet_checksum(&ip);
    ip[10..12].copy_from_slice(&ck.to_be_bytes());
    f.extend_from_slice(&ip);
    // UDP checksum 0: none (allowed over IPv4).
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x09]);
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend(std::iter::repeat_n(0x5a, usize::from(payload_len)));
    f
}

/// trafgen's configuration for `frames`: one `{ 0x.., … }` block per frame,
/// sent round robin.
pub fn trafgen_config(frames: &[Vec<u8>]) -> String {
    frames
        .iter()
        .map(|f| {
            format!(
                "{{ {} }}\n",
                f.iter()
                    .map(|b| format!("0x{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect()
}

/// How fast a [`Trafgen`] sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// This gap between frames, in µs (`-t`).
    GapUs(u32),
    /// This many frames per second (`--rate …pps`).
    Pps(u64),
    /// As fast as it can, on one CPU.
    Unlimited,
}

impl Pace {
    /// trafgen's arguments for this pace.
    pub fn args(self) -> Vec<String> {
        match self {
            Self::GapUs(us) => vec!["-t".into(), format!("{us}us")],
            Self::Pps(pps) => vec!["-b".into(), format!("{pps}pps")],
            Self::Unlimited => Vec::new(),
        }
    }
}

/// A trafgen sending `frames` round robin from `host`, `gap_us` µs apart,
/// until dropped.
pub struct Trafgen {
    process: ProcessGuard,
    _dir: TempDir,
}

impl Trafgen {
    pub fn start(host: &Host, frames: &[Vec<u8>], gap_us: u32) -> Self {
        Self::start_paced(host, frames, Pace::GapUs(gap_us))
    }

    /// A trafgen sending `frames` round robin from `host` at `pace`, on one
    /// CPU, until dropped.
    pub fn start_paced(host: &Host, frames: &[Vec<u8>], pace: Pace) -> Self {
        let dir = TempDir::new("tg");
        let conf = dir.0.join("frames.cfg");
        fs::write(&conf, trafgen_config(frames)).expect("write trafgen config");
        let mut cmd = host.ns.command("trafgen");
        cmd.args(["-o", &host.dev, "-P", "1", "-C"])
            .args(pace.args())
            .arg("-i")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Self {
            process: ProcessGuard::spawn(cmd),
            _dir: dir,
        }
    }

    /// The pid of trafgen (or of `ip netns exec` before it execs).
    pub fn pid(&self) -> i32 {
        self.process.pid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trafgen_config_has_one_block_per_frame() {
        let cfg = trafgen_config(&[vec![0x01, 0xab], vec![0xff]]);
        assert_eq!(cfg, "{ 0x01, 0xab }\n{ 0xff }\n");
    }

    #[test]
    fn paces_become_trafgen_arguments() {
        assert_eq!(Pace::GapUs(100).args(), ["-t", "100us"]);
        assert_eq!(Pace::Pps(20_000).args(), ["-b", "20000pps"]);
        assert!(Pace::Unlimited.args().is_empty());
    }

    #[test]
    fn forged_adverts_have_valid_checksums_and_the_asked_timing() {
        let f = carp_advert_forged(42, Ipv4Addr::new(10, 99, 0, 100), 0, 1, 3);
        let carp = &f[14 + 20..];
        assert_eq!(inet_checksum(carp), 0, "CARP checksum");
        assert_eq!(inet_checksum(&f[14..34]), 0, "IP checksum");
        assert_eq!((carp[1], carp[2], carp[5]), (42, 1, 0));
        assert_ne!(
            f,
            carp_advert_forged(42, Ipv4Addr::new(10, 99, 0, 100), 0, 1, 4),
            "the seed changes the digest"
        );
    }

    #[test]
    fn udp_broadcast_is_well_formed() {
        let f = udp_broadcast(
            [2, 0, 0, 0, 0, 1],
            Ipv4Addr::new(10, 99, 0, 100),
            Ipv4Addr::new(10, 99, 255, 255),
            18,
        );
        assert_eq!(f.len(), 14 + 20 + 8 + 18);
        assert_eq!(inet_checksum(&f[14..34]), 0);
        assert_eq!(f[23], 17);
        assert_eq!(&f[0..6], &[0xff; 6]);
    }
}
