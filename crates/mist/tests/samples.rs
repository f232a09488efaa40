//! Every real Mist payload in `shared/mist/samples` must parse, normalise and read through
//! the typed views; a few are checked field by field.
//!
//! Sample files are named `<topic>__<what>_<source>.json`. Some hold a full envelope, many
//! only a bare event object (see `SOURCES.md` there); bare ones are wrapped first.

use std::fs;
use std::path::{Path, PathBuf};

use mist::views::{
    Alarm, Audit, ClientJoin, ClientSession, DeviceEvent, DeviceUpdown, Location, NacAccounting,
    NacEvent, OccupancyAlert, Zone,
};
use mist::{EventTime, Normalized, Severity, TimeUnit, Topic};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::macros::datetime;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/mist/samples");

/// One sample file, as an envelope body and its parsed events.
struct Sample {
    name: String,
    topic: Topic,
    body: Vec<u8>,
}

impl Sample {
    fn load(path: &Path) -> Sample {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let prefix = name.split("__").next().unwrap();
        let topic = Topic::parse(prefix);
        let bytes = fs::read(path).unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        let is_envelope = value.get("topic").is_some() && value.get("events").is_some();
        let body = if is_envelope {
            bytes
        } else {
            mist::wrap_events(&topic, &bytes).unwrap()
        };
        Sample { name, topic, body }
    }

    fn named(name: &str) -> Sample {
        Sample::load(&Path::new(SAMPLES).join(name))
    }

    fn events(&self) -> Vec<Value> {
        let envelope = mist::parse_envelope(&self.body).unwrap();
        envelope
            .events
            .iter()
            .map(|raw| serde_json::from_str(raw.get()).unwrap())
            .collect()
    }

    fn normalized(&self) -> Vec<Normalized> {
        self.events()
            .iter()
            .map(|event| mist::normalize(&self.topic, event))
            .collect()
    }
}

fn sample_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(SAMPLES)
        .unwrap_or_else(|err| panic!("samples at {SAMPLES}: {err}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .filter(|path| {
            !path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("SOURCES.")
        })
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_sample_parses_and_normalises() {
    let paths = sample_paths();
    assert!(paths.len() >= 72, "only {} samples found", paths.len());
    for path in &paths {
        let sample = Sample::load(path);
        let envelope = mist::parse_envelope(&sample.body)
            .unwrap_or_else(|err| panic!("{}: {err}", sample.name));
        assert_eq!(envelope.topic, sample.topic, "{}", sample.name);
        assert!(sample.topic.is_known(), "{}: unknown topic", sample.name);
        let prefix = sample.name.split("__").next().unwrap();
        assert_eq!(sample.topic.as_str(), prefix, "{}", sample.name);
        assert_eq!(Topic::parse(sample.topic.as_str()), sample.topic);
        assert!(!envelope.events.is_empty(), "{}", sample.name);

        for raw in &envelope.events {
            let span = mist::envelope::event_span(&sample.body, raw).unwrap();
            assert_eq!(&sample.body[span], raw.get().as_bytes());
            let event: Value = serde_json::from_str(raw.get()).unwrap();
            let normalized = mist::normalize(&sample.topic, &event);
            if let Some(time) = &normalized.time {
                let year = time.to_offset_date_time().year();
                assert!((1970..=2030).contains(&year), "{}: {time:?}", sample.name);
            }
            let again: Value =
                serde_json::from_str(&serde_json::to_string_pretty(&event).unwrap()).unwrap();
            assert_eq!(
                mist::fingerprint(&sample.topic, &event),
                mist::fingerprint(&sample.topic, &again),
                "{}",
                sample.name
            );
        }
    }
}

/// Reads `event` through view `V` both from text and from a value, and checks that every
/// field the view does not know survives serialisation unchanged.
fn check_view<V: DeserializeOwned + Serialize>(
    name: &str,
    event: &Value,
    from_value: fn(&Value) -> V,
) -> V {
    let from_text: V = serde_json::from_str(&event.to_string())
        .unwrap_or_else(|err| panic!("{name}: view failed: {err}"));
    let view = from_value(event);
    let written = serde_json::to_value(&view).unwrap();
    assert_eq!(serde_json::to_value(&from_text).unwrap(), written, "{name}");
    let original = event.as_object().unwrap();
    for (key, value) in written.as_object().unwrap() {
        if let Some(sent) = original.get(key) {
            let lenient_same = sent == value
                || sent.as_f64().is_some() && sent.as_f64() == value.as_f64()
                || sent.as_str().is_some()
                    && Some(sent.as_str().unwrap().to_lowercase())
                        == value.as_bool().map(|b| b.to_string());
            assert!(
                lenient_same,
                "{name}: {key}: sent {sent}, view wrote {value}"
            );
        } else {
            panic!("{name}: view invented field {key}");
        }
    }
    view
}

