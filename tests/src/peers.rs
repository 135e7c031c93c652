//! Emulated CARP peers: an OpenBSD or FreeBSD kernel carp, or a ucarp,
//! running inside a host of a [`Lan`](crate::lan::Lan), for the
//! peers that cannot run here (docs/testing.md, "Peer emulators").
//!
//! Each [`Peer`] is a thread of the test process that entered the host's
//! namespace and speaks CARP through an AF_PACKET socket: the wire format
//! and the HMAC of docs/protocol.md §1–2 (every address of the VHID, in
//! ascending order), and the election and counters of each kind
//! ([`machine`]). Like a real node it adds the VHID's addresses to its
//! interface when it becomes MASTER (with a gratuitous ARP, from the
//! interface's own MAC) and removes them when it leaves MASTER, so the VIP
//! is judged as for xcarp and ucarp nodes.
//!
//! What is emulated of each kind on the wire: the advert source MAC
//! (`00:00:5e:00:01:<vhid>` for the BSDs, `00:00:5e:00:00:<vhid>` for
//! ucarp), the demote byte (OpenBSD's count, 0 otherwise), the IPv4 TOS,
//! the counters. Not emulated: the BSDs answering ARP for the VIP with the
//! virtual MAC (the host's kernel answers with its own), IPv6, advbase 0.
//!
//! Controls: [`Peer::kill`] stops it dead (no frame after it) and removes
//! the addresses, as if the host died with its link: clients then find the
//! new master at once, as in the scenarios that take a killed node's link
//! down. [`Peer::leave`] leaves as the kind does on shutdown (OpenBSD: a
//! bow-out advert first). [`Peer::set_demote`] changes the demotion.
pub mod machine;
mod socket;
pub mod wire;

