//! The duplicate index of the SQLite backend: which fingerprints were stored recently,
//! kept in the writer's memory.
//!
//! Why memory and not a table: fingerprints are hashes, so a B-tree keyed on them takes
//! every insert on a random page, and each commit then writes one 4 KiB page per new
//! event to the WAL. The fingerprint is stored as a column of its event instead (an
//! append, no index), and this index is rebuilt from those columns at start.
//!
//! Why so small: the index holds up to `capacity` (2,000,000 by default) entries, and a
//! map of full fingerprints with their ids and times took about 130 bytes each. Here an
//! entry is 8 bytes in an open-addressing table ([`table`]): a 32-bit tag of the
//! fingerprint and the event id modulo 2^32. The rest is in the log already: a tag match
//! is confirmed by reading the event's stored fingerprint and receive time (one lookup by
//! primary key, on the writer's own connection), so the index never calls two different
//! events duplicates, and the window is checked against the exact stored time.
//! Fingerprints that merely share a tag cost that lookup about once per 2,000 new events
//! when the index is full.
//!
//! What is remembered: the events with the last `capacity` ids (ids grow in commit
//! order, and every stored event has one), minus those the window expired. So the
//! effective window is the configured window or the last `capacity` events, whichever is
//! shorter; Mist's org+site duplicates arrive seconds apart, well inside either. For
//! window expiry the index keeps blocks of consecutive ids with the latest receive time
//! in each (at most 258 blocks): a block all older than the window goes whole, and the
//! log says where in a block the recent events start.
//!
//! Memory: the table is at most 20/17 × (capacity + capacity/32) slots of 8 bytes (at
//! most 85 % full, and forgotten entries are removed in place once 1/32 of capacity has
//! accumulated), so 9.7 bytes per fingerprint of capacity: 19.4 MB for 2,000,000. While
//! it grows, the old and the new table briefly coexist.

mod table;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};

use table::Table;

/// A stored event as the log holds it: its fingerprint ([`key`]) and receive time.
pub(crate) type StoredEvent = (u128, i64);

/// Largest capacity: the ids kept in the table (the live ones and those not yet swept)
/// must span less than 2^32.
const MAX_CAPACITY: usize = 1 << 30;

/// Ids of consecutive events, with the latest receive time among them.
#[derive(Clone, Copy, Debug)]
struct Block {
    start: i64,
    /// One past the last id.
    end: i64,
    latest: i64,
}

/// Fingerprints of recently stored events.
#[derive(Debug)]
pub(crate) struct DedupIndex {
    table: Table,
    capacity: usize,
    /// The most slots the table grows to.
    max_slots: usize,
    /// Ids below this are forgotten (their slots go at the next sweep).
    live_from: i64,
    /// One past the newest id remembered.
    next: i64,
    blocks: VecDeque<Block>,
    block_len: i64,
    evicted: u64,
    /// Bits of the tag in use: all but in tests, which narrow it to force collisions.
    tag_mask: u32,
}

/// What the index says about one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    New,
    DuplicateOf(i64),
}

impl DedupIndex {
    pub(crate) fn new(capacity: usize) -> DedupIndex {
        let capacity = capacity.clamp(1, MAX_CAPACITY);
        let slack = (capacity / 32).max(8);
        DedupIndex {
            table: Table::with_slots(0),
            capacity,
            max_slots: Table::slots_for(capacity + slack),
            live_from: 0,
            next: 0,
            blocks: VecDeque::new(),
            block_len: capacity.div_ceil(256) as i64,
            evicted: 0,
            tag_mask: u32::MAX,
        }
    }

    /// Whether `fp` was stored at or after `since`: the newest stored event with this
    /// fingerprint decides. `staged` holds what the current (not yet committed)
    /// transaction stored, and is consulted first. `stored` reads a committed event's
    /// fingerprint and receive time by id (`None`: no such event any more).
    pub(crate) fn check<E>(
        &self,
        staged: &Staged,
        fp: u128,
        since: i64,
        mut stored: impl FnMut(i64) -> Result<Option<StoredEvent>, E>,
    ) -> Result<Verdict, E> {
        if let Some(s) = staged.seen.get(&fp) {
            return Ok(verdict(s.event_id, s.seen_at, since));
        }
        let tag = self.tag(fp);
        let mut below = i64::MAX;
        loop {
            // The newest candidate not yet ruled out, and whether any candidate could be
            // recent enough at all (when none can, the answer is New whichever matches).
            let mut newest = None;
            let mut any_recent = false;
            self.table.for_each_match(tag, |short| {
                let id = self.full_id(short);
                if id < self.live_from || id >= below {
                    return;
                }
                newest = newest.max(Some(id));
                any_recent = any_recent || self.latest_at(id).is_none_or(|t| t >= since);
            });
            let Some(id) = newest.filter(|_| any_recent) else {
                return Ok(Verdict::New);
            };
            match stored(id)? {
                Some((found, seen_at)) if found == fp => return Ok(verdict(id, seen_at, since)),
                // Another fingerprint with the same tag: look further.
                _ => below = id,
            }
        }
    }

    /// Takes in what a committed transaction stored.
    pub(crate) fn commit(&mut self, staged: Staged) {
        for (fp, seen) in staged.order {
            self.remember(fp, seen.event_id, seen.seen_at);
        }
    }

