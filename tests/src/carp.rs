//! Starting xcarp or ucarp on a host of a [`Lan`](crate::lan::Lan), with
//! generated up/down scripts that move the VIP and leave a trace in a marker
//! file, and reading the CARP state from the daemon's log.
use std::{
    fmt, fs,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use crate::{
    ProcessGuard,
    lan::Host,
    log::Log,
    probe::{Adverts, epoch_now, two_masters},
    unique_name, wait_until, xcarp_bin,
};

/// Which CARP implementation runs on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Xcarp,
    Ucarp,
}

impl Impl {
    pub fn name(self) -> &'static str {
        match self {
            Self::Xcarp => "xcarp",
            Self::Ucarp => "ucarp",
        }
    }

    pub fn binary(self) -> PathBuf {
        match self {
            Self::Xcarp => xcarp_bin(),
            Self::Ucarp => PathBuf::from("/usr/sbin/ucarp"),
        }
    }
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The CARP state as last logged by a daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Master,
    Backup,
}

/// What the up-script does besides moving the VIP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpScript {
    /// Adds the VIP and returns.
    AddVip,
    /// Records its pid, then sleeps for ten minutes without adding the VIP.
    Hang,
}

/// Options common to ucarp and xcarp (ucarp's command line).
#[derive(Clone, Debug)]
pub struct CarpOpts {
    pub vhid: u8,
    pub pass: String,
    pub vip: Ipv4Addr,
    pub advbase: u32,
    pub advskew: u32,
    pub deadratio: Option<u32>,
    pub preempt: bool,
    pub neutral: bool,
    pub shutdown: bool,
    pub nomcast: bool,
    pub debug: bool,
    pub upscript: UpScript,
    /// Further arguments, e.g. xcarp's `--script-timeout 2`.
    pub extra: Vec<String>,
}

impl Default for CarpOpts {
    fn default() -> Self {
        Self {
            vhid: 42,
            pass: "love".into(),
            vip: crate::lan::VIP,
            advbase: 1,
            advskew: 0,
            deadratio: None,
            preempt: false,
            neutral: false,
            shutdown: false,
            nomcast: false,
            debug: false,
            upscript: UpScript::AddVip,
            extra: Vec::new(),
        }
    }
}

impl CarpOpts {
    /// Seconds after the last advert before a backup declares the master
    /// dead: advbase × deadratio + advskew/256.
    pub fn master_down(&self) -> Duration {
        let secs =
            f64::from(self.advbase * self.deadratio.unwrap_or(3)) + f64::from(self.advskew) / 256.0;
        Duration::from_secs_f64(secs)
    }

    /// The advert interval: advbase + advskew/256.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.advbase) + f64::from(self.advskew) / 256.0)
    }
}

/// A directory removed (with its contents) on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("xcarp-tests-{}", unique_name(tag)));
        fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Variants start daemons from parallel threads: see
/// [`write_executable`](crate::write_executable) for why scripts are not
/// written with `fs::write`.
pub(crate) fn write_script(path: &Path, body: &str) {
    crate::write_executable(path, &format!("#!/bin/sh\n{body}"));
}

/// The up-script of the tests: records `up <if> <vip>` in `marker`, adds
/// the address.
pub(crate) fn up_script(marker: &Path) -> String {
    format!(
        "echo \"up $*\" >> {}\nexec ip addr add \"$2\"/32 dev \"$1\"\n",
        marker.display()
    )
}

/// An up-script that records its pid in `pids` and sleeps ten minutes
/// without adding the address.
pub(crate) fn hanging_up_script(marker: &Path, pids: &Path) -> String {
    format!(
        "echo \"up $*\" >> {}\necho $$ >> {}\nexec sleep 600\n",
        marker.display(),
        pids.display()
    )
}

/// The down-script: records `down <if> <vip>`, removes the address.
pub(crate) fn down_script(marker: &Path) -> String {
    format!(
        "echo \"down $*\" >> {}\nip addr del \"$2\"/32 dev \"$1\" 2>/dev/null\nexit 0\n",
        marker.display()
    )
}

/// The pids a hanging script recorded in `path`.
pub(crate) fn recorded_pids(path: &Path) -> Vec<i32> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// SIGKILL to the scripts a test started (their pids recorded).
pub(crate) fn kill_pids(pids: &[i32]) {
    for pid in pids {
        #[allow(unsafe_code)]
        // SAFETY: kill(2) on a pid the test's own script recorded.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
        }
    }
}

