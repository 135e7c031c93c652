//! The daemon's network plumbing: interface lookup, the packet socket that
//! sends adverts and gratuitous ARP, the multicast membership, and link
//! state from netlink.
use std::{io, net::Ipv4Addr, time::Duration};

use futures::{StreamExt as _, TryStreamExt as _};
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::{RouteNetlinkMessage, link::LinkFlags};
use netlink_sys::{AsyncSocket as _, SocketAddr as NetlinkAddr};
use nix::{
    ifaddrs::getifaddrs,
    net::if_::{InterfaceFlags, if_nametoindex},
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, SockAddrStorage, Socket, Type};
use tokio::sync::mpsc;

/// What the daemon needs to know about its interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    pub mac: [u8; 6],
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(
        "no usable network interface found (none is up besides loopback): give one with --interface"
    )]
    NoInterface,
    #[error("Unable to find interface [{0}]: {1}")]
    UnknownInterface(String, nix::Error),
    #[error("Unable to find MAC address of [{0}]")]
    NoMac(String),
    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: io::Error,
    },
    #[error("netlink: {0}")]
    Netlink(String),
}

pub(super) fn io_err(action: impl Into<String>) -> impl FnOnce(io::Error) -> NetError {
    let action = action.into();
    move |source| NetError::Io { action, source }
}

/// Like ucarp's `pcap_lookupdev()`: the first interface that is up and not
/// loopback.
pub fn default_interface() -> Result<String, NetError> {
    let addrs = getifaddrs().map_err(|e| NetError::Io {
        action: "listing interfaces".into(),
        source: e.into(),
    })?;
    for ifa in addrs {
        if ifa.flags.contains(InterfaceFlags::IFF_UP)
            && !ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK)
        {
            return Ok(ifa.interface_name);
        }
    }
    Err(NetError::NoInterface)
}

/// Index and hardware address of `name`.
pub fn lookup_interface(name: &str) -> Result<Interface, NetError> {
    let index = if_nametoindex(name).map_err(|e| NetError::UnknownInterface(name.to_owned(), e))?;
    let addrs = getifaddrs().map_err(|e| NetError::Io {
        action: "listing interfaces".into(),
        source: e.into(),
    })?;
    let mac = addrs
        .filter(|ifa| ifa.interface_name == name)
        .find_map(|ifa| {
            ifa.address
                .and_then(|a| a.as_link_addr().and_then(|l| l.addr()))
        })
        .ok_or_else(|| NetError::NoMac(name.to_owned()))?;
    Ok(Interface {
        name: name.to_owned(),
        index,
        mac,
    })
}

/// A packet socket bound to one interface that sends complete Ethernet
/// frames. It is opened with protocol 0, so the kernel delivers nothing to
/// it: reception goes through XDP only.
pub struct FrameSender {
    socket: Socket,
}

impl FrameSender {
    pub fn open(ifindex: u32) -> Result<Self, NetError> {
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))
            .map_err(io_err("opening a packet socket (needs CAP_NET_RAW)"))?;
        bind_packet_socket(&socket, ifindex, 0)?;
        // A full queue is reported as a send failure to the engine (ucarp's
        // send-error suppression), never waited on.
        socket
            .set_nonblocking(true)
            .map_err(io_err("setting the packet socket non-blocking"))?;
        Ok(Self { socket })
    }

    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        let sent = self.socket.send(frame)?;
        if sent == frame.len() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "short write: {sent} of {} bytes",
                frame.len()
            )))
        }
    }
}

/// Binds a packet socket to interface `ifindex`, receiving `protocol` (an
/// ethertype, 0 for none).
pub fn bind_packet_socket(socket: &Socket, ifindex: u32, protocol: u16) -> Result<(), NetError> {
    socket
        .bind(&link_layer_address(ifindex, protocol))
        .map_err(io_err(format!(
            "binding a packet socket to interface #{ifindex}"
        )))
}

