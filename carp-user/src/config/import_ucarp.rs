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
//!
//! The files are read without running them ([`shell`]: a file with any
//! line that is not plain assignments is refused, not read in part) and
//! without ever blocking or reading without bound ([`files`]). A VIP file
//! that cannot be imported is skipped with its reason, and the others are
//! imported.
use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    fmt::Write as _,
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

use super::{MAX_PASSWORD_LEN, file};
use crate::cli;

mod files;
mod shell;

pub use files::MAX_SOURCE_LEN;
use shell::{Env, Origin, Value};

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
    /// How many `vip-NNN.conf` the directory holds, imported or not.
    pub vip_files: usize,
    /// What could not be carried over as it was, `FILE:LINE: what`.
    pub warnings: Vec<String>,
    /// The `vip-NNN.conf` not imported, `FILE[:LINE]: why`, in file order.
    pub skipped: Vec<String>,
}

/// Why nothing can be imported: every problem, `FILE[:LINE]: what`, the
/// files skipped and the warnings gathered on the way.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub struct ImportError {
    pub errors: Vec<String>,
    pub skipped: Vec<String>,
    pub warnings: Vec<String>,
}

impl ImportError {
    fn new(error: String) -> Self {
        Self {
            errors: vec![error],
            skipped: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.errors.join("\n"))
    }
}

/// Converts the ucarp configuration in `dir`. A `vip-NNN.conf` that cannot
/// be read or converted is skipped, with the reason, and the others are
/// imported.
///
/// # Errors
/// The directory cannot be read, `vip-common.conf` cannot be read, or no
/// VIP can be imported.
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
    let common = if names.iter().any(|n| n == COMMON_FILE) {
        let path = dir.join(COMMON_FILE);
        match files::read_source(&path) {
            Ok(text) => Some(Source { path, text }),
            Err(why) => {
                let mut e = ImportError::new(format!("{}: {why}", path.display()));
                e.errors.push(no_vip_without_common());
                return Err(e);
            }
        }
    } else {
        None
    };
    let mut vips = Vec::new();
    let mut unread = Vec::new();
    let mut warnings = Vec::new();
    // The init script's order: `LC_COLLATE=C sort`.
    names.sort();
    for name in &names {
        let path = dir.join(name);
        if is_vip_file(name) {
            match files::read_source(&path) {
                Ok(text) => vips.push(Source { path, text }),
                Err(why) => {
                    let message = format!("{}: {why}", path.display());
                    unread.push((path, message));
                }
            }
        } else if name.starts_with("vip-") && name.ends_with(".conf") && name != COMMON_FILE {
            warnings.push(format!(
                "{}: not read: ucarp's init script only reads vip-<digits>.conf",
                path.display()
            ));
        }
    }
    let mut result = convert_read(common.as_ref(), &vips, unread, dir);
    let gathered = match &mut result {
        Ok(import) => &mut import.warnings,
        Err(e) => &mut e.warnings,
    };
    warnings.append(gathered);
    *gathered = warnings;
    result
}

/// `vip-<digits>.conf`, the init script's pattern.
fn is_vip_file(name: &str) -> bool {
    name.strip_prefix("vip-")
        .and_then(|n| n.strip_suffix(".conf"))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

fn no_vip_without_common() -> String {
    format!(
        "no VIP imported: ucarp's init script sources {COMMON_FILE} before each vip-NNN.conf, \
         so none can be read without it"
    )
}

/// A file's path and content.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: Vec<u8>,
}

/// A variable the init script passes on, as text (the password aside).
#[derive(Clone, Debug)]
struct Var {
    value: String,
    origin: Origin,
}

type TextEnv = HashMap<String, Var>;

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
    convert_read(common, vips, Vec::new(), dir)
}

