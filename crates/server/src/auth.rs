//! The API's guard: who is asking (a token, or a signed-in console page), whether their
//! role allows the route, and an audit record of every state-changing request.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::access::audit::{self, Before, Pending};
use crate::access::{Principal, required};
use crate::app_state::AppState;
use crate::console;
use crate::error::ApiError;
use crate::peer::Client;
use deliver::clock::now_us;

/// The header a console page sends its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Middleware over `/api/v1`: `Authorization: Token <key>` (Mist's style) or
/// `Bearer <key>`; or, for the console's own script, the session cookie, and on every
/// request that may change something (anything but GET, HEAD, OPTIONS) the session's
/// CSRF token in `X-CSRF-Token` as well. A request that names a token is judged by that
/// token alone. Then the route's role ([`required`]): 403 `forbidden` naming it. Every
/// state-changing request that got this far is written to the audit log.
pub async fn guard(
    State(app): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let now = now_us();
    let principal = principal(&app, request.headers(), request.method(), now).await?;
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().trim_start_matches("/api/v1").to_string())
        .unwrap_or_default();
    let method = request.method().clone();
    let changes = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    let needed = required(&method, &route);
    let pending = changes.then(|| Pending {
        principal: principal.clone(),
        client: Client::of(request.headers(), request.extensions(), &app).label(),
        action: format!("{method} {route}"),
        target: request
            .uri()
            .path()
            .trim_start_matches("/api/v1")
            .to_string(),
        before: Before::default(),
    });
    if !principal.role.allows(needed) {
        tracing::info!(token = %principal.name, role = %principal.role, needed = %needed, route = %route, "refused: the token's role does not allow this");
        if let Some(pending) = pending {
            audit::note(&app, pending, StatusCode::FORBIDDEN).await;
        }
        return Err(ApiError::Forbidden {
            needed,
            have: principal.role,
            token: principal.name,
        });
    }
    request.extensions_mut().insert(principal);
    match pending {
        None => Ok(next.run(request).await),
        Some(pending) => {
            request.extensions_mut().insert(pending.before.clone());
            let response = next.run(request).await;
            Ok(audit::record(&app, pending, response).await)
        }
    }
}

/// Who a request with `headers` acts as: its token, or its console session (with the CSRF check).
async fn principal(
    app: &AppState,
    headers: &HeaderMap,
    method: &Method,
    now: i64,
) -> Result<Principal, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let presented = value.to_str().ok().and_then(|v| {
            let (scheme, key) = v.trim().split_once(' ')?;
            (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
                .then(|| key.trim())
        });
        return presented
            .and_then(|key| app.tokens.authenticate(key, now))
            .ok_or(ApiError::Unauthorized);
    }
    let session = console::session_of(headers, app)
        .await
        .ok_or(ApiError::Unauthorized)?;
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let presented = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !session.csrf_matches(presented) {
            return Err(csrf_failed());
        }
    }
    Ok(session.principal)
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
