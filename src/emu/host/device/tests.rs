//! The transmit queue: segments joined into one GSO packet, every checksum whole as it leaves.

use super::TxQueue;
use crate::emu::gso::tests::segment_at;
use crate::emu::host::csum::verify;

/// A segment as smoltcp hands it over with checksum offload: the TCP checksum zero.
fn unsummed(seq: i32, payload: &[u8], last: bool) -> Vec<u8> {
    let mut f = segment_at(seq, payload, last);
    f[34 + 16..34 + 18].fill(0);
    f
}

#[test]
fn joined_segments_leave_as_one_packet_with_a_whole_checksum() {
    let mut q = TxQueue::default();
    q.push(unsummed(1000, &[1; 1448], false));
    q.push(unsummed(2448, &[2; 1448], false));
    q.push(unsummed(3896, &[3; 77], true));
    // An ended write: the next one starts a packet of its own.
    q.push(unsummed(3973, &[4; 10], true));
    assert_eq!(q.queue.len(), 2);
    assert_eq!(q.spare.len(), 2, "the joined segments' buffers are kept");
    let first = q.pop_front().expect("a packet");
    assert_eq!(
        first,
        segment_at(
            1000,
            &[[1; 1448], [2; 1448]]
                .concat()
                .iter()
                .copied()
                .chain([3; 77])
                .collect::<Vec<_>>(),
            true
        )
    );
    let second = q.pop_front().expect("a packet");
    assert!(verify(&first) && verify(&second));
    assert_eq!(second, segment_at(3973, &[4; 10], true));
    assert_eq!(q.pop_front(), None);
}
