//! Names without Mist's API, end to end through the pure parts: incidents the correlator
//! opens at a site that `[routing] site_names` names, encoded for Slack, Teams and
//! PagerDuty. The site's name and the devices' names (from the alarm's `hostnames`, or a
//! device-updown's `ap_name`) show where a person reads; the site id and the MACs stay as
//! secondary facts.

use correlate::{Change, Correlator, Incident, Input, Settings, Transition};
use deliver::targets::{IncidentMessage, Message, pagerduty, slack, teams};
use serde_json::{Value, json};

const ORG: &str = "9747a50a-23f8-4ca5-83c4-102e807874de";
const SITE: &str = "8d2e354a-8340-4432-ac1b-e3c3bab680ab";

/// `[routing] site_names`, as the server hands it to the correlation and routing stages.
fn configured() -> mist::Names {
    mist::Names::with_sites([(SITE.to_owned(), "HQ".to_owned())].into())
}

/// The incidents the correlator opens for these events, in order.
fn opened(events: &[(mist::Topic, Value)]) -> Vec<Incident> {
    let mut correlator = Correlator::new(Settings::default());
    correlator.set_names(configured());
    let mut out = Vec::new();
    for (id, (topic, raw)) in events.iter().enumerate() {
        let normalized = mist::normalize(topic, raw);
        let input = Input::from_normalized(id as i64 + 1, topic, &normalized, raw, 0);
        for t in correlator.handle(&input, input.time) {
            if let Transition::Incident {
                incident,
                change: Change::Opened,
            } = t
            {
                out.push(incident);
            }
        }
    }
    out
}

/// The routing stage's message for an opening (its inventory adds nothing here).
fn message(incident: Incident) -> Message {
    Message::Incident(IncidentMessage::named(
        1,
        Change::Opened,
        incident.opened_at,
        incident,
        &configured(),
        None,
    ))
}

struct Shown {
    slack_title: String,
    slack_fields: Vec<String>,
    teams_title: String,
    teams_facts: Vec<(String, String)>,
    pagerduty_summary: String,
}

fn shown(message: &Message) -> Shown {
    let slack_config: slack::Config =
        serde_json::from_value(json!({"webhook_url": "https://hooks.slack.com/services/T/B/X"}))
            .unwrap();
    let payload = slack::payload(&slack_config, message);
    let teams_config: teams::Config =
        serde_json::from_value(json!({"url": "https://example.net/teams"})).unwrap();
    let card = teams::card(&teams_config, message);
    let pd_config: pagerduty::Config = serde_json::from_value(json!({
        "routing_key": "R0123456789abcdef0123456789abcde",
        "url": "https://events.pagerduty.com/v2/enqueue"
    }))
    .unwrap();
    let pd: Value = serde_json::from_slice(&pagerduty::encode(&pd_config, message).body).unwrap();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Shown {
        slack_title: text(&payload["blocks"][0]["text"]["text"]),
        slack_fields: payload["blocks"][1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| text(&f["text"]))
            .collect(),
        teams_title: text(&card["body"][0]["text"]),
        teams_facts: card["body"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["facts"].as_array())
            .flatten()
            .map(|f| (text(&f["title"]), text(&f["value"])))
            .collect(),
        pagerduty_summary: text(&pd["payload"]["summary"]),
    }
}