/// [`convert`], with the VIP files that could not be read: (path, why).
fn convert_read(
    common: Option<&Source>,
    vips: &[Source],
    unread: Vec<(PathBuf, String)>,
    dir: &Path,
) -> Result<Import, ImportError> {
    let mut warnings = Vec::new();
    let vip_files = vips.len() + unread.len();
    let mut skipped = unread;
    let mut common_env = Env::new();
    for source in common.into_iter().chain(vips) {
        if source.text.windows(2).any(|w| w == b"\r\n") {
            warnings.push(format!(
                "{}: its lines end with \\r\\n (written on Windows?): the shell keeps the \\r \
                 at the end of each value, as ucarp got them, and so does the import",
                source.path.display()
            ));
        }
    }
    match common {
        Some(source) => {
            if let Err(refusal) = shell::source(
                &source.text,
                &source.path,
                &mut common_env,
                &KNOWN,
                &mut warnings,
            ) {
                skipped.sort_by(|a, b| a.0.cmp(&b.0));
                return Err(ImportError {
                    errors: vec![refused(&source.path, &refusal), no_vip_without_common()],
                    skipped: skipped.into_iter().map(|(_, why)| why).collect(),
                    warnings,
                });
            }
        }
        None => warnings.push(format!(
            "{}: missing: each VIP file is read on its own",
            dir.join(COMMON_FILE).display()
        )),
    }
    report_unknown(&common_env, &mut warnings);
    let mut imported: Vec<Imported> = Vec::new();
    // Variables set by an earlier VIP file and not by vip-common.conf: some
    // versions of the init script keep them for the next files.
    let mut leaked: BTreeMap<String, Origin> = BTreeMap::new();
    for source in vips {
        let mut own = common_env.clone();
        let mut notes = Vec::new();
        if let Err(refusal) =
            shell::source(&source.text, &source.path, &mut own, &KNOWN, &mut notes)
        {
            skipped.push((source.path.clone(), refused(&source.path, &refusal)));
            continue;
        }
        warnings.append(&mut notes);
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
        match vip(source, &own, &mut warnings) {
            Ok(vip) => imported.push(vip),
            Err(why) => skipped.push((source.path.clone(), why)),
        }
    }
    let imported = without_duplicates(imported, &mut skipped);
    skipped.sort_by(|a, b| a.0.cmp(&b.0));
    let skipped: Vec<String> = skipped.into_iter().map(|(_, why)| why).collect();
    if imported.is_empty() {
        let error = if vip_files == 0 {
            format!("{}: no VIP to import (no vip-NNN.conf)", dir.display())
        } else {
            format!(
                "{}: no VIP imported: none of its {vip_files} vip-NNN.conf could be (each is \
                 listed with the reason)",
                dir.display()
            )
        };
        return Err(ImportError {
            errors: vec![error],
            skipped,
            warnings,
        });
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
            skipped,
            warnings,
        });
    }
    Ok(Import {
        toml,
        instances: imported.len(),
        vip_files,
        warnings,
        skipped,
    })
}

/// Why a file the shell reader refused is skipped.
fn refused(file: &Path, refusal: &shell::Refusal) -> String {
    format!(
        "{}:{}: {}; the file is not imported rather than read in part (the importer does not \
         run shell code: write the file as plain NAME=value lines)",
        file.display(),
        refusal.line,
        refusal.reason
    )
}

