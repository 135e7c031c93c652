use std::path::Path;

use proptest::prelude::*;

use super::*;

const WATCHED: [&str; 3] = ["OPTIONS", "PASSWORD", "VIP_ADDRESS"];

/// The variables `text` sets, or the refusal.
fn read(text: &[u8]) -> Result<Env, Refusal> {
    let mut env = Env::new();
    let mut notes = Vec::new();
    source(
        text,
        Path::new("/etc/ucarp/vip-001.conf"),
        &mut env,
        &WATCHED,
        &mut notes,
    )?;
    Ok(env)
}

fn bytes(env: &Env, name: &str) -> Vec<u8> {
    match &env[name].value {
        Value::Bytes(b) => b.clone(),
        Value::Unknown(why) => panic!("{name} is unknown: {why}"),
    }
}

/// The value `NAME=<input>` gives.
fn value(input: &str) -> Value {
    let env = read(format!("X={input}\n").as_bytes())
        .unwrap_or_else(|r| panic!("{input}: refused: {}", r.reason));
    env["X"].value.clone()
}

fn refused(text: &str) -> Refusal {
    match read(text.as_bytes()) {
        Ok(env) => panic!("{text:?} was read: {env:?}"),
        Err(r) => r,
    }
}

#[test]
fn values_are_read_as_the_shell_reads_them() {
    for (input, expected) in [
        ("plain", "plain"),
        ("\"double quoted\"", "double quoted"),
        ("'single $HOME'", "single $HOME"),
        ("\"a\\\"b\"", "a\"b"),
        ("\"a\\b\"", "a\\b"),
        ("a\\ b", "a b"),
        ("\"x\"'y'z", "xyz"),
        ("value # comment", "value"),
        ("\"value\"   # comment", "value"),
        ("v#not-a-comment", "v#not-a-comment"),
        ("", ""),
        ("\"\"", ""),
        ("'pa$$w0rd'", "pa$$w0rd"),
        ("cost$", "cost$"),
        ("a~b", "a~b"),
        ("'~'", "~"),
        ("\"--advskew 50 --preempt\"", "--advskew 50 --preempt"),
    ] {
        assert_eq!(
            value(input),
            Value::Bytes(expected.as_bytes().to_vec()),
            "{input}"
        );
    }
}

#[test]
fn bytes_that_are_not_utf8_are_kept_exactly() {
    // Latin-1 "été", quoted and not, and a comment in Latin-1.
    let env = read(b"# r\xe9seau\nPASSWORD=\"\xe9t\xe9\"\nB=\xe9t\xe9\n").unwrap();
    assert_eq!(bytes(&env, "PASSWORD"), b"\xe9t\xe9");
    assert_eq!(bytes(&env, "B"), b"\xe9t\xe9");
    // A carriage return is part of the value to the shell.
    let env = read(b"A=\"x\"\r\n").unwrap();
    assert_eq!(bytes(&env, "A"), b"x\r");
}

#[test]
fn names_expand_from_the_variables_set_so_far() {
    let mut env = Env::new();
    let mut notes = Vec::new();
    source(
        b"NET=10.1.1\nexport A=$NET.5 B=\"${NET}.6\"; C=$A\nD=$UNSET\n",
        Path::new("/f"),
        &mut env,
        &WATCHED,
        &mut notes,
    )
    .unwrap();
    assert_eq!(bytes(&env, "A"), b"10.1.1.5");
    assert_eq!(bytes(&env, "B"), b"10.1.1.6");
    assert_eq!(bytes(&env, "C"), b"10.1.1.5");
    assert_eq!(bytes(&env, "D"), b"");
    assert_eq!(env["C"].origin.line, 2);
    assert!(
        notes[0].starts_with("/f:3: $UNSET is not set in these files"),
        "{notes:?}"
    );
    // `export NAME` alone changes nothing, whatever the name's length.
    let long = format!("export OPTIONS {}\nexport\n", "N".repeat(100));
    assert!(read(long.as_bytes()).unwrap().is_empty());
}

#[test]
fn values_only_the_running_shell_knows_are_unknown() {
    for (input, needle) in [
        ("\"pa$$w0rd\"", "`$$`"),
        ("$1", "`$1`"),
        ("x$?", "`$?`"),
        ("~/up", "`~`"),
        ("/a:~/b", "`~`"),
    ] {
        match value(input) {
            Value::Unknown(why) => assert!(why.contains(needle), "{input}: {why}"),
            other => panic!("{input}: {other:?}"),
        }
    }
    // And what is built from them.
    let env = read(b"A=$$\nB=\"x${A}\"\n").unwrap();
    assert!(
        matches!(&env["B"].value, Value::Unknown(why) if why.contains("expands $A")),
        "{:?}",
        env["B"]
    );
}

