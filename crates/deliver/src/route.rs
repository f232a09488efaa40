//! Routes: which targets an event or an incident change goes to.
//!
//! An ordered list of rules, each matching on what flows (`event` or `incident`), topic,
//! type (glob), severity at or above, org, site, incident kind and transition, and naming
//! targets. Rules are tried in order; every matching rule adds its targets, and a match
//! stops the walk unless the rule says `continue = true`. Suppressed (inhibited) and
//! silenced incidents are not notified, except their resolution. Pure: no IO.

use correlate::{Change, IncidentKind};
use globset::{Glob, GlobSet, GlobSetBuilder};
use mist::{Severity, Topic};
use serde::Deserialize;

/// What flows through a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    Event,
    Incident,
}

/// One `[[routes]]` entry as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// For messages and logs.
    pub name: Option<String>,
    /// `event` or `incident`; both when absent.
    pub flow: Option<Flow>,
    /// Topics, any spelling (events only).
    #[serde(default)]
    pub topics: Vec<String>,
    /// Type globs: the event type, or the incident's Mist type (`AP_*`, `device_down`).
    #[serde(default)]
    pub types: Vec<String>,
    /// At or above: `info`, `warn`, `minor`, `major`, `critical`.
    pub severity: Option<String>,
    #[serde(default)]
    pub org_ids: Vec<String>,
    #[serde(default)]
    pub site_ids: Vec<String>,
    /// Incident kinds (`device_down`, `marvis`, `security`, `occupancy`, `source_silent`).
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Incident transitions (`opened`, `updated`, `acknowledged`, `resolved`, `suppressed`).
    #[serde(default)]
    pub transitions: Vec<String>,
    /// Target names.
    pub targets: Vec<String>,
    /// Whether later rules are tried after this one matched.
    #[serde(default, rename = "continue")]
    pub continue_after: bool,
}

/// What a route matches against.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub flow: Flow,
    /// The topic (events).
    pub topic: Option<&'a Topic>,
    /// Event type, or the incident's Mist type.
    pub event_type: Option<&'a str>,
    pub severity: Option<&'a Severity>,
    pub org_id: Option<&'a str>,
    pub site_id: Option<&'a str>,
    /// Incident kind.
    pub kind: Option<IncidentKind>,
    /// Incident transition.
    pub transition: Option<Change>,
    /// Suppressed or silenced incident.
    pub quiet: bool,
}

/// Why a route is invalid; `index` is its place in the list (0-based).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("routes[{index}]{}: {message}", name.as_ref().map(|n| format!(" (`{n}`)")).unwrap_or_default())]
pub struct RouteError {
    pub index: usize,
    pub name: Option<String>,
    pub message: String,
}

const SEVERITIES: [&str; 5] = ["info", "warn", "minor", "major", "critical"];

/// `a, b, c` for an error message.
fn names<'a>(all: impl Iterator<Item = &'a str>) -> String {
    all.collect::<Vec<_>>().join(", ")
}

#[derive(Clone, Debug)]
struct Rule {
    flow: Option<Flow>,
    topics: Vec<Topic>,
    types: Option<GlobSet>,
    min_severity: Option<u8>,
    org_ids: Vec<String>,
    site_ids: Vec<String>,
    kinds: Vec<IncidentKind>,
    transitions: Vec<Change>,
    targets: Vec<String>,
    continue_after: bool,
}

/// The compiled rules.
#[derive(Clone, Debug, Default)]
pub struct Routes {
    rules: Vec<Rule>,
}

