//! Pure helpers of the benchmark: order statistics and the parsing of
//! `/proc` files, kept apart so they can be tested without root.

/// Order statistics of a sample.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p95: f64,
    pub max: f64,
}

impl Summary {
    /// None for an empty sample.
    pub fn of(samples: &[f64]) -> Option<Self> {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Self {
            n: v.len(),
            min: v[0],
            median: percentile_sorted(&v, 50.0),
            p95: percentile_sorted(&v, 95.0),
            max: v[v.len() - 1],
        })
    }
}

/// The `p`-th percentile of sorted `v`, by linear interpolation between
/// closest ranks (the definition of numpy's default), so a p95 of few
/// samples lies between the two largest rather than on the maximum.
pub fn percentile_sorted(v: &[f64], p: f64) -> f64 {
    assert!(!v.is_empty(), "percentile of an empty sample");
    #[allow(clippy::cast_precision_loss)]
    let rank = p / 100.0 * (v.len() - 1) as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    #[allow(clippy::cast_precision_loss)]
    let frac = rank - lo as f64;
    v[lo] + (v[hi] - v[lo]) * frac
}

/// The longest gap between consecutive instants of `times` (seconds, in
/// any order): a client's longest silence between two replies. None with
/// fewer than two.
pub fn longest_gap(times: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = times.iter().copied().filter(|t| t.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v.windows(2).map(|w| w[1] - w[0]).reduce(f64::max)
}

/// user + system time of a process, in clock ticks, from the text of
/// `/proc/<pid>/stat` (fields 14 and 15; they cover every thread).
pub fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: count
    // from the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')' comes field 3 (state): fields 14 and 15 are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Time on a CPU in ns, the first field of `/proc/<pid>/task/<tid>/schedstat`.
pub fn schedstat_ns(schedstat: &str) -> Option<u64> {
    schedstat.split_whitespace().next()?.parse().ok()
}

/// Softirq time of all CPUs, in clock ticks, from the text of `/proc/stat`
/// (7th value of the `cpu` line).
pub fn proc_stat_softirq_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    line.split_whitespace().nth(7)?.parse().ok()
}

/// A `/proc/<pid>/status` field in kB (`VmRSS`, `VmHWM`).
pub fn status_kb(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_a_sample() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 2.0, 4.0]).expect("non-empty");
        assert_eq!((s.n, s.min, s.median, s.max), (5, 1.0, 3.0, 5.0));
        // rank 0.95 × 4 = 3.8: between 4 and 5.
        assert!((s.p95 - 4.8).abs() < 1e-9, "{}", s.p95);
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[f64::NAN]), None);
    }

    #[test]
    fn percentiles_of_twenty() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert!((percentile_sorted(&v, 95.0) - 19.05).abs() < 1e-9);
        assert!((percentile_sorted(&v, 50.0) - 10.5).abs() < 1e-9);
        assert_eq!(percentile_sorted(&v, 100.0), 20.0);
        assert_eq!(percentile_sorted(&[7.0], 95.0), 7.0);
    }

    #[test]
    fn longest_gap_between_replies() {
        // Replies every 16 ms, then a 3.2 s hole, read out of order.
        let mut t: Vec<f64> = (0..10).map(|i| f64::from(i) * 0.016).collect();
        t.push(0.144 + 3.2);
        t.push(0.144 + 3.216);
        t.swap(0, 11);
        assert!((longest_gap(&t).expect("gap") - 3.2).abs() < 1e-9);
        assert_eq!(longest_gap(&[1.0]), None);
        assert_eq!(longest_gap(&[]), None);
        assert_eq!(longest_gap(&[2.0, f64::NAN, 2.5]), Some(0.5));
    }

    #[test]
    fn cpu_ticks_from_proc_stat_even_with_odd_names() {
        let line = "4242 (we ird) name)) S 1 4242 4242 0 -1 4194560 300 0 0 0 17 5 0 0 20 0 3 0 9000 1000 200";
        assert_eq!(stat_cpu_ticks(line), Some(22));
        assert_eq!(stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn schedstat_and_softirq_and_status() {
        assert_eq!(schedstat_ns("123456789 2222 33\n"), Some(123_456_789));
        let stat = "cpu  100 2 30 4000 5 6 77 0 0 0\ncpu0 50 1 15 2000 2 3 40 0 0 0\n";
        assert_eq!(proc_stat_softirq_ticks(stat), Some(77));
        let status = "Name:\txcarp\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\n";
        assert_eq!(status_kb(status, "VmRSS"), Some(4096));
        assert_eq!(status_kb(status, "VmHWM"), Some(5120));
        assert_eq!(status_kb(status, "VmSwap"), None);
    }
}
