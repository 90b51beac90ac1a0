//! A client's settings as the command line that `tapvs client` reads back. The runner builds
//! typed [`Args`] from a scenario's load (it knows the scenario; the client does not) and starts
//! the load generator in the clients' namespace with [`Args::command_line`]. The defaults are
//! written once, in the `#[arg]`s of [`Args`]; [`Args::with_defaults`] reads them from there.

use super::Args;
use clap::{FromArgMatches, ValueEnum};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

impl Args {
    /// Parses `tapvs client`'s options (`words` without the program and subcommand names).
    pub fn parse_words<I, T>(words: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let command = <Self as clap::Args>::augment_args(clap::Command::new("client"));
        let matches = command.try_get_matches_from(
            std::iter::once(OsString::from("client")).chain(words.into_iter().map(Into::into)),
        )?;
        Self::from_arg_matches(&matches)
    }

    /// The options `tapvs client --target TARGET` runs with.
    pub fn with_defaults(target: SocketAddr) -> Self {
        Self::parse_words([format!("--target={target}")])
            .expect("the defaults of tapvs client parse (tested)")
    }

    /// The command line (`client --option=value...`) that `tapvs` parses back into these
    /// settings. Durations go to the millisecond, the finest unit `tapvs client` reads.
    pub fn command_line(&self) -> Vec<String> {
        let mut words = vec!["client".to_owned()];
        let mut opt = |name: &str, value: String| words.push(format!("--{name}={value}"));
        opt("target", self.target.to_string());
        opt("load", self.load.clone());
        opt("protocol", value_name(self.protocol));
        opt("mode", value_name(self.mode));
        opt("rate", self.rate.to_string());
        opt("concurrency", self.concurrency.to_string());
        opt("connection", value_name(self.connection));
        opt("requests-per-conn", self.requests_per_conn.to_string());
        opt("clients", self.clients.to_string());
        opt("client-base", self.client_base.to_string());
        opt("duration", ms(self.duration));
        opt("max-requests", self.max_requests.to_string());
        if let Some(path) = &self.path {
            opt("path", path.clone());
        }
        if let Some(n) = self.response_bytes {
            opt("response-bytes", n.to_string());
        }
        opt("timeout", ms(self.timeout));
        opt("interval", ms(self.interval));
        if let Some(out) = &self.out {
            opt("out", out.display().to_string());
        }
        if let Some(at) = self.start_at_unix_ms {
            opt("start-at-unix-ms", at.to_string());
        }
        opt("error-backoff", ms(self.error_backoff));
        opt("think", ms(self.think));
        if self.syn_flood {
            words.push("--syn-flood".to_owned());
        }
        words
    }
}

/// The name clap gives a value of an option's enum.
fn value_name<E: ValueEnum>(value: E) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::super::{ConnMode, Mode, Protocol};
    use super::*;

    /// Parses a command line made by `command_line` (without its subcommand name).
    fn round_trip(args: &Args) -> Args {
        let line = args.command_line();
        assert_eq!(line[0], "client");
        Args::parse_words(&line[1..]).unwrap()
    }

    #[test]
    fn defaults_are_clap_s() {
        let a = Args::with_defaults("198.18.0.100:80".parse().unwrap());
        assert_eq!(a.load, "load");
        assert_eq!(
            (a.mode, a.protocol, a.connection),
            (Mode::Closed, Protocol::Tcp, ConnMode::New)
        );
        assert_eq!(
            (a.concurrency, a.clients, a.max_requests),
            (64, 1, 10_000_000)
        );
        assert_eq!(a.duration, Duration::from_secs(10));
        assert_eq!(a.error_backoff, Duration::from_millis(10));
        assert_eq!(round_trip(&a), a);
    }

    #[test]
    fn every_setting_survives_the_command_line() {
        let mut a = Args::with_defaults("198.18.0.100:53".parse().unwrap());
        a.load = "-dash first".into();
        a.protocol = Protocol::Udp;
        a.mode = Mode::Open;
        a.rate = 1234.5;
        a.concurrency = 7;
        a.connection = ConnMode::Keepalive;
        a.requests_per_conn = 9;
        a.clients = 300;
        a.client_base = "198.19.4.0".parse().unwrap();
        a.duration = Duration::from_millis(2500);
        a.max_requests = 42;
        a.path = Some("/a=b".into());
        a.timeout = Duration::from_millis(750);
        a.interval = Duration::from_millis(100);
        a.out = Some("/tmp/x/load-web.json".into());
        a.start_at_unix_ms = Some(1_700_000_000_123);
        a.error_backoff = Duration::from_millis(3);
        a.think = Duration::from_secs(1);
        a.syn_flood = true;
        assert_eq!(round_trip(&a), a);
        a.path = None;
        a.response_bytes = Some(1400);
        a.syn_flood = false;
        assert_eq!(round_trip(&a), a);
    }
}
