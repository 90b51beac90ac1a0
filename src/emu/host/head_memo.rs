//! The last response head a simulated client's worker parsed, kept with its bytes: a
//! keep-alive connection brings the same head again and again, and a buffer that starts with
//! those bytes parses to the same head (a head's end and fields depend on its own bytes
//! only), so the parse is skipped. Only whole heads are kept; anything else is parsed.

use crate::client::http::{self, Head, ResponseError};

/// One parsed head and its bytes.
#[derive(Debug, Default)]
pub struct HeadMemo {
    bytes: Vec<u8>,
    parsed: Option<(Head, usize)>,
}

impl HeadMemo {
    /// [`http::parse_head`] of `data`, from the memo when `data` starts with its head.
    pub fn parse(&mut self, data: &[u8]) -> Result<Option<(Head, usize)>, ResponseError> {
        if let Some(parsed) = &self.parsed
            && data.starts_with(&self.bytes)
        {
            return Ok(Some(parsed.clone()));
        }
        let parsed = http::parse_head(data);
        if let Ok(Some((head, n))) = &parsed {
            self.bytes.clear();
            self.bytes.extend_from_slice(&data[..*n]);
            self.parsed = Some((head.clone(), *n));
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every prefix and extension of a few heads (and garbage) parses as `parse_head` does,
    /// with the memo warm from each of the others.
    #[test]
    fn the_memo_answers_as_parse_head() {
        let heads: [&[u8]; 5] = [
            b"HTTP/1.1 200 OK\r\nX-Server: rs1\r\nContent-Length: 10\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX-Server: rs1\r\nContent-Length: 10\r\nConnection: close\r\n\r\n",
            b"HTTP/1.0 200 OK\nX-Server: rs2\n\nbody",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"HTTP/1.1 2x0 OK\r\n\r\n",
        ];
        let tails: [&[u8]; 3] = [b"", b"xxxxxxxxxx", b"HTTP/1.1 200 OK\r\n\r\n"];
        for warm in heads {
            for data in heads {
                for tail in tails {
                    let whole = [data, tail].concat();
                    for end in 0..=whole.len() {
                        let mut memo = HeadMemo::default();
                        let _ = memo.parse(warm);
                        let want = http::parse_head(&whole[..end]);
                        assert_eq!(memo.parse(&whole[..end]), want);
                        // And again, the memo now holding this one's head if it had one.
                        assert_eq!(memo.parse(&whole[..end]), want);
                    }
                }
            }
        }
    }
}
