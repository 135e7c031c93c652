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
    /// What the XDP program needs to check digests itself; `None` when the
    /// message does not fit one SHA-1 block (more than
    /// [`carp_common::MAX_HMAC_ADDRS`] addresses).
    kernel: Option<KernelHmac>,
}

/// HMAC-SHA1 keyed for the kernel: the SHA-1 states after the key's ipad
/// and opad blocks, and the inner hash's single message block with a hole
/// for the counter (docs/xdp.md, "HMAC in the kernel"). Derived from the
/// password; holds no more of it than every advert's digest reveals.
#[derive(Clone, PartialEq, Eq)]
pub struct KernelHmac {
    pub inner: [u32; 5],
    pub outer: [u32; 5],
    pub block: [u8; carp_common::SHA1_BLOCK_LEN],
    pub counter_at: usize,
}

impl fmt::Debug for KernelHmac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KernelHmac")
            .field("counter_at", &self.counter_at)
            .finish_non_exhaustive()
    }
}

/// SHA-1's initial state (FIPS 180-4 §5.3.1).
const SHA1_IV: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];

impl KernelHmac {
    fn new(password: &[u8], message_prefix: &[u8]) -> Option<Self> {
        use carp_common::SHA1_BLOCK_LEN;
        const COUNTER_LEN: usize = 8;
        // HMAC pads a short key with zeros to the block size.
        let keyed = |pad: u8| {
            let mut block = [pad; SHA1_BLOCK_LEN];
            for (b, k) in block.iter_mut().zip(password) {
                *b ^= k;
            }
            let mut state = SHA1_IV;
            sha1::compress(&mut state, &[block.into()]);
            state
        };
        let message_len = message_prefix.len() + COUNTER_LEN;
        // 0x80 and the 64-bit length must follow in the same block.
        if message_len + 9 > SHA1_BLOCK_LEN {
            return None;
        }
        let mut block = [0u8; SHA1_BLOCK_LEN];
        block[..message_prefix.len()].copy_from_slice(message_prefix);
        block[message_len] = 0x80;
        let bits = ((SHA1_BLOCK_LEN + message_len) * 8) as u64;
        block[SHA1_BLOCK_LEN - 8..].copy_from_slice(&bits.to_be_bytes());
        Some(Self {
            inner: keyed(0x36),
            outer: keyed(0x5c),
            block,
            counter_at: message_prefix.len(),
        })
    }

    /// The digest for `counter`, computed the way the XDP program does it:
    /// the model the kernel's code is tested against.
    #[must_use]
    pub fn digest(&self, counter: u64) -> [u8; DIGEST_LEN] {
        let mut block = self.block;
        block[self.counter_at..self.counter_at + 8].copy_from_slice(&counter.to_be_bytes());
        let mut inner = self.inner;
        sha1::compress(&mut inner, &[block.into()]);
        let mut outer_block = [0u8; carp_common::SHA1_BLOCK_LEN];
        for (chunk, word) in outer_block.chunks_exact_mut(4).zip(inner) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        outer_block[20] = 0x80;
        outer_block[62..].copy_from_slice(&(((64 + 20) * 8) as u16).to_be_bytes());
        let mut outer = self.outer;
        sha1::compress(&mut outer, &[outer_block.into()]);
        let mut digest = [0u8; DIGEST_LEN];
        for (chunk, word) in digest.chunks_exact_mut(4).zip(outer) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        digest
    }
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
        let mut message_prefix = vec![
            crate::wire::carp::VERSION,
            crate::wire::carp::TYPE_ADVERTISEMENT,
            vhid,
        ];
        for addr in &sorted {
            prefixed.update(&addr.octets());
            message_prefix.extend_from_slice(&addr.octets());
        }
        let kernel = (sorted.len() <= carp_common::MAX_HMAC_ADDRS)
            .then(|| KernelHmac::new(password, &message_prefix))
            .flatten();
        Ok(Self {
            prefixed,
            vhid,
            kernel,
        })
    }

    /// The keyed state for the XDP program's digest check, if the message
    /// fits one SHA-1 block.
    #[must_use]
    pub fn kernel_hmac(&self) -> Option<&KernelHmac> {
        self.kernel.as_ref()
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

impl crate::wire::Authenticator for CarpAuth {
    fn verify(&self, counter: u64, digest: &[u8]) -> bool {
        CarpAuth::verify(self, counter, digest)
    }

    fn digest(&self, counter: u64) -> [u8; DIGEST_LEN] {
        CarpAuth::digest(self, counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The XDP program's way (midstates, one block each) gives the same
    /// digest as the HMAC crate for every password length, address count
    /// and counter tried.
    #[test]
    fn kernel_midstates_give_the_hmac_crates_digest() {
        let addrs: Vec<Ipv4Addr> = (1..=8).map(|i| Ipv4Addr::new(10, 99, 0, 250 - i)).collect();
        for password_len in [0, 1, 4, 19] {
            let password: Vec<u8> = (0..password_len).map(|i| b'a' + i).collect();
            for count in 1..=8 {
                let auth = CarpAuth::new(&password, 42, &addrs[..count]).expect("valid");
                let kernel = auth.kernel_hmac().expect("fits one block");
                for counter in [0, 1, 0x0102_0304_0506_0708, u64::MAX] {
                    assert_eq!(
                        kernel.digest(counter),
                        auth.digest(counter),
                        "password {password_len} bytes, {count} addresses, counter {counter:#x}"
                    );
                }
            }
        }
    }

    /// docs/protocol.md §2's vector: "love", VHID 42, 10.1.1.252, counter 0.
    #[test]
    fn kernel_midstates_reproduce_the_reference_vector() {
        let auth = CarpAuth::new(b"love", 42, &[Ipv4Addr::new(10, 1, 1, 252)]).expect("valid");
        let kernel = auth.kernel_hmac().expect("one address");
        assert_eq!(kernel.counter_at, 7);
        let hex: String = kernel
            .digest(0)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "a586229ddb7a84e1b47330485555199833cddf11");
    }

    #[test]
    fn more_addresses_than_one_block_holds_leave_the_check_to_the_daemon() {
        let addrs: Vec<Ipv4Addr> = (1..=9).map(|i| Ipv4Addr::new(10, 99, 1, i)).collect();
        let auth = CarpAuth::new(b"love", 42, &addrs).expect("valid");
        assert!(auth.kernel_hmac().is_none());
    }
}
