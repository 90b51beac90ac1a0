//! Counters of the data plane: frames in and out, drops by reason, per service and per real
//! server. Plain integers bumped on the packet path; snapshots are built only on request.

use serde::{Deserialize, Serialize};

/// Why a frame was dropped. Every drop has exactly one reason, and every reason is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// Too short or inconsistent Ethernet, ARP, IPv4, TCP or UDP header.
    Malformed,
    /// IPv4 header checksum does not verify.
    BadChecksum,
    /// An EtherType other than ARP or IPv4.
    UnsupportedEthertype,
    /// A unicast frame for another MAC (flooded by the bridge).
    OtherMac,
    /// An IPv4 packet for neither a VIP nor the director's address.
    NotForUs,
    /// An IPv4 fragment (IPVS needs defragmented packets; tapvs does not reassemble).
    Fragment,
    /// A VIP packet for a protocol or port with no virtual service.
    NoService,
    /// A non-SYN TCP segment with no connection entry (IPVS drops these unless sloppy).
    NoConnection,
    /// A new connection for a service whose real servers are all quiescent or absent.
    NoServer,
    /// The connection table is full.
    TableFull,
    /// A VIP packet or ARP request for the VIP while this director is not active.
    Inactive,
    /// The real server's MAC could not be resolved by ARP in time.
    NeighbourUnreachable,
    /// The queue of frames waiting for ARP resolution is full.
    QueueFull,
    /// A frame too large for a queue slot.
    Oversize,
    /// An ARP packet that asks nothing of us (a request for another address, a reply).
    ArpIgnored,
    /// A host-bound frame with no host stack to take it.
    NoHostStack,
    /// A frame handed in for an interface the director does not have.
    NoInterface,
    /// A forwarded packet whose TTL ran out (NAT decrements it as a router does).
    TtlExceeded,
    /// A NAT reply towards an on-link destination when the neighbour table has no room left.
    NoRoute,
    /// An ARP opcode other than request (1) or reply (2): never answered, never learnt.
    ArpBadOpcode,
    /// An ARP sender that no host can be: a multicast, broadcast or zero MAC, or a multicast,
    /// broadcast, loopback or 0.x.x.x address (0.0.0.0 itself is a probe, answered).
    ArpBadSender,
    /// An ARP packet about a multicast, broadcast or loopback target address.
    ArpBadTarget,
    /// A new connection refused by the flood defence's `drop_packet`.
    DefenseDropPacket,
    /// A new connection from a source already at its half-open limit.
    HalfOpenLimit,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 24] = [
        DropReason::Malformed,
        DropReason::BadChecksum,
        DropReason::UnsupportedEthertype,
        DropReason::OtherMac,
        DropReason::NotForUs,
        DropReason::Fragment,
        DropReason::NoService,
        DropReason::NoConnection,
        DropReason::NoServer,
        DropReason::TableFull,
        DropReason::Inactive,
        DropReason::NeighbourUnreachable,
        DropReason::QueueFull,
        DropReason::Oversize,
        DropReason::ArpIgnored,
        DropReason::NoHostStack,
        DropReason::NoInterface,
        DropReason::TtlExceeded,
        DropReason::NoRoute,
        DropReason::ArpBadOpcode,
        DropReason::ArpBadSender,
        DropReason::ArpBadTarget,
        DropReason::DefenseDropPacket,
        DropReason::HalfOpenLimit,
    ];

    /// The name used in stats output.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::BadChecksum => "bad_checksum",
            DropReason::UnsupportedEthertype => "unsupported_ethertype",
            DropReason::OtherMac => "other_mac",
            DropReason::NotForUs => "not_for_us",
            DropReason::Fragment => "fragment",
            DropReason::NoService => "no_service",
            DropReason::NoConnection => "no_connection",
            DropReason::NoServer => "no_server",
            DropReason::TableFull => "table_full",
            DropReason::Inactive => "inactive",
            DropReason::NeighbourUnreachable => "neighbour_unreachable",
            DropReason::QueueFull => "queue_full",
            DropReason::Oversize => "oversize",
            DropReason::ArpIgnored => "arp_ignored",
            DropReason::NoHostStack => "no_host_stack",
            DropReason::NoInterface => "no_interface",
            DropReason::TtlExceeded => "ttl_exceeded",
            DropReason::NoRoute => "no_route",
            DropReason::ArpBadOpcode => "arp_bad_opcode",
            DropReason::ArpBadSender => "arp_bad_sender",
            DropReason::ArpBadTarget => "arp_bad_target",
            DropReason::DefenseDropPacket => "defense_drop_packet",
            DropReason::HalfOpenLimit => "half_open_limit",
        }
    }
}

