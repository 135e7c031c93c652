//! Harness for xcarp's end-to-end tests: network namespaces, links and
//! processes behind guards that remove them on drop, even when a test panics.
//!
//! Every name starts with a per-process prefix so that parallel tests and
//! parallel runs never collide, and tests only ever use the addresses of
//! their own namespaces.
pub mod carp;
pub mod frames;
pub mod holders;
pub mod lan;
pub mod log;
pub mod multi;
pub mod pcap;
pub mod peers;
pub mod probe;

pub mod cleanup;

use std::{
    io::Write as _,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    thread,
    time::{Duration, Instant},
};

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A short name unique to this process and call: `xc<pid%10000>_<n><tag>`.
/// Interface names must stay under 16 bytes.
pub fn unique_name(tag: &str) -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("xc{}{}{}", std::process::id() % 10000, tag, n)
}

/// Path of the xcarp binary under test (set by `cargo xtask test`). Tests
/// that run it check [`needs_xcarp`] or [`needs_xcarp_bin`] first.
pub fn xcarp_bin() -> PathBuf {
    std::env::var_os(XCARP_BIN)
        .map(PathBuf::from)
        .expect("XCARP_BIN is not set: run the suite with `cargo xtask test`")
}

/// Environment variable naming the xcarp binary under test, built with its
/// XDP program (`cargo xtask test` sets it).
pub const XCARP_BIN: &str = "XCARP_BIN";

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY-free: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    euid == 0
}

/// The calling test needs root (namespaces, XDP). Returns true if it has
/// it; otherwise the test cannot run here: see [`unmet`].
#[must_use]
pub fn needs_root() -> bool {
    is_root() || unmet("needs root (namespaces, XDP)")
}

/// The calling test runs the xcarp binary under test ([`XCARP_BIN`]),
/// without needing root. Returns true if it is set; see [`unmet`].
#[must_use]
pub fn needs_xcarp_bin() -> bool {
    std::env::var_os(XCARP_BIN).is_some()
        || unmet("needs XCARP_BIN, the xcarp binary built with its XDP program")
}

/// The calling test runs xcarp in network namespaces: root and
/// [`XCARP_BIN`]. Returns true if both are there; see [`unmet`].
#[must_use]
pub fn needs_xcarp() -> bool {
    needs_root() && needs_xcarp_bin()
}

/// A need of the calling test that plain `cargo test` may not meet (root,
/// the binaries `cargo xtask test` builds): the test cannot run.
///
/// Under `cargo xtask test` ([`STRICT`]) this fails the test: the suite
/// never passes by skipping (unless [`ALLOW_SKIP`] is set, and then the
/// skip is counted). Under plain `cargo test` the test says what it needs,
/// past libtest's capture, is counted as skipped, and passes: the caller
/// returns false, and so returns early.
#[must_use]
pub fn unmet(need: &str) -> bool {
    let test = thread::current().name().unwrap_or("?").to_owned();
    assert!(
        !strict() || skips_allowed(),
        "{test}: {need}. `cargo xtask test` ({STRICT}=1) runs every test and passes none by skipping; run it as root"
    );
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIP {test}: {need}; `cargo xtask test` (as root) runs it"
    );
    tally(&format!("test skipped {test}: {need}"));
    false
}

