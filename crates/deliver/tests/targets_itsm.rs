//! The paging and ticketing targets, PagerDuty Events API v2 and the ServiceNow Table
//! API: encoder snapshots over Mist samples and incidents, and contract tests against
//! local fakes that check each request the way the service documents it and answer the
//! way it does, errors and rate limits included.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use deliver::schedule::{Class, Outcome, classify};
use deliver::targets::{Message, pagerduty, servicenow};
use serde_json::{Value, json};
use support::{Harness, Overrides, Receiver, Reply, Request, json_reply};

const ROUTING_KEY: &str = "e93facc04764012d7bfb002500d5d1a6";

fn harness() -> Harness {
    Harness::new(Duration::from_secs(5))
}

fn body_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap_or(Value::Null)
}

fn with_retry_after(reply: Reply, seconds: u64) -> Reply {
    let (status, mut headers, body) = reply;
    headers.push(("Retry-After".into(), seconds.to_string()));
    (status, headers, body)
}

// ---------------------------------------------------------------------------------
// PagerDuty

fn pagerduty_config(url: &str) -> pagerduty::Config {
    let config: pagerduty::Config =
        serde_json::from_value(json!({"routing_key": ROUTING_KEY, "url": url})).unwrap();
    config.check().unwrap();
    config
}

#[test]
fn pagerduty_encoder_snapshots() {
    let config = pagerduty_config(pagerduty::DEFAULT_URL);
    let mut messages = support::snapshot_messages();
    messages.push((
        "incident-acknowledged".into(),
        support::incident("acknowledged"),
    ));
    for (name, message) in messages {
        insta::assert_snapshot!(
            format!("pagerduty_{name}"),
            support::shown_request(&pagerduty::encode(&config, &message))
        );
    }
}

/// The Events API v2 as PagerDuty documents it: `202 {"status":"success",...}`, `400
/// {"status":"invalid event",...}` naming what is wrong, `404` elsewhere.
fn pagerduty_service(request: &Request) -> Reply {
    if request.method != "POST" || request.path != "/v2/enqueue" {
        return json_reply(404, r#"{"status":"Not Found"}"#);
    }
    let invalid = |errors: Vec<String>| {
        json_reply(
            400,
            &json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors})
                .to_string(),
        )
    };
    if request.body.len() > 512 * 1024 {
        return invalid(vec!["Event exceeds 512 KB".into()]);
    }
    if !request
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
    {
        return invalid(vec!["Content-Type must be application/json".into()]);
    }
    let body = body_of(request);
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let mut errors = Vec::new();
    match text(&body["routing_key"]) {
        Some(k) if k.len() == 32 => {}
        Some(_) => {
            errors.push("Length of 'routing_key' is incorrect (should be 32 characters)".into())
        }
        None => errors.push("'routing_key' is missing or blank".into()),
    }
    let action = text(&body["event_action"]).unwrap_or_default();
    if !["trigger", "acknowledge", "resolve"].contains(&action.as_str()) {
        errors.push(
            "'event_action' is invalid (must be one of trigger, acknowledge, resolve)".into(),
        );
    }
    let dedup_key = text(&body["dedup_key"]);
    if dedup_key.as_ref().is_some_and(|k| k.chars().count() > 255) {
        errors.push("'dedup_key' is too long (max 255)".into());
    }
    if action != "trigger" && dedup_key.is_none() {
        errors.push("'dedup_key' is required for acknowledge and resolve".into());
    }
    if action == "trigger" {
        let payload = &body["payload"];
        match text(&payload["summary"]) {
            Some(s) if s.chars().count() <= 1024 => {}
            Some(_) => errors.push("'payload.summary' is too long (max 1024)".into()),
            None => errors.push("'payload.summary' is missing or blank".into()),
        }
        if text(&payload["source"]).is_none() {
            errors.push("'payload.source' is missing or blank".into());
        }
        if !["critical", "error", "warning", "info"]
            .contains(&payload["severity"].as_str().unwrap_or_default())
        {
            errors.push("'payload.severity' is invalid".into());
        }
        if let Some(t) = payload["timestamp"].as_str()
            && time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .is_err()
        {
            errors.push("'payload.timestamp' is not ISO 8601".into());
        }
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    json_reply(
        202,
        &json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key.unwrap_or_else(|| "generated".into())})
            .to_string(),
    )
}

