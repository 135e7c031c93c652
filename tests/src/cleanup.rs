//! Nothing a test creates outlives it: not on a panic (the guards' `Drop`),
//! not on Ctrl-C or SIGTERM, not when it runs past its time limit, and not
//! even when its binary is killed outright (the next run sweeps it).
//!
//! Every namespace the harness creates has a marker file in [`MARKER_DIR`]
//! naming the process that owns it (pid and start time, so a reused pid is
//! not mistaken for the owner). A namespace whose owner is gone is stale:
//! [`sweep_stale`] kills what still runs in it and deletes it. Namespaces of
//! other live test processes, and namespaces without a marker, are left alone.
use std::{
    collections::BTreeSet,
    io::Read as _,
    os::fd::FromRawFd as _,
    path::PathBuf,
    process::Command,
    sync::{
        Mutex, Once,
        atomic::{AtomicI32, Ordering},
        mpsc,
    },
    thread,
    time::Duration,
};

/// Where the ownership markers live, one file per namespace.
pub const MARKER_DIR: &str = "/run/xcarp-tests";

#[derive(Default)]
struct Owned {
    netns: BTreeSet<String>,
    /// Process groups of [`ProcessGuard`](crate::ProcessGuard)s (their leader's pid).
    groups: BTreeSet<u32>,
}

static OWNED: Mutex<Owned> = Mutex::new(Owned {
    netns: BTreeSet::new(),
    groups: BTreeSet::new(),
});

fn owned() -> std::sync::MutexGuard<'static, Owned> {
    // A panic while holding the lock leaves the sets consistent.
    OWNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Once per process, before the first namespace or process: sweeps what
/// dead test processes left behind, and makes SIGINT, SIGTERM and SIGHUP
/// remove what this process created before it dies (unless the program
/// handles these signals itself).
pub fn prepare() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for name in sweep_stale() {
            say(&format!("removed stale test namespace {name}"));
        }
        install_signal_cleanup();
    });
}

/// Records that this process owns the namespace `name` (about to be created).
pub(crate) fn own_netns(name: &str) {
    let dir = PathBuf::from(MARKER_DIR);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    std::fs::write(dir.join(name), owner_line())
        .unwrap_or_else(|e| panic!("cannot write the marker of {name}: {e}"));
    owned().netns.insert(name.to_owned());
}

/// Deletes the namespace `name` with whatever still runs in it, and its marker.
pub(crate) fn remove_netns(name: &str) {
    kill_netns_pids(name);
    let _ = Command::new("ip").args(["netns", "del", name]).output();
    let _ = std::fs::remove_file(PathBuf::from(MARKER_DIR).join(name));
    owned().netns.remove(name);
}

pub(crate) fn own_group(pid: u32) {
    owned().groups.insert(pid);
}

pub(crate) fn disown_group(pid: u32) {
    owned().groups.remove(&pid);
}

/// Kills every process group and deletes every namespace this process
/// created and has not released yet. For the moment the process is about
/// to die without unwinding (a signal, a time limit).
pub fn remove_everything_owned() {
    let groups: Vec<u32> = owned().groups.iter().copied().collect();
    for pid in groups {
        if let Ok(pid) = i32::try_from(pid) {
            // SAFETY: kill(2) of a process group this process started and
            // has not reaped (reaping removes it from the set).
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    let names: Vec<String> = owned().netns.iter().cloned().collect();
    for name in names {
        remove_netns(&name);
    }
}

/// Deletes every namespace whose owning test process is gone, after killing
/// what still runs in it; returns their names.
pub fn sweep_stale() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(MARKER_DIR) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in dir.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if !owner_alive(&owner) {
            remove_netns(&name);
            removed.push(name);
        }
    }
    removed
}

/// What a marker holds to name this process as its owner: its pid and
/// start time.
pub fn owner_line() -> String {
    let me = std::process::id();
    let start = start_time(me).expect("own start time");
    format!("{me} {start}\n")
}

/// Whether the process an [`owner_line`] names still runs.
pub fn owner_alive(line: &str) -> bool {
    let mut fields = line.split_whitespace().map(str::parse::<u64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(pid)), Some(Ok(start))) => u32::try_from(pid)
            .ok()
            .and_then(start_time)
            .is_some_and(|s| s == start),
        _ => false,
    }
}

/// Whether a marker says some live process owns the namespace `name`.
pub fn is_owned(name: &str) -> bool {
    PathBuf::from(MARKER_DIR).join(name).exists()
}

/// SIGKILLs every process in the namespace `name` (`ip netns pids`): daemons
/// and the scripts they started in process groups of their own.
fn kill_netns_pids(name: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() else {
        return;
    };
    for pid in String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        // SAFETY: kill(2); the pid was just listed as living in a test
        // namespace, which only test processes enter.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// Field 22 of /proc/<pid>/stat: when the process started, in clock ticks
/// since boot; with the pid it names one process for good.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: count from its ')'.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Writes a line to the process's stderr itself: `eprintln!` in a thread
/// started by a test goes to libtest's capture, which a process about to
/// die never prints.
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Write end of the pipe the signal handler reports signals on.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let byte = u8::try_from(signal).unwrap_or(0);
    // SAFETY: write(2) of one byte from the stack to a pipe is
    // async-signal-safe; the fd stays open for the life of the process.
    #[allow(unsafe_code)]
    unsafe {
        libc::write(
            SIGNAL_PIPE.load(Ordering::Relaxed),
            (&raw const byte).cast(),
            1,
        );
    }
}

fn install_signal_cleanup() {
    let mut fds = [0; 2];
    // SAFETY: pipe2(2) into a two-element array.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
    let mut installed = false;
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sigaction(2) with valid structs; the handler only writes
        // to a pipe. A program's own handler (the demo's) is kept.
        #[allow(unsafe_code)]
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, std::ptr::null(), &raw mut old);
            if old.sa_sigaction != libc::SIG_DFL {
                continue;
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            new.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&raw mut new.sa_mask);
            libc::sigaction(signal, &raw const new, std::ptr::null_mut());
        }
        installed = true;
    }
    if !installed {
        return;
    }
    // SAFETY: the read end was just created and nothing else owns it.
    #[allow(unsafe_code)]
    let mut pipe = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    thread::spawn(move || {
        let mut byte = [0u8; 1];
        if pipe.read_exact(&mut byte).is_err() {
            return;
        }
        let signal = libc::c_int::from(byte[0]);
        say(&format!(
            "signal {signal}: removing this test process's namespaces and processes"
        ));
        remove_everything_owned();
        // Die of the signal, as the caller expects.
        // SAFETY: restoring the default action and raising the signal.
        #[allow(unsafe_code)]
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    });
}

/// A time limit on a test: dropped in time, nothing happens; if `limit`
/// passes first, the test binary says so, removes everything it created
/// and exits with a failure (a stuck thread cannot be unwound from outside).
pub struct TimeLimit {
    _done: mpsc::Sender<()>,
}

/// Starts a [`TimeLimit`] for `what`.
pub fn time_limit(what: &str, limit: Duration) -> TimeLimit {
    prepare();
    let (done, rx) = mpsc::channel::<()>();
    let what = what.to_owned();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            say(&format!(
                "{what}: still running after {limit:?}, its time limit: removing this test process's namespaces and processes, and failing"
            ));
            remove_everything_owned();
            std::process::exit(101);
        }
    });
    TimeLimit { _done: done }
}
