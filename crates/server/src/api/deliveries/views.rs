//! What the delivery results and outbox routes answer (webhooks' and routing targets'
//! alike), the closed sets their filters take, and the answers each route documents.
//! The handlers return these views, and the OpenAPI document is generated from them.

use serde::{Deserialize, Serialize};
use store::{AttemptRow, BatchRow, BatchState};
use utoipa::{IntoParams, IntoResponses, ToSchema};

use super::super::answer::{Time, time};
use super::super::params::TimeParam;
use super::window::{DurationParam, WindowTimeParam};
use crate::error::ErrorBody;

/// The outcome of a delivery attempt: `success` (a 2xx answer) or `failure`.
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    Success,
    Failure,
}

/// The state of an outbox message: `pending` (waiting for its first attempt or a retry),
/// `delivered` (a 2xx answer) or `dead` (refused, or out of retries; can be replayed).
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    Pending,
    Delivered,
    Dead,
}

impl From<MessageState> for BatchState {
    fn from(s: MessageState) -> BatchState {
        match s {
            MessageState::Pending => BatchState::Pending,
            MessageState::Delivered => BatchState::Delivered,
            MessageState::Dead => BatchState::Dead,
        }
    }
}

impl From<BatchState> for MessageState {
    fn from(s: BatchState) -> MessageState {
        match s {
            BatchState::Pending => MessageState::Pending,
            BatchState::Delivered => MessageState::Delivered,
            BatchState::Dead => MessageState::Dead,
        }
    }
}

/// The field delivery results are counted by.
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Distinct {
    Status,
    StatusCode,
    Topic,
    WebhookId,
}

impl Distinct {
    /// The name, as in the query and in the answer.
    pub fn as_str(self) -> &'static str {
        match self {
            Distinct::Status => "status",
            Distinct::StatusCode => "status_code",
            Distinct::Topic => "topic",
            Distinct::WebhookId => "webhook_id",
        }
    }
}

/// Who a delivery went to, as the attempt names it: the webhook's org or site.
pub(crate) struct Place<'a> {
    pub org_id: &'a Option<String>,
    pub site_id: &'a Option<String>,
}

/// One delivery attempt: Mist's `webhook_delivery` object, plus mistgate's fields.
#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    /// The attempt's id: a UUID, as Mist's, the same on every answer. `POST
    /// .../deliveries/{id}/replay` takes it for the message this attempt sent.
    #[schema(format = "uuid")]
    id: String,
    #[schema(required = true)]
    org_id: Option<String>,
    #[schema(required = true)]
    site_id: Option<String>,
    webhook_id: String,
    /// Canonical topic, or `ping`.
    topic: String,
    /// `success` (a 2xx answer) or `failure`.
    status: AttemptStatus,
    /// The answer's HTTP status; null when there was no answer (timeout, refused connection).
    #[schema(required = true)]
    status_code: Option<u16>,
    /// When the request was sent, epoch seconds.
    timestamp: f64,
    req_url: String,
    /// Request headers as JSON text, `{"Name": ["value"]}`; credentials and custom header
    /// values are redacted.
    req_headers: String,
    /// The request body, truncated to `[delivery] record_body_bytes`.
    req_payload: String,
    resp_headers: String,
    /// The answer's body, truncated.
    resp_body: String,
    /// What went wrong, if anything.
    #[schema(required = true)]
    error: Option<String>,
    /// 1 for the message's first attempt.
    attempt: u32,
    latency_ms: f64,
    /// The message (outbox batch) this attempt sent.
    batch_id: i64,
    /// The message's state after this attempt: `pending` (a retry follows), `delivered`, `dead`.
    batch_state: MessageState,
    /// When the retry is due, for `pending`; `null` otherwise.
    #[schema(required = true)]
    next_attempt_at: Option<Time>,
}

