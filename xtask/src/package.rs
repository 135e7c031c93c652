//! `cargo xtask package`: the Debian package, built with `dpkg-deb --build`
//! from a staged tree (docs/packaging.md says what goes where, and why
//! dpkg-deb rather than cargo-deb).
//!
//! The man page and the completions come from the command line's definition
//! (`carp-user/examples/xcarp-docs.rs`); the units, the instance
//! configuration example and the README's example scripts from
//! `packaging/`; the configuration file's example and documentation from
//! `docs/`.
use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, ensure};

use crate::{bootstrap, build, step};

/// The package's name, and the binary's.
const NAME: &str = "xcarp";

/// Where things go in the package: (source, relative to the staging tree's
/// root, mode). Sources are relative to the workspace root.
const PACKAGING_FILES: &[(&str, &str, u32)] = &[
    (
        "packaging/xcarp@.service",
        "lib/systemd/system/xcarp@.service",
        0o644,
    ),
    // The configuration file's unit (docs/config.md).
    (
        "packaging/xcarp.service",
        "lib/systemd/system/xcarp.service",
        0o644,
    ),
    (
        "docs/xcarp.example.toml",
        "usr/share/doc/xcarp/examples/xcarp.example.toml",
        0o644,
    ),
    (
        "packaging/xcarp.conf",
        "usr/share/doc/xcarp/examples/xcarp.conf",
        0o644,
    ),
    (
        "packaging/vip-up.sh",
        "usr/share/doc/xcarp/examples/vip-up.sh",
        0o755,
    ),
    (
        "packaging/vip-down.sh",
        "usr/share/doc/xcarp/examples/vip-down.sh",
        0o755,
    ),
];

/// The generated completions (as `xcarp-docs` names them) and where Debian
/// looks for them.
const COMPLETIONS: &[(&str, &str)] = &[
    ("xcarp", "usr/share/bash-completion/completions/xcarp"),
    ("_xcarp", "usr/share/zsh/vendor-completions/_xcarp"),
    (
        "xcarp.fish",
        "usr/share/fish/vendor_completions.d/xcarp.fish",
    ),
];

/// Documents installed (compressed) in [`DOC_DIR`]: (source, name).
const DOCS: &[(&str, &str)] = &[
    ("README.md", "README.md"),
    ("docs/config.md", "config.md"),
    ("docs/status.md", "status.md"),
];

const BINARY: &str = "usr/sbin/xcarp";
const MAN_PAGE: &str = "usr/share/man/man8/xcarp.8.gz";
const DOC_DIR: &str = "usr/share/doc/xcarp";
/// Where the instances' configurations go (the package owns the directory).
const CONFIG_DIR: &str = "etc/xcarp";

/// `cargo xtask package`: builds the package and prints its path.
pub fn run() -> anyhow::Result<()> {
    let deb = build()?;
    let size = fs::metadata(&deb).map(|m| m.len()).unwrap_or(0);
    println!(
        "package: {} ({} KiB); install it with: dpkg -i {}",
        deb.display(),
        size.div_ceil(1024),
        deb.display()
    );
    Ok(())
}

/// Builds xcarp (release), its man page and completions, and the package;
/// returns the package's path. One step each.
pub fn build() -> anyhow::Result<PathBuf> {
    step::run(
        "checking the packaging tools (dpkg-deb, dpkg-shlibdeps)",
        || {
            let missing: Vec<&str> = [("dpkg-deb", "dpkg"), ("dpkg-shlibdeps", "dpkg-dev")]
                .iter()
                .filter(|(bin, _)| !bootstrap::on_path(bin))
                .map(|(_, pkg)| *pkg)
                .collect();
            bootstrap::install_packages(&missing, "the Debian package")
        },
    )?;
    let built = build::build_release()?;
    let out = bootstrap::workspace_root().join("target/debian");
    let docs = out.join("docs");
    step::run(
        "generating the man page and the shell completions from the command line",
        || generate_docs(&docs),
    )?;
    step::run("building the Debian package (dpkg-deb)", || {
        let stage = out.join("stage");
        stage_tree(
            &stage,
            &Inputs {
                binary: built.binary.clone(),
                docs: docs.clone(),
            },
        )?;
        strip(&stage.join(BINARY))?;
        let arch = step::output(Command::new("dpkg").arg("--print-architecture"))?;
        let fields = Fields {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            arch: arch.trim().to_owned(),
            depends: shlib_depends(&stage.join(BINARY), &out)?,
            installed_kib: installed_size(&stage)?,
        };
        write_control(&stage, &fields)?;
        let deb = out.join(format!("{NAME}_{}_{}.deb", fields.version, fields.arch));
        step::exec(
            Command::new("dpkg-deb")
                .args(["--build", "--root-owner-group", "-Zxz"])
                .arg(&stage)
                .arg(&deb),
        )?;
        Ok(deb)
    })
}

