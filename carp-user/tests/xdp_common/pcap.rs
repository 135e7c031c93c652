//! The ucarp captures in `tests/data` (classic little-endian pcap files
//! of Ethernet frames, microsecond timestamps).
#![allow(dead_code)]

use std::{path::PathBuf, time::Duration};

const DAY: u64 = 86_400;

/// The frames of capture `name`.
pub fn read_pcap(name: &str) -> Vec<Vec<u8>> {
    read_pcap_timed(name).into_iter().map(|(_, f)| f).collect()
}

/// The frames of capture `name` with their capture time of day (UTC).
pub fn read_pcap_timed(name: &str) -> Vec<(Duration, Vec<u8>)> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", name]
        .iter()
        .collect();
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(data[..4], [0xd4, 0xc3, 0xb2, 0xa1], "pcap magic");
    let word = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!(word(20), 1, "Ethernet");
    let mut frames = Vec::new();
    let mut offset = 24;
    while offset < data.len() {
        let at = Duration::new(u64::from(word(offset)) % DAY, word(offset + 4) * 1000);
        let start = offset + 16;
        let end = start + word(offset + 8) as usize;
        frames.push((at, data[start..end].to_vec()));
        offset = end;
    }
    frames
}
