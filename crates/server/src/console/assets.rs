//! The console's stylesheet, script and icon, compiled into the binary. They need no
//! session (they hold no data), are revalidated by ETag, and are the only scripts and
//! styles a console page may load (see the Content-Security-Policy in `mod.rs`).

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
    etag: String,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        (
            "console.css",
            "text/css; charset=utf-8",
            include_str!("../../console/assets/console.css"),
        ),
        (
            "console.js",
            "text/javascript; charset=utf-8",
            include_str!("../../console/assets/console.js"),
        ),
        (
            "icon.svg",
            "image/svg+xml",
            include_str!("../../console/assets/icon.svg"),
        ),
    ]
    .into_iter()
    .map(|(name, content_type, body)| Asset {
        name,
        content_type,
        body,
        etag: format!(
            "\"{}\"",
            hex::encode(&Sha256::digest(body.as_bytes())[..12])
        ),
    })
    .collect()
});

/// `GET /ui/assets/{file}`.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let etag = HeaderValue::from_str(&asset.etag).expect("a hex ETag is a header value");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == asset.etag.as_bytes());
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::ETAG, etag);
    response
}
