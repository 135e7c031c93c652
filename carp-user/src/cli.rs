//! The command line: every ucarp option with the same short and long names,
//! defaults and meaning, plus xcarp's additions, and the subcommands
//! (`check-config`, `import-ucarp`).
//!
//! Parsing is stricter than ucarp's where ucarp is silently wrong: numbers
//! out of range are errors instead of wrapping, and every error names the
//! option and what it accepts. Long options may be abbreviated to any
//! unambiguous prefix, as with getopt_long (`--adv` is ambiguous, `--advb`
//! is `--advbase`).
//!
//! The command line is one front end of the configuration model
//! ([`crate::config`]): it gives a [`Settings`] with one instance, or, with
//! `--config FILE`, the file's.
#[cfg(test)]
mod single;

use std::{
    ffi::OsString,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::{
    ArgMatches, CommandFactory as _, FromArgMatches as _, Parser,
    builder::{PossibleValuesParser, TypedValueParser as _},
    parser::ValueSource,
};

pub use crate::config::{
    DEFAULT_GROUP, Facility, MAX_PASSFILE_LINE, MAX_PASSWORD_LEN, PassfileError, Password,
    TieBreak as TieBreakArg, passfile_line,
};
use crate::config::{
    Global, Instance, Settings, TieBreak, VirtualAddress, XdpMode, file, range, read_passfile,
    readable_by_others,
};
#[cfg(test)]
use single::Config;

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
        `<interface> <address> [xparam]` and add or remove the address.\n\n\
        Other forms:\n  \
        xcarp --config FILE           run the instances a configuration file describes\n  \
        xcarp check-config FILE       check a configuration file (and this host), run nothing\n  \
        xcarp import-ucarp DIR [-o F] convert /etc/ucarp (vip-*.conf) to a configuration file"
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
          value_parser = clap::builder::OsStringValueParser::new().map(parse_password))]
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
    #[arg(long = "xdp-mode", value_name = "mode", default_value = "auto",
          value_parser = PossibleValuesParser::new(XdpMode::NAMES)
              .map(|s: String| XdpMode::from_name(&s).unwrap_or_default()))]
    pub xdp_mode: XdpMode,

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
    #[arg(long = "tie-break", value_name = "rule", default_value = "ucarp",
          value_parser = PossibleValuesParser::new(TieBreak::NAMES)
              .map(|s: String| TieBreak::from_name(&s).unwrap_or_default()))]
    pub tie_break: TieBreak,

    /// [xcarp] run the instances described by this configuration file
    /// (format: /usr/share/doc/xcarp/config.md.gz) instead of one from the
    /// options above; only --debug and --daemonize may go with it
    #[arg(long = "config", value_name = "file")]
    pub config: Option<PathBuf>,

    /// [xcarp] `on` (default): number adverts in a stream of our own and drop
    /// replays of received adverts (old values of a protected counter
    /// stream, repeats of adverts whose sender moved on); `off`: ucarp's
    /// counters, no check
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

/// A command-line problem: the message names the option and what it accepts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What parsing the command line decided.
#[derive(Debug)]
pub enum Parsed {
    /// Run these instances (from the options, or from `--config`).
    Run(Box<Settings>),
    /// `xcarp check-config [--offline] FILE`.
    CheckConfig {
        file: PathBuf,
        /// Skip the checks against this host (its interfaces).
        offline: bool,
    },
    /// `xcarp import-ucarp DIR [-o FILE]`.
    ImportUcarp {
        dir: PathBuf,
        output: Option<PathBuf>,
    },
    /// Help or version text to print, then exit 0.
    Print(String),
}

