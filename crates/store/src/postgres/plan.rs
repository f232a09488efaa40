//! Which events of a group of appends are new and which repeat one already stored, and
//! the ids each gets: decided in memory from one lookup of the group's fingerprints, the
//! same answer that appending the requests one event at a time would give. No IO.

use std::collections::HashMap;

use crate::{Appended, NewRequest};

/// What an event of the group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// Stored as the `n`-th new event of the group (0-based).
    New(usize),
    /// A duplicate of the stored event with this id.
    Of(i64),
    /// A duplicate of the `n`-th new event of the group.
    OfNew(usize),
}

/// The fates of every event of every request, in order, and how many are new.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Plan {
    pub fates: Vec<Vec<Fate>>,
    pub new_events: usize,
}

/// Decides the group: `stored` holds, per fingerprint of the group found in the log, the
/// event it names and when that was received. An event repeats another when the other's
/// receipt is within its request's duplicate window (at or after `dedup_since`).
pub(super) fn plan(
    requests: &[(&NewRequest, i64)],
    stored: &HashMap<[u8; 16], (i64, i64)>,
) -> Plan {
    // Fingerprints made new by this group: (n-th new event, receipt).
    let mut fresh: HashMap<[u8; 16], (usize, i64)> = HashMap::new();
    let mut new_events = 0;
    let fates = requests
        .iter()
        .map(|(r, dedup_since)| {
            r.events
                .iter()
                .map(|e| {
                    if let Some(&(n, at)) = fresh.get(&e.fingerprint) {
                        if at >= *dedup_since {
                            return Fate::OfNew(n);
                        }
                    } else if let Some(&(id, at)) = stored.get(&e.fingerprint)
                        && at >= *dedup_since
                    {
                        return Fate::Of(id);
                    }
                    let n = new_events;
                    new_events += 1;
                    fresh.insert(e.fingerprint, (n, r.received_at));
                    Fate::New(n)
                })
                .collect()
        })
        .collect();
    Plan { fates, new_events }
}

impl Plan {
    /// The answer to each request, with ids: requests from `first_request`, new events
    /// from `first_event`, in group order.
    pub(super) fn answers(&self, first_request: i64, first_event: i64) -> Vec<Appended> {
        let id = |n: usize| first_event + n as i64;
        self.fates
            .iter()
            .enumerate()
            .map(|(i, fates)| {
                let mut a = Appended {
                    request_id: first_request + i as i64,
                    accepted: 0,
                    duplicates: 0,
                    event_ids: Vec::with_capacity(fates.len()),
                };
                for fate in fates {
                    match *fate {
                        Fate::New(n) => {
                            a.accepted += 1;
                            a.event_ids.push(id(n));
                        }
                        Fate::Of(original) => {
                            a.duplicates += 1;
                            a.event_ids.push(original);
                        }
                        Fate::OfNew(n) => {
                            a.duplicates += 1;
                            a.event_ids.push(id(n));
                        }
                    }
                }
                a
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewEvent, Verdict};

    fn request(fingerprints: &[u8], received_at: i64) -> NewRequest {
        NewRequest {
            source: "s".into(),
            received_at,
            topic: "alarms".into(),
            verdict: Verdict::Unsigned,
            headers: vec![],
            body: bytes::Bytes::new(),
            events: fingerprints
                .iter()
                .map(|f| NewEvent {
                    topic: "alarms".into(),
                    org_id: None,
                    site_id: None,
                    event_type: None,
                    mac: None,
                    severity: None,
                    time: 0,
                    time_source: "received".into(),
                    raw_offset: 0,
                    raw_len: 0,
                    fingerprint: [*f; 16],
                })
                .collect(),
        }
    }

    #[test]
    fn a_group_decides_as_one_event_at_a_time_would() {
        let (a, b, c) = (
            request(&[1, 2, 1], 100),
            request(&[2, 3], 200),
            request(&[9], 300),
        );
        let stored = HashMap::from([([3u8; 16], (77, 150)), ([9u8; 16], (55, 10))]);
        let p = plan(&[(&a, 0), (&b, 0), (&c, 250)], &stored);
        assert_eq!(
            p.fates,
            vec![
                vec![Fate::New(0), Fate::New(1), Fate::OfNew(0)],
                vec![Fate::OfNew(1), Fate::Of(77)],
                // Stored at 10, outside c's window (from 250): new again.
                vec![Fate::New(2)],
            ]
        );
        assert_eq!(p.new_events, 3);
        let answers = p.answers(40, 1000);
        assert_eq!(answers[0].request_id, 40);
        assert_eq!(answers[0].event_ids, [1000, 1001, 1000]);
        assert_eq!((answers[0].accepted, answers[0].duplicates), (2, 1));
        assert_eq!(answers[1].event_ids, [1001, 77]);
        assert_eq!(answers[2].event_ids, [1002]);
    }

    #[test]
    fn a_zero_window_stores_every_event() {
        let a = request(&[1, 1], 100);
        let stored = HashMap::from([([1u8; 16], (5, 100))]);
        let p = plan(&[(&a, i64::MAX)], &stored);
        assert_eq!(p.fates, vec![vec![Fate::New(0), Fate::New(1)]]);
    }
}
