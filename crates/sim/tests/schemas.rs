//! Every message the simulator emits, for every topic, against Mist's own webhook schemas
//! (`shared/mist/openapi-webhook-schemas.json`), checked by a JSON-schema validator.
//!
//! Topics map to schemas by name: `device-events` is `webhook_device_events`. Nine topics
//! have no schema in the file (`asset-raw`, `asset-raw-rssi`, `minis-application`,
//! `minis-reachability`, `mxedge-events`, `rssizone`, `vbeacon`, `wifi-conn-raw`,
//! `wifi-unconn-raw`): those with a Mist sample are checked against a schema derived from
//! the sample (every field of the sample, with its JSON type); `asset-raw` and `vbeacon`
//! have neither, and only their envelope is checked.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mist::Topic;
use serde_json::{Value, json};
use sim::{Plan, PlanSettings, Scenario};

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/mist")
}

fn schemas() -> Value {
    let text = std::fs::read_to_string(shared().join("openapi-webhook-schemas.json"))
        .expect("openapi-webhook-schemas.json beside the repository");
    serde_json::from_str(&text).unwrap()
}

/// The schema name of a topic, where the file has one.
fn schema_name(topic: &Topic, doc: &Value) -> Option<String> {
    let name = format!("webhook_{}", topic.as_str().replace('-', "_"));
    doc.get(&name).map(|_| name)
}

/// Where captured Mist traffic and the schema disagree, the simulator sends what Mist
/// sends. Each entry widens exactly one property, with the evidence:
/// (schema, property path under the event, what captured traffic has).
const DIVERGENCES: &[(&str, &str, &str)] = &[
    // 5 captured device-events samples say "NOTICE"; the schema's enum is lower case.
    ("webhook_device_events", "ev_type", "upper-case ev_type"),
    // Every captured nac-events sample sends these booleans as "true"/"false" strings.
    ("webhook_nac_events", "random_mac", "boolean as string"),
    ("webhook_nac_events", "nacrule_matched", "boolean as string"),
    // Both captured client-sessions samples have a fractional duration (16709.39...).
    ("webhook_client_sessions", "duration", "fractional seconds"),
];

fn widen(doc: &mut Value) {
    for (schema, property, _) in DIVERGENCES {
        let p = &mut doc[*schema]["properties"]["events"]["items"]["properties"][*property];
        let original = p.clone();
        let alternative = match *property {
            "ev_type" => json!({"type": "string", "enum": ["NOTICE", "WARN"]}),
            "duration" => json!({"type": "number"}),
            _ => json!({"type": "string", "enum": ["true", "false"]}),
        };
        *p = json!({"anyOf": [original, alternative]});
    }
}

/// A validator for `#/components/schemas/<name>`, refs resolving against the whole document.
fn validator(doc: &Value, name: &str) -> jsonschema::Validator {
    let root = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": {"schemas": doc},
    });
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {name}: {e}"))
}

/// A schema derived from a topic's samples: the fields every sample event has are
/// required, and each field has one of the JSON types the samples show for it.
fn sample_schema(topic: &Topic) -> Option<Value> {
    let dir = shared().join("samples");
    let mut fields: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    // Fields every sample event has are required; the others only typed.
    let mut always: Option<Vec<String>> = None;
    let mut found = false;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.split("__").next() != Some(topic.as_str()) {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let events = v
            .get("events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_else(|| vec![v.clone()]);
        for e in events {
            found = true;
            let keys: Vec<String> = e
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k.clone())
                .collect();
            always = Some(match always {
                None => keys,
                Some(prev) => prev.into_iter().filter(|k| keys.contains(k)).collect(),
            });
            for (k, v) in e.as_object().unwrap() {
                let t = match v {
                    Value::Null => continue,
                    Value::Bool(_) => "boolean",
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                };
                let types = fields.entry(k.clone()).or_default();
                if !types.contains(&t) {
                    types.push(t);
                }
            }
        }
    }
    // The spec example's `component: null` and `device_type: "device_type0"` are
    // placeholders of the generated documentation, not fields Mist is seen sending.
    if *topic == Topic::MxedgeEvents {
        for k in [
            "component",
            "device_id",
            "device_type",
            "from_version",
            "audit_id",
        ] {
            fields.remove(k);
        }
    }
    if *topic == Topic::WifiUnconnRaw || *topic == Topic::WifiConnRaw {
        fields.remove("extended_info_list");
    }
    found.then(|| {
        let properties: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, t)| (k.clone(), json!({"type": t})))
            .collect();
        let required: Vec<&String> = fields
            .keys()
            .filter(|k| always.as_ref().is_some_and(|a| a.contains(k)))
            .collect();
        json!({
            "type": "object",
            "required": ["topic", "events"],
            "properties": {
                "topic": {"const": topic.as_str()},
                "events": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {
                    "type": "object", "required": required, "properties": properties
                }}
            }
        })
    })
}

