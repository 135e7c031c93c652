//! Status and metrics: what `xcarp status` and the Prometheus endpoint
//! show (docs/status.md).
//!
//! The daemon describes every instance and interface in a [`Snapshot`]
//! (plain data, serde) and publishes it on a `tokio::sync::watch` channel
//! whenever something changes. The servers read the latest one:
//!
//! ```text
//!  daemon ── watch::Sender<Snapshot> ──┬──► serve_status  (unix socket, root only)
//!                                      │      text | json | prometheus
//!                                      └──► serve_metrics (HTTP GET /metrics, off by default)
//!  xcarp status ── status_command ──► unix socket ──► prints the answer
//! ```
//!
//! - [`snapshot`]: the data, and helpers to fill it from the engine's
//!   state and the XDP program's counters.
//! - [`render`]: the text table, JSON and the Prometheus text format.
//! - [`server`]: the status socket and the metrics endpoint.
//! - [`client`]: the `xcarp status` command.
//!
//! Nothing here holds a daemon type beyond the read-only
//! [`crate::engine::State`] and [`crate::xdp::XdpCounters`] conversions.
pub mod client;
pub mod render;
pub mod server;
pub mod snapshot;

pub use client::{QueryError, query_status, status_command};
pub use render::{Format, render_json, render_prometheus, render_text, render_text_at};
pub use server::{
    MetricsServer, ServeError, SocketAccess, StatusServer, serve_metrics, serve_status,
};
pub use snapshot::{
    CheckRun, CheckStatus, InstanceCounters, InstanceStatus, InterfaceStatus, RxPath, ScriptStatus,
    ScriptWhich, Snapshot, StateName, TrackedInterfaceStatus, TransitionInfo, XdpVerdict,
    current_master, unix_ms, unix_ms_now, xdp_counter_map, xdp_verdict,
};

/// Where the daemon serves status unless configured otherwise, and where
/// `xcarp status` asks.
pub const DEFAULT_STATUS_SOCKET: &str = "/run/xcarp/status.sock";
