//! The public tracking endpoints a sent e-mail points at: the open pixel and click
//! redirects. They need no key: the token's MAC proves it (see `crate::tracking`).

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use postbode_core::mail::{MailEvent, Visit};
use postbode_store::MailRequest;
use std::net::{IpAddr, SocketAddr};

use crate::extract::ApiPath;
use crate::problem::ApiError;
use crate::state::AppState;

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];
/// Header values longer than this are cut, so a request cannot bloat an event.
const MAX_HEADER_TEXT: usize = 1024;

/// Every open is answered with the pixel, whatever the token: a mail client shows no
/// broken image, and a prober learns nothing about which tokens are genuine.
#[utoipa::path(get, path = "/t/o/{token}", operation_id = "trackOpen", tag = "tracking", security(()), params(("token" = String, Path)), responses((status = 200, body = Vec<u8>, content_type = "image/gif", description = "a 1×1 GIF, whatever the token")))]
pub async fn open(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    token: Result<ApiPath<String>, ApiError>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    // A token that cannot even be decoded is just another unknown token.
    let token = token.map(|ApiPath(token)| token).unwrap_or_default();
    let genuine = state.tracking.open(&token);
    crate::telemetry::tracking_hit("open", genuine.is_some());
    // Link scanners and prefetchers send HEAD; only a GET is someone opening the mail.
    if let Some(message_id) = genuine.filter(|_| method == Method::GET) {
        let visit = visit(&state, peer.ip(), &headers);
        record(&state, &message_id, MailEvent::Open(visit)).await;
    }
    let mut response = (StatusCode::OK, PIXEL).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/gif"));
    no_cache(headers);
    response
}

/// A genuine click token redirects to the destination it was made for; any other is a
/// 404, never a redirect.
#[utoipa::path(get, path = "/t/c/{token}", operation_id = "trackClick", tag = "tracking", security(()), params(("token" = String, Path)), responses((status = 302, description = "to the link's destination"), (status = 404, body = crate::openapi::Problem, content_type = "application/problem+json", description = "not a genuine click token")))]
pub async fn click(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    token: Result<ApiPath<String>, ApiError>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let token = token.map(|ApiPath(token)| token).unwrap_or_default();
    let genuine = state.tracking.click(&token);
    crate::telemetry::tracking_hit("click", genuine.is_some());
    let Some((message_id, url)) = genuine else {
        return ApiError::NotFound("link").into_response();
    };
    let Ok(location) = HeaderValue::from_str(&url) else {
        return ApiError::NotFound("link").into_response();
    };
    if method == Method::GET {
        let visit = visit(&state, peer.ip(), &headers);
        record(&state, &message_id, MailEvent::Click { visit, original: url }).await;
    }
    let mut response = StatusCode::FOUND.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    no_cache(response.headers_mut());
    response
}

fn no_cache(headers: &mut HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::EXPIRES, HeaderValue::from_static("0"));
}

/// Commits the event before the answer, so a tracked open is never lost; a message
/// that is gone makes no event. A store error is logged, and the visitor still gets
/// the pixel or the redirect.
async fn record(state: &AppState, message_id: &str, event: MailEvent) {
    let kind = event.event_type();
    let now: DateTime<Utc> = state.clock.now();
    let request = MailRequest {
        account_id: None,
        message_id: message_id.to_owned(),
        event,
        now,
        require_verification: state.require_verification,
    };
    match state.store.mail_event(request).await {
        Ok(Some(_)) => crate::telemetry::events_accepted(kind, 1),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, message = message_id, "recording a tracked {kind}"),
    }
}

fn visit(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> Visit {
    let text = |name: header::HeaderName| {
        headers.get(name).map(|v| {
            let s = String::from_utf8_lossy(v.as_bytes());
            s.chars().take(MAX_HEADER_TEXT).collect::<String>()
        })
    };
    Visit {
        ip: client_ip(peer, headers, &state.settings.trusted_proxies).to_string(),
        useragent: text(header::USER_AGENT),
        referer: text(header::REFERER),
    }
}

/// The connection's address, unless it is a trusted proxy: then `X-Forwarded-For` is
/// walked from the right (the entry the nearest proxy wrote) for as long as the address
/// reached is itself a trusted proxy. An entry that is not an address ends the walk, so
/// what a client wrote further left is never believed.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        if !is_trusted(&client) {
            break;
        }
        let parsed = entry
            .parse::<IpAddr>()
            .ok()
            .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()));
        match parsed {
            Some(ip) => client = ip,
            None => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 192.0.2.7, 10.1.1.1"),
        );
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &headers, &trusted),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(stranger, &headers, &trusted), stranger);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_ip(proxy, &headers, &[]), proxy);
        // A garbled entry the proxy chain wrote stops the walk before the client's own.
        let mut forged = HeaderMap::new();
        forged.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, not-an-ip, 10.1.1.1"),
        );
        assert_eq!(
            client_ip(proxy, &forged, &trusted),
            "10.1.1.1".parse::<IpAddr>().unwrap()
        );
        let mut with_port = HeaderMap::new();
        with_port.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.9:4444"));
        assert_eq!(
            client_ip(proxy, &with_port, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }
}
