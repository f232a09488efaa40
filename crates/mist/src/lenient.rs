//! Reading JSON fields that Mist does not always type as its schemas say.
//!
//! Captured payloads send booleans as strings (`"random_mac": "false"` in NAC topics),
//! numbers as strings (`"timestamp": "1695194041.635342"` in `mxedge-events`), floats where
//! the schema says integer (`duration` in `client-sessions`), and the band as `"5"` or `5`.
//! A field of the wrong type must not make a whole event unreadable, so every typed view in
//! [`crate::views`] reads its fields through [`FromLenient`]: what can be understood is
//! converted, anything else becomes `None`.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Conversion from a JSON value that accepts the spellings Mist really sends.
///
/// ```
/// use mist::lenient::FromLenient;
/// use serde_json::json;
/// assert_eq!(bool::from_lenient(&json!("TRUE")), Some(true));
/// assert_eq!(f64::from_lenient(&json!("17.5")), Some(17.5));
/// assert_eq!(i64::from_lenient(&json!(3.0)), Some(3));
/// assert_eq!(f64::from_lenient(&json!({})), None);
/// ```
pub trait FromLenient: Sized {
    /// Converts `value`, or returns `None` when it cannot mean a `Self`.
    fn from_lenient(value: &Value) -> Option<Self>;
}

/// Strings as sent (even empty); numbers as their JSON text, since ids such as `vlan` come
/// both ways. Booleans, arrays, objects and null are not strings.
impl FromLenient for String {
    fn from_lenient(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// Finite numbers, and strings that hold one.
impl FromLenient for f64 {
    fn from_lenient(value: &Value) -> Option<Self> {
        let f = match value {
            Value::Number(n) => n.as_f64()?,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        f.is_finite().then_some(f)
    }
}

/// Integers, floats with no fractional part, and strings that hold either.
impl FromLenient for i64 {
    fn from_lenient(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) => n.as_i64().or_else(|| whole_f64(n.as_f64()?)),
            Value::String(s) => {
                let s = s.trim();
                s.parse().ok().or_else(|| whole_f64(s.parse().ok()?))
            }
            _ => None,
        }
    }
}

fn whole_f64(f: f64) -> Option<i64> {
    // 2^63 is the first f64 past i64::MAX; below it every whole f64 converts exactly.
    let in_range = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f);
    (in_range && f.fract() == 0.0).then_some(f as i64)
}

/// `true`/`false`, the strings `"true"`/`"false"` in any case (also `"1"`/`"0"`), and the
/// numbers 1 and 0.
impl FromLenient for bool {
    fn from_lenient(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64()? {
                1 => Some(true),
                0 => Some(false),
                _ => None,
            },
            Value::String(s) => {
                let s = s.trim();
                if s.eq_ignore_ascii_case("true") || s == "1" {
                    Some(true)
                } else if s.eq_ignore_ascii_case("false") || s == "0" {
                    Some(false)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// Any value but `null`, unchanged: for fields whose type varies (`last_seen`, `band`,
/// `details`).
impl FromLenient for Value {
    fn from_lenient(value: &Value) -> Option<Self> {
        (!value.is_null()).then(|| value.clone())
    }
}

/// Arrays, keeping the elements that convert and dropping the others.
impl<T: FromLenient> FromLenient for Vec<T> {
    fn from_lenient(value: &Value) -> Option<Self> {
        Some(
            value
                .as_array()?
                .iter()
                .filter_map(T::from_lenient)
                .collect(),
        )
    }
}

/// A serde `deserialize_with` function for `Option<T>` fields: never fails on a field of
/// the wrong type, it yields `None` instead.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Session {
///     #[serde(default, deserialize_with = "mist::lenient::deserialize")]
///     duration: Option<f64>,
/// }
/// let s: Session = serde_json::from_str(r#"{"duration": "abc"}"#).unwrap();
/// assert_eq!(s.duration, None);
/// ```
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromLenient,
{
    let value = Value::deserialize(deserializer)?;
    Ok(T::from_lenient(&value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings() {
        assert_eq!(String::from_lenient(&json!("x")), Some("x".into()));
        assert_eq!(String::from_lenient(&json!(750)), Some("750".into()));
        assert_eq!(String::from_lenient(&json!(true)), None);
        assert_eq!(String::from_lenient(&json!(null)), None);
    }

    #[test]
    fn floats() {
        assert_eq!(
            f64::from_lenient(&json!(16709.393960068)),
            Some(16709.393960068)
        );
        assert_eq!(f64::from_lenient(&json!(17)), Some(17.0));
        assert_eq!(f64::from_lenient(&json!(" -57 ")), Some(-57.0));
        assert_eq!(f64::from_lenient(&json!("abc")), None);
        assert_eq!(f64::from_lenient(&json!("NaN")), None);
        assert_eq!(f64::from_lenient(&json!("inf")), None);
        assert_eq!(f64::from_lenient(&json!([1])), None);
    }

    #[test]
    fn integers() {
        assert_eq!(i64::from_lenient(&json!(3)), Some(3));
        assert_eq!(i64::from_lenient(&json!(3.0)), Some(3));
        assert_eq!(i64::from_lenient(&json!(3.5)), None);
        assert_eq!(i64::from_lenient(&json!("42")), Some(42));
        assert_eq!(i64::from_lenient(&json!("42.0")), Some(42));
        assert_eq!(i64::from_lenient(&json!(u64::MAX)), None);
        assert_eq!(i64::from_lenient(&json!(1e300)), None);
        assert_eq!(i64::from_lenient(&json!(false)), None);
    }

    #[test]
    fn booleans() {
        for (v, expected) in [
            (json!(true), Some(true)),
            (json!("true"), Some(true)),
            (json!("TRUE"), Some(true)),
            (json!("1"), Some(true)),
            (json!(1), Some(true)),
            (json!(false), Some(false)),
            (json!("False"), Some(false)),
            (json!(0), Some(false)),
            (json!(2), None),
            (json!("yes"), None),
            (json!({}), None),
        ] {
            assert_eq!(bool::from_lenient(&v), expected, "{v}");
        }
    }

    #[test]
    fn lists_keep_what_converts() {
        assert_eq!(
            Vec::<String>::from_lenient(&json!(["a", 1, {}, null])),
            Some(vec!["a".to_owned(), "1".to_owned()])
        );
        assert_eq!(Vec::<String>::from_lenient(&json!("a")), None);
    }

    #[test]
    fn values_skip_null() {
        assert_eq!(Value::from_lenient(&json!(null)), None);
        assert_eq!(Value::from_lenient(&json!("5")), Some(json!("5")));
    }
}
