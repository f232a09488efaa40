//! The NATS JetStream target: encoder snapshots over Mist samples, and a real
//! nats-server with JetStream started by the test on a port it picks.

mod support;

use std::time::Duration;

use async_nats::jetstream;
use deliver::schedule::{Class, classify};
use deliver::targets::{Message, nats};
use support::{Harness, NatsServer};

fn config(url: &str) -> nats::Config {
    serde_json::from_value(serde_json::json!({"url": url, "stream": "MIST_TEST"})).unwrap()
}

fn messages() -> Vec<(String, Message)> {
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

#[test]
fn encoder_snapshots() {
    let cfg = config("nats://127.0.0.1:4222");
    for (name, message) in messages() {
        let p = &nats::encode(&cfg, std::slice::from_ref(&message)).unwrap()[0];
        let shown = format!(
            "PUB {}\nNats-Msg-Id: {}\n\n{}",
            p.subject,
            p.msg_id,
            String::from_utf8(p.payload.to_vec()).unwrap()
        );
        insta::assert_snapshot!(format!("nats_{name}"), shown);
    }
}

/// Everything the stream holds: (subject, message id, payload).
async fn stored(url: &str, stream: &str) -> Vec<(String, String, serde_json::Value)> {
    let client = async_nats::connect(url).await.unwrap();
    let js = jetstream::new(client);
    let mut s = js.get_stream(stream).await.unwrap();
    let state = s.info().await.unwrap().state.clone();
    let mut out = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        let m = s.get_raw_message(seq).await.unwrap();
        let id = m
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        out.push((
            m.subject.to_string(),
            id,
            serde_json::from_slice(&m.payload).unwrap(),
        ));
    }
    assert_eq!(state.messages as usize, out.len());
    out
}

#[tokio::test]
async fn every_message_lands_once_on_its_subject_even_when_a_batch_is_sent_twice() {
    let server = NatsServer::start();
    let harness = Harness::new(Duration::from_secs(5));
    let cfg = config(&server.url());
    cfg.check().unwrap();
    let expected = messages();
    let batch: Vec<Message> = expected.iter().map(|(_, m)| m.clone()).collect();

    // No stream yet: the first send makes it, and reports success only once every
    // publish is acknowledged, so the stream holds all of them as soon as it returns.
    let first = nats::send(&cfg, &batch, &harness.ctx("bus", "d-1")).await;
    assert_eq!(
        first.outcome,
        deliver::Outcome::Success,
        "{:?}",
        first.error
    );
    let answer: serde_json::Value = serde_json::from_str(&first.response_body).unwrap();
    assert_eq!(answer["acknowledged"], batch.len());
    assert_eq!(answer["duplicates"], 0);
    let held = stored(&server.url(), "MIST_TEST").await;
    assert_eq!(held.len(), batch.len());

    // The same batch again (a retry after a lost answer): every publish is acknowledged
    // as a duplicate and the stream keeps one copy of each.
    let again = nats::send(&cfg, &batch, &harness.ctx("bus", "d-1")).await;
    assert_eq!(
        again.outcome,
        deliver::Outcome::Success,
        "{:?}",
        again.error
    );
    let answer: serde_json::Value = serde_json::from_str(&again.response_body).unwrap();
    assert_eq!(answer["duplicates"], batch.len());
    assert_eq!(stored(&server.url(), "MIST_TEST").await, held);

    let subjects: Vec<&str> = held.iter().map(|(s, _, _)| s.as_str()).collect();
    let sample = |i: usize| match &batch[i] {
        Message::Event(e) => (e.org_id.clone().unwrap(), e.site_id.clone()),
        Message::Incident(_) => unreachable!(),
    };
    assert_eq!(
        subjects[0],
        format!("mist.{}.{}.alarms", sample(0).0, sample(0).1.unwrap())
    );
    assert_eq!(
        subjects[1],
        format!(
            "mist.{}.{}.device-events",
            sample(1).0,
            sample(1).1.unwrap()
        )
    );
    assert_eq!(
        subjects[2],
        format!(
            "mist.{}.{}.device-updowns",
            sample(2).0,
            sample(2).1.unwrap()
        )
    );
    assert_eq!(
        subjects[3],
        format!("mist.{}.{}.audits", sample(3).0, sample(3).1.unwrap())
    );
    assert_eq!(subjects[4..], ["mistgate.incidents.device_down"; 2]);
    let ids: Vec<&str> = held.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "event-100",
            "event-101",
            "event-102",
            "event-103",
            "incident-change-11",
            "incident-change-12"
        ]
    );
    for ((_, _, payload), message) in held.iter().zip(&batch) {
        assert_eq!(payload, &serde_json::to_value(message).unwrap());
    }

    // The stream was made with the configured settings.
    let client = async_nats::connect(server.url()).await.unwrap();
    let mut s = jetstream::new(client)
        .get_stream("MIST_TEST")
        .await
        .unwrap();
    let made = s.info().await.unwrap().config.clone();
    assert_eq!(made.subjects, ["mist.>", "mistgate.incidents.>"]);
    assert_eq!(made.duplicate_window, Duration::from_secs(600));
    assert_eq!(made.max_age, Duration::from_secs(7 * 86_400));
    assert_eq!(made.retention, jetstream::stream::RetentionPolicy::Limits);
}

#[tokio::test]
async fn an_existing_stream_is_used_as_it_is() {
    let server = NatsServer::start();
    let harness = Harness::new(Duration::from_secs(5));
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    js.create_stream(jetstream::stream::Config {
        name: "OPS".into(),
        subjects: vec!["mist.>".into(), "mistgate.incidents.>".into()],
        max_messages: 1_000,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut cfg = config(&server.url());
    cfg.stream = "OPS".into();
    let batch = vec![support::incident("opened")];
    let sent = nats::send(&cfg, &batch, &harness.ctx("ops", "d-1")).await;
    assert_eq!(sent.outcome, deliver::Outcome::Success, "{:?}", sent.error);
    let mut s = js.get_stream("OPS").await.unwrap();
    let info = s.info().await.unwrap();
    assert_eq!(
        info.config.max_messages, 1_000,
        "the operator's settings stay"
    );
    assert_eq!(info.state.messages, 1);
}

#[tokio::test]
async fn a_server_that_is_down_gives_a_retryable_outcome() {
    let harness = Harness::new(Duration::from_secs(2));
    let batch = vec![support::incident("opened")];

    // Never there.
    let nobody = config(&format!("nats://{}", support::closed_port()));
    let e = nats::send(&nobody, &batch, &harness.ctx("down", "d-1")).await;
    assert_eq!(classify(&e.outcome), Class::Retry, "{:?}", e.outcome);
    assert!(e.error.is_some());

    // There, then gone: the cached connection is lost, and the next batch is retried,
    // not reported as done.
    let mut server = NatsServer::start();
    let cfg = config(&server.url());
    let ok = nats::send(&cfg, &batch, &harness.ctx("gone", "d-2")).await;
    assert_eq!(ok.outcome, deliver::Outcome::Success, "{:?}", ok.error);
    server.kill();
    let e = nats::send(&cfg, &batch, &harness.ctx("gone", "d-3")).await;
    assert_eq!(classify(&e.outcome), Class::Retry, "{:?}", e.outcome);
}
