//! xcarp: a UCARP-compatible CARP daemon whose receive path runs in XDP.
//!
//! Layout:
//! - [`config`]: the configuration model (plain data), the configuration
//!   file and the ucarp configuration importer.
//! - [`cli`]: ucarp's command line and the subcommands; gives a
//!   [`config::Settings`], and [`cli::Config`] is the single-instance view
//!   the daemon takes today.
//! - [`daemon`]: the tokio shell: sockets, timers, signals, scripts, logs.
//! - [`replay`]: the daemon's copy of the replay (freshness) check.
//! - [`xdp`]: loading and attaching the in-kernel filter, its maps and ring buffer.
pub mod auth;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod replay;
pub mod severity;
pub mod status;
pub mod wire;
pub mod xdp;
