//! The requests of a [`SimClient`]: each step ends the requests answered or timed out (only
//! the workers whose socket was polled or whose deadline came, from `host::deadlines`),
//! records them, and starts what is due; a request starts on a worker's TCP connection or
//! as a datagram from its source socket.

use super::{FIRST_PORT, PORT_COUNT, SimClient};
use crate::client::record::{ErrorKind, Outcome};
use crate::emu::host::exchange::{Done, failed};
use crate::emu::host::load::Pacing;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;

impl SimClient {
    /// Runs the workers, records what finished, and starts what is due.
    pub(super) fn step(&mut self, now: Instant) {
        if self.udp.is_some() {
            self.step_udp(now);
        } else {
            self.step_tcp(now);
        }
        while let Some(at) = self.next_arrival() {
            let at = match self.config.pacing {
                Pacing::Open { .. } => at,
                Pacing::Closed { .. } => now.max(at),
            };
            if at > now {
                break;
            }
            // The worker free the longest takes it: in `tapvs client` each free worker claims
            // the next arrival at once and waits for it, so arrivals go round the workers.
            let workers = &self.workers;
            let valid = |i: usize, t| workers[i].is_free() && workers[i].not_before == t;
            let Some(i) = self.idle.claim(now, valid) else {
                break;
            };
            self.claimed += 1;
            self.begin(i, now, at);
        }
    }
    /// UDP: ends the requests answered, then those whose time is up.
    fn step_udp(&mut self, now: Instant) {
        let Some(udp) = &mut self.udp else { return };
        udp.receive(&mut self.stack, &mut self.workers, &mut self.ended);
        let mut due = std::mem::take(&mut self.due);
        let workers = &self.workers;
        (self.deadlines).take_due(now, |i| workers[i].deadline(), &mut due);
        due.sort_unstable();
        due.dedup();
        udp.expire(now, &due, &mut self.workers, &mut self.ended);
        due.clear();
        self.due = due;
        let mut ended = std::mem::take(&mut self.ended);
        for (i, done) in ended.drain(..) {
            self.finish(i, now, done);
        }
        self.ended = ended;
    }

    /// TCP: steps each worker whose socket was polled or whose deadline came.
    fn step_tcp(&mut self, now: Instant) {
        // Worker i has connection i (both made in order): a worker whose socket was not
        // polled and whose deadline has not come cannot progress.
        let mut due = std::mem::take(&mut self.due);
        self.stack.take_woken(&mut due);
        let workers = &self.workers;
        (self.deadlines).take_due(now, |i| workers[i].deadline(), &mut due);
        due.sort_unstable();
        due.dedup();
        for &i in &due {
            let w = &mut self.workers[i];
            let Some(handle) = w.handle else { continue };
            let sock = self.stack.tcp(handle);
            let requests = (&self.requests.0[..], &self.requests.1[..]);
            let was_free = w.is_free();
            let done = w.step(now, sock, requests);
            if !was_free && w.is_free() {
                self.idle.file(i, w.not_before);
            }
            self.watch(i);
            if let Some(done) = done {
                self.finish(i, now, done);
            }
        }
        due.clear();
        self.due = due;
    }

    /// Starts request `at` on worker `i`, or records it as timed out if its time is up.
    fn begin(&mut self, i: usize, now: Instant, at: Instant) {
        let deadline = at + self.config.timeout;
        self.workers[i].at = at;
        if deadline <= now {
            return self.finish(i, now, failed(ErrorKind::Timeout, false));
        }
        if self.udp.is_some() {
            return self.send(i, now, deadline);
        }
        let w = &mut self.workers[i];
        let Some(handle) = w.handle else { return };
        let (cx, sock) = self.stack.tcp_cx(handle);
        let local = (!w.reusable(sock)).then(|| {
            // Round robin over the addresses; each address's ports in turn from the offset.
            let n = self.order.len().max(1) as u64;
            let addr = self.order.get((self.conns % n) as usize).copied();
            let port =
                FIRST_PORT + ((self.conns / n) as u32).wrapping_add(self.port_offset) % PORT_COUNT;
            self.conns += 1;
            // Below 61000, so the cast is exact.
            IpEndpoint::new(addr.unwrap_or(self.addrs.own).into(), port as u16)
        });
        let remote = IpEndpoint::new(self.config.target.0.into(), self.config.target.1);
        let limit = self.config.requests_per_conn;
        let started = w.start(cx, sock, remote, local, deadline, limit);
        // A reused connection sends its request now, not at the next frame or timeout.
        let requests = (&self.requests.0[..], &self.requests.1[..]);
        let done = started.err().or_else(|| w.step(now, sock, requests));
        self.watch(i);
        if let Some(done) = done {
            self.finish(i, now, done);
        }
    }

    /// Files worker `i`'s deadline, if it has one.
    fn watch(&mut self, i: usize) {
        self.deadlines.watch(i, self.workers[i].deadline());
    }

    /// The first worker deadline still standing.
    pub(super) fn first_deadline(&mut self) -> Option<Instant> {
        let workers = &self.workers;
        self.deadlines.first(|i| workers[i].deadline())
    }

    /// Records a finished request of worker `i` and sets when the worker may send again.
    fn finish(&mut self, i: usize, now: Instant, done: Done) {
        let (ok, failed) = &mut self.tally;
        *if done.error.is_none() { ok } else { failed } += 1;
        let w = &mut self.workers[i];
        let std = |d: Duration| std::time::Duration::from_micros(d.total_micros());
        let server = if w.server.is_empty() { "?" } else { &w.server };
        if let Some(recorder) = &mut self.recorder {
            recorder.record(&Outcome {
                at: std(w.at - self.config.start),
                latency: std(now - w.at),
                error: done.error,
                response_bytes: done.response_bytes,
                request_bytes: done.request_bytes,
                new_conn: done.new_conn,
                broken: done.broken,
                server,
            });
        }
        w.not_before = match self.config.pacing {
            Pacing::Closed { think, backoff } => {
                now + if done.error.is_some() { backoff } else { think }
            }
            // Open loop: when it became free (the order workers take arrivals in).
            Pacing::Open { .. } => now,
        };
        if w.is_free() {
            self.idle.file(i, w.not_before);
        }
    }

    /// UDP: sends worker `i`'s request; if its socket is full, lets the stack send first.
    fn send(&mut self, i: usize, now: Instant, deadline: Instant) {
        let Some(udp) = &mut self.udp else { return };
        let (stack, workers) = (&mut self.stack, &mut self.workers);
        let mut sent = udp.send(stack, workers, (i, deadline), false);
        if sent == Err(true) {
            self.stack.poll(now);
            let (stack, workers) = (&mut self.stack, &mut self.workers);
            sent = udp.send(stack, workers, (i, deadline), true);
        }
        match sent {
            Ok(()) => self.watch(i),
            Err(_) => self.finish(i, now, failed(ErrorKind::Other, false)),
        }
    }
}
