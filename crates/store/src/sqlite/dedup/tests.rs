//! The duplicate index alone, and against a plain model of the log over random
//! sequences of transactions, rollbacks, expiries, prunes and restarts.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;

use super::*;

/// The writer's database as far as the index sees it: committed events by id.
#[derive(Default)]
struct Log {
    events: BTreeMap<i64, StoredEvent>,
    /// Every id ever committed per fingerprint, oldest first.
    by_fp: HashMap<u128, Vec<i64>>,
    /// The id the writer hands out next (0: not set yet, 1).
    next: i64,
}

impl Log {
    fn lookup(&self, id: i64) -> Result<Option<StoredEvent>, Infallible> {
        Ok(self.events.get(&id).copied())
    }

    fn first_since(&self, from: i64, to: i64, before: i64) -> Result<Option<i64>, Infallible> {
        let mut events = self.events.range(from..to);
        Ok(events.find(|(_, (_, at))| *at >= before).map(|(id, _)| *id))
    }

    fn next_id(&self) -> i64 {
        self.next.max(1)
    }

    fn insert(&mut self, id: i64, fp: u128, seen_at: i64) {
        self.next = id + 1;
        self.events.insert(id, (fp, seen_at));
        self.by_fp.entry(fp).or_default().push(id);
    }

    /// The newest event still stored with this fingerprint.
    fn newest(&self, fp: u128) -> Option<(i64, i64)> {
        let ids = self.by_fp.get(&fp)?;
        ids.iter()
            .rev()
            .filter_map(|id| self.events.get(id).map(|&(f, at)| (*id, f, at)))
            // An id handed out again after a restart may hold another fingerprint now.
            .find_map(|(id, f, at)| (f == fp).then_some((id, at)))
    }

    /// An index rebuilt from the log, as the writer does at start (the next id is read
    /// again from the log too).
    fn restart(&mut self, capacity: usize, tag_mask: u32) -> DedupIndex {
        self.next = self.events.keys().next_back().map_or(1, |id| id + 1);
        let mut index = DedupIndex::new(capacity);
        index.tag_mask = tag_mask;
        let from = self.next_id() - capacity as i64;
        index.reserve(self.events.range(from..).count());
        for (&id, &(fp, at)) in self.events.range(from..) {
            index.remember(fp, id, at);
        }
        index
    }
}

fn check(index: &DedupIndex, log: &Log, staged: &Staged, fp: u128, since: i64) -> Verdict {
    let Ok(v) = index.check(staged, fp, since, |id| log.lookup(id));
    v
}

fn expire(index: &mut DedupIndex, log: &Log, before: i64) -> u64 {
    let Ok(n) = index.expire(before, |from, to, before| log.first_since(from, to, before));
    n
}

fn commit_one(index: &mut DedupIndex, log: &mut Log, fp: u128, id: i64, at: i64) {
    let mut staged = Staged::default();
    staged.stage(fp, id, at);
    log.insert(id, fp, at);
    index.commit(staged);
}

#[test]
fn duplicates_inside_the_window_only() {
    let (mut index, mut log) = (DedupIndex::new(100), Log::default());
    commit_one(&mut index, &mut log, 7, 1, 1_000);
    let none = Staged::default();
    assert_eq!(check(&index, &log, &none, 7, 500), Verdict::DuplicateOf(1));
    assert_eq!(
        check(&index, &log, &none, 7, 1_000),
        Verdict::DuplicateOf(1)
    );
    assert_eq!(
        check(&index, &log, &none, 7, 1_001),
        Verdict::New,
        "older than the window"
    );
    assert_eq!(check(&index, &log, &none, 8, 0), Verdict::New);
    // Stored again after expiry: the new event is the original from now on.
    commit_one(&mut index, &mut log, 7, 9, 5_000);
    assert_eq!(
        check(&index, &log, &none, 7, 4_000),
        Verdict::DuplicateOf(9)
    );
    assert_eq!(check(&index, &log, &none, 7, 0), Verdict::DuplicateOf(9));
}

