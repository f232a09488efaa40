//! The API's guard: every management request carries the API token, or comes from a
//! signed-in console page.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::app_state::AppState;
use crate::console;
use crate::error::ApiError;

/// The header a console page sends its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Middleware: `Authorization: Token <key>` (Mist's style) or `Bearer <key>`; or, for the
/// console's own script, the session cookie, and on every request that may change
/// something (anything but GET, HEAD, OPTIONS) the session's CSRF token in
/// `X-CSRF-Token` as well. A request that names a token is judged by that token alone.
pub async fn require_token(
    State(app): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let authorization = request.headers().get(header::AUTHORIZATION);
    if let Some(value) = authorization {
        let presented = value.to_str().ok().and_then(|v| {
            let (scheme, key) = v.trim().split_once(' ')?;
            (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
                .then(|| key.trim())
        });
        return match presented {
            Some(key) if app.token.accepts(key) => Ok(next.run(request).await),
            _ => Err(ApiError::Unauthorized),
        };
    }
    let Some(session) = console::session_of(request.headers(), &app) else {
        return Err(ApiError::Unauthorized);
    };
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe {
        let presented = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !session.csrf_matches(presented) {
            return Err(csrf_failed());
        }
    }
    Ok(next.run(request).await)
}

/// 403 for a console request without its session's CSRF token.
pub fn csrf_failed() -> ApiError {
    ApiError::Field {
        status: StatusCode::FORBIDDEN,
        code: "csrf_failed",
        detail: "a request made with the console's session must carry the session's CSRF \
                 token in `X-CSRF-Token`"
            .into(),
    }
}
