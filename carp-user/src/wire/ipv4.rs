//! CARP inside IPv4 (and Ethernet): decoding with ucarp's checks (docs/protocol.md §3).

use std::net::Ipv4Addr;

use super::{
    CARP_LEN, CarpHeader, DecodeError, RxError,
    checksum::internet_checksum,
    frame::{ETHERNET_LEN, ETHERTYPE_IPV4},
};

/// What the receive path needs of the HMAC (implemented by
/// `auth::CarpAuth`): the codec itself knows no keys.
pub trait Authenticator {
    /// Whether `digest` is the HMAC of the advert with this counter.
    fn verify(&self, counter: u64, digest: &[u8]) -> bool;
    /// The digest an advert with this counter must carry (for the log line
    /// of a mismatch).
    fn digest(&self, counter: u64) -> [u8; super::DIGEST_LEN];
}

/// Length of an IPv4 header without options.
pub const IPV4_MIN_LEN: usize = 20;
/// Largest IPv4 header: IHL 15 words.
pub const IPV4_MAX_LEN: usize = 60;
/// Flags/fragment-offset field: MF bit and the 13-bit offset.
const IP_MF_OR_OFFSET: u16 = 0x3fff;
const ETHERTYPE_VLAN: u16 = 0x8100;
const VLAN_TAG_LEN: usize = 4;

/// An IPv4 packet carrying a CARP header.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  TTL (255)    | Protocol (112)|         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |               Destination Address (the group)                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Options (IHL > 5, skipped)                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 CARP header (36 bytes, see CarpHeader)        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Beyond ucarp's checks, the decoder rejects fragments and a total length
/// that disagrees with the packet, as the XDP program does (docs/xdp.md,
/// "One set of rules").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Carp {
    /// IP header length in bytes (20..=60).
    pub header_len: usize,
    pub tos: u8,
    pub total_len: u16,
    pub ip_id: u16,
    /// Flags and fragment offset, as on the wire (0x4000 = DF).
    pub flags_fragment: u16,
    pub ttl: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub carp: CarpHeader,
}

/// What identifies adverts meant for this instance (ucarp's `--srcip`,
/// `--vhid`, `--mcast`, `--nomcast`, and the VLAN it serves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxFilter {
    /// Our own source address: adverts from it are our own, looped back.
    pub own_src: Ipv4Addr,
    pub vhid: u8,
    pub group: Ipv4Addr,
    /// `--nomcast`: whole frames must be sent to the Ethernet broadcast
    /// address (the IP destination is still the group).
    pub broadcast: bool,
    /// 802.1Q VLAN id whole frames must carry, 0 for untagged (a priority
    /// tag, VLAN id 0, counts as untagged).
    pub vlan: u16,
}

impl Ipv4Carp {
    /// Decodes an IPv4 packet (starting at the IP header) carrying CARP,
    /// with every check that needs no configuration: length, IP version,
    /// IHL, protocol, TTL, CARP version, both checksums, CARP type.
    ///
    /// # Errors
    /// The first failed check, in ucarp's order.
    pub fn decode(packet: &[u8]) -> Result<Self, DecodeError> {
        decode_checked(packet, &NoFilter)
    }
}

impl RxFilter {
    /// Full receive path for an IPv4 packet, in ucarp's order (docs/protocol.md §3):
    /// size, own source, protocol, size with options, TTL, version, vhid,
    /// group, checksums, digest. `Ok` means the advert is authentic and for
    /// us.
    ///
    /// # Errors
    /// The first failed check; [`RxError::ucarp_log`] gives ucarp's text.
    pub fn accept(&self, packet: &[u8], auth: &impl Authenticator) -> Result<Ipv4Carp, RxError> {
        let decoded = decode_checked(packet, self)?;
        verify_digest(&decoded.carp, auth)?;
        Ok(decoded)
    }

