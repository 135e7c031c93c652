use anyhow::Context as _;
use clap::Parser;
use xcarp::xdp::{AttachMode, XdpAttachment};

/// Temporary entry point until the full ucarp command line lands.
#[derive(Parser)]
struct Args {
    /// Interface to attach to.
    #[arg(short, long)]
    interface: String,
    /// How to attach the XDP program.
    #[arg(long, value_enum, default_value_t)]
    xdp_mode: AttachMode,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let args = Args::parse();
    let attachment = XdpAttachment::attach(&args.interface, args.xdp_mode)
        .with_context(|| format!("cannot start on {}", args.interface))?;
    tracing::info!(
        "XDP attached to {} in {} mode",
        attachment.interface(),
        attachment.mode_name()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    drop(attachment);
    Ok(())
}
