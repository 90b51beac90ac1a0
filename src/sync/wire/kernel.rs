//! A Linux backup's reading of a sync datagram, re-implemented from the rules in `wire.rs`'s
//! doc comment (`ip_vs_process_message` and `ip_vs_proc_sync_conn`), and tapvs's messages
//! checked against it: golden bytes of an entries message and of each control message, the
//! old layout (sequence number in `spare`) that a kernel read as version 0, and every message
//! [`parse`] accepts. The node tests run every message their nodes send through [`reads`].

use super::*;
use proptest::prelude::*;

/// `IP_VS_TCP_S_LAST`: TCP states a kernel accepts are below it.
const TCP_STATES: u16 = 11;
/// `IP_VS_UDP_S_LAST`.
const UDP_STATES: u16 = 1;
/// `IP_VS_SCTP_S_LAST`.
const SCTP_STATES: u16 = 14;
/// `STYPE_F_INET6`: the entry type's IPv6 bit.
const STYPE_INET6: u8 = 1;
/// `IPVS_OPT_F_PARAM`: an option the receiver may ignore when it does not know it.
const OPT_F_PARAM: u8 = 0x40;
/// `IP_VS_CONN_F_TEMPLATE`.
const F_TEMPLATE: u32 = 0x1000;

/// What a kernel backup makes of a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// Dropped before reading any connection.
    Dropped(&'static str),
    /// Handed to the version-0 parser, which takes the first byte as its count.
    V0 { nr_conns: u8 },
    /// Version 1: `conns` installed (in order); `skipped` entries passed over; then either
    /// the rest dropped for `error`, or `unread` bytes after the last entry never looked at.
    V1 {
        conns: Vec<Conn>,
        skipped: usize,
        error: Option<&'static str>,
        unread: usize,
    },
}

/// A connection as the kernel reads it from an IPv4 entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conn {
    pub protocol: u8,
    pub flags: u32,
    pub state: u16,
    pub cport: u16,
    pub vport: u16,
    pub dport: u16,
    pub fwmark: u32,
    pub timeout: u32,
    pub caddr: [u8; 4],
    pub vaddr: [u8; 4],
    pub daddr: [u8; 4],
}

impl Kernel {
    /// Version 1, every entry installed, nothing dropped: the connections.
    pub(crate) fn installed_all(&self) -> Option<&[Conn]> {
        match self {
            Kernel::V1 {
                conns,
                skipped: 0,
                error: None,
                ..
            } => Some(conns),
            _ => None,
        }
    }
}

/// How a kernel backup with sync id `backup_syncid` reads `buf`.
pub(crate) fn reads(buf: &[u8], backup_syncid: u8) -> Kernel {
    // 1. Length and size; 2. syncid.
    if buf.len() < 4 {
        return Kernel::Dropped("message header too short");
    }
    if usize::from(be16(buf, 2)) != buf.len() {
        return Kernel::Dropped("bogus message size");
    }
    if backup_syncid != 0 && buf[1] != backup_syncid {
        return Kernel::Dropped("ignoring syncid");
    }
    // 3. Version 1 only with reserved, spare 0 and version 1.
    if buf.len() < HEADER_LEN || !(buf[0] == 0 && buf[5] == 1 && be16(buf, 6) == 0) {
        return Kernel::V0 { nr_conns: buf[0] };
    }
    // 4. Exactly nr_conns entries.
    let (mut p, mut conns, mut skipped) = (HEADER_LEN, Vec::new(), 0);
    for _ in 0..buf[4] {
        let dropped = |error| Kernel::V1 {
            conns: conns.clone(),
            skipped,
            error: Some(error),
            unread: 0,
        };
        if p + ENTRY_LEN > buf.len() {
            return dropped("dropping buffer, too small");
        }
        let ver_size = be16(buf, p + 2);
        let size = usize::from(ver_size & 0x0fff);
        let end = p + size;
        if end > buf.len() {
            return dropped("dropping buffer, msg > buffer");
        }
        if ver_size >> 12 != 0 {
            return dropped("dropping buffer, unknown version");
        }
        match entry(&buf[p..end]) {
            Err(error) => return dropped(error),
            Ok(Some(conn)) => conns.push(conn),
            Ok(None) => skipped += 1,
        }
        p += (size + 3) & !3;
    }
    // 5. Nothing after the last entry is read.
    Kernel::V1 {
        conns,
        skipped,
        error: None,
        unread: buf.len().saturating_sub(p),
    }
}

