//! IPVS's TCP connection states and timeouts, tracked from the client side only, as IPVS does
//! for direct routing (its "input-only" transition table). Pure functions of state and flags.

use serde::{Deserialize, Serialize};

/// IPVS TCP states (`IP_VS_TCP_S_*`), plus UDP's single state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum ConnState {
    None = 0,
    Established,
    SynSent,
    SynRecv,
    FinWait,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    SynAck,
    /// A UDP "connection": one state, one timeout.
    Udp,
}

/// Which TCP flag drives a transition; IPVS looks at RST, then SYN, then FIN, then ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpEvent {
    Syn = 0,
    Fin = 1,
    Ack = 2,
    Rst = 3,
}

impl TcpEvent {
    /// The event for a segment's flags, or `None` when it carries none that IPVS tracks.
    pub fn from_flags(syn: bool, fin: bool, ack: bool, rst: bool) -> Option<TcpEvent> {
        if rst {
            Some(TcpEvent::Rst)
        } else if syn {
            Some(TcpEvent::Syn)
        } else if fin {
            Some(TcpEvent::Fin)
        } else if ack {
            Some(TcpEvent::Ack)
        } else {
            None
        }
    }
}

/// Which way a segment goes, and which IPVS transition table applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server when the director also sees the replies (NAT).
    Input = 0,
    /// Server → client (NAT replies).
    Output = 1,
    /// Client → server when replies bypass the director (direct routing).
    InputOnly = 2,
}

use ConnState::{
    Close as CL, CloseWait as CW, Established as ES, FinWait as FW, LastAck as LA, Listen as LI,
    SynRecv as SR, SynSent as SS, TimeWait as TW,
};

