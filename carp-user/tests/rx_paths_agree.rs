//! The XDP program, the socket-filter fallback and the userspace parser
//! apply one set of rules (docs/xdp.md): every frame below gets the same
//! verdict from all three. Needs root and the real eBPF object.
mod xdp_common;

use xdp_common::{
    rx_paths::{RxPaths, Verdicts},
    setup,
};

const L3: usize = 14;
const CARP: usize = L3 + 20;

/// Recomputes the IPv4 header checksum (IHL from the frame) and the CARP
/// checksum of an untagged frame after an edit, so that the edit itself is
/// what the paths judge.
fn fix_checksums(frame: &mut [u8]) {
    let ihl = usize::from(frame[L3] & 0x0f) * 4;
    if ihl < 20 || frame.len() < L3 + ihl + 36 {
        return;
    }
    frame[L3 + 10..L3 + 12].fill(0);
    let sum = xdp_common::checksum(&frame[L3..L3 + ihl]);
    frame[L3 + 10..L3 + 12].copy_from_slice(&sum.to_be_bytes());
    let carp = L3 + ihl;
    frame[carp + 6..carp + 8].fill(0);
    let sum = xdp_common::checksum(&frame[carp..carp + 36]);
    frame[carp + 6..carp + 8].copy_from_slice(&sum.to_be_bytes());
}

/// Frames that probe every rule: each byte flipped (with and without
/// repaired checksums), every truncation, padding, VLAN tags, IP options,
/// and edits of each header field.
fn corpus(paths: &RxPaths) -> Vec<(String, Vec<u8>)> {
    let valid = paths.valid_frame(0x0102_0304_0506_0708);
    let mut out = vec![
        ("valid".to_owned(), valid.clone()),
        ("valid, counter 0".to_owned(), paths.valid_frame(0)),
    ];
    for offset in 0..valid.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut f = valid.clone();
            f[offset] ^= mask;
            out.push((format!("byte {offset} ^ {mask:#04x}"), f.clone()));
            fix_checksums(&mut f);
            out.push((format!("byte {offset} ^ {mask:#04x}, checksums fixed"), f));
        }
    }
    for len in 0..valid.len() {
        out.push((format!("cut to {len} bytes"), valid[..len].to_vec()));
    }
    let mut padded = valid.clone();
    padded.extend([0; 16]);
    out.push(("Ethernet padding".to_owned(), padded));
    for tci in [0x0000u16, 0xe000, 0x0007, 0x2abc] {
        let mut f = valid[..12].to_vec();
        f.extend([0x81, 0x00]);
        f.extend(tci.to_be_bytes());
        f.extend(&valid[12..]);
        out.push((format!("802.1Q TCI {tci:#06x}"), f));
    }
    for words in [1u8, 4, 10] {
        let mut f = valid[..CARP].to_vec();
        f.extend(std::iter::repeat_n(0x01, usize::from(words) * 4));
        f.extend(&valid[CARP..]);
        f[L3] = 0x45 + words;
        let total = u16::try_from(f.len() - L3).expect("fits");
        f[L3 + 2..L3 + 4].copy_from_slice(&total.to_be_bytes());
        fix_checksums(&mut f);
        out.push((format!("{words} words of IP options"), f.clone()));
        f[L3 + 2..L3 + 4].copy_from_slice(&(total - 4).to_be_bytes());
        fix_checksums(&mut f);
        out.push((format!("{words} words of options, total length short"), f));
    }
    let edits: [(&str, usize, &[u8]); 14] = [
        ("TTL 254", L3 + 8, &[254]),
        ("TTL 1", L3 + 8, &[1]),
        ("more fragments", L3 + 6, &[0x20, 0x00]),
        ("fragment offset", L3 + 6, &[0x40, 0x01]),
        ("no DF", L3 + 6, &[0x00, 0x00]),
        ("total length 55", L3 + 2, &[0, 55]),
        ("total length 1500", L3 + 2, &[0x05, 0xdc]),
        ("own source", L3 + 12, &[10, 99, 0, 2]),
        ("other group", L3 + 16, &[224, 0, 0, 19]),
        ("other VHID", CARP + 1, &[43]),
        ("CARP version 3", CARP, &[0x31]),
        ("CARP type 2", CARP, &[0x22]),
        ("authlen 6", CARP + 3, &[6]),
        ("broadcast MAC", 0, &[0xff; 6]),
    ];
    for (what, offset, bytes) in edits {
        let mut f = valid.clone();
        f[offset..offset + bytes.len()].copy_from_slice(bytes);
        fix_checksums(&mut f);
        out.push((what.to_owned(), f));
    }
    // What the checks do not cover must not matter: skew, base, demote.
    for (what, offset, byte) in [
        ("advskew 100", 2, 100u8),
        ("advbase 2", 5, 2),
        ("demote 1", 4, 1),
    ] {
        let mut f = valid.clone();
        f[CARP + offset] = byte;
        fix_checksums(&mut f);
        out.push((what.to_owned(), f));
    }
    out
}

fn check_corpus(broadcast: bool, kernel_hmac: bool) {
    let Some(mut xdp) = setup() else { return };
    let reader = xdp_common::reader(&mut xdp);
    let mut paths = RxPaths::new(xdp, reader, broadcast, kernel_hmac);
    let mut disagreements = Vec::new();
    let mut accepted = 0;
    let corpus = corpus(&paths);
    for (what, frame) in &corpus {
        let verdicts = paths.verdicts(frame);
        if !verdicts.agree() {
            disagreements.push(format!("{what}: {verdicts:?}"));
        }
        accepted += usize::from(verdicts.userspace);
    }
    assert!(
        disagreements.is_empty(),
        "the receive paths disagree on {} of {} frames:\n{}",
        disagreements.len(),
        corpus.len(),
        disagreements.join("\n")
    );
    // The corpus must exercise both outcomes, or agreement proves nothing.
    assert!(accepted >= 8, "only {accepted} frames accepted");
    assert!(
        accepted < corpus.len() / 2,
        "{accepted} of {} accepted",
        corpus.len()
    );
    let valid = paths.valid_frame(7);
    assert_eq!(
        paths.verdicts(&valid),
        Verdicts {
            xdp: true,
            socket: true,
            userspace: true
        }
    );
}

#[test]
fn multicast_mode_paths_agree_on_every_frame() {
    check_corpus(false, true);
}

#[test]
fn broadcast_mode_paths_agree_on_every_frame() {
    check_corpus(true, true);
}

/// Where the kernel cannot check digests (more addresses than one SHA-1
/// block holds), the daemon's check alone must give the same verdicts.
#[test]
fn paths_agree_without_the_kernels_digest_check() {
    check_corpus(false, false);
}