/// `xcarp check-config`: checks a configuration file as `xcarp --config`
/// would read it (values, duplicates, password files, scripts) and against
/// this host (its interfaces), runs nothing.
#[derive(Parser, Debug)]
#[command(name = "xcarp check-config", version)]
struct CheckConfigArgs {
    /// skip the checks against this host (the interfaces exist): for a file
    /// checked on another machine than the one that runs it
    #[arg(long)]
    offline: bool,
    /// the configuration file (format: /usr/share/doc/xcarp/config.md.gz)
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// `xcarp import-ucarp`: converts an EPEL-style ucarp configuration
/// directory (vip-common.conf and vip-NNN.conf) into an xcarp configuration
/// file. Settings that cannot be carried over are reported on stderr.
#[derive(Parser, Debug)]
#[command(name = "xcarp import-ucarp", version)]
struct ImportUcarpArgs {
    /// the ucarp configuration directory, usually /etc/ucarp
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// write the configuration to FILE instead of standard output
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

/// The first word that selects a subcommand instead of ucarp's options
/// (ucarp takes no positional argument, so no ucarp command line starts
/// with one).
fn subcommand(args: &[OsString]) -> Option<&str> {
    args.get(1)
        .and_then(|a| a.to_str())
        .filter(|a| matches!(*a, "check-config" | "import-ucarp"))
}

/// Parses a subcommand's own arguments (`args[1]` is its name).
fn parse_subcommand<P: Parser>(args: &[OsString]) -> Result<P, Result<Parsed, UsageError>> {
    P::try_parse_from(&args[1..]).map_err(|e| {
        use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
        match e.kind() {
            DisplayHelp | DisplayVersion => Ok(Parsed::Print(e.to_string())),
            _ => Err(UsageError(e.render().to_string().trim_end().to_owned())),
        }
    })
}

/// Parses and validates a command line (`args[0]` is the program name).
pub fn parse<I, T>(args: I) -> Result<Parsed, UsageError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    match subcommand(&args) {
        Some("check-config") => {
            return match parse_subcommand::<CheckConfigArgs>(&args) {
                Ok(a) => Ok(Parsed::CheckConfig {
                    file: a.file,
                    offline: a.offline,
                }),
                Err(done) => done,
            };
        }
        Some(_) => {
            return match parse_subcommand::<ImportUcarpArgs>(&args) {
                Ok(a) => Ok(Parsed::ImportUcarp {
                    dir: a.dir,
                    output: a.output,
                }),
                Err(done) => done,
            };
        }
        None => {}
    }
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
    if let Some(path) = &cli.config {
        return from_file(path, &cli, &matches).map(|s| Parsed::Run(Box::new(s)));
    }
    let vip_arg = raw_value(&matches, "addr").unwrap_or_default();
    validate(cli, &matches, vip_arg).map(|c| Parsed::Run(Box::new(c)))
}

/// Options that may go with `--config`: how this process runs, not what it
/// runs.
const WITH_CONFIG: [&str; 3] = ["config", "debug", "daemonize"];

/// `--config FILE`: the file describes every instance and the global
/// settings, so the options that describe them are refused rather than
/// silently ignored or merged.
fn from_file(path: &Path, cli: &Cli, matches: &ArgMatches) -> Result<Settings, UsageError> {
    let command = Cli::command();
    let given: Vec<String> = command
        .get_arguments()
        .filter(|a| !WITH_CONFIG.contains(&a.get_id().as_str()))
        .filter(|a| matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    if !given.is_empty() {
        return Err(UsageError(format!(
            "--config cannot be used with {}: the configuration file describes the instances and \
             the global settings (put them in the file, or leave out --config to run one instance \
             from the command line); only --debug and --daemonize go with --config",
            given.join(", ")
        )));
    }
    let mut settings = file::load(path).map_err(|e| UsageError(e.to_string()))?;
    settings.global.debug |= cli.debug;
    settings.global.daemonize = cli.daemonize;
    settings.global.config_file = Some(
        std::path::absolute(path)
            .map_err(|e| UsageError(format!("--config {}: {e}", path.display())))?,
    );
    Ok(settings)
}

/// Why [`parse_ucarp_words`] did not parse.
#[derive(Debug)]
pub(crate) enum WordsError {
    /// A word that is neither an option nor an option's value: ucarp's
    /// getopt leaves such words aside and ucarp ignores them.
    Stray(String),
    Usage(UsageError),
}

/// ucarp's options as ucarp's getopt would take them (`words` without the
/// program name), with the value checks of each option but none of the
/// checks that need the other options or open files: for import-ucarp,
/// which reads the options of ucarp's configuration files.
pub(crate) fn parse_ucarp_words(words: &[String]) -> Result<(Cli, ArgMatches), WordsError> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let args = std::iter::once("xcarp".to_owned()).chain(words.iter().cloned());
    let matches = Cli::command().try_get_matches_from(args).map_err(|e| {
        if e.kind() == ErrorKind::UnknownArgument
            && let Some(ContextValue::String(word)) = e.get(ContextKind::InvalidArg)
            && !word.starts_with('-')
        {
            return WordsError::Stray(word.clone());
        }
        WordsError::Usage(match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                UsageError("asks for help or the version: ucarp prints it and exits".into())
            }
            _ => UsageError(first_line(&e.render().to_string())),
        })
    })?;
    let cli = Cli::from_arg_matches(&matches)
        .map_err(|e| WordsError::Usage(UsageError(e.to_string())))?;
    Ok((cli, matches))
}

/// clap's error without its usage and hint lines.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

pub(crate) fn raw_value(matches: &ArgMatches, id: &str) -> Option<String> {
    matches
        .get_raw(id)
        .and_then(|mut v| v.next_back())
        .map(|v| v.to_string_lossy().into_owned())
}

