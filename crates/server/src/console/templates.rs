//! The console's templates, compiled into the binary, and the filters they use.
//!
//! minijinja escapes every value for HTML (the templates end in `.html`); the one place a
//! template writes markup it did not get from a template is a chart, which `chart.rs`
//! builds from numbers and escaped labels and marks safe.

use std::sync::LazyLock;

use minijinja::{Environment, Value};

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../console/templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "base.html",
    "macros.html",
    "error.html",
    "login.html",
    "overview.html",
    "tail.html",
    "events.html",
    "event.html",
    "devices.html",
    "device.html",
    "incidents.html",
    "incident.html",
    "silences.html",
    "deliveries.html",
    "destination.html",
    "quarantine.html",
    "quarantined.html",
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("console template {name}: {e:#}"));
    }
    env.add_filter("dt", dt);
    env.add_filter("short", short);
    env.add_filter("mac", mac);
    env.add_filter("count", count);
    env
});

/// Renders template `name`; a template error is logged and shown as a plain message (it
/// is a bug, and the tests render every page).
pub fn render(name: &str, ctx: Value) -> String {
    match ENV.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(template = name, error = %format!("{e:#}"), "a console template failed");
            "<!doctype html><title>mistgate</title><p>This page could not be rendered; the server log says why.</p>".into()
        }
    }
}

/// `2026-12-07T01:02:03.123456Z` → `2026-12-07 01:02:03`: an RFC 3339 time as a person
/// reads it (UTC; the page's script shows it in local time and as "5 min ago").
fn dt(value: Option<String>) -> String {
    let Some(v) = value else {
        return "—".into();
    };
    match (v.get(..10), v.get(11..19)) {
        (Some(day), Some(clock)) if v.as_bytes().get(10) == Some(&b'T') => {
            format!("{day} {clock}")
        }
        _ => v,
    }
}

/// The first 8 characters of an id.
fn short(value: String) -> String {
    value.chars().take(8).collect()
}

/// `5c5b350e55c8` → `5c:5b:35:0e:55:c8`; anything else unchanged.
fn mac(value: String) -> String {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        value
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(":")
    } else {
        value
    }
}

/// A count with thousands separators.
fn count(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES {
            ENV.get_template(name).expect(name);
        }
    }

    #[test]
    fn filters_format_for_people() {
        assert_eq!(
            dt(Some("2026-12-07T01:02:03.123456Z".into())),
            "2026-12-07 01:02:03"
        );
        assert_eq!(dt(Some("garbage".into())), "garbage");
        assert_eq!(dt(None), "—");
        assert_eq!(mac("5c5b350e55c8".into()), "5c:5b:35:0e:55:c8");
        assert_eq!(mac("mxedge-1".into()), "mxedge-1");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-12), "-12");
        assert_eq!(count(999), "999");
        assert_eq!(short("abcdefghij".into()), "abcdefgh");
    }

    #[test]
    fn values_are_escaped() {
        let html = render(
            "error.html",
            minijinja::context! { title => "x", status => 400, code => "c", detail => "<script>alert(1)</script>" },
        );
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }
}
