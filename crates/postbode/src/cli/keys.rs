//! `postbode keys show | rotate | check`: the operator's view of the signing keys.

use anyhow::Context;
use reqwest::Method;
use serde_json::Value;
use std::fmt::Write;
use std::net::SocketAddr;

use postbode_delivery::dns::{DNS_PORT, DnsResolver, DnsSettings};

use super::{Api, OperatorArgs};

#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// List the published keys and the DNS TXT records to publish for them.
    Show {
        #[command(flatten)]
        api: OperatorArgs,
    },
    /// Start a rotation now: a new key per algorithm, signing after the pre-publication period.
    Rotate {
        #[command(flatten)]
        api: OperatorArgs,
    },
    /// Look the keys up in DNS and say which are published; fails while an active or
    /// next key is not.
    Check {
        /// The DNS server to ask: an IP address (port 53) or ADDRESS:PORT, e.g. 1.1.1.1
        /// [default: the first nameserver of /etc/resolv.conf].
        #[arg(long, value_name = "ADDRESS", value_parser = parse_resolver)]
        resolver: Option<SocketAddr>,
        #[command(flatten)]
        api: OperatorArgs,
    },
}

pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Show { api } => {
            let keys = Api::operator(api)?.call(Method::GET, "/v1/signing-keys", None).await?;
            warn_about_key_domain(&keys);
            print!("{}", show_text(&keys));
        }
        KeysCommand::Rotate { api } => {
            let keys = Api::operator(api)?
                .call(Method::POST, "/v1/signing-keys/rotate", None)
                .await?;
            warn_about_key_domain(&keys);
            print!("{}", show_text(&keys));
        }
        KeysCommand::Check { resolver, api } => {
            let keys = Api::operator(api)?.call(Method::GET, "/v1/signing-keys", None).await?;
            let resolver = DnsResolver::new(&DnsSettings {
                nameservers: resolver.into_iter().collect(),
            })?;
            let (text, all_live) = check(&keys, &resolver).await?;
            print!("{text}");
            if !all_live {
                anyhow::bail!("a key that signs or is about to sign is not published in DNS");
            }
        }
    }
    Ok(())
}

/// The server's warning that its key domain cannot be published, on standard error.
fn warn_about_key_domain(keys: &Value) {
    if let Some(warning) = keys["warning"].as_str() {
        eprintln!("warning: {warning}");
    }
}

fn field<'a>(key: &'a Value, name: &str) -> &'a str {
    key[name].as_str().unwrap_or("")
}

fn show_text(keys: &Value) -> String {
    let mut out = String::new();
    for key in keys["data"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{} {:<7} {:<7} signs {} → {}, published until {}",
            field(key, "selector"),
            field(key, "algorithm"),
            field(key, "state"),
            field(key, "activates_at"),
            field(key, "retires_at"),
            field(key, "expires_at"),
        );
        let _ = writeln!(
            out,
            "  {}. IN TXT {}",
            key["dns"]["name"].as_str().unwrap_or(""),
            key["dns"]["zone_text"].as_str().unwrap_or("")
        );
    }
    out
}

/// `--resolver`: an IP address (port 53) or an address with its port.
fn parse_resolver(text: &str) -> anyhow::Result<SocketAddr> {
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, DNS_PORT)))
        .map_err(|_| {
            anyhow::anyhow!(
                "{text:?} is not an IP address, nor one with a port (1.1.1.1, 1.1.1.1:53, [2606:4700::1111]:53)"
            )
        })
}

async fn check(keys: &Value, resolver: &DnsResolver) -> anyhow::Result<(String, bool)> {
    let mut out = String::new();
    let mut all_live = true;
    for key in keys["data"].as_array().into_iter().flatten() {
        let name = key["dns"]["name"].as_str().context("a key without a DNS name")?;
        let expected = key["dns"]["text"].as_str().unwrap_or("");
        let found = resolver.txt_records(name).await.map_err(|e| match e {
            postbode_core::domain::LookupError::NoAnswer(why) => anyhow::anyhow!(
                "no DNS server answers ({why}); name one that does with --resolver, e.g. --resolver 1.1.1.1"
            ),
            other => anyhow::Error::new(other).context(format!("looking up {name}")),
        })?;
        let verdict = if found.iter().any(|t| t == expected) {
            "published"
        } else if found.is_empty() {
            "MISSING"
        } else {
            "DIFFERENT"
        };
        let state = field(key, "state");
        if verdict != "published" && matches!(state, "active" | "next") {
            all_live = false;
        }
        let _ = writeln!(out, "{verdict:<9} {state:<7} {name}");
    }
    Ok((out, all_live))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolver_is_an_address_with_port_53_unless_given() {
        assert_eq!(parse_resolver("1.1.1.1").unwrap(), "1.1.1.1:53".parse().unwrap());
        assert_eq!(
            parse_resolver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(parse_resolver("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert!(parse_resolver("dns.example").is_err());
    }
}
