//! The Splunk HEC target: encoder snapshots over Mist samples, and a contract test
//! against a local receiver that checks requests and answers the way HEC documents.

mod support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deliver::schedule::{Class, classify};
use deliver::targets::{Message, splunk};
use serde_json::Value;
use support::{Harness, Receiver, Reply, Request, json_reply};

const TOKEN: &str = "7b0c6d52-9a3e-4f61-8c2d-3e5f1a9b0c44";

fn config(url: &str) -> splunk::Config {
    serde_json::from_value(serde_json::json!({
        "url": url,
        "token": TOKEN,
        "index": "network",
        "sourcetype": "mist:json",
        "host": "mistgate-1",
    }))
    .unwrap()
}

fn snapshot_messages() -> Vec<(String, Message)> {
    let mut all: Vec<(String, Message)> = support::SNAPSHOT_SAMPLES
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = f.split_once('_').unwrap().0.to_string();
            (name, support::sample_event(f, 100 + i as i64))
        })
        .collect();
    all.push(("incident-opened".into(), support::incident("opened")));
    all.push(("incident-resolved".into(), support::incident("resolved")));
    all
}

/// One message per request, as the collector receives it.
#[test]
fn encoder_snapshots() {
    let mut plain = config("https://splunk.example.net:8088");
    plain.index = None;
    plain.sourcetype = None;
    plain.host = None;
    for (name, message) in snapshot_messages() {
        let request = splunk::encode(&plain, std::slice::from_ref(&message)).unwrap();
        let headers: String = request
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}\n"))
            .collect();
        let shown = format!(
            "{} {}\n{headers}\n{}",
            request.method,
            request.url,
            String::from_utf8(request.body.to_vec()).unwrap()
        );
        insta::assert_snapshot!(format!("splunk_{name}"), shown);
    }
    // With every option set: the same event object with index, host and sourcetype.
    let (_, message) = &snapshot_messages()[0];
    let all = splunk::encode(
        &config("https://splunk.example.net:8088"),
        std::slice::from_ref(message),
    )
    .unwrap();
    insta::assert_snapshot!(
        "splunk_alarms_all_options",
        String::from_utf8(all.body.to_vec()).unwrap()
    );
}