#[test]
fn every_relevant_sample_reads_through_its_view() {
    for path in sample_paths() {
        let sample = Sample::load(&path);
        let name = sample.name.as_str();
        for event in sample.events() {
            match &sample.topic {
                Topic::Alarms => drop(check_view(name, &event, Alarm::from_value)),
                Topic::Audits => drop(check_view(name, &event, Audit::from_value)),
                Topic::ClientJoin => drop(check_view(name, &event, ClientJoin::from_value)),
                Topic::ClientSessions => drop(check_view(name, &event, ClientSession::from_value)),
                Topic::DeviceEvents => drop(check_view(name, &event, DeviceEvent::from_value)),
                Topic::DeviceUpdowns => drop(check_view(name, &event, DeviceUpdown::from_value)),
                Topic::Location
                | Topic::LocationAsset
                | Topic::LocationCentrak
                | Topic::LocationClient
                | Topic::LocationSdk
                | Topic::LocationUnclient => drop(check_view(name, &event, Location::from_value)),
                Topic::Zone | Topic::Rssizone => drop(check_view(name, &event, Zone::from_value)),
                Topic::OccupancyAlerts => {
                    drop(check_view(name, &event, OccupancyAlert::from_value))
                }
                Topic::NacEvents => drop(check_view(name, &event, NacEvent::from_value)),
                Topic::NacAccounting => drop(check_view(name, &event, NacAccounting::from_value)),
                _ => {}
            }
        }
    }
}

fn time_of(n: &Normalized) -> &EventTime {
    n.time.as_ref().expect("a time")
}

#[test]
fn nac_client_deny() {
    let sample = Sample::named("nac-events__client-deny_lukeroberson.json");
    let n = &sample.normalized()[0];
    let time = time_of(n);
    assert_eq!(time.unit, TimeUnit::Milliseconds);
    assert_eq!(time.unix_micros, 1_749_083_623_737_000);
    assert_eq!(time.field, "timestamp");
    assert_eq!(
        time.to_offset_date_time(),
        datetime!(2025-06-05 00:33:43.737 UTC)
    );
    assert_eq!(n.event_type.as_deref(), Some("NAC_CLIENT_DENY"));
    assert_eq!(n.mac.as_deref(), Some("xxxxxxxxxxxx"));
    assert_eq!(n.severity, None);

    let view = NacEvent::from_value(&sample.events()[0]);
    assert_eq!(view.random_mac, Some(true));
    assert_eq!(view.auth_type.as_deref(), Some("eap-peap"));
}

#[test]
fn mxedge_string_timestamps() {
    let sample = Sample::named("mxedge-events__config-changed-by-user_pradeepgadde.json");
    let all = sample.normalized();
    assert_eq!(all.len(), 3);
    let time = time_of(&all[0]);
    assert_eq!(time.unit, TimeUnit::Seconds);
    assert_eq!(time.unix_micros, 1_695_194_041_635_342);
    assert_eq!(time.raw, Value::String("1695194041.635342".into()));
    assert_eq!(time_of(&all[2]).unix_micros, 1_695_194_041_642_188);
    for n in &all {
        assert_eq!(n.site_id, None);
        assert_eq!(
            n.org_id.as_deref(),
            Some("xxxx0047-ccbb-46b8-a04e-d8240ddxxxxx")
        );
        assert_eq!(n.event_type.as_deref(), Some("ME_CONFIG_CHANGED_BY_USER"));
    }
}

#[test]
fn alarm_device_restarted() {
    let sample = Sample::named("alarms__device-restarted_lukeroberson.json");
    let n = &sample.normalized()[0];
    assert_eq!(n.event_type.as_deref(), Some("device_restarted"));
    assert_eq!(n.severity, Some(Severity::Info));
    assert_eq!(n.mac.as_deref(), Some("xxxxxxxxxxxx"));
    assert_eq!(time_of(n).unix_micros, 1_749_998_077_621_725);

    let alarm = Alarm::from_value(&sample.events()[0]);
    assert_eq!(alarm.count, Some(4));
    assert_eq!(alarm.reasons, Some(vec!["power_cycle".to_owned()]));
    assert_eq!(alarm.device_macs().len(), 2);
}

#[test]
fn marvis_alarm_takes_the_impacted_entity() {
    let sample = Sample::named("alarms__ap-bad-cable-marvis_lukeroberson.json");
    let n = &sample.normalized()[0];
    assert_eq!(n.severity, Some(Severity::Critical));
    assert_eq!(n.mac.as_deref(), Some("xxxxxxxxxxxx"));
    let alarm = Alarm::from_value(&sample.events()[0]);
    assert!(alarm.is_marvis());
    assert_eq!(alarm.state(), Some("resolved"));
}

