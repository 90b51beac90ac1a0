//! `tapvs server`: the built-in real server, one per real-server namespace: HTTP/1.1 with
//! keep-alive on TCP (`--listen`), a DNS-like request/response on UDP (`--udp-listen`), or both.
//!
//! HTTP routes: `GET /bytes/N` (N body bytes, N ≤ 64 MiB), `GET /` (names the server), `GET
//! /health` (`ok`); anything else is 404. Every response carries `X-Server: <name>`. UDP: one
//! answer datagram per well-formed request datagram, naming the server ([`datagram`]). Runs on a
//! current-thread runtime: several servers share a 2-core machine with the balancer, and the work
//! is I/O-bound. Uses tokio, never the lab or the data plane.
//!
//! Hanging (an application deadlock: the kernel still completes handshakes, nothing answers):
//! SIGUSR1 starts it, SIGUSR2 ends it, `--hang-after-accept` starts in it; one line on stdout per
//! signal. While hanging, every request read (HTTP on new or kept-alive connections, UDP
//! datagrams) is counted and never answered. A connection with an unanswered request stays hung
//! after SIGUSR2 until the client closes it: HTTP/1.1 answers in order, so none of its later
//! requests can be answered either. Requests arriving after SIGUSR2 on other connections, and
//! UDP requests, are answered again.
//!
//! Layout: [`http`] parses and answers heads (pure), [`recv`] is the receive buffer (also used by
//! the load generator), `conn` serves one connection; [`datagram`] is the UDP wire format (pure,
//! shared with the load generator), `udp` serves one UDP socket.

pub(crate) mod conn;
pub mod datagram;
pub mod http;
pub mod recv;
mod udp;

use crate::sockopt;
use anyhow::{Context, bail};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket, UdpSocket};
use tokio::sync::watch;

/// Options of `tapvs server`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Name given in the `X-Server` header of every response.
    #[arg(long)]
    pub name: String,
    /// TCP (HTTP) address to listen on; repeat the option or give a comma-separated list
    /// [default: 0.0.0.0:80, unless --udp-listen is given].
    #[arg(long, value_delimiter = ',')]
    pub listen: Vec<SocketAddr>,
    /// UDP address to answer requests on; repeat the option or give a comma-separated list.
    #[arg(long, value_delimiter = ',')]
    pub udp_listen: Vec<SocketAddr>,
    /// Written once every listener is bound: the bound addresses, one per line, TCP ones as
    /// `ADDR`, UDP ones as `udp ADDR`.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Exit by itself after this many seconds (a safety net for orphans).
    #[arg(long, default_value_t = 3600)]
    pub max_seconds: u64,
    /// Start hanging: accept TCP connections and read HTTP and UDP requests but never answer
    /// (to emulate a hung application). SIGUSR2 ends the hang (new requests are answered
    /// again), SIGUSR1 starts it again; without this option the server starts answering.
    #[arg(long, hide = true)]
    pub hang_after_accept: bool,
}

impl Args {
    /// The TCP addresses to listen on: `--listen`, or [`DEFAULT_LISTEN`] when neither
    /// `--listen` nor `--udp-listen` is given (a UDP-only server has no TCP listener).
    pub fn tcp_listen(&self) -> Vec<SocketAddr> {
        if self.listen.is_empty() && self.udp_listen.is_empty() {
            vec![DEFAULT_LISTEN]
        } else {
            self.listen.clone()
        }
    }
}

/// The TCP address served when neither `--listen` nor `--udp-listen` is given.
const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 80);

/// What a server did before it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    /// Requests answered: HTTP responses sent plus UDP answers sent.
    pub requests: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Of `requests`, the UDP ones.
    pub udp_requests: u64,
    /// UDP datagrams dropped as malformed requests (never answered).
    pub udp_malformed: u64,
    /// Well-formed UDP requests left unanswered: hung on purpose, or the answer could not be sent.
    pub udp_unanswered: u64,
    /// HTTP requests read but left unanswered: received while hanging, or behind such a request
    /// on the same connection.
    pub tcp_unanswered: u64,
}

