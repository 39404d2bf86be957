//! `postbode listen`: a local receiver for people developing their endpoint. It prints
//! every call readably, with the result of each signature scheme (the checks of
//! [`super::verify::Checker`]), and answers itself or forwards the call to the endpoint
//! being developed.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

use super::verify::{CheckArgs, Checker};

/// Postbode's bodies are far smaller; this only keeps a stray upload from eating memory.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Headers that belong to one connection, not to the call, so they are not forwarded.
const HOP_BY_HOP: [&str; 9] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

#[derive(clap::Args, Debug)]
pub struct ListenArgs {
    /// The port to listen on; 0 picks a free one (the first line printed says which).
    #[arg(long, default_value_t = 9000)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Also send every call to this URL and answer with that answer's status and body.
    /// A URL whose path ends in `/` is a base the call's path is appended to
    /// (`http://127.0.0.1:8000/` or `http://127.0.0.1:8000/dev/`); any other is taken as
    /// given (`http://127.0.0.1:8000/hook.php`), with the call's query string when it has
    /// none. Every header but Host is passed on, plus X-Forwarded-Host and X-Forwarded-Uri
    /// with the original Host and path, which `http-signature` and `rfc9421` sign.
    #[arg(long, value_name = "URL")]
    pub forward: Option<String>,
    /// The status to answer with when not forwarding.
    #[arg(long, value_name = "CODE", default_value_t = 204, value_parser = clap::value_parser!(u16).range(200..600))]
    pub status: u16,
    /// The scheme Postbode called, part of what `rfc9421` signs (`@target-uri`): https when
    /// a TLS tunnel or proxy sits in front of this listener.
    #[arg(long, default_value = "http", value_parser = ["http", "https"])]
    pub scheme: String,
    #[command(flatten)]
    pub check: CheckArgs,
}

struct Listener {
    checker: Checker,
    forward: Option<Forward>,
    status: StatusCode,
    scheme: String,
    http: reqwest::Client,
    /// Numbers the calls, so a forwarded call's answer line can be matched with its block.
    calls: AtomicU64,
}

pub async fn run(args: ListenArgs) -> anyhow::Result<()> {
    let forward = match &args.forward {
        Some(given) => {
            let url = url::Url::parse(given).with_context(|| format!("--forward: {given:?} is not a URL"))?;
            if !matches!(url.scheme(), "http" | "https") {
                bail!("--forward: {given:?} is not an http or https URL");
            }
            Some(Forward(url))
        }
        None => None,
    };
    let checker = Checker::new(&args.check, true).await?;
    let http = reqwest::Client::builder()
        // The developer's endpoint answers; its redirects are part of that answer.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let status = StatusCode::from_u16(args.status).context("--status")?;
    let listener = TcpListener::bind(SocketAddr::new(args.bind, args.port))
        .await
        .with_context(|| format!("listening on {}:{}", args.bind, args.port))?;
    let address = listener.local_addr().context("reading the address listened on")?;
    print_block(&format!("Listening on http://{address}\n"));
    if !checker.has_secrets() {
        eprintln!("note: no --secret: standard-webhooks calls cannot be checked");
    }
    if !checker.has_keys() {
        eprintln!("note: no --keys or --keys-file: http-signature and rfc9421 calls cannot be checked");
    }
    let shared = Arc::new(Listener {
        checker,
        forward,
        status,
        scheme: args.scheme,
        http,
        calls: AtomicU64::new(0),
    });
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Usually out of file descriptors: wait for some to be freed, keep serving.
                eprintln!("accepting a connection: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(shared.handle(request, peer).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection from {peer}: {error}");
            }
        });
    }
}

impl Listener {
    async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let number = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let (parts, body) = request.into_parts();
        let target = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
        let mut block = String::new();
        let _ = writeln!(
            block,
            "#{number} {} {} {target} from {peer}",
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f UTC"),
            parts.method
        );
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                let _ = writeln!(block, "  could not read the body: {error}");
                let _ = writeln!(block, "#{number} answered 400 Bad Request\n");
                print_block(&block);
                return text_response(StatusCode::BAD_REQUEST, format!("could not read the body: {error}\n"));
            }
        };

        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        for (name, value) in &headers {
            if name.starts_with("x-postbode-") || name == "content-type" {
                let _ = writeln!(block, "  {}: {value}", display_name(name));
            }
        }
        let header_refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let signed = postbode_signature::Request {
            method: parts.method.as_str(),
            target: &target,
            headers: &header_refs,
            body: &body,
        };
        let report = self
            .checker
            .check(&signed, &self.scheme, chrono::Utc::now().timestamp())
            .await;
        for line in report.lines() {
            let _ = writeln!(block, "  {line}");
        }
        for warning in &report.warnings {
            let _ = writeln!(block, "  warning: {warning}");
        }
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        block.push_str(&describe_body(content_type, &body));

        let Some(forward) = &self.forward else {
            let _ = writeln!(block, "#{number} answered {}\n", self.status);
            print_block(&block);
            return text_response(self.status, String::new());
        };
        let url = forward.url_for(&target);
        // The call is shown now, before the endpoint answers: a hanging endpoint is one
        // of the things a developer needs to see.
        let _ = writeln!(block, "  forwarding to {url}");
        print_block(&block);
        let started = Instant::now();
        match self.forward(&url, &target, parts.method, &parts.headers, body).await {
            Ok(response) => {
                print_block(&format!(
                    "#{number} answered {} from {url} ({} ms)\n\n",
                    response.status(),
                    started.elapsed().as_millis()
                ));
                response
            }
            Err(error) => {
                print_block(&format!(
                    "#{number} answered 502 Bad Gateway: forwarding failed: {error:#}\n\n"
                ));
                text_response(
                    StatusCode::BAD_GATEWAY,
                    format!("forwarding to {url} failed: {error:#}\n"),
                )
            }
        }
    }

    async fn forward(
        &self,
        url: &str,
        target: &str,
        method: hyper::Method,
        headers: &HeaderMap,
        body: Bytes,
    ) -> anyhow::Result<Response<Full<Bytes>>> {
        let mut outgoing = HeaderMap::with_capacity(headers.len() + 2);
        for (name, value) in headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                outgoing.append(name.clone(), value.clone());
            }
        }
        if let Some(host) = headers.get(header::HOST) {
            outgoing.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
        }
        if let Ok(target) = HeaderValue::from_str(target) {
            outgoing.insert(HeaderName::from_static("x-forwarded-uri"), target);
        }
        let response = self
            .http
            .request(method, url)
            .headers(outgoing)
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let body = response.bytes().await.context("reading the answer")?;
        let mut answer = Response::new(Full::new(body));
        *answer.status_mut() = status;
        if let Some(content_type) = content_type {
            answer.headers_mut().insert(header::CONTENT_TYPE, content_type);
        }
        Ok(answer)
    }
}

