//! Receiving adverts without XDP, for when another program (typically the
//! xcarp of another VHID on the same interface, as with one process per
//! VIP) already holds the interface's XDP slot.
//!
//! A packet socket with a classic BPF filter: the kernel wakes us only for
//! unfragmented IPv4 protocol-112 frames carrying our VHID, which the other
//! xcarp's XDP program passes on because that VHID is not configured there.
//! The full checks (TTL, group, checksums, HMAC) then run on the whole frame
//! in userspace.
use std::io::{self, Read as _};

use socket2::{Domain, Protocol, SockFilter, Socket, Type};
use tokio::io::{Interest, unix::AsyncFd};

use super::net::{NetError, bind_packet_socket, io_err};

/// Frames longer than this are not CARP adverts we could accept anyway.
const MAX_FRAME: usize = 1518;

const ETH_P_IP: u16 = 0x0800;

/// One classic BPF instruction: (code, jump if true, jump if false, k).
pub type Insn = (u16, u8, u8, u32);

// Opcodes from linux/filter.h (BPF_LD|BPF_W|BPF_ABS and so on).
const LDW_ABS: u16 = 0x20;
const LDH_ABS: u16 = 0x28;
const LDB_ABS: u16 = 0x30;
const LDXB_MSH: u16 = 0xb1;
const LDB_IND: u16 = 0x50;
const AND_K: u16 = 0x54;
const JEQ_K: u16 = 0x15;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;
/// SKF_AD_OFF + SKF_AD_PKTTYPE: the packet type, as an ancillary load.
const AD_PKTTYPE: u32 = 0xffff_f000 + 4;
/// SKF_AD_OFF + SKF_AD_VLAN_TAG: the 802.1Q TCI the kernel took off the
/// frame (0 when it had no tag). Packet sockets never see the tag in the
/// data: the kernel strips it before delivering the frame.
const AD_VLAN_TAG: u32 = 0xffff_f000 + 44;
const PACKET_OUTGOING: u32 = 4;

/// Classic BPF, offsets on the Ethernet frame: not our own outgoing frame,
/// VLAN id `vlan` (0: untagged or priority-tagged), IPv4, protocol 112,
/// not a fragment, CARP VHID (at 14 + IHL·4 + 1) equal to `vhid`. The XDP
/// program keys frames the same way (docs/xdp.md). Jump offsets count from
/// the next instruction. Instructions are `(code, jt, jf, k)`, as in
/// `struct sock_filter`.
#[must_use]
pub fn filter(vhid: u8, vlan: u16) -> [Insn; 16] {
    [
        (LDW_ABS, 0, 0, AD_PKTTYPE),                         // 0
        (JEQ_K, 13, 0, PACKET_OUTGOING),                     // 1: ours → 15
        (LDW_ABS, 0, 0, AD_VLAN_TAG),                        // 2: TCI
        (AND_K, 0, 0, u32::from(carp_common::VLAN_ID_MASK)), // 3: VLAN id
        (JEQ_K, 0, 10, u32::from(vlan)),                     // 4: other VLAN → 15
        (LDH_ABS, 0, 0, 12),                                 // 5: ethertype
        (JEQ_K, 0, 8, u32::from(ETH_P_IP)),                  // 6: not IPv4 → 15
        (LDB_ABS, 0, 0, 23),                                 // 7: IP protocol
        (JEQ_K, 0, 6, 112),                                  // 8: not CARP → 15
        (LDH_ABS, 0, 0, 20),                                 // 9: flags + fragment offset
        (JSET_K, 4, 0, 0x3fff),                              // 10: MF or offset → 15
        (LDXB_MSH, 0, 0, 14),                                // 11: X = IHL·4
        (LDB_IND, 0, 0, 15),                                 // 12: CARP byte 1 (VHID)
        (JEQ_K, 0, 1, u32::from(vhid)),                      // 13: other VHID → 15
        (RET_K, 0, 0, MAX_FRAME as u32),                     // 14: accept
        (RET_K, 0, 0, 0),                                    // 15: reject
    ]
}

/// What the kernel does with `program` for a frame whose data (as a packet
/// socket sees it, without any 802.1Q tag) is `frame`, with packet type
/// `pkttype` and stripped TCI `vlan_tci`: the number of bytes accepted, 0
/// when dropped. Covers the instructions [`filter`] uses; loads past the
/// end of the frame drop it, as in the kernel. Lets tests and the fuzzer
/// compare this path with the XDP program and the userspace checks.
#[must_use]
pub fn run_filter(program: &[Insn], frame: &[u8], pkttype: u32, vlan_tci: u16) -> u32 {
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    let byte = |off: u32| frame.get(off as usize).map(|b| u32::from(*b));
    while let Some(&(code, jt, jf, k)) = program.get(pc) {
        pc += 1;
        match code {
            LDW_ABS if k == AD_PKTTYPE => a = pkttype,
            LDW_ABS if k == AD_VLAN_TAG => a = u32::from(vlan_tci),
            LDH_ABS => match (byte(k), byte(k + 1)) {
                (Some(hi), Some(lo)) => a = (hi << 8) | lo,
                _ => return 0,
            },
            LDB_ABS => match byte(k) {
                Some(b) => a = b,
                None => return 0,
            },
            LDB_IND => match byte(x + k) {
                Some(b) => a = b,
                None => return 0,
            },
            LDXB_MSH => match byte(k) {
                Some(b) => x = (b & 0xf) * 4,
                None => return 0,
            },
            AND_K => a &= k,
            JEQ_K => pc += usize::from(if a == k { jt } else { jf }),
            JSET_K => pc += usize::from(if a & k != 0 { jt } else { jf }),
            RET_K => return k,
            _ => return 0,
        }
    }
    0
}

