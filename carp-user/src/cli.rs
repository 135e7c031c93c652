//! The command line: every ucarp option with the same short and long names,
//! defaults and meaning, plus xcarp's additions.
//!
//! Parsing is stricter than ucarp's where ucarp is silently wrong: numbers
//! out of range are errors instead of wrapping, and every error names the
//! option and what it accepts. Long options may be abbreviated to any
//! unambiguous prefix, as with getopt_long (`--adv` is ambiguous, `--advb`
//! is `--advbase`).
use std::{
    ffi::OsString,
    fmt,
    io::Read,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::{ArgMatches, CommandFactory as _, FromArgMatches as _, Parser};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::xdp::AttachMode;

/// Default CARP multicast group.
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// ucarp's limit: the key is copied with its NUL into a 20-byte buffer.
pub const MAX_PASSWORD_LEN: usize = 19;
/// ucarp reads at most this many characters of a password file's first line.
pub const MAX_PASSFILE_LINE: usize = 511;

/// xcarp: share a virtual IP address between hosts with CARP (drop-in for
/// ucarp).
#[derive(Parser, Debug)]
#[command(
    name = "xcarp",
    version,
    infer_long_args = true,
    // getopt: a repeated option replaces the earlier value (`-a x -a y` is y).
    args_override_self = true,
    // Every option that takes a value has allow_hyphen_values: like getopt,
    // the next word is the value even when it starts with '-'.
    after_help = "Sample usage:\n\n\
        xcarp -i eth0 -v 42 -p love -a 10.1.1.252 -s 10.1.1.1 \\\n      \
        -u /etc/vip-up.sh -d /etc/vip-down.sh\n\n\
        The virtual address 10.1.1.252 is shared by every host running xcarp (or ucarp)\n\
        with vhid 42 and password 'love' on that LAN; the scripts get\n\
        `<interface> <address> [xparam]` and add or remove the address."
)]
pub struct Cli {
    /// bind interface <if> (default: the first interface that is up, not loopback)
    #[arg(
        short = 'i',
        long = "interface",
        allow_hyphen_values = true,
        value_name = "if"
    )]
    pub interface: Option<String>,

    /// source (real) IP address of that host
    #[arg(short = 's', long = "srcip", allow_hyphen_values = true, value_name = "ip", value_parser = parse_ipv4)]
    pub srcip: Option<Ipv4Addr>,

    /// multicast group IP address (default 224.0.0.18)
    #[arg(short = 'm', long = "mcast", visible_alias = "mcastip", allow_hyphen_values = true, value_name = "ip",
          value_parser = parse_multicast)]
    pub mcast: Option<Ipv4Addr>,

    /// virtual IP identifier (1-255)
    #[arg(short = 'v', long = "vhid", allow_hyphen_values = true, value_name = "id", value_parser = parse_vhid)]
    pub vhid: Option<u8>,

    /// password (at most 19 bytes; visible in ps: prefer --passfile)
    #[arg(short = 'p', long = "pass", allow_hyphen_values = true, value_name = "pass",
          value_parser = parse_password)]
    pub pass: Option<Password>,

    /// read password from file (its first line)
    #[arg(
        short = 'o',
        long = "passfile",
        allow_hyphen_values = true,
        value_name = "file"
    )]
    pub passfile: Option<PathBuf>,

    /// becomes a master as soon as possible
    #[arg(short = 'P', long = "preempt")]
    pub preempt: bool,

    /// don't run downscript at start if backup
    #[arg(short = 'n', long = "neutral")]
    pub neutral: bool,

    /// virtual shared IP address
    #[arg(short = 'a', long = "addr", allow_hyphen_values = true, value_name = "ip", value_parser = parse_ipv4)]
    pub addr: Option<Ipv4Addr>,

    /// advertisement frequency (0-255 seconds, default 1)
    #[arg(short = 'b', long = "advbase", allow_hyphen_values = true, value_name = "seconds",
          value_parser = parse_advbase)]
    pub advbase: Option<u8>,

    /// advertisement skew (0-255, in 1/256 s, default 0)
    #[arg(short = 'k', long = "advskew", allow_hyphen_values = true, value_name = "skew", value_parser = parse_advskew)]
    pub advskew: Option<u8>,

    /// run <file> to become a master
    #[arg(
        short = 'u',
        long = "upscript",
        allow_hyphen_values = true,
        value_name = "file"
    )]
    pub upscript: Option<PathBuf>,

    /// run <file> to become a backup
    #[arg(
        short = 'd',
        long = "downscript",
        allow_hyphen_values = true,
        value_name = "file"
    )]
    pub downscript: Option<PathBuf>,

    /// ratio to consider a host as dead (default 3)
    #[arg(short = 'r', long = "deadratio", allow_hyphen_values = true, value_name = "ratio", value_parser = parse_deadratio)]
    pub deadratio: Option<u32>,

    /// enable debug output
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,

    /// call shutdown script at exit
    #[arg(short = 'z', long = "shutdown")]
    pub shutdown: bool,

    /// run in background
    #[arg(short = 'B', long = "daemonize")]
    pub daemonize: bool,

    /// ignore interface state (down, no carrier)
    #[arg(short = 'S', long = "ignoreifstate")]
    pub ignoreifstate: bool,

    /// use broadcast (instead of multicast) advertisements
    #[arg(short = 'M', long = "nomcast")]
    pub nomcast: bool,

    /// set syslog facility (default=daemon; `none` disables syslog)
    #[arg(short = 'f', long = "facility", allow_hyphen_values = true, value_name = "facility", value_parser = parse_facility)]
    pub facility: Option<Facility>,

    /// extra parameter to send to up/down scripts
    #[arg(
        short = 'x',
        long = "xparam",
        allow_hyphen_values = true,
        value_name = "value"
    )]
    pub xparam: Option<String>,

    /// [xcarp] how to attach the XDP program: driver mode with skb fallback
    /// (auto), driver only, or skb (generic) only. In auto, if another
    /// program (such as the xcarp of another VHID) holds the interface's XDP
    /// slot, adverts are received through a socket filter instead
    #[arg(long = "xdp-mode", value_name = "mode", value_enum, default_value_t)]
    pub xdp_mode: AttachMode,

    /// [xcarp] kill an up/down script still running after this many seconds
    /// (1-3600, default 10)
    #[arg(long = "script-timeout", value_name = "seconds", value_parser = parse_script_timeout)]
    pub script_timeout: Option<u64>,

    /// [xcarp] write the daemon's pid to <file> (removed at exit); refuses to
    /// start if another running xcarp holds it
    #[arg(long = "pidfile", value_name = "file")]
    pub pidfile: Option<PathBuf>,

    /// [xcarp] equal-interval tie-break between two masters: `ucarp` (as ucarp
    /// on x86: compares addresses with octets reversed; keep it in clusters
    /// with ucarp) or `numeric` (lower address wins, as documented by ucarp)
    #[arg(long = "tie-break", value_name = "rule", value_enum, default_value_t)]
    pub tie_break: TieBreakArg,

    /// [xcarp] `on` (default): number adverts in a stream of our own and drop
    /// received adverts whose counter is not newer than the last of their
    /// stream (replays); `off`: ucarp's counters, no check
    #[arg(
        long = "replay-protection",
        value_name = "on|off",
        value_enum,
        default_value_t
    )]
    pub replay_protection: Switch,
}