/// One entry (`ip_vs_proc_sync_conn`): `Err` drops the rest of the message, `Ok(None)` skips
/// the entry.
fn entry(e: &[u8]) -> Result<Option<Conn>, &'static str> {
    if e[0] & STYPE_INET6 != 0 {
        return Err("IPv6 entries are not modelled");
    }
    if e[0] != 0 {
        return Err("dropping buffer, unknown entry type");
    }
    if e.len() < ENTRY_LEN {
        return Err("dropping buffer, entry shorter than its fixed part");
    }
    let mut p = ENTRY_LEN;
    let mut skip = false;
    while p < e.len() {
        if p + 2 > e.len() {
            return Err("dropping buffer, option header past the entry");
        }
        let (ptype, plen) = (e[p], usize::from(e[p + 1]));
        p += 2;
        if plen == 0 || p + plen > e.len() {
            return Err("dropping buffer, option past the entry");
        }
        // 1 sequence data, 2 persistence-engine data, 3 its name; others only if optional.
        skip |= !matches!(ptype & !OPT_F_PARAM, 1..=3) && ptype & OPT_F_PARAM == 0;
        p += plen;
    }
    let (protocol, flags, mut state) = (e[1], be32(e, 4), be16(e, 8));
    if flags & F_TEMPLATE == 0 {
        let states = match protocol {
            6 => TCP_STATES,
            17 => UDP_STATES,
            132 => SCTP_STATES,
            _ => return Ok(None),
        };
        skip |= state >= states;
    } else {
        state = 0;
    }
    let addr = |at: usize| [e[at], e[at + 1], e[at + 2], e[at + 3]];
    Ok((!skip).then_some(Conn {
        protocol,
        flags,
        state,
        cport: be16(e, 10),
        vport: be16(e, 12),
        dport: be16(e, 14),
        fwmark: be32(e, 16),
        timeout: be32(e, 20),
        caddr: addr(24),
        vaddr: addr(28),
        daddr: addr(32),
    }))
}

/// client 198.19.0.7:40000 → VIP 198.18.0.100:80 → 198.18.0.11:80, TCP ESTABLISHED, DR,
/// 900 s; client 198.19.0.8:40001 → the VIP → 198.18.0.11:8080, TCP FIN_WAIT, NAT, inactive,
/// 120 s.
fn two_entries() -> [SyncEntry; 2] {
    let dr = super::tests::established();
    let nat = SyncEntry {
        forwarding: SyncForwarding::Nat,
        inactive: true,
        state: 4,
        client: Ipv4Addr::new(198, 19, 0, 8),
        client_port: 40001,
        server_port: 8080,
        timeout_s: 120,
        ..dr
    };
    [dr, nat]
}

/// Syncid 7, sequence 0x0105: [`two_entries`], then the SEQ record.
#[rustfmt::skip]
const TWO_ENTRIES: [u8; 84] = [
    // reserved 0, syncid 7, size 84, nr_conns 2, version 1, spare 0
    0x00, 0x07, 0x00, 0x54,  0x02, 0x01, 0x00, 0x00,
    // type 0, TCP, ver_size 36 | flags DR (3)
    0x00, 0x06, 0x00, 0x24,  0x00, 0x00, 0x00, 0x03,
    // state 1, cport 40000 | vport 80, dport 80
    0x00, 0x01, 0x9c, 0x40,  0x00, 0x50, 0x00, 0x50,
    // fwmark 0 | timeout 900
    0x00, 0x00, 0x00, 0x00,  0x00, 0x00, 0x03, 0x84,
    // caddr 198.19.0.7 | vaddr 198.18.0.100 | daddr 198.18.0.11
    0xc6, 0x13, 0x00, 0x07,  0xc6, 0x12, 0x00, 0x64,  0xc6, 0x12, 0x00, 0x0b,
    // type 0, TCP, ver_size 36 | flags inactive (0x0100) | NAT (0)
    0x00, 0x06, 0x00, 0x24,  0x00, 0x00, 0x01, 0x00,
    // state 4, cport 40001 | vport 80, dport 8080
    0x00, 0x04, 0x9c, 0x41,  0x00, 0x50, 0x1f, 0x90,
    // fwmark 0 | timeout 120
    0x00, 0x00, 0x00, 0x00,  0x00, 0x00, 0x00, 0x78,
    // caddr 198.19.0.8 | vaddr 198.18.0.100 | daddr 198.18.0.11
    0xc6, 0x13, 0x00, 0x08,  0xc6, 0x12, 0x00, 0x64,  0xc6, 0x12, 0x00, 0x0b,
    // tapvs record: SEQ, 0, 0x0105
    0x04, 0x00, 0x01, 0x05,
];

fn kernel_conn(e: &SyncEntry) -> Conn {
    Conn {
        protocol: e.protocol,
        flags: e.flags(),
        state: e.state,
        cport: e.client_port,
        vport: e.vport,
        dport: e.server_port,
        fwmark: 0,
        timeout: e.timeout_s,
        caddr: e.client.octets(),
        vaddr: e.vip.octets(),
        daddr: e.server.octets(),
    }
}

