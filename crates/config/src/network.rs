//! Per-route transport settings (`[routes.X.network]`) and the curl-style `--resolve`
//! host pin grammar `HOST:PORT:ADDRESS[:TARGET_PORT]`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use serde::{Serialize, Serializer};
use url::Url;

/// Transport settings of one route. Everything is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetworkConfig {
    /// Extra trusted CA certificates (PEM); a relative path in routes.toml is resolved
    /// against the routes file's directory, so this path is absolute or relative to the
    /// current directory exactly when the routes file path was.
    pub ca_file: Option<PathBuf>,
    /// Host pins: connections to `host:port` go to `addr` instead (TLS still checks `host`).
    pub resolve: Vec<ResolveEntry>,
    /// Proxy for this route's connections; otherwise `HTTPS_PROXY`/`NO_PROXY` apply.
    pub proxy: Option<Url>,
}

/// One curl-style host pin, `HOST:PORT:ADDRESS[:TARGET_PORT]`: connections for
/// `HOST:PORT` go to `ADDRESS` (at `TARGET_PORT` when given, else `PORT`), while TLS still
/// verifies `HOST` — e.g. `openrouter.ai:443:127.0.0.1:8443`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResolveEntry {
    /// Host name as it appears in URLs (lowercased).
    pub host: String,
    /// Port, 1–65535.
    pub port: u16,
    /// The address to connect to.
    pub addr: IpAddr,
    /// The port to connect to at `addr`, when it differs from `port`.
    pub target_port: Option<u16>,
}

/// Completes "must be …" when a resolve entry is malformed.
pub(crate) const RESOLVE_EXPECTED: &str =
    "an array of \"HOST:PORT:ADDRESS[:TARGET_PORT]\" strings (ADDRESS an IPv4 address or an IPv6 address in brackets, e.g. \"openrouter.ai:443:127.0.0.1:8443\" or \"openrouter.ai:443:[::1]\")";

impl ResolveEntry {
    /// Parses `HOST:PORT:ADDRESS[:TARGET_PORT]` (IPv6 addresses in brackets).
    pub fn parse(s: &str) -> Option<ResolveEntry> {
        let (host, rest) = s.split_once(':')?;
        let (port, addr) = rest.split_once(':')?;
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !host_ok {
            return None;
        }
        let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
        let (addr, target) = match addr.strip_prefix('[') {
            Some(inner) => {
                let (v6, after) = inner.split_once(']')?;
                let target = match after {
                    "" => None,
                    t => Some(t.strip_prefix(':')?),
                };
                (IpAddr::V6(v6.parse::<Ipv6Addr>().ok()?), target)
            }
            None => {
                let (v4, target) = match addr.split_once(':') {
                    Some((a, t)) => (a, Some(t)),
                    None => (addr, None),
                };
                (IpAddr::V4(v4.parse::<Ipv4Addr>().ok()?), target)
            }
        };
        let target_port = match target {
            Some(t) => Some(t.parse::<u16>().ok().filter(|p| *p > 0)?),
            None => None,
        };
        Some(ResolveEntry {
            host: host.to_ascii_lowercase(),
            port,
            addr,
            target_port,
        })
    }

    /// The socket address connections for this pin go to.
    pub fn socket_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.addr, self.target_port.unwrap_or(self.port))
    }
}

impl fmt::Display for ResolveEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{}:{}:{a}", self.host, self.port)?,
            IpAddr::V6(a) => write!(f, "{}:{}:[{a}]", self.host, self.port)?,
        }
        match self.target_port {
            Some(t) => write!(f, ":{t}"),
            None => Ok(()),
        }
    }
}

impl Serialize for ResolveEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ipv4_and_bracketed_ipv6() {
        let e = ResolveEntry::parse("OpenRouter.ai:443:127.0.0.1").unwrap();
        assert_eq!(e.host, "openrouter.ai");
        assert_eq!(e.port, 443);
        assert_eq!(e.addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(e.to_string(), "openrouter.ai:443:127.0.0.1");
        let e = ResolveEntry::parse("openrouter.ai:8443:[::1]").unwrap();
        assert_eq!(e.addr, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(e.to_string(), "openrouter.ai:8443:[::1]");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!("openrouter.ai:8443:[::1]")
        );
    }

    #[test]
    fn parses_a_target_port() {
        let e = ResolveEntry::parse("openrouter.ai:443:127.0.0.1:8443").unwrap();
        assert_eq!((e.port, e.target_port), (443, Some(8443)));
        assert_eq!(e.socket_addr().to_string(), "127.0.0.1:8443");
        assert_eq!(e.to_string(), "openrouter.ai:443:127.0.0.1:8443");
        let e = ResolveEntry::parse("openrouter.ai:443:[::1]:9000").unwrap();
        assert_eq!(e.socket_addr().to_string(), "[::1]:9000");
        assert_eq!(e.to_string(), "openrouter.ai:443:[::1]:9000");
        let e = ResolveEntry::parse("openrouter.ai:443:127.0.0.1").unwrap();
        assert_eq!(e.socket_addr().to_string(), "127.0.0.1:443");
        for bad in [
            "openrouter.ai:443:127.0.0.1:",
            "openrouter.ai:443:127.0.0.1:0",
            "openrouter.ai:443:127.0.0.1:x",
            "openrouter.ai:443:[::1]9000",
            "openrouter.ai:443:[::1]:",
        ] {
            assert!(ResolveEntry::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn rejects_malformed_entries() {
        for bad in [
            "",
            "openrouter.ai",
            "openrouter.ai:443",
            "openrouter.ai:443:",
            ":443:127.0.0.1",
            "openrouter.ai:0:127.0.0.1",
            "openrouter.ai:70000:127.0.0.1",
            "openrouter.ai:x:127.0.0.1",
            "openrouter.ai:443:::1",
            "openrouter.ai:443:[::1",
            "openrouter.ai:443:[127.0.0.1]",
            "openrouter.ai:443:localhost",
            "open router:443:127.0.0.1",
            "openrouter.ai:443:127.0.0.1,127.0.0.2",
        ] {
            assert!(ResolveEntry::parse(bad).is_none(), "{bad}");
        }
    }
}
