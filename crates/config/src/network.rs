//! Per-route transport settings (`[routes.X.network]`) and the curl-style `--resolve`
//! host pin grammar `HOST:PORT:ADDRESS`.

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

/// One curl-style host pin, `HOST:PORT:ADDRESS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResolveEntry {
    /// Host name as it appears in URLs (lowercased).
    pub host: String,
    /// Port, 1–65535.
    pub port: u16,
    /// The address to connect to.
    pub addr: IpAddr,
}

/// Completes "must be …" when a resolve entry is malformed.
pub(crate) const RESOLVE_EXPECTED: &str =
    "an array of \"HOST:PORT:ADDRESS\" strings (ADDRESS an IPv4 address or an IPv6 address in brackets, e.g. \"openrouter.ai:443:[::1]\")";

impl ResolveEntry {
    /// Parses `HOST:PORT:ADDRESS` (IPv6 addresses in brackets).
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
        let addr = match addr.strip_prefix('[') {
            Some(inner) => IpAddr::V6(inner.strip_suffix(']')?.parse::<Ipv6Addr>().ok()?),
            None => IpAddr::V4(addr.parse::<Ipv4Addr>().ok()?),
        };
        Some(ResolveEntry {
            host: host.to_ascii_lowercase(),
            port,
            addr,
        })
    }
}

impl fmt::Display for ResolveEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{}:{}:{a}", self.host, self.port),
            IpAddr::V6(a) => write!(f, "{}:{}:[{a}]", self.host, self.port),
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