/// Traffic counted for one service or one real server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets forwarded (client → server direction).
    pub packets: u64,
    /// Bytes forwarded, Ethernet frames included.
    pub bytes: u64,
    /// Reply packets forwarded (server → client; NAT only).
    #[serde(default)]
    pub reply_packets: u64,
    /// Reply bytes forwarded, Ethernet frames included.
    #[serde(default)]
    pub reply_bytes: u64,
}

impl Traffic {
    #[inline]
    pub(crate) fn count(&mut self, bytes: usize) {
        self.packets += 1;
        self.bytes += bytes as u64;
    }

    #[inline]
    pub(crate) fn count_reply(&mut self, bytes: usize) {
        self.reply_packets += 1;
        self.reply_bytes += bytes as u64;
    }

    /// Adds another count to this one.
    pub fn add(&mut self, other: &Traffic) {
        self.conns += other.conns;
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.reply_packets += other.reply_packets;
        self.reply_bytes += other.reply_bytes;
    }

    /// Packets in both directions.
    pub fn all_packets(&self) -> u64 {
        self.packets + self.reply_packets
    }

    /// Bytes in both directions.
    pub fn all_bytes(&self) -> u64 {
        self.bytes + self.reply_bytes
    }
}

/// Data-plane wide counters. In a [`Stats`](super::stats::Stats) snapshot they stand flattened,
/// with the drops as a map by reason name instead of the array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Frames handed to `handle_frame`.
    pub frames_in: u64,
    /// Bytes handed to `handle_frame`.
    pub bytes_in: u64,
    /// Frames rewritten in place and sent back out (forwarded VIP traffic, ARP replies).
    pub sent_in_place: u64,
    /// Frames passed to the host stack.
    pub to_host: u64,
    /// Frames used up by the data plane (ARP replies that taught it a neighbour).
    pub consumed: u64,
    /// Frames parked until their next hop's MAC is known.
    pub queued: u64,
    /// Parked frames later sent.
    pub dequeued: u64,
    /// Frames emitted by the data plane itself (ARP requests, queued frames).
    pub emitted: u64,
    /// ARP replies sent for the director's address or a VIP.
    pub arp_replies: u64,
    /// ARP requests sent to resolve neighbours.
    pub arp_requests: u64,
    /// Gratuitous ARPs sent for the VIPs and floating addresses.
    pub garps: u64,
    /// ARP packets whose new MAC for a known neighbour was refused (Linux's locktime: the
    /// first answer wins for one second, unless the update is a gratuitous ARP).
    pub neighbour_updates_refused: u64,
    /// Connection entries created.
    pub conns_created: u64,
    /// Connection entries expired or replaced.
    pub conns_expired: u64,
    /// Events lost because the event queue was full.
    pub events_lost: u64,
    /// Changed entries not queued for sync because the queue was full (refresh sends them).
    pub sync_changes_dropped: u64,
    /// TCP resets sent for segments that found no connection.
    pub resets: u64,
    /// Resets not sent because the queue was full.
    pub resets_dropped: u64,
    /// Drops, indexed by `DropReason as usize`.
    #[serde(skip)]
    pub drops: [u64; DropReason::ALL.len()],
}

impl Counters {
    /// Counts one drop.
    #[inline]
    pub(crate) fn drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }

    /// Sum of all drops.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Drops counted for one reason.
    pub fn drops_for(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }
}
