//! The ucarp captures in `tests/data` (classic little-endian pcap files
//! of Ethernet frames).
use std::path::PathBuf;

/// The frames of capture `name`.
pub fn read_pcap(name: &str) -> Vec<Vec<u8>> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", name]
        .iter()
        .collect();
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(data[..4], [0xd4, 0xc3, 0xb2, 0xa1], "pcap magic");
    assert_eq!(
        u32::from_le_bytes(data[20..24].try_into().expect("4")),
        1,
        "Ethernet"
    );
    let mut frames = Vec::new();
    let mut offset = 24;
    while offset < data.len() {
        let caplen = u32::from_le_bytes(data[offset + 8..offset + 12].try_into().expect("4"));
        let start = offset + 16;
        let end = start + caplen as usize;
        frames.push(data[start..end].to_vec());
        offset = end;
    }
    frames
}
