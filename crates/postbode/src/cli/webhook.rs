//! `postbode webhook verify | test | check`.

use anyhow::Context;
use reqwest::Method;
use serde_json::{Value, json};
use std::fmt::Write;

use super::{Api, ApiArgs};

#[derive(clap::Subcommand, Debug)]
pub enum WebhookCommand {
    /// Fetch the URL ownership file now and say where it was found, or why not.
    Verify {
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Make one real, signed call now and show the receiver's answer.
    Test {
        id: String,
        /// The event type of the call.
        #[arg(long = "type", default_value = "test")]
        event_type: String,
        /// JSON data, rendered in the webhook's format like a real event.
        #[arg(long, conflicts_with = "body")]
        data: Option<String>,
        /// Raw post data, sent exactly as given, with the Content-Type of the webhook's
        /// format (json: application/json, form: application/x-www-form-urlencoded, xml:
        /// application/xml); a body that is not in that format is refused.
        #[arg(long)]
        body: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Test every verified webhook and re-check the ownership file of the others.
    Check {
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// Each command prints what it found and fails (exits non-zero) when that is a
/// failure, so a script or CI job can rely on the exit status.
pub async fn run(command: WebhookCommand) -> anyhow::Result<()> {
    let (text, failure) = match command {
        WebhookCommand::Verify { id, api } => {
            let answer = Api::new(api)?
                .call(Method::POST, &format!("/v1/webhooks/{id}/verify"), None)
                .await?;
            let failure = (answer["status"] != "verified").then(|| format!("webhook {id} is not verified"));
            (verification_text(&answer), failure)
        }
        WebhookCommand::Test {
            id,
            event_type,
            data,
            body,
            api,
        } => {
            let mut request = json!({ "type": event_type });
            if let Some(data) = data {
                request["data"] = serde_json::from_str(&data).context("--data is not valid JSON")?;
            }
            let api = Api::new(api)?;
            if let Some(body) = body {
                let webhook = api.call(Method::GET, &format!("/v1/webhooks/{id}"), None).await?;
                if let Some(wrong) = body_mismatch(webhook["format"].as_str().unwrap_or("json"), &body) {
                    anyhow::bail!("--body {wrong}");
                }
                request["body"] = Value::String(body);
            }
            let answer = api
                .call(Method::POST, &format!("/v1/webhooks/{id}/test"), Some(&request))
                .await?;
            let answered_2xx = answer["status_code"].as_u64().is_some_and(|c| (200..300).contains(&c));
            let failure = (!answered_2xx).then(|| "the receiver did not answer the test call with a 2xx".to_owned());
            (test_text(&answer), failure)
        }
        WebhookCommand::Check { api } => {
            let answer = Api::new(api)?.call(Method::POST, "/v1/webhooks/check", None).await?;
            let failed = answer["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|line| line["ok"] != true)
                .count();
            let failure = (failed > 0).then(|| format!("{failed} webhook(s) failed the check"));
            (check_text(&answer), failure)
        }
    };
    print!("{text}");
    match failure {
        Some(failure) => anyhow::bail!(failure),
        None => Ok(()),
    }
}

/// Why a raw body would reach the receiver as something it is not: the call carries
/// the Content-Type of the webhook's format, whatever the body is.
fn body_mismatch(format: &str, body: &str) -> Option<String> {
    let trimmed = body.trim_start();
    let (fits, content_type) = match format {
        "json" => (serde_json::from_str::<Value>(body).is_ok(), "application/json"),
        "xml" => (trimmed.starts_with('<'), "application/xml"),
        _ => (
            !trimmed.starts_with('{') && !trimmed.starts_with('<'),
            "application/x-www-form-urlencoded",
        ),
    };
    (!fits).then(|| {
        format!(
            "is not {format} data, but the webhook's format is {format}, so it would be sent as \
             Content-Type: {content_type}. Give a body in that format, use --data JSON to have the \
             event rendered in it, or change the webhook's format first"
        )
    })
}

fn verification_text(answer: &Value) -> String {
    let mut out = String::new();
    let verified = answer["status"] == "verified";
    let _ = writeln!(out, "{}", if verified { "Verified." } else { "Not verified." });
    for check in answer["checked"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {}  {}",
            check["url"].as_str().unwrap_or(""),
            check["outcome"].as_str().unwrap_or("")
        );
    }
    out
}

fn test_text(report: &Value) -> String {
    let mut out = String::new();
    match report["status_code"].as_u64() {
        Some(code) => {
            let _ = writeln!(out, "HTTP {code} in {} ms", report["duration_ms"]);
            for (name, value) in report["response_headers"].as_object().into_iter().flatten() {
                let _ = writeln!(out, "{name}: {}", value.as_str().unwrap_or(""));
            }
            let _ = writeln!(out);
            let _ = writeln!(out, "{}", report["response_body"].as_str().unwrap_or(""));
        }
        None => {
            let _ = writeln!(
                out,
                "No answer after {} ms: {}",
                report["duration_ms"],
                report["error"].as_str().unwrap_or("unknown error")
            );
        }
    }
    out
}

fn check_text(answer: &Value) -> String {
    let mut out = String::new();
    for line in answer["data"].as_array().into_iter().flatten() {
        let mark = if line["ok"] == true { "ok  " } else { "FAIL" };
        let _ = writeln!(
            out,
            "{mark} {} {:<6} {}  {}",
            line["webhook_id"].as_str().unwrap_or(""),
            line["action"].as_str().unwrap_or(""),
            line["url"].as_str().unwrap_or(""),
            line["outcome"].as_str().unwrap_or("")
        );
    }
    if out.is_empty() {
        out.push_str("No webhooks.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_body_must_be_in_the_webhooks_format() {
        let refused = body_mismatch("json", "raw=1").expect("form data is not JSON");
        assert!(refused.contains("Content-Type: application/json"), "{refused}");
        assert_eq!(body_mismatch("json", r#"{"raw": 1}"#), None);
        assert_eq!(body_mismatch("form", "raw=1&b=2"), None);
        assert!(body_mismatch("form", r#"{"raw": 1}"#).is_some());
        assert_eq!(body_mismatch("xml", "<event/>"), None);
        assert!(body_mismatch("xml", "raw=1").is_some());
    }
}
