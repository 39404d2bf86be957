//! Which IP addresses are not a public internet host: the one rule behind the SSRF guard
//! of outbound calls and the check of a webhook URL's literal IP at creation.
//!
//! Receivers are chosen by tenants, so a webhook URL must not become a way into the
//! operator's own network (unless the operator allows private targets).

use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(first: u16, second: u16, third: u16, len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(first, second, third, 0, 0, 0, 0, 0), len)
}

/// IPv4 ranges that are not a public internet host.
const NON_PUBLIC_V4: &[Ipv4Net] = &[
    v4(0, 0, 0, 0, 8),       // "this network", unspecified
    v4(10, 0, 0, 0, 8),      // private
    v4(100, 64, 0, 0, 10),   // CGNAT
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local, cloud metadata endpoints
    v4(172, 16, 0, 0, 12),   // private
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4(192, 0, 2, 0, 24),    // TEST-NET-1
    v4(192, 88, 99, 0, 24),  // deprecated 6to4 relay anycast
    v4(192, 168, 0, 0, 16),  // private
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // TEST-NET-2
    v4(203, 0, 113, 0, 24),  // TEST-NET-3
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, and 255.255.255.255 broadcast
];

/// IPv6 ranges that are not a public internet host. Forms that embed an IPv4 address
/// are judged by the embedded address instead (see [`embedded_v4`]).
const NON_PUBLIC_V6: &[Ipv6Net] = &[
    v6(0x64, 0xff9b, 1, 48),  // local-use NAT64
    v6(0x100, 0, 0, 64),      // discard-only
    v6(0x2001, 0xdb8, 0, 32), // documentation
    v6(0xfc00, 0, 0, 7),      // unique-local
    v6(0xfe80, 0, 0, 10),     // link-local
    v6(0xfec0, 0, 0, 10),     // deprecated site-local
    v6(0xff00, 0, 0, 8),      // multicast
];

/// IPv6 prefixes whose low 32 bits are an IPv4 address that packets end up at.
const EMBEDS_LOW_32: &[Ipv6Net] = &[
    v6(0, 0, 0, 96),                                                     // IPv4-compatible, incl. :: and ::1
    Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96), // IPv4-mapped
    Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96), // IPv4-translated (SIIT)
    v6(0x64, 0xff9b, 0, 96),                                             // NAT64
];

/// Whether `ip` is not a public internet host (private, loopback, link-local, reserved,
/// multicast, documentation, or an IPv6 form of such an IPv4 address): an outbound
/// call to it is refused unless the operator allows private targets.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => non_public_v4(v4),
            None => NON_PUBLIC_V6.iter().any(|net| net.contains(&v6)),
        },
    }
}

fn non_public_v4(ip: Ipv4Addr) -> bool {
    NON_PUBLIC_V4.iter().any(|net| net.contains(&ip))
}

/// The IPv4 address an IPv6 address stands for, when packets to it end up at that
/// IPv4 host (via translation or tunnelling), so that e.g. `::ffff:127.0.0.1` is
/// treated exactly like `127.0.0.1`.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    if EMBEDS_LOW_32.iter().any(|net| net.contains(&ip)) {
        return Some(Ipv4Addr::from(bits as u32));
    }
    let [first, second, ..] = ip.segments();
    if first == 0x2002 {
        // 6to4: the IPv4 address of the tunnel endpoint follows the prefix.
        return Some(Ipv4Addr::from((bits >> 80) as u32));
    }
    if first == 0x2001 && second == 0 {
        // Teredo: the client's IPv4 address is stored inverted in the low bits.
        return Some(Ipv4Addr::from(!(bits as u32)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn address_verdicts() {
        let table: &[(&str, bool)] = &[
            // public
            ("8.8.8.8", false),
            ("1.1.1.1", false),
            ("93.184.216.34", false),
            ("100.63.255.255", false),
            ("100.128.0.0", false),
            ("172.15.255.255", false),
            ("172.32.0.0", false),
            ("192.0.1.1", false),
            ("198.17.255.255", false),
            ("198.20.0.0", false),
            ("223.255.255.255", false),
            ("2606:4700:4700::1111", false),
            ("2001:4860:4860::8888", false),
            ("::ffff:8.8.8.8", false),
            ("64:ff9b::808:808", false),
            ("2002:808:808::1", false),
            ("::8.8.8.8", false),
            // IPv4 special ranges
            ("0.0.0.0", true),
            ("0.1.2.3", true),
            ("10.0.0.1", true),
            ("10.255.255.255", true),
            ("100.64.0.1", true),
            ("100.127.255.255", true),
            ("127.0.0.1", true),
            ("127.255.255.254", true),
            ("169.254.169.254", true),
            ("172.16.0.1", true),
            ("172.31.255.255", true),
            ("192.0.0.8", true),
            ("192.0.2.1", true),
            ("192.168.1.1", true),
            ("198.18.0.1", true),
            ("198.19.255.255", true),
            ("198.51.100.7", true),
            ("203.0.113.9", true),
            ("224.0.0.1", true),
            ("239.255.255.255", true),
            ("240.0.0.1", true),
            ("255.255.255.255", true),
            // IPv6 special ranges
            ("::", true),
            ("::1", true),
            ("fe80::1", true),
            ("febf:ffff::1", true),
            ("fec0::1", true),
            ("fc00::1", true),
            ("fd12:3456:789a::1", true),
            ("ff02::1", true),
            ("ff0e::1", true),
            ("2001:db8::1", true),
            ("100::1", true),
            ("64:ff9b:1::1", true),
            // IPv4 embedded in IPv6
            ("::ffff:127.0.0.1", true),
            ("::ffff:10.1.2.3", true),
            ("::ffff:169.254.169.254", true),
            ("::127.0.0.1", true),
            ("::ffff:0:192.168.0.1", true),
            ("64:ff9b::7f00:1", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("2002:7f00:1::", true),
            ("2002:c0a8:101::1", true),
            ("2001:0:4136:e378::f7f7:f7f7", false), // Teredo, client 8.8.8.8
            ("2001:0:4136:e378::80ff:fffe", true),  // Teredo, client 127.0.0.1
        ];
        for &(text, expected) in table {
            let ip = IpAddr::from_str(text).expect(text);
            assert_eq!(is_non_public(ip), expected, "{text}");
        }
    }
}
