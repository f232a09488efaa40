//! The device history end to end: alarms posted to the real binary become history rows
//! that the correlation stage commits with its cursor, each change once even when the
//! process is killed between and during batches; the store and the API read them back.

mod support;

use serde_json::{Value, json};
use store::{DeviceFilter, Order, PageRequest, SqliteConfig, SqliteStore, Store};
use support::Server;

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
const AP: &str = "5c5b350e00a1";
const T0: f64 = 1_749_998_000.0;

fn alarm(kind: &str, t: f64, extra: Value) -> Vec<u8> {
    support::site_alarm(ORG, SITE, kind, &[AP], t, extra)
}

/// Posts `body` and returns the id of the newest event it stored.
async fn post(server: &Server, body: Vec<u8>) -> i64 {
    let (status, answer) = server.ingest("default", body, &[]).await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["request_id"].as_i64().unwrap();
    let detail = server.api_ok(&format!("/requests/{id}")).await;
    detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .max()
        .unwrap()
}

/// The server's store, read only, beside the running server.
fn store_of(server: &Server) -> SqliteStore {
    SqliteStore::open_read_only(SqliteConfig::in_data_dir(&server.data_dir)).unwrap()
}

fn us(t: f64) -> i64 {
    (t * 1e6) as i64
}

/// Down, a restart while down, up: three changes, with SIGKILLs right after posts (the
/// stage may be anywhere in its batch) and after the stage caught up.
#[tokio::test]
async fn the_stage_appends_each_device_change_once_across_kills() {
    let mut server = Server::start();
    let down = post(&server, alarm("device_down", T0, json!({}))).await;
    server.restart(); // SIGKILL with the down possibly not handled yet
    server.correlated_up_to(down).await;
    let restart = alarm(
        "device_restarted",
        T0 + 10.0,
        json!({"reasons": ["power_cycle"]}),
    );
    post(&server, restart).await;
    server.restart();
    let up = post(&server, alarm("device_reconnected", T0 + 60.0, json!({}))).await;
    // The same up again (another id: a repeat changes nothing).
    let again = alarm("device_reconnected", T0 + 61.0, json!({"id": "again"}));
    let last = post(&server, again).await;
    assert!(last > up);
    server.correlated_up_to(last).await;

    let store = store_of(&server);
    let history = store
        .device_history(
            ORG,
            AP,
            PageRequest {
                limit: 100,
                after: None,
                order: Order::Asc,
            },
        )
        .await
        .unwrap();
    let got: Vec<(i64, &str, &str, i64)> = history
        .items
        .iter()
        .map(|r| (r.at, r.change.as_str(), r.state.as_str(), r.since))
        .collect();
    assert_eq!(
        got,
        [
            (us(T0), "down", "down", us(T0)),
            (us(T0 + 10.0), "restarted", "down", us(T0)),
            (us(T0 + 60.0), "up", "up", us(T0 + 60.0)),
        ]
    );
    let first = &history.items[0];
    assert_eq!(first.event_id, Some(down));
    assert_eq!(
        (
            first.kind.as_str(),
            first.site_id.as_deref(),
            first.note.as_str()
        ),
        ("ap", Some(SITE), "device_down")
    );
    assert_eq!(history.items[1].note, "device_restarted: power_cycle");
    assert_eq!(history.items[2].event_id, Some(up));
    // The record's timeline holds the same changes.
    let record = server.api_ok(&format!("/devices/{AP}")).await;
    assert_eq!(record["timeline"].as_array().unwrap().len(), 3);

    // The board as of any moment.
    let state_at = |t: f64| {
        let store = store.clone();
        async move {
            store
                .devices_at(us(t), DeviceFilter::default())
                .await
                .unwrap()
                .into_iter()
                .map(|d| (d.mac, d.state, d.since))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(state_at(T0 - 1.0).await, []);
    let entry = |state: &str, since: f64| vec![(AP.to_string(), state.to_string(), us(since))];
    assert_eq!(state_at(T0 + 30.0).await, entry("down", T0));
    assert_eq!(state_at(T0 + 3600.0).await, entry("up", T0 + 60.0));
}

/// The history and the board through the API: `GET /api/v1/devices/{mac}/history` pages
/// the changes newest first, `GET /api/v1/devices?at=` answers each device as it stood.
#[tokio::test]
async fn the_api_answers_the_history_and_the_board_at_a_time() {
    let server = Server::start();
    const OTHER: &str = "5c5b350e00b2";
    post(&server, alarm("device_down", T0, json!({}))).await;
    let other = support::site_alarm(ORG, SITE, "device_down", &[OTHER], T0 + 5.0, json!({}));
    post(&server, other).await;
    let last = post(&server, alarm("device_reconnected", T0 + 60.0, json!({}))).await;
    server.correlated_up_to(last).await;

    // Newest first, one per page, the MAC in any notation.
    let first = server
        .api_ok("/devices/5C:5B:35:0E:00:A1/history?limit=1")
        .await;
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{first}");
    assert_eq!(
        (
            &items[0]["change"],
            &items[0]["state"],
            &items[0]["at"],
            &items[0]["site_id"]
        ),
        (
            &json!("up"),
            &json!("up"),
            &json!("2025-06-15T14:34:20.000000Z"),
            &json!(SITE)
        )
    );
    assert_eq!(items[0]["since"], items[0]["at"]);
    assert_eq!(items[0]["note"], "device_reconnected");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = server
        .api_ok(&format!("/devices/{AP}/history?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(second["items"][0]["change"], "down");
    assert_eq!(second["items"][0]["state"], "down");
    assert_eq!(second["items"][0]["at"], "2025-06-15T14:33:20.000000Z");
    assert_eq!(second["next_cursor"], Value::Null);
    let asc = server
        .api_ok(&format!("/devices/{AP}/history?order=asc"))
        .await;
    let changes: Vec<&str> = asc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["down", "up"]);
    let (status, answer) = server.api("/devices/ffffffffffff/history").await;
    assert_eq!(
        (status, &answer["error"]),
        (404, &json!("not_found")),
        "{answer}"
    );
    let (status, answer) = server.api(&format!("/devices/{AP}/history?limit=0")).await;
    assert_eq!(
        (status, &answer["error"]),
        (400, &json!("invalid_query")),
        "{answer}"
    );

    // The board: before anything, between, after; filters on the state of then.
    let board = |at: &str| {
        let path = format!("/devices?{at}");
        let server = &server;
        async move {
            let page = server.api_ok(&path).await;
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["mac"].as_str().unwrap().to_string(),
                        d["state"].as_str().unwrap().to_string(),
                        d["since"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let at = |mac: &str, state: &str, since: &str| {
        (
            mac.to_string(),
            state.to_string(),
            format!("2025-06-15T{since}.000000Z"),
        )
    };
    assert_eq!(board("at=2025-06-15T14:33:19Z").await, []);
    assert_eq!(
        board("at=2025-06-15T14:33:30Z&order=asc").await,
        [at(AP, "down", "14:33:20"), at(OTHER, "down", "14:33:25")]
    );
    // Newest first (by when the device was first seen), as the list without `at`.
    assert_eq!(
        board("at=1749998070").await,
        [at(OTHER, "down", "14:33:25"), at(AP, "up", "14:34:20")]
    );
    assert_eq!(
        board("at=1749998070&state=up").await,
        [at(AP, "up", "14:34:20")]
    );
    assert_eq!(board("at=1749998030&state=up").await, []);
    let page = server.api_ok("/devices?at=1749998070&limit=1").await;
    assert_eq!(page["items"][0]["mac"], OTHER);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = server
        .api_ok(&format!("/devices?at=1749998070&limit=1&cursor={cursor}"))
        .await;
    assert_eq!(rest["items"][0]["mac"], AP);
    assert_eq!(rest["items"][0]["kind"], "ap");
    assert_eq!(rest["items"][0]["site_id"], SITE);
    assert_eq!(rest["next_cursor"], Value::Null);
    // Without `at`, the records as they are.
    let now = server.api_ok("/devices?order=asc").await;
    assert_eq!(now["items"][0]["timeline"].as_array().unwrap().len(), 2);
    let (status, answer) = server.api("/devices?at=yesterday").await;
    assert_eq!(
        (status, &answer["error"]),
        (400, &json!("invalid_query")),
        "{answer}"
    );

    for path in [
        format!("/api/v1/devices/{AP}/history"),
        "/api/v1/devices?at=0".into(),
    ] {
        let response = server.client.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{path}");
    }
}