#[test]
fn wifi_conn_raw_mac_from_dashed_client_id() {
    let sample = Sample::named("wifi-conn-raw__spec-example_mistapi-go.json");
    let all = sample.normalized();
    assert_eq!(all[0].mac.as_deref(), Some("28f0762d221e"));
    assert_eq!(all[1].mac.as_deref(), Some("38f9d399086e"));
    assert_eq!(all[0].time, None);
    assert_eq!(
        all[0].site_id.as_deref(),
        Some("27ea2f07-6fe6-4eab-be1b-b8e3ce083d67")
    );
}

#[test]
fn occupancy_alert_type_and_org_from_alert_events() {
    let sample = Sample::named("occupancy-alerts__spec-example_mistapi-go.json");
    let n = &sample.normalized()[0];
    assert_eq!(n.event_type.as_deref(), Some("COMPLIANCE-VIOLATION"));
    assert_eq!(
        n.org_id.as_deref(),
        Some("a40f5d1f-d889-42e9-94ea-b9b33585fc6b")
    );
    assert_eq!(
        n.site_id.as_deref(),
        Some("72771e6a-6f5e-4de4-a5b9-1266c4197811")
    );
    // The spec example's timestamp is the placeholder 0.0.
    assert_eq!(n.time, None);
    let alert = OccupancyAlert::from_value(&sample.events()[0]);
    assert!(alert.alert_events.unwrap()[0].is_violation());
}

#[test]
fn sdkclient_scan_data_time_from_last_seen() {
    let sample = Sample::named("sdkclient-scan-data__spec-example_mistapi-go.json");
    let n = &sample.normalized()[0];
    let time = time_of(n);
    assert_eq!(time.field, "last_seen");
    assert_eq!(time.unix_micros, 1_592_333_828_000_000);
    assert_eq!(n.mac.as_deref(), Some("70ef0071535f"));
}

#[test]
fn guest_authorization_time_and_client() {
    let sample = Sample::named("guest-authorizations__spec-example_mistapi-go.json");
    let n = &sample.normalized()[0];
    let time = time_of(n);
    assert_eq!(time.field, "authorized_time");
    assert_eq!(time.unix_micros, 1_677_076_519_000_000);
    assert_eq!(n.mac.as_deref(), Some("ac2316eca70a"));
}

#[test]
fn client_sessions_float_duration() {
    let sample = Sample::named("client-sessions__disconnect_pradeepgadde.json");
    let n = &sample.normalized()[0];
    assert_eq!(n.mac.as_deref(), Some("xxdd8e7508xx"));
    assert_eq!(time_of(n).unix_micros, 1_695_189_374_000_000);
    let session = ClientSession::from_value(&sample.events()[0]);
    assert_eq!(session.duration, Some(16709.393960068));
    assert_eq!(session.termination_reason, Some(1));
    assert_eq!(session.random_mac, Some(false));
}

#[test]
fn device_events_keep_type_case_and_read_ev_type() {
    let sample = Sample::named("device-events__rrm-action-and-configured_pradeepgadde.json");
    let all = sample.normalized();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].event_type.as_deref(), Some("AP_RRM_ACTION"));
    assert_eq!(all[0].severity, Some(Severity::Notice));
    assert_eq!(all[0].mac.as_deref(), Some("xx2316ed6axx"));

    let spec = Sample::named("device-events__spec-example_mistapi-go.json");
    assert_eq!(spec.normalized()[0].severity, Some(Severity::Notice));

    let bare = Sample::named("device-events__ap-radar-detected-extra-fields_lukeroberson.json");
    assert_eq!(bare.normalized()[0], Normalized::default());
}

#[test]
fn audits_without_site_and_with_encoded_before_after() {
    let sample = Sample::named("audits__accessed-org_pradeepgadde.json");
    let n = &sample.normalized()[0];
    assert_eq!(n.site_id, None);
    assert_eq!(n.event_type, None);
    let sample =
        Sample::named("audits__update-site-settings-before-after_openapi-delivery-example.json");
    let audit = Audit::from_value(&sample.events()[0]);
    assert!(audit.before_value().unwrap()["radio_config"].is_object());
}

#[test]
fn mdm_lookup_with_empty_type() {
    let sample = Sample::named("nac-events__mdm-lookup-success_lukeroberson.json");
    let n = &sample.normalized()[0];
    assert_eq!(n.event_type, None);
    assert_eq!(time_of(n).unit, TimeUnit::Milliseconds);
}
