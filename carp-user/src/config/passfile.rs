//! Password files, read as ucarp reads `--passfile`, for the command line
//! and the configuration file alike.
use std::{io::Read, path::Path};

use zeroize::Zeroizing;

use super::{MAX_PASSFILE_LINE, Password};

/// Why a password file gives no password.
#[derive(Debug, thiserror::Error)]
pub enum PassfileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("its first line is longer than {MAX_PASSFILE_LINE} bytes")]
    LineTooLong,
    #[error("not a regular file")]
    NotRegular,
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
    Ok(Password::new(line))
}

/// Reads a password file: a regular file only. A device (`/dev/urandom`
/// never ends) or a FIFO (which may never get a writer) could hold the start
/// forever; the path is opened non-blocking, so that even a FIFO opens at
/// once, and then refused.
///
/// Returns the password and the file's permission bits, so that the caller
/// can warn when group or other users can read it (ucarp reads such a file
/// without a word).
///
/// # Errors
/// The file cannot be opened or read, is not a regular file, or its first
/// line is too long.
pub fn read_passfile(path: &Path) -> Result<(Password, u32), PassfileError> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(PassfileError::NotRegular);
    }
    let mode = meta.permissions().mode() & 0o7777;
    Ok((passfile_line(file)?, mode))
}

/// Whether a file with permission bits `mode` can be read by users other
/// than its owner.
#[must_use]
pub fn readable_by_others(mode: u32) -> bool {
    mode & 0o044 != 0
}
