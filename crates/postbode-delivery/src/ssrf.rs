//! SSRF guard for outbound calls.
//!
//! Receivers are chosen by tenants, so a webhook URL must not become a way into the
//! operator's own network. Names are resolved once, here, and reqwest connects only
//! to the addresses this resolver hands back, so a second (rebinding) lookup never
//! happens. Literal IP hosts never reach a resolver, so the sender checks those with
//! [`is_forbidden`] itself.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// IPv4 ranges that are not a public internet host.
const FORBIDDEN_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network", unspecified
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // CGNAT
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, cloud metadata endpoints
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // TEST-NET-1
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // deprecated 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // TEST-NET-2
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // TEST-NET-3
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and 255.255.255.255 broadcast
];

/// IPv6 ranges refused outright. Forms that embed an IPv4 address are judged by the
/// embedded address instead (see [`embedded_v4`]).
const FORBIDDEN_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use NAT64
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),     // discard-only
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),     // unique-local
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),    // link-local
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),    // deprecated site-local
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),     // multicast
];

/// Whether an outbound call to `ip` must be refused (unless the operator allows
/// private targets).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => forbidden_v4(v4),
            None => FORBIDDEN_V6
                .iter()
                .any(|&(net, len)| in_prefix(u128::from(v6), u128::from(net), len, 128)),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    FORBIDDEN_V4
        .iter()
        .any(|&(net, len)| in_prefix(u128::from(u32::from(ip)), u128::from(u32::from(net)), len, 32))
}

fn in_prefix(addr: u128, net: u128, len: u8, width: u32) -> bool {
    let shift = width - u32::from(len);
    addr.checked_shr(shift) == net.checked_shr(shift)
}

/// The IPv4 address an IPv6 address stands for, when packets to it end up at that
/// IPv4 host (via translation or tunnelling), so that e.g. `::ffff:127.0.0.1` is
/// treated exactly like `127.0.0.1`.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    let embeds_low32 = [
        (Ipv6Addr::UNSPECIFIED, 96),                         // IPv4-compatible, incl. :: and ::1
        (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96),    // IPv4-mapped
        (Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96),    // IPv4-translated (SIIT)
        (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96), // NAT64
    ];
    if embeds_low32
        .iter()
        .any(|&(net, len)| in_prefix(bits, u128::from(net), len, 128))
    {
        return Some(low32);
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

/// A host that resolved only to forbidden addresses (or a forbidden literal IP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedAddress {
    pub host: String,
    pub addrs: Vec<IpAddr>,
}

impl fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refusing to connect to {}: not a public address (", self.host)?;
        for (i, addr) in self.addrs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{addr}")?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for BlockedAddress {}

/// Keeps the permitted addresses of a resolution; fails when none are left.
pub fn filter_addrs(host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, BlockedAddress> {
    let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs.into_iter().partition(|a| !is_forbidden(a.ip()));
    if allowed.is_empty() {
        return Err(BlockedAddress {
            host: host.to_owned(),
            addrs: refused.iter().map(SocketAddr::ip).collect(),
        });
    }
    if !refused.is_empty() {
        tracing::debug!(host, refused = ?refused, "dropped forbidden addresses of a mixed resolution");
    }
    Ok(allowed)
}

/// The resolver installed in the outbound client.
#[derive(Debug, Clone, Default)]
pub struct GuardedResolver {
    allow_private: bool,
    exempt_host: Option<String>,
}

impl GuardedResolver {
    pub fn new(allow_private: bool) -> Self {
        Self {
            allow_private,
            exempt_host: None,
        }
    }

    /// Exempts one host name from the check. With an egress proxy configured, the
    /// only name this resolver ever sees is the proxy's own, which typically sits on
    /// a private network; target names are then resolved by the proxy.
    pub fn exempting(mut self, host: impl Into<String>) -> Self {
        self.exempt_host = Some(host.into());
        self
    }

    fn checks(&self, host: &str) -> bool {
        !self.allow_private
            && !self
                .exempt_host
                .as_deref()
                .is_some_and(|exempt| exempt.eq_ignore_ascii_case(host))
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let check = self.checks(&host);
        Box::pin(async move {
            // Port 0: reqwest substitutes the URL's port.
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("{host} has no addresses")).into());
            }
            let addrs = if check { filter_addrs(&host, addrs)? } else { addrs };
            Ok::<Addrs, BoxError>(Box::new(addrs.into_iter()))
        })
    }
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
            assert_eq!(is_forbidden(ip), expected, "{text}");
        }
    }

    #[test]
    fn mixed_resolution_keeps_public_addresses() {
        let addrs = vec![
            SocketAddr::from(([127, 0, 0, 1], 0)),
            SocketAddr::from(([8, 8, 8, 8], 0)),
        ];
        assert_eq!(
            filter_addrs("example.test", addrs),
            Ok(vec![SocketAddr::from(([8, 8, 8, 8], 0))])
        );
    }

    #[test]
    fn all_forbidden_resolution_is_blocked() {
        let addrs = vec![
            SocketAddr::from(([10, 0, 0, 1], 0)),
            SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
        ];
        let err = filter_addrs("internal.test", addrs).unwrap_err();
        assert_eq!(err.host, "internal.test");
        assert_eq!(
            err.addrs,
            vec![IpAddr::from([10, 0, 0, 1]), IpAddr::V6(Ipv6Addr::LOCALHOST)]
        );
    }

    #[tokio::test]
    async fn resolver_blocks_localhost_unless_allowed() {
        let name = Name::from_str("localhost").unwrap();
        let err = match GuardedResolver::new(false).resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(err) => err,
        };
        let blocked = err.downcast_ref::<BlockedAddress>().expect("BlockedAddress");
        assert_eq!(blocked.host, "localhost");

        let name = Name::from_str("localhost").unwrap();
        let addrs: Vec<_> = GuardedResolver::new(true).resolve(name).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        assert!(!addrs.is_empty());
    }

    #[tokio::test]
    async fn resolver_exempts_the_proxy_host() {
        let name = Name::from_str("localhost").unwrap();
        let addrs: Vec<_> = GuardedResolver::new(false)
            .exempting("LOCALHOST")
            .resolve(name)
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
    }
}
