//! The one place where failures become HTTP answers: `{"error": code, "detail": ...}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use thiserror::Error;

/// Every way a request to mistgate can fail, with its status and machine code.
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("no source named `{0}` is configured")]
    UnknownSource(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the body exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("content type `{0}` is not JSON; Mist sends application/json")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MissingSignature(String),
    #[error("{0}")]
    BadSignature(String),
    #[error("{detail}")]
    MalformedJson {
        detail: String,
        quarantine_id: Option<i64>,
    },
    #[error("{detail}")]
    InvalidEnvelope {
        detail: String,
        quarantine_id: Option<i64>,
    },
    #[error("the request body could not be read: {0}")]
    BodyRead(String),
    #[error("{detail}")]
    InvalidQuery { detail: String },
    #[error("{detail}")]
    InvalidBody { detail: String },
    #[error("{0}")]
    Conflict(String),
    /// A field of a request body is wrong; `code` says how, the detail names the field.
    #[error("{detail}")]
    Field {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
    #[error("a valid API token is required: send `Authorization: Token <key>`")]
    Unauthorized,
    #[error("this action needs the `{needed}` role; the token `{token}` has `{have}`")]
    Forbidden {
        needed: crate::access::Role,
        have: crate::access::Role,
        token: String,
    },
    #[error("this endpoint does not take that method")]
    MethodNotAllowed,
    #[error("the request was not complete and answered within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the correlation stage is not running (is `[correlation] enabled` false?)")]
    CorrelationUnavailable,
    #[error("the delivery engine is not running (is `[delivery] enabled` false?)")]
    DeliveryUnavailable,
    #[error("the store failed: {0}")]
    Store(#[from] store::StoreError),
}

impl ApiError {
    /// The HTTP status of this failure.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::UnknownSource(_) | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MissingSignature(_) | ApiError::BadSignature(_) | ApiError::Unauthorized => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::MalformedJson { .. }
            | ApiError::BodyRead(_)
            | ApiError::InvalidQuery { .. } => StatusCode::BAD_REQUEST,
            ApiError::InvalidEnvelope { .. } | ApiError::InvalidBody { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Field { status, .. } => *status,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Store(_)
            | ApiError::CorrelationUnavailable
            | ApiError::DeliveryUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The machine code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::UnknownSource(_) => "unknown_source",
            ApiError::NotFound(_) => "not_found",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::MissingSignature(_) => "missing_signature",
            ApiError::BadSignature(_) => "invalid_signature",
            ApiError::MalformedJson { .. } => "malformed_json",
            ApiError::InvalidEnvelope { .. } => "invalid_envelope",
            ApiError::BodyRead(_) => "body_read_error",
            ApiError::InvalidQuery { .. } => "invalid_query",
            ApiError::InvalidBody { .. } => "invalid_body",
            ApiError::Conflict(_) => "conflict",
            ApiError::Field { code, .. } => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Timeout(_) => "request_timeout",
            ApiError::Store(e) if e.is_disk_full() => "disk_full",
            ApiError::Store(_) => "store_unavailable",
            ApiError::CorrelationUnavailable => "correlation_unavailable",
            ApiError::DeliveryUnavailable => "delivery_unavailable",
        }
    }
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody<'a> {
    /// The machine code clients match on (e.g. `invalid_signature`, `invalid_query`).
    error: &'a str,
    /// What went wrong and where, for people.
    detail: String,
    /// Where the refused body was kept: only on ingest's 400 `malformed_json` and
    /// 422 `invalid_envelope` answers (`GET /api/v1/quarantine`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    quarantine_id: Option<i64>,
    /// With `forbidden`: the role the action needs (`read`, `operate` or `admin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    role_needed: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let quarantine_id = match &self {
            ApiError::MalformedJson { quarantine_id, .. }
            | ApiError::InvalidEnvelope { quarantine_id, .. } => *quarantine_id,
            _ => None,
        };
        // A full disk is logged once by the store when it starts and when it ends.
        if let ApiError::Store(e) = &self
            && !e.is_disk_full()
        {
            tracing::error!(error = %e, "store failure answered 503");
        }
        let body = ErrorBody {
            error: self.code(),
            detail: self.to_string(),
            quarantine_id,
            role_needed: match &self {
                ApiError::Forbidden { needed, .. } => Some(needed.as_str()),
                _ => None,
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let ApiError::Store(e) = &self {
            // Nothing was written; the sender should come back (Mist retries on 5xx).
            let after = if e.is_disk_full() { "30" } else { "5" };
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static(after),
            );
        }
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Token"),
            );
        }
        response
    }
}
