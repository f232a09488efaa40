use serde_json::json;

use super::*;

const NOW: f64 = 1_700_000_000.0;

fn org() -> Scope {
    Scope::Org("o".into())
}

fn parse(body: Value) -> Result<AssetFilter, Invalid> {
    parse_assetfilter(body.to_string().as_bytes(), &org(), "af-1", NOW, None)
}

/// The two events of Mist's `asset-raw-rssi` example, trimmed.
fn ibeacon() -> Value {
    json!({"beam": 8, "device_id": "00000000-0000-0000-1000-ac2316eca70b",
           "ibeacon_major": 2, "ibeacon_minor": 2121,
           "ibeacon_uuid": "ac950d7b-af31-42d2-be7c-e15639fab2cd", "mac": "ed2cc53f2770",
           "rssi": -79, "service_packets": [{"service_data": "01", "service_uuid": "FE6A"}]})
}

fn manufacturer() -> Value {
    json!({"beam": 7, "device_id": "00000000-0000-0000-1000-ac2316eca70b",
           "mac": "ed2cc53f2771", "mfg_company_id": 243, "rssi": -74})
}

#[test]
fn a_minimal_filter_gets_the_defaults_and_matches_every_asset() {
    let f = parse(json!({"name": "all"})).unwrap();
    assert_eq!(
        (f.disabled, f.for_site, f.org_id.as_deref()),
        (false, false, Some("o"))
    );
    assert!(f.matches(&ibeacon()) && f.matches(&manufacturer()));
    let off = parse(json!({"name": "off", "disabled": true})).unwrap();
    assert!(!off.matches(&ibeacon()));
}

#[test]
fn every_criterion_must_hold() {
    let cases = [
        (
            json!({"ibeacon_uuid": "AC950D7B-AF31-42D2-BE7C-E15639FAB2CD"}),
            true,
            false,
        ),
        (
            json!({"ibeacon_uuid": "ac950d7b-af31-42d2-be7c-e15639fab2cd", "ibeacon_major": 2}),
            true,
            false,
        ),
        (json!({"ibeacon_major": 3}), false, false),
        (json!({"mfg_company_id": 243}), false, true),
        (json!({"service_uuid": "fe6a"}), true, false),
        (json!({"ap_mac": "AC:23:16:EC:A7:0B"}), true, true),
        (json!({"ap_mac": "ac2316eca70c"}), false, false),
        (json!({"beam": 7}), false, true),
        (json!({"rssi": -75}), false, true),
        (json!({"rssi": -80}), true, true),
        (
            json!({"eddystone_uid_namespace": "2818e3868dec25629ede"}),
            false,
            false,
        ),
    ];
    for (criteria, first, second) in cases {
        let mut body = criteria.clone();
        body["name"] = json!("f");
        let f = parse(body).unwrap();
        assert_eq!(
            (f.matches(&ibeacon()), f.matches(&manufacturer())),
            (first, second),
            "{criteria}"
        );
    }
    let eddystone = parse(json!({"name": "e", "eddystone_url": "https://www.abc.com"})).unwrap();
    assert!(eddystone.matches(&json!({"eddystone_url_url": "https://www.abc.com"})));
    assert!(!eddystone.matches(&json!("not an object")));
}

#[test]
fn bad_fields_are_refused_naming_the_field() {
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "ibeacon_uuid": "nope"}), "ibeacon_uuid"),
        (
            json!({"name": "x", "ibeacon_major": 70000}),
            "ibeacon_major",
        ),
        (
            json!({"name": "x", "mfg_company_id": "243"}),
            "mfg_company_id",
        ),
        (
            json!({"name": "x", "eddystone_uid_namespace": "abc"}),
            "eddystone_uid_namespace",
        ),
        (json!({"name": "x", "ap_mac": "zz"}), "ap_mac"),
        (
            json!({"name": "x", "ap_mac": "aa.bb.cc.dd.ee.ff"}),
            "ap_mac",
        ),
        (json!({"name": "x", "ap_mac": "aabbccddeeff0"}), "ap_mac"),
        (json!({"name": "x", "ap_mac": "aa::bbccddeeff"}), "ap_mac"),
        (json!({"name": "x", "rssi": -200}), "rssi"),
        (json!({"name": "x", "disabled": "no"}), "disabled"),
        (json!({"name": "x", "colour": "red"}), "colour"),
    ] {
        let err = parse(body.clone()).unwrap_err();
        assert_eq!(
            (err.status, err.field.as_deref()),
            (422, Some(field)),
            "{body}: {err}"
        );
    }
    assert_eq!(
        parse_assetfilter(b"[1]", &org(), "a", NOW, None)
            .unwrap_err()
            .status,
        400
    );
}

#[test]
fn macs_follow_the_documented_pattern() {
    for (mac, want) in [
        ("AC2316ECA70B", "ac2316eca70b"),
        ("ac:23:16:ec:a7:0b", "ac2316eca70b"),
        ("ac-2316:eca70b", "ac2316eca70b"),
    ] {
        let f = parse(json!({"name": "x", "ap_mac": mac})).unwrap();
        assert_eq!(f.ap_mac.as_deref(), Some(want), "{mac}");
    }
}

#[test]
fn put_is_a_partial_update_and_echoing_changes_nothing() {
    let first = parse(json!({"name": "tags", "ibeacon_major": 2, "rssi": -80})).unwrap();
    let body = json!({"rssi": null, "beam": 3}).to_string();
    let later = NOW + 5.0;
    let second = parse_assetfilter(body.as_bytes(), &org(), "af-1", later, Some(&first)).unwrap();
    assert_eq!(
        (
            second.name.as_str(),
            second.ibeacon_major,
            second.rssi,
            second.beam
        ),
        ("tags", Some(2), None, Some(3))
    );
    assert_eq!((second.created_time, second.modified_time), (NOW, later));
    let echoed = serde_json::to_string(&second).unwrap();
    let third = parse_assetfilter(echoed.as_bytes(), &org(), "af-1", later, Some(&second)).unwrap();
    assert_eq!(third, second);
}