impl Routes {
    /// Checks and compiles `configs`; every target must be one of `known_targets`.
    ///
    /// ```
    /// use correlate::{Change, IncidentKind};
    /// use deliver::route::{Flow, RouteConfig, Routes, Subject};
    /// let routes = Routes::compile(
    ///     &[RouteConfig { flow: Some(Flow::Incident), kinds: vec!["device_down".into()],
    ///                     targets: vec!["pager".into()], ..Default::default() }],
    ///     &["pager"],
    /// ).unwrap();
    /// let subject = Subject { flow: Flow::Incident, topic: None, event_type: Some("device_down"),
    ///     severity: Some(&mist::Severity::Critical), org_id: None, site_id: None,
    ///     kind: Some(IncidentKind::DeviceDown), transition: Some(Change::Opened), quiet: false };
    /// assert_eq!(routes.targets(&subject), ["pager"]);
    /// ```
    pub fn compile(configs: &[RouteConfig], known_targets: &[&str]) -> Result<Routes, RouteError> {
        let mut rules = Vec::with_capacity(configs.len());
        for (index, c) in configs.iter().enumerate() {
            let fail = |message: String| RouteError {
                index,
                name: c.name.clone(),
                message,
            };
            if c.targets.is_empty() {
                return Err(fail("`targets` names no target".into()));
            }
            for t in &c.targets {
                if !known_targets.contains(&t.as_str()) {
                    return Err(fail(format!(
                        "target `{t}` is not defined (define it as [targets.{t}])"
                    )));
                }
            }
            let min_severity = match &c.severity {
                None => None,
                Some(s) if SEVERITIES.contains(&s.to_ascii_lowercase().as_str()) => {
                    Some(Severity::parse(s).rank())
                }
                Some(s) => {
                    return Err(fail(format!(
                        "severity `{s}` is not one of {}",
                        SEVERITIES.join(", ")
                    )));
                }
            };
            let kinds = c
                .kinds
                .iter()
                .map(|k| {
                    IncidentKind::parse(k).ok_or_else(|| {
                        fail(format!(
                            "kind `{k}` is not one of {}",
                            names(IncidentKind::ALL.iter().map(|k| k.as_str()))
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let transitions = c
                .transitions
                .iter()
                .map(|t| {
                    Change::parse(t).ok_or_else(|| {
                        fail(format!(
                            "transition `{t}` is not one of {}",
                            names(Change::ALL.iter().map(|c| c.as_str()))
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let is_incident_only = !c.kinds.is_empty() || !c.transitions.is_empty();
            if c.flow == Some(Flow::Event) && is_incident_only {
                return Err(fail(
                    "`kinds` and `transitions` apply to incidents, but `flow` is `event`".into(),
                ));
            }
            if c.flow == Some(Flow::Incident) && !c.topics.is_empty() {
                return Err(fail(
                    "`topics` apply to events, but `flow` is `incident`".into(),
                ));
            }
            let types = if c.types.is_empty() {
                None
            } else {
                let mut set = GlobSetBuilder::new();
                for t in &c.types {
                    let glob =
                        Glob::new(t).map_err(|e| fail(format!("type pattern `{t}`: {e}")))?;
                    set.add(glob);
                }
                Some(set.build().map_err(|e| fail(e.to_string()))?)
            };
            rules.push(Rule {
                flow: c.flow,
                topics: c.topics.iter().map(|t| Topic::parse(t)).collect(),
                types,
                min_severity,
                org_ids: c.org_ids.clone(),
                site_ids: c.site_ids.clone(),
                kinds,
                transitions,
                targets: c.targets.clone(),
                continue_after: c.continue_after,
            });
        }
        Ok(Routes { rules })
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether some rule may take events (so the routing stage reads the event log).
    pub fn takes_events(&self) -> bool {
        self.rules.iter().any(|r| r.flow != Some(Flow::Incident))
    }

    /// Whether some rule may take incident changes.
    pub fn takes_incidents(&self) -> bool {
        self.rules.iter().any(|r| r.flow != Some(Flow::Event))
    }

    /// The targets `subject` goes to, each once, in the order the rules name them.
    pub fn targets(&self, subject: &Subject<'_>) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        if subject.flow == Flow::Incident
            && subject.quiet
            && subject.transition != Some(Change::Resolved)
        {
            return out;
        }
        for rule in &self.rules {
            if !rule.matches(subject) {
                continue;
            }
            for t in &rule.targets {
                if !out.contains(&t.as_str()) {
                    out.push(t);
                }
            }
            if !rule.continue_after {
                break;
            }
        }
        out
    }
}

impl Rule {
    fn matches(&self, s: &Subject<'_>) -> bool {
        fn listed<T: PartialEq<V>, V: ?Sized>(list: &[T], value: Option<&V>) -> bool {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|x| x == v))
        }
        if self.flow.is_some_and(|f| f != s.flow) {
            return false;
        }
        if s.flow == Flow::Event && (!self.kinds.is_empty() || !self.transitions.is_empty()) {
            return false;
        }
        if s.flow == Flow::Incident && !self.topics.is_empty() {
            return false;
        }
        listed(&self.topics, s.topic)
            && listed(&self.org_ids, s.org_id)
            && listed(&self.site_ids, s.site_id)
            && listed(&self.kinds, s.kind.as_ref())
            && listed(&self.transitions, s.transition.as_ref())
            && self
                .types
                .as_ref()
                .is_none_or(|set| s.event_type.is_some_and(|t| set.is_match(t)))
            && self
                .min_severity
                .is_none_or(|min| s.severity.is_some_and(|v| v.rank() >= min))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(f: impl FnOnce(&mut RouteConfig)) -> RouteConfig {
        let mut c = RouteConfig {
            targets: vec!["a".into()],
            ..RouteConfig::default()
        };
        f(&mut c);
        c
    }

    fn incident(kind: &str, transition: &str, severity: &str) -> Subject<'static> {
        Subject {
            flow: Flow::Incident,
            topic: None,
            event_type: Some("device_down"),
            severity: Some(Box::leak(Box::new(Severity::parse(severity)))),
            org_id: Some("o"),
            site_id: Some("s1"),
            kind: IncidentKind::parse(kind),
            transition: Change::parse(transition),
            quiet: false,
        }
    }

    fn event<'a>(topic: &str, event_type: &'a str) -> Subject<'a> {
        Subject {
            flow: Flow::Event,
            topic: Some(Box::leak(Box::new(Topic::parse(topic)))),
            event_type: Some(event_type),
            severity: None,
            org_id: Some("o"),
            site_id: Some("s2"),
            kind: None,
            transition: None,
            quiet: false,
        }
    }

    #[test]
    fn the_first_match_wins_unless_it_continues() {
        let routes = Routes::compile(
            &[
                route(|r| {
                    r.flow = Some(Flow::Incident);
                    r.severity = Some("major".into());
                    r.targets = vec!["pager".into(), "chat".into()];
                    r.continue_after = true;
                }),
                route(|r| {
                    r.flow = Some(Flow::Incident);
                    r.targets = vec!["chat".into(), "ticket".into()];
                }),
                route(|r| r.targets = vec!["archive".into()]),
            ],
            &["pager", "chat", "ticket", "archive"],
        )
        .unwrap();
        assert_eq!(
            routes.targets(&incident("device_down", "opened", "critical")),
            ["pager", "chat", "ticket"]
        );
        assert_eq!(
            routes.targets(&incident("device_down", "opened", "warn")),
            ["chat", "ticket"]
        );
        assert_eq!(routes.targets(&event("alarms", "x")), ["archive"]);
    }

    #[test]
    fn every_filter_can_keep_a_subject_out() {
        let only = |f: fn(&mut RouteConfig)| Routes::compile(&[route(f)], &["a"]).unwrap();
        let opened = incident("device_down", "opened", "critical");
        let ev = event("device-events", "AP_RESTARTED");
        assert!(
            only(|r| r.site_ids = vec!["s9".into()])
                .targets(&opened)
                .is_empty()
        );
        assert_eq!(
            only(|r| r.site_ids = vec!["s1".into()]).targets(&opened),
            ["a"]
        );
        assert!(
            only(|r| r.org_ids = vec!["x".into()])
                .targets(&opened)
                .is_empty()
        );
        assert!(
            only(|r| r.kinds = vec!["marvis".into()])
                .targets(&opened)
                .is_empty()
        );
        assert!(
            only(|r| r.transitions = vec!["resolved".into()])
                .targets(&opened)
                .is_empty()
        );
        assert!(
            only(|r| r.kinds = vec!["device_down".into()])
                .targets(&ev)
                .is_empty()
        );
        assert_eq!(only(|r| r.types = vec!["AP_*".into()]).targets(&ev), ["a"]);
        assert!(
            only(|r| r.types = vec!["SW_*".into()])
                .targets(&ev)
                .is_empty()
        );
        assert_eq!(
            only(|r| r.topics = vec!["device_events".into()]).targets(&ev),
            ["a"]
        );
        assert!(
            only(|r| r.topics = vec!["alarms".into()])
                .targets(&ev)
                .is_empty()
        );
        assert!(
            only(|r| r.severity = Some("info".into()))
                .targets(&ev)
                .is_empty(),
            "no severity, no match"
        );
        assert!(
            only(|r| r.flow = Some(Flow::Event))
                .targets(&opened)
                .is_empty()
        );
    }

    #[test]
    fn quiet_incidents_only_notify_their_resolution() {
        let routes = Routes::compile(&[route(|_| {})], &["a"]).unwrap();
        let mut s = incident("device_down", "opened", "critical");
        s.quiet = true;
        assert!(routes.targets(&s).is_empty());
        s.transition = Some(Change::Resolved);
        assert_eq!(routes.targets(&s), ["a"]);
    }

    #[test]
    fn bad_routes_name_their_place() {
        let err = |c: RouteConfig| Routes::compile(&[route(|_| {}), c], &["a"]).unwrap_err();
        let e = err(route(|r| {
            r.name = Some("pages".into());
            r.targets = vec!["nope".into()];
        }));
        assert_eq!(e.index, 1);
        assert_eq!(
            e.to_string(),
            "routes[1] (`pages`): target `nope` is not defined (define it as [targets.nope])"
        );
        assert!(
            err(route(|r| r.severity = Some("huge".into())))
                .message
                .contains("severity `huge`")
        );
        assert!(
            err(route(|r| r.transitions = vec!["closed".into()]))
                .message
                .contains("`closed`")
        );
        assert!(
            err(route(|r| r.kinds = vec!["device_dwn".into()]))
                .message
                .contains("kind `device_dwn` is not one of device_down, marvis")
        );
        assert!(
            err(route(|r| r.types = vec!["[".into()]))
                .message
                .contains("type pattern")
        );
        assert!(
            err(route(|r| r.targets.clear()))
                .message
                .contains("no target")
        );
        assert!(
            err(route(|r| {
                r.flow = Some(Flow::Event);
                r.kinds = vec!["marvis".into()];
            }))
            .message
            .contains("apply to incidents")
        );
    }
}