#[tokio::test]
async fn pagerduty_alerts_follow_the_incident_and_answers_are_classified() {
    let h = harness();
    let overrides = Overrides::default();
    let pd = Receiver::start(overrides.over(pagerduty_service)).await;
    let config = pagerduty_config(&pd.url("/v2/enqueue"));
    let send = |config: pagerduty::Config, message: Message| {
        let h = &h;
        async move { pagerduty::send(&config, std::slice::from_ref(&message), &h.ctx("pd", "d")).await }
    };

    for change in ["opened", "acknowledged", "resolved"] {
        let exchange = send(config.clone(), support::incident(change)).await;
        assert_eq!(
            exchange.outcome,
            Outcome::Success,
            "{change}: {:?}",
            exchange.error
        );
        assert_eq!(exchange.status_code, Some(202));
        // The routing key is a credential: never in a delivery record.
        assert!(
            !exchange.request_body.contains(ROUTING_KEY),
            "{}",
            exchange.request_body
        );
    }
    for (name, message) in support::snapshot_messages() {
        let exchange = send(config.clone(), message).await;
        assert_eq!(
            exchange.outcome,
            Outcome::Success,
            "{name}: {:?}",
            exchange.error
        );
    }
    let requests = pd.requests();
    let first: Vec<(String, String)> = requests[..3]
        .iter()
        .map(|r| {
            let b = body_of(r);
            (
                b["event_action"].as_str().unwrap().to_string(),
                b["dedup_key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let actions: Vec<&str> = first.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["trigger", "acknowledge", "resolve"]);
    assert!(first.iter().all(|(_, k)| *k == first[0].1));

    // A key PagerDuty does not take: the event is invalid, for good, and says why.
    let mut wrong = config.clone();
    wrong.routing_key = "short".into();
    let exchange = send(wrong, support::incident("opened")).await;
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    assert!(exchange.error.unwrap().contains("routing_key"));
    // Too many events: retried after PagerDuty's advised 30 s, or what it says.
    overrides.push(json_reply(429, r#"{"status":"throttle event","message":"Requests for this service are arriving too quickly. Please retry later."}"#));
    let exchange = send(config.clone(), support::incident("opened")).await;
    assert_eq!(
        exchange.outcome,
        Outcome::Status {
            code: 429,
            retry_after_us: Some(30_000_000)
        }
    );
    overrides.push(with_retry_after(json_reply(429, "{}"), 90));
    let exchange = send(config.clone(), support::incident("opened")).await;
    assert_eq!(
        exchange.outcome,
        Outcome::Status {
            code: 429,
            retry_after_us: Some(90_000_000)
        }
    );
    overrides.push(json_reply(500, r#"{"status":"Internal Server Error"}"#));
    let exchange = send(config.clone(), support::incident("opened")).await;
    assert_eq!(classify(&exchange.outcome), Class::Retry);
    overrides.push(json_reply(400, r#"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.source' is missing or blank"]}"#));
    let exchange = send(config, support::incident("opened")).await;
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    assert!(exchange.error.unwrap().contains("payload.source"));
}

// ---------------------------------------------------------------------------------
// ServiceNow

const USER: &str = "mistgate.integration";
const PASSWORD: &str = "pa55-w0rd";

fn servicenow_config(url: &str) -> servicenow::Config {
    let config: servicenow::Config = serde_json::from_value(json!({
        "url": url, "username": USER, "password": PASSWORD,
        "assignment_group": "Network Operations",
    }))
    .unwrap();
    config.check().unwrap();
    config
}

#[test]
fn servicenow_encoder_snapshots() {
    let config = servicenow_config("https://dev12345.service-now.com");
    let auth = "Basic <credentials>";
    for (name, message) in support::snapshot_messages() {
        let request = match &message {
            Message::Incident(m) if m.change != correlate::Change::Opened => {
                let ticket = servicenow::Ticket {
                    sys_id: "9d385017c611228701d22104cc95c371".into(),
                    number: Some("INC0010042".into()),
                };
                servicenow::update_request(&config, &message, &ticket, auth)
            }
            _ => servicenow::create_request(&config, &message, auth),
        };
        insta::assert_snapshot!(
            format!("servicenow_{name}"),
            support::shown_request(&request)
        );
    }
    let ticket = servicenow::Ticket {
        sys_id: "9d385017c611228701d22104cc95c371".into(),
        number: None,
    };
    insta::assert_snapshot!(
        "servicenow_incident-updated",
        support::shown_request(&servicenow::update_request(
            &config,
            &support::incident("updated"),
            &ticket,
            auth
        ))
    );
}

/// A ServiceNow instance's Table API on `incident`, with records in memory: basic auth
/// or bearer tokens from `/oauth_token.do` (password grant); `GET` with `sysparm_query`
/// `correlation_id=...^active=true` → `200 {"result": [...]}`; `POST` → `201 {"result":
/// {...}}`; `PATCH .../<sys_id>` → `200`, or `404 No Record found`; state 6 without
/// `close_code`/`close_notes` → `403 Data Policy Exception`; a missing or wrong
/// credential → `401 User Not Authenticated`.
#[derive(Default)]
struct Instance {
    records: Mutex<Vec<Value>>,
    /// The access token the instance accepts now (OAuth).
    token: Mutex<Option<String>>,
    tokens_issued: Mutex<u32>,
}

fn sn_error(status: u16, message: &str, detail: &str) -> Reply {
    json_reply(
        status,
        &json!({"error": {"message": message, "detail": detail}, "status": "failure"}).to_string(),
    )
}

impl Instance {
    fn answer(&self, request: &Request) -> Reply {
        if request.path == "/oauth_token.do" {
            return self.issue_token(request);
        }
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        );
        let bearer = self
            .token
            .lock()
            .unwrap()
            .clone()
            .map(|t| format!("Bearer {t}"));
        let auth = request.header("authorization");
        if auth.is_none() || (auth != Some(basic.as_str()) && auth != bearer.as_deref()) {
            return sn_error(
                401,
                "User Not Authenticated",
                "Required to provide Auth information",
            );
        }
        if request.header("accept") != Some("application/json") {
            return sn_error(406, "Not Acceptable", "Accept must be application/json");
        }
        let query: HashMap<String, String> =
            url::form_urlencoded::parse(request.query.as_deref().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let fields = |record: &Value| -> Value {
            match query.get("sysparm_fields") {
                Some(list) => Value::Object(
                    list.split(',')
                        .filter_map(|f| record.get(f).map(|v| (f.to_string(), v.clone())))
                        .collect(),
                ),
                None => record.clone(),
            }
        };
        let mut records = self.records.lock().unwrap();
        let rest = request.path.strip_prefix("/api/now/table/incident");
        match (request.method.as_str(), rest) {
            ("GET", Some("")) => {
                let q = query.get("sysparm_query").cloned().unwrap_or_default();
                let found: Vec<Value> = records
                    .iter()
                    .filter(|r| {
                        q.split('^').all(|term| match term.split_once('=') {
                            Some(("correlation_id", v)) => r["correlation_id"] == v,
                            Some(("active", v)) => r["active"] == v,
                            _ => false,
                        })
                    })
                    .map(fields)
                    .collect();
                json_reply(200, &json!({"result": found}).to_string())
            }
            ("POST", Some("")) => {
                let body = body_of(request);
                if request.header("content-type") != Some("application/json") || !body.is_object() {
                    return sn_error(
                        400,
                        "Exception while reading request",
                        "The payload is not valid JSON.",
                    );
                }
                let short = body["short_description"].as_str().unwrap_or_default();
                let ok_level = |f: &str| matches!(body[f].as_str(), Some("1" | "2" | "3"));
                if short.is_empty()
                    || short.chars().count() > 160
                    || !ok_level("impact")
                    || !ok_level("urgency")
                    || body["correlation_id"]
                        .as_str()
                        .is_none_or(|c| c.chars().count() > 100)
                {
                    return sn_error(
                        400,
                        "Invalid field value",
                        "short_description, impact, urgency or correlation_id",
                    );
                }
                let mut record = body.clone();
                let n = records.len() + 1;
                record["sys_id"] = json!(format!("{n:032x}"));
                record["number"] = json!(format!("INC{:07}", 10_000 + n));
                record["state"] = json!("1");
                record["active"] = json!("true");
                record["work_notes_history"] = json!([]);
                records.push(record.clone());
                json_reply(201, &json!({"result": fields(&record)}).to_string())
            }
            ("PATCH", Some(id)) if id.starts_with('/') => {
                let Some(record) = records.iter_mut().find(|r| r["sys_id"] == id[1..]) else {
                    return sn_error(
                        404,
                        "No Record found",
                        "Record doesn't exist or ACL restricts the record retrieval",
                    );
                };
                let body = body_of(request);
                if body["state"] == "6"
                    && (body["close_code"].as_str().is_none()
                        || body["close_notes"].as_str().is_none())
                {
                    return sn_error(
                        403,
                        "Operation Failed",
                        "Data Policy Exception: Resolution code, Resolution notes are mandatory",
                    );
                }
                if let Some(note) = body["work_notes"].as_str() {
                    record["work_notes_history"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!(note));
                }
                for field in ["state", "close_code", "close_notes"] {
                    if !body[field].is_null() {
                        record[field] = body[field].clone();
                    }
                }
                if body["state"] == "6" {
                    record["active"] = json!("false");
                }
                json_reply(200, &json!({"result": fields(record)}).to_string())
            }
            _ => sn_error(
                400,
                "Requested URI does not represent any resource",
                request.path.as_str(),
            ),
        }
    }

    fn issue_token(&self, request: &Request) -> Reply {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let get = |k: &str| form.get(k).map(String::as_str);
        if request.header("content-type") != Some("application/x-www-form-urlencoded")
            || get("grant_type") != Some("password")
            || get("client_id") != Some("3f1c")
            || get("client_secret") != Some("client-s3cret")
            || get("username") != Some(USER)
            || get("password") != Some(PASSWORD)
        {
            return json_reply(
                401,
                r#"{"error_description":"access_denied","error":"server_error"}"#,
            );
        }
        let mut issued = self.tokens_issued.lock().unwrap();
        *issued += 1;
        let token = format!("token-{issued}");
        *self.token.lock().unwrap() = Some(token.clone());
        json_reply(
            200,
            &json!({"access_token": token, "refresh_token": "r", "scope": "useraccount", "token_type": "Bearer", "expires_in": 1799})
                .to_string(),
        )
    }
}

async fn instance(overrides: &Overrides) -> (Receiver, Arc<Instance>) {
    let state = Arc::new(Instance::default());
    let service = state.clone();
    let receiver = Receiver::start(overrides.over(move |r| service.answer(r))).await;
    (receiver, state)
}

async fn send_sn(
    config: &servicenow::Config,
    message: Message,
    h: &Harness,
    target: &str,
) -> deliver::client::Exchange {
    servicenow::send(config, std::slice::from_ref(&message), &h.ctx(target, "d")).await
}

#[tokio::test]
async fn servicenow_tickets_are_created_noted_and_resolved() {
    let h = harness();
    let overrides = Overrides::default();
    let (sn, state) = instance(&overrides).await;
    let config = servicenow_config(&sn.url(""));

    let opened = send_sn(&config, support::incident("opened"), &h, "sn").await;
    assert_eq!(opened.outcome, Outcome::Success, "{:?}", opened.error);
    assert_eq!(opened.status_code, Some(201));
    assert!(
        !opened.request_headers.contains(PASSWORD) && opened.request_headers.contains("<redacted>")
    );
    let remembered = store::Store::target_state(&h.store, "sn", "incident:5")
        .await
        .unwrap()
        .unwrap();
    assert!(
        remembered.contains("00000000000000000000000000000001"),
        "{remembered}"
    );
    for change in ["updated", "acknowledged", "resolved"] {
        let exchange = send_sn(&config, support::incident(change), &h, "sn").await;
        assert_eq!(
            exchange.outcome,
            Outcome::Success,
            "{change}: {:?}",
            exchange.error
        );
    }
    let records = state.records.lock().unwrap().clone();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        r["correlation_id"],
        "device_down:6748cb9b-8e01-4c2a-9e44-0c4e8b6a2f10:60c78d112233"
    );
    assert_eq!(
        (r["impact"].as_str(), r["urgency"].as_str()),
        (Some("1"), Some("1"))
    );
    assert_eq!(r["assignment_group"], "Network Operations");
    assert_eq!(
        r["short_description"],
        "Switch sw-core-1 is down at Ausgrid"
    );
    assert_eq!(r["state"], "6");
    assert_eq!(r["close_code"], "Solution provided");
    assert!(
        r["close_notes"]
            .as_str()
            .unwrap()
            .contains("Duration: 12m 0s")
    );
    assert_eq!(r["work_notes_history"].as_array().unwrap().len(), 2);
    // One lookup (nothing remembered yet), then create, note, note, resolve.
    let methods: Vec<String> = sn.requests().iter().map(|r| r.method.to_string()).collect();
    assert_eq!(methods, ["GET", "POST", "PATCH", "PATCH", "PATCH"]);

    // Events make a record each, once.
    let event = support::sample_event("alarms__device-restarted_lukeroberson.json", 7);
    for _ in 0..2 {
        let exchange = send_sn(&config, event.clone(), &h, "sn").await;
        assert_eq!(exchange.outcome, Outcome::Success, "{:?}", exchange.error);
    }
    assert_eq!(state.records.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn servicenow_never_makes_a_ticket_twice_or_only_to_close_it() {
    let h = harness();
    let overrides = Overrides::default();
    let (sn, state) = instance(&overrides).await;
    let config = servicenow_config(&sn.url(""));

    // The instance makes the record but the answer is lost: the retry finds it by its
    // correlation_id and adds a note instead of a second ticket.
    overrides.push(json_reply(200, r#"{"result":[]}"#)); // the lookup, answered as is
    overrides.push(json_reply(502, "<html>Bad Gateway</html>"));
    let lost = send_sn(&config, support::incident("opened"), &h, "sn-lost").await;
    assert_eq!(classify(&lost.outcome), Class::Retry);
    let retried = send_sn(&config, support::incident("opened"), &h, "sn-lost").await;
    assert_eq!(retried.outcome, Outcome::Success, "{:?}", retried.error);
    assert_eq!(state.records.lock().unwrap().len(), 1);
    assert_eq!(
        state.records.lock().unwrap()[0]["work_notes_history"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // An update of an incident that has no ticket (its create failed for good) makes one.
    let mut other = support::incident("updated");
    if let Message::Incident(m) = &mut other {
        m.incident.id = 6;
        m.incident.key = "device_down:o:aabbccddeeff".into();
    }
    let exchange = send_sn(&config, other, &h, "sn-lost").await;
    assert_eq!(exchange.status_code, Some(201), "{:?}", exchange.error);
    assert_eq!(state.records.lock().unwrap().len(), 2);

    // A resolution with no ticket anywhere: nothing is created only to be closed.
    let mut quiet = support::incident("resolved");
    if let Message::Incident(m) = &mut quiet {
        m.incident.id = 7;
        m.incident.key = "device_down:o:001122334455".into();
    }
    let before = sn.requests().len();
    let exchange = send_sn(&config, quiet, &h, "sn-lost").await;
    assert_eq!(exchange.outcome, Outcome::Success);
    let after: Vec<String> = sn.requests()[before..]
        .iter()
        .map(|r| r.method.to_string())
        .collect();
    assert_eq!(after, ["GET"]);
    assert_eq!(state.records.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn servicenow_answers_are_classified() {
    let h = harness();
    let overrides = Overrides::default();
    let (sn, state) = instance(&overrides).await;
    let config = servicenow_config(&sn.url(""));
    let event = support::sample_event("audits__add-webhook_lukeroberson.json", 9);

    let mut wrong = config.clone();
    wrong.password = Some("old".into());
    let exchange = send_sn(&wrong, event.clone(), &h, "sn-c").await;
    assert_eq!(exchange.status_code, Some(401));
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    assert!(exchange.error.unwrap().contains("User Not Authenticated"));

    overrides.push(sn_error(
        403,
        "Operation Failed",
        "ACL Exception Insert Failed due to security constraints",
    ));
    let exchange = send_sn(&config, event.clone(), &h, "sn-c").await;
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    assert!(exchange.error.unwrap().contains("ACL Exception"));

    overrides.push(with_retry_after(
        sn_error(
            429,
            "Too Many Requests",
            "Rate limit exceeded for user mistgate.integration",
        ),
        12,
    ));
    let exchange = send_sn(&config, event.clone(), &h, "sn-c").await;
    assert_eq!(
        exchange.outcome,
        Outcome::Status {
            code: 429,
            retry_after_us: Some(12_000_000)
        }
    );
    overrides.push(sn_error(
        503,
        "Service Unavailable",
        "The instance is hibernating",
    ));
    let exchange = send_sn(&config, event.clone(), &h, "sn-c").await;
    assert_eq!(classify(&exchange.outcome), Class::Retry);
    assert!(state.records.lock().unwrap().is_empty());

    // A remembered record someone deleted: 404, dead, and said.
    store::Store::put_target_state(
        &h.store,
        "sn-c",
        "incident:5",
        r#"{"sys_id":"ffffffffffffffffffffffffffffffff"}"#,
        0,
    )
    .await
    .unwrap();
    let exchange = send_sn(&config, support::incident("resolved"), &h, "sn-c").await;
    assert_eq!(exchange.status_code, Some(404));
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    assert!(exchange.error.unwrap().contains("No Record found"));
}

#[tokio::test]
async fn servicenow_oauth_tokens_are_fetched_cached_and_renewed_once_refused() {
    let h = harness();
    let overrides = Overrides::default();
    let (sn, state) = instance(&overrides).await;
    let mut config = servicenow_config(&sn.url(""));
    config.oauth = Some(
        serde_json::from_value(json!({"client_id": "3f1c", "client_secret": "client-s3cret"}))
            .unwrap(),
    );
    config.check().unwrap();
    let event = |id| support::sample_event("device-events__sw-disconnected_lukeroberson.json", id);

    for id in [1, 2] {
        let exchange = send_sn(&config, event(id), &h, "sn-oauth").await;
        assert_eq!(exchange.outcome, Outcome::Success, "{:?}", exchange.error);
        // Neither the client secret nor the password is ever in a record.
        for part in [&exchange.request_headers, &exchange.request_body] {
            assert!(
                !part.contains("client-s3cret") && !part.contains(PASSWORD),
                "{part}"
            );
        }
    }
    assert_eq!(
        *state.tokens_issued.lock().unwrap(),
        1,
        "the token is cached"
    );
    // The instance revokes the token: one 401, a fresh token, the request again.
    *state.token.lock().unwrap() = Some("revoked-elsewhere".into());
    let exchange = send_sn(&config, event(3), &h, "sn-oauth").await;
    assert_eq!(exchange.outcome, Outcome::Success, "{:?}", exchange.error);
    assert_eq!(*state.tokens_issued.lock().unwrap(), 2);
    let tokens: Vec<String> = sn
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .filter_map(|r| r.header("authorization").map(str::to_string))
        .collect();
    assert!(
        tokens.iter().all(|t| t.starts_with("Bearer token-")),
        "{tokens:?}"
    );

    // A wrong client secret: the token request fails for good, and says so.
    let mut wrong = config.clone();
    wrong.oauth.as_mut().unwrap().client_secret = "nope".into();
    let exchange = send_sn(&wrong, event(4), &h, "sn-oauth-wrong").await;
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    assert!(exchange.error.unwrap().starts_with("OAuth token request"));
    assert!(exchange.request_body.is_empty());
}
