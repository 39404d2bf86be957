//! The dashboard's static files, built into the binary: htmx (vendored from the npm
//! package `htmx.org`, licence header kept), one stylesheet, one small script (local
//! times, copy buttons) and the icon.
//! Their URLs carry a hash of the content, so browsers may cache them for a year.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;

use super::page::UiError;
use crate::problem::ApiError;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: [Asset; 4] = [
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/htmx.min.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/app.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../assets/icon.svg"),
    },
];

/// `/ui/assets/<name>?v=<hash>` for each asset.
static URLS: LazyLock<Vec<(&'static str, &'static str)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let hash = crate::auth::sha256(asset.bytes);
            let version: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
            let url: &'static str = Box::leak(format!("/ui/assets/{}?v={version}", asset.name).into_boxed_str());
            (asset.name, url)
        })
        .collect()
});

pub fn url(name: &str) -> &'static str {
    URLS.iter().find(|(n, _)| *n == name).map_or("", |(_, url)| url)
}

pub async fn serve(Path(name): Path<String>) -> Result<Response, UiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or(UiError::Api(ApiError::NotFound("file")))?;
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}
