//! The sync wire format against bytes written out by hand from the layout, round trips, a full
//! MTU batch, every malformed case, and proptests (round trip; no panic on random bytes).

use super::*;
use proptest::prelude::*;

/// client 198.19.0.7:40000 → VIP 198.18.0.100:80 → server 198.18.0.11:80, TCP ESTABLISHED, DR.
pub(super) fn established() -> SyncEntry {
    SyncEntry {
        protocol: 6,
        template: false,
        forwarding: SyncForwarding::DirectRouting,
        inactive: false,
        state: 1,
        client: Ipv4Addr::new(198, 19, 0, 7),
        client_port: 40000,
        vip: Ipv4Addr::new(198, 18, 0, 100),
        vport: 80,
        server: Ipv4Addr::new(198, 18, 0, 11),
        server_port: 80,
        timeout_s: 900,
    }
}

/// Syncid 7, sequence 5, one entry: [`established`].
#[rustfmt::skip]
const ONE_ENTRY: [u8; 48] = [
    // header: reserved, syncid 7, size 48, nr_conns 1, version 1, spare 0
    0x00, 0x07, 0x00, 0x30,  0x01, 0x01, 0x00, 0x00,
    // type 0, protocol 6, ver_size = version 0 | length 36
    0x00, 0x06, 0x00, 0x24,
    // flags: DR (3)
    0x00, 0x00, 0x00, 0x03,
    // state 1 (ESTABLISHED), cport 40000
    0x00, 0x01, 0x9c, 0x40,
    // vport 80, dport 80
    0x00, 0x50, 0x00, 0x50,
    // fwmark 0
    0x00, 0x00, 0x00, 0x00,
    // timeout 900 s
    0x00, 0x00, 0x03, 0x84,
    // caddr 198.19.0.7, vaddr 198.18.0.100, daddr 198.18.0.11
    0xc6, 0x13, 0x00, 0x07,
    0xc6, 0x12, 0x00, 0x64,
    0xc6, 0x12, 0x00, 0x0b,
    // record: SEQ (4), 0, sequence 5
    0x04, 0x00, 0x00, 0x05,
];

fn one_entry() -> Vec<u8> {
    ONE_ENTRY.to_vec()
}

fn entries_of(bytes: &[u8]) -> (u8, u16, Vec<SyncEntry>) {
    match parse(bytes).unwrap() {
        Message::Entries {
            syncid,
            seq,
            entries,
        } => (syncid, seq.expect("a SEQ record"), entries.collect()),
        other => panic!("expected entries, got {other:?}"),
    }
}

#[test]
fn writes_the_fixed_bytes() {
    let mut buf = [0xffu8; DEFAULT_MAX_PAYLOAD];
    let mut writer = MessageWriter::new(&mut buf, 7, 5);
    assert!(writer.push(&established()));
    let len = writer.finish();
    assert_eq!(&buf[..len], &ONE_ENTRY[..]);
}

#[test]
fn parses_the_fixed_bytes() {
    assert_eq!(entries_of(&ONE_ENTRY), (7, 5, vec![established()]));
}

/// Syncid 7, sequence 0x1234: a NAT connection mapped to port 8080, not yet established
/// (SYN_RECV, inactive), 60 s.
#[rustfmt::skip]
const NAT_SYN_RECV: [u8; 48] = [
    0x00, 0x07, 0x00, 0x30,  0x01, 0x01, 0x00, 0x00,
    0x00, 0x06, 0x00, 0x24,
    // flags: inactive (0x0100) | masquerading (0)
    0x00, 0x00, 0x01, 0x00,
    // state 3 (SYN_RECV), cport 40000
    0x00, 0x03, 0x9c, 0x40,
    // vport 80, dport 8080
    0x00, 0x50, 0x1f, 0x90,
    0x00, 0x00, 0x00, 0x00,
    // timeout 60 s
    0x00, 0x00, 0x00, 0x3c,
    0xc6, 0x13, 0x00, 0x07,
    0xc6, 0x12, 0x00, 0x64,
    0xc6, 0x12, 0x00, 0x0b,
    0x04, 0x00, 0x12, 0x34,
];

