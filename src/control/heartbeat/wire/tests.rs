//! Golden messages: captured with tshark on a veth between two heartbeat 3.0.6 nodes (`hbA`,
//! `hbB`) in throwaway namespaces, `ucast`, `keepalive 200ms`, `deadtime 1`, authkeys
//! `auth 1` / `1 sha1 SECRET`, one resource group owned by hbA; after hbA was killed and
//! restarted (so the standby hand-over is in the capture). The files are the UDP payloads.

use super::*;

const KEY: &[u8] = b"SECRET";
const STATUS: &[u8] = include_bytes!("../golden/status.bin");
const RESOURCE: &[u8] = include_bytes!("../golden/resource.bin");
const ASK: &[u8] = include_bytes!("../golden/ask_resources.bin");
const ACK: &[u8] = include_bytes!("../golden/NS_ackmsg.bin");

fn auth() -> Auth {
    Auth::sha1(1, KEY)
}

#[test]
fn captured_messages_authenticate_and_parse() {
    let status = parse(STATUS, &auth()).unwrap();
    assert_eq!(status.text("t"), Some("status"));
    assert_eq!(status.text("st"), Some("active"));
    assert_eq!(status.text("src"), Some("hbb"));
    assert_eq!(status.hex("dt"), Some(1000));
    assert_eq!(status.hex("seq"), Some(0xa2));
    assert_eq!(status.get("srcuuid").map(<[u8]>::len), Some(16));
    assert!(status.get("auth").is_none());
    let resource = parse(RESOURCE, &auth()).unwrap();
    assert_eq!(resource.text("t"), Some("resource"));
    assert!(resource.text("rsc_hold").is_some());
    let ask = parse(ASK, &auth()).unwrap();
    assert_eq!(ask.text("t"), Some("ask_resources"));
    assert_eq!(ask.text("info"), Some("me"));
    let ack = parse(ACK, &auth()).unwrap();
    assert_eq!(ack.text("t"), Some("NS_ackmsg"));
    assert!(ack.hex("ackseq").is_some());
}

/// Writing the captured fields again gives heartbeat's bytes: both digests computed as it does.
#[test]
fn writing_captured_fields_again_gives_the_same_bytes() {
    for golden in [STATUS, RESOURCE, ASK, ACK] {
        let msg = parse(golden, &auth()).unwrap();
        let mut buf = [0u8; 1024];
        let mut w = Writer::new(&mut buf, &auth());
        for f in msg.fields() {
            let name = core::str::from_utf8(f.name).unwrap();
            if f.kind == BINARY {
                w.binary(name, f.value);
            } else {
                w.text(name, f.value);
            }
        }
        let n = w.finish().unwrap();
        assert_eq!(&buf[..n], golden);
    }
}

#[test]
fn another_key_or_a_changed_byte_is_refused() {
    assert_eq!(
        parse(STATUS, &Auth::sha1(1, b"OTHER")),
        Err(WireError::BadAuth)
    );
    assert_eq!(parse(STATUS, &Auth::sha1(2, KEY)), Err(WireError::BadAuth));
    // A value changed and the outer digest fixed up: the inner one still catches it.
    let mut forged = STATUS.to_vec();
    let at = forged.windows(9).position(|w| w == b"st=active").unwrap();
    forged[at + 3] = b'A';
    let end = forged.windows(4).position(|w| w == b"%%%\n").unwrap() + 4;
    let mut outer = auth().mac();
    outer.update(&forged[..end]);
    let mut hex = [0u8; DIGEST_HEX];
    hex_digest(outer, &mut hex);
    forged[end + 5..end + 45].copy_from_slice(&hex);
    assert_eq!(parse(&forged, &auth()), Err(WireError::BadAuth));
    // The outer digest alone.
    let mut flipped = STATUS.to_vec();
    let last = flipped.len() - 2;
    flipped[last] ^= 1;
    assert_eq!(parse(&flipped, &auth()), Err(WireError::BadAuth));
}

#[test]
fn malformed_datagrams_are_errors_not_panics() {
    for n in 0..STATUS.len() {
        assert!(parse(&STATUS[..n], &auth()).is_err(), "cut at {n}");
    }
    let cases: [&[u8]; 7] = [
        b"",
        b"###\n",
        b">>>\nt=status\n<<<\n",
        b"###\n99999999:(0)t=x,%%%\n",
        b"###\n5:(0)t=x,%%%\n",
        b"###\n5:(9)t=x,%%%\n2:1 ,",
        b"###\n3:(0)=,%%%\n",
    ];
    for case in cases {
        assert!(parse(case, &auth()).is_err(), "{case:?}");
    }
    let mut long = b"###\n".to_vec();
    for _ in 0..=MAX_FIELDS {
        long.extend_from_slice(b"8:(0)a=bcd,");
    }
    long.extend_from_slice(b"%%%\n");
    assert_eq!(parse(&long, &auth()), Err(WireError::TooManyFields));
}

#[test]
fn a_short_buffer_is_an_error() {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf, &auth());
    w.text("t", b"status").hex("seq", 1);
    assert_eq!(w.finish(), Err(WireError::Truncated));
}

#[test]
fn base64_pads_as_heartbeat_does() {
    let mut out = Vec::new();
    base64(b"\xee\r\nK\xa3", |c| out.extend_from_slice(c));
    assert_eq!(out, b"7g0KS6M=");
    out.clear();
    base64(b"\xee", |c| out.extend_from_slice(c));
    assert_eq!(out, b"7g==");
}
