//! `/ui/`: the operator console, server-rendered HTML over the same store and views as
//! the JSON API, with one small JavaScript module for live updates and actions.
//!
//! Every page needs a session (`session.rs`): a browser signs in once with an API token
//! and gets an HttpOnly cookie. Pages only read. Actions (acknowledge, silence, replay,
//! webhook changes) are the JSON API's own endpoints, called by the page's script with the
//! session cookie and the session's CSRF token in `X-CSRF-Token` (see `auth.rs`); the one
//! form the console posts itself, sign-out, carries the CSRF token as a field.

mod assets;
mod chart;
mod deliveries;
mod devices;
mod events;
mod incidents;
mod login;
mod names;
mod overview;
mod quarantine;
pub mod session;
pub(crate) mod shared_sessions;
mod templates;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use deliver::clock::now_us;

pub use names::SiteNames;
pub use session::Sessions;

use crate::access::Role;
use crate::app_state::AppState;
use crate::error::ApiError;

/// The console's routes, `/ui/...` (merged into the app; `/` and `/ui` redirect here).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(root))
        .route("/ui", get(root))
        .route("/ui/", get(overview::show))
        .route("/ui/login", get(login::form).post(login::sign_in))
        .route("/ui/logout", post(login::sign_out))
        .route("/ui/tail", get(events::tail))
        .route("/ui/events", get(events::search))
        .route("/ui/events/{id}", get(events::one))
        .route("/ui/devices", get(devices::board))
        .route("/ui/devices/{mac}", get(devices::one))
        .route("/ui/incidents", get(incidents::list))
        .route("/ui/incidents/{id}", get(incidents::one))
        .route("/ui/silences", get(incidents::silences))
        .route("/ui/deliveries", get(deliveries::list))
        .route("/ui/deliveries/webhooks/{id}", get(deliveries::webhook))
        .route("/ui/deliveries/targets/{name}", get(deliveries::target))
        .route("/ui/quarantine", get(quarantine::list))
        .route("/ui/quarantine/{id}", get(quarantine::one))
        .route("/ui/assets/{file}", get(assets::serve))
        .route("/ui/{*rest}", get(not_found))
}

/// `GET /`: the console.
pub async fn root() -> Redirect {
    Redirect::to("/ui/")
}

/// A request from a signed-in browser: the extractor every page takes. Without a live
/// session the answer is a redirect to the sign-in page, which comes back here after.
pub struct Signed {
    pub session: session::Session,
}

impl FromRequestParts<Arc<AppState>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<AppState>,
    ) -> Result<Signed, Response> {
        if let Some(session) = session_of(&parts.headers, app).await {
            return Ok(Signed { session });
        }
        let back = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/ui/");
        let to = format!(
            "/ui/login?next={}",
            form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        );
        Err(Redirect::to(&to).into_response())
    }
}

/// The live session named by the request's cookie, marked as used.
pub async fn session_of(
    headers: &axum::http::HeaderMap,
    app: &AppState,
) -> Option<session::Session> {
    let now = now_us();
    let id = session_cookie(headers)?;
    shared_sessions::touch(app, id, now)
        .await
        .filter(|s| app.tokens.still_live(&s.principal, now))
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| session::cookie_value(h, session::COOKIE))
}

/// An HTML answer, or the error page.
pub(crate) type Html = Result<Response, PageError>;

/// A page that could not be made: shown as an HTML error page with the API's code.
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        PageError(e)
    }
}

impl From<store::StoreError> for PageError {
    fn from(e: store::StoreError) -> PageError {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if status.is_server_error() {
            tracing::warn!(error = %self.0, "a console page failed");
        }
        let body = templates::render(
            "error.html",
            minijinja::context! {
                title => status.canonical_reason().unwrap_or("Error"),
                status => status.as_u16(),
                code => self.0.code(),
                detail => self.0.to_string(),
            },
        );
        html(status, body)
    }
}

/// A rendered page as a response, never cached, never framed by another site.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Renders page template `name` for a signed-in browser: the layout's navigation and
/// CSRF token come with every page.
pub(crate) fn page(signed: &Signed, name: &str, nav: &str, ctx: minijinja::Value) -> Html {
    let who = &signed.session.principal;
    let ctx = minijinja::context! {
        csrf => signed.session.csrf.clone(),
        nav => nav,
        who => who.name.clone(),
        role => who.role.as_str(),
        // Actions a role may not take are not shown (the API refuses them anyway).
        can_operate => who.role.allows(Role::Operate),
        can_admin => who.role.allows(Role::Admin),
        ..ctx
    };
    Ok(html(StatusCode::OK, templates::render(name, ctx)))
}

async fn not_found(_signed: Signed) -> PageError {
    PageError(ApiError::NotFound("no such page".into()))
}