#[test]
fn nat_inactive_with_port_mapping_fixed_bytes() {
    let entry = SyncEntry {
        forwarding: SyncForwarding::Nat,
        inactive: true,
        state: 3,
        server_port: 8080,
        timeout_s: 60,
        ..established()
    };
    let mut buf = [0u8; 64];
    let mut writer = MessageWriter::new(&mut buf, 7, 0x1234);
    assert!(writer.push(&entry));
    let len = writer.finish();
    assert_eq!(&buf[..len], &NAT_SYN_RECV[..]);
    assert_eq!(entries_of(&NAT_SYN_RECV), (7, 0x1234, vec![entry]));
}

#[test]
fn udp_persistence_template_flags() {
    let entry = SyncEntry {
        protocol: 17,
        template: true,
        state: 0,
        client_port: 0,
        timeout_s: 300,
        ..established()
    };
    let mut buf = [0u8; 64];
    let mut writer = MessageWriter::new(&mut buf, 1, 0xfffe);
    assert!(writer.push(&entry));
    let len = writer.finish();
    assert_eq!(&buf[12..16], &[0x00, 0x00, 0x10, 0x03], "template | droute");
    assert_eq!(buf[9], 17);
    assert_eq!(entries_of(&buf[..len]), (1, 0xfffe, vec![entry]));
}

#[test]
fn control_messages_fixed_bytes() {
    let mut buf = [0u8; 16];
    let len = write_control(&mut buf, 9, ControlKind::Ack, 0xbeef);
    assert_eq!(&buf[..len], &[0, 9, 0, 12, 0, 1, 0, 0, 2, 0, 0xbe, 0xef]);
    let m = parse(&buf[..len]).unwrap();
    assert!(matches!(
        m,
        Message::Control {
            syncid: 9,
            kind: ControlKind::Ack,
            value: 0xbeef
        }
    ));
    let bulk = [0, 9, 0, 12, 0, 1, 0, 0, 1, 0, 0, 0];
    let len = write_control(&mut buf, 9, ControlKind::BulkRequest, 0);
    assert_eq!(&buf[..len], &bulk);
    assert!(matches!(
        parse(&bulk).unwrap(),
        Message::Control {
            kind: ControlKind::BulkRequest,
            value: 0,
            ..
        }
    ));
    let done = [0, 9, 0, 12, 0, 1, 0, 0, 3, 0, 0x12, 0x34];
    let len = write_control(&mut buf, 9, ControlKind::BulkDone, 0x1234);
    assert_eq!(&buf[..len], &done);
    assert!(matches!(
        parse(&done).unwrap(),
        Message::Control {
            kind: ControlKind::BulkDone,
            value: 0x1234,
            ..
        }
    ));
}

#[test]
fn empty_message_is_entries_without_any() {
    let mut buf = [0u8; 12];
    let len = MessageWriter::new(&mut buf, 3, 4).finish();
    assert_eq!(&buf[..len], &[0, 3, 0, 12, 0, 1, 0, 0, 4, 0, 0, 4]);
    assert_eq!(entries_of(&buf), (3, 4, vec![]));
    // A kernel's empty message: no record, no sequence number.
    let kernel = [0, 3, 0, 8, 0, 1, 0, 0];
    assert!(matches!(
        parse(&kernel),
        Ok(Message::Entries {
            syncid: 3,
            seq: None,
            ..
        })
    ));
}

#[test]
fn full_mtu_batch_is_40_entries_in_1452_bytes() {
    assert_eq!(max_entries(DEFAULT_MAX_PAYLOAD), 40);
    let mut buf = [0u8; DEFAULT_MAX_PAYLOAD];
    let mut writer = MessageWriter::new(&mut buf, 1, 0);
    let mut pushed = Vec::new();
    for i in 0..40u16 {
        let entry = SyncEntry {
            client_port: 10_000 + i,
            ..established()
        };
        assert_eq!(writer.room(), 40 - usize::from(i));
        assert!(writer.push(&entry), "entry {i}");
        pushed.push(entry);
    }
    assert_eq!(writer.room(), 0);
    assert!(
        !writer.push(&established()),
        "a 41st entry would exceed 1472 bytes"
    );
    let len = writer.finish();
    assert_eq!(len, 8 + 40 * 36 + 4);
    assert_eq!(len, 1452);
    assert_eq!(entries_of(&buf[..len]).2, pushed);
}

#[test]
fn at_most_255_entries_even_with_room() {
    assert_eq!(max_entries(65_535), 255);
    let mut buf = vec![0u8; 65_535];
    let mut writer = MessageWriter::new(&mut buf, 1, 0);
    for _ in 0..255 {
        assert!(writer.push(&established()));
    }
    assert!(!writer.push(&established()));
    let len = writer.finish();
    assert_eq!(len, 8 + 255 * 36 + 4);
    assert_eq!(parse(&buf[..len]).map(|m| m.seq()), Ok(Some(0)));
    assert_eq!(entries_of(&buf[..len]).2.len(), 255);
}

