//! Whole Ethernet frames exactly as ucarp writes them (docs/protocol.md §1, §4.8).

use std::net::Ipv4Addr;

use super::{CARP_LEN, CarpHeader, DIGEST_LEN, checksum::internet_checksum, ipv4::IPV4_MIN_LEN};

pub const ETHERNET_LEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// IPv4 header + CARP header.
pub const ADVERT_IP_LEN: usize = IPV4_MIN_LEN + CARP_LEN;
/// The IP total length field of an advert.
const ADVERT_IP_LEN_U16: u16 = 56;
const _: () = assert!(ADVERT_IP_LEN_U16 as usize == ADVERT_IP_LEN);
/// Ethernet + IPv4 + CARP: 70 bytes.
pub const ADVERT_FRAME_LEN: usize = ETHERNET_LEN + ADVERT_IP_LEN;
/// ARP payload for Ethernet/IPv4.
pub const ARP_LEN: usize = 28;
/// Ethernet + ARP, unpadded as ucarp sends it: 42 bytes.
pub const GARP_FRAME_LEN: usize = ETHERNET_LEN + ARP_LEN;

pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];
/// IPTOS_LOWDELAY.
const ADVERT_TOS: u8 = 0x10;
/// Don't Fragment, offset 0.
const ADVERT_FLAGS_DF: u16 = 0x4000;

/// Everything that varies between two adverts of one ucarp instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvertFrameParams {
    /// `--srcip`.
    pub src_ip: Ipv4Addr,
    /// `--mcast` (224.0.0.18 by default); the IP destination even with
    /// `broadcast`.
    pub group: Ipv4Addr,
    /// `--nomcast`: Ethernet broadcast instead of the group's multicast MAC.
    pub broadcast: bool,
    pub vhid: u8,
    pub advbase: u8,
    pub advskew: u8,
    /// The demote byte: 0 from ucarp and healthy xcarp nodes, our
    /// demotion level otherwise (docs/protocol.md, "Demotion").
    pub demote: u8,
    pub counter: u64,
    /// IP identification; ucarp draws it at random per packet.
    pub ip_id: u16,
    /// HMAC over vhid, address and counter (see [`crate::auth::CarpAuth`]).
    pub digest: [u8; DIGEST_LEN],
}

/// The Ethernet address of an IPv4 multicast group (RFC 1112 §6.4):
/// 01:00:5e followed by the group's low 23 bits.
#[must_use]
pub fn multicast_mac(group: Ipv4Addr) -> [u8; 6] {
    let [_, b, c, d] = group.octets();
    [0x01, 0x00, 0x5e, b & 0x7f, c, d]
}

/// ucarp's hard-coded advert source MAC `00:00:5e:00:00:<vhid>` (not the
/// NIC's, not BSD's `00:00:5e:00:01:<vhid>`).
#[must_use]
pub fn advert_src_mac(vhid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x00, vhid]
}

/// A complete 70-byte advert frame, byte-identical to ucarp's for the same
/// counter and IP id: TOS 0x10, DF, TTL 255, protocol 112, both checksums.
#[must_use]
pub fn build_advert_frame(p: &AdvertFrameParams) -> [u8; ADVERT_FRAME_LEN] {
    let mut frame = [0u8; ADVERT_FRAME_LEN];
    let dst_mac = if p.broadcast {
        BROADCAST_MAC
    } else {
        multicast_mac(p.group)
    };
    frame[0..6].copy_from_slice(&dst_mac);
    frame[6..12].copy_from_slice(&advert_src_mac(p.vhid));
    frame[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());

    let ip = &mut frame[ETHERNET_LEN..ETHERNET_LEN + IPV4_MIN_LEN];
    ip[0] = 0x45;
    ip[1] = ADVERT_TOS;
    ip[2..4].copy_from_slice(&ADVERT_IP_LEN_U16.to_be_bytes());
    ip[4..6].copy_from_slice(&p.ip_id.to_be_bytes());
    ip[6..8].copy_from_slice(&ADVERT_FLAGS_DF.to_be_bytes());
    ip[8] = carp_common::CARP_TTL;
    ip[9] = carp_common::IPPROTO_CARP;
    ip[12..16].copy_from_slice(&p.src_ip.octets());
    ip[16..20].copy_from_slice(&p.group.octets());
    // ucarp sums header + CARP, whose own sum is already 0xffff, which gives
    // the plain header checksum.
    let sum = internet_checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());

    let carp = CarpHeader {
        demote: p.demote,
        ..CarpHeader::advert(p.vhid, p.advbase, p.advskew, p.counter, p.digest)
    };
    frame[ETHERNET_LEN + IPV4_MIN_LEN..].copy_from_slice(&carp.encode());
    frame
}

/// ucarp's gratuitous ARP (docs/protocol.md §4.8): broadcast, op 1 (request), sender
/// and target MAC both the NIC's, sender and target IP both the VIP,
/// 42 bytes without padding.
#[must_use]
pub fn build_garp_frame(nic_mac: [u8; 6], vip: Ipv4Addr) -> [u8; GARP_FRAME_LEN] {
    let mut frame = [0u8; GARP_FRAME_LEN];
    frame[0..6].copy_from_slice(&BROADCAST_MAC);
    frame[6..12].copy_from_slice(&nic_mac);
    frame[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    let arp = &mut frame[ETHERNET_LEN..];
    arp[0..2].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    arp[2..4].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes()); // protocol: IPv4
    arp[4] = 6; // hardware address length
    arp[5] = 4; // protocol address length
    arp[6..8].copy_from_slice(&1u16.to_be_bytes()); // op: request
    arp[8..14].copy_from_slice(&nic_mac);
    arp[14..18].copy_from_slice(&vip.octets());
    arp[18..24].copy_from_slice(&nic_mac);
    arp[24..28].copy_from_slice(&vip.octets());
    frame
}
