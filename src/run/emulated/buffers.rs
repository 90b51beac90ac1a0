//! The socket buffers of the emulated clients' and real servers' connections, sized from what
//! the scenario sends: each load's requests, and every answer a real server gives them or the
//! directors' health checks, worked out by `tapvs server`'s own answer code. See
//! `emu::host::TcpBuffers` for why a size fitted this way changes nothing but memory.

use crate::emu::host::TcpBuffers;
use crate::scenario::Scenario;
use crate::server::{conn, http};

/// The requests of load `k`, as its simulated client writes them (with and without
/// `Connection: close`).
pub fn load_requests(scenario: &Scenario, k: usize) -> [Vec<u8>; 2] {
    let load = &scenario.loads[k];
    let args = crate::run::loads::client_args(scenario, k, load, std::path::Path::new("-"), 0);
    let (path, host) = (args.request_path(), args.target.ip().to_string());
    [true, false].map(|close| crate::client::http::request(&path, &host, close))
}

/// A directors' HTTP health check of `path`, with the longest `Host` it can carry.
fn check_request(path: &str) -> Vec<u8> {
    let farthest = std::net::SocketAddrV4::new(std::net::Ipv4Addr::BROADCAST, u16::MAX);
    crate::node::host::check::http_request(path, farthest)
}

/// Bytes of the answer (head and body) of real server `name` to `request`; a request that
/// does not parse gets a head of at most 200 bytes (400 or 505, no body).
fn answer_len(request: &[u8], name: &str) -> usize {
    let mut out = Vec::new();
    match http::parse_request(request) {
        Ok(Some((req, _))) => {
            let streamed = conn::answer(&req, name, &mut out).stream_body;
            out.len()
                .saturating_add(usize::try_from(streamed).unwrap_or(usize::MAX))
        }
        _ => 200,
    }
}

/// The largest answer any real server of `scenario` gives to any of `requests`.
fn largest_answer<'a>(scenario: &Scenario, requests: impl Iterator<Item = &'a [u8]>) -> usize {
    let requests: Vec<&[u8]> = requests.collect();
    (scenario.real_servers.iter())
        .flat_map(|rs| requests.iter().map(|r| answer_len(r, &rs.name)))
        .max()
        .unwrap_or(0)
}

/// Buffers of load `k`'s connections: its requests out, the largest answer in.
pub fn client_buffers(scenario: &Scenario, k: usize) -> TcpBuffers {
    let requests = load_requests(scenario, k);
    let largest_request = requests.iter().map(Vec::len).max().unwrap_or(0);
    let answer = largest_answer(scenario, requests.iter().map(Vec::as_slice));
    TcpBuffers::CLIENT.fitted(answer, largest_request)
}

/// Buffers of the real servers' connections: every load's requests and the health check in,
/// the largest answer to any of them out.
pub fn server_buffers(scenario: &Scenario) -> TcpBuffers {
    let mut requests: Vec<Vec<u8>> = (0..scenario.loads.len())
        .flat_map(|k| load_requests(scenario, k))
        .collect();
    if let Some(h) = &scenario.health {
        requests.push(check_request(&h.path));
    }
    let largest_request = requests.iter().map(Vec::len).max().unwrap_or(0);
    let answer = largest_answer(scenario, requests.iter().map(Vec::as_slice));
    TcpBuffers::SERVER.fitted(largest_request, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check of a path longer than the loads' (a 1-byte answer).
    const CHECK_PATH: &str = "/bytes/000000000000000000000000000001";

    fn scenario(response_bytes: u64) -> Scenario {
        let text = format!(
            "[service]\nscheduler = \"rr\"\nvip = \"198.18.0.100\"\nport = 80\n\
             [[real_server]]\nname = \"rs1\"\n[[real_server]]\nname = \"longname\"\n\
             [[load]]\nname = \"web\"\nmode = \"closed\"\nduration = \"1s\"\n\
             response_bytes = {response_bytes}\n\
             [health]\ncheck = \"http\"\npath = \"{CHECK_PATH}\"\n"
        );
        Scenario::parse(std::path::Path::new("t.toml"), &text).unwrap()
    }

    #[test]
    fn buffers_hold_the_largest_request_and_answer() {
        let s = scenario(100);
        let requests = load_requests(&s, 0);
        let request = requests[0].len();
        assert!(requests[0].ends_with(b"Connection: close\r\n\r\n"));
        // What rs `longname` sends for /bytes/100: the head, then 100 bytes.
        let mut head = Vec::new();
        http::write_head(&mut head, 200, "longname", 100, http::ConnHeader::Close);
        let answer = head.len() + 100;
        assert_eq!(
            client_buffers(&s, 0),
            TcpBuffers {
                rx: 2 * answer + 2,
                tx: request,
                read: 2 * answer + 2,
            }
        );
        let check = check_request(CHECK_PATH).len();
        assert!(check > request, "{check} {request}");
        assert_eq!(
            server_buffers(&s),
            TcpBuffers {
                rx: 2 * check + 2,
                tx: answer,
                read: 2 * check + 2,
            }
        );
    }

    #[test]
    fn large_answers_keep_the_old_sizes() {
        let s = scenario(100_000);
        assert_eq!(client_buffers(&s, 0).rx, TcpBuffers::CLIENT.rx);
        assert_eq!(server_buffers(&s).tx, TcpBuffers::SERVER.tx);
    }
}