/// What HEC checks of a request to `/services/collector/event`, answered as HEC answers.
fn hec_check(request: &Request) -> Result<usize, Reply> {
    let invalid = || json_reply(400, r#"{"text":"Invalid data format","code":6}"#);
    if request.method != "POST" || request.path != "/services/collector/event" {
        return Err(json_reply(
            404,
            r#"{"text":"The requested URL was not found on this server.","code":404}"#,
        ));
    }
    match request.header("authorization") {
        None => return Err(json_reply(401, r#"{"text":"Token is required","code":2}"#)),
        Some(a) if a != format!("Splunk {TOKEN}") => {
            return Err(json_reply(403, r#"{"text":"Invalid token","code":4}"#));
        }
        Some(_) => {}
    }
    let mut count = 0;
    for object in serde_json::Deserializer::from_slice(&request.body).into_iter::<Value>() {
        let Ok(Value::Object(o)) = object else {
            return Err(invalid());
        };
        let documented = [
            "time",
            "host",
            "source",
            "sourcetype",
            "index",
            "event",
            "fields",
        ];
        if o.keys().any(|k| !documented.contains(&k.as_str())) {
            return Err(invalid());
        }
        match o.get("event") {
            None => {
                return Err(json_reply(
                    400,
                    r#"{"text":"Event field is required","code":12}"#,
                ));
            }
            Some(Value::Null) => {
                return Err(json_reply(
                    400,
                    r#"{"text":"Event field cannot be blank","code":13}"#,
                ));
            }
            Some(_) => {}
        }
        if o.get("time").is_some_and(|t| !t.is_number()) {
            return Err(invalid());
        }
        for k in ["host", "source", "sourcetype", "index"] {
            if o.get(k).is_some_and(|v| !v.is_string()) {
                return Err(invalid());
            }
        }
        if let Some(fields) = o.get("fields") {
            let strings = |v: &Value| {
                v.is_string() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
            };
            if !fields.as_object().is_some_and(|f| f.values().all(strings)) {
                return Err(json_reply(
                    400,
                    r#"{"text":"Error in handling indexed fields","code":15}"#,
                ));
            }
        }
        count += 1;
    }
    if count == 0 {
        return Err(json_reply(400, r#"{"text":"No data","code":5}"#));
    }
    Ok(count)
}

/// A HEC stand-in: checks every request; answers a valid one from the script (200
/// `Success` once the script is empty).
async fn hec() -> (Receiver, Arc<Mutex<VecDeque<Reply>>>) {
    let script: Arc<Mutex<VecDeque<Reply>>> = Arc::default();
    let receiver = Receiver::start({
        let script = script.clone();
        move |request| match hec_check(request) {
            Err(reply) => reply,
            Ok(_) => script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| json_reply(200, r#"{"text":"Success","code":0}"#)),
        }
    })
    .await;
    (receiver, script)
}

#[test]
fn the_stand_in_refuses_what_hec_refuses() {
    let request = |body: &str, auth: Option<&str>| Request {
        method: axum::http::Method::POST,
        path: "/services/collector/event".into(),
        query: None,
        headers: auth
            .map(|a| {
                let mut h = axum::http::HeaderMap::new();
                h.insert("authorization", a.parse().unwrap());
                h
            })
            .unwrap_or_default(),
        body: body.to_string().into(),
    };
    let good = format!("Splunk {TOKEN}");
    let code = |r: Result<usize, Reply>| r.map_err(|(status, _, body)| (status, body));
    assert_eq!(
        code(hec_check(&request(
            r#"{"event":1}{"event":"b","time":1.5}"#,
            Some(&good)
        ))),
        Ok(2)
    );
    assert_eq!(
        code(hec_check(&request(r#"{"event":1}"#, None)))
            .unwrap_err()
            .0,
        401
    );
    assert_eq!(
        code(hec_check(&request(r#"{"event":1}"#, Some("Splunk x"))))
            .unwrap_err()
            .0,
        403
    );
    for bad in [
        r#"{"time":1}"#,
        r#"{"event":1,"time":"soon"}"#,
        r#"{"event":1,"fields":{"a":{"b":1}}}"#,
        "",
        "[1]",
    ] {
        assert_eq!(
            code(hec_check(&request(bad, Some(&good)))).unwrap_err().0,
            400,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_batch_is_posted_as_hec_documents_it_and_answers_are_classified() {
    let harness = Harness::new(Duration::from_secs(5));
    let (receiver, script) = hec().await;
    let cfg = config(&receiver.url(""));
    cfg.check().unwrap();
    let messages: Vec<Message> = snapshot_messages().into_iter().map(|(_, m)| m).collect();

    let sent = splunk::send(&cfg, &messages, &harness.ctx("splunk", "d-1")).await;
    assert_eq!(classify(&sent.outcome), Class::Success, "{:?}", sent.error);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "one request per batch");
    let r = &requests[0];
    assert_eq!(hec_check(r).ok(), Some(messages.len()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let objects: Vec<Value> = serde_json::Deserializer::from_slice(&r.body)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect();
    for (object, message) in objects.iter().zip(&messages) {
        let at = match message {
            Message::Event(e) => e.time,
            Message::Incident(m) => m.at,
        };
        let time = object["time"].as_f64().unwrap();
        assert!((time - at as f64 / 1e6).abs() < 0.001, "{time} vs {at}");
        assert_eq!(object["index"], "network");
        assert_eq!(object["sourcetype"], "mist:json");
        assert_eq!(object["host"], "mistgate-1");
        assert_eq!(object["source"], "mistgate");
        assert_eq!(object["event"], serde_json::to_value(message).unwrap());
    }
    assert_eq!(objects[0]["fields"]["severity"], "info");
    assert_eq!(objects[0]["fields"]["site_name"], "Site Name");
    assert_eq!(objects[4]["fields"]["severity"], "critical");
    // The token is in the request, never in the delivery record.
    assert!(
        !sent.request_headers.contains(TOKEN),
        "{}",
        sent.request_headers
    );
    assert!(sent.request_headers.contains("<redacted>"));

    // Each HEC answer, and what the schedule makes of it.
    let cases: [(Reply, Class, &str); 4] = [
        (
            json_reply(400, r#"{"text":"Invalid data format","code":6}"#),
            Class::Fail,
            "Invalid data format (HEC code 6)",
        ),
        (
            json_reply(401, r#"{"text":"Invalid token","code":4}"#),
            Class::Fail,
            "Invalid token (HEC code 4)",
        ),
        (
            json_reply(403, r#"{"text":"Invalid token","code":4}"#),
            Class::Fail,
            "Invalid token (HEC code 4)",
        ),
        (
            json_reply(503, r#"{"text":"Server is busy","code":9}"#),
            Class::Retry,
            "Server is busy (HEC code 9)",
        ),
    ];
    for (reply, class, said) in cases {
        let status = reply.0;
        script.lock().unwrap().push_back(reply);
        let e = splunk::send(&cfg, &messages[..1], &harness.ctx("splunk", "d-2")).await;
        assert_eq!(e.status_code, Some(status));
        assert_eq!(classify(&e.outcome), class, "HTTP {status}");
        let error = e.error.unwrap_or_default();
        assert!(error.contains(said), "{error}");
    }

    // A wrong token is refused by the stand-in itself, and dead-lettered.
    let mut wrong = cfg.clone();
    wrong.token = "0000".into();
    let e = splunk::send(&wrong, &messages[..1], &harness.ctx("splunk", "d-3")).await;
    assert_eq!(
        (e.status_code, classify(&e.outcome)),
        (Some(403), Class::Fail)
    );

    // A collector that is not there is retried.
    let gone = config(&format!("http://{}", support::closed_port()));
    let e = splunk::send(&gone, &messages[..1], &harness.ctx("splunk", "d-4")).await;
    assert_eq!(classify(&e.outcome), Class::Retry, "{:?}", e.outcome);
}
