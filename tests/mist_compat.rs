//! The Mist webhook object and the routes around it, as Mist has them (issue 15, part 6),
//! over HTTP against the real binary: `/self`, `/const/webhook_topics`, site-only topics
//! refused on org webhooks, a topic Mist adds later subscribed to and delivered, each
//! topic written in deliveries as Mist spells it on the wire, lists paged with `X-Page-*`,
//! delivery results with UUID ids, Mist's time windows, and their errors. The SDK's view
//! of the same routes is `tests/mistapi.rs`.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::receiver::Receiver;
use support::{Server, TOKEN};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
const WAIT: Duration = Duration::from_secs(30);

fn config() -> String {
    "[[sources]]\nname = \"default\"\n[delivery]\nallow_private_targets = true\n\
     aggregation_window = \"200ms\"\n"
        .to_string()
}

async fn call(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, json, _) = server.call(method, path, body.map(|b| b.to_string())).await;
    (status, json)
}

#[tokio::test]
async fn self_and_the_topic_list_answer_as_mist() {
    let server = Server::start_with(Some(&config()));
    let (status, me) = call(&server, "GET", "/self", None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me, json!({"name": "config", "privileges": []}));

    let hook = json!({"url": "https://a.example/h", "topics": ["alarms"]});
    let (status, _) = call(
        &server,
        "POST",
        &format!("/orgs/{ORG}/webhooks"),
        Some(hook),
    )
    .await;
    assert_eq!(status, 200);
    let (status, read) = call(
        &server,
        "POST",
        "/tokens",
        Some(json!({"name": "viewer", "role": "read"})),
    )
    .await;
    assert_eq!(status, 201, "{read}");
    let answer = server
        .client
        .get(server.url("/api/v1/self"))
        .header(
            "authorization",
            format!("Token {}", read["token"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    let (status, me) = support::answer(answer).await;
    assert_eq!(status, 200);
    assert_eq!(
        me,
        json!({"name": "viewer", "privileges": [{"scope": "org", "role": "read", "org_id": ORG}]})
    );

    let (status, topics) = call(&server, "GET", "/const/webhook_topics", None).await;
    assert_eq!(status, 200);
    let topic = |key: &str| {
        topics
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} in {topics}"))
    };
    assert_eq!(
        topic("alarms"),
        json!({"key": "alarms", "for_org": true, "allows_single_event_per_message": true,
               "has_delivery_results": true, "internal": false})
    );
    for site_only in [
        "nac-accounting",
        "occupancy-alerts",
        "client-latency",
        "asset-raw-rssi",
        "location",
        "zone",
    ] {
        assert_eq!(topic(site_only)["for_org"], false, "{site_only}");
    }
    assert_eq!(topic("device-events")["has_delivery_results"], false);
    assert_eq!(topic("ping")["internal"], true);
}

#[tokio::test]
async fn site_only_topics_are_refused_on_org_webhooks_and_new_topics_taken() {
    let server = Server::start_with(Some(&config()));
    for topic in [
        "nac-accounting",
        "occupancy-alerts",
        "client-latency",
        "asset-raw-rssi",
        "location",
        "location_asset",
        "sdkclient_scan_data",
        "wifi-unconn-raw",
    ] {
        let body = json!({"url": "https://a.example/h", "topics": [topic]});
        let (status, answer) = call(
            &server,
            "POST",
            &format!("/orgs/{ORG}/webhooks"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{topic}: {answer}");
        assert_eq!(answer["error"], "invalid_field");
        let detail = answer["detail"].as_str().unwrap();
        assert!(
            detail.contains("topics") && detail.contains("site webhooks"),
            "{detail}"
        );
        let (status, answer) = call(
            &server,
            "POST",
            &format!("/sites/{SITE}/webhooks"),
            Some(body),
        )
        .await;
        assert_eq!(status, 200, "{topic} on a site: {answer}");
    }
    // A topic Mist adds later: taken on both levels, in its normal form.
    let body = json!({"url": "https://a.example/h", "topics": ["Wan_Events", "alarms"]});
    let (status, created) = call(
        &server,
        "POST",
        &format!("/orgs/{ORG}/webhooks"),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["topics"], json!(["wan-events", "alarms"]));
    let (status, answer) = call(
        &server,
        "POST",
        &format!("/orgs/{ORG}/webhooks"),
        Some(json!({"url": "https://a.example/h", "topics": ["wan events!"]})),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["detail"].as_str().unwrap().contains("topics"),
        "{answer}"
    );
}

/// Deliveries write each topic as Mist does on the wire, and a topic mistgate does not
/// know is delivered to the webhooks subscribed to it.
#[tokio::test]
async fn deliveries_spell_topics_as_mist_and_carry_new_topics() {
    let server = Server::start_with(Some(&config()));
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url("/site"),
                      "topics": ["sdkclient-scan-data", "location-asset", "wan_events"]});
    let (status, created) = call(
        &server,
        "POST",
        &format!("/sites/{SITE}/webhooks"),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{created}");

    let event = |id: &str| json!({"id": id, "org_id": ORG, "site_id": SITE, "timestamp": 1.75e9});
    for (topic, id) in [
        ("sdkclient-scan-data", "scan-1"),
        ("location_asset", "asset-1"),
        ("wan-events", "wan-1"),
    ] {
        let envelope = json!({"topic": topic, "events": [event(id)]}).to_string();
        let (status, answer) = server.ingest("default", envelope, &[]).await;
        assert_eq!(status, 200, "{topic}: {answer}");
    }
    let received = receiver
        .wait_until(WAIT, "three messages", |r| r.len() >= 3)
        .await;
    let mut topics: Vec<(String, String)> = received
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["events"][0]["id"].as_str().unwrap().to_string(),
                body["topic"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    topics.sort();
    assert_eq!(
        topics,
        [
            ("asset-1".to_string(), "location_asset".to_string()),
            ("scan-1".to_string(), "sdkclient_scan_data".to_string()),
            ("wan-1".to_string(), "wan-events".to_string()),
        ]
    );
}

/// Lists page as Mist's; delivery results carry UUID ids that replay takes back; Mist's
/// time windows; bad paging and times are 400s naming the parameter.
#[tokio::test]
async fn paging_delivery_result_ids_and_time_windows() {
    let server = Server::start_with(Some(&config()));
    let receiver = Receiver::start().await;
    let path = format!("/sites/{SITE}/webhooks");
    let mut ids = Vec::new();
    for n in 0..3 {
        let body = json!({"url": receiver.url(&format!("/{n}")), "topics": ["zone"]});
        let (status, created) = call(&server, "POST", &path, Some(body)).await;
        assert_eq!(status, 200);
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    let page = |q: &str| {
        server
            .client
            .get(server.url(&format!("/api/v1{path}?{q}")))
            .header("authorization", format!("Token {TOKEN}"))
            .send()
    };
    let answer = page("limit=2&page=2").await.unwrap();
    let headers = answer.headers().clone();
    let (status, second) = support::answer(answer).await;
    assert_eq!(status, 200);
    assert_eq!(second.as_array().unwrap().len(), 1);
    assert_eq!(second[0]["id"], ids[2].as_str(), "oldest first");
    for (name, value) in [
        ("x-page-limit", "2"),
        ("x-page-page", "2"),
        ("x-page-total", "3"),
    ] {
        assert_eq!(headers[name], value, "{name}");
    }
    for bad in ["limit=0", "page=0", "limit=x"] {
        let (status, answer) = support::answer(page(bad).await.unwrap()).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("invalid_query")),
            "{bad}"
        );
    }

    // A dead delivery, replayed by the UUID of its delivery result.
    receiver.respond_with(|_| Some(support::receiver::Answer::status(400)));
    let hook = &ids[0];
    let (status, _) = call(&server, "POST", &format!("{path}/{hook}/ping"), None).await;
    assert_eq!(status, 200);
    let search = format!("{path}/{hook}/events/search");
    let results = support::eventually(WAIT, "the ping's result", || async {
        let (_, found) = call(&server, "GET", &format!("{search}?duration=10m"), None).await;
        found["results"]
            .as_array()
            .filter(|r| !r.is_empty())
            .cloned()
    })
    .await;
    let result = &results[0];
    let uuid = result["id"].as_str().unwrap();
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert_eq!(result["status"], "failure");
    let (status, replayed) = call(
        &server,
        "POST",
        &format!("{path}/{hook}/deliveries/{uuid}/replay"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["replayed"], json!([result["batch_id"]]));
    let (status, _) = call(
        &server,
        "POST",
        &format!("{path}/{}/deliveries/{uuid}/replay", ids[1]),
        None,
    )
    .await;
    assert_eq!(status, 404, "another webhook's result is not found there");

    let (status, found) = call(&server, "GET", &format!("{search}?start=-1h&end=now"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        found["end"].as_i64().unwrap() - found["start"].as_i64().unwrap(),
        3600 + 1
    );
    assert!(found["total"].as_i64().unwrap() >= 1);
    let (_, old) = call(
        &server,
        "GET",
        &format!("{search}?end=-1d&duration=1h"),
        None,
    )
    .await;
    assert_eq!(
        (
            old["total"].as_i64(),
            old["results"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    let (status, counted) = call(
        &server,
        "GET",
        &format!("{path}/{hook}/events/count?distinct=status&limit=1&start=-1w"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{counted}");
    assert_eq!(counted["limit"], 1);
    assert_eq!(counted["results"].as_array().unwrap().len(), 1);
    for bad in ["start=-1y", "end=tomorrow", "duration=1", "duration=-1h"] {
        let (status, answer) = call(&server, "GET", &format!("{search}?{bad}"), None).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("invalid_query")),
            "{bad}"
        );
        let name = bad.split('=').next().unwrap();
        assert!(
            answer["detail"].as_str().unwrap().starts_with(name),
            "{answer}"
        );
    }
}

/// Whether one of the messages received carries the event with this `id`.
fn carries(received: &[support::receiver::Received], id: &str) -> bool {
    received.iter().any(|m| {
        m.json()["events"]
            .as_array()
            .is_some_and(|events| events.iter().any(|e| e["id"] == id))
    })
}

/// Asset filters created through the API, as Mist has them, select the assets a webhook
/// gets of the asset topics; its other topics are not filtered; a webhook may name only
/// filters of its org or site.
#[tokio::test]
async fn asset_filters_select_the_assets_a_webhook_gets() {
    let server = Server::start_with(Some(&config()));
    let receiver = Receiver::start().await;
    // An event of the site first, so that its org is known (a site webhook may then name
    // the org's filters).
    let zone = |id: &str| {
        json!({"topic": "zone", "events": [{"id": id, "org_id": ORG, "site_id": SITE,
               "timestamp": 1.75e9}]})
        .to_string()
    };
    let (status, _) = server.ingest("default", zone("z-0"), &[]).await;
    assert_eq!(status, 200);

    let (status, by_major) = call(
        &server,
        "POST",
        &format!("/orgs/{ORG}/assetfilters"),
        Some(json!({"name": "major 2", "ibeacon_major": 2})),
    )
    .await;
    assert_eq!(status, 200, "{by_major}");
    assert_eq!(by_major["org_id"], ORG);
    let (status, near) = call(
        &server,
        "POST",
        &format!("/sites/{SITE}/assetfilters"),
        Some(json!({"name": "near", "rssi": -60, "ap_mac": "ac-23-16-ec-a7-0b"})),
    )
    .await;
    assert_eq!(status, 200, "{near}");
    assert_eq!(
        (near["for_site"].as_bool(), near["org_id"].as_str()),
        (Some(true), Some(ORG))
    );
    assert_eq!(near["ap_mac"], "ac2316eca70b");
    let (status, listed) = call(&server, "GET", &format!("/sites/{SITE}/assetfilters"), None).await;
    assert_eq!((status, listed.as_array().map(Vec::len)), (200, Some(1)));

    // Only ids of filters it may name; only with an asset topic.
    let hooks = format!("/sites/{SITE}/webhooks");
    for (body, says) in [
        (
            json!({"url": receiver.url("/a"), "topics": ["asset-raw-rssi"], "assetfilter_ids": ["nope"]}),
            "nope",
        ),
        (
            json!({"url": receiver.url("/a"), "topics": ["zone"], "assetfilter_ids": [by_major["id"]]}),
            "asset topic",
        ),
    ] {
        let (status, answer) = call(&server, "POST", &hooks, Some(body)).await;
        assert_eq!(status, 422, "{answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert!(
            detail.contains("assetfilter_ids") && detail.contains(says),
            "{detail}"
        );
    }
    let body = json!({"url": receiver.url("/a"), "topics": ["asset-raw-rssi", "zone"],
                      "assetfilter_ids": [by_major["id"], near["id"]]});
    let (status, hook) = call(&server, "POST", &hooks, Some(body)).await;
    assert_eq!(status, 200, "{hook}");

    let asset = |mac: &str, major: i64, rssi: i64| {
        json!({"mac": mac, "ibeacon_major": major, "rssi": rssi, "org_id": ORG, "site_id": SITE,
               "device_id": "00000000-0000-0000-1000-ac2316eca70b", "timestamp": 1.75e9})
    };
    let envelope = json!({"topic": "asset-raw-rssi", "events": [
        asset("aa0000000001", 2, -90),
        asset("aa0000000002", 5, -50),
        asset("aa0000000003", 5, -90),
    ]});
    let (status, _) = server.ingest("default", envelope.to_string(), &[]).await;
    assert_eq!(status, 200);
    let (status, _) = server.ingest("default", zone("z-1"), &[]).await;
    assert_eq!(status, 200);
    let received = receiver
        .wait_until(WAIT, "the assets and the zone event", |r| {
            carries(r, "z-1") && r.iter().any(|m| m.json()["topic"] == "asset-raw-rssi")
        })
        .await;
    let macs: Vec<String> = received
        .iter()
        .filter(|m| m.json()["topic"] == "asset-raw-rssi")
        .flat_map(|m| m.json()["events"].as_array().cloned().unwrap_or_default())
        .map(|e| e["mac"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        macs,
        ["aa0000000001", "aa0000000002"],
        "one filter or the other matched"
    );

    // Without its filters, the webhook gets no assets, and still its zones.
    for (scope, filter) in [("orgs", ORG), ("sites", SITE)] {
        let id = if scope == "orgs" {
            &by_major["id"]
        } else {
            &near["id"]
        };
        let path = format!("/{scope}/{filter}/assetfilters/{}", id.as_str().unwrap());
        let (status, _) = call(&server, "DELETE", &path, None).await;
        assert_eq!(status, 200);
    }
    let before = receiver.received().len();
    let (status, _) = server.ingest("default", envelope.to_string(), &[]).await;
    assert_eq!(status, 200);
    let (status, _) = server.ingest("default", zone("z-2"), &[]).await;
    assert_eq!(status, 200);
    let received = receiver
        .wait_until(WAIT, "the second zone event", |r| carries(r, "z-2"))
        .await;
    assert!(
        received[before..]
            .iter()
            .all(|m| m.json()["topic"] == "zone"),
        "no asset without a filter"
    );
}