impl AttemptView {
    pub(crate) fn new(row: AttemptRow, place: &Place) -> AttemptView {
        let r = row.record;
        AttemptView {
            id: super::ids::to_uuid(row.id).to_string(),
            org_id: place.org_id.clone(),
            site_id: place.site_id.clone(),
            webhook_id: r.subscription_id,
            topic: r.topic,
            status: if r.success {
                AttemptStatus::Success
            } else {
                AttemptStatus::Failure
            },
            status_code: r.status_code,
            timestamp: seconds(r.at),
            req_url: r.url,
            req_headers: r.request_headers,
            req_payload: r.request_body,
            resp_headers: r.response_headers,
            resp_body: r.response_body,
            error: r.error,
            attempt: r.attempt,
            latency_ms: r.latency_us as f64 / 1e3,
            batch_id: r.batch_id,
            batch_state: r.next_state.into(),
            next_attempt_at: (r.next_state == BatchState::Pending).then_some(Time(r.next_due_at)),
        }
    }
}

/// Unix µs as epoch seconds, as Mist's delivery results write times.
pub(crate) fn seconds(us: i64) -> f64 {
    us as f64 / 1e6
}

/// A page of delivery results: Mist's `search_webhook_delivery`, plus `next_cursor`.
#[derive(Serialize, ToSchema)]
pub struct DeliverySearchView {
    pub(crate) results: Vec<AttemptView>,
    /// The window searched, epoch seconds (see the `start`, `end` and `duration`
    /// parameters).
    pub(crate) start: i64,
    /// The end of the window, epoch seconds.
    pub(crate) end: i64,
    /// The page size in effect.
    pub(crate) limit: u32,
    /// How many results the filters match, all pages.
    pub(crate) total: i64,
    /// Pass as `cursor` for the next page; null at the end.
    #[schema(required = true)]
    pub(crate) next_cursor: Option<String>,
}

/// Delivery results counted by one field.
#[derive(Serialize, ToSchema)]
pub struct DeliveryCountView {
    /// The field counted by.
    pub(crate) distinct: Distinct,
    /// The counts, largest first: at most `limit` groups.
    pub(crate) results: Vec<CountView>,
    /// The window counted, epoch seconds (see the `start`, `end` and `duration`
    /// parameters).
    pub(crate) start: i64,
    /// The end of the window, epoch seconds.
    pub(crate) end: i64,
    /// The most groups answered.
    pub(crate) limit: u32,
    /// How many attempts the filters match, in every group.
    pub(crate) total: i64,
}

/// One group of a count: `{"<distinct>": value, "count": n}`.
#[derive(Serialize, ToSchema)]
pub struct CountView {
    #[serde(flatten)]
    pub(crate) key: CountKey,
    /// How many attempts have this value.
    pub(crate) count: i64,
}

/// The value a group of attempts shares, named by the field counted by.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CountKey {
    Status(AttemptStatus),
    /// `null` for attempts that got no answer.
    StatusCode(Option<u16>),
    Topic(String),
    WebhookId(String),
}

impl CountKey {
    /// The store's group key (text) as the value of `distinct`.
    pub(crate) fn new(distinct: Distinct, key: String) -> CountKey {
        match distinct {
            Distinct::Status if key == "success" => CountKey::Status(AttemptStatus::Success),
            Distinct::Status => CountKey::Status(AttemptStatus::Failure),
            Distinct::StatusCode => CountKey::StatusCode(key.parse().ok()),
            Distinct::Topic => CountKey::Topic(key),
            Distinct::WebhookId => CountKey::WebhookId(key),
        }
    }
}

/// The answer of a ping.
#[derive(Serialize, ToSchema)]
pub struct PingView {
    /// The message queued; see `/deliveries` and `/events/search`.
    pub(crate) batch_id: i64,
}

