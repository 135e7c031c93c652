//! Files with a great many problems: reported in bounded form, read in time
//! linear in their size (docs/config.md, "Reading the file").
use std::time::Instant;

use super::*;

/// One valid instance followed by `n` unknown keys in it.
fn unknown_keys(n: usize) -> String {
    let mut text = one("");
    for i in 0..n {
        text.push_str(&format!("k{i:06} = 1\n"));
    }
    text
}

fn rejected(text: &str) -> (ConfigError, f64) {
    let t0 = Instant::now();
    let result = parse_str(text, Path::new(FILE), Checks::TextOnly);
    let seconds = t0.elapsed().as_secs_f64();
    (result.expect_err("accepted"), seconds)
}

#[test]
fn the_first_fifty_errors_are_reported_and_the_rest_counted() {
    let n = 100_000;
    let text = unknown_keys(n);
    let (e, seconds) = rejected(&text);
    assert_eq!(e.diagnostics.len(), MAX_REPORTED_ERRORS);
    assert_eq!(e.more, n - MAX_REPORTED_ERRORS);
    // In file order, with the right lines: the keys start after the six
    // lines of the instance.
    for (i, d) in e.diagnostics.iter().enumerate() {
        assert_eq!(d.line, Some(7 + i), "{d}");
        assert_eq!(d.key.as_deref(), Some(format!("k{i:06}").as_str()));
    }
    let shown = e.to_string();
    assert_eq!(shown.lines().count(), MAX_REPORTED_ERRORS + 1);
    assert_eq!(
        shown.lines().last(),
        Some(format!("and {} more errors", n - MAX_REPORTED_ERRORS).as_str())
    );
    eprintln!(
        "{n} unknown keys ({} bytes): parsed and reported in {seconds:.3} s",
        text.len()
    );
}

/// Four times the errors take about four times as long: the ratio of 40k
/// to 10k unknown keys stays far from the 16 of a quadratic report. A
/// loose bound (8) so that a busy machine does not fail it; the figures
/// are printed.
#[test]
fn reporting_grows_linearly_with_the_number_of_errors() {
    let time = |n: usize| {
        let text = unknown_keys(n);
        (0..3).map(|_| rejected(&text).1).fold(f64::MAX, f64::min)
    };
    let (small, large) = (time(10_000), time(40_000));
    eprintln!(
        "10k unknown keys: {small:.3} s, 40k: {large:.3} s, ratio {:.1}",
        large / small
    );
    assert!(large / small < 8.0, "10k: {small:.3} s, 40k: {large:.3} s");
}

#[test]
fn one_error_is_one_bounded_line_whatever_the_file_holds() {
    let long = "x".repeat(100_000);
    let text = format!("{}{long} = 1\nxdp_mode = \"{long}\\nmore\"\n", one(""));
    let (e, _) = rejected(&text);
    assert_eq!(e.diagnostics.len(), 2, "{e}");
    for d in &e.diagnostics {
        let line = d.to_string();
        assert!(line.len() < 1_000, "{} bytes: {}", line.len(), &line[..200]);
        assert!(!line.contains('\n'));
    }
    assert!(e.to_string().lines().count() == 2);
}

#[test]
fn a_file_larger_than_the_bound_is_refused_before_it_is_read() {
    let dir = temp_dir("sparse");
    let big = dir.join("big.toml");
    // Sparse: 64 GiB that would take long to read, and are not read.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let t0 = Instant::now();
    let e = load(&big).unwrap_err().to_string();
    assert!(
        e.contains(&format!("larger than {MAX_FILE_LEN} bytes")),
        "{e}"
    );
    assert!(t0.elapsed().as_secs() < 5, "{:?}", t0.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let dir = temp_dir("fifo");
    let fifo = dir.join("xcarp.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || tx.send(load(&path).map(|_| ()).map_err(|e| e.to_string())));
    let e = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("reading a FIFO hangs")
        .unwrap_err();
    assert!(e.contains("not a regular file"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
