//! What other users could change or reach: settings that work, and that
//! the daemon reports as warnings (never errors) when it reads them, at
//! start and at each reload, and that check-config prints
//! (docs/config.md, "Warnings").
use std::{
    net::SocketAddr,
    os::unix::fs::{MetadataExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
};

/// Write permission for the group, for others.
const GROUP_WRITE: u32 = 0o020;
const OTHER_WRITE: u32 = 0o002;
const STICKY: u32 = 0o1000;

/// A configuration file that group or other users can write: it names the
/// scripts xcarp runs as root.
#[must_use]
pub fn writable_config(path: &Path, mode: u32) -> Option<String> {
    (mode & (GROUP_WRITE | OTHER_WRITE) != 0).then(|| {
        format!(
            "{}: writable by {} (mode {:04o}): whoever can write it chooses the scripts xcarp \
             runs as root: chmod go-w it",
            path.display(),
            who(mode),
            mode & 0o7777
        )
    })
}

/// Who else can change the up/down script at `path` (absolute), which
/// xcarp runs as root: the script itself writable by group or other
/// users, or a directory on its way (the path as given, and the one a
/// symbolic link leads to) that every user can write, unless its sticky
/// bit keeps them from replacing what root owns there.
#[must_use]
pub fn script_exposure(path: &Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & (GROUP_WRITE | OTHER_WRITE) != 0 {
            found.push(format!(
                "{}: writable by {} (mode {:04o}), and run as root: whoever can write it runs \
                 commands as root: chmod go-w it",
                path.display(),
                who(mode),
                mode & 0o7777
            ));
        }
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    let canonical = std::fs::canonicalize(path).ok();
    for chain in std::iter::once(path.to_owned()).chain(canonical) {
        let mut entry = chain.as_path();
        while let Some(dir) = entry.parent() {
            if !seen.iter().any(|s| s == dir)
                && let Some(problem) = replaceable_in(dir, entry, path)
            {
                found.push(problem);
            }
            seen.push(dir.to_owned());
            entry = dir;
        }
    }
    found
}

/// Whether any user can replace `entry` in `dir`: `dir` writable by
/// others, and no sticky bit that keeps them off an entry root (or this
/// process's user) owns in a directory root (or that user) owns.
fn replaceable_in(dir: &Path, entry: &Path, script: &Path) -> Option<String> {
    let meta = std::fs::metadata(dir).ok()?;
    let mode = meta.permissions().mode();
    if mode & OTHER_WRITE == 0 {
        return None;
    }
    let trusted = |uid: u32| uid == 0 || uid == nix::unistd::geteuid().as_raw();
    let entry_owner = std::fs::symlink_metadata(entry).map(|m| m.uid()).ok();
    if mode & STICKY != 0 && trusted(meta.uid()) && entry_owner.is_some_and(trusted) {
        return None;
    }
    Some(format!(
        "{}: run as root, and directory {} on its way is writable by every user (mode {:04o}): \
         anyone can replace {} there: keep scripts in a directory only root can write, such as \
         /etc/xcarp",
        script.display(),
        dir.display(),
        mode & 0o7777,
        entry.display()
    ))
}

/// A metrics endpoint on an address other hosts can reach: it has no
/// authentication.
#[must_use]
pub fn metrics_exposure(addr: SocketAddr) -> Option<String> {
    if addr.ip().is_loopback() {
        return None;
    }
    let which = if addr.ip().is_unspecified() {
        " (every address of the host)"
    } else {
        ""
    };
    Some(format!(
        "{addr}{which} is not a loopback address: the metrics endpoint has no authentication \
         and tells whoever reaches it every instance's state and addresses: let a firewall \
         admit only the scrapers, or listen on 127.0.0.1"
    ))
}

fn who(mode: u32) -> &'static str {
    match (mode & GROUP_WRITE != 0, mode & OTHER_WRITE != 0) {
        (true, true) => "group and other users",
        (true, false) => "its group",
        _ => "other users",
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xcarp-exposure-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_config_file_others_can_write_is_reported() {
        let path = Path::new("/etc/xcarp/xcarp.toml");
        for mode in [0o600, 0o644, 0o640, 0o100_644] {
            assert_eq!(writable_config(path, mode), None, "{mode:o}");
        }
        let w = writable_config(path, 0o664).unwrap();
        assert!(w.contains("writable by its group (mode 0664)"), "{w}");
        let w = writable_config(path, 0o646).unwrap();
        assert!(w.contains("writable by other users (mode 0646)"), "{w}");
    }

    #[test]
    fn a_script_others_can_write_or_replace_is_reported() {
        let dir = temp_dir("scripts");
        let safe = dir.join("safe");
        let script = dir.join("up");
        std::fs::create_dir(&safe).unwrap();
        chmod(&safe, 0o755);
        let up = safe.join("up");
        std::fs::write(&up, "#!/bin/sh\n").unwrap();
        chmod(&up, 0o755);
        // The temporary directory's own parents (/tmp: sticky, root's) are
        // no problem for what root owns.
        assert_eq!(script_exposure(&up), Vec::<String>::new());

        chmod(&up, 0o775);
        let w = script_exposure(&up);
        assert!(
            w.len() == 1 && w[0].contains("writable by its group (mode 0775)"),
            "{w:?}"
        );
        chmod(&up, 0o757);
        assert!(script_exposure(&up)[0].contains("writable by other users"));
        chmod(&up, 0o755);

        // A directory every user can write, without the sticky bit.
        chmod(&safe, 0o777);
        let w = script_exposure(&up);
        assert!(
            w.len() == 1
                && w[0].contains(&format!("directory {} on its way", safe.display()))
                && w[0].contains("(mode 0777)"),
            "{w:?}"
        );
        // With it, root's script stays root's.
        chmod(&safe, 0o1777);
        assert_eq!(script_exposure(&up), Vec::<String>::new());
        chmod(&safe, 0o755);

        // A link to it in a directory anyone can write: the link can be
        // replaced.
        let open = dir.join("open");
        std::fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        symlink(&up, open.join("up")).unwrap();
        let w = script_exposure(&open.join("up"));
        assert!(
            w.len() == 1 && w[0].contains(&format!("directory {} on its way", open.display())),
            "{w:?}"
        );
        // And a safe link to a script in such a directory.
        std::fs::rename(&up, open.join("real")).unwrap();
        symlink(open.join("real"), &script).unwrap();
        let w = script_exposure(&script);
        assert!(
            w.len() == 1 && w[0].contains(&format!("directory {} on its way", open.display())),
            "{w:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn metrics_on_other_than_loopback_are_reported() {
        for addr in ["127.0.0.1:9420", "127.0.0.2:9420", "[::1]:9420"] {
            assert_eq!(metrics_exposure(addr.parse().unwrap()), None, "{addr}");
        }
        let w = metrics_exposure("0.0.0.0:9420".parse().unwrap()).unwrap();
        assert!(
            w.contains("(every address of the host)") && w.contains("firewall"),
            "{w}"
        );
        let w = metrics_exposure("10.1.1.1:9420".parse().unwrap()).unwrap();
        assert!(
            w.starts_with("10.1.1.1:9420 is not a loopback address"),
            "{w}"
        );
        assert!(metrics_exposure("[::]:9420".parse().unwrap()).is_some());
    }
}
