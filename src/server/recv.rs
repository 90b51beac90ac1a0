//! A receive buffer for HTTP/1 connections, shared by `tapvs server` and the load generator.
//!
//! Bytes are read into one fixed buffer allocated once per connection (or per client worker) and
//! consumed from its front; leftovers (a pipelined request, the next response) stay buffered.

use tokio::io::{AsyncRead, AsyncReadExt};

/// A fixed-size buffer holding the received but not yet consumed bytes `data[start..end]`.
#[derive(Debug)]
pub struct RecvBuf {
    data: Box<[u8]>,
    start: usize,
    end: usize,
}

impl RecvBuf {
    pub fn new(capacity: usize) -> Self {
        Self {
            data: vec![0; capacity.max(1)].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// The received bytes not yet consumed.
    pub fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Drops the first `n` filled bytes (at most all of them).
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
    }

    /// Forgets everything buffered (a connection was replaced).
    pub fn clear(&mut self) {
        (self.start, self.end) = (0, 0);
    }

    /// Whether no room is left even after moving the filled bytes to the front.
    pub fn is_full(&self) -> bool {
        self.end - self.start == self.data.len()
    }

    /// Reads once from `src` behind the filled bytes; `Ok(0)` means end of stream (or a full
    /// buffer: check [`Self::is_full`] before calling).
    pub async fn fill<R: AsyncRead + Unpin>(&mut self, src: &mut R) -> std::io::Result<usize> {
        if self.end == self.data.len() && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        let n = src.read(&mut self.data[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Consumes `len` bytes, reading as needed; returns how many came from the socket or buffer
    /// before the stream ended (less than `len` only at end of stream).
    pub async fn skip<R: AsyncRead + Unpin>(
        &mut self,
        src: &mut R,
        len: u64,
    ) -> std::io::Result<u64> {
        let mut left = len;
        while left > 0 {
            if self.start == self.end && self.fill(src).await? == 0 {
                break;
            }
            let n = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(self.end - self.start);
            self.consume(n);
            left -= n as u64;
        }
        Ok(len - left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fill_consume_and_skip_keep_leftovers() {
        let mut src: &[u8] = b"hello world, next";
        let mut buf = RecvBuf::new(8);
        assert_eq!(buf.fill(&mut src).await.unwrap(), 8);
        assert_eq!(buf.filled(), b"hello wo");
        assert!(buf.is_full());
        buf.consume(6);
        assert_eq!(buf.fill(&mut src).await.unwrap(), 6);
        assert_eq!(buf.filled(), b"world, n");
        assert_eq!(buf.skip(&mut src, 7).await.unwrap(), 7);
        assert_eq!(buf.filled(), b"n");
        assert_eq!(buf.skip(&mut src, 100).await.unwrap(), 4);
        assert!(buf.filled().is_empty());
    }
}
