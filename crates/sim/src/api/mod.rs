//! A simulated Mist cloud: the REST subset of `shared/mist/openapi-rest-subset.json`
//! for the simulated org, consistent with the webhooks the simulator sends (the same
//! org, site and device ids, MACs and names), and webhooks created through it that
//! receive the simulator's traffic, signed with their secret, with Mist's delivery
//! results.
//!
//! - [`Cloud`]: the shared state (org, history, webhooks, delivery results, request
//!   counts); [`router`] the axum routes; [`fanout::run`] the sender that records each
//!   message and delivers it to the webhooks its topic and scope match.
//! - Every Mist route needs `Authorization: Token <token>` (401 `{detail}`) and counts
//!   against the token's rate limit (429 `{detail}` as Mist words it).
//! - `/__sim/requests` (calls per operation id) and `/__sim/status` are the simulator's
//!   own, open and uncounted: for tests and for whoever measures how many calls a client
//!   makes.

mod auth;
mod consts;
mod deliveries;
mod error;
pub mod fanout;
mod history;
mod org;
mod query;
mod search;
mod stats;
#[cfg(test)]
mod tests;
mod webhooks;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::routing::{get, post};
use deliver::client::Client;
use deliver::rate_limit::RateLimit;
use deliver::schedule::RetryPolicy;
use serde_json::{Value, json};

pub use error::ApiError;
pub use history::CAPACITY;

use crate::org::{Org, Site};
use crate::rng::Rng;
use crate::send::SendError;

/// How the simulated cloud answers.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// The one API token it accepts (an org token with the admin role).
    pub token: String,
    /// Calls per token before 429 (Mist: 5000 per hour).
    pub rate_limit: RateLimit,
    /// When failed deliveries to its webhooks are retried.
    pub retry: RetryPolicy,
    /// Per-attempt timeout of a delivery.
    pub timeout: Duration,
    /// Seed of webhook ids and retry jitter.
    pub seed: u64,
}

impl ApiSettings {
    /// `token`, 5000 calls per hour, the delivery engine's retry schedule.
    pub fn new(token: impl Into<String>) -> ApiSettings {
        ApiSettings {
            token: token.into(),
            rate_limit: "5000/h".parse().expect("a valid rate limit"),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
            seed: 1,
        }
    }
}

/// The simulated cloud's state, shared by the routes and the sender.
#[derive(Clone)]
pub struct Cloud {
    inner: Arc<Inner>,
}

struct Inner {
    org: Org,
    settings: ApiSettings,
    /// When the org and its devices were "created" (seconds, for `created_time`).
    created_s: f64,
    calls: Mutex<Calls>,
    history: Mutex<history::History>,
    webhooks: Mutex<BTreeMap<String, webhooks::Webhook>>,
    deliveries: Mutex<deliveries::Deliveries>,
    client: Client,
    ids: Mutex<Rng>,
    run: Mutex<RunState>,
}

#[derive(Default)]
struct Calls {
    per_operation: BTreeMap<&'static str, u64>,
    /// Times of the token's calls within the rate-limit window, oldest first.
    window: VecDeque<i64>,
}

/// How far the sender got.
#[derive(Clone, Debug, Default)]
pub struct RunState {
    /// Messages of the plan recorded so far.
    pub messages: u64,
    /// Events in them.
    pub events: u64,
    /// The plan has no more messages.
    pub plan_finished: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these leaves plain data behind: keep serving it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cloud {
    /// A cloud for `org`.
    pub fn new(org: Org, settings: ApiSettings) -> Result<Cloud, SendError> {
        let client = crate::send::client(settings.timeout)?;
        let now_s = crate::send::now_us() / 1_000_000;
        let ids = Rng::new(settings.seed).derive("cloud-ids");
        Ok(Cloud {
            inner: Arc::new(Inner {
                org,
                // A quarter before the run, in whole days: stable within a day.
                created_s: ((now_s - 90 * 86_400) / 86_400 * 86_400) as f64,
                settings,
                calls: Mutex::default(),
                history: Mutex::default(),
                webhooks: Mutex::default(),
                deliveries: Mutex::default(),
                client,
                ids: Mutex::new(ids),
                run: Mutex::default(),
            }),
        })
    }

    /// The simulated org.
    pub fn org(&self) -> &Org {
        &self.inner.org
    }

    /// How far the sender got.
    pub fn run_state(&self) -> RunState {
        lock(&self.inner.run).clone()
    }

    /// Calls per operation id so far.
    pub fn requests(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.inner.calls).per_operation.clone()
    }

