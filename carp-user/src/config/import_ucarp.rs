//! `xcarp import-ucarp DIR`: converts the Fedora/EPEL ucarp layout
//! (`vip-common.conf` and `vip-NNN.conf` in /etc/ucarp) into a configuration
//! file (docs/config.md, "Importing a ucarp configuration").
//!
//! The files are shell fragments that ucarp's init script sources, first
//! `vip-common.conf`, then each `vip-NNN.conf`, before it runs, per file,
//!
//! ```text
//! ucarp --daemonize --interface=$BIND_INTERFACE --pass=$PASSWORD (or --passfile=$PASSFILE)
//!       --srcip=$SOURCE_ADDRESS --vhid=$ID --addr=$VIP_ADDRESS $OPTIONS
//!       --upscript=$UPSCRIPT --downscript=$DOWNSCRIPT
//! ```
//!
//! with `ID` the file name's digits (unless the file sets it) and the
//! scripts `/usr/libexec/ucarp/vip-up` and `vip-down` unless the files set
//! them. The importer rebuilds that command line, word for word, and reads
//! it with xcarp's own ucarp parser, so every ucarp option in `OPTIONS`
//! means what it meant to ucarp, and a later option overrides an earlier one
//! as it did. Whatever cannot be carried over is reported as a warning with
//! its file and line; nothing is dropped silently.
use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    fmt::Write as _,
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

use super::{MAX_PASSWORD_LEN, file};
use crate::cli;

/// The scripts the init script passes unless the files set UPSCRIPT or
/// DOWNSCRIPT.
pub const EPEL_UPSCRIPT: &str = "/usr/libexec/ucarp/vip-up";
pub const EPEL_DOWNSCRIPT: &str = "/usr/libexec/ucarp/vip-down";
/// The shared file, sourced before each VIP's.
pub const COMMON_FILE: &str = "vip-common.conf";

/// Variables the init script reads.
const KNOWN: [&str; 9] = [
    "ID",
    "VIP_ADDRESS",
    "PASSWORD",
    "PASSFILE",
    "BIND_INTERFACE",
    "SOURCE_ADDRESS",
    "OPTIONS",
    "UPSCRIPT",
    "DOWNSCRIPT",
];

/// A converted directory.
#[derive(Debug)]
pub struct Import {
    /// The configuration file's text.
    pub toml: String,
    /// How many instances it describes.
    pub instances: usize,
    /// What could not be carried over as it was, `FILE:LINE: what`.
    pub warnings: Vec<String>,
}

/// Why a directory cannot be converted: every problem, `FILE:LINE: what`,
/// and the warnings gathered on the way.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub struct ImportError {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl ImportError {
    fn new(error: String) -> Self {
        Self {
            errors: vec![error],
            warnings: Vec::new(),
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.errors.join("\n"))
    }
}

