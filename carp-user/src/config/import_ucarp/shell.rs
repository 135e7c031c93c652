//! ucarp's files as the shell reads them, without running any shell code.
//!
//! The init script sources each file; the importer only evaluates what it
//! can evaluate exactly: comments, `NAME=value` and `export NAME=value`
//! assignments (several on a line, or separated by `;`), with quotes,
//! backslash escapes and `$NAME`/`${NAME}` expansion. A value is kept as
//! bytes, as the shell keeps it (a password need not be UTF-8 text).
//!
//! Any other line (`if`, `case`, a loop, a function, `&&`, `. file`, a
//! command, a line continued with `\`, a command substitution) may set or
//! unset variables in ways that only running it would tell: the whole file
//! is refused at that line, never read in part. An expansion whose value
//! only the shell that ran knows (`$$`, `$1`, `~`) leaves the variable
//! unknown: a file that needs it is refused when the variable is used.
use std::{collections::HashMap, fmt, path::PathBuf};

/// Where a variable was set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A variable's value, or why the importer cannot know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Bytes(Vec<u8>),
    Unknown(String),
}

#[derive(Clone, Debug)]
pub struct Var {
    pub value: Value,
    pub origin: Origin,
}

pub type Env = HashMap<String, Var>;

/// Why a file is not read: the first line the importer cannot evaluate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub line: usize,
    pub reason: String,
}

/// Adds the assignments of `text` (the content of `file`) to `env`, as
/// sourcing it would. `watched` are the variables the caller reads: a
/// refusal names those that the lines from the refused one on assign.
/// Notes on what was evaluated (an unset variable expanded to nothing) go
/// to `notes`, with their file and line.
///
/// # Errors
/// The first line that is not a comment or assignments, or whose
/// assignments the importer cannot evaluate exactly.
pub fn source(
    text: &[u8],
    file: &std::path::Path,
    env: &mut Env,
    watched: &[&str],
    notes: &mut Vec<String>,
) -> Result<(), Refusal> {
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    for (index, raw) in lines.iter().enumerate() {
        let origin = Origin {
            file: file.to_owned(),
            line: index + 1,
        };
        let mut reader = Line {
            s: raw,
            i: 0,
            env,
            origin: &origin,
            notes,
        };
        if let Err(reason) = reader.statements() {
            let assigned = assigned_later(&lines[index..], index + 1, watched);
            let reason = if assigned.is_empty() {
                reason
            } else {
                format!(
                    "{reason} (assigned from this line on: {})",
                    assigned.join(", ")
                )
            };
            return Err(Refusal {
                line: index + 1,
                reason,
            });
        }
    }
    Ok(())
}

