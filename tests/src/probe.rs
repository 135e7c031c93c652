//! Observing the LAN from outside the daemons: the client's pings and ARP
//! probes of the VIP, tcpdump captures, and the kernel's BPF objects.
use std::{
    collections::BTreeSet,
    net::Ipv4Addr,
    process::Stdio,
    time::{Duration, Instant},
};

use crate::{ProcessGuard, lan::Host, log::Log};

/// One ping of `target` from `from` (1 s deadline); true if it answered.
pub fn ping_once(from: &Host, target: Ipv4Addr) -> bool {
    from.exec("ping", &["-n", "-c", "1", "-W", "1", &target.to_string()])
        .status
        .success()
}

/// The MAC address answering ARP for `target`, asked from `from`.
pub fn arping_mac(from: &Host, target: Ipv4Addr) -> Option<String> {
    let out = from.exec(
        "arping",
        &["-c", "1", "-w", "2", "-i", &from.dev, &target.to_string()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // "60 bytes from 52:9e:…:01 (10.99.0.250): index=0 time=…"
    text.lines()
        .find(|l| l.contains("bytes from"))
        .and_then(|l| l.split_whitespace().nth(3))
        .map(str::to_lowercase)
}

/// A continuous ping of a target every `interval`, with the replies logged.
pub struct Pinger {
    pub log: Log,
    _process: ProcessGuard,
    pub started: Instant,
    pub interval: Duration,
}

impl Pinger {
    pub fn start(from: &Host, target: Ipv4Addr, interval: Duration) -> Self {
        let mut cmd = from.ns.command("ping");
        cmd.args([
            "-n",
            "-O",
            "-W",
            "1",
            "-i",
            &format!("{:.3}", interval.as_secs_f64()),
            &target.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut guard = ProcessGuard::spawn(cmd);
        let log = Log::default();
        log.follow(guard.child.stdout.take().expect("stdout"));
        log.follow(guard.child.stderr.take().expect("stderr"));
        Self {
            log,
            _process: guard,
            started: Instant::now(),
            interval,
        }
    }

    fn seq(line: &str) -> Option<u64> {
        line.split("icmp_seq=")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// (sequence number, arrival) of every reply so far.
    pub fn replies(&self) -> Vec<(u64, Instant)> {
        self.log
            .entries()
            .into_iter()
            .filter(|(_, l)| l.contains("bytes from"))
            .filter_map(|(t, l)| Self::seq(&l).map(|s| (s, t)))
            .collect()
    }

    /// Probes sent between two instants (by sequence number, estimated from
    /// the interval) that got no reply.
    pub fn lost_between(&self, from: Instant, to: Instant) -> (u64, u64) {
        let first = self.seq_at(from);
        let last = self.seq_at(to);
        let replied: BTreeSet<u64> = self.replies().into_iter().map(|(s, _)| s).collect();
        let sent = last.saturating_sub(first) + 1;
        let lost = (first..=last).filter(|s| !replied.contains(s)).count() as u64;
        (sent, lost)
    }

    fn seq_at(&self, t: Instant) -> u64 {
        let elapsed = t.saturating_duration_since(self.started).as_secs_f64();
        (elapsed / self.interval.as_secs_f64()) as u64 + 1
    }

    /// Whether a reply arrived after `t`.
    pub fn replied_since(&self, t: Instant) -> bool {
        self.replies().iter().any(|(_, at)| *at >= t)
    }
}

/// A tcpdump running in a namespace, printing one line per frame (`-e`,
/// epoch timestamps) into a log.
pub struct Capture {
    pub log: Log,
    _process: ProcessGuard,
}

impl Capture {
    /// Starts tcpdump on `host`'s interface with a pcap `filter`, and waits
    /// until it listens.
    pub fn start(host: &Host, filter: &str) -> Self {
        let mut cmd = host.ns.command("tcpdump");
        cmd.args([
            "-i",
            &host.dev,
            "-n",
            "-l",
            "-e",
            "-tt",
            "--immediate-mode",
            "-s",
            "128",
        ])
        .args(filter.split_whitespace())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut guard = ProcessGuard::spawn(cmd);
        let log = Log::default();
        log.follow(guard.child.stdout.take().expect("stdout"));
        log.follow(guard.child.stderr.take().expect("stderr"));
        assert!(
            log.wait_for("listening on", Duration::from_secs(10)),
            "tcpdump did not start: {}",
            log.text()
        );
        Self {
            log,
            _process: guard,
        }
    }

    /// Captured frame lines (not tcpdump's own messages).
    pub fn frames(&self) -> Vec<(Instant, String)> {
        self.log
            .entries()
            .into_iter()
            .filter(|(_, l)| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .collect()
    }

    /// Frames containing every one of `needles`, with their arrival times.
    pub fn matching(&self, needles: &[&str]) -> Vec<(Instant, String)> {
        self.frames()
            .into_iter()
            .filter(|(_, l)| needles.iter().all(|n| l.contains(n)))
            .collect()
    }
}

/// IDs of the BPF programs (`kind` = "prog", including those behind BPF
/// links) or maps ("map") that the process `pid` holds open, read from
/// `/proc/<pid>/fdinfo` (this bpftool build cannot show pids).
pub fn bpf_ids_held_by(kind: &str, pid: i32) -> BTreeSet<u32> {
    let key = format!("{kind}_id:");
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return BTreeSet::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|info| {
            info.lines()
                .filter_map(|l| l.strip_prefix(key.as_str()))
                .filter_map(|v| v.trim().parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// IDs of every loaded BPF program or map.
pub fn bpf_ids(kind: &str) -> BTreeSet<u32> {
    bpf_blocks(kind).into_iter().map(|(id, _)| id).collect()
}

fn bpf_blocks(kind: &str) -> Vec<(u32, String)> {
    let out = crate::sh("bpftool", &[kind, "show"]);
    let mut blocks: Vec<(u32, String)> = Vec::new();
    for line in out.lines() {
        let id = line
            .split(':')
            .next()
            .and_then(|s| s.trim().parse::<u32>().ok());
        match id {
            Some(id) if !line.starts_with(char::is_whitespace) => {
                blocks.push((id, line.to_owned()))
            }
            _ => {
                if let Some((_, b)) = blocks.last_mut() {
                    b.push('\n');
                    b.push_str(line);
                }
            }
        }
    }
    blocks
}

/// Which XDP attachment `ip -d link show` reports for the host's interface:
/// "xdp" (driver), "xdpgeneric" (skb), or None.
pub fn xdp_attachment(host: &Host) -> Option<&'static str> {
    host.ns.xdp_attachment(&host.dev)
}
