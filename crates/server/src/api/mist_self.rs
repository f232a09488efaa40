//! `GET /api/v1/self`: who the token is, as Mist's `getSelf` answers for an org API
//! token (its `name` and `privileges`), so that clients written for Mist's API (Juniper's
//! `mistapi` checks every token with it) work unchanged.
//!
//! mistgate has no org of its own: the privileges name every org it knows of, that is the
//! orgs of its webhooks (org webhooks, and site webhooks whose site's org is known) and of
//! the devices it has seen in events (at most the first 1,000 devices). Before any of
//! these exist the list is empty, which Mist clients accept.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use deliver::subscription::Subscription;
use serde::Serialize;
use store::{DeviceFilter, Order, PageRequest};
use utoipa::ToSchema;

use crate::access::{Principal, Role};
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};

/// What a privilege covers: always `org` here.
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrivilegeScope {
    Org,
}

/// Mist's role for a token's role: `admin` (admin), `write` (operate: pings and
/// replays, no configuration), `read` (read).
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MistRole {
    Admin,
    Write,
    Read,
}

impl From<Role> for MistRole {
    fn from(role: Role) -> MistRole {
        match role {
            Role::Admin => MistRole::Admin,
            Role::Operate => MistRole::Write,
            Role::Read => MistRole::Read,
        }
    }
}

/// One privilege: Mist's `admin_privilege`, the token's role in one org.
#[derive(Serialize, ToSchema)]
pub struct PrivilegeView {
    scope: PrivilegeScope,
    role: MistRole,
    /// The org, as Mist's events and webhooks name it.
    org_id: String,
}

/// The token asking: Mist's `admin` object as an org API token has it.
#[derive(Serialize, ToSchema)]
pub struct SelfView {
    /// The token's name.
    name: String,
    /// The token's role in each org mistgate knows of, by org id.
    privileges: Vec<PrivilegeView>,
}

/// The org ids mistgate knows of (see the module's documentation), sorted.
async fn known_orgs(app: &AppState) -> Result<BTreeSet<String>, ApiError> {
    let mut orgs = BTreeSet::new();
    for row in app.store.subscriptions(None).await? {
        if row.scope == "org" {
            orgs.insert(row.scope_id);
        } else if let Ok(s) = serde_json::from_str::<Subscription>(&row.record) {
            orgs.extend(s.org_id);
        }
    }
    let page = PageRequest {
        limit: 1000,
        after: None,
        order: Order::Asc,
    };
    let devices = app.store.devices(DeviceFilter::default(), page).await?;
    orgs.extend(devices.items.into_iter().map(|d| d.org_id));
    orgs.retain(|o| !o.is_empty());
    Ok(orgs)
}

/// Who am I
///
/// The token's name and its privileges, as Mist's `getSelf` answers for an org API token:
/// one `org` privilege per org mistgate knows of (the orgs of its webhooks and of the
/// devices seen in events), with the token's role as Mist names it (`admin`, `write` for
/// `operate`, `read`).
#[utoipa::path(
    get,
    path = "/api/v1/self",
    operation_id = "get_self",
    tag = "access",
    responses(
        (status = 200, description = "The token and its privileges.", body = SelfView),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn get_self(
    State(app): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<SelfView>, ApiError> {
    let role = MistRole::from(principal.role);
    let privileges = known_orgs(&app)
        .await?
        .into_iter()
        .map(|org_id| PrivilegeView {
            scope: PrivilegeScope::Org,
            role,
            org_id,
        })
        .collect();
    Ok(Json(SelfView {
        name: principal.name,
        privileges,
    }))
}
