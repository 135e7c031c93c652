//! Feeds arbitrary file contents to the password file reader, whole and in
//! short reads (the first byte sets their size). It must never panic, give
//! the same answer both ways, and keep ucarp's contract: the first line, cut
//! at a newline or a NUL, at most 511 bytes.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use xcarp::cli::{MAX_PASSFILE_LINE, PassfileError, passfile_line};

/// Hands out at most `chunk` bytes per read.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, content)) = data.split_first() else {
        return;
    };
    let whole = passfile_line(content);
    let chunked = passfile_line(Chunked {
        data: content,
        chunk: usize::from(chunk).max(1),
    });
    let end = content.iter().position(|b| *b == b'\n' || *b == 0);
    match (whole, chunked) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            let expected = &content[..end.unwrap_or(content.len())];
            assert_eq!(a.as_bytes(), expected);
            assert!(expected.len() <= MAX_PASSFILE_LINE);
        }
        (Err(PassfileError::LineTooLong), Err(PassfileError::LineTooLong)) => {
            assert!(end.is_none_or(|end| end > MAX_PASSFILE_LINE));
            assert!(content.len() > MAX_PASSFILE_LINE);
        }
        (a, b) => panic!("whole: {a:?}, in short reads: {b:?}"),
    }
});
