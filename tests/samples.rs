//! Every Mist sample in `../shared/mist/samples/` goes through the real binary: it ingests
//! with 200 (bare events wrapped in an envelope), and each event read back through the API
//! has its raw JSON intact and the normalised fields a person reading the sample expects.
//!
//! The expectations below were worked out by reading each sample file, not by running the
//! normalisation code, so that this test is an independent check of it. A sample added to
//! `shared/` fails `expectations_cover_every_sample` until its expectation is written here.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use support::{Sample, Server, samples};

/// What the API must show for one event of a sample.
struct Expect {
    org_id: Option<&'static str>,
    site_id: Option<&'static str>,
    /// RFC 3339 UTC with six fraction digits, or `"received"` when the event carries no
    /// usable time (then `time` must equal `received_at`).
    time: &'static str,
    /// The field the time came from, or `"received"`.
    time_source: &'static str,
    event_type: Option<&'static str>,
    mac: Option<&'static str>,
    severity: Option<&'static str>,
}

/// The redacted ids and MACs of the community captures.
const X_ID: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
const X_MAC: &str = "xxxxxxxxxxxx";

/// One row per event of every sample: (file, index of the event in the file, expectation).
///
/// Notes on the less obvious rows:
/// - Spec examples use `0` / `0.0` for "unset" times: those events get the receive time.
///   The audits spec example's `157.68` is a real (if silly) time: 1970-01-01T00:02:37.68Z.
/// - Spec placeholders such as `"string"`, `"mac4"`, `"device_mac4"` are not MACs and are
///   skipped; redacted MACs (`xxxxxxxxxxxx`, `60c78dxxxxxx`) are kept as the sample has them.
/// - `nac-*` captures send milliseconds; the spec examples of the same topics send seconds.
/// - Alarms name their device in `aps`/`switches`, Marvis alarms in
///   `impacted_entities[0].entity_mac` (the DHCP alarm's entity is a WLAN: no MAC).
/// - `client-join`/`client-sessions` captures carry `timestamp`, which wins over
///   `connect_float`/`disconnect_float`; `sdkclient-scan-data` has only `last_seen`,
///   `guest-authorizations` only `authorized_time`.
/// - `occupancy-alerts` keeps org, type and time inside `alert_events`.
/// - `wifi-conn-raw`/`wifi-unconn-raw` carry no time; their client MAC is `client_id`, dashed.
/// - `nac-events__mdm-lookup-success` has `"type": ""`: no type.
#[rustfmt::skip]
const EXPECTED: &[(&str, usize, Expect)] = &[
    ("alarms__ap-bad-cable-marvis_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-13T15:01:42.034243Z", time_source: "timestamp",
        event_type: Some("ap_bad_cable"), mac: Some(X_MAC), severity: Some("critical") }),
    ("alarms__device-restarted_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-15T14:34:37.621725Z", time_source: "timestamp",
        event_type: Some("device_restarted"), mac: Some(X_MAC), severity: Some("info") }),
    ("alarms__dhcp-failure-marvis-minis_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T19:25:26.670963Z", time_source: "timestamp",
        event_type: Some("dhcp_failure"), mac: None, severity: Some("critical") }),
    ("alarms__rogue-ap-detected_juniper-docs.json", 0, Expect {
        org_id: Some("2818e386-8dec-2562-xxxx-xxxxxxxxxxxx"),
        site_id: Some("4ac1dcf4-9d8b-7211-xxxx-xxxxxxxxxxxx"),
        time: "2019-02-02T00:43:22.000000Z", time_source: "timestamp",
        event_type: Some("rogue-ap-detected"), mac: Some("5c5b35xxxxxx"), severity: None }),
    ("alarms__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("a40f5d1f-d889-42e9-94ea-b9b33585fc6b"),
        site_id: Some("72771e6a-6f5e-4de4-a5b9-1266c4197811"),
        time: "received", time_source: "received",
        event_type: Some("string"), mac: None, severity: None }),
    ("alarms__sw-bad-optics_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T04:00:17.536504Z", time_source: "timestamp",
        event_type: Some("sw_bad_optics"), mac: Some(X_MAC), severity: Some("warn") }),
    ("asset-raw-rssi__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("9c3e516c-397d-11e6-ae35-0242ac110008"),
        site_id: Some("27ea2f07-6fe6-4eab-be1b-b8e3ce083d67"),
        time: "2022-08-24T00:25:46.000000Z", time_source: "timestamp",
        event_type: None, mac: Some("ed2cc53f2770"), severity: None }),
    ("asset-raw-rssi__spec-example_mistapi-go.json", 1, Expect {
        org_id: Some("9c3e516c-397d-11e6-ae35-0242ac110008"),
        site_id: Some("27ea2f07-6fe6-4eab-be1b-b8e3ce083d67"),
        time: "2022-08-24T00:25:46.000000Z", time_source: "timestamp",
        event_type: None, mac: Some("ed2cc53f2771"), severity: None }),
    ("audits__accessed-org_pradeepgadde.json", 0, Expect {
        org_id: Some("xxxx0047-ccbb-46b8-a04e-d8240ddxxxxx"), site_id: None,
        time: "2023-09-20T01:02:20.805999Z", time_source: "timestamp",
        event_type: None, mac: None, severity: None }),
    ("audits__add-webhook_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T06:05:17.280930Z", time_source: "timestamp",
        event_type: None, mac: None, severity: None }),
    ("audits__add-webhook_pradeepgadde.json", 0, Expect {
        org_id: Some("xxxx0047-ccbb-46b8-a04e-d8240ddxxxxx"), site_id: None,
        time: "2023-09-20T00:32:47.621590Z", time_source: "timestamp",
        event_type: None, mac: None, severity: None }),
    ("audits__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("00001302-0000-0000-0000-000000000000"),
        site_id: Some("00000290-0000-0000-0000-000000000000"),
        time: "1970-01-01T00:02:37.680000Z", time_source: "timestamp",
        event_type: None, mac: None, severity: None }),
    ("audits__update-site-settings-before-after_openapi-delivery-example.json", 0, Expect {
        org_id: Some("fc7e2967-e7ef-41e6-b007-1217713de05a"),
        site_id: Some("256c3a35-9cb7-436e-bc6d-314972645d95"),
        time: "2023-06-05T09:16:16.923601Z", time_source: "timestamp",
        event_type: None, mac: None, severity: None }),
    ("client-info__ip-mac_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T02:01:42.000000Z", time_source: "timestamp",
        event_type: None, mac: Some(X_MAC), severity: None }),
    ("client-info__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("0c160b7f-1027-4cd1-923b-744534c4b070"),
        site_id: Some("6e77a2ea-d579-471c-9056-5ff5b4ed70ed"),
        time: "2023-12-19T16:28:16.000000Z", time_source: "timestamp",
        event_type: None, mac: Some("6ebaa47a3fd4"), severity: None }),
    ("client-join__connect_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T02:01:42.000000Z", time_source: "timestamp",
        event_type: None, mac: Some(X_MAC), severity: None }),
    ("client-join__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("a40f5d1f-d889-42e9-94ea-b9b33585fc6b"),
        site_id: Some("72771e6a-6f5e-4de4-a5b9-1266c4197811"),
        time: "received", time_source: "received",
        event_type: None, mac: None, severity: None }),
    ("client-join__wifi-connect_pradeepgadde.json", 0, Expect {
        org_id: Some("xxxx0047-ccbb-46b8-a04e-d8240ddxxxxx"),
        site_id: Some("xxxxxx0a4-2770-47b6-93b1-87114bxxxx"),
        time: "2023-09-20T01:17:45.000000Z", time_source: "timestamp",
        event_type: None, mac: Some("xxdd8e7508xx"), severity: None }),
    ("client-latency__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("2818e386-8dec-2562-9ede-5b8a0fbbdc71"),
        site_id: Some("4ac1dcf4-9d8b-7211-65c4-057819f0862b"),
        time: "2023-10-04T06:40:00.000000Z", time_source: "timestamp",
        event_type: None, mac: None, severity: None }),
    ("client-sessions__disconnect_pradeepgadde.json", 0, Expect {
        org_id: Some("xxxx0047-ccbb-46b8-a04e-d8240ddxxxxx"),
        site_id: Some("xxxxxx0a4-2770-47b6-93b1-87114bxxxx"),
        time: "2023-09-20T05:56:14.000000Z", time_source: "timestamp",
        event_type: None, mac: Some("xxdd8e7508xx"), severity: None }),
    ("client-sessions__roam-termination3_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T03:11:17.000000Z", time_source: "timestamp",
        event_type: None, mac: Some(X_MAC), severity: None }),
    ("client-sessions__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("a40f5d1f-d889-42e9-94ea-b9b33585fc6b"),
        site_id: Some("72771e6a-6f5e-4de4-a5b9-1266c4197811"),
        time: "received", time_source: "received",
        event_type: None, mac: None, severity: None }),
    ("device-events__ap-config-changed-by-user_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T05:26:02.000000Z", time_source: "timestamp",
        event_type: Some("AP_CONFIG_CHANGED_BY_USER"), mac: Some(X_MAC), severity: Some("notice") }),
    ("device-events__ap-radar-detected-extra-fields_lukeroberson.json", 0, Expect {
        org_id: None, site_id: None,
        time: "received", time_source: "received",
        event_type: None, mac: None, severity: None }),
    ("device-events__connectivity-test-marvis_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-04T21:38:17.000000Z", time_source: "timestamp",
        event_type: Some("CONNECTIVITY_TEST"), mac: Some(X_MAC), severity: None }),
    ("device-events__gw-config-changed-by-user_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T05:26:02.000000Z", time_source: "timestamp",
        event_type: Some("GW_CONFIG_CHANGED_BY_USER"), mac: Some(X_MAC), severity: Some("notice") }),
    ("device-events__rrm-action-and-configured_pradeepgadde.json", 0, Expect {
        org_id: Some("xxxx0047-ccbb-46b8-a04e-d8240ddxxxxx"),
        site_id: Some("xxxxxx0a4-2770-47b6-93b1-87114bxxxx"),
        time: "2023-09-20T00:36:20.000000Z", time_source: "timestamp",
        event_type: Some("AP_RRM_ACTION"), mac: Some("xx2316ed6axx"), severity: Some("notice") }),
    ("device-events__rrm-action-and-configured_pradeepgadde.json", 1, Expect {
        org_id: Some("xxxx0047-ccbb-46b8-a04e-d8240ddxxxxx"),
        site_id: Some("xxxxxx0a4-2770-47b6-93b1-87114bxxxx"),
        time: "2023-09-20T00:36:20.000000Z", time_source: "timestamp",
        event_type: Some("AP_CONFIG_CHANGED_BY_RRM"), mac: Some("xx2316ed6axx"), severity: Some("notice") }),
    ("device-events__rrm-action-and-configured_pradeepgadde.json", 2, Expect {
        org_id: Some("xxxx0047-ccbb-46b8-a04e-d8240ddxxxxx"),
        site_id: Some("xxxxxx0a4-2770-47b6-93b1-87114bxxxx"),
        time: "2023-09-20T00:36:21.000000Z", time_source: "timestamp",
        event_type: Some("AP_CONFIGURED"), mac: Some("xx2316ed6axx"), severity: Some("notice") }),
    ("device-events__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("a40f5d1f-d889-42e9-94ea-b9b33585fc6b"),
        site_id: Some("72771e6a-6f5e-4de4-a5b9-1266c4197811"),
        time: "received", time_source: "received",
        event_type: Some("string"), mac: None, severity: Some("notice") }),
    ("device-events__sw-disconnected_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-04T23:46:33.000000Z", time_source: "timestamp",
        event_type: Some("SW_DISCONNECTED"), mac: Some("60c78dxxxxxx"), severity: None }),
    ("device-events__sw-port-down_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-04T21:40:44.000000Z", time_source: "timestamp",
        event_type: Some("SW_PORT_DOWN"), mac: Some("50c709xxxxxx"), severity: None }),
    ("device-updowns__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("a40f5d1f-d889-42e9-94ea-b9b33585fc6b"),
        site_id: Some("72771e6a-6f5e-4de4-a5b9-1266c4197811"),
        time: "received", time_source: "received",
        event_type: Some("string"), mac: None, severity: None }),
    ("discovered-raw-rssi__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("a40f5d1f-d889-42e9-94ea-b9b33585fc6b"),
        site_id: Some("72771e6a-6f5e-4de4-a5b9-1266c4197811"),
        time: "received", time_source: "received",
        event_type: None, mac: None, severity: None }),
    ("guest-authorizations__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("1688605f-916a-47a1-8c68-f19618300a08"),
        site_id: Some("ec3b5624-73f1-4ed3-b3fd-5ba3ee40368a"),
        time: "2023-02-22T14:35:19.000000Z", time_source: "authorized_time",
        event_type: None, mac: Some("ac2316eca70a"), severity: None }),
    ("location-asset__spec-example_mistapi-go.json", 0, Expect {
        org_id: None, site_id: Some("4ac1dcf4-9d8b-7211-65c4-057819f0862b"),
        time: "2016-04-21T06:39:44.000000Z", time_source: "timestamp",
        event_type: Some("asset"), mac: Some("7fc2936fd243"), severity: None }),
    ("location-centrak__spec-example_mistapi-go.json", 0, Expect {
        org_id: None, site_id: Some("4ac1dcf4-9d8b-7211-65c4-057819f0862b"),
        time: "2016-04-21T06:39:44.000000Z", time_source: "timestamp",
        event_type: Some("wifi"), mac: Some("5684dae9ac8b"), severity: None }),
    ("location-client__spec-example_mistapi-go.json", 0, Expect {
        org_id: None, site_id: Some("4ac1dcf4-9d8b-7211-65c4-057819f0862b"),
        time: "2016-04-21T06:39:44.000000Z", time_source: "timestamp",
        event_type: Some("wifi"), mac: Some("5684dae9ac8b"), severity: None }),
    ("location-sdk__spec-example_mistapi-go.json", 0, Expect {
        org_id: None, site_id: Some("4ac1dcf4-9d8b-7211-65c4-057819f0862b"),
        time: "2016-04-21T06:39:44.000000Z", time_source: "timestamp",
        event_type: Some("sdk"), mac: None, severity: None }),
    ("location-unclient__spec-example_mistapi-go.json", 0, Expect {
        org_id: None, site_id: Some("4ac1dcf4-9d8b-7211-65c4-057819f0862b"),
        time: "2016-04-21T06:39:44.000000Z", time_source: "timestamp",
        event_type: Some("wifi"), mac: Some("5684dae9ac8b"), severity: None }),
    ("location__spec-example_mistapi-go.json", 0, Expect {
        org_id: None, site_id: Some("72771e6a-6f5e-4de4-a5b9-1266c4197811"),
        time: "received", time_source: "received",
        event_type: Some("string"), mac: None, severity: None }),
    ("location__wifi_lukeroberson.json", 0, Expect {
        org_id: None, site_id: Some(X_ID),
        time: "2025-06-05T06:58:48.000000Z", time_source: "timestamp",
        event_type: Some("wifi"), mac: Some(X_MAC), severity: None }),
    ("minis-application__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("8aa21779-1178-4357-b3e0-42c02b93b870"),
        site_id: Some("2bf12442-1558-41bd-849e-738d6d4aa1a3"),
        time: "2026-04-08T09:41:59.000000Z", time_source: "timestamp",
        event_type: None, mac: Some("003e7316fd96"), severity: None }),
    ("minis-reachability__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("203d3d02-dbc0-4c1b-9f41-76896a3330f4"),
        site_id: Some("4ac1dcf4-9d8b-7211-65c4-057819f0862b"),
        time: "2019-01-11T19:40:20.890000Z", time_source: "timestamp",
        event_type: None, mac: Some("7cb68d8f0440"), severity: None }),
    ("mxedge-events__config-changed-by-user_pradeepgadde.json", 0, Expect {
        org_id: Some("xxxx0047-ccbb-46b8-a04e-d8240ddxxxxx"), site_id: None,
        time: "2023-09-20T07:14:01.635342Z", time_source: "timestamp",
        event_type: Some("ME_CONFIG_CHANGED_BY_USER"), mac: None, severity: None }),
    ("mxedge-events__config-changed-by-user_pradeepgadde.json", 1, Expect {
        org_id: Some("xxxx0047-ccbb-46b8-a04e-d8240ddxxxxx"), site_id: None,
        time: "2023-09-20T07:14:01.638763Z", time_source: "timestamp",
        event_type: Some("ME_CONFIG_CHANGED_BY_USER"), mac: None, severity: None }),
    ("mxedge-events__config-changed-by-user_pradeepgadde.json", 2, Expect {
        org_id: Some("xxxx0047-ccbb-46b8-a04e-d8240ddxxxxx"), site_id: None,
        time: "2023-09-20T07:14:01.642188Z", time_source: "timestamp",
        event_type: Some("ME_CONFIG_CHANGED_BY_USER"), mac: None, severity: None }),
    ("mxedge-events__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("203d3d02-dbc0-4c1b-9f41-76896a3330f4"), site_id: None,
        time: "2025-11-19T10:07:56.209649Z", time_source: "timestamp",
        event_type: Some("ME_CONFIG_CHANGED_BY_USER"), mac: None, severity: None }),
    ("mxedge-events__spec-example_mistapi-go.json", 1, Expect {
        org_id: Some("203d3d02-dbc0-4c1b-9f41-76896a3330f4"), site_id: None,
        time: "2025-11-19T10:07:56.417778Z", time_source: "timestamp",
        event_type: Some("ME_CONFIG_CHANGED_BY_USER"), mac: None, severity: None }),
    ("nac-accounting__accounting-start_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T00:43:49.888000Z", time_source: "timestamp",
        event_type: Some("NAC_ACCOUNTING_START"), mac: Some(X_MAC), severity: None }),
    ("nac-accounting__accounting-stop_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T00:43:42.950000Z", time_source: "timestamp",
        event_type: Some("NAC_ACCOUNTING_STOP"), mac: Some(X_MAC), severity: None }),
    ("nac-accounting__accounting-update_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T01:29:21.066000Z", time_source: "timestamp",
        event_type: Some("NAC_ACCOUNTING_UPDATE"), mac: Some("cc96e5xxxxxx"), severity: None }),
    ("nac-accounting__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("625aba64-fe72-4b14-8985-cbf31ec3d78a"),
        site_id: Some("ec9d1e85-af24-43f9-8d65-d620580e8631"),
        time: "2019-01-11T19:40:20.890000Z", time_source: "timestamp",
        event_type: Some("NAC_ACCOUNTING_STOP"), mac: Some("6e795836d5f9"), severity: None }),
    ("nac-events__client-cert-check-failure_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T21:22:31.781000Z", time_source: "timestamp",
        event_type: Some("NAC_CLIENT_CERT_CHECK_FAILURE"), mac: Some(X_MAC), severity: None }),
    ("nac-events__client-cert-check-success_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T00:32:38.853000Z", time_source: "timestamp",
        event_type: Some("NAC_CLIENT_CERT_CHECK_SUCCESS"), mac: Some(X_MAC), severity: None }),
    ("nac-events__client-coa-reauth_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T02:22:45.143000Z", time_source: "timestamp",
        event_type: Some("NAC_CLIENT_COA_REAUTH"), mac: Some(X_MAC), severity: None }),
    ("nac-events__client-deny_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T00:33:43.737000Z", time_source: "timestamp",
        event_type: Some("NAC_CLIENT_DENY"), mac: Some(X_MAC), severity: None }),
    ("nac-events__client-ip-assigned_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T01:28:52.927000Z", time_source: "timestamp",
        event_type: Some("NAC_CLIENT_IP_ASSIGNED"), mac: Some(X_MAC), severity: None }),
    ("nac-events__client-permit_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T00:32:38.858000Z", time_source: "timestamp",
        event_type: Some("NAC_CLIENT_PERMIT"), mac: Some(X_MAC), severity: None }),
    ("nac-events__idp-authc-success_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T01:46:25.403000Z", time_source: "timestamp",
        event_type: Some("NAC_IDP_AUTHC_SUCCESS"), mac: Some(X_MAC), severity: None }),
    ("nac-events__idp-groups-lookup-failure_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T01:29:04.908000Z", time_source: "timestamp",
        event_type: Some("NAC_IDP_GROUPS_LOOKUP_FAILURE"), mac: Some(X_MAC), severity: None }),
    ("nac-events__idp-groups-lookup-success_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T00:32:38.853000Z", time_source: "timestamp",
        event_type: Some("NAC_IDP_GROUPS_LOOKUP_SUCCESS"), mac: Some(X_MAC), severity: None }),
    ("nac-events__mdm-lookup-failure_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-10T21:58:30.466000Z", time_source: "timestamp",
        event_type: Some("NAC_MDM_LOOKUP_FAILURE"), mac: Some(X_MAC), severity: None }),
    ("nac-events__mdm-lookup-success_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T00:32:39.682000Z", time_source: "timestamp",
        event_type: None, mac: Some(X_MAC), severity: None }),
    ("nac-events__server-cert-validation-success_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T00:32:38.851000Z", time_source: "timestamp",
        event_type: Some("NAC_SERVER_CERT_VALIDATION_SUCCESS"), mac: Some(X_MAC), severity: None }),
    ("nac-events__session-ended_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T01:44:12.442000Z", time_source: "timestamp",
        event_type: Some("NAC_SESSION_ENDED"), mac: Some(X_MAC), severity: None }),
    ("nac-events__session-started_lukeroberson.json", 0, Expect {
        org_id: Some(X_ID), site_id: Some(X_ID),
        time: "2025-06-05T01:40:56.836000Z", time_source: "timestamp",
        event_type: Some("NAC_SESSION_STARTED"), mac: Some(X_MAC), severity: None }),
    ("nac-events__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("27547ac2-d114-4e04-beb1-f3f1e6e81ec6"),
        site_id: Some("441a1214-6928-442a-8e92-e1d34b8ec6a6"),
        time: "2023-08-08T16:27:11.358188Z", time_source: "timestamp",
        event_type: Some("NAC_CLIENT_PERMIT"), mac: Some("ac3eb179e535"), severity: None }),
    ("occupancy-alerts__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("a40f5d1f-d889-42e9-94ea-b9b33585fc6b"),
        site_id: Some("72771e6a-6f5e-4de4-a5b9-1266c4197811"),
        time: "received", time_source: "received",
        event_type: Some("COMPLIANCE-VIOLATION"), mac: None, severity: None }),
    ("ping__delivery-test_postman-doc.json", 0, Expect {
        org_id: None, site_id: Some("21134243-0667-44ae-8f58-42b640ad39bb"),
        time: "2023-06-05T17:12:39.010221Z", time_source: "timestamp",
        event_type: None, mac: None, severity: None }),
    ("ping__spec-example_mistapi-go.json", 0, Expect {
        org_id: None, site_id: Some("72771e6a-6f5e-4de4-a5b9-1266c4197811"),
        time: "received", time_source: "received",
        event_type: None, mac: None, severity: None }),
    ("rssizone__spec-example_mistapi-go.json", 0, Expect {
        org_id: None, site_id: Some("f5fcbee5-fbca-45b3-xxxx-xxxxxxxxxxxx"),
        time: "2023-09-08T07:43:10.986472Z", time_source: "timestamp",
        event_type: Some("wifi"), mac: Some("500291xxxxxx"), severity: None }),
    ("sdkclient-scan-data__spec-example_mistapi-go.json", 0, Expect {
        org_id: None, site_id: Some("93986f10-773b-42be-9438-8d3e6d127f1a"),
        time: "2020-06-16T18:57:08.000000Z", time_source: "last_seen",
        event_type: None, mac: Some("70ef0071535f"), severity: None }),
    ("site-sle__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("2818e386-8dec-2562-9ede-5b8a0fbbdc71"),
        site_id: Some("4ac1dcf4-9d8b-7211-65c4-057819f0862b"),
        time: "2023-09-13T16:00:00.000000Z", time_source: "timestamp",
        event_type: None, mac: None, severity: None }),
    ("wifi-conn-raw__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("9c3e516c-397d-11e6-ae35-0242ac110008"),
        site_id: Some("27ea2f07-6fe6-4eab-be1b-b8e3ce083d67"),
        time: "received", time_source: "received",
        event_type: None, mac: Some("28f0762d221e"), severity: None }),
    ("wifi-conn-raw__spec-example_mistapi-go.json", 1, Expect {
        org_id: Some("9c3e516c-397d-11e6-ae35-0242ac110008"),
        site_id: Some("27ea2f07-6fe6-4eab-be1b-b8e3ce083d67"),
        time: "received", time_source: "received",
        event_type: None, mac: Some("38f9d399086e"), severity: None }),
    ("wifi-unconn-raw__spec-example_mistapi-go.json", 0, Expect {
        org_id: Some("9c3e516c-397d-11e6-ae35-0242ac110008"),
        site_id: Some("27ea2f07-6fe6-4eab-be1b-b8e3ce083d67"),
        time: "received", time_source: "received",
        event_type: None, mac: Some("28f0762d221e"), severity: None }),
    ("wifi-unconn-raw__spec-example_mistapi-go.json", 1, Expect {
        org_id: Some("9c3e516c-397d-11e6-ae35-0242ac110008"),
        site_id: Some("27ea2f07-6fe6-4eab-be1b-b8e3ce083d67"),
        time: "received", time_source: "received",
        event_type: None, mac: Some("38f9d399086e"), severity: None }),
    ("zone__exit-wifi_lukeroberson.json", 0, Expect {
        org_id: None, site_id: Some(X_ID),
        time: "2025-06-05T21:29:05.011006Z", time_source: "timestamp",
        event_type: Some("wifi"), mac: Some(X_MAC), severity: None }),
    ("zone__spec-example_mistapi-go.json", 0, Expect {
        org_id: None, site_id: Some("72771e6a-6f5e-4de4-a5b9-1266c4197811"),
        time: "received", time_source: "received",
        event_type: Some("wifi"), mac: None, severity: None }),
];

