//! The pcap writer through a fake port, read back with the module's reader.

use super::*;
use std::collections::VecDeque;

/// A port that hands out queued frames and keeps what it is sent.
#[derive(Default)]
struct Fake {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
    /// `send` answers `Ok(false)` (a full queue) when set.
    refuse: bool,
}

impl Port for Fake {
    fn name(&self) -> &str {
        "fake"
    }
    fn recv(&mut self, _now: Instant, buf: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>> {
        Ok(self.rx.pop_front().map(|f| {
            buf[..f.len()].copy_from_slice(&f);
            (VnetHeader::NONE, f.len())
        }))
    }
    fn send(&mut self, _now: Instant, _header: &VnetHeader, frame: &[u8]) -> io::Result<bool> {
        if self.refuse {
            return Ok(false);
        }
        self.tx.push(frame.to_vec());
        Ok(true)
    }
    fn raw_fd(&self) -> Option<RawFd> {
        None
    }
}

/// A frame of `len` bytes whose bytes say which frame it is.
fn frame(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
}

fn at_ms(ms: i64) -> Instant {
    Instant::from_millis(ms)
}

/// A fresh directory for one test's files, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(test: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("tapvs-pcap-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

const BASE: std::time::Duration = std::time::Duration::from_micros(1_700_000_000_123_456);
const MB: u64 = 1_000_000;

#[test]
fn header_is_classic_pcap_little_endian_ethernet() {
    let d = dir("header");
    let path = d.join("p.pcap");
    drop(Pcap::create(Fake::default(), &path, MB, BASE).unwrap());
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        bytes,
        [
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0
        ]
    );
    let file = read(&bytes).unwrap();
    assert_eq!((file.snaplen, file.linktype), (SNAPLEN, LINKTYPE_ETHERNET));
    assert!(file.records.is_empty());
}

#[test]
fn both_directions_in_order_with_caller_time_and_lengths() {
    let d = dir("order");
    let path = d.join("p.pcap");
    let mut fake = Fake::default();
    fake.rx.push_back(frame(1, 60));
    fake.rx.push_back(frame(2, 1514));
    let mut port = Pcap::create(fake, &path, MB, BASE).unwrap();
    let mut buf = vec![0u8; 2048];
    assert!(port.recv(at_ms(5), &mut buf).unwrap().is_some());
    assert!(
        port.send(at_ms(7), &VnetHeader::NONE, &frame(3, 42))
            .unwrap()
    );
    assert!(port.recv(at_ms(2_500), &mut buf).unwrap().is_some());
    assert!(port.recv(at_ms(2_501), &mut buf).unwrap().is_none());
    // A GSO super-frame goes in whole, as it crossed.
    let big = frame(4, 65_535 + 14);
    assert!(port.send(at_ms(2_600), &VnetHeader::NONE, &big).unwrap());
    assert_eq!(port.inner().tx.len(), 2, "the frames were forwarded");
    let stats = port.stats();
    drop(port);
    assert_eq!(stats.frames, 4);
    assert_eq!(stats.bytes, 60 + 42 + 1514 + big.len() as u64);
    let bytes = std::fs::read(&path).unwrap();
    let records = read(&bytes).unwrap().records;
    let base = BASE.as_micros() as u64;
    // (µs after the base, bytes on the wire, bytes kept, first byte = the frame's tag)
    let seen: Vec<(i128, u32, usize, u8)> = records
        .iter()
        .map(|r| {
            (
                r.time_us as i128 - base as i128,
                r.wire_len,
                r.data.len(),
                r.data[0],
            )
        })
        .collect();
    let big_len = big.len() as u32;
    assert_eq!(
        seen,
        [
            (5_000, 60, 60, 1),
            (7_000, 42, 42, 3),
            (2_500_000, 1514, 1514, 2),
            (2_600_000, big_len, big.len(), 4),
        ]
    );
    assert!(records[2].data == frame(2, 1514) && records[3].data == big);
}

#[test]
fn refused_frames_are_not_written() {
    let d = dir("refused");
    let path = d.join("p.pcap");
    let fake = Fake {
        refuse: true,
        ..Fake::default()
    };
    let mut port = Pcap::create(fake, &path, MB, BASE).unwrap();
    assert!(
        !port
            .send(at_ms(1), &VnetHeader::NONE, &frame(1, 60))
            .unwrap()
    );
    drop(port);
    assert!(
        read(&std::fs::read(&path).unwrap())
            .unwrap()
            .records
            .is_empty()
    );
}

#[test]
fn batches_are_written_in_order() {
    let d = dir("batch");
    let path = d.join("p.pcap");
    let mut fake = Fake::default();
    for tag in 0..3 {
        fake.rx.push_back(frame(tag, 100 + tag as usize));
    }
    let mut port = Pcap::create(fake, &path, MB, BASE).unwrap();
    let (mut a, mut b, mut c, mut d) = ([0u8; 256], [0u8; 256], [0u8; 256], [0u8; 256]);
    let mut bufs: [&mut [u8]; 4] = [&mut a, &mut b, &mut c, &mut d];
    let mut got = [(VnetHeader::NONE, 0); 4];
    assert_eq!(port.recv_batch(at_ms(1), &mut bufs, &mut got).unwrap(), 3);
    drop(port);
    let bytes = std::fs::read(&path).unwrap();
    let lens: Vec<usize> = read(&bytes)
        .unwrap()
        .records
        .iter()
        .map(|r| r.data.len())
        .collect();
    assert_eq!(lens, [100, 101, 102]);
}