fn validate(cli: Cli, matches: &ArgMatches, vip_arg: String) -> Result<Settings, UsageError> {
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
    let (password, passfile) = match (cli.pass, cli.passfile) {
        (None, None) => return err("You must supply a password (--pass or --passfile)"),
        (Some(p), None) => (p, None),
        (Some(p), Some(_)) if pass_index > file_index => (p, None),
        (_, Some(f)) => {
            let password = passfile_password(&f, &mut warnings)?;
            (password, Some(absolute("--passfile", &f)?))
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
    let advbase = cli.advbase.unwrap_or(crate::config::DEFAULT_ADVBASE);
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
            for warning in crate::config::exposure::script_exposure(path) {
                warnings.push(format!("{warning} ({option})"));
            }
        }
    }
    let instance = Instance {
        name: Instance::default_name(cli.interface.as_deref(), 0, vhid),
        interface: cli.interface,
        vlan: 0,
        vhid,
        srcip,
        addresses: vec![VirtualAddress {
            addr: vip,
            typed: vip_arg,
        }],
        group: cli.mcast.unwrap_or(DEFAULT_GROUP),
        nomcast: cli.nomcast,
        password,
        passfile,
        advbase,
        advskew,
        deadratio: cli.deadratio.unwrap_or(crate::config::DEFAULT_DEADRATIO),
        preempt: cli.preempt,
        neutral: cli.neutral,
        shutdown: cli.shutdown,
        ignore_ifstate: cli.ignoreifstate,
        upscript,
        downscript,
        xparam: cli.xparam,
        xdp_mode: cli.xdp_mode,
        tie_break: cli.tie_break,
        replay_protection: cli.replay_protection == Switch::On,
        // Health checks come from the configuration file only.
        checks: Vec::new(),
        track_interfaces: Vec::new(),
    };
    let global = Global {
        facility: cli.facility.unwrap_or_default(),
        pidfile,
        script_timeout: cli
            .script_timeout
            .map_or(crate::config::DEFAULT_SCRIPT_TIMEOUT, Duration::from_secs),
        debug: cli.debug,
        daemonize: cli.daemonize,
        ..Global::default()
    };
    Ok(Settings {
        global,
        instances: vec![instance],
        warnings,
    })
}

fn absolute(option: &str, path: &Path) -> Result<PathBuf, UsageError> {
    std::path::absolute(path).map_err(|e| UsageError(format!("{option} {}: {e}", path.display())))
}

/// `--passfile`: read as ucarp reads it (`config::passfile_line`), a
/// regular file only; a file that group or other users can read is allowed
/// (ucarp reads it) but gets a warning.
fn passfile_password(path: &Path, warnings: &mut Vec<String>) -> Result<Password, UsageError> {
    let (password, mode) = read_passfile(path).map_err(|e| {
        UsageError(format!(
            "cannot read password file {} (--passfile): {e}",
            path.display()
        ))
    })?;
    if readable_by_others(mode) {
        warnings.push(format!(
            "password file {} is readable by other users (mode {mode:04o}): chmod go-rwx it (--passfile)",
            path.display(),
        ));
    }
    Ok(password)
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

fn parse_in(s: &str, what: &str, accepted: &std::ops::RangeInclusive<u64>) -> Result<u64, String> {
    parse_ranged(s, what, *accepted.start(), *accepted.end())
}

fn parse_vhid(s: &str) -> Result<u8, String> {
    parse_in(s, "vhid", &range::VHID).map(|n| n as u8)
}

fn parse_advbase(s: &str) -> Result<u8, String> {
    parse_in(s, "advbase (seconds)", &range::ADVBASE).map(|n| n as u8)
}

fn parse_advskew(s: &str) -> Result<u8, String> {
    parse_in(s, "advskew", &range::ADVSKEW).map(|n| n as u8)
}

fn parse_deadratio(s: &str) -> Result<u32, String> {
    parse_in(s, "deadratio", &range::DEADRATIO).map(|n| n as u32)
}

fn parse_script_timeout(s: &str) -> Result<u64, String> {
    parse_in(s, "script timeout (seconds)", &range::SCRIPT_TIMEOUT)
}

/// `--pass`, kept in a [`Password`] so that even the parsed command line
/// never shows it. Its bytes as given, as ucarp takes them: a password
/// that is not UTF-8 text (typed in Latin-1) is the same key.
fn parse_password(s: OsString) -> Password {
    use std::os::unix::ffi::OsStrExt as _;
    Password::new(s.as_bytes())
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
    Facility::from_name(s).ok_or_else(|| {
        format!(
            "Unknown syslog facility: [{s}] (expected {})",
            Facility::ACCEPTED
        )
    })
}

#[cfg(test)]
mod tests;
