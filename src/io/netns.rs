//! Moving the calling thread into a named network namespace (`/run/netns/NAME`, as `ip netns`
//! makes them): a TAP or a socket belongs to the namespace of the thread that opens it, so a
//! short-lived thread enters, opens, and hands the descriptor back.

use std::os::fd::AsRawFd;

/// Moves the calling thread (only it) into network namespace `name`.
pub fn enter(name: &str) -> std::io::Result<()> {
    let path = std::path::Path::new("/run/netns").join(name);
    let ns = std::fs::File::open(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    // SAFETY: a valid namespace descriptor, open for the call; setns changes only this thread.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(std::io::Error::new(
            e.kind(),
            format!("entering {}: {e}", path.display()),
        ));
    }
    Ok(())
}

/// Runs `f` on a new thread inside namespace `name` and returns what it returns; a panic in
/// `f` is raised again here.
pub fn run_in<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    let name = name.to_owned();
    std::thread::spawn(move || enter(&name).map(|()| f()))
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
