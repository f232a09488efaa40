//! The chat targets, Slack and Microsoft Teams: encoder snapshots over Mist samples and
//! incidents, and contract tests against local fakes that check each request the way
//! the service documents it and answer the way it does, errors and rate limits included.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deliver::client::Exchange;
use deliver::schedule::{Class, Outcome, classify};
use deliver::targets::{Message, slack, teams};
use serde_json::{Value, json};
use support::{Harness, Overrides, Receiver, Reply, Request, json_reply};

const HOOK_PATH: &str = "/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX";
const TOKEN: &str = "xoxb-17-42-test-token";
const CHANNEL_ID: &str = "C024BE91L";

fn harness() -> Harness {
    Harness::new(Duration::from_secs(5))
}

fn slack_webhook(url: &str) -> slack::Config {
    let config: slack::Config = serde_json::from_value(json!({"webhook_url": url})).unwrap();
    config.check().unwrap();
    config
}

fn slack_bot(api_url: &str, token: &str) -> slack::Config {
    let config: slack::Config = serde_json::from_value(json!({
        "token": token, "channel": "#noc", "api_url": api_url,
    }))
    .unwrap();
    config.check().unwrap();
    config
}

fn teams_config(url: &str) -> teams::Config {
    let config: teams::Config = serde_json::from_value(json!({"url": url})).unwrap();
    config.check().unwrap();
    config
}

fn body_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap_or(Value::Null)
}

fn text_reply(status: u16, body: &str) -> Reply {
    (
        status,
        vec![("Content-Type".into(), "text/html".into())],
        body.into(),
    )
}

fn status(code: u16, retry_after_s: Option<u64>, body: Reply) -> Reply {
    let (_, mut headers, text) = body;
    if let Some(s) = retry_after_s {
        headers.push(("Retry-After".into(), s.to_string()));
    }
    (code, headers, text)
}

// ---------------------------------------------------------------------------------
// Snapshots

#[test]
fn slack_encoder_snapshots() {
    let hook = slack_webhook("https://hooks.slack.com/services/T0000/B0000/XXXX");
    let bot = slack_bot(slack::DEFAULT_API_URL, TOKEN);
    for (name, message) in support::snapshot_messages() {
        let request = slack::webhook_request(hook.webhook_url.as_deref().unwrap(), &hook, &message);
        insta::assert_snapshot!(
            format!("slack_webhook_{name}"),
            support::shown_request(&request)
        );
    }
    // The bot posts an incident's opening, then edits that message.
    let posted = slack::Posted {
        channel: CHANNEL_ID.into(),
        ts: "1749080793.000100".into(),
    };
    insta::assert_snapshot!(
        "slack_bot_incident-opened",
        support::shown_request(&slack::post_request(&bot, &support::incident("opened")))
    );
    insta::assert_snapshot!(
        "slack_bot_incident-resolved",
        support::shown_request(&slack::update_request(
            &bot,
            &support::incident("resolved"),
            &posted
        ))
    );
}

#[test]
fn teams_encoder_snapshots() {
    let config = teams_config(
        "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SIG",
    );
    for (name, message) in support::snapshot_messages() {
        insta::assert_snapshot!(
            format!("teams_{name}"),
            support::shown_request(&teams::encode(&config, &message))
        );
    }
}

#[test]
fn event_texts_use_names_not_ids() {
    let hook = slack_webhook("https://hooks.slack.com/services/T0000/B0000/XXXX");
    for (name, message) in support::snapshot_messages() {
        let Message::Event(e) = &message else {
            continue;
        };
        let body = slack::payload(&hook, &message).to_string();
        let card = teams::card(&teams_config("https://example.net/x"), &message).to_string();
        if let (Some(site_id), Some(_)) = (&e.site_id, &e.site_name) {
            assert!(!body.contains(site_id.as_str()), "{name}: {body}");
            assert!(!card.contains(site_id.as_str()), "{name}: {card}");
        }
    }
}

// ---------------------------------------------------------------------------------
// Slack: what Block Kit accepts