#[test]
fn a_construct_refuses_the_file_at_its_line_naming_what_it_sets() {
    let text = "VIP_ADDRESS=10.1.1.5\n\
                if [ \"$(hostname)\" = a ]; then\n\
                \x20   OPTIONS=\"--advskew 10\"\n\
                else\n\
                \x20   OPTIONS=\"--advskew 50 --preempt --shutdown\"\n\
                fi\n";
    let r = refused(text);
    assert_eq!(r.line, 2);
    assert!(
        r.reason.starts_with("`if`: a shell construct"),
        "{}",
        r.reason
    );
    assert!(r.reason.contains("OPTIONS at line 3"), "{}", r.reason);
}

#[test]
fn every_line_that_is_not_plain_assignments_refuses_the_file() {
    for (text, line, needle) in [
        ("case $X in a) OPTIONS=-P;; esac\n", 1, "`case`"),
        ("for i in 1; do\nOPTIONS=-P\ndone\n", 1, "`for`"),
        ("while false; do :; done\n", 1, "`while`"),
        ("until true; do :; done\n", 1, "`until`"),
        ("f() { OPTIONS=-P; }\nf\n", 1, "function definition"),
        ("function f {\n", 1, "`function`"),
        ("{ OPTIONS=-P; }\n", 1, "`{`"),
        ("( OPTIONS=-P )\n", 1, "subshell"),
        ("[ -f /x ] && OPTIONS=-P\n", 1, "a command"),
        ("OPTIONS=-P && true\n", 1, "`&&`"),
        ("OPTIONS=-P || true\n", 1, "`||`"),
        ("OPTIONS=-P | cat\n", 1, "`|`"),
        ("OPTIONS=-P &\n", 1, "`&`"),
        (
            "OPTIONS=$(cat /etc/ucarp/options)\n",
            1,
            "command substitution",
        ),
        ("OPTIONS=\"`cat /x`\"\n", 1, "command substitution"),
        ("OPTIONS=$((1+1))\n", 1, "command substitution"),
        ("OPTIONS=${X:--P}\n", 1, "with an operator"),
        ("OPTIONS=${#X}\n", 1, "with an operator"),
        ("OPTIONS=$'\\x41'\n", 1, "bash's quoting"),
        (
            "OPTIONS=\"-P \\\n -z\"\n",
            1,
            "quote that this line does not close",
        ),
        ("A=1\nOPTIONS=-P \\\n  -z\n", 2, "continued"),
        ("OPTIONS='-P\n-z'\n", 1, "does not close"),
        (". /etc/ucarp/local\n", 1, "sources another file"),
        ("source /etc/ucarp/local\n", 1, "sources another file"),
        ("eval OPTIONS=-P\n", 1, "`eval`: a command"),
        ("read OPTIONS < /x\n", 1, "`read`: a command"),
        ("UPSCRIPT=/etc/ucarp/up   extra\n", 1, "followed by `extra`"),
        ("OPTIONS=-P >/dev/null\n", 1, "redirection"),
        ("export -n OPTIONS\n", 1, "`export -n`"),
        ("A=1;; B=2\n", 1, "`;` where"),
        ("; A=1\n", 1, "`;` where"),
    ] {
        let r = refused(text);
        assert_eq!(r.line, line, "{text:?}: {}", r.reason);
        assert!(r.reason.contains(needle), "{text:?}: {}", r.reason);
    }
}

#[test]
fn comments_blank_lines_and_semicolons_are_fine() {
    let env =
        read(b"# if this were code\n\n   \t\n# OPTIONS=\"$(x)\" && y \\\nA=1; B=2 ;\nC=3 # ; if\n")
            .unwrap();
    assert_eq!(bytes(&env, "A"), b"1");
    assert_eq!(bytes(&env, "B"), b"2");
    assert_eq!(bytes(&env, "C"), b"3");
}

proptest! {
    /// Whatever the bytes, the reader answers (variables or a refusal at a
    /// line of the text) and never panics.
    #[test]
    fn arbitrary_bytes_never_panic(text in prop::collection::vec(
        prop::sample::select(b"AZ_=$${}()'\"\\`;&|<># \t\n\r~:.-09\xe9".to_vec()),
        0..200,
    )) {
        if let Err(r) = read(&text) {
            prop_assert!(r.line >= 1 && r.line <= text.split(|b| *b == b'\n').count());
        }
    }
}