/// `NAME at line N` for each watched variable that `lines` (the first one
/// numbered `first`) seem to assign, for the refusal's message.
fn assigned_later(lines: &[&[u8]], first: usize, watched: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for name in watched {
        let needle = format!("{name}=");
        let at = lines.iter().position(|line| {
            line.windows(needle.len())
                .enumerate()
                .any(|(i, w)| w == needle.as_bytes() && (i == 0 || !is_name_byte(line[i - 1])))
        });
        if let Some(at) = at {
            found.push((first + at, format!("{name} at line {}", first + at)));
        }
    }
    found.sort();
    found.into_iter().map(|(_, text)| text).collect()
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// Words that open or close a compound command, or negate a pipeline.
const CONSTRUCTS: [&str; 20] = [
    "if", "then", "elif", "else", "fi", "case", "esac", "for", "select", "while", "until", "do",
    "done", "function", "{", "}", "!", "[[", "]]", "time",
];

/// One line being read.
struct Line<'a, 'e> {
    s: &'a [u8],
    i: usize,
    env: &'e mut Env,
    origin: &'e Origin,
    notes: &'e mut Vec<String>,
}

impl Line<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// At the end of the line or of the statement's text (a comment).
    fn at_end(&self) -> bool {
        matches!(self.peek(), None | Some(b'#'))
    }

    /// `NAME=` at the cursor: the name, the cursor moved past the `=`.
    fn assignment_name(&mut self) -> Option<String> {
        let start = self.i;
        if !self.peek().is_some_and(is_name_start) {
            return None;
        }
        let mut end = start;
        while self.s.get(end).copied().is_some_and(is_name_byte) {
            end += 1;
        }
        if self.s.get(end) != Some(&b'=') {
            return None;
        }
        self.i = end + 1;
        Some(String::from_utf8_lossy(&self.s[start..end]).into_owned())
    }

    /// The text of the word at the cursor, for messages.
    fn next_word(&self) -> String {
        let rest = &self.s[self.i..];
        let end = rest
            .iter()
            .position(|b| matches!(b, b' ' | b'\t' | b';'))
            .unwrap_or(rest.len());
        let word = String::from_utf8_lossy(&rest[..end]).into_owned();
        if word.chars().count() > 40 {
            format!("{}…", word.chars().take(40).collect::<String>())
        } else {
            word
        }
    }

    /// Whether the word at the cursor is `word`, followed by a blank or the
    /// end.
    fn word_is(&self, word: &str) -> bool {
        let rest = &self.s[self.i..];
        rest.starts_with(word.as_bytes())
            && matches!(rest.get(word.len()), None | Some(b' ' | b'\t'))
    }

    /// Statements separated by `;`, each assignments only.
    fn statements(&mut self) -> Result<(), String> {
        loop {
            self.skip_blanks();
            if self.at_end() {
                return Ok(());
            }
            let export = self.word_is("export");
            if export {
                self.i += "export".len();
            }
            let mut assigned = false;
            loop {
                self.skip_blanks();
                if self.at_end() {
                    return Ok(());
                }
                if self.peek() == Some(b';') {
                    if !assigned && !export {
                        return Err(operator(b';', self.s.get(self.i + 1).copied()));
                    }
                    self.i += 1;
                    break;
                }
                if let Some(name) = self.assignment_name() {
                    let value = self.word()?;
                    self.env.insert(
                        name,
                        Var {
                            value,
                            origin: self.origin.clone(),
                        },
                    );
                    assigned = true;
                    continue;
                }
                if self.peek() == Some(b'\\') && self.i + 1 == self.s.len() {
                    return Err(continued());
                }
                if let Some(b) = self.peek().filter(|b| b"&|<>()".contains(b)) {
                    return Err(operator(b, self.s.get(self.i + 1).copied()));
                }
                if export && self.peek().is_some_and(is_name_start) {
                    // `export NAME`: marks it for children, changes no value.
                    let rest = &self.s[self.i..];
                    let len = rest.iter().take_while(|b| is_name_byte(**b)).count();
                    if matches!(rest.get(len), None | Some(b' ' | b'\t' | b';' | b'#')) {
                        self.i += len;
                        continue;
                    }
                }
                return Err(self.not_an_assignment(assigned, export));
            }
        }
    }

    /// What the word at the cursor is, when it is no assignment.
    fn not_an_assignment(&self, after_assignment: bool, export: bool) -> String {
        let word = self.next_word();
        let runs = "the importer does not run shell code, and what it does may set or change \
                    the variables ucarp gets";
        if after_assignment {
            return format!(
                "an assignment followed by `{word}`, a command (`NAME=value command` runs the \
                 command and sets nothing): {runs}"
            );
        }
        if export {
            return format!("`export {word}`: not NAME or NAME=value: {runs}");
        }
        if CONSTRUCTS.contains(&word.as_str()) {
            return format!(
                "`{word}`: a shell construct, which the importer does not evaluate: what is set \
                 inside it may or may not be set"
            );
        }
        if word.contains("()") {
            return format!("`{word}`: a function definition: {runs}");
        }
        if word == "." || word == "source" {
            return format!("`{word}` sources another file, which may set any variable");
        }
        format!("`{word}`: a command, not an assignment: {runs}")
    }

    /// The value of an assignment's right-hand side, up to an unquoted
    /// blank, `;` or the end of the line: quotes removed, escapes applied,
    /// `$NAME` expanded.
    fn word(&mut self) -> Result<Value, String> {
        let mut out = Vec::new();
        let mut unknown: Option<String> = None;
        // Where an unquoted `~` would be expanded: the start of the value
        // and after an unquoted `:`.
        let mut tilde_here = true;
        while let Some(b) = self.peek() {
            let mut after_colon = false;
            match b {
                b' ' | b'\t' | b';' => break,
                b'&' | b'|' | b'<' | b'>' | b'(' | b')' => {
                    return Err(operator(b, self.s.get(self.i + 1).copied()));
                }
                b'`' => return Err(command_substitution()),
                b'\'' => {
                    self.i += 1;
                    let rest = &self.s[self.i..];
                    let Some(end) = rest.iter().position(|c| *c == b'\'') else {
                        return Err(unclosed());
                    };
                    out.extend_from_slice(&rest[..end]);
                    self.i += end + 1;
                }
                b'"' => {
                    self.i += 1;
                    self.double_quoted(&mut out, &mut unknown)?;
                }
                b'\\' => match self.s.get(self.i + 1) {
                    None => return Err(continued()),
                    Some(&next) => {
                        out.push(next);
                        self.i += 2;
                    }
                },
                b'$' => self.dollar(&mut out, &mut unknown, false)?,
                b'~' if tilde_here => {
                    unknown.get_or_insert_with(|| {
                        "an unquoted `~`, which the shell expands to a home directory".into()
                    });
                    out.push(b);
                    self.i += 1;
                }
                _ => {
                    after_colon = b == b':';
                    out.push(b);
                    self.i += 1;
                }
            }
            tilde_here = after_colon;
        }
        Ok(match unknown {
            Some(why) => Value::Unknown(why),
            None => Value::Bytes(out),
        })
    }

    /// The inside of a double-quoted string, the opening quote read.
    fn double_quoted(
        &mut self,
        out: &mut Vec<u8>,
        unknown: &mut Option<String>,
    ) -> Result<(), String> {
        loop {
            match self.peek() {
                None => return Err(unclosed()),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => match self.s.get(self.i + 1) {
                    None => return Err(unclosed()),
                    // Inside double quotes a backslash escapes only these.
                    Some(&n) if matches!(n, b'"' | b'\\' | b'$' | b'`') => {
                        out.push(n);
                        self.i += 2;
                    }
                    Some(_) => {
                        out.push(b'\\');
                        self.i += 1;
                    }
                },
                Some(b'$') => self.dollar(out, unknown, true)?,
                Some(b'`') => return Err(command_substitution()),
                Some(b) => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }

    /// An expansion at the cursor (on its `$`).
    fn dollar(
        &mut self,
        out: &mut Vec<u8>,
        unknown: &mut Option<String>,
        quoted: bool,
    ) -> Result<(), String> {
        self.i += 1;
        let Some(next) = self.peek() else {
            // A lone `$` is a `$` to the shell too.
            out.push(b'$');
            return Ok(());
        };
        match next {
            b'(' => Err(command_substitution()),
            b'\'' | b'"' if !quoted => Err(format!(
                "`${}…{}`: bash's quoting of its own (C escapes or translated text), which the \
                 importer does not evaluate",
                next as char, next as char
            )),
            b'{' => {
                let start = self.i + 1;
                let mut end = start;
                while self.s.get(end).copied().is_some_and(is_name_byte) {
                    end += 1;
                }
                let name = &self.s[start..end];
                if name.first().copied().is_some_and(is_name_start)
                    && self.s.get(end) == Some(&b'}')
                {
                    self.i = end + 1;
                    self.expand(&String::from_utf8_lossy(name), out, unknown);
                    Ok(())
                } else {
                    Err(
                        "`${…}` with an operator (a default value, a length, a pattern) or a \
                         special parameter: an expansion the importer does not evaluate"
                            .into(),
                    )
                }
            }
            b if is_name_start(b) => {
                let start = self.i;
                while self.peek().is_some_and(is_name_byte) {
                    self.i += 1;
                }
                let name = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.expand(&name, out, unknown);
                Ok(())
            }
            b if b.is_ascii_digit() || b"$!#?*@-".contains(&b) => {
                self.i += 1;
                unknown.get_or_insert_with(|| {
                    format!(
                        "`${}`, a shell parameter only the shell that ran knows (`$$` is its \
                         process id)",
                        b as char
                    )
                });
                Ok(())
            }
            _ => {
                out.push(b'$');
                Ok(())
            }
        }
    }

    fn expand(&mut self, name: &str, out: &mut Vec<u8>, unknown: &mut Option<String>) {
        match self.env.get(name).map(|v| &v.value) {
            Some(Value::Bytes(value)) => out.extend_from_slice(value),
            Some(Value::Unknown(why)) => {
                let why = format!("it expands ${name}, which holds {why}");
                unknown.get_or_insert(why);
            }
            None => self.notes.push(format!(
                "{}: ${name} is not set in these files: expanded to nothing, as the shell does",
                self.origin
            )),
        }
    }
}

/// Why a line with the operator `b` (followed by `next`) is refused.
fn operator(b: u8, next: Option<u8>) -> String {
    match b {
        b'&' | b'|' => {
            let op = if next == Some(b) {
                format!("{}{}", b as char, b as char)
            } else {
                (b as char).to_string()
            };
            format!(
                "`{op}`: a command list or pipeline, which the importer does not evaluate: \
                 whether what follows runs, and what it sets, only running it tells"
            )
        }
        b';' => "`;` where a statement should start: a syntax error, or a `case` branch, \
                 which the importer does not evaluate"
            .into(),
        b'<' | b'>' => format!(
            "`{}`: a redirection, which makes this line a command the importer does not run",
            b as char
        ),
        _ => format!(
            "`{}`: a subshell, a function or a syntax error, which the importer does not evaluate",
            b as char
        ),
    }
}

fn command_substitution() -> String {
    "a command substitution (`$(…)` or backquotes), which the importer does not run".into()
}

fn unclosed() -> String {
    "a quote that this line does not close (a value over several lines)".into()
}

fn continued() -> String {
    "a line continued with `\\`".into()
}

#[cfg(test)]
mod tests;