/// Runs `xcarp-docs` (release, like the binary, so nothing is built twice).
fn generate_docs(dir: &Path) -> anyhow::Result<()> {
    let _ = fs::remove_dir_all(dir);
    step::exec(
        build::cargo()
            .args([
                "run",
                "--release",
                "-p",
                "carp-user",
                "--example",
                "xcarp-docs",
                "--",
            ])
            .arg(dir)
            .arg(page_date()),
    )
}

/// The man page's date: the last commit's (the same page for the same
/// source), or today's outside a git checkout.
fn page_date() -> String {
    Command::new("git")
        .args(["log", "-1", "--format=%cs"])
        .current_dir(bootstrap::workspace_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%d").to_string())
}

/// What the staged tree is made of.
struct Inputs {
    /// The xcarp binary, with its XDP program.
    binary: PathBuf,
    /// `xcarp-docs`'s output: `xcarp.8` and `completions/`.
    docs: PathBuf,
}

/// Lays out the package's files under `stage` (emptied first), without
/// `DEBIAN/control`.
fn stage_tree(stage: &Path, inputs: &Inputs) -> anyhow::Result<()> {
    if stage.exists() {
        fs::remove_dir_all(stage).with_context(|| format!("cannot empty {}", stage.display()))?;
    }
    let root = bootstrap::workspace_root();
    install(&inputs.binary, &stage.join(BINARY), 0o755)?;
    let page = stage.join(MAN_PAGE);
    install(
        &inputs.docs.join("xcarp.8"),
        &page.with_extension(""),
        0o644,
    )?;
    gzip(&page.with_extension(""))?;
    for (name, dest) in COMPLETIONS {
        let source = inputs.docs.join("completions").join(name);
        ensure!(
            fs::metadata(&source).is_ok_and(|m| m.len() > 0),
            "the {name} completion is missing or empty: {}",
            source.display()
        );
        install(&source, &stage.join(dest), 0o644)?;
    }
    for (source, dest, mode) in PACKAGING_FILES {
        install(&root.join(source), &stage.join(dest), *mode)?;
    }
    write_file(&stage.join(DOC_DIR).join("copyright"), &copyright(), 0o644)?;
    // The README and the documents the man page and `--help` refer to.
    for (source, name) in DOCS {
        let dest = stage.join(DOC_DIR).join(name);
        install(&root.join(source), &dest, 0o644)?;
        gzip(&dest)?;
    }
    fs::create_dir_all(stage.join(CONFIG_DIR))?;
    for (name, text) in MAINTAINER_SCRIPTS {
        write_file(&stage.join("DEBIAN").join(name), text, 0o755)?;
    }
    // Every directory 755, whatever the umask.
    for dir in dirs_under(stage)? {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// Copies `source` to `dest` (creating its directory) with `mode`.
fn install(source: &Path, dest: &Path, mode: u32) -> anyhow::Result<()> {
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fs::copy(source, dest)
        .with_context(|| format!("cannot copy {} to {}", source.display(), dest.display()))?;
    fs::set_permissions(dest, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", dest.display()))
}

fn write_file(dest: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fs::write(dest, text).with_context(|| format!("cannot write {}", dest.display()))?;
    fs::set_permissions(dest, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", dest.display()))
}

/// `gzip -9n` in place (no name or time stamp inside: the same input gives
/// the same file).
fn gzip(path: &Path) -> anyhow::Result<()> {
    step::exec(Command::new("gzip").args(["-9nf"]).arg(path))
}

/// Strips the staged binary as Debian's dh_strip does; the XDP program is
/// data in `.rodata` and stays.
fn strip(binary: &Path) -> anyhow::Result<()> {
    step::exec(
        Command::new("strip")
            .args([
                "--remove-section=.comment",
                "--remove-section=.note",
                "--strip-unneeded",
            ])
            .arg(binary),
    )
}

/// The binary's library dependencies, as dpkg-shlibdeps finds them
/// (`libc6 (>= 2.34), libgcc-s1 (>= 4.2)` here). It wants a
/// `debian/control` in its working directory: a one-package one in `work`.
fn shlib_depends(binary: &Path, work: &Path) -> anyhow::Result<String> {
    let dir = work.join("shlibdeps");
    write_file(
        &dir.join("debian/control"),
        &format!("Source: {NAME}\n\nPackage: {NAME}\nArchitecture: any\n"),
        0o644,
    )?;
    let out = step::output(
        Command::new("dpkg-shlibdeps")
            .arg("-O")
            .arg(binary)
            .current_dir(&dir),
    )?;
    parse_shlibdeps(&out).with_context(|| format!("dpkg-shlibdeps printed no dependency: {out}"))
}

/// The value of `shlibs:Depends=` in dpkg-shlibdeps's output.
fn parse_shlibdeps(out: &str) -> Option<String> {
    out.lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
}

/// Installed-Size: KiB of the files and directories outside `DEBIAN/`.
fn installed_size(stage: &Path) -> anyhow::Result<u64> {
    let mut kib = 0;
    let mut pending = vec![stage.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let entry = entry?;
            let path = entry.path();
            if path == stage.join("DEBIAN") {
                continue;
            }
            let meta = entry.metadata()?;
            if meta.is_dir() {
                kib += 1;
                pending.push(path);
            } else {
                kib += meta.len().div_ceil(1024);
            }
        }
    }
    Ok(kib)
}

fn dirs_under(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path.clone());
                dirs.push(path);
            }
        }
    }
    Ok(dirs)
}

