//! xcarp: a UCARP-compatible CARP daemon whose receive path runs in XDP.
//!
//! Layout:
//! - [`xdp`]: loading and attaching the in-kernel filter.
pub mod xdp;
