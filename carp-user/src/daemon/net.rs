//! The daemon's network plumbing: interface lookup, the packet socket that
//! sends adverts and gratuitous ARP, the multicast membership, and link
//! state from netlink.
use std::{io, net::Ipv4Addr, time::Duration};

use futures::StreamExt as _;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::{
    RouteNetlinkMessage,
    link::{LinkAttribute, LinkFlags},
};
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

/// What a reading of an interface says: its current name and IFF_RUNNING
/// flag (carrier and administrative state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkReading {
    pub name: String,
    pub running: bool,
}

/// The name and IFF_RUNNING flag of the interface with index `ifindex`, or
/// `None` when there is none (deleted, or moved out of this namespace).
/// Read like ucarp's SIOCGIFFLAGS poll, so it does not depend on having
/// seen every netlink notification. Found by index, not by name, so that a
/// renamed interface is still the same interface.
///
/// The index comes from the link-layer entries of getifaddrs(3): nix's
/// `if_indextoname` never reports failure (it checks libc's NULL return
/// against -1).
#[must_use]
pub fn read_link(ifindex: u32) -> Option<LinkReading> {
    let addrs: Vec<_> = getifaddrs().ok()?.collect();
    let name = addrs.iter().find_map(|ifa| {
        let link = ifa.address.as_ref()?.as_link_addr()?;
        (u32::try_from(link.ifindex()).ok()? == ifindex).then(|| ifa.interface_name.clone())
    })?;
    let running = addrs
        .iter()
        .filter(|ifa| ifa.interface_name == name)
        .any(|ifa| ifa.flags.contains(InterfaceFlags::IFF_RUNNING));
    Some(LinkReading { name, running })
}

/// Whether interface `name` is up with a carrier (IFF_RUNNING); false when
/// there is no such interface. For tracked interfaces, which need not be
/// ones the daemon runs on and may come and go.
#[must_use]
pub fn running_by_name(name: &str) -> bool {
    getifaddrs().is_ok_and(|mut addrs| {
        addrs.any(|ifa| {
            ifa.interface_name == name && ifa.flags.contains(InterfaceFlags::IFF_RUNNING)
        })
    })
}

/// A change of the interface as netlink reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// IFF_RUNNING changed (carrier and administrative state).
    Running(bool),
    /// The interface (the same index) has a new name.
    Renamed(String),
    /// The interface was deleted (or moved out of this namespace).
    Gone,
}

/// How often the link state is read even without a notification: a lost
/// notification (socket overrun, or one netlink-packet-route cannot decode,
/// such as some kernels' RTM_DELLINK) is noticed within this time.
pub const LINK_RECHECK: Duration = Duration::from_secs(1);

/// The link watcher's side of the daemon: changes of the interface, and a
/// way to ask for an immediate re-read (after a receive error that says the
/// link went down, say).
pub struct LinkWatch {
    pub events: mpsc::UnboundedReceiver<LinkEvent>,
    resync: mpsc::UnboundedSender<()>,
}

impl LinkWatch {
    /// Asks the watcher to read the link state now; a change is reported as
    /// an event like any other.
    pub fn resync(&self) {
        let _ = self.resync.send(());
    }
}

/// Tracks the last reported state and turns readings into events (only
/// changes, and `Gone` once).
#[derive(Debug)]
pub struct LinkTracker {
    last: LinkReading,
    gone: bool,
}

impl LinkTracker {
    #[must_use]
    pub fn new(initial: LinkReading) -> Self {
        Self {
            last: initial,
            gone: false,
        }
    }

    /// A reading of the link: `None` = the interface does not exist. A new
    /// name comes before a change of the running flag.
    pub fn observe(&mut self, reading: Option<LinkReading>) -> Vec<LinkEvent> {
        if self.gone {
            return Vec::new();
        }
        let Some(reading) = reading else {
            self.gone = true;
            return vec![LinkEvent::Gone];
        };
        let mut events = Vec::new();
        if reading.name != self.last.name {
            events.push(LinkEvent::Renamed(reading.name.clone()));
        }
        if reading.running != self.last.running {
            events.push(LinkEvent::Running(reading.running));
        }
        self.last = reading;
        events
    }

    /// The interface's name as last read.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.last.name
    }
}

