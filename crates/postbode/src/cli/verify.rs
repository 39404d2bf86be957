//! `postbode verify`: checks a captured call against every signature scheme it carries
//! and says exactly why one fails.
//!
//! The per-scheme checks live here, in [`Checker`], and `postbode listen` uses the same
//! [`Checker`], so the two commands can never disagree about a call.

use anyhow::{Context, bail};
use postbode_signature::key_set::KeySet;
use postbode_signature::nonce::{DEFAULT_MAX_ENTRIES, NonceCache};
use postbode_signature::standard_webhooks::{self, Secret};
use postbode_signature::{Error as SignatureError, Request, Verified, dkim, http_signature, rfc9421};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub const STANDARD_WEBHOOKS: &str = "standard-webhooks";
pub const HTTP_SIGNATURE: &str = "http-signature";
pub const RFC9421: &str = "rfc9421";

/// A receiver that keeps seeing keys it does not know refetches the key set at most this
/// often, so forged key ids cannot make it hammer the key server.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// What the signature checks need to know; `verify` and `listen` share these flags.
#[derive(clap::Args, Debug, Clone)]
pub struct CheckArgs {
    /// The webhook's Standard Webhooks secret (`whsec_...`), for `standard-webhooks`. Give it
    /// twice during a secret rotation; in the environment, separate the two by a space.
    #[arg(
        long = "secret",
        value_name = "whsec_...",
        env = "POSTBODE_WEBHOOK_SECRET",
        hide_env_values = true,
        value_delimiter = ' '
    )]
    pub secrets: Vec<String>,
    /// URL of the published key set, for `http-signature` and `rfc9421`, e.g.
    /// http://127.0.0.1:8080/.well-known/postbode/keys.
    #[arg(long, value_name = "URL", conflicts_with = "keys_file")]
    pub keys: Option<String>,
    /// A file holding the published key set (the JSON served at /.well-known/postbode/keys).
    #[arg(long, value_name = "PATH")]
    pub keys_file: Option<PathBuf>,
    /// The key domain to trust: only keys `<selector>._domainkey.<this domain>` are accepted
    /// [default: the domain of the key id the call names, which proves nothing: give it].
    #[arg(long, value_name = "DOMAIN")]
    pub key_domain: Option<String>,
    /// Your account id: the account header must say `<account prefix><ID>`
    /// [default: whatever account the call names, which proves nothing: give it].
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// The prefix of the account header's value (the setting `signature.account_prefix`).
    #[arg(long, value_name = "PREFIX", default_value = http_signature::DEFAULT_ACCOUNT_PREFIX)]
    pub account_prefix: String,
    /// The account header's name (the setting `signature.account_header`).
    #[arg(long, value_name = "NAME", default_value = http_signature::DEFAULT_ACCOUNT_HEADER)]
    pub account_header: String,
    /// How old a call may be, in seconds, for `http-signature` (its `Date`) and `rfc9421`
    /// (its `created`); `standard-webhooks` allows its specification's 5 minutes either way.
    #[arg(long, value_name = "SECONDS", default_value_t = http_signature::DEFAULT_MAX_AGE_SECONDS)]
    pub max_age: i64,
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The captured request: request line, headers, a blank line, the body (CRLF or LF line
    /// ends). `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub check: CheckArgs,
    /// The scheme the receiver was reached at, part of what `rfc9421` signs (`@target-uri`)
    /// [default: the one of an absolute request target, else https].
    #[arg(long, value_parser = ["http", "https"])]
    pub scheme: Option<String>,
    /// Check as of this Unix time in seconds, e.g. when the call was captured [default: now].
    #[arg(long, value_name = "UNIX")]
    pub now: Option<i64>,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let raw = read_input(args.file.as_deref()).await?;
    let captured = CapturedRequest::parse(&raw)?;
    for note in &captured.notes {
        eprintln!("note: {note}");
    }
    let checker = Checker::new(&args.check, false).await?.for_captured_calls();
    let now = args.now.unwrap_or_else(|| chrono::Utc::now().timestamp());
    let scheme = args
        .scheme
        .or_else(|| captured.scheme.clone())
        .unwrap_or_else(|| rfc9421::DEFAULT_SCHEME.to_owned());
    let headers = captured.header_refs();
    let request = captured.request(&headers);
    let report = checker.check(&request, &scheme, now).await;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let mut out = std::io::stdout().lock();
    for line in report.lines() {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    if !report.accepted() {
        // The lines above are the explanation; an error message would only repeat them.
        std::process::exit(1);
    }
    Ok(())
}

async fn read_input(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(path) if path != Path::new("-") => tokio::fs::read(path)
            .await
            .with_context(|| format!("reading {}", path.display())),
        // tokio's stdin needs a feature the workspace does not enable; a blocking read on
        // a blocking thread does the same.
        _ => tokio::task::spawn_blocking(|| {
            let mut raw = Vec::new();
            std::io::stdin()
                .read_to_end(&mut raw)
                .context("reading the request from standard input")?;
            Ok(raw)
        })
        .await
        .context("reading the request from standard input")?,
    }
}