fn report_unknown(env: &Env, warnings: &mut Vec<String>) {
    let mut unknown: Vec<(&String, &shell::Var)> = env
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

/// Marks a password that is not UTF-8 on the rebuilt command line (which
/// is text), followed by its bytes in hex; no text password starts so.
const BYTES_MARK: &str = "\u{F8FF}xcarp-bytes:";

/// The variables the init script passes, as text, for one VIP file.
///
/// A password that is not UTF-8 text is kept byte for byte: its first
/// word (what the unquoted `$PASSWORD` gave ucarp) becomes
/// [`BYTES_MARK`] and its hex. Any other value must be text, as the
/// configuration file is.
///
/// # Errors
/// A variable whose value the importer cannot know, or that is not text.
fn text_env(env: &Env, warnings: &mut Vec<String>) -> Result<TextEnv, String> {
    let mut text = TextEnv::new();
    for name in KNOWN {
        let Some(var) = env.get(name) else { continue };
        let bytes = match &var.value {
            Value::Bytes(bytes) => bytes,
            Value::Unknown(why) => {
                return Err(format!(
                    "{}: {name} is set with {why}: the importer cannot know what ucarp got",
                    var.origin
                ));
            }
        };
        let value = match (std::str::from_utf8(bytes), name) {
            (Ok(value), _) => value.to_owned(),
            (Err(_), "PASSWORD") => {
                let mut words = bytes
                    .split(|b| matches!(b, b' ' | b'\t' | b'\n'))
                    .filter(|w| !w.is_empty());
                let first = words.next().unwrap_or_default();
                if words.next().is_some() {
                    warnings.push(format!(
                        "{}: PASSWORD holds several words; ucarp's init script passes it \
                         unquoted, so ucarp took only the first ({} bytes): imported so",
                        var.origin,
                        first.len()
                    ));
                }
                format!("{BYTES_MARK}{}", hex(first))
            }
            (Err(_), _) => {
                return Err(format!(
                    "{}: {name} is not UTF-8 text, which a configuration file cannot hold",
                    var.origin
                ));
            }
        };
        text.insert(
            name.to_owned(),
            Var {
                value,
                origin: var.origin.clone(),
            },
        );
    }
    Ok(text)
}

/// Lower-case hex, two digits a byte.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The bytes [`text_env`] hid behind [`BYTES_MARK`], or the text's own.
fn password_bytes(text: &[u8]) -> Vec<u8> {
    let Some(hex) = text.strip_prefix(BYTES_MARK.as_bytes()) else {
        return text.to_vec();
    };
    hex.chunks(2)
        .filter_map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect()
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
    let mut words = shell_words(&var.value);
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

/// The words the shell splits an unquoted expansion into (the default
/// IFS: space, tab, newline; a `\r` stays in its word).
fn shell_words(value: &str) -> impl Iterator<Item = &str> {
    value
        .split([' ', '\t', '\n'])
        .filter(|word| !word.is_empty())
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

/// One VIP file's instance.
///
/// # Errors
/// Why it is not imported: ucarp's init script (or ucarp) would not have
/// run it, or its settings cannot be carried over.
fn vip(source: &Source, env: &Env, warnings: &mut Vec<String>) -> Result<Imported, String> {
    let file = &source.path;
    let env = text_env(env, warnings)?;
    let file_name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let stem = file_name
        .strip_suffix(".conf")
        .unwrap_or(&file_name)
        .to_owned();
    let would_not_run = |why: String| format!("{}: ucarp would not run it: {why}", file.display());
    let get = |name: &str| env.get(name).filter(|v| !v.value.trim().is_empty());

    // ID: the file name's digits, unless the file sets it.
    let id_text = match get("ID") {
        Some(var) => first_word("ID", var, warnings).unwrap_or_default(),
        None => stem.trim_start_matches("vip-").to_owned(),
    };
    // The init script checks the range with the shell's decimal `[ -lt ]`,
    // ucarp then reads the same text with strtoul(…, 0).
    let Ok(decimal) = id_text.parse::<u64>() else {
        return Err(would_not_run(format!(
            "ID \"{id_text}\" is not a decimal number"
        )));
    };
    if !(1..=255).contains(&decimal) {
        return Err(would_not_run(format!(
            "ID {id_text} is out of range (1-255)"
        )));
    }
    let wire = strtoul_base0(&id_text);
    if wire == 0 {
        return Err(would_not_run(format!(
            "ucarp reads ID {id_text} as octal, which gives vhid 0, and refuses it"
        )));
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
        return Err(would_not_run(format!("no {}", missing.join(", no "))));
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
        .map(|v| shell_words(&v.value).map(str::to_owned).collect())
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
                    return Err(format!(
                        "{}: internal error: stray word {word}",
                        file.display()
                    ));
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
                return Err(format!(
                    "{}: the ucarp command line for this VIP (\"{}\") is not understood: {e}",
                    at_options(),
                    shown_words(&words)
                ));
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
        return Err(format!(
            "{}: internal error: a required option is missing",
            file.display()
        ));
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
        return Err(would_not_run(
            "advbase and advskew are both 0 (`You must supply an advertisement time base`)".into(),
        ));
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
        let bytes = password_bytes(p.as_bytes());
        if bytes.len() > MAX_PASSWORD_LEN {
            return Err(would_not_run(format!(
                "the password is {} bytes (`Password too long`, at most {MAX_PASSWORD_LEN})",
                bytes.len()
            )));
        }
        // Byte for byte: a password that is not UTF-8 text goes in hex (a
        // TOML string is text, and any other reading would change the key).
        match std::str::from_utf8(&bytes) {
            Ok(text) => keys.push(("password", quote(text))),
            Err(_) => {
                warnings.push(format!(
                    "{}: the password is not UTF-8 text: imported byte for byte as \
                     `password_hex`",
                    file.display()
                ));
                keys.push(("password_hex", quote(&hex(&bytes))));
            }
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
        return Err(errors.join("; "));
    }
    Ok(Imported {
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
    })
}

/// The rebuilt command line for a message, the password left out.
fn shown_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some(("--pass", _)) => "--pass=…",
            _ => w.as_str(),
        })
        .collect::<Vec<_>>()
        .join(" ")
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
/// address twice. The first file keeps it; a later one is skipped, with
/// the reason, into `skipped`.
fn without_duplicates(vips: Vec<Imported>, skipped: &mut Vec<(PathBuf, String)>) -> Vec<Imported> {
    let mut kept: Vec<Imported> = Vec::new();
    for vip in vips {
        let same_vhid = kept
            .iter()
            .find(|k| k.interface == vip.interface && k.vhid == vip.vhid);
        let same_address = kept.iter().find(|k| k.address == vip.address);
        let why = match (same_vhid, same_address) {
            (Some(first), _) => format!(
                "{}: vhid {} on {} is also the vhid of {}, imported: two ucarp processes with one \
                 vhid on one interface fight each other; give each VIP its own ID",
                vip.file.display(),
                vip.vhid,
                vip.interface,
                first.file.display()
            ),
            (None, Some(first)) => format!(
                "{}: VIP_ADDRESS {} is also the address of {} ({}), imported",
                vip.vip_origin,
                vip.address,
                first.file.display(),
                first.vip_origin
            ),
            (None, None) => {
                kept.push(vip);
                continue;
            }
        };
        skipped.push((vip.file, why));
    }
    kept
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
         # Check it with `xcarp check-config FILE`; /usr/share/doc/xcarp/config.md.gz\n\
         # describes every key.",
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