/// What the connection and datagram tasks share.
#[derive(Debug, Default)]
struct Shared {
    name: String,
    requests: AtomicU64,
    connections: AtomicU64,
    udp_requests: AtomicU64,
    udp_malformed: AtomicU64,
    udp_unanswered: AtomicU64,
    tcp_unanswered: AtomicU64,
    /// Whether requests go unanswered (SIGUSR1/SIGUSR2, `--hang-after-accept`).
    hang: AtomicBool,
}

impl Shared {
    /// Whether a request read now must go unanswered.
    fn hanging(&self) -> bool {
        // A lone flag guarding no other data: no ordering needed.
        self.hang.load(Ordering::Relaxed)
    }
}

/// Starts (`on`) or stops hanging; returns what happened, for the log line. The SIGUSR1/SIGUSR2
/// handler calls this.
fn switch_hang(shared: &Shared, on: bool) -> &'static str {
    let was = shared.hang.swap(on, Ordering::Relaxed);
    match (was, on) {
        (false, true) => "hanging",
        (true, true) => "already hanging",
        (true, false) => "answering again",
        (false, false) => "already answering",
    }
}

/// A bound server, ready to [`serve`](Server::serve).
#[derive(Debug)]
pub struct Server {
    listeners: Vec<TcpListener>,
    udp: Vec<UdpSocket>,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds every `--listen` and `--udp-listen` address (`0.0.0.0:80` TCP when neither is
    /// given). Must be called inside a tokio runtime.
    pub fn bind(args: &Args) -> anyhow::Result<Self> {
        check_name(&args.name)?;
        if !args.udp_listen.is_empty() && !datagram::valid_name(&args.name) {
            bail!(
                "--name {:?}: at most {} characters with --udp-listen (it goes into every answer)",
                args.name,
                datagram::MAX_NAME
            );
        }
        let listeners = args
            .tcp_listen()
            .into_iter()
            .map(|a| listen(a).with_context(|| format!("--listen {a}")))
            .collect::<anyhow::Result<_>>()?;
        let udp = args
            .udp_listen
            .iter()
            .map(|&a| bind_udp(a).with_context(|| format!("--udp-listen {a}")))
            .collect::<anyhow::Result<_>>()?;
        let shared = Arc::new(Shared {
            name: args.name.clone(),
            hang: AtomicBool::new(args.hang_after_accept),
            ..Shared::default()
        });
        Ok(Self {
            listeners,
            udp,
            shared,
        })
    }

    /// The bound TCP addresses (with the real port when 0 was asked for).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The bound UDP addresses (with the real port when 0 was asked for).
    pub fn udp_local_addrs(&self) -> Vec<SocketAddr> {
        self.udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }

    /// Serves until `stop` completes, then drops every connection and UDP socket.
    pub async fn serve<T>(self, stop: impl Future<Output = T>) -> (T, Served) {
        let (tx, rx) = watch::channel(false);
        for listener in self.listeners {
            tokio::spawn(accept_loop(listener, self.shared.clone(), rx.clone()));
        }
        for socket in self.udp {
            let (shared, mut stop) = (self.shared.clone(), rx.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = until_stopped(&mut stop) => {}
                    () = udp::serve(socket, &shared) => {}
                }
            });
        }
        let why = stop.await;
        let _ = tx.send(true);
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let s = &self.shared;
        let served = Served {
            requests: count(&s.requests),
            connections: count(&s.connections),
            udp_requests: count(&s.udp_requests),
            udp_malformed: count(&s.udp_malformed),
            udp_unanswered: count(&s.udp_unanswered),
            tcp_unanswered: count(&s.tcp_unanswered),
        };
        (why, served)
    }
}

/// Runs `tapvs server` until SIGTERM, SIGINT or `--max-seconds`; SIGUSR1 and SIGUSR2 start and
/// end hanging.
pub fn run(args: Args) -> anyhow::Result<()> {
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let server = Server::bind(&args)?;
        let (addrs, udp_addrs) = (server.local_addrs(), server.udp_local_addrs());
        // Handlers first: once the ready file exists, a signal must not kill the server.
        let stop = stop_signal(Duration::from_secs(args.max_seconds))?;
        tokio::spawn(hang_signals(server.shared.clone())?);
        if let Some(path) = &args.ready_file {
            write_ready(path, &addrs, &udp_addrs)
                .with_context(|| format!("--ready-file {}", path.display()))?;
        }
        let list: Vec<String> = addrs
            .iter()
            .map(ToString::to_string)
            .chain(udp_addrs.iter().map(|a| format!("udp {a}")))
            .collect();
        println!(
            "tapvs server {}: listening on {} (pid {})",
            args.name,
            list.join(","),
            std::process::id()
        );
        let (why, served) = server.serve(stop).await;
        println!("tapvs server {}: exiting on {why}: {}", args.name, served);
        Ok(())
    })
}