/// A raw HTTP/1.1 request as someone captured it (a proxy log, `nc -l`, a copy from a
/// terminal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedRequest {
    pub method: String,
    /// Origin form (`/path?query`), as the signatures see it.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The scheme of an absolute-form target (`POST https://host/path HTTP/1.1`).
    pub scheme: Option<String>,
    /// Things that were repaired or look suspicious, for the user.
    pub notes: Vec<String>,
}

impl CapturedRequest {
    pub fn parse(raw: &[u8]) -> anyhow::Result<Self> {
        let mut lines = Vec::new();
        let mut pos = 0;
        let mut body_start = None;
        while pos < raw.len() {
            let end = raw[pos..].iter().position(|&b| b == b'\n').map(|i| pos + i);
            let line = &raw[pos..end.unwrap_or(raw.len())];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            pos = end.map_or(raw.len(), |e| e + 1);
            if line.is_empty() {
                // RFC 9112 §2.2: empty lines before the request line are ignored.
                if lines.is_empty() {
                    continue;
                }
                body_start = Some(pos);
                break;
            }
            lines.push(String::from_utf8_lossy(line).into_owned());
        }
        let mut notes = Vec::new();
        let mut body = match body_start {
            Some(start) => raw[start..].to_vec(),
            None => {
                notes.push("no blank line after the headers: taking the body as empty".to_owned());
                Vec::new()
            }
        };
        let Some((request_line, header_lines)) = lines.split_first() else {
            bail!("the input is empty: expected a request line, headers, a blank line and the body");
        };
        let mut parts = request_line.split_whitespace();
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            bail!("the first line is not a request line like `POST /path HTTP/1.1`: {request_line:?}");
        };
        if let Some(version) = parts.next()
            && !version.starts_with("HTTP/")
        {
            bail!("the first line is not a request line like `POST /path HTTP/1.1`: {request_line:?}");
        }
        let (target, scheme) = origin_form(target)?;

        let mut headers: Vec<(String, String)> = Vec::new();
        for (index, line) in header_lines.iter().enumerate() {
            if line.starts_with([' ', '\t']) {
                // Obsolete line folding (RFC 9112 §5.2): the line continues the previous value.
                let Some((_, value)) = headers.last_mut() else {
                    bail!("line {}: a continuation line before any header", index + 2);
                };
                value.push(' ');
                value.push_str(line.trim());
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                bail!("line {}: not a header (`Name: value`): {line:?}", index + 2);
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                bail!("line {}: not a header name: {name:?}", index + 2);
            }
            headers.push((name.to_owned(), value.trim().to_owned()));
        }

        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        if header("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked")) {
            body = decode_chunked(&body).context("decoding the chunked body")?;
        } else if let Some(length) = header("content-length") {
            let length: usize = length
                .parse()
                .with_context(|| format!("the Content-Length {length:?} is not a number"))?;
            if body.len() > length {
                let extra = body.split_off(length);
                // Editors and terminals add a final newline; anything more is worth saying.
                if !extra.iter().all(u8::is_ascii_whitespace) {
                    notes.push(format!(
                        "{} bytes after the body's Content-Length of {length} were ignored",
                        extra.len()
                    ));
                }
            } else if body.len() < length {
                notes.push(format!(
                    "the body has {} bytes, fewer than its Content-Length of {length}: the capture may be cut off",
                    body.len()
                ));
            }
        }
        Ok(Self {
            method: method.to_owned(),
            target,
            headers,
            body,
            scheme,
            notes,
        })
    }

    /// The headers as the signature crate wants them; keep it alive while the request is.
    pub fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
    }

    pub fn request<'a>(&'a self, headers: &'a [(&'a str, &'a str)]) -> Request<'a> {
        Request {
            method: &self.method,
            target: &self.target,
            headers,
            body: &self.body,
        }
    }
}

