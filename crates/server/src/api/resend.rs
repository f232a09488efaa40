//! `POST /api/v1/events/{id}/resend`: one stored event, in an envelope of its own, posted
//! once to a URL a person gives (a receiver being tested, a colleague's request bin),
//! through the deliveries' client and address guard. Nothing is queued or retried.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::correlation::parse_body;
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};
use deliver::clock::now_us;
use deliver::request::HttpRequest;

/// The body of `POST /api/v1/events/{id}/resend`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ResendBody {
    /// Where to post it: an `http` or `https` URL. The delivery settings decide whether
    /// private and loopback addresses may be reached (`[delivery] allow_private_targets`).
    url: String,
    /// When given, the body is signed with it as Mist signs (`X-Mist-Signature-v2`,
    /// HMAC-SHA256); never stored or shown.
    secret: Option<String>,
}

/// What the one attempt saw.
#[derive(Serialize, ToSchema)]
pub struct ResendView {
    /// Whether the receiver answered 2xx.
    success: bool,
    /// The receiver's status, if it answered.
    #[schema(required = true)]
    status_code: Option<u16>,
    /// Send to answer, in milliseconds.
    latency_ms: f64,
    /// Why it failed without an answer (refused address, timeout, connection error).
    #[schema(required = true)]
    error: Option<String>,
    /// The start of the answer's body.
    response_body: String,
}

/// Resend an event to a URL
///
/// Posts the event, byte for byte, in an envelope of its own topic
/// (`{"topic": ..., "events": [event]}`) once to `url`, signed when `secret` is given.
#[utoipa::path(
    post,
    path = "/api/v1/events/{id}/resend",
    tag = "log",
    params(("id" = i64, Path, description = "The event's id.")),
    request_body(content = ResendBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Sent; what the receiver answered (a refusal by the receiver is still a 200 here, with `success` false).", body = ResendView),
        (status = 400, description = "`malformed_json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no event with that id.", body = ErrorBody),
        (status = 422, description = "`invalid_body`: the body is not an object, or `url` is missing or not an http(s) URL, or `secret` is not a string.", body = ErrorBody),
        (status = 503, description = "`delivery_unavailable` or `store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn resend(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ResendView>, ApiError> {
    let invalid = |detail: &str| ApiError::InvalidBody {
        detail: detail.into(),
    };
    let Value::Object(fields) = parse_body(&body)? else {
        return Err(invalid("the body must be an object"));
    };
    let url = match fields.get("url") {
        Some(Value::String(u)) if u.starts_with("http://") || u.starts_with("https://") => u,
        _ => return Err(invalid("`url` must be an http or https URL")),
    };
    let secret = match fields.get("secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_bytes()),
        Some(Value::String(_)) => None,
        Some(_) => return Err(invalid("`secret` must be a string")),
    };
    let engine = app.delivery.as_ref().ok_or(ApiError::DeliveryUnavailable)?;
    let event = match id.parse::<i64>() {
        Ok(n) => app.store.event(n).await?,
        Err(_) => None,
    }
    .ok_or_else(|| ApiError::NotFound(format!("no event with id `{id}`")))?;
    let envelope = mist::write_envelope(&event.topic, [&event.raw]);
    let mut request = HttpRequest::post_json(url, envelope.clone());
    if let Some(secret) = secret {
        request.headers.push((
            mist::SIGNATURE_V2_HEADER.to_string(),
            mist::sign_v2(secret, &envelope),
        ));
    }
    let exchange = engine.send_once(&request, now_us()).await;
    let status = exchange.status_code;
    Ok(Json(ResendView {
        success: status.is_some_and(|s| StatusCode::from_u16(s).is_ok_and(|s| s.is_success())),
        status_code: status,
        latency_ms: exchange.latency.as_secs_f64() * 1_000.0,
        error: exchange.error,
        response_body: exchange.response_body,
    }))
}
