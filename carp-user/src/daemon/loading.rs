//! Reading the configuration file again (SIGHUP) without holding up the
//! event loop: the file is read, parsed and checked on a thread of its own
//! while the loop goes on sending adverts; the result comes back to the
//! loop, which applies it (docs/architecture.md, "Reload").
//!
//! One reading at a time: a SIGHUP that arrives during one asks for one
//! more after it (any number of them, one more), so that the last version
//! of the file is the one applied.
use tokio::sync::oneshot;

use super::{LoadResult, Reload};
use crate::config::file::MAX_REPORTED_ERRORS;

/// The reading in progress, if any, and whether another is asked for.
pub(super) struct Loading {
    load: Reload,
    running: Option<oneshot::Receiver<LoadResult>>,
    queued: bool,
}

impl Loading {
    pub(super) fn new(load: Reload) -> Self {
        Self {
            load,
            running: None,
            queued: false,
        }
    }

    /// A SIGHUP: starts a reading, or, while one runs, asks for one more
    /// after it. Whether a reading started now.
    pub(super) fn request(&mut self) -> bool {
        if self.running.is_some() {
            if !self.queued {
                tracing::info!(
                    "SIGHUP: the configuration is being read: reading it once more afterwards"
                );
            }
            self.queued = true;
            return false;
        }
        self.start();
        true
    }

    /// After a reading was applied: starts the one asked for meanwhile, if
    /// any. Whether one started.
    pub(super) fn start_queued(&mut self) -> bool {
        if !std::mem::take(&mut self.queued) {
            return false;
        }
        self.start();
        true
    }

    fn start(&mut self) {
        tracing::info!("SIGHUP: reloading the configuration");
        let (tx, rx) = oneshot::channel();
        let load = self.load.clone();
        // A thread rather than the runtime's blocking pool: a reading that
        // hangs (a file system that does not answer) never holds up the
        // daemon's exit.
        let spawned = std::thread::Builder::new()
            .name("xcarp-config".into())
            .spawn(move || {
                let _ = tx.send(load());
            });
        if let Err(e) = spawned {
            let (tx, failed) = oneshot::channel();
            let _ = tx.send(Err(format!("cannot start reading the configuration: {e}")));
            self.running = Some(failed);
            return;
        }
        self.running = Some(rx);
    }
}

/// The result of the reading in progress; never ready without one. Can be
/// dropped and called again (as in `tokio::select!`) without losing it.
pub(super) async fn finished(loading: Option<&mut Loading>) -> LoadResult {
    let Some(loading) = loading else {
        return std::future::pending().await;
    };
    let Some(running) = loading.running.as_mut() else {
        return std::future::pending().await;
    };
    let result = running
        .await
        .unwrap_or_else(|_| Err("reading the configuration failed (its thread ended)".into()));
    loading.running = None;
    result
}

/// Logs why a reload was rejected: one record a problem, never one giant
/// record (the problems come bounded, see [`LoadResult`]).
pub(super) fn log_rejection(problems: &str) {
    let mut lines = problems.lines();
    tracing::error!(
        "reload rejected, the running instances are kept: {}",
        lines.next().unwrap_or("no reason given")
    );
    for line in lines.take(MAX_REPORTED_ERRORS + 1) {
        tracing::error!("reload rejected: {line}");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    };

    use super::*;

    /// A reading that counts its runs and waits for a go from the test.
    fn gated() -> (Reload, Arc<AtomicUsize>, mpsc::Sender<()>) {
        let runs = Arc::new(AtomicUsize::new(0));
        let (go, gate) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let counted = runs.clone();
        let load: Reload = Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = gate.lock().expect("gate").recv();
            Err(format!("run {}", counted.load(Ordering::SeqCst)))
        });
        (load, runs, go)
    }

    #[tokio::test]
    async fn sighups_during_a_reading_make_one_more_reading_after_it() {
        let (load, runs, go) = gated();
        let mut loading = Loading::new(load);
        assert!(loading.request(), "the first SIGHUP starts a reading");
        // Three more while it runs: queued, not started.
        for _ in 0..3 {
            assert!(!loading.request());
        }
        go.send(()).unwrap();
        assert_eq!(
            finished(Some(&mut loading)).await.err().as_deref(),
            Some("run 1")
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1, "never two at once");
        assert!(loading.start_queued(), "one more reading");
        go.send(()).unwrap();
        assert_eq!(
            finished(Some(&mut loading)).await.err().as_deref(),
            Some("run 2")
        );
        assert!(!loading.start_queued(), "and only one");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn nothing_is_finished_without_a_reading() {
        let (load, _, _go) = gated();
        let mut loading = Loading::new(load);
        let idle = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            finished(Some(&mut loading)),
        );
        assert!(idle.await.is_err());
        let none = tokio::time::timeout(std::time::Duration::from_millis(50), finished(None));
        assert!(none.await.is_err());
    }
}
