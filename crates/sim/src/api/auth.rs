//! The guard in front of every Mist route: counts the call under its operation id, then
//! wants `Authorization: Token <token>` (401 otherwise, as Mist answers) and a call within
//! the token's rate limit (429).

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use deliver::rate_limit::Per;

use super::{ApiError, Cloud, lock, operation};

pub(super) async fn guard(State(cloud): State<Cloud>, request: Request, next: Next) -> Response {
    let op = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| operation(request.method(), p.as_str()));
    if let Some(op) = op {
        *lock(&cloud.inner.calls)
            .per_operation
            .entry(op)
            .or_default() += 1;
    }
    match admit(&cloud, &request) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

fn admit(cloud: &Cloud, request: &Request) -> Result<(), ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .ok_or(ApiError::NoToken)?;
    let token = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Token "))
        .ok_or(ApiError::NoToken)?;
    if token.trim() != cloud.inner.settings.token {
        return Err(ApiError::BadToken);
    }
    let limit = cloud.inner.settings.rate_limit;
    let window_us: i64 = match limit.per() {
        Per::Second => 1_000_000,
        Per::Minute => 60_000_000,
        Per::Hour => 3_600_000_000,
    };
    let now = crate::send::now_us();
    let mut calls = lock(&cloud.inner.calls);
    while calls.window.front().is_some_and(|t| *t <= now - window_us) {
        calls.window.pop_front();
    }
    // A refused call is not counted: Mist's threshold is on calls it served.
    if calls.window.len() >= limit.count() as usize {
        return Err(ApiError::RateLimited);
    }
    calls.window.push_back(now);
    Ok(())
}