    fn site(&self, id: &str) -> Result<(usize, &Site), ApiError> {
        self.inner
            .org
            .sites
            .iter()
            .enumerate()
            .find(|(_, s)| s.id == id)
            .ok_or_else(|| ApiError::NotFound(id.to_string()))
    }

    fn check_org(&self, id: &str) -> Result<(), ApiError> {
        if id == self.inner.org.id {
            Ok(())
        } else {
            Err(ApiError::NotFound(id.to_string()))
        }
    }

    /// Whether the device's events leave it connected (devices start connected).
    fn connected(&self, mac: &str) -> bool {
        lock(&self.inner.history)
            .devices
            .get(mac)
            .is_none_or(|s| s.connected)
    }

    /// The time of the device's last event, epoch seconds.
    fn last_seen_s(&self, mac: &str) -> Option<f64> {
        lock(&self.inner.history)
            .devices
            .get(mac)
            .map(|s| s.last_us as f64 / 1e6)
    }

    fn new_id(&self) -> String {
        lock(&self.inner.ids).uuid()
    }
}

/// Every operation of the subset: method, path (axum's syntax is OpenAPI's) and id.
pub const OPERATIONS: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/self", "getSelf"),
    ("GET", "/api/v1/orgs/{org_id}", "getOrg"),
    ("GET", "/api/v1/orgs/{org_id}/sites", "listOrgSites"),
    ("GET", "/api/v1/sites/{site_id}", "getSiteInfo"),
    ("GET", "/api/v1/orgs/{org_id}/inventory", "getOrgInventory"),
    ("GET", "/api/v1/sites/{site_id}/devices", "listSiteDevices"),
    (
        "GET",
        "/api/v1/sites/{site_id}/stats/devices",
        "listSiteDevicesStats",
    ),
    ("GET", "/api/v1/sites/{site_id}/maps", "listSiteMaps"),
    (
        "GET",
        "/api/v1/orgs/{org_id}/alarms/search",
        "searchOrgAlarms",
    ),
    (
        "GET",
        "/api/v1/sites/{site_id}/alarms/search",
        "searchSiteAlarms",
    ),
    (
        "GET",
        "/api/v1/orgs/{org_id}/devices/events/search",
        "searchOrgDeviceEvents",
    ),
    (
        "GET",
        "/api/v1/sites/{site_id}/devices/events/search",
        "searchSiteDeviceEvents",
    ),
    ("GET", "/api/v1/orgs/{org_id}/logs", "listOrgAuditLogs"),
    ("GET", "/api/v1/orgs/{org_id}/webhooks", "listOrgWebhooks"),
    ("POST", "/api/v1/orgs/{org_id}/webhooks", "createOrgWebhook"),
    (
        "GET",
        "/api/v1/orgs/{org_id}/webhooks/{webhook_id}",
        "getOrgWebhook",
    ),
    (
        "PUT",
        "/api/v1/orgs/{org_id}/webhooks/{webhook_id}",
        "updateOrgWebhook",
    ),
    (
        "DELETE",
        "/api/v1/orgs/{org_id}/webhooks/{webhook_id}",
        "deleteOrgWebhook",
    ),
    (
        "POST",
        "/api/v1/orgs/{org_id}/webhooks/{webhook_id}/ping",
        "pingOrgWebhook",
    ),
    (
        "GET",
        "/api/v1/orgs/{org_id}/webhooks/{webhook_id}/events/search",
        "searchOrgWebhooksDeliveries",
    ),
    (
        "GET",
        "/api/v1/orgs/{org_id}/webhooks/{webhook_id}/events/count",
        "countOrgWebhooksDeliveries",
    ),
    (
        "GET",
        "/api/v1/sites/{site_id}/webhooks",
        "listSiteWebhooks",
    ),
    (
        "POST",
        "/api/v1/sites/{site_id}/webhooks",
        "createSiteWebhook",
    ),
    (
        "GET",
        "/api/v1/sites/{site_id}/webhooks/{webhook_id}",
        "getSiteWebhook",
    ),
    (
        "PUT",
        "/api/v1/sites/{site_id}/webhooks/{webhook_id}",
        "updateSiteWebhook",
    ),
    (
        "DELETE",
        "/api/v1/sites/{site_id}/webhooks/{webhook_id}",
        "deleteSiteWebhook",
    ),
    (
        "POST",
        "/api/v1/sites/{site_id}/webhooks/{webhook_id}/ping",
        "pingSiteWebhook",
    ),
    (
        "GET",
        "/api/v1/sites/{site_id}/webhooks/{webhook_id}/events/search",
        "searchSiteWebhooksDeliveries",
    ),
    (
        "GET",
        "/api/v1/sites/{site_id}/webhooks/{webhook_id}/events/count",
        "countSiteWebhooksDeliveries",
    ),
    ("GET", "/api/v1/const/webhook_topics", "listWebhookTopics"),
    ("GET", "/api/v1/const/alarm_defs", "listAlarmDefinitions"),
];

