//! The CARP wire format as ucarp speaks it: the CARP header, the IPv4 packet
//! around it, whole Ethernet frames for adverts and gratuitous ARP, and the
//! receive-side checks in ucarp's order. No I/O.
//!
//! See `docs/protocol.md` (§1–§3) for the byte layout.

pub mod carp;
pub mod checksum;
mod error;
pub mod frame;
pub mod ipv4;

pub use carp::{AUTHLEN, CARP_LEN, CarpHeader, DIGEST_LEN};
pub use checksum::{internet_checksum, ones_complement_sum};
pub use error::{DecodeError, RxError};
pub use frame::{
    ADVERT_FRAME_LEN, AdvertFrameParams, GARP_FRAME_LEN, advert_src_mac, build_advert_frame,
    build_garp_frame, multicast_mac,
};
pub use ipv4::{Ipv4Carp, RxFilter, ipv4_payload};