/// Checks a message payload as Slack does; the error is Slack's own code.
fn block_kit(v: &Value) -> Result<(), &'static str> {
    let blocks = v["blocks"].as_array();
    if v["text"].as_str().is_none_or(str::is_empty) && blocks.is_none() {
        return Err("no_text");
    }
    let Some(blocks) = blocks else { return Ok(()) };
    if blocks.len() > 50 {
        return Err("invalid_blocks");
    }
    let within = |t: &Value, max: usize| t.as_str().is_some_and(|s| s.chars().count() <= max);
    for block in blocks {
        let ok = match block["type"].as_str() {
            Some("header") => {
                block["text"]["type"] == "plain_text" && within(&block["text"]["text"], 150)
            }
            Some("section") => {
                let text_ok = block["text"].is_null() || within(&block["text"]["text"], 3000);
                let fields = block["fields"].as_array();
                let fields_ok = fields
                    .is_none_or(|f| f.len() <= 10 && f.iter().all(|x| within(&x["text"], 2000)));
                text_ok && fields_ok && (!block["text"].is_null() || fields.is_some())
            }
            Some("context") => block["elements"]
                .as_array()
                .is_some_and(|e| (1..=10).contains(&e.len())),
            _ => false,
        };
        if !ok {
            return Err("invalid_blocks");
        }
    }
    Ok(())
}

/// An incoming webhook, answering as Slack documents: `200 ok`, `400 invalid_payload`,
/// `400 no_text`, `404 no_service` for an unknown hook.
fn slack_hook_service(request: &Request) -> Reply {
    if request.method != "POST" || request.path != HOOK_PATH {
        return text_reply(404, "no_service");
    }
    if !request
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
    {
        return text_reply(400, "invalid_payload");
    }
    let body = body_of(request);
    if !body.is_object() {
        return text_reply(400, "invalid_payload");
    }
    match block_kit(&body) {
        Ok(()) => text_reply(200, "ok"),
        Err(code) => text_reply(400, code),
    }
}

