//! Unit tests of the UDP wire format: round trips, then every way a datagram can be bad.

use super::*;

fn answer(seq: u64, bytes: u16, server: &str) -> Vec<u8> {
    let mut out = Vec::new();
    emit_answer(&Query { seq, bytes }, server, &mut out);
    out
}

#[test]
fn queries_round_trip() {
    for q in [
        Query { seq: 0, bytes: 0 },
        Query {
            seq: 42,
            bytes: 100,
        },
        Query {
            seq: u64::MAX,
            bytes: MAX_DATAGRAM as u16,
        },
    ] {
        let mut out = Vec::new();
        q.emit(&mut out);
        assert!(out.len() <= MAX_QUERY);
        assert_eq!(
            Query::parse(&out),
            Ok(q),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
    }
    assert_eq!(
        Query::parse(b"TAPVS-Q 7 1400\n"),
        Ok(Query {
            seq: 7,
            bytes: 1400
        })
    );
    // Leading zeros are still decimal numbers.
    assert_eq!(
        Query::parse(b"TAPVS-Q 007 0100\n"),
        Ok(Query { seq: 7, bytes: 100 })
    );
}

#[test]
fn bad_queries_are_errors() {
    let cases: &[(&[u8], QueryError)] = &[
        (b"", QueryError::Magic),
        (b"TAPVS-Q", QueryError::Magic),
        (b"tapvs-q 1 10\n", QueryError::Magic),
        (b"TAPVS-R 1 rs1\n", QueryError::Magic),
        (b"\x00\xff\x13garbage", QueryError::Magic),
        (b"TAPVS-Q ", QueryError::Seq),
        (b"TAPVS-Q 12", QueryError::Seq),
        (b"TAPVS-Q  1 10\n", QueryError::Seq),
        (b"TAPVS-Q -1 10\n", QueryError::Seq),
        (b"TAPVS-Q 1x 10\n", QueryError::Seq),
        (b"TAPVS-Q 18446744073709551616 10\n", QueryError::Seq),
        (b"TAPVS-Q 000000000000000000001 10\n", QueryError::Seq),
        (b"TAPVS-Q 1 ", QueryError::Bytes),
        (b"TAPVS-Q 1 10", QueryError::Bytes),
        (b"TAPVS-Q 1 10 \n", QueryError::Bytes),
        (b"TAPVS-Q 1 10\r\n", QueryError::Bytes),
        (b"TAPVS-Q 1 \n", QueryError::Bytes),
        (b"TAPVS-Q 1 1401\n", QueryError::TooLarge),
        (b"TAPVS-Q 1 65536\n", QueryError::TooLarge),
        (b"TAPVS-Q 1 9999999999\n", QueryError::TooLarge),
        (b"TAPVS-Q 1 99999999999999999999\n", QueryError::Bytes),
        (b"TAPVS-Q 1 10\n\n", QueryError::Framing),
        (b"TAPVS-Q 1 10\nTAPVS-Q 2 10\n", QueryError::Framing),
    ];
    for (raw, err) in cases {
        assert_eq!(
            Query::parse(raw),
            Err(*err),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
    // An oversized datagram (a request line followed by a kilobyte) is malformed.
    let mut big = b"TAPVS-Q 1 10\n".to_vec();
    big.extend_from_slice(&[b'x'; 1500]);
    assert_eq!(Query::parse(&big), Err(QueryError::Framing));
}

#[test]
fn answers_are_padded_and_parse_back() {
    let out = answer(9, 100, "rs1");
    assert_eq!(out.len(), 100);
    assert!(out.starts_with(b"TAPVS-R 9 rs1\nxxx"));
    let a = Answer::parse(&out).unwrap();
    assert_eq!(
        a,
        Answer {
            seq: 9,
            server: "rs1",
            header_len: 14,
            len: 100
        }
    );
    assert_eq!(a.expected_len(100), 100);
    // Fewer bytes wanted than the header needs: the header alone.
    let out = answer(u64::MAX, 0, "rs-long-name");
    assert_eq!(out, b"TAPVS-R 18446744073709551615 rs-long-name\n");
    let a = Answer::parse(&out).unwrap();
    assert_eq!(
        (a.seq, a.header_len, a.expected_len(5)),
        (u64::MAX, out.len(), out.len())
    );
    let out = answer(1, MAX_DATAGRAM as u16, &"n".repeat(MAX_NAME));
    assert_eq!(out.len(), MAX_DATAGRAM);
    assert_eq!(Answer::parse(&out).unwrap().server.len(), MAX_NAME);
}

#[test]
fn bad_answers_are_errors_with_their_seq_when_known() {
    let long = format!("TAPVS-R 3 {}\n", "n".repeat(MAX_NAME + 1));
    let cases: &[(&[u8], AnswerError)] = &[
        (b"", AnswerError::Magic),
        (b"TAPVS-Q 1 10\n", AnswerError::Magic),
        (b"HTTP/1.1 200 OK\r\n\r\n", AnswerError::Magic),
        (b"TAPVS-R ", AnswerError::Seq),
        (b"TAPVS-R 12", AnswerError::Seq),
        (b"TAPVS-R x rs1\n", AnswerError::Seq),
        (b"TAPVS-R 18446744073709551616 rs1\n", AnswerError::Seq),
        (b"TAPVS-R 3 ", AnswerError::Truncated { seq: 3 }),
        (b"TAPVS-R 3 rs", AnswerError::Truncated { seq: 3 }),
        (b"TAPVS-R 3 \n", AnswerError::Server { seq: 3 }),
        (b"TAPVS-R 3 rs 1\n", AnswerError::Server { seq: 3 }),
        (b"TAPVS-R 3 rs1\r\n", AnswerError::Server { seq: 3 }),
        (b"TAPVS-R 3 r\xc3\xa9\n", AnswerError::Server { seq: 3 }),
        (long.as_bytes(), AnswerError::Server { seq: 3 }),
    ];
    for (raw, err) in cases {
        assert_eq!(
            Answer::parse(raw),
            Err(*err),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
    assert_eq!(AnswerError::Seq.seq(), None);
    assert_eq!(AnswerError::Truncated { seq: 3 }.seq(), Some(3));
    assert_eq!(AnswerError::Server { seq: 4 }.seq(), Some(4));
}

#[test]
fn names_are_checked() {
    assert!(valid_name("rs1"));
    assert!(valid_name(&"n".repeat(MAX_NAME)));
    assert!(!valid_name(""));
    assert!(!valid_name("a b"));
    assert!(!valid_name(&"n".repeat(MAX_NAME + 1)));
}

#[test]
fn parsers_never_panic_on_prefixes_and_byte_flips() {
    // Every prefix and every single-byte corruption of a valid request and response.
    let mut query = Vec::new();
    Query {
        seq: 123_456,
        bytes: 1400,
    }
    .emit(&mut query);
    let answer = answer(123_456, 64, "rs1");
    for datagram in [query, answer] {
        for n in 0..=datagram.len() {
            let _ = Query::parse(&datagram[..n]);
            let _ = Answer::parse(&datagram[..n]);
        }
        for i in 0..datagram.len() {
            for b in [0, b' ', b'\n', b'9', 0xff] {
                let mut d = datagram.clone();
                d[i] = b;
                let _ = Query::parse(&d);
                let _ = Answer::parse(&d);
            }
        }
    }
}