#[test]
fn a_security_incident_names_its_site_and_the_ap_that_reported_it() {
    // The rogue_ap example of alarm_defs.json: no site_name, the AP's name in `hostnames`.
    let alarm = json!({
        "severity": "critical", "last_seen": 1_750_000_000, "aps": ["5c5b35500442"],
        "hostnames": ["AP_NAME"], "count": 2, "type": "rogue_ap",
        "ssids": ["DIRECT-roku-371-0064B1"], "timestamp": 1_750_000_000,
        "bssids": ["ca3a6bef7457"], "org_id": ORG, "site_id": SITE,
        "id": "59be9221-1e26-4466-baa3-6afbce1b7bcb", "group": "security"
    });
    let incidents = opened(&[(mist::Topic::Alarms, alarm)]);
    assert_eq!(
        incidents[0].summary,
        "Security: rogue_ap at HQ, reported by 1 AP"
    );
    let shown = shown(&message(incidents[0].clone()));

    // The title says where once, by name.
    assert_eq!(
        shown.slack_title,
        ":red_circle: [Opened] Security: rogue_ap at HQ, reported by 1 AP"
    );
    assert_eq!(
        shown.teams_title,
        "[Opened] Security: rogue_ap at HQ, reported by 1 AP"
    );
    assert_eq!(
        shown.pagerduty_summary,
        "Security: rogue_ap at HQ, reported by 1 AP"
    );
    for title in [
        &shown.slack_title,
        &shown.teams_title,
        &shown.pagerduty_summary,
    ] {
        assert!(
            !title.contains(SITE) && !title.contains("5c5b35500442"),
            "{title}"
        );
    }
    // The id and the MAC stay, as secondary facts.
    assert!(shown.slack_fields.contains(&"*Site*\nHQ".to_owned()));
    assert!(shown.slack_fields.contains(&format!("*Site ID*\n{SITE}")));
    assert!(
        shown
            .slack_fields
            .contains(&"*Device*\nAP_NAME (5c5b35500442)".to_owned())
    );
    assert!(shown.teams_facts.contains(&("Site".into(), "HQ".into())));
    assert!(shown.teams_facts.contains(&("Site ID".into(), SITE.into())));
    assert!(
        shown
            .teams_facts
            .contains(&("Device".into(), "AP_NAME (5c5b35500442)".into()))
    );
}

#[test]
fn a_device_down_incident_names_its_site_and_device() {
    // A device-updown names the AP in `ap_name`, and its site by id only.
    let down = json!({
        "ap": "5c5b350e1d1f", "ap_name": "lobby-ap", "org_id": ORG, "site_id": SITE,
        "timestamp": 1_750_000_100, "type": "AP_DISCONNECTED"
    });
    let incidents = opened(&[(mist::Topic::DeviceUpdowns, down)]);
    assert_eq!(
        incidents[0].summary,
        "AP \"lobby-ap\" (5c5b350e1d1f) offline"
    );
    let shown = shown(&message(incidents[0].clone()));
    assert_eq!(
        shown.slack_title,
        ":large_yellow_circle: [Opened] AP \"lobby-ap\" (5c5b350e1d1f) offline at HQ"
    );
    assert_eq!(
        shown.teams_title,
        "[Opened] AP \"lobby-ap\" (5c5b350e1d1f) offline at HQ"
    );
    assert_eq!(
        shown.pagerduty_summary,
        "AP \"lobby-ap\" (5c5b350e1d1f) offline at HQ"
    );
    assert!(shown.slack_fields.contains(&format!("*Site ID*\n{SITE}")));
    assert!(
        shown
            .slack_fields
            .contains(&"*Device*\nlobby-ap (5c5b350e1d1f)".to_owned())
    );
    assert!(
        shown
            .teams_facts
            .contains(&("Device".into(), "lobby-ap (5c5b350e1d1f)".into()))
    );
}

#[test]
fn an_unnamed_site_shows_its_id_once_and_no_site_id_fact() {
    let alarm = json!({
        "severity": "warn", "aps": ["5c5b35500442"], "type": "rogue_ap",
        "timestamp": 1_750_000_000, "org_id": ORG, "site_id": "819b44b2-42ef-459d-8e59-29c5577b2330",
        "group": "security"
    });
    let shown = shown(&message(opened(&[(mist::Topic::Alarms, alarm)])[0].clone()));
    assert_eq!(
        shown.pagerduty_summary,
        "Security: rogue_ap at 819b44b2-42ef-459d-8e59-29c5577b2330, reported by 1 AP"
    );
    assert!(
        !shown
            .slack_fields
            .iter()
            .any(|f| f.starts_with("*Site ID*"))
    );
    assert!(
        shown
            .slack_fields
            .contains(&"*Device*\n5c5b35500442".to_owned())
    );
}