    /// Same as [`RxFilter::accept`] for an Ethernet frame, with the checks
    /// the XDP program makes on the Ethernet header: the VLAN (an in-band
    /// 802.1Q tag, none or a priority tag for VLAN 0) and, in broadcast
    /// mode, the broadcast destination.
    ///
    /// # Errors
    /// As [`RxFilter::accept`], plus a short or non-IPv4 frame, another
    /// VLAN, or a non-broadcast frame in broadcast mode.
    pub fn accept_frame(
        &self,
        frame: &[u8],
        auth: &impl Authenticator,
    ) -> Result<Ipv4Carp, RxError> {
        let (vlan, payload) = vlan_and_ipv4_payload(frame)?;
        if vlan != self.vlan {
            return Err(RxError::OtherVlan(vlan));
        }
        let decoded = decode_checked(payload, self)?;
        if self.broadcast && frame[..6] != [0xff; 6] {
            return Err(RxError::NotBroadcast);
        }
        verify_digest(&decoded.carp, auth)?;
        Ok(decoded)
    }

    /// Receive path for a CARP header whose IP header was already checked
    /// elsewhere (the XDP program checks TTL and IP checksum and hands over
    /// source, destination and the raw CARP bytes).
    ///
    /// # Errors
    /// Own source, CARP version, vhid, group, checksum, type or digest.
    pub fn accept_header(
        &self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        carp: &[u8],
        auth: &impl Authenticator,
    ) -> Result<CarpHeader, RxError> {
        self.own_source(src)?;
        let header = CarpHeader::decode_unchecked(carp)?;
        if header.version != super::carp::VERSION {
            return Err(DecodeError::BadVersion(header.version).into());
        }
        self.vhid_and_group(&header, dst)?;
        let header = CarpHeader::check_sum_and_type(carp, header)?;
        verify_digest(&header, auth)?;
        Ok(header)
    }
}

/// The configuration-dependent checks, slotted into the structural ones at
/// ucarp's positions. [`NoFilter`] skips them for plain decoding.
trait Filter {
    type Error: From<DecodeError>;
    fn own_source(&self, src: Ipv4Addr) -> Result<(), Self::Error>;
    fn vhid_and_group(&self, header: &CarpHeader, dst: Ipv4Addr) -> Result<(), Self::Error>;
}

struct NoFilter;

impl Filter for NoFilter {
    type Error = DecodeError;
    fn own_source(&self, _: Ipv4Addr) -> Result<(), DecodeError> {
        Ok(())
    }
    fn vhid_and_group(&self, _: &CarpHeader, _: Ipv4Addr) -> Result<(), DecodeError> {
        Ok(())
    }
}

impl Filter for RxFilter {
    type Error = RxError;
    fn own_source(&self, src: Ipv4Addr) -> Result<(), RxError> {
        if src == self.own_src {
            return Err(RxError::OwnAdvert);
        }
        Ok(())
    }
    fn vhid_and_group(&self, header: &CarpHeader, dst: Ipv4Addr) -> Result<(), RxError> {
        if header.vhid != self.vhid {
            return Err(RxError::OtherVhid(header.vhid));
        }
        if dst != self.group {
            return Err(RxError::OtherGroup(dst));
        }
        Ok(())
    }
}

/// The IPv4 payload of an untagged Ethernet frame.
///
/// # Errors
/// A frame shorter than 14 bytes or with another ethertype.
pub fn ipv4_payload(frame: &[u8]) -> Result<&[u8], DecodeError> {
    let Some((eth, payload)) = frame.split_first_chunk::<ETHERNET_LEN>() else {
        return Err(DecodeError::TooShort {
            len: frame.len(),
            needed: ETHERNET_LEN,
        });
    };
    let ethertype = u16::from_be_bytes([eth[12], eth[13]]);
    if ethertype != ETHERTYPE_IPV4 {
        return Err(DecodeError::NotIpv4 { ethertype });
    }
    Ok(payload)
}

