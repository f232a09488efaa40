//! Tokens, roles and the audit log, end to end on the real binary: every route of the
//! OpenAPI document against every role (the expected status of each is written here),
//! an audit record for every state-changing route, and `mistgate token` on the data dir.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, eventually};

/// The roles, weakest first, as the tokens this test creates are named.
const ROLES: [&str; 3] = ["read", "operate", "admin"];

/// One route of the API: its method, its template (as the document and the audit log
/// name it), a concrete path, a body, the role it needs, and the status a token with that
/// role gets (the ids below name nothing, so most answers are a 404 past the guard).
struct Route {
    method: &'static str,
    template: &'static str,
    path: &'static str,
    body: Option<Value>,
    needs: &'static str,
    allowed: u16,
}

fn route(
    method: &'static str,
    template: &'static str,
    path: &'static str,
    needs: &'static str,
    allowed: u16,
) -> Route {
    Route {
        method,
        template,
        path,
        body: None,
        needs,
        allowed,
    }
}

fn with_body(mut r: Route, body: Value) -> Route {
    r.body = Some(body);
    r
}

fn table() -> Vec<Route> {
    let hook = json!({"url": "https://example.com/hook", "topics": ["alarms"]});
    let silence = json!({"site_id": "site-x", "ends_at": "2099-01-01T00:00:00Z"});
    vec![
        route("GET", "/events", "/events", "read", 200),
        route("GET", "/events/{id}", "/events/999999", "read", 404),
        with_body(
            route(
                "POST",
                "/events/{id}/resend",
                "/events/999999/resend",
                "operate",
                404,
            ),
            json!({"url": "http://127.0.0.1:9/x"}),
        ),
        route("GET", "/requests", "/requests", "read", 200),
        route("GET", "/requests/{id}", "/requests/999999", "read", 404),
        route("GET", "/quarantine", "/quarantine", "read", 200),
        route("GET", "/stats", "/stats", "read", 200),
        route("GET", "/self", "/self", "read", 200),
        route(
            "GET",
            "/orgs/{org_id}/assetfilters",
            "/orgs/o1/assetfilters",
            "read",
            200,
        ),
        with_body(
            route(
                "POST",
                "/orgs/{org_id}/assetfilters",
                "/orgs/o1/assetfilters",
                "admin",
                200,
            ),
            json!({"name": "tags"}),
        ),
        route(
            "GET",
            "/orgs/{org_id}/assetfilters/{id}",
            "/orgs/o1/assetfilters/nope",
            "read",
            404,
        ),
        with_body(
            route(
                "PUT",
                "/orgs/{org_id}/assetfilters/{id}",
                "/orgs/o1/assetfilters/nope",
                "admin",
                404,
            ),
            json!({"name": "tags"}),
        ),
        route(
            "DELETE",
            "/orgs/{org_id}/assetfilters/{id}",
            "/orgs/o1/assetfilters/nope",
            "admin",
            404,
        ),
        route(
            "GET",
            "/sites/{site_id}/assetfilters",
            "/sites/s1/assetfilters",
            "read",
            200,
        ),
        with_body(
            route(
                "POST",
                "/sites/{site_id}/assetfilters",
                "/sites/s1/assetfilters",
                "admin",
                200,
            ),
            json!({"name": "tags"}),
        ),
        route(
            "GET",
            "/sites/{site_id}/assetfilters/{id}",
            "/sites/s1/assetfilters/nope",
            "read",
            404,
        ),
        with_body(
            route(
                "PUT",
                "/sites/{site_id}/assetfilters/{id}",
                "/sites/s1/assetfilters/nope",
                "admin",
                404,
            ),
            json!({"name": "tags"}),
        ),
        route(
            "DELETE",
            "/sites/{site_id}/assetfilters/{id}",
            "/sites/s1/assetfilters/nope",
            "admin",
            404,
        ),
        route(
            "GET",
            "/const/webhook_topics",
            "/const/webhook_topics",
            "read",
            200,
        ),
        route("GET", "/stats/series", "/stats/series", "read", 200),
        route("GET", "/mist/backfill", "/mist/backfill", "read", 200),
        route("GET", "/stream", "/stream", "read", 200),
        route("GET", "/devices", "/devices", "read", 200),
        route(
            "GET",
            "/devices/{mac}",
            "/devices/5c5b350e0001",
            "read",
            404,
        ),
        route(
            "GET",
            "/devices/{mac}/history",
            "/devices/5c5b350e0001/history",
            "read",
            404,
        ),
        route("GET", "/incidents", "/incidents", "read", 200),
        route("GET", "/incidents/{id}", "/incidents/999999", "read", 404),
        route(
            "GET",
            "/incidents/{id}/notifications",
            "/incidents/999999/notifications",
            "read",
            404,
        ),
        route(
            "POST",
            "/incidents/{id}/ack",
            "/incidents/999999/ack",
            "operate",
            404,
        ),
        route(
            "POST",
            "/incidents/{id}/resolve",
            "/incidents/999999/resolve",
            "operate",
            404,
        ),
        route("GET", "/silences", "/silences", "read", 200),
        with_body(
            route("POST", "/silences", "/silences", "operate", 201),
            silence.clone(),
        ),
        with_body(
            route("PUT", "/silences/{id}", "/silences/999999", "operate", 404),
            silence,
        ),
        route(
            "DELETE",
            "/silences/{id}",
            "/silences/999999",
            "operate",
            404,
        ),
        route(
            "GET",
            "/orgs/{org_id}/webhooks",
            "/orgs/o1/webhooks",
            "read",
            200,
        ),
        with_body(
            route(
                "POST",
                "/orgs/{org_id}/webhooks",
                "/orgs/o1/webhooks",
                "admin",
                200,
            ),
            hook.clone(),
        ),
        route(
            "GET",
            "/orgs/{org_id}/webhooks/{id}",
            "/orgs/o1/webhooks/nope",
            "read",
            404,
        ),
        with_body(
            route(
                "PUT",
                "/orgs/{org_id}/webhooks/{id}",
                "/orgs/o1/webhooks/nope",
                "admin",
                404,
            ),
            hook.clone(),
        ),
        route(
            "DELETE",
            "/orgs/{org_id}/webhooks/{id}",
            "/orgs/o1/webhooks/nope",
            "admin",
            404,
        ),
        route(
            "GET",
            "/sites/{site_id}/webhooks",
            "/sites/s1/webhooks",
            "read",
            200,
        ),
        with_body(
            route(
                "POST",
                "/sites/{site_id}/webhooks",
                "/sites/s1/webhooks",
                "admin",
                200,
            ),
            hook.clone(),
        ),
        route(
            "GET",
            "/sites/{site_id}/webhooks/{id}",
            "/sites/s1/webhooks/nope",
            "read",
            404,
        ),
        with_body(
            route(
                "PUT",
                "/sites/{site_id}/webhooks/{id}",
                "/sites/s1/webhooks/nope",
                "admin",
                404,
            ),
            hook,
        ),
        route(
            "DELETE",
            "/sites/{site_id}/webhooks/{id}",
            "/sites/s1/webhooks/nope",
            "admin",
            404,
        ),
        route(
            "POST",
            "/orgs/{org_id}/webhooks/{id}/ping",
            "/orgs/o1/webhooks/nope/ping",
            "operate",
            404,
        ),
        route(
            "GET",
            "/orgs/{org_id}/webhooks/{id}/events/search",
            "/orgs/o1/webhooks/nope/events/search",
            "read",
            404,
        ),
        route(
            "GET",
            "/orgs/{org_id}/webhooks/{id}/events/count",
            "/orgs/o1/webhooks/nope/events/count",
            "read",
            404,
        ),
        route(
            "GET",
            "/orgs/{org_id}/webhooks/{id}/deliveries",
            "/orgs/o1/webhooks/nope/deliveries",
            "read",
            404,
        ),
        route(
            "POST",
            "/orgs/{org_id}/webhooks/{id}/deliveries/replay",
            "/orgs/o1/webhooks/nope/deliveries/replay",
            "operate",
            404,
        ),
        route(
            "POST",
            "/orgs/{org_id}/webhooks/{id}/deliveries/{batch_id}/replay",
            "/orgs/o1/webhooks/nope/deliveries/1/replay",
            "operate",
            404,
        ),
        route(
            "POST",
            "/sites/{site_id}/webhooks/{id}/ping",
            "/sites/s1/webhooks/nope/ping",
            "operate",
            404,
        ),
        route(
            "GET",
            "/sites/{site_id}/webhooks/{id}/events/search",
            "/sites/s1/webhooks/nope/events/search",
            "read",
            404,
        ),
        route(
            "GET",
            "/sites/{site_id}/webhooks/{id}/events/count",
            "/sites/s1/webhooks/nope/events/count",
            "read",
            404,
        ),
        route(
            "GET",
            "/sites/{site_id}/webhooks/{id}/deliveries",
            "/sites/s1/webhooks/nope/deliveries",
            "read",
            404,
        ),
        route(
            "POST",
            "/sites/{site_id}/webhooks/{id}/deliveries/replay",
            "/sites/s1/webhooks/nope/deliveries/replay",
            "operate",
            404,
        ),
        route(
            "POST",
            "/sites/{site_id}/webhooks/{id}/deliveries/{batch_id}/replay",
            "/sites/s1/webhooks/nope/deliveries/1/replay",
            "operate",
            404,
        ),
        route("GET", "/targets", "/targets", "read", 200),
        route(
            "GET",
            "/targets/{name}/events/search",
            "/targets/nope/events/search",
            "read",
            404,
        ),
        route(
            "GET",
            "/targets/{name}/events/count",
            "/targets/nope/events/count",
            "read",
            404,
        ),
        route(
            "GET",
            "/targets/{name}/deliveries",
            "/targets/nope/deliveries",
            "read",
            404,
        ),
        route(
            "POST",
            "/targets/{name}/deliveries/replay",
            "/targets/nope/deliveries/replay",
            "operate",
            404,
        ),
        route(
            "POST",
            "/targets/{name}/deliveries/{batch_id}/replay",
            "/targets/nope/deliveries/1/replay",
            "operate",
            404,
        ),
        route("GET", "/tokens", "/tokens", "admin", 200),
        with_body(
            route("POST", "/tokens", "/tokens", "admin", 201),
            json!({"name": "made-by-admin", "role": "read"}),
        ),
        route("DELETE", "/tokens/{name}", "/tokens/nobody", "admin", 404),
        route("GET", "/audit", "/audit", "admin", 200),
        route("GET", "/sources", "/sources", "read", 200),
        with_body(
            route("POST", "/sources", "/sources", "admin", 201),
            json!({"name": "added-by-admin", "secrets": ["s3cret"]}),
        ),
        with_body(
            route("PUT", "/sources/{name}", "/sources/nope", "admin", 404),
            json!({"secrets": ["s3cret"]}),
        ),
        route("DELETE", "/sources/{name}", "/sources/nope", "admin", 404),
    ]
}

fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).expect("a role")
}

/// Calls `r` with `token` (none: no `Authorization`); the status and JSON answer. A
/// stream is judged by its head.
async fn call(server: &Server, r: &Route, token: Option<&str>) -> (u16, Value) {
    let mut req = server.client.request(
        r.method.parse().unwrap(),
        server.url(&format!("/api/v1{}", r.path)),
    );
    if let Some(t) = token {
        req = req.header("authorization", format!("Token {t}"));
    }
    if let Some(b) = &r.body {
        req = req.json(b);
    }
    let response = req.send().await.expect("an answer");
    let status = response.status().as_u16();
    if r.path == "/stream" && status == 200 {
        return (status, Value::Null);
    }
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates a token through the API with the configured admin token; returns it.
async fn token(server: &Server, name: &str, role: &str, expires: Option<&str>) -> String {
    let body = json!({"name": name, "role": role, "expires": expires});
    let (status, created, text) = server.call("POST", "/tokens", Some(body.to_string())).await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(created["role"], role);
    created["token"].as_str().unwrap().to_string()
}

/// The status of `GET /api/v1/stats` with `token`.
async fn status_with(server: &Server, token: String) -> u16 {
    server
        .client
        .get(server.url("/api/v1/stats"))
        .header("authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn every_route_answers_each_role_as_written_and_every_change_is_audited() {
    let server = Server::start_with(Some("[[sources]]\nname = \"default\"\n"));
    let mut tokens = Vec::new();
    for role in ROLES {
        tokens.push((role, token(&server, &format!("t-{role}"), role, None).await));
    }
    let table = table();

    // The table is the document: every operation under /api/v1, no more, no less.
    let doc = server.text("/api/v1/openapi.json", false).await;
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/api/v1/") && *p != "/api/v1/openapi.json")
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
                .map(|m| {
                    (
                        m.to_uppercase(),
                        p.trim_start_matches("/api/v1").to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let tabled: BTreeSet<(String, String)> = table
        .iter()
        .map(|r| (r.method.to_string(), r.template.to_string()))
        .collect();
    assert_eq!(tabled, documented, "the table and the document differ");

    for r in &table {
        let what = format!("{} {}", r.method, r.path);
        let (status, body) = call(&server, r, None).await;
        assert_eq!(status, 401, "{what} without a token: {body}");
        assert_eq!(body["error"], "unauthorized", "{what}");
        let (status, _) = call(&server, r, Some("mg_not_a_token")).await;
        assert_eq!(status, 401, "{what} with a wrong token");
        for (role, t) in &tokens {
            let (status, body) = call(&server, r, Some(t)).await;
            if rank(role) >= rank(r.needs) {
                assert_eq!(status, r.allowed, "{what} as {role}: {body}");
            } else {
                assert_eq!(status, 403, "{what} as {role}: {body}");
                assert_eq!(body["error"], "forbidden", "{what} as {role}");
                assert_eq!(body["role_needed"], r.needs, "{what} as {role}");
                let detail = body["detail"].as_str().unwrap();
                assert!(
                    detail.contains(r.needs) && detail.contains(&format!("t-{role}")),
                    "{detail}"
                );
            }
        }
    }

    // Every state-changing operation of the document left one record per token: refused
    // ones with 403, the others with their answer's status.
    for r in table.iter().filter(|r| r.method != "GET") {
        let action = format!("{} {}", r.method, r.template);
        for (role, _) in &tokens {
            let query = format!("/audit?action={}&token=t-{role}", encode(&action));
            let records = server.api_ok(&query).await;
            let items = records["items"].as_array().unwrap();
            assert_eq!(items.len(), 1, "{action} by t-{role}: {records}");
            let record = &items[0];
            let expected = if rank(role) >= rank(r.needs) {
                r.allowed
            } else {
                403
            };
            assert_eq!(record["status"], expected, "{action} by t-{role}");
            assert_eq!(record["target"], r.path, "{action}");
            assert_eq!(record["client"], "127.0.0.1", "{action}");
            assert!(record["at"].as_str().unwrap().ends_with('Z'));
        }
    }
    // Reads are not audited.
    let reads = server
        .api_ok(&format!("/audit?action={}", encode("GET /events")))
        .await;
    assert_eq!(reads["items"], json!([]));
}

#[tokio::test]
async fn audit_records_redact_secrets_and_show_before_and_after() {
    let server = Server::start();
    let admin = token(&server, "ops-admin", "admin", Some("30d")).await;
    let secret = "audit-secret-value-4471";
    let client = &server.client;
    let post = |path: &str, body: Value| {
        client
            .request(reqwest::Method::POST, server.url(&format!("/api/v1{path}")))
            .header("authorization", format!("Token {admin}"))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&body)
    };
    let created: Value = post(
        "/orgs/o1/webhooks",
        json!({"url": "https://example.com/a", "topics": ["alarms"], "secret": secret,
               "headers": {"Authorization": format!("Bearer {secret}")}}),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = created["id"].as_str().unwrap();
    let put = client
        .put(server.url(&format!("/api/v1/orgs/o1/webhooks/{id}")))
        .header("authorization", format!("Token {admin}"))
        .json(&json!({"url": "https://example.com/b", "topics": ["audits"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    let log = server.api_ok("/audit?token=ops-admin").await;
    let text = log.to_string();
    assert!(!text.contains(secret), "a secret in the audit log: {text}");
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{log}");
    // Newest first: the update, with what it replaced.
    let update = &items[0];
    assert_eq!(update["action"], "PUT /orgs/{org_id}/webhooks/{id}");
    assert_eq!(update["before"]["url"], "https://example.com/a");
    assert_eq!(update["after"]["url"], "https://example.com/b");
    let create = &items[1];
    assert_eq!(create["before"], Value::Null);
    assert_eq!(create["after"]["has_secret"], true);
    // No trusted proxies: the forwarded address is not believed.
    assert_eq!(create["client"], "127.0.0.1");
    // Filters and paging.
    let page = server.api_ok("/audit?token=ops-admin&limit=1").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = server
        .api_ok(&format!("/audit?token=ops-admin&limit=1&cursor={cursor}"))
        .await;
    assert_eq!(next["items"][0]["id"], create["id"]);
    let by_target = server
        .api_ok(&format!(
            "/audit?target={}",
            encode(&format!("/orgs/o1/webhooks/{id}"))
        ))
        .await;
    assert_eq!(by_target["items"].as_array().unwrap().len(), 1);
    let (status, body) = server.api("/audit?since=yesterday").await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn tokens_are_shown_once_expire_and_are_revoked_at_once() {
    let server = Server::start();
    let t = token(&server, "short", "read", Some("2s")).await;
    assert_eq!(status_with(&server, t.clone()).await, 200);
    eventually(
        Duration::from_secs(20),
        "the token's last use recorded",
        || async {
            let listed = server.api_ok("/tokens").await;
            let short = listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["name"] == "short")
                .cloned();
            short.filter(|s| s["last_used_at"].is_string())
        },
    )
    .await;
    let listed = server.api_ok("/tokens").await;
    assert!(!listed.to_string().contains(&t), "a token shown again");
    let short = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "short")
        .unwrap()
        .clone();
    assert!(short["expires_at"].is_string());
    eventually(Duration::from_secs(10), "the token expired", || {
        let t = t.clone();
        let server = &server;
        async move { (status_with(server, t).await == 401).then_some(()) }
    })
    .await;

    let kept = token(&server, "kept", "operate", None).await;
    assert_eq!(status_with(&server, kept.clone()).await, 200);
    let (status, _, text) = server
        .call(
            "POST",
            "/tokens",
            Some(json!({"name": "kept", "role": "read"}).to_string()),
        )
        .await;
    assert_eq!(status, 409, "{text}");
    let (status, revoked, _) = server.call("DELETE", "/tokens/kept", None).await;
    assert_eq!(status, 200);
    assert!(revoked["revoked_at"].is_string());
    assert_eq!(
        status_with(&server, kept).await,
        401,
        "revoked through the API: at once"
    );
    // Its name is free again.
    token(&server, "kept", "read", None).await;
    for bad in [
        json!({"name": "x y", "role": "read"}),
        json!({"name": "ok", "role": "root"}),
        json!({"name": "ok", "role": "read", "expires": "2001-01-01T00:00:00Z"}),
        json!({"name": "ok"}),
    ] {
        let (status, body, _) = server.call("POST", "/tokens", Some(bad.to_string())).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["error"], "invalid_body");
    }
    let (status, body, _) = server.call("POST", "/tokens", Some("{".into())).await;
    assert_eq!(status, 400, "{body}");
}

fn mistgate(args: &[&str], data_dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run mistgate")
}

#[tokio::test]
async fn the_token_command_works_on_the_data_dir_with_the_server_running_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Not running: a new data dir is made.
    let out = mistgate(
        &[
            "token",
            "create",
            "--name",
            "ci",
            "--role",
            "read",
            "--expires",
            "90d",
        ],
        &data,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ci = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(ci.starts_with("mg_") && ci.len() == 51, "{ci}");
    let db = std::fs::read(data.join("mistgate.db")).unwrap();
    assert!(
        !db.windows(ci.len()).any(|w| w == ci.as_bytes()),
        "the token in clear"
    );
    let again = mistgate(
        &["token", "create", "--name", "ci", "--role", "read"],
        &data,
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let bad = mistgate(&["token", "create", "--name", "x", "--role", "root"], &data);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("read, operate and admin"));

    // Running: what the command writes is used within seconds, and revoking stops it.
    let server = Server::start_in(data.clone(), None);
    assert_eq!(status_with(&server, ci.clone()).await, 200);
    let out = mistgate(
        &["token", "create", "--name", "later", "--role", "admin"],
        &data,
    );
    assert!(out.status.success());
    let later = String::from_utf8(out.stdout).unwrap().trim().to_string();
    eventually(
        Duration::from_secs(10),
        "a token made beside the server works",
        || {
            let (t, server) = (later.clone(), &server);
            async move { (status_with(server, t).await == 200).then_some(()) }
        },
    )
    .await;
    let out = mistgate(&["token", "revoke", "later"], &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually(
        Duration::from_secs(10),
        "a token revoked beside the server stops",
        || {
            let (t, server) = (later.clone(), &server);
            async move { (status_with(server, t).await == 401).then_some(()) }
        },
    )
    .await;
    let list = mistgate(&["token", "list", "--json"], &data);
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ci", "later"]);
    assert!(list[1]["revoked_at"].is_string());
    let missing = mistgate(&["token", "revoke", "nobody"], &data);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no live token named `nobody`"));
}

#[tokio::test]
async fn the_first_start_makes_the_admin_token_and_keeps_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env_remove("MISTGATE_API_TOKEN")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = out;
    let stderr = child.stderr.take().unwrap();
    let (found, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(t) = line.trim().strip_prefix("mg_") {
                let _ = found.send(format!("mg_{t}"));
            }
        }
    });
    let token = printed
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(token.starts_with("mg_"), "no token printed");
    assert!(!data.join("api_token").exists(), "a token file in clear");
    let list = mistgate(&["token", "list", "--json"], &data);
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["name"], "admin");
    assert_eq!(list[0]["role"], "admin");
    let db = std::fs::read(data.join("mistgate.db")).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));
}