/// Runs a command and panics with its output if it fails.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = try_sh(program, args);
    assert!(
        out.status.success(),
        "{program} {} failed: {}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command and returns its output, whatever its exit status.
pub fn try_sh(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Writes `contents` to `path` as an executable file (mode 755).
///
/// A child process writes it, never a descriptor of this process: such a
/// descriptor, open for writing, is inherited by any child another thread
/// forks meanwhile and stays open until that child execs, and executing the
/// file in that window fails with ETXTBSY ("Text file busy").
pub fn write_executable(path: &Path, contents: &str) {
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start sh to write {}: {e}", path.display()));
    let mut stdin = child.stdin.take().expect("stdin piped");
    stdin
        .write_all(contents.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    drop(stdin);
    let status = child.wait().expect("wait for sh");
    assert!(
        status.success(),
        "writing {} failed: {status}",
        path.display()
    );
}

/// A network namespace, deleted (with everything in it) on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Self {
        cleanup::prepare();
        let name = unique_name(tag);
        // Owned (marker written, registered) before it exists: there is no
        // moment at which a crash leaves a namespace nobody can sweep.
        cleanup::own_netns(&name);
        sh("ip", &["netns", "add", &name]);
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <ns> args…`, panicking on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        sh("ip", &full)
    }

    /// A command prepared to run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Which XDP attachment `ip -d link show` reports for `dev`: "xdp"
    /// (driver), "xdpgeneric" (skb), or None.
    pub fn xdp_attachment(&self, dev: &str) -> Option<&'static str> {
        let out = try_sh("ip", &["-n", &self.name, "-d", "link", "show", "dev", dev]);
        let out = String::from_utf8_lossy(&out.stdout);
        if out.contains("xdpgeneric") {
            Some("xdpgeneric")
        } else if out.contains("prog/xdp") || out.contains(" xdp ") {
            Some("xdp")
        } else {
            None
        }
    }

    /// Runs a command inside the namespace and returns its output.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} in {}: {e}", self.name))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        cleanup::remove_netns(&self.name);
    }
}

/// Moves the calling thread (only it) into the named network namespace,
/// for code that must run in the namespace inside the test process (an XDP
/// attach, a netlink socket).
pub fn enter_netns(name: &str) {
    use std::os::fd::AsRawFd as _;
    let file = std::fs::File::open(format!("/run/netns/{name}"))
        .unwrap_or_else(|e| panic!("cannot open namespace {name}: {e}"));
    // SAFETY: setns(2) on a namespace fd we hold open; it changes only the
    // calling thread's network namespace.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "setns into {name}: {}",
        std::io::Error::last_os_error()
    );
}

/// A child process, in a process group of its own, killed (SIGKILL, with
/// whatever it started in its group) and reaped on drop.
pub struct ProcessGuard {
    pub child: Child,
}

impl ProcessGuard {
    pub fn spawn(mut cmd: Command) -> Self {
        cleanup::prepare();
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        cleanup::own_group(child.id());
        Self { child }
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits in i32")
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: i32) {
        #[allow(unsafe_code)]
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe {
            libc::kill(self.pid(), signal);
        }
    }

    /// Waits for the process to exit, up to `timeout`; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            #[allow(unsafe_code)]
            // SAFETY: kill(2) on the process group of our own unreaped child
            // (its pid, hence its group id, cannot have been reused).
            unsafe {
                libc::kill(-self.pid(), libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        cleanup::disown_group(self.child.id());
    }
}

/// Polls `check` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Environment variable set by `cargo xtask test`: a test whose needs are
/// not met ([`unmet`]) fails instead of being skipped.
pub const STRICT: &str = "XCARP_TEST_STRICT";

/// Whether [`STRICT`] is set to 1.
pub fn strict() -> bool {
    std::env::var(STRICT).is_ok_and(|v| v == "1")
}

/// Environment variable that lets tests skip what this machine cannot run
/// (a kernel feature, ucarp, implementations left out of
/// `XCARP_TEST_IMPLS`) instead of failing. Skips are then counted.
pub const ALLOW_SKIP: &str = "XCARP_TEST_ALLOW_SKIP";
/// Environment variable naming the file every test binary appends its tally
/// to (variants run and skipped, tests skipped); `cargo xtask test` sets it
/// and adds the lines up across binaries.
pub const TALLY: &str = "XCARP_TEST_TALLY";
/// Longest a scenario (all its variants) may run before the test binary
/// removes what it created and exits.
pub const SCENARIO_TIME_LIMIT: Duration = Duration::from_secs(300);

/// Longest any other namespace test may run (see [`test_time_limit`]).
pub const TEST_TIME_LIMIT: Duration = Duration::from_secs(120);

/// A [`TEST_TIME_LIMIT`] on the calling test, named after its thread (libtest
/// names it after the test); keep it alive for the test's duration.
pub fn test_time_limit() -> cleanup::TimeLimit {
    let test = thread::current().name().unwrap_or("a test").to_owned();
    cleanup::time_limit(&test, TEST_TIME_LIMIT)
}

/// Whether [`ALLOW_SKIP`] is set to 1.
pub fn skips_allowed() -> bool {
    std::env::var(ALLOW_SKIP).is_ok_and(|v| v == "1")
}

/// Appends one line to the [`TALLY`] file, if there is one.
pub fn tally(line: &str) {
    let Some(path) = std::env::var_os(TALLY) else {
        return;
    };
    // One write of one line with O_APPEND: lines of parallel tests and
    // binaries do not interleave.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
    if let Err(e) = written {
        panic!("cannot append to {}: {e}", PathBuf::from(path).display());
    }
}

/// The current test cannot run here because `missing`: fails it, saying what
/// is missing and how to opt out, unless [`ALLOW_SKIP`] is set; then the
/// skip is reported, counted in the tally, and the caller returns early.
pub fn skip_or_fail(missing: &str) {
    let test = thread::current().name().unwrap_or("?").to_owned();
    assert!(
        skips_allowed(),
        "{test}: {missing}. Install what is missing (`cargo xtask setup`), or set {ALLOW_SKIP}=1 to skip such tests (they are then counted as skipped)"
    );
    eprintln!("SKIP {test}: {missing}");
    tally(&format!("test skipped {test}: {missing}"));
}

/// The implementations the scenarios may start, from `XCARP_TEST_IMPLS`
/// (comma-separated `xcarp`, `ucarp`; default both).
pub fn enabled_impls() -> Vec<carp::Impl> {
    let list = std::env::var("XCARP_TEST_IMPLS").unwrap_or_else(|_| "xcarp,ucarp".into());
    let mut impls = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match name {
            "xcarp" => impls.push(carp::Impl::Xcarp),
            "ucarp" => impls.push(carp::Impl::Ucarp),
            other => panic!("XCARP_TEST_IMPLS: unknown implementation {other:?}"),
        }
    }
    impls
}

/// Why a variant needing `impls` cannot run here, if it cannot.
fn missing_for(impls: &[carp::Impl], enabled: &[carp::Impl]) -> Option<String> {
    let mut missing = Vec::new();
    for imp in impls {
        if !enabled.contains(imp) {
            missing.push(format!("{imp} is not in XCARP_TEST_IMPLS"));
        } else if *imp == carp::Impl::Ucarp && !imp.binary().exists() {
            missing.push(format!("{} is not installed", imp.binary().display()));
        }
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// A scenario variant and the implementations it needs.
pub type Variant<V> = (V, &'static [carp::Impl]);

/// Runs `scenario` once per variant, every variant in its own thread (each
/// builds its own LAN), and fails naming every variant that failed.
///
/// Without root (or without [`XCARP_BIN`] when a variant runs xcarp) no
/// variant can run: see [`unmet`].
///
/// A variant whose implementations are not all available (left out of
/// `XCARP_TEST_IMPLS`, ucarp not installed) fails the scenario unless
/// [`ALLOW_SKIP`] is set; then it is skipped. Each variant run or skipped
/// is counted in the [`TALLY`] file. The scenario is bounded by
/// [`SCENARIO_TIME_LIMIT`].
pub fn run_variants<V: std::fmt::Debug + Sync>(
    name: &str,
    variants: &[Variant<V>],
    scenario: impl Fn(&V) + Sync,
) {
    let runs_xcarp = variants
        .iter()
        .any(|(_, impls)| impls.contains(&carp::Impl::Xcarp));
    let met = if runs_xcarp {
        needs_xcarp()
    } else {
        needs_root()
    };
    if !met {
        tally(&format!(
            "variants {} ran=0 skipped={}",
            name.replace(' ', "_"),
            variants.len()
        ));
        return;
    }
    let enabled = enabled_impls();
    let (runnable, skipped): (Vec<_>, Vec<_>) = variants
        .iter()
        .map(|(v, impls)| (v, missing_for(impls, &enabled)))
        .partition(|(_, missing)| missing.is_none());
    if !skipped.is_empty() {
        let list: Vec<String> = skipped
            .iter()
            .map(|(v, why)| format!("{v:?} ({})", why.as_deref().unwrap_or_default()))
            .collect();
        assert!(
            skips_allowed(),
            "{name}: cannot run {}. Run every variant, or set {ALLOW_SKIP}=1 to skip them (they are then counted as skipped)",
            list.join(", ")
        );
        for (v, why) in &skipped {
            eprintln!(
                "SCENARIO {name} {v:?}: skipped ({})",
                why.as_deref().unwrap_or_default()
            );
        }
    }
    tally(&format!(
        "variants {} ran={} skipped={}",
        name.replace(' ', "_"),
        runnable.len(),
        skipped.len()
    ));
    let _limit = cleanup::time_limit(&format!("scenario {name}"), SCENARIO_TIME_LIMIT);
    let failed: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = runnable
            .iter()
            .map(|(v, _)| (v, s.spawn(|| scenario(v))))
            .collect();
        handles
            .into_iter()
            .filter_map(|(v, h)| h.join().err().map(|_| format!("{v:?}")))
            .collect()
    });
    assert!(
        failed.is_empty(),
        "{name}: failed variants: {}",
        failed.join(", ")
    );
}
