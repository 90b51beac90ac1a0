//! The last request a simulated server's slot answered, kept with its bytes and its answer:
//! a keep-alive connection brings the same request head again and again, and a buffer that
//! starts with those bytes parses to the same request (leading blank lines, the head's end
//! and its fields depend on its own bytes only), so neither the parse nor the head's writing
//! is done again. Only answered requests are kept; anything else is parsed.

/// One answered request: its bytes, the server's name, and what answering it did.
#[derive(Debug, Default)]
pub struct RequestMemo {
    head: Vec<u8>,
    name: String,
    answer: Vec<u8>,
    content_length: u64,
    stream_body: u64,
    close: bool,
    kept: bool,
}

/// What a request found in the memo comes to.
#[derive(Debug, PartialEq, Eq)]
pub struct Hit<'a> {
    /// Bytes of the buffer the request takes (leading blank lines and head).
    pub used: usize,
    /// Its body, to skip.
    pub content_length: u64,
    /// The answer's bytes written (its head), and the body bytes to stream after them.
    pub answer: &'a [u8],
    pub stream_body: u64,
    /// Whether to close after the answer.
    pub close: bool,
}

impl RequestMemo {
    /// The request at the start of `buf`, if it is the one kept, answered by `name`.
    pub fn hit(&self, buf: &[u8], name: &str) -> Option<Hit<'_>> {
        (self.kept && buf.starts_with(&self.head) && name == self.name).then_some(Hit {
            used: self.head.len(),
            content_length: self.content_length,
            answer: &self.answer,
            stream_body: self.stream_body,
            close: self.close,
        })
    }

    /// Keeps the request `head` (the bytes its parse took), `name`, and its answer.
    pub fn keep(&mut self, head: &[u8], name: &str, content_length: u64, answer: Hit<'_>) {
        self.head.clear();
        self.head.extend_from_slice(head);
        self.name.clear();
        self.name.push_str(name);
        self.answer.clear();
        self.answer.extend_from_slice(answer.answer);
        self.content_length = content_length;
        self.stream_body = answer.stream_body;
        self.close = answer.close;
        self.kept = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_request_is_found_at_the_start_of_a_buffer_only() {
        let mut memo = RequestMemo::default();
        assert_eq!(memo.hit(b"GET / HTTP/1.1\r\n\r\n", "rs1"), None);
        let answer = Hit {
            used: 0,
            content_length: 0,
            answer: b"HTTP/1.1 200 OK\r\n\r\n",
            stream_body: 7,
            close: true,
        };
        memo.keep(b"GET / HTTP/1.1\r\n\r\n", "rs1", 3, answer);
        let hit = memo
            .hit(b"GET / HTTP/1.1\r\n\r\nGET", "rs1")
            .map(|h| (h.used, h.answer));
        assert_eq!(hit, Some((18, &b"HTTP/1.1 200 OK\r\n\r\n"[..])));
        let hit = memo.hit(b"GET / HTTP/1.1\r\n\r\n", "rs1");
        assert_eq!(
            hit.map(|h| (h.content_length, h.stream_body, h.close)),
            Some((3, 7, true))
        );
        assert_eq!(memo.hit(b"GET / HTTP/1.1\r\n\r\n", "rs2"), None);
        assert_eq!(memo.hit(b"GET / HTTP/1.1\r\n", "rs1"), None);
        assert_eq!(memo.hit(b"\r\nGET / HTTP/1.1\r\n\r\n", "rs1"), None);
    }
}
