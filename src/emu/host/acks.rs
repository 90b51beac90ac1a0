//! Linux's ACKs on the hosts' smoltcp sockets, as a middle box counts them: the quick ACK of
//! a connection's first data, and a FIN's ACK left for the application's own FIN to carry.
//!
//! Linux (`tcp_event_data_recv`, `__tcp_ack_snd_check`) acknowledges the first data of a
//! connection at once (quick-ack mode), later data at once when more than one MSS of it is
//! unacknowledged (`rcv_nxt - rcv_wup > rcv_mss`), the rest of a request/response exchange
//! with a delayed ACK that the answer carries, and a FIN with a delayed ACK. GRO (or the
//! sender's GSO, `crate::emu::gso`) hands it a burst of segments as one, acknowledged at once;
//! smoltcp acks every second MSS-sized segment as Linux does, but starts its delayed-ACK timer
//! on one longer segment, so that ACK is made immediate here.

use super::filter::Segment;
use smoltcp::socket::tcp;
use smoltcp::time::Duration;

/// Linux's MSS on the lab's 1500-byte MTU with timestamps: a longer segment is a GSO'd one.
const LINUX_MSS: usize = 1448;

/// smoltcp's delayed ACK (Linux's is 40 ms at least; nothing measured waits on it here).
const DELAYED_ACK: Duration = Duration::from_millis(10);

/// The TSval every host sends (see [`like_linux`]).
pub const TSVAL: u32 = 1;

/// Makes a TCP socket's segments look like Linux's where a middle box sees them: timestamps on
/// (12 bytes of options on every segment, as Linux sends by default; the value is constant, as
/// nothing here measures RTT from it), no Nagle (the tapvs client and server set
/// TCP_NODELAY). [`before`] and [`after_quick`] add Linux's ACKs.
pub fn like_linux(sock: &mut tcp::Socket<'_>) {
    sock.set_tsval_generator(Some(|| TSVAL));
    sock.set_nagle_enabled(false);
}

/// What the stack does with a segment for a connection socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Take it and send at once (an ACK it calls for leaves now).
    Now,
    /// Take it and send at once, then delay ACKs again (the quick ACK was this one).
    Quick,
    /// Take it, let the application read, then send the ACK it calls for at the host's next
    /// poll (its timer set to expire now), and delay ACKs again: a burst on a connection
    /// whose window has grown, acknowledged with the window the read reopened.
    AfterRead,
    /// Take it and send at the host's next poll, after the application's step: smoltcp
    /// acknowledges a bare FIN at once, Linux delays that ACK and an application that closes
    /// now sends it with its FIN.
    Deferred,
}

/// Before `seg` goes into `sock`: quick-ack mode from the SYN (or SYN-ACK) to the first data.
pub fn before(sock: &mut tcp::Socket<'_>, seg: &Segment) -> Ack {
    if seg.syn {
        sock.set_ack_delay(None);
    }
    if seg.to_listener {
        // Timestamps are agreed per connection: smoltcp turns them off for good on a listener
        // whose SYN had none (the directors' health checks), Linux for that connection only.
        like_linux(sock);
    }
    let quick = sock.ack_delay().is_none();
    if seg.data && quick && !seg.push {
        // The first segment of a burst: smoltcp's every-second-segment ACKs stand for Linux's.
        sock.set_ack_delay(Some(DELAYED_ACK));
    }
    if seg.bare_fin {
        Ack::Deferred
    } else if seg.data && quick && seg.push {
        Ack::Quick
    } else if seg.len > LINUX_MSS {
        // At once; a timer already running is forced to expire (more than smoltcp's MSS is
        // unacked). Past the first data Linux's window has grown (`rcv_ssthresh`, two MSS a
        // segment): reading the burst does not double it, so no window update follows, as
        // smoltcp's fixed buffer would send; the ACK leaves after the read instead.
        sock.set_ack_delay(Some(Duration::ZERO));
        Ack::AfterRead
    } else {
        Ack::Now
    }
}

/// After the quick ACK went: delayed ACKs from now on.
pub fn after_quick(sock: &mut tcp::Socket<'_>) {
    sock.set_ack_delay(Some(DELAYED_ACK));
}
