//! `GET /api/v1/const/webhook_topics`: the topics a webhook may take, as Mist's
//! `listWebhookTopics` answers them, from `mist::Topic`.

use axum::Json;
use mist::Topic;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ErrorBody;

/// One topic: Mist's `const_webhook_topic`.
#[derive(Serialize, ToSchema)]
pub struct WebhookTopicView {
    /// The topic's name, as webhooks take it.
    key: String,
    /// Whether org webhooks take it (site webhooks take every topic).
    for_org: bool,
    /// Whether `single_event_per_message` applies to it.
    allows_single_event_per_message: bool,
    /// Whether Mist keeps delivery results for it (mistgate keeps them for every topic).
    has_delivery_results: bool,
    /// Whether it is sent by the server only (`ping`) and not subscribed to.
    internal: bool,
}

impl From<&Topic> for WebhookTopicView {
    fn from(topic: &Topic) -> WebhookTopicView {
        let internal = *topic == Topic::Ping;
        WebhookTopicView {
            key: topic.as_str().to_string(),
            for_org: !topic.is_site_only(),
            allows_single_event_per_message: !internal,
            has_delivery_results: topic.has_delivery_results(),
            internal,
        }
    }
}

/// List webhook topics
///
/// Every topic mistgate knows, as Mist's `listWebhookTopics` answers: whether org webhooks
/// take it (`for_org`; site webhooks take them all), whether `single_event_per_message`
/// applies, whether Mist keeps delivery results for it, and whether it is internal
/// (`ping`). A topic Mist adds later is not listed but is taken by webhooks as it comes.
#[utoipa::path(
    get,
    path = "/api/v1/const/webhook_topics",
    operation_id = "list_webhook_topics",
    tag = "webhooks",
    responses(
        (status = 200, description = "Every known topic, by name.", body = [WebhookTopicView]),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn webhook_topics() -> Json<Vec<WebhookTopicView>> {
    Json(Topic::KNOWN.iter().map(WebhookTopicView::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_answer_as_mist_lists_them() {
        let Json(topics) = tokio_test_block(webhook_topics());
        let find = |key: &str| {
            let t = topics.iter().find(|t| t.key == key).expect(key);
            (
                t.for_org,
                t.allows_single_event_per_message,
                t.has_delivery_results,
                t.internal,
            )
        };
        assert_eq!(find("alarms"), (true, true, true, false));
        assert_eq!(find("device-events"), (true, true, false, false));
        assert_eq!(find("occupancy-alerts"), (false, true, true, false));
        assert_eq!(find("sdkclient-scan-data"), (false, true, false, false));
        assert_eq!(find("ping"), (true, false, true, true));
        assert_eq!(topics.len(), Topic::KNOWN.len());
    }

    fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }
}
