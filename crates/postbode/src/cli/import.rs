//! `postbode import FILE --database ID [--key FIELD]`: streams a CSV or JSON-lines file
//! to `POST /v1/databases/{id}/import` and prints the server's summary. The file is sent
//! as it is read, never held in memory whole, with a progress bar of the bytes sent.

use anyhow::Context;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::fmt::Write;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::io::ReaderStream;

use reqwest::StatusCode;

use super::{Api, ApiArgs, problem_text};

/// The import runs as long as the file takes: the client's usual limit is for short calls.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
const CHUNK_BYTES: usize = 64 * 1024;

const FORMAT_HELP: &str = "\
File formats:
  CSV (.csv, text/csv): the first row is a header of field names of the database, then
  one profile per row. An optional `interests` column holds the profile's interests,
  separated by `;` (for example `news;offers`). An empty cell clears a non-text field.

      email,name,age,interests
      piet@example.com,Piet,31,news;offers

  JSON lines (.ndjson or .jsonl, application/x-ndjson): one JSON object of field values
  per line, with `interests` as a list of strings.

      {\"email\": \"piet@example.com\", \"name\": \"Piet\", \"age\": 31, \"interests\": [\"news\"]}

With --key, a row whose key field matches an existing profile updates that profile
instead of creating a new one, so importing the same file again changes nothing.
Rows that cannot be imported are listed with their line number (the header is line 1)
and do not stop the others; they do not make the command fail.";

#[derive(clap::Args, Debug)]
#[command(after_help = FORMAT_HELP)]
pub struct ImportArgs {
    /// The file to import: `.csv`, `.ndjson` or `.jsonl` (or say which with --format).
    pub file: PathBuf,
    /// The database the profiles go into.
    #[arg(long)]
    pub database: String,
    /// A field that identifies a profile: rows matching an existing profile on it update that
    /// profile, the others create one.
    #[arg(long)]
    pub key: Option<String>,
    /// The file's format, when its extension does not tell.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl Format {
    fn from_path(path: &Path) -> anyhow::Result<Self> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        match extension.as_str() {
            "csv" => Ok(Format::Csv),
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            _ => anyhow::bail!(
                "cannot tell the format of {} from its extension: known are .csv (CSV with a header row) and \
                 .ndjson or .jsonl (JSON lines); say which with --format csv|ndjson",
                path.display()
            ),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv",
            Format::Ndjson => "application/x-ndjson",
        }
    }
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let api = Api::new(args.api)?;
    let format = match args.format {
        Some(format) => format,
        None => Format::from_path(&args.file)?,
    };
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("opening {}", args.file.display()))?;
    let size = file
        .metadata()
        .await
        .with_context(|| format!("reading the size of {}", args.file.display()))?
        .len();

    let bar = progress_bar(size)?;
    let counted = bar.clone();
    let stream = ReaderStream::with_capacity(file, CHUNK_BYTES).inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            counted.inc(chunk.len() as u64);
            if counted.position() >= size {
                counted.set_message("sent; waiting for the summary");
            }
        }
    });

    let mut path = format!("/v1/databases/{}/import", args.database);
    if let Some(key) = &args.key {
        let key: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
        let _ = write!(path, "?key={key}");
    }
    let url = format!("{}{path}", api.url.trim_end_matches('/'));
    let answer = send(&api, &url, format, reqwest::Body::wrap_stream(stream)).await;
    bar.finish_and_clear();
    let (status, text) = match answer {
        Ok(answer) => answer,
        Err(e) => return Err(e.context(format!("sending {} to {url}", args.file.display()))),
    };
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    if !status.is_success() {
        anyhow::bail!("the import failed: {}", problem_text(status, &value).trim_end());
    }
    if args.json {
        println!("{text}");
    } else {
        print!("{}", summary_text(&value));
    }
    Ok(())
}

/// Posts `body` to the import route: the status and the answer's text.
async fn send(api: &Api, url: &str, format: Format, body: reqwest::Body) -> anyhow::Result<(StatusCode, String)> {
    let response = api
        .http
        .post(url)
        .bearer_auth(&api.token)
        .timeout(IMPORT_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, format.content_type())
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await.context("reading the answer")?;
    Ok((status, text))
}

/// A bar of bytes sent on stderr, or a hidden one when stderr is not a terminal.
fn progress_bar(size: u64) -> anyhow::Result<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return Ok(ProgressBar::hidden());
    }
    let style = ProgressStyle::with_template(
        "[{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {msg}",
    )?;
    Ok(ProgressBar::new(size).with_style(style))
}

/// `{created, updated, unchanged, rejected: [{line, error}], rejected_count}` as lines.
fn summary_text(summary: &Value) -> String {
    let count = |name: &str| summary[name].as_u64().unwrap_or(0);
    let listed = summary["rejected"].as_array().map_or(&[][..], Vec::as_slice);
    let rejected = summary["rejected_count"].as_u64().unwrap_or(listed.len() as u64);
    let mut out = String::new();
    let _ = writeln!(out, "created:   {}", count("created"));
    let _ = writeln!(out, "updated:   {}", count("updated"));
    let _ = writeln!(out, "unchanged: {}", count("unchanged"));
    let _ = writeln!(out, "rejected:  {rejected}");
    for row in listed {
        let _ = writeln!(
            out,
            "  line {}: {}",
            row["line"],
            row["error"].as_str().unwrap_or("rejected")
        );
    }
    if rejected > listed.len() as u64 {
        let _ = writeln!(out, "  ... and {} more rejected rows", rejected - listed.len() as u64);
    }
    if rejected > 0 {
        let _ = writeln!(
            out,
            "{rejected} {} not imported; the others were.",
            if rejected == 1 { "row was" } else { "rows were" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_extension_tells_the_format() {
        assert_eq!(Format::from_path(Path::new("a.csv")).unwrap(), Format::Csv);
        assert_eq!(Format::from_path(Path::new("a.CSV")).unwrap(), Format::Csv);
        assert_eq!(Format::from_path(Path::new("a.jsonl")).unwrap(), Format::Ndjson);
        assert_eq!(Format::from_path(Path::new("a.ndjson")).unwrap(), Format::Ndjson);
        let error = Format::from_path(Path::new("a.txt")).unwrap_err().to_string();
        assert!(
            error.contains(".csv") && error.contains(".ndjson") && error.contains("--format"),
            "{error}"
        );
    }

    #[test]
    fn the_summary_lists_rejections() {
        let text = summary_text(&json!({
            "created": 3, "updated": 1, "unchanged": 0,
            "rejected": [{"line": 4, "error": "fields.age: an integer"}],
            "rejected_count": 2,
        }));
        assert!(text.contains("created:   3"), "{text}");
        assert!(text.contains("  line 4: fields.age: an integer"), "{text}");
        assert!(text.contains("1 more rejected"), "{text}");
        assert!(text.contains("2 rows were not imported"), "{text}");
    }
}