use std::{
    io::Read as _,
    net::Ipv4Addr,
    sync::{
        Arc, Mutex,
        mpsc::{self, Receiver, Sender, TryRecvError},
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

pub use machine::{Action, Counter, Kind, Machine, PeerConfig, State, Stats};
use socket::PacketSocket;
pub use wire::Header;

use crate::{
    enter_netns,
    lan::Host,
    probe::{Advert, Adverts, epoch_now},
    try_sh, wait_until,
};

/// The longest the peer's loop sleeps before looking at its controls.
const POLL: Duration = Duration::from_millis(10);

/// The source MAC of a kind's adverts (docs/protocol.md §1, §8).
#[must_use]
pub fn advert_mac(kind: Kind, vhid: u8) -> [u8; 6] {
    match kind {
        Kind::OpenBsd | Kind::FreeBsd => [0, 0, 0x5e, 0, 1, vhid],
        Kind::Ucarp => [0, 0, 0x5e, 0, 0, vhid],
    }
}

/// IPv4 TOS of a kind's adverts: low delay, or FreeBSD's DSCP 56.
fn tos(kind: Kind) -> u8 {
    match kind {
        Kind::FreeBsd => 56 << 2,
        Kind::OpenBsd | Kind::Ucarp => 0x10,
    }
}

/// A state change, on both clocks.
#[derive(Clone, Copy, Debug)]
pub struct Transition {
    pub at: Instant,
    /// `at` in epoch seconds, the clock of the captures.
    pub epoch: f64,
    pub to: State,
}

/// What the peer's thread publishes.
#[derive(Debug)]
struct Shared {
    state: State,
    transitions: Vec<Transition>,
    stats: Stats,
    /// Why the thread stopped on its own, or the last send error.
    error: Option<String>,
}

enum Control {
    Kill,
    Leave,
    SetDemote(u8),
}

/// An emulated CARP peer on a host; killed on drop.
pub struct Peer {
    pub label: String,
    pub cfg: PeerConfig,
    ns: String,
    dev: String,
    shared: Arc<Mutex<Shared>>,
    control: Sender<Control>,
    thread: Option<JoinHandle<()>>,
}

impl Peer {
    /// Starts a peer of `cfg` on `host` (INIT → BACKUP at once).
    pub fn start(host: &Host, cfg: PeerConfig) -> Self {
        let shared = Arc::new(Mutex::new(Shared {
            state: State::Init,
            transitions: Vec::new(),
            stats: Stats::default(),
            error: None,
        }));
        let (control, controls) = mpsc::channel();
        let (ready_tx, ready) = mpsc::sync_channel(1);
        let io = Io {
            ns: host.ns.name.clone(),
            dev: host.dev.clone(),
            nic_mac: parse_mac(&host.mac()),
            cfg: cfg.clone(),
            shared: Arc::clone(&shared),
        };
        let label = format!("{:?}@{}", cfg.kind, host.addr);
        let thread = thread::Builder::new()
            .name(label.clone())
            .spawn(move || io.run(&controls, &ready_tx))
            .expect("spawn the peer's thread");
        match ready.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{label}: {e}"),
            Err(e) => panic!("{label} did not start: {e}"),
        }
        Self {
            label,
            cfg,
            ns: host.ns.name.clone(),
            dev: host.dev.clone(),
            shared,
            control,
            thread: Some(thread),
        }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[must_use]
    pub fn state(&self) -> State {
        self.shared().state
    }

    #[must_use]
    pub fn transitions(&self) -> Vec<Transition> {
        self.shared().transitions.clone()
    }

    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared().stats
    }

    pub fn wait_state(&self, state: State, timeout: Duration) -> bool {
        wait_until(timeout, || self.state() == state)
    }

    /// The first change to `state` at or after `since`.
    #[must_use]
    pub fn became(&self, state: State, since: Instant) -> Option<Transition> {
        self.transitions()
            .into_iter()
            .find(|t| t.to == state && t.at >= since)
    }

    /// Which of the VHID's addresses the host's interface holds, in
    /// ascending order.
    #[must_use]
    pub fn held(&self) -> Vec<Ipv4Addr> {
        let out = try_sh(
            "ip",
            &["-n", &self.ns, "-4", "-o", "addr", "show", "dev", &self.dev],
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut held: Vec<Ipv4Addr> = self
            .cfg
            .addresses
            .iter()
            .copied()
            .filter(|a| text.contains(&format!(" {a}/")))
            .collect();
        held.sort_unstable();
        held
    }

    /// Changes the demotion from the next advert or election on.
    pub fn set_demote(&self, demote: u8) {
        let _ = self.control.send(Control::SetDemote(demote));
    }

    /// Stops dead: no frame after this returns; the addresses are removed.
    pub fn kill(&mut self) {
        self.finish(Control::Kill);
    }

    /// Leaves as the kind does when its interface goes down: an OpenBSD
    /// MASTER sends its bow-out advert; then it stops as [`Peer::kill`].
    pub fn leave(&mut self) {
        self.finish(Control::Leave);
    }

    fn finish(&mut self, how: Control) {
        let _ = self.control.send(how);
        if let Some(t) = self.thread.take()
            && t.join().is_err()
            && !thread::panicking()
        {
            panic!("{}: its thread panicked", self.label);
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.finish(Control::Kill);
        if thread::panicking() {
            let s = self.shared();
            eprintln!(
                "==== {} ({:?}) ====\nstate {:?}, {:?}, error {:?}\ntransitions {:?}",
                self.label, self.cfg, s.state, s.stats, s.error, s.transitions
            );
        }
    }
}

fn parse_mac(text: &str) -> [u8; 6] {
    let bytes: Vec<u8> = text
        .split(':')
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    bytes
        .try_into()
        .unwrap_or_else(|_| panic!("not a MAC address: {text}"))
}

/// Eight random bytes from the kernel.
fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("read /dev/urandom");
    u64::from_ne_bytes(b)
}

/// The peer's thread: the machine, its socket and its host.
struct Io {
    ns: String,
    dev: String,
    nic_mac: [u8; 6],
    cfg: PeerConfig,
    shared: Arc<Mutex<Shared>>,
}

impl Io {
    fn run(self, controls: &Receiver<Control>, ready: &mpsc::SyncSender<Result<(), String>>) {
        enter_netns(&self.ns);
        let sock = match PacketSocket::open(&self.dev, wire::GROUP_MAC) {
            Ok(s) => s,
            Err(e) => {
                let _ = ready.send(Err(format!("packet socket on {}: {e}", self.dev)));
                return;
            }
        };
        let mut ip_id = random_seed() as u16;
        let mut m = Machine::new(self.cfg.clone(), random_seed());
        let t0 = Instant::now();
        let actions = m.start(t0.elapsed());
        self.publish(&m);
        self.perform(&sock, &mut ip_id, actions);
        let _ = ready.send(Ok(()));
        let mut buf = [0u8; 2048];
        loop {
            loop {
                match controls.try_recv() {
                    Ok(Control::SetDemote(d)) => m.set_demote(d),
                    Ok(Control::Leave) => {
                        let actions = m.leave();
                        self.publish(&m);
                        self.perform(&sock, &mut ip_id, actions);
                        return self.stopped(&mut m);
                    }
                    Ok(Control::Kill) | Err(TryRecvError::Disconnected) => {
                        return self.stopped(&mut m);
                    }
                    Err(TryRecvError::Empty) => break,
                }
            }
            let actions = m.tick(t0.elapsed());
            self.publish(&m);
            self.perform(&sock, &mut ip_id, actions);
            let now = t0.elapsed();
            let wait = m
                .next_deadline()
                .map_or(POLL, |d| d.saturating_sub(now).min(POLL));
            match sock.recv(&mut buf, wait) {
                Ok(Some(n)) => {
                    // Its own frames never come back through the socket;
                    // another host claiming its address is not a peer.
                    let Some((src, h)) = wire::parse_frame(&buf[..n]) else {
                        continue;
                    };
                    if src == self.cfg.src {
                        continue;
                    }
                    let actions = m.receive(t0.elapsed(), src, &h);
                    self.publish(&m);
                    self.perform(&sock, &mut ip_id, actions);
                }
                Ok(None) => {}
                Err(e) => {
                    self.lock().error = Some(format!("receive: {e}"));
                    return self.stopped(&mut m);
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// State changes are stamped before the actions run (`ip` takes a few
    /// milliseconds).
    fn publish(&self, m: &Machine) {
        let mut s = self.lock();
        s.stats = m.stats;
        if s.state != m.state() {
            s.state = m.state();
            s.transitions.push(Transition {
                at: Instant::now(),
                epoch: epoch_now(),
                to: m.state(),
            });
        }
    }

    fn stopped(&self, m: &mut Machine) {
        m.stop();
        self.publish(m);
        self.set_addresses(false);
    }

    fn perform(&self, sock: &PacketSocket, ip_id: &mut u16, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send(h) => {
                    *ip_id = ip_id.wrapping_add(1);
                    let frame = wire::advert_frame(
                        advert_mac(self.cfg.kind, self.cfg.vhid),
                        self.cfg.src,
                        tos(self.cfg.kind),
                        *ip_id,
                        &h,
                    );
                    if let Err(e) = sock.send(&frame) {
                        self.lock().error = Some(format!("send: {e}"));
                    }
                }
                Action::BecomeMaster => self.set_addresses(true),
                Action::BecomeBackup => self.set_addresses(false),
                Action::Garp => {
                    for a in &self.cfg.addresses {
                        let _ = sock.send(&wire::garp_frame(self.nic_mac, *a));
                    }
                }
            }
        }
    }

    fn set_addresses(&self, on: bool) {
        for a in &self.cfg.addresses {
            let cidr = format!("{a}/32");
            let verb = if on { "add" } else { "del" };
            // Adding a held address or removing a missing one fails
            // harmlessly.
            try_sh(
                "ip",
                &["-n", &self.ns, "addr", verb, &cidr, "dev", &self.dev],
            );
        }
    }
}

/// An advert as the client's capture shows it, with what
/// [`Advert`] leaves out: the counter and the source MAC.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenAdvert {
    pub advert: Advert,
    pub counter: u64,
    pub src_mac: String,
}

impl SeenAdvert {
    /// Reads a `tcpdump -e -tt -T carp` line (see [`Advert::parse`]).
    #[must_use]
    pub fn parse(line: &str) -> Option<Self> {
        let advert = Advert::parse(line)?;
        let counter = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("counter="))?
            .parse()
            .ok()?;
        let src_mac = line.split_whitespace().nth(1)?.to_owned();
        Some(Self {
            advert,
            counter,
            src_mac,
        })
    }
}

/// Every advert `wire` captured, with counters and source MACs.
#[must_use]
pub fn seen(wire: &Adverts) -> Vec<SeenAdvert> {
    wire.text().lines().filter_map(SeenAdvert::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counters_and_source_macs_from_the_capture() {
        let line = "1795879779.959261 00:00:5e:00:01:2a > 01:00:5e:00:00:12, ethertype IPv4 (0x0800), length 70: 10.99.0.2 > 224.0.0.18: CARPv2-advertise 36: vhid=42 advbase=1 advskew=0 authlen=7 counter=6028791539513017814";
        let seen = SeenAdvert::parse(line).expect("an advert");
        assert_eq!(seen.counter, 6_028_791_539_513_017_814);
        assert_eq!(seen.src_mac, "00:00:5e:00:01:2a");
        assert_eq!(seen.advert.src, Ipv4Addr::new(10, 99, 0, 2));
        assert_eq!(SeenAdvert::parse("listening on eth0"), None);
    }

    #[test]
    fn kinds_use_their_source_macs() {
        assert_eq!(advert_mac(Kind::OpenBsd, 42), [0, 0, 0x5e, 0, 1, 42]);
        assert_eq!(advert_mac(Kind::FreeBsd, 1), [0, 0, 0x5e, 0, 1, 1]);
        assert_eq!(advert_mac(Kind::Ucarp, 42), [0, 0, 0x5e, 0, 0, 42]);
        assert_eq!(parse_mac("02:00:0a:ff:00:09"), [2, 0, 10, 255, 0, 9]);
    }
}
