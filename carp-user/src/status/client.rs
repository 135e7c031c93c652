//! `xcarp status`: asks the running daemon over its status socket and
//! prints the answer (docs/status.md, "The command").
//!
//! Synchronous on purpose: the command runs once and exits, so it needs
//! no runtime.

use std::{
    ffi::OsString,
    io::{self, Read as _, Write as _},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use clap::Parser;

use super::{DEFAULT_STATUS_SOCKET, render::Format};

/// Exit status: the answer was printed.
const EXIT_OK: u8 = 0;
/// Exit status: the command line is wrong.
const EXIT_USAGE: u8 = 1;
/// Exit status: the daemon could not be asked (or its answer printed).
const EXIT_UNREACHABLE: u8 = 2;
/// How long the command waits for the daemon, per step.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest answer read (a few hundred instances take well under 1 MiB).
const MAX_ANSWER: u64 = 16 * 1024 * 1024;

/// Show the state of the running xcarp's instances.
#[derive(Debug, Parser)]
#[command(
    name = "xcarp status",
    about = "Show the state and counters of the running xcarp's CARP instances",
    disable_version_flag = true
)]
struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "prometheus")]
    json: bool,
    /// Print the Prometheus text exposition instead of a table.
    #[arg(long)]
    prometheus: bool,
    /// The daemon's status socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_STATUS_SOCKET)]
    socket: PathBuf,
}

/// Why the daemon could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no status socket at {}: no xcarp serves status there{}. {}", path.display(), running_note(), HOW_TO_GET_STATUS)]
    NoSocket { path: PathBuf },
    #[error("nothing answers on {}: the xcarp that served status there is not running (the socket of one that was killed?){}. {}", path.display(), running_note(), HOW_TO_GET_STATUS)]
    NotListening { path: PathBuf },
    #[error("permission denied on {}: run as root", path.display())]
    PermissionDenied { path: PathBuf },
    #[error("no answer from xcarp on {} within {} s", path.display(), CLIENT_TIMEOUT.as_secs())]
    Timeout { path: PathBuf },
    #[error("talking to xcarp on {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("xcarp on {} answered: {message}", path.display())]
    Refused { path: PathBuf, message: String },
}

/// `xcarp status [--json|--prometheus] [--socket PATH]`: `args` are the
/// arguments after the word `status`. Prints the daemon's answer on
/// standard output; exits 0 when printed, 1 for a wrong command line, 2
/// when the daemon cannot be asked (with the reason on standard error).
#[must_use]
pub fn status_command(args: &[OsString]) -> ExitCode {
    let parsed = StatusArgs::try_parse_from(
        std::iter::once(OsString::from("xcarp status")).chain(args.iter().cloned()),
    );
    let args = match parsed {
        Ok(args) => args,
        Err(e) => {
            // --help prints on stdout and succeeds; the rest are usage errors.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let format = if args.json {
        Format::Json
    } else if args.prometheus {
        Format::Prometheus
    } else {
        Format::Text
    };
    let answer = match query_status(&args.socket, format, CLIENT_TIMEOUT) {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("xcarp status: {e}");
            return ExitCode::from(EXIT_UNREACHABLE);
        }
    };
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(answer.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::from(EXIT_OK),
        // `xcarp status | head`: the reader left, nothing to report.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("xcarp status: cannot write the answer: {e}");
            ExitCode::from(EXIT_UNREACHABLE)
        }
    }
}

/// Which xcarp serves status, and how else to see an instance's state.
const HOW_TO_GET_STATUS: &str = "Only an xcarp run with --config FILE (the xcarp service) \
    serves status, on the file's status_socket (default /run/xcarp/status.sock; give another \
    with --socket PATH). An xcarp run with ucarp's options (xcarp@NAME.service, or from a \
    shell) has no status socket: `kill -USR1 PID` makes it log its state and counters, or \
    run its instances from a configuration file (docs: /usr/share/doc/xcarp/status.md.gz)";

/// `: xcarp runs as pid 12, 34` when xcarp processes (other than this one)
/// run, for the messages above; empty when none does.
fn running_note() -> String {
    let pids = running_xcarps();
    if pids.is_empty() {
        return String::new();
    }
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    format!(
        " (xcarp runs as pid {}, without a status socket here)",
        list.join(", ")
    )
}

