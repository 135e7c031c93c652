//! Observing the LAN from outside the daemons: the client's pings and ARP
//! probes of the VIP, tcpdump captures, and the kernel's BPF objects.
use std::{
    collections::BTreeSet,
    net::Ipv4Addr,
    process::Stdio,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use crate::{
    ProcessGuard,
    lan::{CLIENT_ADDR, Host, Lan},
    log::Log,
    wait_until,
};

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
/// Replies are timed by ping itself (`-D`), not by when the test reads them.
pub struct Pinger {
    pub log: Log,
    _process: ProcessGuard,
    pub started: Instant,
    /// `started` on the epoch clock of ping's timestamps.
    started_epoch: f64,
    pub interval: Duration,
}

impl Pinger {
    pub fn start(from: &Host, target: Ipv4Addr, interval: Duration) -> Self {
        let mut cmd = from.ns.command("ping");
        cmd.args([
            "-n",
            "-D",
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
            started_epoch: epoch_now(),
            interval,
        }
    }

    /// (sequence number, ping's timestamp) of a reply line:
    /// `[1795879779.959261] 64 bytes from 10.99.0.250: icmp_seq=3 ttl=64 …`.
    fn parse_reply(line: &str) -> Option<(u64, f64)> {
        if !line.contains("bytes from") {
            return None;
        }
        let at = line.strip_prefix('[')?.split(']').next()?.parse().ok()?;
        let seq = line
            .split("icmp_seq=")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        Some((seq, at))
    }

    /// (sequence number, when it arrived by ping's clock) of every reply so
    /// far.
    pub fn replies(&self) -> Vec<(u64, Instant)> {
        self.log
            .lines()
            .iter()
            .filter_map(|l| Self::parse_reply(l))
            .map(|(seq, at)| {
                let since_start = Duration::from_secs_f64((at - self.started_epoch).max(0.0));
                (seq, self.started + since_start)
            })
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

    /// Probes lost between the last reply before `from` and the first
    /// reply after `to`, by ping's own sequence numbers: exact at any
    /// interval (ping sends less often than asked at 10 ms and below, which
    /// [`Pinger::lost_between`]'s estimate assumes it does not). Returns
    /// (probes sent in that span, probes without a reply).
    pub fn lost_by_sequence(&self, from: Instant, to: Instant) -> (u64, u64) {
        let mut replies = self.replies();
        replies.sort_by_key(|(seq, _)| *seq);
        let first = replies
            .iter()
            .filter(|(_, at)| *at < from)
            .map(|(seq, _)| *seq)
            .max();
        let last = replies
            .iter()
            .filter(|(_, at)| *at > to)
            .map(|(seq, _)| *seq)
            .min();
        let (Some(first), Some(last)) = (first, last) else {
            return (0, 0);
        };
        let replied = replies
            .iter()
            .filter(|(seq, _)| (first..=last).contains(seq))
            .map(|(seq, _)| *seq)
            .collect::<BTreeSet<u64>>()
            .len() as u64;
        let sent = last - first + 1;
        (sent, sent - replied)
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
        Self::start_with(host, &[], filter)
    }

    /// [`Capture::start`] with further tcpdump options.
    pub fn start_with(host: &Host, options: &[&str], filter: &str) -> Self {
        let mut cmd = host.ns.command("tcpdump");
        cmd.args([
            "-i",
            &host.dev,
            "-n",
            "-l",
            "-e",
            "-tt",
            "--time-stamp-precision=micro",
            "--immediate-mode",
            "-s",
            "128",
        ])
        .args(options)
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

    /// Capture timestamps (epoch seconds) of the frames containing every
    /// one of `needles`.
    pub fn stamps(&self, needles: &[&str]) -> Vec<f64> {
        self.matching(needles)
            .iter()
            .filter_map(|(_, l)| l.split_whitespace().next()?.parse().ok())
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

/// Now, in seconds since the epoch: the clock of tcpdump's `-tt` timestamps.
pub fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// A CARP advert on the wire, stamped by the capture.
#[derive(Clone, Debug, PartialEq)]
pub struct Advert {
    /// Capture timestamp, seconds since the epoch.
    pub at: f64,
    pub src: Ipv4Addr,
    pub vhid: u8,
    pub advbase: u8,
    pub advskew: u8,
}

impl Advert {
    /// Parses a `tcpdump -tt -e -T carp` line:
    /// `1795879779.959261 00:00:5e:00:00:2a > 01:00:5e:00:00:12, ethertype
    /// IPv4 (0x0800), length 70: 10.99.0.1 > 224.0.0.18: CARPv2-advertise 36:
    /// vhid=42 advbase=1 advskew=0 authlen=7 counter=…`.
    pub fn parse(line: &str) -> Option<Self> {
        let at = line.split_whitespace().next()?.parse().ok()?;
        let parts: Vec<&str> = line.split(": ").collect();
        let carp = parts
            .iter()
            .position(|p| p.starts_with("CARPv2-advertise"))?;
        let src = parts
            .get(carp.checked_sub(1)?)?
            .split(" > ")
            .next()?
            .parse()
            .ok()?;
        let field = |key: &str| -> Option<u8> {
            parts.get(carp + 1)?.split_whitespace().find_map(|kv| {
                kv.strip_prefix(key)
                    .and_then(|v| v.strip_prefix('='))
                    .and_then(|v| v.parse().ok())
            })
        };
        Some(Self {
            at,
            src,
            vhid: field("vhid")?,
            advbase: field("advbase")?,
            advskew: field("advskew")?,
        })
    }

    /// BSD's farewell (advbase and advskew 255): the sender stops being
    /// master as it sends it.
    pub fn is_bow_out(&self) -> bool {
        self.advbase == 255 && self.advskew == 255
    }

    /// The advertised interval, advbase + advskew/256 seconds.
    pub fn interval(&self) -> f64 {
        f64::from(self.advbase) + f64::from(self.advskew) / 256.0
    }
}

/// Whether `adverts` (of one VHID, in capture order) show two masters, and
/// which: two sources whose advertising overlaps (one advertised between
/// two adverts of the other), or where one started less than an advert
/// interval after the other's last advert, while that one was still master.
/// A takeover after the master fell silent for master-down is neither, nor
/// is one right after the master's bow-out.
pub fn two_masters(adverts: &[Advert]) -> Option<String> {
    struct Span {
        src: Ipv4Addr,
        first: f64,
        last: f64,
        interval: f64,
        /// The last advert was a bow-out: the source left at `last`.
        bowed_out: bool,
    }
    let mut spans: Vec<Span> = Vec::new();
    for a in adverts {
        match spans.iter_mut().find(|s| s.src == a.src) {
            Some(s) => {
                s.first = s.first.min(a.at);
                if a.at >= s.last {
                    s.last = a.at;
                    s.bowed_out = a.is_bow_out();
                }
            }
            None => spans.push(Span {
                src: a.src,
                first: a.at,
                last: a.at,
                interval: a.interval(),
                bowed_out: a.is_bow_out(),
            }),
        }
    }
    for (i, x) in spans.iter().enumerate() {
        for y in &spans[i + 1..] {
            if x.first <= y.last && y.first <= x.last {
                return Some(format!(
                    "{} advertised from {:.3} to {:.3} and {} from {:.3} to {:.3}",
                    x.src, x.first, x.last, y.src, y.first, y.last
                ));
            }
            let (early, late) = if x.last < y.first { (x, y) } else { (y, x) };
            let gap = late.first - early.last;
            if gap < early.interval && !early.bowed_out {
                return Some(format!(
                    "{} started advertising at {:.3}, {gap:.3}s after the last advert of {}, within its interval of {:.3}s",
                    late.src, late.first, early.src, early.interval
                ));
            }
        }
    }
    None
}

/// See [`Adverts::settled`].
pub fn settled(adverts: &[Advert], from: f64, winner: Ipv4Addr) -> f64 {
    adverts
        .iter()
        .filter(|a| a.src != winner && a.at >= from)
        .map(|a| a.at)
        .fold(from, f64::max)
}

/// The adverts of one VHID as a client on the LAN sees them (tcpdump on the
/// client's interface, `-T carp`), with capture timestamps: the evidence
/// for "one master" and for takeover times, independent of the daemons'
/// logs and of when the test reads anything.
pub struct Adverts {
    capture: Capture,
}

impl Adverts {
    pub fn start(lan: &Lan, vhid: u8) -> Self {
        // Byte 21 of the IP packet is the VHID (no IP options in adverts);
        // the client's own frames (floods, VRRP) are not adverts of the pair.
        let filter = format!("ip proto 112 and ip[21] = {vhid} and not ip src {CLIENT_ADDR}");
        Self {
            // Inbound only: frames the client itself sends (replays in
            // scenario 16) are not adverts of the pair either.
            capture: Capture::start_with(&lan.client, &["-Q", "in", "-T", "carp"], &filter),
        }
    }

    /// Every advert captured so far.
    pub fn all(&self) -> Vec<Advert> {
        self.capture
            .log
            .lines()
            .iter()
            .filter_map(|l| Advert::parse(l))
            .collect()
    }

    /// Adverts captured in `[from, to]` (epoch seconds).
    pub fn between(&self, from: f64, to: f64) -> Vec<Advert> {
        self.all()
            .into_iter()
            .filter(|a| a.at >= from && a.at <= to)
            .collect()
    }

    /// The capture's text, for failure messages.
    pub fn text(&self) -> String {
        self.capture.log.text()
    }

    /// Waits up to `timeout` for an advert from `src` stamped at or after
    /// `since`; returns the first one's timestamp.
    pub fn wait_first_from(&self, src: Ipv4Addr, since: f64, timeout: Duration) -> Option<f64> {
        let mut found = None;
        wait_until(timeout, || {
            found = self
                .all()
                .into_iter()
                .find(|a| a.src == src && a.at >= since)
                .map(|a| a.at);
            found.is_some()
        });
        found
    }

    /// Timestamp of the last advert from `src` before `before`.
    pub fn last_from_before(&self, src: Ipv4Addr, before: f64) -> Option<f64> {
        self.all()
            .into_iter()
            .filter(|a| a.src == src && a.at < before)
            .map(|a| a.at)
            .reduce(f64::max)
    }

    /// When the wire settled on `winner` after `from`: the last advert of
    /// any other source at or after `from`, or `from` if there was none.
    pub fn settled(&self, from: f64, winner: Ipv4Addr) -> f64 {
        settled(&self.all(), from, winner)
    }

    /// A takeover as the wire shows it: waits up to `bound` after `since`
    /// for `new`'s first advert, and returns the time from `old`'s last
    /// advert before it (when the master fell silent) to it, and its
    /// timestamp.
    pub fn takeover(
        &self,
        old: Ipv4Addr,
        new: Ipv4Addr,
        since: f64,
        bound: Duration,
    ) -> (Duration, f64) {
        let first = self.wait_first_from(new, since, bound).unwrap_or_else(|| {
            panic!(
                "no advert from {new} within {bound:?} on the wire:\n{}",
                self.text()
            )
        });
        let last = self.last_from_before(old, first).unwrap_or_else(|| {
            panic!(
                "no advert from {old} before {new} took over:\n{}",
                self.text()
            )
        });
        (Duration::from_secs_f64(first - last), first)
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

/// Captures up to `count` whole frames matching `filter` on `host`'s
/// interface (`tcpdump -w`), waiting at most `timeout`; an attacker's
/// recording, for replays.
pub fn capture_frames(host: &Host, filter: &str, count: u32, timeout: Duration) -> Vec<Vec<u8>> {
    let dir = crate::carp::TempDir::new("cap");
    let file = dir.0.join("frames.pcap");
    let file_arg = file.display().to_string();
    let (count, timeout) = (count.to_string(), timeout.as_secs().max(1).to_string());
    let mut args = vec![
        timeout.as_str(),
        "tcpdump",
        "-i",
        &host.dev,
        "-n",
        "-c",
        &count,
        "-U",
        "-w",
        &file_arg,
    ];
    args.extend(filter.split_whitespace());
    host.exec("timeout", &args);
    crate::pcap::frames(&std::fs::read(&file).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::{Advert, settled, two_masters};
    use std::net::Ipv4Addr;

    const A: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

    fn advert(src: Ipv4Addr, at: f64) -> Advert {
        Advert {
            at,
            src,
            vhid: 42,
            advbase: 1,
            advskew: 0,
        }
    }

    #[test]
    fn parses_tcpdump_carp_lines() {
        let line = "1795879779.959261 00:00:5e:00:00:2a > 01:00:5e:00:00:12, ethertype IPv4 (0x0800), length 70: 10.99.0.1 > 224.0.0.18: CARPv2-advertise 36: vhid=42 advbase=1 advskew=100 authlen=7 counter=6028791539513017814";
        assert_eq!(
            Advert::parse(line),
            Some(Advert {
                at: 1_795_879_779.959_261,
                src: A,
                vhid: 42,
                advbase: 1,
                advskew: 100,
            })
        );
        assert_eq!(Advert::parse("listening on eth0, link-type EN10MB"), None);
    }

    #[test]
    fn one_master_or_a_takeover_after_master_down_is_not_two_masters() {
        let steady: Vec<Advert> = (0..5).map(|i| advert(A, f64::from(i))).collect();
        assert_eq!(two_masters(&steady), None);
        let mut takeover = steady.clone();
        takeover.extend((0..3).map(|i| advert(B, 7.1 + f64::from(i))));
        assert_eq!(two_masters(&takeover), None);
    }

    #[test]
    fn a_takeover_right_after_a_bow_out_is_not_two_masters() {
        let mut adverts: Vec<Advert> = (0..5).map(|i| advert(A, f64::from(i))).collect();
        let bow_out = Advert {
            advbase: 255,
            advskew: 255,
            ..advert(A, 4.5)
        };
        adverts.push(bow_out);
        adverts.extend((0..3).map(|i| advert(B, 4.502 + f64::from(i))));
        assert_eq!(two_masters(&adverts), None);
        // Without the bow-out the same timing is two masters.
        adverts.remove(5);
        assert!(two_masters(&adverts).is_some());
    }

    #[test]
    fn interleaved_or_overlapping_sources_are_two_masters() {
        let mut adverts: Vec<Advert> = (0..5).map(|i| advert(A, f64::from(i))).collect();
        // One stray advert of B between A's: B claimed the VHID for 0.1 s.
        adverts.insert(3, advert(B, 2.1));
        assert!(two_masters(&adverts).is_some());
    }

    #[test]
    fn a_source_starting_within_the_others_interval_is_two_masters() {
        let mut adverts: Vec<Advert> = (0..5).map(|i| advert(A, f64::from(i))).collect();
        adverts.extend((0..3).map(|i| advert(B, 4.3 + f64::from(i))));
        assert!(two_masters(&adverts).is_some());
    }

    #[test]
    fn settles_at_the_losers_last_advert_after_the_heal() {
        let mut adverts: Vec<Advert> = (0..6).map(|i| advert(A, f64::from(i))).collect();
        adverts.extend([advert(B, 0.5), advert(B, 2.5), advert(B, 3.5)]);
        assert_eq!(settled(&adverts, 2.0, A), 3.5);
        assert_eq!(settled(&adverts, 4.0, A), 4.0);
    }

    #[test]
    fn reads_replies_with_pings_own_timestamps() {
        let line = "[1795879779.959261] 64 bytes from 10.99.0.250: icmp_seq=3 ttl=64 time=0.051 ms";
        assert_eq!(
            super::Pinger::parse_reply(line),
            Some((3, 1_795_879_779.959_261))
        );
        assert_eq!(
            super::Pinger::parse_reply("[1795879779.9] no answer yet for icmp_seq=4"),
            None
        );
    }
}
