//! CARP adverts as the emulated peers build and read them: the 36-byte
//! header (docs/protocol.md §1), the HMAC over every address of the VHID in
//! ascending order (§2 and "Several addresses on one VHID"), the Ethernet and
//! IPv4 framing, and the gratuitous ARP (§4.8).
use std::net::Ipv4Addr;

use hmac::{Hmac, Mac as _};
use sha1::Sha1;

use crate::frames::inet_checksum;

/// The CARP group every advert goes to.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The group's Ethernet address (RFC 1112 mapping).
pub const GROUP_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
/// Length of the CARP header.
pub const HEADER_LEN: usize = 36;

/// The fields of a CARP advertisement (version 2, type 1, authlen 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub vhid: u8,
    pub advskew: u8,
    /// Byte 4: OpenBSD's demotion count, 0 from everyone else.
    pub demote: u8,
    pub advbase: u8,
    pub counter: u64,
    pub digest: [u8; 20],
}

impl Header {
    /// The advertised interval in 1/256 s: advbase + advskew/256 s.
    #[must_use]
    pub fn interval(&self) -> u32 {
        u32::from(self.advbase) * 256 + u32::from(self.advskew)
    }

    /// An OpenBSD "bow-out": advbase and advskew 255 (docs/protocol.md §8).
    #[must_use]
    pub fn is_bow_out(&self) -> bool {
        self.advbase == 255 && self.advskew == 255
    }

    /// The 36 bytes on the wire, checksum filled in.
    #[must_use]
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..6].copy_from_slice(&[0x21, self.vhid, self.advskew, 7, self.demote, self.advbase]);
        b[8..16].copy_from_slice(&self.counter.to_be_bytes());
        b[16..].copy_from_slice(&self.digest);
        let ck = inet_checksum(&b);
        b[6..8].copy_from_slice(&ck.to_be_bytes());
        b
    }

    /// Reads a header: version 2, type 1, authlen 7 and a valid checksum,
    /// or nothing.
    #[must_use]
    pub fn decode(b: &[u8]) -> Option<Self> {
        let b = b.get(..HEADER_LEN)?;
        if b[0] != 0x21 || b[3] != 7 || inet_checksum(b) != 0 {
            return None;
        }
        Some(Self {
            vhid: b[1],
            advskew: b[2],
            demote: b[4],
            advbase: b[5],
            counter: u64::from_be_bytes(b[8..16].try_into().ok()?),
            digest: b[16..].try_into().ok()?,
        })
    }
}

/// The addresses a digest covers, in the BSDs' order: ascending, each once,
/// never 0.0.0.0 nor 255.255.255.255 (docs/protocol.md, "Several addresses
/// on one VHID").
#[must_use]
pub fn hmac_order(addresses: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
    let mut sorted: Vec<Ipv4Addr> = addresses
        .iter()
        .copied()
        .filter(|a| !a.is_unspecified() && !a.is_broadcast())
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

/// The authenticated message: `02 01 vhid addr₁ … addrₙ counter`.
#[must_use]
pub fn hmac_message(vhid: u8, addresses: &[Ipv4Addr], counter: u64) -> Vec<u8> {
    let mut msg = vec![2, 1, vhid];
    for a in hmac_order(addresses) {
        msg.extend_from_slice(&a.octets());
    }
    msg.extend_from_slice(&counter.to_be_bytes());
    msg
}

/// HMAC-SHA1 keyed with the password bytes over [`hmac_message`].
#[must_use]
pub fn digest(password: &[u8], vhid: u8, addresses: &[Ipv4Addr], counter: u64) -> [u8; 20] {
    let mut mac = Hmac::<Sha1>::new_from_slice(password).expect("HMAC takes any key length");
    mac.update(&hmac_message(vhid, addresses, counter));
    mac.finalize().into_bytes().into()
}

/// An advert frame: Ethernet from `src_mac` to the group, IPv4 from `src`
/// (TTL 255, protocol 112, DF, TOS `tos`, a fresh `id`), then `header`.
#[must_use]
pub fn advert_frame(src_mac: [u8; 6], src: Ipv4Addr, tos: u8, id: u16, header: &Header) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 20 + HEADER_LEN);
    f.extend_from_slice(&GROUP_MAC);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = u16::try_from(20 + HEADER_LEN).expect("56 bytes");
    let mut ip = vec![0x45, tos];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&id.to_be_bytes());
    ip.extend_from_slice(&[0x40, 0x00, 255, 112, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&GROUP.octets());
    let ck = inet_checksum(&ip);
    ip[10..12].copy_from_slice(&ck.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&header.encode());
    f
}

