//! Port names as ipvsadm gets them from `getservbyname`/`getservbyport`: the lines of
//! /etc/services (`name port/proto aliases...`). Host names are not looked up: addresses are
//! always printed as numbers (in a lab, the resolver finds no name for them either).

use std::collections::HashMap;

/// A services table: (name or alias, protocol) → port, and (port, protocol) → first name.
#[derive(Debug, Clone, Default)]
pub struct PortNames {
    by_name: HashMap<(String, String), u16>,
    by_port: HashMap<(u16, String), String>,
}

impl PortNames {
    /// Reads /etc/services text; lines it cannot read are skipped, as the C library does.
    pub fn parse(text: &str) -> PortNames {
        let mut names = PortNames::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, proto)) = port_proto.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            names
                .by_port
                .entry((port, proto.to_string()))
                .or_insert_with(|| name.to_string());
            for n in std::iter::once(name).chain(words) {
                names
                    .by_name
                    .entry((n.to_string(), proto.to_string()))
                    .or_insert(port);
            }
        }
        names
    }

    /// The system's table (empty when /etc/services is missing: ports stay numbers).
    pub fn system() -> PortNames {
        PortNames::parse(&std::fs::read_to_string("/etc/services").unwrap_or_default())
    }

    /// A name's port for `proto` (`tcp`, `udp`).
    pub fn port(&self, name: &str, proto: &str) -> Option<u16> {
        self.by_name
            .get(&(name.to_string(), proto.to_string()))
            .copied()
    }

    /// A port's name for `proto`.
    pub fn name(&self, port: u16, proto: &str) -> Option<&str> {
        self.by_port
            .get(&(port, proto.to_string()))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_both_ways() {
        let n = PortNames::parse(
            "# comment\nhttp\t\t80/tcp\t\twww\t# WorldWideWeb\nhttp-alt 8080/tcp webcache\n\
             domain 53/tcp\ndomain 53/udp\nbroken x/tcp\n",
        );
        assert_eq!(n.port("http", "tcp"), Some(80));
        assert_eq!(n.port("www", "tcp"), Some(80));
        assert_eq!(n.port("http", "udp"), None);
        assert_eq!(n.name(8080, "tcp"), Some("http-alt"));
        assert_eq!(n.name(53, "udp"), Some("domain"));
        assert_eq!(n.name(81, "tcp"), None);
    }
}
