//! The frame buffers of the event loop: fixed-size buffers handed out by number and given
//! back, a pool that only grows (to the most frames ever in flight at once), so that after
//! warm-up a frame's trip allocates nothing. It must not import the fabric or the nodes.

/// A frame buffer's size: an Ethernet frame of 1500 bytes of payload fits with room to spare
/// (the director asks for at least 1536).
pub const FRAME_BUF: usize = 2048;

#[derive(Debug, Default)]
pub struct Pool {
    bufs: Vec<Box<[u8]>>,
    free: Vec<u32>,
}

impl Pool {
    /// A buffer to write into (its old bytes are left as they were).
    pub fn take(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            self.bufs.push(vec![0; FRAME_BUF].into_boxed_slice());
            (self.bufs.len() - 1) as u32
        })
    }

    /// Gives a buffer back.
    pub fn put(&mut self, buf: u32) {
        self.free.push(buf);
    }

    pub fn get(&self, buf: u32) -> &[u8] {
        &self.bufs[buf as usize]
    }

    pub fn get_mut(&mut self, buf: u32) -> &mut [u8] {
        &mut self.bufs[buf as usize]
    }

    /// A new buffer holding the first `len` bytes of `buf`.
    pub fn copy(&mut self, buf: u32, len: usize) -> u32 {
        let copy = self.take();
        let (a, b) = (buf as usize, copy as usize);
        let (src, dst) = if a < b {
            let (lo, hi) = self.bufs.split_at_mut(b);
            (&lo[a], &mut hi[0])
        } else {
            let (lo, hi) = self.bufs.split_at_mut(a);
            (&hi[0], &mut lo[b])
        };
        dst[..len].copy_from_slice(&src[..len]);
        copy
    }

    /// Buffers ever made.
    pub fn len(&self) -> usize {
        self.bufs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }
}
