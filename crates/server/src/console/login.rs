//! Signing in with an API token, and out.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use deliver::clock::now_us;
use serde::Deserialize;

use super::{Html, PageError, html, session, session_of, templates};
use crate::access::audit;
use crate::access::{Principal, Role};
use crate::app_state::AppState;
use crate::error::ApiError;
use crate::peer::Client;

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// A one-time sign-in key (`serve --demo` prints the link).
    key: Option<String>,
}

/// `GET /ui/login`: the sign-in form (or straight on, for a browser already signed in).
pub async fn form(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Html {
    let next = safe_next(q.next.as_deref());
    if session_of(&headers, &app).await.is_some() {
        return Ok(Redirect::to(next).into_response());
    }
    if let Some(key) = q.key.as_deref() {
        if app.sessions.redeem_one_time(key, now_us()) {
            let demo = Principal {
                token_id: None,
                name: "sign-in-link".into(),
                role: Role::Admin,
            };
            return start_session(&app, &headers, next, demo).await;
        }
        return Ok(login_page(
            StatusCode::UNAUTHORIZED,
            next,
            Some("That sign-in link was used already or has expired: sign in with the API token."),
        ));
    }
    Ok(login_page(StatusCode::OK, next, None))
}

#[derive(Deserialize)]
pub struct SignIn {
    token: String,
    next: Option<String>,
}

/// `POST /ui/login`: a valid token starts a session; anything else shows the form again.
pub async fn sign_in(
    State(app): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Html {
    let next = safe_next(form.next.as_deref());
    let Some(principal) = app.tokens.authenticate(form.token.trim(), now_us()) else {
        tracing::warn!(client = %client.label(), "console sign-in refused: not a valid API token");
        let unknown = Principal {
            token_id: None,
            name: "-".into(),
            role: Role::Read,
        };
        audit::note(
            &app,
            sign_in_record(unknown, client),
            StatusCode::UNAUTHORIZED,
        )
        .await;
        return Ok(login_page(
            StatusCode::UNAUTHORIZED,
            next,
            Some("That is not a valid API token."),
        ));
    };
    audit::note(
        &app,
        sign_in_record(principal.clone(), client),
        StatusCode::SEE_OTHER,
    )
    .await;
    start_session(&app, &headers, next, principal).await
}

/// The audit record of a console sign-in.
fn sign_in_record(principal: Principal, client: Client) -> audit::Pending {
    audit::Pending {
        principal,
        client: client.label(),
        action: "POST /ui/login".into(),
        target: "/ui/login".into(),
        before: Default::default(),
    }
}

/// A new session for this browser, and on to `next`.
async fn start_session(
    app: &AppState,
    headers: &HeaderMap,
    next: &str,
    principal: Principal,
) -> Html {
    let (id, _) = super::shared_sessions::create(app, now_us(), principal)
        .await
        .map_err(|e| {
            PageError::from(ApiError::InvalidBody {
                detail: e.to_string(),
            })
        })?;
    let mut response = Redirect::to(next).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session::set_cookie(&id, secure(app, headers)))
            .expect("a session cookie is a valid header value"),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct SignOut {
    csrf: Option<String>,
}

/// `POST /ui/logout`: ends the session (its CSRF token is required, so that another
/// site cannot sign a browser out).
pub async fn sign_out(
    State(app): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<SignOut>,
) -> Response {
    let cookie = super::session_cookie(&headers).map(str::to_string);
    let Some(session) = session_of(&headers, &app).await else {
        return Redirect::to("/ui/login").into_response();
    };
    if !session.csrf_matches(form.csrf.as_deref().unwrap_or("")) {
        return csrf_refused();
    }
    if let Some(id) = cookie {
        super::shared_sessions::end(&app, &id).await;
    }
    let record = audit::Pending {
        principal: session.principal,
        client: client.label(),
        action: "POST /ui/logout".into(),
        target: "/ui/logout".into(),
        before: Default::default(),
    };
    audit::note(&app, record, StatusCode::SEE_OTHER).await;
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session::clear_cookie(secure(&app, &headers)))
            .expect("a cookie is a valid header value"),
    );
    response
}

/// Whether the cookie is marked `Secure`: when mistgate serves HTTPS itself, or when the
/// request says it reached a proxy over HTTPS (`X-Forwarded-Proto: https`, or `Forwarded`
/// with `proto=https`). Trusting the header can only make the cookie stricter.
fn secure(app: &AppState, headers: &HeaderMap) -> bool {
    let said = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split([',', ';']).map(str::trim).any(|p| {
                    p.eq_ignore_ascii_case("https") || p.eq_ignore_ascii_case("proto=https")
                })
            })
    };
    app.secure_cookies || said("x-forwarded-proto") || said("forwarded")
}

/// The page a form post without its CSRF token gets.
pub(crate) fn csrf_refused() -> Response {
    PageError::from(crate::auth::csrf_failed()).into_response()
}

fn login_page(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    html(
        status,
        templates::render(
            "login.html",
            minijinja::context! { title => "Sign in", next => next, error => error, nav => "login" },
        ),
    )
}

/// Where to go after signing in: a console page of this server, never another site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/ui/",
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_console_pages_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/ui/incidents?state=open")),
            "/ui/incidents?state=open"
        );
        assert_eq!(safe_next(Some("https://evil.example/")), "/ui/");
        assert_eq!(safe_next(Some("//evil.example/ui/")), "/ui/");
        assert_eq!(safe_next(Some("/ui/\\evil")), "/ui/");
        assert_eq!(safe_next(Some("/api/v1/events")), "/ui/");
        assert_eq!(safe_next(None), "/ui/");
    }
}
