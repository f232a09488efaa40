//! The console over HTTP, without a browser: sign-in, the session cookie, CSRF, every page
//! rendered from real data, escaping, and `serve --demo`'s one-time sign-in link. The
//! browser tests (tests/console_browser.rs) drive the same pages in Chromium.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use support::{Server, TOKEN};

/// A client that does not follow redirects, so the tests see them.
fn browser() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Signs in through the form; returns the cookie pair (`mistgate_session=...`).
async fn sign_in(server: &Server) -> String {
    sign_in_with(server, TOKEN).await
}

/// Signs in with `token` through the form; returns the cookie pair.
async fn sign_in_with(server: &Server, token: &str) -> String {
    let r = browser()
        .post(server.url("/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token), ("next", "/ui/incidents")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/ui/incidents");
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(set.contains("Path=/"), "{set}");
    assert!(
        !set.contains("Secure"),
        "plain HTTP: no Secure flag ({set})"
    );
    set.split(';').next().unwrap().to_string()
}

async fn page(server: &Server, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = browser()
        .get(server.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

fn csrf_of(html: &str) -> String {
    let at = html
        .find(r#"name="csrf-token" content=""#)
        .expect("csrf meta")
        + 27;
    html[at..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn pages_need_a_session_and_the_token_starts_one() {
    let server = Server::start();
    let c = browser();
    for (path, to) in [("/", "/ui/"), ("/ui", "/ui/")] {
        let r = c.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.headers()[LOCATION], to);
    }
    for path in [
        "/ui/",
        "/ui/incidents?state=open",
        "/ui/events/1",
        "/ui/no-such-page",
    ] {
        let r = c.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let to = r.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(to.starts_with("/ui/login?next="), "{path} → {to}");
        let back: String = form_decode(to.trim_start_matches("/ui/login?next="));
        assert_eq!(back, path);
    }
    // A wrong token: the form again, 401, no cookie.
    let r = c
        .post(server.url("/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", "not-the-token")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get(SET_COOKIE).is_none());
    assert!(r.text().await.unwrap().contains("not a valid API token"));
    // Behind a proxy that says it took HTTPS, the cookie is Secure.
    let r = c
        .post(server.url("/ui/login"))
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", TOKEN)]))
        .send()
        .await
        .unwrap();
    assert!(r.headers()[SET_COOKIE].to_str().unwrap().contains("Secure"));
    // After sign-in, only console pages are followed.
    let r = c
        .post(server.url("/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("token", TOKEN),
            ("next", "https://elsewhere.example/"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/ui/");
    let cookie = sign_in(&server).await;
    let (status, html) = page(&server, &cookie, "/ui/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Overview</h1>"), "{html}");
    assert!(!csrf_of(&html).is_empty());
    // A cookie that was never handed out opens nothing.
    let (status, _) = page(&server, "mistgate_session=forged", "/ui/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The page is not cached and may not be framed.
    let r = c
        .get(server.url("/ui/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
}

/// A form body, as a browser encodes it.
fn form(fields: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        out.append_pair(k, v);
    }
    out.finish()
}

/// POSTs a silence to the API with the session `cookie` and, when given, a CSRF token.
async fn post_silence(
    server: &Server,
    cookie: &str,
    csrf: Option<&str>,
    silence: &Value,
) -> reqwest::Response {
    let mut req = browser()
        .post(server.url("/api/v1/silences"))
        .header(COOKIE, cookie)
        .json(silence);
    if let Some(token) = csrf {
        req = req.header("x-csrf-token", token);
    }
    req.send().await.unwrap()
}

async fn silences(server: &Server) -> usize {
    server.api_ok("/silences").await["items"]
        .as_array()
        .unwrap()
        .len()
}

/// POSTs a form with the session `cookie`.
async fn post_form(
    server: &Server,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    browser()
        .post(server.url(path))
        .header(COOKIE, cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields))
        .send()
        .await
        .unwrap()
}

/// A URL on a loopback port nobody listens on (bound, then let go).
fn closed_url(path: &str) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}{path}")
}

fn form_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[tokio::test]
async fn the_api_takes_the_session_but_changes_need_its_csrf_token() {
    let server = Server::start();
    let cookie = sign_in(&server).await;
    let (_, html) = page(&server, &cookie, "/ui/silences").await;
    let csrf = csrf_of(&html);
    let c = browser();
    let r = c
        .get(server.url("/api/v1/events"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let silence =
        json!({"ends_at": "2099-01-01T00:00:00Z", "site_id": "s1", "comment": "csrf test"});
    // Without the CSRF token: refused, and nothing was created.
    let r = post_silence(&server, &cookie, None, &silence).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "csrf_failed", "{body}");
    // With another session's token: refused too.
    let other = sign_in(&server).await;
    let (_, other_html) = page(&server, &other, "/ui/").await;
    let r = post_silence(&server, &cookie, Some(&csrf_of(&other_html)), &silence).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(silences(&server).await, 0);
    // With it: created.
    let r = post_silence(&server, &cookie, Some(&csrf), &silence).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(silences(&server).await, 1);
    // A request that names a token is judged by it alone, cookie or not.
    let r = c
        .get(server.url("/api/v1/events"))
        .header(COOKIE, &cookie)
        .header("authorization", "Token wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Sign-out needs the CSRF token too, then ends the session for page and API alike.
    let r = post_form(&server, "/ui/logout", &cookie, &[("csrf", "wrong")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(page(&server, &cookie, "/ui/").await.0, StatusCode::OK);
    let r = post_form(&server, "/ui/logout", &cookie, &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        page(&server, &cookie, "/ui/").await.0,
        StatusCode::SEE_OTHER
    );
    let r = c
        .get(server.url("/api/v1/events"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The other session lives on.
    assert_eq!(page(&server, &other, "/ui/").await.0, StatusCode::OK);
}

#[tokio::test]
async fn every_page_renders_real_data_and_escapes_it() {
    let server = Server::start();
    let cookie = sign_in(&server).await;
    // Every Mist sample, an incident, a quarantined body, a silence and a webhook.
    for s in support::samples() {
        let (status, _) = server.ingest("default", s.body.clone(), &[]).await;
        assert_eq!(status, 200, "{}", s.file);
    }
    let t = 1_765_000_000.0;
    let body = support::site_alarm("o1", "s1", "device_down", &["5c5b350e0001"], t, json!({}));
    assert_eq!(server.ingest("default", body, &[]).await.0, 200);
    let hostile = json!({"topic": "device-events", "events": [{"type": "AP_RESTARTED", "mac": "5c5b350e0002",
        "device_name": "<script>alert(1)</script>", "text": "<img src=x onerror=alert(2)>", "timestamp": t}]});
    let (_, answer) = server.ingest("default", hostile.to_string(), &[]).await;
    let request = answer["request_id"].as_i64().expect("request id");
    let hostile_id = server.api_ok(&format!("/requests/{request}")).await["events"][0]
        .as_i64()
        .expect("the hostile event's id");
    assert_eq!(server.ingest("default", "{not json", &[]).await.0, 400);
    server.correlated().await;
    let incident = server.api_ok("/incidents").await["items"][0]["id"]
        .as_i64()
        .expect("an incident");
    let event = server.api_ok("/events?limit=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let quarantined = server.api_ok("/quarantine").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let (status, _, _) = server
        .call(
            "POST",
            "/orgs/o1/webhooks",
            Some(
                json!({"url": closed_url("/hook"), "topics": ["alarms"], "name": "ops"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let webhook = server.api_ok("/orgs/o1/webhooks").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pages = [
        ("/ui/", "Overview"),
        ("/ui/tail", "Live tail"),
        ("/ui/events", "Events"),
        ("/ui/events?topic=alarms&since=2020-01-01T00:00", "Events"),
        (&format!("/ui/events/{event}"), "Event"),
        ("/ui/devices", "Devices"),
        ("/ui/devices?at=2030-01-01T00:00", "Devices"),
        ("/ui/devices/5c5b350e0001", "ap-5c5b350e0001"),
        ("/ui/incidents", "Incidents"),
        (&format!("/ui/incidents/{incident}"), "Incident"),
        ("/ui/silences", "Silences"),
        ("/ui/silences?site_id=s1&kind=device_down", "Silences"),
        ("/ui/deliveries", "Deliveries"),
        (&format!("/ui/deliveries/webhooks/{webhook}"), "Webhook"),
        ("/ui/quarantine", "Quarantine"),
        (
            &format!("/ui/quarantine/{quarantined}"),
            "Quarantined request",
        ),
    ];
    for (path, heading) in pages {
        let (status, html) = page(&server, &cookie, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert!(
            html.contains(&format!("<h1>{heading}")),
            "{path} lacks its heading `{heading}`"
        );
        assert!(!html.contains("could not be rendered"), "{path}");
    }
    // Sites are named by what their events say (the alarm's `site_name`), not by id.
    for path in [
        "/ui/".to_string(),
        format!("/ui/incidents/{incident}"),
        "/ui/devices".to_string(),
    ] {
        let (_, html) = page(&server, &cookie, &path).await;
        assert!(
            html.contains(">HQ<") || html.contains(">HQ "),
            "{path} does not name site s1 HQ"
        );
    }
    // The overview counts each source's quarantined requests.
    let (_, html) = page(&server, &cookie, "/ui/").await;
    assert!(html.contains(r#"<a href="/ui/quarantine">1</a>"#), "{html}");
    // The overview counts what is there; the device board shows the device down.
    let (_, html) = page(&server, &cookie, "/ui/devices?state=down").await;
    assert!(html.contains("ap-5c5b350e0001"), "{html}");
    // Event content is text, never markup.
    for path in [format!("/ui/events/{hostile_id}"), "/ui/events".to_string()] {
        let (_, html) = page(&server, &cookie, &path).await;
        assert!(!html.contains("<script>alert(1)"), "{path}: {html}");
        assert!(!html.contains("<img src=x"), "{path}: {html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{path}: {html}"
        );
    }
    // A page for something that is not there is a 404 page, not a crash.
    let (status, html) = page(&server, &cookie, "/ui/incidents/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("not_found"));
}

#[tokio::test]
async fn assets_are_compiled_in_and_revalidated() {
    let server = Server::start();
    let c = browser();
    for (file, kind) in [
        ("console.css", "text/css"),
        ("console.js", "text/javascript"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let r = c
            .get(server.url(&format!("/ui/assets/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        let etag = r.headers()["etag"].clone();
        let r = c
            .get(server.url(&format!("/ui/assets/{file}")))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    }
    let r = c
        .get(server.url("/ui/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[test]
fn the_demo_prints_a_one_time_sign_in_link_and_its_incidents_show_within_15_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .env_remove("MISTGATE_API_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut console = None;
    let mut link = None;
    while link.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the demo's sign-in link");
        let l = line.trim();
        if let Some(c) = l.strip_prefix("console: ") {
            console = Some(c.to_string());
        } else if l.starts_with("http://") && l.contains("/ui/login?key=") {
            link = Some(l.to_string());
        }
    }
    let (console, link) = (console.expect("console URL"), link.unwrap());
    assert!(console.ends_with("/ui/"), "{console}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = browser();
        let r = c.get(&link).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let cookie = r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        // Single use.
        assert_eq!(
            c.get(&link).send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        let incidents = console.replace("/ui/", "/ui/incidents");
        loop {
            let html = c
                .get(&incidents)
                .header(COOKIE, &cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if html.contains(r#"href="/ui/incidents/"#) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no demo incident in the console 15 s after start"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn an_event_is_resent_byte_for_byte_to_a_url_and_signed_when_asked() {
    let server = Server::start_with(Some(
        "[[sources]]\nname = \"default\"\n\n[delivery]\nallow_private_targets = true\ntimeout = \"2s\"\n",
    ));
    let receiver = support::receiver::Receiver::start().await;
    let raw = r#"{"type":"AP_RESTARTED","mac":"5C5B350E0003",  "timestamp":1765000000,"note":"spacing kept"}"#;
    let body = format!(r#"{{"topic":"device_events","events":[{raw}]}}"#);
    let (status, answer) = server.ingest("default", body, &[]).await;
    assert_eq!(status, 200);
    let request = answer["request_id"].as_i64().unwrap();
    let id = server.api_ok(&format!("/requests/{request}")).await["events"][0]
        .as_i64()
        .unwrap();
    let path = format!("/events/{id}/resend");
    let url = receiver.url("/hook");
    let (status, sent, text) = server
        .call(
            "POST",
            &path,
            Some(json!({"url": url, "secret": "s3cret"}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(sent["success"], true, "{sent}");
    assert_eq!(sent["status_code"], 200);
    let got = receiver
        .wait_until(Duration::from_secs(5), "the resent event", |r| {
            !r.is_empty()
        })
        .await;
    assert_eq!(
        got[0].raw_events(),
        vec![raw.to_string()],
        "the event byte for byte"
    );
    assert_eq!(got[0].json()["topic"], "device-events");
    let signature = got[0].header("x-mist-signature-v2").expect("signed");
    assert_eq!(
        signature,
        support::receiver::python_hmac("s3cret", &got[0].body, "sha256")
    );
    assert!(!text.contains("s3cret"), "the secret is never answered");
    // Bad input: clear errors, nothing sent.
    for (body, code, status) in [
        ("{".to_string(), "malformed_json", 400),
        (json!({"url": "ftp://x"}).to_string(), "invalid_body", 422),
        (
            json!({"url": url, "secret": 5}).to_string(),
            "invalid_body",
            422,
        ),
        (json!([1]).to_string(), "invalid_body", 422),
    ] {
        let (s, answer, _) = server.call("POST", &path, Some(body.clone())).await;
        assert_eq!(
            (s, answer["error"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    let (s, answer, _) = server
        .call(
            "POST",
            "/events/999999/resend",
            Some(json!({"url": url}).to_string()),
        )
        .await;
    assert_eq!((s, answer["error"].as_str()), (404, Some("not_found")));
    assert_eq!(receiver.received().len(), 1);
    // Unreachable: answered, not delivered.
    let (s, answer, _) = server
        .call(
            "POST",
            &path,
            Some(json!({"url": closed_url("/")}).to_string()),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(answer["success"], false);
    assert!(answer["error"].is_string(), "{answer}");
}

#[tokio::test]
async fn an_incident_lists_the_notifications_sent_about_it() {
    let receiver = support::receiver::Receiver::start().await;
    let config = format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true
aggregation_window = "100ms"

[targets.noc]
type = "webhook"
url = "{}"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

[[routes]]
name = "incidents"
flow = "incident"
targets = ["noc"]
"#,
        receiver.url("/noc")
    );
    let server = Server::start_with(Some(&config));
    let t = 1_765_000_000.0;
    let down = support::site_alarm("o1", "s1", "device_down", &["5c5b350e0009"], t, json!({}));
    assert_eq!(server.ingest("default", down, &[]).await.0, 200);
    server.correlated().await;
    let incident = server.api_ok("/incidents").await["items"][0]["id"]
        .as_i64()
        .expect("an incident");
    receiver
        .wait_until(Duration::from_secs(10), "the opened message", |r| {
            !r.is_empty()
        })
        .await;
    let sent = support::eventually(
        Duration::from_secs(10),
        "the notification's delivery",
        || async {
            let list = server
                .api_ok(&format!("/incidents/{incident}/notifications"))
                .await;
            let items = list["items"].as_array().cloned().unwrap_or_default();
            items
                .iter()
                .any(|m| m["state"] == "delivered")
                .then_some(items)
        },
    )
    .await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["webhook_id"], "target:noc");
    assert_eq!(sent[0]["topic"], "incident");
    // Another incident's list does not show it; an unknown incident is a 404.
    let (status, body) = server.api("/incidents/999999/notifications").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let cookie = sign_in(&server).await;
    let (_, html) = page(&server, &cookie, &format!("/ui/incidents/{incident}")).await;
    assert!(
        html.contains(r#"href="/ui/deliveries/targets/noc""#),
        "{html}"
    );
    assert!(html.contains("delivered"), "{html}");
}

#[tokio::test]
async fn a_large_board_shows_counts_and_what_is_not_up_and_a_site_shows_all() {
    let server = Server::start();
    let cookie = sign_in(&server).await;
    let macs: Vec<String> = (0..1_600).map(|i| format!("5c5b35{i:06x}")).collect();
    let aps: Vec<&str> = macs.iter().map(String::as_str).collect();
    let t = 1_765_000_000.0;
    let body = support::site_alarm("o1", "s1", "device_down", &aps, t, json!({}));
    assert_eq!(server.ingest("default", body, &[]).await.0, 200);
    server.correlated().await;
    let (status, html) = page(&server, &cookie, "/ui/devices").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("A large board"), "not collapsed");
    assert_eq!(html.matches(r#"<li class="tile s-down">"#).count(), 1_000);
    assert!(html.contains("1,600 down"), "the counts are all of them");
    assert!(
        html.contains("600 more devices not shown"),
        "{}",
        &html[..2000]
    );
    // The site's own board shows every device, named.
    let (_, html) = page(&server, &cookie, "/ui/devices?site_id=s1").await;
    assert!(!html.contains("A large board"));
    assert_eq!(html.matches(r#"<li class="tile s-down">"#).count(), 1_600);
    assert!(html.contains("ap-5c5b35000000"));
    // As it was before the alarm: nothing; at the alarm: all down, with their names.
    let (_, html) = page(&server, &cookie, "/ui/devices?at=2025-12-06T05:46:00Z").await;
    assert_eq!(html.matches("<li class=\"tile").count(), 0);
    let (_, html) = page(
        &server,
        &cookie,
        "/ui/devices?site_id=s1&at=2025-12-06T05:47:00Z",
    )
    .await;
    assert_eq!(html.matches(r#"<li class="tile s-down">"#).count(), 1_600);
    assert!(
        html.contains("ap-5c5b35000000"),
        "past boards name devices too"
    );
}

/// A console signed in with a token of a role shows only what that role may do, the API
/// refuses the rest to its session, and revoking the token ends the session.
#[tokio::test]
async fn the_console_hides_what_the_role_may_not_do_and_ends_with_its_token() {
    let server = Server::start();
    let t = 1_765_000_000.0;
    let body = support::site_alarm("o1", "s1", "device_down", &["5c5b350e0001"], t, json!({}));
    assert_eq!(server.ingest("default", body, &[]).await.0, 200);
    server.correlated().await;
    let incident = server.api_ok("/incidents").await["items"][0]["id"]
        .as_i64()
        .expect("an incident");
    let (status, _, _) = server
        .call(
            "POST",
            "/orgs/o1/webhooks",
            Some(json!({"url": closed_url("/hook"), "topics": ["alarms"]}).to_string()),
        )
        .await;
    assert_eq!(status, 200);
    let webhook = server.api_ok("/orgs/o1/webhooks").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut cookies = Vec::new();
    for role in ["read", "operate", "admin"] {
        let (status, made, _) = server
            .call(
                "POST",
                "/tokens",
                Some(json!({"name": format!("c-{role}"), "role": role}).to_string()),
            )
            .await;
        assert_eq!(status, 201);
        let cookie = sign_in_with(&server, made["token"].as_str().unwrap()).await;
        cookies.push((role, cookie));
    }
    for (role, cookie) in &cookies {
        let operate = *role != "read";
        let admin = *role == "admin";
        let (status, html) = page(&server, cookie, &format!("/ui/incidents/{incident}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains(&format!("c-{role} · {role}")),
            "{role}: who is signed in"
        );
        assert_eq!(
            html.contains("id=\"incident-resolve\""),
            operate,
            "{role}: resolve"
        );
        assert_eq!(
            html.contains("id=\"incident-silence\""),
            operate,
            "{role}: silence"
        );
        let (_, html) = page(&server, cookie, "/ui/silences").await;
        assert_eq!(
            html.contains("id=\"silence-form\""),
            operate,
            "{role}: new silence"
        );
        let (_, html) = page(&server, cookie, "/ui/deliveries").await;
        assert_eq!(
            html.contains("id=\"webhook-form\""),
            admin,
            "{role}: new webhook"
        );
        let (_, html) = page(
            &server,
            cookie,
            &format!("/ui/deliveries/webhooks/{webhook}"),
        )
        .await;
        assert_eq!(
            html.contains("id=\"webhook-ping\""),
            operate,
            "{role}: ping"
        );
        assert_eq!(html.contains("data-delete="), admin, "{role}: delete");
        // The page's own script gets the same answer from the API.
        let csrf = csrf_of(&html);
        let r = browser()
            .post(server.url(&format!("/api/v1/incidents/{incident}/ack")))
            .header(COOKIE, cookie.as_str())
            .header("x-csrf-token", csrf)
            .send()
            .await
            .unwrap();
        if operate {
            assert!(
                r.status().is_success() || r.status() == StatusCode::CONFLICT,
                "{role}: {}",
                r.status()
            );
        } else {
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"], "forbidden");
            assert_eq!(body["role_needed"], "operate");
        }
    }
    // Acknowledged by the operate token's session, under its name.
    let acked = server.api_ok(&format!("/incidents/{incident}")).await;
    assert_eq!(acked["state"], "acknowledged");
    assert!(acked.to_string().contains("c-operate"), "{acked}");
    // Revoking a token ends the sessions signed in with it.
    let (status, _, _) = server.call("DELETE", "/tokens/c-read", None).await;
    assert_eq!(status, 200);
    let (status, _) = page(&server, &cookies[0].1, "/ui/incidents").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "a revoked token's session goes on"
    );
    let (status, _) = page(&server, &cookies[1].1, "/ui/incidents").await;
    assert_eq!(status, StatusCode::OK);
    // Sign-in and sign-out are audited.
    let audit = server
        .api_ok("/audit?action=POST%20%2Fui%2Flogin&token=c-read")
        .await;
    assert_eq!(audit["items"][0]["status"], 303);
}
