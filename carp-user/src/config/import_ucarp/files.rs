//! Reading ucarp's files without ever blocking or reading without bound:
//! whatever a name in /etc/ucarp points at (a FIFO, a device, a directory,
//! a huge file), the import goes on and says why that file was not read.
use std::{
    fs::{File, Metadata},
    io::Read as _,
    os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _},
    path::Path,
};

/// ucarp's files are a few lines each: a larger one is not read.
pub const MAX_SOURCE_LEN: u64 = 64 * 1024;

/// The content of the regular file at `path` (a symbolic link to one is
/// followed), at most [`MAX_SOURCE_LEN`] bytes.
///
/// Anything else is not opened for reading at all; and since the name may
/// change between the look and the open, the open does not block either
/// (`O_NONBLOCK`: a FIFO opens at once) and the opened file is checked
/// again before a byte is read.
///
/// # Errors
/// Why the file is not read, for a message after its name.
pub fn read_source(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err(not_regular(path, &meta));
    }
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot read it: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err(not_regular(path, &meta));
    }
    let too_large = |len: u64| {
        format!(
            "{len} bytes, larger than ucarp's files ever are (at most {} KiB are read): not read",
            MAX_SOURCE_LEN / 1024
        )
    };
    if meta.len() > MAX_SOURCE_LEN {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX_SOURCE_LEN {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// `not a regular file (a FIFO)`, saying when a symbolic link led there.
fn not_regular(path: &Path, meta: &Metadata) -> String {
    let kind = meta.file_type();
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    let through = match std::fs::read_link(path) {
        Ok(target) => format!(", through a symbolic link to {}", target.display()),
        Err(_) => String::new(),
    };
    format!("not a regular file ({what}{through}): not read")
}

#[cfg(test)]
mod tests {
    use std::{sync::mpsc, time::Duration};

    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xcarp-import-read-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `read_source` on another thread: a hang fails the test instead of
    /// holding it.
    fn read_within_seconds(path: &Path) -> Result<Vec<u8>, String> {
        let (tx, rx) = mpsc::channel();
        let path = path.to_owned();
        std::thread::spawn(move || tx.send(read_source(&path)));
        rx.recv_timeout(Duration::from_secs(5))
            .expect("reading hangs")
    }

    #[test]
    fn only_regular_files_are_read_and_nothing_blocks() {
        let dir = temp_dir("kinds");
        let fifo = dir.join("vip-002.conf");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = read_within_seconds(&fifo).unwrap_err();
        assert!(e.contains("not a regular file (a FIFO)"), "{e}");

        let zero = dir.join("vip-004.conf");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = read_within_seconds(&zero).unwrap_err();
        assert!(
            e.contains("a character device, through a symbolic link to /dev/zero"),
            "{e}"
        );

        let sub = dir.join("vip-003.conf");
        std::fs::create_dir(&sub).unwrap();
        let e = read_within_seconds(&sub).unwrap_err();
        assert!(e.contains("(a directory)"), "{e}");

        let dangling = dir.join("vip-005.conf");
        std::os::unix::fs::symlink(dir.join("nowhere"), &dangling).unwrap();
        let e = read_within_seconds(&dangling).unwrap_err();
        assert!(e.contains("cannot read it"), "{e}");

        let plain = dir.join("vip-001.conf");
        std::fs::write(&plain, b"VIP_ADDRESS=10.1.1.1\n").unwrap();
        let link = dir.join("vip-006.conf");
        std::os::unix::fs::symlink(&plain, &link).unwrap();
        assert_eq!(
            read_within_seconds(&link).unwrap(),
            b"VIP_ADDRESS=10.1.1.1\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_over_the_bound_is_not_read() {
        let dir = temp_dir("big");
        let path = dir.join("vip-001.conf");
        let fits = vec![b'#'; MAX_SOURCE_LEN as usize];
        std::fs::write(&path, &fits).unwrap();
        assert_eq!(read_source(&path).unwrap().len(), fits.len());
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        let e = read_source(&path).unwrap_err();
        assert!(e.contains("1073741824 bytes, larger than"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