/// The control fields that depend on the build.
struct Fields {
    version: String,
    arch: String,
    depends: String,
    installed_kib: u64,
}

/// `DEBIAN/control`, and `DEBIAN/md5sums` of the staged files.
fn write_control(stage: &Path, fields: &Fields) -> anyhow::Result<()> {
    write_file(&stage.join("DEBIAN/control"), &control(fields), 0o644)?;
    let mut files = Vec::new();
    let mut pending = vec![stage.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path == stage.join("DEBIAN") {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path.strip_prefix(stage)?.to_owned());
            }
        }
    }
    files.sort();
    let sums = step::output(Command::new("md5sum").args(&files).current_dir(stage))?;
    write_file(&stage.join("DEBIAN/md5sums"), &sums, 0o644)
}

fn control(f: &Fields) -> String {
    let description = "\
CARP failover daemon with an XDP fast path (drop-in for ucarp)
xcarp lets a group of hosts share a virtual IPv4 address with automatic
failover, speaking CARP exactly as ucarp does: same frames, same HMAC, same
election, same command-line options and up/down scripts. xcarp and ucarp
hosts can share one address.

Its receive path runs in the kernel as an XDP program: traffic that is not
an advert for its VHID never reaches the daemon, and forged adverts are
dropped in the kernel.

The package has a systemd unit, xcarp@.service, that runs one xcarp per
/etc/xcarp/<name>.conf, a man page, and bash, zsh and fish completions.";
    let mut lines = description.lines();
    let synopsis = lines.next().unwrap_or_default();
    let body: Vec<String> = lines
        .map(|l| {
            if l.is_empty() {
                " .".to_owned()
            } else {
                format!(" {l}")
            }
        })
        .collect();
    format!(
        "Package: {NAME}\n\
         Version: {}\n\
         Architecture: {}\n\
         Maintainer: xcarp maintainers <xcarp@example.invalid>\n\
         Installed-Size: {}\n\
         Depends: {}\n\
         Recommends: iproute2\n\
         Section: net\n\
         Priority: optional\n\
         Homepage: {}\n\
         Description: {synopsis}\n{}\n",
        f.version,
        f.arch,
        f.installed_kib,
        f.depends,
        env!("CARGO_PKG_REPOSITORY"),
        body.join("\n")
    )
}

fn copyright() -> String {
    format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: {NAME}\n\
         Source: {}\n\
         \n\
         Files: *\n\
         Copyright: the xcarp developers\n\
         License: {}\n",
        env!("CARGO_PKG_REPOSITORY"),
        env!("CARGO_PKG_LICENSE").replace(" OR ", " or ")
    )
}

