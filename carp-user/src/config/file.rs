//! The configuration file (`xcarp --config FILE`, `xcarp check-config FILE`):
//! TOML, read into the plain model ([`Settings`]). docs/config.md
//! describes the format; docs/xcarp.example.toml shows every key.
//!
//! The document is read with the `toml` crate's spanned tables, and walked
//! here key by key rather than through serde: every error then names its
//! file, line and key and what the key accepts
//! (`FILE:LINE: key `x`: what is wrong (what is accepted)`), unknown keys
//! are refused the way serde's `deny_unknown_fields` would refuse them, and
//! all the errors of a file are reported at once.
use std::{
    collections::HashMap,
    fmt,
    net::{Ipv4Addr, SocketAddr},
    ops::{Range, RangeInclusive},
    path::{Path, PathBuf},
    time::Duration,
};

use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

use super::{
    DEFAULT_GROUP, Facility, Global, Instance, MAX_INSTANCES, MAX_PASSWORD_LEN, Password, Settings,
    TieBreak, VirtualAddress, XdpMode, range, read_passfile, readable_by_others,
};

/// A configuration file larger than this is refused: no sensible one comes
/// near it (255 instances on each of a dozen interfaces take a few hundred
/// KiB), and reading stays bounded whatever the path points at.
pub const MAX_FILE_LEN: u64 = 1 << 20;

use report::{Errors, LineIndex, Warnings};
pub use report::{MAX_REPORTED_ERRORS, MAX_REPORTED_WARNINGS};

/// What reading a file checks beyond its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checks {
    /// Everything `xcarp --config` checks before it starts: password files
    /// are read, scripts must exist and be executable.
    Full,
    /// The text only: no file it names is opened. A password that comes
    /// from a `passfile` is left empty. For tools that produce or transform
    /// configurations (import-ucarp checks its own output this way).
    TextOnly,
}

/// One problem, at a place in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; None for a problem of the file as a whole.
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a configuration file cannot be used: the first
/// [`MAX_REPORTED_ERRORS`] problems found, in the order of the file, and
/// how many more there are. Displayed one problem a line, then
/// "and N more errors".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub diagnostics: Vec<Diagnostic>,
    /// Problems found beyond `diagnostics`, counted only.
    pub more: usize,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if self.more > 0 {
            let s = if self.more == 1 { "" } else { "s" };
            write!(f, "\nand {} more error{s}", self.more)?;
        }
        Ok(())
    }
}

impl ConfigError {
    fn whole_file(file: &Path, message: String) -> Self {
        Self {
            diagnostics: vec![Diagnostic {
                file: file.to_owned(),
                line: None,
                key: None,
                message,
            }],
            more: 0,
        }
    }
}

/// Reads, parses and checks a configuration file as `xcarp --config` does
/// ([`Checks::Full`]).
///
/// # Errors
/// The file cannot be read, or any problem in it (all of them).
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let (text, mode) = read_bounded(path)?;
    parse(&text, path, Checks::Full, Some(mode))
}

/// Parses and checks configuration text that came from `path` (relative
/// paths in it are relative to `path`'s directory).
///
/// # Errors
/// Every problem found.
pub fn parse_str(text: &str, path: &Path, checks: Checks) -> Result<Settings, ConfigError> {
    parse(text, path, checks, None)
}