/// IPVS's transition tables (net/netfilter/ipvs/ip_vs_proto_tcp.c), by direction, then event
/// (SYN, FIN, ACK, RST), then current state in the order NO ES SS SR FW TW CL CW LA LI SA.
/// One deliberate difference: an ACK with no entry (a sloppy mid-flow pick-up) leads to
/// ESTABLISHED, as in older kernels, rather than CLOSE with its 10 s timeout.
const TABLES: [[[ConnState; 11]; 4]; 3] = [
    // INPUT
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
    ],
    // OUTPUT
    [
        [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
        [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    ],
    // INPUT-ONLY
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
];

impl ConnState {
    /// The TCP states in IPVS's numbering (`IP_VS_TCP_S_*`), which is our discriminants' order.
    const TCP: [ConnState; 11] = [
        ConnState::None,
        ConnState::Established,
        ConnState::SynSent,
        ConnState::SynRecv,
        ConnState::FinWait,
        ConnState::TimeWait,
        ConnState::Close,
        ConnState::CloseWait,
        ConnState::LastAck,
        ConnState::Listen,
        ConnState::SynAck,
    ];

    /// The state number IPVS puts in a sync entry: `IP_VS_TCP_S_*` for TCP, 0 for UDP.
    pub fn ipvs_number(self) -> u16 {
        match self {
            ConnState::Udp => 0,
            s => s as u16,
        }
    }

    /// The TCP state of an IPVS state number, if there is one.
    pub fn from_ipvs_tcp(n: u16) -> Option<ConnState> {
        ConnState::TCP.get(n as usize).copied()
    }

    /// The next state after a client → server segment seen alone (direct routing).
    pub fn next(self, event: TcpEvent) -> ConnState {
        self.next_in(Direction::InputOnly, event)
    }

    /// The next state after a segment going `direction`.
    pub fn next_in(self, direction: Direction, event: TcpEvent) -> ConnState {
        if self == ConnState::Udp {
            return self;
        }
        TABLES[direction as usize][event as usize][self as usize]
    }

    /// IPVS's default timeout for the state, in seconds.
    pub fn timeout_s(self) -> u32 {
        use ConnState::*;
        match self {
            Established => 900,
            SynSent | FinWait | TimeWait | Listen | SynAck => 120,
            SynRecv | CloseWait => 60,
            LastAck => 30,
            Close => 10,
            None => 2,
            Udp => 300,
        }
    }

    /// Whether the connection counts as active for lc, wlc, ... (TCP ESTABLISHED, and UDP,
    /// which has no handshake to wait for).
    pub fn is_active(self) -> bool {
        matches!(self, ConnState::Established | ConnState::Udp)
    }

    /// Whether the handshake is under way (what a SYN flood leaves behind): the entries the
    /// flood defence may drop early.
    pub fn is_half_open(self) -> bool {
        matches!(self, ConnState::SynRecv | ConnState::SynAck)
    }

    /// Whether a new SYN on this entry starts a new connection (IPVS `conn_reuse_mode`):
    /// the old one is over, so the new one is scheduled afresh.
    pub fn reusable_by_syn(self) -> bool {
        matches!(
            self,
            ConnState::FinWait
                | ConnState::TimeWait
                | ConnState::Close
                | ConnState::CloseWait
                | ConnState::LastAck
        )
    }

    /// The IPVS name, as `ipvsadm -Lc` prints it.
    pub fn name(self) -> &'static str {
        use ConnState::*;
        match self {
            None => "NONE",
            Established => "ESTABLISHED",
            SynSent => "SYN_SENT",
            SynRecv => "SYN_RECV",
            FinWait => "FIN_WAIT",
            TimeWait => "TIME_WAIT",
            Close => "CLOSE",
            CloseWait => "CLOSE_WAIT",
            LastAck => "LAST_ACK",
            Listen => "LISTEN",
            SynAck => "SYNACK",
            Udp => "UDP",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConnState::*;
    use super::*;

    #[test]
    fn ipvs_state_numbers_round_trip() {
        for n in 0..11 {
            let s = ConnState::from_ipvs_tcp(n).unwrap();
            assert_eq!(s.ipvs_number(), n);
        }
        assert_eq!(Established.ipvs_number(), 1);
        assert_eq!(SynAck.ipvs_number(), 10);
        assert_eq!(ConnState::from_ipvs_tcp(11), Option::None);
        assert_eq!(Udp.ipvs_number(), 0);
    }

    #[test]
    fn handshake_data_and_close_from_the_client_side() {
        let s = None.next(TcpEvent::Syn);
        assert_eq!(s, SynRecv);
        let s = s.next(TcpEvent::Ack);
        assert_eq!(s, Established);
        assert_eq!(s.next(TcpEvent::Ack), Established);
        let s = s.next(TcpEvent::Fin);
        assert_eq!(s, FinWait);
        assert_eq!(s.next(TcpEvent::Ack), FinWait);
        assert_eq!(Established.next(TcpEvent::Rst), Close);
    }

    #[test]
    fn nat_sees_both_directions() {
        let s = None.next_in(Direction::Input, TcpEvent::Syn);
        assert_eq!(s, SynRecv);
        let s = s.next_in(Direction::Output, TcpEvent::Syn); // SYN+ACK from the server
        assert_eq!(s, SynRecv);
        let s = s.next_in(Direction::Input, TcpEvent::Ack);
        assert_eq!(s, Established);
        let s = s.next_in(Direction::Output, TcpEvent::Fin); // server closes first
        assert_eq!(s, FinWait);
        let s = s.next_in(Direction::Input, TcpEvent::Fin);
        assert_eq!(s, TimeWait);
        assert_eq!(
            Established.next_in(Direction::Input, TcpEvent::Fin),
            CloseWait
        );
        assert_eq!(
            CloseWait.next_in(Direction::Output, TcpEvent::Fin),
            TimeWait
        );
        assert_eq!(Udp.next_in(Direction::Output, TcpEvent::Rst), Udp);
    }

    #[test]
    fn timeouts_are_ipvs_defaults() {
        assert_eq!(Established.timeout_s(), 900);
        assert_eq!(SynRecv.timeout_s(), 60);
        assert_eq!(FinWait.timeout_s(), 120);
        assert_eq!(Close.timeout_s(), 10);
        assert_eq!(LastAck.timeout_s(), 30);
        assert_eq!(Udp.timeout_s(), 300);
    }

    #[test]
    fn flag_priority_is_rst_syn_fin_ack() {
        // (syn, fin, ack, rst) → the event that wins.
        let cases = [
            ((true, true, true, true), Some(TcpEvent::Rst)),
            ((true, true, true, false), Some(TcpEvent::Syn)),
            ((false, true, true, false), Some(TcpEvent::Fin)),
            ((false, false, true, false), Some(TcpEvent::Ack)),
            ((false, false, false, false), Option::None),
        ];
        for ((syn, fin, ack, rst), want) in cases {
            let got = TcpEvent::from_flags(syn, fin, ack, rst);
            assert_eq!(got, want, "syn {syn} fin {fin} ack {ack} rst {rst}");
        }
    }

    #[test]
    fn a_syn_reopens_only_finished_connections() {
        assert!(TimeWait.reusable_by_syn());
        assert!(FinWait.reusable_by_syn());
        assert!(!Established.reusable_by_syn());
        assert!(!SynRecv.reusable_by_syn());
    }
}
