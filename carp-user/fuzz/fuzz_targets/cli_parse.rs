//! Feeds arbitrary command lines (NUL-separated words, not necessarily
//! UTF-8) to the parser. It must never panic, and whatever it accepts must
//! hold what the daemon relies on.
#![no_main]

use std::{ffi::OsString, os::unix::ffi::OsStringExt as _};

use libfuzzer_sys::fuzz_target;
use xcarp::cli::{self, MAX_PASSWORD_LEN, Parsed};

fuzz_target!(|data: &[u8]| {
    let words = data
        .split(|b| *b == 0)
        .map(|word| OsString::from_vec(word.to_vec()));
    let args = std::iter::once(OsString::from("xcarp")).chain(words);
    let Ok(Parsed::Run(config)) = cli::parse(args) else {
        return;
    };
    let password = config.password.as_bytes();
    assert!(!password.is_empty() && password.len() <= MAX_PASSWORD_LEN);
    assert!(config.vhid >= 1);
    assert!(config.group.is_multicast());
    assert_ne!(config.srcip, config.vip);
    assert!(config.advbase > 0 || config.advskew > 0);
    for path in [&config.upscript, &config.downscript, &config.pidfile]
        .into_iter()
        .flatten()
    {
        assert!(path.is_absolute(), "{}", path.display());
    }
});