/// Subscribes to link notifications for interface `name` (index
/// `ifindex`). Returns the current running state and the watch. The
/// interface is followed by its index: a rename is reported as
/// [`LinkEvent::Renamed`], not as the interface going away.
///
/// The notification socket carries no requests, so an overrun can only
/// reach us as an unsolicited message (netlink-proto does not handle one
/// that answers a request). Whatever happens to notifications, the state is
/// re-read every [`LINK_RECHECK`], after an overrun, on request, and when
/// the netlink socket has to be reopened: a missed carrier-up can never
/// leave the engine ignoring adverts.
pub async fn watch_link(name: &str, ifindex: u32) -> Result<(bool, LinkWatch), NetError> {
    let mut messages = subscribe_links()?;
    // Read after subscribing, so no change falls between the two.
    let initial = read_link(ifindex)
        .filter(|reading| reading.name == name)
        .ok_or_else(|| NetError::Netlink(format!("interface {name} (#{ifindex}) not found")))?;
    let running = initial.running;
    let (tx, events) = mpsc::unbounded_channel();
    let (resync, mut resync_requests) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut tracker = LinkTracker::new(initial);
        let mut recheck = tokio::time::interval(LINK_RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let read_now = tokio::select! {
                message = messages.next() => match message {
                    Some((message, _)) => match message.payload {
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l))
                            if l.header.index == ifindex =>
                        {
                            let name = l.attributes.iter().find_map(|a| match a {
                                LinkAttribute::IfName(name) => Some(name.clone()),
                                _ => None,
                            });
                            Some(Some(LinkReading {
                                name: name.unwrap_or_else(|| tracker.name().to_owned()),
                                running: l.header.flags.contains(LinkFlags::Running),
                            }))
                        }
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l))
                            if l.header.index == ifindex =>
                        {
                            Some(None)
                        }
                        NetlinkPayload::Overrun(_) => {
                            tracing::warn!("netlink notifications overran: re-reading the state of {}", tracker.name());
                            None
                        }
                        _ => continue,
                    },
                    None => {
                        tracing::warn!("the netlink socket closed: reopening it and re-reading the state of {}", tracker.name());
                        tokio::time::sleep(LINK_RECHECK).await;
                        match subscribe_links() {
                            Ok(fresh) => messages = fresh,
                            Err(e) => tracing::warn!("reopening the netlink socket failed: {e}"),
                        }
                        None
                    }
                },
                _ = recheck.tick() => None,
                Some(()) = resync_requests.recv() => None,
                // The daemon dropped the interface (a reload): stop
                // watching it, and close the netlink socket with us.
                () = tx.closed() => return,
            };
            // A notification's own content, or a fresh reading.
            let reading = read_now.unwrap_or_else(|| read_link(ifindex));
            for event in tracker.observe(reading) {
                let gone = event == LinkEvent::Gone;
                if tx.send(event).is_err() || gone {
                    return;
                }
            }
        }
    });
    Ok((running, LinkWatch { events, resync }))
}

pub(super) type LinkMessages = futures::channel::mpsc::UnboundedReceiver<(
    netlink_packet_core::NetlinkMessage<RouteNetlinkMessage>,
    NetlinkAddr,
)>;

/// A netlink connection subscribed to link notifications, used for nothing
/// else.
pub(super) fn subscribe_links() -> Result<LinkMessages, NetError> {
    const RTMGRP_LINK: u32 = 1;
    let (mut connection, _handle, messages) =
        rtnetlink::new_connection().map_err(io_err("opening a netlink socket"))?;
    connection
        .socket_mut()
        .socket_mut()
        .bind(&NetlinkAddr::new(0, RTMGRP_LINK))
        .map_err(io_err("subscribing to link notifications"))?;
    tokio::spawn(connection);
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(name: &str, running: bool) -> Option<LinkReading> {
        Some(LinkReading {
            name: name.into(),
            running,
        })
    }

    #[test]
    fn tracker_reports_changes_once_and_gone_last() {
        let mut t = LinkTracker::new(reading("eth0", true).unwrap());
        assert_eq!(t.observe(reading("eth0", true)), []);
        assert_eq!(
            t.observe(reading("eth0", false)),
            [LinkEvent::Running(false)]
        );
        assert_eq!(t.observe(reading("eth0", false)), []);
        // A carrier-up whose notification was lost is caught by a reading.
        assert_eq!(t.observe(reading("eth0", true)), [LinkEvent::Running(true)]);
        assert_eq!(t.observe(None), [LinkEvent::Gone]);
        assert_eq!(t.observe(reading("eth0", true)), []);
        assert_eq!(t.observe(None), []);
    }

    #[test]
    fn a_new_name_for_the_same_index_is_a_rename_not_a_loss() {
        let mut t = LinkTracker::new(reading("eth0", true).unwrap());
        assert_eq!(
            t.observe(reading("lan0", true)),
            [LinkEvent::Renamed("lan0".into())]
        );
        assert_eq!(t.name(), "lan0");
        assert_eq!(t.observe(reading("lan0", true)), []);
        assert_eq!(
            t.observe(reading("wan0", false)),
            [LinkEvent::Renamed("wan0".into()), LinkEvent::Running(false)]
        );
    }

    #[test]
    fn loopback_is_read_by_its_index_and_a_wrong_index_as_gone() {
        let index = if_nametoindex("lo").expect("lo exists");
        assert_eq!(read_link(index), reading("lo", true));
        assert_eq!(read_link(index + 1000), None);
        assert!(running_by_name("lo"));
        assert!(!running_by_name("no-such-if0"));
    }
}