/// The path and query of a request target, and the scheme when the target was absolute.
fn origin_form(target: &str) -> anyhow::Result<(String, Option<String>)> {
    if target.starts_with('/') {
        return Ok((target.to_owned(), None));
    }
    let lower = target.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let url = url::Url::parse(target).with_context(|| format!("the request target {target:?} is not a URL"))?;
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        return Ok((path, Some(url.scheme().to_owned())));
    }
    bail!("the request target {target:?} is neither a path nor an absolute URL")
}

fn decode_chunked(mut rest: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            bail!("a chunk size line without a line end");
        };
        let line = String::from_utf8_lossy(&rest[..end]);
        // Chunk extensions (`;name=value`) carry nothing the signatures cover.
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).with_context(|| format!("the chunk size {size:?} is not hex"))?;
        rest = &rest[end + 1..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size {
            bail!("a chunk of {size} bytes is cut off after {}", rest.len());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size..];
        rest = rest.strip_prefix(b"\r").unwrap_or(rest);
        rest = rest.strip_prefix(b"\n").unwrap_or(rest);
    }
}

/// The result for one scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// None of the scheme's headers are there.
    NotSigned,
    /// Verified; the text says by which key, if the scheme has keys.
    Ok(Option<String>),
    /// Signed, but what checks it (a secret, the published keys) was not given.
    NotChecked(String),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeCheck {
    pub scheme: &'static str,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<SchemeCheck>,
    /// What was taken on trust because a flag was missing.
    pub warnings: Vec<String>,
}

impl Report {
    /// At least one scheme was there, and every one that was there verified.
    pub fn accepted(&self) -> bool {
        let present = self.checks.iter().filter(|c| c.outcome != Outcome::NotSigned);
        let mut any = false;
        for check in present {
            if !matches!(check.outcome, Outcome::Ok(_)) {
                return false;
            }
            any = true;
        }
        any
    }

    /// One line per scheme: `standard-webhooks: ok`, `rfc9421: not signed`,
    /// `standard-webhooks: not checked (<what is missing>)` or
    /// `http-signature: FAILED: <why>`.
    pub fn lines(&self) -> Vec<String> {
        self.checks
            .iter()
            .map(|check| match &check.outcome {
                Outcome::NotSigned => format!("{}: not signed", check.scheme),
                Outcome::Ok(None) => format!("{}: ok", check.scheme),
                Outcome::Ok(Some(detail)) => format!("{}: ok ({detail})", check.scheme),
                Outcome::NotChecked(missing) => format!("{}: not checked ({missing})", check.scheme),
                Outcome::Failed(why) => format!("{}: FAILED: {why}", check.scheme),
            })
            .collect()
    }
}