#[test]
fn the_fake_slack_refuses_what_slack_refuses() {
    let request = |body: &str| Request {
        method: axum::http::Method::POST,
        path: HOOK_PATH.into(),
        query: None,
        headers: [(
            axum::http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        )]
        .into_iter()
        .collect(),
        body: body.to_string().into(),
    };
    assert_eq!(
        slack_hook_service(&request("{}")),
        text_reply(400, "no_text")
    );
    assert_eq!(slack_hook_service(&request("nope")).2, "invalid_payload");
    let long_header = json!({"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x".repeat(151)}}]});
    assert_eq!(
        slack_hook_service(&request(&long_header.to_string())).2,
        "invalid_blocks"
    );
    assert_eq!(slack_hook_service(&request(r#"{"text":"hi"}"#)).0, 200);
}

#[tokio::test]
async fn slack_webhook_posts_block_kit_and_classifies_every_answer() {
    let h = harness();
    let overrides = Overrides::default();
    let slack = Receiver::start(overrides.over(slack_hook_service)).await;
    let config = slack_webhook(&slack.url(HOOK_PATH));
    let messages = support::snapshot_messages();
    // Every message is accepted as it is.
    for (i, (name, message)) in messages.iter().enumerate() {
        let target = format!("slack-accepts-{i}");
        let exchange =
            slack::send(&config, std::slice::from_ref(message), &h.ctx(&target, "d")).await;
        assert_eq!(
            exchange.outcome,
            Outcome::Success,
            "{name}: {:?}",
            exchange.error
        );
    }
    assert_eq!(slack.requests().len(), messages.len());

    // Slack's documented failures, each classified.
    let cases: Vec<(Reply, Class)> = vec![
        (text_reply(400, "invalid_payload"), Class::Fail),
        (text_reply(403, "action_prohibited"), Class::Fail),
        (text_reply(404, "channel_not_found"), Class::Fail),
        (text_reply(410, "channel_is_archived"), Class::Fail),
        (
            status(429, Some(7), text_reply(429, "rate_limited")),
            Class::Retry,
        ),
        (text_reply(500, "rollup_error"), Class::Retry),
    ];
    let message = support::incident("opened");
    for (i, (reply, class)) in cases.into_iter().enumerate() {
        let text = reply.2.clone();
        overrides.push(reply);
        let target = format!("slack-refused-{i}");
        let exchange = slack::send(
            &config,
            std::slice::from_ref(&message),
            &h.ctx(&target, "d"),
        )
        .await;
        assert_eq!(classify(&exchange.outcome), class, "{text}");
        assert!(
            exchange.error.as_deref().is_some_and(|e| e.contains(&text)),
            "{text}: {:?}",
            exchange.error
        );
        if text == "rate_limited" {
            assert_eq!(
                exchange.outcome,
                Outcome::Status {
                    code: 429,
                    retry_after_us: Some(7_000_000)
                }
            );
        }
    }
    // A hook that does not exist.
    let gone = slack_webhook(&slack.url("/services/T0000/B0000/gone"));
    let exchange = slack::send(
        &gone,
        std::slice::from_ref(&message),
        &h.ctx("slack-gone", "d"),
    )
    .await;
    assert_eq!(classify(&exchange.outcome), Class::Fail);
}

// ---------------------------------------------------------------------------------
// Slack Web API

/// `chat.postMessage` and `chat.update` as Slack answers them: `200` with `ok`, errors
/// in the body (`not_authed`, `invalid_auth`, `channel_not_found`, `message_not_found`,
/// `invalid_blocks`), a rate limit as `429` with `Retry-After`.
#[derive(Default)]
struct SlackApi {
    /// Messages by `ts`.
    messages: Mutex<HashMap<String, Value>>,
}

impl SlackApi {
    fn answer(&self, request: &Request) -> Reply {
        let error = |code: &str| json_reply(200, &json!({"ok": false, "error": code}).to_string());
        if request.method != "POST" {
            return error("method_not_supported_for_channel_type");
        }
        match request.header("authorization") {
            None => return error("not_authed"),
            Some(a) if a != format!("Bearer {TOKEN}") => return error("invalid_auth"),
            Some(_) => {}
        }
        if request.header("content-type") != Some("application/json; charset=utf-8") {
            return error("invalid_arguments");
        }
        let body = body_of(request);
        if let Err(code) = block_kit(&body) {
            return error(code);
        }
        let mut messages = self.messages.lock().unwrap();
        match request.path.as_str() {
            "/api/chat.postMessage" => {
                if !matches!(body["channel"].as_str(), Some("#noc" | CHANNEL_ID)) {
                    return error("channel_not_found");
                }
                let ts = format!("1749080793.{:06}", messages.len() + 1);
                messages.insert(ts.clone(), body.clone());
                json_reply(
                    200,
                    &json!({"ok": true, "channel": CHANNEL_ID, "ts": ts, "message": {"text": body["text"]}})
                        .to_string(),
                )
            }
            "/api/chat.update" => {
                if body["channel"] != CHANNEL_ID {
                    return error("channel_not_found");
                }
                let ts = body["ts"].as_str().unwrap_or_default().to_string();
                let Some(slot) = messages.get_mut(&ts) else {
                    return error("message_not_found");
                };
                *slot = body.clone();
                json_reply(
                    200,
                    &json!({"ok": true, "channel": CHANNEL_ID, "ts": ts, "text": body["text"]})
                        .to_string(),
                )
            }
            _ => json_reply(404, r#"{"ok":false,"error":"unknown_method"}"#),
        }
    }
}

async fn slack_api(overrides: &Overrides) -> (Receiver, Arc<SlackApi>) {
    let api = Arc::new(SlackApi::default());
    let service = api.clone();
    let receiver = Receiver::start(overrides.over(move |r| service.answer(r))).await;
    (receiver, api)
}

async fn send_slack(
    config: &slack::Config,
    message: &Message,
    h: &Harness,
    target: &str,
) -> Exchange {
    slack::send(config, std::slice::from_ref(message), &h.ctx(target, "d")).await
}

#[tokio::test]
async fn slack_bot_posts_an_incident_then_edits_its_message() {
    let h = harness();
    let overrides = Overrides::default();
    let (receiver, api) = slack_api(&overrides).await;
    let config = slack_bot(&receiver.url("/api"), TOKEN);

    let opened = send_slack(&config, &support::incident("opened"), &h, "slack-bot").await;
    assert_eq!(opened.outcome, Outcome::Success, "{:?}", opened.error);
    // The token is never in the delivery record.
    assert!(
        !opened.request_headers.contains(TOKEN),
        "{}",
        opened.request_headers
    );
    let state = store::Store::target_state(&h.store, "slack-bot", "incident:5")
        .await
        .unwrap()
        .expect("the message is remembered");
    let posted: slack::Posted = serde_json::from_str(&state).unwrap();
    assert_eq!(posted.channel, CHANNEL_ID);

    let resolved = send_slack(&config, &support::incident("resolved"), &h, "slack-bot").await;
    assert_eq!(resolved.outcome, Outcome::Success, "{:?}", resolved.error);
    let requests = receiver.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/api/chat.postMessage", "/api/chat.update"]);
    // One message in the channel, now showing the resolution.
    let messages = api.messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    let shown = messages[&posted.ts].to_string();
    assert!(
        shown.contains("Resolved") && shown.contains("Duration"),
        "{shown}"
    );
}

#[tokio::test]
async fn slack_bot_without_a_message_to_edit_posts_a_new_one() {
    let h = harness();
    let overrides = Overrides::default();
    let (receiver, api) = slack_api(&overrides).await;
    let config = slack_bot(&receiver.url("/api"), TOKEN);
    // The opening never reached Slack: the resolution is posted, and remembered.
    let exchange = send_slack(&config, &support::incident("resolved"), &h, "slack-late").await;
    assert_eq!(exchange.outcome, Outcome::Success, "{:?}", exchange.error);
    assert_eq!(receiver.requests()[0].path, "/api/chat.postMessage");
    assert!(
        store::Store::target_state(&h.store, "slack-late", "incident:5")
            .await
            .unwrap()
            .is_some()
    );
    // A remembered message someone deleted: Slack says message_not_found, a new one is posted.
    let stale = slack::Posted {
        channel: CHANNEL_ID.into(),
        ts: "1.000000".into(),
    };
    store::Store::put_target_state(
        &h.store,
        "slack-stale",
        "incident:5",
        &serde_json::to_string(&stale).unwrap(),
        0,
    )
    .await
    .unwrap();
    let exchange = send_slack(&config, &support::incident("updated"), &h, "slack-stale").await;
    assert_eq!(exchange.outcome, Outcome::Success, "{:?}", exchange.error);
    let paths: Vec<String> = receiver.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/chat.postMessage",
            "/api/chat.update",
            "/api/chat.postMessage"
        ]
    );
    assert_eq!(api.messages.lock().unwrap().len(), 2);
    let now: slack::Posted = serde_json::from_str(
        &store::Store::target_state(&h.store, "slack-stale", "incident:5")
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_ne!(now, stale);
}

#[tokio::test]
async fn slack_api_errors_are_retried_or_dead_as_slack_means_them() {
    let h = harness();
    let overrides = Overrides::default();
    let (receiver, _api) = slack_api(&overrides).await;
    let event = support::sample_event("alarms__device-restarted_lukeroberson.json", 1);

    // A wrong token and an unknown channel fail for good.
    let wrong = slack_bot(&receiver.url("/api"), "xoxb-wrong");
    let exchange = send_slack(&wrong, &event, &h, "slack-e1").await;
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    assert!(exchange.error.unwrap().contains("invalid_auth"));
    let mut elsewhere = slack_bot(&receiver.url("/api"), TOKEN);
    elsewhere.channel = Some("#nowhere".into());
    let exchange = send_slack(&elsewhere, &event, &h, "slack-e2").await;
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    assert!(exchange.error.unwrap().contains("channel_not_found"));

    let config = slack_bot(&receiver.url("/api"), TOKEN);
    overrides.push(status(
        429,
        Some(30),
        json_reply(429, r#"{"ok":false,"error":"ratelimited"}"#),
    ));
    let exchange = send_slack(&config, &event, &h, "slack-e3").await;
    assert_eq!(
        exchange.outcome,
        Outcome::Status {
            code: 429,
            retry_after_us: Some(30_000_000)
        }
    );
    assert!(exchange.error.unwrap().contains("ratelimited"));
    overrides.push(json_reply(200, r#"{"ok":false,"error":"internal_error"}"#));
    let exchange = send_slack(&config, &event, &h, "slack-e4").await;
    assert_eq!(classify(&exchange.outcome), Class::Retry);
    overrides.push(json_reply(200, r#"{"ok":false,"error":"not_in_channel"}"#));
    let exchange = send_slack(&config, &event, &h, "slack-e5").await;
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    overrides.push(text_reply(503, "upstream connect error"));
    let exchange = send_slack(&config, &event, &h, "slack-e6").await;
    assert_eq!(classify(&exchange.outcome), Class::Retry);
    // And the same event, with nothing in the way, goes through.
    let exchange = send_slack(&config, &event, &h, "slack-e7").await;
    assert_eq!(exchange.outcome, Outcome::Success);
}

// ---------------------------------------------------------------------------------
// Teams

const FLOW_PATH: &str = "/workflows/0f3c/triggers/manual/paths/invoke";
const FLOW_SIG: &str = "sig=Xk2v8rQeS1";

fn flow_error(status: u16, code: &str, message: &str) -> Reply {
    json_reply(
        status,
        &json!({"error": {"code": code, "message": message}}).to_string(),
    )
}

/// A Workflows "When a Teams webhook request is received" trigger: `202` once the flow
/// is triggered; `401` without the right signature, `404` for another workflow, `400`
/// for a body the "post card" template cannot read (it wants `attachments` of Adaptive
/// Cards), `413` above Teams' 28 KB message size.
fn teams_service(request: &Request) -> Reply {
    if request.method != "POST" || request.path != FLOW_PATH {
        return flow_error(404, "WorkflowNotFound", "The workflow could not be found.");
    }
    if !request
        .query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p == FLOW_SIG) && q.contains("api-version="))
    {
        return flow_error(
            401,
            "DirectApiAuthorizationRequired",
            "The request must be authenticated only by Shared Access scheme.",
        );
    }
    if request.body.len() > 28 * 1024 {
        return flow_error(413, "MessageTooLarge", "The message is larger than 28 KB.");
    }
    let body = body_of(request);
    let attachments = body["attachments"].as_array();
    let cards_ok = body["type"] == "message"
        && attachments.is_some_and(|a| {
            !a.is_empty()
                && a.iter().all(|x| {
                    x["contentType"] == "application/vnd.microsoft.card.adaptive"
                        && x["content"]["type"] == "AdaptiveCard"
                        && x["content"]["version"].is_string()
                        && x["content"]["body"]
                            .as_array()
                            .is_some_and(|b| b.iter().all(|e| e["type"].is_string()))
                })
        });
    if !cards_ok {
        return flow_error(
            400,
            "InvalidRequestContent",
            "The request content is not valid for the trigger's schema.",
        );
    }
    (202, vec![], String::new())
}

#[tokio::test]
async fn teams_workflow_gets_an_adaptive_card_and_answers_are_classified() {
    let h = harness();
    let overrides = Overrides::default();
    let flow = Receiver::start(overrides.over(teams_service)).await;
    let config = teams_config(&flow.url(&format!("{FLOW_PATH}?api-version=2016-06-01&{FLOW_SIG}")));
    for (name, message) in support::snapshot_messages() {
        let exchange = teams::send(
            &config,
            std::slice::from_ref(&message),
            &h.ctx("teams", "d"),
        )
        .await;
        assert_eq!(
            exchange.outcome,
            Outcome::Success,
            "{name}: {:?}",
            exchange.error
        );
        assert_eq!(exchange.status_code, Some(202));
    }
    let message = support::incident("opened");
    let send = |config: teams::Config| {
        let h = &h;
        let message = message.clone();
        async move {
            teams::send(
                &config,
                std::slice::from_ref(&message),
                &h.ctx("teams", "d"),
            )
            .await
        }
    };
    // A wrong signature and a deleted workflow fail for good.
    let unsigned = teams_config(&flow.url(&format!("{FLOW_PATH}?api-version=2016-06-01&sig=old")));
    let exchange = send(unsigned).await;
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    assert!(
        exchange
            .error
            .unwrap()
            .contains("DirectApiAuthorizationRequired")
    );
    let deleted =
        teams_config(&flow.url("/workflows/gone/triggers/manual/paths/invoke?api-version=1&sig=x"));
    let exchange = send(deleted).await;
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    assert!(exchange.error.unwrap().contains("WorkflowNotFound"));
    // Throttling waits as told; an outage is retried.
    overrides.push(status(
        429,
        Some(20),
        flow_error(429, "WorkflowRequestsThrottled", "Rate limit is exceeded."),
    ));
    let exchange = send(config.clone()).await;
    assert_eq!(
        exchange.outcome,
        Outcome::Status {
            code: 429,
            retry_after_us: Some(20_000_000)
        }
    );
    overrides.push(flow_error(502, "BadGateway", "The service is unavailable."));
    assert_eq!(classify(&send(config.clone()).await.outcome), Class::Retry);
    overrides.push(flow_error(
        400,
        "InvalidTemplate",
        "Unable to process template language expressions.",
    ));
    assert_eq!(classify(&send(config).await.outcome), Class::Fail);
}
