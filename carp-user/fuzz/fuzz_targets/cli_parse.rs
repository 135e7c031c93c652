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
    let Ok(Parsed::Run(settings)) = cli::parse(args) else {
        return;
    };
    assert!(!settings.instances.is_empty());
    for instance in &settings.instances {
        let password = instance.password.as_bytes();
        assert!(!password.is_empty() && password.len() <= MAX_PASSWORD_LEN);
        assert!(instance.vhid >= 1);
        assert!(instance.group.is_multicast());
        assert!(!instance.addresses.is_empty());
        assert!(instance.addresses.iter().all(|a| a.addr != instance.srcip));
        assert!(instance.advbase > 0 || instance.advskew > 0);
        for path in [&instance.upscript, &instance.downscript, &instance.passfile]
            .into_iter()
            .flatten()
        {
            assert!(path.is_absolute(), "{}", path.display());
        }
    }
    if let Some(path) = &settings.global.pidfile {
        assert!(path.is_absolute(), "{}", path.display());
    }
});