/// `sockaddr_ll` naming interface `ifindex` and ethertype `protocol`, for
/// bind(2) on a packet socket.
#[allow(unsafe_code)]
fn link_layer_address(ifindex: u32, protocol: u16) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_ll;
    // the storage is zeroed, and we only write plain integer fields.
    let len = unsafe {
        let ll = (&raw mut storage).cast::<libc::sockaddr_ll>();
        (*ll).sll_family = libc::AF_PACKET as u16;
        (*ll).sll_ifindex = ifindex as i32;
        (*ll).sll_protocol = protocol.to_be();
        size_of::<libc::sockaddr_ll>() as libc::socklen_t
    };
    // SAFETY: the storage holds a valid sockaddr_ll of `len` bytes.
    unsafe { SockAddr::new(storage, len) }
}

/// Membership of the CARP group on the interface, so the NIC's multicast
/// filter (and IGMP-snooping switches) deliver the group's frames. Kept for
/// the daemon's lifetime; not needed with --nomcast.
pub struct GroupMembership {
    _socket: Socket,
}

impl GroupMembership {
    pub fn join(group: Ipv4Addr, ifindex: u32) -> Result<Self, NetError> {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
            .map_err(io_err("opening a UDP socket for the multicast membership"))?;
        socket
            .join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(ifindex))
            .map_err(io_err(format!("Can't do IP_ADD_MEMBERSHIP for {group}")))?;
        Ok(Self { _socket: socket })
    }
}

/// Whether interface `name` still exists with index `ifindex` (in our
/// namespace). Looked up by name: nix's `if_indextoname` never reports
/// failure (it checks libc's NULL return against -1).
fn interface_exists(name: &str, ifindex: u32) -> bool {
    if_nametoindex(name).is_ok_and(|index| index == ifindex)
}

/// A change of the interface as netlink reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// IFF_RUNNING changed (carrier and administrative state).
    Running(bool),
    /// The interface was deleted (or moved out of this namespace).
    Gone,
}

/// Subscribes to link notifications for interface `name` (index
/// `ifindex`). Returns the current running state and a stream of changes
/// (only actual changes are sent).
pub async fn watch_link(
    name: &str,
    ifindex: u32,
) -> Result<(bool, mpsc::UnboundedReceiver<LinkEvent>), NetError> {
    const RTMGRP_LINK: u32 = 1;
    let (mut connection, handle, mut messages) =
        rtnetlink::new_connection().map_err(io_err("opening a netlink socket"))?;
    connection
        .socket_mut()
        .socket_mut()
        .bind(&NetlinkAddr::new(0, RTMGRP_LINK))
        .map_err(io_err("subscribing to link notifications"))?;
    tokio::spawn(connection);

    let link = handle
        .link()
        .get()
        .match_index(ifindex)
        .execute()
        .try_next()
        .await
        .map_err(|e| NetError::Netlink(format!("reading interface #{ifindex}: {e}")))?
        .ok_or_else(|| NetError::Netlink(format!("interface #{ifindex} not found")))?;
    let mut running = link.header.flags.contains(LinkFlags::Running);
    let initial = running;

    let (tx, rx) = mpsc::unbounded_channel();
    let name = name.to_owned();
    tokio::spawn(async move {
        // Keeps the netlink connection (and its request handle) alive.
        let _handle = handle;
        // netlink-packet-route cannot decode every RTM_DELLINK a newer
        // kernel sends (it drops them with a log line), so while the link is
        // not running, also check once a second that the interface still
        // exists. Deleting a running interface always reports it down first.
        let mut existence = tokio::time::interval(Duration::from_secs(1));
        existence.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
                message = messages.next() => {
                    let Some((message, _)) = message else { break };
                    match message.payload {
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l))
                            if l.header.index == ifindex =>
                        {
                            let now = l.header.flags.contains(LinkFlags::Running);
                            if now == running {
                                continue;
                            }
                            running = now;
                            LinkEvent::Running(now)
                        }
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l))
                            if l.header.index == ifindex =>
                        {
                            LinkEvent::Gone
                        }
                        _ => continue,
                    }
                }
                _ = existence.tick(), if !running => {
                    if interface_exists(&name, ifindex) {
                        continue;
                    }
                    LinkEvent::Gone
                }
            };
            if tx.send(event).is_err() || event == LinkEvent::Gone {
                return;
            }
        }
        // The netlink socket closed: the receiver sees the channel end.
    });
    Ok((initial, rx))
}
