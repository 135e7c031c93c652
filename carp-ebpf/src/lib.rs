//! Empty on purpose: the XDP program is the `carp` binary (`src/main.rs`).
//! This library target only exists so that `carp-user` can declare a
//! build-dependency on this crate and be rebuilt when it changes.
#![no_std]