#[test]
fn skips_options_and_padding() {
    // The fixed entry grown by a 6-byte option (length 42, padded to 44), a second entry, the
    // record.
    let entry = &ONE_ENTRY[8..44];
    let mut bytes = ONE_ENTRY[..8].to_vec();
    let mut first = entry.to_vec();
    first[3] = 42;
    first.extend_from_slice(&[0x42, 4, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0]);
    bytes.extend_from_slice(&first);
    bytes.extend_from_slice(entry);
    bytes.extend_from_slice(&ONE_ENTRY[44..]);
    bytes[4] = 2;
    set_size(&mut bytes);
    assert_eq!(entries_of(&bytes).2, vec![established(), established()]);
}

fn set_size(bytes: &mut [u8]) {
    let len = bytes.len() as u16;
    bytes[2..4].copy_from_slice(&len.to_be_bytes());
}

#[test]
fn malformed_header() {
    assert_eq!(parse(&[]).unwrap_err(), WireError::Truncated);
    assert_eq!(parse(&ONE_ENTRY[..7]).unwrap_err(), WireError::Truncated);
    let mut b = one_entry();
    b[0] = 1;
    assert_eq!(parse(&b).unwrap_err(), WireError::Reserved(1));
    let mut b = one_entry();
    b[5] = 2;
    assert_eq!(parse(&b).unwrap_err(), WireError::Version(2));
    // A sequence number in `spare` (tapvs's old layout): a kernel reads it as version 0.
    let mut b = one_entry();
    b[7] = 5;
    assert_eq!(parse(&b).unwrap_err(), WireError::Spare(5));
    let b = &ONE_ENTRY[..47];
    assert_eq!(
        parse(b).unwrap_err(),
        WireError::Size {
            declared: 48,
            actual: 47
        }
    );
    let mut b = one_entry();
    b.push(0);
    assert_eq!(
        parse(&b).unwrap_err(),
        WireError::Size {
            declared: 48,
            actual: 49
        }
    );
}

#[test]
fn malformed_entries() {
    // Two entries announced, one present (the record taken for the second one's start).
    let mut b = one_entry();
    b[4] = 2;
    assert_eq!(
        parse(&b).unwrap_err(),
        WireError::EntryTruncated { index: 1 }
    );
    // A fixed part cut short (size adjusted so the header is consistent).
    let mut b = ONE_ENTRY[..40].to_vec();
    set_size(&mut b);
    assert_eq!(
        parse(&b).unwrap_err(),
        WireError::EntryTruncated { index: 0 }
    );
    // A length (with padding) past the end.
    let mut b = one_entry();
    b[11] = 44;
    assert_eq!(
        parse(&b).unwrap_err(),
        WireError::EntryTruncated { index: 0 }
    );
    let mut b = one_entry();
    b[11] = 35;
    assert_eq!(
        parse(&b).unwrap_err(),
        WireError::EntryLength { index: 0, len: 35 }
    );
    let mut b = one_entry();
    b[10] = 0x10;
    assert_eq!(
        parse(&b).unwrap_err(),
        WireError::EntryVersion {
            index: 0,
            version: 1
        }
    );
    let mut b = one_entry();
    b[8] = 1; // IPv6
    assert_eq!(
        parse(&b).unwrap_err(),
        WireError::EntryType { index: 0, ty: 1 }
    );
    for method in [1u8, 2, 4, 7] {
        let mut b = one_entry();
        b[15] = method;
        assert_eq!(
            parse(&b).unwrap_err(),
            WireError::Forwarding { index: 0, method }
        );
    }
    // After the last entry: a record and more, or a cut record.
    let mut b = one_entry();
    b.extend_from_slice(&[0; 4]);
    set_size(&mut b);
    assert_eq!(parse(&b).unwrap_err(), WireError::Trailing(8));
    let mut b = ONE_ENTRY[..46].to_vec();
    set_size(&mut b);
    assert_eq!(parse(&b).unwrap_err(), WireError::Trailing(2));
}