/// systemd learns of a new or changed unit on install and removal, and the
/// instances stop before the binary goes. Nothing happens without systemd
/// (a container): they check for it first. An upgrade does not restart
/// running instances, which would fail the address over: restart them one
/// host at a time.
const MAINTAINER_SCRIPTS: &[(&str, &str)] = &[
    (
        "postinst",
        "#!/bin/sh\nset -e\nif [ -d /run/systemd/system ]; then\n\tsystemctl daemon-reload >/dev/null || true\nfi\n",
    ),
    (
        "prerm",
        "#!/bin/sh\nset -e\nif [ \"$1\" = remove ] && [ -d /run/systemd/system ]; then\n\tsystemctl stop xcarp.service 'xcarp@*.service' >/dev/null || true\nfi\n",
    ),
    (
        "postrm",
        "#!/bin/sh\nset -e\nif [ -d /run/systemd/system ]; then\n\tsystemctl daemon-reload >/dev/null || true\nfi\n",
    ),
];

/// Paths the package must hold, for the package test and the unit tests.
#[cfg(test)]
fn expected_paths() -> Vec<&'static str> {
    let mut paths = vec![BINARY, MAN_PAGE];
    paths.extend(COMPLETIONS.iter().map(|(_, dest)| *dest));
    paths.extend(PACKAGING_FILES.iter().map(|(_, dest, _)| *dest));
    paths.extend([
        "usr/share/doc/xcarp/copyright",
        "usr/share/doc/xcarp/README.md.gz",
        "usr/share/doc/xcarp/config.md.gz",
        "usr/share/doc/xcarp/status.md.gz",
    ]);
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-package-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_tree_holds_every_file_where_debian_looks_for_it() {
        let dir = temp("stage");
        let docs = dir.join("docs");
        fs::create_dir_all(docs.join("completions")).unwrap();
        fs::write(docs.join("xcarp.8"), ".TH xcarp 8\n").unwrap();
        for (name, _) in COMPLETIONS {
            fs::write(docs.join("completions").join(name), "complete\n").unwrap();
        }
        let binary = dir.join("xcarp");
        fs::write(&binary, "binary").unwrap();
        let stage = dir.join("stage");
        stage_tree(&stage, &Inputs { binary, docs }).unwrap();
        for path in expected_paths() {
            let meta = fs::metadata(stage.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(meta.len() > 0, "{path} is empty");
            let executable = meta.permissions().mode() & 0o111 != 0;
            assert_eq!(
                executable,
                path == BINARY || path.ends_with(".sh"),
                "{path}: mode {:o}",
                meta.permissions().mode()
            );
        }
        assert!(stage.join(CONFIG_DIR).is_dir());
        for (name, _) in MAINTAINER_SCRIPTS {
            let mode = fs::metadata(stage.join("DEBIAN").join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755, "{name}");
        }
        // A second run starts from an empty tree.
        fs::write(stage.join("stale"), "").unwrap();
        stage_tree(
            &stage,
            &Inputs {
                binary: dir.join("xcarp"),
                docs: dir.join("docs"),
            },
        )
        .unwrap();
        assert!(!stage.join("stale").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_completion_stops_the_build() {
        let dir = temp("nocompletion");
        let docs = dir.join("docs");
        fs::create_dir_all(docs.join("completions")).unwrap();
        fs::write(docs.join("xcarp.8"), ".TH xcarp 8\n").unwrap();
        fs::write(dir.join("xcarp"), "binary").unwrap();
        let err = stage_tree(
            &dir.join("stage"),
            &Inputs {
                binary: dir.join("xcarp"),
                docs,
            },
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("the xcarp completion is missing"),
            "{err:#}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_control_file_is_well_formed() {
        let text = control(&Fields {
            version: "0.1.0".into(),
            arch: "amd64".into(),
            depends: "libc6 (>= 2.34), libgcc-s1 (>= 4.2)".into(),
            installed_kib: 2048,
        });
        assert!(text.starts_with("Package: xcarp\nVersion: 0.1.0\nArchitecture: amd64\n"));
        assert!(text.contains("\nDepends: libc6 (>= 2.34), libgcc-s1 (>= 4.2)\n"));
        assert!(text.contains("\nInstalled-Size: 2048\n"));
        assert!(text.contains(
            "\nDescription: CARP failover daemon with an XDP fast path (drop-in for ucarp)\n xcarp lets"
        ));
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
        // Continuation lines start with a space; an empty one is " .".
        let description = &text[text.find("Description:").unwrap()..];
        for line in description.lines().skip(1) {
            assert!(line.starts_with(' ') && line.trim() != "", "{line:?}");
        }
        assert!(description.contains("\n .\n"));
    }

    #[test]
    fn shlibdeps_output_gives_the_depends_field() {
        assert_eq!(
            parse_shlibdeps("shlibs:Depends=libc6 (>= 2.34), libgcc-s1 (>= 4.2)\n").as_deref(),
            Some("libc6 (>= 2.34), libgcc-s1 (>= 4.2)")
        );
        assert_eq!(parse_shlibdeps("shlibs:Depends=\n"), None);
        assert_eq!(parse_shlibdeps(""), None);
    }

    /// The unit's promises (docs/packaging.md): the ucarp-style arguments of
    /// /etc/xcarp/<name>.conf, the downscript on stop, restarts on failure
    /// only, and the capabilities xcarp needs kept.
    #[test]
    fn the_unit_reads_the_instance_configuration_and_keeps_what_xcarp_needs() {
        let unit = fs::read_to_string(bootstrap::workspace_root().join("packaging/xcarp@.service"))
            .unwrap();
        let lines: Vec<&str> = unit.lines().collect();
        for line in [
            "EnvironmentFile=/etc/xcarp/%i.conf",
            "ExecStart=/usr/sbin/xcarp --shutdown $XCARP_ARGS",
            "KillSignal=SIGTERM",
            "KillMode=mixed",
            "Restart=on-failure",
            "RestartPreventExitStatus=1",
            "Type=simple",
        ] {
            assert!(lines.contains(&line), "the unit lacks {line}");
        }
        let caps = lines
            .iter()
            .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
            .expect("a capability bounding set");
        for cap in ["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_NET_RAW"] {
            assert!(
                caps.split_whitespace().any(|c| c == cap),
                "{cap} is not kept"
            );
        }
        let families = lines
            .iter()
            .find_map(|l| l.strip_prefix("RestrictAddressFamilies="))
            .expect("address families");
        for family in ["AF_PACKET", "AF_NETLINK", "AF_INET", "AF_UNIX"] {
            assert!(families.contains(family), "{family} is not allowed");
        }
        // Longer than the default --script-timeout (10 s), so that the
        // downscript can finish before systemd kills it.
        let stop: u64 = lines
            .iter()
            .find_map(|l| l.strip_prefix("TimeoutStopSec="))
            .and_then(|s| s.parse().ok())
            .expect("TimeoutStopSec in seconds");
        assert!(stop > 10);
    }

    /// The man page, `--help`, `xcarp status` and import-ucarp's output
    /// point to documents under /usr/share/doc/xcarp: each is one the
    /// package installs.
    #[test]
    fn every_document_the_binary_and_its_page_name_is_installed() {
        let root = bootstrap::workspace_root();
        let packaged = expected_paths();
        let mut named = 0;
        for source in [
            "carp-user/examples/xcarp-docs.rs",
            "carp-user/src/cli.rs",
            "carp-user/src/status/client.rs",
            "carp-user/src/config/import_ucarp.rs",
        ] {
            let text = fs::read_to_string(root.join(source)).unwrap();
            for (at, _) in text.match_indices("/usr/share/doc/xcarp/") {
                let path: String = text[at + 1..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && !"\"`),;\\".contains(*c))
                    .collect();
                let path = path.trim_end_matches('.');
                let installed = if path.ends_with('/') {
                    packaged.iter().any(|p| p.starts_with(path))
                } else {
                    packaged.contains(&path)
                };
                assert!(
                    installed,
                    "{source} names /{path}, which the package does not install"
                );
                named += 1;
            }
        }
        assert!(named >= 5, "only {named} documents named");
    }

    /// The README's example scripts are the ones the package ships.
    #[test]
    fn the_readme_shows_the_shipped_example_scripts() {
        let root = bootstrap::workspace_root();
        let readme = fs::read_to_string(root.join("README.md")).unwrap();
        for script in ["vip-up.sh", "vip-down.sh"] {
            let text = fs::read_to_string(root.join("packaging").join(script)).unwrap();
            let indented: String = text.lines().map(|l| format!("    {l}\n")).collect();
            assert!(
                readme.contains(&indented),
                "README.md does not show packaging/{script}:\n{indented}"
            );
        }
    }
}
