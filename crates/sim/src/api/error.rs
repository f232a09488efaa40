//! Every failure of the simulated API, with the status and body Mist answers it with
//! (`{detail}` for 400, 401 and 429, `{id}` for 404, `{detail, reason}` for a refused
//! webhook body).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Mist's 429 text, word for word (the spec's `HTTP429` example).
pub const RATE_LIMITED: &str = "Too Many Request. The API Token used for the request reached the 5000 API Calls per hour threshold";

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization: Token ...` header.
    #[error("Authentication credentials were not provided.")]
    NoToken,
    /// A token this cloud does not know.
    #[error("Invalid token.")]
    BadToken,
    /// The token's calls this hour reached the limit.
    #[error("{RATE_LIMITED}")]
    RateLimited,
    /// An id (org, site, webhook) this cloud does not have.
    #[error("not found: {0}")]
    NotFound(String),
    /// A malformed parameter or body.
    #[error("{0}")]
    BadRequest(String),
    /// A webhook body Mist would refuse: what is wrong, and the field.
    #[error("{detail}")]
    BadWebhook {
        /// What is wrong.
        detail: String,
        /// The field or rule.
        reason: String,
    },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail = self.to_string();
        let (status, body) = match self {
            ApiError::NoToken | ApiError::BadToken => {
                (StatusCode::UNAUTHORIZED, json!({ "detail": detail }))
            }
            ApiError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, json!({ "detail": detail })),
            ApiError::NotFound(id) => (StatusCode::NOT_FOUND, json!({ "id": id })),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, json!({ "detail": detail })),
            ApiError::BadWebhook { detail, reason } => (
                StatusCode::BAD_REQUEST,
                json!({ "detail": detail, "reason": reason }),
            ),
        };
        (status, Json(body)).into_response()
    }
}
