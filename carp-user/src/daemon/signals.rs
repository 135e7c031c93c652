//! The signals the daemon acts on, listened to from before anything slow
//! happens at start-up (XDP load and attach, the instances' start), so that
//! a signal arriving meanwhile is acted on once the event loop runs instead
//! of ending the process by its default action (docs/architecture.md,
//! "Signals").
//!
//! `xcarp` blocks these signals ([`hold`]) as the first thing it does
//! (subcommands that run no daemon [`release`] them at once);
//! [`Signals::listen`] installs the handlers and then unblocks them, and a
//! signal that arrived in between is delivered to the handler then. No
//! process or thread is started with the signals blocked (a child would
//! inherit the mask).
use futures::FutureExt as _;
use nix::sys::signal::{SigSet, SigmaskHow, Signal as Sig, pthread_sigmask};
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::DaemonError;

/// Every signal [`Signals`] listens to.
const HANDLED: [Sig; 6] = [
    Sig::SIGHUP,
    Sig::SIGINT,
    Sig::SIGQUIT,
    Sig::SIGTERM,
    Sig::SIGUSR1,
    Sig::SIGUSR2,
];

fn handled() -> SigSet {
    let mut set = SigSet::empty();
    for signal in HANDLED {
        set.add(signal);
    }
    set
}

/// Blocks the signals the daemon handles in the calling thread (before any
/// other exists), until [`Signals::listen`] has its handlers in place: they
/// stay pending instead of killing the process.
///
/// # Errors
/// pthread_sigmask(3) failed.
pub fn hold() -> nix::Result<()> {
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&handled()), None)
}

/// Undoes [`hold`], for what runs no daemon: their default actions apply
/// again (a pending SIGINT ends the process now).
pub fn release() {
    let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&handled()), None);
}

/// The daemon's signal streams.
pub(super) struct Signals {
    pub usr1: Signal,
    pub usr2: Signal,
    pub term: Signal,
    pub int: Signal,
    pub quit: Signal,
    pub hup: Signal,
}

impl Signals {
    /// Installs the handlers, then unblocks what [`hold`] blocked: a signal
    /// that arrived before is now pending on its stream.
    pub(super) fn listen() -> Result<Self, DaemonError> {
        let stream = |kind| signal(kind).map_err(DaemonError::Signal);
        let signals = Self {
            usr1: stream(SignalKind::user_defined1())?,
            usr2: stream(SignalKind::user_defined2())?,
            term: stream(SignalKind::terminate())?,
            int: stream(SignalKind::interrupt())?,
            quit: stream(SignalKind::quit())?,
            hup: stream(SignalKind::hangup())?,
        };
        pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&handled()), None)
            .map_err(|e| DaemonError::Signal(e.into()))?;
        Ok(signals)
    }

    /// Whether a signal that ends the daemon arrived (SIGTERM, SIGINT,
    /// SIGQUIT, and SIGHUP when `hup_stops`), without waiting: for the
    /// start-up, between one instance's start and the next. A signal seen
    /// here is consumed; the others stay pending for the event loop.
    pub(super) async fn stop_arrived(&mut self, hup_stops: bool) -> bool {
        // Lets the runtime's signal driver read what arrived.
        tokio::task::yield_now().await;
        let mut arrived = false;
        for stream in [&mut self.term, &mut self.int, &mut self.quit] {
            arrived |= stream.recv().now_or_never().is_some();
        }
        if hup_stops {
            arrived |= self.hup.recv().now_or_never().is_some();
        }
        arrived
    }
}
