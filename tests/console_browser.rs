//! The operator console (`/ui/`) in a real browser: headless Chromium through chromedriver
//! (`support/browser.rs`) against the real `mistgate serve`, fed real Mist traffic (every
//! sample, an AP going down, a malformed body), with a routing target and a Mist-format
//! webhook on local receivers.
//!
//! Every page is checked for console errors (CSP violations included), its `<h1>`, a page
//! no wider than the window at 390 px, and an accessibility check (`support/a11y.js`) in
//! light and dark mode. `MISTGATE_SCREENSHOTS=1` also writes `docs/screenshots/`.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::browser::Browser;
use support::receiver::{Answer, Receiver};
use support::{Server, TOKEN, eventually};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
/// The AP that goes down (its incident, its device page).
const AP: &str = "5c5b350e55c8";
/// Another org: its events reach neither the webhook nor its dead letters.
const OTHER_ORG: &str = "6374a757-a3c5-4b7e-a5f1-1d2bc7a9e6b0";
const WAIT: Duration = Duration::from_secs(30);
/// How soon the live tail must show an event posted after the page loaded.
const TAIL_LIMIT: Duration = Duration::from_secs(1);

/// One browser test at a time: each starts a server and a Chromium, and the live tail's
/// one-second bound is about mistgate, not about sharing two cores with another browser.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn config(target_url: &str) -> String {
    format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true
aggregation_window = "200ms"
retry_delays = ["100ms"]
retry_min_delay = "50ms"

[targets.noc]
type = "webhook"
url = "{target_url}"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

[[routes]]
name = "every incident"
flow = "incident"
targets = ["noc"]
"#
    )
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A server with something on every page: the log, a device and its incident, a
/// routing target that received it, a webhook with a dead letter, a quarantined body.
struct Console {
    server: Server,
    /// The routing target's receiver.
    target: Receiver,
    /// The Mist-format webhook's receiver: 410 until `accept` is set.
    hook: Receiver,
    accept: Arc<AtomicBool>,
    webhook_id: String,
    /// The AP's `device_down` alarm.
    event_id: i64,
    incident_id: i64,
    quarantine_id: i64,
    dead_batch: i64,
}

impl Console {
    async fn start() -> Console {
        let target = Receiver::start().await;
        let server = Server::start_with(Some(&config(&target.url("/noc"))));
        let hook = Receiver::start().await;
        let accept = Arc::new(AtomicBool::new(false));
        let accepting = accept.clone();
        hook.respond_with(move |_| {
            (!accepting.load(Ordering::SeqCst)).then(|| Answer::status(410).body("gone"))
        });
        let body = json!({"name": "noc-mirror", "url": hook.url("/mist"), "topics": ["alarms"]});
        let (status, created, _) = server
            .call(
                "POST",
                &format!("/orgs/{ORG}/webhooks"),
                Some(body.to_string()),
            )
            .await;
        assert_eq!(status, 200, "{created}");
        let webhook_id = created["id"].as_str().expect("webhook id").to_string();

        for sample in support::samples() {
            let (status, answer) = server.ingest("default", sample.body, &[]).await;
            assert_eq!(status, 200, "{}: {answer}", sample.file);
        }
        let down = support::site_alarm(ORG, SITE, "device_down", &[AP], now_s(), json!({}));
        let event_id = ingest_event(&server, down).await;
        let (status, refused) = server
            .ingest(
                "default",
                &b"{\"topic\": \"alarms\", \"events\": ["[..],
                &[],
            )
            .await;
        assert_eq!(status, 400, "{refused}");
        let quarantine_id = refused["quarantine_id"].as_i64().expect("quarantine id");

        server.correlated().await;
        let incident_id = eventually(WAIT, "the AP's device_down incident", || async {
            let open = server
                .api_ok("/incidents?state=open&kind=device_down")
                .await;
            open["items"]
                .as_array()?
                .iter()
                .find(|i| {
                    i["devices"]
                        .as_array()
                        .is_some_and(|d| d.contains(&json!(AP)))
                })
                .and_then(|i| i["id"].as_i64())
        })
        .await;
        let deliveries = format!("/orgs/{ORG}/webhooks/{webhook_id}/deliveries?state=dead");
        let dead_batch = eventually(WAIT, "the refused batch in the dead letters", || async {
            server.api_ok(&deliveries).await["items"][0]["id"].as_i64()
        })
        .await;
        target
            .wait_until(WAIT, "the incident at the routing target", |r| {
                !r.is_empty()
            })
            .await;
        Console {
            server,
            target,
            hook,
            accept,
            webhook_id,
            event_id,
            incident_id,
            quarantine_id,
            dead_batch,
        }
    }