/// The file's text and permission bits: a regular file only, at most
/// [`MAX_FILE_LEN`] bytes, opened so that a FIFO cannot hang the start.
fn read_bounded(path: &Path) -> Result<(String, u32), ConfigError> {
    use std::{
        io::Read as _,
        os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _},
    };
    let fail = |what: &dyn fmt::Display| {
        ConfigError::whole_file(path, format!("cannot read the configuration file: {what}"))
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
    let too_large = || fail(&format_args!("larger than {MAX_FILE_LEN} bytes"));
    // Refused before reading when its size says so; the bounded read below
    // catches a file that grows meanwhile.
    if meta.len() > MAX_FILE_LEN {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(&e))?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(too_large());
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        fail(&format_args!(
            "not UTF-8 text (byte {}), as TOML must be",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok((text, meta.permissions().mode() & 0o7777))
}

const TOP_KEYS: &[&str] = &["global", "defaults", "instance"];
const GLOBAL_KEYS: &[&str] = &[
    "facility",
    "pidfile",
    "script_timeout",
    "status_socket",
    "metrics_listen",
    "debug",
];
const INSTANCE_KEYS: &[&str] = &[
    "name",
    "interface",
    "vlan",
    "vhid",
    "addresses",
    "srcip",
    "password",
    "password_hex",
    "passfile",
    "advbase",
    "advskew",
    "deadratio",
    "preempt",
    "neutral",
    "shutdown",
    "ignore_ifstate",
    "group",
    "nomcast",
    "upscript",
    "downscript",
    "xparam",
    "xdp_mode",
    "tie_break",
    "replay_protection",
    "check",
    "track_interface",
];
/// The ways to give an instance's password; a table gives at most one.
const PASSWORD_KEYS: [&str; 3] = ["password", "password_hex", "passfile"];
/// Instance keys that identify one instance and so have no default.
const INSTANCE_ONLY_KEYS: &[&str] = &["name", "vhid", "addresses"];

type Table<'i> = DeTable<'i>;
type Value<'i> = Spanned<DeValue<'i>>;

/// Where a value came from, for messages.
#[derive(Clone, Copy)]
struct Found<'a, 'i> {
    value: &'a Value<'i>,
    key: &'static str,
}

impl Found<'_, '_> {
    fn span(&self) -> Range<usize> {
        self.value.span()
    }
}

struct Parser<'t> {
    text: &'t str,
    lines: LineIndex,
    file: PathBuf,
    /// Relative paths in the file are relative to this directory.
    base: PathBuf,
    checks: Checks,
    errors: Errors,
    warnings: Warnings,
}

fn parse(
    text: &str,
    path: &Path,
    checks: Checks,
    mode: Option<u32>,
) -> Result<Settings, ConfigError> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let base = absolute
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_owned);
    let mut p = Parser {
        text,
        lines: LineIndex::new(text),
        file: path.to_owned(),
        base,
        checks,
        errors: Errors::default(),
        warnings: Warnings::default(),
    };
    let document = match DeTable::parse(text) {
        Ok(document) => document,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim_end().to_owned();
            p.error(span.start, None, format!("not valid TOML: {message}"));
            return Err(p.into_error());
        }
    };
    let settings = p.document(document.get_ref(), mode);
    if p.errors.is_empty() {
        let mut settings = settings;
        settings.warnings = p.warnings.into_vec();
        Ok(settings)
    } else {
        Err(p.into_error())
    }
}

