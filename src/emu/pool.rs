//! The frame buffers of the event loop: buffers of two fixed sizes (plain frames, and the
//! GSO super-frames of [`super::gso`]) handed out by number and given back, a pool that only
//! grows (to the most frames ever in flight at once), so that after warm-up a frame's trip
//! allocates nothing. It must not import the fabric or the nodes.

use super::gso::MAX_SUPER_FRAME;

/// A frame buffer's size: an Ethernet frame of 1500 bytes of payload fits with room to spare
/// (the director asks for at least 1536).
pub const FRAME_BUF: usize = 2048;

#[derive(Debug, Default)]
pub struct Pool {
    bufs: Vec<Box<[u8]>>,
    free: Vec<u32>,
    /// Free buffers of [`MAX_SUPER_FRAME`] bytes.
    free_super: Vec<u32>,
    /// A free buffer lent to a node that wrote nothing into it, kept for the next one to ask
    /// (most nodes asked have nothing to send: one take and put fewer per step).
    spare: Option<u32>,
}

impl Pool {
    /// A buffer of [`FRAME_BUF`] bytes to write into (its old bytes are left as they were).
    pub fn take(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| self.grow(FRAME_BUF))
    }

    /// A buffer of [`FRAME_BUF`] bytes to write into, the spare one if there is one.
    pub fn take_spare(&mut self) -> u32 {
        match self.spare.take() {
            Some(buf) => buf,
            None => self.take(),
        }
    }

    /// Gives back a buffer nothing was written into: it becomes the spare one (or, if it is a
    /// super-frame's, or a spare is kept already, goes back to the free list).
    pub fn keep_spare(&mut self, buf: u32) {
        if self.spare.is_none() && self.bufs[buf as usize].len() <= FRAME_BUF {
            self.spare = Some(buf);
        } else {
            self.put(buf);
        }
    }

    /// A buffer that holds `len` bytes: a plain one if it fits, else a super-frame's.
    pub fn take_for(&mut self, len: usize) -> u32 {
        if len <= FRAME_BUF {
            return self.take();
        }
        self.free_super
            .pop()
            .unwrap_or_else(|| self.grow(MAX_SUPER_FRAME))
    }

    fn grow(&mut self, size: usize) -> u32 {
        self.bufs.push(vec![0; size].into_boxed_slice());
        (self.bufs.len() - 1) as u32
    }

    /// Gives a buffer back.
    pub fn put(&mut self, buf: u32) {
        if self.bufs[buf as usize].len() > FRAME_BUF {
            self.free_super.push(buf);
        } else {
            self.free.push(buf);
        }
    }

    pub fn get(&self, buf: u32) -> &[u8] {
        &self.bufs[buf as usize]
    }

    pub fn get_mut(&mut self, buf: u32) -> &mut [u8] {
        &mut self.bufs[buf as usize]
    }

    /// A new buffer holding the first `len` bytes of `buf`.
    pub fn copy(&mut self, buf: u32, len: usize) -> u32 {
        let copy = self.take_for(len);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwritten_buffer_is_lent_again_and_a_super_frame_is_never_the_spare() {
        let mut pool = Pool::default();
        let a = pool.take_spare();
        pool.keep_spare(a);
        assert_eq!(pool.take_spare(), a);
        // While `a` is lent out, a plain take gives another buffer.
        assert_ne!(pool.take(), a);
        let big = pool.take_for(FRAME_BUF + 1);
        pool.keep_spare(big);
        assert_ne!(pool.take_spare(), big);
        assert_eq!(pool.take_for(FRAME_BUF + 1), big);
    }
}
