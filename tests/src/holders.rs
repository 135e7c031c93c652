//! Who holds a virtual address, sampled often: a thread inside each host's
//! namespace reads the host's addresses (getifaddrs, no process per
//! sample) every few milliseconds, so that a moment without the address,
//! or with it on two hosts, shows even when it lasts a fraction of a
//! second.
use std::{
    net::Ipv4Addr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::{self, JoinHandle},
    time::Duration,
};

use crate::{enter_netns, lan::Host, probe::epoch_now};

/// Samples of whether each host holds one address, until stopped.
pub struct HolderSamples {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Vec<(f64, bool)>>>,
}

impl HolderSamples {
    /// Starts one sampling thread per host, each reading every `period`.
    #[must_use]
    pub fn start(hosts: &[Host], addr: Ipv4Addr, period: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = hosts
            .iter()
            .map(|host| {
                let ns = host.ns.name.clone();
                let stop = Arc::clone(&stop);
                thread::spawn(move || {
                    enter_netns(&ns);
                    let mut samples = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        samples.push((epoch_now(), holds(addr)));
                        thread::sleep(period);
                    }
                    samples
                })
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops sampling; returns each host's samples (capture time in epoch
    /// seconds, whether it held the address), in host order.
    #[must_use]
    pub fn stop(self) -> Vec<Vec<(f64, bool)>> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|t| t.join().expect("a sampling thread panicked"))
            .collect()
    }
}

/// Whether an interface of the calling thread's namespace has `addr`.
fn holds(addr: Ipv4Addr) -> bool {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs(3) fills `list` with a list we free below; every
    // pointer read comes from that list and is checked for null first.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getifaddrs(&raw mut list) != 0 {
            return false;
        }
        let mut found = false;
        let mut entry = list;
        while !entry.is_null() {
            let sockaddr = (*entry).ifa_addr;
            if !sockaddr.is_null() && i32::from((*sockaddr).sa_family) == libc::AF_INET {
                let sin = sockaddr.cast::<libc::sockaddr_in>();
                if Ipv4Addr::from(u32::from_be((*sin).sin_addr.s_addr)) == addr {
                    found = true;
                }
            }
            entry = (*entry).ifa_next;
        }
        libc::freeifaddrs(list);
        found
    }
}