#[test]
fn malformed_records() {
    let ok = [0u8, 1, 0, 12, 0, 1, 0, 0, 2, 0, 0, 1];
    assert!(parse(&ok).is_ok());
    let mut b = ok;
    b[8] = 5;
    assert_eq!(parse(&b).unwrap_err(), WireError::RecordKind(5));
    let mut b = ok;
    b[9] = 1;
    assert_eq!(parse(&b).unwrap_err(), WireError::RecordKind(2));
    let mut b = ok.to_vec();
    b.extend_from_slice(&[0; 4]);
    set_size(&mut b);
    assert_eq!(parse(&b).unwrap_err(), WireError::Trailing(8));
    let mut b = ok[..10].to_vec();
    set_size(&mut b);
    assert_eq!(parse(&b).unwrap_err(), WireError::Trailing(2));
    // A control record closing a message with entries.
    let mut b = one_entry();
    b[44] = 2;
    assert_eq!(
        parse(&b).unwrap_err(),
        WireError::ControlWithEntries { kind: 2, count: 1 }
    );
}

fn arb_entry() -> impl Strategy<Value = SyncEntry> {
    (
        any::<u8>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<u16>(),
        any::<[u32; 3]>(),
        any::<[u16; 3]>(),
        any::<u32>(),
    )
        .prop_map(
            |(protocol, template, dr, inactive, state, addrs, ports, timeout_s)| SyncEntry {
                protocol,
                template,
                forwarding: if dr {
                    SyncForwarding::DirectRouting
                } else {
                    SyncForwarding::Nat
                },
                inactive,
                state,
                client: Ipv4Addr::from(addrs[0]),
                client_port: ports[0],
                vip: Ipv4Addr::from(addrs[1]),
                vport: ports[1],
                server: Ipv4Addr::from(addrs[2]),
                server_port: ports[2],
                timeout_s,
            },
        )
}

proptest! {
    #[test]
    fn round_trip(
        syncid in any::<u8>(),
        seq in any::<u16>(),
        entries in proptest::collection::vec(arb_entry(), 0..60),
    ) {
        let mut buf = [0u8; DEFAULT_MAX_PAYLOAD];
        let mut writer = MessageWriter::new(&mut buf, syncid, seq);
        let taken: Vec<_> = entries.iter().take_while(|e| writer.push(e)).copied().collect();
        prop_assert_eq!(taken.len(), entries.len().min(40));
        let len = writer.finish();
        prop_assert_eq!(len, 8 + 36 * taken.len() + 4);
        prop_assert_eq!(entries_of(&buf[..len]), (syncid, seq, taken));
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(Message::Entries { entries, .. }) = parse(&bytes) {
            let announced = entries.len();
            prop_assert_eq!(entries.count(), announced);
        }
    }

    #[test]
    fn parse_never_panics_on_plausible_headers(
        count in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        // A valid header with the right size, so the entry checks get exercised.
        let mut bytes = vec![0, 1, 0, 0, count, 1, 0, 0];
        bytes.extend_from_slice(&body);
        set_size(&mut bytes);
        if let Ok(Message::Entries { entries, .. }) = parse(&bytes) {
            let announced = entries.len();
            prop_assert_eq!(entries.count(), announced);
        }
    }

    #[test]
    fn parse_never_panics_on_mutated_messages(
        flips in proptest::collection::vec((0usize..48, any::<u8>()), 1..6),
        cut in 0usize..=48,
    ) {
        let mut bytes = one_entry();
        for (at, xor) in flips {
            bytes[at] ^= xor;
        }
        bytes.truncate(cut);
        if let Ok(Message::Entries { entries, .. }) = parse(&bytes) {
            let announced = entries.len();
            prop_assert_eq!(entries.count(), announced);
        }
    }

    #[test]
    fn parse_never_panics_on_odd_entry_lengths(
        count in 0u8..5,
        lens in proptest::collection::vec(0u16..0x1000, 1..4),
        cut in 0usize..200,
    ) {
        // Real entries with arbitrary lengths (version 0), a count that may not match.
        let mut bytes = vec![0, 1, 0, 0, count, 1, 0, 0];
        for len in lens {
            let mut entry = ONE_ENTRY[8..44].to_vec();
            entry[2..4].copy_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(&entry);
        }
        bytes.truncate(HEADER_LEN + cut);
        set_size(&mut bytes);
        if let Ok(Message::Entries { entries, .. }) = parse(&bytes) {
            let announced = entries.len();
            prop_assert_eq!(entries.count(), announced);
        }
    }
}
