//! Mist goes quiet: a source that has had no request for its `silent_after` opens a
//! `source_silent` incident, and the next request resolves it.
//!
//! Mist promises no delivery: a webhook it disabled after failures, a rotated secret on
//! one side only or a firewall change stop the traffic without a word, and operators
//! otherwise find out days later. The shell tells the correlator when each watched source
//! last received a request ([`crate::Correlator::source_seen`]); the deadline is that
//! time plus the source's `silent_after`, so it means the same live and after a restart.

use mist::Severity;

use crate::incident::IncidentKind;
use crate::records::SourceWatch;
use crate::state::{NewIncident, State};
use crate::timers::TimerKind;

fn key(source: &str) -> String {
    format!("source_silent:{source}")
}

/// "6m", "1h 30m", "45s": a quiet period as a person writes it.
fn span(us: i64) -> String {
    let secs = (us / 1_000_000).max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let parts: Vec<String> = [(h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".to_string()
    } else {
        parts.join(" ")
    }
}

/// `source` received its newest request at `last_request_at`; `None` when it never
/// received one, so that watching begins at `now` (or carries on from when it began).
pub(crate) fn on_seen(
    state: &mut State,
    source: &str,
    silent_after: i64,
    last_request_at: Option<i64>,
    now: i64,
) {
    let watch = state
        .sources
        .entry(source.to_owned())
        .or_insert(SourceWatch {
            last_request_at: last_request_at.unwrap_or(now),
            silent_after,
            reported_for: None,
        });
    let last_request_at = last_request_at.unwrap_or(watch.last_request_at);
    watch.silent_after = silent_after;
    let resumed = last_request_at > watch.last_request_at;
    if resumed {
        watch.last_request_at = last_request_at;
    }
    let watch = watch.clone();
    let key = key(source);
    if resumed && let Some(id) = state.live_by_key(&key) {
        let note = format!("a request arrived at source `{source}` again");
        state.resolve(id, last_request_at, None, note, |i| {
            i.last_seen_at = i.last_seen_at.max(last_request_at);
        });
    }
    let timer = TimerKind::SourceSilent {
        source: source.to_owned(),
    };
    if watch.reported_for == Some(watch.last_request_at) || state.live_by_key(&key).is_some() {
        state.timers.cancel(&timer);
    } else {
        let due = watch.last_request_at.saturating_add(watch.silent_after);
        state.timers.set(timer, due);
    }
}

/// Stops watching every source not in `watched`: its deadline goes, and a live incident
/// of its resolves at `now` (its configuration no longer asks for it).
pub(crate) fn retain(state: &mut State, watched: &[&str], now: i64) {
    let gone: Vec<String> = state
        .sources
        .keys()
        .filter(|s| !watched.contains(&s.as_str()))
        .cloned()
        .collect();
    for source in gone {
        state.sources.remove(&source);
        state.timers.cancel(&TimerKind::SourceSilent {
            source: source.clone(),
        });
        if let Some(id) = state.live_by_key(&key(&source)) {
            let note = format!("source `{source}` is no longer watched for silence");
            state.resolve(id, now, None, note, |_| {});
        }
    }
}

/// The deadline of `source` passed at `at` with no newer request.
pub(crate) fn on_timer(state: &mut State, source: &str, at: i64) {
    let key = key(source);
    if state.live_by_key(&key).is_some() {
        return;
    }
    let Some(watch) = state.sources.get_mut(source) else {
        return;
    };
    if watch.reported_for == Some(watch.last_request_at) {
        return;
    }
    watch.reported_for = Some(watch.last_request_at);
    let quiet = span(at - watch.last_request_at);
    let summary = format!("No webhook request has arrived at source `{source}` for {quiet}");
    let new = NewIncident {
        key,
        kind: IncidentKind::SourceSilent,
        alarm_type: None,
        severity: Severity::Critical,
        org_id: None,
        site_id: None,
        devices: Vec::new(),
        opened_at: at,
        last_seen_at: at,
        summary: summary.clone(),
        caused_by: None,
        device_names: Default::default(),
    };
    state.open(new, at, None, summary);
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn quiet_periods_read_as_people_write_them() {
        assert_eq!(span(15 * 60 * 1_000_000), "15m");
        assert_eq!(span(5_400 * 1_000_000), "1h 30m");
        assert_eq!(span(45_500_000), "45s");
        assert_eq!(span(0), "0s");
    }
}
