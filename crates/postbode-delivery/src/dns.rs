//! TXT look-ups with hickory's resolver: the challenge records of validated domains, and
//! the signing keys `postbode keys check` looks for. The nameservers are a setting
//! (`dns.nameservers`), the system's (`/etc/resolv.conf`) by default.

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use postbode_core::domain::{LookupError, TxtLookup};
use postbode_core::probe::BoxFuture;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// Each question is asked this often (a first try and retries) before giving up.
const TRIES: usize = 3;
const WAIT_PER_TRY: Duration = Duration::from_secs(2);
pub const DNS_PORT: u16 = 53;

/// The `[dns]` section of the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSettings {
    /// The nameservers to ask, as `ADDRESS:PORT`; empty asks the system's.
    pub nameservers: Vec<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
#[error("setting up the DNS resolver: {0}")]
pub struct ResolverError(#[from] NetError);

/// Reads TXT records from the configured nameservers, asking afresh each time (no
/// cache: someone who just published a record wants it found).
#[derive(Clone)]
pub struct DnsResolver {
    resolver: TokioResolver,
    /// The nameservers asked, for messages.
    asked: String,
}

impl DnsResolver {
    pub fn new(settings: &DnsSettings) -> Result<Self, ResolverError> {
        let system = || match TokioResolver::builder_tokio() {
            Ok(builder) => builder,
            Err(e) => {
                // The service still starts; each look-up then says no server answered.
                tracing::warn!(error = %e, "reading the system's DNS configuration; set dns.nameservers");
                let none = ResolverConfig::from_parts(None, Vec::new(), Vec::new());
                TokioResolver::builder_with_config(none, TokioRuntimeProvider::default())
            }
        };
        let mut builder = if settings.nameservers.is_empty() {
            system()
        } else {
            let mut config = ResolverConfig::from_parts(None, Vec::new(), Vec::new());
            for server in &settings.nameservers {
                let mut nameserver = NameServerConfig::udp_and_tcp(server.ip());
                for connection in &mut nameserver.connections {
                    connection.port = server.port();
                }
                config.add_name_server(nameserver);
            }
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.timeout = WAIT_PER_TRY;
        options.attempts = TRIES - 1;
        options.cache_size = 0;
        let asked = match settings.nameservers.as_slice() {
            [] => "the system's nameservers".to_owned(),
            servers => servers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        };
        Ok(Self {
            resolver: builder.build()?,
            asked,
        })
    }

    /// Every TXT record at `name` (a fully qualified name: no search domains are tried).
    pub async fn txt_records(&self, name: &str) -> Result<Vec<String>, LookupError> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.resolver.txt_lookup(fqdn.as_str()).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) if is_silence(&e) => Err(LookupError::NoAnswer(format!(
                "asked {}: {e}; {TRIES} questions of {} s each",
                self.asked,
                WAIT_PER_TRY.as_secs()
            ))),
            Err(e) => Err(LookupError::Failed(format!("asking {}: {e}", self.asked))),
        }
    }
}

/// Whether no nameserver answered at all (rather than answering with an error).
fn is_silence(error: &NetError) -> bool {
    matches!(error, NetError::Timeout | NetError::NoConnections | NetError::Io(_)) || error.is_connection_closed()
}

impl TxtLookup for DnsResolver {
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, LookupError>> {
        Box::pin(self.txt_records(name))
    }
}
