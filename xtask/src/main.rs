//! `cargo xtask <command>`: the project's automation.
//!
//! Every install step a fresh machine needs lives here (see [`bootstrap`]),
//! so that the README's two commands work on a machine that has never seen
//! the project.
mod bench;
mod bootstrap;
mod build;
mod demo;
mod fuzz;
mod package;
mod step;
mod test;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "xcarp project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install everything the build and the tests need: rust-src for the
    /// nightly, bpf-linker and cargo-fuzz (into .tools/), and the Debian
    /// packages the tests drive. Idempotent.
    Setup,
    /// Install rust-src and bpf-linker if missing, then build the XDP object
    /// and the xcarp binary (release).
    BuildEbpf,
    /// Build xcarp (release) with its XDP object and run it with the given
    /// arguments (as root).
    Run {
        /// Arguments for xcarp.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// A throwaway lab in network namespaces: two xcarp nodes elect a master,
    /// the master is killed, and a client pinging the VIP every 200 ms shows
    /// the takeover. Removes everything on exit or Ctrl-C. Needs root.
    Demo {
        /// Run the lab with the real ucarp instead, for comparison.
        #[arg(long, value_enum, default_value = "xcarp")]
        with: demo::DemoImpl,
        /// Use this xcarp binary instead of building one.
        #[arg(long, value_name = "path")]
        xcarp: Option<std::path::PathBuf>,
    },
    /// Run every test: unit, kernel (BPF_PROG_TEST_RUN) and namespace tests.
    /// Installs what the tests need first. Needs root.
    Test {
        /// Extra arguments passed to the test binaries (e.g. a name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the Debian package (target/debian/xcarp_<version>_<arch>.deb):
    /// xcarp (release) in /usr/sbin, its man page and bash/zsh/fish
    /// completions generated from its command line, the systemd unit
    /// xcarp@.service, and the README's example scripts.
    Package,
    /// Build the fuzz targets of carp-user/fuzz and fuzz each briefly
    /// (90 s in all); a crash fails with the input that reproduces it. Also
    /// a step of `test`. Needs root (one target runs the XDP program).
    Fuzz,
    /// Measure xcarp beside ucarp on the same virtual LAN: daemon CPU under
    /// floods, false failovers, failover time, client outage, planned stops
    /// (SIGTERM with -z), memory, and the XDP micro-benchmark. Writes target/bench/<date>/ (Markdown, JSON,
    /// PNG charts) and prints the ratio table. Needs root.
    Bench {
        /// Fewer rates, shorter windows, 5 failovers, 3 planned stops per
        /// pairing.
        #[arg(long)]
        quick: bool,
    },
}

impl Command {
    /// The command's name on the command line, and of its log.
    fn name(&self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::BuildEbpf => "build-ebpf",
            Self::Run { .. } => "run",
            Self::Demo { .. } => "demo",
            Self::Test { .. } => "test",
            Self::Fuzz => "fuzz",
            Self::Bench { .. } => "bench",
            Self::Package => "package",
        }
    }
}

fn main() -> anyhow::Result<()> {
    let command = Cli::parse().command;
    step::start(command.name())?;
    match command {
        Command::Setup => {
            bootstrap::ebpf_toolchain()?;
            bootstrap::cargo_fuzz()?;
            bootstrap::test_packages()
        }
        Command::BuildEbpf => {
            let built = build::build_release()?;
            println!("xcarp:       {}", built.binary.display());
            println!(
                "XDP object:  {} ({} bytes)",
                built.object.display(),
                std::fs::metadata(&built.object)?.len()
            );
            Ok(())
        }
        Command::Run { args } => {
            let built = build::build_release()?;
            build::exec(&built.binary, &args)
        }
        Command::Test { args } => test::run(&args),
        Command::Fuzz => fuzz::short_pass(),
        Command::Bench { quick } => bench::run(quick),
        Command::Package => package::run(),
        Command::Demo { with, xcarp } => demo::run(with, xcarp),
    }
}