/// Where the key set comes from.
#[derive(Debug, Clone)]
enum KeySource {
    Url(String),
    File(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Url(url) => f.write_str(url),
            KeySource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

impl KeySource {
    async fn load(&self, http: &reqwest::Client) -> anyhow::Result<KeySet> {
        let text = match self {
            KeySource::Url(url) => {
                let response = http
                    .get(url)
                    .send()
                    .await
                    .with_context(|| format!("fetching the key set from {url}"))?;
                let status = response.status();
                if !status.is_success() {
                    bail!("fetching the key set from {url}: the answer is {status}");
                }
                response
                    .text()
                    .await
                    .with_context(|| format!("reading the key set from {url}"))?
            }
            KeySource::File(path) => tokio::fs::read_to_string(path)
                .await
                .with_context(|| format!("reading the key set {}", path.display()))?,
        };
        KeySet::from_json(&text).with_context(|| format!("the key set of {self}"))
    }
}

struct Keys {
    source: KeySource,
    current: RwLock<Arc<KeySet>>,
    loaded_at: Mutex<Instant>,
}

impl Keys {
    fn snapshot(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Loads the set again, unless that was done very recently; `Ok(false)` when skipped.
    async fn refresh(&self, http: &reqwest::Client) -> anyhow::Result<bool> {
        {
            let mut loaded_at = self.loaded_at.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if loaded_at.elapsed() < KEY_REFRESH_INTERVAL {
                return Ok(false);
            }
            // Claimed before the fetch, so concurrent calls do not all fetch.
            *loaded_at = Instant::now();
        }
        let set = self.source.load(http).await?;
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(set);
        Ok(true)
    }
}

/// Checks a call against every scheme, the same way for `verify` and `listen`.
pub struct Checker {
    secrets: Vec<Secret>,
    keys: Option<Keys>,
    key_domain: Option<String>,
    /// The full expected value of the account header, e.g. `acc_42`.
    account: Option<String>,
    account_header: String,
    max_age_seconds: i64,
    /// Replays are refused across calls (`listen`), as a real receiver does.
    nonces: NonceCache,
    /// Refetch the key set when a call names a key it does not hold (long-running `listen`
    /// sees keys rotate).
    refresh_keys: bool,
    /// The call was captured earlier, so an age failure is worth a hint about `--now`.
    captured: bool,
    http: reqwest::Client,
}

impl Checker {
    /// Parses the secrets and loads the key set now, so a wrong flag fails at once.
    pub async fn new(args: &CheckArgs, refresh_keys: bool) -> anyhow::Result<Self> {
        let secrets = args
            .secrets
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| Secret::parse(s.trim()).map_err(|e| anyhow::anyhow!("--secret: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        let source = match (&args.keys, &args.keys_file) {
            (Some(url), _) => Some(KeySource::Url(url.clone())),
            (None, Some(path)) => Some(KeySource::File(path.clone())),
            (None, None) => None,
        };
        let keys = match source {
            Some(source) => {
                let set = source.load(&http).await?;
                Some(Keys {
                    source,
                    current: RwLock::new(Arc::new(set)),
                    loaded_at: Mutex::new(Instant::now()),
                })
            }
            None => None,
        };
        if args.max_age < 0 {
            bail!("--max-age: must not be negative");
        }
        let max_age_seconds = args.max_age;
        let mut window_policy = http_signature::Policy::new("", &args.account_header, "");
        window_policy.max_age_seconds = max_age_seconds;
        Ok(Self {
            secrets,
            keys,
            key_domain: args
                .key_domain
                .as_ref()
                .map(|d| d.trim().trim_end_matches('.').to_owned()),
            account: args
                .account
                .as_ref()
                .map(|id| http_signature::account_value(&args.account_prefix, id.trim())),
            account_header: args.account_header.clone(),
            max_age_seconds,
            nonces: NonceCache::new(window_policy.acceptance_window_seconds(), DEFAULT_MAX_ENTRIES),
            refresh_keys,
            captured: false,
            http,
        })
    }

    fn for_captured_calls(mut self) -> Self {
        self.captured = true;
        self
    }

    pub fn has_secrets(&self) -> bool {
        !self.secrets.is_empty()
    }

    pub fn has_keys(&self) -> bool {
        self.keys.is_some()
    }

    /// Checks `request`, reached at `scheme` (`http`/`https`, for `rfc9421`), at `now`.
    pub async fn check(&self, request: &Request<'_>, scheme: &str, now: i64) -> Report {
        let mut report = Report::default();
        let standard = if standard_webhooks_present(request) {
            self.standard_webhooks(request, now)
        } else {
            Outcome::NotSigned
        };
        report.checks.push(SchemeCheck {
            scheme: STANDARD_WEBHOOKS,
            outcome: standard,
        });
        for keyed in [Keyed::HttpSignature, Keyed::Rfc9421] {
            let outcome = if keyed.present(request) {
                self.keyed(keyed, request, scheme, now, &mut report.warnings).await
            } else {
                Outcome::NotSigned
            };
            report.checks.push(SchemeCheck {
                scheme: keyed.name(),
                outcome,
            });
        }
        report
    }

    fn standard_webhooks(&self, request: &Request, now: i64) -> Outcome {
        if self.secrets.is_empty() {
            return Outcome::NotChecked("no secret given: --secret whsec_... or POSTBODE_WEBHOOK_SECRET".to_owned());
        }
        let header = |name: &str| {
            request
                .header(name)
                .ok_or(SignatureError::MissingHeader(name.to_owned()))
        };
        let result = (|| {
            let id = header("webhook-id")?;
            let timestamp = header("webhook-timestamp")?;
            let signature = header("webhook-signature")?;
            standard_webhooks::verify(&self.secrets, &id, &timestamp, &signature, request.body, now)
        })();
        match result {
            Ok(()) => Outcome::Ok(None),
            Err(error @ SignatureError::StaleTimestamp { .. }) => Outcome::Failed(self.with_age_hint(&error)),
            Err(SignatureError::BadSignature) if self.secrets.len() > 1 => Outcome::Failed(format!(
                "{} with any of the {} secrets given",
                SignatureError::BadSignature,
                self.secrets.len()
            )),
            Err(error) => Outcome::Failed(error.to_string()),
        }
    }

    async fn keyed(
        &self,
        keyed: Keyed,
        request: &Request<'_>,
        scheme: &str,
        now: i64,
        warnings: &mut Vec<String>,
    ) -> Outcome {
        let Some(keys) = &self.keys else {
            return Outcome::NotChecked("no published keys given: --keys URL or --keys-file PATH".to_owned());
        };
        let claimed_key_id = keyed.claimed_key_id(request);
        let key_domain = match &self.key_domain {
            Some(domain) => domain.clone(),
            None => {
                let claimed = claimed_key_id
                    .as_deref()
                    .and_then(dkim::split_key_id)
                    .map(|(_, domain)| domain.to_owned())
                    .unwrap_or_default();
                if !claimed.is_empty() {
                    push_once(
                        warnings,
                        format!(
                            "no --key-domain: trusting the key domain the call names ({claimed}); \
                             anyone can name their own, so give --key-domain"
                        ),
                    );
                }
                claimed
            }
        };
        let account = match &self.account {
            Some(account) => account.clone(),
            None => {
                let claimed = request.header(&self.account_header).unwrap_or_default();
                if !claimed.is_empty() {
                    push_once(
                        warnings,
                        format!(
                            "no --account: accepting the account the call names ({claimed}); give --account to check it"
                        ),
                    );
                }
                claimed
            }
        };
        let policy = Policies::new(self, &key_domain, &account);
        let call = Call { request, scheme, now };
        let mut result = policy.verify(keyed, &call, &keys.snapshot(), &self.nonces);
        if self.refresh_keys && matches!(result, Err(SignatureError::UnknownKey(_))) {
            // An unknown key is refused before the signature is checked, so no nonce was
            // recorded: checking again after a refetch is not a replay.
            match keys.refresh(&self.http).await {
                Ok(true) => result = policy.verify(keyed, &call, &keys.snapshot(), &self.nonces),
                Ok(false) => {}
                Err(error) => push_once(warnings, format!("could not fetch the key set again: {error:#}")),
            }
        }
        match result {
            Ok(verified) => Outcome::Ok(Some(format!("key {}", verified.key_id))),
            Err(error) => Outcome::Failed(self.explain(keyed, &error, &policy, &call, keys)),
        }
    }

    /// The crate's error, with what the user needs to act on it.
    fn explain(&self, keyed: Keyed, error: &SignatureError, policy: &Policies, call: &Call, keys: &Keys) -> String {
        match error {
            SignatureError::WrongAccount => {
                let said = call.request.header(&self.account_header).unwrap_or_default();
                format!("{error}: it says {said:?}, expected {:?}", policy.account)
            }
            SignatureError::UntrustedKeyDomain(_) => {
                format!("{error}: the trusted key domain is {:?}", policy.key_domain)
            }
            SignatureError::UnknownKey(_) => format!("{error} in the key set of {}", keys.source),
            SignatureError::StaleDate { .. } | SignatureError::FutureDate { .. } => self.with_age_hint(error),
            SignatureError::BadSignature if keyed == Keyed::Rfc9421 => {
                // The scheme is signed (in `@target-uri`) but not sent: a receiver behind a
                // TLS proxy, or a capture from one, easily assumes the wrong one.
                let other = if call.scheme.eq_ignore_ascii_case("https") {
                    "http"
                } else {
                    "https"
                };
                let elsewhere = Call { scheme: other, ..*call };
                if policy.verify(keyed, &elsewhere, &keys.snapshot(), &self.nonces).is_ok() {
                    format!(
                        "{error} for the scheme {}, but does for {other}: the call was signed for \
                         {other}://...; give --scheme {other}",
                        call.scheme
                    )
                } else {
                    error.to_string()
                }
            }
            _ => error.to_string(),
        }
    }

    fn with_age_hint(&self, error: &SignatureError) -> String {
        if self.captured {
            format!("{error}; to check a captured call as of when it was made, give --now <unix seconds>")
        } else {
            format!("{error}; is this machine's clock right?")
        }
    }
}

fn standard_webhooks_present(request: &Request) -> bool {
    ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .iter()
        .any(|name| request.header(name).is_some())
}

fn push_once(warnings: &mut Vec<String>, warning: String) {
    if !warnings.contains(&warning) {
        warnings.push(warning);
    }
}

/// The two schemes that use published keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyed {
    HttpSignature,
    Rfc9421,
}

impl Keyed {
    fn name(self) -> &'static str {
        match self {
            Keyed::HttpSignature => HTTP_SIGNATURE,
            Keyed::Rfc9421 => RFC9421,
        }
    }

    /// Whether the call carries this scheme. Both put their signature in `Signature`, so
    /// that header alone is `http-signature` only in its draft-cavage form; a call with
    /// only part of a scheme's headers counts as signed, so the missing one is named.
    fn present(self, request: &Request) -> bool {
        let has = |name: &str| request.header(name).is_some();
        let rfc9421 = has("signature-input") || has("content-digest");
        match self {
            Keyed::Rfc9421 => rfc9421,
            Keyed::HttpSignature => {
                let cavage = request
                    .header("signature")
                    .is_some_and(|value| value.to_ascii_lowercase().contains("keyid="));
                has("digest") || has(http_signature::NONCE_HEADER) || cavage || (has("signature") && !rfc9421)
            }
        }
    }

    /// The key id the call says signed it, when its signature headers parse.
    fn claimed_key_id(self, request: &Request) -> Option<String> {
        match self {
            Keyed::HttpSignature => {
                let header = request.header("signature")?;
                http_signature::SignatureParams::parse(&header).ok().map(|p| p.key_id)
            }
            Keyed::Rfc9421 => {
                let inputs = rfc9421::parse_signature_input(&request.header("signature-input")?).ok()?;
                // The same choice the verifier makes: the only input, or Postbode's label.
                let input = if inputs.len() == 1 {
                    inputs.into_iter().next()
                } else {
                    inputs.into_iter().find(|input| input.label == rfc9421::LABEL)
                };
                input?.key_id
            }
        }
    }
}

/// One call to check, and where and when it is checked.
#[derive(Clone, Copy)]
struct Call<'a> {
    request: &'a Request<'a>,
    /// `http` or `https`, for `rfc9421`'s `@target-uri`.
    scheme: &'a str,
    now: i64,
}

/// The policies of both keyed schemes for one call.
struct Policies {
    key_domain: String,
    account: String,
    http_signature: http_signature::Policy,
    rfc9421: rfc9421::Policy,
}

impl Policies {
    fn new(checker: &Checker, key_domain: &str, account: &str) -> Self {
        let mut http = http_signature::Policy::new(key_domain, &checker.account_header, account);
        http.max_age_seconds = checker.max_age_seconds;
        let mut rfc = rfc9421::Policy::new(key_domain, &checker.account_header, account);
        rfc.max_age_seconds = checker.max_age_seconds;
        Self {
            key_domain: key_domain.to_owned(),
            account: account.to_owned(),
            http_signature: http,
            rfc9421: rfc,
        }
    }

