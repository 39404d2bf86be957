//! SSRF guard for outbound calls.
//!
//! Receivers are chosen by tenants, so a webhook URL must not become a way into the
//! operator's own network. Names are resolved once, here, and reqwest connects only
//! to the addresses this resolver hands back, so a second (rebinding) lookup never
//! happens. Literal IP hosts never reach a resolver, so the sender checks those with
//! [`is_non_public`] itself. Which addresses are not public is core's rule
//! ([`postbode_core::address`]), shared with the API's check of a webhook URL.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

use postbode_core::address::is_non_public;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
    let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.into_iter().partition(|a| !is_non_public(a.ip()));
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
    use std::net::Ipv6Addr;
    use std::str::FromStr;

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
