//! `xcarp-docs <dir> <date>`: writes xcarp's man page (`<dir>/xcarp.8`) and its
//! bash, zsh and fish completions (`<dir>/completions/`), generated from the
//! command line's definition ([`xcarp::cli::Cli`]), so that neither can
//! list an option the daemon lacks or miss one it has. `cargo xtask package`
//! runs it and puts the files in the Debian package (docs/packaging.md).
//!
//! The synopsis, the options and the examples come from `Cli`; only what
//! it cannot know is written here: the description, the subcommands (which
//! have parsers of their own), and the sections on scripts, signals, exit
//! statuses and files, which follow the README's "Running xcarp".
use std::{
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::CommandFactory as _;
use clap_complete::Shell;
use clap_mangen::{
    Man,
    roff::{Roff, bold, italic, roman},
};
use xcarp::cli::Cli;

/// The man page's NAME line.
const SUMMARY: &str = "share a virtual IPv4 address between hosts with CARP (drop-in for ucarp)";

/// The documents the package installs (xtask/src/package.rs), which the
/// page points to: never the source tree's docs/, which an installed
/// system does not have.
const INSTALLED_DOCS: &[(&str, &str)] = &[
    (
        "/usr/share/doc/xcarp/README.md.gz",
        "running xcarp, each option beside ucarp's, migrating from ucarp.",
    ),
    (
        "/usr/share/doc/xcarp/config.md.gz",
        "the configuration file, check-config, and import-ucarp: what it carries over from /etc/ucarp, what it skips and why.",
    ),
    (
        "/usr/share/doc/xcarp/status.md.gz",
        "xcarp status, its JSON, and the metrics endpoint.",
    ),
];

/// The completion files, as Debian installs them (relative to the
/// completions directory this program writes).
const COMPLETIONS: &[(Shell, &str)] = &[
    (Shell::Bash, "xcarp"),
    (Shell::Zsh, "_xcarp"),
    (Shell::Fish, "xcarp.fish"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, date] = args.as_slice() else {
        eprintln!("usage: xcarp-docs <output directory> <date of the man page, YYYY-MM-DD>");
        return ExitCode::from(1);
    };
    match write_all(Path::new(dir), date) {
        Ok(files) => {
            for file in files {
                println!("{}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xcarp-docs: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes the man page (dated `date`) and the completions under `dir`;
/// returns their paths.
fn write_all(dir: &Path, date: &str) -> Result<Vec<PathBuf>, String> {
    let completions = dir.join("completions");
    fs::create_dir_all(&completions)
        .map_err(|e| format!("cannot create {}: {e}", completions.display()))?;
    let mut written = Vec::new();
    let page = dir.join("xcarp.8");
    fs::write(&page, man_page(date))
        .map_err(|e| format!("cannot write {}: {e}", page.display()))?;
    written.push(page);
    for (shell, name) in COMPLETIONS {
        let path = completions.join(name);
        fs::write(&path, completion(*shell))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// The completion script for `shell`.
fn completion(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "xcarp", &mut out);
    out
}

/// The man page (section 8), in roff.
fn man_page(date: &str) -> Vec<u8> {
    let cmd = Cli::command().about(SUMMARY).long_about(DESCRIPTION);
    let has_subcommands = cmd.get_subcommands().next().is_some();
    // Every .TH field is set: clap_mangen writes an empty one unquoted,
    // which shifts the fields after it.
    let man = Man::new(cmd)
        .section("8")
        .date(date)
        .manual("System Manager's Manual");
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    if has_subcommands {
        let _ = man.render_subcommands_section(&mut out);
    }
    let _ = out.write_all(extra_sections().to_roff().as_bytes());
    let _ = man.render_version_section(&mut out);
    out
}

const DESCRIPTION: &str = "\
xcarp lets a group of Linux hosts share a virtual IPv4 address with automatic \
failover, speaking CARP exactly as ucarp does: same frames, same HMAC, same \
election and tie-break, same command-line options, same up/down script \
contract. xcarp and ucarp hosts can share one virtual address.

Its receive path runs in the kernel as an XDP program: frames that are not \
adverts for the VHID it runs never reach the daemon, and forged adverts for \
that VHID are dropped in the kernel too. The daemon checks every advert again \
and runs the CARP state machine.

Options marked [xcarp] are xcarp's own; every other one is ucarp's, with the \
same short and long names, defaults and meaning. Long options may be \
abbreviated to any unambiguous prefix. xcarp needs root, or CAP_BPF, \
CAP_PERFMON, CAP_NET_ADMIN and CAP_NET_RAW.";

/// EXAMPLES (the command line's own sample usage and other forms),
/// COMMANDS, SCRIPTS, SIGNALS, EXIT STATUS, FILES and SEE ALSO.
fn extra_sections() -> Roff {
    let mut r = Roff::default();
    r.control("SH", ["EXAMPLES"]);
    r.control("nf", []);
    let after_help = Cli::command()
        .get_after_help()
        .map(ToString::to_string)
        .unwrap_or_default();
    r.text([roman(after_help)]);
    r.control("fi", []);

    // The subcommands have parsers of their own, outside `Cli`.
    r.control("SH", ["COMMANDS"]);
    for (synopsis, what) in [
        (
            "xcarp --config FILE",
            "runs every instance the configuration file describes, in one process (see FILES).",
        ),
        (
            "xcarp check-config FILE",
            "checks a configuration file as --config reads it, and against this host as --config and a reload do (the interfaces exist and have an Ethernet address), runs nothing; exit 0, or 1 with each error and its line. With --offline the host is not looked at, for a file checked on another machine.",
        ),
        (
            "xcarp import-ucarp DIR [-o FILE]",
            "converts ucarp's vip-common.conf and vip-NNN.conf (/etc/ucarp) into a configuration file, and reports what it cannot carry over. It runs no shell code: a VIP file it cannot read safely or evaluate exactly is skipped, with its line and the reason, and the others are imported.",
        ),
        (
            "xcarp status [--json | --prometheus] [--socket PATH]",
            "shows each instance of the running daemon (state, master, counters), from its status socket, /run/xcarp/status.sock by default. Only xcarp --config serves status; one run with ucarp's options logs its state on SIGUSR1.",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(synopsis)]);
        r.text([roman(what)]);
    }

    r.control("SH", ["SCRIPTS"]);
    r.text([
        roman("The up-script runs on becoming master, the downscript on becoming backup, as "),
        italic("script interface address"),
        roman(" [xparam], without a shell: they need a #! line and the execute bit. "),
        roman("Adverts keep going out while a script runs, and a script still running after "),
        bold("--script-timeout"),
        roman(" is killed with what it started. Examples that add and remove the address are in "),
        italic("/usr/share/doc/xcarp/examples/"),
        roman("."),
    ]);

    r.control("SH", ["SIGNALS"]);
    for (signal, effect) in [
        (
            "SIGUSR1",
            "logs the status line (MASTER on eth0 id 42) and the counters: adverts, bad digests, XDP drop reasons.",
        ),
        (
            "SIGUSR2",
            "steps down to backup (downscript), as ucarp does; may take over again after 3 s and the master-down interval.",
        ),
        (
            "SIGTERM, SIGINT, SIGQUIT",
            "exit 0. With --shutdown (shutdown = true in a configuration file) a master runs its downscript first; without it the address stays configured, as with ucarp.",
        ),
        (
            "SIGHUP",
            "with --config: reads the file again and applies it whole or not at all: a file with an error, or one this host cannot run (a missing interface), changes nothing. Instances keep their state through any change but of their interface, VLAN or VHID (a master stays master). From the command line: exit, as SIGTERM (ucarp's meaning).",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(signal)]);
        r.text([roman(effect)]);
    }
    r.control("PP", []);
    r.text([roman(
        "Any other exit while master (the interface deleted, the receive path broken) runs the downscript first.",
    )]);

    r.control("SH", ["EXIT STATUS"]);
    for (status, meaning) in [
        ("0", "help or version printed, or stopped by a signal."),
        ("1", "a command-line error (the message names the option)."),
        (
            "2",
            "a run-time failure: the interface is missing or disappeared, the XDP program could not be loaded, the receive path broke; for xcarp status, the daemon could not be asked.",
        ),
        (
            "3",
            "import-ucarp wrote the configuration, but skipped some VIP files (each named above the summary, with the reason): it lacks their VIPs.",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(status)]);
        r.text([roman(meaning)]);
    }

    r.control("SH", ["FILES"]);
    for (file, what) in [
        (
            "/etc/xcarp/xcarp.toml",
            "the configuration file of the xcarp service (systemctl enable --now xcarp; systemctl reload xcarp re-reads it).",
        ),
        (
            "/lib/systemd/system/xcarp.service",
            "runs xcarp --config /etc/xcarp/xcarp.toml, checked first with check-config.",
        ),
        (
            "/lib/systemd/system/xcarp@.service",
            "one xcarp per instance: systemctl enable --now xcarp@NAME runs xcarp --shutdown with the arguments in XCARP_ARGS of /etc/xcarp/NAME.conf.",
        ),
        (
            "/etc/xcarp/NAME.conf",
            "the instance's arguments, e.g. XCARP_ARGS=\"-i eth0 -v 42 -o /etc/xcarp/NAME.pass -a 10.1.1.252 -s 10.1.1.1 -u /etc/xcarp/vip-up.sh -d /etc/xcarp/vip-down.sh\".",
        ),
        (
            "/usr/share/doc/xcarp/examples/",
            "a configuration file with every key, an instance configuration for xcarp@.service, and up/down scripts to start from.",
        ),
    ]
    .iter()
    .chain(INSTALLED_DOCS)
    {
        r.control("TP", []);
        r.text([italic(*file)]);
        r.text([roman(*what)]);
    }

    r.control("SH", ["SEE ALSO"]);
    r.text([
        bold("ucarp"),
        roman("(8), "),
        bold("systemctl"),
        roman("(1), "),
        bold("ip"),
        roman("(8)"),
    ]);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The long options clap shows (hidden ones are left out of both).
    fn visible_long_options() -> Vec<String> {
        let cmd = Cli::command();
        let mut longs: Vec<String> = cmd
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        longs.extend(["--help".to_owned(), "--version".to_owned()]);
        longs
    }

    #[test]
    fn the_man_page_documents_every_option_and_the_sections_operators_look_for() {
        let page = String::from_utf8(man_page("2026-11-28")).unwrap();
        assert!(
            page.contains(&format!(
                ".TH xcarp 8 2026-11-28 \"xcarp {}\" \"System Manager's Manual\"\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{page}"
        );
        // roff writes a dash as \-.
        let roff_page = page.replace("\\-", "-");
        for option in visible_long_options() {
            assert!(roff_page.contains(&option), "the man page lacks {option}");
        }
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "EXAMPLES",
            "COMMANDS",
            "SCRIPTS",
            "SIGNALS",
            "EXIT STATUS",
            "FILES",
            "SEE ALSO",
            "VERSION",
        ] {
            assert!(
                page.contains(&format!(".SH {section}\n"))
                    || page.contains(&format!(".SH \"{section}\"\n")),
                "the man page lacks the {section} section"
            );
        }
        assert!(roff_page.contains("xcarp - share a virtual IPv4 address"));
        // The command line's own sample usage, and every subcommand.
        assert!(roff_page.contains("xcarp -i eth0 -v 42 -p love -a 10.1.1.252"));
        for command in ["check-config", "import-ucarp", "status"] {
            assert!(
                roff_page.contains(&format!("xcarp {command} ")),
                "the man page lacks xcarp {command}"
            );
        }
        assert!(roff_page.contains(env!("CARGO_PKG_VERSION")));
        // An installed system has /usr/share/doc/xcarp, not the source
        // tree's docs/.
        assert!(!roff_page.contains("docs/"), "{page}");
        for (doc, _) in INSTALLED_DOCS {
            assert!(roff_page.contains(doc), "the man page lacks {doc}");
        }
        assert!(roff_page.contains("import-ucarp wrote the configuration, but skipped"));
    }

    #[test]
    fn each_completion_offers_every_option() {
        for (shell, _) in COMPLETIONS {
            let script = String::from_utf8(completion(*shell)).unwrap();
            for option in visible_long_options() {
                // fish lists long options without their dashes (-l vhid).
                let name = option.trim_start_matches('-');
                let found = match shell {
                    Shell::Fish => script.contains(&format!("-l {name}")),
                    _ => script.contains(&option),
                };
                assert!(found, "the {shell} completion lacks {option}");
            }
        }
    }

    #[test]
    fn writes_the_page_and_one_file_per_shell() {
        let dir = std::env::temp_dir().join(format!("xcarp-docs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let written = write_all(&dir, "2026-11-28").unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "xcarp.8",
                "completions/xcarp",
                "completions/_xcarp",
                "completions/xcarp.fish"
            ]
        );
        for path in &written {
            assert!(
                fs::metadata(path).unwrap().len() > 100,
                "{}",
                path.display()
            );
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
