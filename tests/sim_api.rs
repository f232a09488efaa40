//! The simulated Mist cloud (`mistgate simulate --mist-api`) against Mist's own
//! description of its API: every operation of `shared/mist/openapi-rest-subset.json`
//! called with real ids and its answer validated against the operation's 200 schema
//! (made strict: no field the schema does not name), paging, auth, the rate limit,
//! errors; and end to end with a real `mistgate serve` as the receiver of a webhook
//! created through it.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::receiver::Receiver;
use support::sim::{SIM_TOKEN, Sim};
use support::{Server, eventually};

const WAIT: Duration = Duration::from_secs(15);

fn spec() -> Value {
    let path = support::shared_dir().join("mist/openapi-rest-subset.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut doc: Value = serde_json::from_str(&text).expect("the subset is JSON");
    strict(&mut doc["components"]["schemas"]);
    doc
}

/// Every object schema that lists its properties and says nothing of others gets
/// `additionalProperties: false`: an answer may only carry the spec's field names.
fn strict(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !map.contains_key("patternProperties")
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(strict);
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

/// Every operation id of the subset, with its method and path.
fn operations(doc: &Value) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if let Some(id) = op["operationId"].as_str() {
                out.insert(id.to_string(), (method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// The 200 schema of `op` (`None`: the answer has no body), `$ref`s into the components.
fn response_schema(doc: &Value, op: &str) -> Option<Value> {
    let (method, path) = operations(doc).remove(op).expect("a known operation");
    let mut response = doc["paths"][&path][method.to_lowercase()]["responses"]["200"].clone();
    if let Some(r) = response["$ref"].as_str() {
        let name = r.rsplit('/').next().expect("a ref");
        response = doc["components"]["responses"][name].clone();
    }
    let schema = response["content"]["application/json"]["schema"].clone();
    (!schema.is_null()).then_some(schema)
}

fn validate(doc: &Value, op: &str, body: &Value) {
    let Some(schema) = response_schema(doc, op) else {
        assert!(body.is_null(), "{op} answers no body, got {body}");
        return;
    };
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema of {op}: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{op}: {errors:#?}\n{body:#}");
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A cloud whose last hour holds 800 alarms, device events, audits and up/downs.
async fn sim_with_history(more: &[&str]) -> Sim {
    let start = (now_s() - 3600).to_string();
    let mut args = vec![
        "--topics",
        "alarms,device-events,audits,device-updowns",
        "--count",
        "800",
        "--rate",
        "20",
        "--no-wait",
        "--sites",
        "2",
        "--aps",
        "4",
        "--start",
        &start,
    ];
    args.extend_from_slice(more);
    let sim = Sim::start(&args).await;
    let status = sim.settled().await;
    assert!(status["alarms"].as_u64().unwrap() > 3, "{status}");
    sim
}

/// Calls the operations as a client would, validates each answer, and returns what each
/// operation id answered (the last call of each).
struct Checker {
    doc: Value,
    called: BTreeMap<String, Value>,
}

impl Checker {
    async fn check(
        &mut self,
        sim: &Sim,
        op: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let a = sim.call(method, path, body.as_ref()).await;
        assert_eq!(a.status, 200, "{op} {path}: {}", a.body);
        validate(&self.doc, op, &a.body);
        self.called.insert(op.to_string(), a.body.clone());
        a.body
    }
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => o
            .get("results")
            .is_none_or(|r| r.as_array().is_some_and(|r| !r.is_empty())),
        _ => false,
    }
}

#[tokio::test]
async fn every_operation_answers_with_the_spec_fields() {
    let doc = spec();
    let sim = sim_with_history(&[]).await;
    let receiver = Receiver::start().await;
    let (org, site) = (sim.org_id.clone(), sim.site_ids[0].clone());
    let o = format!("/api/v1/orgs/{org}");
    let s = format!("/api/v1/sites/{site}");
    let mut c = Checker {
        doc: doc.clone(),
        called: BTreeMap::new(),
    };
    let hook = |topics: Value| json!({"name": "noc", "url": receiver.url("/hook"), "secret": "s3cret", "topics": topics});
    let org_hook = c
        .check(
            &sim,
            "createOrgWebhook",
            Method::POST,
            &format!("{o}/webhooks"),
            Some(hook(json!(["alarms", "audits"]))),
        )
        .await;
    let site_hook = c
        .check(
            &sim,
            "createSiteWebhook",
            Method::POST,
            &format!("{s}/webhooks"),
            Some(hook(json!(["alarms", "location", "device-updowns"]))),
        )
        .await;
    let (oh, sh) = (
        format!("{o}/webhooks/{}", org_hook["id"].as_str().unwrap()),
        format!("{s}/webhooks/{}", site_hook["id"].as_str().unwrap()),
    );
    c.check(
        &sim,
        "pingOrgWebhook",
        Method::POST,
        &format!("{oh}/ping"),
        None,
    )
    .await;
    c.check(
        &sim,
        "pingSiteWebhook",
        Method::POST,
        &format!("{sh}/ping"),
        None,
    )
    .await;
    receiver
        .wait_until(WAIT, "two pings", |r| {
            r.iter().filter(|x| x.json()["topic"] == "ping").count() == 2
        })
        .await;
    for path in [&oh, &sh] {
        eventually(WAIT, "the ping's delivery result", || async {
            let a = sim.get(&format!("{path}/events/search?topic=ping")).await;
            (a.body["total"].as_u64() == Some(1)).then_some(())
        })
        .await;
    }
    let table: Vec<(&str, Method, String, Option<Value>)> = vec![
        ("getSelf", Method::GET, "/api/v1/self".into(), None),
        ("getOrg", Method::GET, o.clone(), None),
        ("listOrgSites", Method::GET, format!("{o}/sites"), None),
        ("getSiteInfo", Method::GET, s.clone(), None),
        (
            "getOrgInventory",
            Method::GET,
            format!("{o}/inventory"),
            None,
        ),
        (
            "listSiteDevices",
            Method::GET,
            format!("{s}/devices?type=switch"),
            None,
        ),
        (
            "listSiteDevices",
            Method::GET,
            format!("{s}/devices?type=gateway"),
            None,
        ),
        (
            "listSiteDevices",
            Method::GET,
            format!("{s}/devices?type=all"),
            None,
        ),
        (
            "listSiteDevicesStats",
            Method::GET,
            format!("{s}/stats/devices?type=switch"),
            None,
        ),
        (
            "listSiteDevicesStats",
            Method::GET,
            format!("{s}/stats/devices?type=gateway"),
            None,
        ),
        (
            "listSiteDevicesStats",
            Method::GET,
            format!("{s}/stats/devices?type=all"),
            None,
        ),
        ("listSiteMaps", Method::GET, format!("{s}/maps"), None),
        (
            "searchOrgAlarms",
            Method::GET,
            format!("{o}/alarms/search?duration=1d&limit=1000"),
            None,
        ),
        (
            "searchSiteAlarms",
            Method::GET,
            format!("{s}/alarms/search?start=-2h&end=now"),
            None,
        ),
        (
            "searchOrgDeviceEvents",
            Method::GET,
            format!("{o}/devices/events/search?device_type=all"),
            None,
        ),
        (
            "searchSiteDeviceEvents",
            Method::GET,
            format!("{s}/devices/events/search?limit=5"),
            None,
        ),
        (
            "listOrgAuditLogs",
            Method::GET,
            format!("{o}/logs?limit=5"),
            None,
        ),
        (
            "listOrgWebhooks",
            Method::GET,
            format!("{o}/webhooks"),
            None,
        ),
        ("getOrgWebhook", Method::GET, oh.clone(), None),
        (
            "updateOrgWebhook",
            Method::PUT,
            oh.clone(),
            Some(json!({"name": "noc-2"})),
        ),
        (
            "searchOrgWebhooksDeliveries",
            Method::GET,
            format!("{oh}/events/search"),
            None,
        ),
        (
            "countOrgWebhooksDeliveries",
            Method::GET,
            format!("{oh}/events/count?distinct=status"),
            None,
        ),
        (
            "listSiteWebhooks",
            Method::GET,
            format!("{s}/webhooks"),
            None,
        ),
        ("getSiteWebhook", Method::GET, sh.clone(), None),
        (
            "updateSiteWebhook",
            Method::PUT,
            sh.clone(),
            Some(json!({"enabled": false})),
        ),
        (
            "searchSiteWebhooksDeliveries",
            Method::GET,
            format!("{sh}/events/search?status=success"),
            None,
        ),
        (
            "countSiteWebhooksDeliveries",
            Method::GET,
            format!("{sh}/events/count?distinct=topic"),
            None,
        ),
        (
            "listWebhookTopics",
            Method::GET,
            "/api/v1/const/webhook_topics".into(),
            None,
        ),
        (
            "listAlarmDefinitions",
            Method::GET,
            "/api/v1/const/alarm_defs".into(),
            None,
        ),
        ("deleteOrgWebhook", Method::DELETE, oh.clone(), None),
        ("deleteSiteWebhook", Method::DELETE, sh.clone(), None),
    ];
    for (op, method, path, body) in table {
        let answer = c.check(&sim, op, method.clone(), &path, body).await;
        if method == Method::GET {
            assert!(
                non_empty(&answer) || answer.is_object() && answer.get("results").is_none(),
                "{op} {path}: no data: {answer}"
            );
        }
    }
    let every: BTreeSet<String> = operations(&doc).into_keys().collect();
    let called: BTreeSet<String> = c.called.keys().cloned().collect();
    assert_eq!(every.len(), 31);
    assert_eq!(
        called,
        every,
        "operations not called: {:?}",
        every.difference(&called).collect::<Vec<_>>()
    );
    // The updates merged what they were sent.
    assert_eq!(c.called["updateOrgWebhook"]["name"], "noc-2");
    assert_eq!(
        c.called["updateOrgWebhook"]["topics"],
        json!(["alarms", "audits"])
    );
    assert_eq!(c.called["updateSiteWebhook"]["enabled"], false);
    assert_eq!(c.called["getSelf"]["privileges"][0]["org_id"], json!(org));
    assert_eq!(c.called["getSelf"]["privileges"][0]["role"], "admin");
    // Every call was counted under its operation.
    let counts = sim.requests().await;
    assert_eq!(counts["operations"]["listSiteDevices"], 3, "{counts}");
    assert_eq!(counts["operations"]["getSelf"], 1, "{counts}");
    // Gone after the delete.
    assert_eq!(sim.get(&oh).await.status, 404);
}

#[tokio::test]
async fn what_the_api_says_matches_the_webhooks_and_the_wiring() {
    let sim = sim_with_history(&[]).await;
    let o = format!("/api/v1/orgs/{}", sim.org_id);
    let inventory = sim.get_ok(&format!("{o}/inventory?limit=1000")).await;
    let names: BTreeMap<String, String> = inventory
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["mac"].as_str().unwrap().to_string(),
                d["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        names.len(),
        2 * (4 + 1 + 1),
        "4 APs, a switch and a gateway per site"
    );
    // The alarms carry the inventory's MACs and names, at the org's sites.
    let alarms = sim.get_ok(&format!("{o}/alarms/search?limit=1000")).await;
    for alarm in alarms["results"].as_array().unwrap() {
        assert!(
            sim.site_ids.iter().any(|s| alarm["site_id"] == json!(s)),
            "{alarm}"
        );
        let macs = ["aps", "switches", "gateways"]
            .iter()
            .filter_map(|k| alarm[*k].as_array())
            .flatten()
            .map(|m| m.as_str().unwrap().to_string());
        for (mac, host) in macs.zip(alarm["hostnames"].as_array().unwrap()) {
            assert_eq!(
                names.get(&mac).map(String::as_str),
                host.as_str(),
                "{alarm}"
            );
        }
    }
    // Each AP's LLDP neighbour is a switch of its site that lists it on that port.
    for site in &sim.site_ids {
        let s = format!("/api/v1/sites/{site}");
        let aps = sim.get_ok(&format!("{s}/stats/devices")).await;
        let switches = sim.get_ok(&format!("{s}/stats/devices?type=switch")).await;
        for ap in aps.as_array().unwrap() {
            assert_eq!(ap["type"], "ap");
            let lldp = &ap["lldp_stat"];
            let sw = switches
                .as_array()
                .unwrap()
                .iter()
                .find(|sw| sw["mac"] == lldp["chassis_id"])
                .unwrap_or_else(|| panic!("no switch {} at the site", lldp["chassis_id"]));
            assert_eq!(sw["name"], lldp["system_name"]);
            let port = sw["ports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["neighbor_mac"] == ap["mac"])
                .expect("the switch lists the AP");
            assert_eq!(port["port_id"], lldp["port_id"]);
            assert_eq!(port["neighbor_system_name"], ap["name"]);
        }
        let maps = sim.get_ok(&format!("{s}/maps")).await;
        let map_ids: BTreeSet<&str> = maps
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert!(
            aps.as_array()
                .unwrap()
                .iter()
                .all(|ap| map_ids.contains(ap["map_id"].as_str().unwrap()))
        );
    }
}

#[tokio::test]
async fn lists_page_with_mist_headers() {
    let sim = sim_with_history(&[]).await;
    let o = format!("/api/v1/orgs/{}", sim.org_id);
    let a = sim.get(&format!("{o}/sites?limit=1&page=2")).await;
    assert_eq!(
        (
            a.header("x-page-limit"),
            a.header("x-page-page"),
            a.header("x-page-total")
        ),
        (Some("1"), Some("2"), Some("2"))
    );
    assert_eq!(a.body[0]["id"], json!(sim.site_ids[1]));
    let past = sim.get(&format!("{o}/sites?limit=1&page=3")).await;
    assert_eq!(past.body, json!([]));
    let all = sim.get(&format!("{o}/inventory")).await;
    assert_eq!(all.header("x-page-limit"), Some("100"));
    let total: usize = all.header("x-page-total").unwrap().parse().unwrap();
    let mut seen = BTreeSet::new();
    for page in 1.. {
        let p = sim.get(&format!("{o}/inventory?limit=5&page={page}")).await;
        let items = p.body.as_array().unwrap().clone();
        for d in &items {
            assert!(
                seen.insert(d["id"].as_str().unwrap().to_string()),
                "repeated: {d}"
            );
        }
        if items.len() < 5 {
            break;
        }
    }
    assert_eq!(seen.len(), total);
    assert_eq!(sim.get(&format!("{o}/sites?page=0")).await.status, 400);
}

/// Follows `next` from `first` to the end; the results in order.
async fn follow(sim: &Sim, first: &str) -> (Vec<Value>, u64) {
    let mut page = sim.get_ok(first).await;
    let total = page["total"].as_u64().unwrap();
    let mut out = Vec::new();
    loop {
        out.extend(page["results"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/api/v1/"), "a relative next: {next}");
                page = sim.get_ok(next).await;
                assert_eq!(
                    page["total"].as_u64(),
                    Some(total),
                    "the total holds across pages"
                );
            }
            None => return (out, total),
        }
    }
}

fn identity(v: &Value) -> String {
    match v["id"].as_str() {
        Some(id) => id.to_string(),
        None => format!("{}/{}/{}", v["timestamp"], v["mac"], v["type"]),
    }
}

#[tokio::test]
async fn searches_follow_next_to_the_end_with_no_repeat_and_no_gap() {
    let sim = sim_with_history(&[]).await;
    let o = format!("/api/v1/orgs/{}", sim.org_id);
    let s = format!("/api/v1/sites/{}", sim.site_ids[1]);
    for (query, desc) in [
        (format!("{o}/alarms/search?duration=2h"), false),
        (format!("{o}/alarms/search?start=-2h&sort=-timestamp"), true),
        (format!("{o}/devices/events/search?device_type=all"), false),
        (format!("{s}/devices/events/search?sort=-timestamp"), true),
        (format!("{s}/alarms/search?end=now&duration=1d"), false),
        (format!("{o}/logs?sort=timestamp"), false),
    ] {
        let sep = if query.contains('?') { '&' } else { '?' };
        let (all, total) = follow(&sim, &format!("{query}{sep}limit=1000")).await;
        assert!(all.len() > 3, "{query}: {} results", all.len());
        assert_eq!(all.len() as u64, total, "{query}");
        let (paged, _) = follow(&sim, &format!("{query}{sep}limit=3")).await;
        let ids: Vec<String> = paged.iter().map(identity).collect();
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{query}: a repeat");
        assert_eq!(
            ids,
            all.iter().map(identity).collect::<Vec<_>>(),
            "{query}: a gap or another order"
        );
        let times: Vec<f64> = paged
            .iter()
            .map(|v| v["timestamp"].as_f64().unwrap())
            .collect();
        assert!(
            times
                .windows(2)
                .all(|w| if desc { w[0] >= w[1] } else { w[0] <= w[1] }),
            "{query}: out of order"
        );
    }
    // Filters: one site's alarms are the org's alarms at that site.
    let (site_alarms, _) = follow(&sim, &format!("{s}/alarms/search?limit=1000")).await;
    let (org_alarms, _) = follow(
        &sim,
        &format!("{o}/alarms/search?limit=1000&site_id={}", sim.site_ids[1]),
    )
    .await;
    assert_eq!(site_alarms, org_alarms);
    // A window before the run holds nothing.
    let empty = sim
        .get_ok(&format!("{o}/alarms/search?start=-10d&end=-5d"))
        .await;
    assert_eq!(empty["total"], 0);
    assert_eq!(
        sim.get(&format!("{o}/alarms/search?start=yesterday"))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn tokens_are_required_and_rate_limited_like_mist() {
    let sim = Sim::start(&["--count", "1", "--no-wait", "--api-rate-limit", "5/h"]).await;
    let path = "/api/v1/self";
    let none = sim.call_as(None, Method::GET, path, None).await;
    assert_eq!(none.status, 401);
    assert!(none.body["detail"].is_string(), "{}", none.body);
    let wrong = sim
        .call_as(Some("not-the-token"), Method::GET, path, None)
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body["detail"].is_string());
    // Refused calls did not count: five pass, then 429.
    for _ in 0..5 {
        assert_eq!(sim.get(path).await.status, 200);
    }
    let limited = sim.get(path).await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.body,
        json!({"detail": "Too Many Request. The API Token used for the request reached the 5000 API Calls per hour threshold"})
    );
    assert_eq!(
        sim.get(&format!("/api/v1/orgs/{}", sim.org_id))
            .await
            .status,
        429,
        "per token, every route"
    );
    let counted = sim.requests().await;
    assert_eq!(counted["operations"]["getSelf"], 8, "{counted}");
    assert_eq!(
        counted["total"], 9,
        "every call counted, refused ones too: {counted}"
    );
}

#[tokio::test]
async fn unknown_ids_and_refused_webhooks_answer_as_mist() {
    let doc = spec();
    let sim = Sim::start(&["--count", "1", "--no-wait"]).await;
    let nobody = "00000000-0000-0000-0000-00000000dead";
    for path in [
        format!("/api/v1/orgs/{nobody}"),
        format!("/api/v1/sites/{nobody}"),
        format!("/api/v1/sites/{nobody}/stats/devices"),
        format!("/api/v1/orgs/{}/webhooks/{nobody}", sim.org_id),
    ] {
        let a = sim.get(&path).await;
        assert_eq!(
            (a.status, &a.body),
            (404, &json!({ "id": nobody })),
            "{path}"
        );
    }
    let o = format!("/api/v1/orgs/{}/webhooks", sim.org_id);
    let s = format!("/api/v1/sites/{}/webhooks", sim.site_ids[0]);
    let url = "http://127.0.0.1:9/hook";
    for (path, body, field) in [
        (&o, json!({"url": url, "topics": ["location"]}), "topics"),
        (
            &o,
            json!({"url": url, "topics": ["occupancy-alerts"]}),
            "topics",
        ),
        (
            &s,
            json!({"url": url, "topics": ["no-such-topic"]}),
            "topics",
        ),
        (&s, json!({"topics": ["alarms"]}), "url"),
        (
            &s,
            json!({"url": url, "topics": ["alarms"], "type": "splunk"}),
            "splunk_token",
        ),
    ] {
        let a = sim.call(Method::POST, path, Some(&body)).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert!(
            a.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}",
            a.body
        );
        assert_eq!(a.body["reason"], field, "{}", a.body);
    }
    // Site webhooks take every topic; the org's list does not show them.
    let site_hook = sim
        .call(
            Method::POST,
            &s,
            Some(&json!({"url": url, "topics": ["location", "zone"]})),
        )
        .await;
    assert_eq!(site_hook.status, 200, "{}", site_hook.body);
    validate(&doc, "createSiteWebhook", &site_hook.body);
    assert_eq!(site_hook.body["site_id"], json!(sim.site_ids[0]));
    assert_eq!(sim.get_ok(&o).await, json!([]));
    let id = site_hook.body["id"].as_str().unwrap();
    assert_eq!(
        sim.get(&format!("{o}/{id}")).await.status,
        404,
        "not an org webhook"
    );
    let topics = sim.get_ok("/api/v1/const/webhook_topics").await;
    let for_org: BTreeSet<&str> = topics
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["for_org"] == true)
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        for_org,
        BTreeSet::from([
            "alarms",
            "audits",
            "client-info",
            "client-join",
            "client-sessions",
            "device-events",
            "device-updowns",
            "mxedge-events"
        ])
    );
}

/// A site webhook created through the simulated cloud, pointing at a real mistgate with
/// its secret: traffic and ping arrive signed and accepted, results are searchable; with
/// mistgate stopped the failures are recorded; the alarms search answers the alarm ids
/// mistgate stored.
#[tokio::test]
async fn webhooks_created_through_the_api_receive_the_traffic_signed() {
    let secret = "sim-e2e-secret-9931";
    let mut server = Server::start_with(Some(&format!(
        "[[sources]]\nname = \"mist\"\nsecrets = [\"{secret}\"]\n"
    )));
    let sim = Sim::start(&[
        "--topics",
        "alarms,device-events,audits",
        "--rate",
        "100",
        "--sites",
        "2",
    ])
    .await;
    let site = &sim.site_ids[0];
    let created = sim
        .call(
            Method::POST,
            &format!("/api/v1/sites/{site}/webhooks"),
            Some(
                &json!({"name": "mistgate", "url": server.url("/ingest/mist"), "secret": secret,
                         "topics": ["alarms", "device-events", "audits"]}),
            ),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let hook = format!(
        "/api/v1/sites/{site}/webhooks/{}",
        created.body["id"].as_str().unwrap()
    );
    assert_eq!(
        sim.call(Method::POST, &format!("{hook}/ping"), None)
            .await
            .status,
        200
    );
    // mistgate accepted (so verified) the ping and the site's alarms.
    let stored = eventually(
        WAIT,
        "the ping and three alarms stored by mistgate",
        || async {
            let pings = server.all_events("&topic=ping").await;
            let alarms = server.all_events("&topic=alarms").await;
            (pings.len() == 1 && alarms.len() >= 3).then_some(alarms)
        },
    )
    .await;
    assert!(
        stored.iter().all(|e| e["site_id"] == json!(site)),
        "only its site's events"
    );
    let quarantined = server.api_ok("/quarantine").await;
    assert_eq!(
        quarantined["items"],
        json!([]),
        "nothing refused: {quarantined}"
    );
    let results = sim
        .get_ok(&format!("{hook}/events/search?limit=1000"))
        .await;
    let rows = results["results"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["topic"] == "ping" && r["status"] == "success" && r["status_code"] == 200),
        "{results}"
    );
    assert!(
        rows.iter()
            .any(|r| r["topic"] == "alarms" && r["status"] == "success"),
        "{results}"
    );
    assert!(
        rows.iter().all(|r| r["topic"] != "device-events"),
        "Mist keeps no results for device-events"
    );
    // The same alarms, by id, in the cloud's search.
    let searched = sim
        .get_ok(&format!("/api/v1/sites/{site}/alarms/search?limit=1000"))
        .await;
    let searched: BTreeSet<&str> = searched["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    for alarm in &stored {
        let id = alarm["raw"]["id"].as_str().unwrap();
        assert!(
            searched.contains(id),
            "alarm {id} stored by mistgate is not in the search"
        );
    }
    // The receiver gone: failures recorded, and the searches still have what it missed.
    server.kill();
    let failed = eventually(WAIT, "a failed delivery recorded", || async {
        let a = sim
            .get_ok(&format!("{hook}/events/search?status=failure&limit=1000"))
            .await;
        let rows = a["results"].as_array().unwrap().clone();
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert!(
        failed
            .iter()
            .all(|r| r["error"].as_str().is_some_and(|e| !e.is_empty())),
        "{failed:?}"
    );
    let count = sim
        .get_ok(&format!("{hook}/events/count?distinct=status"))
        .await;
    let statuses: BTreeSet<&str> = count["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["failure", "success"]), "{count}");
    let _ = SIM_TOKEN;
}

/// `--target` with `--mist-api`: the receiver gets every event, signed with `--secret`,
/// and the cloud's history holds them.
#[tokio::test]
async fn a_target_beside_the_cloud_gets_the_traffic_too() {
    let receiver = Receiver::start().await;
    let url = receiver.url("/in");
    let sim = Sim::start(&[
        "--target",
        &url,
        "--secret",
        "t-secret",
        "--topics",
        "alarms,audits",
        "--count",
        "40",
        "--no-wait",
    ])
    .await;
    let status = sim.settled().await;
    assert_eq!(status["events"], 40, "{status}");
    let got = receiver
        .wait_until(WAIT, "40 events", |r| {
            r.iter()
                .map(|x| x.json()["events"].as_array().map_or(0, Vec::len))
                .sum::<usize>()
                == 40
        })
        .await;
    for r in &got {
        let expected = mist::sign_v2(b"t-secret", &r.body);
        assert_eq!(r.header(mist::SIGNATURE_V2_HEADER), Some(expected.as_str()));
    }
    let recorded = status["alarms"].as_u64().unwrap() + status["audits"].as_u64().unwrap();
    assert_eq!(recorded, 40);
}

/// Device state follows the connection events sent: five minutes into a power outage
/// (the recovery is minutes ahead), the switch and its APs are disconnected in the
/// inventory and the stats, and the switch's ports to its APs are down.
#[tokio::test]
async fn stats_follow_the_outages_the_simulator_sent() {
    let start = (now_s() - 300).to_string();
    let sim = Sim::start(&[
        "--scenario",
        "site-power-outage",
        "--start",
        &start,
        "--aps",
        "3",
    ])
    .await;
    let site = &sim.site_ids[0];
    let s = format!("/api/v1/sites/{site}");
    let down = eventually(WAIT, "the outage's events recorded", || async {
        let stats = sim
            .get_ok(&format!("{s}/stats/devices?type=all&status=disconnected"))
            .await;
        let down = stats.as_array().unwrap().clone();
        (down.len() == 4).then_some(down)
    })
    .await;
    let kinds: Vec<&str> = down.iter().map(|d| d["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "ap").count(), 3, "{kinds:?}");
    assert!(kinds.contains(&"switch"));
    let up = sim
        .get_ok(&format!("{s}/stats/devices?type=gateway&status=connected"))
        .await;
    assert_eq!(up.as_array().unwrap().len(), 1, "the gateway stays up");
    let switch = down.iter().find(|d| d["type"] == "switch").unwrap();
    assert!(
        switch["ports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["up"] == false),
        "{switch}"
    );
    let inventory = sim
        .get_ok(&format!(
            "/api/v1/orgs/{}/inventory?site_id={site}&type=switch",
            sim.org_id
        ))
        .await;
    assert_eq!(inventory[0]["connected"], false, "{inventory}");
}
