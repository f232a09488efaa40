//! `POST /ingest/{source}`: verify, parse, split, normalise, fingerprint, then answer
//! only once the store has committed the request.
//!
//! The checks run in a fixed order, each with its own answer: unknown source 404, an
//! address the source's `allow_ips` do not list 403 (before the body is read), body
//! over the limit 413, content type not JSON 415, signature 401, not JSON 400, not an
//! envelope 422. 400 and 422 bodies go to the quarantine first; a 401 body is never
//! stored (only counted and logged, without the secret).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use mist::{EnvelopeError, Topic};
use serde::Serialize;
use store::{NewEvent, NewQuarantine, NewRequest, Verdict};

use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::peer::Client;
use crate::sources::Source;
use deliver::clock::now_us;

/// The answer to an accepted request: sent only after the request is committed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestAnswer {
    /// The request's id in the log (`GET /api/v1/requests/{id}`).
    pub request_id: i64,
    /// Events stored as new.
    pub accepted: u32,
    /// Events that repeated one already stored within the duplicate window (not stored again).
    pub duplicates: u32,
}

/// The signature headers of `POST /ingest/{source}` (for the OpenAPI document only: the
/// handler reads them from the header map).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct SignatureHeaders {
    /// Lowercase hex HMAC-SHA256 of the raw body with one of the source's secrets.
    /// Required when the source has a secret; when present, it is the one checked.
    #[param(rename = "X-Mist-Signature-v2", nullable = false)]
    v2: Option<String>,
    /// Hex HMAC-SHA1 of the raw body, checked only when `X-Mist-Signature-v2` is absent and
    /// only accepted where the source sets `accept_v1_signature`.
    #[param(rename = "X-Mist-Signature", nullable = false)]
    v1: Option<String>,
}

// For the OpenAPI document only: the body is parsed by `mist::parse_envelope`.
/// A Mist webhook envelope: `{"topic": ..., "events": [...]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MistEnvelope {
    /// The topic, in any spelling (`device-events`, `device_events`); unknown topics are kept.
    /// Not blank: it has a character other than Unicode white space.
    #[schema(
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    topic: String,
    /// The events, each a JSON object as Mist defines it for the topic; may be empty.
    #[schema(value_type = Vec<Object>)]
    events: Vec<serde_json::Value>,
}

/// Headers kept with a request (never credentials such as `authorization` or cookies).
const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "user-agent",
    "x-mist-signature-v2",
    "x-mist-signature",
    "x-forwarded-for",
    "x-real-ip",
    "x-request-id",
];

