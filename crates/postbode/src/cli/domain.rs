//! `postbode domain add | list | validate | delete`: the account's validated domains.

use reqwest::Method;
use serde_json::{Value, json};
use std::fmt::Write;

use super::{Api, ApiArgs};

#[derive(clap::Subcommand, Debug)]
pub enum DomainCommand {
    /// Add a domain and print the TXT record to publish for it.
    Add {
        domain: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the account's domains and their status.
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Look the domain's TXT record up now; fails while the domain is not validated.
    Validate {
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Remove a domain: the webhooks it verified need their file (or another domain) again.
    Delete {
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

pub async fn run(command: DomainCommand) -> anyhow::Result<()> {
    match command {
        DomainCommand::Add { domain, api } => {
            let added = Api::new(api)?
                .call(Method::POST, "/v1/domains", Some(&json!({ "domain": domain })))
                .await?;
            print!("{}", domain_text(&added));
            println!(
                "Publish this record, then run: postbode domain validate {}",
                added["id"].as_str().unwrap_or("")
            );
        }
        DomainCommand::List { api } => {
            let api = Api::new(api)?;
            let mut cursor: Option<String> = None;
            let mut any = false;
            loop {
                let path = match &cursor {
                    Some(cursor) => format!("/v1/domains?limit=500&cursor={cursor}"),
                    None => "/v1/domains?limit=500".to_owned(),
                };
                let page = api.call(Method::GET, &path, None).await?;
                for domain in page["data"].as_array().into_iter().flatten() {
                    any = true;
                    print!("{}", domain_text(domain));
                }
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            if !any {
                println!("No domains.");
            }
        }
        DomainCommand::Validate { id, api } => {
            let answer = Api::new(api)?
                .call(Method::POST, &format!("/v1/domains/{id}/validate"), None)
                .await?;
            let status = answer["status"].as_str().unwrap_or("");
            println!("{status}: {}", answer["outcome"].as_str().unwrap_or(""));
            if status != "validated" {
                anyhow::bail!("domain {id} is not validated");
            }
        }
        DomainCommand::Delete { id, api } => {
            Api::new(api)?
                .call(Method::DELETE, &format!("/v1/domains/{id}"), None)
                .await?;
            println!("Deleted {id}.");
        }
    }
    Ok(())
}

fn domain_text(domain: &Value) -> String {
    let text = |name: &str| domain[name].as_str().unwrap_or("").to_owned();
    let mut out = String::new();
    let _ = writeln!(out, "{} {} {}", text("id"), text("domain"), text("status"));
    let record = &domain["record"];
    let _ = writeln!(
        out,
        "  {}. IN TXT \"{}\"",
        record["name"].as_str().unwrap_or(""),
        record["value"].as_str().unwrap_or("")
    );
    out
}
