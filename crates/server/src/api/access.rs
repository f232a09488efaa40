//! `/api/v1/tokens` and `/api/v1/audit` (admin only): named tokens with roles, and the
//! audit log of every state-changing action.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{AuditFilter, AuditRow, TokenError, TokenRow};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use super::answer::{List, Time};
use super::correlation::parse_body;
use super::params::{PageQuery, Params, TimeParam, get, instant, page_of, time_text};
use crate::access::audit::Before;
use crate::access::{DURATION_PATTERN, Role, check_name, parse_expiry};
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};
use deliver::clock::now_us;

/// A token as the API shows it: never the token itself (only its hash is kept).
#[derive(Serialize, ToSchema)]
pub struct TokenView {
    name: String,
    /// `read`, `operate` or `admin`.
    role: String,
    created_at: Time,
    /// `null`: it does not expire.
    #[schema(required = true)]
    expires_at: Option<Time>,
    /// `null`: never used (the time is written every 5 s).
    #[schema(required = true)]
    last_used_at: Option<Time>,
    /// `null`: not revoked.
    #[schema(required = true)]
    revoked_at: Option<Time>,
}

impl From<TokenRow> for TokenView {
    fn from(t: TokenRow) -> TokenView {
        TokenView {
            name: t.name,
            role: t.role,
            created_at: Time(t.created_at),
            expires_at: t.expires_at.map(Time),
            last_used_at: t.last_used_at.map(Time),
            revoked_at: t.revoked_at.map(Time),
        }
    }
}

/// A new token: shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token: `Authorization: Token <token>`. It is not kept and cannot be shown again.
    token: String,
    name: String,
    /// `read`, `operate` or `admin`.
    role: String,
    created_at: Time,
    /// `null`: it does not expire.
    #[schema(required = true)]
    expires_at: Option<Time>,
}

/// The body of `POST /api/v1/tokens`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// 1 to 64 letters, digits, `-`, `_` or `.`; unique among tokens not revoked.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    name: String,
    /// `read` (every GET), `operate` (read, and acknowledge, resolve, silences, replay,
    /// resend, ping) or `admin` (everything).
    #[schema(pattern = "^(read|operate|admin)$")]
    role: String,
    /// When it stops working: a duration from now (digits and a unit of `s`, `m`, `h`,
    /// `d`, `w`: `90d`, `12h`) or a time (RFC 3339 or epoch seconds), which must be in the
    /// future. Left out or `null`: never.
    #[serde(default)]
    #[schema(value_type = Option<ExpiresInput>, nullable = true)]
    expires: Option<String>,
}

/// An expiry, for the document: a duration ([`DURATION_PATTERN`]) or a time.
pub struct ExpiresInput;

impl utoipa::PartialSchema for ExpiresInput {
    fn schema() -> RefOr<Schema> {
        let mut any = time_text();
        any.items.insert(
            0,
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(DURATION_PATTERN))
                .into(),
        );
        any.description = Some(
            "A duration from now (`90d`, `12h`: 1 to 6 digits and a unit of s, m, h, d or w), \
             or a time: RFC 3339 or epoch seconds."
                .into(),
        );
        RefOr::T(Schema::AnyOf(any))
    }
}

impl ToSchema for ExpiresInput {}

/// List tokens
///
/// Every token, revoked ones too, oldest first; never the tokens themselves. Admin only.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "access",
    responses(
        (status = 200, description = "The tokens.", body = List<TokenView>),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the token is not `admin`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list_tokens(
    State(app): State<Arc<AppState>>,
) -> Result<Json<List<TokenView>>, ApiError> {
    let rows = app.store.tokens().await?;
    Ok(Json(List::new(
        rows.into_iter().map(TokenView::from).collect(),
        None,
    )))
}

/// Create a token
///
/// A named token with a role and an optional expiry. The answer holds the token itself,
/// the only time it is shown. Admin only.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "access",
    request_body(content = TokenBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; `token` is shown this once.", body = CreatedToken),
        (status = 400, description = "`malformed_json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the token is not `admin`.", body = ErrorBody),
        (status = 409, description = "`conflict`: a token of that name exists and is not revoked.", body = ErrorBody),
        (status = 422, description = "`invalid_body`: a field breaks its schema, or a rule the schema cannot state: `expires` must be in the future, and `config` is the configured token's name.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn create_token(
    State(app): State<Arc<AppState>>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let invalid = |detail: String| ApiError::InvalidBody { detail };
    let value: Value = parse_body(&body)?;
    let body: TokenBody = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    check_name(&body.name).map_err(invalid)?;
    let role: Role = body.role.parse().map_err(invalid)?;
    let now = now_us();
    let expires_at = body
        .expires
        .as_deref()
        .map(|e| parse_expiry(e, now))
        .transpose()
        .map_err(invalid)?;
    let (token, row) = app
        .tokens
        .create(&body.name, role, expires_at, now)
        .await
        .map_err(|e| match e {
            TokenError::NameTaken(_) => ApiError::Conflict(e.to_string()),
            TokenError::Store(e) => ApiError::Store(e),
        })?;
    tracing::info!(token = %row.name, role = %row.role, "API token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token,
            name: row.name,
            role: row.role,
            created_at: Time(row.created_at),
            expires_at: row.expires_at.map(Time),
        }),
    ))
}

