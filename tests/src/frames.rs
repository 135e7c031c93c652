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

/// A trafgen sending `frames` round robin from `host`, `gap_us` µs apart,
/// until dropped.
pub struct Trafgen {
    _process: ProcessGuard,
    _dir: TempDir,
}

impl Trafgen {
    pub fn start(host: &Host, frames: &[Vec<u8>], gap_us: u32) -> Self {
        let dir = TempDir::new("tg");
        let conf = dir.0.join("frames.cfg");
        let text: String = frames
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
            .collect();
        fs::write(&conf, text).expect("write trafgen config");
        let mut cmd = host.ns.command("trafgen");
        cmd.args([
            "-o",
            &host.dev,
            "-P",
            "1",
            "-C",
            "-t",
            &format!("{gap_us}us"),
            "-i",
        ])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        Self {
            _process: ProcessGuard::spawn(cmd),
            _dir: dir,
        }
    }
}
