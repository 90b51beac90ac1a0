//! Unit tests of the server's request parser and routing.

use super::*;

fn parse(s: &str) -> Result<Option<(Request<'_>, usize)>, ParseError> {
    parse_request(s.as_bytes())
}

#[test]
fn simple_get_keeps_alive_by_default() {
    let raw = "GET /bytes/10?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET /";
    let (req, n) = parse(raw).unwrap().unwrap();
    assert_eq!(req.method, Method::Get);
    assert_eq!(req.path, "/bytes/10");
    assert_eq!(req.minor, 1);
    assert!(req.keep_alive);
    assert_eq!(req.content_length, 0);
    assert_eq!(&raw[n..], "GET /");
}

#[test]
fn connection_header_and_version_decide_keep_alive() {
    let close = parse("GET / HTTP/1.1\r\nconnection: Keep-Alive, CLOSE\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(!close.0.keep_alive);
    let old = parse("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
    assert!(!old.0.keep_alive);
    let old_ka = parse("HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(old_ka.0.keep_alive);
    assert_eq!(old_ka.0.method, Method::Head);
}

#[test]
fn bare_lf_and_leading_blank_lines_are_accepted() {
    let raw = "\r\n\nGET /health HTTP/1.1\nHost: x\n\n";
    let (req, n) = parse(raw).unwrap().unwrap();
    assert_eq!(req.path, "/health");
    assert_eq!(n, raw.len());
}

#[test]
fn incomplete_head_asks_for_more() {
    assert_eq!(parse(""), Ok(None));
    assert_eq!(parse("GET / HTTP/1.1\r\nHost: a\r\n"), Ok(None));
}

#[test]
fn over_long_head_is_refused() {
    let raw = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(MAX_HEAD));
    assert_eq!(parse(&raw), Err(ParseError::TooLong));
    // A head just under the limit is fine.
    let raw = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD - 24));
    assert!(parse(&raw).unwrap().is_some());
}

#[test]
fn content_length_is_checked() {
    let (req, _) = parse("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(req.content_length, 5);
    let bad = ["x", "-1", "", "99999999999999999999"];
    for v in bad {
        let raw = format!("GET / HTTP/1.1\r\nContent-Length: {v}\r\n\r\n");
        assert_eq!(parse(&raw), Err(ParseError::ContentLength), "{v:?}");
    }
    let twice = "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
    assert_eq!(parse(twice), Err(ParseError::ContentLength));
    let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(parse(chunked), Err(ParseError::TransferEncoding));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let cases = [
        (
            "\x16\x03\x01\x02\x00\x01\x00\r\n\r\n",
            ParseError::RequestLine,
        ),
        ("GET\r\n\r\n", ParseError::RequestLine),
        ("GET  / HTTP/1.1\r\n\r\n", ParseError::RequestLine),
        ("GET / HTTP/1.1 x\r\n\r\n", ParseError::RequestLine),
        ("GET noslash HTTP/1.1\r\n\r\n", ParseError::RequestLine),
        ("GET / HTTP/2.0\r\n\r\n", ParseError::Version),
        ("GET / FTP/1.0\r\n\r\n", ParseError::RequestLine),
        ("GET / HTTP/1.1\r\nno colon\r\n\r\n", ParseError::Header),
        ("GET / HTTP/1.1\r\n: empty\r\n\r\n", ParseError::Header),
        (
            "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            ParseError::Header,
        ),
    ];
    for (raw, want) in cases {
        assert_eq!(parse(raw), Err(want), "{raw:?}");
    }
    let mut bytes = b"GET /\xff HTTP/1.1\r\n\r\n".to_vec();
    assert_eq!(parse_request(&bytes), Err(ParseError::RequestLine));
    // Every prefix of every byte string is an answer, never a panic.
    bytes.extend_from_slice(b"\0\r\r\n:\n\n");
    for end in 0..bytes.len() {
        let _ = parse_request(&bytes[..end]);
    }
}

#[test]
fn routes() {
    assert_eq!(route("/"), Route::Root);
    assert_eq!(route("/health"), Route::Health);
    assert_eq!(route("/bytes/0"), Route::Bytes(0));
    assert_eq!(route("/bytes/67108864"), Route::Bytes(MAX_BYTES));
    assert_eq!(route("/bytes/67108865"), Route::BadBytes);
    assert_eq!(route("/bytes/1k"), Route::BadBytes);
    assert_eq!(route("/bytes/"), Route::BadBytes);
    assert_eq!(route("/nope"), Route::NotFound);
}

#[test]
fn response_head_names_the_server() {
    let mut out = Vec::new();
    write_head(&mut out, 404, "rs1", 3, ConnHeader::Close);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
    assert!(text.contains("\r\nX-Server: rs1\r\n"));
    assert!(text.contains("\r\nContent-Length: 3\r\n"));
    assert!(text.ends_with("\r\nConnection: close\r\n\r\n"));
}