/// A CARP daemon running in a host's namespace. Killed (with its scripts)
/// on drop; its log is printed if the test is failing.
pub struct Node {
    pub imp: Impl,
    /// The program started (`imp`'s binary unless given).
    pub binary: PathBuf,
    pub label: String,
    pub ns: String,
    pub dev: String,
    pub addr: Ipv4Addr,
    pub opts: CarpOpts,
    pub log: Log,
    process: Option<ProcessGuard>,
    /// Every log of earlier runs (after [`Node::restart`]).
    history: Vec<Log>,
    pub started: Instant,
    dir: TempDir,
}

impl Node {
    /// Starts `imp` on `host` with `opts` and scripts that add/remove the VIP.
    pub fn start(host: &Host, imp: Impl, opts: CarpOpts) -> Self {
        Self::start_binary(host, imp, imp.binary(), opts)
    }

    /// Like [`Node::start`], with an explicit path to the implementation's
    /// binary.
    pub fn start_binary(host: &Host, imp: Impl, binary: PathBuf, opts: CarpOpts) -> Self {
        let dir = TempDir::new("n");
        let mut node = Self {
            imp,
            binary,
            label: format!("{imp}@{}", host.addr),
            ns: host.ns.name.clone(),
            dev: host.dev.clone(),
            addr: host.addr,
            opts,
            log: Log::default(),
            process: None,
            history: Vec::new(),
            started: Instant::now(),
            dir,
        };
        node.write_scripts();
        node.spawn();
        node
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    /// The marker file the scripts append `up …`/`down …` lines to.
    pub fn marker_path(&self) -> PathBuf {
        self.path("marker")
    }

    fn write_scripts(&self) {
        let marker = self.marker_path();
        let up = match self.opts.upscript {
            UpScript::AddVip => up_script(&marker),
            UpScript::Hang => hanging_up_script(&marker, &self.path("script-pids")),
        };
        write_script(&self.path("up.sh"), &up);
        write_script(&self.path("down.sh"), &down_script(&marker));
    }

    /// The daemon's command line (after the binary).
    pub fn args(&self) -> Vec<String> {
        let o = &self.opts;
        let mut args: Vec<String> = vec![
            "-i".into(),
            self.dev.clone(),
            "-s".into(),
            self.addr.to_string(),
            "-v".into(),
            o.vhid.to_string(),
            "-p".into(),
            o.pass.clone(),
            "-a".into(),
            o.vip.to_string(),
            "-b".into(),
            o.advbase.to_string(),
            "-k".into(),
            o.advskew.to_string(),
            "-u".into(),
            self.path("up.sh").display().to_string(),
            "-d".into(),
            self.path("down.sh").display().to_string(),
        ];
        if let Some(r) = o.deadratio {
            args.extend(["-r".into(), r.to_string()]);
        }
        for (on, flag) in [
            (o.preempt, "-P"),
            (o.neutral, "-n"),
            (o.shutdown, "-z"),
            (o.nomcast, "-M"),
            (o.debug, "-D"),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        args.extend(o.extra.iter().cloned());
        args
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns]);
        if self.imp == Impl::Ucarp {
            // ucarp logs INFO lines (the SIGUSR1 status) through stdio on
            // stdout, fully buffered when it is a pipe: make it line buffered.
            cmd.args(["stdbuf", "-oL", "-eL"]);
        }
        cmd.arg(&self.binary)
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut guard = ProcessGuard::spawn(cmd);
        self.log
            .follow(guard.child.stdout.take().expect("stdout piped"));
        self.log
            .follow(guard.child.stderr.take().expect("stderr piped"));
        self.started = Instant::now();
        self.process = Some(guard);
    }

    /// Kills the daemon (SIGKILL) if it runs, then starts it again with a
    /// fresh log.
    pub fn restart(&mut self) {
        self.kill();
        self.history.push(std::mem::take(&mut self.log));
        self.spawn();
    }

    pub fn pid(&self) -> i32 {
        self.process.as_ref().expect("daemon not running").pid()
    }