#[test]
fn an_entries_message_is_read_by_a_kernel_as_version_1() {
    let mut buf = [0xffu8; DEFAULT_MAX_PAYLOAD];
    let mut writer = MessageWriter::new(&mut buf, 7, 0x0105);
    for e in &two_entries() {
        assert!(writer.push(e));
    }
    let len = writer.finish();
    assert_eq!(&buf[..len], &TWO_ENTRIES[..]);
    let expected = Kernel::V1 {
        conns: two_entries().iter().map(kernel_conn).collect(),
        skipped: 0,
        error: None,
        unread: RECORD_LEN,
    };
    // A backup with our sync id, and one with 0 (takes any).
    assert_eq!(reads(&TWO_ENTRIES, 7), expected);
    assert_eq!(reads(&TWO_ENTRIES, 0), expected);
    assert_eq!(reads(&TWO_ENTRIES, 8), Kernel::Dropped("ignoring syncid"));
    match parse(&TWO_ENTRIES).unwrap() {
        Message::Entries {
            syncid: 7,
            seq: Some(0x0105),
            entries,
        } => assert_eq!(entries.collect::<Vec<_>>(), two_entries()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn control_messages_are_version_1_without_connections() {
    let mut buf = [0u8; CONTROL_LEN];
    for kind in [
        ControlKind::BulkRequest,
        ControlKind::Ack,
        ControlKind::BulkDone,
    ] {
        let len = write_control(&mut buf, 7, kind, 0x8001);
        let read = reads(&buf[..len], 7);
        let nothing = Kernel::V1 {
            conns: Vec::new(),
            skipped: 0,
            error: None,
            unread: RECORD_LEN,
        };
        assert_eq!(read, nothing, "{kind:?}");
    }
}

#[test]
fn the_old_layout_with_the_sequence_number_in_spare_is_version_0_to_a_kernel() {
    // What tapvs sent before: the same message, the sequence number in `spare`, no record.
    let mut old = TWO_ENTRIES[..80].to_vec();
    old[2..4].copy_from_slice(&80u16.to_be_bytes());
    old[6..8].copy_from_slice(&0x0105u16.to_be_bytes());
    assert_eq!(reads(&old, 7), Kernel::V0 { nr_conns: 0 });
    assert_eq!(parse(&old).unwrap_err(), WireError::Spare(0x0105));
    // With spare 0 the same bytes are a kernel master's message: no sequence number.
    old[6..8].fill(0);
    assert_eq!(reads(&old, 7).installed_all().map(<[_]>::len), Some(2));
    assert_eq!(parse(&old).unwrap().seq(), None);
}

#[test]
fn the_model_refuses_what_a_kernel_refuses() {
    let mut b = TWO_ENTRIES.to_vec();
    b.push(0);
    assert_eq!(reads(&b, 7), Kernel::Dropped("bogus message size"));
    assert_eq!(
        reads(&[0, 7, 0], 7),
        Kernel::Dropped("message header too short")
    );
    let mut b = TWO_ENTRIES;
    b[0] = 2;
    assert_eq!(reads(&b, 7), Kernel::V0 { nr_conns: 2 });
    let mut b = TWO_ENTRIES;
    b[5] = 0;
    assert_eq!(reads(&b, 7), Kernel::V0 { nr_conns: 0 });
    // The second entry with version 1 in ver_size: the first is installed, then the drop.
    let mut b = TWO_ENTRIES;
    b[46] = 0x10;
    let Kernel::V1 { conns, error, .. } = reads(&b, 7) else {
        panic!()
    };
    assert_eq!(
        (conns.len(), error),
        (1, Some("dropping buffer, unknown version"))
    );
    // A TCP state past the last one: that entry is skipped, the message goes on.
    let mut b = TWO_ENTRIES;
    b[16..18].copy_from_slice(&TCP_STATES.to_be_bytes());
    let Kernel::V1 { conns, skipped, .. } = reads(&b, 7) else {
        panic!()
    };
    assert_eq!((conns.len(), skipped), (1, 1));
}

proptest! {
    /// Whatever tapvs accepts with entries, a kernel reads as version 1 and walks whole: every
    /// entry read (installed, or skipped for a protocol or state it does not know), none
    /// dropping the message.
    #[test]
    fn what_parse_accepts_a_kernel_reads_as_version_1(
        flips in proptest::collection::vec((0usize..84, any::<u8>()), 0..4),
    ) {
        let mut bytes = TWO_ENTRIES;
        for (at, xor) in flips {
            bytes[at] ^= xor;
        }
        if let Ok(Message::Entries { syncid, entries, .. }) = parse(&bytes) {
            let theirs = reads(&bytes, syncid);
            let walked = match &theirs {
                Kernel::V1 { conns, skipped, error: None, .. } => Some(conns.len() + skipped),
                _ => None,
            };
            prop_assert_eq!(walked, Some(entries.len()), "{:?}", theirs);
        }
    }
}