/// Revoke a token
///
/// The token named `name` stops working at once (console sessions signed in with it
/// end too); its record stays, and the name can be used again. Admin only.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{name}",
    tag = "access",
    params(("name" = String, Path, description = "The token's name.")),
    responses(
        (status = 200, description = "Revoked.", body = TokenView),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the token is not `admin`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no live token of that name.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn revoke_token(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    Extension(before): Extension<Before>,
) -> Result<Json<TokenView>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no live token named `{name}`"));
    if let Some(live) = app
        .store
        .tokens()
        .await?
        .into_iter()
        .find(|t| t.name == name && t.revoked_at.is_none())
    {
        before.set(TokenView::from(live));
    }
    if !app.tokens.revoke(&name, now_us()).await? {
        return Err(not_found());
    }
    tracing::info!(token = %name, "API token revoked");
    let row = app
        .store
        .tokens()
        .await?
        .into_iter()
        .rev()
        .find(|t| t.name == name && t.revoked_at.is_some())
        .ok_or_else(not_found)?;
    Ok(Json(row.into()))
}

/// One audit record.
#[derive(Serialize, ToSchema)]
pub struct AuditView {
    id: i64,
    at: Time,
    /// The token's name (`config` for the configured `api_token`).
    token: String,
    /// The client's address (behind trusted proxies, the forwarded client).
    client: String,
    /// `METHOD /route` under `/api/v1` (or `/ui/login`, `/ui/logout`).
    action: String,
    /// The path it was done to.
    target: String,
    /// The HTTP status it was answered with.
    status: u16,
    /// What the handler saw before the change, secrets redacted; `null` when unknown.
    #[schema(required = true, value_type = Option<Object>)]
    before: Option<Value>,
    /// The answer's JSON for a success, secrets redacted; `null` otherwise.
    #[schema(required = true, value_type = Option<Object>)]
    after: Option<Value>,
}

impl From<AuditRow> for AuditView {
    fn from(a: AuditRow) -> AuditView {
        let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        let r = a.record;
        AuditView {
            id: a.id,
            at: Time(r.at),
            token: r.token,
            client: r.client,
            action: r.action,
            target: r.target,
            status: r.status,
            before: json(r.before),
            after: json(r.after),
        }
    }
}

/// The filters of `GET /api/v1/audit`, for the document only.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AuditQuery {
    /// Exact token name.
    token: Option<String>,
    /// Exact action (`POST /incidents/{id}/ack`).
    action: Option<String>,
    /// Records whose target starts with this (`/incidents/42`).
    target: Option<String>,
    /// Records at or after this: RFC 3339 or epoch seconds.
    #[param(value_type = Option<TimeParam>, inline)]
    since: Option<String>,
    /// Records at or before this: RFC 3339 or epoch seconds.
    #[param(value_type = Option<TimeParam>, inline)]
    until: Option<String>,
}

/// The audit log
///
/// Every state-changing action (API or console), newest first unless `order=asc`, kept
/// as long as the log (`retention_days`). Admin only.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "access",
    params(AuditQuery, PageQuery),
    responses(
        (status = 200, description = "A page of audit records.", body = List<AuditView>),
        (status = 400, description = "`invalid_query`: a parameter has a wrong value.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the token is not `admin`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list_audit(
    State(app): State<Arc<AppState>>,
    q: Params,
) -> Result<Json<List<AuditView>>, ApiError> {
    let filter = AuditFilter {
        token: get(&q, "token").map(str::to_string),
        action: get(&q, "action").map(str::to_string),
        target: get(&q, "target").map(str::to_string),
        since: instant("since", get(&q, "since"))?,
        until: instant("until", get(&q, "until"))?,
    };
    let page = app.store.audit(filter, page_of(&q)?).await?;
    Ok(Json(List::new(
        page.items.into_iter().map(AuditView::from).collect(),
        page.next,
    )))
}
