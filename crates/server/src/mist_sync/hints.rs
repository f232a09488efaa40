//! What ingest tells the `[mist]` sync about the events it stores, without waiting: an
//! id the names do not know (looked up, each at most once a minute), and a configuration
//! change at a site (an audit record, a device's `*_CONFIG_CHANGED_BY_USER` event), after
//! which that site's devices and wiring are read again.

use std::collections::HashMap;

use mist::Topic;
use tokio::sync::mpsc;

/// One thing worth a look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hint {
    /// A site id no name is known for.
    Site(String),
    /// A device MAC (normalised) no name is known for.
    Device(String),
    /// The configuration of this site changed.
    Changed(String),
}

/// The sending side, kept by the HTTP app.
#[derive(Clone)]
pub struct Hints {
    names: deliver::engine::SharedNames,
    tx: mpsc::Sender<Hint>,
}

/// Hints waiting beyond this are dropped (the next event asks again).
const QUEUE: usize = 1024;

impl Hints {
    /// Hints checked against `names` (what the sync has read), and their receiver.
    pub fn channel(names: deliver::engine::SharedNames) -> (Hints, mpsc::Receiver<Hint>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Hints { names, tx }, rx)
    }

    /// Looks at a request's events: their site ids and device MACs against the names,
    /// and whether they say a site's configuration changed.
    pub fn offer(&self, split: &mist::Split) {
        let device_topic = matches!(
            split.topic,
            Topic::Alarms | Topic::DeviceEvents | Topic::DeviceUpdowns
        );
        let mut wanted: Vec<Hint> = Vec::new();
        let mut want = |h: Hint| {
            if !wanted.contains(&h) {
                wanted.push(h);
            }
        };
        {
            let names = self.names.read().unwrap_or_else(|p| p.into_inner());
            for e in &split.events {
                let n = &e.normalized;
                if let Some(site) = &n.site_id {
                    if names.site(site).is_none() {
                        want(Hint::Site(site.clone()));
                    }
                    let changed = split.topic == Topic::Audits
                        || (split.topic == Topic::DeviceEvents
                            && n.event_type
                                .as_deref()
                                .is_some_and(|t| t.ends_with("_CONFIG_CHANGED_BY_USER")));
                    if changed {
                        want(Hint::Changed(site.clone()));
                    }
                }
                if device_topic
                    && let Some(mac) = &n.mac
                    && names.device(mac).is_none()
                {
                    want(Hint::Device(mac.clone()));
                }
            }
        }
        for hint in wanted {
            // A full queue drops the hint: the sync is busy, and the next event asks again.
            let _ = self.tx.try_send(hint);
        }
    }
}

/// Which ids may be asked about now: each at most once per `every_us`.
#[derive(Debug)]
pub struct Gate {
    every_us: i64,
    tried: HashMap<String, i64>,
}

impl Gate {
    pub fn new(every_us: i64) -> Gate {
        Gate {
            every_us,
            tried: HashMap::new(),
        }
    }

    /// Whether `id` may be asked about at `now` (and if so, it counts as asked).
    pub fn allow(&mut self, id: &str, now: i64) -> bool {
        if let Some(at) = self.tried.get(id)
            && now - at < self.every_us
        {
            return false;
        }
        if self.tried.len() >= 10_000 {
            let every = self.every_us;
            self.tried.retain(|_, at| now - *at < every);
        }
        self.tried.insert(id.to_string(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_asked_about_at_most_once_a_minute() {
        let mut gate = Gate::new(60_000_000);
        assert!(gate.allow("s1", 0));
        assert!(!gate.allow("s1", 59_999_999));
        assert!(gate.allow("s2", 1));
        assert!(gate.allow("s1", 60_000_000));
    }

    /// Every hint waiting.
    fn drain(rx: &mut mpsc::Receiver<Hint>) -> Vec<Hint> {
        let mut got = Vec::new();
        while let Ok(h) = rx.try_recv() {
            got.push(h);
        }
        got
    }

    #[test]
    fn unknown_ids_and_changes_are_hinted_once_per_request() {
        let names = deliver::engine::SharedNames::default();
        names.write().unwrap().name_site("known", "HQ");
        let (hints, mut rx) = Hints::channel(names);
        let body = br#"{"topic":"audits","events":[
            {"id":"a","site_id":"known","timestamp":1},
            {"id":"b","site_id":"other","timestamp":2}]}"#;
        hints.offer(&mist::split(body).unwrap());
        assert_eq!(
            drain(&mut rx),
            vec![
                Hint::Changed("known".into()),
                Hint::Site("other".into()),
                Hint::Changed("other".into()),
            ]
        );
        let body = br#"{"topic":"device-events","events":[
            {"type":"AP_RESTARTED","mac":"5c5b350e0001","site_id":"known","timestamp":1},
            {"type":"AP_CONFIG_CHANGED_BY_USER","mac":"5c5b350e0001","site_id":"known","timestamp":2}]}"#;
        hints.offer(&mist::split(body).unwrap());
        assert_eq!(
            drain(&mut rx),
            vec![
                Hint::Device("5c5b350e0001".into()),
                Hint::Changed("known".into()),
            ]
        );
    }
}