/// An `on`/`off` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    #[default]
    On,
    Off,
}

/// `--tie-break`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TieBreakArg {
    #[default]
    Ucarp,
    Numeric,
}

/// A syslog facility, or none.
#[derive(Clone, Copy, Debug)]
pub enum Facility {
    None,
    Syslog(syslog::Facility),
}

impl PartialEq for Facility {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::None, Self::None) => true,
            // syslog::Facility is a plain C-like enum without PartialEq.
            (Self::Syslog(a), Self::Syslog(b)) => *a as i32 == *b as i32,
            _ => false,
        }
    }
}

impl Eq for Facility {}

/// A password: never printed, not even in debug output, and overwritten
/// with zeros when dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Hands the password over and leaves an empty one, so that the daemon
    /// can drop it (and wipe it) as soon as the HMAC key is derived.
    #[must_use]
    pub fn take(&mut self) -> Self {
        std::mem::take(self)
    }
}

// The only field is a `Zeroizing`, which wipes the bytes on drop.
impl ZeroizeOnDrop for Password {}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The validated configuration the daemon runs with.
#[derive(Clone, Debug)]
pub struct Config {
    pub interface: Option<String>,
    pub srcip: Ipv4Addr,
    pub group: Ipv4Addr,
    pub vhid: u8,
    pub password: Password,
    pub preempt: bool,
    pub neutral: bool,
    pub vip: Ipv4Addr,
    /// The address exactly as typed, passed to the scripts (as ucarp does).
    pub vip_arg: String,
    pub advbase: u8,
    pub advskew: u8,
    pub upscript: Option<PathBuf>,
    pub downscript: Option<PathBuf>,
    pub deadratio: u32,
    pub debug: bool,
    pub shutdown: bool,
    pub daemonize: bool,
    pub ignore_ifstate: bool,
    pub nomcast: bool,
    pub facility: Facility,
    pub xparam: Option<String>,
    pub xdp_mode: AttachMode,
    pub script_timeout: Duration,
    pub pidfile: Option<PathBuf>,
    pub tie_break: TieBreakArg,
    /// `--replay-protection` (docs/xdp.md, "Freshness").
    pub replay_protection: bool,
    /// Problems that do not stop the daemon (a password file others can
    /// read), to log once logging is set up.
    pub warnings: Vec<String>,
}