/// The operation id of a matched route.
fn operation(method: &Method, path: &str) -> Option<&'static str> {
    OPERATIONS
        .iter()
        .find(|(m, p, _)| *m == method.as_str() && *p == path)
        .map(|(_, _, id)| *id)
}

/// The simulated cloud's routes.
pub fn router(cloud: Cloud) -> Router {
    let mist: Router<Cloud> = Router::new()
        .route("/api/v1/self", get(org::get_self))
        .route("/api/v1/orgs/{org_id}", get(org::get_org))
        .route("/api/v1/orgs/{org_id}/sites", get(org::list_sites))
        .route("/api/v1/sites/{site_id}", get(org::get_site))
        .route("/api/v1/orgs/{org_id}/inventory", get(org::inventory))
        .route("/api/v1/sites/{site_id}/devices", get(org::site_devices))
        .route(
            "/api/v1/sites/{site_id}/stats/devices",
            get(stats::device_stats),
        )
        .route("/api/v1/sites/{site_id}/maps", get(org::maps))
        .route(
            "/api/v1/orgs/{org_id}/alarms/search",
            get(search::org_alarms),
        )
        .route(
            "/api/v1/sites/{site_id}/alarms/search",
            get(search::site_alarms),
        )
        .route(
            "/api/v1/orgs/{org_id}/devices/events/search",
            get(search::org_device_events),
        )
        .route(
            "/api/v1/sites/{site_id}/devices/events/search",
            get(search::site_device_events),
        )
        .route("/api/v1/orgs/{org_id}/logs", get(search::audit_logs))
        .merge(webhook_routes("orgs", "org_id"))
        .merge(webhook_routes("sites", "site_id"))
        .route("/api/v1/const/webhook_topics", get(consts::webhook_topics))
        .route("/api/v1/const/alarm_defs", get(consts::alarm_defs))
        .route_layer(axum::middleware::from_fn_with_state(
            cloud.clone(),
            auth::guard,
        ));
    mist.route("/__sim/requests", get(sim_requests))
        .route("/__sim/status", get(sim_status))
        .with_state(cloud)
}

/// The same webhook routes under `/orgs/{org_id}` and `/sites/{site_id}`; the handlers
/// tell the scope from the path parameter's name.
fn webhook_routes(scope: &str, param: &str) -> Router<Cloud> {
    let base = format!("/api/v1/{scope}/{{{param}}}/webhooks");
    Router::new()
        .route(&base, get(webhooks::list).post(webhooks::create))
        .route(
            &format!("{base}/{{webhook_id}}"),
            get(webhooks::get_one)
                .put(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            &format!("{base}/{{webhook_id}}/ping"),
            post(deliveries::ping),
        )
        .route(
            &format!("{base}/{{webhook_id}}/events/search"),
            get(deliveries::search),
        )
        .route(
            &format!("{base}/{{webhook_id}}/events/count"),
            get(deliveries::count),
        )
}

async fn sim_requests(State(cloud): State<Cloud>) -> axum::Json<Value> {
    let per = cloud.requests();
    let total: u64 = per.values().sum();
    axum::Json(json!({ "total": total, "operations": per }))
}

async fn sim_status(State(cloud): State<Cloud>) -> axum::Json<Value> {
    let run = cloud.run_state();
    let h = lock(&cloud.inner.history);
    axum::Json(json!({
        "org_id": cloud.inner.org.id,
        "site_ids": cloud.inner.org.sites.iter().map(|s| &s.id).collect::<Vec<_>>(),
        "messages": run.messages,
        "events": run.events,
        "plan_finished": run.plan_finished,
        "alarms": h.alarms.len(),
        "device_events": h.device_events.len(),
        "audits": h.audits.len(),
        "webhooks": lock(&cloud.inner.webhooks).len(),
    }))
}

/// Serves `router(cloud)` on `listener` until `stop` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    cloud: Cloud,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(cloud))
        .with_graceful_shutdown(stop)
        .await
}
