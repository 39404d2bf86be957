//! The one outbound HTTP client: webhook calls and verification-file downloads.
//!
//! Every call is a single request with no redirects, over HTTP/1.1 (the signed `Host`
//! header must be what goes on the wire), through the SSRF guard, bounded in time
//! and in how much of the response is read. A call never fails with a Rust error:
//! the outcome, good or bad, is recorded as an attempt.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, header::RETRY_AFTER};
use url::{Host, Url};

use crate::ssrf::{BlockedAddress, GuardedResolver};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// Covers connecting, sending and reading the (capped) response body.
    pub total_timeout: Duration,
    pub max_response_bytes: usize,
    pub allow_private_targets: bool,
    /// Explicit egress proxy URL; never taken from the environment.
    pub proxy: Option<String>,
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
            max_response_bytes: 64 * 1024,
            allow_private_targets: false,
            proxy: None,
            user_agent: format!("Postbode/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Errors building the client; calls themselves report a [`CallError`].
#[derive(thiserror::Error, Debug)]
pub enum HttpError {
    /// The reason never includes the URL, which may carry proxy credentials.
    #[error("invalid egress proxy URL: {0}")]
    InvalidProxy(String),
    #[error("invalid User-Agent value")]
    InvalidUserAgent,
    #[error("cannot build the HTTP client")]
    Build(#[source] reqwest::Error),
}

#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Overrides [`HttpSettings::max_response_bytes`].
    pub max_response_bytes: Option<usize>,
    /// Overrides [`HttpSettings::total_timeout`].
    pub timeout: Option<Duration>,
}

impl OutboundRequest {
    /// A request without headers or body, using the client's limits.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            max_response_bytes: None,
            timeout: None,
        }
    }
}

#[derive(Debug)]
pub struct CallOutcome {
    pub started_at: SystemTime,
    pub duration: Duration,
    pub result: Result<CallResponse, CallError>,
}

#[derive(Debug, Clone)]
pub struct CallResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// At most the response size cap; reading stops there.
    pub body: Bytes,
    pub truncated: bool,
    /// From `Retry-After` (delta-seconds or HTTP-date), relative to when the response
    /// headers arrived.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CallError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl StdError for CallError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Timeout,
    Connect,
    Dns,
    Tls,
    Blocked,
    InvalidUrl,
    Body,
    Other,
}

impl ErrorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::Blocked => "blocked",
            Self::InvalidUrl => "invalid_url",
            Self::Body => "body",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    /// Sent on every request unless it sets them itself: `User-Agent` and `Accept`.
    default_headers: HeaderMap,
    total_timeout: Duration,
    max_response_bytes: usize,
    allow_private_targets: bool,
}

impl HttpClient {
    pub fn new(settings: HttpSettings) -> Result<Self, HttpError> {
        let user_agent = HeaderValue::from_str(&settings.user_agent).map_err(|_| HttpError::InvalidUserAgent)?;
        let mut default_headers = HeaderMap::new();
        default_headers.insert(http::header::USER_AGENT, user_agent);
        default_headers.insert(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        let mut resolver = GuardedResolver::new(settings.allow_private_targets);
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .http1_only()
            .connect_timeout(settings.connect_timeout)
            .default_headers(default_headers.clone());
        if let Some(proxy) = &settings.proxy {
            let parsed = Url::parse(proxy).map_err(|e| HttpError::InvalidProxy(e.to_string()))?;
            if let Some(Host::Domain(host)) = parsed.host() {
                resolver = resolver.exempting(host);
            }
            let proxy =
                reqwest::Proxy::all(parsed).map_err(|e| HttpError::InvalidProxy(error_chain(&e.without_url())))?;
            builder = builder.proxy(proxy);
        }
        let client = builder.dns_resolver(resolver).build().map_err(HttpError::Build)?;
        Ok(Self {
            client,
            default_headers,
            total_timeout: settings.total_timeout,
            max_response_bytes: settings.max_response_bytes,
            allow_private_targets: settings.allow_private_targets,
        })
    }

    /// The headers `request` goes out with: its own, then the client's defaults it does
    /// not set.
    pub fn wire_headers<'a>(
        &'a self,
        request: &'a OutboundRequest,
    ) -> impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)> {
        request.headers.iter().chain(
            self.default_headers
                .iter()
                .filter(|(name, _)| !request.headers.contains_key(*name)),
        )
    }

    /// One request; never follows redirects; HTTP/1.1 only; no proxy from the
    /// environment; keeps connections alive.
    pub async fn send(&self, request: OutboundRequest) -> CallOutcome {
        let started_at = SystemTime::now();
        let start = Instant::now();
        let limit = request.timeout.unwrap_or(self.total_timeout);
        // One deadline around everything, so a receiver that sends headers and then
        // trickles or stalls the body cannot hold a worker beyond it.
        let result = match tokio::time::timeout(limit, self.call(request)).await {
            Ok(result) => result,
            Err(_) => Err(CallError::new(
                ErrorKind::Timeout,
                format!("no complete response within {} ms", limit.as_millis()),
            )),
        };
        CallOutcome {
            started_at,
            duration: start.elapsed(),
            result,
        }
    }

    async fn call(&self, request: OutboundRequest) -> Result<CallResponse, CallError> {
        self.check_url(&request.url)?;
        let max = request.max_response_bytes.unwrap_or(self.max_response_bytes);
        let mut response = self
            .client
            .request(request.method, request.url)
            .headers(request.headers)
            .body(request.body)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let (body, truncated) = read_capped(&mut response, max).await?;
        Ok(CallResponse {
            status,
            headers,
            body,
            truncated,
            retry_after,
        })
    }

    fn check_url(&self, url: &Url) -> Result<(), CallError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(CallError::new(
                ErrorKind::InvalidUrl,
                format!("unsupported scheme {:?}; only http and https", url.scheme()),
            ));
        }
        let ip = match url.host() {
            None => return Err(CallError::new(ErrorKind::InvalidUrl, "URL has no host")),
            Some(Host::Domain(_)) => return Ok(()),
            Some(Host::Ipv4(ip)) => ip.into(),
            Some(Host::Ipv6(ip)) => ip.into(),
        };
        // Literal addresses bypass the resolver, so the guard is applied here.
        if !self.allow_private_targets && postbode_core::address::is_non_public(ip) {
            let blocked = BlockedAddress {
                host: ip.to_string(),
                addrs: vec![ip],
            };
            return Err(CallError::new(ErrorKind::Blocked, blocked.to_string()));
        }
        Ok(())
    }
}