    fn verify(
        &self,
        keyed: Keyed,
        call: &Call,
        keys: &KeySet,
        nonces: &NonceCache,
    ) -> Result<Verified, SignatureError> {
        match keyed {
            Keyed::HttpSignature => http_signature::verify(call.request, &self.http_signature, keys, nonces, call.now),
            Keyed::Rfc9421 => {
                let mut policy = self.rfc9421.clone();
                policy.scheme = call.scheme.to_ascii_lowercase();
                rfc9421::verify(call.request, &policy, keys, call.now)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_crlf_and_lf_captures_alike() {
        let crlf = b"POST /hook?a=1 HTTP/1.1\r\nHost: r.example\r\nContent-Length: 2\r\n\r\n{}\n";
        let lf = b"\nPOST /hook?a=1 HTTP/1.1\nHost: r.example\nContent-Length: 2\n\n{}";
        let a = CapturedRequest::parse(crlf).unwrap();
        let b = CapturedRequest::parse(lf).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.body, b"{}");
        assert_eq!(a.target, "/hook?a=1");
        assert!(a.notes.is_empty(), "{:?}", a.notes);
    }

    #[test]
    fn decodes_chunks_folds_and_absolute_targets() {
        let raw = b"POST https://r.example/h?x HTTP/1.1\r\nHost: r.example\r\nX-A: one\r\n two\r\n\
                    Transfer-Encoding: chunked\r\n\r\n2\r\n{\"\r\n3;ext=1\r\na\":\r\n2\r\n1}\r\n0\r\n\r\n";
        let request = CapturedRequest::parse(raw).unwrap();
        assert_eq!(request.body, br#"{"a":1}"#);
        assert_eq!(request.target, "/h?x");
        assert_eq!(request.scheme.as_deref(), Some("https"));
        assert_eq!(request.headers[1], ("X-A".to_owned(), "one two".to_owned()));
    }

    #[test]
    fn refuses_what_is_not_a_request_and_notes_a_cut_body() {
        assert!(CapturedRequest::parse(b"").is_err());
        assert!(CapturedRequest::parse(b"Host: x\r\n\r\n").is_err());
        assert!(CapturedRequest::parse(b"POST /h HTTP/1.1\r\nno colon\r\n\r\n").is_err());
        let cut = CapturedRequest::parse(b"POST /h HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}").unwrap();
        assert_eq!(cut.notes.len(), 1, "{:?}", cut.notes);
    }

    #[test]
    fn accepts_only_when_something_was_signed_and_all_of_it_verified() {
        let check = |outcome| SchemeCheck {
            scheme: RFC9421,
            outcome,
        };
        let report = |checks| Report {
            checks,
            warnings: Vec::new(),
        };
        assert!(!report(vec![check(Outcome::NotSigned)]).accepted());
        assert!(report(vec![check(Outcome::NotSigned), check(Outcome::Ok(None))]).accepted());
        assert!(!report(vec![check(Outcome::Ok(None)), check(Outcome::Failed("x".into()))]).accepted());
        // What could not be checked is not taken as verified.
        assert!(!report(vec![check(Outcome::Ok(None)), check(Outcome::NotChecked("x".into()))]).accepted());
    }
}