fn expectation(file: &str, index: usize) -> Option<&'static Expect> {
    EXPECTED
        .iter()
        .find(|(f, i, _)| *f == file && *i == index)
        .map(|(_, _, e)| e)
}

/// The canonical topic name: lowercase, hyphenated (the sample files are named with it).
fn canonical_topic(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('_', "-")
}

fn opt(v: Option<&str>) -> Value {
    v.map_or(Value::Null, Value::from)
}

#[test]
fn expectations_cover_every_sample() {
    let samples = samples();
    assert!(
        !samples.is_empty(),
        "no samples found in shared/mist/samples"
    );
    let in_samples: BTreeSet<&str> = samples.iter().map(|s| s.file.as_str()).collect();
    let in_table: BTreeSet<&str> = EXPECTED.iter().map(|(f, _, _)| *f).collect();
    let missing: Vec<_> = in_samples.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_samples).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "samples without an expectation: {missing:?}; expectations without a sample: {stale:?}"
    );

    let mut rows = BTreeSet::new();
    for (file, index, _) in EXPECTED {
        assert!(
            rows.insert((*file, *index)),
            "{file} event {index}: listed twice"
        );
    }
    for sample in &samples {
        for index in 0..sample.events.len() {
            assert!(
                expectation(&sample.file, index).is_some(),
                "{} event {index}: no expectation (the file has {} events)",
                sample.file,
                sample.events.len()
            );
        }
        for (file, index, _) in EXPECTED.iter().filter(|(f, _, _)| *f == sample.file) {
            assert!(
                *index < sample.events.len(),
                "{file} event {index}: the file has only {} events",
                sample.events.len()
            );
        }
    }
}

