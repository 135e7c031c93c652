//! The Internet checksum (RFC 1071), used by the IPv4 header and CARP.

/// One's-complement sum of `data` as big-endian 16-bit words, folded to 16
/// bits. An odd trailing byte is padded with a zero byte (RFC 1071 §4.1).
#[must_use]
pub fn ones_complement_sum(data: &[u8]) -> u16 {
    let mut chunks = data.chunks_exact(2);
    let mut sum: u64 = chunks
        .by_ref()
        .map(|pair| u64::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    // A u64 cannot overflow here for any slice that fits in memory; folding
    // twice brings any carry back into 16 bits.
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop leaves at most 16 significant bits.
    u16::try_from(sum).unwrap_or(u16::MAX)
}

/// The Internet checksum of `data`: the complement of its one's-complement
/// sum. Computed with the checksum field zeroed it is the value to store;
/// computed over data that already carries a correct checksum it is 0.
#[must_use]
pub fn internet_checksum(data: &[u8]) -> u16 {
    !ones_complement_sum(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 worked example: the sum of these words is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(ones_complement_sum(&data), 0xddf2);
        assert_eq!(internet_checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(ones_complement_sum(&[0x12]), 0x1200);
        assert_eq!(ones_complement_sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn empty_is_zero_sum() {
        assert_eq!(ones_complement_sum(&[]), 0);
        assert_eq!(internet_checksum(&[]), 0xffff);
    }

    #[test]
    fn data_with_its_checksum_verifies_to_zero() {
        let mut data = vec![
            0x45, 0x10, 0x00, 0x38, 0xab, 0xcd, 0x40, 0x00, 0xff, 0x70, 0, 0,
        ];
        let sum = internet_checksum(&data);
        data[10..12].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(internet_checksum(&data), 0);
    }

    #[test]
    fn carries_are_folded() {
        // 0xffff + 0x0001 = 0x1_0000 → folds to 0x0001.
        assert_eq!(ones_complement_sum(&[0xff, 0xff, 0x00, 0x01]), 0x0001);
    }
}