/// A command-line problem: the message names the option and what it accepts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What parsing the command line decided.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Config>),
    /// Help or version text to print, then exit 0.
    Print(String),
}

/// Parses and validates a command line (`args[0]` is the program name).
pub fn parse<I, T>(args: I) -> Result<Parsed, UsageError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // ucarp prints its usage and exits 0 when called without arguments.
    if args.len() <= 1 {
        return Ok(Parsed::Print(Cli::command().render_help().to_string()));
    }
    let matches = match Cli::command().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
            return match e.kind() {
                DisplayHelp | DisplayVersion => Ok(Parsed::Print(e.to_string())),
                _ => Err(UsageError(e.render().to_string().trim_end().to_owned())),
            };
        }
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| UsageError(e.to_string()))?;
    let vip_arg = raw_value(&matches, "addr").unwrap_or_default();
    validate(cli, &matches, vip_arg).map(|c| Parsed::Run(Box::new(c)))
}

fn raw_value(matches: &ArgMatches, id: &str) -> Option<String> {
    matches
        .get_raw(id)
        .and_then(|mut v| v.next_back())
        .map(|v| v.to_string_lossy().into_owned())
}

fn validate(cli: Cli, matches: &ArgMatches, vip_arg: String) -> Result<Config, UsageError> {
    let err = |m: &str| Err(UsageError(m.to_owned()));
    let Some(vhid) = cli.vhid else {
        return err("You must supply a valid virtual host id (--vhid, 1-255)");
    };
    let Some(srcip) = cli.srcip else {
        return err("You must supply a persistent source address (--srcip)");
    };
    let Some(vip) = cli.addr else {
        return err("You must supply a virtual host address (--addr)");
    };
    // `-p` and `-o` may both be given: as with ucarp, the last one wins.
    let pass_index = matches.index_of("pass");
    let file_index = matches.index_of("passfile");
    let mut warnings = Vec::new();
    let password = match (cli.pass, cli.passfile) {
        (None, None) => return err("You must supply a password (--pass or --passfile)"),
        (Some(p), None) => p,
        (None, Some(f)) => read_passfile(&f, &mut warnings)?,
        (Some(p), Some(f)) => {
            if pass_index > file_index {
                p
            } else {
                read_passfile(&f, &mut warnings)?
            }
        }
    };
    let password_len = password.as_bytes().len();
    if password_len > MAX_PASSWORD_LEN {
        return Err(UsageError(format!(
            "Password too long: {password_len} bytes, at most {MAX_PASSWORD_LEN} (--pass/--passfile)"
        )));
    }
    if password_len == 0 {
        return err("You must supply a password: the password is empty (--pass/--passfile)");
    }
    let advbase = cli.advbase.unwrap_or(1);
    let advskew = cli.advskew.unwrap_or(0);
    if advbase == 0 && advskew == 0 {
        return err(
            "You must supply an advertisement time base: --advbase and --advskew cannot both be 0",
        );
    }
    if srcip == vip {
        return err(
            "--srcip and --addr must differ: the source address is the host's own, the virtual address is shared",
        );
    }
    // `--daemonize` changes directory to /, and scripts run (and the pid
    // file is written) after that: a relative path must mean what it meant
    // where xcarp was started.
    let upscript = cli
        .upscript
        .map(|p| absolute("--upscript", &p))
        .transpose()?;
    let downscript = cli
        .downscript
        .map(|p| absolute("--downscript", &p))
        .transpose()?;
    let pidfile = cli.pidfile.map(|p| absolute("--pidfile", &p)).transpose()?;
    for (option, script) in [("--upscript", &upscript), ("--downscript", &downscript)] {
        if let Some(path) = script {
            check_script(option, path)?;
        }
    }
    Ok(Config {
        interface: cli.interface,
        srcip,
        group: cli.mcast.unwrap_or(DEFAULT_GROUP),
        vhid,
        password,
        preempt: cli.preempt,
        neutral: cli.neutral,
        vip,
        vip_arg,
        advbase,
        advskew,
        upscript,
        downscript,
        deadratio: cli.deadratio.unwrap_or(3),
        debug: cli.debug,
        shutdown: cli.shutdown,
        daemonize: cli.daemonize,
        ignore_ifstate: cli.ignoreifstate,
        nomcast: cli.nomcast,
        facility: cli
            .facility
            .unwrap_or(Facility::Syslog(syslog::Facility::LOG_DAEMON)),
        xparam: cli.xparam,
        xdp_mode: cli.xdp_mode,
        script_timeout: Duration::from_secs(cli.script_timeout.unwrap_or(10)),
        pidfile,
        tie_break: cli.tie_break,
        replay_protection: cli.replay_protection == Switch::On,
        warnings,
    })
}

