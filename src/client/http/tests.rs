//! Unit tests of the load generator's response parser and chunked decoder.

use super::*;

fn head(s: &str) -> Result<Option<(Head, usize)>, ResponseError> {
    parse_head(s.as_bytes())
}

#[test]
fn content_length_response_with_server_name() {
    let raw = "HTTP/1.1 200 OK\r\nx-server:  rs7 \r\nContent-Length: 12\r\n\r\nbody";
    let (h, n) = head(raw).unwrap().unwrap();
    assert_eq!(h.status, 200);
    assert_eq!(h.framing, Framing::Length(12));
    assert!(h.keep_alive);
    assert_eq!(&raw[h.server.unwrap()], "rs7");
    assert_eq!(&raw[n..], "body");
}

#[test]
fn keep_alive_rules() {
    let close = head("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert!(!close.unwrap().unwrap().0.keep_alive);
    let old = head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        .unwrap()
        .unwrap()
        .0;
    assert!(!old.keep_alive && old.server.is_none());
    let old_ka = head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n");
    assert!(old_ka.unwrap().unwrap().0.keep_alive);
    // Without a length the body ends with the connection, which cannot be reused.
    let until_close = head("HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap().0;
    assert_eq!(until_close.framing, Framing::UntilClose);
    assert!(!until_close.keep_alive);
}

#[test]
fn framing_rules() {
    let framing = |s: &str| head(s).unwrap().unwrap().0.framing;
    assert_eq!(
        framing("HTTP/1.1 204 No Content\r\n\r\n"),
        Framing::Length(0)
    );
    assert_eq!(
        framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"),
        Framing::Length(0)
    );
    let chunked =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\nContent-Length: 3\r\n\r\n";
    assert_eq!(framing(chunked), Framing::Chunked);
    assert_eq!(
        framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
        Framing::UntilClose
    );
    assert_eq!(
        framing("HTTP/1.1 503 Busy\nContent-Length: 2\n\n"),
        Framing::Length(2)
    );
    assert_eq!(
        head("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap()
            .0
            .status,
        404
    );
}

#[test]
fn incomplete_and_bad_heads() {
    assert_eq!(head(""), Ok(None));
    assert_eq!(head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"), Ok(None));
    let cases = [
        ("HTTP/2 200 OK\r\n\r\n", ResponseError::StatusLine),
        ("HTTP/1.1 20 OK\r\n\r\n", ResponseError::StatusLine),
        ("HTTP/1.1 2000 OK\r\n\r\n", ResponseError::StatusLine),
        ("HTTP/1.1 099 OK\r\n\r\n", ResponseError::StatusLine),
        ("HTTP/1.1 abc OK\r\n\r\n", ResponseError::StatusLine),
        ("SSH-2.0-OpenSSH\r\n\r\n", ResponseError::StatusLine),
        ("HTTP/1.1 200 OK\r\nbroken\r\n\r\n", ResponseError::Header),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
            ResponseError::ContentLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            ResponseError::ContentLength,
        ),
    ];
    for (raw, want) in cases {
        assert_eq!(head(raw), Err(want), "{raw:?}");
    }
    let long = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
    assert_eq!(head(&long), Err(ResponseError::TooLong));
    let bytes = b"HTTP/1.1 200 \xff\xfe\r\nX-Server: \xc3\x28\r\n\r\n\0\n\r";
    for end in 0..bytes.len() {
        let _ = parse_head(&bytes[..end]);
    }
}

#[test]
fn chunked_body_in_pieces() {
    let body = b"5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    let end = body.len() - 4;
    for split in 0..body.len() {
        let mut dec = Chunked::default();
        let a = dec.feed(&body[..split]).unwrap();
        assert_eq!(
            a,
            split.min(end),
            "a decoder consumes all it is given, up to the end"
        );
        assert_eq!(dec.is_done(), split >= end);
        let b = dec.feed(&body[split..]).unwrap();
        assert!(dec.is_done());
        assert_eq!(&body[a + b..], b"NEXT");
    }
}

#[test]
fn bad_chunks_are_errors() {
    for bad in [
        "x\r\n",
        "\r\n",
        "5\r\nhelloX",
        "ffffffffffffffff0\r\n",
        "2\r\nab\r\r",
    ] {
        let mut dec = Chunked::default();
        assert_eq!(
            dec.feed(bad.as_bytes()),
            Err(ResponseError::Chunk),
            "{bad:?}"
        );
    }
}

#[test]
fn request_bytes() {
    let keep = request("/bytes/10", "198.18.0.100:80", false);
    assert_eq!(
        keep,
        b"GET /bytes/10 HTTP/1.1\r\nHost: 198.18.0.100:80\r\nUser-Agent: tapvs-client\r\n\r\n"
    );
    let close = String::from_utf8(request("/", "h", true)).unwrap();
    assert!(close.ends_with("\r\nConnection: close\r\n\r\n"));
}
