//! The tracked interfaces' watcher: one task for every instance, reading
//! each tracked interface's IFF_RUNNING when netlink reports a link change
//! and every [`LINK_RECHECK`] whatever happens to notifications, as the
//! link watch of the interfaces the daemon runs on does (daemon/net.rs).
//! A tracked interface may be one the daemon does not run CARP on, and may
//! be missing (that counts as down) and come back.
use futures::StreamExt as _;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use tokio::sync::{mpsc, watch};

use super::Report;
use crate::daemon::net::{LINK_RECHECK, LinkMessages, running_by_name, subscribe_links};

/// The watcher's handle: which interfaces to watch. Dropping it stops the
/// task.
pub(super) struct Watcher {
    names: watch::Sender<Vec<(String, bool)>>,
    task: tokio::task::AbortHandle,
}

impl Watcher {
    /// Watches `names`, each with the state the caller knows, and reports
    /// every change from it.
    pub(super) fn start(
        names: Vec<(String, bool)>,
        reports: mpsc::UnboundedSender<Report>,
    ) -> Self {
        let (tx, rx) = watch::channel(names);
        let task = tokio::spawn(watch_links(rx, reports)).abort_handle();
        Self { names: tx, task }
    }

    /// Watches `names` from now on, instead of the previous list.
    pub(super) fn track(&self, names: Vec<(String, bool)>) {
        self.names.send_replace(names);
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn watch_links(
    mut names: watch::Receiver<Vec<(String, bool)>>,
    reports: mpsc::UnboundedSender<Report>,
) {
    let mut known: Vec<(String, bool)> = names.borrow_and_update().clone();
    let mut messages: Option<LinkMessages> = match subscribe_links() {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(
                "tracked interfaces: no link notifications ({e}): reading them every {}s",
                LINK_RECHECK.as_secs()
            );
            None
        }
    };
    let mut recheck = tokio::time::interval(LINK_RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = next_message(messages.as_mut()) => match message {
                Some(NetlinkPayload::InnerMessage(
                    RouteNetlinkMessage::NewLink(_) | RouteNetlinkMessage::DelLink(_),
                ) | NetlinkPayload::Overrun(_)) => {}
                Some(_) => continue,
                // Closed: the periodic reading goes on; reopen after a pause.
                None => {
                    tokio::time::sleep(LINK_RECHECK).await;
                    messages = subscribe_links().ok();
                }
            },
            _ = recheck.tick() => {}
            changed = names.changed() => {
                if changed.is_err() {
                    return;
                }
                // The daemon read the new ones itself; keep what we knew of
                // the others.
                let fresh = names.borrow_and_update().clone();
                known = fresh
                    .into_iter()
                    .map(|(name, up)| {
                        let ours = known.iter().find(|(n, _)| *n == name).map(|(_, u)| *u);
                        (name, ours.unwrap_or(up))
                    })
                    .collect();
            }
        }
        for (name, up) in &mut known {
            let now = running_by_name(name);
            if now != *up {
                *up = now;
                let report = Report::Link {
                    name: name.clone(),
                    up: now,
                };
                if reports.send(report).is_err() {
                    return;
                }
            }
        }
    }
}

/// The next notification's payload; never, without a socket (the periodic
/// reading does the work then). None: the socket closed.
async fn next_message(
    messages: Option<&mut LinkMessages>,
) -> Option<NetlinkPayload<RouteNetlinkMessage>> {
    match messages {
        Some(messages) => messages.next().await.map(|(m, _)| m.payload),
        None => std::future::pending().await,
    }
}