    pub fn signal(&self, signal: i32) {
        self.process
            .as_ref()
            .expect("daemon not running")
            .signal(signal);
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.signal(libc::SIGKILL);
            p.wait_exit(Duration::from_secs(5));
        }
    }

    /// Waits for the daemon to exit and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = self
            .process
            .as_mut()
            .expect("daemon not running")
            .wait_exit(timeout);
        if status.is_some() {
            self.process = None;
        }
        status
    }

    /// Whether the daemon still runs.
    pub fn running(&mut self) -> bool {
        match self.process.as_mut() {
            Some(p) => matches!(p.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The state from the last `Switching to state:` line of the log.
    pub fn state(&self) -> Option<State> {
        self.log.lines().iter().rev().find_map(|l| {
            if l.contains("Switching to state: MASTER") {
                Some(State::Master)
            } else if l.contains("Switching to state: BACKUP") {
                Some(State::Backup)
            } else {
                None
            }
        })
    }

    /// How many state changes the daemon logged (this run).
    pub fn state_changes(&self) -> usize {
        self.log.count("Switching to state:")
    }

    /// Whether the VIP is configured on the host's interface.
    pub fn holds_vip(&self) -> bool {
        let out = crate::try_sh(
            "ip",
            &["-n", &self.ns, "-4", "-o", "addr", "show", "dev", &self.dev],
        );
        String::from_utf8_lossy(&out.stdout).contains(&format!(" {}/", self.opts.vip))
    }

    /// The marker file's lines (`up <if> <vip>` / `down <if> <vip>`).
    pub fn marker(&self) -> Vec<String> {
        fs::read_to_string(self.marker_path())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Pids the hanging up-script recorded.
    pub fn script_pids(&self) -> Vec<i32> {
        recorded_pids(&self.path("script-pids"))
    }

    /// Waits until the log's state is `state`.
    pub fn wait_state(&self, state: State, timeout: Duration) -> bool {
        wait_until(timeout, || self.state() == Some(state))
    }

    /// Log of this run and of earlier ones.
    pub fn full_log(&self) -> String {
        let mut all: Vec<String> = self.history.iter().map(Log::text).collect();
        all.push(self.log.text());
        all.join("\n--- restart ---\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        kill_pids(&self.script_pids());
        if std::thread::panicking() {
            eprintln!(
                "==== log of {} ({}) ====\n{}\n==== marker ====\n{}",
                self.label,
                self.args().join(" "),
                self.full_log(),
                self.marker().join("\n")
            );
        }
    }
}

/// Indices of the running nodes whose log says MASTER.
pub fn masters(nodes: &mut [&mut Node]) -> Vec<usize> {
    (0..nodes.len())
        .filter(|&i| nodes[i].running() && nodes[i].state() == Some(State::Master))
        .collect()
}

/// Waits until exactly one node is MASTER, by its log's last state line AND
/// by holding the VIP, with no other node holding it, on two consecutive
/// checks. Returns its index and when the condition was first seen.
pub fn wait_for_exactly_one_master(
    nodes: &mut [&mut Node],
    timeout: Duration,
) -> Option<(usize, Instant)> {
    let mut seen: Option<(usize, Instant)> = None;
    let mut result = None;
    wait_until(timeout, || {
        let by_log = masters(nodes);
        let by_vip: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].holds_vip()).collect();
        if by_log.len() == 1 && by_vip == by_log {
            match seen {
                Some((i, t)) if i == by_log[0] => {
                    result = Some((i, t));
                    return true;
                }
                _ => seen = Some((by_log[0], Instant::now())),
            }
        } else {
            seen = None;
        }
        false
    });
    result
}

/// Fails if the wire shows two masters during `window` (see
/// [`two_masters`]: judged from the adverts' capture timestamps), or no
/// advert at all over a window of two intervals or more. The nodes' logs
/// and VIPs, polled meanwhile, must agree.
pub fn assert_never_two_masters(nodes: &mut [&mut Node], wire: &Adverts, window: Duration) {
    let from = epoch_now();
    let deadline = Instant::now() + window;
    while Instant::now() < deadline {
        let by_log = masters(nodes);
        let by_vip: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].holds_vip()).collect();
        assert!(
            by_log.len() <= 1 && by_vip.len() <= 1,
            "two masters: by log {by_log:?}, VIP held by {by_vip:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let to = from + window.as_secs_f64();
    // tcpdump prints each frame as it is captured: wait for the last lines.
    std::thread::sleep(Duration::from_millis(300));
    let adverts = wire.between(from, to);
    if let Some(why) = two_masters(&adverts) {
        panic!("two masters on the wire: {why}\n{}", wire.text());
    }
    let interval = nodes
        .iter()
        .map(|n| n.opts.interval())
        .max()
        .unwrap_or_default();
    assert!(
        !adverts.is_empty() || window < 2 * interval,
        "no advert on the wire in {window:?}: no master at all\n{}",
        wire.text()
    );
}
