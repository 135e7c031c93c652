//! One line per set-up step, the full output in a log file.
//!
//! Every `cargo xtask` command opens `target/xtask-logs/<command>.log`
//! ([`start`]) and says so in one line. A step ([`run`]) prints
//! `label… done (2m40s)`; whatever the commands it runs print goes to the
//! log ([`exec`], [`output`], [`log_stdio`]). When a step fails, its part of
//! the log is printed in full, then its error.
//!
//! Steps nest: a step run inside another (the toolchain check inside a
//! build, say) prints nothing of its own and belongs to the enclosing line.
use std::{
    cell::{Cell, RefCell},
    fs::{self, File},
    io::{Read as _, Seek as _, SeekFrom, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, ensure};

struct Log {
    path: PathBuf,
    file: File,
}

thread_local! {
    static LOG: RefCell<Option<Log>> = const { RefCell::new(None) };
    /// How many steps are running on this thread (0: none).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// What the step at the given depth reports instead of "done".
    static OUTCOME: RefCell<Option<(usize, String)>> = const { RefCell::new(None) };
}

/// Directory of the commands' logs.
pub fn log_dir() -> PathBuf {
    crate::bootstrap::workspace_root().join("target/xtask-logs")
}

/// Opens (truncates) `target/xtask-logs/<command>.log` for the steps of
/// this command, and prints where it is.
pub fn start(command: &str) -> anyhow::Result<()> {
    let path = log_dir().join(format!("{command}.log"));
    open(&path)?;
    let shown = path
        .strip_prefix(crate::bootstrap::workspace_root())
        .unwrap_or(&path);
    println!(
        "xtask {command}: set-up output goes to {} (shown in full if a step fails)",
        shown.display()
    );
    Ok(())
}

/// Opens `path` as this thread's log.
fn open(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = File::options()
        .create(true)
        .write(true)
        .truncate(true)
        .read(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    // Appending from here on: this process and the commands it starts
    // write at the end, whoever writes last.
    drop(file);
    let file = File::options()
        .append(true)
        .read(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    LOG.with_borrow_mut(|log| {
        *log = Some(Log {
            path: path.to_owned(),
            file,
        });
    });
    Ok(())
}

/// Runs `f` as one step on stdout: see [`run_to`].
pub fn run<T>(label: &str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    run_to(&mut std::io::stdout(), label, f)
}

/// Runs `f` as one step: `label… ` on `out`, then `done` (or what `f`
/// passed to [`outcome`]) and the time it took, if a second or more. On
/// failure, `failed`, the step's part of the log, and the error.
pub fn run_to<T>(
    out: &mut dyn Write,
    label: &str,
    f: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let depth = DEPTH.get() + 1;
    note(&format!("{} {label}", "=".repeat(2 * depth)));
    if depth > 1 {
        DEPTH.set(depth);
        let result = f();
        DEPTH.set(depth - 1);
        return result;
    }
    let offset = log_len();
    let _ = write!(out, "{label}… ");
    let _ = out.flush();
    let started = Instant::now();
    DEPTH.set(depth);
    let result = f();
    DEPTH.set(depth - 1);
    let elapsed = started.elapsed();
    let outcome = OUTCOME
        .take()
        .filter(|(d, _)| *d == depth)
        .map(|(_, text)| text);
    match result {
        Ok(value) => {
            let text = outcome.unwrap_or_else(|| "done".to_owned());
            let _ = if elapsed >= Duration::from_secs(1) {
                writeln!(out, "{text} ({})", duration(elapsed))
            } else {
                writeln!(out, "{text}")
            };
            Ok(value)
        }
        Err(e) => {
            let _ = writeln!(out, "failed ({})", duration(elapsed));
            if let Some((path, text)) = log_since(offset)
                && !text.trim().is_empty()
            {
                let _ = writeln!(out, "---- output of this step ({}) ----", path.display());
                let _ = out.write_all(text.as_bytes());
                if !text.ends_with('\n') {
                    let _ = writeln!(out);
                }
                let _ = writeln!(out, "---- end of the output ----");
            }
            Err(e)
        }
    }
}

/// What the running step prints instead of "done" ("already installed").
/// Ignored in a nested step: the enclosing step's line speaks for it.
pub fn outcome(text: impl Into<String>) {
    let depth = DEPTH.get();
    if depth == 1 {
        OUTCOME.set(Some((depth, text.into())));
    }
}

/// `1.2s`, `42s`, `2m40s`.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 10 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 60 {
        format!("{secs}s")
    } else {
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

fn log_len() -> u64 {
    LOG.with_borrow(|log| {
        log.as_ref()
            .and_then(|l| l.file.metadata().ok())
            .map_or(0, |m| m.len())
    })
}

/// The log's path and its text from `offset` on.
fn log_since(offset: u64) -> Option<(PathBuf, String)> {
    LOG.with_borrow_mut(|log| {
        let log = log.as_mut()?;
        let mut file = File::open(&log.path).ok()?;
        file.seek(SeekFrom::Start(offset)).ok()?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        Some((
            log.path.clone(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    })
}

/// A line in the log (on stderr when no log is open).
pub fn note(text: &str) {
    let written = LOG.with_borrow_mut(|log| {
        log.as_mut()
            .map(|l| writeln!(l.file, "{text}").is_ok())
            .unwrap_or(false)
    });
    if !written {
        eprintln!("xtask: {text}");
    }
}

/// Where a command's output goes: the log, or this process's own stderr
/// when no log is open.
pub fn log_stdio() -> Stdio {
    LOG.with_borrow(|log| {
        log.as_ref()
            .and_then(|l| l.file.try_clone().ok())
            .map_or_else(Stdio::inherit, Stdio::from)
    })
}

/// Runs `cmd` with its stdout and stderr in the log; fails on a non-zero
/// exit, naming the command.
pub fn exec(cmd: &mut Command) -> anyhow::Result<()> {
    note(&format!("$ {}", shown(cmd)));
    let status = cmd
        .stdin(Stdio::null())
        .stdout(log_stdio())
        .stderr(log_stdio())
        .status()
        .with_context(|| format!("cannot start {}", shown(cmd)))?;
    ensure!(status.success(), "{} failed: {status}", shown(cmd));
    Ok(())
}

/// Runs `cmd` and returns its stdout; its stderr goes to the log. Fails on a
/// non-zero exit, naming the command.
pub fn output(cmd: &mut Command) -> anyhow::Result<String> {
    note(&format!("$ {}", shown(cmd)));
    let out = cmd
        .stdin(Stdio::null())
        .stderr(log_stdio())
        .output()
        .with_context(|| format!("cannot start {}", shown(cmd)))?;
    ensure!(
        out.status.success(),
        "{} failed: {}",
        shown(cmd),
        out.status
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `program arg…`, for messages.
pub fn shown(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log of its own in a fresh directory (each test runs on a thread of
    /// its own, and the log is per thread).
    fn test_log(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-step-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("test.log");
        open(&path).unwrap();
        path
    }

    fn printed(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_step_is_one_line_whatever_its_commands_print() {
        let log = test_log("quiet");
        let mut out = Vec::new();
        run_to(&mut out, "counting to 200", || {
            exec(Command::new("sh").args(["-c", "seq 100; seq 100 >&2"]))?;
            let text = output(Command::new("sh").args(["-c", "echo result; echo noise >&2"]))?;
            assert_eq!(text, "result\n");
            Ok(())
        })
        .unwrap();
        assert_eq!(printed(out), "counting to 200… done\n");
        let logged = fs::read_to_string(&log).unwrap();
        assert!(logged.contains("== counting to 200\n"), "{logged}");
        assert!(
            logged.contains("\n100\n") && logged.contains("noise"),
            "{logged}"
        );
        assert_eq!(logged.lines().filter(|l| *l == "57").count(), 2);
    }

    #[test]
    fn a_failed_step_shows_its_own_output_in_full_and_the_error() {
        let log = test_log("failed");
        let mut out = Vec::new();
        run_to(&mut out, "first", || {
            exec(Command::new("sh").args(["-c", "echo from the first step"]))
        })
        .unwrap();
        let err = run_to(&mut out, "second", || {
            exec(Command::new("sh").args(["-c", "seq 300; echo broken >&2; exit 3"]))
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("exit status: 3"), "{err:#}");
        let text = printed(out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "first… done");
        assert!(lines[1].starts_with("second… failed ("), "{}", lines[1]);
        assert_eq!(
            lines[2],
            format!("---- output of this step ({}) ----", log.display())
        );
        // All of this step's output, none of the first step's.
        assert!(text.contains("\n1\n2\n3\n") && text.contains("\n300\nbroken\n"));
        assert!(!text.contains("from the first step"));
        assert_eq!(*lines.last().unwrap(), "---- end of the output ----");
    }

    #[test]
    fn nested_steps_print_nothing_and_their_outcome_is_not_the_enclosing_ones() {
        let log = test_log("nested");
        let mut out = Vec::new();
        run_to(&mut out, "outer", || {
            run_to(&mut std::io::sink(), "inner", || {
                outcome("already installed");
                Ok(())
            })?;
            // The inner step writes nothing to its own output either.
            Ok(())
        })
        .unwrap();
        run_to(&mut out, "checking", || {
            outcome("already installed");
            Ok(())
        })
        .unwrap();
        assert_eq!(printed(out), "outer… done\nchecking… already installed\n");
        assert!(fs::read_to_string(&log).unwrap().contains("==== inner\n"));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(duration(Duration::from_secs(42)), "42s");
        assert_eq!(duration(Duration::from_secs(160)), "2m40s");
        assert_eq!(duration(Duration::from_secs(3605)), "60m05s");
    }
}
