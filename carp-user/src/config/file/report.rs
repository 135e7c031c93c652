//! Bookkeeping of the problems found in a configuration file, in time and
//! space that grow linearly with the file whatever it holds: line numbers
//! come from an index of line starts built once, and only the first
//! [`MAX_REPORTED_ERRORS`] errors (in file order) are kept in full, the
//! others counted (docs/config.md, "Reading the file").
use std::collections::BinaryHeap;

use super::Diagnostic;

/// Errors reported in full; the rest are counted ("and N more errors").
pub const MAX_REPORTED_ERRORS: usize = 50;
/// Warnings kept in full; the rest are counted in one more warning.
pub const MAX_REPORTED_WARNINGS: usize = 50;
/// A key longer than this is shown cut (a file may hold a key of any
/// length).
const MAX_KEY_CHARS: usize = 64;
/// A message longer than this is shown cut: values quoted from the file
/// may be of any length, and one error stays one bounded line.
const MAX_MESSAGE_CHARS: usize = 512;

/// Line numbers of byte offsets.
pub(super) struct LineIndex {
    /// Byte offset of the first byte of each line after the first.
    starts: Vec<usize>,
}

impl LineIndex {
    pub(super) fn new(text: &str) -> Self {
        let starts = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        Self { starts }
    }

    /// The 1-based line of byte `offset` (past the end: the last line).
    pub(super) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|start| *start <= offset) + 1
    }
}

/// The errors found so far: the [`MAX_REPORTED_ERRORS`] first in file
/// order, and how many there are in all.
#[derive(Default)]
pub(super) struct Errors {
    /// Max-heap on (offset, order found): the last kept is dropped first.
    kept: BinaryHeap<(usize, u64, Keyed)>,
    total: usize,
}

/// A diagnostic, ordered by nothing (the heap orders by the tuple's first
/// fields, which are unique).
struct Keyed(Diagnostic);

impl PartialEq for Keyed {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Keyed {}
impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Keyed {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Errors {
    /// Records an error at byte `offset` (`usize::MAX`: the file as a
    /// whole, reported last).
    pub(super) fn push(&mut self, (offset, diagnostic): (usize, Diagnostic)) {
        let order = self.total as u64;
        self.total += 1;
        if self.kept.len() == MAX_REPORTED_ERRORS {
            match self.kept.peek() {
                Some((last, _, _)) if *last > offset => {
                    self.kept.pop();
                }
                _ => return,
            }
        }
        self.kept.push((offset, order, Keyed(clipped(diagnostic))));
    }

    /// Every error found, reported or counted.
    pub(super) fn len(&self) -> usize {
        self.total
    }

    pub(super) fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The kept errors in file order, and how many more there are.
    pub(super) fn into_report(self) -> (Vec<Diagnostic>, usize) {
        let mut kept: Vec<_> = self.kept.into_vec();
        kept.sort_unstable_by_key(|(offset, order, _)| (*offset, *order));
        let more = self.total - kept.len();
        (kept.into_iter().map(|(_, _, d)| d.0).collect(), more)
    }
}

/// The warnings found so far, the first [`MAX_REPORTED_WARNINGS`] in full.
#[derive(Default)]
pub(super) struct Warnings {
    kept: Vec<String>,
    more: usize,
}

impl Warnings {
    /// Puts a warning before the others (one about the file as a whole).
    pub(super) fn push_first(&mut self, warning: String) {
        let warning = clip(&warning, MAX_MESSAGE_CHARS * 2);
        if self.kept.contains(&warning) {
            return;
        }
        self.kept.insert(0, warning);
        if self.kept.len() > MAX_REPORTED_WARNINGS {
            self.kept.pop();
            self.more += 1;
        }
    }

    /// Adds a warning, once: a `[defaults]` key is read for every
    /// instance, and its warning must not come once per instance.
    pub(super) fn push(&mut self, warning: String) {
        let warning = clip(&warning, MAX_MESSAGE_CHARS * 2);
        if self.kept.contains(&warning) {
            return;
        }
        if self.kept.len() < MAX_REPORTED_WARNINGS {
            self.kept.push(warning);
        } else {
            self.more += 1;
        }
    }

    pub(super) fn into_vec(mut self) -> Vec<String> {
        if self.more > 0 {
            self.kept.push(format!(
                "and {} more warning{}",
                self.more,
                if self.more == 1 { "" } else { "s" }
            ));
        }
        self.kept
    }
}

fn clipped(mut d: Diagnostic) -> Diagnostic {
    d.key = d.key.map(|k| clip(&k, MAX_KEY_CHARS));
    d.message = clip(&d.message, MAX_MESSAGE_CHARS);
    d
}

/// `text`, cut after `max` characters with an ellipsis; control characters
/// (a newline in a quoted value, say) shown escaped so that one error stays
/// one line.
pub(super) fn clip(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn diagnostic(message: &str) -> Diagnostic {
        Diagnostic {
            file: PathBuf::from("f"),
            line: None,
            key: None,
            message: message.into(),
        }
    }

    #[test]
    fn lines_are_counted_from_one() {
        let index = LineIndex::new("a\nbc\n\nd");
        let lines: Vec<usize> = (0..8).map(|o| index.line(o)).collect();
        assert_eq!(lines, [1, 1, 2, 2, 2, 3, 4, 4]);
        assert_eq!(LineIndex::new("").line(0), 1);
        assert_eq!(LineIndex::new("x\n").line(usize::MAX), 2);
    }

    #[test]
    fn the_first_errors_in_file_order_are_kept_and_the_rest_counted() {
        let mut errors = Errors::default();
        // Found out of file order, as the parser finds them.
        for offset in (0..200).rev() {
            errors.push((offset, diagnostic(&offset.to_string())));
        }
        errors.push((usize::MAX, diagnostic("whole file")));
        errors.push((3, diagnostic("second at 3")));
        assert_eq!(errors.len(), 202);
        let (kept, more) = errors.into_report();
        assert_eq!(more, 202 - MAX_REPORTED_ERRORS);
        let messages: Vec<&str> = kept.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages.len(), MAX_REPORTED_ERRORS);
        assert_eq!(&messages[..5], ["0", "1", "2", "3", "second at 3"]);
        assert_eq!(messages[MAX_REPORTED_ERRORS - 1], "48");
    }

    #[test]
    fn long_keys_and_messages_are_cut_and_stay_one_line() {
        let mut errors = Errors::default();
        let mut d = diagnostic(&format!("bad \"{}\"\n(expected x)", "v".repeat(10_000)));
        d.key = Some("k".repeat(10_000));
        errors.push((0, d));
        let (kept, _) = errors.into_report();
        let line = kept[0].to_string();
        assert!(line.len() < 1000, "{} bytes", line.len());
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains('…'), "{line}");
        assert_eq!(clip("a\nb", 10), "a\\nb");
        assert_eq!(clip("äöü", 2), "äö…");
    }

    #[test]
    fn warnings_beyond_the_cap_are_counted() {
        let mut warnings = Warnings::default();
        for i in 0..MAX_REPORTED_WARNINGS + 7 {
            warnings.push(format!("w{i}"));
        }
        let all = warnings.into_vec();
        assert_eq!(all.len(), MAX_REPORTED_WARNINGS + 1);
        assert_eq!(all.last().map(String::as_str), Some("and 7 more warnings"));
    }
}
