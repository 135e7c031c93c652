//! The 36-byte CARP header (docs/protocol.md §1).

use super::{DecodeError, checksum::internet_checksum};

/// Length of the CARP header on the wire.
pub const CARP_LEN: usize = carp_common::CARP_HEADER_LEN;
/// Length of the HMAC-SHA1 digest carried in the header.
pub const DIGEST_LEN: usize = 20;
/// `authlen` as ucarp sends it: counter + digest = 28 bytes = 7 words.
pub const AUTHLEN: u8 = 7;
/// The only version (2) and type (1, advertisement).
pub const VERSION: u8 = carp_common::CARP_VERSION;
pub const TYPE_ADVERTISEMENT: u8 = carp_common::CARP_TYPE_ADVERTISEMENT;

const CHECKSUM_OFFSET: usize = 6;
const COUNTER_OFFSET: usize = 8;
const DIGEST_OFFSET: usize = 16;

/// A CARP advertisement header.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  |     VHID      |    AdvSkew    |    AuthLen    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Demote (pad1) |    AdvBase    |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Counter (64 bits, big endian)             |
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// |                  HMAC-SHA1 digest (20 bytes)                  |
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The checksum is not stored: [`CarpHeader::encode`] computes it and
/// [`CarpHeader::decode`] verifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarpHeader {
    pub version: u8,
    pub kind: u8,
    pub vhid: u8,
    pub advskew: u8,
    pub authlen: u8,
    /// BSD's demotion counter; ucarp sends 0 and ignores it.
    pub demote: u8,
    pub advbase: u8,
    pub counter: u64,
    pub digest: [u8; DIGEST_LEN],
}

impl CarpHeader {
    /// An advertisement exactly as ucarp fills it in (version 2, type 1,
    /// authlen 7, demote 0).
    #[must_use]
    pub fn advert(
        vhid: u8,
        advbase: u8,
        advskew: u8,
        counter: u64,
        digest: [u8; DIGEST_LEN],
    ) -> Self {
        Self {
            version: VERSION,
            kind: TYPE_ADVERTISEMENT,
            vhid,
            advskew,
            authlen: AUTHLEN,
            demote: 0,
            advbase,
            counter,
            digest,
        }
    }

    /// The header's wire bytes, checksum included.
    #[must_use]
    pub fn encode(&self) -> [u8; CARP_LEN] {
        let mut out = [0u8; CARP_LEN];
        out[0] = (self.version << 4) | (self.kind & 0x0f);
        out[1] = self.vhid;
        out[2] = self.advskew;
        out[3] = self.authlen;
        out[4] = self.demote;
        out[5] = self.advbase;
        out[COUNTER_OFFSET..DIGEST_OFFSET].copy_from_slice(&self.counter.to_be_bytes());
        out[DIGEST_OFFSET..].copy_from_slice(&self.digest);
        let sum = internet_checksum(&out);
        out[CHECKSUM_OFFSET..COUNTER_OFFSET].copy_from_slice(&sum.to_be_bytes());
        out
    }

    /// Parses and checks a CARP header: length, version, checksum, type,
    /// authlen. Bytes past the 36-byte header are ignored. `demote` is
    /// returned as found (ucarp ignores it).
    ///
    /// # Errors
    /// `Truncated`, `BadVersion`, `BadCarpChecksum`, `BadType` or
    /// `BadAuthLen`.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let header = Self::decode_unchecked(bytes)?;
        if header.version != VERSION {
            return Err(DecodeError::BadVersion(header.version));
        }
        Self::check_sum_and_type(bytes, header)
    }

    /// Field extraction with only the length checked.
    pub(super) fn decode_unchecked(bytes: &[u8]) -> Result<Self, DecodeError> {
        let Some(raw) = bytes.first_chunk::<CARP_LEN>() else {
            return Err(DecodeError::Truncated {
                len: bytes.len(),
                ip_len: 0,
                carp_len: CARP_LEN,
            });
        };
        let mut counter = [0u8; 8];
        counter.copy_from_slice(&raw[COUNTER_OFFSET..DIGEST_OFFSET]);
        let mut digest = [0u8; DIGEST_LEN];
        digest.copy_from_slice(&raw[DIGEST_OFFSET..]);
        Ok(Self {
            version: raw[0] >> 4,
            kind: raw[0] & 0x0f,
            vhid: raw[1],
            advskew: raw[2],
            authlen: raw[3],
            demote: raw[4],
            advbase: raw[5],
            counter: u64::from_be_bytes(counter),
            digest,
        })
    }

    /// The checks that follow the vhid/group filters in ucarp's order.
    pub(super) fn check_sum_and_type(bytes: &[u8], header: Self) -> Result<Self, DecodeError> {
        let raw = bytes.get(..CARP_LEN).ok_or(DecodeError::Truncated {
            len: bytes.len(),
            ip_len: 0,
            carp_len: CARP_LEN,
        })?;
        if internet_checksum(raw) != 0 {
            return Err(DecodeError::BadCarpChecksum);
        }
        // ucarp accepts any type; nothing but type 1 has ever been defined,
        // so anything else is noise and is dropped.
        if header.kind != TYPE_ADVERTISEMENT {
            return Err(DecodeError::BadType(header.kind));
        }
        // ucarp does not check it; every CARP sender uses 7, and the XDP
        // program leaves anything else to the stack (it may be VRRPv2).
        if header.authlen != AUTHLEN {
            return Err(DecodeError::BadAuthLen(header.authlen));
        }
        Ok(header)
    }
}
