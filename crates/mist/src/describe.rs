//! One line a person reads for an event: what it says, the device or client it is about
//! (by name, where the event gives one), and the site's name where the event carries it.
//!
//! Mist's topics keep these in different fields; this module knows where. It is lenient
//! like the rest of the crate: a missing or wrong-typed field is left out, never an error.

use serde_json::{Map, Value};

use crate::Topic;

/// What a person sees of an event in a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Described {
    /// The device's or client's name, where the event names it.
    pub name: Option<String>,
    /// The site's name, where the event carries it (`site_name`).
    pub site_name: Option<String>,
    /// What the event says, in one line of at most [`SUMMARY_MAX`] characters.
    pub summary: String,
}

/// The longest summary, in characters.
pub const SUMMARY_MAX: usize = 160;

/// Fields that name the device or client an event is about, most specific first.
const NAME_FIELDS: &[&str] = &[
    "device_name",
    "mxedge_name",
    "hostname",
    "client_hostname",
    "ap_name",
    "name",
    "username",
    "probe_name",
];

/// Describes one raw event of `topic`. Never fails: bytes that are not a JSON object give
/// an empty description.
pub fn describe(topic: &Topic, raw: &[u8]) -> Described {
    let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(raw) else {
        return Described::default();
    };
    let name = NAME_FIELDS
        .iter()
        .find_map(|f| text(&event, f))
        .or_else(|| first_of_list(&event, "hostnames"));
    let summary = clip(&summary(topic, &event));
    Described {
        name,
        site_name: text(&event, "site_name"),
        summary,
    }
}

