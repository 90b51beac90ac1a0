//! `tapvs server`: the built-in real server, HTTP/1.1 with keep-alive, one per real-server namespace.
//!
//! Routes: `GET /bytes/N` (N body bytes, N ≤ 64 MiB), `GET /` (names the server), `GET /health`
//! (`ok`); anything else is 404. Every response carries `X-Server: <name>`. Runs on a
//! current-thread runtime: several servers share a 2-core machine with the balancer, and the work
//! is I/O-bound. Uses tokio, never the lab or the data plane.
//!
//! Layout: [`http`] parses and answers heads (pure), [`recv`] is the receive buffer (also used by
//! the load generator), `conn` serves one connection.

mod conn;
pub mod http;
pub mod recv;

use anyhow::{Context, bail};
use conn::Shared;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

/// Options of `tapvs server`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Name given in the `X-Server` header of every response.
    #[arg(long)]
    pub name: String,
    /// Address to listen on; repeat the option or give a comma-separated list.
    #[arg(long, default_value = "0.0.0.0:80", value_delimiter = ',')]
    pub listen: Vec<SocketAddr>,
    /// Written once listening: the bound addresses, one per line.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Exit by itself after this many seconds (a safety net for orphans).
    #[arg(long, default_value_t = 3600)]
    pub max_seconds: u64,
    /// Accept TCP connections but never answer (to emulate a hung application).
    #[arg(long, hide = true)]
    pub hang_after_accept: bool,
}

/// What a server did before it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    pub requests: u64,
    pub connections: u64,
}

/// A bound server, ready to [`serve`](Server::serve).
#[derive(Debug)]
pub struct Server {
    listeners: Vec<TcpListener>,
    shared: Arc<Shared>,
    hang: bool,
}

impl Server {
    /// Binds every `--listen` address. Must be called inside a tokio runtime.
    pub fn bind(args: &Args) -> anyhow::Result<Self> {
        check_name(&args.name)?;
        if args.listen.is_empty() {
            bail!("--listen: no address given");
        }
        let listeners = args
            .listen
            .iter()
            .map(|&a| listen(a).with_context(|| format!("--listen {a}")))
            .collect::<anyhow::Result<_>>()?;
        let shared = Arc::new(Shared {
            name: args.name.clone(),
            ..Shared::default()
        });
        Ok(Self {
            listeners,
            shared,
            hang: args.hang_after_accept,
        })
    }

    /// The bound addresses (with the real port when 0 was asked for).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves until `stop` completes, then drops every connection.
    pub async fn serve<T>(self, stop: impl Future<Output = T>) -> (T, Served) {
        let (tx, rx) = watch::channel(false);
        for listener in self.listeners {
            tokio::spawn(accept_loop(
                listener,
                self.shared.clone(),
                self.hang,
                rx.clone(),
            ));
        }
        let why = stop.await;
        let _ = tx.send(true);
        let served = Served {
            requests: self.shared.requests.load(Ordering::Relaxed),
            connections: self.shared.connections.load(Ordering::Relaxed),
        };
        (why, served)
    }
}

/// Runs `tapvs server` until SIGTERM, SIGINT or `--max-seconds`.
pub fn run(args: Args) -> anyhow::Result<()> {
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let server = Server::bind(&args)?;
        let addrs = server.local_addrs();
        if let Some(path) = &args.ready_file {
            write_ready(path, &addrs)
                .with_context(|| format!("--ready-file {}", path.display()))?;
        }
        let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        println!(
            "tapvs server {}: listening on {} (pid {})",
            args.name,
            list.join(","),
            std::process::id()
        );
        let stop = stop_signal(Duration::from_secs(args.max_seconds))?;
        let (why, served) = server.serve(stop).await;
        println!(
            "tapvs server {}: exiting on {why}: {} requests on {} connections",
            args.name, served.requests, served.connections
        );
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

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    hang: bool,
    stop: watch::Receiver<bool>,
) {
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
                () = conn::serve(stream, &shared), if !hang => {}
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

/// Writes the ready file atomically (a temporary file renamed into place).
fn write_ready(path: &Path, addrs: &[SocketAddr]) -> std::io::Result<()> {
    let text: String = addrs.iter().map(|a| format!("{a}\n")).collect();
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
