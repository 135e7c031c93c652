//! The three receive paths of the daemon, run on the same frame: the XDP
//! program (BPF_PROG_TEST_RUN, then the daemon's check of the ring record),
//! the socket-filter fallback (the kernel's view of the frame, the classic
//! BPF filter, then the daemon's check of the whole frame), and the
//! userspace parser alone. docs/xdp.md ("One set of rules") says why they
//! must agree.

use std::net::Ipv4Addr;

use xcarp::{
    auth::CarpAuth,
    daemon::socket_rx::{self, Insn},
    wire::{AdvertFrameParams, RxFilter, build_advert_frame},
    xdp::{AdvertReader, VhidSettings, XdpAttachment},
};

pub const VHID: u8 = 42;
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
// The instance of the ucarp captures in carp-user/tests/data (VHID 42,
// password "love", VIP 10.99.0.252, sent from 10.99.0.1), so that their
// frames are authentic adverts here (the fuzzer starts from them).
pub const OWN: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
pub const PEER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 252);
pub const PASSWORD: &[u8] = b"love";
/// PACKET_HOST: a frame addressed to this host (or multicast/broadcast
/// the filter treats alike).
const PACKET_HOST: u32 = 0;
const ETH_HLEN: usize = 14;

/// Whether each path hands the frame to the engine as an authentic advert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdicts {
    pub xdp: bool,
    pub socket: bool,
    pub userspace: bool,
}

impl Verdicts {
    #[must_use]
    pub fn agree(&self) -> bool {
        self.xdp == self.socket && self.socket == self.userspace
    }
}

/// One instance (VHID 42 on untagged frames, own address 10.99.0.2),
/// configured identically on every path.
pub struct RxPaths {
    xdp: XdpAttachment,
    reader: AdvertReader,
    filter: RxFilter,
    auth: CarpAuth,
    socket_filter: [Insn; 16],
}

impl RxPaths {
    /// `xdp` is a loaded program and `reader` its ring; `broadcast` is
    /// ucarp's `--nomcast`; with `kernel_hmac` the program checks digests
    /// itself, as the daemon configures it.
    pub fn new(
        mut xdp: XdpAttachment,
        reader: AdvertReader,
        broadcast: bool,
        kernel_hmac: bool,
    ) -> Self {
        let auth = CarpAuth::new(PASSWORD, VHID, &[VIP]).expect("a valid password");
        xdp.configure_vhid(VhidSettings {
            vhid: VHID,
            vlan: 0,
            group: GROUP,
            broadcast,
            own_addrs: &[OWN],
            hmac: auth.kernel_hmac().filter(|_| kernel_hmac),
            ring_budget: 0,
            reject_replays: false,
        })
        .expect("configure the VHID");
        Self {
            xdp,
            reader,
            filter: RxFilter {
                own_src: OWN,
                vhid: VHID,
                group: GROUP,
                broadcast,
                vlan: 0,
            },
            auth,
            socket_filter: socket_rx::filter(VHID, 0),
        }
    }

    /// An authentic advert from the peer, as ucarp sends it.
    #[must_use]
    pub fn valid_frame(&self, counter: u64) -> Vec<u8> {
        build_advert_frame(&AdvertFrameParams {
            src_ip: PEER,
            group: GROUP,
            broadcast: self.filter.broadcast,
            vhid: VHID,
            advbase: 1,
            advskew: 0,
            demote: 0,
            counter,
            ip_id: 0x1234,
            digest: self.auth.digest(counter),
        })
        .to_vec()
    }

    pub fn verdicts(&mut self, frame: &[u8]) -> Verdicts {
        Verdicts {
            xdp: self.xdp_path(frame),
            socket: self.socket_path(frame),
            userspace: self.filter.accept_frame(frame, &self.auth).is_ok(),
        }
    }

    fn xdp_path(&mut self, frame: &[u8]) -> bool {
        // No interface delivers a frame shorter than its Ethernet header
        // (and BPF_PROG_TEST_RUN refuses one).
        if frame.len() < ETH_HLEN {
            return false;
        }
        self.xdp.test_run(frame, 1).expect("BPF_PROG_TEST_RUN");
        let Some(record) = self.reader.try_next().expect("read the ring") else {
            return false;
        };
        assert!(
            self.reader.try_next().expect("read the ring").is_none(),
            "one frame, one record"
        );
        // What the daemon does with a record (`Daemon::on_record`).
        record.vlan_id == self.filter.vlan
            && self
                .filter
                .accept_header(
                    Ipv4Addr::from(record.src_ip),
                    Ipv4Addr::from(record.dst_ip),
                    &record.carp,
                    &self.auth,
                )
                .is_ok()
    }

    fn socket_path(&self, frame: &[u8]) -> bool {
        if frame.len() < ETH_HLEN {
            return false;
        }
        let (data, tci) = as_packet_socket_sees(frame);
        socket_rx::run_filter(&self.socket_filter, &data, PACKET_HOST, tci) != 0
            && self.filter.accept_frame(&data, &self.auth).is_ok()
    }
}

/// A packet socket gets the frame with its 802.1Q tag taken off (into the
/// packet's metadata, read by the filter as the VLAN TCI).
fn as_packet_socket_sees(frame: &[u8]) -> (Vec<u8>, u16) {
    if frame.len() >= 18 && frame[12..14] == [0x81, 0x00] {
        let tci = u16::from_be_bytes([frame[14], frame[15]]);
        let mut data = frame[..12].to_vec();
        data.extend_from_slice(&frame[16..]);
        (data, tci)
    } else {
        (frame.to_vec(), 0)
    }
}
