//! The query parameters of the delivery results and outbox views (`deliveries.rs`,
//! `targets.rs`). The closed sets among them are parsed with the enums below (see
//! [`one_of`](super::params::one_of)), so that the document and the server accept the
//! same values.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::params::TimeParam;

/// The outcome of a delivery attempt: `success` (a 2xx answer) or `failure`.
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatusDoc {
    Success,
    Failure,
}

/// The state of an outbox message: `pending` (waiting for its first attempt or a retry),
/// `delivered` (a 2xx answer) or `dead` (refused, or out of retries; can be replayed).
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchStateDoc {
    Pending,
    Delivered,
    Dead,
}

impl From<BatchStateDoc> for store::BatchState {
    fn from(s: BatchStateDoc) -> store::BatchState {
        match s {
            BatchStateDoc::Pending => store::BatchState::Pending,
            BatchStateDoc::Delivered => store::BatchState::Delivered,
            BatchStateDoc::Dead => store::BatchState::Dead,
        }
    }
}

/// The field delivery results are counted by.
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DistinctDoc {
    Status,
    StatusCode,
    Topic,
    WebhookId,
}

impl DistinctDoc {
    /// The name, as in the query and in the answer.
    pub fn as_str(self) -> &'static str {
        match self {
            DistinctDoc::Status => "status",
            DistinctDoc::StatusCode => "status_code",
            DistinctDoc::Topic => "topic",
            DistinctDoc::WebhookId => "webhook_id",
        }
    }
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
    status: Option<AttemptStatusDoc>,
    /// Only answers with this HTTP status.
    #[param(minimum = 100, maximum = 599)]
    status_code: Option<u16>,
}

/// What `events/count` counts by.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DistinctQuery {
    /// The field to count by; `status` when left out.
    #[param(inline)]
    distinct: Option<DistinctDoc>,
}

/// The filters of an outbox (`deliveries`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct BatchQuery {
    /// Only messages in this state (`dead`: the dead letters).
    #[param(inline)]
    state: Option<BatchStateDoc>,
    /// Only this topic, in any spelling; empty is every topic.
    topic: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::params::enum_values;

    #[test]
    fn batch_states_are_the_stores() {
        let documented: Vec<_> = enum_values::<BatchStateDoc>();
        assert_eq!(documented, ["pending", "delivered", "dead"]);
        for v in documented {
            let doc: BatchStateDoc = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(store::BatchState::from(doc).as_str(), v);
        }
        let distinct: Vec<_> = enum_values::<DistinctDoc>();
        for v in distinct {
            let doc: DistinctDoc = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(doc.as_str(), v);
        }
    }
}