#[test]
fn staged_entries_count_before_commit_and_vanish_on_rollback() {
    let (mut index, log) = (DedupIndex::new(100), Log::default());
    let mut staged = Staged::default();
    staged.stage(3, 30, 10);
    assert_eq!(check(&index, &log, &staged, 3, 0), Verdict::DuplicateOf(30));
    drop(staged); // rolled back
    assert_eq!(check(&index, &log, &Staged::default(), 3, 0), Verdict::New);
    let mut staged = Staged::default();
    staged.stage(3, 31, 10);
    index.commit(staged);
    let mut log = log;
    log.insert(31, 3, 10);
    assert_eq!(
        check(&index, &log, &Staged::default(), 3, 0),
        Verdict::DuplicateOf(31)
    );
}

#[test]
fn capacity_and_expiry_forget_the_oldest_first() {
    let (mut index, mut log) = (DedupIndex::new(3), Log::default());
    for i in 1..=3 {
        commit_one(&mut index, &mut log, i as u128, i, i * 10);
    }
    commit_one(&mut index, &mut log, 99, 4, 40);
    assert_eq!(index.len(), 3);
    assert_eq!(index.evicted(), 1);
    let none = Staged::default();
    assert_eq!(check(&index, &log, &none, 1, 0), Verdict::New, "evicted");
    assert_eq!(check(&index, &log, &none, 2, 0), Verdict::DuplicateOf(2));
    assert_eq!(expire(&mut index, &log, 35), 2);
    assert_eq!(check(&index, &log, &none, 3, 0), Verdict::New, "expired");
    assert_eq!(check(&index, &log, &none, 99, 0), Verdict::DuplicateOf(4));
    assert_eq!(index.len(), 1);
}

#[test]
fn a_tag_shared_by_other_fingerprints_is_confirmed_against_the_log() {
    let (mut index, mut log) = (DedupIndex::new(100), Log::default());
    index.tag_mask = 1; // every fingerprint has the same tag
    for (id, fp) in [(1, 10u128), (2, 20), (3, 30)] {
        commit_one(&mut index, &mut log, fp, id, 100);
    }
    let none = Staged::default();
    let mut lookups = 0;
    let v = index.check(&none, 10, 0, |id| {
        lookups += 1;
        log.lookup(id)
    });
    assert_eq!(v, Ok(Verdict::DuplicateOf(1)));
    assert_eq!(lookups, 3, "newest first, until the fingerprint matches");
    assert_eq!(check(&index, &log, &none, 40, 0), Verdict::New);
    // Nothing remembered is recent enough: no lookup at all.
    let v = index.check(&none, 10, i64::MAX, |_| -> Result<_, Infallible> {
        panic!("looked up")
    });
    assert_eq!(v, Ok(Verdict::New));
}

#[test]
fn a_pruned_event_is_no_original() {
    let (mut index, mut log) = (DedupIndex::new(100), Log::default());
    commit_one(&mut index, &mut log, 5, 1, 10);
    log.events.remove(&1);
    assert_eq!(check(&index, &log, &Staged::default(), 5, 0), Verdict::New);
}

#[test]
fn the_table_is_swept_in_place_once_full_and_stays_bounded() {
    let (mut index, mut log) = (DedupIndex::new(1_000), Log::default());
    for id in 1..=20_000 {
        commit_one(&mut index, &mut log, id as u128 * 7_919, id, id);
    }
    assert_eq!(index.len(), 1_000);
    assert!(index.table.slots() <= index.max_slots);
    assert!(index.bytes() <= 8 * index.max_slots + 16_384);
    let none = Staged::default();
    for id in 19_001..=20_000 {
        let v = check(&index, &log, &none, id as u128 * 7_919, 0);
        assert_eq!(v, Verdict::DuplicateOf(id));
    }
    assert_eq!(check(&index, &log, &none, 19_000 * 7_919, 0), Verdict::New);
    // Expired whole: the memory goes back.
    expire(&mut index, &log, i64::MAX);
    assert_eq!(index.len(), 0);
    assert!(index.table.slots() <= 64);
}

