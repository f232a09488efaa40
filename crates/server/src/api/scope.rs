//! The path parameters of the webhook routes, org-level and site-level: which scope a
//! request is about, read by name (`Path<OrgWebhook>`) and documented by the same types.

use deliver::subscription::Scope;
use serde::Deserialize;
use utoipa::IntoParams;

/// `/orgs/{org_id}/webhooks`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrgPath {
    /// The organisation.
    org_id: String,
}

/// `/sites/{site_id}/webhooks`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SitePath {
    /// The site.
    site_id: String,
}

/// `/orgs/{org_id}/webhooks/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrgWebhookPath {
    /// The organisation.
    org_id: String,
    /// The webhook's id.
    id: String,
}

/// `/sites/{site_id}/webhooks/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SiteWebhookPath {
    /// The site.
    site_id: String,
    /// The webhook's id.
    id: String,
}

/// `/orgs/{org_id}/webhooks/{id}/deliveries/{batch_id}/replay`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrgBatchPath {
    /// The organisation.
    org_id: String,
    /// The webhook's id.
    id: String,
    /// The message's id; the UUID `id` of one of this webhook's delivery results
    /// (`events/search`) is taken too, for the message that attempt sent.
    #[param(value_type = i64)]
    batch_id: String,
}

/// `/sites/{site_id}/webhooks/{id}/deliveries/{batch_id}/replay`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SiteBatchPath {
    /// The site.
    site_id: String,
    /// The webhook's id.
    id: String,
    /// The message's id; the UUID `id` of one of this webhook's delivery results
    /// (`events/search`) is taken too, for the message that attempt sent.
    #[param(value_type = i64)]
    batch_id: String,
}

impl From<OrgPath> for Scope {
    fn from(p: OrgPath) -> Scope {
        Scope::Org(p.org_id)
    }
}

impl From<SitePath> for Scope {
    fn from(p: SitePath) -> Scope {
        Scope::Site(p.site_id)
    }
}

/// A webhook: its scope and id.
pub(crate) trait WebhookPath {
    fn webhook(self) -> (Scope, String);
}

impl WebhookPath for OrgWebhookPath {
    fn webhook(self) -> (Scope, String) {
        (Scope::Org(self.org_id), self.id)
    }
}

impl WebhookPath for SiteWebhookPath {
    fn webhook(self) -> (Scope, String) {
        (Scope::Site(self.site_id), self.id)
    }
}

/// A message of a webhook's outbox: the webhook, and the message's id as given.
pub(crate) trait BatchPath {
    fn batch(self) -> (Scope, String, String);
}

impl BatchPath for OrgBatchPath {
    fn batch(self) -> (Scope, String, String) {
        (Scope::Org(self.org_id), self.id, self.batch_id)
    }
}

impl BatchPath for SiteBatchPath {
    fn batch(self) -> (Scope, String, String) {
        (Scope::Site(self.site_id), self.id, self.batch_id)
    }
}