/// A packet socket that delivers only our VHID's CARP frames.
pub struct SocketReceiver {
    socket: AsyncFd<Socket>,
    buf: Vec<u8>,
}

impl SocketReceiver {
    /// Receives `vhid`'s frames of VLAN `vlan` (0: untagged) on `ifindex`.
    pub fn open(ifindex: u32, vhid: u8, vlan: u16) -> Result<Self, NetError> {
        // Protocol 0: the socket receives nothing until bind(2) names the
        // ethertype and the interface, by which time the filter is in place,
        // so no unfiltered frame (from any interface) is ever queued.
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0))).map_err(
            io_err("opening a packet socket for adverts (needs CAP_NET_RAW)"),
        )?;
        socket
            .attach_filter(
                &filter(vhid, vlan).map(|(code, jt, jf, k)| SockFilter::new(code, jt, jf, k)),
            )
            .map_err(io_err("attaching the CARP socket filter"))?;
        bind_packet_socket(&socket, ifindex, ETH_P_IP)?;
        socket
            .set_nonblocking(true)
            .map_err(io_err("setting the advert socket non-blocking"))?;
        // SAFETY: (I/O safety contract of `register_with_interest`) the
        // AsyncFd owns the socket and with it the fd, which nothing else
        // closes or replaces while it is registered.
        #[allow(unsafe_code)]
        let socket = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(|e| io_err("registering the advert socket")(e.into()))?;
        Ok(Self {
            socket,
            buf: vec![0; MAX_FRAME],
        })
    }

    /// The next frame that passed the filter (Ethernet header first).
    pub async fn next(&mut self) -> io::Result<&[u8]> {
        loop {
            let mut guard = self.socket.readable().await?;
            match guard.try_io(|s| (&mut s.get_ref()).read(&mut self.buf)) {
                Ok(Ok(len)) => return Ok(&self.buf[..len]),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 + CARP frame with `ihl` words of IP header.
    fn frame(vhid: u8, ihl: u8, flags_frag: u16, protocol: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&ETH_P_IP.to_be_bytes());
        let mut ip = vec![0u8; usize::from(ihl) * 4];
        ip[0] = 0x40 | ihl;
        ip[6..8].copy_from_slice(&flags_frag.to_be_bytes());
        ip[8] = 255;
        ip[9] = protocol;
        f.extend_from_slice(&ip);
        let mut carp = [0u8; 36];
        carp[0] = 0x21;
        carp[1] = vhid;
        f.extend_from_slice(&carp);
        f
    }

    const HOST: u32 = 0;
    const OUTGOING: u32 = 4;

    fn run(program: &[Insn], frame: &[u8], pkttype: u32) -> u32 {
        run_filter(program, frame, pkttype, 0)
    }

    #[test]
    fn accepts_only_our_vhids_unfragmented_incoming_carp_frames() {
        let program = filter(42, 0);
        assert_ne!(
            run(&program, &frame(42, 5, 0x4000, 112), HOST),
            0,
            "our advert"
        );
        assert_ne!(
            run(&program, &frame(42, 6, 0x4000, 112), HOST),
            0,
            "IHL 6 with options"
        );
        assert_eq!(
            run(&program, &frame(43, 5, 0x4000, 112), HOST),
            0,
            "other vhid"
        );
        assert_eq!(
            run(&program, &frame(43, 6, 0, 112), HOST),
            0,
            "other vhid behind options"
        );
        assert_eq!(
            run(&program, &frame(42, 5, 0x2000, 112), HOST),
            0,
            "more fragments"
        );
        assert_eq!(
            run(&program, &frame(42, 5, 0x0010, 112), HOST),
            0,
            "fragment offset"
        );
        assert_eq!(run(&program, &frame(42, 5, 0, 17), HOST), 0, "UDP");
        assert_eq!(
            run(&program, &frame(42, 5, 0, 112), OUTGOING),
            0,
            "our own frame"
        );
        let mut arp = frame(42, 5, 0, 112);
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(run(&program, &arp, HOST), 0, "ARP");
        assert_eq!(
            run(&program, &frame(42, 5, 0, 112)[..20], HOST),
            0,
            "cut short"
        );
    }

    /// The kernel hands a packet socket tagged frames with the tag taken
    /// off: without this check an instance on `eth0` would take the adverts
    /// of a same-VHID cluster on `eth0.N` (when no VLAN device claims them).
    #[test]
    fn accepts_only_the_instances_vlan() {
        let advert = frame(42, 5, 0x4000, 112);
        let untagged = filter(42, 0);
        assert_ne!(run_filter(&untagged, &advert, HOST, 0), 0, "untagged");
        assert_ne!(
            run_filter(&untagged, &advert, HOST, 0xe000),
            0,
            "priority tag"
        );
        assert_eq!(run_filter(&untagged, &advert, HOST, 0x0007), 0, "VLAN 7");
        assert_eq!(
            run_filter(&untagged, &advert, HOST, 0xe007),
            0,
            "VLAN 7 with priority"
        );
        let on_vlan_7 = filter(42, 7);
        assert_ne!(run_filter(&on_vlan_7, &advert, HOST, 0x2007), 0, "VLAN 7");
        assert_eq!(run_filter(&on_vlan_7, &advert, HOST, 0), 0, "untagged");
    }

    #[test]
    fn jumps_stay_inside_the_program() {
        let program = filter(42, 0);
        for (pc, &(code, jt, jf, _)) in program.iter().enumerate() {
            if code == JEQ_K || code == JSET_K {
                for offset in [jt, jf] {
                    assert!(pc + 1 + usize::from(offset) < program.len(), "insn {pc}");
                }
            }
        }
        assert_eq!(program[program.len() - 1], (RET_K, 0, 0, 0));
    }
}
