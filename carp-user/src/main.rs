//! `xcarp`: the daemon's entry point. Parses the ucarp-compatible command
//! line, daemonizes before any thread exists, then runs the daemon on a
//! single-threaded tokio runtime.
use std::{fs::File, io::Write as _, path::Path, process::ExitCode};

use anyhow::Context as _;
use nix::fcntl::{Flock, FlockArg};
use xcarp::{
    cli::{self, Config, Parsed},
    daemon, xdp,
};

/// Exit status for command-line errors (as ucarp).
const EXIT_USAGE: u8 = 1;
/// Exit status for run-time failures (as ucarp's setup errors).
const EXIT_RUNTIME: u8 = 2;

fn main() -> ExitCode {
    let config = match cli::parse(std::env::args_os()) {
        Ok(Parsed::Run(config)) => *config,
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
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("xcarp: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    if config.daemonize {
        // Before the runtime starts: fork(2) only keeps the calling thread.
        nix::unistd::daemon(false, false).context("cannot daemonize")?;
    }
    let _pidfile = config.pidfile.as_deref().map(PidFile::create).transpose()?;
    daemon::logging::init(config.debug, config.facility, !config.daemonize);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(daemon::run(config))?;
    Ok(())
}

/// `--pidfile`: holds an exclusive lock on the file for the daemon's
/// lifetime, so a second xcarp with the same pidfile refuses to start, and
/// removes the file at exit.
struct PidFile {
    path: std::path::PathBuf,
    _lock: Flock<File>,
}

impl PidFile {
    fn create(path: &Path) -> anyhow::Result<Self> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open pid file {} (--pidfile)", path.display()))?;
        let mut lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
            anyhow::anyhow!(
                "pid file {} is locked by another running xcarp ({e}) (--pidfile)",
                path.display()
            )
        })?;
        lock.set_len(0)?;
        writeln!(lock, "{}", std::process::id())
            .with_context(|| format!("cannot write pid file {}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