/// A large sample of messages of one topic: background traffic and, for the topics
/// scenarios produce, every built-in scenario.
fn messages(topic: &Topic, n: u64) -> Vec<sim::Message> {
    let start = 1_750_000_000_000_000;
    let mut out: Vec<sim::Message> = Plan::new(PlanSettings {
        seed: 11,
        start_us: start,
        rate: 2.0,
        count: Some(n),
        topics: Some(vec![topic.clone()]),
        max_events: 50,
        ..PlanSettings::default()
    })
    .unwrap()
    .collect();
    out.extend(
        Plan::new(PlanSettings {
            seed: 11,
            start_us: start,
            speed: 7.0,
            topics: Some(vec![topic.clone()]),
            scenarios: Scenario::built_in(),
            ..PlanSettings::default()
        })
        .unwrap(),
    );
    out
}

#[test]
fn every_message_of_every_topic_validates_against_its_mist_schema() {
    let plain = schemas();
    let mut widened = plain.clone();
    widen(&mut widened);
    let mut checked = BTreeMap::new();
    // Instance paths (with indices dropped) the unmodified schemas reject.
    let mut strict_failures: BTreeMap<(String, String), usize> = BTreeMap::new();
    for topic in Topic::KNOWN {
        let messages = messages(topic, 600);
        let events: usize = messages.iter().map(sim::Message::events).sum();
        assert!(events >= 600, "{topic}: only {events} events");
        let by_schema = schema_name(topic, &plain);
        let validators = match &by_schema {
            Some(name) => Some((validator(&widened, name), Some(validator(&plain, name)))),
            None => sample_schema(topic).map(|s| {
                (
                    jsonschema::options().build(&s).expect("sample schema"),
                    None,
                )
            }),
        };
        for m in &messages {
            let body: Value = serde_json::from_slice(&m.body).expect("a message is JSON");
            let envelope = mist::parse_envelope(&m.body).expect("a Mist envelope");
            assert_eq!(&envelope.topic, topic);
            assert_eq!(envelope.events.len(), m.events());
            let Some((valid, strict)) = &validators else {
                continue;
            };
            let errors: Vec<String> = valid
                .iter_errors(&body)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{topic}: {errors:#?}\nin {body}");
            if let Some(strict) = strict {
                for e in strict.iter_errors(&body) {
                    let path: Vec<String> = e
                        .instance_path()
                        .to_string()
                        .split('/')
                        .filter(|p| !p.is_empty() && p.parse::<usize>().is_err())
                        .map(str::to_owned)
                        .collect();
                    *strict_failures
                        .entry((by_schema.clone().unwrap(), path.join("/")))
                        .or_default() += 1;
                }
            }
        }
        checked.insert(
            topic.as_str().to_string(),
            (events, by_schema.is_some(), validators.is_some()),
        );
    }
    // The named divergences are the only ones, and each is real (the simulator sends it).
    let expected: Vec<(String, String)> = DIVERGENCES
        .iter()
        .map(|(s, p, _)| (s.to_string(), format!("events/{p}")))
        .collect();
    let found: Vec<(String, String)> = strict_failures.keys().cloned().collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(found, expected_sorted, "{strict_failures:#?}");
    let with_schema = checked.values().filter(|(_, s, _)| *s).count();
    let with_sample = checked.values().filter(|(_, s, v)| !*s && *v).count();
    assert_eq!(
        (with_schema, with_sample, checked.len()),
        (23, 7, 32),
        "{checked:#?}"
    );
}

#[test]
fn the_schema_validator_rejects_what_mist_would_not_send() {
    // The validator is not a rubber stamp: break one generated alarm in three ways.
    let doc = schemas();
    let v = validator(&doc, "webhook_alarms");
    let m = messages(&Topic::Alarms, 5).remove(0);
    let good: Value = serde_json::from_slice(&m.body).unwrap();
    assert!(v.is_valid(&good));
    let mut no_id = good.clone();
    no_id["events"][0].as_object_mut().unwrap().remove("id");
    assert!(!v.is_valid(&no_id));
    let mut bad_uuid = good.clone();
    bad_uuid["events"][0]["org_id"] = json!("not-a-uuid");
    assert!(!v.is_valid(&bad_uuid));
    let mut text_time = good.clone();
    text_time["events"][0]["timestamp"] = json!("1750000000");
    assert!(!v.is_valid(&text_time));
}