    /// Every console page: a name (for screenshots), its path, the start of its `<h1>`.
    fn pages(&self) -> Vec<(&'static str, String, String)> {
        let page = |name, path: String, h1: String| (name, path, h1);
        vec![
            page("overview", "/ui/".into(), "Overview".into()),
            page("tail", "/ui/tail".into(), "Live tail".into()),
            page("events", "/ui/events".into(), "Events".into()),
            page(
                "event",
                format!("/ui/events/{}", self.event_id),
                format!("Event {}", self.event_id),
            ),
            page("devices", "/ui/devices".into(), "Devices".into()),
            page("device", format!("/ui/devices/{AP}"), format!("ap-{AP}")),
            page("incidents", "/ui/incidents".into(), "Incidents".into()),
            page(
                "incident",
                format!("/ui/incidents/{}", self.incident_id),
                format!("Incident #{}", self.incident_id),
            ),
            page("silences", "/ui/silences".into(), "Silences".into()),
            page("deliveries", "/ui/deliveries".into(), "Deliveries".into()),
            page(
                "webhook",
                format!("/ui/deliveries/webhooks/{}", self.webhook_id),
                "Webhook noc-mirror".into(),
            ),
            page(
                "target",
                "/ui/deliveries/targets/noc".into(),
                "Target noc".into(),
            ),
            page("quarantine", "/ui/quarantine".into(), "Quarantine".into()),
            page(
                "quarantined",
                format!("/ui/quarantine/{}", self.quarantine_id),
                format!("Quarantined request {}", self.quarantine_id),
            ),
        ]
    }
}

