//! A client reading responses in place in its socket ends every step as reading them through
//! its buffer did: the same outcome, request, leftover bytes, and socket (two identical
//! connections side by side, one read each way, the socket's small buffer wrapping often).

use super::peer::{Peer, run};
use super::{Log, SimServer, server};
use crate::emu::host::head_memo::HeadMemo;
use crate::emu::host::response::{Body, Progress, Request, progress, progress_copying};
use smoltcp::time::Instant;

/// One connection, its request in flight and its read buffer.
struct Side {
    peer: Peer,
    server: SimServer,
    log: Log,
    req: Request,
    buf: Vec<u8>,
    len: usize,
    name: String,
    memo: HeadMemo,
}

impl Side {
    fn new() -> Self {
        Self {
            peer: Peer::new(1024),
            server: server(true),
            log: Log::new(),
            req: request(),
            buf: vec![0; 4096],
            len: 0,
            name: String::new(),
            memo: HeadMemo::default(),
        }
    }
}

fn request() -> Request {
    Request {
        deadline: Instant::from_secs(100),
        close: false,
        sent: 0,
        established: false,
        reused: false,
        body: Body::Head,
        status: 0,
        keep_alive: false,
        response_bytes: 0,
    }
}

#[test]
fn reading_in_place_ends_each_step_as_reading_through_the_buffer() {
    let (mut a, mut b) = (Side::new(), Side::new());
    let sizes = [300, 1000, 1500, 700, 1900, 10, 1234, 2000, 555, 1448];
    let (mut ms, mut done) = (10, 0);
    let mut text = format!("GET /bytes/{} HTTP/1.1\r\nHost: x\r\n\r\n", sizes[0]);
    while done < sizes.len() && ms < 20_000 {
        run(&mut a.peer, &mut a.server, ms, &mut a.log);
        run(&mut b.peer, &mut b.server, ms, &mut b.log);
        ms += 10;
        let (sa, sb) = (&mut a, &mut b);
        let got = progress(
            &mut sa.req,
            sa.peer.sock(),
            text.as_bytes(),
            &mut sa.buf,
            &mut sa.len,
            &mut sa.name,
            &mut sa.memo,
        );
        let want = progress_copying(
            &mut sb.req,
            sb.peer.sock(),
            text.as_bytes(),
            &mut sb.buf,
            &mut sb.len,
            &mut sb.name,
            &mut sb.memo,
        );
        assert_eq!(got, want, "at {ms} ms");
        assert_eq!(format!("{:?}", a.req), format!("{:?}", b.req));
        assert_eq!((&a.buf[..a.len], &a.name), (&b.buf[..b.len], &b.name));
        assert_eq!(a.peer.sock().recv_queue(), b.peer.sock().recv_queue());
        if got == Progress::Done {
            assert_eq!(a.req.status, 200);
            done += 1;
            if let Some(n) = sizes.get(done) {
                text = format!("GET /bytes/{n} HTTP/1.1\r\nHost: x\r\n\r\n");
            }
            (a.req, b.req) = (request(), request());
        }
    }
    assert_eq!(done, sizes.len(), "every response read");
    assert_eq!(a.log, b.log, "the same frames on both wires");
}
