//! Reading a JSON body field by field, with errors that name the field: what the webhook
//! and asset filter objects share.

use serde_json::{Map, Value};

use super::Invalid;

/// Removes `field`; `null` and absence are both `None`.
pub(super) fn take(obj: &mut Map<String, Value>, field: &str) -> Option<Value> {
    obj.remove(field).filter(|v| !v.is_null())
}

pub(super) fn take_string(
    obj: &mut Map<String, Value>,
    field: &str,
) -> Result<Option<String>, Invalid> {
    match take(obj, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Invalid::field(field, "must be a string")),
    }
}

pub(super) fn take_bool(
    obj: &mut Map<String, Value>,
    field: &str,
) -> Result<Option<bool>, Invalid> {
    match take(obj, field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(_) => Err(Invalid::field(field, "must be a boolean")),
    }
}

pub(super) fn take_string_list(
    obj: &mut Map<String, Value>,
    field: &str,
) -> Result<Vec<String>, Invalid> {
    match take(obj, field) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                _ => Err(Invalid::field(field, "must be an array of strings")),
            })
            .collect(),
        Some(_) => Err(Invalid::field(field, "must be an array of strings")),
    }
}

/// An integer within `range`; `null` and absence are `None`.
pub(super) fn take_int(
    obj: &mut Map<String, Value>,
    field: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, Invalid> {
    match take(obj, field) {
        None => Ok(None),
        // JSON Schema's integers include numbers written with a zero fraction (`5.0`).
        Some(v) => v
            .as_i64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                    .map(|f| f as i64)
            })
            .filter(|n| range.contains(n))
            .map(Some)
            .ok_or_else(|| {
                Invalid::field(
                    field,
                    format!(
                        "must be an integer from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}
