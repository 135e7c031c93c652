use which::which;

/// Building this crate has an undeclared dependency on the `bpf-linker` binary:
/// rebuild when it changes (for instance after `cargo xtask build-ebpf`
/// installs it).
fn main() {
    if let Ok(bpf_linker) = which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", bpf_linker.display());
    }
}
