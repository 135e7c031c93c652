//! `xcarp`: the daemon's entry point. Parses the ucarp-compatible command
//! line (or a configuration file), daemonizes before any thread exists, then
//! runs the daemon on a single-threaded tokio runtime. Also the
//! `check-config`, `import-ucarp` and `status` subcommands, which run no
//! daemon.
use std::{fs::File, io::Read as _, path::Path, process::ExitCode};

use anyhow::Context as _;
use nix::fcntl::{Flock, FlockArg};
use xcarp::{
    cli::{self, Parsed},
    config::{Settings, file, host, import_ucarp},
    daemon, xdp,
};

/// Exit status for command-line errors (as ucarp).
const EXIT_USAGE: u8 = 1;
/// Exit status for run-time failures (as ucarp's setup errors).
const EXIT_RUNTIME: u8 = 2;
/// Exit status of `import-ucarp` when the configuration was written but
/// some VIP files were skipped (docs/config.md, "Importing a ucarp
/// configuration").
const EXIT_IMPORT_PARTIAL: u8 = 3;

fn main() -> ExitCode {
    // First of all: a signal that arrives while the daemon starts (reading
    // its configuration included) waits until the daemon listens for it,
    // instead of ending the process (docs/architecture.md, "Signals").
    // Everything that runs no daemon lets them through again.
    if let Err(e) = daemon::signals::hold() {
        eprintln!("xcarp: warning: cannot hold signals during the start: {e}");
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `xcarp status …` asks a running daemon; it starts none.
    if args.get(1).is_some_and(|word| word == "status") {
        daemon::signals::release();
        return xcarp::status::status_command(&args[2..]);
    }
    let parsed = cli::parse(args);
    if !matches!(parsed, Ok(Parsed::Run(_))) {
        daemon::signals::release();
    }
    let settings = match parsed {
        Ok(Parsed::Run(settings)) => *settings,
        Ok(Parsed::CheckConfig { file, offline }) => return check_config(&file, offline),
        Ok(Parsed::ImportUcarp { dir, output }) => return import(&dir, output.as_deref()),
        Ok(Parsed::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("xcarp: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if !xdp::object_is_embedded() {
        eprintln!("xcarp: {}", xdp::XdpError::StubObject);
        return ExitCode::from(EXIT_RUNTIME);
    }
    match run(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("xcarp: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// `xcarp check-config [--offline] FILE`: exit 0 and a one-line summary,
/// or 1 and every problem found, in the file and (unless `offline`) on this
/// host, as `--config` and a reload check them.
fn check_config(path: &Path, offline: bool) -> ExitCode {
    let checked = file::load(path)
        .map_err(|e| e.to_string())
        .and_then(|settings| {
            if !offline {
                host::check(&settings).map_err(|e| {
                    e.to_string()
                        .lines()
                        .map(|line| format!("{}: {line}", path.display()))
                        .collect::<Vec<_>>()
                        .join("\n")
                })?;
            }
            Ok(settings)
        });
    match checked {
        Ok(settings) => {
            for warning in &settings.warnings {
                eprintln!("xcarp: warning: {warning}");
            }
            let mut interfaces: Vec<&str> = settings
                .instances
                .iter()
                .filter_map(|i| i.interface.as_deref())
                .collect();
            interfaces.sort_unstable();
            interfaces.dedup();
            let plural =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            println!(
                "{}: ok, {} on {}",
                path.display(),
                plural(settings.instances.len(), "instance"),
                plural(interfaces.len(), "interface")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// `xcarp import-ucarp DIR [-o FILE]`: the configuration on stdout (or in a
/// new FILE, private to root since it may hold passwords), what could not
/// be carried over on stderr, then a summary line. Exit 0: every VIP file
/// imported; [`EXIT_IMPORT_PARTIAL`]: written, but some were skipped (each
/// listed with its reason); 1: nothing written.
fn import(dir: &Path, output: Option<&Path>) -> ExitCode {
    let imported = match import_ucarp::import(dir) {
        Ok(imported) => imported,
        Err(e) => {
            for warning in &e.warnings {
                eprintln!("xcarp: warning: {warning}");
            }
            for skipped in &e.skipped {
                eprintln!("xcarp: skipped {skipped}");
            }
            for error in &e.errors {
                eprintln!("xcarp: {error}");
            }
            eprintln!("xcarp: nothing written");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    for warning in &imported.warnings {
        eprintln!("xcarp: warning: {warning}");
    }
    for skipped in &imported.skipped {
        eprintln!("xcarp: skipped {skipped}");
    }
    match output {
        None => print!("{}", imported.toml),
        Some(path) => {
            use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
            let written = File::options()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .and_then(|mut f| f.write_all(imported.toml.as_bytes()));
            if let Err(e) = written {
                let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
                    " (not overwriting it: remove it first)"
                } else {
                    ""
                };
                eprintln!("xcarp: cannot write {}: {e}{hint}", path.display());
                return ExitCode::from(EXIT_USAGE);
            }
            eprintln!(
                "xcarp: wrote {} instance{} to {}",
                imported.instances,
                if imported.instances == 1 { "" } else { "s" },
                path.display()
            );
        }
    }
    let skipped = imported.skipped.len();
    if skipped == 0 {
        eprintln!(
            "xcarp: imported {} of {} VIP files",
            imported.instances, imported.vip_files
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "xcarp: imported {} of {} VIP files; {skipped} skipped (listed above): the \
             configuration lacks their VIPs (exit status {EXIT_IMPORT_PARTIAL})",
            imported.instances, imported.vip_files
        );
        ExitCode::from(EXIT_IMPORT_PARTIAL)
    }
}

fn run(settings: Settings) -> anyhow::Result<()> {
    let global = &settings.global;
    if global.daemonize {
        // Before the runtime starts: fork(2) only keeps the calling thread.
        nix::unistd::daemon(false, false).context("cannot daemonize")?;
    }
    let _pidfile = global.pidfile.as_deref().map(PidFile::create).transpose()?;
    daemon::logging::init(global.debug, global.facility, !global.daemonize);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(daemon::run(settings))?;
    Ok(())
}

/// `--pidfile`: holds an exclusive lock on the file for the daemon's
/// lifetime, so a second xcarp with the same pidfile refuses to start, and
/// removes the file at exit.
///
/// The path is usually in a directory other programs write to, so nothing
/// there is trusted: a symbolic link is not followed, anything but a regular
/// file is refused, and an existing file is only overwritten once it is
/// locked and holds nothing, or the pid of a process that is gone, is this
/// one, or is another xcarp (one that does not hold the lock, so the file is
/// stale).
struct PidFile {
    path: std::path::PathBuf,
    _lock: Flock<File>,
}

/// Longest content read from an existing pid file: a pid and a newline.
const PIDFILE_READ_LIMIT: u64 = 32;

impl PidFile {
    fn create(path: &Path) -> anyhow::Result<Self> {
        use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
        let fail = |what: &dyn std::fmt::Display| {
            anyhow::anyhow!("pid file {} (--pidfile): {what}", path.display())
        };
        // No O_TRUNC: nothing is erased before the checks below. O_NONBLOCK:
        // a FIFO at the path must not hang the start.
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => fail(&"is a symbolic link: refusing to follow it"),
                _ => fail(&format_args!("cannot open it: {e}")),
            })?;
        let meta = file.metadata().map_err(|e| fail(&e))?;
        if !meta.is_file() {
            return Err(fail(&"not a regular file"));
        }
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
            anyhow::anyhow!(
                "pid file {} is locked by another running xcarp ({e}) (--pidfile)",
                path.display()
            )
        })?;
        let mut content = Vec::new();
        (&*lock)
            .take(PIDFILE_READ_LIMIT)
            .read_to_end(&mut content)
            .map_err(|e| fail(&e))?;
        let own_exe = std::fs::read_link("/proc/self/exe").ok();
        match std::str::from_utf8(&content).map(str::trim) {
            Ok("") => {}
            Ok(text) => match text.parse::<i32>() {
                Ok(pid) if pid > 0 => {
                    if let Some(foreign) = foreign_process(pid, own_exe.as_deref()) {
                        return Err(fail(&format_args!(
                            "holds the pid of running process {pid} ({foreign}), which is not an xcarp: not overwriting it (remove the file if it is stale)"
                        )));
                    }
                }
                _ => return Err(fail(&"does not hold a pid: not overwriting it")),
            },
            Err(_) => return Err(fail(&"does not hold a pid: not overwriting it")),
        }
        lock.set_len(0).map_err(|e| fail(&e))?;
        lock.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0)
            .map_err(|e| fail(&format_args!("cannot write it: {e}")))?;
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }
}

/// The name of process `pid` if it runs and is not an xcarp: neither this
/// process nor one running the same executable (`own_exe`). None if it is
/// gone.
fn foreign_process(pid: i32, own_exe: Option<&Path>) -> Option<String> {
    use nix::{errno::Errno, sys::signal::kill, unistd::Pid};
    if u32::try_from(pid).is_ok_and(|p| p == std::process::id()) {
        return None;
    }
    // Signal 0 only checks: EPERM still means the process exists.
    if kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH) {
        return None;
    }
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    if exe.is_some() && exe.as_deref() == own_exe {
        return None;
    }
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    Some(comm.trim().to_owned())
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use std::{
        os::unix::fs::symlink,
        path::PathBuf,
        process::{Child, Command},
        sync::mpsc,
        time::Duration,
    };

    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xcarp-pidfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        path
    }

    fn error(path: &Path) -> String {
        match PidFile::create(path) {
            Ok(_) => panic!("{} was accepted", path.display()),
            Err(e) => format!("{e:#}"),
        }
    }

    /// A process that runs until dropped.
    struct Sleeper(Child);

    impl Sleeper {
        fn start() -> Self {
            Self(Command::new("sleep").arg("60").spawn().unwrap())
        }
        fn pid(&self) -> i32 {
            i32::try_from(self.0.id()).unwrap()
        }
    }

    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn a_new_pidfile_holds_our_pid_and_is_removed_on_drop() {
        let path = temp_path("new.pid");
        let pidfile = PidFile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        let e = error(&path);
        assert!(e.contains("locked by another running xcarp"), "{e}");
        drop(pidfile);
        assert!(!path.exists());
    }

    #[test]
    fn a_symlink_is_not_followed() {
        let target = temp_path("precious");
        std::fs::write(&target, "precious\n").unwrap();
        let link = temp_path("link.pid");
        symlink(&target, &link).unwrap();
        let e = error(&link);
        assert!(
            e.contains("symbolic link") && e.contains("--pidfile"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        assert!(link.symlink_metadata().is_ok(), "the link was removed");
    }

    #[test]
    fn a_fifo_is_refused_without_hanging() {
        let path = temp_path("fifo.pid");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let (tx, rx) = mpsc::channel();
        let fifo = path.clone();
        std::thread::spawn(move || tx.send(PidFile::create(&fifo).map(|_| ())));
        let result = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("opening a FIFO as pid file hangs");
        let e = format!("{:#}", result.expect_err("a FIFO was accepted"));
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_file_that_holds_no_pid_is_not_overwritten() {
        let path = temp_path("passwd");
        std::fs::write(&path, "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        let e = error(&path);
        assert!(e.contains("does not hold a pid"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "root:x:0:0:root:/root:/bin/sh\n"
        );
    }

    #[test]
    fn the_pid_of_another_running_program_is_not_overwritten() {
        let sleeper = Sleeper::start();
        let path = temp_path("other.pid");
        std::fs::write(&path, format!("{}\n", sleeper.pid())).unwrap();
        let e = error(&path);
        assert!(
            e.contains(&format!("running process {} (sleep)", sleeper.pid())),
            "{e}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", sleeper.pid())
        );
    }

    #[test]
    fn a_stale_pid_or_our_own_is_replaced() {
        let mut gone = Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        for content in [format!("{}\n", gone.id()), std::process::id().to_string()] {
            let path = temp_path("stale.pid");
            std::fs::write(&path, &content).unwrap();
            let _pidfile = PidFile::create(&path).unwrap();
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                format!("{}\n", std::process::id()),
                "{content:?}"
            );
        }
    }

    #[test]
    fn a_process_running_our_executable_is_not_foreign() {
        let sleeper = Sleeper::start();
        let sleep_exe = std::fs::read_link(format!("/proc/{}/exe", sleeper.pid())).unwrap();
        assert_eq!(foreign_process(sleeper.pid(), Some(&sleep_exe)), None);
        let own = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(
            foreign_process(sleeper.pid(), Some(&own)).as_deref(),
            Some("sleep")
        );
        assert_eq!(
            foreign_process(sleeper.pid(), None).as_deref(),
            Some("sleep")
        );
    }
}