async fn read_capped(response: &mut reqwest::Response, max: usize) -> Result<(Bytes, bool), CallError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| CallError::new(ErrorKind::Body, error_chain(&e.without_url())))?
    {
        let room = max - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body.freeze(), true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body.freeze(), false))
}

fn classify(err: reqwest::Error) -> CallError {
    let err = err.without_url();
    if let Some(blocked) = find_source::<BlockedAddress>(&err) {
        return CallError::new(ErrorKind::Blocked, blocked.to_string());
    }
    // Order matters: a resolver failure is an io::Error inside a connect error, and a
    // TLS failure is a rustls error inside an io::Error inside a connect error.
    let kind = if err.is_timeout() {
        ErrorKind::Timeout
    } else if err.is_dns() {
        ErrorKind::Dns
    } else if find_source::<rustls::Error>(&err).is_some() {
        ErrorKind::Tls
    } else if err.is_connect() || find_source::<io::Error>(&err).is_some() {
        ErrorKind::Connect
    } else if err.is_body() || err.is_decode() {
        ErrorKind::Body
    } else {
        ErrorKind::Other
    };
    CallError::new(kind, error_chain(&err))
}

/// Finds an error of type `T` in the source chain.
fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        // io::Error::source() skips the error it wraps (its source is the wrapped
        // error's source), and that is where rustls and resolver errors live.
        current = match err.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
    }
    None
}

/// "outer: cause: root cause", the form stored with an attempt.
fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut message = err.to_string();
    let mut current = err.source();
    while let Some(err) = current {
        let text = err.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        current = err.source();
    }
    message
}