/// Posts `body` to ingest; the id of the one event it stored.
async fn ingest_event(server: &Server, body: Vec<u8>) -> i64 {
    let (status, answer) = server.ingest("default", body, &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1, "{answer}");
    let request = answer["request_id"].as_i64().expect("request id");
    let newest = server.api_ok("/events?order=desc&limit=50").await;
    newest["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["request_id"] == request)
        .and_then(|e| e["id"].as_i64())
        .unwrap_or_else(|| panic!("no event of request {request} in {newest}"))
}

/// Waits (at most 10 s) until the live tail's stream is open: the page says "Live".
async fn wait_live(browser: &Browser, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser.text("#tail-state").await != "Live" {
        assert!(
            Instant::now() < deadline,
            "{what}: the tail never went live"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Signs in through the form, asked for at `path`; waits for that page.
async fn sign_in(browser: &Browser, server: &Server, path: &str) {
    browser.goto(&server.url(path)).await;
    browser
        .wait_for_path("/ui/login", Duration::from_secs(10))
        .await;
    browser.fill("#token", TOKEN).await;
    browser
        .click(r#"form[action="/ui/login"] button[type="submit"]"#)
        .await;
    let plain = path.split('?').next().unwrap();
    browser.wait_for_path(plain, Duration::from_secs(10)).await;
}

/// Where screenshots go when `MISTGATE_SCREENSHOTS=1`, else nowhere.
fn screenshots() -> Option<PathBuf> {
    (std::env::var("MISTGATE_SCREENSHOTS").as_deref() == Ok("1"))
        .then(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"))
}

/// An HTTP client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    let _ = support::client();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `fetch()` from the page: POST `body` to `url` with the session cookie, with or without
/// the page's CSRF token; the status and the answer's text.
async fn page_post(browser: &Browser, url: &str, body: &Value, with_csrf: bool) -> (u64, String) {
    let answer = browser
        .run_async(
            r#"const [url, body, withCsrf, done] = arguments;
            const headers = { "Content-Type": "application/json" };
            if (withCsrf) headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]').content;
            fetch(url, { method: "POST", headers, body, credentials: "same-origin" })
              .then(async (r) => done({ status: r.status, text: await r.text() }))
              .catch((e) => done({ status: 0, text: String(e) }));"#,
            vec![json!(url), json!(body.to_string()), json!(with_csrf)],
        )
        .await;
    (
        answer["status"].as_u64().unwrap_or(0),
        answer["text"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn signing_in_and_out_sessions_and_csrf() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start();
    let http = no_redirects();

    // The console's doors, as plain HTTP.
    for path in ["/", "/ui"] {
        let r = http.get(server.url(path)).send().await.unwrap();
        assert!(r.status().is_redirection(), "{path}: {}", r.status());
        assert_eq!(header(&r, "location"), "/ui/", "{path}");
    }
    let r = http.get(server.url("/ui/incidents")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(header(&r, "location"), "/ui/login?next=%2Fui%2Fincidents");
    let r = http
        .post(server.url("/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}&next=%2Fui%2Fincidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(header(&r, "location"), "/ui/incidents");
    let cookie = header(&r, "set-cookie");
    for part in ["mistgate_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{part} missing from {cookie}");
    }

    let browser = Browser::start().await;
    // Not signed in: the page asked for sends the browser to the sign-in form.
    browser.goto(&server.url("/ui/incidents")).await;
    browser
        .wait_for_path("/ui/login", Duration::from_secs(10))
        .await;
    assert_eq!(browser.path().await, "/ui/login?next=%2Fui%2Fincidents");
    assert!(!browser.has("#login-error").await);
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the sign-in page logged {errors:#?}");
    let violations = browser.accessibility().await;
    assert!(violations.is_empty(), "sign-in page: {violations:#?}");
    if let Some(dir) = screenshots() {
        for width in [1280, 390] {
            browser.set_width(width).await;
            browser
                .screenshot(&dir.join(format!("login-{width}.png")))
                .await;
        }
        browser.set_width(1280).await;
    }

    // A wrong token: the form again, with the error.
    browser.fill("#token", "not-the-token").await;
    browser
        .click(r#"form[action="/ui/login"] button[type="submit"]"#)
        .await;
    assert!(
        browser
            .wait_for("#login-error", Duration::from_secs(10))
            .await,
        "no #login-error after a wrong token"
    );
    assert_eq!(
        browser.text("#login-error").await,
        "That is not a valid API token."
    );
    assert!(browser.cookie("mistgate_session").await.is_none());
    // The browser logs the 401 answer as a failed load: what the log reads catches.
    let errors = browser.console_errors().await;
    assert!(
        errors.iter().any(|e| e.contains("401")),
        "the refused sign-in is not in the browser log: {errors:#?}"
    );

    // The right token: on to the page first asked for.
    browser.fill("#token", TOKEN).await;
    browser
        .click(r#"form[action="/ui/login"] button[type="submit"]"#)
        .await;
    browser
        .wait_for_path("/ui/incidents", Duration::from_secs(10))
        .await;
    assert_eq!(browser.text("h1").await, "Incidents");
    checks_catch_what_they_look_for(&browser).await;
    browser.goto(&server.url("/ui/incidents")).await;
    let session = browser
        .cookie("mistgate_session")
        .await
        .expect("the session cookie");

    // The API with the session cookie: a POST without the CSRF token is refused and
    // changes nothing; with it, it is done.
    let silence = json!({"ends_at": now_s() + 3600.0, "comment": "from the console test"});
    let (status, text) = page_post(&browser, "/api/v1/silences", &silence, false).await;
    assert_eq!(status, 403, "{text}");
    let refused: Value = serde_json::from_str(&text).expect("a JSON error");
    assert_eq!(refused["error"], "csrf_failed", "{text}");
    let silences = |v: Value| {
        v.as_array()
            .or(v["items"].as_array())
            .map_or(0, |a| a.len())
    };
    assert_eq!(silences(server.api_ok("/silences").await), 0);
    let (status, text) = page_post(&browser, "/api/v1/silences", &silence, true).await;
    assert!((200..300).contains(&status), "{status}: {text}");
    assert_eq!(silences(server.api_ok("/silences").await), 1);
    browser.log().await;

    // The sign-out form without its CSRF field's value is refused: still signed in.
    browser.goto(&server.url("/ui/")).await;
    browser
        .run(
            r#"document.querySelector('form.signout input[name="csrf"]').value = "forged";"#,
            vec![],
        )
        .await;
    browser.click("form.signout button").await;
    assert!(
        browser
            .wait_for(r#"main code"#, Duration::from_secs(10))
            .await
    );
    assert!(
        browser.text("h1").await.starts_with("403"),
        "{}",
        browser.text("main").await
    );
    assert_eq!(browser.text("main code").await, "csrf_failed");
    browser.log().await;
    browser.goto(&server.url("/ui/")).await;
    assert_eq!(browser.path().await, "/ui/");
    assert_eq!(browser.text("h1").await, "Overview");
    let r = http
        .get(server.url("/ui/"))
        .header("cookie", format!("mistgate_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the session outlived a forged sign-out");

    // Signing out ends the session: the old cookie opens nothing any more.
    browser.click("form.signout button").await;
    browser
        .wait_for_path("/ui/login", Duration::from_secs(10))
        .await;
    let r = http
        .get(server.url("/ui/"))
        .header("cookie", format!("mistgate_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the old session still opens /ui/");
    assert!(header(&r, "location").starts_with("/ui/login"));
    let r = http
        .get(server.url("/api/v1/events"))
        .header("cookie", format!("mistgate_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the old session still reads the API");
    browser.goto(&server.url("/ui/events")).await;
    browser
        .wait_for_path("/ui/login", Duration::from_secs(10))
        .await;
    browser.close().await;
}

/// The page's layout at the window's width: how much wider than the window's content
/// area the page is (and the outermost elements that stick out), and table cells squeezed
/// so narrow that their text breaks into a column of fragments.
const LAYOUT: &str = r#"
const width = document.documentElement.clientWidth;
const excess = document.documentElement.scrollWidth - width;
const out = [];
if (excess > 0) {
  // Inside a scroller that holds it: for an absolutely positioned element, one that is
  // (or holds) its containing block, the nearest positioned ancestor.
  const clipped = (el) => {
    const style = getComputedStyle(el);
    if (style.position === "fixed") return true;
    const from = style.position === "absolute" ? el.offsetParent : el.parentElement;
    for (let e = from; e && e !== document.body; e = e.parentElement) {
      if (getComputedStyle(e).overflowX !== "visible") return true;
    }
    return false;
  };
  // The innermost elements that reach past the window (not inside a scroller).
  const past = [...document.querySelectorAll("body *")].filter(
    (el) => el.getBoundingClientRect().right > width + 0.5 && !clipped(el));
  for (const el of past) {
    if (past.some((other) => other !== el && el.contains(other))) continue;
    const r = el.getBoundingClientRect();
    out.push(`${el.tagName.toLowerCase()}.${[...el.classList].join(".")} right=${Math.round(r.right)} width=${Math.round(r.width)}: ${el.textContent.trim().slice(0, 40)}`);
  }
}
const squeezed = [];
for (const td of document.querySelectorAll("td")) {
  const text = td.textContent.trim();
  const em = parseFloat(getComputedStyle(td).fontSize);
  if (td.getClientRects().length && text.length > 12 && td.getBoundingClientRect().width < 5 * em) {
    squeezed.push(`${Math.round(td.getBoundingClientRect().width)} px: ${text.slice(0, 40)}`);
  }
}
return { excess: Math.max(excess, 0), elements: out.slice(0, 10), squeezed: squeezed.slice(0, 10) };
"#;

/// The page checks find what they look for: an inline script the CSP blocks is in the
/// console errors, and controls and text made to fail fail the accessibility check.
async fn checks_catch_what_they_look_for(browser: &Browser) {
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    assert_eq!(browser.accessibility().await, Vec::<String>::new());
    browser
        .run(
            r##"const main = document.querySelector("main");
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            main.append(script);
            const input = document.createElement("input");
            input.name = "unlabelled";
            main.append(input);
            const button = document.createElement("button");
            button.id = "nameless";
            main.append(button);
            const unreachable = document.createElement("button");
            unreachable.id = "unreachable";
            unreachable.textContent = "Unreachable";
            unreachable.tabIndex = -1;
            main.append(unreachable);
            const faint = document.createElement("p");
            faint.id = "faint";
            faint.textContent = "faint text";
            faint.style.color = "#c0c4ca";
            main.append(faint);
            main.insertAdjacentHTML("beforeend", '<svg id="unlabelled-svg" viewBox="0 0 1 1"></svg>');"##,
            vec![],
        )
        .await;
    let injected = browser.run("return window.injected === true", vec![]).await;
    assert_eq!(injected, false, "an inline script ran despite the CSP");
    let errors = browser.console_errors().await;
    assert!(
        errors.iter().any(|e| e.contains("Content Security Policy")),
        "the blocked inline script is not among the console errors: {errors:#?}"
    );
    let violations = browser.accessibility().await;
    for expected in [
        "form control without a label: input name=unlabelled",
        "no accessible name: button#nameless",
        "not reachable by keyboard (tabIndex -1): button#unreachable",
        "for p#faint",
        "svg neither labelled",
    ] {
        assert!(
            violations.iter().any(|v| v.contains(expected)),
            "the accessibility check missed {expected:?}: {violations:#?}"
        );
    }
}

/// Opens `path`, checks its `<h1>`, that nothing was logged as an error and that the
/// page passes the accessibility check; `what` names the run in failures.
async fn check_page(browser: &Browser, server: &Server, path: &str, h1: &str, what: &str) {
    browser.goto(&server.url(path)).await;
    assert_eq!(browser.path().await, path, "{what}: redirected");
    let heading = browser.text("h1").await;
    assert!(
        heading.starts_with(h1),
        "{what} {path}: <h1> is {heading:?}, expected it to start with {h1:?}"
    );
    if path == "/ui/tail" {
        // The stream is open (its errors, if any, are logged by now).
        wait_live(browser, what).await;
    }
    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "{what} {path} logged errors: {errors:#?}"
    );
    let violations = browser.accessibility().await;
    assert!(
        violations.is_empty(),
        "{what} {path}: accessibility: {violations:#?}"
    );
    // Nothing widens the page beyond the window (wide tables scroll in `.table-wrap`),
    // and no table squeezes a column until its text breaks into fragments.
    let layout = browser.run(LAYOUT, vec![]).await;
    assert_eq!(
        layout["excess"], 0,
        "{what} {path}: the page is wider than the window: {layout:#}"
    );
    assert_eq!(
        layout["squeezed"],
        json!([]),
        "{what} {path}: squeezed table cells: {layout:#}"
    );
}

#[tokio::test]
async fn every_page_renders_cleanly_and_accessibly_in_light_and_dark() {
    let _one = ONE_AT_A_TIME.lock().await;
    let console = Console::start().await;
    let server = &console.server;
    let shots = screenshots();

    let browser = Browser::start().await;
    sign_in(&browser, server, "/ui/").await;
    let dark = browser
        .run(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            vec![],
        )
        .await;
    assert_eq!(dark, false, "the light browser prefers dark");
    browser.log().await;
    for width in [1280, 390] {
        browser.set_width(width).await;
        for (name, path, h1) in console.pages() {
            check_page(&browser, server, &path, &h1, &format!("light {width} px")).await;
            if let Some(dir) = &shots {
                browser
                    .screenshot(&dir.join(format!("{name}-{width}.png")))
                    .await;
            }
        }
    }
    browser.close().await;

    // Dark: Chromium told the system theme is dark (`--force-dark-mode`) answers
    // `prefers-color-scheme: dark`, which the stylesheet follows.
    let browser = Browser::start_with(&["--force-dark-mode"]).await;
    sign_in(&browser, server, "/ui/").await;
    let dark = browser
        .run(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            vec![],
        )
        .await;
    assert_eq!(
        dark, true,
        "--force-dark-mode did not switch the colour scheme"
    );
    let background = browser
        .run(
            "return getComputedStyle(document.body).backgroundColor",
            vec![],
        )
        .await;
    assert_eq!(
        background, "rgb(15, 20, 25)",
        "the dark palette is not applied"
    );
    browser.log().await;
    for (name, path, h1) in console.pages() {
        check_page(&browser, server, &path, &h1, "dark").await;
        if let Some(dir) = &shots
            && ["overview", "incidents"].contains(&name)
        {
            browser
                .screenshot(&dir.join(format!("{name}-dark-1280.png")))
                .await;
        }
    }
    browser.close().await;
}

#[tokio::test]
async fn live_tail_acknowledge_and_replay_from_the_pages() {
    let _one = ONE_AT_A_TIME.lock().await;
    let console = Console::start().await;
    let server = &console.server;
    let browser = Browser::start().await;

    // The live tail shows an event posted after the page loaded within a second.
    sign_in(&browser, server, "/ui/tail").await;
    wait_live(&browser, "the tail page").await;
    let posted = Instant::now();
    let up = support::site_alarm(
        OTHER_ORG,
        SITE,
        "device_reconnected",
        &["5c5b350e55c9"],
        now_s(),
        json!({"severity": "info"}),
    );
    let id = ingest_event(server, up).await;
    let row = format!(r#"#tail-rows tr[data-event-id="{id}"]"#);
    // Waits past the bar, so that a miss says by how much.
    let shown = browser.wait_for(&row, Duration::from_secs(10)).await;
    let took = posted.elapsed();
    assert!(shown, "event {id} not in the tail 10 s after its post");
    assert!(
        took <= TAIL_LIMIT,
        "event {id} took {took:?} to show in the tail (the bar: {TAIL_LIMIT:?})"
    );
    eprintln!("the tail showed event {id} {took:?} after its post");

    // Paused, it counts new events instead of showing them; "N more" shows them.
    browser.click("#tail-pause").await;
    assert_eq!(browser.text("#tail-state").await, "Paused");
    let later = support::site_alarm(
        OTHER_ORG,
        SITE,
        "device_reconnected",
        &["5c5b350e55ca"],
        now_s(),
        json!({"severity": "info"}),
    );
    let id = ingest_event(server, later).await;
    let row = format!(r#"#tail-rows tr[data-event-id="{id}"]"#);
    assert!(
        browser
            .wait_for("#tail-more:not([hidden])", Duration::from_secs(10))
            .await,
        "no \"more\" button while paused"
    );
    assert_eq!(browser.text("#tail-more").await, "1 more");
    assert!(!browser.has(&row).await, "a paused tail showed a new event");
    browser.click("#tail-more").await;
    assert!(
        browser.wait_for(&row, Duration::from_secs(5)).await,
        "\"1 more\" did not show the event"
    );
    assert_eq!(browser.text("#tail-state").await, "Live");
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the tail logged {errors:#?}");

    // Acknowledging in the incident's page changes it in the API.
    let incident = console.incident_id;
    browser
        .goto(&server.url(&format!("/ui/incidents/{incident}")))
        .await;
    browser.click("#incident-ack").await;
    let state = eventually(WAIT, "the incident acknowledged", || async {
        let i = server.api_ok(&format!("/incidents/{incident}")).await;
        (i["state"] != "open").then(|| i["state"].clone())
    })
    .await;
    assert_eq!(state, "acknowledged");
    // The page reloads with its new state, and the button is gone.
    assert!(
        browser
            .wait_for(
                ".page-head h1 .badge.s-acknowledged",
                Duration::from_secs(10)
            )
            .await,
        "the incident page did not reload acknowledged"
    );
    assert!(!browser.has("#incident-ack").await);
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "acknowledging logged {errors:#?}");

    // A dead letter replayed from the webhook's page reaches its receiver.
    let refused = console.hook.received();
    assert_eq!(refused.len(), 1, "a 410 is not retried: {refused:#?}");
    browser
        .goto(&server.url(&format!("/ui/deliveries/webhooks/{}", console.webhook_id)))
        .await;
    let batch = console.dead_batch;
    let replay = format!(r#"tr[data-batch="{batch}"] button.replay"#);
    assert!(browser.has(&replay).await, "no replay button for {batch}");
    let answer = format!(r#"tr[data-batch="{batch}"] td:nth-child(4)"#);
    assert_eq!(browser.text(&answer).await, "HTTP 410", "its last answer");
    console.accept.store(true, Ordering::SeqCst);
    browser.click(&replay).await;
    let got = console
        .hook
        .wait_until(WAIT, "the replayed dead letter", |r| r.len() >= 2)
        .await;
    assert_eq!(got[1].body, refused[0].body, "the same message again");
    assert!(
        String::from_utf8_lossy(&got[1].body).contains(AP),
        "the AP's alarm"
    );
    let delivered = format!(
        "/orgs/{ORG}/webhooks/{}/deliveries?state=delivered",
        console.webhook_id
    );
    let delivered = eventually(WAIT, "the replayed batch delivered", || async {
        server.api_ok(&delivered).await["items"][0]["id"].as_i64()
    })
    .await;
    assert_eq!(delivered, batch);
    // The page reloads without the dead letter.
    let gone = format!(r#"tr[data-batch="{batch}"]"#);
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser.has(&gone).await {
        assert!(
            Instant::now() < deadline,
            "the dead letter is still listed after its replay"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "replaying logged {errors:#?}");
    assert!(
        !console.target.received().is_empty(),
        "the routing target got the incident"
    );
    browser.close().await;
}

/// Events per second of the flood the live tail must stay responsive under.
const FLOOD_RATE: usize = 1_000;

#[tokio::test]
async fn the_live_tail_stays_responsive_at_1000_events_per_second() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start();
    let browser = Browser::start().await;
    sign_in(&browser, &server, "/ui/tail").await;
    wait_live(&browser, "the tail page").await;
    // The page records the longest gap between its animation frames: a page that a
    // burst of rows blocks stops painting.
    browser
        .run(
            "window.__gap = 0; let last = performance.now();
             (function frame(now) { window.__gap = Math.max(window.__gap, now - last); last = now;
               requestAnimationFrame(frame); })(performance.now()); return true;",
            vec![],
        )
        .await;

    // Three seconds of 1,000 events a second: a request of 25 events every 25 ms, each
    // sent on its own task so that a slow answer does not hold back the next request.
    let flood = {
        let (url, client) = (server.url("/ingest/default"), server.client.clone());
        tokio::spawn(async move {
            const PER: usize = 25;
            let started = Instant::now();
            let mut posts = Vec::new();
            for tick in 0..(3 * FLOOD_RATE / PER) {
                let due = started + Duration::from_millis((PER * tick) as u64);
                tokio::time::sleep_until(due.into()).await;
                let events: Vec<Value> = (0..PER)
                    .map(|i| json!({"type": "wifi", "mac": format!("aa00000{:05}", tick * PER + i), "x": tick, "y": i, "map_id": "m1", "site_id": SITE, "timestamp": now_s()}))
                    .collect();
                let body = json!({"topic": "location", "events": events}).to_string();
                let post = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send();
                posts.push(tokio::spawn(post));
            }
            let sending = started.elapsed();
            let mut sent = 0;
            for post in posts {
                assert_eq!(post.await.unwrap().unwrap().status(), 200);
                sent += PER;
            }
            (sent, sending)
        })
    };
    // Meanwhile the page answers a script at once, every time.
    let mut slowest = Duration::ZERO;
    let mut most_rows = 0;
    while !flood.is_finished() {
        let asked = Instant::now();
        let rows = browser
            .run(
                "return document.querySelectorAll('#tail-rows tr').length;",
                vec![],
            )
            .await
            .as_u64()
            .unwrap_or(0);
        slowest = slowest.max(asked.elapsed());
        most_rows = most_rows.max(rows);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (sent, took) = flood.await.unwrap();
    assert_eq!(sent, 3 * FLOOD_RATE);
    let rate = sent as f64 / took.as_secs_f64();
    assert!(
        rate > 0.8 * FLOOD_RATE as f64,
        "the flood ran at only {rate:.0} events/s"
    );
    let gap = browser
        .run("return window.__gap;", vec![])
        .await
        .as_f64()
        .unwrap();
    eprintln!(
        "at {rate:.0} events/s: the slowest script answer took {slowest:?}, the longest frame gap {gap:.0} ms, at most {most_rows} rows"
    );
    assert!(
        slowest < Duration::from_millis(500),
        "the page took {slowest:?} to answer a script"
    );
    assert!(gap < 500.0, "the page did not paint for {gap:.0} ms");
    assert!(
        most_rows <= 500,
        "{most_rows} rows: the tail must keep at most 500"
    );
    // It coalesced rather than drawing every row, and says how many it skipped.
    let more = browser.text("#tail-more").await;
    let skipped: usize = more.trim_end_matches(" more").parse().unwrap_or(0);
    assert!(skipped > 0, "no \"N more\" after a flood: `{more}`");
    // And it kept up: an event posted now shows within a second.
    let posted = Instant::now();
    let marker = support::site_alarm(
        ORG,
        SITE,
        "device_reconnected",
        &["5c5b350e55cf"],
        now_s(),
        json!({}),
    );
    let id = ingest_event(&server, marker).await;
    let row = format!(r#"#tail-rows tr[data-event-id="{id}"]"#);
    let shown = browser.wait_for(&row, Duration::from_secs(10)).await;
    let took = posted.elapsed();
    assert!(
        shown,
        "after the flood, event {id} not in the tail 10 s after its post"
    );
    assert!(
        took <= TAIL_LIMIT,
        "after the flood, event {id} took {took:?} to show in the tail (the bar: {TAIL_LIMIT:?})"
    );
    assert!(browser.console_errors().await.is_empty());
    browser.close().await;
}