/// Raises the soft limit on open files to the hard one, for thousands of connections (also
/// used by the load generator). Best effort.
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: both calls get a valid pointer to an initialised rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

impl std::fmt::Display for Served {
    /// `N requests on C connections`, then the UDP counts and the unanswered HTTP requests when
    /// there are any.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests on {} connections",
            self.requests, self.connections
        )?;
        if self.udp_requests + self.udp_malformed + self.udp_unanswered > 0 {
            write!(
                f,
                " ({} of them UDP datagrams; {} malformed and {} unanswered UDP requests dropped)",
                self.udp_requests, self.udp_malformed, self.udp_unanswered
            )?;
        }
        if self.tcp_unanswered > 0 {
            write!(f, "; {} HTTP requests left unanswered", self.tcp_unanswered)?;
        }
        Ok(())
    }
}

/// A UDP socket for `--udp-listen`.
fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    grow_recv_buffer(&socket);
    UdpSocket::from_std(socket)
}

/// Receive buffer asked for UDP sockets (also by the load generator's).
const UDP_RECV_BUFFER: libc::c_int = 4 << 20;

/// Asks for a large receive buffer on a UDP socket: the kernel charges each queued datagram
/// its whole buffer, several times a small datagram's length, and with the default buffer a
/// loopback load of 40 000 requests/s already lost a few (`RcvbufErrors`). Best effort: capped
/// by `net.core.rmem_max`.
pub fn grow_recv_buffer(socket: &impl std::os::fd::AsRawFd) {
    let _ = sockopt::set_int(socket, libc::SOL_SOCKET, libc::SO_RCVBUF, UDP_RECV_BUFFER);
}

/// A listening socket with a backlog fit for thousands of new connections per second.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut stopped = stop.clone();
    loop {
        let stream = tokio::select! {
            () = until_stopped(&mut stopped) => return,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or similar: back off instead of spinning.
                    eprintln!("tapvs server {}: accept: {e}", shared.name);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let (shared, mut stop) = (shared.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = until_stopped(&mut stop) => {}
                () = conn::serve(stream, &shared) => {}
            }
        });
    }
}

async fn until_stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: stop as well.
    let _ = stop.wait_for(|&s| s).await;
}

/// Resolves with the reason to stop: a signal or the end of the safety period.
fn stop_signal(max: Duration) -> std::io::Result<impl Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            () = tokio::time::sleep(max) => "--max-seconds",
        }
    })
}

/// Starts hanging at SIGUSR1 and stops at SIGUSR2, printing one line per signal. The handlers
/// are installed when this is called (an unhandled SIGUSR1 would kill the process). The order of
/// two signals sent within the same instant is lost (the kernel keeps one pending flag per
/// signal): both pending are handled SIGUSR1 first, so the server then answers. A scenario waits
/// for the printed line before sending the next signal.
fn hang_signals(shared: Arc<Shared>) -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    Ok(async move {
        loop {
            let (on, why) = tokio::select! {
                biased;
                Some(()) = usr1.recv() => (true, "SIGUSR1"),
                Some(()) = usr2.recv() => (false, "SIGUSR2"),
                else => return,
            };
            let what = switch_hang(&shared, on);
            println!("tapvs server {}: {what} ({why})", shared.name);
        }
    })
}

/// Writes the ready file atomically (a temporary file renamed into place): TCP addresses as
/// `ADDR`, then UDP ones as `udp ADDR`, one per line.
fn write_ready(path: &Path, tcp: &[SocketAddr], udp: &[SocketAddr]) -> std::io::Result<()> {
    let text: String = tcp
        .iter()
        .map(|a| format!("{a}\n"))
        .chain(udp.iter().map(|a| format!("udp {a}\n")))
        .collect();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// The name goes into a header: visible ASCII only.
fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        bail!(
            "--name {name:?}: must be non-empty visible ASCII (it goes into the X-Server header)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