/// Receive a Mist webhook
///
/// Checks, in this order: the source exists (404), the body is within the size limit
/// (413), the content type is JSON or absent (415), the signature (401), the body is
/// JSON (400) and a Mist envelope (422). A 400 or 422 body is kept in quarantine; a 401
/// body is never stored. A 200 answer means the request is committed to disk.
#[utoipa::path(
    post,
    path = "/ingest/{source}",
    tag = "ingest",
    params(
        ("source" = String, Path, description = "The configured source's name (`default` without a config file)."),
        SignatureHeaders,
    ),
    request_body(content = MistEnvelope, content_type = "application/json", description = "The webhook body exactly as Mist sends it."),
    responses(
        (status = 200, description = "Committed.", body = IngestAnswer),
        (status = 400, description = "`malformed_json` (kept in quarantine, `quarantine_id` set) or `body_read_error`.", body = ErrorBody),
        (status = 401, description = "`missing_signature` or `invalid_signature`.", body = ErrorBody),
        (status = 403, description = "`forbidden_address`: the source's `allow_ips` do not list the client's address (checked before the body is read).", body = ErrorBody),
        (status = 404, description = "`unknown_source`.", body = ErrorBody),
        (status = 408, description = "`request_timeout`: the request was not complete and answered in time.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the content type is not JSON.", body = ErrorBody),
        (status = 422, description = "`invalid_envelope`: JSON but not `{\"topic\", \"events\"}` (kept in quarantine, `quarantine_id` set).", body = ErrorBody),
        (status = 503, description = "`disk_full` (the data dir's filesystem is full; `Retry-After: 30`) or `store_unavailable` (`Retry-After: 5`): nothing was stored.", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before sending again."))),
    )
)]
pub async fn ingest(
    State(app): State<Arc<AppState>>,
    Path(source): Path<String>,
    client: Client,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestAnswer>, ApiError> {
    let started = Instant::now();
    let Some(src) = app.sources.get(&source) else {
        count("unknown", "unknown_source");
        return Err(ApiError::UnknownSource(source));
    };
    // Before a byte of the body is read: an address the source does not allow gets
    // nothing stored and no work done.
    if let Some(allow) = &src.allow
        && !client.0.is_some_and(|ip| allow.contains(ip))
    {
        count(&source, "forbidden_address");
        if let Some(n) = src.refusals.count(now_us(), REFUSAL_WARNING_EVERY_US) {
            tracing::warn!(source = %source, client = %client.label(), refused = n, "refused a request from an address the source's allow_ips do not list");
        }
        return Err(ApiError::Field {
            status: http::StatusCode::FORBIDDEN,
            code: "forbidden_address",
            detail: format!(
                "source `{source}` does not accept requests from {} (allow_ips)",
                client.label()
            ),
        });
    }
    // A slow sender must not hold a connection and a task forever. If the deadline falls
    // while the store commits, the commit still completes: the sender's retry is then
    // recognised as a duplicate.
    let result = tokio::time::timeout(app.request_timeout, accept(&app, &src, &headers, body))
        .await
        .unwrap_or(Err(ApiError::Timeout(app.request_timeout)));
    match &result {
        Ok(answer) => {
            src.accepted.increment(1);
            app.ack_seconds.record(started.elapsed().as_secs_f64());
            if answer.duplicates > 0 {
                metrics::counter!("mistgate_ingest_duplicate_events_total")
                    .increment(u64::from(answer.duplicates));
            }
        }
        Err(e) => {
            count(&src.name, e.code());
            if matches!(e, ApiError::MissingSignature(_) | ApiError::BadSignature(_))
                && let Some(n) = src.rejection_to_report(now_us(), 10_000_000)
            {
                // Never the secret or the expected value; at most one line per 10 s.
                tracing::warn!(source = %src.name, error = e.code(), rejected = n, "rejected unauthenticated requests");
            }
        }
    }
    result.map(Json)
}

/// At most one warning per source and minute about refused addresses.
const REFUSAL_WARNING_EVERY_US: i64 = 60_000_000;

fn count(source: &str, verdict: &'static str) {
    metrics::counter!("mistgate_ingest_requests_total", "source" => source.to_string(), "verdict" => verdict)
        .increment(1);
}

async fn accept(
    app: &AppState,
    src: &Source,
    headers: &HeaderMap,
    body: Body,
) -> Result<IngestAnswer, ApiError> {
    let limit = app.max_body_bytes;
    // A declared length over the limit is refused before reading a byte of it.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let body = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::BodyRead(e.to_string())
        }
    })?;
    let received_at = now_us();
    if let Some(ct) = headers.get(header::CONTENT_TYPE)
        && !is_json_content_type(ct.as_bytes())
    {
        let shown = String::from_utf8_lossy(ct.as_bytes()).into_owned();
        return Err(ApiError::UnsupportedMediaType(shown));
    }
    let verdict = verify(src, headers, &body)?;
    metrics::counter!("mistgate_ingest_bytes_total").increment(body.len() as u64);

    let mut split = match mist::split(&body) {
        Ok(split) => split,
        Err(e) => return Err(quarantine(app, src, headers, &body, received_at, e).await),
    };
    let claimed = app
        .backfill
        .claim_late_copies(app.store.as_ref(), &body, &mut split)
        .await;
    if let Some(hints) = &app.mist_hints {
        hints.offer(&split);
    }
    let request = to_request(
        &src.name,
        kept_headers(headers),
        body,
        split,
        verdict,
        received_at,
    );
    match append(app, request).await {
        Ok(answer) => Ok(answer),
        Err(e) => {
            // Not stored: the backfilled events these copies matched wait for Mist's retry.
            app.backfill
                .remember_late(app.store.as_ref(), &claimed)
                .await;
            Err(e.into())
        }
    }
}

/// Stores events mistgate read itself (backfill reads them from Mist's API) as one
/// request of `source`, through the same split, normalisation, fingerprints and
/// duplicate window as a webhook: an event already stored is counted as a duplicate.
pub(crate) async fn store_read(
    app: &AppState,
    source: &str,
    body: Bytes,
    verdict: Verdict,
) -> Result<IngestAnswer, store::StoreError> {
    let received_at = now_us();
    let split = mist::split(&body).map_err(|e| {
        store::StoreError::Task(format!("an envelope mistgate wrote does not parse: {e:?}"))
    })?;
    metrics::counter!("mistgate_ingest_bytes_total").increment(body.len() as u64);
    let request = to_request(source, Vec::new(), body, split, verdict, received_at);
    append(app, request).await
}

/// Appends one request and wakes the stages that read new events.
async fn append(app: &AppState, request: NewRequest) -> Result<IngestAnswer, store::StoreError> {
    let topic_label = topic_label(&mist::Topic::parse(&request.topic));
    let events = request.events.len() as u64;
    let received_at = request.received_at;
    let appended = app
        .store
        .append(request, app.dedup_since(received_at))
        .await?;
    metrics::counter!("mistgate_ingest_events_total", "topic" => topic_label).increment(events);
    if appended.accepted > 0 {
        app.stages.wakes().committed(deliver::tail::Log::Events);
    }
    Ok(IngestAnswer {
        request_id: appended.request_id,
        accepted: appended.accepted,
        duplicates: appended.duplicates,
    })
}