/// One message of an outbox.
#[derive(Serialize, ToSchema)]
pub struct MessageView {
    id: i64,
    webhook_id: String,
    topic: String,
    /// Where it is.
    state: MessageState,
    event_count: u32,
    /// The events of the log it carries.
    event_ids: Vec<i64>,
    /// The `X-Mistgate-Delivery-Id` header it is sent with (the same on every attempt).
    delivery_id: String,
    created_at: Time,
    /// When the next attempt is due, for `pending`; `null` otherwise.
    #[schema(required = true)]
    next_attempt_at: Option<Time>,
    attempts: u32,
    #[schema(required = true)]
    last_attempt_at: Option<Time>,
    #[schema(required = true)]
    last_status: Option<u16>,
    #[schema(required = true)]
    last_error: Option<String>,
}

impl From<BatchRow> for MessageView {
    fn from(b: BatchRow) -> MessageView {
        MessageView {
            id: b.id,
            webhook_id: b.subscription_id,
            topic: b.topic,
            state: b.state.into(),
            event_count: b.event_count,
            event_ids: b.event_ids,
            delivery_id: b.delivery_id,
            created_at: Time(b.created_at),
            next_attempt_at: (b.state == BatchState::Pending).then_some(Time(b.due_at)),
            attempts: b.attempts,
            last_attempt_at: time(b.last_attempt_at),
            last_status: b.last_status,
            last_error: b.last_error,
        }
    }
}

/// The messages a replay queued again.
#[derive(Serialize, ToSchema)]
pub struct ReplayedView {
    pub(crate) replayed: Vec<i64>,
}

/// The time range of delivery results and outbox messages. A range that is empty
/// (`since` after `until`) answers nothing.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RangeQuery {
    /// At or after this: RFC 3339 or epoch seconds.
    #[param(value_type = Option<TimeParam>, inline)]
    since: Option<String>,
    /// At or before this: RFC 3339 or epoch seconds.
    #[param(value_type = Option<TimeParam>, inline)]
    until: Option<String>,
    /// Mist's name for `since`, used when `since` is absent.
    #[param(value_type = Option<TimeParam>, inline)]
    start: Option<String>,
    /// Mist's name for `until`, used when `until` is absent.
    #[param(value_type = Option<TimeParam>, inline)]
    end: Option<String>,
}

/// The time window of delivery results (`events/search`, `events/count`), as Mist's
/// searches take it: `start` and `end`; or `end` (default now) and `duration` before it;
/// or `start` and `duration` after it; `duration` is one day when left out. Times are
/// epoch seconds, RFC 3339, `now`, or relative to now (`-1h`: a count and `s`, `m`,
/// `h`, `d` or `w`). An empty window answers nothing.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct WindowQuery {
    /// The start of the window.
    #[param(value_type = Option<WindowTimeParam>, inline)]
    start: Option<String>,
    /// The end of the window; now when left out.
    #[param(value_type = Option<WindowTimeParam>, inline)]
    end: Option<String>,
    /// The window's length (`10m`, `1d`, `2w`), when `start` or `end` is left out.
    #[param(value_type = Option<DurationParam>, inline)]
    duration: Option<String>,
    /// mistgate's name for `start`, used instead of it when both are given.
    #[param(value_type = Option<WindowTimeParam>, inline)]
    since: Option<String>,
    /// mistgate's name for `end`, used instead of it when both are given.
    #[param(value_type = Option<WindowTimeParam>, inline)]
    until: Option<String>,
}

/// The filters of delivery results (`events/search`, `events/count`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AttemptQuery {
    /// Only this topic, in any spelling (routing targets: `event` or `incident`); empty is
    /// every topic.
    topic: Option<String>,
    /// Only successes or only failures.
    #[param(inline)]
    status: Option<AttemptStatus>,
    /// Only answers with this HTTP status.
    #[param(minimum = 100, maximum = 599)]
    status_code: Option<u16>,
    /// Only attempts whose error contains this text (e.g. `timed out`); empty is every
    /// attempt.
    error: Option<String>,
}

/// What `events/count` counts by.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DistinctQuery {
    /// The field to count by; `status` when left out.
    #[param(inline)]
    distinct: Option<Distinct>,
    /// The most groups to answer, 1 to 1000 (the largest first).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
}