/// Failures of one sample, each naming the file, the event and the field.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, what: String, expected: &Value, got: &Value) {
        if expected != got {
            self.0
                .push(format!("{what}: expected {expected}, got {got}"));
        }
    }
}

#[tokio::test]
async fn every_sample_ingests_and_reads_back_as_expected() {
    // One server for every sample: a sample repeating an event already stored by an earlier
    // one is reported as a duplicate, and is looked up through the request's `duplicate_of`.
    let server = Server::start();
    let mut failures = Failures::default();
    for sample in samples() {
        check_sample(&server, &sample, &mut failures).await;
    }
    assert!(
        failures.0.is_empty(),
        "{} failures:\n{}",
        failures.0.len(),
        failures.0.join("\n")
    );
}

async fn check_sample(server: &Server, sample: &Sample, failures: &mut Failures) {
    let file = &sample.file;
    let (status, answer) = server.ingest("default", sample.body.clone(), &[]).await;
    if status != 200 {
        failures
            .0
            .push(format!("{file}: ingest answered {status}: {answer}"));
        return;
    }
    let accepted = answer["accepted"].as_u64().unwrap_or(u64::MAX);
    let duplicates = answer["duplicates"].as_u64().unwrap_or(u64::MAX);
    if accepted.checked_add(duplicates) != Some(sample.events.len() as u64) {
        failures.0.push(format!(
            "{file}: accepted + duplicates != {} events: {answer}",
            sample.events.len()
        ));
        return;
    }
    let request_id = answer["request_id"].as_i64().expect("request_id");
    let request = server.api_ok(&format!("/requests/{request_id}")).await;
    let ids = |key: &str| -> Vec<i64> {
        request[key]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: request {key} is not a list: {request}"))
            .iter()
            .map(|id| id.as_i64().expect("event id"))
            .collect()
    };
    let (stored, repeated) = (ids("events"), ids("duplicate_of"));
    if stored.len() as u64 != accepted || repeated.len() as u64 != duplicates {
        failures.0.push(format!(
            "{file}: request lists {} events and {} duplicates, ingest said {accepted} and {duplicates}",
            stored.len(),
            repeated.len()
        ));
    }

    // Every event this request stored or repeated, by id.
    let mut views = BTreeMap::new();
    for id in stored.iter().chain(&repeated) {
        let view = server.api_ok(&format!("/events/{id}")).await;
        if stored.contains(id) && view["request_id"] != request_id {
            failures.0.push(format!(
                "{file}: event {id} is listed by request {request_id} but says request_id {}",
                view["request_id"]
            ));
        }
        views.insert(*id, view);
    }

    for (index, event) in sample.events.iter().enumerate() {
        let at = format!("{file} event {index}");
        // The stored event whose raw JSON equals this one (duplicates share one row).
        let Some(view) = views.values().find(|v| &v["raw"] == event) else {
            failures.0.push(format!(
                "{at}: no event of request {request_id} has this raw JSON; stored raws: {:?}",
                views
                    .values()
                    .map(|v| v["raw"].to_string())
                    .collect::<Vec<_>>()
            ));
            continue;
        };
        failures.check(
            format!("{at}: topic"),
            &Value::from(canonical_topic(&sample.topic)),
            &view["topic"],
        );
        failures.check(
            format!("{at}: source"),
            &Value::from("default"),
            &view["source"],
        );
        let Some(expect) = expectation(file, index) else {
            failures.0.push(format!("{at}: no expectation in EXPECTED"));
            continue;
        };
        failures.check(
            format!("{at}: org_id"),
            &opt(expect.org_id),
            &view["org_id"],
        );
        failures.check(
            format!("{at}: site_id"),
            &opt(expect.site_id),
            &view["site_id"],
        );
        failures.check(
            format!("{at}: type"),
            &opt(expect.event_type),
            &view["type"],
        );
        failures.check(format!("{at}: mac"), &opt(expect.mac), &view["mac"]);
        failures.check(
            format!("{at}: severity"),
            &opt(expect.severity),
            &view["severity"],
        );
        failures.check(
            format!("{at}: time_source"),
            &Value::from(expect.time_source),
            &view["time_source"],
        );
        if expect.time == "received" {
            failures.check(
                format!("{at}: time (no event time, so the receive time)"),
                &view["received_at"],
                &view["time"],
            );
        } else {
            failures.check(
                format!("{at}: time"),
                &Value::from(expect.time),
                &view["time"],
            );
        }
    }
}