fn absolute(option: &str, path: &Path) -> Result<PathBuf, UsageError> {
    std::path::absolute(path).map_err(|e| UsageError(format!("{option} {}: {e}", path.display())))
}

/// Why a password file's content gives no password.
#[derive(Debug, thiserror::Error)]
pub enum PassfileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("its first line is longer than {MAX_PASSFILE_LINE} bytes")]
    LineTooLong,
}

/// A password file's content, read as ucarp reads it: the first line, cut at
/// the first newline, a trailing `\r` kept (so a file written on Windows gives
/// the same key as with ucarp). A NUL byte ends the password too: ucarp
/// copies the line as a C string.
///
/// Reads at most [`MAX_PASSFILE_LINE`] + 1 bytes, whatever the source's size:
/// a line that has not ended by then is an error (no password is that long).
///
/// # Errors
/// A read error, or a first line longer than [`MAX_PASSFILE_LINE`] bytes.
pub fn passfile_line(mut reader: impl Read) -> Result<Password, PassfileError> {
    let mut buf = Zeroizing::new([0u8; MAX_PASSFILE_LINE + 1]);
    let mut len = 0;
    let ends_line = |b: &u8| *b == b'\n' || *b == 0;
    while len < buf.len() {
        match reader.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if buf[len - n..len].iter().any(ends_line) {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let read = &buf[..len];
    let line = match read.iter().position(ends_line) {
        Some(end) => &read[..end],
        None if len < buf.len() => read,
        None => return Err(PassfileError::LineTooLong),
    };
    Ok(Password(Zeroizing::new(line.to_vec())))
}

/// `--passfile`: a regular file only. A device (`/dev/urandom` never ends)
/// or a FIFO (which may never get a writer) could hold the start forever;
/// the path is opened non-blocking, so that even a FIFO opens at once, and
/// then refused. A file that group or other users can read is allowed (ucarp
/// reads it) but gets a warning.
fn read_passfile(path: &Path, warnings: &mut Vec<String>) -> Result<Password, UsageError> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let fail = |what: &dyn fmt::Display| {
        UsageError(format!(
            "cannot read password file {} (--passfile): {what}",
            path.display()
        ))
    };
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| fail(&e))?;
    let meta = file.metadata().map_err(|e| fail(&e))?;
    if !meta.is_file() {
        return Err(fail(&"not a regular file"));
    }
    let mode = meta.permissions().mode();
    if mode & 0o044 != 0 {
        warnings.push(format!(
            "password file {} is readable by other users (mode {:04o}): chmod go-rwx it (--passfile)",
            path.display(),
            mode & 0o7777
        ));
    }
    passfile_line(file).map_err(|e| fail(&e))
}

