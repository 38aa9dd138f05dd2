//! The SSRF guard's address policy: which IP addresses a URL that came from a model may
//! reach. Only globally routable unicast addresses pass; loopback, private, link-local,
//! carrier-grade NAT, unspecified, multicast, documentation, benchmarking and reserved
//! ranges are refused, including IPv4 addresses embedded in IPv6 (mapped, compatible,
//! NAT64).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused, or `None` when it is a public unicast address.
pub fn refusal_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified (0.0.0.0/8) address",
        (127, _, _) => "a loopback address",
        (10, _, _) => "a private (10.0.0.0/8) address",
        (172, 16..=31, _) => "a private (172.16.0.0/12) address",
        (192, 168, _) => "a private (192.168.0.0/16) address",
        (169, 254, _) => "a link-local (169.254.0.0/16) address",
        (100, 64..=127, _) => "a carrier-grade NAT (100.64.0.0/10) address",
        (192, 0, 0) => "an IETF protocol (192.0.0.0/24) address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking (198.18.0.0/15) address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("an unspecified (::) address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    let seg = ip.segments();
    // IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d and NAT64 64:ff9b::a.b.c.d
    // reach the embedded IPv4 address.
    let embedded = matches!(
        seg,
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _]
    );
    if embedded {
        let v4 = Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        );
        return v4_reason(v4);
    }
    Some(match seg[0] {
        0xfc00..=0xfdff => "a unique-local (fc00::/7) address",
        0xfe80..=0xfebf => "a link-local (fe80::/10) address",
        0xfec0..=0xfeff => "a site-local (fec0::/10) address",
        0xff00..=0xffff => "a multicast address",
        0x2001 if seg[1] == 0x0db8 => "a documentation (2001:db8::/32) address",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        refusal_reason(s.parse().unwrap()).is_some()
    }

    #[test]
    fn private_and_special_v4_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "192.0.2.7",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn public_v4_passes() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.216.34",
        ] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn v6_special_ranges_and_embedded_v4() {
        for ip in [
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(refused(ip), "{ip}");
        }
        for ip in ["2606:4700:4700::1111", "::ffff:8.8.8.8", "2a00:1450::1"] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn reasons_name_the_range() {
        assert_eq!(
            refusal_reason("127.0.0.1".parse().unwrap()),
            Some("a loopback address")
        );
        assert!(refusal_reason("169.254.169.254".parse().unwrap())
            .unwrap()
            .contains("link-local"));
    }
}
