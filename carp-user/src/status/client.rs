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
    #[error("cannot connect to {}: {source}; is xcarp running? it serves status on {}", path.display(), path.display())]
    NotRunning { path: PathBuf, source: io::Error },
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
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => QueryError::NotRunning {
            path: path.clone(),
            source,
        },
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
    fn a_missing_socket_says_to_start_xcarp_and_exits_2() {
        let path =
            std::env::temp_dir().join(format!("xcarp-no-such-socket-{}.sock", std::process::id()));
        let err = query_status(&path, Format::Text, CLIENT_TIMEOUT).unwrap_err();
        assert!(matches!(err, QueryError::NotRunning { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("is xcarp running?"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert_eq!(
            status_command(&["--socket".into(), path.into_os_string()]),
            ExitCode::from(EXIT_UNREACHABLE)
        );
    }
}
