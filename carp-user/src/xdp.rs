//! Loading and attaching the XDP program.
//!
//! The object is built by `build.rs` and embedded here. Attachments are
//! bpf_link based where the kernel allows it, so they vanish with the process
//! even on SIGKILL; dropping [`XdpAttachment`] detaches explicitly.
use aya::{
    Ebpf,
    programs::{ProgramError, Xdp, XdpMode},
};
use carp_common::XDP_PROGRAM_NAME;

/// The eBPF object built from `carp-ebpf`, or an empty stub when it was built
/// without bpf-linker (see build.rs).
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/carp"));

/// How to attach the XDP program (`--xdp-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AttachMode {
    /// Driver (native) mode, falling back to skb (generic) mode.
    #[default]
    Auto,
    /// Native mode only: fail if the driver has no XDP support.
    Driver,
    /// Generic mode: works on every interface, slower.
    Skb,
}

#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    #[error(
        "this xcarp was built without its XDP program (bpf-linker was missing at build time); \
         run `cargo xtask build-ebpf` and rebuild"
    )]
    StubObject,
    #[error("loading the eBPF object failed: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("the eBPF object has no program named {XDP_PROGRAM_NAME}")]
    MissingProgram,
    #[error("the kernel rejected the XDP program: {0}")]
    Verify(ProgramError),
    #[error("attaching XDP to {interface} in {mode} mode failed: {source}{hint}")]
    Attach {
        interface: String,
        mode: &'static str,
        hint: &'static str,
        #[source]
        source: ProgramError,
    },
}

/// Whether this binary carries the real XDP program.
#[must_use]
pub fn object_is_embedded() -> bool {
    !EBPF_OBJECT.is_empty()
}

/// The embedded object's bytes (empty for a stub build).
#[must_use]
pub fn object_bytes() -> &'static [u8] {
    EBPF_OBJECT
}

/// A loaded XDP program attached to one interface. Dropping it detaches the
/// program and unloads it.
pub struct XdpAttachment {
    ebpf: Ebpf,
    interface: String,
    mode: XdpMode,
}

impl XdpAttachment {
    /// Loads the embedded object and attaches it to `interface`.
    pub fn attach(interface: &str, mode: AttachMode) -> Result<Self, XdpError> {
        if !object_is_embedded() {
            return Err(XdpError::StubObject);
        }
        let mut ebpf = Ebpf::load(EBPF_OBJECT)?;
        let program: &mut Xdp = ebpf
            .program_mut(XDP_PROGRAM_NAME)
            .ok_or(XdpError::MissingProgram)?
            .try_into()
            .map_err(XdpError::Verify)?;
        program.load().map_err(XdpError::Verify)?;
        let used = match mode {
            AttachMode::Driver => attach_in(program, interface, XdpMode::Driver)?,
            AttachMode::Skb => attach_in(program, interface, XdpMode::Skb)?,
            AttachMode::Auto => match attach_in(program, interface, XdpMode::Driver) {
                Ok(used) => used,
                Err(err) => {
                    tracing::info!("{err}; falling back to skb (generic) mode");
                    attach_in(program, interface, XdpMode::Skb)?
                }
            },
        };
        tracing::debug!(interface, mode = mode_name(used), "XDP program attached");
        Ok(Self {
            ebpf,
            interface: interface.to_owned(),
            mode: used,
        })
    }

    /// The mode the program ended up attached in.
    #[must_use]
    pub fn mode_name(&self) -> &'static str {
        mode_name(self.mode)
    }

    #[must_use]
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The loaded object, for map access.
    pub fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }
}

fn attach_in(program: &mut Xdp, interface: &str, mode: XdpMode) -> Result<XdpMode, XdpError> {
    program
        .attach(interface, mode)
        .map(|_| mode)
        .map_err(|source| XdpError::Attach {
            interface: interface.to_owned(),
            mode: mode_name(mode),
            hint: if mode == XdpMode::Driver {
                " (the driver may lack native XDP: try --xdp-mode skb)"
            } else {
                ""
            },
            source,
        })
}

fn mode_name(mode: XdpMode) -> &'static str {
    match mode {
        XdpMode::Driver => "driver",
        XdpMode::Skb => "skb",
        XdpMode::Hardware => "hardware",
        XdpMode::Default => "default",
    }
}
