//! `cargo xtask demo`: a throwaway lab in network namespaces (a bridge, two
//! CARP nodes, a client), an election, the master killed, and the takeover
//! as the client sees it. Everything the lab creates lives behind guards of
//! the test harness, so it is removed on success, on error, on panic and on
//! Ctrl-C.
use std::{
    net::Ipv4Addr,
    path::PathBuf,
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure};
use xcarp_tests::{
    carp::{CarpOpts, Impl, Node, State},
    lan::{Lan, VIP},
    probe::{Pinger, arping_mac},
};

use crate::{bootstrap, build};

/// Set by the SIGINT handler; the demo polls it and unwinds through its guards.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn install_sigint_handler() {
    #[allow(unsafe_code)]
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
}

/// Sleeps `d` in small steps; fails as soon as Ctrl-C was pressed.
fn pause(d: Duration) -> anyhow::Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if INTERRUPTED.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Polls `check` every 50 ms until it holds, `timeout` passes, or Ctrl-C.
fn wait(timeout: Duration, mut check: impl FnMut() -> bool) -> anyhow::Result<bool> {
    let end = Instant::now() + timeout;
    loop {
        if check() {
            return Ok(true);
        }
        if Instant::now() >= end {
            return Ok(false);
        }
        pause(Duration::from_millis(50))?;
    }
}

/// Which daemon runs on the nodes.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum DemoImpl {
    Xcarp,
    /// The real ucarp, for comparison.
    Ucarp,
}

/// Runs the demo with `with`; `prebuilt` skips the build and uses that xcarp.
pub fn run(with: DemoImpl, prebuilt: Option<PathBuf>) -> anyhow::Result<()> {
    ensure!(
        bootstrap::is_root(),
        "the demo creates network namespaces and attaches XDP programs: run it as root"
    );
    install_sigint_handler();
    // One line per set-up step; their output goes to the command's log.
    let (imp, binary) = match with {
        DemoImpl::Xcarp => {
            let binary = match prebuilt {
                Some(path) => {
                    bootstrap::test_packages()?;
                    path
                }
                None => {
                    bootstrap::ebpf_toolchain()?;
                    bootstrap::test_packages()?;
                    build::build_release()?.binary
                }
            };
            (Impl::Xcarp, binary)
        }
        DemoImpl::Ucarp => {
            bootstrap::test_packages()?;
            (Impl::Ucarp, PathBuf::from("/usr/sbin/ucarp"))
        }
    };
    let result = lab(imp, binary);
    step("Removing the lab (namespaces, links, processes)");
    if result.is_err() && INTERRUPTED.load(Ordering::SeqCst) {
        println!("   interrupted: everything the lab created is gone");
        // The lab is already torn down (its guards dropped with `lab`):
        // exit as a shell expects after Ctrl-C, without an error report.
        std::process::exit(130);
    }
    result
}

fn step(text: &str) {
    println!("==> {text}");
}

