//! Why a frame, packet or CARP header was rejected.

use std::net::Ipv4Addr;

use crate::severity::LogLevel;

/// A malformed frame, IPv4 packet or CARP header. Decoders check in ucarp's
/// order (docs/protocol.md §3) and report the first failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the fixed part that must be read before anything else
    /// (Ethernet header, minimal IPv4 header).
    #[error("packet too short: {len} bytes, need at least {needed}")]
    TooShort { len: usize, needed: usize },
    /// Ethernet frame that does not carry IPv4.
    #[error("not IPv4: ethertype {ethertype:#06x}")]
    NotIpv4 { ethertype: u16 },
    /// IP version nibble is not 4.
    #[error("IP version {0}, expected 4")]
    BadIpVersion(u8),
    /// IHL below the 5-word minimum.
    #[error("IPv4 header length {0} words, minimum is 5")]
    BadIhl(u8),
    /// IP protocol is not CARP (112).
    #[error("IP protocol {0}, expected 112 (CARP)")]
    NotCarp(u8),
    /// The IP header (with its options) plus the 36-byte CARP header do not
    /// fit in the captured bytes. `ip_len` is the IP header length in bytes.
    #[error("truncated: {len} bytes, IP header {ip_len} + CARP header {carp_len} needed")]
    Truncated {
        len: usize,
        ip_len: usize,
        carp_len: usize,
    },
    /// An IP fragment (MF set or a fragment offset): adverts are never
    /// fragmented.
    #[error("IP fragment")]
    Fragment,
    /// The IP total length is shorter than header + CARP header, or longer
    /// than the packet.
    #[error("IP total length {total_len} does not fit the {len}-byte packet")]
    BadTotalLength { total_len: u16, len: usize },
    /// TTL other than 255: the advert was routed, so it is not link-local.
    #[error("bad TTL {0}, expected 255")]
    BadTtl(u8),
    /// CARP version nibble other than 2.
    #[error("bad CARP version {0}, expected 2")]
    BadVersion(u8),
    /// The IPv4 header checksum does not verify.
    #[error("bad IPv4 header checksum")]
    BadIpChecksum,
    /// The CARP header checksum does not verify.
    #[error("bad CARP checksum")]
    BadCarpChecksum,
    /// CARP type other than 1 (advertisement).
    #[error("bad CARP type {0}, expected 1 (advertisement)")]
    BadType(u8),
    /// CARP authlen other than 7 (counter + digest).
    #[error("bad CARP authlen {0}, expected 7")]
    BadAuthLen(u8),
}

impl DecodeError {
    /// What ucarp logs for this rejection (docs/protocol.md §3), `None` where ucarp
    /// drops silently. Cases ucarp does not check map to the closest text.
    #[must_use]
    pub fn ucarp_log(&self) -> Option<(LogLevel, String)> {
        match *self {
            // ucarp drops these silently (or, for the last two, never
            // checks them).
            Self::TooShort { .. }
            | Self::NotIpv4 { .. }
            | Self::NotCarp(_)
            | Self::BadIpVersion(_)
            | Self::BadIhl(_) => None,
            Self::Truncated {
                len,
                ip_len,
                carp_len,
            } => Some((
                LogLevel::Debug,
                format!("Bogus size: caplen=[{len}], ip_len=[{ip_len}] ch_len=[{carp_len}]"),
            )),
            Self::BadTtl(ttl) => Some((LogLevel::Warning, format!("Bad TTL: [{ttl}]"))),
            Self::BadVersion(v) => Some((LogLevel::Warning, format!("Bad version: [{v}]"))),
            // ucarp checks both checksums with one sum and one message.
            Self::BadIpChecksum | Self::BadCarpChecksum => {
                Some((LogLevel::Warning, "Bad IP checksum".to_owned()))
            }
            Self::BadType(t) => Some((LogLevel::Debug, format!("Ignoring CARP type: [{t}]"))),
            // Checks ucarp does not make: the closest of its texts.
            Self::Fragment => Some((LogLevel::Debug, "Ignoring IP fragment".to_owned())),
            Self::BadTotalLength { total_len, len } => Some((
                LogLevel::Debug,
                format!("Bogus size: caplen=[{len}], ip total length=[{total_len}]"),
            )),
            Self::BadAuthLen(n) => Some((LogLevel::Debug, format!("Ignoring CARP authlen: [{n}]"))),
        }
    }
}

/// A well-formed advert that is not for this instance, or fails
/// authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RxError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Our own advert looped back (ucarp's BPF filter drops these).
    #[error("own advert")]
    OwnAdvert,
    /// Advert for another virtual host id.
    #[error("advert for vhid {0}")]
    OtherVhid(u8),
    /// Advert sent to another group address.
    #[error("advert sent to {0}, not our group")]
    OtherGroup(Ipv4Addr),
    /// Frame tagged with a VLAN this instance does not serve (0: untagged).
    #[error("frame of VLAN {0}, not ours")]
    OtherVlan(u16),
    /// Broadcast (`--nomcast`) mode, but the frame was not sent to the
    /// Ethernet broadcast address.
    #[error("not sent to the Ethernet broadcast address (--nomcast)")]
    NotBroadcast,
    /// HMAC mismatch: other password, vhid or virtual address. Carries the
    /// first bytes of the expected and received digests, as ucarp logs them.
    #[error("bad digest")]
    BadDigest {
        expected: [u8; 4],
        received: [u8; 4],
    },
}

impl RxError {
    /// What ucarp logs for this rejection (docs/protocol.md §3), `None` where it is
    /// silent.
    #[must_use]
    pub fn ucarp_log(&self) -> Option<(LogLevel, String)> {
        match self {
            Self::Decode(e) => e.ucarp_log(),
            Self::OwnAdvert => None,
            Self::OtherVhid(vhid) => Some((LogLevel::Debug, format!("Ignoring vhid: [{vhid}]"))),
            Self::OtherGroup(dst) => Some((
                LogLevel::Debug,
                format!("Ignoring different multicast ip: [{dst}]"),
            )),
            Self::OtherVlan(vlan) => Some((LogLevel::Debug, format!("Ignoring VLAN: [{vlan}]"))),
            Self::NotBroadcast => Some((
                LogLevel::Debug,
                "Ignoring advert not sent to the broadcast address".to_owned(),
            )),
            Self::BadDigest { expected, received } => Some((
                LogLevel::Warning,
                format!(
                    "Bad digest - md2=[{}...] md=[{}...] - Check vhid, password and virtual IP address",
                    hex4(*expected),
                    hex4(*received)
                ),
            )),
        }
    }
}

fn hex4(bytes: [u8; 4]) -> String {
    let [a, b, c, d] = bytes;
    format!("{a:02x}{b:02x}{c:02x}{d:02x}")
}