fn summary(topic: &Topic, e: &Map<String, Value>) -> String {
    let kind = text(e, "type");
    let join = |parts: &[Option<String>]| {
        parts
            .iter()
            .flatten()
            .filter(|p| !p.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" · ")
    };
    match topic {
        Topic::Alarms => {
            let count = number(e, "count")
                .filter(|n| *n > 1.0)
                .map(|n| format!("×{n}"));
            let hosts = list(e, "hostnames", 3);
            let reasons = list(e, "reasons", 2);
            join(&[kind, count, hosts, reasons])
        }
        Topic::Audits => join(&[
            text(e, "message"),
            text(e, "admin_name").map(|a| format!("by {a}")),
        ]),
        Topic::ClientJoin => join(&[
            text(e, "ssid").map(|s| format!("joined {s}")),
            text(e, "ap_name").map(|a| format!("on {a}")),
            number(e, "band").map(|b| format!("{b} GHz")),
            number(e, "rssi").map(|r| format!("RSSI {r}")),
        ]),
        Topic::ClientSessions => join(&[
            text(e, "ssid").map(|s| format!("left {s}")),
            number(e, "duration").map(|d| format!("after {d} s")),
            text(e, "termination_reason"),
        ]),
        Topic::ClientInfo => join(&[text(e, "ip").map(|ip| format!("has {ip}"))]),
        Topic::NacEvents | Topic::NacAccounting => join(&[
            kind,
            text(e, "username"),
            text(e, "ssid").map(|s| format!("on {s}")),
            text(e, "nacrule_matched").map(|r| format!("rule {r}")),
        ]),
        Topic::OccupancyAlerts => {
            let alerts = e.get("alert_events").and_then(Value::as_array);
            let zones = alerts.map(|a| {
                a.iter()
                    .filter_map(|z| {
                        let z = z.as_object()?;
                        let zone = text(z, "zone_name").unwrap_or_else(|| "zone".into());
                        let now = number(z, "current_occupancy")?;
                        let limit = number(z, "occupancy_limit");
                        Some(match limit {
                            Some(l) => format!("{zone} {now}/{l}"),
                            None => format!("{zone} {now}"),
                        })
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            join(&[Some("occupancy".into()), zones])
        }
        Topic::MinisApplication | Topic::MinisReachability => join(&[
            text(e, "test_type").or(kind),
            text(e, "probe_target"),
            e.get("success")
                .and_then(Value::as_bool)
                .map(|ok| if ok { "ok" } else { "failed" }.into()),
            number(e, "loss_percentage").map(|l| format!("loss {l}%")),
            number(e, "avg_latency")
                .or_else(|| number(e, "latency"))
                .map(|l| format!("{l} ms")),
        ]),
        Topic::Ping => join(&[Some("ping".into()), text(e, "name")]),
        t if t.as_str().starts_with("location") || matches!(t, Topic::Zone | Topic::Rssizone) => {
            let at = match (number(e, "x"), number(e, "y")) {
                (Some(x), Some(y)) => Some(format!("at ({x:.1}, {y:.1})")),
                _ => None,
            };
            join(&[
                kind,
                text(e, "trigger"),
                at,
                text(e, "map_id").map(|m| format!("map {}", short(&m))),
            ])
        }
        _ => join(&[kind, text(e, "text").or_else(|| text(e, "reason"))]),
    }
}

fn text(e: &Map<String, Value>, field: &str) -> Option<String> {
    match e.get(field)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

fn number(e: &Map<String, Value>, field: &str) -> Option<f64> {
    e.get(field)?.as_f64().filter(|n| n.is_finite())
}

fn first_of_list(e: &Map<String, Value>, field: &str) -> Option<String> {
    e.get(field)?
        .as_array()?
        .iter()
        .find_map(|v| v.as_str().filter(|s| !s.trim().is_empty()))
        .map(|s| s.trim().to_string())
}

/// Up to `max` strings of a list field, comma-separated, with "+N" for the rest.
fn list(e: &Map<String, Value>, field: &str, max: usize) -> Option<String> {
    let items: Vec<&str> = e
        .get(field)?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return None;
    }
    let mut shown = items
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        shown.push_str(&format!(" +{}", items.len() - max));
    }
    Some(shown)
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn clip(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= SUMMARY_MAX {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(SUMMARY_MAX - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(topic: &str, raw: &str) -> Described {
        describe(&Topic::parse(topic), raw.as_bytes())
    }

    #[test]
    fn device_events_name_the_device_and_say_what_happened() {
        let got = d(
            "device-events",
            r#"{"type":"AP_RESTARTED","device_name":"ap-lobby","site_name":"HQ","text":"power cycle"}"#,
        );
        assert_eq!(got.name.as_deref(), Some("ap-lobby"));
        assert_eq!(got.site_name.as_deref(), Some("HQ"));
        assert_eq!(got.summary, "AP_RESTARTED · power cycle");
    }

    #[test]
    fn alarms_show_their_count_and_hostnames() {
        let got = d(
            "alarms",
            r#"{"type":"device_down","count":3,"hostnames":["a","b","c","d"]}"#,
        );
        assert_eq!(got.name.as_deref(), Some("a"));
        assert_eq!(got.summary, "device_down · ×3 · a, b, c +1");
    }

    #[test]
    fn clients_and_locations_read_naturally() {
        let join = d(
            "client-join",
            r#"{"ssid":"corp","ap_name":"ap1","band":"5","rssi":-61}"#,
        );
        assert_eq!(join.summary, "joined corp · on ap1 · RSSI -61");
        let loc = d(
            "location",
            r#"{"type":"wifi","x":1.234,"y":5,"map_id":"845a23bf-bed9"}"#,
        );
        assert_eq!(loc.summary, "wifi · at (1.2, 5.0) · map 845a23bf");
    }

    #[test]
    fn anything_else_is_total_and_one_line() {
        assert_eq!(d("alarms", "not json"), Described::default());
        assert_eq!(d("alarms", "[1,2]"), Described::default());
        let long = format!(r#"{{"type":"X","text":"{}\nsecond"}}"#, "y".repeat(400));
        let got = d("device-events", &long.replace('\n', "\\n"));
        assert_eq!(got.summary.chars().count(), SUMMARY_MAX);
        assert!(!got.summary.contains('\n'));
        assert_eq!(
            d("brand-new-topic", r#"{"type":"T","reason":"r"}"#).summary,
            "T · r"
        );
        assert_eq!(d("alarms", r#"{"type":5,"hostnames":[1,""]}"#).name, None);
    }
}