fn lab(imp: Impl, binary: PathBuf) -> anyhow::Result<()> {
    let addrs = [Ipv4Addr::new(10, 99, 0, 1), Ipv4Addr::new(10, 99, 0, 2)];
    step("Creating the lab: a bridge in its own namespace, two nodes and a client");
    let lan = Lan::new(&addrs);
    let names = ["node1", "node2"];
    for (name, host) in names.iter().zip(&lan.hosts) {
        println!("   {name:<7} {:<12} namespace {}", host.addr, host.ns.name);
    }
    println!(
        "   {:<7} {:<12} namespace {}",
        "client", lan.client.addr, lan.client.ns.name
    );
    println!(
        "   {:<7} {:<12} bridge namespace {}",
        "bridge", "", lan.bridge.name
    );

    let opts = CarpOpts::default();
    step(&format!(
        "Starting {imp} on both nodes: vhid {}, VIP {VIP}, advbase {} s (master down after {:.0} s); up/down scripts add/remove the VIP",
        opts.vhid,
        opts.advbase,
        opts.master_down().as_secs_f64()
    ));
    let t_start = Instant::now();
    let mut nodes: Vec<Node> = lan
        .hosts
        .iter()
        .map(|h| Node::start_binary(h, imp, binary.clone(), opts.clone()))
        .collect();
    let elected = wait(Duration::from_secs(20), || {
        let m: Vec<usize> = (0..2)
            .filter(|&i| nodes[i].state() == Some(State::Master) && nodes[i].holds_vip())
            .collect();
        m.len() == 1 && (0..2).filter(|&i| nodes[i].holds_vip()).count() == 1
    })?;
    if !elected {
        for n in &nodes {
            println!("--- {} log ---\n{}", n.label, n.full_log());
        }
        bail!("no single master after 20 s (logs above)");
    }
    let m = (0..2)
        .find(|&i| nodes[i].state() == Some(State::Master))
        .expect("elected");
    let s = 1 - m;
    println!(
        "   {} ({}) is MASTER after {:.1} s and holds {VIP}; {} ({}) is BACKUP",
        names[m],
        addrs[m],
        t_start.elapsed().as_secs_f64(),
        names[s],
        addrs[s]
    );
    let old_mac = lan.hosts[m].mac();
    if let Some(mac) = arping_mac(&lan.client, VIP) {
        println!(
            "   the client resolves {VIP} to {mac} ({})",
            if mac == old_mac { names[m] } else { "?" }
        );
    }

    let interval = Duration::from_millis(200);
    step("The client pings the VIP every 200 ms (one mark per probe: ! answered, . lost)");
    let pinger = Pinger::start(&lan.client, VIP, interval);
    pause(Duration::from_millis(2200))?;
    let mut shown = 0u64;
    let mut notes: Vec<(u64, String)> = Vec::new();
    show_probes(&pinger, &mut shown, &notes, false);

    step(&format!(
        "Killing the master's {imp} (SIGKILL) and unplugging {} from the bridge",
        names[m]
    ));
    let t_kill = Instant::now();
    nodes[m].kill();
    lan.carrier_off(m);
    notes.push((probe_at(&pinger, t_kill), format!("{} killed", names[m])));
    let mut took = None;
    let mut back = None;
    while t_kill.elapsed() < Duration::from_secs(15) {
        pause(Duration::from_millis(1000))?;
        if took.is_none() {
            took = nodes[s]
                .log
                .find_since("Switching to state: MASTER", t_kill)
                .map(|t| t - t_kill);
            if let Some(took) = took {
                notes.push((
                    probe_at(&pinger, t_kill + took),
                    format!("{} MASTER", names[s]),
                ));
            }
        }
        show_probes(&pinger, &mut shown, &notes, false);
        if let Some(took) = took {
            back = back.or_else(|| {
                pinger
                    .replies()
                    .into_iter()
                    .map(|(_, t)| t)
                    .find(|t| *t >= t_kill + took)
                    .map(|t| t - t_kill)
            });
            if back.is_some_and(|b| t_kill.elapsed() > b + Duration::from_secs(2)) {
                break;
            }
        }
    }
    pause(Duration::from_millis(1200))?;
    show_probes(&pinger, &mut shown, &notes, true);

    let Some(took) = took else {
        bail!("{} did not take over within 15 s", names[s])
    };
    step("Result");
    println!(
        "   takeover: {} became MASTER {:.2} s after the kill (master-down: {:.0} s after the last advert)",
        names[s],
        took.as_secs_f64(),
        opts.master_down().as_secs_f64()
    );
    match back {
        Some(back) => {
            let (sent, lost) = pinger.lost_between(t_kill, t_kill + back);
            println!(
                "   client:   first answer from the new master {:.2} s after the kill; {lost} of {sent} probes lost",
                back.as_secs_f64()
            );
        }
        None => println!("   client:   no answer from the new master yet"),
    }
    if let Some(mac) = arping_mac(&lan.client, VIP) {
        let owner = if mac == lan.hosts[s].mac() {
            names[s]
        } else {
            "someone else!"
        };
        println!("   the VIP {VIP} now answers with {mac} ({owner})");
    }
    drop(pinger);
    drop(nodes);
    Ok(())
}

/// Prints the probes decided since the last call (answered or timed out),
/// five to a row (one second), with `notes` (probe number, text) at the end
/// of the row that holds them. With `flush`, also prints a partial last row.
fn show_probes(pinger: &Pinger, shown: &mut u64, notes: &[(u64, String)], flush: bool) {
    let replied: std::collections::BTreeSet<u64> =
        pinger.replies().into_iter().map(|(s, _)| s).collect();
    // A probe is decided once its 1 s deadline has passed.
    let elapsed = pinger.started.elapsed().as_secs_f64() - 1.0;
    let decided = if elapsed > 0.0 {
        (elapsed / pinger.interval.as_secs_f64()) as u64
    } else {
        0
    };
    let last = if flush {
        decided
    } else {
        decided - decided % 5
    };
    let mut row = String::new();
    let mut row_notes = Vec::new();
    for seq in *shown + 1..=last {
        row.push(if replied.contains(&seq) { '!' } else { '.' });
        row_notes.extend(
            notes
                .iter()
                .filter(|(n, _)| *n == seq)
                .map(|(_, t)| t.as_str()),
        );
        if seq % 5 == 0 || seq == last {
            let t = (seq as f64) * pinger.interval.as_secs_f64();
            let note = if row_notes.is_empty() {
                String::new()
            } else {
                format!("  <- {}", row_notes.join(", "))
            };
            println!("   t={t:>5.1}s  {row:<5}{note}");
            row.clear();
            row_notes.clear();
        }
    }
    *shown = last.max(*shown);
}

/// The probe number sent at `t`.
fn probe_at(pinger: &Pinger, t: Instant) -> u64 {
    (t.saturating_duration_since(pinger.started).as_secs_f64() / pinger.interval.as_secs_f64())
        as u64
        + 1
}