/// The source address and CARP header of an advert frame that a CARP node
/// takes in: IPv4 protocol 112 to the group, TTL 255, valid IP and CARP
/// checksums. Anything else gives nothing.
#[must_use]
pub fn parse_frame(frame: &[u8]) -> Option<(Ipv4Addr, Header)> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(14..)?;
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ihl < 20 || ip.len() < ihl + HEADER_LEN {
        return None;
    }
    if ip[8] != 255 || ip[9] != 112 || ip[16..20] != GROUP.octets() {
        return None;
    }
    if inet_checksum(&ip[..ihl]) != 0 {
        return None;
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    Some((src, Header::decode(&ip[ihl..])?))
}

/// A gratuitous ARP as ucarp sends it (docs/protocol.md §4.8): a broadcast
/// request with sender and target both `addr` at `mac`.
#[must_use]
pub fn garp_frame(mac: [u8; 6], addr: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    for _ in 0..2 {
        f.extend_from_slice(&mac);
        f.extend_from_slice(&addr.octets());
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    const LOVE: &[u8] = b"love";
    const A252: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 252);
    /// Three addresses, not in ascending order.
    const THREE: [Ipv4Addr; 3] = [
        Ipv4Addr::new(10, 1, 1, 253),
        Ipv4Addr::new(10, 1, 1, 9),
        Ipv4Addr::new(10, 1, 1, 252),
    ];
    /// A fixed OpenBSD replay cookie.
    const COOKIE: u64 = 0x5eed_c0ff_ee00_1234;

    /// Reference digests, computed with Python's standard library, not with
    /// any Rust code:
    ///
    /// ```text
    /// msg = bytes([2, 1, vhid])
    ///     + b"".join(struct.pack(">I", a) for a in sorted(set(int(IPv4Address(x)) for x in addrs)))
    ///     + struct.pack(">Q", counter)
    /// hmac.new(password, msg, hashlib.sha1).hexdigest()
    /// ```
    ///
    /// (password, vhid, addresses as configured, counter, message, digest).
    /// The first three are docs/protocol.md §2's one-address vectors.
    #[allow(clippy::type_complexity)]
    const VECTORS: &[(&[u8], u8, &[Ipv4Addr], u64, &str, &str)] = &[
        (
            LOVE,
            42,
            &[A252],
            0,
            "02012a0a0101fc0000000000000000",
            "a586229ddb7a84e1b47330485555199833cddf11",
        ),
        (
            LOVE,
            42,
            &[A252],
            1,
            "02012a0a0101fc0000000000000001",
            "bed06b842dc2fcede38f5139bf18d984f1276796",
        ),
        (
            LOVE,
            42,
            &[A252],
            0x3b16_9f75_6f5c_f193,
            "02012a0a0101fc3b169f756f5cf193",
            "d779100a4149a63502820de2f6e94682221f5df6",
        ),
        (
            LOVE,
            42,
            &THREE,
            0,
            "02012a0a0101090a0101fc0a0101fd0000000000000000",
            "a756725cd0a113dd5fe0fe77f8e3e7e6423347bb",
        ),
        (
            LOVE,
            42,
            &THREE,
            1,
            "02012a0a0101090a0101fc0a0101fd0000000000000001",
            "61d9f7de91fb06876f5181ebf84b7d34c4fc0c36",
        ),
        (
            LOVE,
            42,
            &THREE,
            u64::MAX,
            "02012a0a0101090a0101fc0a0101fdffffffffffffffff",
            "b9aa427da669800b991d9afbf01314a9a21ce850",
        ),
        (
            LOVE,
            42,
            &THREE,
            COOKIE,
            "02012a0a0101090a0101fc0a0101fd5eedc0ffee001234",
            "2fbcae752b4ea24038024ab6f32e742121e25f66",
        ),
        // Numeric, not textual, order: 192.168.0.9 before 192.168.0.10.
        (
            LOVE,
            42,
            &[
                Ipv4Addr::new(192, 168, 0, 10),
                Ipv4Addr::new(192, 168, 0, 9),
                Ipv4Addr::new(10, 99, 2, 1),
            ],
            COOKIE,
            "02012a0a630201c0a80009c0a8000a5eedc0ffee001234",
            "04e266e2da7b010e00ca434a87c4c560a0d9b703",
        ),
        // The longest password (19 bytes), another VHID.
        (
            b"secret19bytes-long!",
            7,
            &[
                Ipv4Addr::new(10, 99, 2, 3),
                Ipv4Addr::new(10, 99, 2, 2),
                Ipv4Addr::new(10, 99, 2, 1),
            ],
            0x0123_4567_89ab_cdef,
            "0201070a6302010a6302020a6302030123456789abcdef",
            "94531adc016c2df29e14256d37786eaab0fefd3f",
        ),
    ];

    #[test]
    fn digests_match_the_reference_vectors() {
        for (password, vhid, addresses, counter, message, expected) in VECTORS {
            assert_eq!(hex(&hmac_message(*vhid, addresses, *counter)), *message);
            assert_eq!(
                hex(&digest(password, *vhid, addresses, *counter)),
                *expected,
                "{addresses:?} counter {counter:#x}"
            );
        }
    }

    #[test]
    fn the_order_of_the_configured_addresses_does_not_matter() {
        let mut reversed = THREE;
        reversed.reverse();
        let mut doubled = THREE.to_vec();
        doubled.push(THREE[0]);
        let d = digest(LOVE, 42, &THREE, COOKIE);
        assert_eq!(digest(LOVE, 42, &reversed, COOKIE), d);
        assert_eq!(digest(LOVE, 42, &doubled, COOKIE), d, "duplicates collapse");
    }

    /// Headers computed with Python like the digests (RFC 1071 checksum
    /// over the 36 bytes): an OpenBSD advert (demote 1) and its bow-out,
    /// both with the cookie and the three addresses.
    #[test]
    fn headers_match_the_reference_bytes() {
        let digest = digest(LOVE, 42, &THREE, COOKIE);
        let advert = Header {
            vhid: 42,
            advskew: 0,
            demote: 1,
            advbase: 1,
            counter: COOKIE,
            digest,
        };
        assert_eq!(
            hex(&advert.encode()),
            "212a00070101a6995eedc0ffee0012342fbcae752b4ea24038024ab6f32e742121e25f66"
        );
        let bow_out = Header {
            advskew: 255,
            demote: 0,
            advbase: 255,
            ..advert
        };
        assert!(bow_out.is_bow_out());
        assert_eq!(
            hex(&bow_out.encode()),
            "212aff0700ffa79a5eedc0ffee0012342fbcae752b4ea24038024ab6f32e742121e25f66"
        );
        // docs/protocol.md §2: ucarp's counter-0 header.
        let ucarp = Header {
            vhid: 42,
            advskew: 0,
            demote: 0,
            advbase: 1,
            counter: 0,
            digest: super::digest(LOVE, 42, &[A252], 0),
        };
        assert_eq!(
            hex(&ucarp.encode()),
            "212a000700014fc50000000000000000a586229ddb7a84e1b47330485555199833cddf11"
        );
    }

    #[test]
    fn frames_round_trip_and_bad_ones_are_refused() {
        let h = Header {
            vhid: 42,
            advskew: 100,
            demote: 3,
            advbase: 2,
            counter: COOKIE,
            digest: digest(LOVE, 42, &THREE, COOKIE),
        };
        let src = Ipv4Addr::new(10, 99, 0, 2);
        let frame = advert_frame([0, 0, 0x5e, 0, 1, 42], src, 0x10, 7, &h);
        assert_eq!(frame.len(), 70);
        assert_eq!(parse_frame(&frame), Some((src, h)));
        assert_eq!(h.interval(), 2 * 256 + 100);
        let mut ttl = frame.clone();
        ttl[14 + 8] = 254;
        assert_eq!(parse_frame(&ttl), None, "TTL below 255");
        let mut flipped = frame.clone();
        flipped[14 + 20 + 9] ^= 1;
        assert_eq!(parse_frame(&flipped), None, "CARP checksum");
        assert_eq!(parse_frame(&frame[..60]), None, "short");
        assert_eq!(parse_frame(&[]), None);
    }

    #[test]
    fn gratuitous_arp_is_ucarps() {
        let f = garp_frame([2, 0, 0, 0, 0, 9], Ipv4Addr::new(10, 99, 0, 250));
        assert_eq!(
            hex(&f),
            "ffffffffffff020000000009080600010800060400010200000000090a6300fa0200000000090a6300fa"
        );
    }
}
