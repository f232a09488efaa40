//! Route config: any text as the `[targets.*]` and `[[routes]]` of `mistgate.toml`, plus
//! optional `[[subjects]]` (events or incident changes to route).
//!
//! Asserts: parsing and compiling never panic; a target config that parses either passes
//! its check or says why; a compile error names the first bad route (its index and name;
//! the routes before it compile, and the same error comes back with the routes after it
//! left out) and has a message. For compiled routes and every subject (those given, plus
//! one built from each route's own first values): the answer is the same twice, names only
//! defined targets, each once; quiet incidents go nowhere unless resolved; the answer is
//! what walking the rules one by one gives (every matching rule adds its targets; the first
//! match that does not `continue` ends the walk); a rule without type globs matches the
//! subject built from its own values.

#![no_main]

use std::collections::BTreeMap;

use correlate::{Change, IncidentKind};
use deliver::route::{Flow, RouteConfig, Routes, Subject};
use mist::{Severity, Topic};
use deliver::targets::TargetConfig;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

#[derive(Deserialize)]
struct RouteFile {
    #[serde(default)]
    targets: BTreeMap<String, toml::Value>,
    #[serde(default)]
    routes: Vec<RouteConfig>,
    #[serde(default)]
    subjects: Vec<SubjectSpec>,
}

/// A subject as written in the fuzz input (owned, unlike [`Subject`]).
#[derive(Clone, Debug, Default, Deserialize)]
struct SubjectSpec {
    flow: Option<Flow>,
    topic: Option<String>,
    event_type: Option<String>,
    severity: Option<String>,
    org_id: Option<String>,
    site_id: Option<String>,
    kind: Option<String>,
    transition: Option<String>,
    #[serde(default)]
    quiet: bool,
}

/// The typed values of a [`SubjectSpec`], which a [`Subject`] borrows.
struct Typed {
    topic: Option<Topic>,
    severity: Option<Severity>,
}

impl SubjectSpec {
    fn typed(&self) -> Typed {
        Typed {
            topic: self.topic.as_deref().map(Topic::parse),
            severity: self.severity.as_deref().map(Severity::parse),
        }
    }

    fn subject<'a>(&'a self, typed: &'a Typed) -> Subject<'a> {
        Subject {
            flow: self.flow.unwrap_or(Flow::Event),
            topic: typed.topic.as_ref(),
            event_type: self.event_type.as_deref(),
            severity: typed.severity.as_ref(),
            org_id: self.org_id.as_deref(),
            site_id: self.site_id.as_deref(),
            kind: self.kind.as_deref().and_then(IncidentKind::parse),
            transition: self.transition.as_deref().and_then(Change::parse),
            quiet: self.quiet,
        }
    }

    /// The subject a route's own first values describe.
    fn of_route(r: &RouteConfig) -> SubjectSpec {
        let first = |list: &[String]| list.first().cloned();
        let incident = !r.kinds.is_empty() || !r.transitions.is_empty();
        SubjectSpec {
            flow: Some(r.flow.unwrap_or(if incident {
                Flow::Incident
            } else {
                Flow::Event
            })),
            topic: first(&r.topics).map(|t| mist::Topic::parse(&t).as_str().to_string()),
            event_type: first(&r.types),
            severity: r.severity.clone(),
            org_id: first(&r.org_ids),
            site_id: first(&r.site_ids),
            kind: first(&r.kinds),
            transition: first(&r.transitions),
            quiet: false,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = toml::from_str::<RouteFile>(text) else {
        return;
    };
    for (name, table) in &file.targets {
        if let Ok(target) = TargetConfig::deserialize(table.clone()) {
            if let Err(e) = target.check() {
                assert!(
                    !e.is_empty(),
                    "target {name}: a check failed without a message"
                );
            }
        }
    }
    let names: Vec<&str> = file.targets.keys().map(String::as_str).collect();
    let routes = match Routes::compile(&file.routes, &names) {
        Ok(routes) => routes,
        Err(e) => {
            assert!(
                e.index < file.routes.len(),
                "error index {} of {}",
                e.index,
                file.routes.len()
            );
            assert_eq!(e.name, file.routes[e.index].name);
            assert!(
                !e.message.is_empty() && e.to_string().contains(&format!("routes[{}]", e.index))
            );
            assert!(
                Routes::compile(&file.routes[..e.index], &names).is_ok(),
                "an earlier route is bad: {e}"
            );
            assert_eq!(
                Routes::compile(&file.routes[..=e.index], &names).err(),
                Some(e)
            );
            return;
        }
    };
    assert_eq!(routes.is_empty(), file.routes.is_empty());
    assert_eq!(
        routes.takes_events(),
        file.routes.iter().any(|r| r.flow != Some(Flow::Incident))
    );
    assert_eq!(
        routes.takes_incidents(),
        file.routes.iter().any(|r| r.flow != Some(Flow::Event))
    );

    // Each rule alone, told to continue, answers whether it matches.
    let alone: Vec<Routes> = file
        .routes
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.continue_after = true;
            Routes::compile(&[r], &names).expect("a route that compiled in a list compiles alone")
        })
        .collect();

    let own: Vec<SubjectSpec> = file.routes.iter().map(SubjectSpec::of_route).collect();
    for (i, spec) in own.iter().enumerate() {
        let r = &file.routes[i];
        let contradictory =
            !r.topics.is_empty() && (!r.kinds.is_empty() || !r.transitions.is_empty());
        if r.types.is_empty() && !contradictory {
            assert!(
                !alone[i].targets(&spec.subject(&spec.typed())).is_empty(),
                "route {i} does not match its own values: {spec:?}"
            );
        }
    }

    for spec in file.subjects.iter().chain(&own) {
        let typed = spec.typed();
        let subject = spec.subject(&typed);
        let got = routes.targets(&subject);
        assert_eq!(routes.targets(&subject), got, "routing is not a function");
        for (i, t) in got.iter().enumerate() {
            assert!(names.contains(t), "undefined target {t}");
            assert!(!got[..i].contains(t), "target {t} twice");
        }
        if subject.flow == Flow::Incident && subject.quiet && subject.transition != Some(Change::Resolved)
        {
            assert!(got.is_empty(), "a quiet incident was notified");
            continue;
        }
        let mut walked: Vec<&str> = Vec::new();
        for (rule, config) in alone.iter().zip(&file.routes) {
            if rule.targets(&subject).is_empty() {
                continue;
            }
            for t in &config.targets {
                if !walked.contains(&t.as_str()) {
                    walked.push(t);
                }
            }
            if !config.continue_after {
                break;
            }
        }
        assert_eq!(
            got, walked,
            "the rules walked one by one disagree for {spec:?}"
        );
    }
});