/// Where `--forward` sends a call.
struct Forward(url::Url);

impl Forward {
    /// A base (its path ends in `/`) gets the call's path and query appended; any other
    /// URL is the endpoint itself, given the call's query when it has none of its own.
    fn url_for(&self, target: &str) -> String {
        let given = self.0.as_str();
        if self.0.path().ends_with('/') && self.0.query().is_none() {
            return format!("{}{target}", given.trim_end_matches('/'));
        }
        match target.split_once('?') {
            Some((_, query)) if self.0.query().is_none() => format!("{given}?{query}"),
            _ => given.to_owned(),
        }
    }
}

fn text_response(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let empty = text.is_empty();
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    if !empty {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    response
}

/// `x-postbode-delivery` → `X-Postbode-Delivery`: hyper lower-cases names, people read
/// them capitalised.
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The body, indented: JSON pretty-printed, a form as its decoded pairs, else the text.
fn describe_body(content_type: &str, body: &[u8]) -> String {
    if body.is_empty() {
        return "  (empty body)\n".to_owned();
    }
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let text = if media_type == "application/x-www-form-urlencoded" {
        url::form_urlencoded::parse(body)
            .map(|(name, value)| format!("{name} = {value}"))
            .collect::<Vec<_>>()
            .join("\n")
    } else if let Some(pretty) = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
    {
        pretty
    } else {
        match std::str::from_utf8(body) {
            Ok(text) => text.to_owned(),
            Err(_) => format!("({} bytes, not UTF-8)", body.len()),
        }
    };
    let mut out = String::new();
    for line in text.lines() {
        let _ = writeln!(out, "  | {line}");
    }
    out
}

/// Writes a whole block at once, so concurrent calls do not interleave their lines, and
/// flushes it, so a script reading a pipe sees it now.
fn print_block(block: &str) {
    let mut out = std::io::stdout().lock();
    // Nobody is left to tell when stdout is gone; the listener keeps answering.
    let _ = out.write_all(block.as_bytes());
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_json_pretty_forms_as_pairs_and_names_capitalised() {
        assert_eq!(
            describe_body("application/json", br#"{"type":"open","id":1}"#),
            "  | {\n  |   \"type\": \"open\",\n  |   \"id\": 1\n  | }\n"
        );
        assert_eq!(
            describe_body(
                "application/x-www-form-urlencoded; charset=utf-8",
                b"fields%5Bname%5D=Piet+J&tags[]=a"
            ),
            "  | fields[name] = Piet J\n  | tags[] = a\n"
        );
        assert_eq!(describe_body("application/xml", b"<event/>"), "  | <event/>\n");
        assert_eq!(describe_body("", b""), "  (empty body)\n");
        assert_eq!(display_name("x-postbode-delivery"), "X-Postbode-Delivery");
    }

    #[test]
    fn a_forward_url_is_a_base_when_it_ends_in_a_slash_and_the_endpoint_otherwise() {
        let to = |given: &str, target: &str| Forward(url::Url::parse(given).unwrap()).url_for(target);
        assert_eq!(
            to("http://127.0.0.1:8000/hook.php", "/hooks/postbode.php"),
            "http://127.0.0.1:8000/hook.php"
        );
        assert_eq!(
            to("http://127.0.0.1:8000/hook.php", "/h?src=pb"),
            "http://127.0.0.1:8000/hook.php?src=pb"
        );
        assert_eq!(
            to("http://127.0.0.1:8000/hook.php?a=1", "/h?src=pb"),
            "http://127.0.0.1:8000/hook.php?a=1"
        );
        assert_eq!(
            to("http://127.0.0.1:8000", "/h?src=pb"),
            "http://127.0.0.1:8000/h?src=pb"
        );
        assert_eq!(to("http://127.0.0.1:8000/dev/", "/h"), "http://127.0.0.1:8000/dev/h");
    }
}
