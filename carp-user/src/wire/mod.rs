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
pub use ipv4::{Authenticator, Ipv4Carp, RxFilter, ipv4_payload};

#[cfg(test)]
mod tests {
    /// The codec sits at the bottom (docs/architecture.md): it may use the
    /// shared severities and nothing else of the crate, so that it can be
    /// reasoned about, fuzzed and reused alone.
    #[test]
    fn the_codec_depends_on_nothing_above_it() {
        let sources = [
            ("carp.rs", include_str!("carp.rs")),
            ("checksum.rs", include_str!("checksum.rs")),
            ("error.rs", include_str!("error.rs")),
            ("frame.rs", include_str!("frame.rs")),
            ("ipv4.rs", include_str!("ipv4.rs")),
            ("mod.rs", include_str!("mod.rs")),
        ];
        // Built here so that this test's own text does not match.
        let needle = ["crate", "::"].concat();
        for (file, text) in sources {
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for used in code.split(needle.as_str()).skip(1) {
                    assert!(
                        used.starts_with("severity") || used.starts_with("wire"),
                        "wire/{file}:{}: uses {needle}{used}",
                        n + 1
                    );
                }
            }
        }
    }
}
