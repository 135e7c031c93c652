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

use super::net::{NetError, bind_packet_socket};

/// Frames longer than this are not CARP adverts we could accept anyway.
const MAX_FRAME: usize = 1518;

const ETH_P_IP: u16 = 0x0800;

/// Classic BPF, offsets on the Ethernet frame: not our own outgoing frame,
/// IPv4, protocol 112, not a fragment, CARP VHID (at 14 + IHL·4 + 1) equal
/// to `vhid`. Jump offsets count from the next instruction.
fn filter(vhid: u8) -> [SockFilter; 13] {
    // Opcodes from linux/filter.h (BPF_LD|BPF_W|BPF_ABS and so on).
    const LDW_ABS: u16 = 0x20;
    const LDH_ABS: u16 = 0x28;
    const LDB_ABS: u16 = 0x30;
    const LDXB_MSH: u16 = 0xb1;
    const LDB_IND: u16 = 0x50;
    const JEQ_K: u16 = 0x15;
    const JSET_K: u16 = 0x45;
    const RET_K: u16 = 0x06;
    /// SKF_AD_OFF + SKF_AD_PKTTYPE: the packet type, as an ancillary load.
    const PKTTYPE: u32 = 0xffff_f000 + 4;
    const PACKET_OUTGOING: u32 = 4;
    [
        SockFilter::new(LDW_ABS, 0, 0, PKTTYPE),           // 0
        SockFilter::new(JEQ_K, 10, 0, PACKET_OUTGOING),    // 1: ours → 12
        SockFilter::new(LDH_ABS, 0, 0, 12),                // 2: ethertype
        SockFilter::new(JEQ_K, 0, 8, u32::from(ETH_P_IP)), // 3: not IPv4 → 12
        SockFilter::new(LDB_ABS, 0, 0, 23),                // 4: IP protocol
        SockFilter::new(JEQ_K, 0, 6, 112),                 // 5: not CARP → 12
        SockFilter::new(LDH_ABS, 0, 0, 20),                // 6: flags + fragment offset
        SockFilter::new(JSET_K, 4, 0, 0x3fff),             // 7: MF or offset → 12
        SockFilter::new(LDXB_MSH, 0, 0, 14),               // 8: X = IHL·4
        SockFilter::new(LDB_IND, 0, 0, 15),                // 9: CARP byte 1 (VHID)
        SockFilter::new(JEQ_K, 0, 1, u32::from(vhid)),     // 10: other VHID → 12
        SockFilter::new(RET_K, 0, 0, MAX_FRAME as u32),    // 11: accept
        SockFilter::new(RET_K, 0, 0, 0),                   // 12: reject
    ]
}

/// A packet socket that delivers only our VHID's CARP frames.
pub struct SocketReceiver {
    socket: AsyncFd<Socket>,
    buf: Vec<u8>,
}

impl SocketReceiver {
    pub fn open(ifindex: u32, vhid: u8) -> Result<Self, NetError> {
        let io_err = |action: &str| {
            let action = action.to_owned();
            move |source| NetError::Io { action, source }
        };
        let socket = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(ETH_P_IP.to_be()))),
        )
        .map_err(io_err(
            "opening a packet socket for adverts (needs CAP_NET_RAW)",
        ))?;
        // The filter goes on before bind so no unfiltered frame is queued.
        socket
            .attach_filter(&filter(vhid))
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
            .map_err(|e| NetError::Io {
                action: "registering the advert socket".to_owned(),
                source: e.into(),
            })?;
        Ok(Self {
            socket,
            buf: vec![0; MAX_FRAME],
        })
    }

    /// The next frame that passed the filter (Ethernet header first).
    pub async fn next(&mut self) -> io::Result<&[u8]> {
        loop {
            let mut guard = self.socket.readable().await?;
            match guard.try_io(|s| (&mut &*s.get_ref()).read(&mut self.buf)) {
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

    #[test]
    fn the_filter_jumps_stay_inside_the_program() {
        let program = filter(42);
        for (i, insn) in program.iter().enumerate() {
            // SockFilter hides its fields; its Debug output shows them.
            let text = format!("{insn:?}");
            let field = |name: &str| -> usize {
                let start = text.find(&format!("{name}: ")).unwrap() + name.len() + 2;
                text[start..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap()
            };
            assert!(
                i + 1 + field("jt") < program.len(),
                "insn {i} jt out of range"
            );
            assert!(
                i + 1 + field("jf") < program.len(),
                "insn {i} jf out of range"
            );
        }
    }
}
