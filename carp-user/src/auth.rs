//! CARP's HMAC-SHA1 authentication (docs/protocol.md §2).
//!
//! `digest = HMAC-SHA1(password, 0x02 0x01 vhid addr... counter)`: the CARP
//! version and type, the vhid, the virtual IPv4 addresses sorted ascending
//! (as the BSDs hash them; ucarp has exactly one), and the 64-bit counter
//! big-endian. advbase, advskew and the source address are not covered.

use std::{fmt, net::Ipv4Addr};

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::wire::DIGEST_LEN;

/// ucarp copies the password with its NUL into a 20-byte key buffer, so 19
/// bytes is the longest password it (and BSD's strlcpy) accepts.
pub const MAX_PASSWORD_LEN: usize = 19;

type HmacSha1 = Hmac<Sha1>;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Mirrors ucarp's "Password too long".
    #[error("Password too long: {len} bytes, at most {MAX_PASSWORD_LEN}")]
    PasswordTooLong { len: usize },
    /// The digest covers the virtual addresses; CARP needs at least one.
    #[error("no virtual address to authenticate")]
    NoAddresses,
}

/// The keyed HMAC state for one vhid, with the fixed part of the message
/// (version, type, vhid, addresses) already absorbed, so each digest costs
/// one clone and the counter's 8 bytes.
#[derive(Clone)]
pub struct CarpAuth {
    prefixed: HmacSha1,
    vhid: u8,
}

impl fmt::Debug for CarpAuth {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CarpAuth")
            .field("vhid", &self.vhid)
            .finish_non_exhaustive()
    }
}

impl CarpAuth {
    /// Keys the HMAC with `password` for `vhid` and the virtual `addrs`.
    ///
    /// # Errors
    /// A password over 19 bytes, or no address.
    pub fn new(password: &[u8], vhid: u8, addrs: &[Ipv4Addr]) -> Result<Self, AuthError> {
        if password.len() > MAX_PASSWORD_LEN {
            return Err(AuthError::PasswordTooLong {
                len: password.len(),
            });
        }
        if addrs.is_empty() {
            return Err(AuthError::NoAddresses);
        }
        // HMAC accepts keys of any length; short ones are zero-padded, which
        // is exactly ucarp's 20-byte zeroed key buffer.
        let mut prefixed =
            HmacSha1::new_from_slice(password).map_err(|_| AuthError::PasswordTooLong {
                len: password.len(),
            })?;
        prefixed.update(&[
            crate::wire::carp::VERSION,
            crate::wire::carp::TYPE_ADVERTISEMENT,
            vhid,
        ]);
        // BSD hashes all IPv4 addresses of the vhid in ascending order; with
        // ucarp's single address the order does not matter.
        let mut sorted = addrs.to_vec();
        sorted.sort_unstable();
        for addr in &sorted {
            prefixed.update(&addr.octets());
        }
        Ok(Self { prefixed, vhid })
    }

    /// The vhid this state authenticates.
    #[must_use]
    pub fn vhid(&self) -> u8 {
        self.vhid
    }

    /// The digest to send with `counter`.
    #[must_use]
    pub fn digest(&self, counter: u64) -> [u8; DIGEST_LEN] {
        let mut mac = self.prefixed.clone();
        mac.update(&counter.to_be_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `md` is the digest for `counter`, compared in constant time.
    #[must_use]
    pub fn verify(&self, counter: u64, md: &[u8]) -> bool {
        let mut mac = self.prefixed.clone();
        mac.update(&counter.to_be_bytes());
        mac.verify_slice(md).is_ok()
    }
}