/// Parses a `Retry-After` value (delta-seconds or HTTP-date) into a delay from `now`.
/// A date in the past means "now" (zero); anything unparsable is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::get;
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn start_receiver() -> SocketAddr {
        async fn big() -> Vec<u8> {
            vec![b'x'; 200 * 1024]
        }
        async fn stall_headers() -> &'static str {
            std::future::pending::<()>().await;
            "never"
        }
        async fn stall_body() -> impl IntoResponse {
            let first = futures_util::stream::iter([Ok::<_, io::Error>(Bytes::from("partial"))]);
            let stream = futures_util::StreamExt::chain(first, futures_util::stream::pending());
            Body::from_stream(stream)
        }
        async fn hello(headers: http::HeaderMap) -> impl IntoResponse {
            let ua = headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            ([(RETRY_AFTER, "120")], ua)
        }
        let app = Router::new()
            .route("/big", get(big))
            .route("/redirect", get(|| async { Redirect::to("/big") }))
            .route("/stall-headers", get(stall_headers))
            .route("/stall-body", get(stall_body))
            .route("/hello", get(hello));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    fn client(allow_private: bool) -> HttpClient {
        HttpClient::new(HttpSettings {
            allow_private_targets: allow_private,
            total_timeout: Duration::from_millis(200),
            ..HttpSettings::default()
        })
        .unwrap()
    }

    async fn get_url(client: &HttpClient, url: &str) -> Result<CallResponse, CallError> {
        let request = OutboundRequest::new(Method::GET, Url::parse(url).unwrap());
        client.send(request).await.result
    }

    fn kind(result: Result<CallResponse, CallError>) -> ErrorKind {
        match result {
            Ok(response) => panic!("expected an error, got status {}", response.status),
            Err(err) => err.kind,
        }
    }

    #[tokio::test]
    async fn body_is_capped() {
        let addr = start_receiver().await;
        let response = get_url(&client(true), &format!("http://{addr}/big")).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body.len(), 64 * 1024);
        assert!(response.truncated);

        let mut request = OutboundRequest::new(Method::GET, Url::parse(&format!("http://{addr}/big")).unwrap());
        request.max_response_bytes = Some(300 * 1024);
        let response = client(true).send(request).await.result.unwrap();
        assert_eq!(response.body.len(), 200 * 1024);
        assert!(!response.truncated);
    }

    #[tokio::test]
    async fn redirect_is_returned_not_followed() {
        let addr = start_receiver().await;
        let response = get_url(&client(true), &format!("http://{addr}/redirect"))
            .await
            .unwrap();
        assert_eq!(response.status, 303);
        assert_eq!(response.headers[http::header::LOCATION], "/big");
        assert!(response.body.is_empty());
    }

    #[tokio::test]
    async fn stalled_receiver_times_out() {
        let addr = start_receiver().await;
        let client = client(true);
        for path in ["stall-headers", "stall-body"] {
            let result = get_url(&client, &format!("http://{addr}/{path}")).await;
            assert_eq!(kind(result), ErrorKind::Timeout, "{path}");
        }
    }

    #[tokio::test]
    async fn refused_port_is_connect() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let result = get_url(&client(true), &format!("http://{addr}/")).await;
        assert_eq!(kind(result), ErrorKind::Connect);
    }

    #[tokio::test]
    async fn private_literal_is_blocked() {
        let addr = start_receiver().await;
        let client = client(false);
        for url in [
            format!("http://{addr}/hello"),
            format!("http://[::ffff:127.0.0.1]:{}/hello", addr.port()),
            "http://169.254.169.254/latest/meta-data/".to_owned(),
        ] {
            assert_eq!(kind(get_url(&client, &url).await), ErrorKind::Blocked, "{url}");
        }
    }

    #[tokio::test]
    async fn private_name_is_blocked_unless_allowed() {
        let addr = start_receiver().await;
        let url = format!("http://localhost:{}/hello", addr.port());
        let err = get_url(&client(false), &url).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Blocked, "{err}");
        assert!(err.message.contains("localhost"), "{err}");

        let response = get_url(&client(true), &url).await.unwrap();
        assert_eq!(response.status, 200);
        let expected = format!("Postbode/{}", env!("CARGO_PKG_VERSION"));
        assert_eq!(response.body, expected.as_bytes());
        assert_eq!(response.retry_after, Some(Duration::from_secs(120)));
    }

    #[tokio::test]
    async fn tls_failure_is_tls() {
        // Answers a ClientHello with plain text, which rustls rejects.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            std::future::pending::<()>().await;
        });
        let result = get_url(&client(true), &format!("https://{addr}/")).await;
        assert_eq!(kind(result), ErrorKind::Tls);
    }

    #[tokio::test]
    async fn unsupported_urls_are_invalid() {
        let client = client(false);
        for url in ["ftp://example.com/file", "file:///etc/passwd", "data:text/plain,hi"] {
            assert_eq!(kind(get_url(&client, url).await), ErrorKind::InvalidUrl, "{url}");
        }
    }

    #[test]
    fn settings_are_validated() {
        let bad_proxy = HttpSettings {
            proxy: Some("not a url".to_owned()),
            ..HttpSettings::default()
        };
        assert!(matches!(HttpClient::new(bad_proxy), Err(HttpError::InvalidProxy(_))));
        let bad_agent = HttpSettings {
            user_agent: "bad\nagent".to_owned(),
            ..HttpSettings::default()
        };
        assert!(matches!(HttpClient::new(bad_agent), Err(HttpError::InvalidUserAgent)));
        let proxied = HttpSettings {
            proxy: Some("http://egress.internal:3128".to_owned()),
            ..HttpSettings::default()
        };
        assert!(HttpClient::new(proxied).is_ok());
    }

    #[test]
    fn retry_after_values() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let in_90s = httpdate::fmt_http_date(now + Duration::from_secs(90));
        let ago_90s = httpdate::fmt_http_date(now - Duration::from_secs(90));
        let table: &[(&str, Option<Duration>)] = &[
            ("120", Some(Duration::from_secs(120))),
            (" 0 ", Some(Duration::ZERO)),
            (&in_90s, Some(Duration::from_secs(90))),
            (&ago_90s, Some(Duration::ZERO)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(Duration::ZERO)),
            ("", None),
            ("-5", None),
            ("+5", None),
            ("1.5", None),
            ("soon", None),
            ("99999999999999999999999", None),
        ];
        for &(value, expected) in table {
            assert_eq!(parse_retry_after(value, now), expected, "{value:?}");
        }
    }
}
