//! xcarp: a UCARP-compatible CARP daemon whose receive path runs in XDP.
//!
//! Layout:
//! - [`cli`]: ucarp's command line, validated into a [`cli::Config`].
//! - [`daemon`]: the tokio shell: sockets, timers, signals, scripts, logs.
//! - [`replay`]: the daemon's copy of the replay (freshness) check.
//! - [`xdp`]: loading and attaching the in-kernel filter, its maps and ring buffer.
pub mod auth;
pub mod cli;
pub mod daemon;
pub mod engine;
pub mod replay;
pub mod severity;
pub mod status;
pub mod wire;
pub mod xdp;
