//! Frames out of a classic pcap file (what `tcpdump -w` writes): scenario 16
//! and the benchmark replay captured adverts with trafgen, the fuzz pass
//! seeds its corpora from the ucarp captures.

/// The frames of a pcap file with Ethernet link type, in order; whatever
/// cannot be read (another format, a truncated record) ends the list.
pub fn frames(file: &[u8]) -> Vec<Vec<u8>> {
    let Some(magic) = file.get(0..4) else {
        return Vec::new();
    };
    // Micro- or nanosecond timestamps, either byte order.
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return Vec::new(),
    };
    let u32_at = |off: usize| -> Option<u32> {
        let b: [u8; 4] = file.get(off..off + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    // Link type 1: Ethernet.
    if u32_at(20) != Some(1) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut off = 24;
    while let Some(caplen) = u32_at(off + 8) {
        let start = off + 16;
        let Some(frame) = usize::try_from(caplen)
            .ok()
            .and_then(|len| file.get(start..start + len))
        else {
            break;
        };
        out.push(frame.to_vec());
        off = start + frame.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::frames;

    fn pcap(records: &[&[u8]]) -> Vec<u8> {
        let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        f.extend([0u8; 8]);
        f.extend(262_144u32.to_le_bytes());
        f.extend(1u32.to_le_bytes());
        for r in records {
            f.extend([0u8; 8]);
            let len = u32::try_from(r.len()).expect("small");
            f.extend(len.to_le_bytes());
            f.extend(len.to_le_bytes());
            f.extend_from_slice(r);
        }
        f
    }

    #[test]
    fn reads_every_record() {
        let file = pcap(&[&[1, 2, 3], &[4, 5]]);
        assert_eq!(frames(&file), vec![vec![1, 2, 3], vec![4, 5]]);
    }

    #[test]
    fn truncated_or_foreign_files_give_what_is_whole() {
        let mut file = pcap(&[&[1, 2, 3], &[4, 5]]);
        file.truncate(file.len() - 1);
        assert_eq!(frames(&file), vec![vec![1, 2, 3]]);
        assert!(frames(b"not a pcap file at all, not at all").is_empty());
        let mut linux_sll = pcap(&[&[1]]);
        linux_sll[20] = 113;
        assert!(frames(&linux_sll).is_empty());
    }
}