    /// Makes room for `entries` at once (before a rebuild from the log), so that the
    /// table does not grow step by step.
    pub(crate) fn reserve(&mut self, entries: usize) {
        let want = Table::slots_for(entries.saturating_mul(2)).min(self.max_slots);
        if want > self.table.slots() {
            self.resize(want);
        }
    }

    /// Remembers a stored event; ids come in increasing order (commit order, or the
    /// log's order at a rebuild).
    pub(crate) fn remember(&mut self, fp: u128, event_id: i64, seen_at: i64) {
        debug_assert!(event_id >= self.next, "ids come in increasing order");
        self.next = event_id + 1;
        let keep_from = self.next - self.capacity as i64;
        if keep_from > self.live_from {
            // Ids before the first block were never remembered here.
            if let Some(first) = self.blocks.front() {
                self.evicted += (keep_from - self.live_from.max(first.start)).max(0) as u64;
            }
            self.live_from = keep_from;
        }
        match self.blocks.back_mut() {
            Some(b) if b.end - b.start < self.block_len => {
                b.end = self.next;
                b.latest = b.latest.max(seen_at);
            }
            _ => self.blocks.push_back(Block {
                start: event_id,
                end: self.next,
                latest: seen_at,
            }),
        }
        self.drop_dead_blocks();
        if self.table.len() >= self.table.limit() {
            if self.table.slots() < self.max_slots {
                self.resize((self.table.slots() * 2).min(self.max_slots));
            } else {
                let (next, live_from) = (self.next, self.live_from);
                self.table.retain(|short| full_id(next, short) >= live_from);
            }
        }
        self.table.insert(self.tag(fp), event_id as u32);
    }

    /// Forgets the fingerprints first seen before `before`, oldest first, up to the
    /// first one seen since; returns how many. Whole blocks go by their latest time; in
    /// the block where the recent ones start, `first_since(from, to, before)` asks the
    /// log for the first id in `from..to` received at or after `before` (`None`: none).
    pub(crate) fn expire<E>(
        &mut self,
        before: i64,
        mut first_since: impl FnMut(i64, i64, i64) -> Result<Option<i64>, E>,
    ) -> Result<u64, E> {
        let mut n = 0;
        while let Some(b) = self.blocks.front().copied() {
            let from = self.live_from.max(b.start);
            let until = if b.latest < before {
                b.end
            } else {
                first_since(from, b.end, before)?.unwrap_or(b.end)
            };
            n += (until - from).max(0) as u64;
            self.live_from = self.live_from.max(until);
            if until < b.end {
                if let Some(front) = self.blocks.front_mut() {
                    front.start = until;
                }
                break;
            }
            self.blocks.pop_front();
        }
        // A quiet index gives its memory back.
        let live = self.len();
        if self.table.slots() > 64 && Table::slots_for(live * 4) < self.table.slots() {
            self.resize(Table::slots_for(live * 2));
        }
        Ok(n)
    }

    /// Fingerprints remembered.
    pub(crate) fn len(&self) -> usize {
        ((self.next - self.live_from).max(0) as usize).min(self.table.len())
    }

    /// Bytes the index holds (the table, and the blocks).
    pub(crate) fn bytes(&self) -> usize {
        self.table.bytes() + self.blocks.capacity() * std::mem::size_of::<Block>()
    }

    /// How many fingerprints were forgotten early because the index was full.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    fn resize(&mut self, slots: usize) {
        let (next, live_from) = (self.next, self.live_from);
        self.table = self
            .table
            .rehashed(slots, |short| full_id(next, short) >= live_from);
    }

    fn tag(&self, fp: u128) -> u32 {
        table::tag(fp) & self.tag_mask
    }

    fn full_id(&self, short: u32) -> i64 {
        full_id(self.next, short)
    }

    /// The latest receive time in the block holding `id`.
    fn latest_at(&self, id: i64) -> Option<i64> {
        let i = self.blocks.partition_point(|b| b.end <= id);
        self.blocks
            .get(i)
            .filter(|b| b.start <= id)
            .map(|b| b.latest)
    }

    fn drop_dead_blocks(&mut self) {
        while self.blocks.front().is_some_and(|b| b.end <= self.live_from) {
            self.blocks.pop_front();
        }
    }
}

fn verdict(event_id: i64, seen_at: i64, since: i64) -> Verdict {
    if seen_at >= since {
        Verdict::DuplicateOf(event_id)
    } else {
        Verdict::New
    }
}

/// The id whose low 32 bits are `short`, among the 2^32 ids below `next`.
fn full_id(next: i64, short: u32) -> i64 {
    let newest = next - 1;
    newest - i64::from((newest as u32).wrapping_sub(short))
}

/// A stored event's fingerprint entry: which event, first seen when (unix µs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    event_id: i64,
    seen_at: i64,
}

/// Fingerprints stored by the transaction in progress; they join the index only when it
/// commits, so a rolled-back batch leaves no trace.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    seen: HashMap<u128, Seen>,
    /// In id order, as the index takes them.
    order: Vec<(u128, Seen)>,
}

impl Staged {
    pub(crate) fn stage(&mut self, fp: u128, event_id: i64, seen_at: i64) {
        let seen = Seen { event_id, seen_at };
        self.seen.insert(fp, seen);
        self.order.push((fp, seen));
    }
}

/// The index key of a fingerprint.
pub(crate) fn key(fp: &[u8; 16]) -> u128 {
    u128::from_le_bytes(*fp)
}