/// The filters of an outbox (`deliveries`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MessageQuery {
    /// Only messages in this state (`dead`: the dead letters).
    #[param(inline)]
    state: Option<MessageState>,
    /// Only this topic, in any spelling; empty is every topic.
    topic: Option<String>,
}

/// The answers of `events/search`, for webhooks and targets alike.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum SearchAnswers {
    /// One page of results.
    #[response(status = 200)]
    Ok(DeliverySearchView),
    /// `invalid_query`: a parameter is malformed.
    #[response(status = 400)]
    InvalidQuery(ErrorBody<'static>),
    /// `unauthorized`.
    #[response(status = 401)]
    Unauthorized(ErrorBody<'static>),
    /// `not_found`: no such webhook or target here.
    #[response(status = 404)]
    NotFound(ErrorBody<'static>),
    /// `store_unavailable`.
    #[response(status = 503)]
    Unavailable(ErrorBody<'static>),
}

/// The answers of `events/count`.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum CountAnswers {
    /// The counts, largest first.
    #[response(status = 200)]
    Ok(DeliveryCountView),
    /// `invalid_query`.
    #[response(status = 400)]
    InvalidQuery(ErrorBody<'static>),
    /// `unauthorized`.
    #[response(status = 401)]
    Unauthorized(ErrorBody<'static>),
    /// `not_found`.
    #[response(status = 404)]
    NotFound(ErrorBody<'static>),
    /// `store_unavailable`.
    #[response(status = 503)]
    Unavailable(ErrorBody<'static>),
}

/// The answers of an outbox list (`deliveries`).
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum MessagesAnswers {
    /// One page of messages.
    #[response(status = 200)]
    Ok(super::super::answer::List<MessageView>),
    /// `invalid_query`.
    #[response(status = 400)]
    InvalidQuery(ErrorBody<'static>),
    /// `unauthorized`.
    #[response(status = 401)]
    Unauthorized(ErrorBody<'static>),
    /// `not_found`.
    #[response(status = 404)]
    NotFound(ErrorBody<'static>),
    /// `store_unavailable`.
    #[response(status = 503)]
    Unavailable(ErrorBody<'static>),
}

/// The answers of replaying one dead message.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ReplayOneAnswers {
    /// Queued again, due now.
    #[response(status = 200)]
    Ok(ReplayedView),
    /// `unauthorized`.
    #[response(status = 401)]
    Unauthorized(ErrorBody<'static>),
    /// `not_found`: no such webhook, target or message.
    #[response(status = 404)]
    NotFound(ErrorBody<'static>),
    /// `conflict`: the message is not dead.
    #[response(status = 409)]
    Conflict(ErrorBody<'static>),
    /// `delivery_unavailable` (`[delivery] enabled = false`) or `store_unavailable`.
    #[response(status = 503)]
    Unavailable(ErrorBody<'static>),
}

/// The answers of replaying the dead messages of a range.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ReplayAllAnswers {
    /// The ids queued again.
    #[response(status = 200)]
    Ok(ReplayedView),
    /// `invalid_query`.
    #[response(status = 400)]
    InvalidQuery(ErrorBody<'static>),
    /// `unauthorized`.
    #[response(status = 401)]
    Unauthorized(ErrorBody<'static>),
    /// `not_found`.
    #[response(status = 404)]
    NotFound(ErrorBody<'static>),
    /// `delivery_unavailable` (`[delivery] enabled = false`) or `store_unavailable`.
    #[response(status = 503)]
    Unavailable(ErrorBody<'static>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::params::enum_values;

    #[test]
    fn message_states_are_the_stores() {
        let documented: Vec<_> = enum_values::<MessageState>();
        assert_eq!(documented, ["pending", "delivered", "dead"]);
        for v in documented {
            let state: MessageState = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(BatchState::from(state).as_str(), v);
        }
        for v in enum_values::<Distinct>() {
            let d: Distinct = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(d.as_str(), v);
        }
    }
}