#[test]
fn buffered_records_reach_the_file_within_flush_after() {
    let d = dir("flush");
    let path = d.join("p.pcap");
    let mut port = Pcap::create(Fake::default(), &path, MB, BASE).unwrap();
    let on_disk = || read(&std::fs::read(&path).unwrap()).unwrap().records.len();
    assert_eq!(port.poll_at(), None);
    port.send(at_ms(10), &VnetHeader::NONE, &frame(1, 60))
        .unwrap();
    assert_eq!(on_disk(), 0, "buffered");
    assert_eq!(port.poll_at(), Some(at_ms(10) + FLUSH_AFTER));
    let mut buf = [0u8; 64];
    port.recv(at_ms(109), &mut buf).unwrap();
    assert_eq!(on_disk(), 0, "not due yet");
    port.poll(at_ms(110)).unwrap();
    assert_eq!(on_disk(), 1, "written when due");
    assert_eq!(port.poll_at(), None);
    port.send(at_ms(120), &VnetHeader::NONE, &frame(2, 60))
        .unwrap();
    port.recv(at_ms(220), &mut buf).unwrap();
    assert_eq!(on_disk(), 2, "a quiet recv writes it too");
}

#[test]
fn the_ring_keeps_the_newest_frames_in_two_files_under_the_limit() {
    let d = dir("ring");
    let path = d.join("p.pcap");
    let older = d.join("p.pcap.1");
    std::fs::write(&older, b"left over from an earlier run").unwrap();
    let limit = 20_000;
    let mut port = Pcap::create(Fake::default(), &path, limit, BASE).unwrap();
    assert!(!older.exists(), "an old ring file is removed at creation");
    let n = 100u32;
    for i in 0..n {
        let f = frame(i as u8, 500);
        port.send(at_ms(i.into()), &VnetHeader::NONE, &f).unwrap();
    }
    let stats = port.stats();
    drop(port);
    let (new, old) = (
        std::fs::read(&path).unwrap(),
        std::fs::read(&older).unwrap(),
    );
    assert!(new.len() as u64 <= limit / 2 && old.len() as u64 <= limit / 2);
    // 516 bytes a record, 24 a header: 19 records fit in 10,000 bytes.
    let per_file = (limit as usize / 2 - FILE_HEADER_LEN) / (RECORD_HEADER_LEN + 500);
    let (new, old) = (read(&new).unwrap().records, read(&old).unwrap().records);
    assert_eq!(old.len(), per_file);
    assert_eq!(new.len(), n as usize % per_file);
    assert_eq!(stats.rotations, u64::from(n) / per_file as u64);
    // The older file holds the frames just before the newer one's; the newest is last.
    let ms: Vec<u64> = old
        .iter()
        .chain(&new)
        .map(|r| (r.time_us - BASE.as_micros() as u64) / 1000)
        .collect();
    let first = u64::from(n) - ms.len() as u64;
    assert_eq!(ms, (first..u64::from(n)).collect::<Vec<_>>());
    assert_eq!(new.last().unwrap().data, &frame((n - 1) as u8, 500)[..]);
}

#[test]
fn an_io_error_stops_the_capture_not_the_forwarding() {
    let d = dir("error");
    let path = d.join("p.pcap");
    let mut port = Pcap::create(Fake::default(), &path, 4_000, BASE).unwrap();
    let f = frame(1, 1000);
    // 1,016 bytes a record, 2,000 a file: one record per file.
    for i in 0..2 {
        assert!(port.send(at_ms(i), &VnetHeader::NONE, &f).unwrap());
    }
    assert_eq!(port.stats().rotations, 1);
    // The next rotation cannot rename: the capture stops, the frames still cross.
    std::fs::remove_dir_all(&d.0).unwrap();
    for i in 2..10 {
        assert!(port.send(at_ms(i), &VnetHeader::NONE, &f).unwrap());
    }
    assert!(!port.capturing());
    assert_eq!(port.inner().tx.len(), 10);
    let stats = port.stats();
    assert_eq!((stats.errors, stats.frames), (1, 2));
}

#[test]
fn a_file_that_cannot_be_written_is_an_error_at_creation() {
    // Every write to /dev/full fails with ENOSPC; the header is written at once.
    let full = Path::new("/dev/full");
    if full.exists() {
        assert!(Pcap::create(Fake::default(), full, MB, BASE).is_err());
    }
    let missing = Path::new("/nonexistent-tapvs-dir/p.pcap");
    assert!(Pcap::create(Fake::default(), missing, MB, BASE).is_err());
}

#[test]
fn the_reader_rejects_malformed_files() {
    let d = dir("reader");
    let path = d.join("p.pcap");
    let mut port = Pcap::create(Fake::default(), &path, MB, BASE).unwrap();
    port.send(at_ms(1), &VnetHeader::NONE, &frame(1, 60))
        .unwrap();
    drop(port);
    let good = std::fs::read(&path).unwrap();
    assert_eq!(read(&good[..10]).unwrap_err(), PcapError::NoHeader(10));
    let cut = &good[..good.len() - 1];
    assert_eq!(
        read(cut).unwrap_err(),
        PcapError::Truncated {
            index: 0,
            offset: 24
        }
    );
    let mut bad = good.clone();
    bad[0] = 0;
    assert!(matches!(read(&bad), Err(PcapError::Magic(_))));
    let mut long = good.clone();
    long[24 + 8] = 61; // keeps 61 of 60 bytes
    assert!(matches!(
        read(&long),
        Err(PcapError::Length { kept: 61, .. })
    ));
    // The other byte order reads the same.
    let mut swapped = good.clone();
    for at in [0, 16, 20, 24, 28, 32, 36] {
        swapped[at..at + 4].reverse();
    }
    for at in [4, 6] {
        swapped[at..at + 2].reverse();
    }
    assert_eq!(
        read(&swapped).unwrap().records,
        read(&good).unwrap().records
    );
}