/// Scripts run without a shell, so they must exist and be executable; finding
/// out at the first failover would be too late.
fn check_script(option: &str, path: &Path) -> Result<(), UsageError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path)
        .map_err(|e| UsageError(format!("{option} {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(UsageError(format!(
            "{option} {}: not a regular file",
            path.display()
        )));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(UsageError(format!(
            "{option} {}: not executable (it is run without a shell: chmod +x it and give it a #! line)",
            path.display()
        )));
    }
    Ok(())
}

/// An unsigned number as C's `strtoul(s, _, 0)` reads it: `0x` hex, leading
/// `0` octal, else decimal. ucarp parses its numbers this way.
fn parse_c_number(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

fn parse_ranged(s: &str, what: &str, min: u64, max: u64) -> Result<u64, String> {
    match parse_c_number(s) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{what} must be a number between {min} and {max}")),
    }
}

fn parse_vhid(s: &str) -> Result<u8, String> {
    parse_ranged(s, "vhid", 1, 255).map(|n| n as u8)
}

fn parse_advbase(s: &str) -> Result<u8, String> {
    parse_ranged(s, "advbase (seconds)", 0, 255).map(|n| n as u8)
}

fn parse_advskew(s: &str) -> Result<u8, String> {
    parse_ranged(s, "advskew", 0, 255).map(|n| n as u8)
}

fn parse_deadratio(s: &str) -> Result<u32, String> {
    parse_ranged(s, "deadratio", 1, 255).map(|n| n as u32)
}

fn parse_script_timeout(s: &str) -> Result<u64, String> {
    parse_ranged(s, "script timeout (seconds)", 1, 3600)
}

/// `--pass`, kept in a [`Password`] so that even the parsed command line
/// never shows it.
fn parse_password(s: &str) -> Result<Password, String> {
    Ok(Password(Zeroizing::new(s.as_bytes().to_vec())))
}

fn parse_ipv4(s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("Invalid address: [{s}] (expected a dotted-quad IPv4 address)"))
}

fn parse_multicast(s: &str) -> Result<Ipv4Addr, String> {
    let ip = parse_ipv4(s)?;
    if ip.is_multicast() {
        Ok(ip)
    } else {
        Err(format!("{s} is not a multicast address (224.0.0.0/4)"))
    }
}

fn parse_facility(s: &str) -> Result<Facility, String> {
    use syslog::Facility as F;
    let f = match s.to_ascii_lowercase().as_str() {
        "none" => return Ok(Facility::None),
        "auth" => F::LOG_AUTH,
        "authpriv" => F::LOG_AUTHPRIV,
        "cron" => F::LOG_CRON,
        "daemon" => F::LOG_DAEMON,
        "ftp" => F::LOG_FTP,
        "kern" => F::LOG_KERN,
        "lpr" => F::LOG_LPR,
        "mail" => F::LOG_MAIL,
        "news" => F::LOG_NEWS,
        "syslog" => F::LOG_SYSLOG,
        "user" => F::LOG_USER,
        "uucp" => F::LOG_UUCP,
        "local0" => F::LOG_LOCAL0,
        "local1" => F::LOG_LOCAL1,
        "local2" => F::LOG_LOCAL2,
        "local3" => F::LOG_LOCAL3,
        "local4" => F::LOG_LOCAL4,
        "local5" => F::LOG_LOCAL5,
        "local6" => F::LOG_LOCAL6,
        "local7" => F::LOG_LOCAL7,
        _ => {
            return Err(format!(
                "Unknown syslog facility: [{s}] (expected none, auth, authpriv, cron, daemon, ftp, kern, lpr, mail, news, syslog, user, uucp or local0-local7)"
            ));
        }
    };
    Ok(Facility::Syslog(f))
}

#[cfg(test)]
mod tests;