/// The pids of the running processes named xcarp, this one left out.
fn running_xcarps() -> Vec<u32> {
    let own = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "xcarp")
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// Asks the daemon listening on `socket` for `format` and returns its
/// answer; each step (connect, send, read) may take up to `step_timeout`.
pub fn query_status(
    socket: &Path,
    format: Format,
    step_timeout: Duration,
) -> Result<String, QueryError> {
    let path = socket.to_owned();
    let io_error = |source: io::Error| match source.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            QueryError::Timeout { path: path.clone() }
        }
        io::ErrorKind::PermissionDenied => QueryError::PermissionDenied { path: path.clone() },
        _ => QueryError::Io {
            path: path.clone(),
            source,
        },
    };
    let mut stream = connect(socket, step_timeout).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => QueryError::NoSocket { path: path.clone() },
        io::ErrorKind::ConnectionRefused => QueryError::NotListening { path: path.clone() },
        _ => io_error(source),
    })?;
    stream
        .write_all(format!("{}\n", format.request()).as_bytes())
        .map_err(io_error)?;
    let mut answer = Vec::new();
    (&mut stream)
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .map_err(io_error)?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    if let Some(message) = answer.strip_prefix("error: ") {
        return Err(QueryError::Refused {
            path,
            message: message.trim_end().to_owned(),
        });
    }
    Ok(answer)
}

/// Connects to the unix socket at `path`, waiting at most `timeout`.
///
/// A unix connect normally completes at once, but waits while the
/// listener's backlog is full (a daemon that stopped accepting): exactly
/// when an operator runs `xcarp status`. On Linux a unix socket's send
/// timeout also bounds that wait (it then fails with EAGAIN), so the socket
/// gets its timeouts before connecting.
fn connect(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    socket.set_write_timeout(Some(timeout))?;
    socket.set_read_timeout(Some(timeout))?;
    socket.connect(&socket2::SockAddr::unix(path)?)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<StatusArgs, clap::Error> {
        StatusArgs::try_parse_from(std::iter::once("xcarp status").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_to_text_on_the_default_socket() {
        let args = parse(&[]).unwrap();
        assert!(!args.json && !args.prometheus);
        assert_eq!(args.socket, Path::new(DEFAULT_STATUS_SOCKET));
    }

    #[test]
    fn takes_a_format_and_a_socket() {
        let args = parse(&["--json", "--socket", "/tmp/x.sock"]).unwrap();
        assert!(args.json);
        assert_eq!(args.socket, Path::new("/tmp/x.sock"));
        assert!(parse(&["--prometheus"]).unwrap().prometheus);
    }

    #[test]
    fn rejects_two_formats_and_unknown_flags() {
        assert!(parse(&["--json", "--prometheus"]).is_err());
        assert!(parse(&["--xml"]).is_err());
        assert!(parse(&["extra"]).is_err());
    }

    #[test]
    fn usage_errors_exit_1_and_help_exits_0() {
        assert_eq!(
            status_command(&["--bogus".into()]),
            ExitCode::from(EXIT_USAGE)
        );
        assert_eq!(status_command(&["--help".into()]), ExitCode::from(EXIT_OK));
    }

    #[test]
    fn a_missing_socket_says_only_config_daemons_serve_status_and_exits_2() {
        let path =
            std::env::temp_dir().join(format!("xcarp-no-such-socket-{}.sock", std::process::id()));
        let err = query_status(&path, Format::Text, CLIENT_TIMEOUT).unwrap_err();
        assert!(matches!(err, QueryError::NoSocket { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("no status socket at {}", path.display())),
            "{text}"
        );
        for needle in [
            "Only an xcarp run with --config FILE",
            "status_socket",
            "--socket PATH",
            "ucarp's options",
            "kill -USR1 PID",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        assert_eq!(
            status_command(&["--socket".into(), path.into_os_string()]),
            ExitCode::from(EXIT_UNREACHABLE)
        );
    }

    #[test]
    fn a_socket_nobody_listens_on_is_told_apart() {
        let path =
            std::env::temp_dir().join(format!("xcarp-stale-socket-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        // Bound, never listening: a connect is refused, as on the socket of
        // a daemon that was killed.
        let socket =
            socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&socket2::SockAddr::unix(&path).unwrap())
            .unwrap();
        let err = query_status(&path, Format::Text, CLIENT_TIMEOUT).unwrap_err();
        assert!(matches!(err, QueryError::NotListening { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("nothing answers on"), "{text}");
        assert!(text.contains("Only an xcarp run with --config"), "{text}");
        drop(socket);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn running_xcarps_are_found_by_name() {
        // This test binary is not named xcarp; a child renamed so is.
        assert!(!running_xcarps().contains(&std::process::id()));
        // A process's name is the name it was executed by: sleep, through
        // a link named xcarp. The kernel names it a moment after spawn()
        // may return.
        let dir = std::env::temp_dir().join(format!("xcarp-comm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sleep = ["/usr/bin/sleep", "/bin/sleep"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("sleep");
        std::os::unix::fs::symlink(sleep, dir.join("xcarp")).unwrap();
        let mut child = std::process::Command::new(dir.join("xcarp"))
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !running_xcarps().contains(&pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let found = running_xcarps().contains(&pid);
        let note = running_note();
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(found, "pid {pid} not found");
        assert!(note.contains(&pid.to_string()), "{note}");
    }
}