/// The VLAN id (0 when untagged or priority-tagged) and IPv4 payload of an
/// Ethernet frame with at most one 802.1Q tag, as the XDP program reads it.
///
/// # Errors
/// A frame too short for its headers, or not carrying IPv4.
pub fn vlan_and_ipv4_payload(frame: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    if frame.get(12..14) == Some(&ETHERTYPE_VLAN.to_be_bytes()[..]) {
        let Some(tag) = frame.get(14..16) else {
            return Err(DecodeError::TooShort {
                len: frame.len(),
                needed: ETHERNET_LEN + VLAN_TAG_LEN,
            });
        };
        let vlan = u16::from_be_bytes([tag[0], tag[1]]) & carp_common::VLAN_ID_MASK;
        // The tag sits between the addresses and the inner ethertype.
        let inner = &frame[VLAN_TAG_LEN..];
        let payload = ipv4_payload(inner).map_err(|e| match e {
            DecodeError::TooShort { len, needed } => DecodeError::TooShort {
                len: len + VLAN_TAG_LEN,
                needed: needed + VLAN_TAG_LEN,
            },
            other => other,
        })?;
        return Ok((vlan, payload));
    }
    Ok((0, ipv4_payload(frame)?))
}

fn verify_digest(header: &CarpHeader, auth: &impl Authenticator) -> Result<(), RxError> {
    if auth.verify(header.counter, &header.digest) {
        return Ok(());
    }
    // Only computed on failure, for the log line ucarp prints.
    let expected = auth.digest(header.counter);
    Err(RxError::BadDigest {
        expected: [expected[0], expected[1], expected[2], expected[3]],
        received: [
            header.digest[0],
            header.digest[1],
            header.digest[2],
            header.digest[3],
        ],
    })
}

/// Every structural check, plus the filter's when given, in ucarp's order.
fn decode_checked<F: Filter>(packet: &[u8], filter: &F) -> Result<Ipv4Carp, F::Error> {
    let Some(fixed) = packet.first_chunk::<IPV4_MIN_LEN>() else {
        return Err(DecodeError::TooShort {
            len: packet.len(),
            needed: IPV4_MIN_LEN,
        }
        .into());
    };
    let version = fixed[0] >> 4;
    if version != 4 {
        return Err(DecodeError::BadIpVersion(version).into());
    }
    let ihl = fixed[0] & 0x0f;
    if ihl < 5 {
        return Err(DecodeError::BadIhl(ihl).into());
    }
    let src = Ipv4Addr::new(fixed[12], fixed[13], fixed[14], fixed[15]);
    let dst = Ipv4Addr::new(fixed[16], fixed[17], fixed[18], fixed[19]);
    filter.own_source(src)?;
    let protocol = fixed[9];
    if protocol != carp_common::IPPROTO_CARP {
        return Err(DecodeError::NotCarp(protocol).into());
    }
    let header_len = usize::from(ihl) * 4;
    let (Some(ip_header), Some(carp_bytes)) = (
        packet.get(..header_len),
        packet.get(header_len..header_len + CARP_LEN),
    ) else {
        return Err(DecodeError::Truncated {
            len: packet.len(),
            ip_len: header_len,
            carp_len: CARP_LEN,
        }
        .into());
    };
    let flags_fragment = u16::from_be_bytes([fixed[6], fixed[7]]);
    if flags_fragment & IP_MF_OR_OFFSET != 0 {
        return Err(DecodeError::Fragment.into());
    }
    let total_len = u16::from_be_bytes([fixed[2], fixed[3]]);
    if usize::from(total_len) < header_len + CARP_LEN || usize::from(total_len) > packet.len() {
        return Err(DecodeError::BadTotalLength {
            total_len,
            len: packet.len(),
        }
        .into());
    }
    let ttl = fixed[8];
    if ttl != carp_common::CARP_TTL {
        return Err(DecodeError::BadTtl(ttl).into());
    }
    let carp = CarpHeader::decode_unchecked(carp_bytes)?;
    if carp.version != super::carp::VERSION {
        return Err(DecodeError::BadVersion(carp.version).into());
    }
    filter.vhid_and_group(&carp, dst)?;
    // ucarp sums IP header and CARP header together; checking each on its
    // own is stricter only for packets whose two errors cancel out.
    if internet_checksum(ip_header) != 0 {
        return Err(DecodeError::BadIpChecksum.into());
    }
    let carp = CarpHeader::check_sum_and_type(carp_bytes, carp)?;
    Ok(Ipv4Carp {
        header_len,
        tos: fixed[1],
        total_len,
        ip_id: u16::from_be_bytes([fixed[4], fixed[5]]),
        flags_fragment,
        ttl,
        src,
        dst,
        carp,
    })
}