impl Parser<'_> {
    fn line(&self, offset: usize) -> usize {
        self.lines.line(offset.min(self.text.len()))
    }

    fn error(&mut self, offset: usize, key: Option<&str>, message: String) {
        let diagnostic = Diagnostic {
            file: self.file.clone(),
            line: Some(self.line(offset)),
            key: key.map(str::to_owned),
            message,
        };
        self.errors.push((offset, diagnostic));
    }

    fn key_error(&mut self, found: Found<'_, '_>, message: String) {
        self.error(found.span().start, Some(found.key), message);
    }

    fn warn(&mut self, offset: usize, key: &str, message: String) {
        let line = self.line(offset);
        self.warnings.push(format!(
            "{}:{line}: key `{key}`: {message}",
            self.file.display()
        ));
    }

    fn into_error(self) -> ConfigError {
        let (diagnostics, more) = self.errors.into_report();
        ConfigError { diagnostics, more }
    }

    /// Refuses the keys of `table` that `accepted` does not list.
    fn unknown_keys(&mut self, table: &Table<'_>, accepted: &[&str], what: &str) {
        // Built once: a file may hold any number of unknown keys.
        let list = accepted.join(", ");
        for key in table.keys() {
            if !accepted.contains(&key.get_ref().as_ref()) {
                let message = if what == "[defaults]"
                    && INSTANCE_ONLY_KEYS.contains(&key.get_ref().as_ref())
                {
                    format!(
                        "has no default: it belongs in each [[instance]] (keys of {what}: {list})"
                    )
                } else {
                    format!("unknown key in {what} (expected one of: {list})")
                };
                self.error(key.span().start, Some(key.get_ref()), message);
            }
        }
    }

    fn document(&mut self, top: &Table<'_>, mode: Option<u32>) -> Settings {
        self.unknown_keys(top, TOP_KEYS, "the top level");
        let global = match top.get("global") {
            None => Global::default(),
            Some(v) => match v.get_ref() {
                DeValue::Table(t) => self.global(t),
                _ => {
                    let found = Found {
                        value: v,
                        key: "global",
                    };
                    self.key_error(found, "expected a [global] table".into());
                    Global::default()
                }
            },
        };
        let empty = Table::default();
        let defaults = match top.get("defaults") {
            None => &empty,
            Some(v) => match v.get_ref() {
                DeValue::Table(t) => {
                    let mut accepted: Vec<&str> = INSTANCE_KEYS.to_vec();
                    accepted.retain(|k| !INSTANCE_ONLY_KEYS.contains(k));
                    self.unknown_keys(t, &accepted, "[defaults]");
                    self.exclusive_password(t);
                    t
                }
                _ => {
                    let found = Found {
                        value: v,
                        key: "defaults",
                    };
                    self.key_error(found, "expected a [defaults] table".into());
                    &empty
                }
            },
        };
        let mut instances = Vec::new();
        let mut headers = Vec::new();
        match top.get("instance") {
            None => self.errors.push((
                usize::MAX,
                Diagnostic {
                    file: self.file.clone(),
                    line: None,
                    key: None,
                    message: "no [[instance]]: at least one is needed".into(),
                },
            )),
            Some(v) => match v.get_ref() {
                DeValue::Array(items) if !items.is_empty() => {
                    for item in items {
                        if let DeValue::Table(t) = item.get_ref() {
                            self.unknown_keys(t, INSTANCE_KEYS, "[[instance]]");
                            self.exclusive_password(t);
                            if let Some(instance) = self.instance(item.span(), t, defaults) {
                                instances.push(instance);
                                headers.push(item.span().start);
                            }
                        } else {
                            let found = Found {
                                value: item,
                                key: "instance",
                            };
                            self.key_error(found, "expected [[instance]] tables".into());
                        }
                    }
                }
                _ => {
                    let found = Found {
                        value: v,
                        key: "instance",
                    };
                    self.key_error(
                        found,
                        "expected [[instance]] tables (an array of tables, with double brackets)"
                            .into(),
                    );
                }
            },
        }
        self.across_instances(&instances, &headers);
        if let Some(mode) = mode {
            if let Some(warning) = super::exposure::writable_config(&self.file, mode) {
                self.warnings.push_first(warning);
            }
            self.inline_password_readable(top, defaults, mode);
        }
        Settings {
            global,
            instances,
            warnings: Vec::new(),
        }
    }

    fn global(&mut self, t: &Table<'_>) -> Global {
        self.unknown_keys(t, GLOBAL_KEYS, "[global]");
        let mut global = Global::default();
        if let Some(f) = found(t, "facility")
            && let Some(name) = self.string(f)
        {
            match Facility::from_name(&name) {
                Some(facility) => global.facility = facility,
                None => self.key_error(
                    f,
                    format!(
                        "unknown syslog facility \"{name}\" (expected {})",
                        Facility::ACCEPTED
                    ),
                ),
            }
        }
        if let Some(f) = found(t, "pidfile") {
            global.pidfile = self.path(f);
        }
        if let Some(f) = found(t, "script_timeout")
            && let Some(n) = self.integer(f, &range::SCRIPT_TIMEOUT, " seconds")
        {
            global.script_timeout = Duration::from_secs(n);
        }
        if let Some(f) = found(t, "status_socket")
            && let Some(path) = self.path(f)
        {
            global.status_socket = path;
        }
        if let Some(f) = found(t, "metrics_listen")
            && let Some(text) = self.string(f)
        {
            match text.parse::<SocketAddr>() {
                Ok(addr) if addr.port() != 0 => {
                    if let Some(warning) = super::exposure::metrics_exposure(addr) {
                        self.warn(f.span().start, "metrics_listen", warning);
                    }
                    global.metrics_listen = Some(addr);
                }
                _ => self.key_error(
                    f,
                    format!(
                        "not a listen address: \"{text}\" (expected ADDRESS:PORT with a port \
                         1-65535, such as 127.0.0.1:9420 or [::1]:9420; leave the key out for \
                         no metrics)"
                    ),
                ),
            }
        }
        if let Some(f) = found(t, "debug")
            && let Some(b) = self.boolean(f)
        {
            global.debug = b;
        }
        global
    }

    /// More than one of `password`, `password_hex` and `passfile` in the
    /// same table: each after the first is an error.
    fn exclusive_password(&mut self, t: &Table<'_>) {
        let given: Vec<Found<'_, '_>> = PASSWORD_KEYS.iter().filter_map(|k| found(t, k)).collect();
        for later in given.iter().skip(1) {
            self.key_error(
                *later,
                "`password`, `password_hex` and `passfile` exclude each other: give one of them"
                    .into(),
            );
        }
    }

    /// One `[[instance]]`; None when a key it needs is missing or wrong
    /// (already reported).
    fn instance(
        &mut self,
        header: Range<usize>,
        t: &Table<'_>,
        defaults: &Table<'_>,
    ) -> Option<Instance> {
        let get = |key: &'static str| found(t, key).or_else(|| found(defaults, key));
        let before = self.errors.len();
        let missing = |p: &mut Self, key: &str, accepted: &str| {
            p.error(
                header.start,
                Some(key),
                format!("missing in this [[instance]] or [defaults] ({accepted})"),
            );
        };

        let interface = match get("interface") {
            Some(f) => self.interface_name(f),
            None => {
                missing(self, "interface", "an interface name such as \"eth0\"");
                None
            }
        };
        let vlan = get("vlan")
            .and_then(|f| self.integer(f, &range::VLAN, ", 0 for untagged frames"))
            .unwrap_or(0);
        let vhid = match found(t, "vhid") {
            Some(f) => self.integer(f, &range::VHID, ""),
            None => {
                self.error(
                    header.start,
                    Some("vhid"),
                    "missing in this [[instance]] (a number 1-255)".into(),
                );
                None
            }
        };
        let addresses = match found(t, "addresses") {
            Some(f) => self.addresses(f),
            None => {
                self.error(
                    header.start,
                    Some("addresses"),
                    "missing in this [[instance]] (a list of IPv4 addresses such as \
                     [\"10.1.1.252\"])"
                        .into(),
                );
                None
            }
        };
        let srcip_found = get("srcip");
        let srcip = match srcip_found {
            Some(f) => self.unicast(f),
            None => {
                missing(self, "srcip", "this host's own IPv4 address");
                None
            }
        };
        let (password, passfile) = self.password(header.start, t, defaults);
        let advbase = get("advbase")
            .and_then(|f| self.integer(f, &range::ADVBASE, " seconds"))
            .map_or(super::DEFAULT_ADVBASE, |n| n as u8);
        let advskew = get("advskew")
            .and_then(|f| self.integer(f, &range::ADVSKEW, ", in 1/256 s"))
            .map_or(0, |n| n as u8);
        if advbase == 0 && advskew == 0 {
            let at = get("advbase").map_or(header.start, |f| f.span().start);
            self.error(
                at,
                Some("advbase"),
                "advbase and advskew cannot both be 0 (give advbase 1-255, or a non-zero advskew)"
                    .into(),
            );
        }
        let deadratio = get("deadratio")
            .and_then(|f| self.integer(f, &range::DEADRATIO, ""))
            .map_or(super::DEFAULT_DEADRATIO, |n| n as u32);
        let flag = |p: &mut Self, key: &'static str| get(key).and_then(|f| p.boolean(f));
        let preempt = flag(self, "preempt").unwrap_or(false);
        let neutral = flag(self, "neutral").unwrap_or(false);
        let shutdown = flag(self, "shutdown").unwrap_or(false);
        let ignore_ifstate = flag(self, "ignore_ifstate").unwrap_or(false);
        let nomcast = flag(self, "nomcast").unwrap_or(false);
        let group = match get("group") {
            Some(f) => self.multicast(f).unwrap_or(DEFAULT_GROUP),
            None => DEFAULT_GROUP,
        };
        let upscript = get("upscript").and_then(|f| self.script(f));
        let downscript = get("downscript").and_then(|f| self.script(f));
        let xparam = get("xparam").and_then(|f| self.plain_string(f));
        let xdp_mode = get("xdp_mode")
            .and_then(|f| self.named(f, XdpMode::from_name, &XdpMode::NAMES))
            .unwrap_or_default();
        let replay_protection = flag(self, "replay_protection").unwrap_or(true);
        let tie_break = get("tie_break")
            .and_then(|f| self.named(f, TieBreak::from_name, &TieBreak::NAMES))
            .unwrap_or_default();
        let checks = self.checks(get("check"));
        let track_interfaces = self.track_interfaces(get("track_interface"));
        let name = match found(t, "name") {
            Some(f) => self.plain_string(f).and_then(|n| {
                if n.is_empty() {
                    self.key_error(f, "is empty (expected a name for logs and status)".into());
                    None
                } else {
                    Some(n)
                }
            }),
            None => None,
        };

        if let (Some(srcip), Some(addresses), Some(f)) = (srcip, &addresses, srcip_found)
            && addresses.iter().any(|a| a.addr == srcip)
        {
            self.key_error(
                f,
                format!(
                    "{srcip} is also one of the instance's addresses: the source address is the \
                     host's own, the virtual addresses are shared"
                ),
            );
        }
        if self.errors.len() > before {
            return None;
        }
        let (interface, vhid, addresses, srcip, password) =
            (interface?, vhid?, addresses?, srcip?, password?);
        let vhid = vhid as u8;
        let vlan = vlan as u16;
        Some(Instance {
            name: name.unwrap_or_else(|| Instance::default_name(Some(&interface), vlan, vhid)),
            interface: Some(interface),
            vlan,
            vhid,
            srcip,
            addresses,
            group,
            nomcast,
            password,
            passfile,
            advbase,
            advskew,
            deadratio,
            preempt,
            neutral,
            shutdown,
            ignore_ifstate,
            upscript,
            downscript,
            xparam,
            xdp_mode,
            tie_break,
            replay_protection,
            checks,
            track_interfaces,
        })
    }

    /// The password of an instance: its own `password` or `passfile`, else
    /// the defaults'. A passfile is read with [`Checks::Full`].
    fn password(
        &mut self,
        header: usize,
        t: &Table<'_>,
        defaults: &Table<'_>,
    ) -> (Option<Password>, Option<PathBuf>) {
        let table = if PASSWORD_KEYS.iter().any(|k| found(t, k).is_some()) {
            t
        } else {
            defaults
        };
        let given = (
            found(table, "password"),
            found(table, "password_hex"),
            found(table, "passfile"),
        );
        match given {
            (Some(f), None, None) => {
                let Some(text) = self.plain_string(f) else {
                    return (None, None);
                };
                (self.password_length(f, text.as_bytes()), None)
            }
            (None, Some(f), None) => {
                let Some(text) = self.string(f) else {
                    return (None, None);
                };
                match hex_bytes(&text) {
                    Some(bytes) => (self.password_length(f, &bytes), None),
                    None => {
                        self.key_error(
                            f,
                            "not hexadecimal: the password's bytes, two hex digits each, such as \
                             \"e974e9\""
                                .into(),
                        );
                        (None, None)
                    }
                }
            }
            (None, None, Some(f)) => {
                let Some(path) = self.path(f) else {
                    return (None, None);
                };
                if self.checks == Checks::TextOnly {
                    return (Some(Password::default()), Some(path));
                }
                match read_passfile(&path) {
                    Ok((password, mode)) => {
                        if readable_by_others(mode) {
                            self.warn(
                                f.span().start,
                                "passfile",
                                format!(
                                    "password file {} is readable by other users (mode \
                                     {mode:04o}): chmod go-rwx it",
                                    path.display()
                                ),
                            );
                        }
                        let password = self.password_length(f, password.as_bytes());
                        (password, Some(path))
                    }
                    Err(e) => {
                        self.key_error(
                            f,
                            format!("cannot read password file {}: {e}", path.display()),
                        );
                        (None, None)
                    }
                }
            }
            (None, None, None) => {
                self.error(
                    header,
                    Some("password"),
                    "missing in this [[instance]] or [defaults] (give `password`, \
                     `password_hex` or `passfile`)"
                        .into(),
                );
                (None, None)
            }
            // Several: already reported by exclusive_password.
            _ => (None, None),
        }
    }

    fn password_length(&mut self, f: Found<'_, '_>, bytes: &[u8]) -> Option<Password> {
        match bytes.len() {
            0 => {
                self.key_error(f, "the password is empty (1 to 19 bytes)".into());
                None
            }
            n if n > MAX_PASSWORD_LEN => {
                self.key_error(
                    f,
                    format!(
                        "the password is too long: {n} bytes (at most {MAX_PASSWORD_LEN}, as ucarp)"
                    ),
                );
                None
            }
            _ => Some(Password::new(bytes)),
        }
    }

    /// Warns when a password is written in a file others can read.
    fn inline_password_readable(&mut self, top: &Table<'_>, defaults: &Table<'_>, mode: u32) {
        if !readable_by_others(mode) {
            return;
        }
        let inline = |t: &Table<'_>| {
            ["password", "password_hex"]
                .iter()
                .filter_map(|k| found(t, k).map(|f| f.span().start))
                .min()
        };
        let mut first = inline(defaults);
        if let Some(DeValue::Array(items)) = top.get("instance").map(Spanned::get_ref) {
            for item in items {
                if let DeValue::Table(t) = item.get_ref()
                    && let Some(at) = inline(t)
                {
                    first = Some(first.map_or(at, |o| o.min(at)));
                }
            }
        }
        if let Some(offset) = first {
            self.warn(
                offset,
                "password",
                format!(
                    "the file holds a password and is readable by other users (mode {mode:04o}): \
                     chmod go-rwx it, or use `passfile`"
                ),
            );
        }
    }

    /// Checks that span instances: unique (interface, vlan, vhid), names
    /// and addresses.
    fn across_instances(&mut self, instances: &[Instance], headers: &[usize]) {
        if instances.len() > MAX_INSTANCES {
            self.error(
                headers[MAX_INSTANCES],
                None,
                format!(
                    "{} instances: one xcarp runs at most {MAX_INSTANCES} (the XDP program's \
                     VHID table holds {MAX_INSTANCES}); this is the first one too many",
                    instances.len()
                ),
            );
        }
        let mut keys: HashMap<(Option<&str>, u16, u8), usize> = HashMap::new();
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut addresses: HashMap<Ipv4Addr, usize> = HashMap::new();
        for (i, instance) in instances.iter().enumerate() {
            let at = headers[i];
            if let Some(&first) = keys.get(&instance.key()) {
                let first_line = self.line(headers[first]);
                self.error(
                    at,
                    Some("vhid"),
                    format!(
                        "vhid {} on {}{} is already the [[instance]] of line {first_line} \
                         (interface, vlan and vhid must differ between instances)",
                        instance.vhid,
                        instance.interface.as_deref().unwrap_or("?"),
                        if instance.vlan == 0 {
                            String::new()
                        } else {
                            format!(" vlan {}", instance.vlan)
                        },
                    ),
                );
                // Its default name is taken too: one error is enough.
                continue;
            }
            keys.insert(instance.key(), i);
            if let Some(&first) = names.get(instance.name.as_str()) {
                let first_line = self.line(headers[first]);
                self.error(
                    at,
                    Some("name"),
                    format!(
                        "\"{}\" is already the name of the [[instance]] of line {first_line} \
                         (names must be unique)",
                        instance.name
                    ),
                );
            } else {
                names.insert(&instance.name, i);
            }
            for address in &instance.addresses {
                match addresses.get(&address.addr) {
                    Some(&first) if first != i => {
                        let first_line = self.line(headers[first]);
                        self.error(
                            at,
                            Some("addresses"),
                            format!(
                                "{} is already an address of the [[instance]] of line \
                                 {first_line} (an address belongs to one instance)",
                                address.addr
                            ),
                        );
                    }
                    _ => {
                        addresses.insert(address.addr, i);
                    }
                }
            }
        }
    }

    // --- values -------------------------------------------------------

    fn type_error(&mut self, f: Found<'_, '_>, expected: &str) {
        let got = match f.value.get_ref() {
            DeValue::String(_) => "a string",
            DeValue::Integer(_) => "an integer",
            DeValue::Float(_) => "a float",
            DeValue::Boolean(_) => "a boolean",
            DeValue::Datetime(_) => "a date-time",
            DeValue::Array(_) => "an array",
            DeValue::Table(_) => "a table",
        };
        self.key_error(f, format!("expected {expected}, found {got}"));
    }

    fn string(&mut self, f: Found<'_, '_>) -> Option<String> {
        match f.value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.type_error(f, "a string");
                None
            }
        }
    }

    /// A string that goes into an argument vector or a path: no NUL.
    fn plain_string(&mut self, f: Found<'_, '_>) -> Option<String> {
        let s = self.string(f)?;
        if s.contains('\0') {
            self.key_error(f, "contains a NUL character".into());
            return None;
        }
        Some(s)
    }

    fn boolean(&mut self, f: Found<'_, '_>) -> Option<bool> {
        match f.value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.type_error(f, "true or false");
                None
            }
        }
    }

    fn integer(
        &mut self,
        f: Found<'_, '_>,
        accepted: &RangeInclusive<u64>,
        unit: &str,
    ) -> Option<u64> {
        let what = format!("{}-{}{unit}", accepted.start(), accepted.end());
        let DeValue::Integer(i) = f.value.get_ref() else {
            self.type_error(f, &format!("an integer ({what})"));
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if u64::try_from(n).is_ok_and(|n| accepted.contains(&n)) => u64::try_from(n).ok(),
            _ => {
                self.key_error(f, format!("{i} is out of range ({what})"));
                None
            }
        }
    }

    fn named<T>(
        &mut self,
        f: Found<'_, '_>,
        from_name: fn(&str) -> Option<T>,
        names: &[&str],
    ) -> Option<T> {
        let s = self.string(f)?;
        let value = from_name(&s);
        if value.is_none() {
            self.key_error(
                f,
                format!(
                    "unknown value \"{s}\" (expected one of: {})",
                    names.join(", ")
                ),
            );
        }
        value
    }

    fn ipv4(&mut self, f: Found<'_, '_>, text: &str, span: Range<usize>) -> Option<Ipv4Addr> {
        match text.parse::<Ipv4Addr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.error(
                    span.start,
                    Some(f.key),
                    format!(
                        "not an IPv4 address: \"{text}\" (expected a dotted quad such as 10.1.1.252)"
                    ),
                );
                None
            }
        }
    }

    /// A host address: not 0.0.0.0, broadcast or multicast.
    fn unicast_at(&mut self, f: Found<'_, '_>, text: &str, span: Range<usize>) -> Option<Ipv4Addr> {
        let addr = self.ipv4(f, text, span.clone())?;
        if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
            self.error(
                span.start,
                Some(f.key),
                format!("{addr} is not a host address (expected a unicast IPv4 address)"),
            );
            return None;
        }
        Some(addr)
    }

    fn unicast(&mut self, f: Found<'_, '_>) -> Option<Ipv4Addr> {
        let text = self.string(f)?;
        self.unicast_at(f, &text, f.span())
    }

    fn multicast(&mut self, f: Found<'_, '_>) -> Option<Ipv4Addr> {
        let text = self.string(f)?;
        let addr = self.ipv4(f, &text, f.span())?;
        if !addr.is_multicast() {
            self.key_error(
                f,
                format!("{addr} is not a multicast address (expected one in 224.0.0.0/4)"),
            );
            return None;
        }
        Some(addr)
    }

    fn addresses(&mut self, f: Found<'_, '_>) -> Option<Vec<VirtualAddress>> {
        let DeValue::Array(items) = f.value.get_ref() else {
            self.type_error(f, "a list of IPv4 addresses such as [\"10.1.1.252\"]");
            return None;
        };
        if items.is_empty() {
            self.key_error(f, "is empty (expected at least one IPv4 address)".into());
            return None;
        }
        let mut out: Vec<VirtualAddress> = Vec::new();
        let mut ok = true;
        for item in items {
            let DeValue::String(text) = item.get_ref() else {
                self.type_error(
                    Found {
                        value: item,
                        key: f.key,
                    },
                    "a string such as \"10.1.1.252\"",
                );
                ok = false;
                continue;
            };
            let Some(addr) = self.unicast_at(f, text, item.span()) else {
                ok = false;
                continue;
            };
            if out.iter().any(|a| a.addr == addr) {
                self.error(
                    item.span().start,
                    Some(f.key),
                    format!("{addr} is listed twice"),
                );
                ok = false;
                continue;
            }
            out.push(VirtualAddress {
                addr,
                typed: text.to_string(),
            });
        }
        ok.then_some(out)
    }

    fn interface_name(&mut self, f: Found<'_, '_>) -> Option<String> {
        let name = self.plain_string(f)?;
        // IFNAMSIZ is 16 with the NUL; '/' and whitespace never occur in a
        // Linux interface name.
        if name.is_empty()
            || name.len() > 15
            || name == "."
            || name == ".."
            || name.contains(|c: char| c == '/' || c.is_whitespace() || c == ':')
        {
            self.key_error(
                f,
                format!(
                    "not an interface name: \"{name}\" (1-15 characters, no '/', ':' or spaces, \
                     such as \"eth0\" or \"eth0.100\")"
                ),
            );
            return None;
        }
        Some(name)
    }

    /// A path: absolute as written, or relative to the configuration
    /// file's directory.
    fn path(&mut self, f: Found<'_, '_>) -> Option<PathBuf> {
        let s = self.plain_string(f)?;
        if s.is_empty() {
            self.key_error(f, "is empty (expected a path)".into());
            return None;
        }
        Some(self.base.join(s))
    }

    /// An up/down script: a path; with [`Checks::Full`], an executable
    /// regular file (scripts run without a shell).
    fn script(&mut self, f: Found<'_, '_>) -> Option<PathBuf> {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.path(f)?;
        if self.checks == Checks::Full {
            let problem = match std::fs::metadata(&path) {
                Err(e) => Some(e.to_string()),
                Ok(meta) if !meta.is_file() => Some("not a regular file".into()),
                Ok(meta) if meta.permissions().mode() & 0o111 == 0 => Some(
                    "not executable (it is run without a shell: chmod +x it and give it a #! line)"
                        .into(),
                ),
                Ok(_) => None,
            };
            if let Some(problem) = problem {
                self.key_error(f, format!("{}: {problem}", path.display()));
                return None;
            }
            for warning in super::exposure::script_exposure(&path) {
                self.warn(f.span().start, f.key, warning);
            }
        }
        Some(path)
    }
}

/// `password_hex`: pairs of hex digits (either case), the bytes they give.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn found<'a, 'i>(t: &'a Table<'i>, key: &'static str) -> Option<Found<'a, 'i>> {
    t.get(key).map(|value| Found { value, key })
}

mod health;
mod report;
#[cfg(test)]
mod tests;