/// Metric label for a topic: unknown topics share one label, so that a sender cannot
/// grow the number of time series without bound.
fn topic_label(topic: &Topic) -> &'static str {
    match topic {
        Topic::Other(_) => "other",
        known => Topic::KNOWN
            .iter()
            .find(|t| *t == known)
            .map(|t| t.as_str())
            .unwrap_or("other"),
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// `application/json`, any `+json` type, with any parameters; case-insensitive.
fn is_json_content_type(value: &[u8]) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Checks the request's signature against the source's secrets.
fn verify(src: &Source, headers: &HeaderMap, body: &[u8]) -> Result<Verdict, ApiError> {
    if src.secrets.is_empty() {
        return Ok(Verdict::Unsigned);
    }
    if let Some(sig) = headers.get(mist::SIGNATURE_V2_HEADER) {
        return if src
            .secrets
            .iter()
            .any(|k| mist::verify_v2(k, body, sig.as_bytes()))
        {
            Ok(Verdict::ValidV2)
        } else {
            Err(ApiError::BadSignature(format!(
                "{} does not match the body for any secret of source `{}`",
                mist::SIGNATURE_V2_HEADER,
                src.name
            )))
        };
    }
    match headers.get(mist::SIGNATURE_V1_HEADER) {
        Some(sig) if src.accept_v1 => {
            if src
                .secrets
                .iter()
                .any(|k| mist::verify_v1(k, body, sig.as_bytes()))
            {
                Ok(Verdict::ValidV1)
            } else {
                Err(ApiError::BadSignature(format!(
                    "{} does not match the body for any secret of source `{}`",
                    mist::SIGNATURE_V1_HEADER,
                    src.name
                )))
            }
        }
        Some(_) => Err(ApiError::MissingSignature(format!(
            "source `{}` requires {}; {} (HMAC-SHA1) is not accepted for it",
            src.name,
            mist::SIGNATURE_V2_HEADER,
            mist::SIGNATURE_V1_HEADER
        ))),
        None => Err(ApiError::MissingSignature(format!(
            "source `{}` requires the {} header",
            src.name,
            mist::SIGNATURE_V2_HEADER
        ))),
    }
}

fn kept_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            headers.get(*name).map(|v| {
                (
                    name.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
        })
        .collect()
}

/// Keeps a body that is not a Mist envelope, then builds the error to answer with.
async fn quarantine(
    app: &AppState,
    src: &Source,
    headers: &HeaderMap,
    body: &Bytes,
    received_at: i64,
    error: EnvelopeError,
) -> ApiError {
    let detail = match &error {
        EnvelopeError::Syntax {
            line,
            column,
            message,
        } => {
            format!("the body is not JSON: {message} at line {line} column {column}")
        }
        EnvelopeError::Shape { detail } => {
            format!("the body is JSON but not a Mist envelope: {detail}")
        }
    };
    let entry = NewQuarantine {
        source: src.name.clone(),
        received_at,
        reason: error.code().to_string(),
        detail: detail.clone(),
        headers: kept_headers(headers),
        body: body.clone(),
    };
    let quarantine_id = match app.store.quarantine(entry).await {
        Ok(id) => Some(id),
        // The sender still learns what was wrong; the failure to keep it is logged.
        Err(e) => {
            tracing::error!(error = %e, source = %src.name, "could not quarantine a rejected request");
            return ApiError::Store(e);
        }
    };
    match error {
        EnvelopeError::Syntax { .. } => ApiError::MalformedJson {
            detail,
            quarantine_id,
        },
        EnvelopeError::Shape { .. } => ApiError::InvalidEnvelope {
            detail,
            quarantine_id,
        },
    }
}

/// Turns a split body into a request of the log: one normalised row per event, each
/// pointing at its bytes inside the body instead of copying them.
fn to_request(
    source: &str,
    headers: Vec<(String, String)>,
    body: Bytes,
    split: mist::Split,
    verdict: Verdict,
    received_at: i64,
) -> NewRequest {
    let topic = split.topic.as_str().to_string();
    let events = split
        .events
        .into_iter()
        .map(|e| {
            if let Some(reason) = &e.unreadable {
                // Stored and fingerprinted from its bytes all the same; said once per
                // event so that an operator can see why its fields may be empty.
                metrics::counter!("mistgate_ingest_unreadable_events_total").increment(1);
                tracing::warn!(source = %source, topic = %topic, reason = %reason,
                    "stored an event that is valid JSON but not readable as a value");
            }
            let n = e.normalized;
            let (time, time_source) = match n.time {
                Some(t) => (t.unix_micros, t.field),
                None => (received_at, "received".to_string()),
            };
            NewEvent {
                topic: topic.clone(),
                org_id: n.org_id,
                site_id: n.site_id,
                event_type: n.event_type,
                mac: n.mac,
                severity: n.severity.map(|s| s.as_str().to_string()),
                time,
                time_source,
                // The body limit (far below 4 GiB) keeps offsets within u32.
                raw_offset: e.span.start as u32,
                raw_len: e.span.len() as u32,
                fingerprint: e.fingerprint.0,
            }
        })
        .collect();
    NewRequest {
        source: source.to_string(),
        received_at,
        topic,
        verdict,
        headers,
        body,
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/vnd.mist+json",
        ] {
            assert!(is_json_content_type(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "json",
            "",
        ] {
            assert!(!is_json_content_type(bad.as_bytes()), "{bad}");
        }
    }
}
