//! What `GET /api/v1/mist/backfill` shows: per org and kind the last read, what it
//! recovered and any error; per org the webhooks Mist failed to deliver for.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use utoipa::ToSchema;

fn time<S: Serializer>(us: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match us {
        Some(us) => s.serialize_str(&crate::format_instant(*us)),
        None => s.serialize_none(),
    }
}

/// The other way, for a report another instance kept in the database.
fn time_back<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| crate::parse_instant(&text).map_err(serde::de::Error::custom))
        .transpose()
}

/// Backfill's state.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct BackfillReport {
    /// Whether backfill runs (`[mist]` configured, `backfill` not turned off).
    pub enabled: bool,
    /// `[mist] backfill_interval`, seconds.
    pub interval_seconds: u64,
    /// `[mist] backfill_overlap`, seconds.
    pub overlap_seconds: u64,
    /// `[mist] backfill_max_age`, seconds.
    pub max_age_seconds: u64,
    /// Events recovered since this server started, every org and kind.
    pub recovered_since_start: u64,
    pub orgs: Vec<OrgReport>,
}

/// One org.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct OrgReport {
    pub org_id: String,
    /// `alarms`, `device-events` and `audits`, in that order.
    pub kinds: Vec<KindReport>,
    pub deliveries: DeliveryReport,
}

/// One kind of one org.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct KindReport {
    /// `alarms`, `device-events` or `audits` (the topic the events are stored under).
    pub kind: String,
    /// When the last read ended (RFC 3339); null before the first.
    #[serde(serialize_with = "time", deserialize_with = "time_back", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_run_at: Option<i64>,
    /// The event times the last good read covered.
    #[serde(serialize_with = "time", deserialize_with = "time_back", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub window_start: Option<i64>,
    #[serde(serialize_with = "time", deserialize_with = "time_back", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub window_end: Option<i64>,
    /// The next read starts here, less the overlap.
    #[serde(serialize_with = "time", deserialize_with = "time_back", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub read_until: Option<i64>,
    /// Results the last good read got from Mist.
    pub read: u64,
    /// Of those, events the log lacked and now holds (stored as source `mist-api`).
    pub recovered: u64,
    /// Recovered for this org and kind over every read (kept across restarts).
    pub recovered_total: i64,
    /// What went wrong with the last read, when it failed (the next one retries).
    pub error: Option<String>,
}

/// Mist's delivery results of the org's webhooks (Mist keeps them for alarms, audits,
/// device-updowns and occupancy-alerts).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct DeliveryReport {
    /// When they were last read.
    #[serde(serialize_with = "time", deserialize_with = "time_back", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub checked_at: Option<i64>,
    /// The org's webhooks with a failed delivery in the last day.
    pub failing: Vec<FailedWebhook>,
    /// What went wrong reading them, when it failed.
    pub error: Option<String>,
}

/// A webhook with failed deliveries.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct FailedWebhook {
    pub webhook_id: String,
    pub name: Option<String>,
    pub url: String,
    /// Failed deliveries in the last day (at most the number asked for, see `more`).
    pub failures: u64,
    /// There were more than `failures`.
    pub more: bool,
    /// The topics of those failures.
    pub topics: Vec<String>,
    #[serde(serialize_with = "time", deserialize_with = "time_back", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_failure_at: Option<i64>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    /// The delivery ids (Mist's), newest first, for telling new failures from known ones.
    #[serde(skip)]
    pub ids: Vec<String>,
}

impl FailedWebhook {
    /// From Mist's failed delivery results of `hook`, newest first.
    pub fn from_results(hook: mistapi::Webhook, failures: &[Value], asked: usize) -> FailedWebhook {
        let newest = failures.first();
        let text = |v: Option<&Value>, f: &str| {
            v.and_then(|v| v.get(f))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let mut topics: Vec<String> = failures
            .iter()
            .filter_map(|f| text(Some(f), "topic"))
            .collect();
        topics.sort();
        topics.dedup();
        FailedWebhook {
            webhook_id: hook.id.unwrap_or_default(),
            name: hook.name,
            url: hook.url,
            failures: failures.len() as u64,
            more: failures.len() >= asked,
            topics,
            last_failure_at: newest
                .and_then(|f| f.get("timestamp"))
                .and_then(mist::parse_time_value)
                .map(|(us, _)| us),
            last_status_code: newest
                .and_then(|f| f.get("status_code"))
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| *c != 0),
            last_error: text(newest, "error"),
            ids: failures
                .iter()
                .filter_map(|f| text(Some(f), "id"))
                .collect(),
        }
    }
}