/// SplitMix64, written out so that a seed always gives the same sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The model's expiry: from the oldest id remembered, forget while the events are
/// older than `before` (or gone from the log); returns the first id kept.
fn model_expire(log: &Log, expired_below: i64, capacity: usize, before: i64) -> i64 {
    let mut id = expired_below.max(log.next_id() - capacity as i64);
    while id < log.next_id() && log.events.get(&id).is_none_or(|&(_, at)| at < before) {
        id += 1;
    }
    id
}

/// One random run: the index must agree with the log wherever the model says it must
/// remember, and may only ever name the newest stored event with the same fingerprint,
/// and only inside the window.
fn run_against_the_model(seed: u64) {
    let mut rng = Rng(seed);
    let capacity = 1 + rng.below(40) as usize;
    let window = 1 + rng.below(60) as i64;
    let pool: Vec<u128> = (0..1 + rng.below(80))
        .map(|_| u128::from(rng.next()) << 64 | u128::from(rng.next()))
        .collect();
    // Half the runs squeeze the tags into a few values: collisions everywhere.
    let tag_mask = if seed.is_multiple_of(2) {
        u32::MAX
    } else {
        0xC000_0001
    };
    let mut log = Log::default();
    let mut index = log.restart(capacity, tag_mask);
    let mut now = 1_000i64;
    // What expiry forgot, as the index of full fingerprints in an order queue did it:
    // the ids below this.
    let mut expired_below = 0;
    for step in 0..600 {
        let ctx = || format!("seed {seed}, step {step}, capacity {capacity}, window {window}");
        match rng.below(100) {
            0..=69 => {
                now += rng.below(4) as i64;
                let mut staged = Staged::default();
                let mut staged_fps: HashMap<u128, (i64, i64)> = HashMap::new();
                let mut id = log.next_id();
                let first_id = id;
                let mut pending = Vec::new();
                for _ in 0..1 + rng.below(8) {
                    let received = now - rng.below(3) as i64;
                    let since = if rng.below(20) == 0 {
                        i64::MAX
                    } else {
                        received - window
                    };
                    let fp = pool[rng.below(pool.len() as u64) as usize];
                    let got = check(&index, &log, &staged, fp, since);
                    let truth = staged_fps.get(&fp).copied().or_else(|| log.newest(fp));
                    match truth {
                        Some((orig, at)) if at >= since => {
                            let must = staged_fps.contains_key(&fp)
                                || (orig >= expired_below && orig >= first_id - capacity as i64);
                            if must {
                                assert_eq!(got, Verdict::DuplicateOf(orig), "{}", ctx());
                            } else {
                                assert!(
                                    got == Verdict::New || got == Verdict::DuplicateOf(orig),
                                    "{got:?}, original {orig}: {}",
                                    ctx()
                                );
                            }
                        }
                        _ => assert_eq!(got, Verdict::New, "{}", ctx()),
                    }
                    if got == Verdict::New {
                        staged.stage(fp, id, received);
                        staged_fps.insert(fp, (id, received));
                        pending.push((id, fp, received));
                        id += 1;
                    }
                }
                if rng.below(10) > 0 {
                    for (id, fp, at) in pending {
                        log.insert(id, fp, at);
                    }
                    index.commit(staged);
                } // else: rolled back, the ids are handed out again
            }
            70..=79 => {
                let before = now - window - rng.below(5) as i64;
                expire(&mut index, &log, before);
                expired_below = model_expire(&log, expired_below, capacity, before);
            }
            80..=84 => {
                // Retention deletes old events (by time, whatever their id).
                let before = now - rng.below(3 * window as u64) as i64;
                log.events.retain(|_, &mut (_, at)| at >= before);
                expire(&mut index, &log, before);
                expired_below = model_expire(&log, expired_below, capacity, before);
            }
            85..=89 => {
                index = log.restart(capacity, tag_mask);
                expired_below = log.next_id() - capacity as i64;
            }
            _ => now += rng.below(2 * window as u64) as i64,
        }
        assert!(index.len() <= capacity, "{}", ctx());
    }
}

#[test]
fn agrees_with_a_model_of_the_log_over_random_runs() {
    for seed in 0..500 {
        run_against_the_model(seed);
    }
}