/// Converts the ucarp configuration in `dir`.
///
/// # Errors
/// The directory cannot be read, it holds no usable VIP, or a VIP's
/// settings cannot be expressed (each problem is listed).
pub fn import(dir: &Path) -> Result<Import, ImportError> {
    let read_error = |path: &Path, e: &dyn fmt::Display| {
        ImportError::new(format!("{}: cannot read it: {e}", path.display()))
    };
    let entries = std::fs::read_dir(dir).map_err(|e| read_error(dir, &e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| read_error(dir, &e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    let read = |name: &str| -> Result<String, ImportError> {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| read_error(&path, &e))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let common = if names.iter().any(|n| n == COMMON_FILE) {
        Some(Source {
            path: dir.join(COMMON_FILE),
            text: read(COMMON_FILE)?,
        })
    } else {
        None
    };
    let mut vips = Vec::new();
    let mut warnings = Vec::new();
    // The init script's order: `LC_COLLATE=C sort`.
    names.sort();
    for name in &names {
        if is_vip_file(name) {
            vips.push(Source {
                path: dir.join(name),
                text: read(name)?,
            });
        } else if name.starts_with("vip-") && name.ends_with(".conf") && name != COMMON_FILE {
            warnings.push(format!(
                "{}: not read: ucarp's init script only reads vip-<digits>.conf",
                dir.join(name).display()
            ));
        }
    }
    match convert(common.as_ref(), &vips, dir) {
        Ok(mut import) => {
            warnings.append(&mut import.warnings);
            import.warnings = warnings;
            Ok(import)
        }
        Err(mut e) => {
            warnings.append(&mut e.warnings);
            e.warnings = warnings;
            Err(e)
        }
    }
}

/// `vip-<digits>.conf`, the init script's pattern.
fn is_vip_file(name: &str) -> bool {
    name.strip_prefix("vip-")
        .and_then(|n| n.strip_suffix(".conf"))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// A file's path and text.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

/// Where a variable was set.
#[derive(Clone, Debug)]
struct Origin {
    file: PathBuf,
    line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

#[derive(Clone, Debug)]
struct Var {
    value: String,
    origin: Origin,
}

type Env = HashMap<String, Var>;

/// Converts already-read files; `dir` names the directory in messages and
/// the output's header.
///
/// # Errors
/// As [`import`].
pub fn convert(
    common: Option<&Source>,
    vips: &[Source],
    dir: &Path,
) -> Result<Import, ImportError> {
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let common_env = match common {
        Some(source) => read_assignments(source, &Env::new(), &mut warnings),
        None => {
            warnings.push(format!(
                "{}: missing: each VIP file is read on its own",
                dir.join(COMMON_FILE).display()
            ));
            Env::new()
        }
    };
    report_unknown(&common_env, &mut warnings);
    let mut imported: Vec<Imported> = Vec::new();
    // Variables set by an earlier VIP file and not by vip-common.conf: some
    // versions of the init script keep them for the next files.
    let mut leaked: BTreeMap<String, Origin> = BTreeMap::new();
    for source in vips {
        let own = read_assignments(source, &common_env, &mut warnings);
        let own_only: Env = own
            .iter()
            .filter(|(_, v)| v.origin.file == source.path)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        report_unknown(&own_only, &mut warnings);
        for (name, origin) in &leaked {
            if !own.contains_key(name) {
                warnings.push(format!(
                    "{}: does not set {name}, which {origin} sets and {COMMON_FILE} does not: \
                     versions of ucarp's init script that do not unset variables between files \
                     passed it on to this VIP too; imported without it",
                    source.path.display()
                ));
            }
        }
        for (name, var) in &own_only {
            if KNOWN.contains(&name.as_str()) && name != "ID" && !common_env.contains_key(name) {
                leaked.insert(name.clone(), var.origin.clone());
            }
        }
        match vip(source, own, &mut warnings) {
            Ok(Some(vip)) => imported.push(vip),
            Ok(None) => {}
            Err(mut e) => errors.append(&mut e),
        }
    }
    duplicates(&imported, &mut errors);
    if imported.is_empty() && errors.is_empty() {
        errors.push(format!(
            "{}: no VIP to import (no usable vip-NNN.conf)",
            dir.display()
        ));
    }
    if !errors.is_empty() {
        return Err(ImportError { errors, warnings });
    }
    let globals = globals(&imported, &mut warnings);
    if imported.iter().any(|v| v.inline_password) {
        warnings.push(
            "the configuration holds passwords (PASSWORD): keep the file private (chmod 600), \
             or move them to password files (`passfile`)"
                .to_owned(),
        );
    }
    let toml = render(dir, &globals, &imported);
    // The output must be a valid configuration: a mistake here is ours.
    if let Err(e) = file::parse_str(&toml, &dir.join("xcarp.toml"), file::Checks::TextOnly) {
        return Err(ImportError {
            errors: vec![format!(
                "internal error: the converted configuration does not check: {e}"
            )],
            warnings,
        });
    }
    Ok(Import {
        toml,
        instances: imported.len(),
        warnings,
    })
}

fn report_unknown(env: &Env, warnings: &mut Vec<String>) {
    let mut unknown: Vec<(&String, &Var)> = env
        .iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
        .collect();
    unknown.sort_by_key(|(_, v)| v.origin.line);
    for (name, var) in unknown {
        let what = match name.as_str() {
            "VIP_INTERFACE" => {
                "the alias interface the older init scripts brought up; xcarp's scripts get \
                 the interface and the address instead"
            }
            _ => "ucarp's init script does not read it",
        };
        warnings.push(format!("{}: {name} is not imported: {what}", var.origin));
    }
}

// --- shell assignments --------------------------------------------------------

/// The `NAME=value` lines of a sourced file, added to `env`. Anything else
/// is reported, not run.
fn read_assignments(source: &Source, env: &Env, warnings: &mut Vec<String>) -> Env {
    let mut env = env.clone();
    for (index, raw) in source.text.lines().enumerate() {
        let origin = Origin {
            file: source.path.clone(),
            line: index + 1,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((name, rest)) = line.split_once('=') else {
            warnings.push(format!(
                "{origin}: not read: only NAME=value lines are understood (\"{line}\")"
            ));
            continue;
        };
        if !is_name(name) {
            warnings.push(format!(
                "{origin}: not read: only NAME=value lines are understood (\"{line}\")"
            ));
            continue;
        }
        match shell_word(rest, &env) {
            Ok((value, notes)) => {
                for note in notes {
                    warnings.push(format!("{origin}: {name}: {note}"));
                }
                env.insert(name.to_owned(), Var { value, origin });
            }
            Err(problem) => {
                warnings.push(format!("{origin}: {name} not read: {problem}"));
            }
        }
    }
    env
}

fn is_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The value of an assignment's right-hand side, as the shell gives it:
/// quotes removed, backslash escapes applied, `$NAME` and `${NAME}`
/// expanded from the variables set so far. Other expansions are kept as
/// text and noted. Only whitespace and a comment may follow the word.
fn shell_word(input: &str, env: &Env) -> Result<(String, Vec<String>), String> {
    let mut out = String::new();
    let mut notes = Vec::new();
    let mut chars = input.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                let rest: String = chars.collect();
                let rest = rest.trim_start();
                if rest.is_empty() || rest.starts_with('#') {
                    break;
                }
                return Err(format!(
                    "more than one word after `=` (\"{}\"): the shell would run a command",
                    input.trim()
                ));
            }
            (None, ';') => {
                let rest: String = chars.collect();
                if !rest.trim().is_empty() && !rest.trim_start().starts_with('#') {
                    return Err("a second command follows `;`".into());
                }
                break;
            }
            (None, '\'') => quote = Some('\''),
            (Some('\''), '\'') => quote = None,
            (Some('\''), c) => out.push(c),
            (None, '"') => quote = Some('"'),
            (Some('"'), '"') => quote = None,
            (_, '\\') => match chars.next() {
                // Inside double quotes a backslash escapes only these.
                Some(n) if quote.is_none() || matches!(n, '"' | '\\' | '$' | '`') => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => return Err("ends with a backslash (continued lines are not read)".into()),
            },
            (_, '$') => {
                // A lone `$` is a `$` to the shell too.
                let Some(&next) = chars.peek() else {
                    out.push('$');
                    continue;
                };
                if !(next == '{' || next == '_' || next.is_ascii_alphabetic()) {
                    out.push('$');
                    // `$$`, `$1`, `$(…)` and the like: the shell expands them.
                    if "$!#?*@-(".contains(next) || next.is_ascii_digit() {
                        out.push(next);
                        chars.next();
                        notes.push(
                            "a shell expansion other than $NAME or ${NAME}: the shell would \
                             expand it, xcarp takes it as text: check the imported value"
                                .into(),
                        );
                    }
                    continue;
                }
                let braced = next == '{';
                if braced {
                    chars.next();
                }
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let closed = !braced || chars.peek() == Some(&'}');
                if is_name(&name) && closed {
                    if braced {
                        chars.next();
                    }
                    match env.get(&name) {
                        Some(var) => out.push_str(&var.value),
                        None => notes.push(format!(
                            "${name} is not set in these files: expanded to nothing, as the shell does"
                        )),
                    }
                } else {
                    out.push('$');
                    if braced {
                        out.push('{');
                    }
                    out.push_str(&name);
                    notes.push(
                        "a shell expansion other than $NAME or ${NAME}: the shell would expand it, \
                         xcarp takes it as text: check the imported value"
                            .into(),
                    );
                }
            }
            (_, '`') => {
                out.push('`');
                notes.push(
                    "a command substitution (`…`): the shell would run it, xcarp takes it as text: \
                     check the imported value"
                        .into(),
                );
            }
            (_, c) => out.push(c),
        }
    }
    if quote.is_some() {
        return Err(
            "a quote is not closed on this line (values over several lines are not read)".into(),
        );
    }
    Ok((out, notes))
}

// --- one VIP -------------------------------------------------------------------

/// What one vip-NNN.conf gave.
#[derive(Debug)]
struct Imported {
    file: PathBuf,
    /// Its own line numbers, for the cross-file checks.
    vip_origin: Origin,
    name: String,
    interface: String,
    vhid: u8,
    address: Ipv4Addr,
    /// Instance keys and their TOML values, in output order.
    keys: Vec<(&'static str, String)>,
    inline_password: bool,
    /// Process-wide options this VIP's command line held.
    debug: bool,
    facility: Option<&'static str>,
    script_timeout: Option<u64>,
    pidfile: Option<PathBuf>,
}

/// The first word of a variable's value, as the init script's unquoted
/// `${VAR}` passes it: the shell splits it at whitespace, and ucarp ignores
/// the stray words.
fn first_word(name: &str, var: &Var, warnings: &mut Vec<String>) -> Option<String> {
    let mut words = var.value.split_whitespace();
    let first = words.next()?.to_owned();
    if words.next().is_some() {
        warnings.push(format!(
            "{}: {name} holds several words; ucarp's init script passes it unquoted, so ucarp \
             took only \"{first}\": imported as \"{first}\"",
            var.origin
        ));
    }
    Some(first)
}

/// `strtoul(s, NULL, 0)` as ucarp reads `--vhid`: a `0x` prefix for hex, a
/// leading 0 for octal, digits read until the first one that does not fit.
fn strtoul_base0(s: &str) -> u64 {
    let (digits, radix) = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (hex, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    let mut n: u64 = 0;
    for c in digits.chars() {
        match c.to_digit(radix) {
            Some(d) => {
                n = n
                    .saturating_mul(u64::from(radix))
                    .saturating_add(u64::from(d))
            }
            None => break,
        }
    }
    n
}

/// One VIP file's instance; None when ucarp's init script (or ucarp)
/// would not have run it, which is reported.
fn vip(
    source: &Source,
    env: Env,
    warnings: &mut Vec<String>,
) -> Result<Option<Imported>, Vec<String>> {
    let file = &source.path;
    let file_name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let stem = file_name
        .strip_suffix(".conf")
        .unwrap_or(&file_name)
        .to_owned();
    let skipped = |warnings: &mut Vec<String>, why: String| {
        warnings.push(format!(
            "{}: skipped, as ucarp would not run it: {why}",
            file.display()
        ));
    };
    let get = |name: &str| env.get(name).filter(|v| !v.value.trim().is_empty());

    // ID: the file name's digits, unless the file sets it.
    let id_text = match get("ID") {
        Some(var) => first_word("ID", var, warnings).unwrap_or_default(),
        None => stem.trim_start_matches("vip-").to_owned(),
    };
    // The init script checks the range with the shell's decimal `[ -lt ]`,
    // ucarp then reads the same text with strtoul(…, 0).
    let Ok(decimal) = id_text.parse::<u64>() else {
        skipped(
            warnings,
            format!("ID \"{id_text}\" is not a decimal number"),
        );
        return Ok(None);
    };
    if !(1..=255).contains(&decimal) {
        skipped(warnings, format!("ID {id_text} is out of range (1-255)"));
        return Ok(None);
    }
    let wire = strtoul_base0(&id_text);
    if wire == 0 {
        skipped(
            warnings,
            format!("ucarp reads ID {id_text} as octal, which gives vhid 0, and refuses it"),
        );
        return Ok(None);
    }
    if wire != decimal {
        warnings.push(format!(
            "{}: ucarp reads ID {id_text} with a leading 0 as octal: it ran vhid {wire}, not \
             {decimal}; imported as vhid {wire} so that the other hosts still agree",
            file.display()
        ));
    }

    let mut missing = Vec::new();
    for name in ["BIND_INTERFACE", "SOURCE_ADDRESS", "VIP_ADDRESS"] {
        if get(name).is_none() {
            missing.push(name);
        }
    }
    if get("PASSWORD").is_none() && get("PASSFILE").is_none() {
        missing.push("PASSWORD or PASSFILE");
    }
    if !missing.is_empty() {
        skipped(warnings, format!("no {}", missing.join(", no ")));
        return Ok(None);
    }

    // The init script's command line, word for word (its own --daemonize
    // aside).
    let mut words = Vec::new();
    let push = |words: &mut Vec<String>, option: &str, name: &str, warnings: &mut Vec<String>| {
        if let Some(value) = get(name).and_then(|var| first_word(name, var, warnings)) {
            words.push(format!("--{option}={value}"));
        }
    };
    push(&mut words, "interface", "BIND_INTERFACE", warnings);
    let (password_var, passfile_var) = (get("PASSWORD"), get("PASSFILE"));
    match (password_var, passfile_var) {
        (Some(p), Some(f)) => {
            // The init scripts read one of them, depending on their version:
            // the more specific file decides, PASSFILE if both are as
            // specific.
            let use_file = f.origin.file == *file || p.origin.file != *file;
            warnings.push(format!(
                "{}: both PASSWORD ({}) and PASSFILE ({}) are set; init scripts read one or the \
                 other depending on their version: imported {}",
                file.display(),
                p.origin,
                f.origin,
                if use_file { "PASSFILE" } else { "PASSWORD" }
            ));
            if use_file {
                push(&mut words, "passfile", "PASSFILE", warnings);
            } else {
                push(&mut words, "pass", "PASSWORD", warnings);
            }
        }
        (Some(_), None) => push(&mut words, "pass", "PASSWORD", warnings),
        _ => push(&mut words, "passfile", "PASSFILE", warnings),
    }
    push(&mut words, "srcip", "SOURCE_ADDRESS", warnings);
    words.push(format!("--vhid={wire}"));
    push(&mut words, "addr", "VIP_ADDRESS", warnings);
    let options = get("OPTIONS");
    let option_words: Vec<String> = options
        .map(|v| v.value.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    words.extend(option_words.iter().cloned());
    let upscript = get("UPSCRIPT").map_or(EPEL_UPSCRIPT.to_owned(), |v| {
        first_word("UPSCRIPT", v, warnings).unwrap_or_default()
    });
    let downscript = get("DOWNSCRIPT").map_or(EPEL_DOWNSCRIPT.to_owned(), |v| {
        first_word("DOWNSCRIPT", v, warnings).unwrap_or_default()
    });
    words.push(format!("--upscript={upscript}"));
    words.push(format!("--downscript={downscript}"));

    let at_options =
        || options.map_or_else(|| file.display().to_string(), |v| v.origin.to_string());
    // ucarp's getopt sets aside words that are no option (quotes inside
    // OPTIONS are not quotes to the shell that splits it): drop them as
    // ucarp ignores them, and say so.
    let (cli, matches) = loop {
        match cli::parse_ucarp_words(&words) {
            Ok(parsed) => break parsed,
            Err(cli::WordsError::Stray(word)) => {
                let Some(at) = words.iter().position(|w| *w == word) else {
                    return Err(vec![format!(
                        "{}: internal error: stray word {word}",
                        file.display()
                    )]);
                };
                words.remove(at);
                warnings.push(format!(
                    "{}: \"{word}\" is not an option nor an option's value on ucarp's command \
                     line (the shell splits OPTIONS at spaces, quotes included): ucarp ignored \
                     it, so does the import",
                    at_options()
                ));
            }
            Err(cli::WordsError::Usage(e)) => {
                return Err(vec![format!(
                    "{}: the ucarp command line for this VIP (\"{}\") is not understood: {e}",
                    at_options(),
                    words.join(" ")
                )]);
            }
        }
    };
    let given = |id: &str| {
        option_words
            .iter()
            .any(|w| option_names(id).iter().any(|n| is_option(w, n)))
    };

    let var_origin = |name: &str| get(name).map(|v| v.origin.clone());
    let vip_origin = var_origin("VIP_ADDRESS").unwrap_or(Origin {
        file: file.clone(),
        line: 1,
    });
    let mut errors = Vec::new();
    let (Some(vhid), Some(srcip), Some(address)) = (cli.vhid, cli.srcip, cli.addr) else {
        return Err(vec![format!(
            "{}: internal error: a required option is missing",
            file.display()
        )]);
    };
    let typed = cli::raw_value(&matches, "addr").unwrap_or_else(|| address.to_string());
    let interface = cli.interface.clone().unwrap_or_default();
    if srcip == address {
        errors.push(format!(
            "{}: SOURCE_ADDRESS and VIP_ADDRESS are both {srcip}: the source address is the \
             host's own, the virtual address is shared",
            vip_origin
        ));
    }
    let advbase = cli.advbase.unwrap_or(super::DEFAULT_ADVBASE);
    let advskew = cli.advskew.unwrap_or(0);
    if advbase == 0 && advskew == 0 {
        skipped(
            warnings,
            "advbase and advskew are both 0 (`You must supply an advertisement time base`)".into(),
        );
        return Ok(None);
    }

    let mut keys: Vec<(&'static str, String)> = Vec::new();
    keys.push(("interface", quote(&interface)));
    keys.push(("srcip", quote(&srcip.to_string())));
    let pass_index = matches.index_of("pass");
    let file_index = matches.index_of("passfile");
    let mut inline_password = false;
    let inline = match (&cli.pass, &cli.passfile) {
        (Some(p), None) => Some(p),
        (Some(p), Some(_)) if pass_index > file_index => Some(p),
        _ => None,
    };
    if let Some(p) = inline {
        let bytes = p.as_bytes();
        if bytes.len() > MAX_PASSWORD_LEN {
            skipped(
                warnings,
                format!(
                    "the password is {} bytes (`Password too long`, at most {MAX_PASSWORD_LEN})",
                    bytes.len()
                ),
            );
            return Ok(None);
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => keys.push(("password", quote(text))),
            Err(_) => errors.push(format!(
                "{}: the password is not UTF-8 text",
                file.display()
            )),
        }
        inline_password = true;
    } else if let Some(path) = &cli.passfile {
        let path = init_path(path, "PASSFILE", file, warnings);
        keys.push(("passfile", quote(&path.display().to_string())));
    } else {
        errors.push(format!("{}: internal error: no password", file.display()));
    }
    if advbase != super::DEFAULT_ADVBASE {
        keys.push(("advbase", advbase.to_string()));
    }
    if advskew != 0 {
        keys.push(("advskew", advskew.to_string()));
    }
    if let Some(ratio) = cli.deadratio.filter(|r| *r != super::DEFAULT_DEADRATIO) {
        keys.push(("deadratio", ratio.to_string()));
    }
    for (key, on) in [
        ("preempt", cli.preempt),
        ("neutral", cli.neutral),
        ("shutdown", cli.shutdown),
        ("ignore_ifstate", cli.ignoreifstate),
        ("nomcast", cli.nomcast),
    ] {
        if on {
            keys.push((key, "true".into()));
        }
    }
    if let Some(group) = cli.mcast {
        warnings.push(format!(
            "{}: --mcast: the ucarp 1.5.2 that EPEL ships has no multicast-group option (that \
             ucarp refused this command line); imported as group {group}",
            at_options()
        ));
        if group != super::DEFAULT_GROUP {
            keys.push(("group", quote(&group.to_string())));
        }
    }
    let script = |p: &Option<PathBuf>, var: &str, warnings: &mut Vec<String>| {
        p.as_ref()
            .map(|p| quote(&init_path(p, var, file, warnings).display().to_string()))
    };
    if let Some(up) = script(&cli.upscript, "UPSCRIPT", warnings) {
        keys.push(("upscript", up));
    }
    if let Some(down) = script(&cli.downscript, "DOWNSCRIPT", warnings) {
        keys.push(("downscript", down));
    }
    if given("upscript") || given("downscript") {
        warnings.push(format!(
            "{}: --upscript/--downscript in OPTIONS are overridden by the init script's own, \
             which come later on its command line (set UPSCRIPT/DOWNSCRIPT instead): imported \
             the init script's",
            at_options()
        ));
    }
    if let Some(x) = &cli.xparam {
        keys.push(("xparam", quote(x)));
    }
    if cli.xdp_mode != super::XdpMode::Auto {
        keys.push(("xdp_mode", quote(cli.xdp_mode.name())));
    }
    if cli.tie_break != super::TieBreak::Ucarp {
        keys.push(("tie_break", quote(cli.tie_break.name())));
    }
    if cli.replay_protection == cli::Switch::Off {
        keys.push(("replay_protection", "false".into()));
    }
    if cli.daemonize {
        warnings.push(format!(
            "{}: --daemonize is not imported: how xcarp runs is up to the service manager (or \
             `xcarp -B --config FILE`)",
            at_options()
        ));
    }
    if cli.config.is_some() {
        errors.push(format!("{}: --config is not a ucarp option", at_options()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Some(Imported {
        file: file.clone(),
        vip_origin,
        name: stem,
        interface,
        vhid,
        address,
        keys: {
            // Identity first, in the order of the documentation.
            let mut all = vec![
                ("vhid", vhid.to_string()),
                ("addresses", format!("[{}]", quote(&typed))),
            ];
            all.extend(keys);
            all
        },
        inline_password,
        debug: cli.debug,
        facility: cli.facility.map(super::Facility::name),
        script_timeout: cli.script_timeout,
        pidfile: cli.pidfile.clone(),
    }))
}

/// The long and short names of an option, as typed in OPTIONS.
fn option_names(id: &str) -> &'static [&'static str] {
    match id {
        "upscript" => &["--upscript", "-u"],
        "downscript" => &["--downscript", "-d"],
        _ => &[],
    }
}

/// Whether `word` is option `name` (with its value attached or not, or a
/// prefix of the long name as getopt accepts it).
fn is_option(word: &str, name: &str) -> bool {
    if let Some(long) = name.strip_prefix("--") {
        let given = word
            .strip_prefix("--")
            .map(|w| w.split('=').next().unwrap_or(w));
        given.is_some_and(|g| g.len() >= 3 && long.starts_with(g))
    } else {
        word.starts_with(name) && !word.starts_with("--")
    }
}

/// A path as ucarp got it from the init script: relative ones are relative
/// to the init script's working directory, `/`.
fn init_path(path: &Path, var: &str, file: &Path, warnings: &mut Vec<String>) -> PathBuf {
    if path.is_absolute() {
        return path.to_owned();
    }
    let resolved = Path::new("/").join(path);
    warnings.push(format!(
        "{}: {var} {} is relative: ucarp's init script runs in /, imported as {}",
        file.display(),
        path.display(),
        resolved.display()
    ));
    resolved
}

/// Checks across VIP files: the same VHID twice on an interface, the same
/// address twice.
fn duplicates(vips: &[Imported], errors: &mut Vec<String>) {
    let mut seen: HashMap<(&str, u8), &Imported> = HashMap::new();
    let mut addresses: HashMap<Ipv4Addr, &Imported> = HashMap::new();
    for vip in vips {
        if let Some(first) = seen.get(&(vip.interface.as_str(), vip.vhid)) {
            errors.push(format!(
                "{}: vhid {} on {} is also the vhid of {}: two ucarp processes with one vhid on \
                 one interface fight each other; give each VIP its own ID",
                vip.file.display(),
                vip.vhid,
                vip.interface,
                first.file.display()
            ));
        } else {
            seen.insert((&vip.interface, vip.vhid), vip);
        }
        if let Some(first) = addresses.get(&vip.address) {
            errors.push(format!(
                "{}: VIP_ADDRESS {} is also the address of {} ({})",
                vip.vip_origin,
                vip.address,
                first.file.display(),
                first.vip_origin
            ));
        } else {
            addresses.insert(vip.address, vip);
        }
    }
}

/// Process-wide settings, from the VIPs' command lines.
#[derive(Default)]
struct Globals {
    debug: bool,
    facility: Option<&'static str>,
    script_timeout: Option<u64>,
    pidfile: Option<PathBuf>,
}

fn globals(vips: &[Imported], warnings: &mut Vec<String>) -> Globals {
    let mut g = Globals::default();
    if let Some(first) = vips.iter().find(|v| v.debug) {
        g.debug = true;
        if vips.iter().any(|v| !v.debug) {
            warnings.push(format!(
                "{}: --debug: debug output is process-wide in xcarp: turned on for every instance",
                first.file.display()
            ));
        }
    }
    let set = |name: &str,
               value: Option<String>,
               vip: &Imported,
               slot: &mut Option<String>,
               warnings: &mut Vec<String>| {
        match (value, slot.as_ref()) {
            (Some(v), None) => *slot = Some(v),
            (Some(v), Some(kept)) if &v != kept => warnings.push(format!(
                "{}: {name} {v} differs from another VIP's {kept}: it is process-wide in xcarp; \
                 kept {kept}",
                vip.file.display()
            )),
            _ => {}
        }
    };
    let (mut facility, mut timeout, mut pidfile) = (None, None, None);
    for vip in vips {
        set(
            "--facility",
            vip.facility.map(str::to_owned),
            vip,
            &mut facility,
            warnings,
        );
        set(
            "--script-timeout",
            vip.script_timeout.map(|t| t.to_string()),
            vip,
            &mut timeout,
            warnings,
        );
        set(
            "--pidfile",
            vip.pidfile.as_ref().map(|p| p.display().to_string()),
            vip,
            &mut pidfile,
            warnings,
        );
    }
    g.facility = facility
        .and_then(|f| super::Facility::from_name(&f))
        .map(super::Facility::name);
    g.script_timeout = timeout.and_then(|t| t.parse().ok());
    g.pidfile = pidfile.map(PathBuf::from);
    g
}

// --- output ----------------------------------------------------------------------

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn render(dir: &Path, globals: &Globals, vips: &[Imported]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported by `xcarp import-ucarp` from {}: one [[instance]] per vip-NNN.conf.\n\
         # Check it with `xcarp check-config FILE`; docs/config.md describes every key.",
        dir.display()
    );
    let mut global = Vec::new();
    if let Some(f) = globals.facility {
        global.push(format!("facility = {}", quote(f)));
    }
    if let Some(t) = globals.script_timeout {
        global.push(format!("script_timeout = {t}"));
    }
    if let Some(p) = &globals.pidfile {
        global.push(format!("pidfile = {}", quote(&p.display().to_string())));
    }
    if globals.debug {
        global.push("debug = true".into());
    }
    if !global.is_empty() {
        let _ = write!(out, "\n[global]\n{}\n", global.join("\n"));
    }
    // Keys every instance has with the same value go to [defaults] (as in
    // vip-common.conf), when there are several instances.
    let shared: Vec<(&'static str, String)> = if vips.len() > 1 {
        vips[0]
            .keys
            .iter()
            .filter(|(k, _)| !matches!(*k, "vhid" | "addresses"))
            .filter(|kv| vips.iter().all(|v| v.keys.contains(kv)))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    if !shared.is_empty() {
        out.push_str("\n[defaults]\n");
        for (k, v) in &shared {
            let _ = writeln!(out, "{k} = {v}");
        }
    }
    for vip in vips {
        let _ = write!(
            out,
            "\n# {}\n[[instance]]\nname = {}\n",
            vip.file.display(),
            quote(&vip.name)
        );
        for kv in &vip.keys {
            if !shared.contains(kv) {
                let _ = writeln!(out, "{} = {}", kv.0, kv.1);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
