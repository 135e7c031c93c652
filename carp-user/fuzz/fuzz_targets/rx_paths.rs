//! Differential target: the XDP program (BPF_PROG_TEST_RUN, then the
//! daemon's check of its record), the socket-filter path and the userspace
//! parser must give every input frame the same verdict (docs/xdp.md, "One
//! set of rules"). Needs root and the real XDP object, whose path
//! `XCARP_FUZZ_XDP_OBJECT` gives (`cargo xtask fuzz` sets it).
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use xcarp::xdp::XdpAttachment;

#[path = "../../tests/xdp_common/rx_paths.rs"]
#[allow(dead_code)]
mod rx_paths;

use rx_paths::RxPaths;

fn paths() -> &'static Mutex<RxPaths> {
    static PATHS: OnceLock<Mutex<RxPaths>> = OnceLock::new();
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    PATHS.get_or_init(|| {
        let object_path = std::env::var_os("XCARP_FUZZ_XDP_OBJECT")
            .expect("XCARP_FUZZ_XDP_OBJECT must name the XDP object (cargo xtask fuzz sets it)");
        let object = std::fs::read(&object_path).expect("read the XDP object");
        // Frames of a test run arrive on the loopback device.
        let lo = nix::net::if_::if_nametoindex("lo").expect("lo exists");
        let mut xdp = XdpAttachment::load_object_unattached(&object, lo)
            .expect("load the XDP program (this target needs root)");
        let runtime = RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
        });
        let _guard = runtime.enter();
        let reader = xdp.advert_reader().expect("take the ring buffer");
        Mutex::new(RxPaths::new(xdp, reader, false, true))
    })
}

fuzz_target!(|frame: &[u8]| {
    let mut paths = paths().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let verdicts = paths.verdicts(frame);
    assert!(verdicts.agree(), "{verdicts:?} for {frame:02x?}");
});
