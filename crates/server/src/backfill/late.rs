//! Webhook copies that come after backfill stored their event: Mist's search saw an
//! event before its webhook reached mistgate (a delivery in flight, or retried late).
//! Backfill remembers the events it stored whose webhook copy has not come, by identity;
//! when a webhook event of that identity arrives, ingest gives it the stored event's
//! fingerprint, so the duplicate window recognises it as that event.
//!
//! With several instances on one database the events are remembered in the database
//! instead (`store::Cluster::late_remember`), since the copy may reach any instance; then
//! every webhook of the three kinds looks them up there (one indexed delete), on every
//! instance where backfill is configured (`Backfill::claim_late_copies`).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most events remembered; the oldest go first.
const CAPACITY: usize = 100_000;

/// Backfilled events waiting for their webhook copy: (identity key → fingerprints).
#[derive(Debug, Default)]
pub struct LateCopies {
    inner: Mutex<Inner>,
    /// Entries held, read without the lock on every webhook of the three kinds.
    len: AtomicUsize,
}

#[derive(Debug, Default)]
struct Inner {
    by_key: HashMap<[u8; 16], Vec<[u8; 16]>>,
    /// Keys in the order remembered, for forgetting the oldest.
    order: VecDeque<([u8; 16], [u8; 16])>,
}

impl LateCopies {
    /// Remembers a backfilled event (once, however often it is reported).
    pub fn remember(&self, key: [u8; 16], fingerprint: [u8; 16]) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let fps = inner.by_key.entry(key).or_default();
        if fps.contains(&fingerprint) {
            return;
        }
        fps.push(fingerprint);
        inner.order.push_back((key, fingerprint));
        while inner.order.len() > CAPACITY {
            if let Some((k, fp)) = inner.order.pop_front() {
                take(&mut inner.by_key, k, Some(fp));
            }
        }
        self.len.store(inner.order.len(), Ordering::Relaxed);
    }

    /// The fingerprint of a backfilled event of identity `key`, taken (each once).
    pub fn claim(&self, key: [u8; 16]) -> Option<[u8; 16]> {
        if self.len.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let fp = take(&mut inner.by_key, key, None)?;
        if let Some(i) = inner.order.iter().position(|e| *e == (key, fp)) {
            inner.order.remove(i);
        }
        self.len.store(inner.order.len(), Ordering::Relaxed);
        Some(fp)
    }

    /// Whether nothing waits (the common case: no lock taken).
    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Relaxed) == 0
    }
}

/// Removes `fp` (or the first) from `key`'s list.
fn take(
    map: &mut HashMap<[u8; 16], Vec<[u8; 16]>>,
    key: [u8; 16],
    fp: Option<[u8; 16]>,
) -> Option<[u8; 16]> {
    let list = map.get_mut(&key)?;
    let i = match fp {
        Some(fp) => list.iter().position(|f| *f == fp)?,
        None => 0,
    };
    let taken = list.remove(i);
    if list.is_empty() {
        map.remove(&key);
    }
    Some(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_backfilled_event_is_claimed_once() {
        let late = LateCopies::default();
        assert!(late.is_empty());
        late.remember([1; 16], [10; 16]);
        late.remember([1; 16], [10; 16]);
        late.remember([1; 16], [11; 16]);
        late.remember([2; 16], [20; 16]);
        assert_eq!(late.claim([1; 16]), Some([10; 16]));
        assert_eq!(late.claim([1; 16]), Some([11; 16]));
        assert_eq!(late.claim([1; 16]), None);
        assert_eq!(late.claim([3; 16]), None);
        assert!(!late.is_empty());
        assert_eq!(late.claim([2; 16]), Some([20; 16]));
        assert!(late.is_empty());
    }
}
