//! Strategies shared by the property tests of several modules.

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys that the normaliser and the views look at, mixed with arbitrary ones so that
/// generated objects often hit the interesting paths.
const KEYS: &[&str] = &[
    "timestamp",
    "last_seen",
    "authorized_time",
    "connect_float",
    "disconnect_float",
    "alert_events",
    "type",
    "org_id",
    "site_id",
    "mac",
    "client_id",
    "ap",
    "aps",
    "severity",
    "ev_type",
    "duration",
    "random_mac",
    "rssi",
];

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Few significant digits, so that printing and re-parsing is exact without
        // serde_json's `float_roundtrip` feature.
        (any::<i32>(), 0i32..7).prop_map(|(m, e)| Value::from(f64::from(m) / 10f64.powi(e))),
        Just(Value::from(1749998077.6217253)),
        (0u64..4_000_000_000_000_000_000).prop_map(Value::from),
        "[0-9]{0,20}(\\.[0-9]{0,9})?".prop_map(Value::String),
        "[0-9a-fA-F:.-]{0,20}".prop_map(Value::String),
        "\\PC{0,12}".prop_map(Value::String),
        Just(Value::String("2025-06-15T14:25:19".into())),
    ]
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(KEYS).prop_map(str::to_owned),
        "\\PC{0,6}",
    ]
}

/// Arbitrary JSON values, nested a few levels deep.
pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((arb_key(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Arbitrary JSON objects, the shape every Mist event has.
pub(crate) fn arb_event() -> impl Strategy<Value = Value> {
    proptest::collection::vec((arb_key(), arb_json()), 0..10)
        .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>()))
}
