//! The duplicate index's table: open addressing with linear probing over one `u64` per
//! slot, the fingerprint's 32-bit tag in the high half and the event id modulo 2^32 in
//! the low half.
//!
//! A tag match is only a hint: the caller confirms it against the stored fingerprint.
//! The tag's lowest bit is always set, so an occupied slot is never 0, and the slot a
//! tag starts probing at is derived from the tag alone, so entries can be moved
//! (growth, removal by backward shift) without their fingerprint.

/// The table is kept at most 85 % full: linear probing then looks at about 20 slots (2-3
/// cache lines) for a fingerprint it does not hold.
const MAX_LOAD_NUM: usize = 17;
const MAX_LOAD_DEN: usize = 20;

#[derive(Debug)]
pub(super) struct Table {
    slots: Vec<u64>,
    used: usize,
}

/// The probe tag of a fingerprint (a mix of all its bits, so that test keys such as 1,
/// 2, 3 spread as well as SHA-256 prefixes do).
pub(super) fn tag(fp: u128) -> u32 {
    let x = (fp as u64) ^ ((fp >> 64) as u64).rotate_left(29);
    let h = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((h >> 32) as u32) | 1
}

fn slot(tag: u32, id: u32) -> u64 {
    (u64::from(tag) << 32) | u64::from(id)
}

fn tag_of(slot: u64) -> u32 {
    (slot >> 32) as u32
}

impl Table {
    /// Slots needed to hold `entries` within the load limit.
    pub(super) fn slots_for(entries: usize) -> usize {
        (entries * MAX_LOAD_DEN / MAX_LOAD_NUM + 1).max(16)
    }

    pub(super) fn with_slots(slots: usize) -> Table {
        Table {
            slots: vec![0; slots.max(16)],
            used: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.used
    }

    pub(super) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Entries the table takes before it must grow or be swept.
    pub(super) fn limit(&self) -> usize {
        self.slots.len() * MAX_LOAD_NUM / MAX_LOAD_DEN
    }

    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u64>()
    }

    fn home(&self, tag: u32) -> usize {
        // Multiply-shift instead of a modulo: any table size, no division.
        ((u64::from(tag) * self.slots.len() as u64) >> 32) as usize
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() { 0 } else { i + 1 }
    }

    /// Adds an entry; the caller keeps `len() < limit()`.
    pub(super) fn insert(&mut self, tag: u32, id: u32) {
        debug_assert!(self.used < self.slots.len());
        let mut i = self.home(tag);
        while self.slots[i] != 0 {
            i = self.next(i);
        }
        self.slots[i] = slot(tag, id);
        self.used += 1;
    }

    /// Calls `f` with the id of every entry whose tag is `tag`.
    pub(super) fn for_each_match(&self, tag: u32, mut f: impl FnMut(u32)) {
        let mut i = self.home(tag);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return;
            }
            if tag_of(s) == tag {
                f(s as u32);
            }
            i = self.next(i);
        }
    }

    /// A table of `slots` slots holding the entries of this one that `keep` accepts.
    pub(super) fn rehashed(&self, slots: usize, mut keep: impl FnMut(u32) -> bool) -> Table {
        let mut table = Table::with_slots(slots);
        for &s in self.slots.iter().filter(|&&s| s != 0) {
            if keep(s as u32) {
                table.insert(tag_of(s), s as u32);
            }
        }
        table
    }

    /// Removes, in place, every entry that `keep` refuses; returns how many.
    ///
    /// Backward shift: after a removal, the entries of the run that follows move back
    /// into the hole when their home allows, so that no probe run is ever cut short.
    /// The walk starts after an empty slot, so that no run wraps around its start.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(u32) -> bool) -> usize {
        let n = self.slots.len();
        let Some(empty) = self.slots.iter().position(|&s| s == 0) else {
            return 0;
        };
        let mut removed = 0;
        let mut i = self.next(empty);
        let mut visited = 0;
        while visited < n {
            let s = self.slots[i];
            if s != 0 && !keep(s as u32) {
                self.remove_at(i);
                removed += 1;
                // Slot i now holds an entry moved back from later in the run (or is
                // empty): look at it again.
                continue;
            }
            i = self.next(i);
            visited += 1;
        }
        self.used -= removed;
        removed
    }

    fn remove_at(&mut self, mut hole: usize) {
        self.slots[hole] = 0;
        let mut j = self.next(hole);
        while self.slots[j] != 0 {
            let home = self.home(tag_of(self.slots[j]));
            // The entry at j may fill the hole when its home is not inside (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = self.slots[j];
                self.slots[j] = 0;
                hole = j;
            }
            j = self.next(j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(table: &Table, tag: u32) -> Vec<u32> {
        let mut out = Vec::new();
        table.for_each_match(tag, |id| out.push(id));
        out.sort_unstable();
        out
    }

    #[test]
    fn colliding_tags_all_stay_findable_through_removals() {
        let mut table = Table::with_slots(16);
        // Same tag: one run; a second tag whose home is inside that run.
        for id in 1..=6 {
            table.insert(0x8000_0001, id);
        }
        let other = 0x9000_0001; // home 9, inside the run that starts at 8
        table.insert(other, 100);
        assert_eq!(ids(&table, 0x8000_0001), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(table.retain(|id| id % 2 == 0 || id == 100), 3);
        assert_eq!(table.len(), 4);
        assert_eq!(ids(&table, 0x8000_0001), vec![2, 4, 6]);
        assert_eq!(ids(&table, other), vec![100]);
    }

    #[test]
    fn runs_that_wrap_around_the_end_survive_removal_and_growth() {
        let mut table = Table::with_slots(16);
        let last = u32::MAX; // home 15: the run wraps to 0, 1, ...
        for id in 1..=5 {
            table.insert(last, id);
        }
        table.insert(1, 50); // home 0, pushed behind the wrapped run
        assert_eq!(table.retain(|id| id != 1 && id != 3), 2);
        assert_eq!(ids(&table, last), vec![2, 4, 5]);
        assert_eq!(ids(&table, 1), vec![50]);
        let grown = table.rehashed(40, |id| id != 4);
        assert_eq!(grown.len(), 3);
        assert_eq!(ids(&grown, last), vec![2, 5]);
        assert_eq!(ids(&grown, 1), vec![50]);
    }
}
